// Gold on its own clock (issue #21): gold, and the panel and bill read from it, reflect every
// committed silver version within gold-interval after that commit, whether or not more records
// arrive. Before the fix, gold refreshed only when a new batch committed after the interval had
// passed, so the last batch before a pause stayed out of gold until more traffic came.
//
// Each test runs `lakestream run --follow` on a small input, waits until gold holds all of it, then
// publishes two events 2 s apart with confluent-kafka on an otherwise idle topic, and checks that
// gold equals silver for their day within gold-interval + 1 s of the second one reaching silver.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <thread>

#include "e2e_util.h"
#include "source/kafka/embedded_broker.h"

namespace lakestream::e2e {
namespace {

constexpr int64_t kGoldIntervalMs = 3000;

bool WaitUntil(const std::function<bool()>& cond, int seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < until) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return cond();
}

// Produces one JSON line to `topic` of the broker that `run` started for lakehouse `dir`.
void ProduceOne(const std::string& dir, const std::string& topic, const std::string& name, const std::string& line) {
  std::string bootstrap, epoch;
  ASSERT_TRUE(ReadBrokerFile(dir + "/_broker", &bootstrap, &epoch).ok());
  const std::string path = dir + "/" + name + ".jsonl";
  std::ofstream(path) << line << "\n";
  const std::string cmd = "/usr/bin/python3 " + kSource + "/tests/e2e/produce_json.py " + bootstrap + " " + topic +
                          " " + path + " > " + dir + "/" + name + ".log 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << ReadFile(dir + "/" + name + ".log");
}

std::string OrderEvent(const std::string& id, const std::string& transaction, const std::string& price) {
  return R"({"event_type":"order_line","schema_version":1,"event_id":")" + id +
         R"(","event_time":"2012-01-05T10:00:00Z","source":{"name":"gold-clock","line":1},"TransactionNo":")" +
         transaction +
         R"(","Date":"1/5/2012 10:00","ProductNo":"22960","ProductName":"JAM MAKING SET WITH JARS","Price":)" + price +
         R"(,"Quantity":2,"CustomerNo":"13047","Country":"United Kingdom"})";
}

TEST(GoldClock, OrdersGoldCatchesUpWithSilverAfterAPause) {
  const std::string dir = TempDir();
  const std::string log = dir + "/run.txt";
  pid_t pid = Spawn({"run", "--lakehouse", dir, "--input", kKaggle, "--rate", "max", "--follow", "--no-http",
                     "--commit-interval-ms", "200", "--gold-interval-ms", std::to_string(kGoldIntervalMs)},
                    log);
  Lake lake(dir);
  ASSERT_TRUE(WaitUntil([&] { return lake.Rows("silver/orders") == 1305; }, 120)) << ReadFile(log);
  // The replay's last batch reaches gold on the clock too: nothing more arrives after it.
  ASSERT_TRUE(WaitUntil([&] {
    return lake.One("SELECT sum(net_revenue_gbp) FROM " + lake.Scan("gold/sales_daily")) ==
           lake.One("SELECT sum(line_revenue_gbp) FROM " + lake.Scan("silver/orders"));
  }, 30)) << ReadFile(log);

  const std::string day = " WHERE order_date = DATE '2012-01-05'";
  ProduceOne(dir, "orders", "first", OrderEvent("gold-clock-1", "600001", "1.50"));
  ASSERT_TRUE(WaitUntil([&] { return lake.Rows("silver/orders") == 1306; }, 30)) << ReadFile(log);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  ProduceOne(dir, "orders", "second", OrderEvent("gold-clock-2", "600002", "2.25"));
  ASSERT_TRUE(WaitUntil([&] { return lake.Rows("silver/orders") == 1307; }, 30)) << ReadFile(log);
  const auto in_silver = std::chrono::steady_clock::now();

  const std::string silver_day = "SELECT sum(line_revenue_gbp)::VARCHAR || '/' || count(*) FROM " +
                                 lake.Scan("silver/orders") + day;
  EXPECT_EQ(lake.One(silver_day), "7.500/2");
  // Every gold table (each refresh commits them one after another), within gold-interval + 1 s.
  auto gold_state = [&] {
    return lake.One("SELECT sum(net_revenue_gbp)::VARCHAR || '/' || sum(order_lines) FROM " +
                    lake.Scan("gold/sales_daily") + day) +
           " " + lake.One("SELECT sum(order_lines) FROM " + lake.Scan("gold/sales_hourly") +
                          " WHERE event_date = DATE '2012-01-05'") +
           " " + lake.One("SELECT sum(net_revenue_gbp)::VARCHAR FROM " + lake.Scan("gold/product_sales_daily") + day);
  };
  const bool caught_up = WaitUntil([&] { return gold_state() == "7.500/2 2 7.500"; },
                                   static_cast<int>(kGoldIntervalMs / 1000) + 1);
  const auto waited_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - in_silver).count();
  EXPECT_TRUE(caught_up) << "gold for 2012-01-05 (sales_daily revenue/lines, sales_hourly lines, product_sales_daily "
                            "revenue) after " << waited_ms << " ms: " << gold_state();
  kill(pid, SIGINT);
  EXPECT_EQ(Wait(pid), 0) << ReadFile(log);
}

