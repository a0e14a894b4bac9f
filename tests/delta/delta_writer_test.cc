// Delta writer conformance: round trips of every supported type (partitioned or not, before and after a
// checkpoint and an OPTIMIZE), Parquet physical/logical types, stats against the data, checkpoints and
// log cleanup, append-only tables, the conflict check, VACUUM, RESTORE, time travel, four concurrent
// writer processes, and a writer killed between its data file and its commit.
#include <gtest/gtest.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include "common/time.h"
#include "delta_test_util.h"
#include "lake/delta/delta_maintenance.h"
#include "lake/delta/delta_scan.h"
#include "lake/delta/delta_table.h"
#include "lake/delta/delta_writer.h"
#include "support/status_testing.h"

namespace lakestream {
namespace {

namespace fs = std::filesystem;

ColumnarEngine& Engine() {
  static auto e = ColumnarEngine::Open(2, "1GB");
  return **e;
}

std::string One(const std::string& sql) {
  auto r = Engine().Query(sql);
  EXPECT_TRUE(r.ok()) << sql << ": " << r.status().ToString();
  if (!r.ok() || r->rows.empty()) return "<none>";
  return r->rows[0][0].value_or("NULL");
}

DeltaSchema AllTypes() {
  DeltaSchema s;
  for (auto [name, type] : std::vector<std::pair<const char*, const char*>>{
           {"s", "string"}, {"d", "date"}, {"l", "long"}, {"i", "integer"}, {"sh", "short"}, {"b", "byte"},
           {"f", "float"}, {"db", "double"}, {"bool", "boolean"}, {"bin", "binary"}, {"ts", "timestamp"},
           {"dec9", "decimal(9,2)"}, {"dec18", "decimal(18,4)"}, {"dec38", "decimal(38,10)"}}) {
    s.fields.push_back({name, type, true, "{}"});
  }
  return s;
}

// Six rows covering extremes, nulls, and partition values that need escaping.
const char* kAllTypesRows = R"(SELECT * FROM (VALUES
  ('a b:c', DATE '2024-02-29', 9223372036854775807, 2147483647, 32767::SMALLINT, 127::TINYINT, 1.5::FLOAT, -2.25,
   true, '\x00\xFF'::BLOB, TIMESTAMPTZ '2024-02-29 23:59:59.123456+00', 1234567.89::DECIMAL(9,2),
   (-99999999999999.9999)::DECIMAL(18,4), 1234567890123456789012345678.0123456789::DECIMAL(38,10)),
  ('x/y=z', DATE '1969-12-31', -9223372036854775808, -2147483648, (-32768)::SMALLINT, (-128)::TINYINT, (-0.0)::FLOAT, 1e300,
   false, ''::BLOB, TIMESTAMPTZ '1969-12-31 23:59:59.999999+00', (-0.01)::DECIMAL(9,2), 0::DECIMAL(18,4),
   (-0.0000000001)::DECIMAL(38,10)),
  ('', DATE '2000-01-01', 0, 0, 0::SMALLINT, 0::TINYINT, 0::FLOAT, 0, NULL, NULL, NULL, NULL, NULL, NULL),
  (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  ('ünï €', DATE '2024-01-01', 1, 1, 1::SMALLINT, 1::TINYINT, 3.25::FLOAT, 'NaN'::DOUBLE, true, 'abc'::BLOB,
   TIMESTAMPTZ '2024-01-01 00:00:00+00', 0.5::DECIMAL(9,2), 1.5::DECIMAL(18,4), 2.5::DECIMAL(38,10)),
  ('a b:c', DATE '2024-02-29', 5, 5, 5::SMALLINT, 5::TINYINT, 5::FLOAT, 5, false, 'x'::BLOB,
   TIMESTAMPTZ '2024-03-01 12:00:00.5+00', 5::DECIMAL(9,2), 5::DECIMAL(18,4), 5::DECIMAL(38,10))
) AS v(s, d, l, i, sh, b, f, db, bool, bin, ts, dec9, dec18, dec38))";

Result<std::unique_ptr<DeltaTable>> NewTable(const std::string& dir, const DeltaSchema& schema,
                                             const std::vector<std::string>& partitions,
                                             const std::map<std::string, std::string>& conf = {}) {
  ASSIGN_OR_RETURN(auto storage, OpenStorage(dir));
  ASSIGN_OR_RETURN(auto t, DeltaTable::Open(storage, "t"));
  RETURN_IF_ERROR(t->CreateIfNotExists(schema, partitions, conf));
  return t;
}

Status Append(DeltaTable& t, const std::string& sql) {
  ASSIGN_OR_RETURN(auto adds, WriteDataFiles(Engine(), t.storage(), t.snapshot(), sql));
  Transaction txn;
  txn.adds = adds;
  return t.Commit(txn).status();
}

// Rows in `expected_sql` and in the table differ by nothing (multiset equality).
void ExpectSameRows(DeltaTable& t, const std::string& expected_sql, const std::string& where) {
  auto scan_or = SnapshotScanSql(t.snapshot(), t.storage(), Engine());
  ASSERT_TRUE(scan_or.ok()) << scan_or.status().ToString();
  // Each side as a subquery, so that set operations inside either do not bind with ours.
  const std::string scan_sql = "SELECT * FROM (" + *scan_or + ")";
  const std::string* scan = &scan_sql;
  const std::string expected_q = "SELECT * FROM (" + expected_sql + ")";
  const std::string& expected = expected_q;
  std::string diff = "SELECT count(*) FROM ((" + expected + " EXCEPT ALL " + *scan + ") UNION ALL (" + *scan +
                     " EXCEPT ALL " + expected + "))";
  EXPECT_EQ(One(diff), "0") << where << "\n" << [&] {
    auto r = Engine().Query("(" + expected + " EXCEPT ALL " + *scan + ") UNION ALL (SELECT * FROM (" + *scan +
                            " EXCEPT ALL " + expected + ") LIMIT 3)");
    std::string out;
    if (!r.ok()) return r.status().ToString();
    for (size_t i = 0; i < r->rows.size() && i < 6; ++i) {
      for (const auto& v : r->rows[i]) out += v.value_or("NULL") + "|";
      out += "\n";
    }
    return out;
  }();
  EXPECT_EQ(One("SELECT count(*) FROM (" + *scan + ")"), One("SELECT count(*) FROM (" + expected + ")")) << where;
}

class RoundTrip : public ::testing::TestWithParam<bool> {};

TEST_P(RoundTrip, EveryTypeSurvivesWriteCheckpointAndOptimize) {
  const bool partitioned = GetParam();
  std::string dir = testing::MakeTableLocation("roundtrip");
  std::vector<std::string> parts;
  if (partitioned) parts = {"s", "d"};
  auto t = NewTable(dir, AllTypes(), parts);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  std::string three = std::string(kAllTypesRows) + " UNION ALL " + kAllTypesRows + " UNION ALL " + kAllTypesRows;
  // A partition value of '' is a null partition value (Delta PROTOCOL.md, "Partition Value
  // Serialization"; Spark writes such rows under __HIVE_DEFAULT_PARTITION__ too).
  if (partitioned) three = "SELECT * REPLACE (nullif(s, '') AS s) FROM (" + three + ")";
  for (int i = 0; i < 3; ++i) ASSERT_OK(Append(**t, kAllTypesRows));
  ExpectSameRows(**t, three, "after 3 appends");
  int checked = 0;
  ASSERT_OK(testing::CheckStatsAgainstData((*t)->snapshot(), (*t)->storage(), Engine(), &checked));
  EXPECT_GT(checked, 50);

  // Schema and partitioning come back as written.
  auto reopened = DeltaTable::OpenExisting((*t)->storage_ptr(), "t");
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ((*reopened)->snapshot().metadata.schema_string, AllTypes().ToSchemaString());
  EXPECT_EQ((*reopened)->snapshot().partition_columns(), parts);

  // Parquet types required by the protocol ("Delta Data Type to Parquet Type Mappings").
  const auto& any = (*t)->snapshot().files.begin()->first;
  auto local = DataFileLocalPath((*t)->storage(), any);
  ASSERT_TRUE(local.ok()) << local.status().ToString();
  const std::string file = ColumnarEngine::Quote(*local);
  auto type_of = [&](const std::string& col) {
    return One("SELECT type || ' ' || coalesce(logical_type, converted_type, '') FROM parquet_schema(" + file +
               ") WHERE name = '" + col + "'");
  };
  EXPECT_NE(type_of("ts").find("INT64"), std::string::npos);
  EXPECT_NE(type_of("ts").find("isAdjustedToUTC=1"), std::string::npos) << type_of("ts");
  EXPECT_NE(type_of("ts").find("MICROS"), std::string::npos) << type_of("ts");
  EXPECT_NE(type_of("dec9").find("INT32"), std::string::npos) << type_of("dec9");
  EXPECT_NE(type_of("dec18").find("INT64"), std::string::npos) << type_of("dec18");
  EXPECT_NE(type_of("dec38").find("FIXED_LEN_BYTE_ARRAY"), std::string::npos) << type_of("dec38");
  EXPECT_NE(type_of("dec38").find("Decimal"), std::string::npos) << type_of("dec38");
  if (!partitioned) {
    EXPECT_NE(type_of("d").find("INT32"), std::string::npos);
    EXPECT_NE(type_of("d").find("DATE"), std::string::npos) << type_of("d");
  } else {
    // Partition columns live in the log, not in the files; paths are Hive-escaped then URI-encoded.
    EXPECT_EQ(One("SELECT count(*) FROM parquet_schema(" + file + ") WHERE name IN ('s', 'd')"), "0");
    bool escaped = false, null_dir = false;
    for (const auto& [key, a] : (*t)->snapshot().files) {
      if (a.path.rfind("s=a%20b%253Ac/d=2024-02-29/", 0) == 0) {
        escaped = true;
        EXPECT_EQ(a.partition_values.at("s"), "a b:c");
        EXPECT_EQ(a.partition_values.at("d"), "2024-02-29");
      }
      if (a.path.rfind("s=__HIVE_DEFAULT_PARTITION__/", 0) == 0) {
        null_dir = true;
        EXPECT_FALSE(a.partition_values.at("s").has_value());
      }
    }
    EXPECT_TRUE(escaped && null_dir);
  }

  // After a checkpoint the snapshot and the rows are the same.
  const Snapshot before = (*t)->snapshot();
  ASSERT_TRUE((*t)->Checkpoint().ok());
  auto from_checkpoint = DeltaTable::OpenExisting((*t)->storage_ptr(), "t");
  ASSERT_TRUE(from_checkpoint.ok());
  const Snapshot& after = (*from_checkpoint)->snapshot();
  EXPECT_EQ(after.checkpoint_version, before.version);
  EXPECT_EQ(after.metadata.schema_string, before.metadata.schema_string);
  EXPECT_EQ(after.metadata.id, before.metadata.id);
  ASSERT_EQ(after.files.size(), before.files.size());
  for (const auto& [key, a] : before.files) {
    ASSERT_TRUE(after.files.count(key)) << key;
    EXPECT_EQ(after.files.at(key).stats_json, a.stats_json);
    EXPECT_EQ(after.files.at(key).partition_values, a.partition_values);
    EXPECT_EQ(after.files.at(key).size_bytes, a.size_bytes);
  }
  ExpectSameRows(**from_checkpoint, three, "after a checkpoint");

  // After OPTIMIZE: fewer files, the same rows, stats still exact, the compaction marked dataChange=false.
  auto opt = Optimize(**from_checkpoint, Engine(), OptimizeOptions{});
  ASSERT_TRUE(opt.ok()) << opt.status().ToString();
  EXPECT_GE(opt->version, 0);
  EXPECT_LT((*from_checkpoint)->snapshot().files.size(), before.files.size());
  ExpectSameRows(**from_checkpoint, three, "after optimize");
  ASSERT_OK(testing::CheckStatsAgainstData((*from_checkpoint)->snapshot(), (*from_checkpoint)->storage(), Engine(),
                                           &checked));
  auto c = (*from_checkpoint)->ReadCommit(opt->version);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->operation, "OPTIMIZE");
  for (const auto& a : c->adds) EXPECT_FALSE(a.data_change);
  for (const auto& r : c->removes) EXPECT_FALSE(r.data_change);
  EXPECT_NE(c->commit_info_json.find("\"isBlindAppend\":false"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Delta, RoundTrip, ::testing::Bool(),
                         [](const auto& i) { return i.param ? "Partitioned" : "Unpartitioned"; });

DeltaSchema Simple() {
  DeltaSchema s;
  s.fields = {{"writer", "integer", true, "{}"}, {"seq", "integer", true, "{}"}};
  return s;
}

TEST(DeltaCheckpoint, WrittenEveryTenCommitsAndUsedByReaders) {
  std::string dir = testing::MakeTableLocation("checkpoint");
  auto t = NewTable(dir, Simple(), {});
  ASSERT_TRUE(t.ok());
  for (int i = 1; i <= 24; ++i) {
    Transaction txn;
    ASSERT_OK(Append(**t, "SELECT 0, " + std::to_string(i)));
  }
  EXPECT_TRUE(testing::ObjectExists(dir, "_delta_log/00000000000000000010.checkpoint.parquet"));
  EXPECT_TRUE(testing::ObjectExists(dir, "_delta_log/00000000000000000020.checkpoint.parquet"));
  auto lc = ReadLastCheckpoint((*t)->storage());
  ASSERT_TRUE(lc.ok());
  EXPECT_EQ(lc->version, 20);
  EXPECT_EQ(lc->num_add_files, 20);
  // The checkpoint follows Spark's schema: struct columns per action, maps for partitionValues.
  auto cp_file = (*t)->storage().LocalFile("_delta_log/00000000000000000020.checkpoint.parquet");
  ASSERT_TRUE(cp_file.ok()) << cp_file.status().ToString();
  const std::string cp = ColumnarEngine::Quote(*cp_file);
  EXPECT_EQ(One("SELECT count(*) FROM read_parquet(" + cp + ") WHERE add IS NOT NULL"), "20");
  EXPECT_EQ(One("SELECT count(*) FROM read_parquet(" + cp + ") WHERE metaData IS NOT NULL AND protocol IS NULL"), "1");
  EXPECT_EQ(One("SELECT typeof(add.partitionValues) FROM read_parquet(" + cp + ") WHERE add IS NOT NULL LIMIT 1"),
            "MAP(VARCHAR, VARCHAR)");
  // Readers rebuild the same state from the checkpoint alone: delete the commits it covers.
  SnapshotSelector latest;
  auto replayed = LoadSnapshot((*t)->storage(), latest);
  ASSERT_TRUE(replayed.ok());
  for (int v = 0; v <= 20; ++v) ASSERT_OK((*t)->storage().Delete(CommitFileName(v)));
  auto rebuilt = LoadSnapshot((*t)->storage(), latest);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status().ToString();
  EXPECT_EQ(rebuilt->checkpoint_version, 20);
  EXPECT_EQ(rebuilt->version, 24);
  EXPECT_EQ(rebuilt->files.size(), replayed->files.size());
  EXPECT_EQ(rebuilt->NumRecords(), 24);
  SnapshotSelector old;
  old.version = 5;
  auto gone = LoadSnapshot((*t)->storage(), old);
  EXPECT_FALSE(gone.ok());
}

TEST(DeltaCheckpoint, LogCleanupKeepsEveryVersionFromTheOldCheckpointOn) {
  if (testing::OnAzure()) GTEST_SKIP() << "ages the log with utimes(); a blob's Last-Modified cannot be set";
  std::string dir = testing::MakeTableLocation("cleanup");
  auto t = NewTable(dir, Simple(), {});
  ASSERT_TRUE(t.ok());
  for (int i = 1; i <= 25; ++i) ASSERT_OK(Append(**t, "SELECT 0, " + std::to_string(i)));
  // Age the log by 40 days (retention is 30), then commit past the next checkpoint.
  const int64_t old_ms = NowMillis() - 40LL * 86'400'000;
  for (const auto& e : fs::directory_iterator(dir + "/_delta_log")) {
    struct timeval tv[2] = {{old_ms / 1000, 0}, {old_ms / 1000, 0}};
    ::utimes(e.path().c_str(), tv);
  }
  for (int i = 26; i <= 30; ++i) ASSERT_OK(Append(**t, "SELECT 0, " + std::to_string(i)));
  EXPECT_FALSE(fs::exists(dir + "/" + CommitFileName(0)));
  EXPECT_FALSE(fs::exists(dir + "/" + CommitFileName(19)));
  EXPECT_FALSE(fs::exists(dir + "/_delta_log/00000000000000000010.checkpoint.parquet"));
  EXPECT_TRUE(fs::exists(dir + "/" + CommitFileName(20)));
  EXPECT_TRUE(fs::exists(dir + "/_delta_log/00000000000000000020.checkpoint.parquet"));
  auto again = DeltaTable::OpenExisting((*t)->storage_ptr(), "t");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ((*again)->snapshot().NumRecords(), 30);
  SnapshotSelector at20;
  at20.version = 20;
  EXPECT_TRUE(LoadSnapshot((*t)->storage(), at20).ok());
}

TEST(DeltaWriter, AppendOnlyTablesRefuseDataRemovalButAllowCompaction) {
  std::string dir = testing::MakeTableLocation("appendonly");
  auto t = NewTable(dir, Simple(), {}, {{"delta.appendOnly", "true"}});
  ASSERT_TRUE(t.ok());
  ASSERT_OK(Append(**t, "SELECT 1, 1"));
  ASSERT_OK(Append(**t, "SELECT 1, 2"));
  Transaction del;
  del.removes.push_back(RemoveOf((*t)->snapshot().files.begin()->second, NowMillis(), true));
  auto r = (*t)->Commit(del);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("delta.appendOnly"), std::string::npos);
  auto opt = Optimize(**t, Engine(), OptimizeOptions{});
  ASSERT_TRUE(opt.ok()) << opt.status().ToString();
  EXPECT_EQ((*t)->snapshot().files.size(), 1u);
}

TEST(DeltaConflict, CompactionAbortsWhenAConcurrentCommitRemovedItsInput) {
  std::string dir = testing::MakeTableLocation("conflict");
  auto t = NewTable(dir, Simple(), {});
  ASSERT_TRUE(t.ok());
  ASSERT_OK(Append(**t, "SELECT 1, 1"));
  ASSERT_OK(Append(**t, "SELECT 1, 2"));
  auto stale = DeltaTable::OpenExisting((*t)->storage_ptr(), "t");
  ASSERT_TRUE(stale.ok());
  // The winner deletes one file.
  const AddFile victim = (*t)->snapshot().files.begin()->second;
  Transaction del;
  del.removes.push_back(RemoveOf(victim, NowMillis(), true));
  ASSERT_TRUE((*t)->Commit(del).ok());
  // The loser compacts both files from its stale snapshot.
  Transaction compact;
  compact.operation = "OPTIMIZE";
  for (const auto& [key, f] : (*stale)->snapshot().files) {
    compact.removes.push_back(RemoveOf(f, NowMillis(), false));
    compact.read_files.insert(key);
  }
  auto r = (*stale)->Commit(compact);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kConflict);
  EXPECT_NE(r.status().message().find("ConcurrentDelete"), std::string::npos) << r.status().ToString();
}

