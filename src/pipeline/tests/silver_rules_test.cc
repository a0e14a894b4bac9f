#include "pipeline/silver_rules.h"

#include <gtest/gtest.h>

#include "lake/columnar/columnar.h"
#include "pipeline/event_id_set.h"
#include "pipeline/pipeline_spec.h"

namespace lakestream {
namespace {

TEST(SilverRules, TheBuiltInFileDeclaresTheOrdersDefaults) {
  auto r = LoadSilverRules("");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->dedupe_key, "event_id");
  EXPECT_EQ(r->dedupe_horizon_ms, 7LL * 24 * 3600 * 1000);
  EXPECT_EQ(r->country_aliases.at("EIRE"), "Ireland");
  EXPECT_EQ(r->country_aliases.at("EUROPEAN COMMUNITY"), "European Union");
  EXPECT_TRUE(r->adjustment_product_codes.count("BANK CHARGES"));
  std::map<std::string, ExpectationAction> actions;
  for (const auto& x : r->expectations) actions[x.name] = x.action;
  EXPECT_EQ(actions.at("price_non_negative"), ExpectationAction::kQuarantine);
  EXPECT_EQ(actions.at("cancellation_sign"), ExpectationAction::kWarn);
  EXPECT_EQ(actions.at("required_fields"), ExpectationAction::kQuarantine);
  // Every built-in condition binds against the silver columns.
  auto engine = ColumnarEngine::Open(1, "256MB");
  ASSERT_TRUE(engine.ok());
  auto orders = DefaultOrdersPipelineSpec();
  ASSERT_TRUE(orders.ok()) << orders.status().ToString();
  for (const auto& x : r->expectations) {
    EXPECT_TRUE((*engine)->CheckPredicates(SilverColumnsOf(*orders), {x.condition}).ok()) << x.name;
  }
}

TEST(SilverRules, ErrorsNameTheFileLineAndFix) {
  auto bad_action = ParseSilverRules(R"([silver]
[[silver.expectations]]
name = "x"
condition = "quantity > 0"
action = "explode"
)", "p.toml");
  ASSERT_FALSE(bad_action.ok());
  EXPECT_NE(bad_action.status().message().find("p.toml:5"), std::string::npos) << bad_action.status().message();
  EXPECT_NE(bad_action.status().message().find("warn, drop, quarantine, fail"), std::string::npos);

  auto typo = ParseSilverRules("[silver]\ndedupe_horizn = \"7d\"\n", "p.toml");
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.status().message().find("unknown key 'dedupe_horizn'"), std::string::npos) << typo.status().message();

  auto horizon = ParseSilverRules("[silver]\ndedupe_horizon = \"7 days\"\n", "p.toml");
  ASSERT_FALSE(horizon.ok());
  EXPECT_NE(horizon.status().message().find("ms, s, m, h or d"), std::string::npos) << horizon.status().message();

  auto dup = ParseSilverRules(R"([silver]
[[silver.expectations]]
name = "a"
condition = "true"
action = "warn"
[[silver.expectations]]
name = "a"
condition = "true"
action = "drop"
)", "p.toml");
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.status().message().find("declared twice"), std::string::npos);

  auto syntax = ParseSilverRules("[silver\n", "p.toml");
  ASSERT_FALSE(syntax.ok());
  EXPECT_NE(syntax.status().message().find("p.toml:1"), std::string::npos) << syntax.status().message();
}

TEST(SilverRules, ParsesDurations) {
  EXPECT_EQ(*ParseDurationMs("500ms"), 500);
  EXPECT_EQ(*ParseDurationMs("90s"), 90000);
  EXPECT_EQ(*ParseDurationMs("15m"), 900000);
  EXPECT_EQ(*ParseDurationMs("2h"), 7200000);
  EXPECT_EQ(*ParseDurationMs("7d"), 604800000);
  EXPECT_FALSE(ParseDurationMs("7").ok());
  EXPECT_FALSE(ParseDurationMs("d").ok());
  EXPECT_FALSE(ParseDurationMs("7w").ok());
}

TEST(EventIdSet, RemembersIdsForTheHorizonOnly) {
  EventIdSet s(1000);  // 1 ms horizon, in µs
  s.Add("4a7e3b7c-1f2d-8e3a-9b1c-0123456789ab", 10);
  s.Add("order-42", 500);
  EXPECT_TRUE(s.Contains("4A7E3B7C-1F2D-8E3A-9B1C-0123456789AB", 900));  // UUIDs compare by value
  EXPECT_TRUE(s.Contains("order-42", 900));
  EXPECT_FALSE(s.Contains("order-43", 900));
  EXPECT_FALSE(s.Contains("4a7e3b7c-1f2d-8e3a-9b1c-0123456789ab", 1010));  // first seen at 10: expired at 1010
  EXPECT_TRUE(s.Contains("order-42", 1010));
  EXPECT_FALSE(s.Contains("order-42", 1500));
  EXPECT_EQ(s.size(), 0u);
}

TEST(EventIdSet, FingerprintsDistinguishManyIds) {
  std::set<std::pair<uint64_t, uint64_t>> seen;
  for (int i = 0; i < 200000; ++i) {
    auto f = FingerprintOf("event-" + std::to_string(i));
    seen.insert({f.hi, f.lo});
  }
  EXPECT_EQ(seen.size(), 200000u);
}

TEST(Expectations, PredicatesMarkFalseAsFailedAndNullAsUnknown) {
  auto engine = ColumnarEngine::Open(1, "256MB");
  ASSERT_TRUE(engine.ok());
  RecordBatch b({{"quantity", ColumnType::kInt32, true}, {"price", ColumnType::kDecimal, true, 12, 3}});
  b.AppendInt(0, 5);
  b.AppendInt(1, 2550);
  b.AppendInt(0, 0);
  b.AppendInt(1, -1000);
  b.AppendNull(0);
  b.AppendInt(1, 0);
  auto masks = (*engine)->EvaluatePredicates(b, {"quantity <> 0", "price >= 0"});
  ASSERT_TRUE(masks.ok()) << masks.status().ToString();
  EXPECT_EQ(*masks, (std::vector<uint64_t>{0, 3, 0}));  // NULL <> 0 is unknown: not a failure
  EXPECT_FALSE((*engine)->CheckPredicates(b.schema(), {"quantitty > 0"}).ok());
  EXPECT_TRUE((*engine)->CheckPredicates(b.schema(), {"price < 100000"}).ok());
}

}  // namespace
}  // namespace lakestream
