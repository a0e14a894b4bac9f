// SQL over the lakehouse (query/lake_sql.h, serve/sql_api.h): names resolve to Delta snapshots, time
// travel, one snapshot per statement while a writer commits and compacts, refusal of writing
// statements and of files outside the snapshots in the sandbox, every output format of
// `lakestream sql`, and the HTTP endpoint's answer.
#include "query/lake_sql.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/time.h"
#include "delta_test_util.h"
#include "lake/delta/delta_maintenance.h"
#include "lake/delta/delta_table.h"
#include "lake/delta/delta_writer.h"
#include "query/result_writer.h"
#include "serve/sql_api.h"

namespace lakestream {
namespace {

// silver/events (batch long, id long, name string); each Append adds one file of `rows` rows.
class Lake {
 public:
  Lake() : root_(testing::MakeTempDir("lakesql")) {
    engine_ = std::move(ColumnarEngine::Open(1, "256MB")).value();
    table_ = Open("silver/events");
    DeltaSchema schema{{{"batch", "long", false}, {"id", "long", false}, {"name", "string", true}}};
    EXPECT_TRUE(table_->CreateIfNotExists(schema, {}, {}).ok());
  }
  std::unique_ptr<DeltaTable> Open(const std::string& name) {
    auto storage = OpenStorage(root_ + "/" + name);
    EXPECT_TRUE(storage.ok());
    return std::move(DeltaTable::Open(*storage, name)).value();
  }
  // Appends `rows` rows tagged with `batch`; returns the commit version.
  int64_t Append(int64_t batch, int64_t rows) {
    auto adds = WriteDataFiles(*engine_, table_->storage(), table_->snapshot(),
                               fmt::format("SELECT {}::BIGINT, range::BIGINT, 'n' || range FROM range({})", batch, rows));
    EXPECT_TRUE(adds.ok()) << adds.status().ToString();
    Transaction txn;
    txn.adds = *adds;
    auto v = table_->Commit(txn);
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    return v.ok() ? *v : -1;
  }
  DeltaTable& table() { return *table_; }
  ColumnarEngine& engine() { return *engine_; }
  const std::string& root() const { return root_; }

