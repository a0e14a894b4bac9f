#include "format/order_event.h"

#include <simdjson.h>

#include <cstdlib>
#include <stdexcept>

#include "common/ids.h"
#include "common/json_writer.h"
#include "common/strings.h"
#include "format/json_schema.h"
#include "format/order_line_schema_embed.h"

namespace lakestream {

std::string_view OrderEventSchemaText() { return kOrderLineSchemaV1; }

std::string EventIdForSourceLine(std::string_view source_name, int64_t line) {
  return NameBasedUuid(std::string(source_name) + ":" + std::to_string(line));
}

namespace {

// JSON number grammar (RFC 8259 §6).
bool IsJsonNumber(std::string_view s, bool integer_only) {
  size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  if (i >= s.size()) return false;
  if (s[i] == '0') {
    ++i;
  } else if (s[i] >= '1' && s[i] <= '9') {
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  } else {
    return false;
  }
  if (integer_only) return i == s.size();
  if (i < s.size() && s[i] == '.') {
    ++i;
    size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == start) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == start) return false;
  }
  return i == s.size();
}
}  // namespace

std::string EncodeOrderEvent(const OrderLine& line, const OrderEnvelope& env) {
  JsonWriter w;
  w.BeginObject();
  w.Key("event_type").String("order_line");
  w.Key("schema_version").Int(1);
  w.Key("event_id").String(env.event_id);
  w.Key("event_time");
  if (env.event_time_us) {
    w.String(FormatTimestampIso(*env.event_time_us));
  } else {
    w.Null();
  }
  if (!env.source_name.empty()) {
    w.Key("source").BeginObject().Key("name").String(env.source_name);
    if (env.source_line > 0) w.Key("line").Int(env.source_line);
    w.EndObject();
  }
  w.Key("TransactionNo").String(line.transaction_no);
  w.Key("Date").String(line.date);
  w.Key("ProductNo").String(line.product_no);
  w.Key("ProductName").String(line.product_name);
  std::string_view price = TrimBlanks(line.price);
  w.Key("Price");
  if (IsJsonNumber(price, false)) {
    w.Raw(price);
  } else {
    w.String(line.price);
  }
  std::string_view qty = TrimBlanks(line.quantity);
  w.Key("Quantity");
  if (IsJsonNumber(qty, true)) {
    w.Raw(qty);
  } else {
    w.String(line.quantity);
  }
  w.Key("CustomerNo");
  if (line.customer_no.empty()) {
    w.Null();
  } else {
    w.String(line.customer_no);
  }
  w.Key("Country").String(line.country);
  w.EndObject();
  return w.Take();
}

std::optional<int64_t> ParseScaledDecimal(std::string_view s, int scale) {
  s = TrimBlanks(s);
  bool neg = false;
  size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) {
    neg = s[i] == '-';
    ++i;
  }
  if (i >= s.size()) return std::nullopt;
  __int128 v = 0;
  int frac = -1;
  bool any_digit = false;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c == '.') {
      if (frac >= 0) return std::nullopt;
      frac = 0;
      continue;
    }
    if (c < '0' || c > '9') return std::nullopt;
    any_digit = true;
    if (frac >= 0) {
      if (++frac > scale) {
        if (c != '0') return std::nullopt;  // trailing zeros beyond the scale are harmless
        --frac;
        continue;
      }
    }
    v = v * 10 + (c - '0');
    if (v > static_cast<__int128>(INT64_MAX)) return std::nullopt;
  }
  if (!any_digit) return std::nullopt;
  for (int k = frac < 0 ? 0 : frac; k < scale; ++k) {
    v *= 10;
    if (v > static_cast<__int128>(INT64_MAX)) return std::nullopt;
  }
  return static_cast<int64_t>(neg ? -v : v);
}

std::string FormatScaledDecimal(int64_t value, int scale) {
  bool neg = value < 0;
  unsigned __int128 v = neg ? -static_cast<__int128>(value) : value;
  std::string digits;
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  } while (v > 0);
  while (static_cast<int>(digits.size()) <= scale) digits.insert(digits.begin(), '0');
  if (scale > 0) digits.insert(digits.end() - scale, '.');
  return neg ? "-" + digits : digits;
}

