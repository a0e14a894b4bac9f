#include "format/schema_decoder.h"

#include <simdjson.h>

#include <unordered_map>

#include "common/time.h"
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
  simdjson::dom::parser parser;
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

std::string Shown(simdjson::dom::element v) {
  std::string s = simdjson::minify(v);
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

const char* TypeName(const ColumnSpec& c) {
  switch (c.type) {
    case ColumnType::kString: return "a string";
    case ColumnType::kInt32: return "an integer (32-bit)";
    case ColumnType::kInt64: return "an integer";
    case ColumnType::kDouble: return "a number";
    case ColumnType::kBool: return "true or false";
    case ColumnType::kTimestampMicros: return "an ISO 8601 date-time with an offset, e.g. 2020-02-03T14:00:01.001+00:00";
    case ColumnType::kDate: return "a date YYYY-MM-DD";
    case ColumnType::kDecimal: return "a decimal number";
    default: return "a supported value";
  }
}

}  // namespace

bool SchemaDecoder::Decode(std::string_view payload, RecordBatch& out, DecodeError* why) {
  simdjson::dom::element doc;
  auto err = impl_->parser.parse(payload.data(), payload.size(), true).get(doc);
  if (err != simdjson::SUCCESS) {
    *why = {"valid_json", std::string("payload is not valid JSON: ") + simdjson::error_message(err)};
    return false;
  }
  simdjson::dom::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) {
    *why = {"valid_json", "payload is JSON but not an object"};
    return false;
  }
  auto& values = impl_->values;
  for (auto& v : values) v.is_null = true;
  for (auto field : obj) {
    auto it = impl_->index.find(std::string(field.key));
    if (it == impl_->index.end()) {
      if (impl_->unknown_are_errors) {
        *why = {"schema", "/" + std::string(field.key) + ": not a field of the schema (unknown_fields = \"quarantine\")"};
        return false;
      }
      continue;
    }
    const DecodedField& f = impl_->fields[it->second];
    auto& out_v = values[it->second];
    simdjson::dom::element v = field.value;
    if (v.is_null()) continue;
    bool ok = true;
    switch (f.column.type) {
      case ColumnType::kString:
        if (v.is_string()) {
          out_v.s = std::string(std::string_view(v));
        } else if (v.is_int64() || v.is_uint64()) {
          out_v.s = simdjson::minify(v);
        } else {
          ok = false;
        }
        break;
      case ColumnType::kInt32:
      case ColumnType::kInt64: {
        int64_t n = 0;
        ok = v.get_int64().get(n) == simdjson::SUCCESS &&
             (f.column.type == ColumnType::kInt64 || (n >= INT32_MIN && n <= INT32_MAX));
        out_v.i = n;
        break;
      }
      case ColumnType::kDouble:
        ok = v.is_number() && v.get_double().get(out_v.d) == simdjson::SUCCESS;
        break;
      case ColumnType::kBool: {
        bool b = false;
        ok = v.get_bool().get(b) == simdjson::SUCCESS;
        out_v.i = b ? 1 : 0;
        break;
      }
      case ColumnType::kTimestampMicros: {
        std::optional<int64_t> us;
        if (v.is_string()) us = ParseIsoTimestampWithOffset(std::string_view(v));
        ok = us.has_value();
        if (ok) out_v.i = *us;
        break;
      }
      case ColumnType::kDate: {
        std::string_view t;
        ok = v.get_string().get(t) == simdjson::SUCCESS && t.size() == 10 && t[4] == '-' && t[7] == '-';
        if (ok) {
          int y = 0, m = 0, d = 0;
          ok = std::sscanf(std::string(t).c_str(), "%4d-%2d-%2d", &y, &m, &d) == 3 &&
               IsValidDate(y, static_cast<unsigned>(m), static_cast<unsigned>(d));
          if (ok) out_v.i = DaysFromCivil(y, static_cast<unsigned>(m), static_cast<unsigned>(d));
        }
        break;
      }
      case ColumnType::kDecimal: {
        std::string text = v.is_number() ? simdjson::minify(v) : v.is_string() ? std::string(std::string_view(v)) : "";
        auto n = ParseScaledDecimal(text, f.column.scale);
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