 private:
  std::string root_;
  std::unique_ptr<ColumnarEngine> engine_;
  std::unique_ptr<DeltaTable> table_;
};

struct Collected {
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;
};

Result<Collected> RunSql(const std::string& sql, const LakeSqlOptions& o, std::vector<TableRead>* read = nullptr) {
  ASSIGN_OR_RETURN(auto q, LakeSqlQuery::Prepare(sql, o));
  Collected c;
  RETURN_IF_ERROR(q->Stream(
      [&](const auto& cols) {
        for (const auto& col : cols) c.columns.push_back(col.name);
      },
      [&](const auto& v) {
        std::vector<std::string> r;
        for (const auto& x : v) r.emplace_back(x ? std::string(*x) : "NULL");
        c.rows.push_back(std::move(r));
        return true;
      }));
  if (read) *read = q->tables();
  return c;
}

LakeSqlOptions Options(const std::string& root, bool sandbox = false) {
  LakeSqlOptions o;
  o.lakehouse = root;
  o.sandbox = sandbox;
  o.duckdb_threads = 1;
  o.duckdb_memory_limit = "256MB";
  return o;
}

std::string Scalar(const std::string& sql, const LakeSqlOptions& o) {
  auto r = RunSql(sql, o);
  EXPECT_TRUE(r.ok()) << sql << ": " << r.status().ToString();
  if (!r.ok() || r->rows.empty()) return "";
  return r->rows[0][0];
}

TEST(LakeSqlReferences, FindsLayerDotTableWithTimeTravelAndSkipsStringsCommentsAndLongerNames) {
  auto is_table = [](const std::string& l, const std::string& t) {
    return (l == "silver" && t == "orders") || (l == "gold" && t == "sales_daily");
  };
  const std::string sql =
      "SELECT o.x, 'silver.orders' AS s, \"silver\".\"orders\".y -- silver.orders\n"
      "FROM SILVER.Orders@v12 o /* gold.sales_daily */ JOIN gold.sales_daily VERSION AS OF 3 g ON true, "
      "memory.silver.orders m, silver.orders TIMESTAMP AS OF '2024-05-01 10:30:00+02:00', gold.sales_daily@20240501103000000, "
      "silver.orders@2024-05-01T10:30:00Z, silver.orders@'2024-05-01', silver.orders version";
  auto refs = FindTableReferences(sql, is_table);
  ASSERT_TRUE(refs.ok()) << refs.status().ToString();
  ASSERT_EQ(refs->size(), 7u);
  EXPECT_EQ((*refs)[0].layer, "silver");
  EXPECT_EQ((*refs)[0].table, "orders");
  EXPECT_EQ(*(*refs)[0].at.version, 12);
  EXPECT_EQ(sql.substr((*refs)[0].begin, (*refs)[0].end - (*refs)[0].begin), "SILVER.Orders@v12");
  EXPECT_EQ((*refs)[1].table, "sales_daily");
  EXPECT_EQ(*(*refs)[1].at.version, 3);
  EXPECT_EQ(*(*refs)[2].at.timestamp_ms, 1714552200000);  // 08:30 UTC
  EXPECT_EQ(*(*refs)[3].at.timestamp_ms, 1714559400000);  // 10:30 UTC, Delta's yyyyMMddHHmmssSSS
  EXPECT_EQ(*(*refs)[4].at.timestamp_ms, 1714559400000);
  EXPECT_EQ(*(*refs)[5].at.timestamp_ms, 1714521600000);
  EXPECT_FALSE((*refs)[6].at.version || (*refs)[6].at.timestamp_ms);  // "silver.orders version": an alias
  // "silver.orders version" at the end: an alias, not time travel; "\"silver\".\"orders\".y" is a column.
  auto alias = FindTableReferences("SELECT * FROM silver.orders version WHERE version.x > 1", is_table);
  ASSERT_TRUE(alias.ok());
  ASSERT_EQ(alias->size(), 1u);
  EXPECT_FALSE((*alias)[0].at.version || (*alias)[0].at.timestamp_ms);

  auto bad = FindTableReferences("SELECT * FROM silver.orders@yesterday", is_table);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("silver.orders: cannot read the time travel \"@yesterday\""), std::string::npos)
      << bad.status().message();
  EXPECT_NE(bad.status().message().find("table@v12"), std::string::npos);
}

TEST(LakeSqlResultWriter, CsvQuotesAndJsonTypesValues) {
  std::string out;
  auto sink = [&](std::string_view s) {
    out.append(s);
    return true;
  };
  std::vector<ColumnarEngine::ResultColumn> cols = {{"name", ColumnarEngine::ValueKind::kText, false},
                                                    {"n", ColumnarEngine::ValueKind::kNumber, true},
                                                    {"ok", ColumnarEngine::ValueKind::kBoolean, false},
                                                    {"l", ColumnarEngine::ValueKind::kJson, false},
                                                    {"f", ColumnarEngine::ValueKind::kNumber, false}};
  std::vector<std::optional<std::string_view>> row = {"a,\"b\"\nc", "56333.33", "true", "[1,2]", "nan"};
  std::vector<std::optional<std::string_view>> nulls = {std::nullopt, std::nullopt, std::nullopt, std::nullopt, "-1.5e3"};
  auto csv = ResultWriter::Make(ResultFormat::kCsv, sink);
  csv->Header(cols);
  csv->Row(row);
  csv->Row(nulls);
  csv->Finish();
  EXPECT_EQ(out, "name,n,ok,l,f\n\"a,\"\"b\"\"\nc\",56333.33,true,\"[1,2]\",nan\n,,,,-1.5e3\n");
  out.clear();
  auto json = ResultWriter::Make(ResultFormat::kJson, sink);
  json->Header(cols);
  json->Row(row);
  json->Row(nulls);
  json->Finish();
  EXPECT_EQ(out,
            "{\"name\":\"a,\\\"b\\\"\\nc\",\"n\":56333.33,\"ok\":true,\"l\":[1,2],\"f\":\"nan\"}\n"
            "{\"name\":null,\"n\":null,\"ok\":null,\"l\":null,\"f\":-1.5e3}\n");
}

TEST(LakeSql, NamesResolveToTheCurrentSnapshotsActiveFilesOnly) {
  Lake lake;
  for (int b = 0; b < 4; ++b) lake.Append(b, 10);
  // Compaction removes the four files and adds one: reading removed files would double the rows.
  auto opt = Optimize(lake.table(), lake.engine(), OptimizeOptions{});
  ASSERT_TRUE(opt.ok()) << opt.status().ToString();
  ASSERT_EQ(opt->files_removed, 4);
  std::vector<TableRead> read;
  auto r = RunSql("SELECT count(*), count(DISTINCT (batch, id)), max(batch) FROM silver.events", Options(lake.root()), &read);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->rows[0], (std::vector<std::string>{"40", "40", "3"}));
  ASSERT_EQ(read.size(), 1u);
  EXPECT_EQ(read[0].name, "silver.events");
  EXPECT_EQ(read[0].version, opt->version);
  EXPECT_EQ(read[0].files, 1);
  // Quoted and upper-case names resolve the same; an unknown table lists the lakehouse's tables.
  EXPECT_EQ(Scalar("SELECT count(*) FROM \"silver\".\"events\"", Options(lake.root())), "40");
  EXPECT_EQ(Scalar("select count(*) from SILVER.EVENTS", Options(lake.root())), "40");
  auto unknown = RunSql("SELECT * FROM silver.evnts", Options(lake.root()));
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("tables in " + lake.root() + ": silver.events"), std::string::npos)
      << unknown.status().message();
}

