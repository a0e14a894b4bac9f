// Several pipelines in one process (docs/pipelines/README.md, "Several pipelines in one process"):
// `run` and `ingest --pipeline a,b` run the orders and notifications pipelines side by side, each with
// its own topic, consumer group and tables, one dashboard over both; and the mistakes that would make
// two pipelines share a topic, a group or a table stop the process at start-up.
#include <httplib.h>

#include "e2e/e2e_util.h"

namespace lakestream::e2e {
namespace {

const std::string kOrders = kSource + "/pipelines/orders.toml";
const std::string kNotifications = kSource + "/pipelines/notifications.toml";
const std::string kBoth = kOrders + "," + kNotifications;

bool WaitFor(const std::function<bool()>& cond, int seconds = 120) {
  for (int i = 0; i < seconds * 10 && !cond(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  return cond();
}

// Silver holds each message_id of bronze once, and gold's minute counts add up to silver's rows.
void ExpectNotificationsAccountedFor(Lake& lake, int64_t bronze_rows) {
  EXPECT_EQ(lake.Rows("bronze/notifications"), bronze_rows);
  const std::string distinct = lake.One("SELECT count(DISTINCT json_extract_string(decode(payload), '$.message_id')) "
                                        "FROM " + lake.Scan("bronze/notifications"));
  EXPECT_EQ(std::to_string(lake.Rows("silver/notifications")), distinct);
  EXPECT_EQ(lake.One("SELECT sum(notifications) FROM " + lake.Scan("gold/notification_usage_minute")), distinct);
}

TEST(SeveralPipelines, RunServesOrdersAndNotificationsFromOneProcess) {
  const std::string dir = TempDir();
  const std::string log = dir + "/run.txt";
  pid_t pid = Spawn({"run", "--pipeline", kBoth, "--lakehouse", dir, "--input", kKaggle, "--limit", "8000", "--start",
                     "2020-02-03T00:00:00Z", "--events-per-day", "12000", "--rate", "max", "--follow",
                     "--commit-interval-ms", "200", "--gold-interval-ms", "0"},
                    log);
  const int port = WaitForPort(log);
  ASSERT_GT(port, 0) << ReadFile(log);
  Lake lake(dir);
  ASSERT_TRUE(WaitFor([&] { return lake.Rows("bronze/orders") == 1305 && lake.Rows("bronze/notifications") == 8000; }))
      << ReadFile(log);
  ASSERT_TRUE(WaitFor([&] { return lake.Rows("gold/sales_daily") > 0 && lake.Rows("gold/notification_usage_minute") > 0; }))
      << ReadFile(log);
  httplib::Client c("127.0.0.1", port);
  auto pipelines = c.Get("/api/v1/pipelines");
  ASSERT_TRUE(pipelines && pipelines->status == 200);
  EXPECT_NE(pipelines->body.find(R"("name":"orders")"), std::string::npos) << pipelines->body;
  EXPECT_NE(pipelines->body.find(R"("name":"notifications")"), std::string::npos) << pipelines->body;
  EXPECT_NE(pipelines->body.find(R"("group_id":"lakestream-notifications")"), std::string::npos) << pipelines->body;
  auto metrics = c.Get("/metrics");
  ASSERT_TRUE(metrics && metrics->status == 200);
  EXPECT_NE(metrics->body.find(R"(lakestream_pipeline_running{pipeline="orders"} 1)"), std::string::npos);
  EXPECT_NE(metrics->body.find(R"(lakestream_pipeline_running{pipeline="notifications"} 1)"), std::string::npos);
  // Both pipelines' gold answers (503 "no data yet" until the server's snapshot refresh sees it).
  for (const char* path : {"/api/v1/notifications/customers", "/api/v1/orders/kpis"}) {
    EXPECT_TRUE(WaitFor([&] { auto r = c.Get(path); return r && r->status == 200; }, 30)) << path;
  }
  kill(pid, SIGINT);
  ASSERT_EQ(Wait(pid), 0) << ReadFile(log);
  const std::string out = ReadFile(log);
  EXPECT_NE(out.find("topics 'orders', 'notifications'"), std::string::npos) << out;
  EXPECT_NE(out.find("lakestream summary: orders"), std::string::npos) << out;
  EXPECT_NE(out.find("lakestream summary: notifications"), std::string::npos) << out;
  ExpectEveryBronzeRowAccountedFor(lake, 1305);
  ExpectGoldMatchesRecount(dir, kKaggle);
  ExpectNotificationsAccountedFor(lake, 8000);
}

TEST(SeveralPipelines, BrokerThenIngestOfBothPipelines) {
  const std::string dir = TempDir();
  pid_t broker = Spawn({"broker", "--pipeline", kBoth, "--lakehouse", dir}, dir + "/broker.txt");
  WaitForBrokerFile(dir);
  ASSERT_EQ(RunCli({"produce", "--lakehouse", dir, "--input", kKaggle, "--rate", "max"}, dir + "/p1.txt"), 0)
      << ReadFile(dir + "/p1.txt");
  ASSERT_EQ(RunCli({"produce", "--pipeline", kNotifications, "--lakehouse", dir, "--limit", "5000", "--rate", "max"},
                   dir + "/p2.txt"),
            0)
      << ReadFile(dir + "/p2.txt");
  ASSERT_EQ(RunCli({"ingest", "--pipeline", kBoth, "--lakehouse", dir, "--no-http", "--idle-exit-ms", "3000"},
                   dir + "/ingest.txt"),
            0)
      << ReadFile(dir + "/ingest.txt");
  kill(broker, SIGINT);
  Wait(broker);
  Lake lake(dir);
  ExpectEveryBronzeRowAccountedFor(lake, 1305);
  ExpectNotificationsAccountedFor(lake, 5000);
}

TEST(SeveralPipelines, SharedNamesTopicsOrFlagsStopAtStartUp) {
  const std::string dir = TempDir();
  // A valid pipeline whose gold table takes the orders pipeline's built-in gold/sales_daily.
  const std::string clash = dir + "/clicks.toml";
  std::ofstream(clash) << "[pipeline]\nname = \"clicks\"\n[source]\ntopic = \"clicks\"\nformat = \"json\"\n"
                          "[[schema.fields]]\nname = \"id\"\ntype = \"string\"\nrequired = true\n"
                          "[[schema.fields]]\nname = \"ts\"\ntype = \"timestamp\"\nrequired = true\n"
                          "[silver]\ndedupe_key = \"id\"\nevent_time = \"ts\"\nwatermark = \"1m\"\n"
                          "[[gold]]\nname = \"sales_daily\"\nwindow = \"1d\"\nmeasures = [{ name = \"n\", fn = \"count\" }]\n";
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"--pipeline", kNotifications + "," + kNotifications}, "both use pipeline name 'notifications'"},
      {{"--pipeline", kBoth, "--topic", "t"}, "--topic (or LAKESTREAM_KAFKA_TOPIC): with several pipelines"},
      {{"--pipeline", kBoth, "--group", "g"}, "--group (or LAKESTREAM_KAFKA_GROUP_ID): with several pipelines"},
      {{"--pipeline", kOrders + ","}, "an empty file name in the list"},
      {{"--pipeline", kOrders + "," + clash}, "both use table location 'gold/sales_daily'"},
      {{"--pipeline", kBoth, "--dlq-topic", "dlq"}, "--dlq-topic (or LAKESTREAM_PIPELINE_DLQ_TOPIC): with several pipelines"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args = {"run", "--lakehouse", dir, "--no-http"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    EXPECT_EQ(RunCli(args, dir + "/log.txt"), 1) << c.message;
    EXPECT_NE(ReadFile(dir + "/log.txt").find(c.message), std::string::npos) << ReadFile(dir + "/log.txt");
    EXPECT_FALSE(std::filesystem::exists(dir + "/_broker")) << "nothing starts: " << c.message;
  }
  // Commands that run one pipeline say so.
  EXPECT_EQ(RunCli({"produce", "--lakehouse", dir, "--pipeline", kBoth}, dir + "/log.txt"), 1);
  EXPECT_NE(ReadFile(dir + "/log.txt").find("this command runs one pipeline"), std::string::npos)
      << ReadFile(dir + "/log.txt");
}

}  // namespace
}  // namespace lakestream::e2e
