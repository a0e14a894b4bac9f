#include "format/order_event.h"

#include <simdjson.h>

#include <cctype>
#include <cstdlib>
#include <stdexcept>

#include "common/ids.h"
#include "common/json_writer.h"
#include "common/strings.h"
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
  OrderNormalization norm;
  simdjson::dom::parser parser;
};

OrderEventDecoder::OrderEventDecoder(TimeZoneRule zone, OrderNormalization normalization)
    : impl_(new Impl{std::move(zone), std::move(normalization), simdjson::dom::parser()}) {}
OrderEventDecoder::~OrderEventDecoder() = default;

namespace {

void AddNote(std::string* notes, const std::string& note) {
  if (!notes->empty()) *notes += "; ";
  *notes += note;
}

// A trimmed, non-empty string member; numbers are taken as their JSON text (a numeric stock code);
// null, absent and empty give nullopt; other types give nullopt and a note.
std::optional<std::string> TextField(simdjson::dom::element doc, const char* key, std::string* notes) {
  simdjson::dom::element v;
  if (doc[key].get(v) != simdjson::SUCCESS || v.is_null()) return std::nullopt;
  std::string text;
  if (v.is_string()) {
    text = std::string(TrimBlanks(std::string_view(v)));
  } else if (v.is_number()) {
    text = simdjson::minify(v);
  } else {
    AddNote(notes, std::string("/") + key + ": expected a string, got " + simdjson::minify(v));
    return std::nullopt;
  }
  if (text.empty()) return std::nullopt;
  return text;
}

// The text of a number or numeric string, trimmed.
std::optional<std::string> NumberText(simdjson::dom::element doc, const char* key) {
  simdjson::dom::element v;
  if (doc[key].get(v) != simdjson::SUCCESS || v.is_null()) return std::nullopt;
  if (v.is_number()) return simdjson::minify(v);
  if (v.is_string()) {
    std::string t(TrimBlanks(std::string_view(v)));
    if (!t.empty()) return t;
  }
  return std::nullopt;
}

}  // namespace

bool OrderEventDecoder::Decode(std::string_view payload, OrderRecord* out, Rejection* why) {
  *out = OrderRecord();
  simdjson::dom::element doc;
  auto err = impl_->parser.parse(payload.data(), payload.size(), true).get(doc);
  if (err != simdjson::SUCCESS) {
    *why = {"valid_json", std::string("payload is not valid JSON: ") + simdjson::error_message(err)};
    return false;
  }
  if (!doc.is_object()) {
    *why = {"valid_json", "payload is JSON but not an object"};
    return false;
  }
  std::string_view type, id;
  int64_t version = 0;
  if (doc["event_type"].get(type) != simdjson::SUCCESS || type != "order_line") {
    *why = {"event_envelope", "/event_type: must be \"order_line\" (order-line.v1 contract)"};
    return false;
  }
  if (doc["schema_version"].get(version) != simdjson::SUCCESS || version != 1) {
    *why = {"event_envelope", "/schema_version: must be 1 (order-line.v1 contract)"};
    return false;
  }
  if (doc["event_id"].get(id) != simdjson::SUCCESS || TrimBlanks(id).empty()) {
    *why = {"event_envelope", "/event_id: a non-empty string is required (silver deduplicates on it)"};
    return false;
  }
  out->event_id = std::string(TrimBlanks(id));
  std::string* notes = &out->notes;

  out->transaction_no = TextField(doc, "TransactionNo", notes);
  out->product_no = TextField(doc, "ProductNo", notes);
  out->product_name = TextField(doc, "ProductName", notes);

  if (auto date = TextField(doc, "Date", notes)) {
    int64_t local_days = 0;
    if (auto t = ParseEventTimeMicros(*date, impl_->zone, &local_days)) {
      out->event_time_us = *t;
      out->order_date_days = local_days;
    } else {
      AddNote(notes, "/Date: '" + *date + "' is in none of the model's date dialects");
    }
  } else {
    AddNote(notes, "/Date: missing");
  }

  if (auto price_text = NumberText(doc, "Price")) {
    auto price = ParseScaledDecimal(*price_text, 3);
    if (price && *price < 1000000000000LL && *price > -1000000000000LL) {
      out->unit_price_milli_gbp = *price;
    } else {
      AddNote(notes, "/Price: '" + *price_text + "' is not a decimal with at most 3 fraction digits below 10^9 GBP");
    }
  } else {
    AddNote(notes, "/Price: missing or not a number");
  }

  if (auto qty_text = NumberText(doc, "Quantity")) {
    // Integral values only: "6", 6, 6.0 (a scale-0 decimal); range of a 32-bit integer.
    auto q = ParseScaledDecimal(*qty_text, 0);
    if (q && *q >= INT32_MIN && *q <= INT32_MAX) {
      out->quantity = static_cast<int32_t>(*q);
    } else {
      AddNote(notes, "/Quantity: '" + *qty_text + "' is not a 32-bit integer");
    }
  } else {
    AddNote(notes, "/Quantity: missing or not a number");
  }
  if (out->quantity && out->unit_price_milli_gbp) {
    __int128 revenue = static_cast<__int128>(*out->quantity) * *out->unit_price_milli_gbp;
    if (revenue < static_cast<__int128>(1000000000000000000LL) && revenue > -static_cast<__int128>(1000000000000000000LL)) {
      out->line_revenue_milli_gbp = static_cast<int64_t>(revenue);
    } else {
      AddNote(notes, "Quantity × Price does not fit decimal(18,3)");
    }
  }

  if (auto cust = TextField(doc, "CustomerNo", notes)) {
    // "17850" and "17850.0" (a spreadsheet's float) are customer 17850.
    auto n = ParseScaledDecimal(*cust, 0);
    if (n && *n >= 0 && cust->find_first_not_of("0123456789.") == std::string::npos) {
      out->customer_no = std::to_string(*n);
    } else {
      out->customer_no = *cust;
      AddNote(notes, "/CustomerNo: '" + *cust + "' is not an integer");
    }
  }

  if (auto country = TextField(doc, "Country", notes)) {
    auto it = impl_->norm.country_aliases.find(AsciiUpper(*country));
    out->country = it == impl_->norm.country_aliases.end() ? *country : it->second;
  }

  const std::string& tx = out->transaction_no ? *out->transaction_no : std::string();
  out->is_cancellation = !tx.empty() && (tx[0] == 'C' || tx[0] == 'c');
  if (out->product_no && impl_->norm.adjustment_product_codes.count(AsciiUpper(*out->product_no))) {
    out->is_adjustment = true;
  }
  for (const auto& prefix : impl_->norm.adjustment_transaction_prefixes) {
    if (!prefix.empty() && tx.rfind(prefix, 0) == 0) out->is_adjustment = true;
  }
  return true;
}

}  // namespace lakestream