TEST(DeltaConflict, CompactionSucceedsWhileAnotherWriterAppends) {
  std::string dir = testing::MakeTableLocation("optappend");
  auto t = NewTable(dir, Simple(), {});
  ASSERT_TRUE(t.ok());
  for (int i = 0; i < 4; ++i) ASSERT_OK(Append(**t, "SELECT 1, " + std::to_string(i)));
  auto other = DeltaTable::OpenExisting((*t)->storage_ptr(), "t");
  ASSERT_TRUE(other.ok());
  // Prepare a compaction of the 4 files, let the other writer append, then commit the compaction.
  const Snapshot snap = (*t)->snapshot();
  std::vector<std::string> keys;
  for (const auto& [key, f] : snap.files) keys.push_back(key);
  auto add = RewriteFiles(Engine(), (*t)->storage(), snap, keys);
  ASSERT_TRUE(add.ok());
  ASSERT_OK(Append(**other, "SELECT 2, 100"));
  Transaction compact;
  compact.operation = "OPTIMIZE";
  compact.adds.push_back(*add);
  for (const auto& [key, f] : snap.files) {
    compact.removes.push_back(RemoveOf(f, NowMillis(), false));
    compact.read_files.insert(key);
  }
  auto v = (*t)->Commit(compact);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ((*t)->snapshot().files.size(), 2u);
  ExpectSameRows(**t, "SELECT * FROM (VALUES (1,0),(1,1),(1,2),(1,3),(2,100))", "optimize + concurrent append");
}

