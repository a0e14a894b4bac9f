#include "source/kafka/broker_guard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/time.h"

namespace lakestream {

namespace {

// Kafka API keys and error codes (kafka.apache.org/protocol, "Api Keys" and "Error Codes").
constexpr int16_t kProduce = 0, kMetadata = 3, kFindCoordinator = 10, kJoinGroup = 11, kLeaveGroup = 13;
constexpr int16_t kMessageTooLarge = 10, kNotEnoughReplicas = 19;
// Record batch v2: the record count field's offset (kafka.apache.org/documentation, "Record Batch").
constexpr size_t kBatchRecordCountOffset = 57;

// Big-endian reads over a frame; a read past the end sets `bad` and returns 0.
struct Reader {
  const std::string& s;
  size_t pos = 0;
  bool bad = false;
  bool Need(size_t n) {
    if (pos + n > s.size()) bad = true;
    return !bad;
  }
  int16_t I16() {
    if (!Need(2)) return 0;
    uint16_t v;
    std::memcpy(&v, s.data() + pos, 2);
    pos += 2;
    return static_cast<int16_t>(ntohs(v));
  }
  int32_t I32() {
    if (!Need(4)) return 0;
    uint32_t v;
    std::memcpy(&v, s.data() + pos, 4);
    pos += 4;
    return static_cast<int32_t>(ntohl(v));
  }
  int64_t I64() {
    const uint64_t hi = static_cast<uint32_t>(I32()), lo = static_cast<uint32_t>(I32());
    return static_cast<int64_t>((hi << 32) | lo);
  }
  std::string String() {  // nullable: "" for null
    const int16_t n = I16();
    if (n < 0 || !Need(static_cast<size_t>(n))) return "";
    std::string out = s.substr(pos, static_cast<size_t>(n));
    pos += static_cast<size_t>(n);
    return out;
  }
  // Skips nullable bytes; returns [offset, length) of the content (length -1 for null).
  std::pair<size_t, int32_t> Bytes() {
    const int32_t n = I32();
    const size_t at = pos;
    if (n > 0 && Need(static_cast<size_t>(n))) pos += static_cast<size_t>(n);
    return {at, n};
  }
};

void PutI16(std::string* out, int16_t v) {
  const uint16_t b = htons(static_cast<uint16_t>(v));
  out->append(reinterpret_cast<const char*>(&b), 2);
}
void PutI32(std::string* out, int32_t v) {
  const uint32_t b = htonl(static_cast<uint32_t>(v));
  out->append(reinterpret_cast<const char*>(&b), 4);
}
void PutI64(std::string* out, int64_t v) {
  PutI32(out, static_cast<int32_t>(static_cast<uint64_t>(v) >> 32));
  PutI32(out, static_cast<int32_t>(static_cast<uint64_t>(v) & 0xffffffffu));
}
void PutString(std::string* out, const std::string& s) {
  PutI16(out, static_cast<int16_t>(s.size()));
  out->append(s);
}
void PatchI32(std::string* s, size_t at, int32_t v) {
  const uint32_t b = htonl(static_cast<uint32_t>(v));
  std::memcpy(s->data() + at, &b, 4);
}

// One partition's data in a Produce request.
struct ProducePart {
  std::string topic;
  int32_t partition = 0;
  int64_t bytes = 0;          // the records field: one message set for the mock
  int64_t records = 0;        // record count of its first batch (what the mock counts)
  int64_t largest_batch = 0;  // bytes of its largest record batch
};

struct ProduceRequest {
  int16_t version = 0, acks = 0;
  int32_t correlation_id = 0;
  std::vector<ProducePart> parts;
};

// Parses a Produce request frame (v0-v7; without its size prefix). False when malformed.
bool ParseProduce(const std::string& frame, ProduceRequest* out) {
  Reader r{frame};
  r.I16();  // api key
  out->version = r.I16();
  out->correlation_id = r.I32();
  r.String();  // client id
  if (out->version >= 3) r.String();  // transactional id
  out->acks = r.I16();
  r.I32();  // timeout
  const int32_t topics = r.I32();
  for (int32_t t = 0; t < topics && !r.bad; ++t) {
    const std::string topic = r.String();
    const int32_t partitions = r.I32();
    for (int32_t p = 0; p < partitions && !r.bad; ++p) {
      ProducePart part;
      part.topic = topic;
      part.partition = r.I32();
      const auto [at, len] = r.Bytes();
      if (len > 0) {
        part.bytes = len;
        // Record batches: baseOffset (8) batchLength (4) …; each batch is 12 + batchLength bytes.
        for (size_t b = at; b + 12 <= at + static_cast<size_t>(len);) {
          Reader br{frame, b + 8};
          const int64_t size = 12 + static_cast<int64_t>(br.I32());
          if (size < 12) break;
          part.largest_batch = std::max(part.largest_batch, size);
          if (b == at && b + kBatchRecordCountOffset + 4 <= frame.size()) {
            Reader cr{frame, b + kBatchRecordCountOffset};
            part.records = cr.I32();
          }
          b += static_cast<size_t>(size);
        }
      }
      out->parts.push_back(std::move(part));
    }
  }
  return !r.bad;
}

// A Produce response (v0-v7) answering `req` with `error_of(part)` for each partition.
std::string ProduceErrorResponse(const ProduceRequest& req, const std::function<int16_t(const ProducePart&)>& error_of) {
  std::string body;
  PutI32(&body, req.correlation_id);
  std::vector<std::pair<std::string, std::vector<const ProducePart*>>> topics;
  for (const auto& p : req.parts) {
    if (topics.empty() || topics.back().first != p.topic) topics.push_back({p.topic, {}});
    topics.back().second.push_back(&p);
  }
  PutI32(&body, static_cast<int32_t>(topics.size()));
  for (const auto& [topic, parts] : topics) {
    PutString(&body, topic);
    PutI32(&body, static_cast<int32_t>(parts.size()));
    for (const ProducePart* p : parts) {
      PutI32(&body, p->partition);
      PutI16(&body, error_of(*p));
      PutI64(&body, -1);                       // base offset
      if (req.version >= 2) PutI64(&body, -1);  // log append time
      if (req.version >= 5) PutI64(&body, -1);  // log start offset
    }
  }
  if (req.version >= 1) PutI32(&body, 0);  // throttle time
  std::string frame;
  PutI32(&frame, static_cast<int32_t>(body.size()));
  return frame + body;
}

int ListenLoopback(int* port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 64) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    return -1;
  }
  *port = ntohs(a.sin_port);
  return fd;
}

