// The SQL endpoint of the HTTP API: `POST /api/v1/sql` runs one read-only statement over the
// lakehouse (query/lake_sql.h) in a sandboxed DuckDB that may read only the named snapshots' files,
// within row, time and concurrency limits (docs/api.md, "SQL"; docs/sql.md).
//
// Thread-safe: each request gets its own engine; a counter bounds how many run at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "common/status.h"

namespace lakestream {

struct SqlApiLimits {
  int64_t default_max_rows = 1000;
  int64_t max_rows_cap = 100000;      // a request may ask for up to this many rows
  int64_t default_timeout_ms = 10000;
  int64_t timeout_cap_ms = 60000;     // a request may ask for up to this long
  int max_concurrent = 4;             // statements running at once; more get 503
  int duckdb_threads = 1;             // per statement, so queries leave the pipeline its cores
  std::string duckdb_memory_limit = "256MB";
};

struct SqlApiResponse {
  int http_status = 200;
  std::string content_type = "application/json; charset=utf-8";
  std::string body;
  std::string tables_header;  // csv: X-Lakestream-Tables, "silver.orders@v12, …"
  bool truncated = false;     // csv: X-Lakestream-Truncated: true
};

/// Answers one request. `body` is JSON: {"sql": "SELECT …", "format": "json"|"csv", "max_rows": N,
/// "timeout_ms": N} (only "sql" is required). A json answer is
///   {"columns":[{"name":"n","type":"number"}], "rows":[[…],…], "row_count":N, "truncated":false,
///    "tables":[{"name":"silver.orders","version":12,"files":3,"time_travel":false}], "elapsed_ms":N}
/// with numbers and booleans bare and NULL as null; csv is RFC 4180 with a header line, and the tables
/// read in the X-Lakestream-Tables header ("silver.orders@v12, …"), X-Lakestream-Truncated: true when
/// the row limit cut it. Errors are JSON
/// {"error":{"status","code","message"}}: 400 for a bad body, SQL that does not parse or bind, a
/// refused statement (names its type) or a file outside the snapshots; 404 for a missing lakehouse or
/// time travel before the first version; 503 (Unavailable) when max_concurrent statements are running;
/// 504 (DeadlineExceeded) when the time limit stopped it (google.rpc.Code's HTTP mapping).
SqlApiResponse AnswerSqlRequest(const std::string& body, const std::string& lake_root, const SqlApiLimits& limits,
                                std::atomic<int>* running);

}  // namespace lakestream
