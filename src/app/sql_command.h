// `lakestream sql "SELECT …"`: SQL (DuckDB dialect) over the lakehouse's Delta tables by name —
// bronze.orders, silver.orders, silver.orders_quarantine, gold.sales_daily, … — each resolved to the
// current snapshot's active files. CLI glue only. (Issue #7 adds formats, time travel and the API.)
#pragma once

#include <CLI/CLI.hpp>

namespace lakestream {

/// Adds the `sql` subcommand to `app`; RunSqlCommand runs it when parsed.
CLI::App* AddSqlCommand(CLI::App& app);
/// Returns the process exit code: 0 done, 1 failed (DuckDB's message or the table that failed).
int RunSqlCommand();

}  // namespace lakestream
