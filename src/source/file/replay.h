// Replay: turns each line of an online-shop CSV into an order-line event and produces it to Kafka,
// keyed by its transaction number, paced by rate or by event time, and held back by backpressure so
// that the broker never has to drop data a consumer has not committed yet.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>

#include "common/status.h"
#include "source/kafka/kafka_client.h"

namespace lakestream {

struct ReplayOptions {
  std::string input;
  std::string source_name;            // "" = the input file's name
  std::optional<double> rate = 0.0;   // events/s; nullopt = max; 0 = pace by speedup
  double speedup = 250000;            // event-time factor, when rate is 0
  std::string timezone = "Europe/London";
  int64_t max_lag_bytes = 2 << 20;    // per partition
  int64_t max_events = 0;             // stop after producing this many (0: the whole file)
};

struct ReplayCounters {
  std::atomic<int64_t> lines_read{0}, produced{0}, skipped_committed{0}, contract_violations{0};
  std::atomic<int64_t> backpressure_ms{0};
  std::atomic<int64_t> event_time_us{0};  // event time of the last produced line
  std::atomic<bool> done{false};
};

/// The source name used in event ids when none is given: the input's file name.
std::string DefaultSourceName(const std::string& input);

class Replay {
 public:
  /// `lag_bytes` returns the largest number of payload bytes any partition holds that the pipeline has
  /// not committed yet; the replay waits while it exceeds options.max_lag_bytes.
  /// `skip_lines`: data lines already committed to bronze (resume after a crash) — not produced again.
  Replay(ReplayOptions options, KafkaProducer* producer, std::function<int64_t()> lag_bytes,
         std::set<int64_t> skip_lines);
  /// Produces the whole file, then flushes. Returns early (OK) when `stop` becomes true.
  /// Errors: the input's (NotFound, InvalidArgument for a bad header, Corruption) or the producer's.
  Status Run(const std::atomic<bool>& stop);
  const ReplayCounters& counters() const { return counters_; }

 private:
  ReplayOptions options_;
  KafkaProducer* producer_;
  std::function<int64_t()> lag_bytes_;
  std::set<int64_t> skip_lines_;
  ReplayCounters counters_;
};

}  // namespace lakestream
