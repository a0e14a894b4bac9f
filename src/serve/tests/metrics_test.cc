#include "serve/metrics.h"

#include <gtest/gtest.h>

#include "serve/lake_queries.h"

namespace lakestream {
namespace {

TEST(Metrics, RendersCountersGaugesAndCumulativeHistogramsInTextFormat) {
  metrics::Registry r;
  r.CounterFamily("x_events_total", "Events", {"layer"}).WithLabels({"bronze"}).Increment(3);
  r.GaugeFamily("x_lag_messages", "Lag", {"partition"}).WithLabels({"0"}).Set(7);
  auto& h = r.HistogramFamily("x_seconds", "Durations", {}, {0.1, 1}).WithLabels({});
  h.Observe(0.05);
  h.Observe(0.5);
  h.Observe(5);
  EXPECT_EQ(r.Render(),
            "# HELP x_events_total Events\n# TYPE x_events_total counter\nx_events_total{layer=\"bronze\"} 3\n"
            "# HELP x_lag_messages Lag\n# TYPE x_lag_messages gauge\nx_lag_messages{partition=\"0\"} 7\n"
            "# HELP x_seconds Durations\n# TYPE x_seconds histogram\n"
            "x_seconds_bucket{le=\"0.1\"} 1\nx_seconds_bucket{le=\"1\"} 2\nx_seconds_bucket{le=\"+Inf\"} 3\n"
            "x_seconds_sum 5.55\nx_seconds_count 3\n");
}

TEST(Metrics, EscapesLabelValues) {
  metrics::Registry r;
  r.GaugeFamily("g", "G", {"rule"}).WithLabels({"a\"b\\c\nd"}).Set(1);
  EXPECT_NE(r.Render().find("g{rule=\"a\\\"b\\\\c\\nd\"} 1\n"), std::string::npos) << r.Render();
}

TEST(Metrics, RejectsNamesAgainstPrometheusConventions) {
  metrics::Registry r;
  EXPECT_THROW(r.CounterFamily("events", "no _total"), std::invalid_argument);
  EXPECT_THROW(r.GaugeFamily("bad-name", "dash"), std::invalid_argument);
  EXPECT_THROW(r.GaugeFamily("g", "reserved label", {"le"}), std::invalid_argument);
  r.GaugeFamily("g", "G", {"a"});
  EXPECT_THROW(r.GaugeFamily("g", "G", {"b"}), std::invalid_argument);
  EXPECT_THROW(r.HistogramFamily("h", "H", {}, {1, 1}), std::invalid_argument);
  EXPECT_THROW(r.CounterFamily("c_total", "C").WithLabels({}).Increment(-1), std::invalid_argument);
}

TEST(OrdersFilter, AcceptsValidParametersAndNamesTheBadOne) {
  const std::vector<std::string> all = {"from", "to", "country", "product", "limit"};
  auto ok = ParseOrdersFilter({{"from", "2011-01-01"}, {"to", "2011-01-31"}, {"country", "United Kingdom"},
                               {"product", "85123A"}, {"limit", "5"}}, all);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->country, "United Kingdom");
  EXPECT_EQ(ok->limit, 5);
  auto leap = ParseOrdersFilter({{"from", "2012-02-29"}}, all);
  EXPECT_TRUE(leap.ok());
  for (const auto& [k, v] : std::vector<std::pair<std::string, std::string>>{
           {"from", "2011-02-29"}, {"to", "2011-1-1"}, {"country", "Fr<ance"}, {"country", std::string(65, 'a')},
           {"product", "12 34"}, {"limit", "101"}, {"limit", "5x"}, {"page", "2"}}) {
    auto r = ParseOrdersFilter({{k, v}}, all);
    ASSERT_FALSE(r.ok()) << k << "=" << v;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("'" + k + "'"), std::string::npos) << r.status().message();
  }
  EXPECT_FALSE(ParseOrdersFilter({{"limit", "5"}}, {"from"}).ok());
  EXPECT_FALSE(ParseOrdersFilter({{"from", "2011-02-01"}, {"to", "2011-01-01"}}, all).ok());
}

}  // namespace
}  // namespace lakestream
