#include "pipeline/pipeline_spec.h"

#include <gtest/gtest.h>

#include "lake/columnar/columnar.h"
#include "pipeline/window_gold.h"
#include "support/status_testing.h"

namespace lakestream {
namespace {

const std::string kDir = LAKESTREAM_SOURCE_DIR;

TEST(PipelineSpec, TheShippedFilesAreValid) {
  auto engine = ColumnarEngine::Open(1, "256MB");
  ASSERT_TRUE(engine.ok());
  auto n = LoadPipelineSpec(kDir + "/pipelines/notifications.toml");
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(n->name, "notifications");
  EXPECT_EQ(n->topic, "notifications");
  EXPECT_EQ(n->silver.dedupe_key, "message_id");
  EXPECT_EQ(n->watermark_ms, 600000);
  ASSERT_EQ(n->gold.size(), 2u);
  EXPECT_EQ(n->gold[1].late_events, "adjustments");
  EXPECT_EQ(n->gold[1].PartitionColumn(), "billing_date");
  EXPECT_EQ(n->Lookup("price_brl")->values.at("1000001"), "0.0350");
  EXPECT_TRUE(CheckPipelineSql(*n, **engine).ok());
  auto o = LoadPipelineSpec(kDir + "/pipelines/orders.toml");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->format, kOrderLineFormat);
  ASSERT_EQ(o->gold.size(), 5u);
  EXPECT_EQ(o->GoldAt("gold/customer_rfm")->op, "rfm");
  EXPECT_EQ(o->group_id, "lakestream-orders");
  EXPECT_TRUE(CheckPipelineSql(*o, **engine).ok());
}

// A valid minimal pipeline with `patch` text appended to the [[gold]] table and `silver` to [silver].
std::string Minimal(const std::string& gold_extra = "", const std::string& silver_extra = "") {
  return "[pipeline]\nname = \"clicks\"\n"                                                  // 1-2
         "[source]\ntopic = \"clicks\"\nformat = \"json\"\n"                                  // 3-5
         "[[schema.fields]]\nname = \"id\"\ntype = \"string\"\nrequired = true\n"           // 6-9
         "[[schema.fields]]\nname = \"ts\"\ntype = \"timestamp\"\nrequired = true\n"        // 10-13
         "[[schema.fields]]\nname = \"amount\"\ntype = \"decimal(12,2)\"\n"                  // 14-16
         "[silver]\ndedupe_key = \"id\"\nevent_time = \"ts\"\nwatermark = \"1m\"\n" +       // 17-20
         silver_extra +
         "[[gold]]\nname = \"per_hour\"\nwindow = \"1h\"\nmeasures = [{ name = \"n\", fn = \"count\" }, "
         "{ name = \"total\", fn = \"sum\", column = \"amount\" }]\n" +
         gold_extra;
}

TEST(PipelineSpec, AMinimalFileParsesWithDefaults) {
  auto s = ParsePipelineSpec(Minimal(), "p.toml");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->group_id, "lakestream-clicks");
  EXPECT_EQ(s->bronze_table, "bronze/clicks");
  EXPECT_EQ(s->quarantine_table, "silver/clicks_quarantine");
  EXPECT_EQ(s->gold[0].location, "gold/per_hour");
  EXPECT_EQ(s->gold[0].window_column, "window_start");
  auto cols = GoldColumns(*s, s->gold[0], false);
  ASSERT_EQ(cols.size(), 4u);
  EXPECT_EQ(cols[0].name, "event_date");
  EXPECT_EQ(cols[3].SqlType(), "DECIMAL(18,2)");
}

