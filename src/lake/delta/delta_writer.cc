#include "lake/delta/delta_writer.h"

#include <set>

#include "common/ids.h"
#include "common/time.h"
#include "lake/delta/delta_scan.h"

namespace lakestream {

namespace {

std::string QuoteIdent(const std::string& s) { return ColumnarEngine::QuoteIdentifier(s); }

// Writes one Parquet file for `select_sql` at `rel` (relative, unencoded) of `storage`.
Result<ParquetFileInfo> WriteOne(ColumnarEngine& engine, Storage& storage, const std::string& select_sql,
                                 const std::vector<ColumnSpec>& specs, const std::string& rel) {
  ASSIGN_OR_RETURN(std::string local, storage.StagingPath(rel));
  ASSIGN_OR_RETURN(ParquetFileInfo info, engine.WriteQueryToParquet(select_sql, specs, local));
  RETURN_IF_ERROR(storage.PutFile(rel, local));
  return info;
}

}  // namespace

AddFile MakeAddFile(const std::string& rel, const ParquetFileInfo& info,
                    std::map<std::string, std::optional<std::string>> partition_values, bool data_change) {
  AddFile a;
  a.path = EncodeDeltaPath(rel);
  a.partition_values = std::move(partition_values);
  a.size_bytes = info.size_bytes;
  a.modification_time_ms = NowMillis();
  a.data_change = data_change;
  a.stats_json = info.stats_json;
  a.num_records = info.num_records;
  return a;
}

std::string NewDataFileName() { return "part-00000-" + RandomUuid() + "-c000.zstd.parquet"; }

Result<ColumnSpec> ColumnSpecOf(const DeltaField& f) {
  ColumnSpec c;
  c.name = f.name;
  c.nullable = f.nullable;
  const std::string& t = f.type;
  if (t == "string") c.type = ColumnType::kString;
  else if (t == "binary") c.type = ColumnType::kBinary;
  else if (t == "byte") c.type = ColumnType::kInt8;
  else if (t == "short") c.type = ColumnType::kInt16;
  else if (t == "integer") c.type = ColumnType::kInt32;
  else if (t == "long") c.type = ColumnType::kInt64;
  else if (t == "float") c.type = ColumnType::kFloat;
  else if (t == "double") c.type = ColumnType::kDouble;
  else if (t == "boolean") c.type = ColumnType::kBool;
  else if (t == "date") c.type = ColumnType::kDate;
  else if (t == "timestamp") c.type = ColumnType::kTimestampMicros;
  else if (t.rfind("decimal", 0) == 0) {
    c.type = ColumnType::kDecimal;
    ASSIGN_OR_RETURN(std::string duck, DuckDbTypeOf(t));
    if (std::sscanf(duck.c_str(), "DECIMAL(%d,%d)", &c.precision, &c.scale) != 2) {
      return Unsupported("decimal type '{}' of column '{}'", t, f.name);
    }
  } else if (!t.empty() && t[0] == '{') {
    c.type = ColumnType::kNested;
    ASSIGN_OR_RETURN(c.nested_sql_type, DuckDbTypeOf(t));
    c.nested_delta_type = t;
  } else {
    return Unsupported("column '{}' has type '{}', which lakestream cannot write", f.name, t);
  }
  return c;
}

Result<std::string> PartitionValueSql(const std::string& col, const std::string& t) {
  if (t == "string") return col;
  if (t == "timestamp") return "strftime(" + col + ", '%Y-%m-%dT%H:%M:%S.%fZ')";
  if (t == "date") return "strftime(" + col + ", '%Y-%m-%d')";
  if (t == "boolean") return "CASE WHEN " + col + " THEN 'true' WHEN NOT " + col + " THEN 'false' END";
  static const std::set<std::string> kNumbers = {"long", "integer", "short", "byte", "double", "float"};
  if (kNumbers.count(t) || t.rfind("decimal", 0) == 0) return "CAST(" + col + " AS VARCHAR)";
  return Unsupported("type '{}' cannot be a partition column", t);
}

Result<std::vector<AddFile>> WriteDataFiles(ColumnarEngine& engine, Storage& storage, const Snapshot& snapshot,
                                            const std::string& select_sql, const DataWriteOptions& options) {
  const auto& fields = snapshot.schema().fields;
  const auto& pcols = snapshot.partition_columns();
  const std::set<std::string> pset(pcols.begin(), pcols.end());
  std::vector<ColumnSpec> data_specs;
  std::string data_select;
  for (const auto& f : fields) {
    if (pset.count(f.name)) continue;
    ASSIGN_OR_RETURN(ColumnSpec c, ColumnSpecOf(f));
    data_select += (data_specs.empty() ? "" : ", ") + QuoteIdent(f.name);
    data_specs.push_back(std::move(c));
  }
  const std::string staging = "write_" + RandomUuid().substr(0, 8);
  std::vector<AddFile> adds;
  auto make_add = [&](const std::string& rel, const ParquetFileInfo& info,
                      std::map<std::string, std::optional<std::string>> pv) {
    adds.push_back(MakeAddFile(rel, info, std::move(pv), options.data_change));
  };

  // Name the query's columns after the schema, whatever the SELECT called them.
  std::string names;
  for (size_t i = 0; i < fields.size(); ++i) names += (i ? ", " : "") + QuoteIdent(fields[i].name);
  RETURN_IF_ERROR(engine.Query("CREATE TEMP TABLE " + staging + " AS SELECT * FROM (" + select_sql + ") AS src(" +
                               names + ")")
                      .status()
                      .WithContext("stage rows for " + storage.uri()));
  struct Dropper {
    ColumnarEngine& e;
    std::string t;
    ~Dropper() { (void)e.Query("DROP TABLE IF EXISTS " + t); }
  } dropper{engine, staging};

  if (pcols.empty()) {
    ASSIGN_OR_RETURN(QueryResult n, engine.Query("SELECT count(*) FROM " + staging));
    if (n.rows.empty() || n.rows[0][0].value_or("0") == "0") return adds;
    const std::string rel = options.directory + NewDataFileName();
    ASSIGN_OR_RETURN(ParquetFileInfo info,
                     WriteOne(engine, storage, "SELECT " + data_select + " FROM " + staging, data_specs, rel));
    make_add(rel, info, {});
    return adds;
  }
  // One file per distinct combination of serialized partition values.
  std::vector<std::string> serialized;
  for (const auto& p : pcols) {
    const DeltaField* f = snapshot.schema().Find(p);
    if (f == nullptr) return Corruption("{}: partition column '{}' is not in the schema", storage.uri(), p);
    ASSIGN_OR_RETURN(std::string s, PartitionValueSql(QuoteIdent(p), f->type));
    serialized.push_back(s);
  }
  std::string distinct = "SELECT DISTINCT ";
  for (size_t i = 0; i < serialized.size(); ++i) distinct += (i ? ", " : "") + serialized[i];
  ASSIGN_OR_RETURN(QueryResult groups, engine.Query(distinct + " FROM " + staging));
  for (const auto& g : groups.rows) {
    std::string dir, where;
    std::map<std::string, std::optional<std::string>> pv;
    for (size_t i = 0; i < pcols.size(); ++i) {
      std::optional<std::string> v = g[i];
      if (v && v->empty()) v.reset();  // an empty string is a null partition value
      dir += pcols[i] + "=" + EscapePartitionDirectoryValue(v) + "/";
      where += (i ? " AND " : "") + std::string("(") + serialized[i] +
               (g[i] ? " = " + ColumnarEngine::Quote(*g[i]) : std::string(" IS NULL")) + ")";
      pv[pcols[i]] = v;
    }
    const std::string rel = dir + NewDataFileName();
    ASSIGN_OR_RETURN(ParquetFileInfo info,
                     WriteOne(engine, storage, "SELECT " + data_select + " FROM " + staging + " WHERE " + where,
                              data_specs, rel));
    make_add(rel, info, std::move(pv));
  }
  return adds;
}

Result<AddFile> RewriteFiles(ColumnarEngine& engine, Storage& storage, const Snapshot& snapshot,
                             const std::vector<std::string>& keys) {
  if (keys.empty()) return InvalidArgument("nothing to rewrite");
  const std::set<std::string> pset(snapshot.partition_columns().begin(), snapshot.partition_columns().end());
  std::vector<ColumnSpec> specs;
  for (const auto& f : snapshot.schema().fields) {
    if (pset.count(f.name)) continue;
    ASSIGN_OR_RETURN(ColumnSpec c, ColumnSpecOf(f));
    specs.push_back(std::move(c));
  }
  ScanOptions scan;
  scan.only_files = keys;
  scan.with_partition_columns = false;
  ASSIGN_OR_RETURN(std::string sql, SnapshotScanSql(snapshot, storage, engine, scan));
  const AddFile& first = snapshot.files.at(keys.front());
  std::string dir;
  if (size_t slash = keys.front().rfind('/'); slash != std::string::npos && keys.front()[0] != '/') {
    dir = keys.front().substr(0, slash + 1);
  }
  const std::string rel = dir + NewDataFileName();
  ASSIGN_OR_RETURN(ParquetFileInfo info, WriteOne(engine, storage, sql, specs, rel));
  return MakeAddFile(rel, info, first.partition_values, false);
}

}  // namespace lakestream
