#include "app/pipeline_command.h"

#include <cstdio>
#include <string>
#include <vector>

#include "lake/columnar/columnar.h"
#include "pipeline/pipeline_spec.h"

namespace lakestream {

namespace {

std::vector<std::string>& Files() {
  static std::vector<std::string> files;
  return files;
}

// One file: OK with a summary on stdout, or every error on stderr.
bool Validate(const std::string& file, ColumnarEngine& engine) {
  auto spec = LoadPipelineSpec(file);
  Status st = spec.ok() ? CheckPipelineSql(*spec, engine) : spec.status();
  if (!st.ok()) {
    std::fprintf(stderr, "%s: invalid\n%s\n", file.c_str(), st.message().c_str());
    return false;
  }
  std::printf("%s: valid — pipeline '%s', format %s, topic '%s', consumer group '%s'\n", file.c_str(),
              spec->name.c_str(), spec->format.c_str(), spec->topic.c_str(), spec->group_id.c_str());
  if (spec->source_format().declared_schema) {
    std::printf("  %zu fields, event time %s, watermark %lld s, deduplication on %s for %lld s, %zu expectations\n",
                spec->fields.size(), spec->event_time.c_str(), static_cast<long long>(spec->watermark_ms / 1000),
                spec->silver.dedupe_key.c_str(), static_cast<long long>(spec->silver.dedupe_horizon_ms / 1000),
                spec->silver.expectations.size());
  } else {
    std::printf("  %s, deduplication on %s for %lld s, %zu expectations\n", spec->source_format().summary,
                spec->silver.dedupe_key.c_str(), static_cast<long long>(spec->silver.dedupe_horizon_ms / 1000),
                spec->silver.expectations.size());
  }
  std::printf("  tables: %s, %s, %s", spec->bronze_table.c_str(), spec->silver_table.c_str(),
              spec->quarantine_table.c_str());
  for (const auto& g : spec->gold) {
    std::printf(", %s", g.location.c_str());
    if (g.late_events == "adjustments") std::printf(", %s_adjustments", g.location.c_str());
  }
  std::printf("\n");
  return true;
}

}  // namespace

CLI::App* AddPipelineCommand(CLI::App& app) {
  auto* pipeline = app.add_subcommand("pipeline", "Pipeline files (docs/pipelines/README.md)");
  pipeline->require_subcommand(1);
  auto* validate = pipeline->add_subcommand(
      "validate", "Check pipeline files: keys, types, references and SQL conditions, each error with its line");
  validate->add_option("FILE", Files(), "Pipeline file(s), e.g. pipelines/notifications.toml")->required();
  return pipeline;
}

int RunPipelineCommand() {
  auto engine = ColumnarEngine::Open(1, "256MB");
  if (!engine.ok()) {
    std::fprintf(stderr, "lakestream: error: %s\n", engine.status().ToString().c_str());
    return 1;
  }
  bool ok = true;
  for (const auto& f : Files()) ok = Validate(f, **engine) && ok;
  return ok ? 0 : 1;
}

}  // namespace lakestream
