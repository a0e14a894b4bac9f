#include "serve/metrics.h"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

namespace lakestream::metrics {

namespace {

bool ValidName(const std::string& n) {
  if (n.empty()) return false;
  for (size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

void AtomicAdd(std::atomic<double>& a, double by) {
  double cur = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(cur, cur + by, std::memory_order_relaxed)) {
  }
}

// A sample value: integers without a fraction, +Inf/-Inf/NaN as the format spells them.
std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{}", static_cast<int64_t>(v));
  return fmt::format("{}", v);
}

std::string EscapeLabel(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string EscapeHelp(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string LabelText(const std::vector<std::string>& names, const LabelValues& values, const std::string& extra = "") {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    out += (out.empty() ? "" : ",") + names[i] + "=\"" + EscapeLabel(values[i]) + "\"";
  }
  if (!extra.empty()) out += (out.empty() ? "" : ",") + extra;
  return out.empty() ? "" : "{" + out + "}";
}

// # HELP, # TYPE and one sample per series, for families whose series hold one value.
template <typename T>
void RenderValues(const Family<T>& f, const char* type, std::string* out) {
  *out += "# HELP " + f.name() + " " + EscapeHelp(f.help()) + "\n# TYPE " + f.name() + " " + type + "\n";
  for (const auto& [lv, s] : f.Series()) *out += f.name() + LabelText(f.label_names(), lv) + " " + FormatValue(s->value()) + "\n";
}

}  // namespace

void Counter::Increment(double by) {
  if (by < 0) throw std::invalid_argument("a counter cannot decrease");
  AtomicAdd(value_, by);
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i + 1 < bounds_.size(); ++i) {
    if (!(bounds_[i] < bounds_[i + 1])) throw std::invalid_argument("histogram bounds must be strictly increasing");
  }
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i] = 0;
}

void Histogram::Observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  AtomicAdd(sum_, v);
  count_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::CumulativeCounts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  uint64_t acc = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    acc += buckets_[i].load(std::memory_order_relaxed);
    out[i] = acc;
  }
  return out;
}

template <typename T>
T& Family<T>::WithLabels(const LabelValues& values) {
  if (values.size() != label_names_.size()) {
    throw std::invalid_argument(fmt::format("metric {}: {} label values for {} labels", name_, values.size(),
                                            label_names_.size()));
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto it = series_.find(values);
  if (it != series_.end()) return *it->second;
  std::unique_ptr<T> s;
  if constexpr (std::is_same_v<T, Histogram>) {
    s = std::make_unique<T>(bounds_);
  } else {
    s = std::make_unique<T>();
  }
  T& ref = *s;
  series_.emplace(values, std::move(s));
  return ref;
}

template <typename T>
std::vector<std::pair<LabelValues, const T*>> Family<T>::Series() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::pair<LabelValues, const T*>> out;
  for (const auto& [k, v] : series_) out.emplace_back(k, v.get());
  return out;
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

Registry& Registry::Default() {
  static Registry r;
  return r;
}

void Registry::CheckNew(const std::string& name, Type type, const std::vector<std::string>& labels, bool* exists) {
  if (!ValidName(name)) throw std::invalid_argument("invalid metric name: " + name);
  for (const auto& l : labels) {
    if (!ValidName(l) || l.find(':') != std::string::npos || l.rfind("__", 0) == 0 || l == "le") {
      throw std::invalid_argument("invalid label name " + l + " on metric " + name);
    }
  }
  auto it = entries_.find(name);
  *exists = it != entries_.end();
  if (*exists && (it->second.type != type || it->second.labels != labels)) {
    throw std::invalid_argument("metric " + name + " registered twice with another type or labels");
  }
}

Family<Counter>& Registry::CounterFamily(const std::string& name, const std::string& help,
                                         const std::vector<std::string>& labels) {
  if (name.size() < 6 || name.compare(name.size() - 6, 6, "_total") != 0) {
    throw std::invalid_argument("counter " + name + " must end in _total (Prometheus naming)");
  }
  std::lock_guard<std::mutex> lock(mu_);
  bool exists = false;
  CheckNew(name, Type::kCounter, labels, &exists);
  if (exists) return *static_cast<Family<Counter>*>(entries_[name].family);
  auto& f = counters_.emplace_back(name, help, labels);
  entries_[name] = {Type::kCounter, labels, &f};
  order_.push_back(name);
  return f;
}

Family<Gauge>& Registry::GaugeFamily(const std::string& name, const std::string& help,
                                     const std::vector<std::string>& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  bool exists = false;
  CheckNew(name, Type::kGauge, labels, &exists);
  if (exists) return *static_cast<Family<Gauge>*>(entries_[name].family);
  auto& f = gauges_.emplace_back(name, help, labels);
  entries_[name] = {Type::kGauge, labels, &f};
  order_.push_back(name);
  return f;
}

Family<Histogram>& Registry::HistogramFamily(const std::string& name, const std::string& help,
                                             const std::vector<std::string>& labels,
                                             const std::vector<double>& upper_bounds) {
  std::lock_guard<std::mutex> lock(mu_);
  bool exists = false;
  CheckNew(name, Type::kHistogram, labels, &exists);
  if (exists) return *static_cast<Family<Histogram>*>(entries_[name].family);
  Histogram check(upper_bounds);  // validates the bounds before the family exists
  auto& f = histograms_.emplace_back(name, help, labels, upper_bounds);
  entries_[name] = {Type::kHistogram, labels, &f};
  order_.push_back(name);
  return f;
}

std::string Registry::Render() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& name : order_) {
    const Entry& e = entries_.at(name);
    if (e.type == Type::kCounter) {
      RenderValues(*static_cast<const Family<Counter>*>(e.family), "counter", &out);
    } else if (e.type == Type::kGauge) {
      RenderValues(*static_cast<const Family<Gauge>*>(e.family), "gauge", &out);
    } else {
      const auto& f = *static_cast<const Family<Histogram>*>(e.family);
      out += "# HELP " + name + " " + EscapeHelp(f.help()) + "\n# TYPE " + name + " histogram\n";
      for (const auto& [lv, h] : f.Series()) {
        auto counts = h->CumulativeCounts();
        for (size_t i = 0; i < h->upper_bounds().size(); ++i) {
          out += name + "_bucket" + LabelText(f.label_names(), lv, "le=\"" + FormatValue(h->upper_bounds()[i]) + "\"") +
                 " " + std::to_string(counts[i]) + "\n";
        }
        out += name + "_bucket" + LabelText(f.label_names(), lv, "le=\"+Inf\"") + " " + std::to_string(counts.back()) + "\n";
        out += name + "_sum" + LabelText(f.label_names(), lv) + " " + FormatValue(h->sum()) + "\n";
        out += name + "_count" + LabelText(f.label_names(), lv) + " " + std::to_string(counts.back()) + "\n";
      }
    }
  }
  return out;
}

std::vector<double> LatencyBucketsSeconds() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60};
}

}  // namespace lakestream::metrics
