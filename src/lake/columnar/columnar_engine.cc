// The only translation unit (with record_batch.cc) that knows DuckDB.
#include <duckdb.h>
#include <sys/stat.h>

#include <atomic>
#include <cctype>
#include <mutex>

#include <fmt/format.h>

#include "common/json_writer.h"
#include "lake/columnar/columnar.h"

namespace lakestream {

std::string ColumnSpec::DeltaType() const {
  switch (type) {
    case ColumnType::kString: return "string";
    case ColumnType::kBinary: return "binary";
    case ColumnType::kInt8: return "byte";
    case ColumnType::kInt16: return "short";
    case ColumnType::kInt32: return "integer";
    case ColumnType::kInt64: return "long";
    case ColumnType::kFloat: return "float";
    case ColumnType::kDouble: return "double";
    case ColumnType::kBool: return "boolean";
    case ColumnType::kTimestampMicros: return "timestamp";
    case ColumnType::kDate: return "date";
    case ColumnType::kDecimal: return fmt::format("decimal({},{})", precision, scale);
    case ColumnType::kNested: return nested_delta_type;
  }
  return "string";
}

std::string ColumnSpec::SqlType() const {
  switch (type) {
    case ColumnType::kString: return "VARCHAR";
    case ColumnType::kBinary: return "BLOB";
    case ColumnType::kInt8: return "TINYINT";
    case ColumnType::kInt16: return "SMALLINT";
    case ColumnType::kInt32: return "INTEGER";
    case ColumnType::kInt64: return "BIGINT";
    case ColumnType::kFloat: return "FLOAT";
    case ColumnType::kDouble: return "DOUBLE";
    case ColumnType::kBool: return "BOOLEAN";
    case ColumnType::kTimestampMicros: return "TIMESTAMPTZ";
    case ColumnType::kDate: return "DATE";
    case ColumnType::kDecimal: return fmt::format("DECIMAL({},{})", precision, scale);
    case ColumnType::kNested: return nested_sql_type;
  }
  return "VARCHAR";
}

RecordBatch::RecordBatch(std::vector<ColumnSpec> schema)
    : schema_(std::move(schema)), columns_(schema_.size()) {}

size_t RecordBatch::num_rows() const { return columns_.empty() ? 0 : columns_[0].is_null.size(); }

void RecordBatch::AppendString(size_t col, std::string_view v) {
  columns_[col].strings.emplace_back(v);
  columns_[col].is_null.push_back(0);
}
void RecordBatch::AppendInt(size_t col, int64_t v) {
  columns_[col].ints.push_back(v);
  columns_[col].is_null.push_back(0);
}
void RecordBatch::AppendDouble(size_t col, double v) {
  columns_[col].doubles.push_back(v);
  columns_[col].is_null.push_back(0);
}
void RecordBatch::AppendBool(size_t col, bool v) {
  columns_[col].ints.push_back(v ? 1 : 0);
  columns_[col].is_null.push_back(0);
}
void RecordBatch::AppendNull(size_t col) {
  auto& c = columns_[col];
  switch (schema_[col].type) {
    case ColumnType::kString:
    case ColumnType::kBinary: c.strings.emplace_back(); break;
    case ColumnType::kDouble:
    case ColumnType::kFloat: c.doubles.push_back(0); break;
    default: c.ints.push_back(0);
  }
  c.is_null.push_back(1);
}
void RecordBatch::AppendRowFrom(const RecordBatch& other, size_t row) {
  for (size_t c = 0; c < columns_.size(); ++c) {
    const Column& from = other.columns_[c];
    Column& to = columns_[c];
    to.is_null.push_back(from.is_null[row]);
    switch (schema_[c].type) {
      case ColumnType::kString:
      case ColumnType::kBinary: to.strings.push_back(from.strings[row]); break;
      case ColumnType::kFloat:
      case ColumnType::kDouble: to.doubles.push_back(from.doubles[row]); break;
      default: to.ints.push_back(from.ints[row]);
    }
  }
}

void RecordBatch::Clear() {
  for (auto& c : columns_) c = Column{};
}

struct ColumnarEngine::Impl {
  duckdb_database db = nullptr;
  duckdb_connection conn = nullptr;
  std::mutex mu;
  std::atomic<uint64_t> seq{0};
};

ColumnarEngine::ColumnarEngine() : impl_(new Impl) {}

ColumnarEngine::~ColumnarEngine() {
  if (impl_->conn != nullptr) duckdb_disconnect(&impl_->conn);
  if (impl_->db != nullptr) duckdb_close(&impl_->db);
}

std::string ColumnarEngine::Quote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out.push_back('\'');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

std::string ColumnarEngine::QuoteIdentifier(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  return out + "\"";
}

std::string ColumnarEngine::SubqueryBody(std::string_view sql) {
  while (!sql.empty() && (std::isspace(static_cast<unsigned char>(sql.back())) || sql.back() == ';')) {
    sql.remove_suffix(1);
  }
  return std::string(sql);
}

std::string ColumnarEngine::PathList(const std::vector<std::string>& paths) {
  std::string out = "[";
  for (size_t i = 0; i < paths.size(); ++i) {
    if (i) out += ", ";
    out += Quote(paths[i]);
  }
  return out + "]";
}

namespace {
Status Exec(duckdb_connection conn, const std::string& sql) {
  duckdb_result r;
  if (duckdb_query(conn, sql.c_str(), &r) != DuckDBSuccess) {
    std::string msg = duckdb_result_error(&r) ? duckdb_result_error(&r) : "unknown error";
    // A file that cannot be written (a full disk) is the system's failure, not a bad statement.
    const bool io = duckdb_result_error_type(&r) == DUCKDB_ERROR_IO;
    duckdb_destroy_result(&r);
    if (io) return IoError("{}", msg);
    return InvalidArgument("{}", msg);
  }
  duckdb_destroy_result(&r);
  return Status::OK();
}

std::string QuoteIdent(const std::string& s) { return ColumnarEngine::QuoteIdentifier(s); }
}  // namespace

namespace {
// Computes Delta stats over staging table `table` and writes it to `local_path` as Parquet.
Result<ParquetFileInfo> FinishStaging(duckdb_connection conn, const std::string& table,
                                      const std::vector<ColumnSpec>& schema, const std::string& local_path) {
  // Per-file statistics in one pass.
  std::string sql = "SELECT count(*)";
  for (const auto& c : schema) {
    std::string q = QuoteIdent(c.name);
    switch (c.type) {
      case ColumnType::kTimestampMicros:
        sql += fmt::format(", strftime(min({0}), '%Y-%m-%dT%H:%M:%S.%gZ'), strftime(max({0}), '%Y-%m-%dT%H:%M:%S.%gZ')", q);
        break;
      case ColumnType::kBinary:
      case ColumnType::kBool:
      case ColumnType::kNested:
        sql += ", NULL, NULL";
        break;
      case ColumnType::kFloat:
      case ColumnType::kDouble:  // NaN and infinities have no JSON form: no bound then
        sql += fmt::format(", CASE WHEN isfinite(min({0})) AND isfinite(max({0})) THEN min({0})::DOUBLE::VARCHAR END, "
                           "CASE WHEN isfinite(min({0})) AND isfinite(max({0})) THEN max({0})::DOUBLE::VARCHAR END", q);
        break;
      case ColumnType::kString:
        sql += fmt::format(", CASE WHEN max(length({0})) <= 32 THEN min({0}) END, CASE WHEN max(length({0})) <= 32 THEN max({0}) END", q);
        break;
      default:
        sql += fmt::format(", min({0})::VARCHAR, max({0})::VARCHAR", q);
    }
    sql += c.type == ColumnType::kNested ? std::string(", NULL") : fmt::format(", count(*) - count({})", q);
  }
  sql += " FROM " + table;
  duckdb_result res;
  if (duckdb_query(conn, sql.c_str(), &res) != DuckDBSuccess) {
    std::string msg = duckdb_result_error(&res);
    duckdb_destroy_result(&res);
    return Internal("stats query failed: {}", msg);
  }
  ParquetFileInfo info;
  info.num_records = duckdb_value_int64(&res, 0, 0);
  JsonWriter mins, maxs, nulls;
  mins.BeginObject();
  maxs.BeginObject();
  nulls.BeginObject();
  for (size_t c = 0; c < schema.size(); ++c) {
    idx_t base = 1 + c * 3;
    auto emit = [&](JsonWriter& w, idx_t col) {
      if (duckdb_value_is_null(&res, col, 0)) return;
      char* v = duckdb_value_varchar(&res, col, 0);
      w.Key(schema[c].name);
      switch (schema[c].type) {
        case ColumnType::kString:
        case ColumnType::kDate:
        case ColumnType::kTimestampMicros: w.String(v); break;
        default: w.Raw(v);
      }
      duckdb_free(v);
    };
    emit(mins, base);
    emit(maxs, base + 1);
    if (schema[c].type != ColumnType::kNested) nulls.Key(schema[c].name).Int(duckdb_value_int64(&res, base + 2, 0));
  }
  duckdb_destroy_result(&res);
  mins.EndObject();
  maxs.EndObject();
  nulls.EndObject();
  JsonWriter stats;
  stats.BeginObject()
      .Key("numRecords").Int(info.num_records)
      .Key("minValues").Raw(mins.str())
      .Key("maxValues").Raw(maxs.str())
      .Key("nullCount").Raw(nulls.str())
      .EndObject();
  info.stats_json = stats.Take();

  RETURN_IF_ERROR(Exec(conn, "COPY " + table + " TO " + ColumnarEngine::Quote(local_path) +
                                 " (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)")
                      .WithContext("write Parquet file " + local_path));
  struct stat st;
  if (::stat(local_path.c_str(), &st) != 0) return IoError("Parquet file {} was not written", local_path);
  info.size_bytes = st.st_size;
  return info;
}
// Drops a staging table when the write that created it ends, however it ends.
struct StagingTableDropper {
  duckdb_connection c;
  std::string t;
  ~StagingTableDropper() { (void)Exec(c, "DROP TABLE IF EXISTS " + t); }
};

std::string StagingDdl(const std::string& table, const std::vector<ColumnSpec>& schema) {
  std::string ddl = "CREATE TEMP TABLE " + table + " (";
  for (size_t i = 0; i < schema.size(); ++i) {
    ddl += (i ? ", " : "") + QuoteIdent(schema[i].name) + " " + schema[i].SqlType();
  }
  return ddl + ")";
}
}  // namespace

Result<std::unique_ptr<ColumnarEngine>> ColumnarEngine::Open(int threads, const std::string& memory_limit) {
  std::unique_ptr<ColumnarEngine> e(new ColumnarEngine());
  duckdb_config config;
  if (duckdb_create_config(&config) != DuckDBSuccess) return Internal("duckdb_create_config failed");
  duckdb_set_config(config, "threads", std::to_string(threads).c_str());
  duckdb_set_config(config, "memory_limit", memory_limit.c_str());
  // Never fetch code from the internet: an unknown function is an error, not a download attempt.
  duckdb_set_config(config, "autoinstall_known_extensions", "false");
  duckdb_set_config(config, "autoload_known_extensions", "false");
  char* err = nullptr;
  if (duckdb_open_ext(nullptr, &e->impl_->db, config, &err) != DuckDBSuccess) {
    std::string msg = err ? err : "unknown";
    duckdb_free(err);
    duckdb_destroy_config(&config);
    return Internal("cannot open DuckDB: {}", msg);
  }
  duckdb_destroy_config(&config);
  if (duckdb_connect(e->impl_->db, &e->impl_->conn) != DuckDBSuccess) return Internal("duckdb_connect failed");
  RETURN_IF_ERROR(Exec(e->impl_->conn, "SET TimeZone='UTC'"));
  return e;
}

namespace {
// Appends every row of `batch` to the existing table `table` (same columns, in order).
Status AppendBatch(duckdb_connection conn, const std::string& table, const RecordBatch& batch) {
  const auto& schema = batch.schema();
  duckdb_appender app;
  if (duckdb_appender_create(conn, nullptr, table.c_str(), &app) != DuckDBSuccess) {
    std::string msg = duckdb_appender_error(app) ? duckdb_appender_error(app) : "";
    duckdb_appender_destroy(&app);
    return Internal("cannot create DuckDB appender: {}", msg);
  }
  const size_t rows = batch.num_rows();
  std::vector<size_t> pos(schema.size(), 0);
  duckdb_state ok = DuckDBSuccess;
  for (size_t r = 0; r < rows && ok == DuckDBSuccess; ++r) {
    for (size_t c = 0; c < schema.size(); ++c) {
      const auto& col = batch.column(c);
      if (col.is_null[r]) {
        ok = duckdb_append_null(app);
        continue;
      }
      switch (schema[c].type) {
        case ColumnType::kString: {
          const std::string& s = col.strings[r];
          ok = duckdb_append_varchar_length(app, s.data(), s.size());
          break;
        }
        case ColumnType::kBinary: {
          const std::string& s = col.strings[r];
          ok = duckdb_append_blob(app, s.data(), s.size());
          break;
        }
        case ColumnType::kInt8: ok = duckdb_append_int8(app, static_cast<int8_t>(col.ints[r])); break;
        case ColumnType::kInt16: ok = duckdb_append_int16(app, static_cast<int16_t>(col.ints[r])); break;
        case ColumnType::kInt32: ok = duckdb_append_int32(app, static_cast<int32_t>(col.ints[r])); break;
        case ColumnType::kFloat: ok = duckdb_append_float(app, static_cast<float>(col.doubles[r])); break;
        case ColumnType::kNested: ok = DuckDBError; break;
        case ColumnType::kInt64: ok = duckdb_append_int64(app, col.ints[r]); break;
        case ColumnType::kDouble: ok = duckdb_append_double(app, col.doubles[r]); break;
        case ColumnType::kBool: ok = duckdb_append_bool(app, col.ints[r] != 0); break;
        case ColumnType::kTimestampMicros: ok = duckdb_append_timestamp(app, duckdb_timestamp{col.ints[r]}); break;
        case ColumnType::kDate: ok = duckdb_append_date(app, duckdb_date{static_cast<int32_t>(col.ints[r])}); break;
        case ColumnType::kDecimal: {
          int64_t v = col.ints[r];
          duckdb_decimal d;
          d.width = static_cast<uint8_t>(schema[c].precision);
          d.scale = static_cast<uint8_t>(schema[c].scale);
          d.value.lower = static_cast<uint64_t>(v);
          d.value.upper = v < 0 ? -1 : 0;
          duckdb_value val = duckdb_create_decimal(d);
          ok = duckdb_append_value(app, val);
          duckdb_destroy_value(&val);
          break;
        }
      }
    }
    if (ok == DuckDBSuccess) ok = duckdb_appender_end_row(app);
  }
  if (ok == DuckDBSuccess) ok = duckdb_appender_close(app);
  if (ok != DuckDBSuccess) {
    std::string msg = duckdb_appender_error(app) ? duckdb_appender_error(app) : "";
    duckdb_appender_destroy(&app);
    return Internal("DuckDB appender failed: {}", msg);
  }
  duckdb_appender_destroy(&app);

  return Status::OK();
}
}  // namespace

Result<ParquetFileInfo> ColumnarEngine::WriteParquet(const RecordBatch& batch, const std::string& local_path) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  duckdb_connection conn = impl_->conn;
  const auto& schema = batch.schema();
  std::string table = fmt::format("staging_{}", impl_->seq++);
  RETURN_IF_ERROR(Exec(conn, StagingDdl(table, schema)).WithContext("create staging table"));
  StagingTableDropper dropper{conn, table};
  RETURN_IF_ERROR(AppendBatch(conn, table, batch));
  return FinishStaging(conn, table, schema, local_path);
}

