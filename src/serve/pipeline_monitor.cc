#include "serve/pipeline_monitor.h"

#include <algorithm>
#include <set>

#include "common/json_writer.h"
#include "common/time.h"

namespace lakestream {

namespace {

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  size_t k = static_cast<size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

template <typename T>
void Trim(std::deque<std::pair<int64_t, T>>& d, int64_t older_than_ms) {
  while (!d.empty() && d.front().first < older_than_ms) d.pop_front();
}

}  // namespace

PipelineMonitor::PipelineMonitor(PipelineInfo info, const StreamingPipeline& pipeline, metrics::Registry& r,
                                 std::function<int64_t()> produced)
    : info_(std::move(info)), pipeline_(pipeline), produced_(std::move(produced)), started_at_us_(NowMicros()),
      registry_(r) {
  const std::vector<std::string> pl = {"pipeline"}, pll = {"pipeline", "layer"};
  const metrics::LabelValues p = {info_.name};
  auto& in = r.CounterFamily("lakestream_layer_events_in_total",
                             "Records entering a layer: bronze from Kafka, silver from bronze, gold from silver", pll);
  auto& out = r.CounterFamily("lakestream_layer_events_out_total",
                              "Rows a layer committed: bronze, silver, quarantine", pll);
  bronze_in_ = &in.WithLabels({info_.name, "bronze"});
  silver_in_ = &in.WithLabels({info_.name, "silver"});
  gold_in_ = &in.WithLabels({info_.name, "gold"});
  bronze_out_ = &out.WithLabels({info_.name, "bronze"});
  silver_out_ = &out.WithLabels({info_.name, "silver"});
  quarantine_out_ = &out.WithLabels({info_.name, "quarantine"});
  consumed_total_ = &r.CounterFamily("lakestream_consumed_records_total", "Kafka records consumed", pl).WithLabels(p);
  consumed_bytes_total_ =
      &r.CounterFamily("lakestream_consumed_bytes_total", "Kafka record payload bytes consumed", pl).WithLabels(p);
  auto& dropped = r.CounterFamily("lakestream_silver_rows_dropped_total",
                                  "Bronze rows silver left out: redelivered duplicates (same event_id) or a drop "
                                  "expectation", {"pipeline", "reason"});
  dropped_dupes_ = &dropped.WithLabels({info_.name, "duplicate"});
  dropped_rules_ = &dropped.WithLabels({info_.name, "expectation"});
  batches_total_ = &r.CounterFamily("lakestream_micro_batches_total", "Micro-batches committed", pl).WithLabels(p);
  commit_seconds_ = &r.HistogramFamily("lakestream_commit_duration_seconds",
                                       "Time to commit one micro-batch to bronze, silver and quarantine (and gold when "
                                       "due)", pl, metrics::LatencyBucketsSeconds())
                         .WithLabels(p);
  freshness_seconds_ = &r.HistogramFamily("lakestream_freshness_seconds",
                                          "Per record: silver commit visible minus the Kafka record timestamp", pl,
                                          metrics::LatencyBucketsSeconds())
                            .WithLabels(p);
  lag_family_ = &r.GaugeFamily("lakestream_consumer_lag_messages",
                               "High watermark minus the next offset to read, per assigned partition",
                               {"pipeline", "topic", "partition"});
  quarantined_family_ = &r.CounterFamily("lakestream_quarantined_records_total",
                                         "Records silver quarantined, by expectation (rule)", {"pipeline", "rule"});
  expectation_family_ = &r.CounterFamily("lakestream_expectation_failures_total",
                                         "Rows that failed an expectation, by expectation and action",
                                         {"pipeline", "expectation", "action"});
  up_ = &r.GaugeFamily("lakestream_pipeline_running", "1 while the pipeline's consume loop runs", pl).WithLabels(p);
  const auto& c = pipeline_.counters();
  last_bronze_ = c.bronze_rows.load();
  last_silver_ = c.silver_rows.load();
  last_quarantine_ = c.quarantine_rows.load();
  last_dropped_dupes_ = c.duplicates_dropped.load();
  last_dropped_rules_ = c.expectation_drops.load();
  for (const auto& e : pipeline_.ExpectationCounts()) last_failed_[e.name] = e.failed;
  last_sample_ms_ = MonotonicMillis();
}

void PipelineMonitor::SetState(const std::string& state, const std::string& detail) {
  std::lock_guard<std::mutex> lock(mu_);
  state_ = state;
  detail_ = detail;
  up_->Set(state == "running" || state == "idle" ? 1 : 0);
}

void PipelineMonitor::OnBatch(const std::vector<KafkaRecord>& records, int64_t commit_ms) {
  const int64_t now = NowMillis();
  std::set<std::string_view> keys;  // distinct record keys: orders (TransactionNo), customers, …
  int64_t bytes = 0;
  std::vector<int32_t> fresh;
  fresh.reserve(records.size());
  for (const auto& r : records) {
    bytes += static_cast<int64_t>(r.value.size());
    if (r.key) keys.insert(*r.key);
    if (r.timestamp_ms > 0) {
      const int64_t f = std::max<int64_t>(0, now - r.timestamp_ms);
      fresh.push_back(static_cast<int32_t>(std::min<int64_t>(f, INT32_MAX)));
      freshness_seconds_->Observe(static_cast<double>(f) / 1000.0);
    }
  }
  commit_seconds_->Observe(static_cast<double>(commit_ms) / 1000.0);
  consumed_total_->Increment(static_cast<double>(records.size()));
  consumed_bytes_total_->Increment(static_cast<double>(bytes));
  bronze_in_->Increment(static_cast<double>(records.size()));
  batches_total_->Increment();
  std::lock_guard<std::mutex> lock(mu_);
  consumed_ += static_cast<int64_t>(records.size());
  consumed_bytes_ += bytes;
  for (int32_t f : fresh) freshness_.emplace_back(now, f);
  commits_.emplace_back(now, commit_ms);
  keys_.emplace_back(now, static_cast<int64_t>(keys.size()));
  const int64_t horizon = now - kWindowSeconds * 1000;
  Trim(freshness_, horizon);
  Trim(commits_, horizon);
  Trim(keys_, horizon);
  // Bounded memory at any rate: keep at most 200,000 freshness samples (a uniform thinning would be
  // better; dropping the oldest keeps the recent ones, which the dashboard shows).
  while (freshness_.size() > 200000) freshness_.pop_front();
}

void PipelineMonitor::SetLag(const std::map<int32_t, int64_t>& lag_messages) {
  std::lock_guard<std::mutex> lock(mu_);
  lag_ = lag_messages;
  for (const auto& [p, n] : lag_messages) {
    lag_family_->WithLabels({info_.name, info_.topic, std::to_string(p)}).Set(static_cast<double>(n));
  }
}

int64_t PipelineMonitor::KeysLastMinuteLocked(int64_t now_ms) const {
  int64_t n = 0;
  for (const auto& [t, k] : keys_) {
    if (t >= now_ms - 60000) n += k;
  }
  return n;
}

FreshnessSummary PipelineMonitor::Freshness() const {
  std::vector<double> v;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const int64_t horizon = NowMillis() - kWindowSeconds * 1000;
    for (const auto& [t, f] : freshness_) {
      if (t >= horizon) v.push_back(f);
    }
  }
  FreshnessSummary s;
  s.samples = static_cast<int64_t>(v.size());
  if (v.empty()) return s;
  s.max_ms = *std::max_element(v.begin(), v.end());
  s.p50_ms = Percentile(v, 50);
  s.p99_ms = Percentile(std::move(v), 99);
  return s;
}

