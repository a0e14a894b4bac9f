// `lakestream bench` (docs/benchmarks.md): end-to-end throughput, freshness and peak RSS of the orders
// pipeline on the embedded broker, against the raw consume ceiling of a bare consumer fed by the same
// producer.
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "common/ids.h"
#include "app/runner.h"
#include "app/runner_internal.h"
#include "source/kafka/embedded_broker.h"

namespace lakestream {

using namespace internal;

namespace {

constexpr const char* kTopic = "orders";

// Synthetic order events: passes over the input CSV (the bundled UCI dataset by default), each pass
// under its own source name so that event ids differ ("bench-1", "bench-2", …), until `events` were
// produced. The lines keep the dataset's shape: products, prices, quantities, countries,
// cancellations, missing customers. Runs on its own thread.
class SyntheticOrders {
 public:
  SyntheticOrders(ReplayOptions base, int64_t events, KafkaProducer* producer, std::function<int64_t()> lag_bytes)
      : base_(std::move(base)), events_(events), producer_(producer), lag_bytes_(std::move(lag_bytes)) {}
  ~SyntheticOrders() { Join(); }

  void Start() {
    thread_ = std::thread([this] {
      status_ = Run();
      done_ = true;
    });
  }
  void Stop() { stop_ = true; }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }
  bool done() const { return done_.load(); }
  int64_t produced() const {
    std::lock_guard<std::mutex> l(mu_);
    return finished_passes_ + (current_ ? current_->counters().produced.load() : 0);
  }
  const Status& status() const { return status_; }

 private:
  Status Run() {
    for (int pass = 1;; ++pass) {
      int64_t before = produced();
      if (before >= events_ || stop_.load()) return Status::OK();
      ReplayOptions o = base_;
      o.source_name = fmt::format("bench-{}", pass);
      o.max_events = events_ - before;
      {
        std::lock_guard<std::mutex> l(mu_);
        current_ = std::make_unique<Replay>(o, producer_, lag_bytes_, std::set<int64_t>{});
      }
      RETURN_IF_ERROR(current_->Run(stop_));
      std::lock_guard<std::mutex> l(mu_);
      const int64_t n = current_->counters().produced.load();
      finished_passes_ += n;
      current_.reset();
      if (n == 0) return InvalidArgument("{} has no data lines to replay", base_.input);
    }
  }

  ReplayOptions base_;
  int64_t events_;
  KafkaProducer* producer_;
  std::function<int64_t()> lag_bytes_;
  mutable std::mutex mu_;
  std::unique_ptr<Replay> current_;
  int64_t finished_passes_ = 0;
  std::atomic<bool> stop_{false}, done_{false};
  Status status_;
  std::thread thread_;
};

struct PhaseResult {
  int64_t events = 0;
  double seconds = 0;                 // from the first produce to the last commit (gold included)
  std::vector<int32_t> freshness_ms;  // per event: silver commit visible − Kafka produce timestamp
  std::vector<int32_t> commit_ms;     // per micro-batch: ProcessBatch time (bronze, silver, gold when due)
};

int64_t PeakRssKb() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;  // kilobytes on Linux (getrusage(2))
}

