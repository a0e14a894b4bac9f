#include "source/kafka/kafka_client.h"

#include <librdkafka/rdkafkacpp.h>
#include <spdlog/spdlog.h>

#include <set>

namespace lakestream {

namespace {
bool IsSecret(const std::string& key) {
  return key.find("password") != std::string::npos || key.find("secret") != std::string::npos ||
         key.find("sasl.jaas") != std::string::npos || key.find("token") != std::string::npos;
}
}  // namespace

Result<std::unique_ptr<RdKafka::Conf>> MakeKafkaConf(const KafkaProperties& props) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  for (const auto& [k, v] : props) {
    if (conf->set(k, v, err) != RdKafka::Conf::CONF_OK) {
      return InvalidArgument("Kafka property {}={}: {} (see librdkafka CONFIGURATION.md)", k,
                             IsSecret(k) ? "<redacted>" : v, err);
    }
  }
  return conf;
}

// ---------------------------------------------------------------------------------------------
// Producer

struct KafkaProducer::Impl : public RdKafka::DeliveryReportCb {
  std::unique_ptr<RdKafka::Producer> producer;
  std::string topic;
  KafkaProducer* owner = nullptr;
  mutable std::mutex mu;
  Status first_error;
  std::map<int32_t, int64_t> delivered_bytes;

  void dr_cb(RdKafka::Message& m) override {
    std::lock_guard<std::mutex> lock(mu);
    if (m.err() != RdKafka::ERR_NO_ERROR) {
      if (first_error.ok()) {
        first_error = IoError("delivery to {} failed: {}", topic, m.errstr());
      }
      return;
    }
    delivered_bytes[m.partition()] += static_cast<int64_t>(m.len());
    owner->delivered_.fetch_add(1);
  }
};

KafkaProducer::~KafkaProducer() {
  if (impl_ && impl_->producer) impl_->producer->flush(10000);
}

Result<std::unique_ptr<KafkaProducer>> KafkaProducer::Create(const KafkaProperties& props, const std::string& topic) {
  KafkaProperties p = props;
  p.emplace("enable.idempotence", "true");
  p.emplace("acks", "all");
  p.emplace("linger.ms", "5");
  p.emplace("compression.type", "lz4");
  ASSIGN_OR_RETURN(auto conf, MakeKafkaConf(p));
  std::unique_ptr<KafkaProducer> out(new KafkaProducer());
  out->impl_ = std::make_unique<Impl>();
  out->impl_->owner = out.get();
  out->impl_->topic = topic;
  std::string err;
  conf->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(out->impl_.get()), err);
  out->impl_->producer.reset(RdKafka::Producer::create(conf.get(), err));
  if (!out->impl_->producer) return InvalidArgument("cannot create Kafka producer: {}", err);
  return out;
}

Status KafkaProducer::Produce(const std::string& key, const std::string& value) {
  return Produce("", key, value, {});
}

Status KafkaProducer::Produce(const std::string& topic, const std::string& key, const std::string& value,
                              const KafkaHeaders& headers) {
  const std::string& target = topic.empty() ? impl_->topic : topic;
  for (;;) {
    // librdkafka takes ownership of the headers only when produce() succeeds.
    RdKafka::Headers* h = nullptr;
    if (!headers.empty()) {
      h = RdKafka::Headers::create();
      for (const auto& [name, v] : headers) h->add(name, v.data(), v.size());
    }
    RdKafka::ErrorCode e = impl_->producer->produce(
        target, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(value.data()),
        value.size(), key.data(), key.size(), 0, h, nullptr);
    if (e == RdKafka::ERR_NO_ERROR) return status();
    delete h;
    if (e == RdKafka::ERR__QUEUE_FULL) {
      impl_->producer->poll(50);
      continue;
    }
    return IoError("produce to {} failed: {}", target, RdKafka::err2str(e));
  }
}

void KafkaProducer::Poll(int timeout_ms) { impl_->producer->poll(timeout_ms); }

Status KafkaProducer::Flush(int timeout_ms) {
  RdKafka::ErrorCode e = impl_->producer->flush(timeout_ms);
  RETURN_IF_ERROR(status());
  if (e != RdKafka::ERR_NO_ERROR) {
    return IoError("{} records to {} were not delivered within {} ms", impl_->producer->outq_len(), impl_->topic,
                   timeout_ms);
  }
  return Status::OK();
}