TEST(DeltaMaintenance, VacuumRespectsRetentionAndDeletesOnlyUnreferencedFiles) {
  std::string dir = testing::MakeTableLocation("vacuum");
  auto t = NewTable(dir, Simple(), {});
  ASSERT_TRUE(t.ok());
  ASSERT_OK(Append(**t, "SELECT 1, 1"));
  ASSERT_OK(Append(**t, "SELECT 1, 2"));
  ASSERT_TRUE(Optimize(**t, Engine(), OptimizeOptions{}).ok());
  VacuumOptions too_short;
  too_short.retention_ms = 3'600'000;
  auto refused = Vacuum(**t, too_short);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("delta.deletedFileRetentionDuration"), std::string::npos);
  // Now: the compacted-away files are tombstones younger than 7 days: nothing to delete.
  auto now = Vacuum(**t, VacuumOptions{});
  ASSERT_TRUE(now.ok());
  EXPECT_TRUE(now->files.empty());
  // Eight days later (dry run first): the two old files go, the live one stays.
  VacuumOptions later;
  later.now_ms = NowMillis() + 8LL * 86'400'000;
  later.dry_run = true;
  auto dry = Vacuum(**t, later);
  ASSERT_TRUE(dry.ok());
  EXPECT_EQ(dry->files.size(), 2u);
  for (const auto& f : dry->files) EXPECT_TRUE(testing::ObjectExists(dir, f)) << f;
  later.dry_run = false;
  auto done = Vacuum(**t, later);
  ASSERT_TRUE(done.ok());
  for (const auto& f : done->files) EXPECT_FALSE(testing::ObjectExists(dir, f)) << f;
  ExpectSameRows(**t, "SELECT * FROM (VALUES (1,1),(1,2))", "after vacuum");
}

