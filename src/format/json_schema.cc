#include "format/json_schema.h"

#include <simdjson.h>

#include <map>
#include <optional>
#include <regex>
#include <vector>

#include "common/strings.h"
#include "common/time.h"

namespace lakestream {

using simdjson::dom::element;
using simdjson::dom::element_type;

struct JsonSchema::Node {
  std::vector<std::string> types;  // empty = any
  std::optional<std::string> const_json;  // canonical minified JSON
  std::vector<std::string> enum_json;
  std::vector<std::string> required;
  std::map<std::string, std::unique_ptr<Node>> properties;
  bool additional_properties = true;
  std::optional<int64_t> min_length, max_length;
  std::optional<double> minimum, maximum;
  std::optional<std::regex> pattern;
  std::string pattern_text;
  bool format_date_time = false;
};

JsonSchema::JsonSchema() = default;
JsonSchema::~JsonSchema() = default;
JsonSchema::JsonSchema(JsonSchema&&) noexcept = default;

namespace {

std::string Minify(const element& e) { return simdjson::minify(e); }

Result<std::unique_ptr<JsonSchema::Node>> Compile(const element& e, const std::string& where) {
  auto node = std::make_unique<JsonSchema::Node>();
  simdjson::dom::object obj;
  if (e.get(obj) != simdjson::SUCCESS) return InvalidArgument("schema at {}: expected an object", where);
  for (auto [key, value] : obj) {
    std::string k(key);
    if (k == "type") {
      if (value.is_string()) {
        node->types.emplace_back(std::string_view(value));
      } else if (value.is_array()) {
        for (auto t : value.get_array()) node->types.emplace_back(std::string_view(t));
      } else {
        return InvalidArgument("schema at {}: 'type' must be a string or an array", where);
      }
    } else if (k == "const") {
      node->const_json = Minify(value);
    } else if (k == "enum") {
      if (!value.is_array()) return InvalidArgument("schema at {}: 'enum' must be an array", where);
      for (auto v : value.get_array()) node->enum_json.push_back(Minify(v));
    } else if (k == "required") {
      if (!value.is_array()) return InvalidArgument("schema at {}: 'required' must be an array", where);
      for (auto v : value.get_array()) node->required.emplace_back(std::string_view(v));
    } else if (k == "properties") {
      simdjson::dom::object props;
      if (value.get(props) != simdjson::SUCCESS) {
        return InvalidArgument("schema at {}: 'properties' must be an object", where);
      }
      for (auto [pk, pv] : props) {
        ASSIGN_OR_RETURN(auto child, Compile(pv, where + "/properties/" + std::string(pk)));
        node->properties.emplace(std::string(pk), std::move(child));
      }
    } else if (k == "additionalProperties") {
      if (!value.is_bool()) {
        return InvalidArgument("schema at {}: only boolean 'additionalProperties' is supported", where);
      }
      node->additional_properties = bool(value);
    } else if (k == "minLength") {
      node->min_length = int64_t(value);
    } else if (k == "maxLength") {
      node->max_length = int64_t(value);
    } else if (k == "minimum") {
      node->minimum = double(value);
    } else if (k == "maximum") {
      node->maximum = double(value);
    } else if (k == "pattern") {
      node->pattern_text = std::string(std::string_view(value));
      try {
        node->pattern.emplace(node->pattern_text, std::regex::ECMAScript);
      } catch (const std::regex_error& err) {
        return InvalidArgument("schema at {}: bad pattern '{}': {}", where, node->pattern_text,
                               err.what());
      }
    } else if (k == "format") {
      node->format_date_time = std::string_view(value) == "date-time";
    }
  }
  return node;
}

const char* TypeName(const element& e) {
  switch (e.type()) {
    case element_type::ARRAY: return "array";
    case element_type::OBJECT: return "object";
    case element_type::INT64:
    case element_type::UINT64: return "integer";
    case element_type::DOUBLE: return "number";
    case element_type::STRING: return "string";
    case element_type::BOOL: return "boolean";
    case element_type::NULL_VALUE: return "null";
  }
  return "unknown";
}

bool TypeMatches(const std::string& t, const element& e) {
  auto et = e.type();
  if (t == "number") {
    return et == element_type::INT64 || et == element_type::UINT64 || et == element_type::DOUBLE;
  }
  if (t == "integer") {
    if (et == element_type::INT64 || et == element_type::UINT64) return true;
    if (et == element_type::DOUBLE) {
      double d = double(e);
      return d == static_cast<double>(static_cast<int64_t>(d));
    }
    return false;
  }
  return t == TypeName(e);
}

Status ValidateNode(const JsonSchema::Node& node, const element& e, const std::string& ptr) {
  const std::string at = ptr.empty() ? "/" : ptr;
  if (!node.types.empty()) {
    bool ok = false;
    for (const auto& t : node.types) ok = ok || TypeMatches(t, e);
    if (!ok) {
      std::string want;
      for (const auto& t : node.types) want += (want.empty() ? "" : " or ") + t;
      return InvalidArgument("{}: expected type {}, got {}", at, want, TypeName(e));
    }
  }
  if (node.const_json && Minify(e) != *node.const_json) {
    return InvalidArgument("{}: must equal {}, got {}", at, *node.const_json, Minify(e));
  }
  if (!node.enum_json.empty()) {
    std::string m = Minify(e);
    bool ok = false;
    for (const auto& v : node.enum_json) ok = ok || v == m;
    if (!ok) return InvalidArgument("{}: value {} is not one of the allowed values", at, m);
  }
  if (e.is_string()) {
    std::string_view s(e);
    size_t len = Utf8Length(s);
    if (node.min_length && static_cast<int64_t>(len) < *node.min_length) {
      return InvalidArgument("{}: string shorter than {} characters", at, *node.min_length);
    }
    if (node.max_length && static_cast<int64_t>(len) > *node.max_length) {
      return InvalidArgument("{}: string longer than {} characters", at, *node.max_length);
    }
    if (node.pattern && !std::regex_search(s.begin(), s.end(), *node.pattern)) {
      return InvalidArgument("{}: '{}' does not match pattern {}", at, s, node.pattern_text);
    }
    if (node.format_date_time) {
      // RFC 3339: full date, 'T', time, and a mandatory offset.
      bool has_offset = !s.empty() && (s.back() == 'Z' || s.back() == 'z' ||
                                       (s.size() > 6 && (s[s.size() - 6] == '+' || s[s.size() - 6] == '-')));
      static const auto kUtc = *TimeZoneRule::Parse("UTC");
      if (s.size() < 20 || s[10] != 'T' || !has_offset || !ParseEventTimeMicros(s, kUtc)) {
        return InvalidArgument("{}: '{}' is not an RFC 3339 date-time with offset", at, s);
      }
    }
  }
  if (e.is_number() && (node.minimum || node.maximum)) {
    double d = double(e);
    if (node.minimum && d < *node.minimum) {
      return InvalidArgument("{}: {} is below the minimum {}", at, Minify(e), *node.minimum);
    }
    if (node.maximum && d > *node.maximum) {
      return InvalidArgument("{}: {} is above the maximum {}", at, Minify(e), *node.maximum);
    }
  }
  if (e.is_object()) {
    simdjson::dom::object obj = e.get_object();
    for (const auto& r : node.required) {
      if (obj.at_key(r).error() != simdjson::SUCCESS) {
        return InvalidArgument("{}{}: required field is missing", ptr, "/" + r);
      }
    }
    for (auto [k, v] : obj) {
      auto it = node.properties.find(std::string(k));
      if (it != node.properties.end()) {
        RETURN_IF_ERROR(ValidateNode(*it->second, v, ptr + "/" + std::string(k)));
      } else if (!node.additional_properties) {
        return InvalidArgument("{}/{}: field is not allowed by the schema", ptr, k);
      }
    }
  }
  return Status::OK();
}

}  // namespace

Result<JsonSchema> JsonSchema::Parse(std::string_view schema_json) {
  simdjson::dom::parser parser;
  element root;
  auto err = parser.parse(schema_json.data(), schema_json.size()).get(root);
  if (err != simdjson::SUCCESS) {
    return InvalidArgument("schema is not valid JSON: {}", simdjson::error_message(err));
  }
  JsonSchema schema;
  ASSIGN_OR_RETURN(schema.root_, Compile(root, "#"));
  return schema;
}

Status JsonSchema::Validate(const element& doc) const { return ValidateNode(*root_, doc, ""); }

}  // namespace lakestream
