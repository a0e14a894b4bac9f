// lakestream's command line: argv/env -> settings -> library. Nothing else lives here.
#include <fstream>
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "app/dlq_command.h"
#include "app/pipeline_command.h"
#include "app/report_command.h"
#include "app/job_command.h"
#include "app/sql_command.h"
#include "app/table_command.h"
#include "config/settings.h"
#include "lake/storage/azure_blob_storage.h"
#include "app/runner.h"

using namespace lakestream;

namespace {

bool Applies(const SettingDef& d, const std::string& command) {
  std::string cmds = d.commands;
  if (cmds == "all") return true;
  size_t pos = 0;
  while (pos < cmds.size()) {
    size_t comma = cmds.find(',', pos);
    std::string c = cmds.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    while (!c.empty() && c.front() == ' ') c.erase(0, 1);
    if (c == command) return true;
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return false;
}

struct CommandOptions {
  std::map<std::string, std::string> values;  // setting name -> value given on the command line
  std::map<std::string, bool> flags;          // boolean settings given as flags
  std::vector<std::string> kafka_props;
};

void AddSettings(CLI::App* app, const std::string& command, CommandOptions* opts) {
  for (const auto& d : AllSettings()) {
    if (!Applies(d, command)) continue;
    // `sql` and `table` have options of their own (--lakehouse, --log-level none): only azure.* here.
    if ((command == "sql" || command == "table") && std::string(d.name).rfind("azure.", 0) != 0) continue;
    std::string help = std::string(d.description) + " [env " + d.EnvVar() + "]";
    if (*d.default_value) help += std::string(" [default ") + d.default_value + "]";
    if (d.type == SettingType::kBool) {
      app->add_flag(d.flag, opts->flags[d.name], help);
    } else {
      // --lake is delta-rs's and the issue tracker's word for the lakehouse root.
      const std::string names = std::string(d.name) == "lake.root" ? std::string(d.flag) + ",--lake" : d.flag;
      app->add_option(names, opts->values[d.name], help)->type_name(*d.unit ? d.unit : "VALUE");
    }
  }
  if (command != "broker" && command != "dlq-export" && command != "serve" && command != "sql" && command != "table" &&
      command != "rebuild") {
    app->add_option("-K,--kafka-property", opts->kafka_props,
                    "librdkafka property key=value, passed through unchanged (repeatable), e.g. "
                    "-K security.protocol=SASL_SSL -K sasl.mechanism=PLAIN");
  }
}

// The Azure store's options: the AZURE_STORAGE_* variables, overlaid by the azure.* settings given.
// Secrets come from files so they stay out of argv; their content is never printed.
bool ApplyAzureSettings(const Settings& s) {
  AzureOptions o = AzureOptionsFromEnvironment();
  auto secret = [&](const char* setting, std::string* out) {
    if (!s.IsSet(setting)) return true;
    const std::string path = s.GetString(setting);
    std::ifstream in(path);
    std::string value((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    while (!value.empty() && std::isspace(static_cast<unsigned char>(value.back()))) value.pop_back();
    if (!in.good() && !in.eof()) {
      std::fprintf(stderr, "lakestream: cannot read --%s file %s: give a readable file\n", setting, path.c_str());
      return false;
    }
    if (value.empty()) {
      std::fprintf(stderr, "lakestream: the %s file %s is empty or unreadable: put the secret in it\n", setting,
                   path.c_str());
      return false;
    }
    *out = value;
    return true;
  };
  if (s.IsSet("azure.account_name")) o.account_name = s.GetString("azure.account_name");
  if (s.IsSet("azure.endpoint")) o.endpoint = s.GetString("azure.endpoint");
  if (s.GetBool("azure.use_emulator")) o.use_emulator = true;
  if (s.IsSet("azure.cache_dir")) o.cache_dir = s.GetString("azure.cache_dir");
  o.cache_max_bytes = s.GetInt("azure.cache_max_bytes");
  o.block_size_bytes = s.GetInt("azure.block_size_bytes");
  o.upload_concurrency = static_cast<int>(s.GetInt("azure.upload_concurrency"));
  o.retry_budget_ms = s.GetInt("azure.retry_budget_ms");
  if (!secret("azure.account_key_file", &o.account_key) || !secret("azure.sas_token_file", &o.sas_token) ||
      !secret("azure.bearer_token_file", &o.bearer_token)) {
    return false;
  }
  SetAzureOptions(o);
  return true;
}

bool Resolve(const CommandOptions& opts, Settings* settings, KafkaProperties* props) {
  for (const auto& [name, value] : opts.values) {
    if (!value.empty()) settings->Set(name, value);
  }
  for (const auto& [name, on] : opts.flags) {
    if (on) settings->Set(name, "true");
  }
  if (Status st = settings->Validate(); !st.ok()) {
    std::fprintf(stderr, "lakestream: %s\n", st.message().c_str());
    return false;
  }
  for (const auto& kv : opts.kafka_props) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::fprintf(stderr, "lakestream: -K '%s' is not key=value; write e.g. -K security.protocol=SASL_SSL\n",
                   kv.c_str());
      return false;
    }
    (*props)[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  std::string level = settings->GetString("log.level");
  auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off") {
    std::fprintf(stderr, "lakestream: invalid --log-level '%s': use trace, debug, info, warn or error\n",
                 level.c_str());
    return false;
  }
  spdlog::set_level(lvl);
  return ApplyAzureSettings(*settings);
}

}  // namespace

int main(int argc, char** argv) {
  auto logger = spdlog::stderr_color_mt("lakestream");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  CLI::App app{"lakestream: real-time Kafka -> Delta Lake medallion pipelines (bronze, silver, gold)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "lakestream 0.1.0");

  CommandOptions run_opts, broker_opts, produce_opts, ingest_opts;
  auto* run = app.add_subcommand(
      "run", "The main job: embedded Kafka broker, replay of the bundled Online Retail data (or the "
             "built-in generator of a generated pipeline, --pipeline pipelines/notifications.toml), and the "
             "bronze/silver/gold pipeline, in one process");
  AddSettings(run, "run", &run_opts);
  auto* broker = app.add_subcommand("broker", "Run the embedded Kafka-protocol broker alone, until Ctrl-C");
  AddSettings(broker, "broker", &broker_opts);
  auto* produce = app.add_subcommand("produce", "Produce to Kafka alone: replay a CSV as order-line events, or run a generated pipeline's generator (--pipeline)");
  AddSettings(produce, "produce", &produce_opts);
  auto* ingest = app.add_subcommand("ingest", "Consume order-line events from Kafka into the Delta tables (the pipeline alone)");
  AddSettings(ingest, "ingest", &ingest_opts);
  CommandOptions serve_opts;
  auto* serve = app.add_subcommand(
      "serve", "Serve the dashboard, JSON API and /metrics over an existing lakehouse (no pipeline), until Ctrl-C");
  AddSettings(serve, "serve", &serve_opts);
  auto* table = AddTableCommand(app);
  auto* sql = AddSqlCommand(app);
  CommandOptions table_opts, sql_opts;
  AddSettings(table, "table", &table_opts);
  // `table URI describe --azure-endpoint …`: each sub-command passes options it does not know up.
  for (CLI::App* sub : table->get_subcommands([](CLI::App*) { return true; })) sub->fallthrough();
  AddSettings(sql, "sql", &sql_opts);
  auto* pipeline_cmd = AddPipelineCommand(app);
  auto* report = AddReportCommand(app);
  auto* job = AddJobCommand(app);
  auto* dlq = app.add_subcommand("dlq", "Dead letters: export or replay the records silver quarantined");
  dlq->require_subcommand(1);
  CommandOptions replay_opts, export_opts;
  DlqReplayOptions replay_args;
  auto* dlq_replay = dlq->add_subcommand(
      "replay", "Re-inject open quarantined records into the source topic once they are fixed (by a rule change, "
                "or edited with --input); silver keeps each event_id once, so repeating a replay is safe");
  AddSettings(dlq_replay, "dlq-replay", &replay_opts);
  dlq_replay->add_option("--rule", replay_args.rule, "Only records that failed this rule")->type_name("NAME");
  dlq_replay->add_option("--input", replay_args.input,
                         "Replay the records of this file (`lakestream dlq export` lines, payloads edited) instead "
                         "of the quarantine table")
      ->type_name("path");
  dlq_replay->add_flag("--all", replay_args.include_closed,
                       "Also replay closed records (silver holds their event_id already)");
  dlq_replay->add_flag("--dry-run", replay_args.dry_run, "Print the records that would be replayed; produce nothing");
  auto* dlq_export = AddDlqExportCommand(*dlq);
  AddSettings(dlq_export, "dlq-export", &export_opts);
  CommandOptions rebuild_opts;
  std::string rebuild_table;
  auto* rebuild = app.add_subcommand(
      "rebuild", "Recompute a derived table from its source: a gold table from silver, or silver and quarantine from "
                 "every bronze version (then gold). For a table restored or edited by hand, or after a rule change; "
                 "stop `ingest` first (the writer lease refuses a second writer). docs/pipelines/README.md");
  AddSettings(rebuild, "rebuild", &rebuild_opts);
  rebuild->add_option("table", rebuild_table, "The table: gold/sales_daily (or gold.sales_daily), silver/orders, …")
      ->required();
  CommandOptions bench_opts;
  BenchOptions bench_args;
  auto* bench = app.add_subcommand(
      "bench", "Benchmark (docs/benchmarks.md): end-to-end throughput, freshness p50/p99 and peak RSS of the orders "
               "pipeline on the embedded broker, against a bare consumer's raw ceiling");
  AddSettings(bench, "bench", &bench_opts);
  bench->add_option("--events", bench_args.events, "Synthetic events for the full-speed and raw phases [default 1000000]")
      ->type_name("N")
      ->check(CLI::Range(int64_t{1000}, int64_t{1000000000}));
  bench->add_option("--steady-rate", bench_args.steady_rate,
                    "Events/s of the freshness phase [default 1160, about 100 million a day]")
      ->type_name("events/s")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  bench->add_option("--steady-events", bench_args.steady_events, "Events of the freshness phase, 0 skips it [default 30000]")
      ->type_name("N")
      ->check(CLI::Range(int64_t{0}, int64_t{1000000000}));
  bench->add_option("--dir", bench_args.dir, "Work directory, new or empty [default: a new one under /tmp]")->type_name("path");
  bench->add_flag("--keep", bench_args.keep, "Keep the lakehouses written (under --dir)");
  bench->add_flag("--skip-raw", bench_args.skip_raw, "Skip the raw consume phase");
  auto* config = app.add_subcommand("config", "Settings");
  config->require_subcommand(1);
  auto* config_docs = config->add_subcommand("docs", "Print CONFIGURATION.md, generated from the settings table");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    if (code != 0) std::fprintf(stderr, "Run 'lakestream --help' or 'lakestream COMMAND --help' for the options.\n");
    return code == 0 ? 0 : 2;
  }

  if (config_docs->parsed()) {
    std::fputs(GenerateConfigurationMarkdown().c_str(), stdout);
    return 0;
  }
  Settings settings = Settings::FromEnvironment();
  KafkaProperties props;
  InstallStopSignalHandlers();
  try {
    // Commands with options of their own still honour the azure.* settings' environment twins
    // (LAKESTREAM_AZURE_ENDPOINT, …) as `run` does.
    if (table->parsed() || sql->parsed() || report->parsed() || job->parsed() || pipeline_cmd->parsed()) {
      for (const auto* opts : {&table_opts, &sql_opts}) {
        for (const auto& [name, value] : opts->values) {
          if (!value.empty()) settings.Set(name, value);
        }
        for (const auto& [name, on] : opts->flags) {
          if (on) settings.Set(name, "true");
        }
      }
      if (Status st = settings.Validate(); !st.ok()) {
        std::fprintf(stderr, "lakestream: %s\n", st.message().c_str());
        return 2;
      }
      if (!ApplyAzureSettings(settings)) return 2;
    }
    if (table->parsed()) return RunTableCommand();
    if (sql->parsed()) return RunSqlCommand();
    if (pipeline_cmd->parsed()) return RunPipelineCommand();
    if (report->parsed()) return RunReportCommand();
    if (job->parsed()) return RunJobCommand();
    if (run->parsed()) return Resolve(run_opts, &settings, &props) ? RunMain(settings, props) : 2;
    if (broker->parsed()) return Resolve(broker_opts, &settings, &props) ? RunBroker(settings) : 2;
    if (produce->parsed()) return Resolve(produce_opts, &settings, &props) ? RunProduce(settings, props) : 2;
    if (ingest->parsed()) return Resolve(ingest_opts, &settings, &props) ? RunIngest(settings, props) : 2;
    if (serve->parsed()) return Resolve(serve_opts, &settings, &props) ? RunServe(settings) : 2;
    if (bench->parsed()) return Resolve(bench_opts, &settings, &props) ? RunBench(settings, props, bench_args) : 2;
    if (dlq_replay->parsed()) {
      return Resolve(replay_opts, &settings, &props) ? RunDlqReplay(settings, props, replay_args) : 2;
    }
    if (dlq_export->parsed()) {
      return Resolve(export_opts, &settings, &props) ? RunDlqExportCommand(settings) : 2;
    }
    if (rebuild->parsed()) return Resolve(rebuild_opts, &settings, &props) ? RunRebuild(settings, rebuild_table) : 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lakestream: internal error: %s\n", e.what());
    return 1;
  }
  return 2;
}
