#include "source/kafka/embedded_broker.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/ids.h"
#include "common/time.h"
#include "source/kafka/broker_guard.h"

namespace lakestream {

EmbeddedBroker::~EmbeddedBroker() {
  guard_.reset();
  for (auto& [group, rk] : offset_readers_) {
    rd_kafka_consumer_close(static_cast<rd_kafka_t*>(rk));
    rd_kafka_destroy(static_cast<rd_kafka_t*>(rk));
  }
  if (mcluster_ != nullptr) rd_kafka_mock_cluster_destroy(static_cast<rd_kafka_mock_cluster_t*>(mcluster_));
  if (rk_ != nullptr) rd_kafka_destroy(static_cast<rd_kafka_t*>(rk_));
}

Result<std::unique_ptr<EmbeddedBroker>> EmbeddedBroker::Start(const std::string& topic, int partitions,
                                                             int num_brokers, bool guard) {
  std::unique_ptr<EmbeddedBroker> b(new EmbeddedBroker());
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
  // LAKESTREAM_BROKER_DEBUG=mock (librdkafka's debug contexts) logs what the mock cluster does.
  if (const char* debug = std::getenv("LAKESTREAM_BROKER_DEBUG"); debug && *debug) {
    rd_kafka_conf_set(conf, "debug", debug, err, sizeof err);
    rd_kafka_conf_set(conf, "log_level", "7", err, sizeof err);
  }
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (rk == nullptr) return Internal("cannot create the librdkafka handle hosting the embedded broker: {}", err);
  b->rk_ = rk;
  rd_kafka_mock_cluster_t* mc = rd_kafka_mock_cluster_new(rk, num_brokers);
  if (mc == nullptr) return Internal("librdkafka could not start the embedded (mock) broker");
  b->mcluster_ = mc;
  b->mock_bootstrap_ = rd_kafka_mock_cluster_bootstraps(mc);
  b->bootstrap_ = b->mock_bootstrap_;
  b->epoch_ = RandomUuid();
  RETURN_IF_ERROR(b->CreateTopic(topic, partitions));
  if (guard) {
    std::vector<std::string> upstream;
    for (size_t pos = 0; pos <= b->mock_bootstrap_.size();) {
      const size_t comma = std::min(b->mock_bootstrap_.find(',', pos), b->mock_bootstrap_.size());
      upstream.push_back(b->mock_bootstrap_.substr(pos, comma - pos));
      pos = comma + 1;
    }
    BrokerGuardOptions o;
    EmbeddedBroker* self = b.get();
    o.protected_from = [self](const std::string& t, int32_t p) { return self->ProtectedFrom(t, p); };
    ASSIGN_OR_RETURN(b->guard_, BrokerGuard::Start(upstream, std::move(o)));
    b->bootstrap_ = b->guard_->bootstrap_servers();
  }
  return b;
}

const BrokerGuardCounters* EmbeddedBroker::guard_counters() const {
  return guard_ ? &guard_->counters() : nullptr;
}

void EmbeddedBroker::Protect(const std::string& topic, const std::string& group_id) {
  std::lock_guard<std::mutex> lock(mu_);
  protected_[topic] = group_id;
  if (offset_readers_.count(group_id)) return;
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", mock_bootstrap_.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "group.id", group_id.c_str(), err, sizeof err);
  rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (rk != nullptr) offset_readers_[group_id] = rk;
}

std::optional<int64_t> EmbeddedBroker::ProtectedFrom(const std::string& topic, int32_t partition) {
  std::lock_guard<std::mutex> lock(mu_);
  auto group = protected_.find(topic);
  if (group == protected_.end()) return std::nullopt;
  auto reader = offset_readers_.find(group->second);
  if (reader == offset_readers_.end()) return 0;
  Committed& c = committed_[topic];
  if (MonotonicMillis() - c.read_ms >= 200) {
    const int n = partitions_.count(topic) ? partitions_[topic] : 0;
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(n);
    for (int p = 0; p < n; ++p) rd_kafka_topic_partition_list_add(list, topic.c_str(), p);
    if (rd_kafka_committed(static_cast<rd_kafka_t*>(reader->second), list, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      for (int i = 0; i < list->cnt; ++i) c.next[list->elems[i].partition] = list->elems[i].offset;
      c.read_ms = MonotonicMillis();
    }
    rd_kafka_topic_partition_list_destroy(list);
  }
  auto it = c.next.find(partition);
  return it == c.next.end() || it->second < 0 ? 0 : it->second;
}

Status EmbeddedBroker::CreateTopic(const std::string& topic, int partitions) {
  if (partitions < 1) return InvalidArgument("topic {} needs at least 1 partition, got {}", topic, partitions);
  rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(static_cast<rd_kafka_mock_cluster_t*>(mcluster_),
                                                     topic.c_str(), partitions, 1);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return InvalidArgument("cannot create topic {} on the embedded broker: {}", topic, rd_kafka_err2str(e));
  }
  std::lock_guard<std::mutex> lock(mu_);
  partitions_[topic] = partitions;
  return Status::OK();
}

Status EmbeddedBroker::WriteBrokerFile(const std::string& path) const {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    if (!f) return IoError("cannot write broker file {}", tmp);
    f << "bootstrap.servers=" << bootstrap_ << "\nsource.epoch=" << epoch_ << "\n";
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) return IoError("cannot write broker file {}: {}", path, ec.message());
  return Status::OK();
}

Status ReadBrokerFile(const std::string& path, std::string* bootstrap, std::string* epoch) {
  std::ifstream f(path);
  if (!f) return NotFound("broker file {} does not exist; start `lakestream broker` first", path);
  std::string line;
  while (std::getline(f, line)) {
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string k = line.substr(0, eq), v = line.substr(eq + 1);
    if (k == "bootstrap.servers") *bootstrap = v;
    if (k == "source.epoch") *epoch = v;
  }
  if (bootstrap->empty()) return InvalidArgument("broker file {} has no bootstrap.servers line", path);
  return Status::OK();
}

}  // namespace lakestream
