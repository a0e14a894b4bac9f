// DeltaTable: the Delta Lake transaction log of one table — snapshot reconstruction from JSON commits,
// and optimistic-concurrency commits by put-if-absent with a conflict check.
//
// Writes protocol (minReaderVersion 1, minWriterVersion 2) tables (Delta PROTOCOL.md, "Protocol
// Evolution"). Checkpoints and time travel come with the Delta conformance work (#3); this reader
// replays JSON commits only and refuses a log with a version gap.
//
// Lifecycle: Open() loads the latest snapshot; Create() writes version 0 when the table is new;
// Commit() appends a version and refreshes the snapshot. Not thread-safe: one writer thread per
// DeltaTable object (other processes may commit concurrently; the conflict check handles them).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "lake/storage/storage.h"

namespace lakestream {

/// A column of a Delta table schema. `type` is a Delta primitive type name: string, long, integer,
/// short, byte, double, float, boolean, binary, date, timestamp, or decimal(p,s)
/// (Delta PROTOCOL.md, "Primitive Types").
struct DeltaField {
  std::string name;
  std::string type;
  bool nullable = true;
};

struct DeltaSchema {
  std::vector<DeltaField> fields;
  /// Spark's schemaString JSON: {"type":"struct","fields":[{"name":…,"type":…,"nullable":…,"metadata":{}}]}
  /// (Delta PROTOCOL.md, "Schema Serialization Format").
  std::string ToSchemaString() const;
  /// Parses a schemaString. Errors: Corruption when it is not a struct of named fields.
  static Result<DeltaSchema> FromSchemaString(const std::string& json);
};

struct AddFile {
  std::string path;  // relative, URI-encoded (Delta PROTOCOL.md, "Add File and Remove File")
  std::map<std::string, std::optional<std::string>> partition_values;
  int64_t size_bytes = 0;
  int64_t modification_time_ms = 0;
  bool data_change = true;
  std::string stats_json;  // {"numRecords":…,"minValues":…,"maxValues":…,"nullCount":…}; may be empty
  int64_t num_records = -1;  // parsed from stats when present
};

struct RemoveFile {
  std::string path;
  int64_t deletion_timestamp_ms = 0;
  bool data_change = true;
  int64_t size_bytes = -1;
};

struct TxnAction {
  std::string app_id;
  int64_t version = 0;
  int64_t last_updated_ms = 0;
};

/// The actions of one commit file, parsed.
struct CommitActions {
  int64_t version = -1;
  bool has_protocol = false;
  bool has_metadata = false;
  std::vector<AddFile> adds;
  std::vector<RemoveFile> removes;
  std::vector<TxnAction> txns;
  int64_t timestamp_ms = 0;  // commitInfo.timestamp, else the file's modification time
  std::string operation;     // commitInfo.operation
};

/// The state of a table at one version (Delta PROTOCOL.md, "Action Reconciliation").
struct Snapshot {
  int64_t version = -1;  // -1: the table does not exist yet
  int min_reader_version = 0, min_writer_version = 0;
  std::string table_id;
  DeltaSchema schema;
  std::string schema_string;
  std::vector<std::string> partition_columns;
  std::map<std::string, std::string> configuration;
  std::map<std::string, AddFile> files;  // active files by path
  std::map<std::string, TxnAction> txns;  // latest per appId
  int64_t last_commit_timestamp_ms = 0;

  /// Sum of numRecords over active files (files without stats count as 0).
  int64_t NumRecords() const;
  int64_t SizeBytes() const;
  /// The txn version recorded for `app_id`, if any.
  std::optional<int64_t> TxnVersion(const std::string& app_id) const;
};

/// What one commit does. Blind appends (adds only, nothing read) never conflict on files; a commit
/// that read the table (`read_whole_table`, e.g. an overwrite) aborts if a winner added or removed files.
struct Transaction {
  std::string operation = "WRITE";         // commitInfo.operation: WRITE, STREAMING UPDATE, …
  std::string operation_parameters_json = "{}";
  std::vector<AddFile> adds;
  std::vector<RemoveFile> removes;
  std::vector<TxnAction> txns;
  bool read_whole_table = false;
};

class DeltaTable {
 public:
  /// Opens the table at `storage` and loads its latest snapshot (version -1 when the log is empty).
  /// Errors: Corruption for a version gap or unparsable commit (names the file); Unsupported for a
  /// protocol beyond (1,2).
  static Result<std::unique_ptr<DeltaTable>> Open(std::shared_ptr<Storage> storage, std::string name);

  /// Writes version 0 (commitInfo, metaData, protocol(1,2)) when the table does not exist. When it
  /// exists (or another writer creates it first), checks that the schema and partition columns match.
  /// Errors: InvalidArgument when an existing table has another schema (names both).
  Status CreateIfNotExists(const DeltaSchema& schema, const std::vector<std::string>& partition_columns,
                           const std::map<std::string, std::string>& configuration);

  /// Loads commits newer than the current snapshot.
  Status Refresh();

  /// Commits `txn` as the next version. On a lost race it runs the conflict check against every
  /// winning commit (Delta PROTOCOL.md, "Creation of New Log Entries"; conflict rules as in
  /// Spark's ConflictChecker): a winner with metaData or protocol → Conflict; a winner with a txn
  /// for one of our appIds → Conflict (another writer owns that stream); for a transaction that read
  /// the table, a winner that added or removed files → Conflict; otherwise retry after the last winner,
  /// up to 15 lost races. Returns the committed version.
  Result<int64_t> Commit(const Transaction& txn);

  /// Parses one commit file. Errors: NotFound, Corruption.
  Result<CommitActions> ReadCommit(int64_t version);

  const Snapshot& snapshot() const { return snapshot_; }
  Storage& storage() { return *storage_; }
  std::shared_ptr<Storage> storage_ptr() { return storage_; }
  const std::string& name() const { return name_; }

 private:
  DeltaTable(std::shared_ptr<Storage> storage, std::string name)
      : storage_(std::move(storage)), name_(std::move(name)) {}
  void Apply(const CommitActions& c);
  std::string SerializeCommit(const Transaction& txn, int64_t read_version) const;
  Status CheckWinner(const CommitActions& winner, const Transaction& txn, const std::set<std::string>& our_apps,
                     const std::set<std::string>& our_removes);

  std::shared_ptr<Storage> storage_;
  std::string name_;
  Snapshot snapshot_;
};

/// "_delta_log/00000000000000000012.json" (Delta PROTOCOL.md, "Delta Log Entries").
std::string CommitFileName(int64_t version);

/// Percent-encodes a relative data file path for `add.path` (RFC 3986 unreserved characters and '/'
/// and '=' pass through). Delta PROTOCOL.md, "Add File and Remove File": paths are URIs.
std::string EncodeDeltaPath(const std::string& path);
/// Decodes %XX escapes.
std::string DecodeDeltaPath(const std::string& path);

}  // namespace lakestream
