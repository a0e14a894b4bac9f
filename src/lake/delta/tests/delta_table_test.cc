#include "lake/delta/delta_table.h"

#include <gtest/gtest.h>
#include <simdjson.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "common/ids.h"
#include "lake/columnar/columnar.h"

namespace lakestream {
namespace {

std::string TempDir() {
  auto p = std::filesystem::temp_directory_path() / ("lakestream_delta_" + RandomUuid());
  std::filesystem::create_directories(p);
  return p.string();
}

DeltaSchema Schema() { return {{{"id", "long", false}, {"name", "string", true}}}; }

std::unique_ptr<DeltaTable> NewTable(const std::string& dir) {
  auto storage = OpenStorage(dir);
  EXPECT_TRUE(storage.ok());
  auto t = DeltaTable::Open(*storage, "t");
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return std::move(t).value();
}

AddFile Add(const std::string& path, int64_t rows) {
  AddFile a;
  a.path = path;
  a.size_bytes = 100;
  a.modification_time_ms = 1;
  a.stats_json = "{\"numRecords\":" + std::to_string(rows) + "}";
  return a;
}

TEST(DeltaTable, FirstCommitHasCommitInfoMetadataAndProtocol12) {
  auto dir = TempDir();
  auto t = NewTable(dir);
  ASSERT_TRUE(t->CreateIfNotExists(Schema(), {}, {{"delta.appendOnly", "true"}}).ok());
  auto raw = t->storage().Read(CommitFileName(0));
  ASSERT_TRUE(raw.ok());
  EXPECT_NE(raw->find(R"({"protocol":{"minReaderVersion":1,"minWriterVersion":2}})"), std::string::npos);
  EXPECT_NE(raw->find(R"("schemaString":"{\"type\":\"struct\",\"fields\":[{\"name\":\"id\",\"type\":\"long\",\"nullable\":false,\"metadata\":{}})"),
            std::string::npos)
      << *raw;
  EXPECT_EQ(raw->find("{\"commitInfo\""), 0u);
  EXPECT_EQ(t->snapshot().version, 0);
  EXPECT_EQ(t->snapshot().configuration().at("delta.appendOnly"), "true");
  // Every line is a JSON object.
  simdjson::dom::parser p;
  size_t start = 0;
  while (start < raw->size()) {
    size_t end = raw->find('\n', start);
    EXPECT_EQ(p.parse(raw->substr(start, end - start)).error(), simdjson::SUCCESS);
    start = end + 1;
  }
}

TEST(DeltaTable, SnapshotReconcilesAddsRemovesAndLatestTxnPerAppId) {
  auto dir = TempDir();
  auto t = NewTable(dir);
  ASSERT_TRUE(t->CreateIfNotExists(Schema(), {}, {}).ok());
  Transaction a;
  a.adds = {Add("a.parquet", 10), Add("b.parquet", 5)};
  a.txns = {{"app-0", 41, 0}};
  ASSERT_EQ(*t->Commit(a), 1);
  Transaction b;
  b.removes = {RemoveFile{"a.parquet", 0, true, 100, false, {}}};
  b.adds = {Add("c%20d.parquet", 7)};
  b.txns = {{"app-0", 99, 0}, {"app-1", 3, 0}};
  ASSERT_EQ(*t->Commit(b), 2);
  auto reopened = NewTable(dir);
  const auto& s = reopened->snapshot();
  EXPECT_EQ(s.version, 2);
  EXPECT_EQ(s.files.size(), 2u);
  EXPECT_EQ(s.NumRecords(), 12);
  EXPECT_EQ(s.TxnVersion("app-0"), 99);
  EXPECT_EQ(s.TxnVersion("app-1"), 3);
  EXPECT_FALSE(s.TxnVersion("app-2"));
  auto c1 = reopened->ReadCommit(1);
  ASSERT_TRUE(c1.ok());
  EXPECT_EQ(c1->adds.size(), 2u);
}

TEST(DeltaTable, BlindAppendsAreMarkedAndOverwritesAreNot) {
  auto dir = TempDir();
  auto t = NewTable(dir);
  ASSERT_TRUE(t->CreateIfNotExists(Schema(), {}, {}).ok());
  Transaction a;
  a.adds = {Add("a.parquet", 1)};
  ASSERT_TRUE(t->Commit(a).ok());
  Transaction o;
  o.removes = {RemoveFile{"a.parquet", 0, true, 100, false, {}}};
  o.adds = {Add("b.parquet", 1)};
  o.read_whole_table = true;
  ASSERT_TRUE(t->Commit(o).ok());
  EXPECT_NE(t->storage().Read(CommitFileName(1))->find("\"isBlindAppend\":true"), std::string::npos);
  EXPECT_NE(t->storage().Read(CommitFileName(2))->find("\"isBlindAppend\":false"), std::string::npos);
}

TEST(DeltaTable, CommitNeverOverwritesAnExistingVersion) {
  auto dir = TempDir();
  auto t = NewTable(dir);
  ASSERT_TRUE(t->CreateIfNotExists(Schema(), {}, {}).ok());
  auto stale = NewTable(dir);  // snapshot at version 0
  Transaction a;
  a.adds = {Add("a.parquet", 1)};
  ASSERT_EQ(*t->Commit(a), 1);
  // The stale writer loses the race for version 1 and, as a blind append, retries at 2.
  Transaction b;
  b.adds = {Add("b.parquet", 1)};
  ASSERT_EQ(*stale->Commit(b), 2);
  EXPECT_NE(t->storage().Read(CommitFileName(1))->find("a.parquet"), std::string::npos);
  EXPECT_EQ(stale->snapshot().files.size(), 2u);
}

TEST(DeltaTable, ConcurrentWriterOfTheSameTxnAppIdIsAConflict) {
  auto dir = TempDir();
  auto t = NewTable(dir);
  ASSERT_TRUE(t->CreateIfNotExists(Schema(), {}, {}).ok());
  auto other = NewTable(dir);
  Transaction a;
  a.adds = {Add("a.parquet", 1)};
  a.txns = {{"stream-0", 10, 0}};
  ASSERT_TRUE(t->Commit(a).ok());
  Transaction b;
  b.adds = {Add("b.parquet", 1)};
  b.txns = {{"stream-0", 10, 0}};
  auto r = other->Commit(b);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kConflict);
  EXPECT_NE(r.status().message().find("ConcurrentTransaction"), std::string::npos);
}

TEST(DeltaTable, OverwriteConflictsWithAConcurrentAppend) {
  auto dir = TempDir();
  auto t = NewTable(dir);
  ASSERT_TRUE(t->CreateIfNotExists(Schema(), {}, {}).ok());
  auto other = NewTable(dir);
  Transaction a;
  a.adds = {Add("a.parquet", 1)};
  ASSERT_TRUE(t->Commit(a).ok());
  Transaction o;
  o.adds = {Add("b.parquet", 1)};
  o.read_whole_table = true;
  EXPECT_EQ(other->Commit(o).status().code(), StatusCode::kConflict);
}

TEST(DeltaTable, RefusesALogWithAVersionGap) {
  auto dir = TempDir();
  auto t = NewTable(dir);
  ASSERT_TRUE(t->CreateIfNotExists(Schema(), {}, {}).ok());
  ASSERT_TRUE(t->storage().Write(CommitFileName(2), "{\"commitInfo\":{}}\n").ok());
  auto storage = OpenStorage(dir);
  auto r = DeltaTable::Open(*storage, "t");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_NE(r.status().message().find("version gap"), std::string::npos);
}

TEST(DeltaTable, RefusesToReopenWithAnotherSchema) {
  auto dir = TempDir();
  ASSERT_TRUE(NewTable(dir)->CreateIfNotExists(Schema(), {}, {}).ok());
  DeltaSchema other{{{"id", "string", false}}};
  Status st = NewTable(dir)->CreateIfNotExists(other, {}, {});
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
}

TEST(DeltaPath, PercentEncodesReservedCharacters) {
  EXPECT_EQ(EncodeDeltaPath("date=2021-09-08 11:11/part-0.parquet"), "date=2021-09-08%2011%3A11/part-0.parquet");
  EXPECT_EQ(DecodeDeltaPath("date=2021-09-08%2011%3A11/part-0.parquet"), "date=2021-09-08 11:11/part-0.parquet");
}

TEST(ParquetWriter, WritesDeltaTypesAndStatsThatDuckDbReadsBack) {
  auto engine = ColumnarEngine::Open(1, "256MB");
  ASSERT_TRUE(engine.ok());
  RecordBatch b({{"id", ColumnType::kInt64, false},
                 {"name", ColumnType::kString, true},
                 {"price", ColumnType::kDecimal, false, 12, 3},
                 {"at", ColumnType::kTimestampMicros, false},
                 {"day", ColumnType::kDate, false},
                 {"raw", ColumnType::kBinary, true}});
  for (int i = 0; i < 3; ++i) {
    b.AppendInt(0, i);
    if (i == 1) {
      b.AppendNull(1);
    } else {
      b.AppendString(1, "n" + std::to_string(i));
    }
    b.AppendInt(2, -2550 + i);
    b.AppendInt(3, 1291191960000000LL + i * 1000);
    b.AppendInt(4, 14944 + i);
    b.AppendString(5, std::string("\x00\xff", 2));
  }
  auto dir = TempDir();
  std::string path = dir + "/f.parquet";
  auto info = (*engine)->WriteParquet(b, path);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->num_records, 3);
  EXPECT_GT(info->size_bytes, 0);
  EXPECT_NE(info->stats_json.find(R"("minValues":{"id":0,"name":"n0","price":-2.550,"at":"2010-12-01T08:26:00.000Z","day":"2010-12-01"})"),
            std::string::npos)
      << info->stats_json;
  EXPECT_NE(info->stats_json.find(R"("nullCount":{"id":0,"name":1,)"), std::string::npos) << info->stats_json;
  auto schema = (*engine)->Query("SELECT name, type, logical_type, converted_type FROM parquet_schema('" + path +
                                 "') WHERE name IN ('price', 'at', 'day')  ORDER BY name");
  ASSERT_TRUE(schema.ok());
  ASSERT_EQ(schema->rows.size(), 3u);
  EXPECT_EQ(*schema->rows[0][1], "INT64");  // at
  EXPECT_NE(schema->rows[0][2]->find("isAdjustedToUTC=1"), std::string::npos);
  EXPECT_NE(schema->rows[0][2]->find("MICROS"), std::string::npos);
  EXPECT_EQ(*schema->rows[1][1], "INT32");  // day
  EXPECT_EQ(*schema->rows[1][3], "DATE");
  EXPECT_EQ(*schema->rows[2][1], "INT64");  // price decimal(12,3)
  EXPECT_EQ(*schema->rows[2][3], "DECIMAL");
  auto compression = (*engine)->Query("SELECT DISTINCT compression FROM parquet_metadata('" + path + "')");
  ASSERT_TRUE(compression.ok());
  EXPECT_EQ(*compression->rows[0][0], "ZSTD");
  auto sum = (*engine)->Query("SELECT sum(price)::VARCHAR, count(name) FROM read_parquet('" + path + "')");
  EXPECT_EQ(*sum->rows[0][0], "-7.647");
  EXPECT_EQ(*sum->rows[0][1], "2");
}

}  // namespace
}  // namespace lakestream
