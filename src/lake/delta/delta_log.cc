#include "lake/delta/delta_log.h"

#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "common/json_writer.h"
#include "common/strings.h"

namespace lakestream {

void WritePartitionValuesJson(JsonWriter& w, const std::map<std::string, std::optional<std::string>>& values) {
  w.Key("partitionValues").BeginObject();
  for (const auto& [k, v] : values) {
    w.Key(k);
    if (v) {
      w.String(*v);
    } else {
      w.Null();
    }
  }
  w.EndObject();
}

std::string CommitFileName(int64_t version) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "_delta_log/%020lld.json", static_cast<long long>(version));
  return buf;
}

std::string CheckpointFileName(int64_t version) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "_delta_log/%020lld.checkpoint.parquet", static_cast<long long>(version));
  return buf;
}

namespace {
bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}
}  // namespace

LogFileName ParseLogFileName(std::string_view name) {
  LogFileName out;
  if (name.size() >= 2 && name[0] == '.' && name.substr(name.size() - 4) == ".crc") {
    out.kind = LogFileName::kCrc;
    return out;
  }
  if (name.size() < 21 || !AllDigits(name.substr(0, 20)) || name[20] != '.') return out;
  const std::optional<int64_t> parsed = ParseInt64(name.substr(0, 20));
  if (!parsed) return out;  // beyond int64: not a log file lakestream can address
  const int64_t version = *parsed;
  std::string_view rest = name.substr(21);
  out.version = version;
  if (rest == "json") {
    out.kind = LogFileName::kCommit;
  } else if (rest == "crc") {
    out.kind = LogFileName::kCrc;
  } else if (rest == "checkpoint.parquet") {
    out.kind = LogFileName::kClassicCheckpoint;
  } else if (rest.substr(0, 11) == "checkpoint.") {
    std::string_view tail = rest.substr(11);
    // checkpoint.<part:10 digits>.<parts:10 digits>.parquet
    if (tail.size() == 10 + 1 + 10 + 8 && AllDigits(tail.substr(0, 10)) && tail[10] == '.' &&
        AllDigits(tail.substr(11, 10)) && tail.substr(21) == ".parquet") {
      out.kind = LogFileName::kMultiPartCheckpoint;
      out.part = std::stoi(std::string(tail.substr(0, 10)));
      out.parts = std::stoi(std::string(tail.substr(11, 10)));
    } else if (tail.size() > 36 && (tail.substr(tail.size() - 5) == ".json" || tail.substr(tail.size() - 8) == ".parquet")) {
      out.kind = LogFileName::kUuidCheckpoint;  // V2 checkpoint (feature v2Checkpoint)
    }
  } else if (rest.find(".compacted.json") != std::string_view::npos) {
    out.kind = LogFileName::kCompacted;  // log compaction files: optional, readers may ignore them
  } else {
    out.version = -1;
  }
  return out;
}

std::string EncodeDeltaPath(const std::string& path) { return PercentEncode(path, "/="); }

std::string DecodeDeltaPath(const std::string& path) { return PercentDecode(path); }

std::string CanonicalDeltaPath(const std::string& path) {
  std::string p = path;
  if (p.rfind("file://", 0) == 0) {
    p = p.substr(7);
  } else if (p.rfind("file:", 0) == 0) {
    p = p.substr(5);
  }
  return DecodeDeltaPath(p);
}

