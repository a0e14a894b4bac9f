#include "app/dlq_command.h"

#include <cstdio>
#include <fstream>
#include <string>

#include "pipeline/dead_letters.h"
#include "app/runner.h"

namespace lakestream {

namespace {

struct ExportOptions {
  std::string rule;
  std::string output;
  bool include_closed = false;
};

ExportOptions& Opts() {
  static ExportOptions o;
  return o;
}

}  // namespace

CLI::App* AddDlqExportCommand(CLI::App& dlq) {
  ExportOptions& o = Opts();
  auto* cmd = dlq.add_subcommand(
      "export", "Write the open quarantined records of a pipeline (--pipeline; silver holds no row with their "
                "deduplication key) as JSON lines: event_id (the key), failed_rules, reason, Kafka coordinates, quarantined_at and the payload");
  cmd->add_option("--rule", o.rule, "Only records that failed this expectation or envelope rule")->type_name("NAME");
  cmd->add_option("-o,--output", o.output, "Write to this file instead of standard output")->type_name("path");
  cmd->add_flag("--all", o.include_closed, "Include closed records too (silver holds their event_id)");
  return cmd;
}

int RunDlqExportCommand(const Settings& settings) {
  const ExportOptions& o = Opts();
  DeadLetterFilter filter;
  filter.rule = o.rule;
  filter.include_closed = o.include_closed;
  auto spec = PipelineOf(settings);
  if (!spec.ok()) {
    std::fprintf(stderr, "lakestream dlq export: %s\n", spec.status().ToString().c_str());
    return 2;
  }
  auto sel = SelectQuarantined(settings.GetString("lake.root"), *spec, filter);
  if (!sel.ok()) {
    std::fprintf(stderr, "lakestream dlq export: %s\n", sel.status().ToString().c_str());
    return 1;
  }
  std::ofstream file;
  if (!o.output.empty()) {
    file.open(o.output, std::ios::binary | std::ios::trunc);
    if (!file) {
      std::fprintf(stderr, "lakestream dlq export: cannot write %s\n", o.output.c_str());
      return 1;
    }
  }
  std::ostream& out = o.output.empty() ? static_cast<std::ostream&>(std::cout) : file;
  for (const auto& r : sel->records) out << QuarantinedRecordJson(r) << '\n';
  out.flush();
  if (!out) {
    std::fprintf(stderr, "lakestream dlq export: write failed%s\n", o.output.empty() ? "" : (" for " + o.output).c_str());
    return 1;
  }
  std::fprintf(stderr, "%zu records exported; left out: %lld closed, %lld superseded\n", sel->records.size(),
               static_cast<long long>(sel->closed_skipped), static_cast<long long>(sel->superseded_skipped));
  return 0;
}

}  // namespace lakestream
