#include "pipeline/dead_letters.h"

#include <simdjson.h>

#include <filesystem>
#include <fstream>

#include "common/base64.h"
#include "common/json_writer.h"
#include "lake/columnar/columnar.h"
#include "lake/delta/delta_scan.h"
#include "lake/delta/delta_table.h"
#include "lake/storage/storage.h"

namespace lakestream {

namespace {

Result<std::string> ScanOf(ColumnarEngine& engine, const std::string& lake_root, const std::string& name) {
  const std::string path = JoinLocation(lake_root, name);
  if (!std::filesystem::is_directory(std::filesystem::path(path) / "_delta_log")) {
    return NotFound("no table {} at {}: pass --lakehouse DIR (the directory `lakestream run` or `ingest` wrote)",
                    name, path);
  }
  ASSIGN_OR_RETURN(auto storage, OpenStorage(path, false));
  ASSIGN_OR_RETURN(auto table, DeltaTable::OpenExisting(storage, name));
  return SnapshotScanSql(table->snapshot(), table->storage(), engine);
}

}  // namespace

Result<DeadLetterSelection> SelectQuarantined(const std::string& lake_root, const PipelineSpec& spec,
                                              const DeadLetterFilter& filter) {
  ASSIGN_OR_RETURN(auto engine, ColumnarEngine::Open(1, "1GB"));
  ASSIGN_OR_RETURN(std::string quarantine, ScanOf(*engine, lake_root, spec.quarantine_table));
  ASSIGN_OR_RETURN(std::string silver, ScanOf(*engine, lake_root, spec.silver_table));
  // Rows without an event_id cannot be matched to their own replays: each is its own group.
  const std::string sql =
      "WITH q AS (" + quarantine + "), s AS (SELECT DISTINCT " +
      ColumnarEngine::QuoteIdentifier(spec.silver.dedupe_key) + " AS event_id FROM (" + silver +
      ")), ranked AS (SELECT *, row_number() OVER (PARTITION BY coalesce(event_id, concat_ws(':', bronze_version, "
      "topic, kafka_partition, kafka_offset)) ORDER BY quarantined_at DESC, bronze_version DESC, kafka_offset DESC) "
      "AS nth FROM q) "
      "SELECT payload, event_id, failed_rules, reason, topic, kafka_partition::VARCHAR, kafka_offset::VARCHAR, "
      "strftime(quarantined_at, '%Y-%m-%dT%H:%M:%S.%fZ'), "
      "CASE WHEN nth > 1 THEN 'superseded' WHEN event_id IN (SELECT event_id FROM s) THEN 'closed' ELSE 'open' END "
      "FROM ranked WHERE " +
      (filter.rule.empty() ? std::string("true")
                           : "list_contains(string_split(failed_rules, ','), " + ColumnarEngine::Quote(filter.rule) + ")") +
      " ORDER BY quarantined_at, topic, kafka_partition, kafka_offset";
  DeadLetterSelection out;
  RETURN_IF_ERROR(engine->ForEachRow(sql, [&](const std::vector<std::optional<std::string_view>>& row) {
    const std::string_view state = row[8].value_or("open");
    if (state == "superseded") {
      out.superseded_skipped++;
      return;
    }
    if (state == "closed" && !filter.include_closed) {
      out.closed_skipped++;
      return;
    }
    QuarantinedRecord r;
    r.payload = std::string(row[0].value_or(""));
    if (row[1]) r.event_id = std::string(*row[1]);
    r.failed_rules = std::string(row[2].value_or(""));
    r.reason = std::string(row[3].value_or(""));
    r.topic = std::string(row[4].value_or(""));
    r.partition = static_cast<int32_t>(std::stol(std::string(row[5].value_or("-1"))));
    r.offset = std::stoll(std::string(row[6].value_or("-1")));
    r.quarantined_at = std::string(row[7].value_or(""));
    out.records.push_back(std::move(r));
  }));
  return out;
}

std::string QuarantinedRecordJson(const QuarantinedRecord& r) {
  JsonWriter w;
  w.BeginObject();
  w.Key("event_id");
  r.event_id ? w.String(*r.event_id) : w.Null();
  w.Key("failed_rules").String(r.failed_rules);
  w.Key("reason").String(r.reason);
  w.Key("topic").String(r.topic);
  w.Key("partition").Int(r.partition);
  w.Key("offset").Int(r.offset);
  w.Key("quarantined_at").String(r.quarantined_at);
  // The payload stays exact: text when it is UTF-8, base64 otherwise.
  if (simdjson::validate_utf8(r.payload.data(), r.payload.size())) {
    w.Key("payload").String(r.payload);
  } else {
    w.Key("payload_base64").String(Base64Encode(r.payload));
  }
  w.EndObject();
  return w.Take();
}

Result<std::vector<QuarantinedRecord>> ReadDeadLetterFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot open dead-letter file {}", path);
  std::vector<QuarantinedRecord> out;
  simdjson::dom::parser parser;
  std::string line;
  int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    simdjson::dom::element doc;
    if (auto err = parser.parse(line).get(doc); err != simdjson::SUCCESS) {
      return InvalidArgument("{} line {}: not a JSON object ({}); each line is one record as `lakestream dlq export` "
                             "writes it",
                             path, line_no, simdjson::error_message(err));
    }
    if (!doc.is_object()) return InvalidArgument("{} line {}: not a JSON object", path, line_no);
    QuarantinedRecord r;
    std::string_view s;
    simdjson::dom::element payload;
    if (doc["payload"].get(payload) == simdjson::SUCCESS) {
      // The payload as a string (the exported form), or an event object written inline.
      if (payload.get(s) == simdjson::SUCCESS) {
        r.payload = std::string(s);
      } else if (payload.is_object()) {
        r.payload = simdjson::minify(payload);
      } else {
        return InvalidArgument("{} line {}: field \"payload\" must be a string or an object", path, line_no);
      }
    } else if (doc["payload_base64"].get(s) == simdjson::SUCCESS) {
      auto bytes = Base64Decode(s);
      if (!bytes) return InvalidArgument("{} line {}: field \"payload_base64\" is not valid base64", path, line_no);
      r.payload = std::move(*bytes);
    } else {
      return InvalidArgument("{} line {}: missing field \"payload\" (the record to replay)", path, line_no);
    }
    if (doc["event_id"].get(s) == simdjson::SUCCESS) r.event_id = std::string(s);
    if (doc["failed_rules"].get(s) == simdjson::SUCCESS) r.failed_rules = std::string(s);
    if (doc["reason"].get(s) == simdjson::SUCCESS) r.reason = std::string(s);
    if (doc["topic"].get(s) == simdjson::SUCCESS) r.topic = std::string(s);
    if (doc["quarantined_at"].get(s) == simdjson::SUCCESS) r.quarantined_at = std::string(s);
    int64_t n = 0;
    if (doc["partition"].get(n) == simdjson::SUCCESS) r.partition = static_cast<int32_t>(n);
    if (doc["offset"].get(n) == simdjson::SUCCESS) r.offset = n;
    out.push_back(std::move(r));
  }
  return out;
}

std::string ReplayKeyOf(const std::string& payload, const std::string& key_member,
                        const std::string& fallback_member) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(payload).get(doc) != simdjson::SUCCESS || !doc.is_object()) return "";
  for (const std::string* member : {&key_member, &fallback_member}) {
    if (member->empty()) continue;
    simdjson::dom::element v;
    if (doc[*member].get(v) != simdjson::SUCCESS) continue;
    std::string_view text;
    int64_t n = 0;
    if (v.get(text) == simdjson::SUCCESS && !text.empty()) return std::string(text);
    if (v.get(n) == simdjson::SUCCESS) return std::to_string(n);
  }
  return "";
}

}  // namespace lakestream
