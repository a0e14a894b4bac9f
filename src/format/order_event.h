// The order-line event contract, version 1 (docs/events/order-line.v1.schema.json, guide in
// docs/events/order-events.md): encoding on the producer side, validation and typing on the consumer side.
#pragma once

#include <cstdint>
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

/// A typed, validated order line: what silver stores.
struct OrderRecord {
  std::string event_id;
  int64_t event_time_us = 0;     // UTC
  int64_t order_date_days = 0;   // business date as written in Date, days since 1970-01-01
  std::string transaction_no, product_no, product_name, country;
  std::optional<std::string> customer_no;
  int32_t quantity = 0;
  int64_t unit_price_milli_gbp = 0;    // GBP × 1000 (decimal(12,3))
  int64_t line_revenue_milli_gbp = 0;  // quantity × unit price, GBP × 1000 (decimal(18,3))
  bool is_cancellation = false;        // TransactionNo starts with 'C'
};

/// Why a payload could not become an OrderRecord: the rule's name and a message naming the field.
struct Rejection {
  std::string rule;
  std::string message;
};

/// Validates payloads against the contract and types them. Holds a simdjson parser: one decoder per
/// thread. Rules, in order (docs/medallion.md): valid_json, contract (the JSON Schema),
/// event_time_parseable, date_parseable, price_scale (at most 3 decimals, |price| < 10^9),
/// price_non_negative.
class OrderEventDecoder {
 public:
  /// `zone` interprets the local-time `Date` text for order_date.
  explicit OrderEventDecoder(TimeZoneRule zone);
  ~OrderEventDecoder();
  /// Returns true and fills `out`, or false and fills `why`.
  bool Decode(std::string_view payload, OrderRecord* out, Rejection* why);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Parses decimal text ("2.55", "-1", "1e2" is refused) into an integer scaled by 10^scale.
/// Returns nullopt when the text is not a plain decimal, has more than `scale` fraction digits,
/// or does not fit in int64.
std::optional<int64_t> ParseScaledDecimal(std::string_view text, int scale);
/// Formats an integer scaled by 10^scale as decimal text ("2550", 3 -> "2.550").
std::string FormatScaledDecimal(int64_t value, int scale);

}  // namespace lakestream