TEST(PipelineSpec, EveryErrorIsReportedWithItsLine) {
  const std::string text = Minimal("group_by = [\"nope\"]\nlate_events = \"sometimes\"\n",
                                   "dedupe_horizn = \"1h\"\n") +
                           "[[gold]]\nname = \"per_day\"\nwindow = \"2d\"\nmeasures = [{ name = \"m\", fn = \"median\", "
                           "column = \"amount\" }]\n";
  auto s = ParsePipelineSpec(text, "p.toml");
  ASSERT_FALSE(s.ok());
  const std::string m = s.status().message();
  EXPECT_NE(m.find("p.toml:21: unknown key 'dedupe_horizn' in [silver]"), std::string::npos) << m;
  EXPECT_NE(m.find("p.toml:26: gold table 'per_hour': group_by key 'nope' is not a field"), std::string::npos) << m;
  EXPECT_NE(m.find("p.toml:27: gold table 'per_hour': late_events must be"), std::string::npos) << m;
  EXPECT_NE(m.find("p.toml:30: gold table 'per_day': window '2d' must be \"1m\", \"1h\" or \"1d\""), std::string::npos) << m;
  EXPECT_NE(m.find("fn 'median' is not one of count, sum, min, max, count_distinct"), std::string::npos) << m;
}

TEST(PipelineSpec, ReferencesBetweenSectionsAreChecked) {
  auto bad_time = ParsePipelineSpec(Minimal("", "").replace(Minimal().find("event_time = \"ts\""), 17,
                                                            "event_time = \"amount\""),
                                    "p.toml");
  ASSERT_FALSE(bad_time.ok());
  EXPECT_NE(bad_time.status().message().find("event_time 'amount' must be a required timestamp field"),
            std::string::npos)
      << bad_time.status().message();
  auto bad_sum = ParsePipelineSpec(Minimal().replace(Minimal().find("column = \"amount\""), 17, "column = \"id\""),
                                   "p.toml");
  ASSERT_FALSE(bad_sum.ok());
  EXPECT_NE(bad_sum.status().message().find("sum needs a numeric column; 'id' is not"), std::string::npos)
      << bad_sum.status().message();
  auto syntax = ParsePipelineSpec("[pipeline\n", "p.toml");
  ASSERT_FALSE(syntax.ok());
  EXPECT_NE(syntax.status().message().find("p.toml:1"), std::string::npos);
}

TEST(PipelineSpec, SqlThatDoesNotBindIsReportedWithItsLine) {
  auto engine = ColumnarEngine::Open(1, "256MB");
  ASSERT_TRUE(engine.ok());
  auto s = ParsePipelineSpec(Minimal("filter = \"amont > 0\"\n",
                                     "[[silver.expectations]]\nname = \"positive\"\ncondition = \"amount > 0\"\n"
                                     "action = \"drop\"\n[[silver.expectations]]\nname = \"typo\"\ncondition = "
                                     "\"amout > 0\"\naction = \"warn\"\n"),
                             "p.toml");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  Status st = CheckPipelineSql(*s, **engine);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("p.toml:25: the condition of expectation 'typo'"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("the filter of gold table 'per_hour'"), std::string::npos) << st.message();
  EXPECT_EQ(st.message().find("'positive'"), std::string::npos) << st.message();
}

// Minimal() with one more [[gold]] table defined by SQL (starting at line 25), `body` its keys.
std::string WithSqlGold(const std::string& body) {
  return Minimal() + "[[gold]]\nname = \"per_id\"\n" + body;
}

