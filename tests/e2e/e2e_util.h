// Helpers shared by the end-to-end tests: temporary lakehouses, spawning the real binary, reading
// tables back through DuckDB, and the checks every e2e test makes (each bronze row accounted for once,
// gold equal to independent recounts).
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <thread>

#include "common/ids.h"
#include "lake/columnar/columnar.h"
#include "lake/delta/delta_scan.h"
#include "lake/delta/delta_table.h"
#include "pipeline/pipeline_spec.h"
#include "pipeline/window_gold.h"

namespace lakestream::e2e {


inline const std::string kSource = LAKESTREAM_SOURCE_DIR;
inline const std::string kKaggle = kSource + "/data/online-shop/sales_transaction_v4a.PARTIAL-first-1305-rows.csv.gz";
inline const std::string kUci = kSource + "/data/online-shop/online_retail.first-9999-rows.orig-format.csv.gz";
inline const std::string kReconcile = RECONCILE_BINARY;

inline std::string TempDir() {
  auto p = std::filesystem::temp_directory_path() / ("lakestream_e2e_" + RandomUuid());
  std::filesystem::create_directories(p);
  return p.string();
}

// Starts the binary with `args` and extra environment variables `env`; stdout+stderr go to `log`.
inline pid_t Spawn(const std::vector<std::string>& args, const std::string& log,
                   const std::vector<std::pair<std::string, std::string>>& env = {}) {
  pid_t pid = fork();
  if (pid == 0) {
    // `run` and `ingest` serve HTTP on 127.0.0.1:8080 by default; tests run in parallel, so each
    // process takes a free port unless the test says otherwise (docs/testing.md).
    setenv("LAKESTREAM_HTTP_LISTEN", "127.0.0.1:0", 0);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
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

inline int Wait(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// `lakestream ARGS…` to completion; returns the exit code, the output in `log`.
inline int RunCli(const std::vector<std::string>& args, const std::string& log) { return Wait(Spawn(args, log)); }

// Waits up to 10 s for `lakestream broker` to write <dir>/_broker.
inline void WaitForBrokerFile(const std::string& dir) {
  for (int i = 0; i < 100 && ReadFile(dir + "/_broker").find("bootstrap.servers=") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

// Waits for "dashboard: http://HOST:PORT/" in the log; returns the port, or -1.
inline int WaitForPort(const std::string& log, int timeout_s = 90) {
  const std::regex re(R"(dashboard: http://[^:]+:(\d+)/)");
  for (int i = 0; i < timeout_s * 10; ++i) {
    std::smatch m;
    std::string text = ReadFile(log);
    if (std::regex_search(text, m, re)) return std::stoi(m[1].str());
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return -1;
}

class Lake {
 public:
  explicit Lake(std::string root) : root_(std::move(root)), engine_(std::move(ColumnarEngine::Open(1, "512MB")).value()) {}

  // The table's current snapshot (active files, partition values filled in), as a parenthesised SELECT.
  std::string Scan(const std::string& table) {
    auto storage = OpenStorage(root_ + "/" + table);
    auto t = DeltaTable::Open(*storage, table);
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    if (!t.ok()) return "(SELECT 1 WHERE false)";
    auto sql = SnapshotScanSql((*t)->snapshot(), (*t)->storage(), *engine_);
    EXPECT_TRUE(sql.ok()) << sql.status().ToString();
    return sql.ok() ? "(" + *sql + ")" : "(SELECT 1 WHERE false)";
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
inline void ExpectEveryBronzeRowAccountedFor(Lake& lake, int64_t expected_rows, bool one_broker = true) {
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

// Gold equals independent recounts of the CSV: DuckDB SQL always (tests/reconcile/gold_from_csv.sql),
// and pandas when `with_pandas` (tests/reconcile/gold_pandas.py through Debian's /usr/bin/python3).
inline void ExpectGoldMatchesRecount(const std::string& lakehouse, const std::string& csv, bool with_pandas = false,
                                     const std::string& work_dir = "") {
  const std::string dir = work_dir.empty() ? lakehouse : work_dir;  // where the reports go (local)
  std::string cmd = kReconcile + " --input " + csv + " --lakehouse " + lakehouse;
  if (with_pandas) {
    std::string pandas = "/usr/bin/python3 " + kSource + "/tests/reconcile/gold_pandas.py --input " + csv +
                         " --out " + dir + "/pandas > " + dir + "/pandas.txt 2>&1";
    ASSERT_EQ(std::system(pandas.c_str()), 0) << ReadFile(dir + "/pandas.txt");
    cmd += " --pandas " + dir + "/pandas";
  }
  cmd += " > " + dir + "/reconcile.txt 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << ReadFile(dir + "/reconcile.txt");
  EXPECT_NE(ReadFile(dir + "/reconcile.txt").find("RECONCILED"), std::string::npos) << ReadFile(dir + "/reconcile.txt");
}

// Gold equals the gold definitions evaluated over the lake's own silver table (a full recount).
inline void ExpectGoldEqualsRecountOfSilver(Lake& lake) {
  std::string silver = "(SELECT * FROM " + lake.Scan("silver/orders") + ")";
  auto orders = DefaultOrdersPipelineSpec();
  ASSERT_TRUE(orders.ok()) << orders.status().ToString();
  for (const auto& def : orders->gold) {
    std::string recount = "(" + SqlGoldQuery(*orders, def, silver) + ")";
    std::string gold = "(SELECT * FROM " + lake.Scan(def.location) + ")";
    // Partitioned tables read back with the partition column last: compare by name.
    std::string cols;
    for (const auto& c : def.columns) cols += (cols.empty() ? "" : ", ") + ColumnarEngine::QuoteIdentifier(c.name);
    std::string a = "SELECT " + cols + " FROM " + gold, b = "SELECT " + cols + " FROM " + recount;
    EXPECT_EQ(lake.One("SELECT count(*) FROM ((" + a + " EXCEPT ALL " + b + ") UNION ALL (" + b + " EXCEPT ALL " + a + "))"),
              "0")
        << def.location << " differs from a recount of silver";
  }
}

}  // namespace lakestream::e2e