TEST(LakeSql, TimeTravelByVersionAndByTimestamp) {
  Lake lake;
  for (int b = 0; b < 3; ++b) lake.Append(b, 10);  // versions 1, 2, 3
  const auto o = Options(lake.root());
  EXPECT_EQ(Scalar("SELECT count(*) FROM silver.events@v1", o), "10");
  EXPECT_EQ(Scalar("SELECT count(*) FROM silver.events VERSION AS OF 2", o), "20");
  EXPECT_EQ(Scalar("SELECT count(*) FROM silver.events", o), "30");
  // The same statement may read two versions of one table.
  EXPECT_EQ(Scalar("SELECT (SELECT count(*) FROM silver.events) - (SELECT count(*) FROM silver.events@v1)", o), "20");
  // By timestamp: the commit timestamps as Delta defines them (file times, made increasing).
  auto listing = ListDeltaLog(lake.table().storage());
  ASSERT_TRUE(listing.ok());
  auto ts = CommitTimestamps(*listing);
  const std::string at2 = FormatTimestampMillisZ(ts.at(2) * 1000);
  EXPECT_EQ(Scalar("SELECT count(*) FROM silver.events TIMESTAMP AS OF '" + at2 + "'", o), "20") << at2;
  EXPECT_EQ(Scalar("SELECT count(*) FROM silver.events@'" + at2 + "'", o), "20");
  std::vector<TableRead> read;
  ASSERT_TRUE(RunSql("SELECT 1 FROM silver.events@v2", o, &read).ok());
  EXPECT_EQ(read[0].version, 2);
  EXPECT_TRUE(read[0].time_travel);
  // Before the first commit, or a version that does not exist: NotFound, naming what exists.
  auto early = RunSql("SELECT * FROM silver.events TIMESTAMP AS OF '2001-01-01'", o);
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.status().code(), StatusCode::kNotFound);
  EXPECT_NE(early.status().message().find("earliest kept commit is version 0"), std::string::npos) << early.status().message();
  auto missing = RunSql("SELECT * FROM silver.events@v99", o);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

TEST(LakeSql, EachStatementSeesOneSnapshotWhileAWriterAppendsAndCompacts) {
  Lake lake;
  lake.Append(0, 100);
  std::atomic<bool> stop{false};
  std::atomic<int> commits{0};
  std::thread writer([&] {
    // Each batch b adds 100 rows; every 5th round compacts (removes files, adds one).
    for (int64_t b = 1; !stop; ++b) {
      lake.Append(b, 100);
      ++commits;
      if (b % 5 == 0) {
        auto r = Optimize(lake.table(), lake.engine(), OptimizeOptions{});
        EXPECT_TRUE(r.ok()) << r.status().ToString();
      }
    }
  });
  const auto o = Options(lake.root(), true);
  int checked = 0;
  for (int i = 0; i < 40 || commits < 20; ++i) {
    std::vector<TableRead> read;
    auto r = RunSql("SELECT (SELECT count(*) FROM silver.events), (SELECT count(*) FROM silver.events), "
                 "(SELECT max(batch) FROM silver.events), (SELECT count(DISTINCT batch) FROM silver.events)",
                 o, &read);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    const auto& v = r->rows[0];
    // Both references saw one snapshot; it holds whole batches 0..max, none twice, none half.
    EXPECT_EQ(v[0], v[1]);
    const int64_t max_batch = std::stoll(v[2]);
    EXPECT_EQ(std::stoll(v[0]), 100 * (max_batch + 1)) << "version " << read[0].version;
    EXPECT_EQ(std::stoll(v[3]), max_batch + 1);
    // …and it is the snapshot named: its log says the same count.
    auto snap = LoadSnapshot(lake.table().storage(), SnapshotSelector{read[0].version, std::nullopt});
    ASSERT_TRUE(snap.ok());
    EXPECT_EQ(snap->NumRecords(), std::stoll(v[0]));
    ++checked;
  }
  stop = true;
  writer.join();
  EXPECT_GE(checked, 40);
  EXPECT_GE(commits.load(), 20);
}

