// EmbeddedBroker: a Kafka-protocol broker inside this process — librdkafka's mock cluster — so that
// `lakestream run` needs no server. Any Kafka client (kcat, confluent-kafka) can connect to its
// bootstrap address while the process lives.
//
// Limits (librdkafka rdkafka_mock.c): a partition keeps about 5 MiB (and at most 100,000 message
// sets) and deletes older data beyond that; topics live and die with the process: a local tool, not a
// durable log (docs/reliability.md, "The embedded broker"). Clients reach it through a BrokerGuard
// (broker_guard.h), which refuses record batches over message.max.bytes and holds back produces that
// would delete records a protected consumer group (Protect) has not committed. Thread-safe after
// construction; destroy after every client using it has closed.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "common/status.h"

namespace lakestream {

class BrokerGuard;
struct BrokerGuardCounters;

class EmbeddedBroker {
 public:
  ~EmbeddedBroker();
  /// Starts `num_brokers` mock brokers on 127.0.0.1 (ephemeral ports) and creates `topic` with
  /// `partitions` partitions. Errors: Internal when librdkafka cannot start the cluster.
  /// `guard` false leaves the mock's own behaviour (silent deletion beyond 5 MiB) in place: for tests
  /// of how consumers handle lost offsets.
  static Result<std::unique_ptr<EmbeddedBroker>> Start(const std::string& topic, int partitions,
                                                       int num_brokers = 1, bool guard = true);
  /// Creates another topic. Errors: InvalidArgument.
  Status CreateTopic(const std::string& topic, int partitions);
  /// Protects `topic` for consumer group `group_id` (the pipeline that reads it): a produce that would
  /// make the broker delete records the group has not committed waits until it has (until then, the
  /// group's partitions without a committed offset are protected from offset 0).
  void Protect(const std::string& topic, const std::string& group_id);
  /// The guard's counters (null without a guard).
  const struct BrokerGuardCounters* guard_counters() const;
  /// "127.0.0.1:PORT[,…]" for bootstrap.servers.
  const std::string& bootstrap_servers() const { return bootstrap_; }
  /// A random id for this broker's lifetime: offsets restart at 0 in every new embedded broker, so
  /// stream positions stored in Delta txns are scoped to it (docs/exactly-once.md).
  const std::string& epoch() const { return epoch_; }

  /// Writes "bootstrap.servers=…\nsource.epoch=…\n" to `path` (atomically) so that other processes
  /// can find the broker.
  Status WriteBrokerFile(const std::string& path) const;

 private:
  EmbeddedBroker() = default;
  /// The first offset of `topic`/`partition` its protecting group has not committed; nullopt when the
  /// topic is not protected. Refreshed at most every 200 ms.
  std::optional<int64_t> ProtectedFrom(const std::string& topic, int32_t partition);

  void* rk_ = nullptr;        // rd_kafka_t hosting the cluster
  void* mcluster_ = nullptr;  // rd_kafka_mock_cluster_t
  std::string mock_bootstrap_;  // the mock's own listeners (the guard's upstream)
  std::string bootstrap_;       // what clients use: the guard's listeners (or the mock's without one)
  std::string epoch_;
  std::mutex mu_;
  std::map<std::string, int> partitions_;                // topic -> partitions
  std::map<std::string, std::string> protected_;         // topic -> consumer group
  std::map<std::string, void*> offset_readers_;          // group -> rd_kafka_t (consumer, never subscribes)
  struct Committed {
    int64_t read_ms = 0;
    std::map<int32_t, int64_t> next;  // partition -> committed offset (-1: none)
  };
  std::map<std::string, Committed> committed_;  // by topic
  std::unique_ptr<BrokerGuard> guard_;          // declared last: stops first
};

/// Reads a broker file written by WriteBrokerFile. Errors: NotFound, InvalidArgument.
Status ReadBrokerFile(const std::string& path, std::string* bootstrap, std::string* epoch);

}  // namespace lakestream
