// LakeSql: SQL (DuckDB dialect) over a lakehouse's Delta tables by name — `silver.orders`,
// `gold.sales_daily`, `bronze.notifications@v12`, `silver.orders TIMESTAMP AS OF '2024-05-01'` — for
// `lakestream sql` and `POST /api/v1/sql` (docs/sql.md).
//
// Each table a statement names resolves to one Delta snapshot (the current one, or the one time
// travel selects), loaded once per statement, so every reference to it in the statement sees the
// same version; the table reads exactly that snapshot's active files (Delta PROTOCOL.md, "Action
// Reconciliation"), which a writer finishes before it commits them, so a query never sees a removed
// or half-written file. Tables are not read as one transaction across tables (Delta has none).
//
// Only read-only statements run (SELECT, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN, …): writes, ATTACH,
// COPY, SET, INSTALL/LOAD are refused. In the sandbox (the HTTP API) the engine may read only the
// files of the snapshots the statement names: read_csv('/etc/passwd'), ATTACH and URLs fail.
//
// Threads: one LakeSqlQuery per statement and thread; Interrupt() may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "lake/columnar/columnar.h"
#include "lake/delta/delta_snapshot.h"

namespace lakestream {

/// One `layer.table` reference in a statement, with its time travel.
struct TableReference {
  std::string layer, table;  // "silver", "orders": the table lives at <lakehouse>/<layer>/<table>
  SnapshotSelector at;       // neither set: the current snapshot
  std::string at_text;       // the time travel as written ("@v12", "TIMESTAMP AS OF '…'"), for messages
  size_t begin = 0, end = 0; // byte span of the whole reference in the statement
  /// "silver.orders", or "silver.orders@v12" once a timestamp is resolved to version 12.
  std::string DisplayName() const;
};

/// Finds the references to lakehouse tables in `sql`: `layer.table` (each identifier plain, matched
/// in lower case as DuckDB folds it, or double-quoted, matched as written; not the tail of a longer
/// dotted name) for which `is_table(layer, table)` is true, each optionally followed by time travel —
/// `@v12` (version), `@20240501103000000` (Delta's yyyyMMddHHmmssSSS, UTC), `@2024-05-01T10:30:00Z`
/// or `@'2024-05-01 10:30:00'` (ISO 8601; no offset means UTC), `VERSION AS OF 12` or
/// `TIMESTAMP AS OF '2024-05-01 10:30:00+02:00'` (Spark SQL). Text in string literals, quoted
/// identifiers that are not references, and comments is skipped. References in order of position.
/// Errors: InvalidArgument naming the reference when its time travel cannot be parsed (and the forms
/// accepted).
Result<std::vector<TableReference>> FindTableReferences(
    std::string_view sql, const std::function<bool(const std::string&, const std::string&)>& is_table);

/// The Delta tables of a local lakehouse: every <root>/<layer>/<table> holding a _delta_log
/// directory, as "layer.table", sorted. Layers whose name starts with '_' are skipped.
/// Errors: NotFound when `root` is not a directory (says to pass --lakehouse).
Result<std::vector<std::string>> ListLakehouseTables(const std::string& root);

struct LakeSqlOptions {
  std::string lakehouse = "./lakehouse";
  /// Restrict file access to the named snapshots' files (the HTTP API). The CLI leaves it off, so a
  /// statement may also join local files (read_csv('customers.csv')).
  bool sandbox = false;
  /// Stop after this many rows (the result says it was truncated); < 0: no limit.
  int64_t max_rows = -1;
  /// Interrupt the statement after this long (ms); 0: no limit.
  int64_t timeout_ms = 0;
  int duckdb_threads = 2;
  std::string duckdb_memory_limit = "1GB";
};

/// The snapshot one table reference read.
struct TableRead {
  std::string name;     // "silver.orders" (also for a time-travelled reference)
  int64_t version = -1;
  int64_t files = 0;    // active files read
  bool time_travel = false;
};

class LakeSqlQuery {
 public:
  ~LakeSqlQuery();
  /// Resolves the tables `sql` names (loading each snapshot once), checks the statement is one
  /// read-only statement, and prepares an engine (sandboxed when options.sandbox).
  /// Errors: InvalidArgument for SQL that does not parse or bind (DuckDB's message, plus the
  /// lakehouse's table names when a table is unknown), for more than one statement, or for a
  /// statement that is not read-only (names its type: "INSERT statements are refused: …");
  /// NotFound for a missing lakehouse or a time travel before the table's first version (names the
  /// versions kept); Unsupported/Corruption from the Delta reader (names the table).
  static Result<std::unique_ptr<LakeSqlQuery>> Prepare(const std::string& sql, const LakeSqlOptions& options);

  /// Streams the result: `header` once, then `row` per row until options.max_rows or `row` returns
  /// false. Enforces options.timeout_ms. Errors: InvalidArgument with DuckDB's message; DeadlineExceeded-
  /// style InvalidArgument "the query ran longer than N ms" when the time limit interrupted it.
  Status Stream(const ColumnarEngine::HeaderCallback& header, const ColumnarEngine::RowPredicate& row);

  /// Writes the whole result as one zstd Parquet file at `path` (DuckDB's COPY … TO). Not in the
  /// sandbox. Errors: InvalidArgument for a sandboxed query or a statement that is not a SELECT;
  /// DuckDB's message (e.g. the directory does not exist).
  Status WriteParquet(const std::string& path);

  /// Stops a running Stream()/WriteParquet(); they then fail with "Interrupted". Thread-safe.
  void Interrupt();

  const std::vector<TableRead>& tables() const { return tables_; }
  /// The snapshots read, for people: "silver.orders@v12, gold.sales_daily@v7".
  std::string TablesRead() const;
  const std::string& statement_type() const { return statement_type_; }
  /// The statement as DuckDB runs it (table references replaced by views of their snapshots).
  const std::string& rewritten_sql() const { return rewritten_; }
  int64_t rows() const { return rows_; }
  bool truncated() const { return truncated_; }

 private:
  LakeSqlQuery() = default;
  LakeSqlOptions options_;
  std::unique_ptr<ColumnarEngine> engine_;
  std::vector<TableRead> tables_;
  std::string statement_type_, rewritten_;
  int64_t rows_ = 0;
  bool truncated_ = false;
};

}  // namespace lakestream
