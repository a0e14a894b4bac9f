// Pipeline golden cases: one folder per case under tests/data/pipeline-golden/, each with its Kafka
// records, its pipeline file and the rows every table must hold after the pipeline has consumed them
// in fixed micro-batches (docs/testing.md, "Pipeline golden cases"). The engine runs in-process, with
// no broker: the records go straight to ProcessBatch, as the consumer would hand them over.
//
// A case folder:
//   case.toml            description, pipeline file, records file, batch size, restarts, ignored columns
//   <pipeline>.toml      the pipeline file the case runs
//   records.jsonl[.gz]   one Kafka record per line: {"topic","partition","offset","timestamp_ms","key","value"}
//   expected/<layer>.<table>.csv.gz   every row of the table, columns as text, sorted (NULL is \N)
//
// Record (or re-record) the expected rows from the current code with
//   LAKESTREAM_GOLDEN_RECORD=1 build/release/tests/pipeline_golden_tests
// and review the diff: a change to expected rows is a change of the pipeline's behaviour.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "lake/columnar/columnar.h"
#include "lake/delta/delta_scan.h"
#include "lake/delta/delta_table.h"
#include "lake/storage/storage.h"
#include "pipeline/medallion_pipeline.h"
#include "pipeline/pipeline_spec.h"
#include "support/status_testing.h"