int ConnectTo(const std::string& host_port) {
  const size_t colon = host_port.rfind(':');
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(std::stoi(host_port.substr(colon + 1))));
  if (inet_pton(AF_INET, host_port.substr(0, colon).c_str(), &a.sin_addr) != 1) return -1;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

bool WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// Takes the complete frames (size prefix included) off the front of `buffer`.
std::vector<std::string> TakeFrames(std::string* buffer) {
  std::vector<std::string> frames;
  size_t pos = 0;
  while (buffer->size() - pos >= 4) {
    uint32_t n;
    std::memcpy(&n, buffer->data() + pos, 4);
    const size_t size = ntohl(n);
    if (buffer->size() - pos - 4 < size) break;
    frames.push_back(buffer->substr(pos, 4 + size));
    pos += 4 + size;
  }
  buffer->erase(0, pos);
  return frames;
}

}  // namespace

struct BrokerGuard::Partition {
  struct MessageSet {
    int64_t first = 0, last = 0, bytes = 0;
  };
  std::deque<MessageSet> kept;  // oldest first
  int64_t kept_bytes = 0;
  int64_t in_flight_bytes = 0, in_flight_sets = 0;  // forwarded, not yet answered
};

Result<std::unique_ptr<BrokerGuard>> BrokerGuard::Start(const std::vector<std::string>& upstream,
                                                        BrokerGuardOptions options) {
  std::unique_ptr<BrokerGuard> g(new BrokerGuard());
  g->options_ = std::move(options);
  g->upstream_ = upstream;
  for (const auto& u : upstream) {
    int port = 0;
    const int fd = ListenLoopback(&port);
    if (fd < 0) return IoError("embedded broker: cannot listen on 127.0.0.1: {}", std::strerror(errno));
    g->listen_fds_.push_back(fd);
    g->guard_ports_.push_back(port);
    g->upstream_ports_.push_back(std::stoi(u.substr(u.rfind(':') + 1)));
    g->bootstrap_ += (g->bootstrap_.empty() ? "" : ",") + fmt::format("127.0.0.1:{}", port);
  }
  for (size_t i = 0; i < g->listen_fds_.size(); ++i) {
    g->acceptors_.emplace_back([p = g.get(), i] { p->AcceptLoop(i); });
  }
  return g;
}

