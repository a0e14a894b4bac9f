#include "format/order_event.h"

#include "format/json_object.h"

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

std::optional<int64_t> ParseScaledDecimal(std::string_view s, int scale, bool exponent) {
  s = TrimBlanks(s);
  bool neg = false;
  size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) {
    neg = s[i] == '-';
    ++i;
  }
  // Mantissa digits, the count after the point, then an optional exponent (JSON numbers may have one).
  std::string digits;
  int64_t frac = 0;
  bool point = false;
  for (; i < s.size() && s[i] != 'e' && s[i] != 'E'; ++i) {
    const char c = s[i];
    if (c == '.') {
      if (point) return std::nullopt;
      point = true;
      continue;
    }
    if (c < '0' || c > '9') return std::nullopt;
    digits.push_back(c);
    if (point) ++frac;
  }
  if (digits.empty()) return std::nullopt;
  int64_t exp = 0;
  if (i < s.size()) {  // 'e' or 'E'
    if (!exponent) return std::nullopt;
    ++i;
    bool exp_neg = false;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) exp_neg = s[i++] == '-';
    if (i >= s.size()) return std::nullopt;
    for (; i < s.size(); ++i) {
      if (s[i] < '0' || s[i] > '9') return std::nullopt;
      exp = exp * 10 + (s[i] - '0');
      if (exp > 100000) return std::nullopt;  // far beyond any value that fits
    }
    if (exp_neg) exp = -exp;
  }
  // value × 10^scale = digits × 10^k. A non-zero digit below the scale (an underflow, or too many
  // fraction digits) or a result beyond int64 (an overflow) is refused, never rounded.
  int64_t k = scale - frac + exp;
  const size_t first = digits.find_first_not_of('0');
  if (first == std::string::npos) return 0;
  digits.erase(0, first);
  if (k < 0) {
    if (static_cast<int64_t>(digits.size()) <= -k) return std::nullopt;  // all significant digits below the scale
    for (int64_t d = 0; d < -k; ++d) {
      if (digits[digits.size() - 1 - static_cast<size_t>(d)] != '0') return std::nullopt;
    }
    digits.resize(digits.size() - static_cast<size_t>(-k));
    k = 0;
  }
  if (static_cast<int64_t>(digits.size()) + k > 19) return std::nullopt;
  digits.append(static_cast<size_t>(k), '0');
  __int128 v = 0;
  for (char c : digits) {
    v = v * 10 + (c - '0');
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
  JsonObjectReader reader;
  std::vector<JsonMember> members;
};

OrderEventDecoder::OrderEventDecoder(TimeZoneRule zone, OrderNormalization normalization)
    : impl_(new Impl{std::move(zone), std::move(normalization), JsonObjectReader(), {}}) {}
OrderEventDecoder::~OrderEventDecoder() = default;

namespace {

void AddNote(std::string* notes, const std::string& note) {
  if (!notes->empty()) *notes += "; ";
  *notes += note;
}

const JsonMember* Member(const std::vector<JsonMember>& members, std::string_view key) {
  for (const auto& m : members) {
    if (m.key == key) return &m;
  }
  return nullptr;
}

// A trimmed, non-empty string member; numbers are taken as their JSON text as written (a numeric
// stock code); null, absent and empty give nullopt; other types give nullopt and a note.
std::optional<std::string> TextField(const std::vector<JsonMember>& doc, const char* key, std::string* notes) {
  const JsonMember* v = Member(doc, key);
  if (!v || v->kind == JsonKind::kNull) return std::nullopt;
  std::string text;
  if (v->kind == JsonKind::kString) {
    text = std::string(TrimBlanks(v->text));
  } else if (v->kind == JsonKind::kNumber) {
    text = v->text;
  } else {
    AddNote(notes, std::string("/") + key + ": expected a string, got " + v->text.substr(0, 60));
    return std::nullopt;
  }
  if (text.empty()) return std::nullopt;
  return text;
}

bool IsNumber(const std::vector<JsonMember>& doc, const char* key) {
  const JsonMember* v = Member(doc, key);
  return v && v->kind == JsonKind::kNumber;
}

// The text of a number (exactly as written: nothing is rounded) or numeric string, trimmed.
std::optional<std::string> NumberText(const std::vector<JsonMember>& doc, const char* key) {
  const JsonMember* v = Member(doc, key);
  if (!v || v->kind == JsonKind::kNull) return std::nullopt;
  if (v->kind == JsonKind::kNumber) return v->text;
  if (v->kind == JsonKind::kString) {
    std::string t(TrimBlanks(v->text));
    if (!t.empty()) return t;
  }
  return std::nullopt;
}

}  // namespace

bool OrderEventDecoder::Decode(std::string_view payload, OrderRecord* out, Rejection* why) {
  *out = OrderRecord();
  std::vector<JsonMember>& doc = impl_->members;
  std::string error;
  if (!impl_->reader.Read(payload, &doc, &error)) {
    *why = {"valid_json", error};
    return false;
  }
  const JsonMember* type = Member(doc, "event_type");
  if (!type || type->kind != JsonKind::kString || type->text != "order_line") {
    *why = {"event_envelope", "/event_type: must be \"order_line\" (order-line.v1 contract)"};
    return false;
  }
  const JsonMember* version = Member(doc, "schema_version");
  if (!version || version->kind != JsonKind::kNumber || version->text != "1") {
    *why = {"event_envelope", "/schema_version: must be 1 (order-line.v1 contract)"};
    return false;
  }
  const JsonMember* event_id = Member(doc, "event_id");
  const std::string_view id = event_id && event_id->kind == JsonKind::kString ? std::string_view(event_id->text) : "";
  if (TrimBlanks(id).empty()) {
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
    auto price = ParseScaledDecimal(*price_text, 3, IsNumber(doc, "Price"));
    if (price && *price < 1000000000000LL && *price > -1000000000000LL) {
      out->unit_price_milli_gbp = *price;
    } else {
      AddNote(notes, "/Price: '" + *price_text + "' is not a decimal with at most 3 fraction digits below 10^9 GBP (an "
                     "underflow or overflow is refused, never rounded)");
    }
  } else {
    AddNote(notes, "/Price: missing or not a number");
  }

  if (auto qty_text = NumberText(doc, "Quantity")) {
    // Integral values only: "6", 6, 6.0 (a scale-0 decimal); range of a 32-bit integer.
    auto q = ParseScaledDecimal(*qty_text, 0, IsNumber(doc, "Quantity"));
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