TEST(PipelineSpec, GoldDefinedBySqlIsCheckedAgainstItsSchema) {
  auto engine = ColumnarEngine::Open(1, "256MB");
  ASSERT_TRUE(engine.ok());
  const std::string good = "refresh = \"merge_by_key\"\nkey = \"id\"\n"
                           "schema = \"id string NOT NULL, n long NOT NULL, total decimal(18,2)\"\n"
                           "sql = \"SELECT id, count(*) AS n, sum(amount)::DECIMAL(18,2) AS total FROM silver GROUP BY id\"\n";
  auto s = ParsePipelineSpec(WithSqlGold(good), "p.toml");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  const GoldSpec& g = s->gold[1];
  EXPECT_TRUE(g.IsSql());
  EXPECT_EQ(g.refresh, GoldRefresh::kMergeByKey);
  auto cols = GoldColumns(*s, g, false);
  ASSERT_EQ(cols.size(), 3u);
  EXPECT_FALSE(cols[0].nullable);
  EXPECT_TRUE(cols[2].nullable);
  EXPECT_EQ(cols[2].SqlType(), "DECIMAL(18,2)");
  EXPECT_OK(CheckPipelineSql(*s, **engine));

  // The sql's columns and types must be the schema's: each mismatch is named, with the fix.
  auto typed = ParsePipelineSpec(WithSqlGold("refresh = \"merge_by_key\"\nkey = \"id\"\n"
                                             "schema = \"id string NOT NULL, n int NOT NULL, gone long\"\n"
                                             "sql = \"SELECT id, count(*) AS n, 1 AS extra FROM silver GROUP BY id\"\n"),
                                 "p.toml");
  ASSERT_TRUE(typed.ok()) << typed.status().ToString();
  Status st = CheckPipelineSql(*typed, **engine);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("p.toml:25: gold table 'per_id': "), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("column n is BIGINT in its sql but INTEGER in schema: cast it in the sql, e.g. n::INTEGER"),
            std::string::npos)
      << st.message();
  EXPECT_NE(st.message().find("its sql returns no column gone"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("its sql returns column extra, which schema does not declare"), std::string::npos)
      << st.message();
  auto unbound = ParsePipelineSpec(WithSqlGold("refresh = \"merge_by_key\"\nkey = \"id\"\nschema = \"id string\"\n"
                                               "sql = \"SELECT id FROM silvr\"\n"),
                                   "p.toml");
  ASSERT_TRUE(unbound.ok()) << unbound.status().ToString();
  st = CheckPipelineSql(*unbound, **engine);
  EXPECT_NE(st.message().find("its sql does not run over silver"), std::string::npos) << st.message();
}

TEST(PipelineSpec, GoldDefinedBySqlRefusesWhatCannotBeRefreshed) {
  auto s = ParsePipelineSpec(WithSqlGold("refresh = \"sometimes\"\nschema = \"id strng, n long NOT NUL\"\n"
                                         "sql = \"SELECT 1; DROP TABLE x\"\nwindow = \"1h\"\n") +
                                 "[[gold]]\nname = \"by_day\"\nrefresh = \"date_partitions\"\nschema = \"d date\"\n"
                                 "sql = \"SELECT event_date AS d FROM silver\"\nsilver_date = \"event_date\"\n"
                                 "[[gold]]\nname = \"ranked\"\nrefresh = \"date_partitions\"\noperator = \"rfm\"\n"
                                 "partition_by = [\"d\"]\nschema = \"d date\"\nsql = \"SELECT 1\"\nsilver_date = \"ts\"\n"
                                 "[[gold]]\nname = \"by_key\"\nrefresh = \"merge_by_key\"\nkey = \"nope\"\n"
                                 "schema = \"id string\"\nsql = \"SELECT id FROM silver\"\noperator = \"median\"\n",
                             "p.toml");
  ASSERT_FALSE(s.ok());
  const std::string m = s.status().message();
  EXPECT_NE(m.find("unknown key 'window' in gold table 'per_id' (defined by sql)"), std::string::npos) << m;
  EXPECT_NE(m.find("refresh 'sometimes' must be \"date_partitions\""), std::string::npos) << m;
  EXPECT_NE(m.find("schema column 'id strng' must be written"), std::string::npos) << m;
  EXPECT_NE(m.find("schema column 'n long NOT NUL' must be written"), std::string::npos) << m;
  EXPECT_NE(m.find("sql must be one SELECT, without ';'"), std::string::npos) << m;
  EXPECT_NE(m.find("gold table 'by_day': refresh = \"date_partitions\" needs partition_by"), std::string::npos) << m;
  EXPECT_NE(m.find("gold table 'ranked': operator \"rfm\" ranks every key, so it needs refresh = \"merge_by_key\""),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("operator \"rfm\" adds column recency_days; declare it in schema"), std::string::npos) << m;
  EXPECT_NE(m.find("gold table 'by_key': key 'nope' must be a column of silver and of the schema"), std::string::npos)
      << m;
  EXPECT_NE(m.find("operator 'median' is not a built-in operator"), std::string::npos) << m;
}