namespace {
// SELECT of one UBIGINT per row of `table`, in insertion order: bit i set when predicate i is FALSE.
std::string FailureMaskSql(const std::string& table, const std::vector<std::string>& predicates) {
  std::string sql = "SELECT 0::UBIGINT";
  for (size_t i = 0; i < predicates.size(); ++i) {
    sql += fmt::format(" | ((CASE WHEN ({}) IS FALSE THEN 1 ELSE 0 END)::UBIGINT << {})", predicates[i], i);
  }
  return sql + " FROM " + table + " ORDER BY rowid";
}
}  // namespace

Status ColumnarEngine::CheckPredicates(const std::vector<ColumnSpec>& schema, const std::vector<std::string>& predicates) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  duckdb_connection conn = impl_->conn;
  std::string table = fmt::format("staging_{}", impl_->seq++);
  RETURN_IF_ERROR(Exec(conn, StagingDdl(table, schema)).WithContext("create staging table"));
  StagingTableDropper dropper{conn, table};
  for (const auto& p : predicates) {
    Status st = Exec(conn, "SELECT (" + p + ")::BOOLEAN FROM " + table);
    if (!st.ok()) return InvalidArgument("{}", st.message());
  }
  return Status::OK();
}

Result<std::vector<uint64_t>> ColumnarEngine::EvaluatePredicates(const RecordBatch& batch,
                                                                 const std::vector<std::string>& predicates) {
  if (predicates.size() > 64) return InvalidArgument("at most 64 predicates, got {}", predicates.size());
  std::vector<uint64_t> masks;
  if (predicates.empty() || batch.num_rows() == 0) {
    masks.assign(batch.num_rows(), 0);
    return masks;
  }
  std::lock_guard<std::mutex> lock(impl_->mu);
  duckdb_connection conn = impl_->conn;
  std::string table = fmt::format("staging_{}", impl_->seq++);
  RETURN_IF_ERROR(Exec(conn, StagingDdl(table, batch.schema())).WithContext("create staging table"));
  StagingTableDropper dropper{conn, table};
  RETURN_IF_ERROR(AppendBatch(conn, table, batch));
  duckdb_result res;
  std::string sql = FailureMaskSql(table, predicates);
  if (duckdb_query(conn, sql.c_str(), &res) != DuckDBSuccess) {
    std::string msg = duckdb_result_error(&res);
    duckdb_destroy_result(&res);
    return InvalidArgument("{}", msg);
  }
  masks.reserve(batch.num_rows());
  for (;;) {
    duckdb_data_chunk chunk = duckdb_fetch_chunk(res);
    if (!chunk) break;
    idx_t n = duckdb_data_chunk_get_size(chunk);
    auto* data = static_cast<uint64_t*>(duckdb_vector_get_data(duckdb_data_chunk_get_vector(chunk, 0)));
    masks.insert(masks.end(), data, data + n);
    duckdb_destroy_data_chunk(&chunk);
  }
  duckdb_destroy_result(&res);
  if (masks.size() != batch.num_rows()) {
    return Internal("predicate evaluation returned {} rows for {}", masks.size(), batch.num_rows());
  }
  return masks;
}

