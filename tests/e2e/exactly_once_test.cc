// Exactly-once across crashes (docs/exactly-once.md): processes are killed with SIGKILL at random
// moments and restarted, then every layer is checked. Each run uses a new seed, printed as
// "[seed] N"; set LAKESTREAM_TEST_SEED=N to replay the same kill moments.
#include <random>
#include <set>

#include "e2e/e2e_util.h"
#include "format/order_event.h"

namespace lakestream::e2e {
namespace {

uint64_t TestSeed() {
  uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("LAKESTREAM_TEST_SEED")) seed = std::stoull(s);
  std::printf("[seed] %llu (replay with LAKESTREAM_TEST_SEED=%llu)\n", static_cast<unsigned long long>(seed),
              static_cast<unsigned long long>(seed));
  ::testing::Test::RecordProperty("seed", std::to_string(seed));
  return seed;
}

// Waits until `log` shows that the process owns partitions (or `max_ms` passed).
void WaitForAssignment(const std::string& log, int max_ms) {
  for (int waited = 0; waited < max_ms && ReadFile(log).find("assigned ") == std::string::npos; waited += 50) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

bool Running(pid_t pid) {
  int status = 0;
  return waitpid(pid, &status, WNOHANG) == 0;
}

// Silver holds each event id once, and exactly the input's lines 1..lines (none is quarantined in
// the UCI excerpt); bronze holds each Kafka record of each broker life once, with no gap.
void ExpectExactlyTheInput(Lake& lake, const std::string& source_name, int64_t lines) {
  std::string silver = lake.Scan("silver/orders"), bronze = lake.Scan("bronze/orders");
  EXPECT_EQ(lake.One("SELECT count(*) FROM " + lake.Scan("silver/orders_quarantine")), "0");
  EXPECT_EQ(lake.One("SELECT count(*) FROM " + silver), std::to_string(lines));
  EXPECT_EQ(lake.One("SELECT count(DISTINCT event_id) FROM " + silver), std::to_string(lines));
  std::string ids;
  for (int64_t l = 1; l <= lines; ++l) ids += (l > 1 ? "), (" : "(") + ColumnarEngine::Quote(EventIdForSourceLine(source_name, l));
  ids += ")";
  EXPECT_EQ(lake.One("SELECT count(*) FROM (VALUES " + ids + ") AS input(id) ANTI JOIN " + silver +
                     " s ON s.event_id = input.id"),
            "0")
      << "input lines missing from silver";
  // Bronze: (epoch, partition, offset) unique, and per (epoch, partition) the offsets 0..n-1.
  EXPECT_EQ(lake.One("SELECT count(*) - count(DISTINCT (source_epoch, \"partition\", \"offset\")) FROM " + bronze), "0");
  EXPECT_EQ(lake.One("SELECT count(*) FROM (SELECT source_epoch, \"partition\", count(*) AS n, min(\"offset\") AS lo, "
                     "max(\"offset\") AS hi FROM " + bronze + " GROUP BY ALL) WHERE lo <> 0 OR hi <> n - 1"),
            "0")
      << "a gap or a duplicate in bronze's Kafka offsets";
}

TEST(ExactlyOnce, IngestAndProduceKilledAtRandomMomentsLoseAndDuplicateNothing) {
  std::mt19937_64 rng(TestSeed());
  std::string dir = TempDir();
  Lake lake(dir);
  pid_t broker = Spawn({"broker", "--lakehouse", dir}, dir + "/broker.txt");
  for (int i = 0; i < 100 && ReadFile(dir + "/_broker").find("bootstrap.servers=") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // A SIGKILLed member sends no LeaveGroup: the group admits its successor once the dead member's
  // session expires (2.5 s on the embedded broker: docs/reliability.md, "Restarts").
  const std::vector<std::string> ingest = {"ingest", "--lakehouse", dir, "--follow", "--commit-interval-ms", "200",
                                           "--gold-interval-ms", "300"};
  const std::vector<std::string> produce = {"produce", "--lakehouse", dir, "--input", kUci, "--rate", "400"};
  pid_t producer = Spawn(produce, dir + "/produce0.txt");
  int produce_runs = 1, produce_kills = 0;
  for (int k = 0; k < 10; ++k) {
    std::string log = dir + "/ingest" + std::to_string(k) + ".txt";
    pid_t consumer = Spawn(ingest, log);
    WaitForAssignment(log, 20000);
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 1500)(rng)));
    kill(consumer, SIGKILL);
    Wait(consumer);
    // The producer dies too, now and then: restarted, it sends the file again from the top (the
    // same event ids under new offsets), which silver must drop as redeliveries.
    if (Running(producer) && produce_kills < 2 && rng() % 2 == 0) {
      kill(producer, SIGKILL);
      Wait(producer);
      produce_kills++;
      producer = Spawn(produce, dir + "/produce" + std::to_string(produce_runs++) + ".txt");
    }
  }
  ASSERT_EQ(Wait(producer), 0) << ReadFile(dir + "/produce" + std::to_string(produce_runs - 1) + ".txt");
  std::printf("killed ingest 10 times and produce %d times\n", produce_kills);
  int rc = Wait(Spawn({"ingest", "--lakehouse", dir, "--idle-exit-ms", "3000"},
                      dir + "/ingest-final.txt"));
  kill(broker, SIGINT);
  Wait(broker);
  ASSERT_EQ(rc, 0) << ReadFile(dir + "/ingest-final.txt");
  ExpectExactlyTheInput(lake, "online_retail.first-9999-rows.orig-format.csv.gz", 9999);
  if (produce_kills > 0) {
    EXPECT_GT(lake.Rows("bronze/orders"), 9999) << "the producer was restarted: bronze holds the resent lines too";
  }
  ExpectGoldEqualsRecountOfSilver(lake);
  ExpectGoldMatchesRecount(dir, kUci);
}