TEST(DeltaMaintenance, RestoreCommitsTheFilesOfAnOlderVersion) {
  std::string dir = testing::MakeTableLocation("restore");
  auto t = NewTable(dir, Simple(), {});
  ASSERT_TRUE(t.ok());
  ASSERT_OK(Append(**t, "SELECT 1, 1"));
  ASSERT_OK(Append(**t, "SELECT 1, 2"));  // version 2
  ASSERT_OK(Append(**t, "SELECT 1, 3"));
  Transaction del;
  for (const auto& [k, f] : (*t)->snapshot().files) del.removes.push_back(RemoveOf(f, NowMillis(), true));
  ASSERT_TRUE((*t)->Commit(del).ok());
  auto v = Restore(**t, 2);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(*v, 5);
  ExpectSameRows(**t, "SELECT * FROM (VALUES (1,1),(1,2))", "after restore to version 2");
  auto h = ReadHistory((*t)->storage(), 1);
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->front().operation, "RESTORE");
}

TEST(DeltaTimeTravel, ByVersionAndByTimestamp) {
  std::string dir = testing::MakeTableLocation("timetravel");
  auto t = NewTable(dir, Simple(), {});
  ASSERT_TRUE(t.ok());
  // A commit's timestamp is its file's modification time. Local files are dated a minute apart;
  // blobs (whose Last-Modified the service sets, to the second) are written 1.1 s apart.
  int64_t commit_ms[4] = {0, 0, 0, 0};
  for (int i = 1; i <= 3; ++i) {
    if (testing::OnAzure()) std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    ASSERT_OK(Append(**t, "SELECT 1, " + std::to_string(i)));
  }
  for (int v = 0; v <= 3; ++v) {
    if (testing::OnAzure()) {
      auto st = (*t)->storage().Stat(CommitFileName(v));
      ASSERT_TRUE(st.ok());
      commit_ms[v] = st->modification_time_ms;
    } else {
      commit_ms[v] = 1'700'000'000'000 + v * 60'000;
      struct timeval tv[2] = {{commit_ms[v] / 1000, 0}, {commit_ms[v] / 1000, 0}};
      ASSERT_EQ(::utimes((dir + "/" + CommitFileName(v)).c_str(), tv), 0);
    }
  }
  ASSERT_LT(commit_ms[2], commit_ms[3]);
  const int64_t base = commit_ms[0];
  SnapshotSelector at;
  at.timestamp_ms = commit_ms[2] + (commit_ms[3] - commit_ms[2]) / 2;  // between versions 2 and 3
  auto s = DeltaTable::OpenExisting((*t)->storage_ptr(), "t", at);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)->snapshot().version, 2);
  EXPECT_EQ((*s)->snapshot().NumRecords(), 2);
  Transaction txn;
  EXPECT_EQ((*s)->Commit(txn).status().code(), StatusCode::kInvalidArgument);  // time travel is read-only
  at.timestamp_ms = base - 1;
  auto before = DeltaTable::OpenExisting((*t)->storage_ptr(), "t", at);
  ASSERT_FALSE(before.ok());
  EXPECT_EQ(before.status().code(), StatusCode::kNotFound);
  SnapshotSelector v1;
  v1.version = 1;
  auto s1 = DeltaTable::OpenExisting((*t)->storage_ptr(), "t", v1);
  ASSERT_TRUE(s1.ok());
  ExpectSameRows(**s1, "SELECT 1, 1", "version 1");
  v1.version = 9;
  EXPECT_EQ(DeltaTable::OpenExisting((*t)->storage_ptr(), "t", v1).status().code(), StatusCode::kNotFound);
}