void PipelineMonitor::Sample() {
  const auto& c = pipeline_.counters();
  const int64_t bronze = c.bronze_rows.load(), silver = c.silver_rows.load(), quarantine = c.quarantine_rows.load();
  const int64_t dupes = c.duplicates_dropped.load(), drops = c.expectation_drops.load();
  const auto expectations = pipeline_.ExpectationCounts();
  const FreshnessSummary fr = Freshness();
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now_mono = MonotonicMillis();
  const double dt = std::max(1e-3, static_cast<double>(now_mono - last_sample_ms_) / 1000.0);
  auto delta = [](int64_t now, int64_t& last) {
    const int64_t d = std::max<int64_t>(0, now - last);
    last = std::max(last, now);
    return d;
  };
  const int64_t d_consumed = delta(consumed_, last_consumed_);
  const int64_t d_bronze = delta(bronze, last_bronze_), d_silver = delta(silver, last_silver_);
  const int64_t d_quarantine = delta(quarantine, last_quarantine_);
  bronze_out_->Increment(static_cast<double>(d_bronze));
  silver_in_->Increment(static_cast<double>(d_bronze));
  silver_out_->Increment(static_cast<double>(d_silver));
  gold_in_->Increment(static_cast<double>(d_silver));
  quarantine_out_->Increment(static_cast<double>(d_quarantine));
  dropped_dupes_->Increment(static_cast<double>(delta(dupes, last_dropped_dupes_)));
  dropped_rules_->Increment(static_cast<double>(delta(drops, last_dropped_rules_)));
  for (const auto& e : expectations) {
    int64_t& last = last_failed_[e.name];
    const int64_t d = delta(e.failed, last);
    const std::string action = ExpectationActionName(e.action);
    expectation_family_->WithLabels({info_.name, e.name, action}).Increment(static_cast<double>(d));
    if (e.action == ExpectationAction::kQuarantine) {
      quarantined_family_->WithLabels({info_.name, e.name}).Increment(static_cast<double>(d));
    }
  }
  rate_consumed_ = static_cast<double>(d_consumed) / dt;
  rate_bronze_ = static_cast<double>(d_bronze) / dt;
  rate_silver_ = static_cast<double>(d_silver) / dt;
  rate_quarantine_ = static_cast<double>(d_quarantine) / dt;
  last_sample_ms_ = now_mono;
  int64_t lag_total = 0;
  for (const auto& [p, n] : lag_) lag_total += n;
  const int64_t now = NowMillis();
  history_.push_back({now, rate_consumed_, rate_bronze_, rate_silver_, rate_quarantine_, lag_total, fr.p50_ms,
                      fr.p99_ms, KeysLastMinuteLocked(now)});
  while (history_.size() > kHistoryPoints) history_.pop_front();
}

