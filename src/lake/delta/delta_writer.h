// Writing data files for a Delta table: rows from SQL become zstd Parquet files with Delta stats,
// one file per partition-value combination under Hive-style directories, described by `add` actions
// with partitionValues and percent-encoded paths (Delta PROTOCOL.md, "Data Files", "Add File and
// Remove File", "Partition Value Serialization", "Per-file Statistics").
//
// The caller commits the returned adds (DeltaTable::Commit); files of a transaction that never
// commits are orphans that VACUUM removes after the retention. Thread-safe when each call has its own
// ColumnarEngine or the engine serialises (it does).
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "lake/columnar/columnar.h"
#include "lake/delta/delta_log.h"
#include "lake/delta/delta_snapshot.h"
#include "lake/storage/storage.h"

namespace lakestream {

/// The column spec (for ColumnarEngine) of a Delta field. Errors: Unsupported for an unknown type.
Result<ColumnSpec> ColumnSpecOf(const DeltaField& field);

/// A SQL expression that serializes column `column_sql` of `delta_type` as a partition value:
/// numbers as decimal text, boolean true/false, date YYYY-MM-DD, timestamp ISO-8601 UTC
/// YYYY-MM-DDTHH:MM:SS.ffffffZ (Delta PROTOCOL.md, "Partition Value Serialization").
Result<std::string> PartitionValueSql(const std::string& column_sql, const std::string& delta_type);

/// The add action for a data file written at `rel` (relative to the table root, not yet encoded):
/// encoded path, size, stats and numRecords from `info`, modificationTime now.
AddFile MakeAddFile(const std::string& rel, const ParquetFileInfo& info,
                    std::map<std::string, std::optional<std::string>> partition_values, bool data_change);

/// A new unique data file name: "part-00000-<uuid>-c000.zstd.parquet" (Delta PROTOCOL.md, "Data Files").
std::string NewDataFileName();

struct DataWriteOptions {
  bool data_change = true;  // false for compaction (OPTIMIZE) and other rewrites
  /// Directory (relative, unencoded, ending in '/', or empty) for the files of an unpartitioned write.
  std::string directory;
};

/// Writes the rows of `select_sql` — whose columns are the table's columns in schema order — as data
/// files of the table described by `snapshot` (schema and partition columns), partition columns
/// stripped from the files, and returns one add per file (no add for an empty result).
/// Errors: InvalidArgument with DuckDB's message; IoError.
Result<std::vector<AddFile>> WriteDataFiles(ColumnarEngine& engine, Storage& storage, const Snapshot& snapshot,
                                            const std::string& select_sql, const DataWriteOptions& options = {});

/// Rewrites the active files `keys` of `snapshot` — all with the same partition values — into one
/// file in the directory of the first, keeping their partition values, for compaction: the add has
/// dataChange=false (Delta PROTOCOL.md, "Add File and Remove File"). Errors: as WriteDataFiles.
Result<AddFile> RewriteFiles(ColumnarEngine& engine, Storage& storage, const Snapshot& snapshot,
                             const std::vector<std::string>& keys);

}  // namespace lakestream