std::string Tool() { return (fs::path(LAKESTREAM_BINARY).parent_path() / "tests/delta_writer_tool").string(); }

TEST(DeltaConcurrency, FourWriterProcessesAppendFiftyCommitsEachWithNoLostAdd) {
  std::string dir = testing::MakeTableLocation("concurrent");
  auto t = NewTable(dir, Simple(), {});
  ASSERT_TRUE(t.ok());
  constexpr int kWriters = 4, kCommits = 50;
  std::vector<pid_t> pids;
  for (int w = 0; w < kWriters; ++w) {
    pid_t pid = fork();
    if (pid == 0) {
      std::string tool = Tool(), ws = std::to_string(w), cs = std::to_string(kCommits);
      execl(tool.c_str(), tool.c_str(), "append", dir.c_str(), ws.c_str(), cs.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) {
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "writer exit status " << status;
  }
  ASSERT_OK((*t)->Refresh());
  const Snapshot& s = (*t)->snapshot();
  EXPECT_EQ(s.version, kWriters * kCommits);  // version 0 creates the table
  EXPECT_EQ(static_cast<int>(s.files.size()), kWriters * kCommits);
  auto listed = (*t)->storage().List("");
  ASSERT_TRUE(listed.ok());
  std::set<std::string> present;
  for (const auto& f : *listed) present.insert(f.path);
  for (const auto& [key, f] : s.files) EXPECT_TRUE(present.count(key)) << key;
  std::string expected = "SELECT w, s FROM range(" + std::to_string(kWriters) + ") a(w), range(" +
                         std::to_string(kCommits) + ") b(s)";
  ExpectSameRows(**t, "SELECT w::INTEGER, s::INTEGER FROM (" + expected + ")", "4 writers x 50 commits");
  // Every data commit is a blind append of exactly one file.
  for (int v = 1; v <= kWriters * kCommits; ++v) {
    auto c = (*t)->ReadCommit(v);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->adds.size(), 1u);
  }
}

TEST(DeltaCrashSafety, WriterKilledBetweenDataFileAndCommitLeavesAnInvisibleOrphanForVacuum) {
  std::string dir = testing::MakeTableLocation("crash");
  auto t = NewTable(dir, Simple(), {});
  ASSERT_TRUE(t.ok());
  ASSERT_OK(Append(**t, "SELECT 1, 1"));
  FILE* p = popen((Tool() + " crash-before-commit " + dir).c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[512] = {0};
  ASSERT_NE(fgets(buf, sizeof buf, p), nullptr);
  int status = pclose(p);
  EXPECT_TRUE(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0));
  std::string orphan(buf);
  orphan.erase(orphan.find_last_not_of("\n") + 1);
  ASSERT_TRUE(testing::ObjectExists(dir, DecodeDeltaPath(orphan))) << orphan;
  auto after = DeltaTable::OpenExisting((*t)->storage_ptr(), "t");
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ((*after)->snapshot().version, 1);
  EXPECT_FALSE((*after)->snapshot().files.count(orphan));
  ExpectSameRows(**after, "SELECT 1, 1", "orphan invisible");
  auto early = Vacuum(**after, VacuumOptions{});
  ASSERT_TRUE(early.ok());
  EXPECT_TRUE(early->files.empty()) << "an orphan younger than the retention may belong to a running writer";
  VacuumOptions later;
  later.now_ms = NowMillis() + 8LL * 86'400'000;
  auto v = Vacuum(**after, later);
  ASSERT_TRUE(v.ok());
  ASSERT_EQ(v->files.size(), 1u);
  EXPECT_EQ(v->files[0], DecodeDeltaPath(orphan));
  EXPECT_FALSE(testing::ObjectExists(dir, DecodeDeltaPath(orphan)));
  ExpectSameRows(**after, "SELECT 1, 1", "after vacuum");
}

}  // namespace
}  // namespace lakestream