TEST(PipelineSpec, TheOldOrdersFormatNameIsRefusedWithTheWayForward) {
  std::string text = "[pipeline]\nname = \"orders\"\n[source]\ntopic = \"orders\"\nformat = \"orders\"\n[silver]\n";
  auto s = ParsePipelineSpec(text, "old.toml");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("old.toml:5: format \"orders\" is now called \"order-line.v1\", and the orders "
                                      "gold tables are declared in the file: start from pipelines/orders.toml"),
            std::string::npos)
      << s.status().message();
  // A window aggregation needs a declared schema and event time.
  text = "[pipeline]\nname = \"o\"\n[source]\ntopic = \"o\"\nformat = \"order-line.v1\"\n[silver]\n"
         "[[gold]]\nname = \"w\"\nwindow = \"1d\"\nmeasures = [{ name = \"n\", fn = \"count\" }]\n";
  s = ParsePipelineSpec(text, "o.toml");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("o.toml:7: gold table 'w': a window aggregation needs a declared [schema]"),
            std::string::npos)
      << s.status().message();
  // A [silver]-only file (the form before pipeline files) is the built-in orders pipeline with its rules.
  auto legacy = ParsePipelineSpec("[silver]\ndedupe_horizon = \"1d\"\n", "rules.toml");
  ASSERT_TRUE(legacy.ok()) << legacy.status().ToString();
  EXPECT_EQ(legacy->format, kOrderLineFormat);
  EXPECT_EQ(legacy->silver.dedupe_horizon_ms, 86400000);
  EXPECT_TRUE(legacy->silver.expectations.empty());
  EXPECT_EQ(legacy->gold.size(), 5u);
}

TEST(PipelineSpec, GoldQueryCountsOnTimeRowsAndMarksFinalDays) {
  auto s = ParsePipelineSpec(Minimal("late_events = \"adjustments\"\n").replace(Minimal().find("window = \"1h\""), 13,
                                                                                "window = \"1d\""),
                             "p.toml");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  auto engine = ColumnarEngine::Open(1, "256MB");
  ASSERT_TRUE(engine.ok());
  const std::string silver =
      "(SELECT * FROM (VALUES ('a', '2020-02-03 10:00:00+00'::TIMESTAMPTZ, 1.50::DECIMAL(12,2), false), "
      "('b', '2020-02-03 11:00:00+00'::TIMESTAMPTZ, 2.25::DECIMAL(12,2), false), "
      "('c', '2020-02-03 12:00:00+00'::TIMESTAMPTZ, 9.00::DECIMAL(12,2), true), "
      "('d', '2020-02-04 01:00:00+00'::TIMESTAMPTZ, 1.00::DECIMAL(12,2), false)) AS t(id, ts, amount, "
      "arrived_after_close)) ";
  const std::string with_date = "(SELECT *, ts::DATE AS event_date, now() AS ingest_time FROM " + silver + ")";
  auto bills = (*engine)->Query(WindowGoldQuery(*s, s->gold[0], false, with_date, 18296) +
                                " ORDER BY 1");  // 18296 = 2020-02-04: the 3rd is final
  ASSERT_TRUE(bills.ok()) << bills.status().ToString();
  ASSERT_EQ(bills->rows.size(), 2u);
  EXPECT_EQ(*bills->rows[0][1], "2");
  EXPECT_EQ(*bills->rows[0][2], "3.75");
  EXPECT_EQ(*bills->rows[0][3], "true");
  EXPECT_EQ(*bills->rows[1][3], "false");
  auto adj = (*engine)->Query(WindowGoldQuery(*s, s->gold[0], true, with_date, 18296));
  ASSERT_TRUE(adj.ok()) << adj.status().ToString();
  ASSERT_EQ(adj->rows.size(), 1u);
  EXPECT_EQ(*adj->rows[0][3], "9.00");
}

}  // namespace
}  // namespace lakestream
