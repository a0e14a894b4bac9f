// Helpers shared by the Delta conformance tests: temporary copies of tables and the check that an
// add's stats agree with what DuckDB computes over that file.
#pragma once

#include <string>

#include "common/status.h"
#include "lake/columnar/columnar.h"
#include "lake/delta/delta_snapshot.h"
#include "lake/storage/storage.h"

namespace lakestream::testing {

/// A fresh directory under the system temp dir, removed at exit.
std::string MakeTempDir(const std::string& prefix);

/// Where a test table lives: a fresh temporary directory, or, when LAKESTREAM_TEST_STORE=azurite
/// (the `Azure.` copies of these tests in CTest), a fresh az://lakestream-tests/<prefix>-<id> location
/// on an Azurite started for this process (tests/azurite.h). A test that cannot run on Azure calls
/// SkipOnAzure.
std::string MakeTableLocation(const std::string& prefix);

/// True when this test process runs its tables on Azurite.
bool OnAzure();

/// Whether `rel` exists under the table at `location` (a Stat through the store).
bool ObjectExists(const std::string& location, const std::string& rel);

/// Copies directory `from` to `to` recursively, making the copy writable.
void CopyTree(const std::string& from, const std::string& to);

/// For every active file of `snapshot` with stats: numRecords equals the file's row count, each
/// nullCount equals count(*) - count(col), and each min/max of a top-level primitive column equals
/// DuckDB's min/max over the file (timestamps compared at millisecond precision; strings longer than
/// 32 characters, whose stats may be truncated prefixes, skipped). Returns the first mismatch, naming
/// the file, column and both values; `checked` receives the number of values compared.
Status CheckStatsAgainstData(const Snapshot& snapshot, Storage& storage, ColumnarEngine& engine, int* checked);

}  // namespace lakestream::testing
