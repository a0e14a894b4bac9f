#include "lake/delta/delta_table.h"

#include "common/strings.h"

#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <thread>

#include "common/ids.h"
#include "common/json_writer.h"
#include "common/time.h"

namespace lakestream {

namespace {
constexpr const char* kEngineInfo = "lakestream/0.1";
constexpr int64_t kDefaultCheckpointInterval = 10;             // Spark delta.checkpointInterval
constexpr const char* kDefaultLogRetention = "interval 30 days";  // Spark delta.logRetentionDuration

bool IsPartitionableType(const std::string& t) {
  static const char* kTypes[] = {"string", "long", "integer", "short", "byte", "double",
                                 "float",  "boolean", "date", "timestamp"};
  for (const char* k : kTypes) {
    if (t == k) return true;
  }
  return t.rfind("decimal(", 0) == 0;
}
}  // namespace

RemoveFile RemoveOf(const AddFile& add, int64_t deletion_timestamp_ms, bool data_change) {
  RemoveFile r;
  r.path = add.path;
  r.deletion_timestamp_ms = deletion_timestamp_ms;
  r.data_change = data_change;
  r.extended_file_metadata = true;
  r.partition_values = add.partition_values;
  r.size_bytes = add.size_bytes;
  return r;
}

Result<std::unique_ptr<DeltaTable>> DeltaTable::Open(std::shared_ptr<Storage> storage, std::string name,
                                                     const SnapshotSelector& at, DeltaTableOptions options) {
  std::unique_ptr<DeltaTable> t(new DeltaTable(std::move(storage), std::move(name), options));
  ASSIGN_OR_RETURN(t->snapshot_, LoadSnapshot(*t->storage_, at));
  t->read_only_ = at.version.has_value() || at.timestamp_ms.has_value();
  return t;
}

Result<std::unique_ptr<DeltaTable>> DeltaTable::OpenExisting(std::shared_ptr<Storage> storage, std::string name,
                                                             const SnapshotSelector& at) {
  ASSIGN_OR_RETURN(auto t, Open(std::move(storage), std::move(name), at));
  if (t->snapshot().version < 0) {
    return NotFound("{} is not a Delta table: it has no _delta_log with commits", t->storage().uri());
  }
  return t;
}

Status DeltaTable::Refresh() {
  if (read_only_) return Status::OK();
  if (snapshot_.version < 0) {
    ASSIGN_OR_RETURN(snapshot_, LoadSnapshot(*storage_));
    return Status::OK();
  }
  for (;;) {
    auto next = ReadCommitFile(*storage_, snapshot_.version + 1);
    if (!next.ok()) {
      if (next.status().code() == StatusCode::kNotFound) break;
      return next.status();
    }
    snapshot_.Apply(*next);
  }
  return CheckReadable(snapshot_, storage_->uri());
}

Result<CommitActions> DeltaTable::ReadCommit(int64_t version) { return ReadCommitFile(*storage_, version); }

Status DeltaTable::CreateIfNotExists(const DeltaSchema& schema, const std::vector<std::string>& partition_columns,
                                     const std::map<std::string, std::string>& configuration) {
  for (const auto& p : partition_columns) {
    const DeltaField* f = schema.Find(p);
    if (f == nullptr) {
      return InvalidArgument("table {}: partition column '{}' is not a column of the schema", storage_->uri(), p);
    }
    if (!IsPartitionableType(f->type)) {
      return InvalidArgument("table {}: partition column '{}' has type {}; partition columns must be primitive "
                             "and not binary",
                             storage_->uri(), p, f->type);
    }
  }
  if (snapshot_.version < 0) {
    const int64_t now = NowMillis();
    JsonWriter ci;
    ci.BeginObject().Key("commitInfo").BeginObject()
        .Key("timestamp").Int(now)
        .Key("operation").String("CREATE TABLE")
        .Key("operationParameters").BeginObject()
        .Key("isManaged").String("false")
        .Key("description").String(name_)
        .Key("partitionBy").String([&] {
          JsonWriter p;
          p.BeginArray();
          for (const auto& c : partition_columns) p.String(c);
          p.EndArray();
          return p.Take();
        }())
        .EndObject()
        .Key("isBlindAppend").Bool(true)
        .Key("engineInfo").String(kEngineInfo)
        .Key("txnId").String(RandomUuid())
        .EndObject().EndObject();
    JsonWriter md;
    md.BeginObject().Key("metaData").BeginObject()
        .Key("id").String(RandomUuid())
        .Key("name").String(name_)
        .Key("format").BeginObject().Key("provider").String("parquet")
        .Key("options").BeginObject().EndObject().EndObject()
        .Key("schemaString").String(schema.ToSchemaString())
        .Key("partitionColumns").BeginArray();
    for (const auto& p : partition_columns) md.String(p);
    md.EndArray().Key("configuration").BeginObject();
    for (const auto& [k, v] : configuration) md.Key(k).String(v);
    md.EndObject().Key("createdTime").Int(now).EndObject().EndObject();
    std::string body = ci.str() + "\n" + md.str() + "\n" +
                       R"({"protocol":{"minReaderVersion":1,"minWriterVersion":2}})" + "\n";
    Status st = storage_->PutIfAbsent(CommitFileName(0), body);
    if (!st.ok() && st.code() != StatusCode::kAlreadyExists) return st;
    RETURN_IF_ERROR(Refresh());
  }
  if (snapshot_.metadata.schema_string != schema.ToSchemaString() ||
      snapshot_.metadata.partition_columns != partition_columns) {
    return InvalidArgument(
        "table {} exists with another schema or partitioning; expected {} but the log has {}. "
        "Point the pipeline at a new location or migrate the table",
        storage_->uri(), schema.ToSchemaString(), snapshot_.metadata.schema_string);
  }
  return CheckWritable(snapshot_, storage_->uri());
}

std::string DeltaTable::SerializeCommit(const Transaction& txn, int64_t read_version) const {
  const int64_t now = NowMillis();
  const bool blind = txn.removes.empty() && !txn.read_whole_table && txn.read_files.empty();
  int64_t rows = 0, bytes = 0;
  for (const auto& a : txn.adds) {
    rows += std::max<int64_t>(a.num_records, 0);
    bytes += a.size_bytes;
  }
  JsonWriter ci;
  ci.BeginObject().Key("commitInfo").BeginObject()
      .Key("timestamp").Int(now)
      .Key("operation").String(txn.operation)
      .Key("operationParameters").Raw(txn.operation_parameters_json)
      .Key("readVersion").Int(read_version)
      .Key("isolationLevel").String("WriteSerializable")
      .Key("isBlindAppend").Bool(blind)
      .Key("operationMetrics").BeginObject()
      .Key("numFiles").String(std::to_string(txn.adds.size()))
      .Key("numOutputRows").String(std::to_string(rows))
      .Key("numOutputBytes").String(std::to_string(bytes))
      .Key("numRemovedFiles").String(std::to_string(txn.removes.size()));
  for (const auto& [k, v] : txn.operation_metrics) ci.Key(k).String(v);
  ci.EndObject()
      .Key("engineInfo").String(kEngineInfo)
      .Key("txnId").String(RandomUuid())
      .EndObject().EndObject();
  std::string out = ci.Take();
  out.push_back('\n');
  if (txn.set_properties) {
    const MetadataAction& m = snapshot_.metadata;
    std::map<std::string, std::string> configuration = m.configuration;
    for (const auto& [k, v] : *txn.set_properties) {
      if (v.empty()) {
        configuration.erase(k);
      } else {
        configuration[k] = v;
      }
    }
    JsonWriter md;
    md.BeginObject().Key("metaData").BeginObject().Key("id").String(m.id);
    if (!m.name.empty()) md.Key("name").String(m.name);
    if (!m.description.empty()) md.Key("description").String(m.description);
    md.Key("format").BeginObject().Key("provider").String(m.format_provider).Key("options").BeginObject();
    for (const auto& [k, v] : m.format_options) md.Key(k).String(v);
    md.EndObject().EndObject().Key("schemaString").String(m.schema_string).Key("partitionColumns").BeginArray();
    for (const auto& p : m.partition_columns) md.String(p);
    md.EndArray().Key("configuration").BeginObject();
    for (const auto& [k, v] : configuration) md.Key(k).String(v);
    md.EndObject();
    if (m.created_time_ms >= 0) md.Key("createdTime").Int(m.created_time_ms);
    md.EndObject().EndObject();
    out += md.str() + "\n";
  }
  for (const auto& t : txn.txns) {
    JsonWriter w;
    w.BeginObject().Key("txn").BeginObject()
        .Key("appId").String(t.app_id)
        .Key("version").Int(t.version)
        .Key("lastUpdated").Int(now)
        .EndObject().EndObject();
    out += w.str() + "\n";
  }
  for (const auto& r : txn.removes) {
    JsonWriter w;
    w.BeginObject().Key("remove").BeginObject()
        .Key("path").String(r.path)
        .Key("deletionTimestamp").Int(r.deletion_timestamp_ms > 0 ? r.deletion_timestamp_ms : now)
        .Key("dataChange").Bool(r.data_change);
    if (r.extended_file_metadata) {
      w.Key("extendedFileMetadata").Bool(true);
      WritePartitionValuesJson(w, r.partition_values);
    }
    if (r.size_bytes >= 0) w.Key("size").Int(r.size_bytes);
    w.EndObject().EndObject();
    out += w.str() + "\n";
  }
  for (const auto& a : txn.adds) {
    JsonWriter w;
    w.BeginObject().Key("add").BeginObject().Key("path").String(a.path);
    WritePartitionValuesJson(w, a.partition_values);
    w.Key("size").Int(a.size_bytes)
        .Key("modificationTime").Int(a.modification_time_ms)
        .Key("dataChange").Bool(a.data_change);
    if (!a.stats_json.empty()) w.Key("stats").String(a.stats_json);
    if (!a.tags_json.empty()) w.Key("tags").Raw(a.tags_json);
    w.EndObject().EndObject();
    out += w.str() + "\n";
  }
  return out;
}

Status DeltaTable::CheckWinner(const CommitActions& winner, const Transaction& txn,
                               const std::set<std::string>& our_apps, const std::set<std::string>& our_removes) {
  if (winner.protocol) {
    return Conflict("{} version {}: a concurrent commit changed the protocol (ProtocolChanged); reload the table "
                    "and retry",
                    storage_->uri(), winner.version);
  }
  if (winner.metadata) {
    return Conflict("{} version {}: a concurrent commit changed the table's metadata (MetadataChanged); reload "
                    "the table and retry",
                    storage_->uri(), winner.version);
  }
  for (const auto& t : winner.txns) {
    if (our_apps.count(t.app_id) != 0) {
      return Conflict("{} version {}: a concurrent commit wrote txn appId '{}' (ConcurrentTransaction): "
                      "another writer owns this stream",
                      storage_->uri(), winner.version, t.app_id);
    }
  }
  for (const auto& r : winner.removes) {
    const std::string key = CanonicalDeltaPath(r.path);
    if (our_removes.count(key) != 0) {
      return Conflict("{} version {}: a concurrent commit removed {}, which this transaction removes too "
                      "(ConcurrentDeleteDelete)",
                      storage_->uri(), winner.version, r.path);
    }
    if (txn.read_files.count(key) != 0) {
      return Conflict("{} version {}: a concurrent commit removed {}, which this transaction read "
                      "(ConcurrentDeleteRead)",
                      storage_->uri(), winner.version, r.path);
    }
  }
  if (txn.read_whole_table) {
    bool changed = std::any_of(winner.adds.begin(), winner.adds.end(), [](const AddFile& a) { return a.data_change; }) ||
                   std::any_of(winner.removes.begin(), winner.removes.end(),
                               [](const RemoveFile& r) { return r.data_change; });
    if (changed) {
      return Conflict("{} version {}: a concurrent commit changed data this transaction read (ConcurrentAppend)",
                      storage_->uri(), winner.version);
    }
  }
  return Status::OK();
}

Result<int64_t> DeltaTable::Commit(const Transaction& txn) {
  if (read_only_) {
    return InvalidArgument("table {} was opened at version {} (time travel) and is read-only", storage_->uri(),
                           snapshot_.version);
  }
  if (snapshot_.version < 0) return InvalidArgument("table {} does not exist yet", storage_->uri());
  RETURN_IF_ERROR(CheckWritable(snapshot_, storage_->uri()));
  {
    // operationParameters is written as given: a malformed fragment would make the commit unreadable.
    simdjson::dom::parser parser;
    simdjson::dom::object o;
    if (parser.parse(txn.operation_parameters_json).get(o) != simdjson::SUCCESS) {
      return Internal("commit to {}: operationParameters is not a JSON object: {}", storage_->uri(),
                      txn.operation_parameters_json);
    }
  }
  if (snapshot_.Property("delta.appendOnly", "false") == "true") {
    for (const auto& r : txn.removes) {
      if (r.data_change) {
        return InvalidArgument("table {} has delta.appendOnly=true: removing {} with dataChange=true is not "
                               "allowed (Delta PROTOCOL.md, \"Append-only Tables\"); only compaction may remove",
                               storage_->uri(), r.path);
      }
    }
  }
  std::set<std::string> our_apps;
  for (const auto& t : txn.txns) our_apps.insert(t.app_id);
  std::set<std::string> our_removes;
  for (const auto& r : txn.removes) our_removes.insert(CanonicalDeltaPath(r.path));
  const std::string body = SerializeCommit(txn, snapshot_.version);
  int64_t attempt_version = snapshot_.version + 1;
  for (int attempt = 0; attempt < options_.max_commit_attempts; ++attempt) {
    Status st = storage_->PutIfAbsent(CommitFileName(attempt_version), body);
    if (st.ok()) {
      // Our commit is durable: move the snapshot to exactly our version, checkpoint if due, then
      // catch up with anything committed after us.
      auto ours = ParseActions(body, attempt_version, storage_->uri() + "/" + CommitFileName(attempt_version));
      if (ours.ok()) snapshot_.Apply(*ours);
      AfterCommit(attempt_version);
      RETURN_IF_ERROR(Refresh());
      return attempt_version;
    }
    if (st.code() != StatusCode::kAlreadyExists) return st.WithContext("commit to " + storage_->uri());
    // Lost the race: check every winning commit from attempt_version on against what we did, then
    // try again after the last one.
    for (;;) {
      auto winner_or = ReadCommit(attempt_version);
      if (!winner_or.ok()) {
        if (winner_or.status().code() == StatusCode::kNotFound) break;
        return winner_or.status();
      }
      RETURN_IF_ERROR(CheckWinner(*winner_or, txn, our_apps, our_removes));
      snapshot_.Apply(*winner_or);
      ++attempt_version;
    }
    ++conflicts_retried_;
    // Back off with full jitter so that a writer that keeps losing to faster ones is not starved.
    thread_local std::mt19937 rng(std::random_device{}());
    const int cap_ms = std::min(100, 1 << std::min(attempt, 6));
    std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int>(0, cap_ms * 1000)(rng)));
  }
  return Conflict("{}: gave up after {} lost races to commit (too many concurrent writers); retry later",
                  storage_->uri(), options_.max_commit_attempts);
}

