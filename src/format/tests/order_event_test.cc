#include "format/order_event.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include "format/json_schema.h"

namespace lakestream {
namespace {

OrderLine Line() {
  return {"536365", "2010-12-01 08:26:00", "85123A", "WHITE HANGING HEART T-LIGHT HOLDER", "2.55", "6", "17850",
          "United Kingdom"};
}

OrderEnvelope Env(const OrderLine& l, int64_t line_no = 1) {
  OrderEnvelope e;
  e.event_id = EventIdForSourceLine("test.csv", line_no);
  e.event_time_us = ParseEventTimeMicros(l.date, *TimeZoneRule::Parse("Europe/London"));
  e.source_name = "test.csv";
  e.source_line = line_no;
  return e;
}

struct Decoded {
  bool ok;
  OrderRecord rec;
  Rejection why;
};

Decoded Decode(const std::string& payload) {
  OrderEventDecoder d(*TimeZoneRule::Parse("Europe/London"));
  Decoded out;
  out.ok = d.Decode(payload, &out.rec, &out.why);
  return out;
}

TEST(OrderEvent, EventIdIsStableAndUniquePerSourceLine) {
  EXPECT_EQ(EventIdForSourceLine("a.csv", 7), EventIdForSourceLine("a.csv", 7));
  EXPECT_NE(EventIdForSourceLine("a.csv", 7), EventIdForSourceLine("a.csv", 8));
  EXPECT_NE(EventIdForSourceLine("a.csv", 7), EventIdForSourceLine("b.csv", 7));
  EXPECT_EQ(EventIdForSourceLine("a.csv", 7).size(), 36u);
  EXPECT_EQ(EventIdForSourceLine("a.csv", 7)[14], '8');  // RFC 9562 version 8
}

TEST(OrderEvent, RoundTripsThroughTheContract) {
  OrderLine l = Line();
  std::string json = EncodeOrderEvent(l, Env(l));
  auto d = Decode(json);
  ASSERT_TRUE(d.ok) << d.why.rule << ": " << d.why.message;
  EXPECT_EQ(d.rec.event_id, EventIdForSourceLine("test.csv", 1));
  EXPECT_EQ(FormatTimestampIso(*d.rec.event_time_us), "2010-12-01T08:26:00Z");
  EXPECT_EQ(FormatDate(*d.rec.order_date_days), "2010-12-01");
  EXPECT_EQ(d.rec.quantity, 6);
  EXPECT_EQ(d.rec.unit_price_milli_gbp, 2550);
  EXPECT_EQ(d.rec.line_revenue_milli_gbp, 15300);
  EXPECT_EQ(d.rec.customer_no, "17850");
  EXPECT_FALSE(d.rec.is_cancellation);
  EXPECT_FALSE(d.rec.is_adjustment);
  EXPECT_EQ(d.rec.notes, "");
}

TEST(OrderEvent, EncodesNumbersExactlyAndMissingCustomerAsNull) {
  OrderLine l = Line();
  l.customer_no = "";
  l.price = "0.001";
  std::string json = EncodeOrderEvent(l, Env(l));
  EXPECT_NE(json.find(R"("Price":0.001)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("CustomerNo":null)"), std::string::npos) << json;
  auto d = Decode(json);
  ASSERT_TRUE(d.ok) << d.why.message;
  EXPECT_FALSE(d.rec.customer_no.has_value());
  EXPECT_EQ(d.rec.unit_price_milli_gbp, 1);
}

TEST(OrderEvent, FlagsCancellationsByPrefix) {
  OrderLine l = Line();
  l.transaction_no = "C536379";
  l.quantity = "-1";
  auto d = Decode(EncodeOrderEvent(l, Env(l)));
  ASSERT_TRUE(d.ok);
  EXPECT_TRUE(d.rec.is_cancellation);
  EXPECT_EQ(d.rec.line_revenue_milli_gbp, -2550);
}

TEST(OrderEvent, LeavesAnUntypeableFieldNullWithANoteNamingIt) {
  OrderLine l = Line();
  l.price = "two pounds";
  auto d = Decode(EncodeOrderEvent(l, Env(l)));
  ASSERT_TRUE(d.ok);  // the expectations decide (required_fields quarantines it by default)
  EXPECT_FALSE(d.rec.unit_price_milli_gbp.has_value());
  EXPECT_FALSE(d.rec.line_revenue_milli_gbp.has_value());
  EXPECT_NE(d.rec.notes.find("/Price: 'two pounds'"), std::string::npos) << d.rec.notes;

  l = Line();
  l.price = "1.2345";  // more fraction digits than silver's decimal(12,3) holds
  d = Decode(EncodeOrderEvent(l, Env(l)));
  EXPECT_FALSE(d.rec.unit_price_milli_gbp.has_value());
  EXPECT_NE(d.rec.notes.find("at most 3 fraction digits"), std::string::npos) << d.rec.notes;
}

TEST(OrderEvent, LeavesAnUnparseableDateNull) {
  OrderLine l = Line();
  l.date = "31/31/2011";
  auto d = Decode(EncodeOrderEvent(l, Env(l)));
  ASSERT_TRUE(d.ok);
  EXPECT_FALSE(d.rec.event_time_us.has_value());
  EXPECT_FALSE(d.rec.order_date_days.has_value());
  EXPECT_NE(d.rec.notes.find("/Date: '31/31/2011'"), std::string::npos) << d.rec.notes;
}

TEST(OrderEvent, RejectsInvalidJsonAndABrokenEnvelope) {
  EXPECT_EQ(Decode("{not json").why.rule, "valid_json");
  EXPECT_EQ(Decode("[1,2]").why.rule, "valid_json");
  auto d = Decode(R"({"event_type":"order_line","schema_version":1})");
  EXPECT_FALSE(d.ok);
  EXPECT_EQ(d.why.rule, "event_envelope");
  EXPECT_NE(d.why.message.find("/event_id"), std::string::npos) << d.why.message;
  d = Decode(R"({"event_type":"invoice","schema_version":1,"event_id":"x"})");
  EXPECT_EQ(d.why.rule, "event_envelope");
  EXPECT_NE(d.why.message.find("/event_type"), std::string::npos) << d.why.message;
}

// Hostile payloads (docs/reliability.md, "Corruption and bad input"): numbers are typed from the text they
// were written with, unknown members are skipped unparsed, a repeated key is refused, and invalid
// JSON is named with its byte offset.
std::string Event(const std::string& price, const std::string& extra = "") {
  return R"({"event_type":"order_line","schema_version":1,"event_id":"e-1","Date":"2010-12-01 08:26:00",)"
         R"("TransactionNo":"536365","ProductNo":"85123A","Quantity":6,"Country":"United Kingdom","Price":)" +
         price + extra + "}";
}

TEST(OrderEvent, RefusesAPriceThatUnderflowsOrOverflowsInsteadOfRoundingIt) {
  auto d = Decode(Event("1e-400"));
  ASSERT_TRUE(d.ok) << d.why.message;
  EXPECT_FALSE(d.rec.unit_price_milli_gbp.has_value()) << "1e-400 was stored as 0 before";
  EXPECT_NE(d.rec.notes.find("/Price: '1e-400'"), std::string::npos) << d.rec.notes;
  d = Decode(Event("1e400"));
  EXPECT_FALSE(d.rec.unit_price_milli_gbp.has_value());
  EXPECT_NE(d.rec.notes.find("/Price: '1e400'"), std::string::npos) << d.rec.notes;
  d = Decode(Event("2.55e1"));  // an exponent is a JSON number like any other: 25.5 exactly
  EXPECT_EQ(d.rec.unit_price_milli_gbp, 25500);
  d = Decode(Event("0.1"));
  EXPECT_EQ(d.rec.unit_price_milli_gbp, 100);
}

TEST(OrderEvent, KeepsAnEventWhoseUnknownMemberHoldsAHugeNumber) {
  auto d = Decode(Event("2.55", R"(,"trace":123456789012345678901234567890,"tags":{"a":[1,2]})"));
  ASSERT_TRUE(d.ok) << d.why.message;
  EXPECT_EQ(d.rec.unit_price_milli_gbp, 2550);
}

TEST(OrderEvent, QuarantinesAnObjectWithARepeatedKey) {
  auto d = Decode(Event("2.55", R"(,"Price":999)"));
  EXPECT_FALSE(d.ok);
  EXPECT_EQ(d.why.rule, "valid_json");
  EXPECT_NE(d.why.message.find("key \"Price\" appears twice"), std::string::npos) << d.why.message;
}

TEST(OrderEvent, NamesTheByteOffsetOfInvalidJson) {
  auto d = Decode(R"({"event_type":"order_line","schema_version":1,"event_id":"e-1","Price":2.5.5})");
  EXPECT_FALSE(d.ok);
  EXPECT_EQ(d.why.rule, "valid_json");
  EXPECT_NE(d.why.message.find("at byte "), std::string::npos) << d.why.message;
  d = Decode(R"({"event_type":"order_line"} trailing)");
  EXPECT_NE(d.why.message.find("at byte 28"), std::string::npos) << d.why.message;
  d = Decode(R"({"event_type":"order_line","Country":"United)");
  EXPECT_FALSE(d.ok);
  EXPECT_NE(d.why.message.find("not valid JSON"), std::string::npos) << d.why.message;
}

TEST(OrderEvent, NormalizesCustomerCountryAndFlagsAdjustments) {
  OrderNormalization norm;
  norm.country_aliases = {{"EIRE", "Ireland"}, {"RSA", "South Africa"}};
  norm.adjustment_product_codes = {"POST", "BANK CHARGES"};
  norm.adjustment_transaction_prefixes = {"A"};
  OrderEventDecoder decoder(*TimeZoneRule::Parse("Europe/London"), norm);
  OrderRecord rec;
  Rejection why;
  OrderLine l = Line();
  l.customer_no = "14911.0";
  l.country = " eire ";
  l.product_no = "post";
  ASSERT_TRUE(decoder.Decode(EncodeOrderEvent(l, Env(l)), &rec, &why));
  EXPECT_EQ(rec.customer_no, "14911");
  EXPECT_EQ(rec.country, "Ireland");
  EXPECT_TRUE(rec.is_adjustment);

  l = Line();
  l.transaction_no = "A563185";
  l.product_no = "B";
  l.country = "Atlantis";  // no alias: kept as written
  l.customer_no = "CUST-9";
  ASSERT_TRUE(decoder.Decode(EncodeOrderEvent(l, Env(l)), &rec, &why));
  EXPECT_TRUE(rec.is_adjustment);
  EXPECT_EQ(rec.country, "Atlantis");
  EXPECT_EQ(rec.customer_no, "CUST-9");  // kept, with a note; the customer_no_format expectation warns
  EXPECT_NE(rec.notes.find("/CustomerNo"), std::string::npos) << rec.notes;
}

TEST(Decimal, ParsesAndFormatsScaledIntegers) {
  EXPECT_EQ(ParseScaledDecimal("2.55", 3), 2550);
  EXPECT_EQ(ParseScaledDecimal("-1", 3), -1000);
  EXPECT_EQ(ParseScaledDecimal("2.5500", 3), 2550);
  EXPECT_FALSE(ParseScaledDecimal("1e3", 3));  // text: a plain decimal only
  EXPECT_EQ(ParseScaledDecimal("1e3", 3, true), 1000000);  // a JSON number's exponent form
  EXPECT_EQ(ParseScaledDecimal("2.5E-2", 3, true), 25);
  EXPECT_FALSE(ParseScaledDecimal("1e-4", 3, true));        // below the scale: refused, not rounded
  EXPECT_FALSE(ParseScaledDecimal("1e-400", 3, true));
  EXPECT_FALSE(ParseScaledDecimal("9e30", 3, true));
  EXPECT_EQ(ParseScaledDecimal("0e-400", 3, true), 0);
  EXPECT_FALSE(ParseScaledDecimal("", 3));
  EXPECT_FALSE(ParseScaledDecimal("99999999999999999999", 3));
  EXPECT_EQ(FormatScaledDecimal(2550, 3), "2.550");
  EXPECT_EQ(FormatScaledDecimal(-5, 3), "-0.005");
}

TEST(JsonSchema, ValidatesTypesPatternsAndRequiredFields) {
  auto schema = JsonSchema::Parse(
      R"({"type":"object","required":["a"],"additionalProperties":false,
          "properties":{"a":{"type":["string","null"],"pattern":"^[0-9]+$"},"b":{"type":"integer","minimum":1}}})");
  ASSERT_TRUE(schema.ok()) << schema.status().ToString();
  simdjson::dom::parser p;
  auto check = [&](const char* doc) { return schema->Validate(p.parse(std::string(doc)).value()); };
  EXPECT_TRUE(check(R"({"a":"12"})").ok());
  EXPECT_TRUE(check(R"({"a":null,"b":3})").ok());
  EXPECT_FALSE(check(R"({"a":"x1"})").ok());
  EXPECT_FALSE(check(R"({"b":3})").ok());
  EXPECT_FALSE(check(R"({"a":"1","b":0})").ok());
  EXPECT_FALSE(check(R"({"a":"1","c":0})").ok());
  EXPECT_NE(check(R"({"a":"1","b":"x"})").message().find("/b: expected type integer"), std::string::npos);
}

}  // namespace
}  // namespace lakestream
