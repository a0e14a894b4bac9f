// NotificationGenerator: realistic WhatsApp-notification traffic for the notifications pipeline
// (docs/pipelines/notifications.md, "Generator"): many customers with Zipf-skewed volumes (a few
// large, a long tail), mostly WhatsApp plus other channels, a daily curve, some redelivered
// duplicates (same message_id) and some late events. Deterministic for a seed.
//
// Produces JSON events keyed by customer_id, paced to a target rate and held back by backpressure so
// that the broker never drops what the pipeline has not committed. Runs on the calling thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "common/status.h"
#include "source/kafka/kafka_client.h"

namespace lakestream {

struct NotificationGeneratorOptions {
  std::optional<double> rate = 1157.0;  // events/s on average over the day; nullopt = as fast as possible
  int64_t limit = 0;                    // stop after this many events (0: until stopped)
  uint64_t seed = 1;
  int customers = 5000;
  double duplicate_ratio = 0.005;       // events that are a redelivery of a recent message
  double late_ratio = 0.003;            // events 30 s to 8 min late (within a 10 min watermark)
  double very_late_ratio = 0.0003;      // events 12 to 36 hours late (usually after their day is final)
  /// Event time: nullopt = the wall clock (live); else a simulated clock from this instant (UTC µs)
  /// on which `events_per_day` events fill one day along the daily curve.
  std::optional<int64_t> start_us;
  int64_t events_per_day = 100000000;
  int64_t max_lag_bytes = 2 << 20;      // per partition
};

struct NotificationGeneratorCounters {
  std::atomic<int64_t> produced{0}, duplicates{0}, late{0}, very_late{0}, backpressure_ms{0};
  std::atomic<int64_t> event_time_us{0};  // event time of the last event
  std::atomic<bool> done{false};
};

/// The generator's customers: id (customer #0 is "7494212", Acme, the example) and name.
struct GeneratedCustomer {
  std::string id, name;
};

class NotificationGenerator {
 public:
  /// `lag_bytes`: the largest number of payload bytes any partition holds uncommitted; the generator
  /// waits while it exceeds options.max_lag_bytes.
  NotificationGenerator(NotificationGeneratorOptions options, KafkaProducer* producer,
                        std::function<int64_t()> lag_bytes);
  /// Produces until `limit` or `stop`, then flushes. Errors: the producer's.
  Status Run(const std::atomic<bool>& stop);
  const NotificationGeneratorCounters& counters() const { return counters_; }
  /// The customer of rank `i` (0-based, by volume).
  static GeneratedCustomer Customer(int i);

 private:
  NotificationGeneratorOptions options_;
  KafkaProducer* producer_;
  std::function<int64_t()> lag_bytes_;
  NotificationGeneratorCounters counters_;
};

}  // namespace lakestream
