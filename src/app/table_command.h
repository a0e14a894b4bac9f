// `lakestream table <uri> describe|history|files|head|checkpoint|optimize|vacuum|restore`: Delta table
// inspection and maintenance from the command line. CLI glue only: parses the options, calls
// src/lake/delta, prints the result.
#pragma once

#include <CLI/CLI.hpp>

namespace lakestream {

/// Adds the `table` subcommand to `app`; RunTableCommand runs it when parsed.
CLI::App* AddTableCommand(CLI::App& app);
/// Returns the process exit code: 0 done, 1 failed (the message names the table and the cause).
int RunTableCommand();

}  // namespace lakestream
