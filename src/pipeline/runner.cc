#include "pipeline/runner.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/time.h"
#include "pipeline/dead_letters.h"
#include "pipeline/orders_pipeline.h"
#include "pipeline/replay.h"
#include "pipeline/runner_internal.h"
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
  return (std::filesystem::path(s.GetString("lake.root")) / "_broker").string();
}

int Fail(const Status& st) {
  std::fprintf(stderr, "lakestream: error: %s\n", st.ToString().c_str());
  return 1;
}

Result<PipelineSpec> LoadSpec(const Settings& s) {
  const std::string file = s.GetString("pipeline.file");
  if (file.empty()) return DefaultOrdersPipelineSpec();
  if (file.find(',') != std::string::npos) {
    return InvalidArgument("--pipeline {}: this command runs one pipeline; give one file", file);
  }
  return LoadPipelineSpec(file);
}

std::string TopicOf(const Settings& s, const PipelineSpec& spec) {
  return s.IsSet("kafka.topic") ? s.GetString("kafka.topic") : spec.topic;
}

std::string GroupOf(const Settings& s, const PipelineSpec& spec) {
  return s.IsSet("kafka.group_id") ? s.GetString("kafka.group_id") : spec.group_id;
}

Result<OrdersPipelineOptions> PipelineOptionsFrom(const Settings& s, const std::string& epoch) {
  OrdersPipelineOptions o;
  ASSIGN_OR_RETURN(PipelineSpec spec, LoadSpec(s));
  if (!spec.is_orders()) {
    return InvalidArgument("{}: pipeline '{}' is not the orders pipeline (format \"{}\"); this command needs "
                           "format = \"orders\"", spec.file, spec.name, spec.format);
  }
  o.rules = std::move(spec.silver);
  o.lake_root = s.GetString("lake.root");
  o.topic = TopicOf(s, spec);
  o.source_epoch = epoch;
  o.timezone = s.GetString("replay.timezone");
  o.gold_interval_ms = s.GetInt("pipeline.gold_interval_ms");
  o.duckdb_threads = static_cast<int>(s.GetInt("duckdb.threads"));
  o.duckdb_memory_limit = s.GetString("duckdb.memory_limit");
  o.auto_compact_min_files = s.GetInt("lake.auto_compact_min_files");
  o.target_file_size_bytes = s.GetInt("lake.target_file_size_bytes");
  return o;
}

ReplayOptions ReplayOptionsFrom(const Settings& s) {
  ReplayOptions o;
  o.input = s.GetString("replay.input");
  o.source_name = s.GetString("replay.source_name");
  o.rate = s.GetRate("replay.rate");
  o.speedup = s.GetDouble("replay.speedup");
  o.timezone = s.GetString("replay.timezone");
  o.max_lag_bytes = s.GetInt("replay.max_lag_bytes");
  return o;
}

int64_t UncommittedBytes(const OrderProducer& producer, const StreamingPipeline& pipeline) {
  int64_t worst = 0;
  for (const auto& [p, delivered] : producer.DeliveredBytesByPartition()) {
    worst = std::max(worst, delivered - pipeline.CommittedBytes(p));
  }
  return worst;
}