struct OrderEventDecoder::Impl {
  TimeZoneRule zone;
  simdjson::dom::parser parser;
  JsonSchema schema;
};

namespace {
JsonSchema LoadSchema() {
  auto s = JsonSchema::Parse(OrderEventSchemaText());
  if (!s.ok()) throw std::logic_error("embedded order-line schema is invalid: " + s.status().ToString());
  return std::move(s).value();
}
}  // namespace

OrderEventDecoder::OrderEventDecoder(TimeZoneRule zone)
    : impl_(new Impl{std::move(zone), simdjson::dom::parser(), LoadSchema()}) {}
OrderEventDecoder::~OrderEventDecoder() = default;

bool OrderEventDecoder::Decode(std::string_view payload, OrderRecord* out, Rejection* why) {
  simdjson::dom::element doc;
  auto err = impl_->parser.parse(payload.data(), payload.size(), true).get(doc);
  if (err != simdjson::SUCCESS) {
    *why = {"valid_json", std::string("payload is not valid JSON: ") + simdjson::error_message(err)};
    return false;
  }
  Status st = impl_->schema.Validate(doc);
  if (!st.ok()) {
    *why = {"contract", "order-line.v1 schema: " + st.message()};
    return false;
  }
  auto str = [&](const char* k) { return std::string(std::string_view(doc[k])); };
  out->event_id = str("event_id");
  std::string event_time = str("event_time");
  static const auto kUtc = *TimeZoneRule::Parse("UTC");
  auto et = ParseEventTimeMicros(event_time, kUtc);
  if (!et) {
    *why = {"event_time_parseable", "/event_time: '" + event_time + "' is not a valid RFC 3339 time"};
    return false;
  }
  out->event_time_us = *et;
  std::string date_text = str("Date");
  int64_t local_days = 0;
  if (!ParseEventTimeMicros(date_text, impl_->zone, &local_days)) {
    *why = {"date_parseable", "/Date: '" + date_text +
                                  "' is in none of the model's date dialects (docs/events/order-events.md)"};
    return false;
  }
  out->order_date_days = local_days;
  out->transaction_no = std::string(TrimBlanks(str("TransactionNo")));
  out->product_no = std::string(TrimBlanks(str("ProductNo")));
  out->product_name = std::string(TrimBlanks(str("ProductName")));
  out->country = std::string(TrimBlanks(str("Country")));
  auto cust = doc["CustomerNo"];
  if (cust.is_null()) {
    out->customer_no.reset();
  } else {
    out->customer_no = std::string(std::string_view(cust));
  }
  // Exact decimal from the number's own text, never through a double.
  std::string price_text = simdjson::minify(doc["Price"]);
  auto price = ParseScaledDecimal(price_text, 3);
  if (!price || *price >= 1000000000000LL || *price <= -1000000000000LL) {
    *why = {"price_scale", "/Price: " + price_text +
                               " is not a decimal with at most 3 fraction digits below 10^9 GBP"};
    return false;
  }
  if (*price < 0) {
    *why = {"price_non_negative", "/Price: " + price_text + " GBP is negative"};
    return false;
  }
  auto qv = doc["Quantity"];
  int64_t qty = 0;
  if (qv.is_int64()) {
    qty = int64_t(qv);
  } else if (qv.is_uint64()) {
    qty = INT64_MAX;
  } else {
    qty = static_cast<int64_t>(double(qv));  // integral by the schema (e.g. 6.0)
  }
  if (qty < INT32_MIN || qty > INT32_MAX) {
    *why = {"contract", "/Quantity: " + std::to_string(qty) + " does not fit a 32-bit integer"};
    return false;
  }
  out->quantity = static_cast<int32_t>(qty);
  out->unit_price_milli_gbp = *price;
  out->line_revenue_milli_gbp = *price * qty;
  out->is_cancellation = !out->transaction_no.empty() &&
                         (out->transaction_no[0] == 'C' || out->transaction_no[0] == 'c');
  return true;
}

}  // namespace lakestream
