// `lakestream dlq export`: the open quarantined records (silver/orders_quarantine) as JSON lines, to
// inspect or fix before `lakestream dlq replay --input FILE`. CLI glue over pipeline/dead_letters.h.
#pragma once

#include <CLI/CLI.hpp>

#include "config/settings.h"

namespace lakestream {

/// Adds `export` under the `dlq` subcommand; RunDlqExportCommand runs it when parsed.
CLI::App* AddDlqExportCommand(CLI::App& dlq);
/// `lake_root`: the lakehouse (setting lake.root). Returns the exit code: 0 done, 1 failed (printed).
/// Exports the open quarantined records of the pipeline `settings` name (pipeline.file; the built-in
/// orders pipeline by default) under lake.root. Exit code 0, 1 on an error, 2 on a bad pipeline file.
int RunDlqExportCommand(const Settings& settings);

}  // namespace lakestream
