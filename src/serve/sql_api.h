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
  int64_t default_max_bytes = 16LL << 20;  // the answer's size (bytes); rows beyond it are left out
  int64_t max_bytes_cap = 64LL << 20;      // a request may ask for up to this much
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
  std::string truncated_by;   // "rows" or "bytes" when truncated
};

/// Answers one request. `body` is JSON: {"sql": "SELECT …", "format": "json"|"csv", "max_rows": N,
/// "max_bytes": N, "timeout_ms": N} (only "sql" is required). The answer is built in memory up to
/// max_bytes (16 MiB by default, at most 64 MiB): rows beyond the row or byte limit are left out and
/// the answer says it was truncated and by what, so one request can neither exhaust memory nor run
/// past its time limit while its rows are written out (a status code must be known before the first
/// byte, so the answer is sent once complete). A json answer is
///   {"columns":[{"name":"n","type":"number"}], "rows":[[…],…], "row_count":N, "truncated":false,
///    "truncated_by":null|"rows"|"bytes",
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
