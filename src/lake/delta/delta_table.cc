#include "lake/delta/delta_table.h"

#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <thread>

#include "common/ids.h"
#include "common/json_writer.h"
#include "common/time.h"

namespace lakestream {

namespace {
constexpr int kMaxCommitAttempts = 15;  // delta-rs DEFAULT_RETRIES
constexpr const char* kEngineInfo = "lakestream/0.1";
}  // namespace

std::string CommitFileName(int64_t version) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "_delta_log/%020lld.json", static_cast<long long>(version));
  return buf;
}

std::string EncodeDeltaPath(const std::string& path) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : path) {
    bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '_' || c == '.' || c == '~' || c == '/' || c == '=';
    if (keep) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string DecodeDeltaPath(const std::string& path) {
  std::string out;
  for (size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '%' && i + 2 < path.size() && std::isxdigit(static_cast<unsigned char>(path[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(path[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(path.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(path[i]);
    }
  }
  return out;
}

std::string DeltaSchema::ToSchemaString() const {
  JsonWriter w;
  w.BeginObject().Key("type").String("struct").Key("fields").BeginArray();
  for (const auto& f : fields) {
    w.BeginObject()
        .Key("name").String(f.name)
        .Key("type").String(f.type)
        .Key("nullable").Bool(f.nullable)
        .Key("metadata").BeginObject().EndObject()
        .EndObject();
  }
  w.EndArray().EndObject();
  return w.Take();
}

Result<DeltaSchema> DeltaSchema::FromSchemaString(const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(json).get(root) != simdjson::SUCCESS) {
    return Corruption("schemaString is not valid JSON");
  }
  DeltaSchema s;
  simdjson::dom::array fields;
  if (root["fields"].get(fields) != simdjson::SUCCESS) return Corruption("schemaString has no fields");
  for (auto f : fields) {
    DeltaField df;
    std::string_view name;
    if (f["name"].get(name) != simdjson::SUCCESS) return Corruption("schemaString field without name");
    df.name = std::string(name);
    auto type = f["type"];
    if (type.is_string()) {
      df.type = std::string(std::string_view(type));
    } else {
      df.type = simdjson::minify(type);  // nested types are kept as JSON
    }
    bool nullable = true;
    if (f["nullable"].get(nullable) != simdjson::SUCCESS) nullable = true;
    df.nullable = nullable;
    s.fields.push_back(std::move(df));
  }
  return s;
}

int64_t Snapshot::NumRecords() const {
  int64_t n = 0;
  for (const auto& [_, f] : files) n += std::max<int64_t>(f.num_records, 0);
  return n;
}
int64_t Snapshot::SizeBytes() const {
  int64_t n = 0;
  for (const auto& [_, f] : files) n += f.size_bytes;
  return n;
}
std::optional<int64_t> Snapshot::TxnVersion(const std::string& app_id) const {
  auto it = txns.find(app_id);
  if (it == txns.end()) return std::nullopt;
  return it->second.version;
}

namespace {

Result<CommitActions> ParseCommit(int64_t version, const std::string& raw, const std::string& where,
                                  Snapshot* apply_to) {
  CommitActions c;
  c.version = version;
  simdjson::dom::parser parser;
  size_t line_no = 0;
  size_t start = 0;
  while (start < raw.size()) {
    size_t end = raw.find('\n', start);
    if (end == std::string::npos) end = raw.size();
    std::string_view line(raw.data() + start, end - start);
    start = end + 1;
    ++line_no;
    if (line.empty() || line == "\r") continue;
    simdjson::dom::element action;
    auto err = parser.parse(line.data(), line.size(), true).get(action);
    if (err != simdjson::SUCCESS) {
      return Corruption("{} line {}: not valid JSON ({})", where, line_no, simdjson::error_message(err));
    }
    simdjson::dom::object obj;
    if (action.get(obj) != simdjson::SUCCESS) return Corruption("{} line {}: not an object", where, line_no);
    for (auto [key, v] : obj) {
      if (key == "add") {
        AddFile a;
        std::string_view p;
        if (v["path"].get(p) != simdjson::SUCCESS) return Corruption("{}: add without path", where);
        a.path = std::string(p);
        int64_t n = 0;
        if (v["size"].get(n) == simdjson::SUCCESS) a.size_bytes = n;
        if (v["modificationTime"].get(n) == simdjson::SUCCESS) a.modification_time_ms = n;
        bool dc = true;
        if (v["dataChange"].get(dc) == simdjson::SUCCESS) a.data_change = dc;
        simdjson::dom::object pv;
        if (v["partitionValues"].get(pv) == simdjson::SUCCESS) {
          for (auto [pk, pval] : pv) {
            if (pval.is_null()) {
              a.partition_values[std::string(pk)] = std::nullopt;
            } else {
              a.partition_values[std::string(pk)] = std::string(std::string_view(pval));
            }
          }
        }
        std::string_view stats;
        if (v["stats"].get(stats) == simdjson::SUCCESS) {
          a.stats_json = std::string(stats);
          simdjson::dom::parser sp;
          simdjson::dom::element se;
          int64_t nr = 0;
          if (sp.parse(a.stats_json).get(se) == simdjson::SUCCESS &&
              se["numRecords"].get(nr) == simdjson::SUCCESS) {
            a.num_records = nr;
          }
        }
        c.adds.push_back(std::move(a));
      } else if (key == "remove") {
        RemoveFile r;
        std::string_view p;
        if (v["path"].get(p) != simdjson::SUCCESS) return Corruption("{}: remove without path", where);
        r.path = std::string(p);
        int64_t n = 0;
        if (v["deletionTimestamp"].get(n) == simdjson::SUCCESS) r.deletion_timestamp_ms = n;
        bool dc = true;
        if (v["dataChange"].get(dc) == simdjson::SUCCESS) r.data_change = dc;
        c.removes.push_back(std::move(r));
      } else if (key == "txn") {
        TxnAction t;
        std::string_view app;
        if (v["appId"].get(app) != simdjson::SUCCESS) return Corruption("{}: txn without appId", where);
        t.app_id = std::string(app);
        int64_t n = 0;
        if (v["version"].get(n) == simdjson::SUCCESS) t.version = n;
        if (v["lastUpdated"].get(n) == simdjson::SUCCESS) t.last_updated_ms = n;
        c.txns.push_back(std::move(t));
      } else if (key == "protocol") {
        c.has_protocol = true;
        if (apply_to != nullptr) {
          int64_t r = 0, w = 0;
          if (v["minReaderVersion"].get(r) != simdjson::SUCCESS) r = 0;
          if (v["minWriterVersion"].get(w) != simdjson::SUCCESS) w = 0;
          apply_to->min_reader_version = static_cast<int>(r);
          apply_to->min_writer_version = static_cast<int>(w);
        }
      } else if (key == "metaData") {
        c.has_metadata = true;
        if (apply_to != nullptr) {
          std::string_view s;
          if (v["id"].get(s) == simdjson::SUCCESS) apply_to->table_id = std::string(s);
          if (v["schemaString"].get(s) != simdjson::SUCCESS) {
            return Corruption("{}: metaData without schemaString", where);
          }
          apply_to->schema_string = std::string(s);
          ASSIGN_OR_RETURN(apply_to->schema, DeltaSchema::FromSchemaString(apply_to->schema_string));
          apply_to->partition_columns.clear();
          simdjson::dom::array pcs;
          if (v["partitionColumns"].get(pcs) == simdjson::SUCCESS) {
            for (auto pc : pcs) apply_to->partition_columns.emplace_back(std::string_view(pc));
          }
          apply_to->configuration.clear();
          simdjson::dom::object conf;
          if (v["configuration"].get(conf) == simdjson::SUCCESS) {
            for (auto [ck, cv] : conf) {
              if (cv.is_string()) apply_to->configuration[std::string(ck)] = std::string(std::string_view(cv));
            }
          }
        }
      } else if (key == "commitInfo") {
        int64_t ts = 0;
        if (v["timestamp"].get(ts) == simdjson::SUCCESS) c.timestamp_ms = ts;
        std::string_view op;
        if (v["operation"].get(op) == simdjson::SUCCESS) c.operation = std::string(op);
      }
    }
  }
  return c;
}

}  // namespace

Result<std::unique_ptr<DeltaTable>> DeltaTable::Open(std::shared_ptr<Storage> storage, std::string name) {
  std::unique_ptr<DeltaTable> t(new DeltaTable(std::move(storage), std::move(name)));
  ASSIGN_OR_RETURN(auto entries, t->storage_->List("_delta_log"));
  std::vector<int64_t> versions;
  for (const auto& e : entries) {
    const std::string& n = e.path;
    if (n.size() == 25 && n.compare(20, 5, ".json") == 0 &&
        std::all_of(n.begin(), n.begin() + 20, [](char c) { return c >= '0' && c <= '9'; })) {
      versions.push_back(std::stoll(n.substr(0, 20)));
    }
  }
  std::sort(versions.begin(), versions.end());
  for (size_t i = 0; i < versions.size(); ++i) {
    if (versions[i] != static_cast<int64_t>(i)) {
      return Corruption("{}: the Delta log has a version gap: expected {} but found {} "
                        "(Delta PROTOCOL.md, \"Delta Log Entries\": versions are contiguous)",
                        t->storage_->uri(), i, versions[i]);
    }
  }
  RETURN_IF_ERROR(t->Refresh());
  return t;
}

void DeltaTable::Apply(const CommitActions& c) {
  for (const auto& r : c.removes) snapshot_.files.erase(r.path);
  for (const auto& a : c.adds) snapshot_.files[a.path] = a;
  for (const auto& t : c.txns) snapshot_.txns[t.app_id] = t;
  snapshot_.version = c.version;
  if (c.timestamp_ms > 0) snapshot_.last_commit_timestamp_ms = c.timestamp_ms;
}

Status DeltaTable::Refresh() {
  for (;;) {
    int64_t next = snapshot_.version + 1;
    std::string file = CommitFileName(next);
    auto raw = storage_->Read(file);
    if (!raw.ok()) {
      if (raw.status().code() == StatusCode::kNotFound) break;
      return raw.status();
    }
    ASSIGN_OR_RETURN(CommitActions c, ParseCommit(next, *raw, storage_->uri() + "/" + file, &snapshot_));
    Apply(c);
  }
  if (snapshot_.version >= 0) {
    if (snapshot_.min_reader_version == 0 || snapshot_.schema_string.empty()) {
      return Corruption("{}: the Delta log lacks a protocol or metaData action", storage_->uri());
    }
    if (snapshot_.min_reader_version > 1 || snapshot_.min_writer_version > 2) {
      return Unsupported("{}: protocol ({},{}) is beyond what lakestream reads and writes (1,2)",
                         storage_->uri(), snapshot_.min_reader_version, snapshot_.min_writer_version);
    }
  }
  return Status::OK();
}

Result<CommitActions> DeltaTable::ReadCommit(int64_t version) {
  std::string file = CommitFileName(version);
  ASSIGN_OR_RETURN(std::string raw, storage_->Read(file));
  return ParseCommit(version, raw, storage_->uri() + "/" + file, nullptr);
}

Status DeltaTable::CreateIfNotExists(const DeltaSchema& schema,
                                     const std::vector<std::string>& partition_columns,
                                     const std::map<std::string, std::string>& configuration) {
  if (snapshot_.version < 0) {
    JsonWriter ci;
    ci.BeginObject().Key("commitInfo").BeginObject()
        .Key("timestamp").Int(NowMillis())
        .Key("operation").String("CREATE TABLE")
        .Key("operationParameters").BeginObject()
        .Key("isManaged").String("false")
        .Key("description").String(name_)
        .EndObject()
        .Key("isBlindAppend").Bool(true)
        .Key("engineInfo").String(kEngineInfo)
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
    md.EndObject().Key("createdTime").Int(NowMillis()).EndObject().EndObject();
    std::string body = ci.str() + "\n" + md.str() + "\n" +
                       R"({"protocol":{"minReaderVersion":1,"minWriterVersion":2}})" + "\n";
    Status st = storage_->PutIfAbsent(CommitFileName(0), body);
    if (!st.ok() && st.code() != StatusCode::kAlreadyExists) return st;
    RETURN_IF_ERROR(Refresh());
  }
  if (snapshot_.schema_string != schema.ToSchemaString() ||
      snapshot_.partition_columns != partition_columns) {
    return InvalidArgument(
        "table {} exists with another schema or partitioning; expected {} but the log has {}. "
        "Point the pipeline at a new location or migrate the table",
        storage_->uri(), schema.ToSchemaString(), snapshot_.schema_string);
  }
  return Status::OK();
}

std::string DeltaTable::SerializeCommit(const Transaction& txn, int64_t read_version) const {
  const int64_t now = NowMillis();
  bool blind = txn.removes.empty() && !txn.read_whole_table;
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
      .Key("numRemovedFiles").String(std::to_string(txn.removes.size()))
      .EndObject()
      .Key("engineInfo").String(kEngineInfo)
      .EndObject().EndObject();
  std::string out = ci.Take();
  out.push_back('\n');
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
    if (r.size_bytes >= 0) w.Key("size").Int(r.size_bytes);
    w.EndObject().EndObject();
    out += w.str() + "\n";
  }
  for (const auto& a : txn.adds) {
    JsonWriter w;
    w.BeginObject().Key("add").BeginObject().Key("path").String(a.path).Key("partitionValues").BeginObject();
    for (const auto& [k, v] : a.partition_values) {
      w.Key(k);
      if (v) {
        w.String(*v);
      } else {
        w.Null();
      }
    }
    w.EndObject()
        .Key("size").Int(a.size_bytes)
        .Key("modificationTime").Int(a.modification_time_ms)
        .Key("dataChange").Bool(a.data_change);
    if (!a.stats_json.empty()) w.Key("stats").String(a.stats_json);
    w.EndObject().EndObject();
    out += w.str() + "\n";
  }
  return out;
}

Status DeltaTable::CheckWinner(const CommitActions& winner, const Transaction& txn,
                               const std::set<std::string>& our_apps, const std::set<std::string>& our_removes) {
  if (winner.has_metadata || winner.has_protocol) {
    return Conflict("{} version {}: a concurrent commit changed the table's metadata or protocol "
                    "(MetadataChanged); reload the table and retry",
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
    if (our_removes.count(r.path) != 0) {
      return Conflict("{} version {}: a concurrent commit removed {} too (ConcurrentDeleteDelete)", storage_->uri(),
                      winner.version, r.path);
    }
  }
  if (txn.read_whole_table && (!winner.adds.empty() || !winner.removes.empty())) {
    return Conflict("{} version {}: a concurrent commit changed files this transaction read (ConcurrentAppend)",
                    storage_->uri(), winner.version);
  }
  return Status::OK();
}

Result<int64_t> DeltaTable::Commit(const Transaction& txn) {
  if (snapshot_.version < 0) return InvalidArgument("table {} does not exist yet", storage_->uri());
  const int64_t read_version = snapshot_.version;
  std::set<std::string> our_apps;
  for (const auto& t : txn.txns) our_apps.insert(t.app_id);
  std::set<std::string> our_removes;
  for (const auto& r : txn.removes) our_removes.insert(r.path);
  const std::string body = SerializeCommit(txn, read_version);
  int64_t attempt_version = read_version + 1;
  for (int attempt = 0; attempt < kMaxCommitAttempts; ++attempt) {
    Status st = storage_->PutIfAbsent(CommitFileName(attempt_version), body);
    if (st.ok()) {
      // Our commit is durable; bring the snapshot up to it (and past any winners before it).
      RETURN_IF_ERROR(Refresh());
      return attempt_version;
    }
    if (st.code() != StatusCode::kAlreadyExists) return st.WithContext("commit to " + storage_->uri());
    // Lost the race: check every winning commit from attempt_version on against what we did, then
    // try again after the last one. One attempt per lost race, however many winners it had.
    for (;;) {
      auto winner_or = ReadCommit(attempt_version);
      if (!winner_or.ok()) {
        if (winner_or.status().code() == StatusCode::kNotFound) break;
        return winner_or.status();
      }
      RETURN_IF_ERROR(CheckWinner(*winner_or, txn, our_apps, our_removes));
      ++attempt_version;
    }
    // Back off with full jitter so that a writer that keeps losing to faster ones is not starved.
    thread_local std::mt19937 rng(std::random_device{}());
    const int cap_ms = std::min(100, 1 << std::min(attempt, 6));
    std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int>(0, cap_ms * 1000)(rng)));
  }
  return Conflict("{}: gave up after {} attempts to commit (too many concurrent writers)", storage_->uri(),
                  kMaxCommitAttempts);
}

}  // namespace lakestream
