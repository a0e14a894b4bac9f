// Parts shared by the commands in runner.cc and bench.cc: settings → options, the consume/commit
// loop, the progress printer and the summary. Internal to src/pipeline; not a public interface.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/time.h"
#include "config/settings.h"
#include "pipeline/medallion_pipeline.h"
#include "pipeline/pipeline_spec.h"
#include "source/file/replay.h"
#include "serve/http_server.h"
#include "serve/lake_queries.h"
#include "serve/pipeline_monitor.h"
#include "source/kafka/kafka_client.h"

namespace lakestream::internal {

/// 1234567 -> "1,234,567".
std::string Thousands(int64_t v);
/// The embedded broker's address file: kafka.broker_file, or <lake.root>/_broker.
std::string BrokerFile(const Settings& s);
/// Prints "lakestream: error: …" to stderr; returns exit code 1.
int Fail(const Status& st);
/// The pipeline files named by pipeline.file, a comma-separated list (the built-in orders pipeline when
/// empty). With several: kafka.topic and kafka.group_id must be unset, and the pipelines' names,
/// topics, consumer groups and table locations must differ (docs/pipelines/README.md, "Several
/// pipelines in one process"). pipeline.dlq_topic needs the orders pipeline among them.
/// Errors: InvalidArgument naming the flag or the two files; the files' own.
Result<std::vector<PipelineSpec>> LoadSpecs(const Settings& s);
/// LoadSpecs for the commands that run one pipeline. Errors: InvalidArgument when several are given.
Result<PipelineSpec> LoadSpec(const Settings& s);
/// kafka.topic, or the pipeline's [source] topic when unset.
std::string TopicOf(const Settings& s, const PipelineSpec& spec);
/// pipeline.dlq_topic, or the pipeline's [source] dead_letter_topic when unset ("": none).
std::string DeadLetterTopicOf(const Settings& s, const PipelineSpec& spec);
/// kafka.group_id, or the pipeline's [source] group_id when unset.
std::string GroupOf(const Settings& s, const PipelineSpec& spec);
/// A pipeline's options from the settings and its spec. Errors: none today (a Result for the checks
/// to come).
Result<MedallionPipelineOptions> PipelineOptionsFrom(const Settings& s, PipelineSpec spec, const std::string& epoch);
/// replay.input as found (config/bundled_files.h: from the working directory, else beside the binary).
/// Errors: NotFound naming the flag, the places looked at and a bundled example.
Result<std::string> ReplayInputOf(const Settings& s);
/// The replay's options; replay.input as ReplayInputOf finds it, generator.limit as max_events.
ReplayOptions ReplayOptionsFrom(const Settings& s);

/// Backpressure for an in-process replay: the largest number of payload bytes any partition has had
/// delivered by `producer` but not yet committed to bronze by `pipeline`.
int64_t UncommittedBytes(const KafkaProducer& producer, const StreamingPipeline& pipeline);

/// The pipeline with its dead-letter producer (when pipeline.dlq_topic is set).
struct OpenedPipeline {
  std::unique_ptr<KafkaProducer> dlq;  // declared first: destroyed after the pipeline that uses it
  std::unique_ptr<MedallionPipeline> pipeline;
};
/// Opens the pipeline `spec` declares (MedallionPipeline); `command` ("run", "ingest") is named in its writer lease. Errors: the producer's and the pipeline's
/// Open (Conflict when another process holds the writer lease).
Result<OpenedPipeline> OpenPipeline(const Settings& s, const KafkaProperties& props, const std::string& epoch,
                                    const PipelineSpec& spec, const std::string& command);
/// Sends the pipeline's quarantined records to `dlq` too (replacing any producer before).
void AttachDeadLetterProducer(OpenedPipeline& opened, std::unique_ptr<KafkaProducer> dlq);

/// The consume → commit loop shared by `run`, `ingest` and `bench`: micro-batches of
/// pipeline.commit_interval_ms or pipeline.max_batch_bytes, committed by StreamingPipeline::ProcessBatch;
/// `on_commit` (optional) sees each batch once bronze and silver hold it, with the time
/// ProcessBatch took (ms; gold refreshes included when one was due). Returns when
/// `should_finish()` says the work is done or `interrupt()` (optional) asks to stop this consumer,
/// when stop is requested (each after committing what it holds), or on an error (the pipeline's or
/// the consumer's). Offsets the broker no longer has (PipelineConsumer::gap) are recorded in bronze
/// after the records before them are committed, and returned as DataLoss.
Status IngestLoop(const Settings& s, StreamingPipeline& pipeline, PipelineConsumer& consumer,
                  const std::function<bool()>& should_finish,
                  const std::function<void(const std::vector<KafkaRecord>&, int64_t)>& on_commit = nullptr,
                  const std::function<bool()>& interrupt = nullptr);

/// Prints the tables and counters after a run; `produced` < 0 leaves the produced count out; `named`
/// puts the pipeline's name in the title (a process running several).
void PrintSummary(StreamingPipeline& pipeline, double elapsed_s, int64_t produced, bool named = false);

/// Prints `line(elapsed seconds)` to stderr every `interval_ms` on its own thread until Stop().
class ProgressPrinter {
 public:
  ProgressPrinter(int64_t interval_ms, std::function<std::string(double)> line)
      : interval_ms_(interval_ms), line_(std::move(line)), start_ms_(MonotonicMillis()) {
    thread_ = std::thread([this] {
      while (!done_.load()) {
        for (int64_t waited = 0; waited < interval_ms_ && !done_.load(); waited += 50) {
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        if (done_.load()) break;
        std::fprintf(stderr, "%s\n", line_((MonotonicMillis() - start_ms_) / 1000.0).c_str());
      }
    });
  }
  ~ProgressPrinter() { Stop(); }
  void Stop() {
    done_ = true;
    if (thread_.joinable()) thread_.join();
  }
  double elapsed_s() const { return (MonotonicMillis() - start_ms_) / 1000.0; }

 private:
  int64_t interval_ms_;
  std::function<std::string(double)> line_;
  int64_t start_ms_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

}  // namespace lakestream::internal
