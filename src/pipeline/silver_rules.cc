#include "pipeline/silver_rules.h"

#include <cctype>
#include <fstream>
#include <sstream>

#include "pipeline/pipeline_spec.h"
#include "pipeline/orders_pipeline_embed.h"

namespace lakestream {

const char* ExpectationActionName(ExpectationAction a) {
  switch (a) {
    case ExpectationAction::kWarn: return "warn";
    case ExpectationAction::kDrop: return "drop";
    case ExpectationAction::kQuarantine: return "quarantine";
    case ExpectationAction::kFail: return "fail";
  }
  return "?";
}

std::string_view DefaultOrdersPipelineText() { return kOrdersPipelineToml; }

Result<int64_t> ParseDurationMs(std::string_view text) {
  size_t i = 0;
  int64_t n = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    if (n > (INT64_MAX / 10) - 10) return InvalidArgument("duration '{}' is too large", text);
    n = n * 10 + (text[i++] - '0');
  }
  std::string_view unit = text.substr(i);
  int64_t mult = 0;
  if (unit == "ms") mult = 1;
  if (unit == "s") mult = 1000;
  if (unit == "m") mult = 60 * 1000;
  if (unit == "h") mult = 3600 * 1000;
  if (unit == "d") mult = 24 * 3600 * 1000;
  if (i == 0 || mult == 0) {
    return InvalidArgument("'{}' is not a duration: write a whole number and a unit, ms, s, m, h or d (e.g. \"7d\")",
                           text);
  }
  if (n > INT64_MAX / mult) return InvalidArgument("duration '{}' is too large", text);
  return n * mult;
}

Result<SilverRules> ParseSilverRules(std::string_view text, const std::string& source) {
  ASSIGN_OR_RETURN(PipelineSpec spec, ParsePipelineSpec(text, source));
  if (spec.format != kOrderLineFormat) {
    return InvalidArgument("{}: pipeline '{}' has format \"{}\"; the orders pipeline needs format = \"{}\"", source,
                           spec.name, spec.format, kOrderLineFormat);
  }
  return std::move(spec.silver);
}

Result<SilverRules> LoadSilverRules(const std::string& path) {
  if (path.empty()) return ParseSilverRules(DefaultOrdersPipelineText(), "built-in pipelines/orders.toml");
  std::ifstream f(path);
  if (!f) return NotFound("cannot read the pipeline file {}: check --pipeline", path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ParseSilverRules(ss.str(), path);
}

}  // namespace lakestream
