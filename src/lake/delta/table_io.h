// Delta tables of typed columns (lake/columnar): opening one by location and column list, creating it
// when missing, and writing a batch of rows as one new data file. Shared by the streaming pipelines
// and the batch jobs.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "lake/columnar/columnar.h"
#include "lake/delta/delta_table.h"

namespace lakestream {

/// The Delta schema of `cols`: one top-level field per column, with its Delta type and nullability
/// (Delta PROTOCOL.md, "Schema Serialization Format").
DeltaSchema ToDeltaSchema(const std::vector<ColumnSpec>& cols);

/// Opens the table at `lake_root`/`name` (a local directory or an Azure location), creating it with
/// `cols`, `partitions` and, when `append_only`, delta.appendOnly=true when it does not exist.
/// Errors: storage and Delta's (InvalidArgument when an existing table has another schema).
Result<std::unique_ptr<DeltaTable>> OpenTable(const std::string& lake_root, const std::string& name,
                                              const std::vector<ColumnSpec>& cols,
                                              const std::vector<std::string>& partitions, bool append_only);

/// Writes `batch` as a new zstd Parquet data file of `table` (staged locally, then put into the
/// table's storage) and returns its add action with stats. Nothing is committed. Errors: IoError.
Result<AddFile> WriteDataFile(ColumnarEngine& engine, DeltaTable& table, const RecordBatch& batch);

}  // namespace lakestream
