#include "format/json_object.h"

#include <simdjson.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <map>

#include <fmt/format.h>

namespace lakestream {

struct JsonObjectReader::Impl {
  simdjson::ondemand::parser parser;
  std::string buffer;  // the payload followed by simdjson's padding
};

JsonObjectReader::JsonObjectReader() : impl_(new Impl()) {}
JsonObjectReader::~JsonObjectReader() = default;

namespace {

// RFC 8259 §6: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
bool IsJsonNumber(std::string_view t) {
  size_t i = 0;
  auto digits = [&] {
    const size_t from = i;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
    return i > from;
  };
  if (i < t.size() && t[i] == '-') ++i;
  if (i < t.size() && t[i] == '0') {
    ++i;
  } else if (!digits()) {
    return false;
  }
  if (i < t.size() && t[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == t.size();
}

// Where a document's structure breaks, for errors simdjson reports before it has a position: the first
// non-blank byte after the top-level value closed (trailing content), else the end (an unclosed
// string, object or array), else 0.
size_t StructuralProblemOffset(std::string_view p) {
  int depth = 0;
  bool in_string = false, started = false;
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    if (started && depth == 0) return i;  // something after the top-level value
    started = true;
    if (c == '"') in_string = true;
    else if (c == '{' || c == '[') ++depth;
    else if (c == '}' || c == ']') --depth;
    if (depth < 0) return i;
  }
  return depth != 0 || in_string ? p.size() : 0;
}

size_t OffsetOf(const std::string& buffer, const char* at, size_t fallback) {
  if (at == nullptr || at < buffer.data() || at > buffer.data() + buffer.size()) return fallback;
  return static_cast<size_t>(at - buffer.data());
}

}  // namespace

bool JsonObjectReader::Read(std::string_view payload, std::vector<JsonMember>* members, std::string* error) {
  members->clear();
  std::string& buf = impl_->buffer;
  buf.assign(payload.data(), payload.size());
  buf.append(simdjson::SIMDJSON_PADDING, '\0');
  simdjson::ondemand::document doc;
  // Where parsing stopped: the document's position when simdjson can tell, else the payload's end.
  auto fail = [&](simdjson::error_code e, const char* what) {
    const char* at = nullptr;
    size_t offset = StructuralProblemOffset(payload);
    if (doc.current_location().get(at) == simdjson::SUCCESS && OffsetOf(buf, at, 0) > 0) {
      offset = OffsetOf(buf, at, payload.size());
    }
    *error = fmt::format("payload is not valid JSON at byte {} of {}{}: {}", offset, payload.size(),
                         what[0] ? std::string(" (") + what + ")" : "", simdjson::error_message(e));
    return false;
  };
  if (auto e = impl_->parser.iterate(buf.data(), payload.size(), buf.size()).get(doc); e != simdjson::SUCCESS) {
    *error = fmt::format("payload is not valid JSON: {}", simdjson::error_message(e));
    return false;
  }
  simdjson::ondemand::json_type type;
  if (auto e = doc.type().get(type); e != simdjson::SUCCESS) return fail(e, "");
  if (type != simdjson::ondemand::json_type::object) {
    *error = "payload is JSON but not an object";
    return false;
  }
  simdjson::ondemand::object obj;
  if (auto e = doc.get_object().get(obj); e != simdjson::SUCCESS) return fail(e, "");
  std::map<std::string, size_t> seen;  // key -> value offset
  for (auto field : obj) {
    if (auto e = field.error(); e != simdjson::SUCCESS) return fail(e, "");
    JsonMember m;
    std::string_view key;
    if (auto e = field.unescaped_key().get(key); e != simdjson::SUCCESS) return fail(e, "a key");
    m.key = std::string(key);
    simdjson::ondemand::value v = field.value();
    const char* at = nullptr;
    if (v.current_location().get(at) == simdjson::SUCCESS) m.offset = OffsetOf(buf, at, 0);
    simdjson::ondemand::json_type t;
    if (auto e = v.type().get(t); e != simdjson::SUCCESS) return fail(e, m.key.c_str());
    switch (t) {
      case simdjson::ondemand::json_type::string: {
        std::string_view sv;
        if (auto e = v.get_string().get(sv); e != simdjson::SUCCESS) return fail(e, m.key.c_str());
        m.kind = JsonKind::kString;
        m.text = std::string(sv);
        break;
      }
      case simdjson::ondemand::json_type::number: {
        std::string_view token = v.raw_json_token();
        while (!token.empty() && (token.back() == ' ' || token.back() == '\t' || token.back() == '\n' ||
                                  token.back() == '\r')) {
          token.remove_suffix(1);
        }
        // The token must be a JSON number (RFC 8259 §6) even when the decoder never types it.
        if (!IsJsonNumber(token)) {
          *error = fmt::format("payload is not valid JSON at byte {} of {} ({}): '{}' is not a number", m.offset,
                               payload.size(), m.key, std::string(token.substr(0, 40)));
          return false;
        }
        m.kind = JsonKind::kNumber;
        m.text = std::string(token);
        break;
      }
      case simdjson::ondemand::json_type::boolean: {
        bool b = false;
        if (auto e = v.get_bool().get(b); e != simdjson::SUCCESS) return fail(e, m.key.c_str());
        m.kind = JsonKind::kBool;
        m.text = b ? "true" : "false";
        break;
      }
      case simdjson::ondemand::json_type::null: {
        bool is_null = false;
        if (auto e = v.is_null().get(is_null); e != simdjson::SUCCESS || !is_null) {
          return fail(e == simdjson::SUCCESS ? simdjson::N_ATOM_ERROR : e, m.key.c_str());
        }
        m.kind = JsonKind::kNull;
        break;
      }
      case simdjson::ondemand::json_type::object: {
        simdjson::ondemand::object inner;
        std::string_view raw;
        if (auto e = v.get_object().get(inner); e != simdjson::SUCCESS) return fail(e, m.key.c_str());
        if (auto e = inner.raw_json().get(raw); e != simdjson::SUCCESS) return fail(e, m.key.c_str());
        m.kind = JsonKind::kObject;
        m.text = std::string(raw);
        break;
      }
      case simdjson::ondemand::json_type::array: {
        simdjson::ondemand::array inner;
        std::string_view raw;
        if (auto e = v.get_array().get(inner); e != simdjson::SUCCESS) return fail(e, m.key.c_str());
        if (auto e = inner.raw_json().get(raw); e != simdjson::SUCCESS) return fail(e, m.key.c_str());
        m.kind = JsonKind::kArray;
        m.text = std::string(raw);
        break;
      }
    }
    auto [it, fresh] = seen.emplace(m.key, m.offset);
    if (!fresh) {
      *error = fmt::format("key \"{}\" appears twice in the object (values at bytes {} and {}): which one counts is "
                           "undefined (RFC 8259 §4; I-JSON, RFC 7493 §2.3, forbids it)",
                           m.key, it->second, m.offset);
      return false;
    }
    members->push_back(std::move(m));
  }
  // Past the object, the document must end: a location still in bounds is trailing content.
  if (const char* at = nullptr; doc.current_location().get(at) == simdjson::SUCCESS) {
    const size_t offset = OffsetOf(buf, at, payload.size());
    if (offset < payload.size()) {
      *error = fmt::format("payload is not valid JSON at byte {} of {}: content after the object", offset,
                           payload.size());
      return false;
    }
  }
  return true;
}

bool JsonNumberToDouble(std::string_view text, double* value) {
  std::string s(text);
  errno = 0;
  char* end = nullptr;
  const double d = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || errno == ERANGE || !std::isfinite(d)) return false;
  if (d == 0) {
    // Zero only when every digit of the mantissa is zero: "0.0e5" is 0, "1e-400" underflowed.
    for (char c : s) {
      if (c == 'e' || c == 'E') break;
      if (c >= '1' && c <= '9') return false;
    }
  }
  *value = d;
  return true;
}

}  // namespace lakestream