TEST(LakeSql, RefusesWritingStatementsAndInTheSandboxFilesOutsideTheSnapshots) {
  Lake lake;
  lake.Append(0, 5);
  for (const char* sql : {"INSERT INTO silver.events VALUES (1, 1, 'x')", "DELETE FROM silver.events",
                          "COPY silver.events TO '/tmp/x.csv'", "ATTACH '/tmp/x.duckdb'", "SET threads = 8",
                          "CREATE TABLE t AS SELECT 1", "DROP VIEW silver.events", "INSTALL httpfs",
                          " /* c */ (UPDATE silver.events SET id = 0)", "CALL pragma_version()"}) {
    SCOPED_TRACE(sql);
    auto r = LakeSqlQuery::Prepare(sql, Options(lake.root()));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("statements are refused: SQL over the lakehouse is read-only"), std::string::npos)
        << r.status().message();
  }
  auto two = LakeSqlQuery::Prepare("SELECT 1; SELECT 2", Options(lake.root()));
  ASSERT_FALSE(two.ok());
  EXPECT_NE(two.status().message().find("expected one SQL statement, found 2"), std::string::npos);
  // A local file: readable from the CLI, refused in the sandbox (the HTTP API).
  const std::string csv = lake.root() + "/customers.csv";
  std::ofstream(csv) << "id,name\n1,Acme\n";
  const std::string join = "SELECT count(*) FROM silver.events e JOIN read_csv('" + csv + "') c ON e.id = c.id";
  EXPECT_EQ(Scalar(join, Options(lake.root())), "1");
  auto sandboxed = RunSql(join, Options(lake.root(), true));
  ASSERT_FALSE(sandboxed.ok());
  EXPECT_NE(sandboxed.status().message().find("Permission Error"), std::string::npos) << sandboxed.status().message();
  // The table itself still reads in the sandbox, and the sandbox cannot be lifted.
  EXPECT_EQ(Scalar("SELECT count(*) FROM silver.events", Options(lake.root(), true)), "5");
  auto lift = RunSql("SELECT * FROM read_parquet('" + lake.root() + "/silver/events/*.parquet')", Options(lake.root(), true));
  EXPECT_FALSE(lift.ok());
}

TEST(LakeSql, TimeLimitStopsTheStatement) {
  Lake lake;
  auto o = Options(lake.root());
  o.timeout_ms = 200;
  auto r = RunSql("SELECT sum(a.range * b.range) FROM range(100000000) a, range(1000) b", o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded) << r.status().ToString();
  EXPECT_NE(r.status().message().find("limit of 200 ms"), std::string::npos);
}

// Runs the lakestream binary; returns its exit code, stdout in *out.
int RunCli(const std::string& args, std::string* out) {
  const std::string cmd = std::string(LAKESTREAM_BINARY) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  size_t n;
  out->clear();
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out->append(buf, n);
  return WEXITSTATUS(pclose(p));
}

TEST(LakeSqlCli, EveryOutputFormat) {
  Lake lake;
  lake.Append(7, 3);
  const std::string sql = "\"SELECT id, name, batch > 5 AS big, NULL AS none FROM silver.events ORDER BY id\"";
  const std::string base = "sql --lakehouse " + lake.root() + " ";
  std::string out;
  ASSERT_EQ(RunCli(base + "--format table " + sql, &out), 0) << out;
  EXPECT_EQ(out,
            "id | name | big  | none\n"
            "---+------+------+-----\n"
            "0  | n0   | true | NULL\n"
            "1  | n1   | true | NULL\n"
            "2  | n2   | true | NULL\n"
            "(3 rows; read silver.events@v1)\n");
  ASSERT_EQ(RunCli(base + sql, &out), 0) << out;  // not a terminal: CSV
  EXPECT_EQ(out, "id,name,big,none\n0,n0,true,\n1,n1,true,\n2,n2,true,\n");
  ASSERT_EQ(RunCli(base + "--format json " + sql, &out), 0) << out;
  EXPECT_EQ(out,
            "{\"id\":0,\"name\":\"n0\",\"big\":true,\"none\":null}\n"
            "{\"id\":1,\"name\":\"n1\",\"big\":true,\"none\":null}\n"
            "{\"id\":2,\"name\":\"n2\",\"big\":true,\"none\":null}\n");
  ASSERT_EQ(RunCli(base + "--format table --max-rows 2 " + sql, &out), 0) << out;
  EXPECT_NE(out.find("(2 rows, stopped at --max-rows 2; read silver.events@v1)"), std::string::npos) << out;
  const std::string pq = lake.root() + "/out.parquet";
  ASSERT_EQ(RunCli(base + "--format parquet --output " + pq + " " + sql, &out), 0) << out;
  auto back = lake.engine().Query("SELECT count(*), min(name), max(id) FROM read_parquet('" + pq + "')");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back->rows[0][0], "3");
  EXPECT_EQ(*back->rows[0][1], "n0");
  EXPECT_EQ(*back->rows[0][2], "2");
  ASSERT_EQ(RunCli(base + "--list-tables", &out), 0) << out;
  EXPECT_EQ(out, "silver.events\n");
  // Usage errors say how to fix them.
  EXPECT_EQ(RunCli(base + "--format parquet " + sql, &out), 1);
  EXPECT_NE(out.find("add --output FILE.parquet"), std::string::npos) << out;
  EXPECT_EQ(RunCli(base + "--format xml " + sql, &out), 1);
  EXPECT_NE(out.find("use table, csv or json"), std::string::npos) << out;
  EXPECT_EQ(RunCli(base + "\"DELETE FROM silver.events\"", &out), 1);
  EXPECT_NE(out.find("DELETE statements are refused"), std::string::npos) << out;
}

