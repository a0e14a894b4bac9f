// Delta conformance against Apache Spark's golden tables (tests/data/delta-golden, copied from
// delta-io/delta with its licence and NOTICE). Each case is a TOML file in tests/delta/golden_cases/
// naming a table and what reading it must give; adding a case needs no C++ (STYLE.md, Tests).
//
// Case format:
//   table = "snapshot-data0"         # folder under tests/data/delta-golden
//   subdir = "Los_Angeles"           # optional: the table root inside the folder
//   error = "version gap"            # optional: loading must fail with a message containing this
//   code = "Corruption"              # optional, with error: the status code
//   stats = true                     # optional: every add's stats must match the data
//   [commit_mtimes_ms]               # optional: set commit file modification times (time travel)
//   "0" = 1540415658000
//   [[check]]                        # one snapshot to load and what it must hold
//   at_version = 1 / at_timestamp_ms = …   # optional selector
//   version = 1, files = 4, rows = 20, checkpoint = 10
//   protocol = [1, 2]
//   active = ["foo", "bar"]          # canonical paths of the active files (any order)
//   txns = { fakeAppId = 3 }
//   note = "ignored _last_checkpoint" # a reconstruction note must contain this
//   [[check.query]]                  # SQL over view t (the snapshot's rows); rows joined by
//   sql = "SELECT …"                 # newlines, columns by '|', NULL as NULL
//   expect = "…"
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <utime.h>

#include <algorithm>
#include <filesystem>
#include <toml++/toml.h>

#include "delta_test_util.h"
#include "lake/columnar/columnar.h"
#include "lake/delta/delta_scan.h"
#include "lake/delta/delta_table.h"