double Percentile(std::vector<int32_t> v, double p) {
  if (v.empty()) return 0;
  size_t k = static_cast<size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

// Polls until the consumer owns partitions, so that the group join (seconds on the mock broker) is
// not counted as processing time. Errors: the consumer's; Unavailable after 60 s.
Status WaitForAssignment(PipelineConsumer& consumer, std::vector<KafkaRecord>* sink) {
  for (int64_t start = MonotonicMillis(); consumer.Assignment().empty();) {
    RETURN_IF_ERROR(consumer.Poll(100, 10000, sink));
    if (MonotonicMillis() - start > 60000) return IoError("the consumer got no partitions within 60 s");
    if (StopRequested().load()) return Status::OK();
  }
  return Status::OK();
}

// The orders pipeline (bronze, silver, quarantine, gold) fed `events` synthetic events at `rate`
// (nullopt: as fast as backpressure allows), in a fresh lakehouse `dir` on a fresh embedded broker.
Result<PhaseResult> PipelinePhase(const Settings& s, const KafkaProperties& kafka_props, const std::string& label,
                                  const std::string& dir, int64_t events, std::optional<double> rate) {
  ASSIGN_OR_RETURN(auto broker, EmbeddedBroker::Start(kTopic, static_cast<int>(s.GetInt("kafka.partitions"))));
  KafkaProperties props = kafka_props;
  props["bootstrap.servers"] = broker->bootstrap_servers();
  ASSIGN_OR_RETURN(PipelineSpec spec, LoadSpec(s));
  ASSIGN_OR_RETURN(MedallionPipelineOptions options, PipelineOptionsFrom(s, std::move(spec), broker->epoch()));
  options.lake_root = dir;
  options.command = "bench";
  ASSIGN_OR_RETURN(auto pipeline, MedallionPipeline::Open(options));
  ASSIGN_OR_RETURN(auto producer, KafkaProducer::Create(props, kTopic));
  KafkaProducer* prod = producer.get();
  MedallionPipeline* pipe = pipeline.get();
  ASSIGN_OR_RETURN(auto consumer, PipelineConsumer::Create(props, kTopic, "lakestream-bench",
                                                           [pipe](const std::string& t, int32_t p) {
                                                             return pipe->StartOffset(t, p);
                                                           }));
  std::vector<KafkaRecord> none;
  RETURN_IF_ERROR(WaitForAssignment(*consumer, &none));
  ReplayOptions ro = ReplayOptionsFrom(s);
  ro.rate = rate;
  SyntheticOrders source(ro, events, prod, [prod, pipe]() { return UncommittedBytes(*prod, *pipe); });
  PhaseResult out;
  out.freshness_ms.reserve(static_cast<size_t>(events));
  const auto& pc = pipeline->counters();
  int64_t last_bronze = 0;
  double last_t = 0;
  ProgressPrinter progress(s.GetInt("progress.interval_ms"), [&](double t) {
    int64_t bronze = pc.bronze_rows.load(), produced = source.produced();
    std::string line = fmt::format(
        "[{} {:6.1f}s] produced {:>9} | bronze {:>9} ({:>7}/s) | silver {:>9} | gold v{} | in flight {:>7} | "
        "remaining {:>9}",
        label, t, Thousands(produced), Thousands(bronze),
        Thousands(static_cast<int64_t>((bronze - last_bronze) / std::max(1e-3, t - last_t))),
        Thousands(pc.silver_rows.load()), pc.gold_version.load(), Thousands(produced - bronze),
        Thousands(events - bronze));
    last_bronze = bronze;
    last_t = t;
    return line;
  });
  const int64_t start_ms = MonotonicMillis();
  source.Start();
  Status st = IngestLoop(
      s, *pipeline, *consumer, [&] { return source.done() && pc.bronze_rows.load() >= source.produced(); },
      [&](const std::vector<KafkaRecord>& batch, int64_t commit_ms) {
        out.commit_ms.push_back(static_cast<int32_t>(commit_ms));
        const int64_t now = NowMillis();
        for (const auto& r : batch) {
          if (r.timestamp_ms >= 0) out.freshness_ms.push_back(static_cast<int32_t>(now - r.timestamp_ms));
        }
      });
  source.Stop();
  source.Join();
  if (st.ok()) st = source.status();
  if (st.ok()) st = pipeline->Close();  // the final gold refresh counts
  out.seconds = (MonotonicMillis() - start_ms) / 1000.0;
  progress.Stop();
  consumer->Close();
  RETURN_IF_ERROR(st);
  out.events = pc.bronze_rows.load();
  return out;
}

// A bare consumer (no parsing, no tables) fed by the same producer and synthetic events: the ceiling
// of consuming from the embedded broker on this machine. Backpressure on consumed bytes.
Result<PhaseResult> RawConsumePhase(const Settings& s, const KafkaProperties& kafka_props, int64_t events) {
  ASSIGN_OR_RETURN(auto broker, EmbeddedBroker::Start(kTopic, static_cast<int>(s.GetInt("kafka.partitions"))));
  KafkaProperties props = kafka_props;
  props["bootstrap.servers"] = broker->bootstrap_servers();
  ASSIGN_OR_RETURN(auto producer, KafkaProducer::Create(props, kTopic));
  ASSIGN_OR_RETURN(auto consumer, PipelineConsumer::Create(props, kTopic, "lakestream-bench-raw",
                                                           [](const std::string&, int32_t) { return std::nullopt; }));
  std::vector<KafkaRecord> batch;
  RETURN_IF_ERROR(WaitForAssignment(*consumer, &batch));
  std::mutex mu;
  std::map<int32_t, int64_t> consumed_bytes;
  KafkaProducer* prod = producer.get();
  ReplayOptions ro = ReplayOptionsFrom(s);
  ro.rate = std::nullopt;
  SyntheticOrders source(ro, events, prod, [&]() {
    std::lock_guard<std::mutex> l(mu);
    int64_t worst = 0;
    for (const auto& [p, delivered] : prod->DeliveredBytesByPartition()) {
      worst = std::max(worst, delivered - consumed_bytes[p]);
    }
    return worst;
  });
  std::atomic<int64_t> consumed{0};
  ProgressPrinter progress(s.GetInt("progress.interval_ms"), [&](double t) {
    return fmt::format("[raw {:6.1f}s] produced {:>9} | consumed {:>9} | remaining {:>9}", t,
                       Thousands(source.produced()), Thousands(consumed.load()), Thousands(events - consumed.load()));
  });
  const int64_t start_ms = MonotonicMillis();
  source.Start();
  Status st;
  while (!StopRequested().load()) {
    batch.clear();
    st = consumer->Poll(50, 10000, &batch);
    if (!st.ok()) break;
    {
      std::lock_guard<std::mutex> l(mu);
      for (const auto& r : batch) consumed_bytes[r.partition] += static_cast<int64_t>(r.value.size());
    }
    consumed += static_cast<int64_t>(batch.size());
    if (source.done() && consumed.load() >= source.produced()) break;
  }
  PhaseResult out;
  out.seconds = (MonotonicMillis() - start_ms) / 1000.0;
  source.Stop();
  source.Join();
  progress.Stop();
  consumer->Close();
  RETURN_IF_ERROR(st);
  RETURN_IF_ERROR(source.status());
  out.events = consumed.load();
  return out;
}

std::string Rate(const PhaseResult& r) {
  return Thousands(static_cast<int64_t>(static_cast<double>(r.events) / std::max(1e-3, r.seconds)));
}

}  // namespace

