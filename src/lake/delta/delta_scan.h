// Reading a Delta snapshot's rows: a SQL query (DuckDB dialect, run by ColumnarEngine) over the
// snapshot's active Parquet files that returns the table's columns in schema order, with partition
// values filled in from each add's partitionValues and every column cast to its Delta type
// (Delta PROTOCOL.md, "Partition Value Serialization", "Primitive Types", "Delta Data Type to Parquet
// Type Mappings"). INT96 and INT64 (micros/millis) timestamps and INT32/INT64/fixed-length decimals
// are decoded by DuckDB's Parquet reader; columns missing from a file read as null ("Consistency
// Between Table Metadata and Data Files").
//
// Pure functions; thread-safe.
#pragma once

#include <string>

#include "common/status.h"
#include "lake/columnar/columnar.h"
#include "lake/delta/delta_snapshot.h"
#include "lake/storage/storage.h"

namespace lakestream {

/// The DuckDB type of a Delta type: string → VARCHAR, long → BIGINT, integer → INTEGER, short →
/// SMALLINT, byte → TINYINT, float → FLOAT, double → DOUBLE, boolean → BOOLEAN, binary → BLOB, date →
/// DATE, timestamp → TIMESTAMPTZ (UTC), decimal(p,s) → DECIMAL(p,s); struct/array/map (JSON text) →
/// STRUCT/LIST/MAP. Errors: Unsupported naming the type.
Result<std::string> DuckDbTypeOf(const std::string& delta_type);

/// The inverse of DuckDbTypeOf for the primitive types: a DuckDB column type as DESCRIBE writes it
/// (VARCHAR, BIGINT, INTEGER, SMALLINT, TINYINT, DOUBLE, FLOAT, BOOLEAN, DATE, TIMESTAMP WITH TIME ZONE,
/// BLOB, DECIMAL(p,s), HUGEINT as decimal(38,0)) → the Delta type. Errors: Unsupported naming the type
/// and the types to cast to.
Result<std::string> DeltaTypeOfDuckDb(const std::string& duckdb_type);

/// A SQL literal of `value` (a serialized partition value) as `delta_type`; nullopt and "" are NULL.
/// Timestamps without a zone are read as UTC, as are ISO-8601 values ending in Z.
Result<std::string> PartitionValueLiteral(const std::optional<std::string>& value, const std::string& delta_type);

struct ScanOptions {
  /// Read only these active files (CanonicalDeltaPath keys of Snapshot::files); all when empty.
  std::vector<std::string> only_files;
  /// Include partition columns (false: the data columns only, as stored in the files).
  bool with_partition_columns = true;
};

/// A SELECT returning the rows of `snapshot` (columns in schema order). `engine` is asked once for
/// the columns the data files hold; on a remote store the files are fetched into the local cache
/// first (Storage::LocalFile). Errors: Unsupported for a type DuckDB cannot represent; InvalidArgument
/// when DuckDB cannot read a data file (names it); the store's errors when a file cannot be fetched.
Result<std::string> SnapshotScanSql(const Snapshot& snapshot, Storage& storage, ColumnarEngine& engine,
                                    const ScanOptions& options = {});

/// A local file with an active file's bytes: its canonical path when absolute, else
/// Storage::LocalFile (the file itself on local disk, a cached copy from Azure). With
/// `expected_size_bytes` (> 0: the add action's size), the file must have exactly that size: a data
/// file replaced or truncated behind the log's back is corruption, never read as valid (Delta
/// PROTOCOL.md, "Add File and Remove File": size). Errors: Corruption naming the file, both sizes
/// and what to do; the store's.
Result<std::string> DataFileLocalPath(Storage& storage, const std::string& canonical_path,
                                      int64_t expected_size_bytes = 0);

/// DataFileLocalPath of each file of `files` (keys: canonical paths), each checked against its add
/// action's size, in key order.
Result<std::vector<std::string>> DataFileLocalPaths(Storage& storage, const std::map<std::string, AddFile>& files);

}  // namespace lakestream
