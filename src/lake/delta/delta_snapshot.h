// Snapshot reconstruction: the state of a Delta table at one version, rebuilt from the newest usable
// checkpoint (classic or multi-part) plus the JSON commits after it (Delta PROTOCOL.md, "Action
// Reconciliation", "Checkpoints", "Last Checkpoint File"), with time travel by version or timestamp,
// and the checks that refuse tables lakestream cannot read or write ("Protocol Evolution",
// "Table Features").
//
// Functions are thread-safe; a Snapshot is a value.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "lake/delta/delta_log.h"
#include "lake/storage/storage.h"

namespace lakestream {

/// The state of a table at one version (Delta PROTOCOL.md, "Action Reconciliation").
struct Snapshot {
  int64_t version = -1;  // -1: the table does not exist yet (empty or missing _delta_log)
  bool has_protocol = false, has_metadata = false;
  ProtocolAction protocol;
  MetadataAction metadata;
  std::map<std::string, AddFile> files;          // active files by CanonicalDeltaPath(path)
  std::map<std::string, RemoveFile> tombstones;  // removed files by canonical path (for checkpoints, VACUUM)
  std::map<std::string, TxnAction> txns;         // latest txn per appId
  int64_t timestamp_ms = 0;        // commitInfo.timestamp of `version`, else its commit file's modification time
  int64_t checkpoint_version = -1; // the checkpoint the snapshot was rebuilt from; -1: JSON commits only
  std::vector<std::string> notes;  // remarks from reconstruction (e.g. a corrupt _last_checkpoint was ignored)

  const DeltaSchema& schema() const { return metadata.schema; }
  const std::vector<std::string>& partition_columns() const { return metadata.partition_columns; }
  const std::map<std::string, std::string>& configuration() const { return metadata.configuration; }
  /// A table property, or `fallback` when unset.
  std::string Property(const std::string& key, const std::string& fallback) const;

  /// Sum of numRecords over active files (files without stats count as 0).
  int64_t NumRecords() const;
  int64_t SizeBytes() const;
  /// The txn version recorded for `app_id`, if any.
  std::optional<int64_t> TxnVersion(const std::string& app_id) const;
  /// Applies one commit's actions in order (remove erases, add inserts, latest txn/protocol/metaData
  /// win) and moves the snapshot to `c.version`.
  void Apply(const CommitActions& c);
};

/// Which version to load: the latest (neither set), a version, or the latest version committed at or
/// before a timestamp (ms since the epoch).
struct SnapshotSelector {
  std::optional<int64_t> version;
  std::optional<int64_t> timestamp_ms;
};

/// One commit as listed in _delta_log.
struct CommitFileInfo {
  int64_t version = 0;
  int64_t modification_time_ms = 0;
  int64_t size_bytes = 0;
};

/// What _delta_log holds: commits, and complete checkpoints (all parts present) by version.
struct LogListing {
  std::vector<CommitFileInfo> commits;                      // sorted by version
  std::map<int64_t, std::vector<std::string>> checkpoints;  // version -> files ("_delta_log/…parquet")
  int64_t LatestVersion() const;
};

/// Classifies the entries of a _delta_log listing (names relative to _delta_log).
LogListing ClassifyDeltaLog(const std::vector<FileInfo>& entries);
/// Lists _delta_log. A missing directory lists as empty.
Result<LogListing> ListDeltaLog(Storage& storage);

/// Reads and parses commit `version` (`_delta_log/<version>.json`). Errors: NotFound, IoError,
/// Corruption naming the file and line.
Result<CommitActions> ReadCommitFile(Storage& storage, int64_t version);

/// Loads the snapshot chosen by `selector`. Reconstruction starts from `_last_checkpoint` when it
/// is valid, else from the newest complete checkpoint found by listing; a checkpoint that cannot be
/// read is skipped in favour of an older one or of the JSON commits. Returns version -1 for an empty
/// log when no version or timestamp was asked for.
/// Errors: NotFound (no such version or no commit at or before the timestamp; names the range that
/// exists); Corruption (a version gap, unparsable actions, no protocol or metaData — names the file or
/// action); Unsupported from CheckReadable.
Result<Snapshot> LoadSnapshot(Storage& storage, const SnapshotSelector& selector = {});

/// Refuses a snapshot lakestream cannot read: reader version above 1 — column mapping (reader 2),
/// reader features such as deletionVectors, timestampNtz, v2Checkpoint (reader 3) — a timestamp_ntz
/// column, or a file with a deletion vector. The error names each table feature (Delta PROTOCOL.md,
/// "Table Features", "Column Mapping", "Deletion Vectors", "Timestamp without timezone", "V2 Checkpoint").
Status CheckReadable(const Snapshot& snapshot, const std::string& uri);

/// Refuses to write a table whose protocol needs more than writer version 2 (CHECK constraints,
/// change data feed, generated columns, column mapping, identity columns, writer features) or whose
/// schema declares column invariants (delta.invariants), which lakestream cannot evaluate
/// (Delta PROTOCOL.md, "Writer Version Requirements", "Column Invariants").
Status CheckWritable(const Snapshot& snapshot, const std::string& uri);

/// The commit timestamps of the listed versions as Delta defines them without in-commit timestamps:
/// each commit file's modification time, raised where needed so they increase with the version
/// (Delta PROTOCOL.md, "In-Commit Timestamps" describes the file-time fallback; Spark's
/// DeltaHistoryManager monotonises them the same way).
std::map<int64_t, int64_t> CommitTimestamps(const LogListing& listing);

/// The latest version whose commit timestamp is at or before `timestamp_ms`; a timestamp after the
/// last commit gives the last version. Errors: NotFound when it precedes the earliest commit kept.
Result<int64_t> VersionAtTimestamp(const LogListing& listing, int64_t timestamp_ms, const std::string& uri);

}  // namespace lakestream