int RunBench(const Settings& s, const KafkaProperties& kafka_props, const BenchOptions& o) {
  namespace fs = std::filesystem;
  std::string root = o.dir.empty() ? (fs::temp_directory_path() / ("lakestream-bench-" + RandomUuid())).string() : o.dir;
  std::error_code ec;
  if (fs::exists(root, ec) && !fs::is_empty(root, ec)) {
    return Fail(InvalidArgument("--dir {} is not empty: the benchmark writes fresh lakehouses; pass a new directory",
                                root));
  }
  const int64_t commit_ms = s.GetInt("pipeline.commit_interval_ms");
  std::printf("lakestream bench: %s synthetic order events (passes over %s), %lld partitions, commit interval %lld "
              "ms, work directory %s\n",
              Thousands(o.events).c_str(), s.GetString("replay.input").c_str(),
              static_cast<long long>(s.GetInt("kafka.partitions")), static_cast<long long>(commit_ms), root.c_str());
  std::fflush(stdout);

  auto max_rate = PipelinePhase(s, kafka_props, "pipeline", root + "/max-rate", o.events, std::nullopt);
  if (!max_rate.ok()) return Fail(max_rate.status().WithContext("pipeline phase"));
  const int64_t rss_kb = PeakRssKb();
  std::optional<PhaseResult> steady;
  if (o.steady_events > 0 && !StopRequested().load()) {
    auto r = PipelinePhase(s, kafka_props, "steady", root + "/steady", o.steady_events,
                           static_cast<double>(o.steady_rate));
    if (!r.ok()) return Fail(r.status().WithContext("steady-rate phase"));
    steady = std::move(r).value();
  }
  std::optional<PhaseResult> raw;
  if (!o.skip_raw && !StopRequested().load()) {
    auto r = RawConsumePhase(s, kafka_props, o.events);
    if (!r.ok()) return Fail(r.status().WithContext("raw consume phase"));
    raw = std::move(r).value();
  }
  if (!o.keep) fs::remove_all(root, ec);

  const auto& m = *max_rate;
  const double p99_target = static_cast<double>(commit_ms) + 250;
  std::printf("\n| measure | result | target |\n|---|---|---|\n");
  std::printf("| end-to-end throughput, embedded broker → bronze, silver, gold | %s events/s (%s events in %.1f s) | "
              "≥ 50%% of the raw ceiling |\n",
              Rate(m).c_str(), Thousands(m.events).c_str(), m.seconds);
  if (raw) {
    const double ratio = 100.0 * (static_cast<double>(m.events) / m.seconds) /
                         (static_cast<double>(raw->events) / std::max(1e-3, raw->seconds));
    std::printf("| raw consume ceiling (bare librdkafka consumer, same producer) | %s events/s (%.1f s) | |\n",
                Rate(*raw).c_str(), raw->seconds);
    std::printf("| throughput / raw ceiling | %.0f %% | ≥ 50 %% %s |\n", ratio, ratio >= 50 ? "✔" : "✘");
  }
  std::printf("| freshness at full speed (backpressure-bound), p50 / p99 | %.0f ms / %.0f ms | (queueing, see docs) |\n",
              Percentile(m.freshness_ms, 50), Percentile(m.freshness_ms, 99));
  std::printf("| micro-batches at full speed: count, commit time p50 / p99 | %zu, %.0f ms / %.0f ms | |\n",
              m.commit_ms.size(), Percentile(m.commit_ms, 50), Percentile(m.commit_ms, 99));
  if (steady) {
    std::printf("| micro-batches at the steady rate: count, commit time p50 / p99 | %zu, %.0f ms / %.0f ms | |\n",
                steady->commit_ms.size(), Percentile(steady->commit_ms, 50), Percentile(steady->commit_ms, 99));
    const double p99 = Percentile(steady->freshness_ms, 99);
    std::printf("| freshness at %s events/s (%s/day), p50 / p99 | %.0f ms / %.0f ms | p99 ≤ %.0f ms %s |\n",
                Thousands(o.steady_rate).c_str(), Thousands(o.steady_rate * 86400).c_str(),
                Percentile(steady->freshness_ms, 50), p99, p99_target, p99 <= p99_target ? "✔" : "✘");
  }
  const double rss_mb = static_cast<double>(rss_kb) * 1024.0 / 1e6;
  std::printf("| peak RSS (pipeline phase, %s events) | %.0f MB (%s KiB) | ≤ 300 MB %s |\n", Thousands(m.events).c_str(),
              rss_mb, Thousands(rss_kb).c_str(), rss_mb <= 300 ? "✔" : "✘");
  std::fflush(stdout);
  return 0;
}

}  // namespace lakestream