Result<ParquetFileInfo> ColumnarEngine::WriteQueryToParquet(const std::string& select_sql,
                                                             const std::vector<ColumnSpec>& schema,
                                                             const std::string& local_path) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  duckdb_connection conn = impl_->conn;
  std::string table = fmt::format("staging_{}", impl_->seq++);
  RETURN_IF_ERROR(Exec(conn, StagingDdl(table, schema)).WithContext("create staging table"));
  StagingTableDropper dropper{conn, table};
  RETURN_IF_ERROR(Exec(conn, "INSERT INTO " + table + " " + select_sql).WithContext("query for " + local_path));
  return FinishStaging(conn, table, schema, local_path);
}

Status ColumnarEngine::ForEachRow(const std::string& sql, const RowCallback& row) {
  return ForEachRowWhile(sql, [&](const std::vector<std::optional<std::string_view>>& values) {
    row(values);
    return true;
  });
}

Status ColumnarEngine::ForEachRowWhile(const std::string& sql, const RowPredicate& row) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  duckdb_prepared_statement stmt = nullptr;
  if (duckdb_prepare(impl_->conn, sql.c_str(), &stmt) != DuckDBSuccess) {
    std::string msg = duckdb_prepare_error(stmt) ? duckdb_prepare_error(stmt) : "prepare failed";
    duckdb_destroy_prepare(&stmt);
    return InvalidArgument("{}", msg);
  }
  duckdb_result res;
  duckdb_state st = duckdb_execute_prepared_streaming(stmt, &res);
  duckdb_destroy_prepare(&stmt);
  if (st != DuckDBSuccess) {
    std::string msg = duckdb_result_error(&res) ? duckdb_result_error(&res) : "query failed";
    duckdb_destroy_result(&res);
    return InvalidArgument("{}", msg);
  }
  const idx_t ncol = duckdb_column_count(&res);
  for (idx_t c = 0; c < ncol; ++c) {
    duckdb_type t = duckdb_column_type(&res, c);
    if (t != DUCKDB_TYPE_VARCHAR && t != DUCKDB_TYPE_BLOB) {
      duckdb_destroy_result(&res);
      return InvalidArgument("ForEachRow: column {} ({}) is neither VARCHAR nor BLOB; cast it in the query", c,
                             duckdb_column_name(&res, c));
    }
  }
  std::vector<std::optional<std::string_view>> values(ncol);
  Status out;
  bool stopped = false;
  for (;;) {
    duckdb_data_chunk chunk = duckdb_fetch_chunk(res);
    if (!chunk) break;
    const idx_t n = duckdb_data_chunk_get_size(chunk);
    std::vector<duckdb_string_t*> data(ncol);
    std::vector<uint64_t*> validity(ncol);
    for (idx_t c = 0; c < ncol; ++c) {
      duckdb_vector v = duckdb_data_chunk_get_vector(chunk, c);
      data[c] = static_cast<duckdb_string_t*>(duckdb_vector_get_data(v));
      validity[c] = duckdb_vector_get_validity(v);
    }
    for (idx_t r = 0; r < n; ++r) {
      for (idx_t c = 0; c < ncol; ++c) {
        if (validity[c] && !duckdb_validity_row_is_valid(validity[c], r)) {
          values[c].reset();
        } else {
          duckdb_string_t* s = &data[c][r];
          values[c] = std::string_view(duckdb_string_t_data(s), duckdb_string_t_length(*s));
        }
      }
      if (!row(values)) {
        stopped = true;
        break;
      }
    }
    duckdb_destroy_data_chunk(&chunk);
    if (stopped) break;
  }
  if (const char* e = duckdb_result_error(&res)) out = InvalidArgument("{}", e);
  duckdb_destroy_result(&res);
  return out;
}