Result<OpenedPipeline> OpenPipeline(const Settings& s, const KafkaProperties& props, const std::string& epoch,
                                    const PipelineSpec& spec) {
  OpenedPipeline out;
  if (!spec.is_orders()) {
    if (s.IsSet("pipeline.dlq_topic")) {
      return InvalidArgument("--dlq-topic: the dead-letter topic is supported for the orders pipeline only; {} keeps "
                             "its bad records in {}", spec.name, spec.quarantine_table);
    }
    DeclaredPipelineOptions o;
    o.spec = spec;
    o.lake_root = s.GetString("lake.root");
    o.source_epoch = epoch;
    o.gold_interval_ms = s.GetInt("pipeline.gold_interval_ms");
    o.duckdb_threads = static_cast<int>(s.GetInt("duckdb.threads"));
    o.duckdb_memory_limit = s.GetString("duckdb.memory_limit");
    o.auto_compact_min_files = s.GetInt("lake.auto_compact_min_files");
    o.target_file_size_bytes = s.GetInt("lake.target_file_size_bytes");
    ASSIGN_OR_RETURN(out.pipeline, DeclaredPipeline::Open(o));
    return out;
  }
  ASSIGN_OR_RETURN(OrdersPipelineOptions options, PipelineOptionsFrom(s, epoch));
  const std::string dlq_topic = s.GetString("pipeline.dlq_topic");
  if (!dlq_topic.empty()) {
    // Created before the pipeline opens: its catch-up may quarantine records already.
    ASSIGN_OR_RETURN(out.dlq, OrderProducer::Create(props, dlq_topic));
  }
  ASSIGN_OR_RETURN(auto orders, OrdersPipeline::Open(options));
  out.orders = orders.get();
  out.pipeline = std::move(orders);
  if (out.dlq) {
    OrderProducer* dlq = out.dlq.get();
    out.orders->SetDeadLetterSink([dlq](const KafkaRecord& r, const std::string& rules, const std::string& reason) {
      // Header names follow Kafka Connect's dead-letter convention (__connect.errors.*), in our namespace.
      KafkaHeaders h = {{"lakestream.errors.rules", rules},
                        {"lakestream.errors.reason", reason},
                        {"lakestream.errors.topic", r.topic},
                        {"lakestream.errors.partition", std::to_string(r.partition)},
                        {"lakestream.errors.offset", std::to_string(r.offset)},
                        {"lakestream.errors.timestamp", std::to_string(r.timestamp_ms)},
                        {"lakestream.errors.quarantined_at", FormatTimestampIso(NowMicros())}};
      return dlq->Produce("", r.key.value_or(""), r.value, h);
    });
  }
  return out;
}

Status IngestLoop(const Settings& s, StreamingPipeline& pipeline, PipelineConsumer& consumer,
                  const std::function<bool()>& should_finish, const std::function<void(const std::vector<KafkaRecord>&, int64_t)>& on_commit) {
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
    if (StopRequested().load()) {
      RETURN_IF_ERROR(flush());
      return Status::OK();
    }
    size_t before = pending.size();
    RETURN_IF_ERROR(consumer.Poll(50, 10000, &pending));
    if (before == 0 && !pending.empty()) batch_started_ms = MonotonicMillis();
    bool partition_full = false;
    for (size_t i = before; i < pending.size(); ++i) {
      const auto bytes = static_cast<int64_t>(pending[i].value.size());
      pending_bytes += bytes;
      partition_full = (partition_bytes[pending[i].partition] += bytes) >= partition_flush_bytes || partition_full;
    }
    bool due = !pending.empty() && MonotonicMillis() - batch_started_ms >= commit_interval_ms;
    if (due || partition_full || pending_bytes >= max_batch_bytes) RETURN_IF_ERROR(flush());
    if (pending.empty() && should_finish()) return Status::OK();
  }
}