namespace lakestream {
namespace {

namespace fs = std::filesystem;

const fs::path kCasesDir = fs::path(LAKESTREAM_SOURCE_DIR) / "tests/data/pipeline-golden";

struct GoldenCase {
  std::string name;
  fs::path dir;
  std::string description;
  std::string pipeline_file;
  std::string records_file;
  int64_t batch_records = 500;
  /// Close and reopen the pipeline after each of these batch numbers (1-based): pins the catch-up.
  std::vector<int64_t> restart_after;
  /// Columns whose values depend on the wall clock (ingest time, quarantine time), left out.
  std::vector<std::string> ignore_columns;
};

// GoogleTest prints a case by its folder name.
void PrintTo(const GoldenCase& c, std::ostream* os) { *os << c.name; }

std::vector<GoldenCase> LoadCases() {
  std::vector<GoldenCase> out;
  if (!fs::is_directory(kCasesDir)) return out;
  for (const auto& entry : fs::directory_iterator(kCasesDir)) {
    if (!fs::exists(entry.path() / "case.toml")) continue;
    GoldenCase c;
    c.name = entry.path().filename().string();
    c.dir = entry.path();
    toml::table t = toml::parse_file((entry.path() / "case.toml").string());
    c.description = t["description"].value_or(std::string());
    c.pipeline_file = t["pipeline"].value_or(std::string("pipeline.toml"));
    c.records_file = t["records"].value_or(std::string("records.jsonl.gz"));
    c.batch_records = t["batch_records"].value_or(int64_t{500});
    if (auto* a = t["restart_after_batches"].as_array()) {
      for (auto& v : *a) c.restart_after.push_back(v.value_or(int64_t{0}));
    }
    if (auto* a = t["ignore_columns"].as_array()) {
      for (auto& v : *a) c.ignore_columns.push_back(v.value_or(std::string()));
    }
    out.push_back(std::move(c));
  }
  std::sort(out.begin(), out.end(), [](const GoldenCase& a, const GoldenCase& b) { return a.name < b.name; });
  return out;
}

// Every record of the case, in file order.
std::vector<KafkaRecord> ReadRecords(ColumnarEngine& engine, const fs::path& file) {
  std::vector<KafkaRecord> out;
  const std::string sql =
      "SELECT topic, partition::VARCHAR, \"offset\"::VARCHAR, coalesce(timestamp_ms, -1)::VARCHAR, key, value "
      "FROM read_json(" + ColumnarEngine::Quote(file.string()) +
      ", format = 'newline_delimited', columns = {topic: 'VARCHAR', partition: 'INTEGER', \"offset\": 'BIGINT', "
      "timestamp_ms: 'BIGINT', key: 'VARCHAR', value: 'VARCHAR'})";
  Status st = engine.ForEachRow(sql, [&](const std::vector<std::optional<std::string_view>>& row) {
    KafkaRecord r;
    r.topic = std::string(row[0].value_or(""));
    r.partition = std::stoi(std::string(row[1].value_or("0")));
    r.offset = std::stoll(std::string(row[2].value_or("0")));
    r.timestamp_ms = std::stoll(std::string(row[3].value_or("-1")));
    if (row[4]) r.key = std::string(*row[4]);
    r.value = std::string(row[5].value_or(""));
    out.push_back(std::move(r));
  });
  EXPECT_TRUE(st.ok()) << file << ": " << st.ToString();
  return out;
}

Result<std::unique_ptr<StreamingPipeline>> OpenCasePipeline(const PipelineSpec& spec, const std::string& lake) {
  // Gold after every batch: the incremental refresh is exercised on each one, and the rows do not
  // depend on the wall clock.
  MedallionPipelineOptions o;
  o.spec = spec;
  o.lake_root = lake;
  o.gold_interval_ms = 0;
  o.auto_compact_min_files = 0;
  o.writer_lease_ms = 0;
  ASSIGN_OR_RETURN(auto p, MedallionPipeline::Open(o));
  return std::unique_ptr<StreamingPipeline>(std::move(p));
}

// The table's rows as a SELECT of text columns (the ignored ones left out), sorted.
std::string RowsSql(ColumnarEngine& engine, const std::string& lake, const std::string& table,
                    const std::vector<std::string>& ignore) {
  auto storage = OpenStorage(lake + "/" + table, false);
  EXPECT_TRUE(storage.ok()) << storage.status().ToString();
  if (!storage.ok()) return "";
  auto t = DeltaTable::Open(*storage, table);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  if (!t.ok()) return "";
  auto scan = SnapshotScanSql((*t)->snapshot(), (*t)->storage(), engine);
  EXPECT_TRUE(scan.ok()) << scan.status().ToString();
  if (!scan.ok()) return "";
  std::string cols;
  for (const auto& f : (*t)->snapshot().schema().fields) {
    if (std::find(ignore.begin(), ignore.end(), f.name) != ignore.end()) continue;
    const std::string id = ColumnarEngine::QuoteIdentifier(f.name);
    // BLOBs as their bytes decoded (payloads are UTF-8 JSON in these cases), the rest as DuckDB prints them.
    const std::string value = f.type == "binary" ? "decode(" + id + ")" : id + "::VARCHAR";
    cols += (cols.empty() ? "" : ", ") + value + " AS " + id;
  }
  return "SELECT " + cols + " FROM (" + *scan + ") ORDER BY ALL";
}

std::string ExpectedFile(const GoldenCase& c, const std::string& table) {
  std::string name = table;
  std::replace(name.begin(), name.end(), '/', '.');
  return (c.dir / "expected" / (name + ".csv.gz")).string();
}

std::string One(ColumnarEngine& engine, const std::string& sql) {
  auto r = engine.Query(sql);
  EXPECT_TRUE(r.ok()) << r.status().ToString() << "\n" << sql;
  if (!r.ok() || r->rows.empty() || !r->rows[0][0]) return "<null>";
  return *r->rows[0][0];
}

// Up to 10 rows of `a` EXCEPT ALL `b`, one per line, for the failure message.
std::string Sample(ColumnarEngine& engine, const std::string& a, const std::string& b) {
  auto r = engine.Query("SELECT * FROM ((" + a + ") EXCEPT ALL (" + b + ")) LIMIT 10");
  if (!r.ok()) return r.status().ToString();
  std::string out;
  for (const auto& row : r->rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += (i ? " | " : "") + r->columns[i] + "=" + row[i].value_or("NULL");
    }
    out += "  " + line + "\n";
  }
  return out;
}

class PipelineGolden : public testing::TestWithParam<GoldenCase> {};

TEST_P(PipelineGolden, TablesHoldTheExpectedRows) {
  const GoldenCase& c = GetParam();
  SCOPED_TRACE(c.name + ": " + c.description);
  const bool record = std::getenv("LAKESTREAM_GOLDEN_RECORD") != nullptr;
  auto engine = std::move(ColumnarEngine::Open(1, "1GB")).value();
  auto spec = LoadPipelineSpec((c.dir / c.pipeline_file).string());
  ASSERT_OK(spec.status());
  const std::vector<KafkaRecord> records = ReadRecords(*engine, c.dir / c.records_file);
  ASSERT_FALSE(records.empty()) << "no records in " << (c.dir / c.records_file);

  const std::string lake = (fs::path(testing::TempDir()) / ("golden-" + c.name + "-" + std::to_string(getpid()))).string();
  fs::remove_all(lake);
  std::vector<std::string> tables;
  {
    auto opened = OpenCasePipeline(*spec, lake);
    ASSERT_OK(opened.status());
    std::unique_ptr<StreamingPipeline> p = std::move(opened).value();
    tables = p->Tables();
    int64_t batch_no = 0;
    for (size_t from = 0; from < records.size(); from += static_cast<size_t>(c.batch_records)) {
      const size_t to = std::min(records.size(), from + static_cast<size_t>(c.batch_records));
      ASSERT_OK(p->ProcessBatch(std::vector<KafkaRecord>(records.begin() + static_cast<std::ptrdiff_t>(from),
                                                         records.begin() + static_cast<std::ptrdiff_t>(to))));
      ++batch_no;
      if (std::find(c.restart_after.begin(), c.restart_after.end(), batch_no) != c.restart_after.end()) {
        ASSERT_OK(p->Close());
        p.reset();
        auto again = OpenCasePipeline(*spec, lake);
        ASSERT_OK(again.status());
        p = std::move(again).value();
      }
    }
    ASSERT_OK(p->Close());
  }

  for (const auto& table : tables) {
    SCOPED_TRACE(table);
    const std::string actual = RowsSql(*engine, lake, table, c.ignore_columns);
    ASSERT_FALSE(actual.empty());
    const std::string file = ExpectedFile(c, table);
    if (record) {
      fs::create_directories(fs::path(file).parent_path());
      auto r = engine->Query("COPY (" + actual + ") TO " + ColumnarEngine::Quote(file) +
                             " (FORMAT csv, HEADER, NULLSTR '\\N', COMPRESSION gzip)");
      ASSERT_OK(r.status());
      std::printf("recorded %s: %s rows\n", file.c_str(), One(*engine, "SELECT count(*) FROM (" + actual + ")").c_str());
      continue;
    }
    ASSERT_TRUE(fs::exists(file)) << file << " is missing: record it with LAKESTREAM_GOLDEN_RECORD=1";
    const std::string expected = "SELECT * FROM read_csv(" + ColumnarEngine::Quote(file) +
                                 ", header = true, all_varchar = true, nullstr = '\\N', quote = '\"', escape = '\"')";
    const std::string missing = One(*engine, "SELECT count(*) FROM ((" + expected + ") EXCEPT ALL (" + actual + "))");
    const std::string extra = One(*engine, "SELECT count(*) FROM ((" + actual + ") EXCEPT ALL (" + expected + "))");
    EXPECT_EQ(missing, "0") << "rows expected and not written, e.g.\n" << Sample(*engine, expected, actual);
    EXPECT_EQ(extra, "0") << "rows written and not expected, e.g.\n" << Sample(*engine, actual, expected);
    EXPECT_EQ(One(*engine, "SELECT count(*) FROM (" + actual + ")"),
              One(*engine, "SELECT count(*) FROM (" + expected + ")"));
  }
  fs::remove_all(lake);
}

INSTANTIATE_TEST_SUITE_P(Cases, PipelineGolden, testing::ValuesIn(LoadCases()),
                         [](const testing::TestParamInfo<GoldenCase>& info) {
                           std::string n = info.param.name;
                           for (char& ch : n) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return n;
                         });

}  // namespace
}  // namespace lakestream
