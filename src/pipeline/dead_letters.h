// Dead letters: reading the quarantine back out, for `lakestream dlq export` and `lakestream dlq replay`.
//
// silver/orders_quarantine is an append-only log: a record quarantined, replayed and quarantined again
// has two rows. A quarantined record is *open* while silver holds no row with its event_id; replaying
// it once it is fixed (by a rule change, or by editing its payload) closes it, because silver then
// holds it. Replays are safe to repeat: silver deduplicates by event_id (docs/pipelines/orders.md,
// "Dead letters and replay").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "pipeline/pipeline_spec.h"

namespace lakestream {

/// One quarantined record: the raw payload and where and why it was quarantined.
struct QuarantinedRecord {
  std::string payload;                  // the Kafka record value, bytes as received
  std::optional<std::string> event_id;  // nullopt when the payload had none (e.g. invalid JSON)
  std::string failed_rules;             // comma-separated rule names
  std::string reason;
  std::string topic;
  int32_t partition = -1;  // Kafka coordinates of the original record; -1 when unknown
  int64_t offset = -1;
  std::string quarantined_at;  // ISO 8601 UTC, "" when unknown
};

struct DeadLetterFilter {
  /// Keep records that failed this rule (one of failed_rules); "" keeps all.
  std::string rule;
  /// Keep records whose event_id silver already holds (closed ones) too.
  bool include_closed = false;
};

struct DeadLetterSelection {
  std::vector<QuarantinedRecord> records;  // in quarantine order (quarantined_at, then Kafka coordinates)
  int64_t closed_skipped = 0;              // rows left out because silver holds their event_id
  int64_t superseded_skipped = 0;          // older rows of an event_id quarantined more than once
};

/// Reads the current snapshot of the quarantine table of pipeline `spec` (<lake_root>/<sinks.quarantine>):
/// per deduplication key its latest row (records without one: every row), filtered by `filter`; a
/// record is closed when silver holds a row with its key ([silver].dedupe_key). Errors: NotFound when
/// the lake has no quarantine table (names the path and the flag); storage, Delta and DuckDB errors.
Result<DeadLetterSelection> SelectQuarantined(const std::string& lake_root, const PipelineSpec& spec,
                                              const DeadLetterFilter& filter);

/// One line of `dlq export`: a JSON object with event_id, failed_rules, reason, topic, partition, offset,
/// quarantined_at and payload (a JSON string holding the payload text; non-UTF-8 bytes become U+FFFD).
std::string QuarantinedRecordJson(const QuarantinedRecord& record);

/// Reads a file of `dlq export` lines (possibly edited). Only "payload" is required; the other
/// fields, when present, are kept for the replay's lineage headers. Blank lines are skipped.
/// Errors: NotFound for the file; InvalidArgument naming the line number and the field.
Result<std::vector<QuarantinedRecord>> ReadDeadLetterFile(const std::string& path);

/// The Kafka key to replay `payload` (a JSON object) with: its member `key_member` (the pipeline's key,
/// PipelineSpec::KeyMember, e.g. "TransactionNo" or "customer_id"), else its member `fallback_member`
/// (the deduplication key), else "" (librdkafka then spreads keyless records). String members as they
/// are, integers as their text.
std::string ReplayKeyOf(const std::string& payload, const std::string& key_member,
                        const std::string& fallback_member);

}  // namespace lakestream
