#include "app/runner.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <tuple>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/ids.h"
#include "config/bundled_files.h"
#include "common/time.h"
#include "lake/storage/storage.h"
#include "pipeline/dead_letters.h"
#include "pipeline/medallion_pipeline.h"
#include "source/file/replay.h"
#include "app/runner_internal.h"
#include "pipeline/silver_rules.h"
#include "format/schema_decoder.h"
#include "source/generator/notification_generator.h"
#include "source/kafka/embedded_broker.h"

namespace lakestream {

std::atomic<bool>& StopRequested() {
  static std::atomic<bool> stop{false};
  return stop;
}

namespace {
extern "C" void OnStopSignal(int) { StopRequested().store(true); }
}  // namespace

namespace internal {

std::string Thousands(int64_t v) {
  const std::string digits = std::to_string(v < 0 ? -v : v);
  std::string out = v < 0 ? "-" : "";
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string BrokerFile(const Settings& s) {
  if (s.IsSet("kafka.broker_file")) return s.GetString("kafka.broker_file");
  const std::string root = s.GetString("lake.root");
  if (!IsAzureLocation(root)) return (std::filesystem::path(root) / "_broker").string();
  // A remote lakehouse: the address file stays on this machine, named after the location.
  std::string name;
  for (char c : root) name.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  return (std::filesystem::temp_directory_path() / ("lakestream-broker-" + name)).string();
}

int Fail(const Status& st) {
  std::fprintf(stderr, "lakestream: error: %s\n", st.ToString().c_str());
  return 1;
}

namespace {
// Every table location a pipeline writes (under the lake root): two pipelines of one process must
// not share one.
std::vector<std::string> TableLocations(const PipelineSpec& spec) {
  std::vector<std::string> out = {spec.bronze_table, spec.silver_table, spec.quarantine_table};
  for (const auto& g : spec.gold) {
    out.push_back(g.location);
    if (g.late_events == "adjustments") out.push_back(g.location + "_adjustments");
  }
  return out;
}
}  // namespace

Result<std::vector<PipelineSpec>> LoadSpecs(const Settings& s) {
  const std::string files = s.GetString("pipeline.file");
  std::vector<PipelineSpec> specs;
  if (files.empty()) {
    ASSIGN_OR_RETURN(PipelineSpec spec, DefaultOrdersPipelineSpec());
    specs.push_back(std::move(spec));
    return specs;
  }
  for (size_t pos = 0; pos <= files.size();) {
    const size_t comma = std::min(files.find(',', pos), files.size());
    const std::string file = files.substr(pos, comma - pos);
    pos = comma + 1;
    if (file.empty()) {
      return InvalidArgument("--pipeline '{}': an empty file name in the list; separate files by single commas, e.g. "
                             "--pipeline pipelines/orders.toml,pipelines/notifications.toml", files);
    }
    // A relative file missing here is looked up beside the binary (pipelines/ ships with it).
    ASSIGN_OR_RETURN(PipelineSpec spec, LoadPipelineSpec(FindBundled(file).value_or(file)));
    specs.push_back(std::move(spec));
  }
  ASSIGN_OR_RETURN(std::vector<DataLossAcceptance> accept, ParseDataLossAcceptances(s.GetString("source.accept_data_loss")));
  if (specs.size() > 1) {
    for (const auto& a : accept) {
      if (!a.topic) {
        return InvalidArgument("--accept-data-loss {}: with several pipelines, name the topic too, e.g. "
                               "--accept-data-loss {}:{}", a.text, specs.front().topic, a.text);
      }
    }
  }
  if (specs.size() == 1) return specs;
  using Flag = std::tuple<const char*, const char*, const char*>;  // setting, flag, [source] member
  for (const auto& [key, flag, member] : {Flag{"kafka.topic", "--topic", "topic"},
                                          Flag{"kafka.group_id", "--group", "group_id"},
                                          Flag{"pipeline.dlq_topic", "--dlq-topic", "dead_letter_topic"}}) {
    if (s.IsSet(key)) {
      std::string env = key;
      for (char& c : env) c = c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      return InvalidArgument("{} (or LAKESTREAM_{}): with several pipelines each uses the {} its file's [source] "
                             "table names; drop the flag or run one pipeline", flag, env, member);
    }
  }
  std::map<std::string, std::string> names, topics, groups, tables;  // value -> the file that took it
  for (const auto& spec : specs) {
    const std::vector<std::pair<std::map<std::string, std::string>*, std::vector<std::string>>> taken = {
        {&names, {spec.name}}, {&topics, {spec.topic}}, {&groups, {spec.group_id}}, {&tables, TableLocations(spec)}};
    const char* what[] = {"pipeline name", "topic", "consumer group", "table location"};
    for (size_t i = 0; i < taken.size(); ++i) {
      for (const auto& value : taken[i].second) {
        auto [it, fresh] = taken[i].first->emplace(value, spec.file);
        if (!fresh) {
          return InvalidArgument("--pipeline: {} and {} both use {} '{}'; pipelines of one process need their own "
                                 "name, topic, consumer group and tables (docs/pipelines/README.md, \"Several "
                                 "pipelines in one process\")", it->second, spec.file, what[i], value);
        }
      }
    }
  }
  return specs;
}

Result<PipelineSpec> LoadSpec(const Settings& s) {
  const std::string file = s.GetString("pipeline.file");
  if (file.find(',') != std::string::npos) {
    return InvalidArgument("--pipeline {}: this command runs one pipeline; give one file (run, ingest and broker take "
                           "several)", file);
  }
  ASSIGN_OR_RETURN(std::vector<PipelineSpec> specs, LoadSpecs(s));
  return std::move(specs.front());
}

std::string TopicOf(const Settings& s, const PipelineSpec& spec) {
  return s.IsSet("kafka.topic") ? s.GetString("kafka.topic") : spec.topic;
}

std::string DeadLetterTopicOf(const Settings& s, const PipelineSpec& spec) {
  return s.IsSet("pipeline.dlq_topic") ? s.GetString("pipeline.dlq_topic") : spec.dead_letter_topic;
}

std::string GroupOf(const Settings& s, const PipelineSpec& spec) {
  return s.IsSet("kafka.group_id") ? s.GetString("kafka.group_id") : spec.group_id;
}

namespace {
// The --accept-data-loss items for the pipeline reading `topic` (those naming no topic apply to it).
std::vector<DataLossAcceptance> AcceptancesFor(const Settings& s, const std::string& topic) {
  std::vector<DataLossAcceptance> out;
  auto all = ParseDataLossAcceptances(s.GetString("source.accept_data_loss"));  // checked by LoadSpecs
  if (!all.ok()) return out;
  for (auto& a : *all) {
    if (!a.topic || *a.topic == topic) out.push_back(std::move(a));
  }
  return out;
}
}  // namespace

Result<MedallionPipelineOptions> PipelineOptionsFrom(const Settings& s, PipelineSpec spec, const std::string& epoch) {
  MedallionPipelineOptions o;
  o.spec = std::move(spec);
  o.lake_root = s.GetString("lake.root");
  o.source_epoch = epoch;
  o.timezone = s.GetString("replay.timezone");
  o.gold_interval_ms = s.GetInt("pipeline.gold_interval_ms");
  o.duckdb_threads = static_cast<int>(s.GetInt("duckdb.threads"));
  o.duckdb_memory_limit = s.GetString("duckdb.memory_limit");
  o.auto_compact_min_files = s.GetInt("lake.auto_compact_min_files");
  o.target_file_size_bytes = s.GetInt("lake.target_file_size_bytes");
  o.writer_lease_ms = s.GetInt("pipeline.writer_lease_ms");
  o.accept_data_loss = AcceptancesFor(s, TopicOf(s, o.spec));
  return o;
}

Result<std::string> ReplayInputOf(const Settings& s) {
  const std::string input = s.GetString("replay.input");
  if (auto found = FindBundled(input)) return *found;
  std::string looked;
  for (const auto& c : BundledCandidates(input)) looked += (looked.empty() ? "" : ", ") + c;
  return NotFound("--input {}: no such file (looked at {}); pass --input PATH to a CSV or .csv.gz in the "
                  "online-shop model, e.g. the bundled data/online-shop/online_retail.first-9999-rows.orig-format.csv.gz",
                  input, looked);
}

ReplayOptions ReplayOptionsFrom(const Settings& s) {
  ReplayOptions o;
  auto input = ReplayInputOf(s);
  o.input = input.ok() ? *input : s.GetString("replay.input");  // the replay reports a missing file itself
  o.max_events = s.GetInt("generator.limit");
  o.source_name = s.GetString("replay.source_name");
  o.rate = s.GetRate("replay.rate");
  o.speedup = s.GetDouble("replay.speedup");
  o.timezone = s.GetString("replay.timezone");
  o.max_lag_bytes = s.GetInt("replay.max_lag_bytes");
  return o;
}

int64_t UncommittedBytes(const KafkaProducer& producer, const StreamingPipeline& pipeline) {
  int64_t worst = 0;
  for (const auto& [p, delivered] : producer.DeliveredBytesByPartition()) {
    worst = std::max(worst, delivered - pipeline.CommittedBytes(p));
  }
  return worst;
}

Result<OpenedPipeline> OpenPipeline(const Settings& s, const KafkaProperties& props, const std::string& epoch,
                                    const PipelineSpec& spec, const std::string& command) {
  OpenedPipeline out;
  ASSIGN_OR_RETURN(MedallionPipelineOptions options, PipelineOptionsFrom(s, spec, epoch));
  options.command = command;
  const std::string dlq_topic = DeadLetterTopicOf(s, spec);
  std::unique_ptr<KafkaProducer> dlq;
  if (!dlq_topic.empty()) {
    // Created before the pipeline opens: its catch-up may quarantine records already.
    ASSIGN_OR_RETURN(dlq, KafkaProducer::Create(props, dlq_topic));
  }
  ASSIGN_OR_RETURN(out.pipeline, MedallionPipeline::Open(options));
  if (dlq) AttachDeadLetterProducer(out, std::move(dlq));
  return out;
}

void AttachDeadLetterProducer(OpenedPipeline& opened, std::unique_ptr<KafkaProducer> dlq) {
  KafkaProducer* producer = dlq.get();
  opened.pipeline->SetDeadLetterSink([producer](const KafkaRecord& r, const std::string& rules, const std::string& reason) {
    // Header names follow Kafka Connect's dead-letter convention (__connect.errors.*), in our namespace.
    KafkaHeaders h = {{"lakestream.errors.rules", rules},
                      {"lakestream.errors.reason", reason},
                      {"lakestream.errors.topic", r.topic},
                      {"lakestream.errors.partition", std::to_string(r.partition)},
                      {"lakestream.errors.offset", std::to_string(r.offset)},
                      {"lakestream.errors.timestamp", std::to_string(r.timestamp_ms)},
                      {"lakestream.errors.quarantined_at", FormatTimestampIso(NowMicros())}};
    return producer->Produce("", r.key.value_or(""), r.value, h);
  });
  opened.dlq = std::move(dlq);
}

Status IngestLoop(const Settings& s, StreamingPipeline& pipeline, PipelineConsumer& consumer,
                  const std::function<bool()>& should_finish,
                  const std::function<void(const std::vector<KafkaRecord>&, int64_t)>& on_commit,
                  const std::function<bool()>& interrupt) {
  const int64_t commit_interval_ms = s.GetInt("pipeline.commit_interval_ms");
  const int64_t max_batch_bytes = s.GetInt("pipeline.max_batch_bytes");
  // A producer paced by backpressure waits while a partition holds replay.max_lag_bytes not yet in
  // bronze: committing a partition's batch once it holds half of that keeps the producer going instead
  // of leaving it blocked until the commit interval ends.
  const int64_t partition_flush_bytes = std::max<int64_t>(s.GetInt("replay.max_lag_bytes") / 2, 1024);
  std::vector<KafkaRecord> pending;
  int64_t pending_bytes = 0;
  std::map<int32_t, int64_t> partition_bytes;  // pending payload bytes per partition
  int64_t batch_started_ms = MonotonicMillis();
  auto flush = [&]() -> Status {
    if (pending.empty()) return Status::OK();
    std::map<int32_t, int64_t> next;
    for (const auto& r : pending) next[r.partition] = std::max(next[r.partition], r.offset + 1);
    const int64_t commit_start_ms = MonotonicMillis();
    RETURN_IF_ERROR(pipeline.ProcessBatch(pending));
    if (on_commit) on_commit(pending, MonotonicMillis() - commit_start_ms);
    consumer.CommitAdvisory(next);
    pending.clear();
    pending_bytes = 0;
    partition_bytes.clear();
    return Status::OK();
  };
  // Partitions leaving in a rebalance: commit what is held first, so their next owner starts after it.
  consumer.SetRevokeHandler([&](const std::vector<int32_t>& partitions) {
    if (!pending.empty()) spdlog::info("rebalance: committing {} held records before giving partitions up", pending.size());
    return flush();
  });
  struct ClearHandler {  // the handler refers to this frame: remove it before returning
    PipelineConsumer& c;
    ~ClearHandler() { c.SetRevokeHandler(nullptr); }
  } clear_handler{consumer};
  for (;;) {
    if (StopRequested().load() || (interrupt && interrupt())) {
      RETURN_IF_ERROR(flush());
      return Status::OK();
    }
    size_t before = pending.size();
    if (Status polled = consumer.Poll(50, 10000, &pending); !polled.ok()) {
      const std::optional<OffsetGap> gap = consumer.gap();
      if (polled.code() != StatusCode::kDataLoss || !gap) return polled;
      // The records before the gap are good: commit them, then record the gap so that every start
      // stops on it until an operator accepts it.
      RETURN_IF_ERROR(flush());
      RETURN_IF_ERROR(pipeline.RecordDataLoss(*gap).WithContext("recording data loss in bronze"));
      spdlog::error("pipeline {}: {}[{}] offsets {}-{} are lost ({}); recorded in bronze. Restart with "
                    "--accept-data-loss {}:{}-{} once the loss is understood",
                    pipeline.name(), gap->topic, gap->partition, gap->from_offset, gap->to_offset, gap->reason,
                    gap->partition, gap->from_offset, gap->to_offset);
      return Status(StatusCode::kDataLoss,
                    polled.message() + fmt::format(". Recorded in bronze's Delta log: every start stops here until "
                                                   "you restart with --accept-data-loss {}:{}-{} "
                                                   "(docs/reliability.md, \"Broker eviction\")",
                                                   gap->partition, gap->from_offset, gap->to_offset));
    }
    if (before == 0 && !pending.empty()) batch_started_ms = MonotonicMillis();
    bool partition_full = false;
    for (size_t i = before; i < pending.size(); ++i) {
      const auto bytes = static_cast<int64_t>(pending[i].value.size());
      pending_bytes += bytes;
      partition_full = (partition_bytes[pending[i].partition] += bytes) >= partition_flush_bytes || partition_full;
    }
    bool due = !pending.empty() && MonotonicMillis() - batch_started_ms >= commit_interval_ms;
    if (due || partition_full || pending_bytes >= max_batch_bytes) RETURN_IF_ERROR(flush());
    // Gold on its own clock: the last batch before a pause reaches gold without waiting for more.
    RETURN_IF_ERROR(pipeline.Tick());
    if (pending.empty() && should_finish()) return Status::OK();
  }
}

void PrintSummary(StreamingPipeline& pipeline, double elapsed_s, int64_t produced, bool named) {
  std::printf("\nlakestream summary%s (%.1f s%s)\n", named ? (": " + pipeline.name()).c_str() : "", elapsed_s,
              produced >= 0 ? fmt::format(", {} events produced", Thousands(produced)).c_str() : "");
  std::printf("  %-30s %10s %8s %6s %12s %10s  %s\n", "table", "rows", "version", "files", "bytes", "checkpoint",
              "location");
  for (const auto& t : pipeline.Summary()) {
    std::printf("  %-30s %10s %8lld %6lld %12s %10s  %s\n", t.name.c_str(), Thousands(t.rows).c_str(),
                static_cast<long long>(t.version), static_cast<long long>(t.files), Thousands(t.size_bytes).c_str(),
                t.checkpoint_version >= 0 ? std::to_string(t.checkpoint_version).c_str() : "-", t.uri.c_str());
  }
  const auto& c = pipeline.counters();
  if (const auto* declared = dynamic_cast<const MedallionPipeline*>(&pipeline); declared && declared->spec().source_format().declared_schema) {
    std::printf("  silver: %s redelivered duplicates left out (same %s), %s rows dropped by expectations, %s records "
                "broke the schema, %s rows arrived after their day was final (counted as adjustments)\n",
                Thousands(c.duplicates_dropped.load()).c_str(), declared->spec().silver.dedupe_key.c_str(),
                Thousands(c.expectation_drops.load()).c_str(), Thousands(c.envelope_rejects.load()).c_str(),
                Thousands(c.late_after_close.load()).c_str());
    if (c.max_event_time_us.load() != 0) {
      std::printf("  newest event time %s, watermark %s\n", FormatTimestampIso(c.max_event_time_us.load()).c_str(),
                  FormatTimestampIso(c.watermark_us.load()).c_str());
    }
  } else {
    std::printf("  silver: %s redelivered duplicates left out (same event_id), %s repeated source lines kept, %s rows "
                "dropped by expectations, %s records failed the envelope rules, %s sent to the dead-letter topic\n",
                Thousands(c.duplicates_dropped.load()).c_str(), Thousands(c.repeated_lines.load()).c_str(),
                Thousands(c.expectation_drops.load()).c_str(), Thousands(c.envelope_rejects.load()).c_str(),
                Thousands(c.dead_lettered.load()).c_str());
  }
  std::string expectations;
  for (const auto& e : pipeline.ExpectationCounts()) {
    expectations += fmt::format("{}{} ({}) {}", expectations.empty() ? "" : ", ", e.name,
                                ExpectationActionName(e.action), Thousands(e.failed));
  }
  if (!expectations.empty()) std::printf("  expectations failed: %s\n", expectations.c_str());
  if (c.repaired_versions.load() > 0) {
    std::printf("  start-up check: %s bronze versions had no derived commit and were derived\n",
                Thousands(c.repaired_versions.load()).c_str());
  }
  for (const auto& g : pipeline.DataLossGaps()) {
    std::printf("  DATA LOSS: %s — %s\n", g.Describe().c_str(),
                g.accepted ? ("accepted " + FormatTimestampIso(g.accepted_at_ms * 1000)).c_str()
                           : ("open: restart with --accept-data-loss " + g.Spec() + " to go on").c_str());
  }
  std::printf("  checkpoints written %lld, auto-compactions %lld (%lld small files rewritten)\n",
              static_cast<long long>(c.checkpoints.load()), static_cast<long long>(c.compactions.load()),
              static_cast<long long>(c.files_compacted.load()));
  std::fflush(stdout);
}

}  // namespace internal

using namespace internal;

int RunServe(const Settings& s) {
  auto options = HttpServerOptionsFrom(s);
  if (!options.ok()) return Fail(options.status());
  auto lake = LakeQueries::Open(s.GetString("lake.root"));
  if (!lake.ok()) return Fail(lake.status());
  auto server = HttpServer::Start(*options, **lake, {}, metrics::Registry::Default());
  if (!server.ok()) return Fail(server.status());
  std::printf("dashboard: %s  (API %sapi/v1, metrics %smetrics) over %s; Ctrl-C stops\n", (*server)->url().c_str(),
              (*server)->url().c_str(), (*server)->url().c_str(), s.GetString("lake.root").c_str());
  std::fflush(stdout);
  while (!StopRequested().load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  (*server)->Stop();
  return 0;
}

void InstallStopSignalHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

namespace {

Result<NotificationGeneratorOptions> GeneratorOptionsFrom(const Settings& s, const PipelineSpec& spec) {
  if (spec.name != "notifications") {
    return InvalidArgument("{}: lakestream has a built-in generator for the notifications pipeline only; produce "
                           "pipeline '{}''s events to topic '{}' yourself and run `lakestream ingest --pipeline {}`",
                           spec.file, spec.name, spec.topic, spec.file);
  }
  NotificationGeneratorOptions o;
  auto rate = s.GetRate("replay.rate");
  o.rate = rate && *rate == 0 ? std::optional<double>(1157.0) : rate;
  o.limit = s.GetInt("generator.limit");
  o.seed = static_cast<uint64_t>(s.GetInt("generator.seed"));
  o.customers = static_cast<int>(s.GetInt("generator.customers"));
  o.events_per_day = s.GetInt("generator.events_per_day");
  o.max_lag_bytes = s.GetInt("replay.max_lag_bytes");
  const std::string start = s.GetString("generator.start");
  if (!start.empty()) {
    auto us = ParseIsoTimestampWithOffset(start);
    if (!us) {
      return InvalidArgument("--start '{}' is not an ISO 8601 date-time with an offset; write e.g. "
                             "2020-02-03T00:00:00Z", start);
    }
    o.start_us = *us;
  }
  return o;
}

// bootstrap.servers and the source epoch for `produce`, `ingest` and `dlq replay`: kafka.brokers, or the
// embedded broker's file (its address and epoch; `*broker_file`, when given, is set to its path).
// Offsets on an external cluster are stable across restarts, so no epoch unless the user sets one; an
// embedded broker's topics begin again at offset 0 in every broker life, so its epoch scopes them
// (docs/reliability.md, "Broker restart").
Status ResolveBrokers(const Settings& s, KafkaProperties* props, std::string* epoch,
                      std::string* broker_file = nullptr) {
  *epoch = s.GetString("source.epoch");
  if (s.IsSet("kafka.brokers")) {
    (*props)["bootstrap.servers"] = s.GetString("kafka.brokers");
    return Status::OK();
  }
  if (props->count("bootstrap.servers") != 0) return Status::OK();
  std::string bootstrap, broker_epoch;
  RETURN_IF_ERROR(ReadBrokerFile(BrokerFile(s), &bootstrap, &broker_epoch)
                      .WithContext("no --brokers given and no embedded broker found"));
  (*props)["bootstrap.servers"] = bootstrap;
  if (!s.IsSet("source.epoch")) *epoch = broker_epoch;
  if (broker_file) *broker_file = BrokerFile(s);
  return Status::OK();
}

// The broker file `ingest` found its embedded broker through, watched while it runs: a restarted
// broker writes a new address and epoch (a new, empty topic whose offsets begin again at 0), which the
// pipeline follows instead of resuming at the old offsets.
class BrokerFileWatch {
 public:
  BrokerFileWatch(std::string path, std::string bootstrap, std::string epoch)
      : path_(std::move(path)), bootstrap_(std::move(bootstrap)), epoch_(std::move(epoch)) {}
  // Re-reads the file at most once a second; true when it names another epoch than the current one.
  bool Changed() {
    if (MonotonicMillis() - checked_ms_ < 1000) return changed_;
    checked_ms_ = MonotonicMillis();
    std::string bootstrap, epoch;
    if (ReadBrokerFile(path_, &bootstrap, &epoch).ok() && !epoch.empty() && epoch != epoch_) {
      next_bootstrap_ = bootstrap;
      next_epoch_ = epoch;
      changed_ = true;
    }
    return changed_;
  }
  // Takes the new broker as the current one.
  void Accept() {
    bootstrap_ = next_bootstrap_;
    epoch_ = next_epoch_;
    changed_ = false;
  }
  const std::string& path() const { return path_; }
  const std::string& bootstrap() const { return bootstrap_; }
  const std::string& epoch() const { return epoch_; }
  const std::string& next_bootstrap() const { return next_bootstrap_; }
  const std::string& next_epoch() const { return next_epoch_; }

 private:
  std::string path_, bootstrap_, epoch_, next_bootstrap_, next_epoch_;
  int64_t checked_ms_ = 0;
  bool changed_ = false;
};

// The worst partition's lag of the consumer group in bytes: its committed-offset lag in messages
// times the mean size of the records `producer` delivered. Refreshed at most every 200 ms.
class GroupLagBytes {
 public:
  GroupLagBytes(GroupLagProbe* probe, KafkaProducer* producer) : probe_(probe), producer_(producer) {}
  int64_t Worst() {
    if (MonotonicMillis() - checked_ms_ < 200) return cached_;
    checked_ms_ = MonotonicMillis();
    auto lag = probe_->LagMessages();
    if (!lag.ok()) return cached_;
    int64_t delivered = std::max<int64_t>(1, producer_->delivered());
    int64_t total_bytes = 0;
    for (const auto& [p, bytes] : producer_->DeliveredBytesByPartition()) total_bytes += bytes;
    int64_t mean = total_bytes > 0 ? total_bytes / delivered : 512;
    int64_t worst = 0;
    for (const auto& [p, msgs] : *lag) worst = std::max(worst, msgs * mean);
    cached_ = worst;
    return cached_;
  }
  int64_t cached() const { return cached_; }

 private:
  GroupLagProbe* probe_;
  KafkaProducer* producer_;
  int64_t cached_ = 0, checked_ms_ = 0;
};

// Starts the embedded broker with the topics of `specs` unless kafka.brokers is set (then returns
// null), each protected for its pipeline's consumer group (embedded_broker.h); fills bootstrap.servers
// and the source epoch, writes the broker file and prints the address.
Result<std::unique_ptr<EmbeddedBroker>> StartBrokerUnlessExternal(const Settings& s,
                                                                  const std::vector<PipelineSpec>& specs,
                                                                  KafkaProperties* props, std::string* epoch) {
  if (s.IsSet("kafka.brokers")) {
    (*props)["bootstrap.servers"] = s.GetString("kafka.brokers");
    *epoch = s.GetString("source.epoch");
    return std::unique_ptr<EmbeddedBroker>();
  }
  const int partitions = static_cast<int>(s.GetInt("kafka.partitions"));
  std::vector<std::string> topics;
  for (const auto& spec : specs) topics.push_back(TopicOf(s, spec));
  ASSIGN_OR_RETURN(auto broker, EmbeddedBroker::Start(topics.front(), partitions));
  std::string names = "'" + topics.front() + "'";
  for (size_t i = 1; i < topics.size(); ++i) {
    RETURN_IF_ERROR(broker->CreateTopic(topics[i], partitions));
    names += ", '" + topics[i] + "'";
  }
  for (const auto& spec : specs) broker->Protect(TopicOf(s, spec), GroupOf(s, spec));
  (*props)["bootstrap.servers"] = broker->bootstrap_servers();
  *epoch = broker->epoch();
  RETURN_IF_ERROR(broker->WriteBrokerFile(BrokerFile(s)));
  std::printf("embedded Kafka broker: %s (topic%s %s, %d partitions each); address written to %s\n",
              broker->bootstrap_servers().c_str(), topics.size() > 1 ? "s" : "", names.c_str(), partitions,
              BrokerFile(s).c_str());
  std::fflush(stdout);
  return broker;
}

// One pipeline of `run` or `ingest`: the pipeline, its consumer and, under `run`, the source that feeds
// its topic (the orders CSV replay or the built-in generator) with its producer. Members are declared
// in the order they depend on each other, so destruction frees users first.
struct PipelineJob {
  PipelineSpec spec;
  std::string topic, group;
  OpenedPipeline opened;
  std::unique_ptr<KafkaProducer> producer;
  std::unique_ptr<Replay> replay;                   // `run` of the orders pipeline
  std::unique_ptr<NotificationGenerator> generator; // `run` of a generated pipeline
  std::unique_ptr<PipelineConsumer> consumer;
  PipelineMonitor* monitor = nullptr;               // owned by Serving; null with --no-http
  KafkaProperties props;                            // the consumer's (and the dead-letter producer's)
  bool embedded = false;                            // on an embedded broker: topics begin at offset 0
  std::unique_ptr<BrokerFileWatch> broker_watch;    // `ingest` on an embedded broker found by its file
  int64_t bronze_at_start = 0;
  int64_t limit = 0;                                // the generator's --limit (0: none)
  int64_t last_produced = 0, last_bronze = 0;       // for the progress line's rates

  StreamingPipeline& pipeline() const { return *opened.pipeline; }
  bool has_source() const { return replay != nullptr || generator != nullptr; }
  int64_t produced() const {
    if (replay) return replay->counters().produced.load();
    return generator ? generator->counters().produced.load() : -1;
  }
  bool source_done() const {
    return replay ? replay->counters().done.load() : generator && generator->counters().done.load();
  }
  int64_t source_event_time_us() const {
    if (replay) return replay->counters().event_time_us.load();
    return generator ? generator->counters().event_time_us.load() : 0;
  }
  // The source is done and bronze holds all it produced: `run` without --follow ends then.
  bool caught_up() const {
    return source_done() && pipeline().counters().bronze_rows.load() - bronze_at_start >= produced();
  }
};

// A consumer of `job`'s topic for its pipeline, on `job.props`. A restarted member must get its
// partitions at once (docs/reliability.md, "Restarts"): on an external cluster by static membership
// (kafka.group_instance_id); on the embedded broker, whose groups ignore it, a member that leaves (or
// dies: the broker's guard makes it leave) triggers a rebalance after the session minus 1 s, so
// sessions are short — but longer than the 3 s the mock waits before the first election of an empty
// group, or it expels the member waiting for it. -K properties override both.
Result<std::unique_ptr<PipelineConsumer>> ConsumerFor(const Settings& s, PipelineJob& job) {
  StreamingPipeline* pipe = job.opened.pipeline.get();
  KafkaProperties props = job.props;
  if (job.embedded) {
    props.emplace("session.timeout.ms", "4000");
    props.emplace("heartbeat.interval.ms", "1000");
  } else {
    const std::string id = s.GetString("kafka.group_instance_id");
    if (id.empty()) {
      char host[256] = {};
      gethostname(host, sizeof host - 1);
      props.emplace("group.instance.id", fmt::format("lakestream-{}-{}-{}", job.group, host,
                                                     Sha256Hex(s.GetString("lake.root")).substr(0, 8)));
    } else if (id != "none") {
      props.emplace("group.instance.id", id);
    }
  }
  return PipelineConsumer::Create(
      props, job.topic, job.group, [pipe](const std::string& t, int32_t p) { return pipe->StartOffset(t, p); },
      job.embedded);
}

// Opens `spec`'s pipeline and consumer (on `props`; `embedded` when they reach an embedded broker);
// with `with_source`, also its producer and source (the orders replay, which skips the lines bronze
// holds already, or the generator). Errors: the parts'.
Result<std::unique_ptr<PipelineJob>> OpenJob(const Settings& s, const KafkaProperties& props, const std::string& epoch,
                                             const PipelineSpec& spec, bool with_source, bool embedded) {
  auto job = std::make_unique<PipelineJob>();
  job->props = props;
  job->embedded = embedded;
  job->spec = spec;
  job->topic = TopicOf(s, spec);
  job->group = GroupOf(s, spec);
  ASSIGN_OR_RETURN(job->opened, OpenPipeline(s, props, epoch, spec, with_source ? "run" : "ingest"));
  StreamingPipeline* pipe = job->opened.pipeline.get();
  job->bronze_at_start = job->last_bronze = pipe->counters().bronze_rows.load();
  if (with_source) {
    ASSIGN_OR_RETURN(job->producer, KafkaProducer::Create(props, job->topic));
    KafkaProducer* prod = job->producer.get();
    auto uncommitted = [prod, pipe]() { return UncommittedBytes(*prod, *pipe); };
    if (spec.source_format().sample == SourceFormat::Sample::kCsvReplay) {
      ReplayOptions ropts = ReplayOptionsFrom(s);
      if (ropts.source_name.empty()) ropts.source_name = DefaultSourceName(ropts.input);
      ASSIGN_OR_RETURN(std::set<int64_t> skip, job->opened.pipeline->CommittedSourceLines(ropts.source_name));
      if (!skip.empty()) {
        std::printf("resuming: %s lines of %s are already in bronze and will not be produced again\n",
                    Thousands(static_cast<int64_t>(skip.size())).c_str(), ropts.source_name.c_str());
      }
      job->replay = std::make_unique<Replay>(ropts, prod, uncommitted, std::move(skip));
    } else {
      ASSIGN_OR_RETURN(NotificationGeneratorOptions gen_opts, GeneratorOptionsFrom(s, spec));
      job->limit = gen_opts.limit;
      job->generator = std::make_unique<NotificationGenerator>(gen_opts, prod, uncommitted);
    }
  }
  ASSIGN_OR_RETURN(job->consumer, ConsumerFor(s, *job));
  return job;
}

// The HTTP side of `run`/`ingest`: one monitor per pipeline, fed by its loop, and the server
// (docs/api.md). Empty with --no-http. Members are declared in the order they depend on each other,
// so destruction stops the server before what it reads goes away; Stop() before the pipelines close.
struct Serving {
  std::unique_ptr<LakeQueries> lake;
  std::vector<std::unique_ptr<PipelineMonitor>> monitors;
  std::unique_ptr<HttpServer> server;
  void Stop() {
    server.reset();
    monitors.clear();
    lake.reset();
  }
};

Result<std::optional<HttpServerOptions>> HttpOptionsFrom(const Settings& s) {
  if (s.GetBool("http.disabled")) return std::optional<HttpServerOptions>();
  ASSIGN_OR_RETURN(HttpServerOptions o, HttpServerOptionsFrom(s));
  return std::optional<HttpServerOptions>(o);
}

// Starts the server over the lake root with a monitor per job (job->monitor is set), and prints its
// address ("dashboard: http://…/"). Errors: the server's.
Result<Serving> StartServing(const std::optional<HttpServerOptions>& options, const Settings& s,
                             const std::string& command, std::vector<std::unique_ptr<PipelineJob>>& jobs) {
  Serving out;
  if (!options) return out;
  ASSIGN_OR_RETURN(out.lake, LakeQueries::Open(s.GetString("lake.root")));
  std::vector<PipelineMonitor*> monitors;
  for (auto& job : jobs) {
    PipelineInfo info;
    info.name = job->pipeline().name();
    info.command = command;
    info.topic = job->topic;
    info.group_id = job->group;
    info.lake_root = s.GetString("lake.root");
    PipelineJob* j = job.get();
    std::function<int64_t()> produced;
    if (j->has_source()) produced = [j]() { return j->produced(); };
    out.monitors.push_back(std::make_unique<PipelineMonitor>(info, j->pipeline(), metrics::Registry::Default(),
                                                             std::move(produced)));
    j->monitor = out.monitors.back().get();
    monitors.push_back(j->monitor);
  }
  ASSIGN_OR_RETURN(out.server, HttpServer::Start(*options, *out.lake, monitors, metrics::Registry::Default()));
  std::printf("dashboard: %s  (API %sapi/v1, metrics %smetrics)\n", out.server->url().c_str(), out.server->url().c_str(),
              out.server->url().c_str());
  std::fflush(stdout);
  return out;
}

// One progress line of `job` at `t` seconds, `dt` after the previous one; `named` prefixes the
// pipeline's name (a process running several).
std::string ProgressLine(PipelineJob& job, double t, double dt, bool named) {
  const auto& pc = job.pipeline().counters();
  const int64_t bronze = pc.bronze_rows.load();
  std::string line = fmt::format("[{:7.1f}s] {}", t, named ? job.spec.name + ": " : "");
  const int64_t produced = job.produced();
  if (job.has_source()) {
    line += fmt::format("{} {:>10} ({:>7}/s) | ", job.generator ? "generated" : "produced", Thousands(produced),
                        Thousands(static_cast<int64_t>((produced - job.last_produced) / dt)));
    job.last_produced = produced;
  }
  line += fmt::format("bronze {:>10} ({:>7}/s) v{} | silver {:>10} | quarantine {:>5} | gold v{}", Thousands(bronze),
                      Thousands(static_cast<int64_t>((bronze - job.last_bronze) / dt)), pc.bronze_version.load(),
                      Thousands(pc.silver_rows.load()), Thousands(pc.quarantine_rows.load()), pc.gold_version.load());
  job.last_bronze = bronze;
  if (job.has_source()) {
    const int64_t event_time = job.source_event_time_us();
    line += fmt::format(" | uncommitted {:>6} | event time {}",
                        Thousands(std::max<int64_t>(0, produced - (bronze - job.bronze_at_start))),
                        event_time ? FormatTimestampIso(event_time).substr(0, 19) : std::string("-"));
    if (job.limit > 0) line += fmt::format(" | {:.0f}% of {}", 100.0 * produced / job.limit, Thousands(job.limit));
  }
  return line;
}

// The embedded broker `job` reads was restarted (its file names a new epoch): what this member held
// is committed already (IngestLoop returned); the consumer and dead-letter producer move to the new
// address and the pipeline's offsets to the new epoch, so the new topic is read from offset 0
// (docs/reliability.md, "Broker restart"). Errors: the new clients'.
Status SwitchBroker(const Settings& s, PipelineJob& job) {
  BrokerFileWatch& w = *job.broker_watch;
  spdlog::warn("pipeline {}: the embedded broker restarted ({} now names {} with epoch {}; was {} with epoch {}): "
               "its topic starts again at offset 0, which this pipeline now reads",
               job.spec.name, w.path(), w.next_bootstrap(), w.next_epoch(), w.bootstrap(), w.epoch());
  // The old broker is gone: a clean close would wait for its coordinator forever (seen in CI).
  job.consumer->Abandon();
  job.props["bootstrap.servers"] = w.next_bootstrap();
  job.pipeline().SetSourceEpoch(w.next_epoch());
  w.Accept();
  if (job.opened.dlq) {
    RETURN_IF_ERROR(job.opened.dlq->Flush(10000).WithContext("dead-letter topic"));
    ASSIGN_OR_RETURN(auto dlq, KafkaProducer::Create(job.props, job.opened.dlq->topic()));
    AttachDeadLetterProducer(job.opened, std::move(dlq));
  }
  ASSIGN_OR_RETURN(job.consumer, ConsumerFor(s, job));
  return Status::OK();
}

// One job's life: its source on a thread of its own (under `run`) while the consume/commit loop runs
// here until the job is done (`run`: the source ended and bronze caught up, never with --follow;
// `ingest`: run.idle_exit_ms without new records), stop is requested or something fails; then the
// pipeline closes. A failure requests stop of every job of the process. Returns the first error of
// the loop, the source, Close or the dead-letter flush.
Status RunJob(const Settings& s, PipelineJob& job) {
  auto set_state = [&job](const std::string& state, const std::string& detail) {
    if (job.monitor) job.monitor->SetState(state, detail);
  };
  Status source_status;
  std::atomic<bool> source_stop{false};
  std::thread source_thread;
  if (job.has_source()) {
    source_thread = std::thread([&] {
      source_status = job.replay ? job.replay->Run(source_stop) : job.generator->Run(source_stop);
      if (!source_status.ok()) StopRequested() = true;
    });
  }
  const bool follow = s.GetBool("run.follow");
  const int64_t idle_exit_ms = s.GetInt("run.idle_exit_ms") == 0 ? 5000 : s.GetInt("run.idle_exit_ms");
  const auto& pc = job.pipeline().counters();
  int64_t last_rows = pc.bronze_rows.load(), last_change_ms = MonotonicMillis();
  auto finished = [&] {
    if (follow) return false;
    if (job.has_source()) return job.caught_up();
    // The idle clock starts once the group has assigned partitions (joining takes a few seconds).
    if (pc.bronze_rows.load() != last_rows || job.consumer->Assignment().empty()) {
      last_rows = pc.bronze_rows.load();
      last_change_ms = MonotonicMillis();
    }
    return MonotonicMillis() - last_change_ms >= idle_exit_ms;
  };
  set_state("running", "");
  Status st;
  for (;;) {
    st = IngestLoop(
        s, job.pipeline(), *job.consumer, finished,
        [&job](const std::vector<KafkaRecord>& records, int64_t ms) {
          if (!job.monitor) return;
          job.monitor->OnBatch(records, ms);
          job.monitor->SetLag(job.consumer->Lag());
        },
        [&job] { return job.broker_watch && job.broker_watch->Changed(); });
    if (!st.ok() || StopRequested().load() || !job.broker_watch || !job.broker_watch->Changed()) break;
    st = SwitchBroker(s, job);
    if (!st.ok()) break;
  }
  set_state(st.ok() ? "stopping" : "failed", st.ok() ? "" : st.message());
  source_stop = true;
  if (source_thread.joinable()) source_thread.join();
  if (st.ok() && !source_status.ok()) st = source_status;
  Status close = job.pipeline().Close();
  if (st.ok()) st = close;
  if (job.opened.dlq) {
    Status flushed = job.opened.dlq->Flush(10000).WithContext("dead-letter topic");
    if (st.ok()) st = flushed;
  }
  job.consumer->Close();
  if (!st.ok()) StopRequested() = true;
  return st.ok() ? st : st.WithContext("pipeline " + job.spec.name);
}

// `run` (with_source) and `ingest`: every pipeline of pipeline.file in this process, each with its own
// topic, consumer group, tables and thread, one dashboard over all. `run` starts the embedded broker
// (unless kafka.brokers) with every pipeline's topic; `ingest` finds the brokers like `produce`.
int RunPipelines(const Settings& s, const KafkaProperties& kafka_props, bool with_source) {
  auto http = HttpOptionsFrom(s);
  if (!http.ok()) return Fail(http.status());
  auto specs_or = LoadSpecs(s);
  if (!specs_or.ok()) return Fail(specs_or.status());
  const std::vector<PipelineSpec>& specs = *specs_or;
  std::vector<std::string> topics;
  for (const auto& spec : specs) {
    topics.push_back(TopicOf(s, spec));
    // A wrong generator flag or a missing input stops the process before the broker starts.
    const bool replays = spec.source_format().sample == SourceFormat::Sample::kCsvReplay;
    if (with_source && !replays) {
      if (auto gen = GeneratorOptionsFrom(s, spec); !gen.ok()) return Fail(gen.status());
    }
    if (with_source && replays) {
      if (auto input = ReplayInputOf(s); !input.ok()) return Fail(input.status());
    }
  }
  KafkaProperties props = kafka_props;
  std::string epoch, broker_file;
  std::unique_ptr<EmbeddedBroker> broker;
  if (with_source) {
    auto broker_or = StartBrokerUnlessExternal(s, specs, &props, &epoch);
    if (!broker_or.ok()) return Fail(broker_or.status());
    broker = std::move(broker_or).value();
    for (const auto& spec : specs) {
      const std::string dlq = DeadLetterTopicOf(s, spec);
      if (!broker || dlq.empty()) continue;
      if (Status st = broker->CreateTopic(dlq, 1); !st.ok()) return Fail(st);
    }
  } else if (Status st = ResolveBrokers(s, &props, &epoch, &broker_file); !st.ok()) {
    return Fail(st);
  }
  const bool embedded = broker != nullptr || !broker_file.empty();
  std::vector<std::unique_ptr<PipelineJob>> jobs;
  for (const auto& spec : specs) {
    auto job = OpenJob(s, props, epoch, spec, with_source, embedded);
    if (!job.ok()) return Fail(job.status());
    if (!broker_file.empty() && !s.IsSet("source.epoch")) {
      (*job)->broker_watch = std::make_unique<BrokerFileWatch>(broker_file, props["bootstrap.servers"], epoch);
    }
    jobs.push_back(std::move(job).value());
  }
  auto serving_or = StartServing(*http, s, with_source ? "run" : "ingest", jobs);
  if (!serving_or.ok()) return Fail(serving_or.status());
  Serving serving = std::move(serving_or).value();
  const bool named = jobs.size() > 1;
  double last_t = 0;
  ProgressPrinter progress(s.GetInt("progress.interval_ms"), [&](double t) {
    const double dt = std::max(1e-3, t - last_t);
    last_t = t;
    std::string lines;
    for (auto& job : jobs) lines += (lines.empty() ? "" : "\n") + ProgressLine(*job, t, dt, named);
    return lines;
  });
  std::vector<Status> results(jobs.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < jobs.size(); ++i) threads.emplace_back([&, i] { results[i] = RunJob(s, *jobs[i]); });
  for (auto& t : threads) t.join();
  progress.Stop();
  serving.Stop();
  for (const auto& st : results) {
    if (!st.ok()) return Fail(st);
  }
  for (auto& job : jobs) {
    PrintSummary(job->pipeline(), progress.elapsed_s(), job->produced(), named);
    if (job->generator) {
      const auto& gc = job->generator->counters();
      std::printf("  generator: %s duplicates, %s late (within minutes), %s very late (12-36 h)\n",
                  Thousands(gc.duplicates.load()).c_str(), Thousands(gc.late.load()).c_str(),
                  Thousands(gc.very_late.load()).c_str());
    }
    if (job->replay && job->replay->counters().contract_violations.load() > 0) {
      std::printf("  note: %s source lines broke the event contract or the CSV layout; they were published and "
                  "quarantined by silver\n",
                  Thousands(job->replay->counters().contract_violations.load()).c_str());
    }
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace

int RunMain(const Settings& s, const KafkaProperties& kafka_props) { return RunPipelines(s, kafka_props, true); }

int RunIngest(const Settings& s, const KafkaProperties& kafka_props) { return RunPipelines(s, kafka_props, false); }

int RunBroker(const Settings& s) {
  auto specs = LoadSpecs(s);
  if (!specs.ok()) return Fail(specs.status());
  KafkaProperties props;
  std::string epoch;
  auto b = StartBrokerUnlessExternal(s, *specs, &props, &epoch);
  if (!b.ok()) return Fail(b.status());
  std::printf("Ctrl-C stops the broker (its topics are lost)\n");
  std::fflush(stdout);
  while (!StopRequested().load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  return 0;
}


int RunProduce(const Settings& s, const KafkaProperties& kafka_props) {
  auto spec = LoadSpec(s);
  if (!spec.ok()) return Fail(spec.status());
  if (spec->source_format().sample == SourceFormat::Sample::kCsvReplay) {
    if (auto input = ReplayInputOf(s); !input.ok()) return Fail(input.status());
  }
  KafkaProperties props = kafka_props;
  std::string epoch;
  if (Status st = ResolveBrokers(s, &props, &epoch); !st.ok()) return Fail(st);
  const std::string topic = TopicOf(s, *spec);
  auto producer_or = KafkaProducer::Create(props, topic);
  if (!producer_or.ok()) return Fail(producer_or.status());
  auto producer = std::move(producer_or).value();
  auto probe_or = GroupLagProbe::Create(props, topic, GroupOf(s, *spec));
  if (!probe_or.ok()) return Fail(probe_or.status());
  auto probe = std::move(probe_or).value();
  if (spec->source_format().sample == SourceFormat::Sample::kGenerator) {
    GroupLagBytes lag(probe.get(), producer.get());
    auto gen_opts = GeneratorOptionsFrom(s, *spec);
    if (!gen_opts.ok()) return Fail(gen_opts.status());
    NotificationGenerator gen(*gen_opts, producer.get(), [&lag]() { return lag.Worst(); });
    const auto& gc = gen.counters();
    int64_t last = 0;
    double last_t = 0;
    ProgressPrinter progress(s.GetInt("progress.interval_ms"), [&](double t) {
      int64_t n = gc.produced.load();
      std::string line = fmt::format("[{:7.1f}s] generated {:>11} ({:>7}/s) | group lag {:>9} bytes | event time {}",
                                     t, Thousands(n), Thousands(static_cast<int64_t>((n - last) / std::max(1e-3, t - last_t))),
                                     Thousands(lag.cached()), FormatTimestampIso(gc.event_time_us.load()).substr(0, 19));
      last = n;
      last_t = t;
      return line;
    });
    Status st = gen.Run(StopRequested());
    progress.Stop();
    if (!st.ok()) return Fail(st);
    std::printf("produced %s generated %s events to %s (%s duplicates, %s late, %s very late)\n",
                Thousands(gc.produced.load()).c_str(), spec->name.c_str(), topic.c_str(),
                Thousands(gc.duplicates.load()).c_str(), Thousands(gc.late.load()).c_str(),
                Thousands(gc.very_late.load()).c_str());
    return 0;
  }
  ReplayOptions ropts = ReplayOptionsFrom(s);
  KafkaProducer* prod = producer.get();
  GroupLagBytes lag(probe.get(), prod);
  auto lag_bytes = [&lag]() { return lag.Worst(); };
  Replay replay(ropts, prod, lag_bytes, {});
  const auto& rc = replay.counters();
  int64_t last = 0;
  double last_t = 0;
  ProgressPrinter progress(s.GetInt("progress.interval_ms"), [&](double t) {
    int64_t n = rc.produced.load();
    std::string line = fmt::format("[{:7.1f}s] produced {:>9} ({:>7}/s) | group lag {:>9} bytes | waited {:.1f}s", t,
                                   Thousands(n), Thousands(static_cast<int64_t>((n - last) / std::max(1e-3, t - last_t))),
                                   Thousands(lag.cached()), rc.backpressure_ms.load() / 1000.0);
    last = n;
    last_t = t;
    return line;
  });
  Status st = replay.Run(StopRequested());
  progress.Stop();
  if (!st.ok()) return Fail(st);
  std::printf("produced %s events from %s to %s\n", Thousands(rc.produced.load()).c_str(), ropts.input.c_str(),
              topic.c_str());
  return 0;
}

Result<PipelineSpec> PipelineOf(const Settings& s) { return LoadSpec(s); }

int RunRebuild(const Settings& s, const std::string& table_name) {
  auto spec = LoadSpec(s);
  if (!spec.ok()) return Fail(spec.status());
  std::string table = table_name;
  if (table.find('/') == std::string::npos && table.find('.') != std::string::npos) table[table.find('.')] = '/';
  auto options = PipelineOptionsFrom(s, *spec, "");
  if (!options.ok()) return Fail(options.status());
  options->command = "rebuild";
  options->auto_compact_min_files = 0;
  const int64_t start = MonotonicMillis();
  auto pipeline = MedallionPipeline::Open(*options);
  if (!pipeline.ok()) return Fail(pipeline.status());
  Status st = (*pipeline)->Rebuild(table);
  if (st.code() == StatusCode::kInvalidArgument) {
    std::fprintf(stderr, "lakestream rebuild: %s\n", st.message().c_str());
    return 2;
  }
  if (st.ok()) st = (*pipeline)->Close();
  if (!st.ok()) return Fail(st);
  std::printf("rebuilt %s in %.1f s\n", table.c_str(), (MonotonicMillis() - start) / 1000.0);
  for (const auto& t : (*pipeline)->Summary()) {
    std::printf("  %-30s %10s rows  version %lld\n", t.name.c_str(), Thousands(t.rows).c_str(),
                static_cast<long long>(t.version));
  }
  return 0;
}

int RunDlqReplay(const Settings& s, const KafkaProperties& kafka_props, const DlqReplayOptions& o) {
  auto spec = LoadSpec(s);
  if (!spec.ok()) return Fail(spec.status());
  std::vector<QuarantinedRecord> records;
  if (!o.input.empty()) {
    auto r = ReadDeadLetterFile(o.input);
    if (!r.ok()) return Fail(r.status());
    for (auto& rec : *r) {
      bool match = o.rule.empty();
      for (size_t pos = 0; !match && pos <= rec.failed_rules.size();) {
        size_t comma = std::min(rec.failed_rules.find(',', pos), rec.failed_rules.size());
        match = rec.failed_rules.compare(pos, comma - pos, o.rule) == 0;
        pos = comma + 1;
      }
      if (match) records.push_back(std::move(rec));
    }
    std::printf("%zu records from %s%s\n", records.size(), o.input.c_str(),
                o.rule.empty() ? "" : fmt::format(" that failed {}", o.rule).c_str());
  } else {
    DeadLetterFilter filter;
    filter.rule = o.rule;
    filter.include_closed = o.include_closed;
    auto sel = SelectQuarantined(s.GetString("lake.root"), *spec, filter);
    if (!sel.ok()) return Fail(sel.status());
    records = std::move(sel->records);
    std::printf("%zu open quarantined records%s; left out: %s closed (silver holds their event_id), %s superseded "
                "(an event_id's older quarantine rows)\n",
                records.size(), o.rule.empty() ? "" : fmt::format(" that failed {}", o.rule).c_str(),
                Thousands(sel->closed_skipped).c_str(), Thousands(sel->superseded_skipped).c_str());
  }
  const std::string topic = TopicOf(s, *spec);
  if (o.dry_run) {
    for (const auto& r : records) std::printf("%s\n", QuarantinedRecordJson(r).c_str());
    std::printf("dry run: nothing produced to %s\n", topic.c_str());
    return 0;
  }
  if (records.empty()) return 0;
  KafkaProperties props = kafka_props;
  std::string epoch;
  if (Status st = ResolveBrokers(s, &props, &epoch); !st.ok()) return Fail(st);
  auto producer_or = KafkaProducer::Create(props, topic);
  if (!producer_or.ok()) return Fail(producer_or.status());
  auto producer = std::move(producer_or).value();
  auto probe_or = GroupLagProbe::Create(props, topic, GroupOf(s, *spec));
  if (!probe_or.ok()) return Fail(probe_or.status());
  GroupLagBytes lag(probe_or->get(), producer.get());
  const int64_t max_lag_bytes = s.GetInt("replay.max_lag_bytes");
  const std::string replayed_at = FormatTimestampIso(NowMicros());
  std::atomic<int64_t> produced{0};
  ProgressPrinter progress(s.GetInt("progress.interval_ms"), [&](double t) {
    return fmt::format("[{:7.1f}s] replayed {:>9} of {} | group lag {:>9} bytes", t, Thousands(produced.load()),
                       Thousands(static_cast<int64_t>(records.size())), Thousands(lag.cached()));
  });
  for (const auto& r : records) {
    // Paced like `produce`: the embedded broker keeps only ~5 MiB per partition.
    while (lag.Worst() > max_lag_bytes && !StopRequested().load()) {
      producer->Poll(50);
    }
    if (StopRequested().load()) break;
    KafkaHeaders h = {{"lakestream.replay.rules", r.failed_rules},
                      {"lakestream.replay.topic", r.topic},
                      {"lakestream.replay.partition", std::to_string(r.partition)},
                      {"lakestream.replay.offset", std::to_string(r.offset)},
                      {"lakestream.replay.quarantined_at", r.quarantined_at},
                      {"lakestream.replay.at", replayed_at}};
    if (Status st = producer->Produce(topic, ReplayKeyOf(r.payload, spec->KeyMember(), spec->silver.dedupe_key), r.payload, h); !st.ok()) return Fail(st);
    produced++;
  }
  Status st = producer->Flush(30000);
  if (st.ok()) st = producer->status();
  progress.Stop();
  if (!st.ok()) return Fail(st);
  std::printf("replayed %s records to %s (same event_id: silver keeps each once; records that still fail are "
              "quarantined again)\n",
              Thousands(produced.load()).c_str(), topic.c_str());
  return StopRequested().load() ? 1 : 0;
}

}  // namespace lakestream