namespace lakestream {
namespace {

namespace fs = std::filesystem;
const fs::path kCases = fs::path(LAKESTREAM_SOURCE_DIR) / "tests/delta/golden_cases";
const fs::path kTables = fs::path(LAKESTREAM_SOURCE_DIR) / "tests/data/delta-golden";

std::vector<std::string> CaseNames() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(kCases)) {
    if (e.path().extension() == ".toml") out.push_back(e.path().stem().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

ColumnarEngine& Engine() {
  static auto e = ColumnarEngine::Open(2, "1GB");
  return **e;
}

class GoldenTable : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenTable, ReadsAsTheLogDefines) {
  toml::table c = toml::parse_file((kCases / (GetParam() + ".toml")).string());
  const std::string table = c["table"].value_or(std::string());
  ASSERT_FALSE(table.empty()) << "case " << GetParam() << " names no table";
  ASSERT_TRUE(fs::exists(kTables / table)) << table;
  // Work on a copy: time travel cases set file times, and nothing may write into the repo.
  std::string dir = testing::MakeTempDir("golden");
  testing::CopyTree((kTables / table).string(), dir);
  if (auto sub = c["subdir"].value<std::string>()) dir += "/" + *sub;
  if (auto* mt = c["commit_mtimes_ms"].as_table()) {
    for (const auto& [k, v] : *mt) {
      int64_t ms = v.value_or<int64_t>(0);
      std::string f = dir + "/" + CommitFileName(std::stoll(std::string(k.str())));
      struct timeval tv[2] = {{ms / 1000, (ms % 1000) * 1000}, {ms / 1000, (ms % 1000) * 1000}};
      ASSERT_EQ(::utimes(f.c_str(), tv), 0) << f;
    }
  }
  auto storage = OpenStorage(dir, false);
  ASSERT_TRUE(storage.ok()) << storage.status().ToString();

  if (auto err = c["error"].value<std::string>()) {
    auto t = DeltaTable::OpenExisting(*storage, table);
    ASSERT_FALSE(t.ok()) << table << " must fail to load";
    EXPECT_NE(t.status().message().find(*err), std::string::npos) << t.status().ToString();
    if (auto code = c["code"].value<std::string>()) {
      EXPECT_EQ(StatusCodeName(t.status().code()), *code);
    }
    return;
  }
  auto* checks = c["check"].as_array();
  ASSERT_TRUE(checks != nullptr && !checks->empty()) << "case " << GetParam() << " has no [[check]]";
  for (const auto& node : *checks) {
    const toml::table& k = *node.as_table();
    SnapshotSelector at;
    if (auto v = k["at_version"].value<int64_t>()) at.version = *v;
    if (auto v = k["at_timestamp_ms"].value<int64_t>()) at.timestamp_ms = *v;
    auto t = DeltaTable::OpenExisting(*storage, table, at);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    const Snapshot& s = (*t)->snapshot();
    SCOPED_TRACE(table + " at version " + std::to_string(s.version));
    if (auto v = k["version"].value<int64_t>()) {
      EXPECT_EQ(s.version, *v);
    }
    if (auto v = k["files"].value<int64_t>()) {
      EXPECT_EQ(static_cast<int64_t>(s.files.size()), *v);
    }
    if (auto v = k["checkpoint"].value<int64_t>()) {
      EXPECT_EQ(s.checkpoint_version, *v);
    }
    if (auto* p = k["protocol"].as_array()) {
      EXPECT_EQ(s.protocol.min_reader_version, p->at(0).value_or(0));
      EXPECT_EQ(s.protocol.min_writer_version, p->at(1).value_or(0));
    }
    if (auto* a = k["active"].as_array()) {
      std::vector<std::string> want, got;
      for (const auto& e : *a) want.push_back(e.value_or(std::string()));
      for (const auto& [key, f] : s.files) got.push_back(key);
      std::sort(want.begin(), want.end());
      EXPECT_EQ(got, want);
    }
    if (auto* tx = k["txns"].as_table()) {
      EXPECT_EQ(s.txns.size(), tx->size());
      for (const auto& [app, v] : *tx) EXPECT_EQ(s.TxnVersion(std::string(app.str())), v.value<int64_t>());
    }
    if (auto note = k["note"].value<std::string>()) {
      bool found = std::any_of(s.notes.begin(), s.notes.end(),
                               [&](const std::string& n) { return n.find(*note) != std::string::npos; });
      EXPECT_TRUE(found) << "no reconstruction note contains '" << *note << "'";
    }
    const bool reads_rows = k["rows"] || k["query"];
    if (!reads_rows) continue;
    auto sql = SnapshotScanSql(s, (*t)->storage(), Engine());
    ASSERT_TRUE(sql.ok()) << sql.status().ToString();
    ASSERT_TRUE(Engine().Query("CREATE OR REPLACE TEMP VIEW t AS " + *sql).ok());
    if (auto v = k["rows"].value<int64_t>()) {
      auto n = Engine().Query("SELECT count(*) FROM t");
      ASSERT_TRUE(n.ok()) << n.status().ToString();
      EXPECT_EQ(n->rows[0][0].value_or(""), std::to_string(*v));
      // Where every file has stats, the rows read equal the records the log promises.
      bool all_stats = std::all_of(s.files.begin(), s.files.end(), [](const auto& f) { return f.second.num_records >= 0; });
      if (all_stats) {
        EXPECT_EQ(s.NumRecords(), *v);
      }
    }
    if (auto* qs = k["query"].as_array()) {
      for (const auto& qn : *qs) {
        const toml::table& q = *qn.as_table();
        std::string qsql = q["sql"].value_or(std::string());
        auto r = Engine().Query(qsql);
        ASSERT_TRUE(r.ok()) << qsql << ": " << r.status().ToString();
        std::string got;
        for (size_t i = 0; i < r->rows.size(); ++i) {
          if (i) got += "\n";
          for (size_t j = 0; j < r->rows[i].size(); ++j) got += (j ? "|" : "") + r->rows[i][j].value_or("NULL");
        }
        EXPECT_EQ(got, q["expect"].value_or(std::string())) << qsql;
      }
    }
    if (c["stats"].value_or(false)) {
      int checked = 0;
      Status st = testing::CheckStatsAgainstData(s, (*t)->storage(), Engine(), &checked);
      EXPECT_TRUE(st.ok()) << st.ToString();
      EXPECT_GT(checked, 0) << "stats = true but no file has stats";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Spark, GoldenTable, ::testing::ValuesIn(CaseNames()),
                         [](const ::testing::TestParamInfo<std::string>& i) {
                           std::string n = i.param;
                           for (char& ch : n) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return n;
                         });

}  // namespace
}  // namespace lakestream
