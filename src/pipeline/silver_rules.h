// The silver rules of the orders pipeline, declared in configuration (pipelines/orders.toml, reference
// in docs/pipelines/orders.md): expectations with Delta Live Tables semantics, the deduplication key
// and horizon, the country mapping and the adjustment codes.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace lakestream {

/// What happens to a row whose expectation is not TRUE (Delta Live Tables: expect, expect_or_drop,
/// expect_or_fail; quarantine is DLT's documented quarantine pattern).
enum class ExpectationAction { kWarn, kDrop, kQuarantine, kFail };

/// "warn", "drop", "quarantine", "fail".
const char* ExpectationActionName(ExpectationAction a);

struct Expectation {
  std::string name;         // [a-z][a-z0-9_]*, unique
  std::string condition;    // SQL boolean expression over the silver columns (DuckDB dialect)
  ExpectationAction action = ExpectationAction::kWarn;
  std::string description;
  int line = 0;             // line of its [[silver.expectations]] entry in the file, 0 when unknown
};

struct SilverRules {
  std::string source;                   // file the rules came from, or "built-in pipelines/orders.toml"
  std::string dedupe_key = "event_id";  // only event_id in this version
  int64_t dedupe_horizon_ms = 7LL * 24 * 3600 * 1000;
  std::set<std::string> adjustment_product_codes;  // upper-case
  std::vector<std::string> adjustment_transaction_prefixes;
  std::map<std::string, std::string> country_aliases;  // upper-case source name -> canonical name
  std::vector<Expectation> expectations;
};

/// The default rules: pipelines/orders.toml as compiled into the binary.
std::string_view DefaultOrdersPipelineText();

/// Parses rules from TOML `text`; `source` names the file in errors. Errors: InvalidArgument naming
/// the file, the line, the key and the fix (unknown keys are refused, so a typo never goes unnoticed).
/// Conditions are bound against the silver columns later, by MedallionPipeline::Open (CheckPipelineSql).
Result<SilverRules> ParseSilverRules(std::string_view text, const std::string& source);
/// Reads and parses `path`; an empty path gives the default rules. Errors: NotFound, as ParseSilverRules.
Result<SilverRules> LoadSilverRules(const std::string& path);

/// Parses a duration such as "500ms", "90s", "15m", "24h", "7d" into milliseconds. Errors:
/// InvalidArgument naming the text and the accepted units.
Result<int64_t> ParseDurationMs(std::string_view text);

}  // namespace lakestream
