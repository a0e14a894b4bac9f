// A table restored by hand is not silently wrong (issue #21): `lakestream table … restore` refuses a
// table a pipeline maintains (RESTORE brings files back, not the pipeline's txn, so the pipeline would
// keep the old rows for good), and `lakestream rebuild` recomputes a derived table from its source —
// gold from silver, silver and quarantine from bronze — to exactly what the pipeline wrote.
#include "e2e/e2e_util.h"

namespace lakestream::e2e {
namespace {

// A fingerprint of a table's rows over `columns` (order-independent).
std::string Fingerprint(Lake& lake, const std::string& table, const std::string& columns) {
  return lake.One("SELECT count(*) || ':' || coalesce(sum(hash(" + columns + ")), 0) FROM " + lake.Scan(table));
}

TEST(Rebuild, RestoreOfAMaintainedTableIsRefusedAndRebuildRecomputesGoldAndSilver) {
  const std::string dir = TempDir();
  ASSERT_EQ(RunCli({"run", "--lakehouse", dir, "--input", kKaggle, "--rate", "max", "--no-http", "--commit-interval-ms",
                    "100"},
                   dir + "/run.txt"),
            0)
      << ReadFile(dir + "/run.txt");
  Lake lake(dir);
  const std::string silver_cols = "event_id, kafka_partition, kafka_offset, bronze_version, line_revenue_gbp, country";
  const std::string silver_before = Fingerprint(lake, "silver/orders", silver_cols);
  const std::string quarantine_before = Fingerprint(lake, "silver/orders_quarantine", "kafka_offset, reason");
  ExpectGoldEqualsRecountOfSilver(lake);

  // The bug: restoring gold to its empty first version "succeeded" and the pipeline kept it empty.
  EXPECT_EQ(RunCli({"table", dir + "/gold/sales_daily", "restore", "--version", "0"}, dir + "/restore.txt"), 1);
  EXPECT_NE(ReadFile(dir + "/restore.txt").find("maintained by the lakestream pipeline 'orders'"), std::string::npos)
      << ReadFile(dir + "/restore.txt");
  EXPECT_NE(ReadFile(dir + "/restore.txt").find("lakestream rebuild"), std::string::npos);
  EXPECT_GT(lake.Rows("gold/sales_daily"), 0) << "nothing was restored";
  // Forced, the table is empty while its txn says it is current; rebuild puts it right.
  ASSERT_EQ(RunCli({"table", dir + "/gold/sales_daily", "restore", "--version", "0", "--force"}, dir + "/restore2.txt"),
            0)
      << ReadFile(dir + "/restore2.txt");
  ASSERT_EQ(lake.Rows("gold/sales_daily"), 0);
  ASSERT_EQ(RunCli({"rebuild", "--lakehouse", dir, "gold.sales_daily"}, dir + "/rebuild-gold.txt"), 0)
      << ReadFile(dir + "/rebuild-gold.txt");
  ExpectGoldEqualsRecountOfSilver(lake);

  // Silver and quarantine from bronze: the same rows as the pipeline derived, then gold in full.
  ASSERT_EQ(RunCli({"rebuild", "--lakehouse", dir, "silver/orders"}, dir + "/rebuild-silver.txt"), 0)
      << ReadFile(dir + "/rebuild-silver.txt");
  EXPECT_EQ(Fingerprint(lake, "silver/orders", silver_cols), silver_before);
  EXPECT_EQ(Fingerprint(lake, "silver/orders_quarantine", "kafka_offset, reason"), quarantine_before);
  ExpectGoldEqualsRecountOfSilver(lake);
  // A restart after the rebuild adds nothing.
  ASSERT_EQ(RunCli({"run", "--lakehouse", dir, "--input", kKaggle, "--rate", "max", "--no-http"}, dir + "/run2.txt"), 0)
      << ReadFile(dir + "/run2.txt");
  EXPECT_EQ(Fingerprint(lake, "silver/orders", silver_cols), silver_before);
  ExpectGoldEqualsRecountOfSilver(lake);

  // Bronze is the source: refused by name, with the tables that can be rebuilt.
  EXPECT_EQ(RunCli({"rebuild", "--lakehouse", dir, "bronze/orders"}, dir + "/rebuild-bronze.txt"), 2);
  EXPECT_NE(ReadFile(dir + "/rebuild-bronze.txt").find("bronze/orders is the source"), std::string::npos)
      << ReadFile(dir + "/rebuild-bronze.txt");
}

// The notifications pipeline: late flags and adjustments depend on the watermark as each bronze version
// was derived; a rebuild from bronze derives the same versions in the same order, so they come out
// the same.
TEST(Rebuild, NotificationsSilverRebuiltFromBronzeKeepsLateFlagsAndBills) {
  const std::string dir = TempDir();
  ASSERT_EQ(RunCli({"run", "--pipeline", kSource + "/pipelines/notifications.toml", "--lakehouse", dir, "--limit",
                    "6000", "--start", "2020-02-03T00:00:00Z", "--events-per-day", "4000", "--rate", "max",
                    "--no-http", "--commit-interval-ms", "100"},
                   dir + "/run.txt"),
            0)
      << ReadFile(dir + "/run.txt");
  Lake lake(dir);
  const std::string cols = "message_id, arrived_after_close, bronze_version, kafka_offset";
  const std::string silver = Fingerprint(lake, "silver/notifications", cols);
  const std::string bill = Fingerprint(lake, "gold/billing_daily", "billing_date, customer_id, notifications, is_final");
  const std::string adjustments =
      Fingerprint(lake, "gold/billing_daily_adjustments", "billing_date, customer_id, notifications");
  ASSERT_EQ(RunCli({"rebuild", "--pipeline", kSource + "/pipelines/notifications.toml", "--lakehouse", dir,
                    "silver/notifications"},
                   dir + "/rebuild.txt"),
            0)
      << ReadFile(dir + "/rebuild.txt");
  EXPECT_EQ(Fingerprint(lake, "silver/notifications", cols), silver);
  EXPECT_EQ(Fingerprint(lake, "gold/billing_daily", "billing_date, customer_id, notifications, is_final"), bill);
  EXPECT_EQ(Fingerprint(lake, "gold/billing_daily_adjustments", "billing_date, customer_id, notifications"),
            adjustments);
}

}  // namespace
}  // namespace lakestream::e2e
