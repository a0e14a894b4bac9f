// End-to-end tests: the real `lakestream` binary, the embedded broker, real files. Tables are read
// back through DuckDB (the Delta snapshot's active files) and gold is compared with independent
// recounts of the input CSV (helpers in e2e_util.h).
#include "e2e/e2e_util.h"

namespace lakestream::e2e {
namespace {

TEST(EndToEnd, KaggleExcerptLandsOnceInEveryLayerAndGoldMatchesARecount) {
  std::string dir = TempDir();
  int rc = Wait(Spawn({"run", "--lakehouse", dir, "--input", kKaggle, "--rate", "max", "--gold-interval-ms", "0"},
                      dir + "/log.txt"));
  ASSERT_EQ(rc, 0) << ReadFile(dir + "/log.txt");
  EXPECT_NE(ReadFile(dir + "/log.txt").find("lakestream summary"), std::string::npos);
  EXPECT_NE(ReadFile(dir + "/_broker").find("bootstrap.servers=127.0.0.1:"), std::string::npos);
  Lake lake(dir);
  ExpectEveryBronzeRowAccountedFor(lake, 1305);
  ExpectGoldMatchesRecount(dir, kKaggle, /*with_pandas=*/true);
  ExpectGoldEqualsRecountOfSilver(lake);
}

TEST(EndToEnd, UciExcerptLandsOnceInEveryLayerAndGoldMatchesARecount) {
  std::string dir = TempDir();
  int rc = Wait(Spawn({"run", "--lakehouse", dir, "--input", kUci, "--rate", "max"}, dir + "/log.txt"));
  ASSERT_EQ(rc, 0) << ReadFile(dir + "/log.txt");
  Lake lake(dir);
  ExpectEveryBronzeRowAccountedFor(lake, 9999);
  ExpectGoldMatchesRecount(dir, kUci);
  // Event times are UTC: December is GMT, so local 8:26 is 08:26Z.
  EXPECT_EQ(lake.One("SELECT strftime(min(event_time), '%Y-%m-%dT%H:%M') FROM " + lake.Scan("silver/orders")),
            "2010-12-01T08:26");
  // A second run over the same input produces nothing new: every line is already in bronze.
  rc = Wait(Spawn({"run", "--lakehouse", dir, "--input", kUci, "--rate", "max"}, dir + "/log2.txt"));
  ASSERT_EQ(rc, 0) << ReadFile(dir + "/log2.txt");
  EXPECT_NE(ReadFile(dir + "/log2.txt").find("9,999 lines of"), std::string::npos) << ReadFile(dir + "/log2.txt");
  ExpectEveryBronzeRowAccountedFor(lake, 9999);
}

TEST(EndToEnd, ExternalKafkaClientProducesDuringFollowAndEventsReachEveryLayer) {
  std::string dir = TempDir();
  pid_t pid = Spawn({"run", "--lakehouse", dir, "--input", kKaggle, "--rate", "max", "--follow",
                     "--commit-interval-ms", "200", "--gold-interval-ms", "200"},
                    dir + "/log.txt");
  Lake lake(dir);
  auto wait_for = [&](const std::function<bool()>& cond) {
    for (int i = 0; i < 600 && !cond(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    return cond();
  };
  ASSERT_TRUE(wait_for([&] { return lake.Rows("bronze/orders") == 1305; })) << ReadFile(dir + "/log.txt");
  std::string broker = ReadFile(dir + "/_broker");
  auto start = broker.find('=') + 1;
  std::string bootstrap = broker.substr(start, broker.find('\n') - start);
  std::string cmd = "/usr/bin/python3 " + kSource + "/tests/e2e/produce_external.py " + bootstrap + " orders";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  ASSERT_TRUE(wait_for([&] { return lake.Rows("bronze/orders") == 1309; })) << ReadFile(dir + "/log.txt");
  kill(pid, SIGINT);
  ASSERT_EQ(Wait(pid), 0) << ReadFile(dir + "/log.txt");
  ExpectEveryBronzeRowAccountedFor(lake, 1309);
  EXPECT_EQ(lake.One("SELECT count(*) FROM " + lake.Scan("silver/orders") + " WHERE country = 'Atlantis'"), "3");
  EXPECT_EQ(lake.One("SELECT failed_rules FROM " + lake.Scan("silver/orders_quarantine") +
                     " WHERE decode(payload) LIKE '%Atlantis%'"),
            "required_fields");
  EXPECT_NE(lake.One("SELECT reason FROM " + lake.Scan("silver/orders_quarantine") +
                     " WHERE decode(payload) LIKE '%Atlantis%'").find("/Price: 'not a price'"),
            std::string::npos);
  // Headers are kept in bronze: text as text, bytes that are not UTF-8 in base64.
  EXPECT_EQ(lake.One("SELECT headers FROM " + lake.Scan("bronze/orders") +
                     " WHERE decode(payload) LIKE '%990001%'"),
            R"([{"key":"trace-id","value":"t-1"},{"key":"raw","value_base64":"/wA="}])");
  EXPECT_EQ(lake.One("SELECT revenue_gbp::VARCHAR FROM " + lake.Scan("gold/sales_daily") +
                     " WHERE country = 'Atlantis'"),
            "27.500");
}

TEST(EndToEnd, KilledRunResumesWithoutLossOrDuplicates) {
  std::string dir = TempDir();
  pid_t pid = Spawn({"run", "--lakehouse", dir, "--input", kUci, "--rate", "1000", "--commit-interval-ms", "300"},
                    dir + "/log1.txt");
  Lake lake(dir);
  for (int i = 0; i < 600 && lake.Rows("bronze/orders") < 2000; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(pid, SIGKILL);  // no clean shutdown: whatever was in flight is lost with the embedded broker
  Wait(pid);
  int64_t after_crash = lake.Rows("bronze/orders");
  ASSERT_GT(after_crash, 0);
  ASSERT_LT(after_crash, 9999) << "the run finished before it was killed; the test proves nothing";
  int rc = Wait(Spawn({"run", "--lakehouse", dir, "--input", kUci, "--rate", "max"}, dir + "/log2.txt"));
  ASSERT_EQ(rc, 0) << ReadFile(dir + "/log2.txt");
  ExpectEveryBronzeRowAccountedFor(lake, 9999, /*one_broker=*/false);
  ExpectGoldMatchesRecount(dir, kUci);
}

TEST(EndToEnd, BrokerProduceAndIngestRunAsSeparateProcessesAndARestartedBrokerIsReadFromItsStart) {
  std::string dir = TempDir();
  Lake lake(dir);
  auto broker_ready = [&] {
    for (int i = 0; i < 100 && ReadFile(dir + "/_broker").find("bootstrap.servers=") == std::string::npos; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  };
  pid_t broker = Spawn({"broker", "--lakehouse", dir}, dir + "/broker.txt");
  broker_ready();
  ASSERT_EQ(Wait(Spawn({"produce", "--lakehouse", dir, "--input", kKaggle, "--rate", "max", "-K", "client.id=e2e"},
                       dir + "/produce.txt")),
            0)
      << ReadFile(dir + "/produce.txt");
  ASSERT_EQ(Wait(Spawn({"ingest", "--lakehouse", dir, "--idle-exit-ms", "1500", "-K", "client.id=e2e"},
                       dir + "/ingest.txt")),
            0)
      << ReadFile(dir + "/ingest.txt");
  ExpectEveryBronzeRowAccountedFor(lake, 1305);
  // The broker keeps its topic: a second ingest resumes after the committed offsets and adds nothing.
  ASSERT_EQ(Wait(Spawn({"ingest", "--lakehouse", dir, "--idle-exit-ms", "1500"}, dir + "/ingest2.txt")), 0)
      << ReadFile(dir + "/ingest2.txt");
  ExpectEveryBronzeRowAccountedFor(lake, 1305);
  // A restarted broker has a new, empty topic under a new epoch (its file says so). Resuming at the
  // old epoch's offsets, as --source-epoch forces, must stop with DataLoss, never skip silently.
  const std::string old_file = ReadFile(dir + "/_broker");
  const std::string old_epoch = old_file.substr(old_file.find("source.epoch=") + 13, 36);
  kill(broker, SIGINT);
  ASSERT_EQ(Wait(broker), 0);
  std::filesystem::remove(dir + "/_broker");
  broker = Spawn({"broker", "--lakehouse", dir}, dir + "/broker2.txt");
  broker_ready();
  std::string bootstrap = ReadFile(dir + "/_broker");
  bootstrap = bootstrap.substr(18, bootstrap.find('\n') - 18);
  std::string cmd = "/usr/bin/python3 " + kSource + "/tests/e2e/produce_external.py " + bootstrap + " orders";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  int rc = Wait(Spawn({"ingest", "--lakehouse", dir, "--idle-exit-ms", "3000", "--source-epoch", old_epoch},
                      dir + "/ingest3.txt"));
  EXPECT_EQ(rc, 1) << ReadFile(dir + "/ingest3.txt");
  EXPECT_NE(ReadFile(dir + "/ingest3.txt").find("beyond the end of the partition"), std::string::npos)
      << ReadFile(dir + "/ingest3.txt");
  ExpectEveryBronzeRowAccountedFor(lake, 1305);
  // Without the flag, ingest takes the new broker's epoch from its file and reads the new topic from
  // offset 0: the 4 external records land (3 in silver, 1 quarantined).
  rc = Wait(Spawn({"ingest", "--lakehouse", dir, "--idle-exit-ms", "3000"}, dir + "/ingest4.txt"));
  kill(broker, SIGINT);
  Wait(broker);
  EXPECT_EQ(rc, 0) << ReadFile(dir + "/ingest4.txt");
  ExpectEveryBronzeRowAccountedFor(lake, 1309, /*one_broker=*/false);
}

TEST(Bench, ASmallRunPrintsEveryMeasureAndLeavesNoWorkDirectory) {
  std::string dir = TempDir() + "/bench";
  ASSERT_EQ(Wait(Spawn({"bench", "--input", kUci, "--events", "3000", "--steady-events", "600", "--steady-rate", "600", "--dir", dir,
                        "--progress-interval-ms", "500"},
                       dir + ".txt")),
            0)
      << ReadFile(dir + ".txt");
  const std::string out = ReadFile(dir + ".txt");
  for (const char* row : {"| end-to-end throughput, embedded broker → bronze, silver, gold | ",
                          "| raw consume ceiling", "| throughput / raw ceiling | ", "| freshness at 600 events/s",
                          "| peak RSS (pipeline phase, 3,000 events) | "}) {
    EXPECT_NE(out.find(row), std::string::npos) << row << "\n" << out;
  }
  EXPECT_NE(out.find("(3,000 events in "), std::string::npos) << out;  // every event reached bronze
  EXPECT_FALSE(std::filesystem::exists(dir)) << "the work directory is removed without --keep";
  // A non-empty work directory is refused with the fix.
  std::filesystem::create_directories(dir + "/x");
  EXPECT_EQ(Wait(Spawn({"bench", "--events", "1000", "--dir", dir}, dir + "2.txt")), 1);
  EXPECT_NE(ReadFile(dir + "2.txt").find("is not empty"), std::string::npos) << ReadFile(dir + "2.txt");
}

TEST(Cli, BadKafkaPropertyStopsAtStartup) {
  std::string dir = TempDir();
  int rc = Wait(Spawn({"run", "--lakehouse", dir, "-K", "no.such.property=1"}, dir + "/log.txt"));
  EXPECT_EQ(rc, 1);
  EXPECT_NE(ReadFile(dir + "/log.txt").find("Kafka property no.such.property=1"), std::string::npos)
      << ReadFile(dir + "/log.txt");
}

TEST(Cli, BadFlagStopsAtStartupWithAHowToFixMessage) {
  std::string dir = TempDir();
  int rc = Wait(Spawn({"run", "--lakehouse", dir, "--rate", "fast"}, dir + "/log.txt"));
  EXPECT_EQ(rc, 2);
  EXPECT_NE(ReadFile(dir + "/log.txt").find("invalid value 'fast' for --rate"), std::string::npos) << ReadFile(dir + "/log.txt");
  rc = Wait(Spawn({"run", "--lakehouse", dir, "--input", dir + "/missing.csv"}, dir + "/log2.txt"));
  EXPECT_EQ(rc, 1);
  EXPECT_NE(ReadFile(dir + "/log2.txt").find("missing.csv: no such file"), std::string::npos) << ReadFile(dir + "/log2.txt");
  EXPECT_FALSE(std::filesystem::exists(dir + "/_broker")) << "the missing input stops the run before the broker starts";
}

TEST(Configuration, CommittedConfigurationMdIsUpToDate) {
  std::string dir = TempDir();
  ASSERT_EQ(Wait(Spawn({"config", "docs"}, dir + "/CONFIGURATION.md")), 0);
  EXPECT_EQ(ReadFile(dir + "/CONFIGURATION.md"), ReadFile(kSource + "/CONFIGURATION.md"))
      << "CONFIGURATION.md is stale: run build/release/lakestream config docs > CONFIGURATION.md";
}

}  // namespace
}  // namespace lakestream::e2e

namespace lakestream::e2e {
namespace {

// Runs `command` (a shell command line) in `dir`; returns its exit code, output in `log`.
int RunIn(const std::string& dir, const std::string& command, const std::string& log) {
  const int rc = std::system(("cd '" + dir + "' && " + command + " > '" + log + "' 2>&1").c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// The binary finds what it ships with (sample data, pipeline files, jobs) from any working directory:
// from the build tree here, from PREFIX/share/lakestream once installed.
TEST(Cli, WorksFromAnyDirectory) {
  const std::string dir = TempDir(), bin = LAKESTREAM_BINARY;
  ASSERT_EQ(RunIn(dir, bin + " run --limit 500 --no-http --lakehouse lake", dir + "/run.txt"), 0)
      << ReadFile(dir + "/run.txt");
  Lake lake(dir + "/lake");
  EXPECT_EQ(lake.Rows("bronze/orders"), 500);
  EXPECT_EQ(lake.Rows("silver/orders") + lake.Rows("silver/orders_quarantine"), 500);
  ASSERT_EQ(RunIn(dir, bin + " run --pipeline pipelines/notifications.toml --limit 300 --rate max --no-http --lakehouse nlake",
                  dir + "/notifications.txt"),
            0)
      << ReadFile(dir + "/notifications.txt");
  EXPECT_EQ(Lake(dir + "/nlake").Rows("bronze/notifications"), 300);
  ASSERT_EQ(RunIn(dir, bin + " job run invoices --input " + kSource + "/data/communication-platform/invoices.csv" +
                           " --lakehouse jlake",
                  dir + "/job.txt"),
            0)
      << ReadFile(dir + "/job.txt");
  ASSERT_EQ(RunIn(dir, bin + " job list", dir + "/list.txt"), 0) << ReadFile(dir + "/list.txt");
  EXPECT_NE(ReadFile(dir + "/list.txt").find("invoices"), std::string::npos) << ReadFile(dir + "/list.txt");
  // A missing input names the flag and stops before anything is created.
  EXPECT_EQ(RunIn(dir, bin + " run --input nowhere.csv --no-http --lakehouse missing", dir + "/missing.txt"), 1);
  EXPECT_NE(ReadFile(dir + "/missing.txt").find("--input nowhere.csv: no such file"), std::string::npos)
      << ReadFile(dir + "/missing.txt");
  EXPECT_FALSE(std::filesystem::exists(dir + "/missing"));
}

TEST(Cli, InstalledBinaryFindsItsDataInShare) {
  const std::string dir = TempDir();
  const std::string build = std::filesystem::path(LAKESTREAM_BINARY).parent_path().string();
  ASSERT_EQ(RunIn(dir, "cmake --install '" + build + "' --prefix '" + dir + "/prefix'", dir + "/install.txt"), 0)
      << ReadFile(dir + "/install.txt");
  ASSERT_TRUE(std::filesystem::exists(dir + "/prefix/share/lakestream/data/online-shop"));
  ASSERT_EQ(RunIn(dir, dir + "/prefix/bin/lakestream run --limit 200 --no-http --lakehouse lake", dir + "/run.txt"), 0)
      << ReadFile(dir + "/run.txt");
  EXPECT_EQ(Lake(dir + "/lake").Rows("bronze/orders"), 200);
  std::filesystem::remove_all(dir + "/prefix");
}

}  // namespace
}  // namespace lakestream::e2e
