// The main job with its lakehouse on Azure Blob Storage (Azurite, tests/azurite.h): `run --lake
// az://…` end to end, killed mid-way and resumed without loss or duplicates, then `lakestream sql`
// and `lakestream table` on the result. Label azure.
#include "azurite.h"
#include "e2e/e2e_util.h"

namespace lakestream::e2e {
namespace {

std::string NewLake() {
  std::string error;
  EXPECT_FALSE(testing::StartAzurite(&error).empty()) << error;
  return "az://lakestream-e2e/shop-" + RandomUuid().substr(0, 8);
}

TEST(AzureEndToEnd, KilledRunOnAzureResumesWithoutLossOrDuplicatesAndSqlAndTableReadTheResult) {
  const std::string dir = TempDir();  // logs and the reconciliation's work files stay local
  const std::string lake_uri = NewLake();
  pid_t pid = Spawn({"run", "--lake", lake_uri, "--input", kUci, "--rate", "1000", "--commit-interval-ms", "300",
                     "--no-http"},
                    dir + "/log1.txt");
  Lake lake(lake_uri);
  for (int i = 0; i < 600 && lake.Rows("bronze/orders") < 2000; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(pid, SIGKILL);
  Wait(pid);
  const int64_t after_crash = lake.Rows("bronze/orders");
  ASSERT_GT(after_crash, 0) << ReadFile(dir + "/log1.txt");
  ASSERT_LT(after_crash, 9999) << "the run finished before it was killed; the test proves nothing";
  int rc = Wait(Spawn({"run", "--lake", lake_uri, "--input", kUci, "--rate", "max", "--no-http"}, dir + "/log2.txt"));
  ASSERT_EQ(rc, 0) << ReadFile(dir + "/log2.txt");
  EXPECT_NE(ReadFile(dir + "/log2.txt").find(lake_uri + "/silver/orders"), std::string::npos) << ReadFile(dir + "/log2.txt");
  ExpectEveryBronzeRowAccountedFor(lake, 9999, /*one_broker=*/false);
  ExpectGoldEqualsRecountOfSilver(lake);
  ExpectGoldMatchesRecount(lake_uri, kUci, /*with_pandas=*/false, dir);

  // SQL over the az:// lakehouse: every table is found, counts agree with the Delta log.
  ASSERT_EQ(RunCli({"sql", "--lake", lake_uri, "--list-tables"}, dir + "/tables.txt"), 0) << ReadFile(dir + "/tables.txt");
  const std::string tables = ReadFile(dir + "/tables.txt");
  for (const char* t : {"bronze.orders", "silver.orders", "silver.orders_quarantine", "gold.sales_daily"}) {
    EXPECT_NE(tables.find(t), std::string::npos) << tables;
  }
  ASSERT_EQ(RunCli({"sql", "--lake", lake_uri, "--format", "csv",
                    "SELECT (SELECT count(*) FROM bronze.orders) AS bronze, "
                    "(SELECT count(*) FROM silver.orders) + (SELECT count(DISTINCT event_id) FROM "
                    "silver.orders_quarantine) AS accounted"},
                   dir + "/sql.txt"),
            0)
      << ReadFile(dir + "/sql.txt");
  EXPECT_EQ(ReadFile(dir + "/sql.txt"), "bronze,accounted\n9999,9999\n");
  // `table` on one of its tables: describe and history.
  ASSERT_EQ(RunCli({"table", lake_uri + "/bronze/orders", "describe"}, dir + "/describe.txt"), 0)
      << ReadFile(dir + "/describe.txt");
  const std::string describe = ReadFile(dir + "/describe.txt");
  EXPECT_NE(describe.find("location           " + lake_uri + "/bronze/orders"), std::string::npos) << describe;
  EXPECT_NE(describe.find("rows (from stats)  9999"), std::string::npos) << describe;
  ASSERT_EQ(RunCli({"table", lake_uri + "/gold/sales_daily", "history", "--json"}, dir + "/history.txt"), 0);
  EXPECT_NE(ReadFile(dir + "/history.txt").find("\"operation\":\"WRITE\""), std::string::npos);
  // The azure.* settings count for `sql` and `table` as for `run`: with the standard variable pointing
  // nowhere, LAKESTREAM_AZURE_ENDPOINT (or --azure-endpoint) names the real endpoint. Before, both
  // commands ignored it and called the endpoint of the standard variable.
  const std::string endpoint = std::getenv("AZURE_STORAGE_ENDPOINT");
  const std::vector<std::pair<std::string, std::string>> wrong = {{"AZURE_STORAGE_ENDPOINT", "http://127.0.0.1:9/x"},
                                                                   {"LAKESTREAM_AZURE_RETRY_BUDGET_MS", "2000"}};
  auto with = wrong;
  with.push_back({"LAKESTREAM_AZURE_ENDPOINT", endpoint});
  EXPECT_EQ(Wait(Spawn({"sql", "--lake", lake_uri, "--list-tables"}, dir + "/env.txt", with)), 0) << ReadFile(dir + "/env.txt");
  EXPECT_EQ(Wait(Spawn({"table", lake_uri + "/bronze/orders", "describe", "--azure-endpoint", endpoint}, dir + "/flag.txt",
                       wrong)),
            0)
      << ReadFile(dir + "/flag.txt");
  EXPECT_NE(Wait(Spawn({"sql", "--lake", lake_uri, "--list-tables"}, dir + "/none.txt", wrong)), 0)
      << "the standard variable alone points nowhere: " << ReadFile(dir + "/none.txt");
  // Nothing secret in what the run printed (the emulator's key is public, but the rule holds).
  EXPECT_EQ(ReadFile(dir + "/log2.txt").find("Eby8vdM02x"), std::string::npos);
}

}  // namespace
}  // namespace lakestream::e2e
