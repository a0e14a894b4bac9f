#include "lake/delta/delta_checkpoint.h"

#include <simdjson.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "common/ids.h"
#include "common/json_writer.h"
#include "lake/columnar/columnar.h"
#include "lake/delta/delta_snapshot.h"

namespace lakestream {

namespace {

// DuckDB types of Spark's checkpoint schema (as embedded in Spark's _last_checkpoint.checkpointSchema;
// Delta PROTOCOL.md, "Checkpoint Schema"). Maps are map<string,string>, versions int32, sizes int64.
constexpr const char* kDeletionVectorType =
    "STRUCT(storageType VARCHAR, pathOrInlineDv VARCHAR, \"offset\" INTEGER, sizeInBytes INTEGER, "
    "cardinality BIGINT, maxRowIndex BIGINT)";

std::string CheckpointColumns() {
  return fmt::format(
      "{{txn: 'STRUCT(appId VARCHAR, \"version\" BIGINT, lastUpdated BIGINT)', "
      "add: 'STRUCT(path VARCHAR, partitionValues MAP(VARCHAR, VARCHAR), size BIGINT, modificationTime BIGINT, "
      "dataChange BOOLEAN, tags MAP(VARCHAR, VARCHAR), deletionVector {0}, baseRowId BIGINT, "
      "defaultRowCommitVersion BIGINT, stats VARCHAR)', "
      "remove: 'STRUCT(path VARCHAR, deletionTimestamp BIGINT, dataChange BOOLEAN, extendedFileMetadata BOOLEAN, "
      "partitionValues MAP(VARCHAR, VARCHAR), size BIGINT, deletionVector {0}, baseRowId BIGINT, "
      "defaultRowCommitVersion BIGINT)', "
      "metaData: 'STRUCT(id VARCHAR, \"name\" VARCHAR, description VARCHAR, format STRUCT(provider VARCHAR, "
      "\"options\" MAP(VARCHAR, VARCHAR)), schemaString VARCHAR, partitionColumns VARCHAR[], "
      "\"configuration\" MAP(VARCHAR, VARCHAR), createdTime BIGINT)', "
      "protocol: 'STRUCT(minReaderVersion INTEGER, minWriterVersion INTEGER, readerFeatures VARCHAR[], "
      "writerFeatures VARCHAR[])', "
      "domainMetadata: 'STRUCT(\"domain\" VARCHAR, \"configuration\" VARCHAR, removed BOOLEAN)'}}",
      kDeletionVectorType);
}

// A private engine for log Parquet: small, single-threaded, created on first use.
Result<ColumnarEngine*> LogEngine() {
  static std::mutex mu;
  static std::unique_ptr<ColumnarEngine> engine;
  std::lock_guard<std::mutex> lock(mu);
  if (!engine) {
    ASSIGN_OR_RETURN(engine, ColumnarEngine::Open(1, "256MB"));
  }
  return engine.get();
}

std::string TempPath(const std::string& suffix) {
  return (std::filesystem::temp_directory_path() / ("lakestream-" + RandomUuid() + suffix)).string();
}

}  // namespace

Result<LastCheckpoint> ReadLastCheckpoint(Storage& storage) {
  ASSIGN_OR_RETURN(std::string raw, storage.Read("_delta_log/_last_checkpoint"));
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (raw.empty()) return Corruption("_last_checkpoint is empty");
  if (parser.parse(raw).get(doc) != simdjson::SUCCESS) return Corruption("_last_checkpoint is not valid JSON");
  LastCheckpoint lc;
  if (doc["version"].get(lc.version) != simdjson::SUCCESS || lc.version < 0) {
    return Corruption("_last_checkpoint has no valid version");
  }
  if (doc["size"].get(lc.size) != simdjson::SUCCESS) lc.size = 0;
  if (doc["parts"].get(lc.parts) != simdjson::SUCCESS) lc.parts = 0;
  if (doc["sizeInBytes"].get(lc.size_bytes) != simdjson::SUCCESS) lc.size_bytes = 0;
  if (doc["numOfAddFiles"].get(lc.num_add_files) != simdjson::SUCCESS) lc.num_add_files = -1;
  return lc;
}

Result<CommitActions> ReadCheckpoint(Storage& storage, int64_t version, const std::vector<std::string>& files) {
  ASSIGN_OR_RETURN(ColumnarEngine * engine, LogEngine());
  std::vector<std::string> locals;
  for (const auto& file : files) {
    ASSIGN_OR_RETURN(std::string local, storage.LocalFile(file));
    locals.push_back(local);
  }
  auto rows = engine->Query("SELECT to_json(c)::VARCHAR FROM read_parquet(" + ColumnarEngine::PathList(locals) +
                            ", hive_partitioning=false, union_by_name=true) c");
  if (!rows.ok()) {
    return Corruption("{}/{}: cannot read checkpoint: {}", storage.uri(), files.front(), rows.status().message());
  }
  std::string ndjson;
  for (const auto& row : rows->rows) {
    if (row[0]) ndjson += *row[0] + "\n";
  }
  return ParseActions(ndjson, version, storage.uri() + "/" + files.front());
}

Result<LastCheckpoint> WriteCheckpoint(Storage& storage, const Snapshot& s, int64_t now_ms) {
  ASSIGN_OR_RETURN(ColumnarEngine * engine, LogEngine());
  int64_t retention_ms = 7 * 86'400'000LL;
  auto parsed = ParseDeltaIntervalMs(s.Property("delta.deletedFileRetentionDuration", "interval 1 week"));
  if (parsed.ok()) retention_ms = *parsed;
  // One JSON object per checkpoint row, then DuckDB turns them into Parquet with the Spark schema.
  std::string rows;
  int64_t actions = 0;
  auto line = [&](JsonWriter& w) {
    rows += w.str();
    rows.push_back('\n');
    ++actions;
  };
  {
    JsonWriter w;
    w.BeginObject().Key("protocol").BeginObject()
        .Key("minReaderVersion").Int(s.protocol.min_reader_version)
        .Key("minWriterVersion").Int(s.protocol.min_writer_version)
        .EndObject().EndObject();
    line(w);
  }
  {
    const auto& m = s.metadata;
    JsonWriter w;
    w.BeginObject().Key("metaData").BeginObject().Key("id").String(m.id);
    if (!m.name.empty()) w.Key("name").String(m.name);
    if (!m.description.empty()) w.Key("description").String(m.description);
    w.Key("format").BeginObject().Key("provider").String(m.format_provider).Key("options").BeginObject();
    for (const auto& [k, v] : m.format_options) w.Key(k).String(v);
    w.EndObject().EndObject().Key("schemaString").String(m.schema_string).Key("partitionColumns").BeginArray();
    for (const auto& p : m.partition_columns) w.String(p);
    w.EndArray().Key("configuration").BeginObject();
    for (const auto& [k, v] : m.configuration) w.Key(k).String(v);
    w.EndObject();
    if (m.created_time_ms >= 0) w.Key("createdTime").Int(m.created_time_ms);
    w.EndObject().EndObject();
    line(w);
  }
  for (const auto& [app, t] : s.txns) {
    JsonWriter w;
    w.BeginObject().Key("txn").BeginObject().Key("appId").String(t.app_id).Key("version").Int(t.version);
    if (t.last_updated_ms > 0) w.Key("lastUpdated").Int(t.last_updated_ms);
    w.EndObject().EndObject();
    line(w);
  }
  int64_t num_adds = 0;
  for (const auto& [key, a] : s.files) {
    JsonWriter w;
    w.BeginObject().Key("add").BeginObject().Key("path").String(a.path);
    WritePartitionValuesJson(w, a.partition_values);
    w.Key("size").Int(a.size_bytes).Key("modificationTime").Int(a.modification_time_ms).Key("dataChange").Bool(false);
    if (!a.tags_json.empty()) w.Key("tags").Raw(a.tags_json);
    if (!a.stats_json.empty()) w.Key("stats").String(a.stats_json);
    w.EndObject().EndObject();
    line(w);
    ++num_adds;
  }
  for (const auto& [key, r] : s.tombstones) {
    if (r.deletion_timestamp_ms > 0 && r.deletion_timestamp_ms < now_ms - retention_ms) continue;  // expired
    JsonWriter w;
    w.BeginObject().Key("remove").BeginObject().Key("path").String(r.path)
        .Key("deletionTimestamp").Int(r.deletion_timestamp_ms)
        .Key("dataChange").Bool(false);
    if (r.extended_file_metadata) {
      w.Key("extendedFileMetadata").Bool(true);
      WritePartitionValuesJson(w, r.partition_values);
    }
    if (r.size_bytes >= 0) w.Key("size").Int(r.size_bytes);
    w.EndObject().EndObject();
    line(w);
  }

  const std::string json_path = TempPath(".json");
  const std::string parquet_path = TempPath(".parquet");
  struct Cleanup {
    std::string a, b;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove(a, ec);
      std::filesystem::remove(b, ec);
    }
  } cleanup{json_path, parquet_path};
  {
    std::ofstream out(json_path, std::ios::binary);
    out << rows;
    if (!out) return IoError("cannot write {}", json_path);
  }
  RETURN_IF_ERROR(engine
                      ->Query("COPY (SELECT txn, add, remove, metaData, protocol, domainMetadata FROM read_json(" +
                              ColumnarEngine::Quote(json_path) +
                              ", format='newline_delimited', columns=" +
                              CheckpointColumns() + ")) TO " + ColumnarEngine::Quote(parquet_path) +
                              " (FORMAT parquet, COMPRESSION snappy)")
                      .status()
                      .WithContext("write checkpoint of " + storage.uri()));
  std::ifstream in(parquet_path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  const std::string data = bytes.str();
  RETURN_IF_ERROR(storage.Write(CheckpointFileName(s.version), data));
  LastCheckpoint lc;
  lc.version = s.version;
  lc.size = actions;
  lc.size_bytes = static_cast<int64_t>(data.size());
  lc.num_add_files = num_adds;
  JsonWriter w;
  w.BeginObject()
      .Key("version").Int(lc.version)
      .Key("size").Int(lc.size)
      .Key("sizeInBytes").Int(lc.size_bytes)
      .Key("numOfAddFiles").Int(lc.num_add_files)
      .EndObject();
  // _last_checkpoint only moves forward: a slower writer of an older checkpoint must not move it back.
  auto current = ReadLastCheckpoint(storage);
  if (!current.ok() || current->version < lc.version) {
    RETURN_IF_ERROR(storage.Write("_delta_log/_last_checkpoint", w.str()));
  }
  return lc;
}

Result<int64_t> CleanUpExpiredLogFiles(Storage& storage, int64_t retention_ms, int64_t now_ms) {
  ASSIGN_OR_RETURN(auto entries, storage.List("_delta_log"));
  const LogListing listing = ClassifyDeltaLog(entries);
  const int64_t cutoff = now_ms - retention_ms;
  std::map<int64_t, int64_t> commit_mtime;
  for (const auto& c : listing.commits) commit_mtime[c.version] = c.modification_time_ms;
  // The newest complete checkpoint whose commit is older than the cutoff replaces everything before it.
  int64_t keep_from = -1;
  for (const auto& [v, files] : listing.checkpoints) {
    auto it = commit_mtime.find(v);
    int64_t mtime = it != commit_mtime.end() ? it->second : INT64_MAX;
    if (mtime <= cutoff) keep_from = v;
  }
  if (keep_from <= 0) return 0;
  int64_t deleted = 0;
  for (const auto& e : entries) {
    LogFileName n = ParseLogFileName(e.path);
    bool expired = e.modification_time_ms <= cutoff;
    bool candidate = false;
    switch (n.kind) {
      case LogFileName::kCommit:
      case LogFileName::kClassicCheckpoint:
      case LogFileName::kMultiPartCheckpoint:
      case LogFileName::kCompacted:
        candidate = n.version >= 0 && n.version < keep_from;
        break;
      case LogFileName::kCrc: {
        // "00000000000000000003.crc" or Hadoop's ".00000000000000000003.json.crc"
        std::string digits = e.path[0] == '.' ? e.path.substr(1, 20) : e.path.substr(0, 20);
        candidate = digits.size() == 20 && std::all_of(digits.begin(), digits.end(), ::isdigit) &&
                    std::stoll(digits) < keep_from;
        break;
      }
      default:
        break;
    }
    if (candidate && expired) {
      RETURN_IF_ERROR(storage.Delete("_delta_log/" + e.path));
      ++deleted;
    }
  }
  return deleted;
}

}  // namespace lakestream
