// `lakestream report notifications|billing`: the notifications pipeline's detailed message report and
// daily bill, as human text (pt-BR), CSV or JSON, streamed to stdout or a file. CLI glue over
// serve/notification_reports.h.
#pragma once

#include <CLI/CLI.hpp>

namespace lakestream {

/// Adds the `report` subcommand (notifications, billing) to `app`.
CLI::App* AddReportCommand(CLI::App& app);
/// Exit code: 0 done, 1 failed (message printed), 2 bad arguments (what to write instead).
int RunReportCommand();

}  // namespace lakestream
