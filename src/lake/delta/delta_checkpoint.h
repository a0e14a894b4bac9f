// Checkpoints: reading classic and multi-part checkpoints, writing classic single-file checkpoints
// in the schema Spark writes, `_last_checkpoint`, and metadata cleanup of expired log files
// (Delta PROTOCOL.md, "Checkpoints", "Checkpoint Schema", "Last Checkpoint File", "Metadata Cleanup").
//
// Checkpoint Parquet goes through a private DuckDB engine (1 thread), so these functions are
// thread-safe and never contend with a pipeline's engine.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "lake/delta/delta_log.h"
#include "lake/storage/storage.h"

namespace lakestream {

struct Snapshot;

/// The content of `_delta_log/_last_checkpoint`.
struct LastCheckpoint {
  int64_t version = -1;
  int64_t size = 0;       // actions (rows) in the checkpoint
  int64_t parts = 0;      // 0: a classic single-file checkpoint
  int64_t size_bytes = 0; // sizeInBytes, 0 when absent
  int64_t num_add_files = -1;
};

/// Reads `_last_checkpoint`. Errors: NotFound when absent; Corruption when it is empty or not the
/// documented JSON (readers then fall back to listing, as Spark does).
Result<LastCheckpoint> ReadLastCheckpoint(Storage& storage);

/// Reads every action of the checkpoint of `version` stored in `files` (one classic file or all parts
/// of a multi-part checkpoint). Errors: Corruption/IoError naming the file.
Result<CommitActions> ReadCheckpoint(Storage& storage, int64_t version, const std::vector<std::string>& files);

/// Writes the classic checkpoint of `snapshot` (`_delta_log/<version>.checkpoint.parquet`) with
/// protocol, metaData, every txn, every active add and the removes younger than the table's
/// delta.deletedFileRetentionDuration (default 1 week), in Spark's checkpoint schema (add.stats as a
/// JSON string), then overwrites `_last_checkpoint`. Racing writers of the same version write the
/// same content. `now_ms` decides which removes have expired. Errors: IoError, Internal (DuckDB).
Result<LastCheckpoint> WriteCheckpoint(Storage& storage, const Snapshot& snapshot, int64_t now_ms);

/// Deletes commits, checkpoints and checksum files older than `retention_ms` before `now_ms` that
/// lie before the newest checkpoint old enough to replace them; that checkpoint and everything after
/// it are kept, so every version from it on stays readable (Delta PROTOCOL.md, "Metadata Cleanup").
/// Returns the number of files deleted. Errors: IoError.
Result<int64_t> CleanUpExpiredLogFiles(Storage& storage, int64_t retention_ms, int64_t now_ms);

}  // namespace lakestream
