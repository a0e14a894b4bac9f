// BrokerGuard: the embedded broker's front door. librdkafka's mock cluster keeps about 5 MiB per
// partition and silently deletes the oldest message sets beyond that, even ones no consumer has read,
// and it accepts record batches of any size. The guard is a Kafka-protocol proxy in front of each mock
// broker that adds what a real broker's retention and limits give (docs/reliability.md, "Broker
// eviction"):
//  - a Produce holding a record batch larger than `max_message_bytes` (Kafka's message.max.bytes) is
//    refused with MESSAGE_TOO_LARGE, so the producer gets an error instead of a silent eviction;
//  - a Produce that would make the mock evict records that a protected consumer group has not
//    committed yet is held back until the group commits past them (backpressure): a burst while the
//    pipeline is down waits instead of overwriting what the pipeline has not read. A producer held
//    longer than its own delivery timeout fails loudly;
//  - a consumer-group member whose connection closes without a LeaveGroup (its process died) is made
//    to leave at once, so a restarted consumer does not wait for the dead one's session to expire
//    (the mock ignores static membership).
// Clients find the guard through the bootstrap address; it rewrites the broker ports in Metadata and
// FindCoordinator responses, so every connection passes through it. It speaks the versions the mock
// supports (Produce ≤ 7, Metadata ≤ 2, FindCoordinator ≤ 2: non-flexible encodings), per the Kafka
// protocol guide (kafka.apache.org/protocol) and librdkafka 2.0.2's rdkafka_mock*.c.
//
// Threads: one accepting thread per listener and one per client connection. Thread-safe; Stop (or the
// destructor) closes every connection and joins.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"

namespace lakestream {

struct BrokerGuardOptions {
  /// Largest record batch a Produce may carry (bytes); Kafka's default message.max.bytes.
  int64_t max_message_bytes = 1048588;
  /// What the mock keeps per partition (rdkafka_mock.c: max_size 5 MiB, max_cnt 100,000 message sets).
  int64_t partition_retention_bytes = 5LL << 20;
  int64_t partition_retention_batches = 100000;
  /// The first offset of `topic`/`partition` a protected group has not committed, or nullopt when the
  /// topic is not protected. Called from connection threads; must be thread-safe.
  std::function<std::optional<int64_t>(const std::string& topic, int32_t partition)> protected_from;
};

/// What the guard has seen, for tests and logs.
struct BrokerGuardCounters {
  std::atomic<int64_t> produce_requests{0}, refused_too_large{0}, held_for_retention{0}, hold_ms{0};
  std::atomic<int64_t> members_expelled{0};
};

class BrokerGuard {
 public:
  /// Listens on 127.0.0.1 (an ephemeral port) in front of each "host:port" of `upstream`.
  /// Errors: IoError when a socket cannot be opened.
  static Result<std::unique_ptr<BrokerGuard>> Start(const std::vector<std::string>& upstream,
                                                    BrokerGuardOptions options);
  ~BrokerGuard();
  /// "127.0.0.1:PORT[,…]": the guard's listeners, in the order of `upstream`.
  const std::string& bootstrap_servers() const { return bootstrap_; }
  const BrokerGuardCounters& counters() const { return counters_; }
  void Stop();

  struct Partition;  // the message sets the mock keeps, as the guard tracks them
  struct Connection;

 private:
  BrokerGuard() = default;
  void AcceptLoop(size_t listener);
  void Serve(int client_fd, size_t listener);
  /// Decides a Produce request: empty when it may go on; else the reason to refuse (too large) —
  /// `*hold` set when it must wait for the protected group instead.
  std::string CheckProduce(const std::string& frame, bool* hold);
  void OnProduceResponse(const std::string& request, const std::string& response);
  /// Sends LeaveGroup for `member` of `group` to the mock behind `listener`.
  void LeaveGroup(size_t listener, const std::string& group, const std::string& member);

  BrokerGuardOptions options_;
  BrokerGuardCounters counters_;
  std::vector<int> listen_fds_;
  std::vector<int> upstream_ports_, guard_ports_;
  std::vector<std::string> upstream_;
  std::string bootstrap_;
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> acceptors_;
  std::mutex mu_;  // guards partitions_, connections_
  std::map<std::pair<std::string, int32_t>, std::unique_ptr<Partition>> partitions_;
  std::vector<std::thread> connections_;
  std::vector<int> open_fds_;
};

}  // namespace lakestream
