#include "lake/delta/table_io.h"

#include <map>

#include "lake/delta/delta_writer.h"
#include "lake/storage/storage.h"

namespace lakestream {

DeltaSchema ToDeltaSchema(const std::vector<ColumnSpec>& cols) {
  DeltaSchema s;
  for (const auto& c : cols) s.fields.push_back({c.name, c.DeltaType(), c.nullable});
  return s;
}

Result<std::unique_ptr<DeltaTable>> OpenTable(const std::string& lake_root, const std::string& name,
                                              const std::vector<ColumnSpec>& cols,
                                              const std::vector<std::string>& partitions, bool append_only) {
  ASSIGN_OR_RETURN(auto storage, OpenStorage(JoinLocation(lake_root, name)));
  ASSIGN_OR_RETURN(auto table, DeltaTable::Open(storage, name));
  RETURN_IF_ERROR(table->CreateIfNotExists(ToDeltaSchema(cols), partitions,
                                           append_only ? std::map<std::string, std::string>{{"delta.appendOnly", "true"}}
                                                       : std::map<std::string, std::string>{}));
  return table;
}

Result<AddFile> WriteDataFile(ColumnarEngine& engine, DeltaTable& table, const RecordBatch& batch) {
  const std::string rel = NewDataFileName();
  ASSIGN_OR_RETURN(std::string local, table.storage().StagingPath(rel));
  ASSIGN_OR_RETURN(ParquetFileInfo info, engine.WriteParquet(batch, local));
  RETURN_IF_ERROR(table.storage().PutFile(rel, local));
  return MakeAddFile(rel, info, {}, true);
}

}  // namespace lakestream