std::string Notification(const std::string& id, const std::string& time) {
  return R"({"customer_id":"4242","message_id":")" + id +
         R"(","customer_name":"Pause Ltda","channel":"Whatsapp","payload":"Olá XXXXX","event_datetime":")" + time +
         R"("})";
}

TEST(GoldClock, NotificationsPanelAndBillCatchUpWithSilverAfterAPause) {
  const std::string dir = TempDir();
  const std::string log = dir + "/run.txt";
  pid_t pid = Spawn({"run", "--pipeline", kSource + "/pipelines/notifications.toml", "--lakehouse", dir, "--limit",
                     "2000", "--start", "2020-02-03T00:00:00Z", "--events-per-day", "12000", "--rate", "max",
                     "--follow", "--no-http", "--commit-interval-ms", "200", "--gold-interval-ms",
                     std::to_string(kGoldIntervalMs)},
                    log);
  Lake lake(dir);
  ASSERT_TRUE(WaitUntil([&] { return lake.Rows("bronze/notifications") == 2000; }, 120)) << ReadFile(log);
  ASSERT_TRUE(WaitUntil([&] {
    return lake.One("SELECT sum(notifications) FROM " + lake.Scan("gold/notification_usage_minute")) ==
           lake.One("SELECT count(*) FROM " + lake.Scan("silver/notifications"));
  }, 30)) << ReadFile(log);

  const std::string mine = " WHERE customer_id = '4242'";
  ProduceOne(dir, "notifications", "first", Notification("pause-1", "2020-02-03T12:00:00.000+00:00"));
  ASSERT_TRUE(WaitUntil([&] { return lake.One("SELECT count(*) FROM " + lake.Scan("silver/notifications") + mine) == "1"; }, 30))
      << ReadFile(log);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  ProduceOne(dir, "notifications", "second", Notification("pause-2", "2020-02-03T12:05:00.000+00:00"));
  ASSERT_TRUE(WaitUntil([&] { return lake.One("SELECT count(*) FROM " + lake.Scan("silver/notifications") + mine) == "2"; }, 30))
      << ReadFile(log);
  const int within_s = static_cast<int>(kGoldIntervalMs / 1000) + 1;
  // The per-minute panel and the daily bill, both within gold-interval + 1 s.
  auto gold_state = [&] {
    return lake.One("SELECT sum(notifications) FROM " + lake.Scan("gold/notification_usage_minute") + mine) + " " +
           lake.One("SELECT sum(notifications) FROM " + lake.Scan("gold/billing_daily") + mine);
  };
  EXPECT_TRUE(WaitUntil([&] { return gold_state() == "2 2"; }, within_s))
      << "usage per minute, billed notifications: " << gold_state();
  kill(pid, SIGINT);
  EXPECT_EQ(Wait(pid), 0) << ReadFile(log);
}

}  // namespace
}  // namespace lakestream::e2e