Status KafkaProducer::status() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->first_error;
}

std::map<int32_t, int64_t> KafkaProducer::DeliveredBytesByPartition() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->delivered_bytes;
}

int64_t KafkaProducer::in_flight() const { return impl_->producer->outq_len(); }

const std::string& KafkaProducer::topic() const { return impl_->topic; }

// ---------------------------------------------------------------------------------------------
// Consumer

struct PipelineConsumer::Impl : public RdKafka::RebalanceCb {
  std::unique_ptr<RdKafka::KafkaConsumer> consumer;
  std::string topic;
  StartOffsetFn start_offset;
  bool from_offset_zero = false;
  std::map<int32_t, int64_t> next_expected;  // -1 = unknown (started at the beginning)
  std::optional<OffsetGap> gap;
  Status rebalance_error;
  std::function<Status(const std::vector<int32_t>&)> on_revoke;

  void rebalance_cb(RdKafka::KafkaConsumer* c, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& parts) override {
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      for (auto* tp : parts) {
        std::optional<int64_t> start = start_offset(tp->topic(), tp->partition());
        if (!start && from_offset_zero) start = 0;  // the embedded broker's topics begin at 0: check that
        tp->set_offset(start ? *start : RdKafka::Topic::OFFSET_BEGINNING);
        next_expected[tp->partition()] = start ? *start : -1;
        spdlog::info("assigned {}[{}], starting at {}", tp->topic(), tp->partition(),
                     start ? std::to_string(*start) : std::string("the beginning"));
      }
      c->assign(parts);
    } else {
      std::vector<int32_t> revoked;
      for (auto* tp : parts) revoked.push_back(tp->partition());
      if (on_revoke && rebalance_error.ok()) {
        Status st = on_revoke(revoked);
        if (!st.ok()) rebalance_error = st.WithContext("committing before a rebalance gave partitions up");
      }
      for (auto* tp : parts) next_expected.erase(tp->partition());
      c->unassign();
    }
  }
};

PipelineConsumer::~PipelineConsumer() { Close(); }

Result<std::unique_ptr<PipelineConsumer>> PipelineConsumer::Create(const KafkaProperties& props,
                                                                   const std::string& topic,
                                                                   const std::string& group_id,
                                                                   StartOffsetFn start_offset, bool from_offset_zero) {
  KafkaProperties p = props;
  p["group.id"] = group_id;
  p["enable.auto.commit"] = "false";
  p["enable.auto.offset.store"] = "false";
  p["auto.offset.reset"] = "error";
  p.emplace("fetch.wait.max.ms", "50");
  p.emplace("partition.assignment.strategy", "range");
  ASSIGN_OR_RETURN(auto conf, MakeKafkaConf(p));
  std::unique_ptr<PipelineConsumer> out(new PipelineConsumer());
  out->impl_ = std::make_unique<Impl>();
  out->impl_->topic = topic;
  out->impl_->start_offset = std::move(start_offset);
  out->impl_->from_offset_zero = from_offset_zero;
  std::string err;
  conf->set("rebalance_cb", static_cast<RdKafka::RebalanceCb*>(out->impl_.get()), err);
  out->impl_->consumer.reset(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!out->impl_->consumer) return InvalidArgument("cannot create Kafka consumer: {}", err);
  RdKafka::ErrorCode e = out->impl_->consumer->subscribe({topic});
  if (e != RdKafka::ERR_NO_ERROR) return IoError("cannot subscribe to {}: {}", topic, RdKafka::err2str(e));
  return out;
}

void PipelineConsumer::SetRevokeHandler(std::function<Status(const std::vector<int32_t>&)> handler) {
  impl_->on_revoke = std::move(handler);
}

