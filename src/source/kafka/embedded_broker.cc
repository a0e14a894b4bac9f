#include "source/kafka/embedded_broker.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/ids.h"

namespace lakestream {

EmbeddedBroker::~EmbeddedBroker() {
  if (mcluster_ != nullptr) rd_kafka_mock_cluster_destroy(static_cast<rd_kafka_mock_cluster_t*>(mcluster_));
  if (rk_ != nullptr) rd_kafka_destroy(static_cast<rd_kafka_t*>(rk_));
}

Result<std::unique_ptr<EmbeddedBroker>> EmbeddedBroker::Start(const std::string& topic, int partitions,
                                                             int num_brokers) {
  std::unique_ptr<EmbeddedBroker> b(new EmbeddedBroker());
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (rk == nullptr) return Internal("cannot create the librdkafka handle hosting the embedded broker: {}", err);
  b->rk_ = rk;
  rd_kafka_mock_cluster_t* mc = rd_kafka_mock_cluster_new(rk, num_brokers);
  if (mc == nullptr) return Internal("librdkafka could not start the embedded (mock) broker");
  b->mcluster_ = mc;
  b->bootstrap_ = rd_kafka_mock_cluster_bootstraps(mc);
  b->epoch_ = RandomUuid();
  RETURN_IF_ERROR(b->CreateTopic(topic, partitions));
  return b;
}

Status EmbeddedBroker::CreateTopic(const std::string& topic, int partitions) {
  if (partitions < 1) return InvalidArgument("topic {} needs at least 1 partition, got {}", topic, partitions);
  rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(static_cast<rd_kafka_mock_cluster_t*>(mcluster_),
                                                     topic.c_str(), partitions, 1);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return InvalidArgument("cannot create topic {} on the embedded broker: {}", topic, rd_kafka_err2str(e));
  }
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
