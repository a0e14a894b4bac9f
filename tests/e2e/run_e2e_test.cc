// End-to-end tests: the real `lakestream` binary, the embedded broker, real files. Tables are read
// back through DuckDB (read_parquet over the files listed in the Delta log) and gold is compared with
// an independent recount of the input CSV in DuckDB SQL.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/ids.h"
#include "lake/columnar/columnar.h"
#include "lake/delta/delta_table.h"

namespace lakestream {
namespace {

namespace fs = std::filesystem;
const std::string kSource = LAKESTREAM_SOURCE_DIR;
const std::string kKaggle = kSource + "/data/online-shop/sales_transaction_v4a.PARTIAL-first-1305-rows.csv.gz";
const std::string kUci = kSource + "/data/online-shop/online_retail.first-9999-rows.orig-format.csv.gz";

std::string TempDir() {
  auto p = fs::temp_directory_path() / ("lakestream_e2e_" + RandomUuid());
  fs::create_directories(p);
  return p.string();
}

// Starts the binary with `args`; stdout+stderr go to `log`.
pid_t Spawn(const std::vector<std::string>& args, const std::string& log) {
  pid_t pid = fork();
  if (pid == 0) {
    FILE* f = std::fopen(log.c_str(), "w");
    dup2(fileno(f), 1);
    dup2(fileno(f), 2);
    std::vector<char*> argv;
    std::string bin = LAKESTREAM_BINARY;
    argv.push_back(bin.data());
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

int Wait(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

class Lake {
 public:
  explicit Lake(std::string root) : root_(std::move(root)), engine_(std::move(ColumnarEngine::Open(1, "512MB")).value()) {}

  // read_parquet over the files listed in the table's Delta log.
  std::string Scan(const std::string& table) {
    auto storage = OpenStorage(root_ + "/" + table);
    auto t = DeltaTable::Open(*storage, table);
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    std::vector<std::string> files;
    for (const auto& [key, f] : (*t)->snapshot().files) files.push_back((*t)->storage().LocalPath(key));
    if (!files.empty()) return "read_parquet(" + ColumnarEngine::PathList(files) + ")";
    // An empty table: no files, but its columns, typed from the Delta schema.
    std::string cols;
    for (const auto& f : (*t)->snapshot().schema().fields) {
      std::string type = f.type == "string" ? "VARCHAR" : f.type == "binary" ? "BLOB" : f.type == "integer" ? "INTEGER"
                         : f.type == "long" ? "BIGINT" : f.type == "timestamp" ? "TIMESTAMPTZ" : f.type;
      cols += (cols.empty() ? "" : ", ") + ("NULL::" + type + " AS \"" + f.name + "\"");
    }
    return "(SELECT " + cols + " WHERE false)";
  }
  int64_t Rows(const std::string& table) {
    auto storage = OpenStorage(root_ + "/" + table);
    auto t = DeltaTable::Open(*storage, table);
    return t.ok() ? (*t)->snapshot().NumRecords() : -1;
  }
  std::string One(const std::string& sql) {
    auto r = engine_->Query(sql);
    EXPECT_TRUE(r.ok()) << r.status().ToString() << "\n" << sql;
    if (!r.ok() || r->rows.empty() || !r->rows[0][0]) return "<null>";
    return *r->rows[0][0];
  }
  ColumnarEngine& engine() { return *engine_; }

 private:
  std::string root_;
  std::unique_ptr<ColumnarEngine> engine_;
};

// Every bronze row is accounted for exactly once by silver or quarantine. Kafka coordinates are
// unique within one embedded broker's life (`one_broker`); after a restart offsets begin again at 0,
// so only the counts and the event ids are compared.
void ExpectEveryBronzeRowAccountedFor(Lake& lake, int64_t expected_rows, bool one_broker = true) {
  std::string bronze = lake.Scan("bronze/orders"), silver = lake.Scan("silver/orders"),
              quarantine = lake.Scan("silver/orders_quarantine");
  EXPECT_EQ(lake.One("SELECT count(*) FROM " + bronze), std::to_string(expected_rows));
  EXPECT_EQ(lake.One("SELECT count(DISTINCT json_extract_string(decode(payload), '$.event_id')) FROM " + bronze),
            std::to_string(expected_rows));
  EXPECT_EQ(lake.Rows("bronze/orders"), expected_rows);  // Delta stats agree with the files
  EXPECT_EQ(lake.One("SELECT count(*) FROM (SELECT kafka_partition, kafka_offset FROM " + silver +
                     " UNION ALL SELECT kafka_partition, kafka_offset FROM " + quarantine + ")"),
            std::to_string(expected_rows));
  EXPECT_EQ(lake.One("SELECT count(*) - count(DISTINCT event_id) FROM " + silver), "0");
  if (!one_broker) return;
  EXPECT_EQ(lake.One("SELECT count(DISTINCT (\"partition\", \"offset\")) FROM " + bronze), std::to_string(expected_rows));
  EXPECT_EQ(lake.One("SELECT count(*) FROM " + bronze + " b ANTI JOIN (SELECT kafka_partition AS p, kafka_offset AS o FROM " +
                     silver + " UNION ALL SELECT kafka_partition, kafka_offset FROM " + quarantine +
                     ") d ON b.\"partition\" = d.p AND b.\"offset\" = d.o"),
            "0");
}

// Gold equals a recount of the CSV by DuckDB's own CSV reader and SQL. `date_expr` turns the CSV's
// date column into a DATE; the Kaggle and UCI headers name the columns differently.
void ExpectGoldMatchesRecount(Lake& lake, const std::string& csv, bool kaggle) {
  std::string inv = kaggle ? "TransactionNo" : "InvoiceNo", price = kaggle ? "Price" : "UnitPrice",
              date = kaggle ? "strptime(\"Date\", '%m/%d/%Y')::DATE" : "strptime(InvoiceDate, '%m/%d/%Y %H:%M')::DATE";
  std::string recount =
      "SELECT " + date + " AS d, Country AS c, "
      "sum(CASE WHEN NOT starts_with(" + inv + ", 'C') THEN " + price + "::DECIMAL(18,3) * Quantity::BIGINT ELSE 0 END) AS rev, "
      "sum(CASE WHEN starts_with(" + inv + ", 'C') THEN -" + price + "::DECIMAL(18,3) * Quantity::BIGINT ELSE 0 END) AS canc, "
      "count(DISTINCT CASE WHEN NOT starts_with(" + inv + ", 'C') THEN " + inv + " END) AS orders "
      "FROM read_csv(" + ColumnarEngine::Quote(csv) + ", header = true, all_varchar = true) "
      "WHERE " + price + "::DECIMAL(18,3) >= 0 GROUP BY ALL";
  std::string gold = lake.Scan("gold/sales_daily_by_country");
  std::string cmp = "SELECT count(*) FROM (" + recount + ") r FULL OUTER JOIN " + gold +
                    " g ON r.d = g.order_date AND r.c = g.country "
                    "WHERE r.rev IS DISTINCT FROM g.revenue_gbp OR r.canc IS DISTINCT FROM g.cancelled_revenue_gbp "
                    "OR r.orders IS DISTINCT FROM g.orders";
  EXPECT_EQ(lake.One(cmp), "0") << "gold/sales_daily_by_country differs from the recount";
  EXPECT_EQ(lake.One("SELECT sum(revenue_gbp)::VARCHAR FROM " + gold),
            lake.One("SELECT sum(rev)::VARCHAR FROM (" + recount + ")"));
  std::string products = lake.Scan("gold/sales_by_product");
  EXPECT_EQ(lake.One("SELECT sum(revenue_gbp)::VARCHAR FROM " + products),
            lake.One("SELECT sum(rev)::VARCHAR FROM (" + recount + ")"));
}

TEST(EndToEnd, KaggleExcerptLandsOnceInEveryLayerAndGoldMatchesARecount) {
  std::string dir = TempDir();
  int rc = Wait(Spawn({"run", "--lakehouse", dir, "--input", kKaggle, "--rate", "max", "--gold-interval-ms", "0"},
                      dir + "/log.txt"));
  ASSERT_EQ(rc, 0) << ReadFile(dir + "/log.txt");
  EXPECT_NE(ReadFile(dir + "/log.txt").find("lakestream summary"), std::string::npos);
  EXPECT_NE(ReadFile(dir + "/_broker").find("bootstrap.servers=127.0.0.1:"), std::string::npos);
  Lake lake(dir);
  ExpectEveryBronzeRowAccountedFor(lake, 1305);
  ExpectGoldMatchesRecount(lake, kKaggle, true);
}

TEST(EndToEnd, UciExcerptLandsOnceInEveryLayerAndGoldMatchesARecount) {
  std::string dir = TempDir();
  int rc = Wait(Spawn({"run", "--lakehouse", dir, "--input", kUci, "--rate", "max"}, dir + "/log.txt"));
  ASSERT_EQ(rc, 0) << ReadFile(dir + "/log.txt");
  Lake lake(dir);
  ExpectEveryBronzeRowAccountedFor(lake, 9999);
  ExpectGoldMatchesRecount(lake, kUci, false);
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
  EXPECT_EQ(lake.One("SELECT rule FROM " + lake.Scan("silver/orders_quarantine") +
                     " WHERE decode(payload) LIKE '%Atlantis%'"),
            "contract");
  EXPECT_EQ(lake.One("SELECT revenue_gbp::VARCHAR FROM " + lake.Scan("gold/sales_daily_by_country") +
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
  ExpectGoldMatchesRecount(lake, kUci, false);
}

TEST(EndToEnd, BrokerProduceAndIngestRunAsSeparateProcessesAndAnOutOfRangeResumeStops) {
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
  ASSERT_EQ(Wait(Spawn({"ingest", "--lakehouse", dir, "--idle-exit-ms", "1500", "-K", "client.id=e2e", "-K",
                              "session.timeout.ms=6000"},
                       dir + "/ingest.txt")),
            0)
      << ReadFile(dir + "/ingest.txt");
  ExpectEveryBronzeRowAccountedFor(lake, 1305);
  // The broker keeps its topic: a second ingest resumes after the committed offsets and adds nothing.
  // (The mock broker only lets a new member in once the previous one's session expires: hence the
  // short session timeout.)
  ASSERT_EQ(Wait(Spawn({"ingest", "--lakehouse", dir, "--idle-exit-ms", "1500", "-K", "session.timeout.ms=6000"}, dir + "/ingest2.txt")), 0)
      << ReadFile(dir + "/ingest2.txt");
  ExpectEveryBronzeRowAccountedFor(lake, 1305);
  // A new broker has a new, shorter topic: resuming at the stored offsets must stop with DataLoss,
  // never skip silently.
  kill(broker, SIGINT);
  ASSERT_EQ(Wait(broker), 0);
  std::filesystem::remove(dir + "/_broker");
  broker = Spawn({"broker", "--lakehouse", dir}, dir + "/broker2.txt");
  broker_ready();
  std::string bootstrap = ReadFile(dir + "/_broker");
  bootstrap = bootstrap.substr(18, bootstrap.find('\n') - 18);
  std::string cmd = "/usr/bin/python3 " + kSource + "/tests/e2e/produce_external.py " + bootstrap + " orders";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  int rc = Wait(Spawn({"ingest", "--lakehouse", dir, "--idle-exit-ms", "3000"}, dir + "/ingest3.txt"));
  kill(broker, SIGINT);
  Wait(broker);
  EXPECT_EQ(rc, 1) << ReadFile(dir + "/ingest3.txt");
  EXPECT_NE(ReadFile(dir + "/ingest3.txt").find("DataLoss"), std::string::npos) << ReadFile(dir + "/ingest3.txt");
  ExpectEveryBronzeRowAccountedFor(lake, 1305);
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
  EXPECT_NE(ReadFile(dir + "/log2.txt").find("missing.csv does not exist"), std::string::npos) << ReadFile(dir + "/log2.txt");
}

TEST(Configuration, CommittedConfigurationMdIsUpToDate) {
  std::string dir = TempDir();
  ASSERT_EQ(Wait(Spawn({"config", "docs"}, dir + "/CONFIGURATION.md")), 0);
  EXPECT_EQ(ReadFile(dir + "/CONFIGURATION.md"), ReadFile(kSource + "/CONFIGURATION.md"))
      << "CONFIGURATION.md is stale: run build/release/lakestream config docs > CONFIGURATION.md";
}

}  // namespace
}  // namespace lakestream
