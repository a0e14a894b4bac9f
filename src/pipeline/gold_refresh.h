// Incremental refresh of one gold table from its silver table, shared by every pipeline (the orders
// SQL gold tables and the window aggregations declared in pipeline files, window_gold.h).
//
// A refresh reads the silver commits after the version the gold table reflects (its txn `app_id`),
// takes the keys the new silver rows touch, recomputes only those keys from silver, and commits —
// with the new silver version as its txn — removes and adds for exactly those keys:
//   kDatePartitions  the dates the new rows touch (plus `extra_dates`), read only from the silver files
//                    whose statistics can hold them; the table is partitioned by that date. With a
//                    `merge_partials` (every measure mergeable: count, sum, min, max), only the new
//                    silver rows are aggregated, and the partitions they touch (all partition
//                    columns, e.g. date and hour) are merged with those partials — the cost of a
//                    refresh follows the new rows and the touched partitions, not the day;
//   kKeyedMerge      the key values the new rows touch, merged with the untouched rows carried over.
// The first refresh, or one whose silver commits are gone or rewritten, or removed rows (dataChange), rebuilds
// the table in full.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "lake/columnar/columnar.h"
#include "lake/delta/delta_table.h"

namespace lakestream {

/// One gold table: its name (path under the lake root), columns and partitioning.
struct GoldTableDef {
  std::string name;
  std::vector<ColumnSpec> columns;
  std::vector<std::string> partition_columns;
};

/// How a gold table is computed and maintained.
struct GoldPlan {
  enum class Kind { kDatePartitions, kKeyedMerge };
  GoldTableDef def;
  std::vector<ColumnSpec> silver_columns;  // for an empty silver relation
  std::string app_id;                      // txn appId recording the silver version the table reflects
  Kind kind = Kind::kDatePartitions;
  std::string silver_date_expr;  // kDatePartitions: SQL for a silver row's partition date
  std::string prune_column;      // kDatePartitions: silver column whose file statistics bound that date
  std::string key;               // kKeyedMerge: the key column, in silver and gold
  /// The SELECT computing the table (columns in table order) from silver relation `silver_rel`.
  std::function<std::string(const std::string& silver_rel)> query;
  /// kDatePartitions, optional: the SELECT (columns in table order) that merges `rows` — the gold rows
  /// of the touched partitions together with the partial aggregates of the new silver rows (both in
  /// the table's columns) — into one row per group, e.g. count → sum(count), max → max(max).
  std::function<std::string(const std::string& rows)> merge_partials;
  /// kKeyedMerge: the SELECT for the merged table from `carried` (the gold rows whose key was not
  /// touched, a relation; "" when gold has no files) and `recomputed` (silver rows of touched keys).
  std::function<std::string(const std::string& carried, const std::string& recomputed)> merge;
};

struct GoldRefreshResult {
  int64_t version = -1;        // the gold version committed, -1 when nothing was committed
  bool full = false;           // the whole table was rebuilt (first refresh, or silver history gone)
  int64_t keys_rewritten = 0;  // partitions (date tables) or keys (keyed tables) recomputed, -1 when full
};

/// Brings `gold` up to `silver`'s current snapshot by `plan`. `extra_dates` ("YYYY-MM-DD") are
/// recomputed as well (kDatePartitions), e.g. days whose status changed. Does nothing when the gold
/// table already reflects silver and no extra date is given. `rebuild`: recompute the whole table from
/// silver in one commit (every file removed, the result added), whatever its txn says (`lakestream
/// rebuild`). Errors: from storage, DuckDB and Delta; Conflict when another writer refreshed the same
/// gold table concurrently (its txn is newer).
Result<GoldRefreshResult> RefreshGoldTable(const GoldPlan& plan, DeltaTable& gold, DeltaTable& silver,
                                           ColumnarEngine& engine, const std::set<std::string>& extra_dates = {},
                                           bool rebuild = false);

/// A relation with `columns` and no rows: "(SELECT NULL::T AS c, … WHERE false)".
std::string EmptyRelation(const std::vector<ColumnSpec>& columns);

}  // namespace lakestream
