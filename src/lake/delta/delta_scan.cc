#include "lake/delta/delta_scan.h"

#include <filesystem>

#include <simdjson.h>

#include <map>
#include <set>

namespace lakestream {

namespace {

std::string QuoteIdent(const std::string& s) { return ColumnarEngine::QuoteIdentifier(s); }

Result<std::string> NestedType(simdjson::dom::element t) {
  if (t.is_string()) return DuckDbTypeOf(std::string(std::string_view(t)));
  std::string_view kind;
  if (t["type"].get(kind) != simdjson::SUCCESS) return Unsupported("type {} has no kind", simdjson::minify(t));
  if (kind == "struct") {
    simdjson::dom::array fields;
    if (t["fields"].get(fields) != simdjson::SUCCESS) return Unsupported("struct type without fields");
    std::string out = "STRUCT(";
    bool first = true;
    for (auto f : fields) {
      std::string_view name;
      if (f["name"].get(name) != simdjson::SUCCESS) return Unsupported("struct field without name");
      ASSIGN_OR_RETURN(std::string ft, NestedType(f["type"].value()));
      out += (first ? "" : ", ") + QuoteIdent(std::string(name)) + " " + ft;
      first = false;
    }
    return out + ")";
  }
  if (kind == "array") {
    ASSIGN_OR_RETURN(std::string et, NestedType(t["elementType"].value()));
    return et + "[]";
  }
  if (kind == "map") {
    ASSIGN_OR_RETURN(std::string kt, NestedType(t["keyType"].value()));
    ASSIGN_OR_RETURN(std::string vt, NestedType(t["valueType"].value()));
    return "MAP(" + kt + ", " + vt + ")";
  }
  return Unsupported("Delta type '{}' is not supported", kind);
}

}  // namespace

Result<std::string> DuckDbTypeOf(const std::string& t) {
  if (!t.empty() && t[0] == '{') {
    simdjson::dom::parser parser;
    simdjson::dom::element e;
    if (parser.parse(t).get(e) != simdjson::SUCCESS) return Unsupported("type {} is not valid JSON", t);
    return NestedType(e);
  }
  if (t == "string") return std::string("VARCHAR");
  if (t == "long") return std::string("BIGINT");
  if (t == "integer") return std::string("INTEGER");
  if (t == "short") return std::string("SMALLINT");
  if (t == "byte") return std::string("TINYINT");
  if (t == "float") return std::string("FLOAT");
  if (t == "double") return std::string("DOUBLE");
  if (t == "boolean") return std::string("BOOLEAN");
  if (t == "binary") return std::string("BLOB");
  if (t == "date") return std::string("DATE");
  if (t == "timestamp") return std::string("TIMESTAMPTZ");
  if (t == "decimal") return std::string("DECIMAL(10,0)");
  int p = 0, s = 0;
  if (std::sscanf(t.c_str(), "decimal(%d,%d)", &p, &s) == 2 || std::sscanf(t.c_str(), "decimal(%d, %d)", &p, &s) == 2) {
    if (p < 1 || p > 38 || s < 0 || s > p) return Unsupported("Delta type '{}': precision must be 1..38", t);
    return fmt::format("DECIMAL({},{})", p, s);
  }
  return Unsupported("Delta type '{}' is not supported (Delta PROTOCOL.md, \"Primitive Types\")", t);
}

Result<std::string> DeltaTypeOfDuckDb(const std::string& t) {
  static const std::map<std::string, std::string> kTypes = {
      {"VARCHAR", "string"}, {"BIGINT", "long"}, {"INTEGER", "integer"}, {"SMALLINT", "short"}, {"TINYINT", "byte"},
      {"DOUBLE", "double"}, {"FLOAT", "float"}, {"BOOLEAN", "boolean"}, {"DATE", "date"},
      {"TIMESTAMP WITH TIME ZONE", "timestamp"}, {"BLOB", "binary"}, {"HUGEINT", "decimal(38,0)"}};
  if (auto it = kTypes.find(t); it != kTypes.end()) return it->second;
  if (t.rfind("DECIMAL(", 0) == 0) {
    std::string inner = t.substr(8, t.size() - 9);
    inner.erase(std::remove(inner.begin(), inner.end(), ' '), inner.end());
    return "decimal(" + inner + ")";
  }
  return Unsupported("a column of type {} cannot be stored: cast it to VARCHAR, BIGINT, DOUBLE, BOOLEAN, DATE, "
                     "TIMESTAMPTZ or DECIMAL(p,s) in the SQL",
                     t);
}

Result<std::string> PartitionValueLiteral(const std::optional<std::string>& value, const std::string& delta_type) {
  ASSIGN_OR_RETURN(std::string duck, DuckDbTypeOf(delta_type));
  if (!value || value->empty()) return "CAST(NULL AS " + duck + ")";
  const std::string q = ColumnarEngine::Quote(*value);
  if (delta_type == "string") return q;
  if (delta_type == "binary") return "encode(" + q + ")";
  return "CAST(" + q + " AS " + duck + ")";
}

Result<std::string> DataFileLocalPath(Storage& storage, const std::string& canonical_path,
                                      int64_t expected_size_bytes) {
  std::string local = canonical_path;
  if (canonical_path.empty() || canonical_path[0] != '/') {
    ASSIGN_OR_RETURN(local, storage.LocalFile(canonical_path));
  }
  if (expected_size_bytes > 0) {
    std::error_code ec;
    const auto actual = std::filesystem::file_size(local, ec);
    if (ec) return NotFound("{}: data file {} cannot be read: {}", storage.uri(), canonical_path, ec.message());
    if (static_cast<int64_t>(actual) != expected_size_bytes) {
      return Corruption("{}: data file {} is {} bytes but the Delta log's add action records {} (Delta PROTOCOL.md, "
                        "\"Add File and Remove File\"): it was replaced or truncated outside the log. Restore the "
                        "file from a backup, or restore the table to a version before it was added (`lakestream "
                        "table URI history`, then `restore --version N`)",
                        storage.uri(), canonical_path, actual, expected_size_bytes);
    }
  }
  return local;
}

Result<std::vector<std::string>> DataFileLocalPaths(Storage& storage, const std::map<std::string, AddFile>& files) {
  std::vector<std::string> out;
  out.reserve(files.size());
  for (const auto& [key, add] : files) {
    ASSIGN_OR_RETURN(std::string local, DataFileLocalPath(storage, key, add.size_bytes));
    out.push_back(std::move(local));
  }
  return out;
}

Result<std::string> SnapshotScanSql(const Snapshot& snapshot, Storage& storage, ColumnarEngine& engine,
                                    const ScanOptions& options) {
  const std::set<std::string> partition_cols(snapshot.partition_columns().begin(),
                                             snapshot.partition_columns().end());
  std::vector<DeltaField> fields;
  std::vector<std::string> duck_types;
  for (const auto& f : snapshot.schema().fields) {
    if (!options.with_partition_columns && partition_cols.count(f.name)) continue;
    ASSIGN_OR_RETURN(std::string t, DuckDbTypeOf(f.type));
    duck_types.push_back(t);
    fields.push_back(f);
  }
  std::map<std::string, AddFile> selected;
  if (options.only_files.empty()) {
    selected = snapshot.files;
  } else {
    for (const auto& key : options.only_files) {
      auto it = snapshot.files.find(key);
      if (it == snapshot.files.end()) return NotFound("{}: {} is not an active file", storage.uri(), key);
      selected.insert(*it);
    }
  }
  if (selected.empty()) {
    std::string sql = "SELECT ";
    for (size_t i = 0; i < fields.size(); ++i) {
      sql += (i ? ", " : "") + ("CAST(NULL AS " + duck_types[i] + ") AS " + QuoteIdent(fields[i].name));
    }
    return sql + " LIMIT 0";
  }
  ASSIGN_OR_RETURN(std::vector<std::string> paths, DataFileLocalPaths(storage, selected));
  const std::string source = "read_parquet(" + ColumnarEngine::PathList(paths) +
                             ", union_by_name=true, hive_partitioning=false, filename='__lakestream_file')";
  // Which columns do the files hold? (a column added later is absent from older files)
  ASSIGN_OR_RETURN(QueryResult described, engine.Query("DESCRIBE SELECT * FROM " + source));
  std::set<std::string> present;
  for (const auto& row : described.rows) {
    if (row[0]) present.insert(*row[0]);
  }
  std::string select = "SELECT ";
  for (size_t i = 0; i < fields.size(); ++i) {
    const std::string& name = fields[i].name;
    std::string expr;
    if (partition_cols.count(name)) {
      expr = "pv." + QuoteIdent(name);
    } else if (present.count(name)) {
      expr = "CAST(d." + QuoteIdent(name) + " AS " + duck_types[i] + ")";
    } else {
      expr = "CAST(NULL AS " + duck_types[i] + ")";
    }
    select += (i ? ", " : "") + expr + " AS " + QuoteIdent(name);
  }
  if (partition_cols.empty() || !options.with_partition_columns) return select + " FROM " + source + " d";
  // One row per file: its path and its typed partition values, joined to the rows it holds.
  std::string values = "(VALUES ";
  size_t file_index = 0;
  for (const auto& [key, add] : selected) {
    values += (file_index ? ", (" : "(") + ColumnarEngine::Quote(paths[file_index]);
    for (const auto& p : snapshot.partition_columns()) {
      const DeltaField* f = snapshot.schema().Find(p);
      if (f == nullptr) return Corruption("{}: partition column '{}' is not in the schema", storage.uri(), p);
      auto it = add.partition_values.find(p);
      std::optional<std::string> v = it == add.partition_values.end() ? std::nullopt : it->second;
      ASSIGN_OR_RETURN(std::string lit, PartitionValueLiteral(v, f->type));
      values += ", " + lit;
    }
    values += ")";
    ++file_index;
  }
  values += ") AS pv(__lakestream_file";
  for (const auto& p : snapshot.partition_columns()) values += ", " + QuoteIdent(p);
  values += ")";
  return select + " FROM " + source + " d JOIN " + values + " ON d.__lakestream_file = pv.__lakestream_file";
}

}  // namespace lakestream
