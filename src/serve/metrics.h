// Metrics in the Prometheus text exposition format (version 0.0.4): counters, gauges and histograms
// with labels, rendered by Registry::Render for GET /metrics.
//
// Lifecycle: one Registry per process (Registry::Default) or per test; families are created once
// (Counter/Gauge/Histogram return the same family for the same name) and live as long as the
// registry. Threads: every operation is thread-safe; updates of one series are lock-free after the
// series exists. Naming follows Prometheus conventions (https://prometheus.io/docs/practices/naming/):
// snake_case, the unit in the name (`_seconds`, `_bytes`), `_total` on counters.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace lakestream::metrics {

/// Label values of one series, in the family's label-name order.
using LabelValues = std::vector<std::string>;

/// A monotonically increasing value (events, bytes, seconds).
class Counter {
 public:
  void Increment(double by = 1.0);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

/// A value that goes up and down (lag, versions, files).
class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

/// Cumulative buckets with fixed upper bounds (the +Inf bucket implied), sum and count.
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void Observe(double v);
  const std::vector<double>& upper_bounds() const { return bounds_; }
  /// Cumulative count per bound, then the +Inf (total) count.
  std::vector<uint64_t> CumulativeCounts() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // non-cumulative, one per bound + one for +Inf
  std::atomic<double> sum_{0};
  std::atomic<uint64_t> count_{0};
};

enum class Type { kCounter, kGauge, kHistogram };

/// All series of one metric name. `WithLabels` creates a series on first use; the returned reference
/// stays valid for the family's life.
template <typename T>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names, std::vector<double> bounds = {})
      : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)), bounds_(std::move(bounds)) {}
  /// `values` must have one value per label name (a programming error otherwise: std::invalid_argument).
  T& WithLabels(const LabelValues& values);
  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  /// A snapshot of the series, sorted by label values.
  std::vector<std::pair<LabelValues, const T*>> Series() const;

 private:
  std::string name_, help_;
  std::vector<std::string> label_names_;
  std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::map<LabelValues, std::unique_ptr<T>> series_;
};

class Registry {
 public:
  /// The process-wide registry that /metrics renders.
  static Registry& Default();

  /// Get-or-create a family. Errors (programming errors, std::invalid_argument): a name that is not
  /// a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*), a counter not ending in `_total`, or a name
  /// registered before with another type or labels.
  Family<Counter>& CounterFamily(const std::string& name, const std::string& help,
                                 const std::vector<std::string>& labels = {});
  Family<Gauge>& GaugeFamily(const std::string& name, const std::string& help,
                             const std::vector<std::string>& labels = {});
  /// `upper_bounds`: strictly increasing bucket bounds, in the metric's unit.
  Family<Histogram>& HistogramFamily(const std::string& name, const std::string& help,
                                     const std::vector<std::string>& labels, const std::vector<double>& upper_bounds);

  /// The text exposition format 0.0.4: # HELP and # TYPE per family, then its series; label values
  /// escaped (\\, \", \n); histograms as _bucket{le=…}, _sum and _count.
  /// Source: https://prometheus.io/docs/instrumenting/exposition_formats/
  std::string Render() const;

 private:
  struct Entry {
    Type type;
    std::vector<std::string> labels;
    void* family;
  };
  void CheckNew(const std::string& name, Type type, const std::vector<std::string>& labels, bool* exists);
  mutable std::mutex mu_;
  std::vector<std::string> order_;
  std::map<std::string, Entry> entries_;
  std::deque<Family<Counter>> counters_;
  std::deque<Family<Gauge>> gauges_;
  std::deque<Family<Histogram>> histograms_;
};

/// Bucket bounds for latencies in seconds: 5 ms … 60 s.
std::vector<double> LatencyBucketsSeconds();

}  // namespace lakestream::metrics