namespace {
// Types the row-value API cannot render as text; such columns are cast to VARCHAR by DuckDB.
bool NeedsTextCast(duckdb_type t) {
  switch (t) {
    case DUCKDB_TYPE_TIMESTAMP_TZ:
    case DUCKDB_TYPE_TIME_TZ:
    case DUCKDB_TYPE_LIST:
    case DUCKDB_TYPE_STRUCT:
    case DUCKDB_TYPE_MAP:
    case DUCKDB_TYPE_ARRAY:
    case DUCKDB_TYPE_UNION:
    case DUCKDB_TYPE_ENUM:
    case DUCKDB_TYPE_UUID:
    case DUCKDB_TYPE_BIT:
      return true;
    default:
      return false;
  }
}
}  // namespace

Result<QueryResult> ColumnarEngine::Query(const std::string& sql) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  duckdb_result res;
  auto run = [&](const std::string& text) -> Status {
    if (duckdb_query(impl_->conn, text.c_str(), &res) == DuckDBSuccess) return Status::OK();
    std::string msg = duckdb_result_error(&res) ? duckdb_result_error(&res) : "unknown error";
    duckdb_destroy_result(&res);
    return InvalidArgument("SQL error: {}", msg);
  };
  RETURN_IF_ERROR(run(sql));
  const idx_t ncol = duckdb_column_count(&res);
  // Only a SELECT yields such types: run it again with those columns cast to text.
  std::string recast;
  bool any_cast = false;
  for (idx_t c = 0; c < ncol; ++c) {
    const bool cast = NeedsTextCast(duckdb_column_type(&res, c));
    any_cast = any_cast || cast;
    recast += fmt::format("{}{}#{}{} AS {}", c ? ", " : "", cast ? "CAST(" : "", c + 1, cast ? " AS VARCHAR)" : "",
                          QuoteIdent(duckdb_column_name(&res, c)));
  }
  if (any_cast) {
    duckdb_destroy_result(&res);
    RETURN_IF_ERROR(run("SELECT " + recast + " FROM (" + sql + ") AS q"));
  }
  QueryResult out;
  std::vector<bool> is_blob(ncol);
  for (idx_t c = 0; c < ncol; ++c) {
    out.columns.emplace_back(duckdb_column_name(&res, c));
    is_blob[c] = duckdb_column_type(&res, c) == DUCKDB_TYPE_BLOB;
  }
  idx_t nrow = duckdb_row_count(&res);
  out.rows.reserve(nrow);
  for (idx_t r = 0; r < nrow; ++r) {
    std::vector<std::optional<std::string>> row(ncol);
    for (idx_t c = 0; c < ncol; ++c) {
      if (duckdb_value_is_null(&res, c, r)) continue;
      if (is_blob[c]) {
        duckdb_blob b = duckdb_value_blob(&res, c, r);
        row[c] = std::string(static_cast<const char*>(b.data), b.size);
        duckdb_free(b.data);
      } else {
        char* v = duckdb_value_varchar(&res, c, r);
        row[c] = std::string(v ? v : "");
        duckdb_free(v);
      }
    }
    out.rows.push_back(std::move(row));
  }
  duckdb_destroy_result(&res);
  return out;
}

}  // namespace lakestream

