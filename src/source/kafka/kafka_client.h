// Kafka clients on librdkafka's C++ API: an idempotent producer that tracks what was delivered per
// partition, and a consumer-group member whose positions are managed by the engine (stored in Delta
// txn actions, not auto-committed) and which stops on any offset gap.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace RdKafka {
class Conf;
class KafkaConsumer;
class Producer;
}  // namespace RdKafka

namespace lakestream {

/// librdkafka properties (bootstrap.servers, security.protocol, sasl.*, ssl.*, …), passed through
/// unchanged as kcat's and kafka-delta-ingest's -K key=value do.
using KafkaProperties = std::map<std::string, std::string>;

/// Builds an RdKafka::Conf. Errors: InvalidArgument naming the property and librdkafka's reason
/// (e.g. "unknown property", "invalid value"). Values of sasl.password/ssl.key.password are never echoed.
Result<std::unique_ptr<RdKafka::Conf>> MakeKafkaConf(const KafkaProperties& props);

/// One consumed record.
struct KafkaRecord {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp_ms = -1;  // Kafka message timestamp (CreateTime/LogAppendTime), -1 when absent
  std::optional<std::string> key;
  std::string value;
  /// Record headers in order, (name, value bytes); a name may repeat (Kafka KIP-82).
  std::vector<std::pair<std::string, std::string>> headers;
};

using KafkaHeaders = std::vector<std::pair<std::string, std::string>>;

/// Offsets [from_offset, to_offset] of a partition that a consumer needed and the broker no longer
/// has (evicted by the embedded broker, deleted by retention), with how it was found.
struct OffsetGap {
  std::string topic;
  int32_t partition = 0;
  int64_t from_offset = 0, to_offset = 0;  // inclusive
  std::string reason;
};

/// A Kafka producer of any topic — source events, notifications, dead letters, replays: idempotent
/// (enable.idempotence=true, acks=all). Produce() blocks while librdkafka's queue
/// is full. Delivery failures are fatal: the first one is kept and returned by status().
/// Thread-safe for Produce from one thread and counters read from others.
class KafkaProducer {
 public:
  ~KafkaProducer();
  static Result<std::unique_ptr<KafkaProducer>> Create(const KafkaProperties& props, const std::string& topic);
  /// Enqueues one record (partitioned by key with librdkafka's default partitioner).
  Status Produce(const std::string& key, const std::string& value);
  /// Enqueues one record with headers to `topic` (empty: the producer's topic). Errors: IoError.
  Status Produce(const std::string& topic, const std::string& key, const std::string& value,
                 const KafkaHeaders& headers);
  /// Serves delivery reports for up to `timeout_ms`.
  void Poll(int timeout_ms);
  /// Waits until every record is delivered, up to `timeout_ms`. Errors: IoError when some remain.
  Status Flush(int timeout_ms);
  /// First delivery error, or OK.
  Status status() const;
  int64_t delivered() const { return delivered_.load(); }
  /// Payload bytes delivered so far, per partition that received any (a snapshot copy).
  std::map<int32_t, int64_t> DeliveredBytesByPartition() const;
  int64_t in_flight() const;
  /// The producer's default topic.
  const std::string& topic() const;

  struct Impl;

 private:
  KafkaProducer() = default;
  std::unique_ptr<Impl> impl_;
  std::atomic<int64_t> delivered_{0};
};

/// A consumer-group member. Auto-commit and auto offset store are off: on every assignment it asks
/// `start_offset(topic, partition)` where to start (the engine's Delta txn; nullopt = the beginning:
/// offset 0 when `from_offset_zero`, as on the embedded broker whose topics begin at 0, else the
/// broker's oldest offset). auto.offset.reset=error, so a start position that no longer exists is an
/// error, never a silent skip.
class PipelineConsumer {
 public:
  using StartOffsetFn = std::function<std::optional<int64_t>(const std::string&, int32_t)>;
  ~PipelineConsumer();
  static Result<std::unique_ptr<PipelineConsumer>> Create(const KafkaProperties& props, const std::string& topic,
                                                          const std::string& group_id, StartOffsetFn start_offset,
                                                          bool from_offset_zero = false);
  /// Appends up to `max_records` more records to `out`, waiting up to `timeout_ms` for the first. Errors: DataLoss for
  /// an offset gap or an out-of-range position (names topic, partition and offsets; gap() then says
  /// which offsets are gone when they are below the broker's oldest); IoError for a fatal client error.
  Status Poll(int timeout_ms, size_t max_records, std::vector<KafkaRecord>* out);
  /// The offsets the last DataLoss error of Poll found gone, when known.
  std::optional<OffsetGap> gap() const;
  /// Commits `offsets` (next offset to read, per partition) to the group, for lag monitoring only:
  /// the Delta txn is the source of truth. Best effort.
  void CommitAdvisory(const std::map<int32_t, int64_t>& next_offsets);
  /// Per assigned partition: high watermark minus the next offset to read (messages), as last seen.
  std::map<int32_t, int64_t> Lag();
  /// Partitions currently assigned.
  std::vector<int32_t> Assignment();
  /// Called inside Poll when partitions are about to be revoked by a rebalance, before they are given
  /// up: the engine commits what it holds for them, so the next owner starts after it. An error is
  /// returned by that Poll.
  void SetRevokeHandler(std::function<Status(const std::vector<int32_t>& partitions)> handler);
  void Close();
  /// Drops the consumer without closing it: no commit, no LeaveGroup (librdkafka destroys a C++
  /// consumer with RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE). For a broker that is gone — the embedded
  /// broker restarted — where Close would wait for it forever. Offsets live in bronze's txns, so
  /// nothing is lost; the group forgets the member when its session expires.
  void Abandon();

  struct Impl;

 private:
  PipelineConsumer() = default;
  std::unique_ptr<Impl> impl_;
};

/// Lag of a consumer group measured from the outside: per partition, high watermark minus the
/// group's committed offset (messages). Used by `lakestream produce` for backpressure when the
/// pipeline runs in another process. Not thread-safe.
class GroupLagProbe {
 public:
  ~GroupLagProbe();
  static Result<std::unique_ptr<GroupLagProbe>> Create(const KafkaProperties& props, const std::string& topic,
                                                       const std::string& group_id);
  /// Per partition lag in messages; partitions the group never committed count from the low watermark.
  Result<std::map<int32_t, int64_t>> LagMessages();

 private:
  GroupLagProbe() = default;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::string topic_;
  std::vector<int32_t> partitions_;
};

}  // namespace lakestream
