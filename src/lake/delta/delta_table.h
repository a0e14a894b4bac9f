// DeltaTable: one Delta Lake table — its latest (or a time-travelled) snapshot, and optimistic-
// concurrency commits by put-if-absent with the protocol's conflict check, followed by automatic
// checkpoints and metadata cleanup.
//
// Writes protocol (minReaderVersion 1, minWriterVersion 2) tables (Delta PROTOCOL.md, "Protocol
// Evolution"); reads what delta_snapshot.h accepts.
//
// Lifecycle: Open() loads a snapshot; CreateIfNotExists() writes version 0 when the table is new;
// Commit() appends a version. Not thread-safe: one thread per DeltaTable object. Other processes may
// commit concurrently; the conflict check handles them.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "lake/delta/delta_checkpoint.h"
#include "lake/delta/delta_log.h"
#include "lake/delta/delta_snapshot.h"
#include "lake/storage/storage.h"

namespace lakestream {

/// What one commit does, and what it read (for the conflict check).
struct Transaction {
  std::string operation = "WRITE";  // commitInfo.operation: WRITE, STREAMING UPDATE, OPTIMIZE, RESTORE, …
  std::string operation_parameters_json = "{}";
  std::vector<AddFile> adds;
  std::vector<RemoveFile> removes;
  std::vector<TxnAction> txns;
  /// The transaction read the whole table (an overwrite): a concurrent commit that added or removed
  /// data (dataChange=true) conflicts (Spark: ConcurrentAppendException).
  bool read_whole_table = false;
  /// Files (CanonicalDeltaPath) the transaction read, e.g. the inputs of a compaction: a concurrent
  /// remove of any of them conflicts (Spark: ConcurrentDeleteReadException).
  std::set<std::string> read_files;
  /// Extra commitInfo.operationMetrics, as string values the way Spark writes them.
  std::map<std::string, std::string> operation_metrics;
  /// When set, the commit also writes a metaData action: the table's current metadata with these
  /// properties set ("" removes one), e.g. {"delta.appendOnly": "false"} for SET TBLPROPERTIES (Delta
  /// PROTOCOL.md, "Change Metadata"). Concurrent writers then fail with MetadataChanged.
  std::optional<std::map<std::string, std::string>> set_properties;
};

/// Options for commits on one table. Checkpoint cadence and retention come from the table's
/// properties (delta.checkpointInterval, delta.logRetentionDuration, delta.enableExpiredLogCleanup)
/// with Spark's defaults (10 commits, 30 days, on) unless overridden here.
struct DeltaTableOptions {
  int64_t checkpoint_interval = 0;  // 0: delta.checkpointInterval, default 10; -1: never checkpoint
  /// Lost races tolerated per commit. Each race is lost to a commit that succeeded, so with W writers
  /// a writer gives up with probability about ((W-1)/W)^N: 200 keeps that below 1e-24 for 4 writers.
  int max_commit_attempts = 200;
};

class DeltaTable {
 public:
  /// Opens the table at `storage` and loads the snapshot chosen by `at` (the latest by default;
  /// version -1 when the log is empty). A time-travelled table is read-only.
  /// Errors: as LoadSnapshot.
  static Result<std::unique_ptr<DeltaTable>> Open(std::shared_ptr<Storage> storage, std::string name,
                                                  const SnapshotSelector& at = {}, DeltaTableOptions options = {});

  /// Opens an existing table for reading. Errors: NotFound when `storage` holds no Delta log (names
  /// the location); otherwise as Open.
  static Result<std::unique_ptr<DeltaTable>> OpenExisting(std::shared_ptr<Storage> storage, std::string name,
                                                          const SnapshotSelector& at = {});

  /// Writes version 0 (commitInfo, metaData, protocol(1,2)) when the table does not exist. When it
  /// exists (or another writer creates it first), checks that the schema and partition columns match.
  /// Partition columns must be top-level primitive, non-binary columns of `schema`.
  /// Errors: InvalidArgument when an existing table has another schema (names both) or a partition
  /// column is not in the schema.
  Status CreateIfNotExists(const DeltaSchema& schema, const std::vector<std::string>& partition_columns,
                           const std::map<std::string, std::string>& configuration);

  /// Loads commits newer than the current snapshot. Errors: as LoadSnapshot.
  Status Refresh();

  /// Commits `txn` as the next version and returns it. On a lost race it checks every winning commit
  /// (Delta PROTOCOL.md, "Creation of New Log Entries"; rules as in Spark's ConflictChecker):
  /// a winner with metaData or protocol → Conflict (MetadataChanged/ProtocolChanged); a winner with a
  /// txn for one of our appIds → Conflict (ConcurrentTransaction); a winner that removed a file we
  /// read or remove → Conflict (ConcurrentDeleteRead/ConcurrentDeleteDelete); for a transaction that
  /// read the whole table, a winner that changed data → Conflict (ConcurrentAppend); otherwise it
  /// retries after the winners, with jittered back-off, up to max_commit_attempts lost races.
  /// After the commit, writes a checkpoint when the version is a multiple of the checkpoint interval
  /// and cleans up expired log files; failures there are logged, never fail a durable commit.
  /// Errors: Conflict; InvalidArgument for a remove with dataChange=true on a delta.appendOnly table
  /// or a commit on a time-travelled snapshot; Unsupported from CheckWritable; IoError.
  Result<int64_t> Commit(const Transaction& txn);

  /// Writes a checkpoint of the current snapshot now (Delta PROTOCOL.md, "Checkpoints").
  Result<LastCheckpoint> Checkpoint();

  /// Parses one commit file. Errors: NotFound, Corruption.
  Result<CommitActions> ReadCommit(int64_t version);

  const Snapshot& snapshot() const { return snapshot_; }
  Storage& storage() { return *storage_; }
  std::shared_ptr<Storage> storage_ptr() { return storage_; }
  const std::string& name() const { return name_; }
  /// Checkpoints written by this object, and lost races retried, since it was opened.
  int64_t checkpoints_written() const { return checkpoints_written_; }
  int64_t conflicts_retried() const { return conflicts_retried_; }
  /// The newest checkpoint this object loaded from or wrote; -1 when none.
  int64_t last_checkpoint_version() const { return std::max(last_checkpoint_version_, snapshot_.checkpoint_version); }

 private:
  DeltaTable(std::shared_ptr<Storage> storage, std::string name, DeltaTableOptions options)
      : storage_(std::move(storage)), name_(std::move(name)), options_(options) {}
  std::string SerializeCommit(const Transaction& txn, int64_t read_version) const;
  Status CheckWinner(const CommitActions& winner, const Transaction& txn, const std::set<std::string>& our_apps,
                     const std::set<std::string>& our_removes);
  void AfterCommit(int64_t version);

  std::shared_ptr<Storage> storage_;
  std::string name_;
  DeltaTableOptions options_;
  Snapshot snapshot_;
  bool read_only_ = false;
  int64_t checkpoints_written_ = 0;
  int64_t conflicts_retried_ = 0;
  int64_t last_checkpoint_version_ = -1;
};

/// A remove action for an active file, carrying its partition values and size as Spark's OPTIMIZE
/// writes them (extendedFileMetadata=true). Delta PROTOCOL.md, "Add File and Remove File".
RemoveFile RemoveOf(const AddFile& add, int64_t deletion_timestamp_ms, bool data_change);

}  // namespace lakestream