TEST(ExactlyOnce, EmbeddedRunKilledAtRandomMomentsResumesAfterTheLastLineInBronze) {
  std::mt19937_64 rng(TestSeed());
  std::string dir = TempDir();
  Lake lake(dir);
  // 80 lines/s: even when joining the group takes 8 s on a busy machine, 10 runs commit at most
  // 10 × (8 + 1.5) s × 80 = 7,600 lines, so the final run always has lines left to resume.
  for (int k = 0; k < 10; ++k) {
    std::string log = dir + "/run" + std::to_string(k) + ".txt";
    pid_t pid = Spawn({"run", "--lakehouse", dir, "--input", kUci, "--rate", "80", "--commit-interval-ms", "200",
                       "--gold-interval-ms", "300"},
                      log);
    WaitForAssignment(log, 20000);
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 1500)(rng)));
    kill(pid, SIGKILL);  // the embedded broker dies with it: its uncommitted records are gone
    Wait(pid);
  }
  int64_t before_final = lake.Rows("bronze/orders");
  std::printf("bronze held %lld of 9,999 lines after 10 kills\n", static_cast<long long>(before_final));
  ASSERT_LT(before_final, 9999) << "the runs finished before they were killed: the test would prove nothing";
  int rc = Wait(Spawn({"run", "--lakehouse", dir, "--input", kUci, "--rate", "max"}, dir + "/run-final.txt"));
  ASSERT_EQ(rc, 0) << ReadFile(dir + "/run-final.txt");
  // The replay resumed after what bronze holds: no line was produced twice into bronze.
  EXPECT_EQ(lake.Rows("bronze/orders"), 9999);
  ExpectExactlyTheInput(lake, "online_retail.first-9999-rows.orig-format.csv.gz", 9999);
  ExpectGoldEqualsRecountOfSilver(lake);
  ExpectGoldMatchesRecount(dir, kUci);
}

}  // namespace
}  // namespace lakestream::e2e