Status PipelineConsumer::Poll(int timeout_ms, size_t max_records, std::vector<KafkaRecord>* out) {
  auto& c = *impl_->consumer;
  if (!impl_->rebalance_error.ok()) return impl_->rebalance_error;
  int wait = timeout_ms;
  const size_t limit = out->size() + max_records;
  while (out->size() < limit) {
    std::unique_ptr<RdKafka::Message> m(c.consume(wait));
    wait = 0;
    if (!impl_->rebalance_error.ok()) return impl_->rebalance_error;
    if (!m) return Status::OK();
    switch (m->err()) {
      case RdKafka::ERR_NO_ERROR: {
        int32_t p = m->partition();
        auto it = impl_->next_expected.find(p);
        if (it != impl_->next_expected.end() && it->second >= 0 && m->offset() != it->second) {
          if (m->offset() > it->second) {
            impl_->gap = OffsetGap{m->topic_name(), p, it->second, m->offset() - 1,
                                   fmt::format("expected offset {}, received {}", it->second, m->offset())};
          }
          return DataLoss(
              "offset gap on {}[{}]: expected offset {} but received {}; {} record(s) were lost (evicted or deleted "
              "by retention before they were consumed, or the topic was recreated). Stopping so that nothing is "
              "skipped silently",
              m->topic_name(), p, it->second, m->offset(), m->offset() - it->second);
        }
        impl_->next_expected[p] = m->offset() + 1;
        KafkaRecord r;
        r.topic = m->topic_name();
        r.partition = p;
        r.offset = m->offset();
        auto ts = m->timestamp();
        r.timestamp_ms = ts.type == RdKafka::MessageTimestamp::MSG_TIMESTAMP_NOT_AVAILABLE ? -1 : ts.timestamp;
        if (m->key() != nullptr) r.key = *m->key();
        r.value.assign(static_cast<const char*>(m->payload()), m->len());
        if (RdKafka::Headers* hs = m->headers()) {
          for (const auto& h : hs->get_all()) {
            r.headers.emplace_back(h.key(), h.value() ? std::string(static_cast<const char*>(h.value()), h.value_size())
                                                      : std::string());
          }
        }
        out->push_back(std::move(r));
        break;
      }
      case RdKafka::ERR__TIMED_OUT:
      case RdKafka::ERR__PARTITION_EOF:
        return Status::OK();
      case RdKafka::ERR__AUTO_OFFSET_RESET:
      case RdKafka::ERR_OFFSET_OUT_OF_RANGE: {
        const int32_t p = m->partition();
        const auto it = impl_->next_expected.find(p);
        const int64_t want = it == impl_->next_expected.end() ? -1 : it->second;
        int64_t lo = -1, hi = -1;
        c.query_watermark_offsets(m->topic_name(), p, &lo, &hi, 5000);
        if (want >= 0 && lo > want) {
          impl_->gap = OffsetGap{m->topic_name(), p, want, lo - 1,
                                 fmt::format("position {} is below the broker's oldest offset {}", want, lo)};
          return DataLoss("{}[{}]: offsets {}-{} ({} records) are gone from the broker before they were consumed "
                          "(its oldest offset is now {}: evicted, or deleted by retention)",
                          m->topic_name(), p, want, lo - 1, lo - want, lo);
        }
        if (want >= 0 && hi >= 0 && want > hi) {
          return DataLoss(
              "{}[{}]: the position to resume from, offset {}, is beyond the end of the partition (offset {}): the "
              "topic was recreated, or this is another cluster. If the topic was recreated on purpose, start with a "
              "new --source-epoch; otherwise investigate before resuming",
              m->topic_name(), p, want, hi);
        }
        return DataLoss(
            "{}[{}]: the position to resume from is out of range ({}). The records there no longer exist: "
            "retention deleted them or the topic was recreated. If the topic was recreated on purpose, start with "
            "a new --source-epoch; otherwise investigate before resuming",
            m->topic_name(), p, m->errstr());
      }
      default:
        if (m->err() == RdKafka::ERR__FATAL) return IoError("Kafka consumer fatal error: {}", m->errstr());
        spdlog::warn("Kafka consumer: {} (retrying)", m->errstr());
        return Status::OK();
    }
  }
  return Status::OK();
}

std::optional<OffsetGap> PipelineConsumer::gap() const { return impl_->gap; }

void PipelineConsumer::CommitAdvisory(const std::map<int32_t, int64_t>& next_offsets) {
  std::vector<RdKafka::TopicPartition*> parts;
  for (const auto& [p, o] : next_offsets) parts.push_back(RdKafka::TopicPartition::create(impl_->topic, p, o));
  impl_->consumer->commitAsync(parts);
  RdKafka::TopicPartition::destroy(parts);
}

