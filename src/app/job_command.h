// `lakestream job run|list|validate`: batch jobs declared in jobs/*.toml (docs/jobs.md). CLI glue over
// jobs/batch_job.h.
#pragma once

#include <CLI/CLI.hpp>

namespace lakestream {

/// Adds the `job` subcommand (run, list, validate) to `app`.
CLI::App* AddJobCommand(CLI::App& app);
/// Exit code: 0 done, nothing quarantined; 3 done, but records of this run's inputs were quarantined
/// (listed on stderr); 1 failed (message printed); 2 bad arguments (what to write instead).
int RunJobCommand();

}  // namespace lakestream
