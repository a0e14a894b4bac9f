// Gold aggregations declared in a pipeline file ([[gold]]: a tumbling event-time window, group-by
// keys, a filter and measures; docs/pipelines/README.md, "Gold"), as the SQL that computes them from
// silver and the SQL that merges partial aggregates into them (gold_refresh.h).
#pragma once

#include <cstdint>
#include <string>

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

}  // namespace lakestream