namespace lakestream {

namespace {
const char* StatementTypeName(duckdb_statement_type t) {
  switch (t) {
    case DUCKDB_STATEMENT_TYPE_SELECT: return "SELECT";
    case DUCKDB_STATEMENT_TYPE_INSERT: return "INSERT";
    case DUCKDB_STATEMENT_TYPE_UPDATE: return "UPDATE";
    case DUCKDB_STATEMENT_TYPE_EXPLAIN: return "EXPLAIN";
    case DUCKDB_STATEMENT_TYPE_DELETE: return "DELETE";
    case DUCKDB_STATEMENT_TYPE_PREPARE: return "PREPARE";
    case DUCKDB_STATEMENT_TYPE_CREATE: return "CREATE";
    case DUCKDB_STATEMENT_TYPE_EXECUTE: return "EXECUTE";
    case DUCKDB_STATEMENT_TYPE_ALTER: return "ALTER";
    case DUCKDB_STATEMENT_TYPE_TRANSACTION: return "TRANSACTION";
    case DUCKDB_STATEMENT_TYPE_COPY: return "COPY";
    case DUCKDB_STATEMENT_TYPE_ANALYZE: return "ANALYZE";
    case DUCKDB_STATEMENT_TYPE_VARIABLE_SET: return "SET VARIABLE";
    case DUCKDB_STATEMENT_TYPE_CREATE_FUNC: return "CREATE FUNCTION";
    case DUCKDB_STATEMENT_TYPE_DROP: return "DROP";
    case DUCKDB_STATEMENT_TYPE_EXPORT: return "EXPORT";
    case DUCKDB_STATEMENT_TYPE_PRAGMA: return "PRAGMA";
    case DUCKDB_STATEMENT_TYPE_VACUUM: return "VACUUM";
    case DUCKDB_STATEMENT_TYPE_CALL: return "CALL";
    case DUCKDB_STATEMENT_TYPE_SET: return "SET";
    case DUCKDB_STATEMENT_TYPE_LOAD: return "LOAD";
    case DUCKDB_STATEMENT_TYPE_RELATION: return "RELATION";
    case DUCKDB_STATEMENT_TYPE_EXTENSION: return "EXTENSION";
    case DUCKDB_STATEMENT_TYPE_LOGICAL_PLAN: return "LOGICAL PLAN";
    case DUCKDB_STATEMENT_TYPE_ATTACH: return "ATTACH";
    case DUCKDB_STATEMENT_TYPE_DETACH: return "DETACH";
    case DUCKDB_STATEMENT_TYPE_MULTI: return "MULTI";
    default: return "INVALID";
  }
}

ColumnarEngine::ValueKind KindOf(duckdb_type t) {
  switch (t) {
    case DUCKDB_TYPE_TINYINT: case DUCKDB_TYPE_SMALLINT: case DUCKDB_TYPE_INTEGER: case DUCKDB_TYPE_BIGINT:
    case DUCKDB_TYPE_UTINYINT: case DUCKDB_TYPE_USMALLINT: case DUCKDB_TYPE_UINTEGER: case DUCKDB_TYPE_UBIGINT:
    case DUCKDB_TYPE_HUGEINT: case DUCKDB_TYPE_UHUGEINT: case DUCKDB_TYPE_FLOAT: case DUCKDB_TYPE_DOUBLE:
    case DUCKDB_TYPE_DECIMAL:
      return ColumnarEngine::ValueKind::kNumber;
    case DUCKDB_TYPE_BOOLEAN:
      return ColumnarEngine::ValueKind::kBoolean;
    case DUCKDB_TYPE_LIST: case DUCKDB_TYPE_STRUCT: case DUCKDB_TYPE_MAP: case DUCKDB_TYPE_ARRAY:
    case DUCKDB_TYPE_UNION:
      return ColumnarEngine::ValueKind::kJson;
    default:
      return ColumnarEngine::ValueKind::kText;
  }
}

// The one statement of `sql`, prepared. Errors: parse/bind errors; not exactly one statement.
Status PrepareOne(duckdb_connection conn, const std::string& sql, duckdb_prepared_statement* out) {
  duckdb_extracted_statements ex = nullptr;
  const idx_t n = duckdb_extract_statements(conn, sql.c_str(), &ex);
  if (n == 0) {
    const char* e = ex ? duckdb_extract_statements_error(ex) : nullptr;
    std::string msg = e ? e : "no statement";
    duckdb_destroy_extracted(&ex);
    return InvalidArgument("{}", msg);
  }
  if (n != 1) {
    duckdb_destroy_extracted(&ex);
    return InvalidArgument("expected one SQL statement, found {}: run them one at a time", n);
  }
  if (duckdb_prepare_extracted_statement(conn, ex, 0, out) != DuckDBSuccess) {
    std::string msg = duckdb_prepare_error(*out) ? duckdb_prepare_error(*out) : "prepare failed";
    duckdb_destroy_prepare(out);
    duckdb_destroy_extracted(&ex);
    return InvalidArgument("{}", msg);
  }
  duckdb_destroy_extracted(&ex);
  return Status::OK();
}
}  // namespace

Result<std::string> ColumnarEngine::StatementType(const std::string& sql) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  duckdb_prepared_statement stmt = nullptr;
  RETURN_IF_ERROR(PrepareOne(impl_->conn, sql, &stmt));
  std::string type = StatementTypeName(duckdb_prepared_statement_type(stmt));
  duckdb_destroy_prepare(&stmt);
  return type;
}

