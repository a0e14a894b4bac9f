#include "pipeline/pipeline_spec.h"

#include <toml++/toml.h>

#include <cctype>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "common/strings.h"
#include "config/toml_checker.h"
#include "pipeline/gold_refresh.h"
#include "pipeline/orders_pipeline_embed.h"
#include "pipeline/window_gold.h"

namespace lakestream {

const std::vector<SourceFormat>& SourceFormats() {
  static const std::vector<SourceFormat> kFormats = {
      {"json", true, SourceFormat::Sample::kGenerator, "one UTF-8 JSON object per record, typed by [schema]"},
      {kOrderLineFormat, false, SourceFormat::Sample::kCsvReplay,
       "the online-shop order line (docs/events/order-line.v1.schema.json), typed by lakestream's order decoder"},
  };
  return kFormats;
}

const SourceFormat* FindSourceFormat(std::string_view name) {
  for (const auto& f : SourceFormats()) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

const SourceFormat& PipelineSpec::source_format() const {
  const SourceFormat* f = FindSourceFormat(format);
  return f ? *f : SourceFormats().front();
}

const GoldSpec* PipelineSpec::GoldAt(std::string_view location) const {
  for (const auto& g : gold) {
    if (g.location == location) return &g;
  }
  return nullptr;
}

const FieldSpec* PipelineSpec::Field(std::string_view n) const {
  for (const auto& f : fields) {
    if (f.name == n) return &f;
  }
  return nullptr;
}

const LookupSpec* PipelineSpec::Lookup(std::string_view n) const {
  for (const auto& l : lookups) {
    if (l.name == n) return &l;
  }
  return nullptr;
}

namespace {

bool ValidName(std::string_view s) {
  if (s.empty() || !std::islower(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s) {
    if (!std::islower(static_cast<unsigned char>(c)) && !std::isdigit(static_cast<unsigned char>(c)) && c != '_') {
      return false;
    }
  }
  return true;
}

// A table location under the lake root: relative, no "..", no empty segment.
bool ValidLocation(std::string_view s) {
  if (s.empty() || s.front() == '/' || s.back() == '/') return false;
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t slash = std::min(s.find('/', pos), s.size());
    std::string_view seg = s.substr(pos, slash - pos);
    if (seg.empty() || seg == "." || seg == "..") return false;
    for (char c : seg) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') return false;
    }
    pos = slash + 1;
  }
  return true;
}

// "string", "long", "int", "double", "boolean", "timestamp", "date", "decimal(p,s)" -> a column type.
std::optional<ColumnSpec> ParseType(std::string_view t) {
  static const std::map<std::string_view, ColumnType> kNamed = {
      {"string", ColumnType::kString}, {"long", ColumnType::kInt64},   {"int", ColumnType::kInt32},
      {"double", ColumnType::kDouble}, {"boolean", ColumnType::kBool}, {"timestamp", ColumnType::kTimestampMicros},
      {"date", ColumnType::kDate},
  };
  ColumnSpec c;
  if (auto it = kNamed.find(t); it != kNamed.end()) {
    c.type = it->second;
    return c;
  }
  if (t.substr(0, 8) != "decimal(" || t.back() != ')') return std::nullopt;
  int p = 0, s = 0;
  char tail = 0;
  std::string inner(t.substr(8, t.size() - 9));
  if (std::sscanf(inner.c_str(), "%d,%d%c", &p, &s, &tail) != 2 || p < 1 || p > 18 || s < 0 || s > p) {
    return std::nullopt;
  }
  c.type = ColumnType::kDecimal;
  c.precision = p;
  c.scale = s;
  return c;
}

constexpr const char* kTypes = "string, long, int, double, boolean, timestamp, date or decimal(p,s) with p <= 18";

// A gold column type: the field types, and byte and short for small scores.
std::optional<ColumnSpec> ParseGoldType(std::string_view t) {
  if (t == "byte") return ColumnSpec{"", ColumnType::kInt8};
  if (t == "short") return ColumnSpec{"", ColumnType::kInt16};
  return ParseType(t);
}

// Splits "a date NOT NULL, b decimal(18,3)" at the commas outside parentheses.
std::vector<std::string> SplitColumnList(std::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;
  for (char c : text) {
    if (c == '(') depth++;
    if (c == ')') depth--;
    if (c == ',' && depth == 0) {
      out.push_back(std::string(TrimBlanks(cur)));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!TrimBlanks(cur).empty() || !out.empty()) out.push_back(std::string(TrimBlanks(cur)));
  return out;
}

class SpecParser : public TomlChecker {
 public:
  explicit SpecParser(std::string file) : TomlChecker(std::move(file)) {}

  Result<PipelineSpec> Parse(std::string_view text) {
    ASSIGN_OR_RETURN(toml::table root, ParseToml(text));
    spec_.file = file_;
    OnlyKeys(root, {"pipeline", "source", "schema", "silver", "lookups", "views", "gold", "sinks"}, "the file");
    if (!root.get("pipeline")) {
      // A file with [silver] only: the orders pipeline's silver rules, as before pipelines were
      // declared; everything else is the built-in pipelines/orders.toml.
      ASSIGN_OR_RETURN(spec_, DefaultOrdersPipelineSpec());
      spec_.file = file_;
      spec_.silver = SilverRules{};
      for (const auto& [k, v] : root) {
        if (k.str() != "silver") Error(&v, "[" + std::string(k.str()) + "] needs a [pipeline] table with the pipeline's name");
      }
      ParseSilver(root);
      RETURN_IF_ERROR(Errors());
      return std::move(spec_);
    }
    ParsePipelineAndSource(root);
    if (spec_.source_format().declared_schema) {
      ParseSchema(root);
    } else if (const toml::node* n = root.get("schema")) {
      Error(n, "[schema] is not used with format = \"" + spec_.format + "\": the format is a fixed contract with its "
               "own silver columns; remove it, or declare format = \"json\"");
    }
    ParseSilver(root);
    ParseLookups(root);
    ParseViews(root);
    ParseGold(root);
    ParseSinks(root);
    RETURN_IF_ERROR(Errors());
    return std::move(spec_);
  }

 private:
  std::optional<int64_t> Duration(const toml::table& t, std::string_view key, const std::string& where) {
    std::string text = String(t, key, where, false);
    if (text.empty()) return std::nullopt;
    auto ms = ParseDurationMs(text);
    if (!ms.ok()) {
      Error(t.get(key), where + "." + std::string(key) + ": " + ms.status().message());
      return std::nullopt;
    }
    return *ms;
  }

  void ParsePipelineAndSource(const toml::table& root) {
    const toml::table* p = root["pipeline"].as_table();
    if (!p) {
      Error(root.get("pipeline"), "[pipeline] must be a table");
    } else {
      OnlyKeys(*p, {"name", "description"}, "[pipeline]");
      spec_.name = String(*p, "name", "[pipeline]", true);
      if (!spec_.name.empty() && !ValidName(spec_.name)) {
        Error(p->get("name"), "pipeline name '" + spec_.name +
                                  "' must be lower-case letters, digits and '_', starting with a letter");
      }
      spec_.description = String(*p, "description", "[pipeline]", false);
      const toml::table* s = root["source"].as_table();
      if (!s) {
        Error(p, "a [source] table is required: topic, format, key and contract");
        return;
      }
      OnlyKeys(*s, {"topic", "format", "key", "contract", "group_id", "unknown_fields", "dead_letter_topic"},
               "[source]");
      spec_.topic = String(*s, "topic", "[source]", true);
      spec_.format = String(*s, "format", "[source]", true);
      if (spec_.format == "orders") {
        Error(s->get("format"), "format \"orders\" is now called \"order-line.v1\", and the orders gold tables are "
                                "declared in the file: start from pipelines/orders.toml (docs/pipelines/orders.md)");
        spec_.format = kOrderLineFormat;
      } else if (!spec_.format.empty() && !FindSourceFormat(spec_.format)) {
        std::string names;
        for (const auto& f : SourceFormats()) names += fmt::format("{}\"{}\" ({})", names.empty() ? "" : " or ", f.name, f.summary);
        Error(s->get("format"), "format '" + spec_.format + "' is not supported: " + names);
        spec_.format = "json";
      }
      spec_.key = String(*s, "key", "[source]", false);
      spec_.contract = String(*s, "contract", "[source]", false);
      spec_.group_id = String(*s, "group_id", "[source]", false);
      spec_.dead_letter_topic = String(*s, "dead_letter_topic", "[source]", false);
      std::string unknown = String(*s, "unknown_fields", "[source]", false);
      if (!unknown.empty() && unknown != "ignore" && unknown != "quarantine") {
        Error(s->get("unknown_fields"), "unknown_fields must be \"ignore\" or \"quarantine\"");
      }
      spec_.unknown_fields_quarantine = unknown == "quarantine";
    }
    if (spec_.group_id.empty()) spec_.group_id = "lakestream-" + spec_.name;
  }

  void ParseSchema(const toml::table& root) {
    const toml::table* s = root["schema"].as_table();
    if (!s) {
      Error(nullptr, "a [schema] table with [[schema.fields]] entries is required for format = \"json\"");
      return;
    }
    OnlyKeys(*s, {"fields"}, "[schema]");
    std::set<std::string> names;
    for (const toml::table* t : Entries(*s, "fields", "[[schema.fields]]")) {
      OnlyKeys(*t, {"name", "type", "required", "description"}, "[[schema.fields]]");
      FieldSpec f;
      f.line = static_cast<int>(t->source().begin.line);
      f.name = EntryName(*t, "[[schema.fields]]", "field", names);
      if (f.name.empty()) continue;
      if (kReservedColumns.count(f.name)) {
        Error(t->get("name"), "field name '" + f.name + "' is a column silver adds itself; rename the field");
      }
      f.type_text = String(*t, "type", "field '" + f.name + "'", true);
      if (auto c = ParseType(f.type_text)) {
        f.column = *c;
      } else if (!f.type_text.empty()) {
        Error(t->get("type"), "type '" + f.type_text + "' of field '" + f.name + "' is not one of " + kTypes);
      }
      f.column.name = f.name;
      if (const toml::node* r = t->get("required")) {
        if (!r->is_boolean()) {
          Error(r, "required of field '" + f.name + "' must be true or false");
        } else {
          f.required = *r->value<bool>();
        }
      }
      f.column.nullable = !f.required;
      f.description = String(*t, "description", "field '" + f.name + "'", false);
      spec_.fields.push_back(std::move(f));
    }
    if (spec_.fields.empty()) Error(s, "[schema] declares no fields: add [[schema.fields]] entries");
  }

  // The `name` of entry `t` of `section`: required, [a-z][a-z0-9_]*, and not in `names` (which gets it).
  // "" when absent. `what` names the entry in errors ("field", "expectation").
  std::string EntryName(const toml::table& t, const std::string& section, const std::string& what,
                        std::set<std::string>& names) {
    std::string name = String(t, "name", section, true);
    if (name.empty()) return name;
    if (!ValidName(name)) {
      Error(t.get("name"), what + " name '" + name + "' must be lower-case letters, digits and '_', starting with a letter");
    }
    if (!names.insert(name).second) Error(t.get("name"), what + " '" + name + "' is declared twice");
    return name;
  }

  void ParseSilver(const toml::table& root) {
    const toml::table* silver = root["silver"].as_table();
    if (!silver) {
      Error(nullptr, "a [silver] table is required");
      return;
    }
    SilverRules& r = spec_.silver;
    r.source = file_;
    const bool declared = spec_.source_format().declared_schema;
    if (!declared) {
      OnlyKeys(*silver,
               {"dedupe_key", "dedupe_horizon", "adjustment_product_codes", "adjustment_transaction_prefixes",
                "country_aliases", "expectations"},
               "[silver] (format \"" + spec_.format + "\")");
    } else {
      OnlyKeys(*silver, {"dedupe_key", "dedupe_horizon", "event_time", "watermark", "expectations"}, "[silver]");
    }
    std::string key = String(*silver, "dedupe_key", "[silver]", false);
    if (!declared) {
      if (!key.empty() && key != "event_id") {
        Error(silver->get("dedupe_key"), "dedupe_key '" + key + "' is not supported: silver deduplicates on event_id");
      }
    } else if (key.empty()) {
      Error(silver, "[silver] needs `dedupe_key = \"<field>\"`: the field that identifies an event (its id)");
    } else {
      const FieldSpec* f = spec_.Field(key);
      if (!f) {
        Error(silver->get("dedupe_key"), "dedupe_key '" + key + "' is not a field of [schema]");
      } else if (f->column.type != ColumnType::kString || !f->required) {
        Error(silver->get("dedupe_key"), "dedupe_key '" + key + "' must be a required string field");
      }
      r.dedupe_key = key;
    }
    if (auto ms = Duration(*silver, "dedupe_horizon", "[silver]")) r.dedupe_horizon_ms = *ms;
    if (declared) {
      spec_.event_time = String(*silver, "event_time", "[silver]", true);
      if (!spec_.event_time.empty()) {
        const FieldSpec* f = spec_.Field(spec_.event_time);
        if (!f) {
          Error(silver->get("event_time"), "event_time '" + spec_.event_time + "' is not a field of [schema]");
        } else if (f->column.type != ColumnType::kTimestampMicros || !f->required) {
          Error(silver->get("event_time"), "event_time '" + spec_.event_time + "' must be a required timestamp field");
        }
      }
      if (!silver->get("watermark")) {
        Error(silver, "[silver] needs `watermark = \"…\"`: how late an event may arrive and still count as on time "
                      "(e.g. \"10m\")");
      }
      if (auto ms = Duration(*silver, "watermark", "[silver]")) spec_.watermark_ms = *ms;
    } else {
      for (const auto& c : Strings(*silver, "adjustment_product_codes", "[silver]")) {
        r.adjustment_product_codes.insert(AsciiUpper(c));
      }
      r.adjustment_transaction_prefixes = Strings(*silver, "adjustment_transaction_prefixes", "[silver]");
      if (const toml::node* n = silver->get("country_aliases")) {
        if (const toml::table* t = n->as_table()) {
          for (const auto& [k, v] : *t) {
            if (!v.is_string() || v.value<std::string_view>()->empty()) {
              Error(&v, "country alias '" + std::string(k.str()) + "' must map to a non-empty string");
              continue;
            }
            r.country_aliases[AsciiUpper(k.str())] = std::string(*v.value<std::string_view>());
          }
        } else {
          Error(n, "[silver.country_aliases] must be a table of \"Source name\" = \"Canonical name\"");
        }
      }
    }
    std::set<std::string> names;
    for (const toml::table* t : Entries(*silver, "expectations", "[[silver.expectations]]")) {
      OnlyKeys(*t, {"name", "condition", "action", "description"}, "[[silver.expectations]]");
      Expectation x;
      x.line = static_cast<int>(t->source().begin.line);
      x.name = EntryName(*t, "[[silver.expectations]]", "expectation", names);
      if (x.name.empty()) continue;
      x.condition = String(*t, "condition", "expectation '" + x.name + "'", true);
      if (x.condition.find(';') != std::string::npos) {
        Error(t->get("condition"), "the condition of expectation '" + x.name + "' must be one SQL expression, without ';'");
      }
      std::string action = String(*t, "action", "expectation '" + x.name + "'", true);
      static const std::map<std::string, ExpectationAction> kActions = {{"warn", ExpectationAction::kWarn},
                                                                        {"drop", ExpectationAction::kDrop},
                                                                        {"quarantine", ExpectationAction::kQuarantine},
                                                                        {"fail", ExpectationAction::kFail}};
      if (auto it = kActions.find(action); it != kActions.end()) {
        x.action = it->second;
      } else if (!action.empty()) {
        Error(t->get("action"), "action '" + action + "' of expectation '" + x.name +
                                    "' is not one of warn, drop, quarantine, fail");
      }
      x.description = String(*t, "description", "expectation '" + x.name + "'", false);
      r.expectations.push_back(std::move(x));
    }
    if (r.expectations.size() > 60) Error(silver, "at most 60 expectations are supported");
  }

  void ParseLookups(const toml::table& root) {
    for (const toml::table* t : Entries(root, "lookups", "[[lookups]]")) {
      OnlyKeys(*t, {"name", "key", "type", "default", "values", "description"}, "[[lookups]]");
      LookupSpec l;
      l.line = static_cast<int>(t->source().begin.line);
      l.name = String(*t, "name", "[[lookups]]", true);
      if (l.name.empty()) continue;
      if (!ValidName(l.name) || spec_.Field(l.name) || spec_.Lookup(l.name) || kReservedColumns.count(l.name)) {
        Error(t->get("name"), "lookup name '" + l.name +
                                  "' must be a new lower-case name (not a field, another lookup or a silver column)");
      }
      l.key = String(*t, "key", "lookup '" + l.name + "'", true);
      const ColumnSpec* kc = SilverColumn(l.key);
      if (!l.key.empty() && (!kc || kc->type != ColumnType::kString)) {
        Error(t->get("key"), "key '" + l.key + "' of lookup '" + l.name + "' must be a string column of silver");
      }
      std::string type = String(*t, "type", "lookup '" + l.name + "'", true);
      auto c = ParseType(type);
      if (!c || (c->type != ColumnType::kDecimal && c->type != ColumnType::kInt64 && c->type != ColumnType::kString)) {
        if (!type.empty()) Error(t->get("type"), "type of lookup '" + l.name + "' must be decimal(p,s), long or string");
      } else {
        l.column = *c;
      }
      l.column.name = l.name;
      l.column.nullable = false;
      auto check_value = [&](const toml::node* n, const std::string& what) -> std::string {
        if (!n || !n->is_string()) {
          Error(n ? n : t, what + " must be written as a string, e.g. \"0.04\" (exact, no binary floating point)");
          return {};
        }
        std::string v(*n->value<std::string_view>());
        if (l.column.type == ColumnType::kDecimal) {
          bool ok = !v.empty();
          int dot = 0, frac = 0;
          for (char ch : v) {
            if (ch == '.') {
              dot++;
            } else if (!std::isdigit(static_cast<unsigned char>(ch))) {
              ok = false;
            } else if (dot) {
              frac++;
            }
          }
          if (!ok || dot > 1 || frac > l.column.scale) {
            Error(n, what + " '" + v + "' must be a non-negative decimal with at most " +
                         std::to_string(l.column.scale) + " fraction digits");
          }
        }
        return v;
      };
      l.default_value = check_value(t->get("default"), "default of lookup '" + l.name + "'");
      if (const toml::node* n = t->get("values")) {
        if (const toml::table* vt = n->as_table()) {
          for (const auto& [k, v] : *vt) {
            l.values[std::string(k.str())] = check_value(&v, "value for '" + std::string(k.str()) + "'");
          }
        } else {
          Error(n, "values of lookup '" + l.name + "' must be a table of \"key\" = \"value\"");
        }
      }
      spec_.lookups.push_back(std::move(l));
    }
  }

  // A silver column by name (the format's contract or the declared fields and added columns).
  const ColumnSpec* SilverColumn(const std::string& name) {
    silver_columns_ = SilverColumnsOf(spec_);
    for (const auto& c : silver_columns_) {
      if (c.name == name) return &c;
    }
    return nullptr;
  }

  // A column gold can read: a field, a lookup or event_date.
  bool GoldColumn(const std::string& c) const {
    return spec_.Field(c) || spec_.Lookup(c) || c == "event_date" || c == "ingest_time";
  }

  void ParseViews(const toml::table& root) {
    for (const toml::table* t : Entries(root, "views", "[[views]]")) {
      OnlyKeys(*t, {"name", "sql", "description"}, "[[views]]");
      ViewSpec v;
      v.line = static_cast<int>(t->source().begin.line);
      v.name = String(*t, "name", "[[views]]", true);
      if (v.name.empty()) continue;
      if (!ValidName(v.name) || v.name == "silver") {
        Error(t->get("name"), "view name '" + v.name + "' must be lower-case letters, digits and '_', and not silver");
      }
      for (const auto& other : spec_.views) {
        if (other.name == v.name) Error(t->get("name"), "view '" + v.name + "' is declared twice");
      }
      v.sql = String(*t, "sql", "view '" + v.name + "'", true);
      if (v.sql.find(';') != std::string::npos) {
        Error(t->get("sql"), "the sql of view '" + v.name + "' must be one SELECT, without ';'");
      }
      spec_.views.push_back(std::move(v));
    }
  }

  // A [[gold]] table defined by `sql` (docs/pipelines/README.md, "Gold defined by SQL").
  void ParseSqlGold(const toml::table& t, GoldSpec& g, const std::string& where) {
    OnlyKeys(t, {"name", "location", "description", "sql", "schema", "refresh", "partition_by", "silver_date",
                 "prune_column", "key", "operator", "rfm"},
             where + " (defined by sql)");
    g.sql = String(t, "sql", where, true);
    if (g.sql.find(';') != std::string::npos) Error(t.get("sql"), where + ": sql must be one SELECT, without ';'");
    const std::string schema = String(t, "schema", where, true);
    std::set<std::string> names;
    for (const auto& entry : SplitColumnList(schema)) {
      // "name type [NOT NULL]"
      std::string name, type, rest;
      std::istringstream in(entry);
      in >> name >> type;
      std::getline(in, rest);
      rest = AsciiUpper(std::string(TrimBlanks(rest)));
      auto c = ParseGoldType(type);
      if (!ValidName(name) || !c || (!rest.empty() && rest != "NOT NULL")) {
        Error(t.get("schema"), where + ": schema column '" + entry + "' must be written \"name type\" or \"name type "
                               "NOT NULL\", with a type among byte, short, " + kTypes);
        continue;
      }
      if (!names.insert(name).second) Error(t.get("schema"), where + ": schema column '" + name + "' appears twice");
      c->name = name;
      c->nullable = rest.empty();
      g.columns.push_back(*c);
    }
    auto has_column = [&](const std::string& n, ColumnType type) {
      for (const auto& c : g.columns) {
        if (c.name == n) return c.type == type;
      }
      return false;
    };
    const std::string refresh = String(t, "refresh", where, true);
    g.partition_by = Strings(t, "partition_by", where);
    if (refresh == "date_partitions") {
      g.refresh = GoldRefresh::kDatePartitions;
      if (g.partition_by.size() != 1 || !has_column(g.partition_by[0], ColumnType::kDate)) {
        Error(t.get("partition_by") ? t.get("partition_by") : &t,
              where + ": refresh = \"date_partitions\" needs partition_by = [\"<a date column of the schema>\"]");
      }
      g.silver_date = String(t, "silver_date", where, true);
      g.prune_column = String(t, "prune_column", where, false);
      if (g.prune_column.empty() && SilverColumn(g.silver_date)) g.prune_column = g.silver_date;
      if (!g.prune_column.empty() && !SilverColumn(g.prune_column)) {
        Error(t.get("prune_column"), where + ": prune_column '" + g.prune_column + "' is not a silver column");
      }
    } else if (refresh == "merge_by_key") {
      g.refresh = GoldRefresh::kMergeByKey;
      g.key = String(t, "key", where, true);
      if (!g.key.empty() && (!SilverColumn(g.key) || !has_column(g.key, SilverColumn(g.key)->type))) {
        Error(t.get("key"), where + ": key '" + g.key + "' must be a column of silver and of the schema, of one type");
      }
      for (const auto& p : g.partition_by) {
        if (!has_column(p, ColumnType::kDate) && !has_column(p, ColumnType::kString)) {
          Error(t.get("partition_by"), where + ": partition_by column '" + p + "' is not a date or string column of the schema");
        }
      }
    } else {
      if (!refresh.empty()) {
        Error(t.get("refresh"), where + ": refresh '" + refresh + "' must be \"date_partitions\" (rewrite the dates the "
                                "new silver rows touch) or \"merge_by_key\" (recompute the keys they touch)");
      }
      g.refresh = GoldRefresh::kDatePartitions;  // keeps IsSql() true for the checks below
    }
    for (const char* k : {"silver_date", "prune_column"}) {
      if (g.refresh != GoldRefresh::kDatePartitions && t.get(k)) {
        Error(t.get(k), where + ": " + k + " is for refresh = \"date_partitions\"");
      }
    }
    if (g.refresh != GoldRefresh::kMergeByKey && t.get("key")) {
      Error(t.get("key"), where + ": key is for refresh = \"merge_by_key\"");
    }
    g.op = String(t, "operator", where, false);
    if (!g.op.empty() && g.op != "rfm") {
      Error(t.get("operator"), where + ": operator '" + g.op + "' is not a built-in operator; the one there is: \"rfm\"");
    }
    if (g.op == "rfm") {
      if (g.refresh != GoldRefresh::kMergeByKey) {
        Error(t.get("operator"), where + ": operator \"rfm\" ranks every key, so it needs refresh = \"merge_by_key\"");
      }
      for (const char* c : kRfmOutputColumns) {
        if (!names.count(c)) Error(t.get("schema"), where + ": operator \"rfm\" adds column " + c + "; declare it in schema");
      }
      if (const toml::node* n = t.get("rfm")) {
        if (const toml::table* rt = n->as_table()) {
          OnlyKeys(*rt, {"last_date", "frequency", "monetary"}, where + " rfm");
          for (auto [k, target] : {std::pair<const char*, std::string*>{"last_date", &g.rfm.last_date},
                                   {"frequency", &g.rfm.frequency},
                                   {"monetary", &g.rfm.monetary}}) {
            std::string v = String(*rt, k, where + " rfm", false);
            if (!v.empty()) *target = v;
          }
        } else {
          Error(n, where + ": rfm must be a table { last_date = …, frequency = …, monetary = … }");
        }
      }
    } else if (t.get("rfm")) {
      Error(t.get("rfm"), where + ": rfm is for operator = \"rfm\"");
    }
  }

  void ParseGold(const toml::table& root) {
    std::set<std::string> names;
    for (const toml::table* t : Entries(root, "gold", "[[gold]]")) {
      GoldSpec g;
      g.line = static_cast<int>(t->source().begin.line);
      g.name = String(*t, "name", "[[gold]]", true);
      if (g.name.empty()) continue;
      const std::string where = "gold table '" + g.name + "'";
      if (!ValidName(g.name)) {
        Error(t->get("name"), "gold table name '" + g.name + "' must be lower-case letters, digits and '_'");
      }
      if (!names.insert(g.name).second) Error(t->get("name"), where + " is declared twice");
      g.location = String(*t, "location", where, false);
      if (g.location.empty()) g.location = "gold/" + g.name;
      if (!ValidLocation(g.location)) Error(t->get("location"), where + ": location must be a relative path such as gold/x");
      g.description = String(*t, "description", where, false);
      if (t->get("sql")) {
        ParseSqlGold(*t, g, where);
        spec_.gold.push_back(std::move(g));
        continue;
      }
      OnlyKeys(*t, {"name", "location", "description", "window", "window_column", "group_by", "filter", "measures",
                    "late_events"},
               "[[gold]] (a window aggregation; a table defined by SQL has sql = \"SELECT …\")");
      if (!spec_.source_format().declared_schema || spec_.event_time.empty()) {
        Error(t, where + ": a window aggregation needs a declared [schema] with [silver] event_time; define this "
                 "table by sql = \"SELECT … FROM silver …\" instead (docs/pipelines/README.md)");
      }
      std::string window = String(*t, "window", where, true);
      if (window == "1m") {
        g.window_ms = 60000;
      } else if (window == "1h") {
        g.window_ms = 3600000;
      } else if (window == "1d") {
        g.window_ms = 86400000;
      } else if (!window.empty()) {
        Error(t->get("window"), where + ": window '" + window + "' must be \"1m\", \"1h\" or \"1d\" (tumbling, on event time)");
      }
      g.window_column = String(*t, "window_column", where, false);
      if (g.window_column.empty()) g.window_column = g.window_ms == 86400000 ? "event_date" : "window_start";
      if (!ValidName(g.window_column)) Error(t->get("window_column"), where + ": window_column must be a lower-case name");
      g.group_by = Strings(*t, "group_by", where);
      std::set<std::string> cols = {g.window_column, g.PartitionColumn()};
      for (const auto& k : g.group_by) {
        if (!spec_.Field(k) && !spec_.Lookup(k)) {
          Error(t->get("group_by"), where + ": group_by key '" + k + "' is not a field of [schema] or a lookup");
        }
        if (!cols.insert(k).second) Error(t->get("group_by"), where + ": column '" + k + "' appears twice");
      }
      g.filter = String(*t, "filter", where, false);
      if (g.filter.find(';') != std::string::npos) Error(t->get("filter"), where + ": filter must be one SQL condition, without ';'");
      g.late_events = String(*t, "late_events", where, false);
      if (g.late_events.empty()) g.late_events = "include";
      if (g.late_events != "include" && g.late_events != "adjustments") {
        Error(t->get("late_events"), where + ": late_events must be \"include\" or \"adjustments\"");
      }
      if (g.late_events == "adjustments" && g.window_ms != 86400000) {
        Error(t->get("late_events"), where + ": late_events = \"adjustments\" needs window = \"1d\" (days are what the watermark finalises)");
      }
      const toml::node* mn = t->get("measures");
      const toml::array* ma = mn ? mn->as_array() : nullptr;
      if (!ma || ma->empty()) {
        Error(mn ? mn : t, where + " needs measures = [{ name = \"…\", fn = \"count\" }, …]");
      } else {
        for (const auto& e : *ma) {
          const toml::table* mt = e.as_table();
          if (!mt) {
            Error(&e, where + ": each measure must be an inline table { name = …, fn = …, column = … }");
            continue;
          }
          OnlyKeys(*mt, {"name", "fn", "column"}, where + " measure");
          MeasureSpec m;
          m.line = static_cast<int>(mt->source().begin.line);
          m.name = String(*mt, "name", where + " measure", true);
          m.fn = String(*mt, "fn", where + " measure '" + m.name + "'", true);
          m.column = String(*mt, "column", where + " measure '" + m.name + "'", false);
          if (!m.name.empty() && (!ValidName(m.name) || !cols.insert(m.name).second)) {
            Error(mt->get("name"), where + ": measure name '" + m.name + "' must be a new lower-case column name");
          }
          if (m.fn == "count") {
            if (!m.column.empty()) Error(mt->get("column"), where + ": count counts rows and takes no column");
          } else if (m.fn == "sum" || m.fn == "min" || m.fn == "max" || m.fn == "count_distinct") {
            if (m.column.empty() || !GoldColumn(m.column)) {
              Error(mt->get("column") ? mt->get("column") : mt,
                    where + ": measure '" + m.name + "' needs column = a field of [schema] or a lookup");
            } else if (m.fn == "sum") {
              const FieldSpec* f = spec_.Field(m.column);
              const LookupSpec* l = spec_.Lookup(m.column);
              ColumnType ct = f ? f->column.type : l ? l->column.type : ColumnType::kString;
              if (ct != ColumnType::kInt32 && ct != ColumnType::kInt64 && ct != ColumnType::kDecimal &&
                  ct != ColumnType::kDouble) {
                Error(mt->get("column"), where + ": sum needs a numeric column; '" + m.column + "' is not");
              }
            }
          } else if (!m.fn.empty()) {
            Error(mt->get("fn"), where + ": fn '" + m.fn + "' is not one of count, sum, min, max, count_distinct");
          }
          g.measures.push_back(std::move(m));
        }
      }
      spec_.gold.push_back(std::move(g));
    }
    if (spec_.gold.empty()) Error(nullptr, "declare at least one [[gold]] table");
    std::set<std::string> locations;
    for (const auto& g : spec_.gold) {
      if (!locations.insert(g.location).second) Error(nullptr, "two gold tables share the location " + g.location);
      if (g.late_events == "adjustments") locations.insert(g.location + "_adjustments");
    }
  }

  void ParseSinks(const toml::table& root) {
    spec_.bronze_table = "bronze/" + spec_.name;
    spec_.silver_table = "silver/" + spec_.name;
    spec_.quarantine_table = "silver/" + spec_.name + "_quarantine";
    const toml::node* n = root.get("sinks");
    if (!n) return;
    if (!spec_.source_format().declared_schema) {
      Error(n, "[sinks] is not supported with format = \"" + spec_.format + "\": the dashboard and API read its tables "
               "at bronze/<name>, silver/<name>, silver/<name>_quarantine and gold/<table> under the lake root");
      return;
    }
    const toml::table* t = n->as_table();
    if (!t) {
      Error(n, "[sinks] must be a table of bronze/silver/quarantine locations");
      return;
    }
    OnlyKeys(*t, {"bronze", "silver", "quarantine"}, "[sinks]");
    for (auto [key, target] : {std::pair<const char*, std::string*>{"bronze", &spec_.bronze_table},
                               {"silver", &spec_.silver_table},
                               {"quarantine", &spec_.quarantine_table}}) {
      std::string v = String(*t, key, "[sinks]", false);
      if (v.empty()) continue;
      if (!ValidLocation(v)) {
        Error(t->get(key), std::string("[sinks].") + key + " must be a relative path under the lake root, e.g. bronze/" +
                               spec_.name);
      }
      *target = v;
    }
  }

  inline static const std::set<std::string> kReservedColumns = {
      "event_date", "arrived_after_close", "kafka_partition", "kafka_offset", "bronze_version", "ingest_time"};

  PipelineSpec spec_;
  std::vector<ColumnSpec> silver_columns_;  // SilverColumn's last answer lives here
};

}  // namespace

Result<PipelineSpec> ParsePipelineSpec(std::string_view text, const std::string& file) {
  return SpecParser(file).Parse(text);
}

Result<PipelineSpec> LoadPipelineSpec(const std::string& path) {
  std::ifstream f(path);
  if (!f) return NotFound("cannot read the pipeline file {}: check the path given to --pipeline", path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ParsePipelineSpec(ss.str(), path);
}

std::string PipelineSpec::KeyMember() const {
  // The order-line contract names its members in the source's own spelling (docs/events/order-events.md).
  if (format == kOrderLineFormat) return key == "transaction_no" ? "TransactionNo" : key;
  return key;
}

Result<PipelineSpec> DefaultOrdersPipelineSpec() {
  return ParsePipelineSpec(kOrdersPipelineToml, "built-in pipelines/orders.toml");
}

std::vector<ColumnSpec> SilverColumnsOf(const PipelineSpec& spec) {
  if (spec.source_format().declared_schema) return DeclaredSilverColumns(spec);
  // order-line.v1 (docs/pipelines/orders.md, "Silver").
  return {
      {"event_id", ColumnType::kString, false},
      {"event_time", ColumnType::kTimestampMicros, true},
      {"order_date", ColumnType::kDate, true},
      {"transaction_no", ColumnType::kString, true},
      {"product_no", ColumnType::kString, true},
      {"product_name", ColumnType::kString, true},
      {"quantity", ColumnType::kInt32, true},
      {"unit_price_gbp", ColumnType::kDecimal, true, 12, 3},
      {"line_revenue_gbp", ColumnType::kDecimal, true, 18, 3},
      {"customer_no", ColumnType::kString, true},
      {"country", ColumnType::kString, true},
      {"is_cancellation", ColumnType::kBool, false},
      {"is_adjustment", ColumnType::kBool, false},
      {"kafka_partition", ColumnType::kInt32, false},
      {"kafka_offset", ColumnType::kInt64, false},
      {"bronze_version", ColumnType::kInt64, false},
      {"ingest_time", ColumnType::kTimestampMicros, false},
  };
}

std::vector<ColumnSpec> DeclaredSilverColumns(const PipelineSpec& spec) {
  std::vector<ColumnSpec> cols;
  for (const auto& f : spec.fields) cols.push_back(f.column);
  cols.push_back({"event_date", ColumnType::kDate, false});
  cols.push_back({"arrived_after_close", ColumnType::kBool, false});
  cols.push_back({"kafka_partition", ColumnType::kInt32, false});
  cols.push_back({"kafka_offset", ColumnType::kInt64, false});
  cols.push_back({"bronze_version", ColumnType::kInt64, false});
  cols.push_back({"ingest_time", ColumnType::kTimestampMicros, false});
  return cols;
}

std::vector<ColumnSpec> GoldColumns(const PipelineSpec& spec, const GoldSpec& g, bool adjustments) {
  if (g.IsSql()) return g.columns;
  std::vector<ColumnSpec> cols;
  if (g.window_ms == 86400000) {
    cols.push_back({g.window_column, ColumnType::kDate, false});
  } else {
    cols.push_back({"event_date", ColumnType::kDate, false});
    if (g.window_ms == 60000) cols.push_back({"event_hour", ColumnType::kInt32, false});
    cols.push_back({g.window_column, ColumnType::kTimestampMicros, false});
  }
  if (adjustments) cols.push_back({"recorded_on", ColumnType::kDate, false});
  auto column_of = [&](const std::string& name) -> ColumnSpec {
    if (const FieldSpec* f = spec.Field(name)) return f->column;
    if (const LookupSpec* l = spec.Lookup(name)) return l->column;
    if (name == "ingest_time") return {name, ColumnType::kTimestampMicros, false};
    return {name, ColumnType::kDate, false};
  };
  for (const auto& k : g.group_by) {
    ColumnSpec c = column_of(k);
    c.nullable = true;
    cols.push_back(c);
  }
  for (const auto& m : g.measures) {
    ColumnSpec c;
    if (m.fn == "count" || m.fn == "count_distinct") {
      c = {m.name, ColumnType::kInt64, false};
    } else {
      c = column_of(m.column);
      c.name = m.name;
      c.nullable = true;
      if (m.fn == "sum") {
        if (c.type == ColumnType::kDecimal) {
          c.precision = 18;
        } else if (c.type != ColumnType::kDouble) {
          c.type = ColumnType::kInt64;
        }
      }
    }
    cols.push_back(c);
  }
  if (g.late_events == "adjustments" && !adjustments) cols.push_back({"is_final", ColumnType::kBool, false});
  return cols;
}

Status CheckPipelineSql(const PipelineSpec& spec, ColumnarEngine& engine) {
  std::vector<ColumnSpec> silver = SilverColumnsOf(spec);
  std::vector<std::string> errors;
  {
    for (const auto& x : spec.silver.expectations) {
      Status st = engine.CheckPredicates(silver, {x.condition});
      if (!st.ok()) {
        errors.push_back(fmt::format("{}:{}: the condition of expectation '{}' is not a valid SQL condition over the "
                                     "silver columns: {}",
                                     spec.file, x.line, x.name, st.message()));
      }
    }
    std::vector<ColumnSpec> with_lookups = silver;
    for (const auto& l : spec.lookups) with_lookups.push_back(l.column);
    const std::string empty_silver = EmptyRelation(silver);
    for (const auto& v : spec.views) {
      Status st = engine.Query(GoldSqlScope(spec, empty_silver) + "SELECT * FROM " + ColumnarEngine::QuoteIdentifier(v.name) + " LIMIT 0").status();
      if (!st.ok()) {
        errors.push_back(fmt::format("{}:{}: the sql of view '{}' does not run over silver and the views before it: {}",
                                     spec.file, v.line, v.name, st.message()));
      }
    }
    for (const auto& g : spec.gold) {
      if (g.IsSql()) {
        if (std::string e = CheckSqlGold(spec, g, engine, empty_silver); !e.empty()) {
          errors.push_back(fmt::format("{}:{}: gold table '{}': {}", spec.file, g.line, g.name, e));
        }
        continue;
      }
      if (g.filter.empty()) continue;
      Status st = engine.CheckPredicates(with_lookups, {g.filter});
      if (!st.ok()) {
        errors.push_back(fmt::format("{}:{}: the filter of gold table '{}' is not a valid SQL condition over the silver "
                                     "columns and lookups: {}",
                                     spec.file, g.line, g.name, st.message()));
      }
    }
  }
  if (errors.empty()) return Status::OK();
  std::string all;
  for (const auto& e : errors) all += (all.empty() ? "" : "\n") + e;
  return InvalidArgument("{}", all);
}

}  // namespace lakestream