namespace lakestream {
namespace {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

CommandResult RunCli(const std::string& args) {
  CommandResult r;
  FILE* p = popen((std::string(LAKESTREAM_BINARY) + " " + args + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// A Spark table whose add actions carry no stats: describe counts those files' rows from their Parquet
// footers instead of printing 0; a table whose files cannot be read says the count is unknown.
TEST(TableCommand, DescribeCountsRowsOfFilesWithoutStatsFromTheirFooters) {
  const std::string golden = std::string(LAKESTREAM_SOURCE_DIR) + "/tests/data/delta-golden/";
  auto d = RunCli("table " + golden + "data-reader-primitives describe");
  EXPECT_EQ(d.exit_code, 0) << d.output;
  EXPECT_NE(d.output.find("rows               11 (2 files without stats counted from their Parquet footers)"),
            std::string::npos)
      << d.output;
  auto j = RunCli("table " + golden + "data-reader-primitives describe --json");
  EXPECT_NE(j.output.find(R"("numRecords":11,"filesWithoutStats":2)"), std::string::npos) << j.output;
  auto missing = RunCli("table " + golden + "checkpoint describe");  // its log names files the folder lacks
  EXPECT_NE(missing.output.find("rows               unknown"), std::string::npos) << missing.output;
}

TEST(TableCommand, DescribesHistoryOptimizesVacuumsAndRestoresFromTheCommandLine) {
  std::string dir = testing::MakeTableLocation("cli");
  auto t = NewTable(dir, Simple(), {});
  ASSERT_TRUE(t.ok());
  for (int i = 1; i <= 21; ++i) ASSERT_OK(Append(**t, "SELECT 7, " + std::to_string(i)));
  auto d = RunCli("table " + dir + " describe");
  EXPECT_EQ(d.exit_code, 0) << d.output;
  EXPECT_NE(d.output.find("version            21"), std::string::npos) << d.output;
  EXPECT_NE(d.output.find("checkpoint         version 20"), std::string::npos) << d.output;
  EXPECT_NE(d.output.find("rows (from stats)  21"), std::string::npos) << d.output;
  auto h = RunCli("table " + dir + " history --limit 2 --json");
  EXPECT_EQ(h.exit_code, 0);
  EXPECT_EQ(std::count(h.output.begin(), h.output.end(), '\n'), 2) << h.output;
  EXPECT_NE(h.output.find("\"version\":21"), std::string::npos) << h.output;
  auto at = RunCli("table " + dir + " head --version 3");
  EXPECT_EQ(at.exit_code, 0);
  EXPECT_EQ(std::count(at.output.begin(), at.output.end(), '\n'), 4) << at.output;  // header + 3 rows
  auto o = RunCli("table " + dir + " optimize");
  EXPECT_EQ(o.exit_code, 0) << o.output;
  EXPECT_NE(o.output.find("21 files"), std::string::npos) << o.output;
  auto v = RunCli("table " + dir + " vacuum --retention-hours 1");
  EXPECT_EQ(v.exit_code, 1);
  EXPECT_NE(v.output.find("--force"), std::string::npos) << v.output;
  auto dry = RunCli("table " + dir + " vacuum --retention-hours 0 --force --dry-run");
  EXPECT_EQ(dry.exit_code, 0) << dry.output;
  EXPECT_NE(dry.output.find("would delete 21 files"), std::string::npos) << dry.output;
  auto r = RunCli("table " + dir + " restore --version 5");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  ASSERT_OK((*t)->Refresh());
  EXPECT_EQ((*t)->snapshot().NumRecords(), 5);
  auto missing = RunCli("table " + dir + "/nope describe");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("does not exist"), std::string::npos) << missing.output;
  auto bad = RunCli("table " + dir + " describe --timestamp yesterday");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find("--timestamp 'yesterday'"), std::string::npos) << bad.output;
}

}  // namespace
}  // namespace lakestream
