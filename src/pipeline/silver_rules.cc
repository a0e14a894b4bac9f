#include "pipeline/silver_rules.h"

#include <toml++/toml.h>

#include <cctype>
#include <fstream>
#include <sstream>

#include "common/strings.h"
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

namespace {

bool ValidRuleName(const std::string& s) {
  if (s.empty() || !std::islower(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s) {
    if (!std::islower(static_cast<unsigned char>(c)) && !std::isdigit(static_cast<unsigned char>(c)) && c != '_') {
      return false;
    }
  }
  return true;
}

class RulesParser {
 public:
  explicit RulesParser(std::string source) : source_(std::move(source)) {}

  Status Error(const toml::node* at, const std::string& what) const {
    int line = at ? static_cast<int>(at->source().begin.line) : 0;
    return InvalidArgument("{}{}: {}", source_, line > 0 ? ":" + std::to_string(line) : std::string(), what);
  }

  // Refuses keys outside `allowed`, naming them and the keys that are allowed.
  Status OnlyKeys(const toml::table& t, std::initializer_list<std::string_view> allowed, const std::string& where) {
    for (const auto& [k, v] : t) {
      bool ok = false;
      for (auto a : allowed) ok = ok || k.str() == a;
      if (!ok) {
        std::string list;
        for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
        return Error(&v, "unknown key '" + std::string(k.str()) + "' in " + where + "; the keys are: " + list);
      }
    }
    return Status::OK();
  }

  Result<std::string> String(const toml::table& t, std::string_view key, const std::string& where, bool required) {
    const toml::node* n = t.get(key);
    if (!n) {
      if (required) return Error(&t, where + " needs `" + std::string(key) + " = \"…\"`");
      return std::string();
    }
    if (!n->is_string()) return Error(n, where + "." + std::string(key) + " must be a string");
    return std::string(*n->value<std::string_view>());
  }

  Result<std::vector<std::string>> Strings(const toml::table& t, std::string_view key, const std::string& where) {
    std::vector<std::string> out;
    const toml::node* n = t.get(key);
    if (!n) return out;
    const toml::array* a = n->as_array();
    if (!a) return Error(n, where + "." + std::string(key) + " must be an array of strings, e.g. [\"POST\", \"M\"]");
    for (const auto& e : *a) {
      if (!e.is_string()) return Error(&e, where + "." + std::string(key) + " must hold strings only");
      out.emplace_back(*e.value<std::string_view>());
    }
    return out;
  }

  Result<SilverRules> Parse(std::string_view text) {
    toml::table root;
    try {
      root = toml::parse(text, source_);
    } catch (const toml::parse_error& e) {
      return InvalidArgument("{}:{}: {}", source_, e.source().begin.line, e.description());
    }
    SilverRules r;
    r.source = source_;
    RETURN_IF_ERROR(OnlyKeys(root, {"silver"}, "the file"));
    const toml::table* silver = root["silver"].as_table();
    if (!silver) return Error(nullptr, "a [silver] table is required");
    RETURN_IF_ERROR(OnlyKeys(*silver,
                             {"dedupe_key", "dedupe_horizon", "adjustment_product_codes",
                              "adjustment_transaction_prefixes", "country_aliases", "expectations"},
                             "[silver]"));
    ASSIGN_OR_RETURN(std::string key, String(*silver, "dedupe_key", "[silver]", false));
    if (!key.empty()) {
      if (key != "event_id") {
        return Error(silver->get("dedupe_key"), "dedupe_key '" + key + "' is not supported: silver deduplicates on event_id");
      }
      r.dedupe_key = key;
    }
    ASSIGN_OR_RETURN(std::string horizon, String(*silver, "dedupe_horizon", "[silver]", false));
    if (!horizon.empty()) {
      auto ms = ParseDurationMs(horizon);
      if (!ms.ok()) return Error(silver->get("dedupe_horizon"), "dedupe_horizon: " + ms.status().message());
      r.dedupe_horizon_ms = *ms;
    }
    ASSIGN_OR_RETURN(auto codes, Strings(*silver, "adjustment_product_codes", "[silver]"));
    for (const auto& c : codes) r.adjustment_product_codes.insert(AsciiUpper(c));
    ASSIGN_OR_RETURN(r.adjustment_transaction_prefixes,
                     Strings(*silver, "adjustment_transaction_prefixes", "[silver]"));
    if (const toml::node* n = silver->get("country_aliases")) {
      const toml::table* t = n->as_table();
      if (!t) return Error(n, "[silver.country_aliases] must be a table of \"Source name\" = \"Canonical name\"");
      for (const auto& [k, v] : *t) {
        if (!v.is_string() || v.value<std::string_view>()->empty()) {
          return Error(&v, "country alias '" + std::string(k.str()) + "' must map to a non-empty string");
        }
        r.country_aliases[AsciiUpper(k.str())] = std::string(*v.value<std::string_view>());
      }
    }
    if (const toml::node* n = silver->get("expectations")) {
      const toml::array* a = n->as_array();
      if (!a) return Error(n, "expectations must be written as [[silver.expectations]] entries");
      std::set<std::string> names;
      for (const auto& e : *a) {
        const toml::table* t = e.as_table();
        if (!t) return Error(&e, "each [[silver.expectations]] entry must be a table");
        RETURN_IF_ERROR(OnlyKeys(*t, {"name", "condition", "action", "description"}, "[[silver.expectations]]"));
        Expectation x;
        x.line = static_cast<int>(t->source().begin.line);
        ASSIGN_OR_RETURN(x.name, String(*t, "name", "[[silver.expectations]]", true));
        if (!ValidRuleName(x.name)) {
          return Error(t->get("name"), "expectation name '" + x.name +
                                           "' must be lower-case letters, digits and '_', starting with a letter");
        }
        if (!names.insert(x.name).second) return Error(t->get("name"), "expectation '" + x.name + "' is declared twice");
        ASSIGN_OR_RETURN(x.condition, String(*t, "condition", "expectation '" + x.name + "'", true));
        if (x.condition.find(';') != std::string::npos) {
          return Error(t->get("condition"), "the condition of expectation '" + x.name +
                                                "' must be one SQL expression, without ';'");
        }
        ASSIGN_OR_RETURN(std::string action, String(*t, "action", "expectation '" + x.name + "'", true));
        if (action == "warn") {
          x.action = ExpectationAction::kWarn;
        } else if (action == "drop") {
          x.action = ExpectationAction::kDrop;
        } else if (action == "quarantine") {
          x.action = ExpectationAction::kQuarantine;
        } else if (action == "fail") {
          x.action = ExpectationAction::kFail;
        } else {
          return Error(t->get("action"), "action '" + action + "' of expectation '" + x.name +
                                             "' is not one of warn, drop, quarantine, fail");
        }
        ASSIGN_OR_RETURN(x.description, String(*t, "description", "expectation '" + x.name + "'", false));
        r.expectations.push_back(std::move(x));
      }
    }
    if (r.expectations.size() > 60) return Error(nullptr, "at most 60 expectations are supported");
    return r;
  }

 private:
  std::string source_;
};

}  // namespace

Result<SilverRules> ParseSilverRules(std::string_view text, const std::string& source) {
  return RulesParser(source).Parse(text);
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
