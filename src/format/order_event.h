// The order-line event contract, version 1 (docs/events/order-line.v1.schema.json, guide in
// docs/events/order-events.md): encoding on the producer side, validation and typing on the consumer side.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <vector>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "common/time.h"

namespace lakestream {

/// One order line in the online-shop model, every field as text exactly as the source wrote it
/// (after CSV unquoting). `customer_no` is empty when unknown.
struct OrderLine {
  std::string transaction_no, date, product_no, product_name, price, quantity, customer_no, country;
};

/// Envelope of an order-line event.
struct OrderEnvelope {
  std::string event_id;                 // stable UUID (see EventIdForSourceLine)
  std::optional<int64_t> event_time_us; // UTC micros; nullopt when the Date text is not parseable
  std::string source_name;              // e.g. the input file name; empty = omit "source"
  int64_t source_line = 0;              // 1-based data line of the source file; 0 = omit
};

/// The stable event id of data line `line` of source `source_name`: NameBasedUuid("<name>:<line>").
/// Replaying the same file gives the same ids; two files with different names never share one.
std::string EventIdForSourceLine(std::string_view source_name, int64_t line);

/// Serialises an order-line event as JSON. Price and Quantity are written as JSON numbers when their
/// text is a valid number/integer, and as strings otherwise, so that a bad source value reaches the
/// consumer unchanged and is quarantined there with the contract rule that it breaks (nothing is lost
/// on the way). CustomerNo is null when empty.
std::string EncodeOrderEvent(const OrderLine& line, const OrderEnvelope& env);

/// The embedded text of docs/events/order-line.v1.schema.json.
std::string_view OrderEventSchemaText();

/// A typed order line: what silver stores. Fields the payload lacks, or whose text cannot be typed,
/// are nullopt, and `notes` says why (naming the JSON field); the silver expectations then judge the
/// row (pipelines/orders.toml). Strings are trimmed; an empty string is nullopt.
struct OrderRecord {
  std::string event_id;
  std::optional<int64_t> event_time_us;     // UTC, from Date read in the source's time zone
  std::optional<int64_t> order_date_days;   // business date as written in Date, days since 1970-01-01
  std::optional<std::string> transaction_no, product_no, product_name, country, customer_no;
  std::optional<int32_t> quantity;
  std::optional<int64_t> unit_price_milli_gbp;    // GBP × 1000 (decimal(12,3))
  std::optional<int64_t> line_revenue_milli_gbp;  // quantity × unit price, GBP × 1000 (decimal(18,3))
  bool is_cancellation = false;  // TransactionNo starts with 'C' (any case)
  bool is_adjustment = false;    // not a product sale: see OrderNormalization
  std::string notes;             // "; "-separated typing problems, empty when none
};

/// Why a payload could not become an OrderRecord at all: the rule's name and a message.
struct Rejection {
  std::string rule;
  std::string message;
};

/// Normalization rules for silver (pipelines/orders.toml, [silver]).
struct OrderNormalization {
  std::map<std::string, std::string> country_aliases;  // UPPER-CASE source name -> canonical name
  std::set<std::string> adjustment_product_codes;       // UPPER-CASE ProductNo values
  std::vector<std::string> adjustment_transaction_prefixes;
};

/// Types payloads for silver. Holds a simdjson parser: one decoder per thread.
///
/// Envelope rules, which no configuration can relax because silver cannot even identify the record
/// without them (docs/pipelines/orders.md): `valid_json` (the payload is a JSON object) and
/// `event_envelope` (event_type "order_line", schema_version 1, a non-empty string event_id).
/// Everything else is typed leniently: event_time and order_date from Date in any dialect of the
/// model (docs/events/order-events.md); Price as an exact decimal with at most 3 fraction digits
/// below 10^9 GBP (a JSON number or numeric text); Quantity as a 32-bit integer (6 and 6.0 and "6");
/// CustomerNo as an integer string ("17850.0" -> "17850"; other text kept as written, with a note);
/// Country mapped through the aliases.
class OrderEventDecoder {
 public:
  /// `zone` interprets the local-time `Date` text.
  explicit OrderEventDecoder(TimeZoneRule zone, OrderNormalization normalization = {});
  ~OrderEventDecoder();
  /// Returns true and fills `out`, or false and fills `why` (envelope rules only).
  bool Decode(std::string_view payload, OrderRecord* out, Rejection* why);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Parses decimal text ("2.55", "-1"; with `exponent`, also a JSON number's exponent form "2.55e2")
/// into an integer scaled by 10^scale, exactly. Returns nullopt when the text is not such a decimal,
/// has a non-zero digit below 10^-scale (too many fraction digits, or an underflow such as 1e-400),
/// or does not fit in int64 (an overflow). Nothing is rounded.
std::optional<int64_t> ParseScaledDecimal(std::string_view text, int scale, bool exponent = false);
/// Formats an integer scaled by 10^scale as decimal text ("2550", 3 -> "2.550").
std::string FormatScaledDecimal(int64_t value, int scale);

}  // namespace lakestream
