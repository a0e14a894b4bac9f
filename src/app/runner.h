// The commands that run the system: `run` (embedded broker + replay + pipeline in one process),
// `broker`, `produce` and `ingest` (the same parts run separately, as a deployment does).
// Each returns the process exit code: 0 on success, 1 on a runtime error (printed), 2 on bad settings.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "config/settings.h"
#include "pipeline/pipeline_spec.h"
#include "source/kafka/kafka_client.h"

namespace lakestream {

/// Set by SIGINT/SIGTERM: every command shuts down cleanly when it becomes true.
std::atomic<bool>& StopRequested();
/// Installs the SIGINT/SIGTERM handlers that set StopRequested().
void InstallStopSignalHandlers();

/// The one pipeline pipeline.file names (the built-in orders pipeline when it is empty), found as `run`
/// finds it (beside the binary when not in the working directory). Errors: NotFound, the file's
/// problems with their lines, InvalidArgument for a list of several files.
Result<PipelineSpec> PipelineOf(const Settings& settings);

int RunMain(const Settings& settings, const KafkaProperties& kafka_props);
int RunBroker(const Settings& settings);
int RunProduce(const Settings& settings, const KafkaProperties& kafka_props);
int RunIngest(const Settings& settings, const KafkaProperties& kafka_props);
/// `lakestream rebuild TABLE`: recomputes a derived table of the pipeline (pipeline.file) from its source
/// (MedallionPipeline::Rebuild), holding the writer lease, so no `ingest` may run meanwhile. `table`
/// is a path under the lake root ("gold/sales_daily") or its SQL name ("gold.sales_daily"). Exit code
/// 0, 1 on an error (printed), 2 when the table is not one of the pipeline's derived tables.
int RunRebuild(const Settings& settings, const std::string& table);
/// `lakestream serve`: the dashboard and API over an existing lakehouse (no pipeline), until Ctrl-C.
int RunServe(const Settings& settings);

/// What `lakestream dlq replay` re-injects (docs/pipelines/orders.md, "Dead letters and replay").
struct DlqReplayOptions {
  std::string rule;            // only records that failed this rule ("" = all)
  std::string input;           // a `dlq export` file (edited) instead of the quarantine table
  bool include_closed = false; // also records whose event_id silver holds already
  bool dry_run = false;        // list what would be replayed, produce nothing
};
/// Produces the selected quarantined records' payloads to the source topic (kafka.topic) with
/// lakestream.replay.* lineage headers, paced by the consumer group's lag.
int RunDlqReplay(const Settings& settings, const KafkaProperties& kafka_props, const DlqReplayOptions& options);

/// `lakestream bench` (docs/benchmarks.md).
struct BenchOptions {
  int64_t events = 1000000;      // synthetic events for the full-speed and raw phases
  int64_t steady_rate = 1160;    // events/s of the freshness phase (1,160/s ≈ 100 million a day)
  int64_t steady_events = 30000; // events of the freshness phase (0: skip it)
  std::string dir;               // work directory ("" = a new one under the temp directory)
  bool keep = false;             // keep the lakehouses written
  bool skip_raw = false;         // skip the raw consume phase
};
/// Runs the phases and prints a Markdown table: throughput, raw ceiling and ratio, freshness p50/p99,
/// peak RSS, each against its target. Exit code 0, or 1 on an error (printed).
int RunBench(const Settings& settings, const KafkaProperties& kafka_props, const BenchOptions& options);

}  // namespace lakestream