Status ColumnarEngine::StreamRows(const std::string& sql, const HeaderCallback& header, const RowPredicate& row) {
  std::vector<ResultColumn> columns;
  std::string wrapped;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    duckdb_prepared_statement stmt = nullptr;
    RETURN_IF_ERROR(PrepareOne(impl_->conn, sql, &stmt));
    const bool is_select = duckdb_prepared_statement_type(stmt) == DUCKDB_STATEMENT_TYPE_SELECT;
    const idx_t ncol = duckdb_prepared_statement_column_count(stmt);
    std::string list;
    for (idx_t c = 0; c < ncol; ++c) {
      const duckdb_type t = duckdb_prepared_statement_column_type(stmt, c);
      const char* name = duckdb_prepared_statement_column_name(stmt, c);
      ResultColumn col{name ? name : fmt::format("column{}", c), KindOf(t), t == DUCKDB_TYPE_DECIMAL};
      list += fmt::format("{}CAST({}#{}{} AS VARCHAR) AS {}", c ? ", " : "",
                          col.kind == ValueKind::kJson ? "to_json(" : "", c + 1,
                          col.kind == ValueKind::kJson ? ")" : "", QuoteIdent(col.name));
      columns.push_back(std::move(col));
    }
    duckdb_destroy_prepare(&stmt);
    if (is_select && ncol > 0) {
      wrapped = "SELECT " + list + " FROM (\n" + SubqueryBody(sql) + "\n) AS lakestream_q";
      duckdb_prepared_statement probe = nullptr;
      if (duckdb_prepare(impl_->conn, wrapped.c_str(), &probe) != DuckDBSuccess) wrapped.clear();
      duckdb_destroy_prepare(&probe);
    }
  }
  if (!wrapped.empty()) {
    header(columns);
    return ForEachRowWhile(wrapped, row);
  }
  // EXPLAIN, and SELECT-type statements DuckDB cannot nest (table-valued PRAGMAs): materialised.
  ASSIGN_OR_RETURN(QueryResult r, Query(sql));
  std::vector<ResultColumn> text_columns;
  for (const auto& name : r.columns) text_columns.push_back(ResultColumn{name, ValueKind::kText, false});
  header(text_columns);
  std::vector<std::optional<std::string_view>> values;
  for (const auto& rr : r.rows) {
    values.assign(rr.begin(), rr.end());
    if (!row(values)) break;
  }
  return Status::OK();
}

Status ColumnarEngine::CreateTempTable(const std::string& name, const RecordBatch& batch) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  RETURN_IF_ERROR(Exec(impl_->conn, "DROP TABLE IF EXISTS " + name));
  RETURN_IF_ERROR(Exec(impl_->conn, StagingDdl(name, batch.schema())));
  return AppendBatch(impl_->conn, name, batch);
}

void ColumnarEngine::Interrupt() {
  if (impl_->conn != nullptr) duckdb_interrupt(impl_->conn);
}

Status ColumnarEngine::RestrictFileAccess(const std::vector<std::string>& allowed_paths) {
  std::lock_guard<std::mutex> lock(impl_->mu);
  const std::vector<std::string> settings = {
      "SET autoinstall_known_extensions = false", "SET autoload_known_extensions = false",
      "SET allowed_paths = " + PathList(allowed_paths), "SET enable_external_access = false", "SET lock_configuration = true"};
  for (const std::string& stmt : settings) {
    if (Status st = Exec(impl_->conn, stmt); !st.ok()) return Internal("{}: {}", stmt, st.message());
  }
  return Status::OK();
}

}  // namespace lakestream
