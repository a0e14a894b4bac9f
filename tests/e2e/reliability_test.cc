// The data-loss paths hostile testing found (docs/reliability.md): each test failed on the version
// before its fix, with rc 0 and rows lost.
#include <httplib.h>

#include <random>

#include "e2e/e2e_util.h"
#include "format/order_event.h"
#include "format/schema_decoder.h"
#include "lake/delta/delta_scan.h"
#include "lake/delta/delta_writer.h"
#include "pipeline/medallion.h"
#include "pipeline/medallion_pipeline.h"
#include "pipeline/pipeline_spec.h"
#include "source/kafka/embedded_broker.h"

namespace lakestream::e2e {
namespace {

// Waits until `log` holds `text` (or `max_ms` passed); returns whether it does.
bool WaitForLog(const std::string& log, const std::string& text, int max_ms) {
  for (int waited = 0; waited < max_ms; waited += 50) {
    if (ReadFile(log).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// Order-line events of a synthetic source, lines `from`..`to`, on `partition` from offset `first_offset`.
std::vector<KafkaRecord> SyntheticOrders(int64_t from, int64_t to, int32_t partition, int64_t first_offset) {
  std::vector<KafkaRecord> out;
  for (int64_t line = from; line <= to; ++line) {
    OrderLine l{"5" + std::to_string(100000 + line), "2011-01-05 10:00", "85123A", "WHITE HANGING HEART T-LIGHT HOLDER",
                "2.55", "6", "17850", "United Kingdom"};
    OrderEnvelope env{EventIdForSourceLine("synthetic", line), std::nullopt, "synthetic", line};
    env.event_time_us = ParseIsoTimestampWithOffset("2011-01-05T10:00:00Z");
    KafkaRecord r;
    r.topic = "orders";
    r.partition = partition;
    r.offset = first_offset + (line - from);
    r.key = l.transaction_no;
    r.value = EncodeOrderEvent(l, env);
    out.push_back(std::move(r));
  }
  return out;
}

MedallionPipelineOptions LibraryOptions(const std::string& dir) {
  MedallionPipelineOptions o;
  o.spec = std::move(DefaultOrdersPipelineSpec()).value();
  o.lake_root = dir;
  o.source_epoch = "e1";
  o.auto_compact_min_files = 0;
  return o;
}

// Before the writer lease, a double start left this behind: a second writer committed a bronze
// version and stopped on the silver conflict, and the survivor moved silver's and quarantine's txns
// past that version. The start-up check finds the version by what the derived tables contain and
// derives it; before it, those rows never reached silver or gold and every restart exited 0.
TEST(DoubleStart, ABronzeVersionWithNoDerivedRowsIsRepairedAtTheNextStart) {
  const std::string dir = TempDir();
  Lake lake(dir);
  {
    auto p = MedallionPipeline::Open(LibraryOptions(dir));
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    ASSERT_TRUE((*p)->ProcessBatch(SyntheticOrders(1, 100, 0, 0)).ok());
    ASSERT_TRUE((*p)->Close().ok());
  }
  int64_t other_version = -1;
  {  // The damage, written as the two processes of the old version wrote it.
    auto engine = ColumnarEngine::Open(1, "256MB");
    ASSERT_TRUE(engine.ok());
    auto open = [&](const std::string& name) {
      return std::move(DeltaTable::Open(std::move(OpenStorage(dir + "/" + name)).value(), name)).value();
    };
    auto bronze = open("bronze/orders");
    std::map<int32_t, int64_t> bytes;
    // Lines 101-150 on partition 1, plus five redeliveries of lines 1-5 under new offsets.
    std::vector<KafkaRecord> records = SyntheticOrders(101, 150, 1, 0);
    for (auto& r : SyntheticOrders(1, 5, 1, 50)) records.push_back(r);
    auto v = medallion::CommitBronze(
        *bronze, **engine, records, NowMicros(), "e1",
        [](const std::string& t, int32_t p) { return "lakestream-orders-bronze-" + t + "-" + std::to_string(p) + "@e1"; },
        "second-writer", &bytes);
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    other_version = *v;
    for (const char* name : {"silver/orders", "silver/orders_quarantine"}) {
      auto t = open(name);
      Transaction txn;
      txn.operation = "STREAMING UPDATE";
      const std::string app = std::string("lakestream-orders-") + (name == std::string("silver/orders") ? "silver" : "quarantine") + "<-bronze";
      txn.txns.push_back({app, *v, 0});
      ASSERT_TRUE(t->Commit(txn).ok());
    }
  }
  ASSERT_EQ(lake.Rows("silver/orders"), 100);
  {
    auto p = MedallionPipeline::Open(LibraryOptions(dir));
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    EXPECT_EQ((*p)->counters().repaired_versions.load(), 1);
    EXPECT_EQ((*p)->counters().duplicates_dropped.load(), 5) << "the redelivered lines 1-5 are in silver already";
    ASSERT_TRUE((*p)->Close().ok());
  }
  EXPECT_EQ(lake.Rows("silver/orders"), 150);
  const std::string silver = lake.Scan("silver/orders");
  EXPECT_EQ(lake.One("SELECT count(DISTINCT event_id) FROM " + silver), "150");
  EXPECT_EQ(lake.One("SELECT count(*) FROM " + silver + " WHERE bronze_version = " + std::to_string(other_version)),
            "50");
  ExpectGoldEqualsRecountOfSilver(lake);
  {  // Checked once: the next start finds nothing to repair.
    auto p = MedallionPipeline::Open(LibraryOptions(dir));
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    EXPECT_EQ((*p)->counters().repaired_versions.load(), 0);
    ASSERT_TRUE((*p)->Close().ok());
  }
  EXPECT_EQ(lake.Rows("silver/orders"), 150);
}

// Another writer rewrites silver (a Databricks DELETE: silver's appendOnly lifted, its file removed with
// dataChange=true, the kept rows added in a new file). The notifications gold tables merge partial
// aggregates of new silver files into their partitions, so the incremental refresh used to take the
// new file for new rows and count the kept rows a second time; a silver commit that removes rows now
// makes gold recount. (The orders tables recompute touched keys from all of silver and were right.)
TEST(GoldRefresh, RowsAnotherWriterRemovedFromSilverAreRecountedNotCountedTwice) {
  const std::string dir = TempDir();
  Lake lake(dir);
  auto spec = LoadPipelineSpec(kSource + "/pipelines/notifications.toml");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  MedallionPipelineOptions o;
  o.spec = *spec;
  o.lake_root = dir;
  o.gold_interval_ms = 0;
  o.auto_compact_min_files = 0;
  auto messages = [](int from, int to, int64_t first_offset) {
    std::vector<KafkaRecord> out;
    for (int i = from; i <= to; ++i) {
      KafkaRecord r;
      r.topic = "notifications";
      r.offset = first_offset + (i - from);
      r.key = "7494212";
      r.value = R"({"customer_id":"7494212","message_id":"m)" + std::to_string(i) +
                R"(","customer_name":"Acme","channel":"Whatsapp","event_datetime":"2020-02-03T10:)" +
                (i % 60 < 10 ? "0" : "") + std::to_string(i % 60) + R"(:00.000+00:00"})";
      out.push_back(std::move(r));
    }
    return out;
  };
  {
    auto p = MedallionPipeline::Open(o);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    ASSERT_TRUE((*p)->ProcessBatch(messages(1, 100, 0)).ok());
    ASSERT_TRUE((*p)->Close().ok());
  }
  {
    auto engine = std::move(ColumnarEngine::Open(1, "256MB")).value();
    auto silver = std::move(DeltaTable::Open(std::move(OpenStorage(dir + "/silver/notifications")).value(),
                                             "silver/notifications")).value();
    Transaction props;
    props.operation = "SET TBLPROPERTIES";
    props.set_properties = std::map<std::string, std::string>{{"delta.appendOnly", "false"}};
    ASSERT_TRUE(silver->Commit(props).ok());
    auto files = DataFileLocalPaths(silver->storage(), silver->snapshot().files);
    ASSERT_TRUE(files.ok());
    const std::string rel = NewDataFileName();
    auto local = silver->storage().StagingPath(rel);
    ASSERT_TRUE(local.ok());
    auto info = engine->WriteQueryToParquet("SELECT * FROM read_parquet(" + ColumnarEngine::PathList(*files) +
                                                ") WHERE kafka_offset >= 10",
                                            DeclaredSilverColumns(*spec), *local);
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    ASSERT_TRUE(silver->storage().PutFile(rel, *local).ok());
    Transaction del;
    del.operation = "DELETE";
    for (const auto& [key, f] : silver->snapshot().files) del.removes.push_back(RemoveOf(f, NowMillis(), true));
    del.adds.push_back(MakeAddFile(rel, *info, {}, true));
    ASSERT_TRUE(silver->Commit(del).ok());
  }
  ASSERT_EQ(lake.Rows("silver/notifications"), 90);
  {
    auto p = MedallionPipeline::Open(o);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    ASSERT_TRUE((*p)->ProcessBatch(messages(101, 120, 100)).ok());
    ASSERT_TRUE((*p)->Close().ok());
  }
  EXPECT_EQ(lake.Rows("silver/notifications"), 110);
  EXPECT_EQ(lake.One("SELECT sum(notifications) FROM " + lake.Scan("gold/notification_usage_minute")), "110");
  EXPECT_EQ(lake.One("SELECT sum(notifications) FROM " + lake.Scan("gold/billing_daily")), "110");
}

// Two `ingest` processes on one lakehouse (a double start, or a rolling update that overlaps): the
// second is refused by the writer lease before it commits anything, and the first lands every line
// once. Before the lease, the second committed bronze versions and stopped on the silver conflict,
// and the first skipped them for good (6,729 of 36,000 rows lost, rc 0).
TEST(DoubleStart, ASecondIngestIsRefusedBeforeItCommitsAnythingAndNothingIsLost) {
  const std::string dir = TempDir();
  Lake lake(dir);
  pid_t broker = Spawn({"broker", "--lakehouse", dir}, dir + "/broker.txt");
  WaitForBrokerFile(dir);
  const std::vector<std::string> ingest = {"ingest", "--lakehouse", dir, "--follow", "--commit-interval-ms", "200",
                                           "--gold-interval-ms", "300"};
  pid_t first = Spawn(ingest, dir + "/first.txt");
  ASSERT_TRUE(WaitForLog(dir + "/first.txt", "assigned ", 30000)) << ReadFile(dir + "/first.txt");
  pid_t producer = Spawn({"produce", "--lakehouse", dir, "--input", kUci, "--rate", "2000"}, dir + "/produce.txt");
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const int second_rc = Wait(Spawn(ingest, dir + "/second.txt"));
  const std::string second_log = ReadFile(dir + "/second.txt");
  EXPECT_NE(second_rc, 0) << second_log;
  EXPECT_NE(second_log.find("another lakestream process is writing this lakehouse's tables"), std::string::npos)
      << second_log;
  EXPECT_NE(second_log.find("pid " + std::to_string(first)), std::string::npos) << "names the holder: " << second_log;
  EXPECT_EQ(second_log.find("assigned "), std::string::npos) << "refused before it joins the group: " << second_log;
  ASSERT_EQ(Wait(producer), 0) << ReadFile(dir + "/produce.txt");
  for (int i = 0; i < 300 && lake.Rows("bronze/orders") < 9999; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  kill(first, SIGINT);
  EXPECT_EQ(Wait(first), 0) << ReadFile(dir + "/first.txt");
  // Released at a clean stop: the next process starts at once.
  const int rc = RunCli({"ingest", "--lakehouse", dir, "--idle-exit-ms", "1500"}, dir + "/final.txt");
  kill(broker, SIGINT);
  Wait(broker);
  ASSERT_EQ(rc, 0) << ReadFile(dir + "/final.txt");
  ExpectEveryBronzeRowAccountedFor(lake, 9999);
  EXPECT_EQ(lake.Rows("silver/orders"), 9999);
  ExpectGoldEqualsRecountOfSilver(lake);
  ExpectGoldMatchesRecount(dir, kUci);
}

// Writes lines [from, to] of the UCI excerpt (1-based data lines) as a CSV.gz of their own, with the
// header; returns its path. Event ids derive from the file name, so each part has its own.
std::string UciPart(const std::string& dir, const std::string& name, int from, int to) {
  const std::string out = dir + "/" + name + ".csv.gz";
  const std::string cmd = "(zcat " + kUci + " | head -1; zcat " + kUci + " | sed -n '" + std::to_string(from + 1) + "," +
                          std::to_string(to + 1) + "p') | gzip > " + out;
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  return out;
}

std::string BrokerAddress(const std::string& dir) {
  std::string text = ReadFile(dir + "/_broker");
  return text.substr(18, text.find('\n') - 18);
}

// `lakestream broker` restarted under a running `ingest --follow`, then again with `ingest` stopped:
// each new broker has a new, empty topic whose offsets begin at 0 again. Before the fix, a restarted
// ingest resumed at the old offsets on the new topic and skipped its start (4,000 of 8,000 lost, rc 0),
// and a running one kept calling the dead broker.
TEST(BrokerRestart, IngestReadsEachNewBrokerFromItsFirstOffset) {
  const std::string dir = TempDir();
  Lake lake(dir);
  const std::string a = UciPart(dir, "part-a", 1, 3000), b = UciPart(dir, "part-b", 3001, 6000),
                    c = UciPart(dir, "part-c", 6001, 9999);
  pid_t broker = Spawn({"broker", "--lakehouse", dir}, dir + "/broker1.txt");
  WaitForBrokerFile(dir);
  pid_t ingest = Spawn({"ingest", "--lakehouse", dir, "--follow", "--commit-interval-ms", "200"}, dir + "/ingest1.txt");
  ASSERT_EQ(RunCli({"produce", "--lakehouse", dir, "--input", a, "--rate", "max"}, dir + "/produce-a.txt"), 0)
      << ReadFile(dir + "/produce-a.txt");
  for (int i = 0; i < 300 && lake.Rows("bronze/orders") < 3000; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_EQ(lake.Rows("bronze/orders"), 3000) << ReadFile(dir + "/ingest1.txt");
  // 1. The broker restarts under the running ingest.
  kill(broker, SIGINT);
  ASSERT_EQ(Wait(broker), 0);
  broker = Spawn({"broker", "--lakehouse", dir}, dir + "/broker2.txt");
  for (int i = 0; i < 100 && ReadFile(dir + "/broker2.txt").find("address written") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(RunCli({"produce", "--lakehouse", dir, "--input", b, "--rate", "max"}, dir + "/produce-b.txt"), 0)
      << ReadFile(dir + "/produce-b.txt");
  for (int i = 0; i < 300 && lake.Rows("bronze/orders") < 6000; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(lake.Rows("bronze/orders"), 6000) << ReadFile(dir + "/ingest1.txt");
  EXPECT_NE(ReadFile(dir + "/ingest1.txt").find("the embedded broker restarted"), std::string::npos)
      << ReadFile(dir + "/ingest1.txt");
  kill(ingest, SIGINT);
  ASSERT_EQ(Wait(ingest), 0) << ReadFile(dir + "/ingest1.txt");
  // 2. The broker restarts while ingest is stopped; the next ingest starts the new topic at 0.
  kill(broker, SIGINT);
  ASSERT_EQ(Wait(broker), 0);
  broker = Spawn({"broker", "--lakehouse", dir}, dir + "/broker3.txt");
  for (int i = 0; i < 100 && ReadFile(dir + "/broker3.txt").find("address written") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  pid_t producer = Spawn({"produce", "--lakehouse", dir, "--input", c, "--rate", "max"}, dir + "/produce-c.txt");
  const int rc = RunCli({"ingest", "--lakehouse", dir, "--idle-exit-ms", "3000"}, dir + "/ingest2.txt");
  EXPECT_EQ(Wait(producer), 0) << ReadFile(dir + "/produce-c.txt");
  kill(broker, SIGINT);
  Wait(broker);
  ASSERT_EQ(rc, 0) << ReadFile(dir + "/ingest2.txt");
  ExpectEveryBronzeRowAccountedFor(lake, 9999, /*one_broker=*/false);
  EXPECT_EQ(lake.Rows("silver/orders"), 9999);
  // Each broker life's offsets are complete: 0..n-1 per (epoch, partition).
  const std::string bronze = lake.Scan("bronze/orders");
  EXPECT_EQ(lake.One("SELECT count(DISTINCT source_epoch) FROM " + bronze), "3");
  EXPECT_EQ(lake.One("SELECT count(*) FROM (SELECT source_epoch, \"partition\", count(*) AS n, max(\"offset\") AS hi "
                     "FROM " + bronze + " GROUP BY ALL) WHERE hi <> n - 1"),
            "0");
  ExpectGoldEqualsRecountOfSilver(lake);
}

// Records a broker deleted before `ingest` read them (retention on a Kafka cluster; librdkafka's mock
// without lakestream's guard): the first read of a partition without bronze history starts at offset
// 0 on an embedded broker, finds the gap, records it in bronze and stops, and keeps stopping at every
// start until the loss is accepted by name. Before the fix the partition started at the broker's
// oldest remaining offset and skipped the rest with rc 0 (5,010 of 20,000).
TEST(BrokerEviction, AGapIsRecordedAndStopsEveryStartUntilItIsAccepted) {
  const std::string dir = TempDir();
  Lake lake(dir);
  // The mock alone, hosted by this test, behind the broker file `ingest` reads.
  auto broker = EmbeddedBroker::Start("orders", 1, 1, /*guard=*/false);
  ASSERT_TRUE(broker.ok()) << broker.status().ToString();
  ASSERT_TRUE((*broker)->WriteBrokerFile(dir + "/_broker").ok());
  // 9,000 events of about 1 KB: more than the 5 MiB the mock keeps per partition.
  const std::string cmd = "/usr/bin/python3 " + kSource + "/tests/e2e/produce_burst.py " + BrokerAddress(dir) +
                          " orders 9000 1000 > " + dir + "/burst.txt 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << ReadFile(dir + "/burst.txt");
  const std::vector<std::string> ingest = {"ingest", "--lakehouse", dir, "--idle-exit-ms", "2000"};
  EXPECT_EQ(RunCli(ingest, dir + "/ingest1.txt"), 1);
  const std::string log1 = ReadFile(dir + "/ingest1.txt");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(log1, m, std::regex(R"(--accept-data-loss (0:0-(\d+)))"))) << log1;
  const std::string spec = m[1].str();
  const int64_t last_lost = std::stoll(m[2].str());
  EXPECT_GT(last_lost, 1000) << log1;
  EXPECT_LT(last_lost, 8999) << log1;
  EXPECT_EQ(lake.Rows("bronze/orders"), 0) << "nothing after the gap is read before the stop";
  // Sticky: a plain restart stops again, naming the gap.
  EXPECT_EQ(RunCli(ingest, dir + "/ingest2.txt"), 1);
  EXPECT_NE(ReadFile(dir + "/ingest2.txt").find("records were lost before bronze held them"), std::string::npos)
      << ReadFile(dir + "/ingest2.txt");
  // An acceptance must name a recorded gap exactly.
  std::vector<std::string> wrong = ingest;
  wrong.insert(wrong.end(), {"--accept-data-loss", "0:0-5"});
  EXPECT_EQ(RunCli(wrong, dir + "/ingest3.txt"), 1);
  EXPECT_NE(ReadFile(dir + "/ingest3.txt").find("recorded no open data-loss gap 0:0-5"), std::string::npos)
      << ReadFile(dir + "/ingest3.txt");
  // Accepted: the rest lands, the acceptance is a commit, and the summary shows the loss.
  std::vector<std::string> accept = ingest;
  accept.insert(accept.end(), {"--accept-data-loss", spec});
  ASSERT_EQ(RunCli(accept, dir + "/ingest4.txt"), 0) << ReadFile(dir + "/ingest4.txt");
  const std::string log4 = ReadFile(dir + "/ingest4.txt");
  EXPECT_NE(log4.find("DATA LOSS: orders[0] offsets " + spec.substr(2)), std::string::npos) << log4;
  EXPECT_EQ(lake.Rows("bronze/orders"), 9000 - (last_lost + 1));
  ExpectEveryBronzeRowAccountedFor(lake, 9000 - (last_lost + 1));
  RunCli({"table", dir + "/bronze/orders", "history"}, dir + "/history.txt");
  const std::string history = ReadFile(dir + "/history.txt");
  EXPECT_NE(history.find("ACCEPT DATA LOSS"), std::string::npos) << history;
  EXPECT_NE(history.find("\"flag\":\"--accept-data-loss " + spec + "\""), std::string::npos) << history;
  // And later starts go on.
  EXPECT_EQ(RunCli(ingest, dir + "/ingest5.txt"), 0) << ReadFile(dir + "/ingest5.txt");
}

// The embedded broker itself (`lakestream broker`, with its guard) never deletes what the pipeline has
// not committed: a burst larger than a partition keeps while `ingest` is down is held back, and lands
// whole once `ingest` runs; a record larger than message.max.bytes is refused to its producer. Before,
// the burst's start was deleted silently and the large record acknowledged and then lost.
TEST(BrokerEviction, TheEmbeddedBrokerHoldsABurstBackAndRefusesARecordTooLargeToKeep) {
  const std::string dir = TempDir();
  Lake lake(dir);
  pid_t broker = Spawn({"broker", "--lakehouse", dir, "--partitions", "1"}, dir + "/broker.txt");
  WaitForBrokerFile(dir);
  const std::string cmd = "/usr/bin/python3 " + kSource + "/tests/e2e/produce_burst.py " + BrokerAddress(dir) +
                          " orders 9000 1000 2000000 > " + dir + "/burst.txt 2>&1";
  std::thread burst([&] { EXPECT_EQ(std::system(cmd.c_str()), 0) << ReadFile(dir + "/burst.txt"); });
  ASSERT_TRUE(WaitForLog(dir + "/broker.txt", "holding a produce", 60000)) << ReadFile(dir + "/broker.txt");
  const int rc = RunCli({"ingest", "--lakehouse", dir, "--idle-exit-ms", "4000"}, dir + "/ingest.txt");
  burst.join();
  kill(broker, SIGINT);
  Wait(broker);
  ASSERT_EQ(rc, 0) << ReadFile(dir + "/ingest.txt");
  const std::string out = ReadFile(dir + "/burst.txt");
  EXPECT_NE(out.find("large record of 2000000 bytes: KafkaError{code=MSG_SIZE_TOO_LARGE"), std::string::npos) << out;
  EXPECT_NE(out.find("acknowledged 9000 of 9000"), std::string::npos) << out;
  EXPECT_EQ(lake.Rows("bronze/orders"), 9000);
  ExpectEveryBronzeRowAccountedFor(lake, 9000);
  EXPECT_EQ(ReadFile(dir + "/ingest.txt").find("DATA LOSS"), std::string::npos);
}

// Restarting `ingest` under load from an outside producer: the new process gets its partitions within
// seconds, after a clean stop and after SIGKILL. Before the fix each restart waited about 44 s (up to
// 127 s), long enough for the embedded broker to evict acknowledged records.
TEST(Restarts, ARestartedIngestGetsItsPartitionsWithinSeconds) {
  const std::string dir = TempDir();
  pid_t broker = Spawn({"broker", "--lakehouse", dir}, dir + "/broker.txt");
  WaitForBrokerFile(dir);
  const std::vector<std::string> ingest = {"ingest", "--lakehouse", dir, "--follow", "--no-http"};
  pid_t first = Spawn(ingest, dir + "/ingest0.txt");
  ASSERT_TRUE(WaitForLog(dir + "/ingest0.txt", "assigned ", 30000)) << ReadFile(dir + "/ingest0.txt");
  for (int round = 1; round <= 2; ++round) {
    kill(first, round == 1 ? SIGINT : SIGKILL);
    Wait(first);
    const std::string log = dir + "/ingest" + std::to_string(round) + ".txt";
    const auto t0 = std::chrono::steady_clock::now();
    first = Spawn(ingest, log);
    ASSERT_TRUE(WaitForLog(log, "assigned ", 30000)) << ReadFile(log);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("[restart] after %s: partitions assigned after %.1f s\n", round == 1 ? "a clean stop" : "SIGKILL", s);
    // A bound far above the ~1.5 s and ~4.5 s measured (docs/reliability.md), far below the 44 s stall.
    EXPECT_LT(s, 15.0) << (round == 1 ? "clean stop" : "SIGKILL");
  }
  kill(first, SIGINT);
  Wait(first);
  kill(broker, SIGINT);
  Wait(broker);
}

// A full disk: `run` with its lakehouse on a tmpfs too small for it (a mount namespace of this test's own,
// made with unshare, as no root is needed for it), then the tmpfs grown and `run` again. The first run
// stops with the system's error and exit code 1; the second lands every line once.
TEST(FullDisk, ARunThatFillsTheDiskStopsAndARestartWithRoomLandsEveryLineOnce) {
  const std::string dir = TempDir();
  std::filesystem::create_directories(dir + "/copy");
  const std::string script = dir + "/full.sh";
  std::ofstream(script) << "set -u\n"
                           "mkdir -p \"$1/lake\"\n"
                           "mount -t tmpfs -o size=600k tmpfs \"$1/lake\" || exit 90\n"
                           "\"$2\" run --lakehouse \"$1/lake\" --input \"$3\" --rate max --no-http > \"$1/run1.txt\" 2>&1\n"
                           "echo $? > \"$1/rc1\"\n"
                           "mount -o remount,size=256m \"$1/lake\" || exit 91\n"
                           "\"$2\" run --lakehouse \"$1/lake\" --input \"$3\" --rate max --no-http > \"$1/run2.txt\" 2>&1\n"
                           "echo $? > \"$1/rc2\"\n"
                           "cp -a \"$1/lake/.\" \"$1/copy/\"\n";
  const std::string cmd = "unshare --user --map-root-user --mount bash " + script + " " + dir + " " + LAKESTREAM_BINARY +
                          " " + kUci + " > " + dir + "/unshare.txt 2>&1";
  const int rc = std::system(cmd.c_str());
  if (WEXITSTATUS(rc) == 90 || (WEXITSTATUS(rc) != 0 && !std::filesystem::exists(dir + "/rc1"))) {
    GTEST_SKIP() << "this machine allows no private tmpfs mount (unshare --user --mount): "
                 << ReadFile(dir + "/unshare.txt");
  }
  ASSERT_EQ(WEXITSTATUS(rc), 0) << ReadFile(dir + "/unshare.txt");
  EXPECT_EQ(ReadFile(dir + "/rc1"), "1\n") << ReadFile(dir + "/run1.txt");
  EXPECT_NE(ReadFile(dir + "/run1.txt").find("lakestream: error: IoError"), std::string::npos) << ReadFile(dir + "/run1.txt");
  EXPECT_NE(ReadFile(dir + "/run1.txt").find("No space left on device"), std::string::npos) << ReadFile(dir + "/run1.txt");
  EXPECT_EQ(ReadFile(dir + "/rc2"), "0\n") << ReadFile(dir + "/run2.txt");
  Lake lake(dir + "/copy");
  ExpectEveryBronzeRowAccountedFor(lake, lake.Rows("bronze/orders"), /*one_broker=*/false);
  EXPECT_EQ(lake.Rows("silver/orders"), 9999);
  EXPECT_EQ(lake.One("SELECT count(DISTINCT event_id) FROM " + lake.Scan("silver/orders")), "9999");
  ExpectGoldEqualsRecountOfSilver(lake);
  ExpectGoldMatchesRecount(dir + "/copy", kUci, false, dir);
}

// A lakehouse written by `run` over the Kaggle excerpt, for the corruption tests.
std::string SmallLake() {
  const std::string dir = TempDir();
  EXPECT_EQ(RunCli({"run", "--lakehouse", dir, "--input", kKaggle, "--rate", "max", "--no-http"}, dir + "/run.txt"), 0)
      << ReadFile(dir + "/run.txt");
  return dir;
}

std::string NewestCommit(const std::string& table_dir) {
  std::string newest;
  for (const auto& e : std::filesystem::directory_iterator(table_dir + "/_delta_log")) {
    if (e.path().extension() == ".json" && e.path().string() > newest) newest = e.path().string();
  }
  return newest;
}

// Wrong answers with rc 0 found by hostile testing: a data file replaced by another Parquet file was read
// as valid, and a commit file emptied made silver look empty while gold showed £180k. Both are corruption
// now, named by file, in `sql` and in the API, which lists the table with its error instead of leaving it
// out.
TEST(Corruption, AReplacedDataFileAndAnEmptyCommitAreErrorsNotWrongAnswers) {
  const std::string dir = SmallLake();
  // 1. A silver data file replaced by a bronze one (valid Parquet, other rows and size).
  std::string silver_file, bronze_file;
  for (const auto& e : std::filesystem::directory_iterator(dir + "/silver/orders")) {
    if (e.path().extension() == ".parquet") silver_file = e.path().string();
  }
  for (const auto& e : std::filesystem::directory_iterator(dir + "/bronze/orders")) {
    if (e.path().extension() == ".parquet") bronze_file = e.path().string();
  }
  ASSERT_FALSE(silver_file.empty());
  ASSERT_FALSE(bronze_file.empty());
  const std::string saved = ReadFile(silver_file);
  std::filesystem::copy_file(bronze_file, silver_file, std::filesystem::copy_options::overwrite_existing);
  EXPECT_EQ(RunCli({"sql", "--lakehouse", dir, "SELECT count(*) FROM silver.orders"}, dir + "/sql1.txt"), 1);
  EXPECT_NE(ReadFile(dir + "/sql1.txt").find("but the Delta log's add action records"), std::string::npos)
      << ReadFile(dir + "/sql1.txt");
  std::ofstream(silver_file, std::ios::binary | std::ios::trunc) << saved;
  EXPECT_EQ(RunCli({"sql", "--lakehouse", dir, "SELECT count(*) FROM silver.orders"}, dir + "/sql2.txt"), 0)
      << ReadFile(dir + "/sql2.txt");
  // 2. Silver's newest commit emptied.
  const std::string commit = NewestCommit(dir + "/silver/orders");
  std::ofstream(commit, std::ios::trunc).close();
  EXPECT_EQ(RunCli({"sql", "--lakehouse", dir, "SELECT count(*) FROM silver.orders"}, dir + "/sql3.txt"), 1);
  EXPECT_NE(ReadFile(dir + "/sql3.txt").find("is empty (0 bytes): a commit holds at least one action"),
            std::string::npos) << ReadFile(dir + "/sql3.txt");
  pid_t serve = Spawn({"serve", "--lakehouse", dir, "--http", "127.0.0.1:0"}, dir + "/serve.txt");
  const int port = WaitForPort(dir + "/serve.txt");
  ASSERT_GT(port, 0) << ReadFile(dir + "/serve.txt");
  httplib::Client c("127.0.0.1", port);
  auto tables = c.Get("/api/v1/tables");
  ASSERT_TRUE(tables);
  EXPECT_EQ(tables->status, 200);
  EXPECT_NE(tables->body.find(R"({"name":"silver/orders","layer":"silver","status":"error","error":{"code":"Corruption")"),
            std::string::npos) << tables->body;
  EXPECT_NE(tables->body.find(R"("name":"bronze/orders","layer":"bronze","status":"ok")"), std::string::npos);
  auto metrics = c.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("lakestream_table_readable{table=\"silver/orders\"} 0"), std::string::npos);
  EXPECT_NE(metrics->body.find("lakestream_table_readable{table=\"bronze/orders\"} 1"), std::string::npos);
  kill(serve, SIGTERM);
  EXPECT_EQ(Wait(serve), 0);
}

// `VERSION AS OF 99999999999999999999` aborted the CLI (SIGABRT) and got HTTP 500 from the API; the CLI's
// DuckDB tried to download extensions from the internet. Both are clean errors now.
TEST(SqlSafety, AnOutOfRangeVersionAndAnExtensionFunctionAreCleanErrors) {
  const std::string dir = SmallLake();
  const int rc = RunCli({"sql", "--lakehouse", dir, "SELECT count(*) FROM silver.orders VERSION AS OF 99999999999999999999"},
                        dir + "/version.txt");
  EXPECT_EQ(rc, 1) << ReadFile(dir + "/version.txt");
  EXPECT_NE(ReadFile(dir + "/version.txt").find("version 99999999999999999999 is out of range"), std::string::npos)
      << ReadFile(dir + "/version.txt");
  EXPECT_EQ(RunCli({"sql", "--lakehouse", dir, "SELECT count(*) FROM silver.orders@v99999999999999999999"},
                   dir + "/version2.txt"),
            1);
  // A function of an extension that is not loaded: an error at once, never a download attempt.
  EXPECT_EQ(RunCli({"sql", "--lakehouse", dir, "SELECT st_point(1, 2)"}, dir + "/ext.txt"), 1);
  const std::string ext = ReadFile(dir + "/ext.txt");
  EXPECT_EQ(ext.find("download"), std::string::npos) << ext;
  EXPECT_EQ(ext.find("http"), std::string::npos) << ext;
  pid_t serve = Spawn({"serve", "--lakehouse", dir, "--http", "127.0.0.1:0"}, dir + "/serve.txt");
  const int port = WaitForPort(dir + "/serve.txt");
  ASSERT_GT(port, 0) << ReadFile(dir + "/serve.txt");
  httplib::Client c("127.0.0.1", port);
  auto r = c.Post("/api/v1/sql", R"({"sql":"SELECT count(*) FROM silver.orders VERSION AS OF 99999999999999999999"})",
                  "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_NE(r->body.find("out of range"), std::string::npos) << r->body;
  kill(serve, SIGTERM);
  EXPECT_EQ(Wait(serve), 0);
}

}  // namespace
}  // namespace lakestream::e2e
