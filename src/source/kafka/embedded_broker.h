// EmbeddedBroker: a Kafka-protocol broker inside this process — librdkafka's mock cluster — so that
// `lakestream run` needs no server. Any Kafka client (kcat, confluent-kafka) can connect to its
// bootstrap address while the process lives.
//
// Limits (librdkafka rdkafka_mock.c): a partition keeps about 5 MiB (and at most 100,000 message
// sets); older data is deleted, so producers must be paced to consumer lag. Topics live and die with
// the process. Thread-safe after construction; destroy after every client using it has closed.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"

namespace lakestream {

class EmbeddedBroker {
 public:
  ~EmbeddedBroker();
  /// Starts `num_brokers` mock brokers on 127.0.0.1 (ephemeral ports) and creates `topic` with
  /// `partitions` partitions. Errors: Internal when librdkafka cannot start the cluster.
  static Result<std::unique_ptr<EmbeddedBroker>> Start(const std::string& topic, int partitions,
                                                       int num_brokers = 1);
  /// Creates another topic. Errors: InvalidArgument.
  Status CreateTopic(const std::string& topic, int partitions);
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
  void* rk_ = nullptr;        // rd_kafka_t hosting the cluster
  void* mcluster_ = nullptr;  // rd_kafka_mock_cluster_t
  std::string bootstrap_;
  std::string epoch_;
};

/// Reads a broker file written by WriteBrokerFile. Errors: NotFound, InvalidArgument.
Status ReadBrokerFile(const std::string& path, std::string* bootstrap, std::string* epoch);

}  // namespace lakestream
