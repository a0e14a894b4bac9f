// Gold tables declared in a pipeline file, as the SQL that computes them from silver (docs/pipelines/
// README.md, "Gold"): window aggregations ([[gold]] with a tumbling event-time window, group-by keys,
// a filter and measures) with the SQL that merges partial aggregates into them, and tables defined by
// SQL over `silver` and [[views]], with the built-in RFM operator (gold_refresh.h maintains both).
#pragma once

#include <cstdint>
#include <string>

#include "lake/columnar/columnar.h"
#include "pipeline/pipeline_spec.h"

namespace lakestream {

/// Floor division (rounds toward negative infinity): days since the epoch of a µs time, e.g.
/// FloorDiv(-1, 86400000000) = -1.
int64_t FloorDiv(int64_t a, int64_t b);

/// The SELECT computing gold table `g` (or, with `adjustments`, its <name>_adjustments companion) from
/// silver relation `silver_sql`, with every day before `first_open_day` (days since 1970-01-01;
/// INT64_MIN: none) final. Columns in GoldColumns(spec, g, adjustments) order.
std::string WindowGoldQuery(const PipelineSpec& spec, const GoldSpec& g, bool adjustments,
                            const std::string& silver_sql, int64_t first_open_day);

/// The SELECT merging `rows` (gold rows and partials of gold table `g`, in its columns) into one row
/// per group: counts and sums summed, min of mins, max of maxes, is_final recomputed from
/// `first_open_day`. Valid when every measure is mergeable (GoldSpec::Mergeable).
std::string WindowGoldMergeQuery(const PipelineSpec& spec, const GoldSpec& g, bool adjustments,
                                 const std::string& rows, int64_t first_open_day);

/// "WITH silver AS (…), <view> AS (…), …": the scope gold SQL runs in, where `silver` is the rows of
/// silver relation `silver_sql` with every lookup as a column, and each [[views]] entry is its SELECT.
std::string GoldSqlScope(const PipelineSpec& spec, const std::string& silver_sql);

/// The SELECT computing SQL gold table `g` (GoldSpec::IsSql) from silver relation `silver_sql`: its
/// sql (then its operator, for "rfm"), columns in the order of its schema.
std::string SqlGoldQuery(const PipelineSpec& spec, const GoldSpec& g, const std::string& silver_sql);

/// kMergeByKey: the SELECT for the whole table from `carried` (gold rows whose key no new silver row
/// touched, a relation; "" when gold has no files) and `recomputed` (the silver rows of the touched
/// keys). The rows of an operator-less table are carried over as they are; the RFM operator re-ranks
/// the carried base rows together with the recomputed ones.
std::string SqlGoldMergeQuery(const PipelineSpec& spec, const GoldSpec& g, const std::string& carried,
                              const std::string& recomputed);

/// Checks SQL gold table `g` against silver relation `empty_silver` (no rows): its sql runs and returns
/// exactly the schema's columns (less those its operator adds), each of the schema's type. Returns ""
/// when it does, else what is wrong and how to fix it.
std::string CheckSqlGold(const PipelineSpec& spec, const GoldSpec& g, ColumnarEngine& engine,
                         const std::string& empty_silver);

}  // namespace lakestream