std::string EscapePartitionDirectoryValue(const std::optional<std::string>& value) {
  if (!value || value->empty()) return "__HIVE_DEFAULT_PARTITION__";
  static const std::string kEscaped = "\"#%'*/:=?\\{[]^";
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : *value) {
    if (c < 0x20 || c == 0x7F || kEscaped.find(static_cast<char>(c)) != std::string::npos) {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

Result<int64_t> ParseDeltaIntervalMs(std::string_view text) {
  std::string t(TrimBlanks(text));
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
  if (t.rfind("interval", 0) == 0) t = std::string(TrimBlanks(std::string_view(t).substr(8)));
  long long n = 0;
  char unit[32] = {0};
  if (std::sscanf(t.c_str(), "%lld %31s", &n, unit) != 2 || n < 0) {
    return InvalidArgument("'{}' is not an interval: write e.g. 'interval 7 days' (units: milliseconds, seconds, "
                           "minutes, hours, days, weeks)",
                           text);
  }
  std::string u(unit);
  if (u.size() > 1 && u.back() == 's') u.pop_back();
  int64_t mult = 0;
  if (u == "millisecond") mult = 1;
  else if (u == "second") mult = 1000;
  else if (u == "minute") mult = 60'000;
  else if (u == "hour") mult = 3'600'000;
  else if (u == "day") mult = 86'400'000;
  else if (u == "week") mult = 7 * 86'400'000LL;
  else {
    return InvalidArgument("'{}': unknown interval unit '{}' (units: milliseconds, seconds, minutes, hours, days, weeks)",
                           text, unit);
  }
  return static_cast<int64_t>(n) * mult;
}

std::string DeltaSchema::ToSchemaString() const {
  JsonWriter w;
  w.BeginObject().Key("type").String("struct").Key("fields").BeginArray();
  for (const auto& f : fields) {
    w.BeginObject().Key("name").String(f.name).Key("type");
    if (!f.type.empty() && f.type[0] == '{') {
      w.Raw(f.type);
    } else {
      w.String(f.type);
    }
    w.Key("nullable").Bool(f.nullable).Key("metadata").Raw(f.metadata_json.empty() ? "{}" : f.metadata_json);
    w.EndObject();
  }
  w.EndArray().EndObject();
  return w.Take();
}

const DeltaField* DeltaSchema::Find(const std::string& name) const {
  for (const auto& f : fields) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

Result<DeltaSchema> DeltaSchema::FromSchemaString(const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(json).get(root) != simdjson::SUCCESS) return Corruption("schemaString is not valid JSON");
  DeltaSchema s;
  simdjson::dom::array fields;
  if (root["fields"].get(fields) != simdjson::SUCCESS) return Corruption("schemaString has no fields");
  for (auto f : fields) {
    DeltaField df;
    std::string_view name;
    if (f["name"].get(name) != simdjson::SUCCESS) return Corruption("schemaString field without name");
    df.name = std::string(name);
    auto type = f["type"];
    if (type.error() != simdjson::SUCCESS) return Corruption("schemaString field '{}' has no type", df.name);
    if (type.is_string()) {
      df.type = std::string(std::string_view(type));
    } else {
      df.type = simdjson::minify(type);  // struct/array/map types are kept as JSON
    }
    bool nullable = true;
    if (f["nullable"].get(nullable) != simdjson::SUCCESS) nullable = true;
    df.nullable = nullable;
    simdjson::dom::object md;
    if (f["metadata"].get(md) == simdjson::SUCCESS) df.metadata_json = simdjson::minify(md);
    s.fields.push_back(std::move(df));
  }
  return s;
}

namespace {

using simdjson::dom::element;
using simdjson::dom::object;

std::map<std::string, std::optional<std::string>> ParsePartitionValues(element v) {
  std::map<std::string, std::optional<std::string>> out;
  object pv;
  if (v["partitionValues"].get(pv) != simdjson::SUCCESS) return out;
  for (auto [pk, pval] : pv) {
    if (pval.is_string()) {
      out[std::string(pk)] = std::string(std::string_view(pval));
    } else if (pval.is_null()) {
      out[std::string(pk)] = std::nullopt;
    } else {
      out[std::string(pk)] = simdjson::minify(pval);
    }
  }
  return out;
}

std::optional<std::vector<std::string>> ParseStringArray(element v, const char* key) {
  simdjson::dom::array arr;
  if (v[key].get(arr) != simdjson::SUCCESS) return std::nullopt;
  std::vector<std::string> out;
  for (auto e : arr) {
    std::string_view s;
    if (e.get(s) == simdjson::SUCCESS) out.emplace_back(s);
  }
  return out;
}

Status ParseAdd(element v, const std::string& where, size_t line, CommitActions* c) {
  AddFile a;
  std::string_view p;
  if (v["path"].get(p) != simdjson::SUCCESS) return Corruption("{} line {}: add without path", where, line);
  a.path = std::string(p);
  int64_t n = 0;
  if (v["size"].get(n) == simdjson::SUCCESS) a.size_bytes = n;
  if (v["modificationTime"].get(n) == simdjson::SUCCESS) a.modification_time_ms = n;
  bool dc = true;
  if (v["dataChange"].get(dc) == simdjson::SUCCESS) a.data_change = dc;
  a.partition_values = ParsePartitionValues(v);
  std::string_view stats;
  if (v["stats"].get(stats) == simdjson::SUCCESS && !stats.empty()) {
    a.stats_json = std::string(stats);
    simdjson::dom::parser sp;
    element se;
    int64_t nr = 0;
    if (sp.parse(a.stats_json).get(se) == simdjson::SUCCESS && se["numRecords"].get(nr) == simdjson::SUCCESS) {
      a.num_records = nr;
    }
  }
  object tags;
  if (v["tags"].get(tags) == simdjson::SUCCESS) a.tags_json = simdjson::minify(tags);
  object dv;
  a.has_deletion_vector = v["deletionVector"].get(dv) == simdjson::SUCCESS;
  c->adds.push_back(std::move(a));
  return Status::OK();
}

Status ParseRemove(element v, const std::string& where, size_t line, CommitActions* c) {
  RemoveFile r;
  std::string_view p;
  if (v["path"].get(p) != simdjson::SUCCESS) return Corruption("{} line {}: remove without path", where, line);
  r.path = std::string(p);
  int64_t n = 0;
  if (v["deletionTimestamp"].get(n) == simdjson::SUCCESS) r.deletion_timestamp_ms = n;
  bool b = true;
  if (v["dataChange"].get(b) == simdjson::SUCCESS) r.data_change = b;
  if (v["extendedFileMetadata"].get(b) == simdjson::SUCCESS) r.extended_file_metadata = b;
  if (v["size"].get(n) == simdjson::SUCCESS) r.size_bytes = n;
  r.partition_values = ParsePartitionValues(v);
  c->removes.push_back(std::move(r));
  return Status::OK();
}

Status ParseMetadata(element v, const std::string& where, size_t line, CommitActions* c) {
  MetadataAction m;
  std::string_view s;
  if (v["id"].get(s) == simdjson::SUCCESS) m.id = std::string(s);
  if (v["name"].get(s) == simdjson::SUCCESS) m.name = std::string(s);
  if (v["description"].get(s) == simdjson::SUCCESS) m.description = std::string(s);
  if (v["format"]["provider"].get(s) == simdjson::SUCCESS) m.format_provider = std::string(s);
  object opts;
  if (v["format"]["options"].get(opts) == simdjson::SUCCESS) {
    for (auto [k, ov] : opts) {
      if (ov.is_string()) m.format_options[std::string(k)] = std::string(std::string_view(ov));
    }
  }
  // Spark's own test logs carry a bare Metadata() without a schema: read it as an empty struct.
  m.schema_string = v["schemaString"].get(s) == simdjson::SUCCESS ? std::string(s)
                                                                   : std::string(R"({"type":"struct","fields":[]})");
  auto schema = DeltaSchema::FromSchemaString(m.schema_string);
  if (!schema.ok()) return schema.status().WithContext(fmt::format("{} line {}", where, line));
  m.schema = std::move(*schema);
  if (auto pcs = ParseStringArray(v, "partitionColumns")) m.partition_columns = std::move(*pcs);
  object conf;
  if (v["configuration"].get(conf) == simdjson::SUCCESS) {
    for (auto [ck, cv] : conf) {
      if (cv.is_string()) m.configuration[std::string(ck)] = std::string(std::string_view(cv));
    }
  }
  int64_t n = 0;
  if (v["createdTime"].get(n) == simdjson::SUCCESS) m.created_time_ms = n;
  c->metadata = std::move(m);
  return Status::OK();
}

}  // namespace

Result<CommitActions> ParseActions(std::string_view raw, int64_t version, const std::string& where) {
  CommitActions c;
  c.version = version;
  simdjson::dom::parser parser;
  size_t line_no = 0;
  size_t start = 0;
  while (start < raw.size()) {
    size_t end = raw.find('\n', start);
    if (end == std::string_view::npos) end = raw.size();
    std::string_view line = raw.substr(start, end - start);
    start = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (TrimBlanks(line).empty()) continue;
    element action;
    auto err = parser.parse(line.data(), line.size(), true).get(action);
    if (err != simdjson::SUCCESS) {
      return Corruption("{} line {}: not valid JSON ({})", where, line_no, simdjson::error_message(err));
    }
    object obj;
    if (action.get(obj) != simdjson::SUCCESS) return Corruption("{} line {}: not a JSON object", where, line_no);
    for (auto [key, v] : obj) {
      if (v.is_null()) continue;  // checkpoint rows carry every action column, most of them null
      if (key == "add") {
        RETURN_IF_ERROR(ParseAdd(v, where, line_no, &c));
      } else if (key == "remove") {
        RETURN_IF_ERROR(ParseRemove(v, where, line_no, &c));
      } else if (key == "txn") {
        TxnAction t;
        std::string_view app;
        if (v["appId"].get(app) != simdjson::SUCCESS) {
          return Corruption("{} line {}: txn without appId", where, line_no);
        }
        t.app_id = std::string(app);
        int64_t n = 0;
        if (v["version"].get(n) == simdjson::SUCCESS) t.version = n;
        if (v["lastUpdated"].get(n) == simdjson::SUCCESS) t.last_updated_ms = n;
        c.txns.push_back(std::move(t));
      } else if (key == "protocol") {
        ProtocolAction p;
        int64_t r = 0, w = 0;
        if (v["minReaderVersion"].get(r) != simdjson::SUCCESS || v["minWriterVersion"].get(w) != simdjson::SUCCESS) {
          return Corruption("{} line {}: protocol without minReaderVersion/minWriterVersion", where, line_no);
        }
        p.min_reader_version = static_cast<int>(r);
        p.min_writer_version = static_cast<int>(w);
        p.reader_features = ParseStringArray(v, "readerFeatures");
        p.writer_features = ParseStringArray(v, "writerFeatures");
        c.protocol = std::move(p);
      } else if (key == "metaData") {
        RETURN_IF_ERROR(ParseMetadata(v, where, line_no, &c));
      } else if (key == "commitInfo") {
        int64_t ts = 0;
        if (v["timestamp"].get(ts) == simdjson::SUCCESS) c.timestamp_ms = ts;
        std::string_view op;
        if (v["operation"].get(op) == simdjson::SUCCESS) c.operation = std::string(op);
        c.commit_info_json = simdjson::minify(v);
      } else if (key == "cdc") {
        c.has_cdc = true;
      }
      // Other actions (domainMetadata, checkpointMetadata, sidecar, …) belong to table features that
      // the protocol check refuses before they matter.
    }
  }
  return c;
}

}  // namespace lakestream
