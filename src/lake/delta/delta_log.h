// Delta log actions and their JSON form: protocol, metaData, add, remove, txn, commitInfo
// (Delta PROTOCOL.md, "Actions"), the schemaString (Delta PROTOCOL.md, "Schema Serialization
// Format"), log file names ("Delta Log Entries", "Checkpoints") and data file paths ("Add File and
// Remove File": paths are URIs).
//
// Pure functions and value types; thread-safe. Snapshot reconstruction lives in delta_snapshot.h.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace lakestream {

/// A column of a Delta table schema. `type` is a primitive type name (string, long, integer, short,
/// byte, double, float, boolean, binary, date, timestamp, timestamp_ntz, decimal(p,s)) or, for
/// struct/array/map, the type's JSON text (Delta PROTOCOL.md, "Primitive Types", "Struct Type").
struct DeltaField {
  std::string name;
  std::string type;
  bool nullable = true;
  /// The field's metadata object as JSON text ("{}" when empty).
  std::string metadata_json = "{}";
};

struct DeltaSchema {
  std::vector<DeltaField> fields;
  /// Spark's schemaString JSON: {"type":"struct","fields":[{"name":…,"type":…,"nullable":…,"metadata":{}}]}
  /// (Delta PROTOCOL.md, "Schema Serialization Format").
  std::string ToSchemaString() const;
  /// Parses a schemaString. Errors: Corruption when it is not a struct of named fields.
  static Result<DeltaSchema> FromSchemaString(const std::string& json);
  const DeltaField* Find(const std::string& name) const;
};

struct AddFile {
  std::string path;  // as written in the log: relative to the table root or an absolute URI, URI-encoded
  std::map<std::string, std::optional<std::string>> partition_values;  // nullopt: a null partition value
  int64_t size_bytes = 0;
  int64_t modification_time_ms = 0;
  bool data_change = true;
  std::string stats_json;  // {"numRecords":…,"minValues":…,"maxValues":…,"nullCount":…}; may be empty
  int64_t num_records = -1;  // parsed from stats; -1 when the file has no stats
  std::string tags_json;     // the tags map as JSON text, empty when absent
  bool has_deletion_vector = false;
};

struct RemoveFile {
  std::string path;
  int64_t deletion_timestamp_ms = 0;
  bool data_change = true;
  int64_t size_bytes = -1;  // -1: unknown
  bool extended_file_metadata = false;
  std::map<std::string, std::optional<std::string>> partition_values;
};

struct TxnAction {
  std::string app_id;
  int64_t version = 0;
  int64_t last_updated_ms = 0;
};

struct ProtocolAction {
  int min_reader_version = 0;
  int min_writer_version = 0;
  std::optional<std::vector<std::string>> reader_features;  // present only at reader version 3
  std::optional<std::vector<std::string>> writer_features;  // present only at writer version 7
};

struct MetadataAction {
  std::string id;
  std::string name, description;
  std::string format_provider = "parquet";
  std::map<std::string, std::string> format_options;
  std::string schema_string;
  DeltaSchema schema;
  std::vector<std::string> partition_columns;
  std::map<std::string, std::string> configuration;
  int64_t created_time_ms = -1;  // -1: absent
};

/// The actions of one commit file (or one checkpoint), parsed.
struct CommitActions {
  int64_t version = -1;
  std::optional<ProtocolAction> protocol;
  std::optional<MetadataAction> metadata;
  std::vector<AddFile> adds;
  std::vector<RemoveFile> removes;
  std::vector<TxnAction> txns;
  int64_t timestamp_ms = 0;      // commitInfo.timestamp (0 when absent)
  std::string operation;         // commitInfo.operation
  std::string commit_info_json;  // the commitInfo object as JSON text, empty when absent
  bool has_cdc = false;          // cdc actions are ignored by readers (Delta PROTOCOL.md, "Add CDC File")
};

/// Parses newline-delimited JSON actions (a commit file, or checkpoint rows rendered as JSON objects
/// whose null members are ignored). `where` names the source in errors ("<uri>/_delta_log/…json").
/// Errors: Corruption naming the file, the line and what is wrong.
Result<CommitActions> ParseActions(std::string_view ndjson, int64_t version, const std::string& where);

class JsonWriter;
/// Writes `"partitionValues":{…}` (key and object) into an open JSON object: each column's serialized
/// value, JSON null for a null value (Delta PROTOCOL.md, "Add File and Remove File").
void WritePartitionValuesJson(JsonWriter& w, const std::map<std::string, std::optional<std::string>>& values);

/// "_delta_log/00000000000000000012.json" (Delta PROTOCOL.md, "Delta Log Entries").
std::string CommitFileName(int64_t version);
/// "_delta_log/00000000000000000010.checkpoint.parquet" (Delta PROTOCOL.md, "Checkpoints").
std::string CheckpointFileName(int64_t version);

/// What a file name in _delta_log is (Delta PROTOCOL.md, "Delta Log Entries", "Checkpoints").
struct LogFileName {
  enum Kind { kOther, kCommit, kClassicCheckpoint, kMultiPartCheckpoint, kUuidCheckpoint, kCrc, kCompacted };
  Kind kind = kOther;
  int64_t version = -1;
  int part = 0, parts = 0;  // multi-part checkpoints: 1-based part number, part count
};
/// Classifies a bare file name such as "00000000000000000010.checkpoint.0000000001.0000000002.parquet".
LogFileName ParseLogFileName(std::string_view name);

/// Percent-encodes a relative data file path for `add.path`: every byte outside [A-Za-z0-9-_.~/=]
/// becomes %XX, so "a=2021-09-08 11%3A11" becomes "a=2021-09-08%2011%253A11" exactly as Spark writes
/// it (Delta PROTOCOL.md, "Add File and Remove File": paths are RFC 2396 URIs).
std::string EncodeDeltaPath(const std::string& path);
/// Decodes %XX escapes.
std::string DecodeDeltaPath(const std::string& path);
/// The key under which an add/remove path reconciles: URI-decoded, with a "file:" / "file://"
/// scheme removed, so "file:/a/b%20c" and "/a/b c" are the same file (Delta PROTOCOL.md, "Action
/// Reconciliation": the primary key of a file is its path).
std::string CanonicalDeltaPath(const std::string& path);
/// Escapes a partition value for a Hive-style directory name the way Spark does
/// (ExternalCatalogUtils.escapePathName): control characters and "#%'*/:=?\{[]^ and DEL become %XX.
/// A null value is "__HIVE_DEFAULT_PARTITION__".
std::string EscapePartitionDirectoryValue(const std::optional<std::string>& value);

/// Parses a Delta table-property interval ("interval 30 days", "interval 1 week", "7 days") into
/// milliseconds (Delta docs, table-properties: delta.logRetentionDuration,
/// delta.deletedFileRetentionDuration). Errors: InvalidArgument naming the text and the accepted units.
Result<int64_t> ParseDeltaIntervalMs(std::string_view text);

}  // namespace lakestream
