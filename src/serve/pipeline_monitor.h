// PipelineMonitor: what a running pipeline is doing now — state, throughput per layer, consumer lag,
// freshness, commit durations and the live pulse of orders — for the HTTP API, the SSE stream and
// /metrics (docs/api.md).
//
// Lifecycle: created by the command that runs a pipeline (`run`, `ingest`) before the consume loop,
// fed by that loop (OnBatch, SetLag, SetState), sampled once a second by the HTTP server (Sample),
// and destroyed after the server stops. Threads: OnBatch/SetLag/SetState from the loop thread;
// Sample and the *Json readers from server threads; all members are guarded.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "pipeline/streaming_pipeline.h"
#include "serve/metrics.h"
#include "source/kafka/kafka_client.h"

namespace lakestream {

struct PipelineInfo {
  std::string name = "orders";    // the pipeline's name in the API and in metric labels
  std::string command;            // "run" or "ingest"
  std::string topic, group_id;
  std::string lake_root;
};

/// Percentiles of the freshness of the records committed in the last window_s seconds.
struct FreshnessSummary {
  int64_t samples = 0;
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
};

class PipelineMonitor {
 public:
  /// `pipeline` must outlive the monitor; `registry` receives the lakestream_* metric families.
  /// `produced` (optional) reads the in-process replay's produced count (for `run`).
  PipelineMonitor(PipelineInfo info, const StreamingPipeline& pipeline, metrics::Registry& registry,
                  std::function<int64_t()> produced = nullptr);

  /// "starting", "running", "idle", "stopping", "stopped" or "failed"; `detail` explains a failure.
  void SetState(const std::string& state, const std::string& detail = "");
  /// One micro-batch made visible in bronze and silver: `records` as consumed, `commit_ms` the time
  /// ProcessBatch took (ms). Freshness of each record = now − its Kafka timestamp (ms).
  void OnBatch(const std::vector<KafkaRecord>& records, int64_t commit_ms);
  /// Consumer lag per assigned partition (messages), as last seen by the consumer.
  void SetLag(const std::map<int32_t, int64_t>& lag_messages);

  /// Called once a second: turns the pipeline's cumulative counters into rates and metric updates,
  /// and appends one point to the history (kept for history_points seconds).
  void Sample();

  /// {"name","command","state","detail","topic","group_id","started_at","uptime_s","counters":{…},
  ///  "rates":{"consumed_per_s","bronze_per_s","silver_per_s","quarantine_per_s"},"lag":{"total","partitions":{…}},
  ///  "freshness_ms":{"p50","p99","max","samples","window_s"},"commit_ms":{"p50","p99"},
  ///  "keys_per_minute" (distinct record keys in the last minute;
  ///  also as its former name "orders_per_minute"),"expectations":[{"name","action","failed"}],"tables":{name: version}}
  std::string StatusJson() const;
  /// StatusJson plus "history": one point per second {"t" (epoch ms), "consumed","bronze","silver",
  /// "quarantine" (rows/s), "lag", "freshness_p50_ms", "freshness_p99_ms", "keys_per_minute", "orders_per_minute" (the same)}.
  std::string StatusWithHistoryJson() const;

  FreshnessSummary Freshness() const;
  std::string state() const {
    std::lock_guard<std::mutex> lock(mu_);
    return state_;
  }
  const PipelineInfo& info() const { return info_; }

  static constexpr int kWindowSeconds = 60;
  static constexpr size_t kHistoryPoints = 600;

 private:
  struct Point {
    int64_t t_ms;
    double consumed, bronze, silver, quarantine;
    int64_t lag;
    double p50, p99;
    int64_t keys_per_minute;  // distinct record keys committed in the minute before
  };
  void WriteStatus(class JsonWriter& w, bool with_history) const;
  int64_t KeysLastMinuteLocked(int64_t now_ms) const;

  PipelineInfo info_;
  const StreamingPipeline& pipeline_;
  std::function<int64_t()> produced_;
  int64_t started_at_us_;

  mutable std::mutex mu_;
  std::string state_ = "starting", detail_;
  int64_t consumed_ = 0, consumed_bytes_ = 0;
  std::map<int32_t, int64_t> lag_;
  std::deque<std::pair<int64_t, int32_t>> freshness_;  // (commit time ms, freshness ms), last kWindowSeconds
  std::deque<std::pair<int64_t, int64_t>> commits_;    // (commit time ms, duration ms), last kWindowSeconds
  std::deque<std::pair<int64_t, int64_t>> keys_;       // (commit time ms, distinct record keys in the batch)
  std::deque<Point> history_;
  // Last sampled cumulative values, for rates and counter deltas.
  int64_t last_sample_ms_ = 0, last_consumed_ = 0, last_bronze_ = 0, last_silver_ = 0, last_quarantine_ = 0;
  int64_t last_dropped_dupes_ = 0, last_dropped_rules_ = 0;
  std::map<std::string, int64_t> last_failed_;
  double rate_consumed_ = 0, rate_bronze_ = 0, rate_silver_ = 0, rate_quarantine_ = 0;

  // Metric series (owned by the registry).
  metrics::Counter *consumed_total_, *consumed_bytes_total_, *bronze_in_, *bronze_out_, *silver_in_, *silver_out_,
      *quarantine_out_, *gold_in_, *dropped_dupes_, *dropped_rules_, *batches_total_;
  metrics::Histogram *commit_seconds_, *freshness_seconds_;
  metrics::Family<metrics::Gauge>* lag_family_;
  metrics::Family<metrics::Gauge>* table_version_family_;
  metrics::Family<metrics::Counter>* quarantined_family_;
  metrics::Family<metrics::Counter>* expectation_family_;
  metrics::Gauge* up_;
  metrics::Registry& registry_;
};

}  // namespace lakestream