void DeltaTable::AfterCommit(int64_t version) {
  int64_t interval = options_.checkpoint_interval;
  if (interval == 0) {
    try {
      // A table property another writer set: text, maybe not a number (then Spark's default).
      interval = ParseInt64(snapshot_.Property("delta.checkpointInterval", std::to_string(kDefaultCheckpointInterval)))
                     .value_or(kDefaultCheckpointInterval);
    } catch (...) {
      interval = kDefaultCheckpointInterval;
    }
  }
  if (interval <= 0 || version % interval != 0 || snapshot_.version != version) return;
  auto cp = WriteCheckpoint(*storage_, snapshot_, NowMillis());
  if (!cp.ok()) {
    spdlog::warn("{}: checkpoint at version {} failed (the commit stands; readers replay JSON): {}", storage_->uri(),
                 version, cp.status().ToString());
    return;
  }
  ++checkpoints_written_;
  last_checkpoint_version_ = version;
  if (snapshot_.Property("delta.enableExpiredLogCleanup", "true") != "true") return;
  auto retention = ParseDeltaIntervalMs(snapshot_.Property("delta.logRetentionDuration", kDefaultLogRetention));
  if (!retention.ok()) {
    spdlog::warn("{}: {}; log cleanup skipped", storage_->uri(), retention.status().message());
    return;
  }
  auto deleted = CleanUpExpiredLogFiles(*storage_, *retention, NowMillis());
  if (!deleted.ok()) {
    spdlog::warn("{}: log cleanup failed: {}", storage_->uri(), deleted.status().ToString());
  } else if (*deleted > 0) {
    spdlog::info("{}: removed {} expired log files", storage_->uri(), *deleted);
  }
}

Result<LastCheckpoint> DeltaTable::Checkpoint() {
  if (snapshot_.version < 0) return InvalidArgument("table {} does not exist yet", storage_->uri());
  ASSIGN_OR_RETURN(LastCheckpoint lc, WriteCheckpoint(*storage_, snapshot_, NowMillis()));
  ++checkpoints_written_;
  last_checkpoint_version_ = lc.version;
  return lc;
}

}  // namespace lakestream
