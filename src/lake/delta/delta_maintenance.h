// Table maintenance as Databricks users know it: DESCRIBE DETAIL, DESCRIBE HISTORY, the file list,
// OPTIMIZE (bin-packing compaction), VACUUM and RESTORE, on any Delta table lakestream can write.
//
// Each call works on one DeltaTable (not thread-safe, like DeltaTable) and is safe while other
// processes append to the same table: compaction commits removes/adds with dataChange=false and
// conflicts only with a concurrent remove of the same files (Delta PROTOCOL.md, "Add File and Remove
// File"; Delta docs, concurrency-control: INSERT vs OPTIMIZE cannot conflict).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "lake/columnar/columnar.h"
#include "lake/delta/delta_table.h"

namespace lakestream {

/// One row of DESCRIBE HISTORY: a commit's commitInfo.
struct HistoryEntry {
  int64_t version = 0;
  int64_t timestamp_ms = 0;  // commitInfo.timestamp, else the commit file's modification time
  std::string operation;
  std::string commit_info_json;  // the whole commitInfo object ("{}" when the commit has none)
};

/// The commits still in the log, newest first, at most `limit` (0: all). Errors: IoError, Corruption.
Result<std::vector<HistoryEntry>> ReadHistory(Storage& storage, int64_t limit);

struct OptimizeOptions {
  int64_t target_file_size_bytes = 128LL << 20;  // Databricks' default OPTIMIZE target (1 GiB on DBR; 128 MiB in OSS Delta's auto compaction)
  int min_files_per_bin = 2;  // a bin of fewer small files is left alone
  /// Files of at least this size are left alone (0: the target size). Auto-compaction sets it well
  /// below the target so that a file it wrote is not rewritten again by the next compaction.
  int64_t max_input_file_bytes = 0;
};

struct OptimizeResult {
  int64_t version = -1;  // the OPTIMIZE commit, -1 when nothing needed compaction
  int64_t files_removed = 0, files_added = 0;
  int64_t bytes_removed = 0, bytes_added = 0;
  int64_t partitions_optimized = 0;
};

/// Bin-packs the table's files smaller than the target, per partition, into files near the target
/// size, and commits the removes and adds (dataChange=false) as one OPTIMIZE commit. Files are read
/// through `engine`. Errors: Conflict when a concurrent commit removed an input file (nothing is
/// committed; the rewritten files become orphans for VACUUM); others as DeltaTable::Commit.
Result<OptimizeResult> Optimize(DeltaTable& table, ColumnarEngine& engine, const OptimizeOptions& options);

/// The number of active files smaller than `small_file_bytes`.
int64_t CountSmallFiles(const Snapshot& snapshot, int64_t small_file_bytes);

struct VacuumOptions {
  int64_t retention_ms = -1;  // -1: the table's delta.deletedFileRetentionDuration (default 7 days)
  bool dry_run = false;
  bool force = false;          // allow a retention below the table's delete retention
  int64_t now_ms = 0;          // 0: the current time
};

struct VacuumResult {
  std::vector<std::string> files;  // deleted (or, in a dry run, to be deleted), relative to the table root
  int64_t bytes = 0;
  int64_t retention_ms = 0;
};

/// Deletes data files under the table root that no active file or unexpired tombstone references and
/// that are older than the retention: files of removed versions and orphans of aborted writes.
/// Paths under directories starting with '_' or '.' (such as _delta_log) are never touched.
/// Errors: InvalidArgument when the retention is below the table's delta.deletedFileRetentionDuration
/// and `force` is off (time travel and concurrent readers need those files; Delta docs, "Remove files
/// no longer referenced by a Delta table"); IoError.
Result<VacuumResult> Vacuum(DeltaTable& table, const VacuumOptions& options);

/// Commits a RESTORE of version `version`: removes the files added since and re-adds the files removed
/// since (dataChange=true). Errors: NotFound when the version is gone or a file it needs was vacuumed
/// (names it); InvalidArgument when the schema or partitioning changed since that version, or the
/// table is append-only and the restore would remove data; Conflict as DeltaTable::Commit.
Result<int64_t> Restore(DeltaTable& table, int64_t version);

}  // namespace lakestream