TEST(SqlApi, AnswersJsonAndCsvWithinLimits) {
  Lake lake;
  lake.Append(1, 30);
  std::atomic<int> running{0};
  SqlApiLimits limits;
  limits.default_max_rows = 10;
  auto r = AnswerSqlRequest(R"({"sql": "SELECT id, name, id % 2 = 0 AS even FROM silver.events ORDER BY id"})",
                            lake.root(), limits, &running);
  ASSERT_EQ(r.http_status, 200) << r.body;
  simdjson::dom::parser p;
  simdjson::dom::element doc;
  ASSERT_EQ(p.parse(r.body).get(doc), simdjson::SUCCESS) << r.body;
  EXPECT_EQ(int64_t(doc["row_count"]), 10);
  EXPECT_TRUE(bool(doc["truncated"]));
  EXPECT_EQ(std::string_view(doc["columns"].at(1)["name"]), "name");
  EXPECT_EQ(std::string_view(doc["columns"].at(2)["type"]), "boolean");
  EXPECT_EQ(int64_t(doc["rows"].at(3).at(0)), 3);
  EXPECT_EQ(std::string_view(doc["rows"].at(3).at(1)), "n3");
  EXPECT_FALSE(bool(doc["rows"].at(3).at(2)));
  EXPECT_EQ(std::string_view(doc["tables"].at(0)["name"]), "silver.events");
  EXPECT_EQ(int64_t(doc["tables"].at(0)["version"]), 1);
  EXPECT_EQ(running.load(), 0);

  auto csv = AnswerSqlRequest(R"({"sql": "SELECT count(*) AS n FROM silver.events", "format": "csv"})", lake.root(),
                              limits, &running);
  ASSERT_EQ(csv.http_status, 200) << csv.body;
  EXPECT_EQ(csv.body, "n\n30\n");
  EXPECT_EQ(csv.tables_header, "silver.events@v1");

  struct Case {
    const char* body;
    int status;
    const char* says;
  };
  for (const Case& c : {Case{"not json", 400, "must be a JSON object"}, Case{R"({"query": "SELECT 1"})", 400, "unknown member"},
                        Case{R"({"sql": "SELECT 1", "max_rows": 1000000})", 400, "at most 100000"},
                        Case{R"({"sql": "DROP VIEW silver.events"})", 400, "DROP statements are refused"},
                        Case{R"j({"sql": "SELECT * FROM read_text('/etc/hostname')"})j", 400, "Permission Error"},
                        Case{R"({"sql": "SELECT * FROM silver.events@v9"})", 404, "silver.events@v9"}}) {
    SCOPED_TRACE(c.body);
    auto e = AnswerSqlRequest(c.body, lake.root(), limits, &running);
    EXPECT_EQ(e.http_status, c.status) << e.body;
    EXPECT_NE(e.body.find(c.says), std::string::npos) << e.body;
  }
  // Beyond the concurrency limit: 503, and the counter is left as it was.
  running = limits.max_concurrent;
  auto busy = AnswerSqlRequest(R"({"sql": "SELECT 1"})", lake.root(), limits, &running);
  EXPECT_EQ(busy.http_status, 503) << busy.body;
  EXPECT_EQ(running.load(), limits.max_concurrent);
}

}  // namespace
}  // namespace lakestream
