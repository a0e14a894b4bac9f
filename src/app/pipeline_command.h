// `lakestream pipeline validate FILE…`: checks pipeline files (docs/pipelines/README.md) — keys,
// types, references between sections and every SQL condition — and explains each error with its
// file and line. CLI glue only.
#pragma once

#include <CLI/CLI.hpp>

namespace lakestream {

/// Adds the `pipeline` subcommand (with `validate`) to `app`.
CLI::App* AddPipelineCommand(CLI::App& app);
/// Exit code: 0 when every file is valid, 1 when one is not (each error printed with its line).
int RunPipelineCommand();

}  // namespace lakestream