std::map<int32_t, int64_t> PipelineConsumer::Lag() {
  std::map<int32_t, int64_t> lag;
  std::vector<RdKafka::TopicPartition*> parts;
  if (impl_->consumer->assignment(parts) != RdKafka::ERR_NO_ERROR) return lag;
  impl_->consumer->position(parts);
  for (auto* tp : parts) {
    int64_t lo = 0, hi = 0;
    if (impl_->consumer->get_watermark_offsets(tp->topic(), tp->partition(), &lo, &hi) == RdKafka::ERR_NO_ERROR &&
        hi >= 0) {
      int64_t pos = tp->offset() >= 0 ? tp->offset() : lo;
      lag[tp->partition()] = std::max<int64_t>(0, hi - pos);
    }
  }
  RdKafka::TopicPartition::destroy(parts);
  return lag;
}

std::vector<int32_t> PipelineConsumer::Assignment() {
  std::vector<int32_t> out;
  std::vector<RdKafka::TopicPartition*> parts;
  if (impl_->consumer->assignment(parts) == RdKafka::ERR_NO_ERROR) {
    for (auto* tp : parts) out.push_back(tp->partition());
  }
  RdKafka::TopicPartition::destroy(parts);
  return out;
}

void PipelineConsumer::Close() {
  if (impl_ && impl_->consumer) {
    impl_->consumer->close();
    impl_->consumer.reset();
  }
}

void PipelineConsumer::Abandon() {
  if (impl_ && impl_->consumer) impl_->consumer.reset();
}

// ---------------------------------------------------------------------------------------------
// Group lag probe

GroupLagProbe::~GroupLagProbe() {
  if (consumer_) consumer_->close();
}

Result<std::unique_ptr<GroupLagProbe>> GroupLagProbe::Create(const KafkaProperties& props, const std::string& topic,
                                                             const std::string& group_id) {
  KafkaProperties p = props;
  p["group.id"] = group_id;
  p["enable.auto.commit"] = "false";
  ASSIGN_OR_RETURN(auto conf, MakeKafkaConf(p));
  std::unique_ptr<GroupLagProbe> out(new GroupLagProbe());
  std::string err;
  out->consumer_.reset(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!out->consumer_) return InvalidArgument("cannot create Kafka client for lag: {}", err);
  out->topic_ = topic;
  return out;
}

Result<std::map<int32_t, int64_t>> GroupLagProbe::LagMessages() {
  if (partitions_.empty()) {
    RdKafka::Metadata* md = nullptr;
    std::string terr;
    std::unique_ptr<RdKafka::Topic> t(RdKafka::Topic::create(consumer_.get(), topic_, nullptr, terr));
    RdKafka::ErrorCode e = consumer_->metadata(false, t.get(), &md, 5000);
    if (e != RdKafka::ERR_NO_ERROR) return IoError("metadata for {}: {}", topic_, RdKafka::err2str(e));
    std::unique_ptr<RdKafka::Metadata> holder(md);
    for (const auto* tm : *md->topics()) {
      if (tm->topic() != topic_) continue;
      for (const auto* pm : *tm->partitions()) partitions_.push_back(pm->id());
    }
    if (partitions_.empty()) return NotFound("topic {} has no partitions (does it exist?)", topic_);
  }
  std::vector<RdKafka::TopicPartition*> parts;
  for (int32_t p : partitions_) parts.push_back(RdKafka::TopicPartition::create(topic_, p));
  RdKafka::ErrorCode e = consumer_->committed(parts, 5000);
  std::map<int32_t, int64_t> lag;
  if (e == RdKafka::ERR_NO_ERROR) {
    for (auto* tp : parts) {
      int64_t lo = 0, hi = 0;
      if (consumer_->query_watermark_offsets(topic_, tp->partition(), &lo, &hi, 5000) != RdKafka::ERR_NO_ERROR) continue;
      int64_t committed = tp->offset() >= 0 ? tp->offset() : lo;
      lag[tp->partition()] = std::max<int64_t>(0, hi - committed);
    }
  }
  RdKafka::TopicPartition::destroy(parts);
  if (e != RdKafka::ERR_NO_ERROR) return IoError("committed offsets of the group: {}", RdKafka::err2str(e));
  return lag;
}

}  // namespace lakestream
