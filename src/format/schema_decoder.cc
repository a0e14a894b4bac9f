#include "format/schema_decoder.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include <unordered_map>

#include "common/time.h"
#include "format/json_object.h"
#include "format/order_event.h"

namespace lakestream {

std::optional<int64_t> ParseIsoTimestampWithOffset(std::string_view t) {
  if (t.size() < 20 || t[4] != '-' || t[7] != '-' || t[10] != 'T') return std::nullopt;
  bool offset = t.back() == 'Z' || t.back() == 'z';
  if (!offset && t.size() >= 6) {
    std::string_view tail = t.substr(t.size() - 6);
    offset = (tail[0] == '+' || tail[0] == '-') && tail[3] == ':';
  }
  if (!offset) return std::nullopt;
  static const TimeZoneRule kUtc = *TimeZoneRule::Parse("UTC");
  return ParseEventTimeMicros(t, kUtc);
}

struct SchemaDecoder::Impl {
  std::vector<DecodedField> fields;
  std::unordered_map<std::string, size_t> index;
  bool unknown_are_errors = false;
  JsonObjectReader reader;
  std::vector<JsonMember> members;
  // One decoded value per field, staged until the whole record is accepted.
  struct Value {
    bool is_null = true;
    int64_t i = 0;
    double d = 0;
    std::string s;
  };
  std::vector<Value> values;
};

SchemaDecoder::SchemaDecoder(std::vector<DecodedField> fields, bool unknown_fields_are_errors)
    : impl_(new Impl()) {
  impl_->fields = std::move(fields);
  for (size_t i = 0; i < impl_->fields.size(); ++i) impl_->index[impl_->fields[i].name] = i;
  impl_->unknown_are_errors = unknown_fields_are_errors;
  impl_->values.resize(impl_->fields.size());
}
SchemaDecoder::~SchemaDecoder() = default;
size_t SchemaDecoder::num_fields() const { return impl_->fields.size(); }

namespace {

std::string Shown(const JsonMember& v) {
  std::string s = v.kind == JsonKind::kString ? "\"" + v.text + "\"" : v.kind == JsonKind::kNull ? "null" : v.text;
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

// A JSON number token written as an integer (no fraction, no exponent) within int64.
bool IntegerToken(const std::string& t, int64_t* out) {
  if (t.empty() || t.find_first_of(".eE") != std::string::npos) return false;
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(t.c_str(), &end, 10);
  if (errno == ERANGE || end != t.c_str() + t.size()) return false;
  *out = v;
  return true;
}

const char* TypeName(const ColumnSpec& c) {
  switch (c.type) {
    case ColumnType::kString: return "a string";
    case ColumnType::kInt32: return "an integer (32-bit)";
    case ColumnType::kInt64: return "an integer";
    case ColumnType::kDouble: return "a number a double holds (no underflow to 0, no overflow)";
    case ColumnType::kBool: return "true or false";
    case ColumnType::kTimestampMicros: return "an ISO 8601 date-time with an offset, e.g. 2020-02-03T14:00:01.001+00:00";
    case ColumnType::kDate: return "a date YYYY-MM-DD";
    case ColumnType::kDecimal: return "a decimal number";
    default: return "a supported value";
  }
}

}  // namespace

bool SchemaDecoder::Decode(std::string_view payload, RecordBatch& out, DecodeError* why) {
  std::string error;
  if (!impl_->reader.Read(payload, &impl_->members, &error)) {
    *why = {"valid_json", error};
    return false;
  }
  auto& values = impl_->values;
  for (auto& v : values) v.is_null = true;
  for (const JsonMember& v : impl_->members) {
    auto it = impl_->index.find(v.key);
    if (it == impl_->index.end()) {
      if (impl_->unknown_are_errors) {
        *why = {"schema", "/" + v.key + ": not a field of the schema (unknown_fields = \"quarantine\")"};
        return false;
      }
      continue;
    }
    const DecodedField& f = impl_->fields[it->second];
    auto& out_v = values[it->second];
    if (v.kind == JsonKind::kNull) continue;
    bool ok = true;
    switch (f.column.type) {
      case ColumnType::kString: {
        int64_t n = 0;
        if (v.kind == JsonKind::kString) {
          out_v.s = v.text;
        } else if (v.kind == JsonKind::kNumber && IntegerToken(v.text, &n)) {
          out_v.s = v.text;
        } else {
          ok = false;
        }
        break;
      }
      case ColumnType::kInt32:
      case ColumnType::kInt64: {
        int64_t n = 0;
        ok = v.kind == JsonKind::kNumber && IntegerToken(v.text, &n) &&
             (f.column.type == ColumnType::kInt64 || (n >= INT32_MIN && n <= INT32_MAX));
        out_v.i = n;
        break;
      }
      case ColumnType::kDouble:
        // Exactly representable or rounded to the nearest double, but never flushed to 0 or infinity.
        ok = v.kind == JsonKind::kNumber && JsonNumberToDouble(v.text, &out_v.d);
        break;
      case ColumnType::kBool:
        ok = v.kind == JsonKind::kBool;
        out_v.i = v.text == "true" ? 1 : 0;
        break;
      case ColumnType::kTimestampMicros: {
        std::optional<int64_t> us;
        if (v.kind == JsonKind::kString) us = ParseIsoTimestampWithOffset(v.text);
        ok = us.has_value();
        if (ok) out_v.i = *us;
        break;
      }
      case ColumnType::kDate: {
        const std::string& t = v.text;
        ok = v.kind == JsonKind::kString && t.size() == 10 && t[4] == '-' && t[7] == '-';
        if (ok) {
          int y = 0, m = 0, d = 0;
          ok = std::sscanf(t.c_str(), "%4d-%2d-%2d", &y, &m, &d) == 3 &&
               IsValidDate(y, static_cast<unsigned>(m), static_cast<unsigned>(d));
          if (ok) out_v.i = DaysFromCivil(y, static_cast<unsigned>(m), static_cast<unsigned>(d));
        }
        break;
      }
      case ColumnType::kDecimal: {
        std::optional<int64_t> n;
        if (v.kind == JsonKind::kNumber || v.kind == JsonKind::kString) {
          n = ParseScaledDecimal(v.text, f.column.scale, v.kind == JsonKind::kNumber);
        }
        int64_t limit = 1;
        for (int i = 0; i < f.column.precision; ++i) limit *= 10;
        ok = n.has_value() && *n < limit && *n > -limit;
        if (ok) out_v.i = *n;
        break;
      }
      default:
        ok = false;
    }
    if (!ok) {
      *why = {"schema", "/" + f.name + ": expected " + TypeName(f.column) + ", got " + Shown(v)};
      return false;
    }
    out_v.is_null = false;
  }
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i].is_null && impl_->fields[i].required) {
      *why = {"schema", "/" + impl_->fields[i].name + ": required, but absent or null"};
      return false;
    }
  }
  for (size_t i = 0; i < values.size(); ++i) {
    const auto& v = values[i];
    if (v.is_null) {
      out.AppendNull(i);
      continue;
    }
    switch (impl_->fields[i].column.type) {
      case ColumnType::kString: out.AppendString(i, v.s); break;
      case ColumnType::kDouble: out.AppendDouble(i, v.d); break;
      case ColumnType::kBool: out.AppendBool(i, v.i != 0); break;
      default: out.AppendInt(i, v.i); break;
    }
  }
  return true;
}

}  // namespace lakestream
