// A complete order-service producer for lakestream's order-line event (docs/events/order-events.md).
//
//   order_producer BOOTSTRAP_SERVERS [TOPIC]
//
// Publishes one order line as JSON, keyed by its transaction number, with an idempotent producer, and
// waits for the broker's acknowledgement. Build: part of the lakestream CMake build
// (target order_producer_example); it needs only librdkafka's C++ API.
#include <librdkafka/rdkafkacpp.h>

#include <cstdio>
#include <memory>
#include <string>

namespace {

class DeliveryReport : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& m) override {
    if (m.err() != RdKafka::ERR_NO_ERROR) {
      std::fprintf(stderr, "delivery failed: %s\n", m.errstr().c_str());
      failed = true;
    } else {
      std::printf("delivered to %s[%d] at offset %lld\n", m.topic_name().c_str(), m.partition(),
                  static_cast<long long>(m.offset()));
    }
  }
  bool failed = false;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s BOOTSTRAP_SERVERS [TOPIC]\n", argv[0]);
    return 2;
  }
  const std::string topic = argc > 2 ? argv[2] : "orders";
  std::string err;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  DeliveryReport dr;
  // Idempotence: retries never duplicate or reorder a partition's records (acks=all is implied).
  if (conf->set("bootstrap.servers", argv[1], err) != RdKafka::Conf::CONF_OK ||
      conf->set("enable.idempotence", "true", err) != RdKafka::Conf::CONF_OK ||
      conf->set("dr_cb", &dr, err) != RdKafka::Conf::CONF_OK) {
    std::fprintf(stderr, "config: %s\n", err.c_str());
    return 1;
  }
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), err));
  if (!producer) {
    std::fprintf(stderr, "producer: %s\n", err.c_str());
    return 1;
  }
  // The event: envelope (event_type, schema_version, event_id, event_time) + the model's fields.
  // event_id must be stable for this order line: derive it from the order service's own ids
  // (here: a UUID the service stored with the line), never generate a new one on retry.
  const std::string key = "581482";  // TransactionNo: all lines of an order land in one partition, in order
  const std::string value =
      R"({"event_type":"order_line","schema_version":1,)"
      R"("event_id":"2f1c6d1e-8a61-4c56-9a0e-0f3e7b9d1a42","event_time":"2019-12-09T10:15:00Z",)"
      R"("source":{"name":"order-service"},)"
      R"("TransactionNo":"581482","Date":"12/9/2019","ProductNo":"22485",)"
      R"("ProductName":"Set Of 2 Wooden Market Crates","Price":21.47,"Quantity":12,)"
      R"("CustomerNo":"17490","Country":"United Kingdom"})";
  RdKafka::ErrorCode e = producer->produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                                           const_cast<char*>(value.data()), value.size(), key.data(), key.size(), 0,
                                           nullptr);
  if (e != RdKafka::ERR_NO_ERROR) {
    std::fprintf(stderr, "produce: %s\n", RdKafka::err2str(e).c_str());
    return 1;
  }
  if (producer->flush(10000) != RdKafka::ERR_NO_ERROR || dr.failed) {
    std::fprintf(stderr, "not delivered within 10 s\n");
    return 1;
  }
  return 0;
}