void PrintSummary(StreamingPipeline& pipeline, double elapsed_s, int64_t produced) {
  std::printf("\nlakestream summary (%.1f s%s)\n", elapsed_s,
              produced >= 0 ? fmt::format(", {} events produced", Thousands(produced)).c_str() : "");
  std::printf("  %-30s %10s %8s %6s %12s %10s  %s\n", "table", "rows", "version", "files", "bytes", "checkpoint",
              "location");
  for (const auto& t : pipeline.Summary()) {
    std::printf("  %-30s %10s %8lld %6lld %12s %10s  %s\n", t.name.c_str(), Thousands(t.rows).c_str(),
                static_cast<long long>(t.version), static_cast<long long>(t.files), Thousands(t.size_bytes).c_str(),
                t.checkpoint_version >= 0 ? std::to_string(t.checkpoint_version).c_str() : "-", t.uri.c_str());
  }
  const auto& c = pipeline.counters();
  if (const auto* declared = dynamic_cast<const DeclaredPipeline*>(&pipeline)) {
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
  std::printf("  checkpoints written %lld, auto-compactions %lld (%lld small files rewritten)\n",
              static_cast<long long>(c.checkpoints.load()), static_cast<long long>(c.compactions.load()),
              static_cast<long long>(c.files_compacted.load()));
  std::fflush(stdout);
}

void Serving::OnCommit(const std::vector<KafkaRecord>& records, int64_t commit_ms, PipelineConsumer& consumer) {
  if (!monitor) return;
  monitor->OnBatch(records, commit_ms);
  monitor->SetLag(consumer.Lag());
}

Result<std::optional<HttpServerOptions>> HttpOptionsFrom(const Settings& s) {
  if (s.GetBool("http.disabled")) return std::optional<HttpServerOptions>();
  ASSIGN_OR_RETURN(HttpServerOptions o, HttpServerOptionsFrom(s));
  return std::optional<HttpServerOptions>(o);
}

Result<Serving> StartServing(const std::optional<HttpServerOptions>& options, const Settings& s,
                             const StreamingPipeline& pipeline, const std::string& command,
                             std::function<int64_t()> produced) {
  Serving out;
  if (!options) return out;
  PipelineInfo info;
  ASSIGN_OR_RETURN(PipelineSpec spec, LoadSpec(s));
  info.name = pipeline.name();
  info.command = command;
  info.topic = TopicOf(s, spec);
  info.group_id = GroupOf(s, spec);
  info.lake_root = s.GetString("lake.root");
  ASSIGN_OR_RETURN(out.lake, LakeQueries::Open(info.lake_root));
  out.monitor = std::make_unique<PipelineMonitor>(info, pipeline, metrics::Registry::Default(), std::move(produced));
  ASSIGN_OR_RETURN(out.server, HttpServer::Start(*options, *out.lake, {out.monitor.get()}, metrics::Registry::Default()));
  std::printf("dashboard: %s  (API %sapi/v1, metrics %smetrics)\n", out.server->url().c_str(), out.server->url().c_str(),
              out.server->url().c_str());
  std::fflush(stdout);
  return out;
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


// Starts the embedded broker for `topic` unless kafka.brokers is set (then returns null); fills
// bootstrap.servers and the source epoch, writes the broker file and prints the address.
Result<std::unique_ptr<EmbeddedBroker>> StartBrokerUnlessExternal(const Settings& s, const std::string& topic,
                                                                  KafkaProperties* props, std::string* epoch) {
  if (s.IsSet("kafka.brokers")) {
    (*props)["bootstrap.servers"] = s.GetString("kafka.brokers");
    *epoch = s.GetString("source.epoch");
    return std::unique_ptr<EmbeddedBroker>();
  }
  ASSIGN_OR_RETURN(auto broker, EmbeddedBroker::Start(topic, static_cast<int>(s.GetInt("kafka.partitions"))));
  (*props)["bootstrap.servers"] = broker->bootstrap_servers();
  *epoch = broker->epoch();
  RETURN_IF_ERROR(broker->WriteBrokerFile(BrokerFile(s)));
  std::printf("embedded Kafka broker: %s (topic '%s', %lld partitions); address written to %s\n",
              broker->bootstrap_servers().c_str(), topic.c_str(), static_cast<long long>(s.GetInt("kafka.partitions")),
              BrokerFile(s).c_str());
  std::fflush(stdout);
  return broker;
}

// `run`'s core: `produce` on its own thread (it returns when `stop` becomes true or it is done) while
// the consume/commit loop runs here until `produced_all()` (or Ctrl-C; never with --follow), then the
// pipeline is closed. Returns the first error of the loop, the producer or Close.
Status ProduceAndIngest(const Settings& s, StreamingPipeline& pipeline, PipelineConsumer& consumer, Serving& serving,
                        ProgressPrinter& progress, const std::function<Status(const std::atomic<bool>&)>& produce,
                        const std::function<bool()>& produced_all) {
  Status produce_status;
  std::atomic<bool> produce_stop{false};
  std::thread producer_thread([&] {
    produce_status = produce(produce_stop);
    if (!produce_status.ok()) StopRequested() = true;
  });
  const bool follow = s.GetBool("run.follow");
  serving.SetState("running");
  Status st = IngestLoop(
      s, pipeline, consumer, [&] { return !follow && produced_all(); },
      [&](const std::vector<KafkaRecord>& records, int64_t ms) { serving.OnCommit(records, ms, consumer); });
  serving.SetState(st.ok() ? "stopping" : "failed", st.ok() ? "" : st.message());
  produce_stop = true;
  producer_thread.join();
  progress.Stop();
  if (st.ok() && !produce_status.ok()) st = produce_status;
  Status close = pipeline.Close();
  return st.ok() ? close : st;
}
}  // namespace

// `run` for a pipeline with a built-in generator: embedded broker (unless --brokers), generator thread,
// pipeline and dashboard in one process.
int RunGenerated(const Settings& s, const KafkaProperties& kafka_props, const std::optional<HttpServerOptions>& http,
                 const PipelineSpec& spec) {
  auto gen_opts = GeneratorOptionsFrom(s, spec);
  if (!gen_opts.ok()) return Fail(gen_opts.status());
  const std::string topic = TopicOf(s, spec);
  KafkaProperties props = kafka_props;
  std::string epoch;
  auto broker = StartBrokerUnlessExternal(s, topic, &props, &epoch);
  if (!broker.ok()) return Fail(broker.status());
  auto opened_or = OpenPipeline(s, props, epoch, spec);
  if (!opened_or.ok()) return Fail(opened_or.status());
  OpenedPipeline opened = std::move(opened_or).value();
  StreamingPipeline* pipe = opened.pipeline.get();
  auto producer_or = OrderProducer::Create(props, topic);
  if (!producer_or.ok()) return Fail(producer_or.status());
  auto producer = std::move(producer_or).value();
  OrderProducer* prod = producer.get();
  NotificationGenerator gen(*gen_opts, prod, [prod, pipe]() { return UncommittedBytes(*prod, *pipe); });
  const int64_t bronze_at_start = pipe->counters().bronze_rows.load();
  auto consumer_or = PipelineConsumer::Create(props, topic, GroupOf(s, spec), [pipe](const std::string& t, int32_t p) {
    return pipe->StartOffset(t, p);
  });
  if (!consumer_or.ok()) return Fail(consumer_or.status());
  auto consumer = std::move(consumer_or).value();
  const auto& gc = gen.counters();
  auto serving_or = StartServing(http, s, *pipe, "run", [&gc]() { return gc.produced.load(); });
  if (!serving_or.ok()) return Fail(serving_or.status());
  Serving serving = std::move(serving_or).value();

  const auto& pc = pipe->counters();
  int64_t last_produced = 0, last_bronze = bronze_at_start;
  double last_t = 0;
  ProgressPrinter progress(s.GetInt("progress.interval_ms"), [&](double t) {
    double dt = std::max(1e-3, t - last_t);
    int64_t produced = gc.produced.load(), bronze = pc.bronze_rows.load();
    std::string line = fmt::format(
        "[{:7.1f}s] generated {:>10} ({:>7}/s) | bronze {:>10} ({:>7}/s) v{} | silver {:>10} | quarantine {:>5} | "
        "gold v{} | uncommitted {:>6} | event time {}{}",
        t, Thousands(produced), Thousands(static_cast<int64_t>((produced - last_produced) / dt)), Thousands(bronze),
        Thousands(static_cast<int64_t>((bronze - last_bronze) / dt)), pc.bronze_version.load(),
        Thousands(pc.silver_rows.load()), Thousands(pc.quarantine_rows.load()), pc.gold_version.load(),
        Thousands(std::max<int64_t>(0, produced - (bronze - bronze_at_start))),
        gc.event_time_us.load() ? FormatTimestampIso(gc.event_time_us.load()).substr(0, 19) : std::string("-"),
        gen_opts->limit > 0 ? fmt::format(" | {:.0f}% of {}", 100.0 * produced / gen_opts->limit,
                                          Thousands(gen_opts->limit))
                            : std::string());
    last_produced = produced;
    last_bronze = bronze;
    last_t = t;
    return line;
  });
  Status st = ProduceAndIngest(
      s, *pipe, *consumer, serving, progress, [&gen](const std::atomic<bool>& stop) { return gen.Run(stop); },
      [&] { return gc.done.load() && pc.bronze_rows.load() - bronze_at_start >= gc.produced.load(); });
  consumer->Close();
  serving.Stop();
  if (!st.ok()) return Fail(st);
  PrintSummary(*pipe, progress.elapsed_s(), gc.produced.load());
  std::printf("  generator: %s duplicates, %s late (within minutes), %s very late (12-36 h)\n",
              Thousands(gc.duplicates.load()).c_str(), Thousands(gc.late.load()).c_str(),
              Thousands(gc.very_late.load()).c_str());
  return 0;
}

int RunMain(const Settings& s, const KafkaProperties& kafka_props) {
  auto http = HttpOptionsFrom(s);
  if (!http.ok()) return Fail(http.status());
  auto spec_or = LoadSpec(s);
  if (!spec_or.ok()) return Fail(spec_or.status());
  if (!spec_or->is_orders()) return RunGenerated(s, kafka_props, *http, *spec_or);
  const PipelineSpec& spec = *spec_or;
  const std::string topic = TopicOf(s, spec);
  KafkaProperties props = kafka_props;
  std::string epoch;
  auto broker_or = StartBrokerUnlessExternal(s, topic, &props, &epoch);
  if (!broker_or.ok()) return Fail(broker_or.status());
  std::unique_ptr<EmbeddedBroker> broker = std::move(broker_or).value();
  if (broker && s.IsSet("pipeline.dlq_topic")) {
    if (Status st = broker->CreateTopic(s.GetString("pipeline.dlq_topic"), 1); !st.ok()) return Fail(st);
  }
  auto opened_or = OpenPipeline(s, props, epoch, spec);
  if (!opened_or.ok()) return Fail(opened_or.status());
  OpenedPipeline opened = std::move(opened_or).value();
  auto& pipeline = opened.pipeline;

  ReplayOptions ropts = ReplayOptionsFrom(s);
  if (ropts.source_name.empty()) ropts.source_name = DefaultSourceName(ropts.input);
  auto skip = opened.orders->CommittedSourceLines(ropts.source_name);
  if (!skip.ok()) return Fail(skip.status());
  if (!skip->empty()) {
    std::printf("resuming: %s lines of %s are already in bronze and will not be produced again\n",
                Thousands(static_cast<int64_t>(skip->size())).c_str(), ropts.source_name.c_str());
  }
  auto producer_or = OrderProducer::Create(props, topic);
  if (!producer_or.ok()) return Fail(producer_or.status());
  auto producer = std::move(producer_or).value();
  OrderProducer* prod = producer.get();
  StreamingPipeline* pipe = pipeline.get();
  Replay replay(ropts, prod, [prod, pipe]() { return UncommittedBytes(*prod, *pipe); }, std::move(skip).value());
  const int64_t bronze_at_start = pipeline->counters().bronze_rows.load();

  auto consumer_or = PipelineConsumer::Create(
      props, topic, GroupOf(s, spec),
      [pipe](const std::string& t, int32_t p) { return pipe->StartOffset(t, p); });
  if (!consumer_or.ok()) return Fail(consumer_or.status());
  auto consumer = std::move(consumer_or).value();

  auto serving_or = StartServing(*http, s, *pipeline, "run", [&replay]() { return replay.counters().produced.load(); });
  if (!serving_or.ok()) return Fail(serving_or.status());
  Serving serving = std::move(serving_or).value();

  const auto& rc = replay.counters();
  const auto& pc = pipeline->counters();
  int64_t last_produced = 0, last_bronze = bronze_at_start;
  double last_t = 0;
  ProgressPrinter progress(s.GetInt("progress.interval_ms"), [&](double t) {
    double dt = std::max(1e-3, t - last_t);
    int64_t produced = rc.produced.load(), bronze = pc.bronze_rows.load();
    std::string line = fmt::format(
        "[{:7.1f}s] produced {:>9} ({:>7}/s) | bronze {:>9} ({:>7}/s) v{} | silver {:>9} | quarantine {:>5} | gold v{} "
        "| uncommitted {:>6} | event time {}",
        t, Thousands(produced), Thousands(static_cast<int64_t>((produced - last_produced) / dt)), Thousands(bronze),
        Thousands(static_cast<int64_t>((bronze - last_bronze) / dt)), pc.bronze_version.load(),
        Thousands(pc.silver_rows.load()), Thousands(pc.quarantine_rows.load()), pc.gold_version.load(),
        Thousands(std::max<int64_t>(0, produced - (bronze - bronze_at_start))),
        rc.event_time_us.load() ? FormatTimestampIso(rc.event_time_us.load()).substr(0, 16) : std::string("-"));
    last_produced = produced;
    last_bronze = bronze;
    last_t = t;
    return line;
  });

  Status st = ProduceAndIngest(
      s, *pipeline, *consumer, serving, progress, [&replay](const std::atomic<bool>& stop) { return replay.Run(stop); },
      [&] { return rc.done.load() && pc.bronze_rows.load() - bronze_at_start >= rc.produced.load(); });
  if (opened.dlq) {
    Status flushed = opened.dlq->Flush(10000).WithContext("dead-letter topic");
    if (st.ok()) st = flushed;
  }
  consumer->Close();
  serving.Stop();
  if (!st.ok()) return Fail(st);
  PrintSummary(*pipeline, progress.elapsed_s(), rc.produced.load());
  if (rc.contract_violations.load() > 0) {
    std::printf("  note: %s source lines broke the event contract or the CSV layout; they were published and "
                "quarantined by silver\n",
                Thousands(rc.contract_violations.load()).c_str());
  }
  return 0;
}

int RunBroker(const Settings& s) {
  auto spec = LoadSpec(s);
  if (!spec.ok()) return Fail(spec.status());
  const std::string topic = TopicOf(s, *spec);
  auto b = EmbeddedBroker::Start(topic, static_cast<int>(s.GetInt("kafka.partitions")));
  if (!b.ok()) return Fail(b.status());
  if (Status st = (*b)->WriteBrokerFile(BrokerFile(s)); !st.ok()) return Fail(st);
  std::printf("embedded Kafka broker listening on %s (topic '%s', %lld partitions)\n", (*b)->bootstrap_servers().c_str(),
              topic.c_str(), static_cast<long long>(s.GetInt("kafka.partitions")));
  std::printf("bootstrap address written to %s; Ctrl-C stops the broker (its topics are lost)\n",
              BrokerFile(s).c_str());
  std::fflush(stdout);
  while (!StopRequested().load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  return 0;
}

namespace {
Status ResolveBrokers(const Settings& s, KafkaProperties* props, std::string* epoch) {
  // Offsets on an external cluster and on a `lakestream broker` process are stable across client
  // restarts, so no epoch unless the user sets one.
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
  return Status::OK();
}

// The worst partition's lag of the consumer group in bytes: its committed-offset lag in messages
// times the mean size of the records `producer` delivered. Refreshed at most every 200 ms.
class GroupLagBytes {
 public:
  GroupLagBytes(GroupLagProbe* probe, OrderProducer* producer) : probe_(probe), producer_(producer) {}
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
  OrderProducer* producer_;
  int64_t cached_ = 0, checked_ms_ = 0;
};
}  // namespace

int RunProduce(const Settings& s, const KafkaProperties& kafka_props) {
  KafkaProperties props = kafka_props;
  std::string epoch;
  if (Status st = ResolveBrokers(s, &props, &epoch); !st.ok()) return Fail(st);
  auto spec = LoadSpec(s);
  if (!spec.ok()) return Fail(spec.status());
  const std::string topic = TopicOf(s, *spec);
  auto producer_or = OrderProducer::Create(props, topic);
  if (!producer_or.ok()) return Fail(producer_or.status());
  auto producer = std::move(producer_or).value();
  auto probe_or = GroupLagProbe::Create(props, topic, GroupOf(s, *spec));
  if (!probe_or.ok()) return Fail(probe_or.status());
  auto probe = std::move(probe_or).value();
  if (!spec->is_orders()) {
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
  OrderProducer* prod = producer.get();
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

int RunIngest(const Settings& s, const KafkaProperties& kafka_props) {
  auto http = HttpOptionsFrom(s);
  if (!http.ok()) return Fail(http.status());
  KafkaProperties props = kafka_props;
  std::string epoch;
  if (Status st = ResolveBrokers(s, &props, &epoch); !st.ok()) return Fail(st);
  auto spec = LoadSpec(s);
  if (!spec.ok()) return Fail(spec.status());
  auto opened_or = OpenPipeline(s, props, epoch, *spec);
  if (!opened_or.ok()) return Fail(opened_or.status());
  OpenedPipeline opened = std::move(opened_or).value();
  auto& pipeline = opened.pipeline;
  StreamingPipeline* pipe = pipeline.get();
  auto consumer_or = PipelineConsumer::Create(props, TopicOf(s, *spec), GroupOf(s, *spec),
                                              [pipe](const std::string& t, int32_t p) { return pipe->StartOffset(t, p); });
  if (!consumer_or.ok()) return Fail(consumer_or.status());
  auto consumer = std::move(consumer_or).value();
  const auto& pc = pipeline->counters();
  int64_t last_bronze = pc.bronze_rows.load();
  double last_t = 0;
  ProgressPrinter progress(s.GetInt("progress.interval_ms"), [&](double t) {
    int64_t bronze = pc.bronze_rows.load();
    std::string line = fmt::format(
        "[{:7.1f}s] bronze {:>9} ({:>7}/s) v{} | silver {:>9} | quarantine {:>5} | gold v{}", t, Thousands(bronze),
        Thousands(static_cast<int64_t>((bronze - last_bronze) / std::max(1e-3, t - last_t))), pc.bronze_version.load(),
        Thousands(pc.silver_rows.load()), Thousands(pc.quarantine_rows.load()), pc.gold_version.load());
    last_bronze = bronze;
    last_t = t;
    return line;
  });
  auto serving_or = StartServing(*http, s, *pipeline, "ingest", nullptr);
  if (!serving_or.ok()) return Fail(serving_or.status());
  Serving serving = std::move(serving_or).value();
  const bool follow = s.GetBool("run.follow");
  int64_t idle_exit_ms = s.GetInt("run.idle_exit_ms");
  if (idle_exit_ms == 0) idle_exit_ms = 5000;
  int64_t last_rows = pc.bronze_rows.load(), last_change_ms = MonotonicMillis();
  Status st = IngestLoop(s, *pipeline, *consumer, [&] {
    if (follow) return false;
    // The idle clock starts once the group has assigned partitions (joining takes a few seconds).
    if (pc.bronze_rows.load() != last_rows || consumer->Assignment().empty()) {
      last_rows = pc.bronze_rows.load();
      last_change_ms = MonotonicMillis();
    }
    return MonotonicMillis() - last_change_ms >= idle_exit_ms;
  }, [&](const std::vector<KafkaRecord>& records, int64_t ms) { serving.OnCommit(records, ms, *consumer); });
  serving.SetState(st.ok() ? "stopping" : "failed", st.ok() ? "" : st.message());
  progress.Stop();
  Status close = pipeline->Close();
  if (st.ok()) st = close;
  if (opened.dlq) {
    Status flushed = opened.dlq->Flush(10000).WithContext("dead-letter topic");
    if (st.ok()) st = flushed;
  }
  consumer->Close();
  serving.Stop();
  if (!st.ok()) return Fail(st);
  PrintSummary(*pipeline, progress.elapsed_s(), -1);
  return 0;
}

int RunDlqReplay(const Settings& s, const KafkaProperties& kafka_props, const DlqReplayOptions& o) {
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
    auto sel = SelectQuarantined(s.GetString("lake.root"), filter);
    if (!sel.ok()) return Fail(sel.status());
    records = std::move(sel->records);
    std::printf("%zu open quarantined records%s; left out: %s closed (silver holds their event_id), %s superseded "
                "(an event_id's older quarantine rows)\n",
                records.size(), o.rule.empty() ? "" : fmt::format(" that failed {}", o.rule).c_str(),
                Thousands(sel->closed_skipped).c_str(), Thousands(sel->superseded_skipped).c_str());
  }
  auto spec = LoadSpec(s);
  if (!spec.ok()) return Fail(spec.status());
  if (!spec->is_orders()) return Fail(InvalidArgument("dlq replay: supported for the orders pipeline only"));
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
  auto producer_or = OrderProducer::Create(props, topic);
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
    if (Status st = producer->Produce(topic, ReplayKeyOf(r.payload), r.payload, h); !st.ok()) return Fail(st);
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