void PipelineMonitor::WriteStatus(JsonWriter& w, bool with_history) const {
  const FreshnessSummary fr = Freshness();
  const auto& c = pipeline_.counters();
  const auto expectations = pipeline_.ExpectationCounts();
  const int64_t produced = produced_ ? produced_() : -1;
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now = NowMillis();
  w.BeginObject();
  w.Key("name").String(info_.name);
  w.Key("command").String(info_.command);
  w.Key("state").String(state_);
  w.Key("detail").String(detail_);
  w.Key("topic").String(info_.topic);
  w.Key("group_id").String(info_.group_id);
  w.Key("started_at").String(FormatTimestampIso(started_at_us_));
  w.Key("uptime_s").Double(static_cast<double>(NowMicros() - started_at_us_) / 1e6);
  w.Key("counters").BeginObject();
  if (produced >= 0) w.Key("produced").Int(produced);
  w.Key("consumed").Int(consumed_);
  w.Key("consumed_bytes").Int(consumed_bytes_);
  w.Key("bronze_rows").Int(c.bronze_rows.load());
  w.Key("silver_rows").Int(c.silver_rows.load());
  w.Key("quarantine_rows").Int(c.quarantine_rows.load());
  w.Key("duplicates_dropped").Int(c.duplicates_dropped.load());
  w.Key("expectation_drops").Int(c.expectation_drops.load());
  w.Key("repeated_lines").Int(c.repeated_lines.load());
  w.Key("dead_lettered").Int(c.dead_lettered.load());
  w.Key("batches").Int(c.batches.load());
  w.Key("gold_refreshes").Int(c.gold_refreshes.load());
  w.Key("compactions").Int(c.compactions.load());
  w.Key("checkpoints").Int(c.checkpoints.load());
  w.EndObject();
  w.Key("rates").BeginObject();
  w.Key("consumed_per_s").Double(rate_consumed_);
  w.Key("bronze_per_s").Double(rate_bronze_);
  w.Key("silver_per_s").Double(rate_silver_);
  w.Key("quarantine_per_s").Double(rate_quarantine_);
  w.EndObject();
  int64_t lag_total = 0;
  w.Key("lag").BeginObject().Key("partitions").BeginObject();
  for (const auto& [p, n] : lag_) {
    w.Key(std::to_string(p)).Int(n);
    lag_total += n;
  }
  w.EndObject().Key("total").Int(lag_total).EndObject();
  w.Key("freshness_ms").BeginObject();
  w.Key("p50").Double(fr.p50_ms).Key("p99").Double(fr.p99_ms).Key("max").Double(fr.max_ms);
  w.Key("samples").Int(fr.samples).Key("window_s").Int(kWindowSeconds);
  w.EndObject();
  std::vector<double> commit_ms;
  for (const auto& [t, d] : commits_) commit_ms.push_back(static_cast<double>(d));
  w.Key("commit_ms").BeginObject();
  w.Key("p50").Double(Percentile(commit_ms, 50)).Key("p99").Double(Percentile(commit_ms, 99));
  w.Key("batches").Int(static_cast<int64_t>(commit_ms.size())).Key("window_s").Int(kWindowSeconds);
  w.EndObject();
  // keys_per_minute: distinct record keys committed in the last minute (orders for the orders pipeline,
  // customers for notifications); orders_per_minute is its former name, kept for existing clients.
  w.Key("keys_per_minute").Int(KeysLastMinuteLocked(now));
  w.Key("orders_per_minute").Int(KeysLastMinuteLocked(now));
  w.Key("expectations").BeginArray();
  for (const auto& e : expectations) {
    w.BeginObject().Key("name").String(e.name).Key("action").String(ExpectationActionName(e.action));
    w.Key("failed").Int(e.failed).EndObject();
  }
  w.EndArray();
  w.Key("versions").BeginObject();
  const std::vector<std::string> tables = pipeline_.Tables();
  w.Key(tables.at(0)).Int(c.bronze_version.load());
  w.Key(tables.at(1)).Int(c.silver_version.load());
  w.Key(tables.at(2)).Int(c.quarantine_version.load());
  w.Key("gold").Int(c.gold_version.load());
  w.EndObject();
  if (with_history) {
    w.Key("history").BeginArray();
    for (const auto& p : history_) {
      w.BeginObject().Key("t").Int(p.t_ms).Key("consumed").Double(p.consumed).Key("bronze").Double(p.bronze);
      w.Key("silver").Double(p.silver).Key("quarantine").Double(p.quarantine).Key("lag").Int(p.lag);
      w.Key("freshness_p50_ms").Double(p.p50).Key("freshness_p99_ms").Double(p.p99);
      w.Key("keys_per_minute").Int(p.keys_per_minute).Key("orders_per_minute").Int(p.keys_per_minute).EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
}

std::string PipelineMonitor::StatusJson() const {
  JsonWriter w;
  WriteStatus(w, false);
  return w.Take();
}

std::string PipelineMonitor::StatusWithHistoryJson() const {
  JsonWriter w;
  WriteStatus(w, true);
  return w.Take();
}

}  // namespace lakestream