BrokerGuard::~BrokerGuard() { Stop(); }

void BrokerGuard::Stop() {
  if (stopping_.exchange(true)) return;
  for (auto& t : acceptors_) t.join();
  std::vector<std::thread> connections;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    connections.swap(connections_);
  }
  for (auto& t : connections) t.join();
  for (int fd : listen_fds_) ::close(fd);
}

void BrokerGuard::AcceptLoop(size_t listener) {
  while (!stopping_.load()) {
    pollfd p{listen_fds_[listener], POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const int fd = ::accept4(listen_fds_[listener], nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::lock_guard<std::mutex> lock(mu_);
    open_fds_.push_back(fd);
    connections_.emplace_back([this, fd, listener] { Serve(fd, listener); });
  }
}

std::string BrokerGuard::CheckProduce(const std::string& frame, bool* hold) {
  *hold = false;
  ProduceRequest req;
  if (!ParseProduce(frame.substr(4), &req)) return "";  // the mock answers malformed requests itself
  for (const auto& p : req.parts) {
    if (p.largest_batch > options_.max_message_bytes) {
      return fmt::format("a record batch of {} bytes for {}[{}] is larger than the embedded broker's "
                         "message.max.bytes ({} bytes)", p.largest_batch, p.topic, p.partition,
                         options_.max_message_bytes);
    }
  }
  for (const auto& p : req.parts) {
    if (!options_.protected_from) break;
    const std::optional<int64_t> from = options_.protected_from(p.topic, p.partition);
    if (!from) continue;
    std::lock_guard<std::mutex> lock(mu_);
    auto& part = partitions_[{p.topic, p.partition}];
    if (!part) part = std::make_unique<Partition>();
    // The mock's rule (rdkafka_mock.c, rd_kafka_mock_msgset_new): after counting the new set, delete
    // the oldest while more than one set is kept and the count or the bytes exceed the limits.
    int64_t count = static_cast<int64_t>(part->kept.size()) + part->in_flight_sets + 1;
    int64_t bytes = part->kept_bytes + part->in_flight_bytes + p.bytes;
    size_t next = 0;
    while (count > 1 && (count > options_.partition_retention_batches || bytes > options_.partition_retention_bytes)) {
      if (next >= part->kept.size() || part->kept[next].last >= *from) {
        *hold = true;  // it would delete a set the group has not committed
        break;
      }
      bytes -= part->kept[next].bytes;
      --count;
      ++next;
    }
    if (*hold) break;
  }
  return "";
}

void BrokerGuard::OnProduceResponse(const std::string& request, const std::string& response) {
  ProduceRequest req;
  if (!ParseProduce(request.substr(4), &req)) return;
  std::map<std::pair<std::string, int32_t>, std::pair<int16_t, int64_t>> result;  // error, base offset
  Reader r{response, 4};
  r.I32();  // correlation id
  const int32_t topics = r.I32();
  for (int32_t t = 0; t < topics && !r.bad; ++t) {
    const std::string topic = r.String();
    const int32_t partitions = r.I32();
    for (int32_t i = 0; i < partitions && !r.bad; ++i) {
      const int32_t partition = r.I32();
      const int16_t error = r.I16();
      const int64_t base = r.I64();
      if (req.version >= 2) r.I64();
      if (req.version >= 5) r.I64();
      result[{topic, partition}] = {error, base};
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& p : req.parts) {
    auto& part = partitions_[{p.topic, p.partition}];
    if (!part) part = std::make_unique<Partition>();
    part->in_flight_bytes = std::max<int64_t>(0, part->in_flight_bytes - p.bytes);
    part->in_flight_sets = std::max<int64_t>(0, part->in_flight_sets - 1);
    auto it = result.find({p.topic, p.partition});
    if (it == result.end() || it->second.first != 0 || it->second.second < 0 || p.records <= 0) continue;
    part->kept.push_back({it->second.second, it->second.second + p.records - 1, p.bytes});
    part->kept_bytes += p.bytes;
    // Mirror the mock's deletions.
    while (part->kept.size() > 1 &&
           (static_cast<int64_t>(part->kept.size()) > options_.partition_retention_batches ||
            part->kept_bytes > options_.partition_retention_bytes)) {
      part->kept_bytes -= part->kept.front().bytes;
      part->kept.pop_front();
    }
  }
}

void BrokerGuard::LeaveGroup(size_t listener, const std::string& group, const std::string& member) {
  const int fd = ConnectTo(upstream_[listener]);
  if (fd < 0) return;
  // LeaveGroup v1 (kafka.apache.org/protocol): header (api key, version, correlation id, client id),
  // then group id and member id; the answer is throttle time and error code.
  std::string body;
  PutI16(&body, kLeaveGroup);
  PutI16(&body, 1);
  PutI32(&body, 1);
  PutString(&body, "lakestream-broker-guard");
  PutString(&body, group);
  PutString(&body, member);
  std::string frame;
  PutI32(&frame, static_cast<int32_t>(body.size()));
  if (WriteAll(fd, frame + body)) {
    pollfd p{fd, POLLIN, 0};
    char buf[64];
    if (::poll(&p, 1, 2000) > 0) (void)::recv(fd, buf, sizeof buf, 0);
    counters_.members_expelled++;
    spdlog::info("embedded broker: consumer-group member {} of {} disconnected without leaving: removed from the "
                 "group so that its partitions move at once", member, group);
  }
  ::close(fd);
}

void BrokerGuard::Serve(int client, size_t listener) {
  const int upstream = ConnectTo(upstream_[listener]);
  struct InFlight {
    int16_t api_key = 0, version = 0;
    std::string produce;  // the Produce request frame, to account its message sets
    std::string group;    // a JoinGroup's group id
  };
  // The consumer-group member this connection joined as (JoinGroup answered), until it leaves.
  std::string member_group, member_id;
  std::string from_client, from_upstream;
  std::deque<std::string> queued;           // client requests not forwarded yet, in order
  std::map<int32_t, InFlight> in_flight;    // by correlation id
  int64_t hold_started_ms = 0;
  char buf[1 << 16];
  bool open = upstream >= 0;
  if (!open) spdlog::warn("embedded broker: cannot reach {} for a client connection", upstream_[listener]);
  auto patch_port = [this](std::string* f, size_t at) {
    Reader pr{*f, at};
    const int32_t port = pr.I32();
    for (size_t i = 0; i < upstream_ports_.size() && !pr.bad; ++i) {
      if (port == upstream_ports_[i]) PatchI32(f, at, guard_ports_[i]);
    }
  };
  while (open && !stopping_.load()) {
    // Forward what may go, in order; a held or refused Produce stops the queue behind it.
    while (!queued.empty()) {
      const std::string& frame = queued.front();
      Reader h{frame, 4};
      const int16_t api_key = h.I16();
      const int16_t version = h.I16();
      const int32_t correlation_id = h.I32();
      InFlight entry{api_key, version, {}};
      if (api_key == kProduce) {
        bool hold = false;
        const std::string refuse = CheckProduce(frame, &hold);
        if (!refuse.empty()) {
          if (!in_flight.empty()) break;  // answer in order: after the responses already due
          ProduceRequest req;
          ParseProduce(frame.substr(4), &req);
          counters_.refused_too_large++;
          spdlog::warn("embedded broker: refused a produce (MESSAGE_TOO_LARGE): {}", refuse);
          if (req.acks != 0) {
            open = WriteAll(client, ProduceErrorResponse(req, [this](const ProducePart& p) {
                              return p.largest_batch > options_.max_message_bytes ? kMessageTooLarge
                                                                                  : kNotEnoughReplicas;
                            }));
          }
          queued.pop_front();
          continue;
        }
        if (hold) {
          if (hold_started_ms == 0) {
            hold_started_ms = MonotonicMillis();
            counters_.held_for_retention++;
            spdlog::warn("embedded broker: holding a produce: appending it would delete records the pipeline's "
                         "consumer group has not committed yet (a partition keeps about {} MiB); the producer "
                         "waits until the pipeline catches up", options_.partition_retention_bytes >> 20);
          }
          break;
        }
        if (hold_started_ms != 0) {
          const int64_t held = MonotonicMillis() - hold_started_ms;
          counters_.hold_ms += held;
          spdlog::info("embedded broker: released a produce held for {} ms", held);
          hold_started_ms = 0;
        }
        ProduceRequest req;
        if (ParseProduce(frame.substr(4), &req)) {
          std::lock_guard<std::mutex> lock(mu_);
          for (const auto& p : req.parts) {
            auto& part = partitions_[{p.topic, p.partition}];
            if (!part) part = std::make_unique<Partition>();
            part->in_flight_bytes += p.bytes;
            part->in_flight_sets++;
          }
          counters_.produce_requests++;
          entry.produce = frame;
          if (req.acks == 0) OnProduceResponse(frame, std::string());  // no answer comes: release now
        }
        if (req.acks != 0) in_flight[correlation_id] = std::move(entry);
      } else {
        if (api_key == kJoinGroup || api_key == kLeaveGroup) {
          Reader g{frame, 12};
          g.String();  // client id
          entry.group = g.String();
          if (api_key == kLeaveGroup && entry.group == member_group) member_id.clear();
        }
        in_flight[correlation_id] = std::move(entry);
      }
      open = WriteAll(upstream, frame);
      queued.pop_front();
      if (!open) break;
    }
    pollfd fds[2] = {{client, POLLIN, 0}, {upstream, POLLIN, 0}};
    if (::poll(fds, 2, 100) < 0 && errno != EINTR) break;
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      const ssize_t n = ::recv(client, buf, sizeof buf, 0);
      if (n <= 0) break;
      from_client.append(buf, static_cast<size_t>(n));
      for (auto& f : TakeFrames(&from_client)) queued.push_back(std::move(f));
    }
    if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      const ssize_t n = ::recv(upstream, buf, sizeof buf, 0);
      if (n <= 0) break;
      from_upstream.append(buf, static_cast<size_t>(n));
      for (auto& f : TakeFrames(&from_upstream)) {
        Reader r{f, 4};
        const int32_t correlation_id = r.I32();
        auto it = in_flight.find(correlation_id);
        if (it != in_flight.end()) {
          const InFlight& req = it->second;
          if (req.api_key == kProduce) {
            OnProduceResponse(req.produce, f);
          } else if (req.api_key == kMetadata && req.version <= 2) {
            // Brokers first: [node_id, host, port, (v1+) rack]. Ports rewritten in place (same size).
            Reader m{f, 8};
            const int32_t brokers = m.I32();
            for (int32_t b = 0; b < brokers && !m.bad; ++b) {
              m.I32();
              m.String();
              if (m.Need(4)) patch_port(&f, m.pos);
              m.I32();
              if (req.version >= 1) m.String();
            }
          } else if (req.api_key == kJoinGroup && req.version <= 5) {
            // v2+: throttle; error, generation, protocol name, leader, member id, … (non-flexible).
            Reader j{f, 8};
            if (req.version >= 2) j.I32();
            const int16_t error = j.I16();
            j.I32();
            j.String();
            j.String();
            const std::string id = j.String();
            if (error == 0 && !j.bad && !id.empty()) {
              member_group = req.group;
              member_id = id;
            }
          } else if (req.api_key == kFindCoordinator && req.version <= 2) {
            // v0: error, node_id, host, port; v1-v2: throttle, error, error_message, node_id, host, port.
            Reader m{f, 8};
            if (req.version >= 1) m.I32();
            m.I16();
            if (req.version >= 1) m.String();
            m.I32();
            m.String();
            if (m.Need(4)) patch_port(&f, m.pos);
          }
          in_flight.erase(it);
        }
        if (!WriteAll(client, f)) {
          open = false;
          break;
        }
      }
    }
  }
  // Produce requests never answered: their message sets were not appended as far as the guard knows.
  for (const auto& [id, req] : in_flight) {
    if (req.api_key == kProduce) OnProduceResponse(req.produce, std::string());
  }
  ::close(client);
  // A member whose connection closed without leaving died (a crash, SIGKILL): it leaves the group now,
  // so its successor does not wait for its session to expire (the mock ignores static membership).
  if (!member_id.empty() && !stopping_.load()) LeaveGroup(listener, member_group, member_id);
  if (upstream >= 0) ::close(upstream);
  std::lock_guard<std::mutex> lock(mu_);
  open_fds_.erase(std::remove(open_fds_.begin(), open_fds_.end(), client), open_fds_.end());
}

}  // namespace lakestream
