// Columnar data: RecordBatch (rows to be written) and ColumnarEngine, our small interface over
// DuckDB's C API for writing Parquet files and running SQL. DuckDB's headers stay inside
// columnar_engine.cc (STYLE.md "Build hygiene").
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace lakestream {

enum class ColumnType {
  kString, kBinary, kInt8, kInt16, kInt32, kInt64, kFloat, kDouble, kBool, kTimestampMicros, kDate, kDecimal,
  kNested,
};

/// One column. kTimestampMicros is UTC microseconds (Parquet INT64 TIMESTAMP(isAdjustedToUTC=true,
/// MICROS)); kDate is days since 1970-01-01 (INT32 DATE); kDecimal is decimal(precision, scale): in a
/// RecordBatch it holds the unscaled integer (precision <= 18, Parquet INT32/INT64 DECIMAL); through
/// SQL any precision up to 38 (FIXED_LEN_BYTE_ARRAY DECIMAL above 18). kNested is a struct/array/map
/// column written through SQL only: `nested_sql_type` is its DuckDB type and `nested_delta_type` its
/// Delta type JSON. Delta PROTOCOL.md, "Primitive Types" and "Delta Data Type to Parquet Type Mappings".
struct ColumnSpec {
  std::string name;
  ColumnType type = ColumnType::kString;
  bool nullable = true;
  int precision = 0, scale = 0;
  std::string nested_sql_type, nested_delta_type;
  /// The Delta schemaString type: "string", "binary", "byte", "short", "integer", "long", "float",
  /// "double", "boolean", "timestamp", "date", "decimal(p,s)", or the nested type's JSON.
  std::string DeltaType() const;
  /// The DuckDB SQL type: VARCHAR, BLOB, TINYINT, …, TIMESTAMPTZ, DECIMAL(p,s), or nested_sql_type.
  std::string SqlType() const;
};

/// Rows to be written to one Parquet file, stored column by column. Append a value (or null) to every
/// column for each row, in column order. Single-threaded.
class RecordBatch {
 public:
  explicit RecordBatch(std::vector<ColumnSpec> schema);
  const std::vector<ColumnSpec>& schema() const { return schema_; }
  size_t num_rows() const;

  void AppendString(size_t col, std::string_view v);  // kString and kBinary
  void AppendInt(size_t col, int64_t v);               // integer kinds, timestamps, dates, decimals
  void AppendDouble(size_t col, double v);
  void AppendBool(size_t col, bool v);
  void AppendNull(size_t col);
  /// Appends row `row` of `other`, which has the same schema.
  void AppendRowFrom(const RecordBatch& other, size_t row);
  void Clear();

  struct Column {
    std::vector<int64_t> ints;
    std::vector<double> doubles;
    std::vector<std::string> strings;
    std::vector<uint8_t> is_null;
  };
  const Column& column(size_t i) const { return columns_[i]; }

 private:
  std::vector<ColumnSpec> schema_;
  std::vector<Column> columns_;
};

/// A written Parquet file: size and Delta per-file statistics (Delta PROTOCOL.md, "Per-file Statistics").
struct ParquetFileInfo {
  int64_t size_bytes = 0;
  int64_t num_records = 0;
  std::string stats_json;  // {"numRecords":N,"minValues":{…},"maxValues":{…},"nullCount":{…}}
};

/// The rows of a query, every value as text (BLOB values as their raw bytes); nullopt is SQL NULL.
struct QueryResult {
  std::vector<std::string> columns;
  std::vector<std::vector<std::optional<std::string>>> rows;
};

/// One in-process DuckDB database (in memory, TimeZone UTC). Thread-safe: calls are serialised.
class ColumnarEngine {
 public:
  ~ColumnarEngine();
  /// `threads`: DuckDB worker threads; `memory_limit`: e.g. "1GB". Errors: Internal when DuckDB fails to open.
  static Result<std::unique_ptr<ColumnarEngine>> Open(int threads, const std::string& memory_limit);

  /// Writes `batch` as a zstd-compressed Parquet file at `local_path` and computes its Delta stats:
  /// min/max for integers, decimals, finite floats, dates, timestamps (truncated to milliseconds, UTC
  /// 'Z') and strings of at most 32 characters; nullCount for every primitive column; nothing for
  /// nested columns (Delta PROTOCOL.md, "Per-file Statistics"). Errors: IoError naming the path.
  Result<ParquetFileInfo> WriteParquet(const RecordBatch& batch, const std::string& local_path);

  /// Runs `select_sql` (a SELECT whose columns match `schema` in order), writes its rows as Parquet at
  /// `local_path` with the same statistics as WriteParquet. Errors: InvalidArgument with DuckDB's message.
  Result<ParquetFileInfo> WriteQueryToParquet(const std::string& select_sql, const std::vector<ColumnSpec>& schema,
                                              const std::string& local_path);

  /// Evaluates boolean SQL `predicates` (at most 64) over each row of `batch`, whose columns are
  /// named by its schema. Returns one mask per row, in row order: bit i is set when predicate i is
  /// FALSE for that row; NULL (unknown) is not a failure, as for an SQL CHECK constraint (SQL:2016
  /// 4.23.3: a constraint is violated when its condition is False). Errors: InvalidArgument with
  /// DuckDB's message.
  Result<std::vector<uint64_t>> EvaluatePredicates(const RecordBatch& batch, const std::vector<std::string>& predicates);
  /// Checks that each predicate binds against columns `schema` (names, types, functions), without
  /// rows. Errors: InvalidArgument with DuckDB's message for the first that does not.
  Status CheckPredicates(const std::vector<ColumnSpec>& schema, const std::vector<std::string>& predicates);

  /// Runs `sql`. Values come back as DuckDB's text form (BLOBs as raw bytes); a SELECT whose result
  /// has columns of types without a direct text form (TIMESTAMPTZ, LIST, STRUCT, MAP, …) is run a
  /// second time with those columns cast to VARCHAR, so only pass read-only queries that return such
  /// types. Errors: InvalidArgument with DuckDB's message.
  Result<QueryResult> Query(const std::string& sql);

  /// The values of one row for ForEachRow: nullopt is NULL; the views are valid during the call only.
  using RowCallback = std::function<void(const std::vector<std::optional<std::string_view>>&)>;
  /// Runs `sql`, whose result columns must all be VARCHAR or BLOB (cast others in the query), and
  /// calls `row` for each result row, streaming: memory holds one chunk (2,048 rows) at a time, not
  /// the result. BLOB values come as their raw bytes. Errors: InvalidArgument with DuckDB's message,
  /// or naming a column of another type.
  Status ForEachRow(const std::string& sql, const RowCallback& row);
  /// ForEachRow that stops reading (and ends the query) when `row` returns false, e.g. when the
  /// client of a streamed report has gone. Stopping is not an error.
  using RowPredicate = std::function<bool(const std::vector<std::optional<std::string_view>>&)>;
  Status ForEachRowWhile(const std::string& sql, const RowPredicate& row);

  /// How a result column's values are best written in JSON: kNumber (integers, decimals, floats;
  /// written bare unless not finite), kBoolean (true/false), kJson (LIST, STRUCT, MAP, ARRAY, UNION:
  /// already JSON text), kText (everything else, a JSON string).
  enum class ValueKind { kText, kNumber, kBoolean, kJson };
  struct ResultColumn {
    std::string name;
    ValueKind kind = ValueKind::kText;
    bool is_decimal = false;  // DECIMAL(p,s): exact, written with its scale ("56333.33")
  };
  using HeaderCallback = std::function<void(const std::vector<ResultColumn>&)>;

  /// DuckDB's statement type of `sql`, upper case: "SELECT" (also DESCRIBE, SHOW, SUMMARIZE, FROM …,
  /// VALUES, table-valued PRAGMAs), "EXPLAIN", "INSERT", "COPY", "ATTACH", "SET", "CREATE", …
  /// Errors: InvalidArgument with DuckDB's parser or binder message, or when `sql` holds no statement
  /// or more than one (names how many).
  Result<std::string> StatementType(const std::string& sql);

  /// Runs the one read-only statement in `sql` (StatementType SELECT or EXPLAIN) and streams its rows
  /// as text: numbers and decimals as DuckDB prints them ("56333.33"), booleans "true"/"false",
  /// timestamps with zone "2019-12-16 13:59:58+00", nested values as JSON, BLOBs with \xNN escapes.
  /// `header` is called once before the first row. A SELECT streams one chunk (2,048 rows) at a time;
  /// EXPLAIN and statements DuckDB cannot nest in a subquery are materialised first. Stops early when
  /// `row` returns false (not an error). Errors: InvalidArgument with DuckDB's message (an
  /// interrupted query says "Interrupted").
  Status StreamRows(const std::string& sql, const HeaderCallback& header, const RowPredicate& row);

  /// Creates (or replaces) the temporary table `name` (a plain identifier: letters, digits, _) holding the rows
  /// of `batch`, for later queries on this engine. Errors: InvalidArgument with DuckDB's message.
  Status CreateTempTable(const std::string& name, const RecordBatch& batch);

  /// Asks the running query (if any) to stop; it then fails with "Interrupted". Thread-safe; does not
  /// wait. Used for query time limits.
  void Interrupt();

  /// From now on this engine may read only `allowed_paths` (exact file paths) from the file system or
  /// the network, and its configuration is locked, so a statement can neither read other files nor
  /// lift the restriction (DuckDB settings allowed_paths, enable_external_access=false,
  /// lock_configuration). Irreversible for this engine. Errors: Internal when DuckDB refuses a setting.
  Status RestrictFileAccess(const std::vector<std::string>& allowed_paths);

  /// A SQL list literal of quoted paths for read_parquet(): ['a.parquet', 'b.parquet'].
  static std::string PathList(const std::vector<std::string>& paths);
  /// `sql` without trailing whitespace and semicolons, so that it can be nested as a subquery
  /// ("(" + body + "\n)": the line break keeps a trailing "-- comment" from swallowing the ")").
  static std::string SubqueryBody(std::string_view sql);
  /// Quotes a SQL string literal.
  static std::string Quote(std::string_view s);
  /// Quotes a SQL identifier: "name" with inner quotes doubled.
  static std::string QuoteIdentifier(std::string_view s);

 private:
  ColumnarEngine();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lakestream
