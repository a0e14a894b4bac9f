#include "format/schema_decoder.h"

#include <gtest/gtest.h>

#include "serve/notification_reports.h"

namespace lakestream {
namespace {

SchemaDecoder Decoder(bool strict = false) {
  return SchemaDecoder({{"id", {"id", ColumnType::kString}, true},
                        {"n", {"n", ColumnType::kInt32}, false},
                        {"at", {"at", ColumnType::kTimestampMicros}, true},
                        {"price", {"price", ColumnType::kDecimal, true, 12, 4}, false}},
                       strict);
}

RecordBatch Batch() {
  return RecordBatch({{"id", ColumnType::kString}, {"n", ColumnType::kInt32}, {"at", ColumnType::kTimestampMicros},
                      {"price", ColumnType::kDecimal, true, 12, 4}});
}

TEST(SchemaDecoder, TypesEveryFieldAndKeepsDecimalsExact) {
  auto d = Decoder();
  auto b = Batch();
  DecodeError why;
  ASSERT_TRUE(d.Decode(R"({"id":7494212,"n":3,"at":"2020-02-03T14:00:01.001+00:00","price":0.04,"extra":1})", b, &why))
      << why.message;
  ASSERT_TRUE(d.Decode(R"({"id":"x","at":"2020-02-03T11:00:01.001-03:00","price":"1.0350","n":null})", b, &why))
      << why.message;
  EXPECT_EQ(b.column(0).strings[0], "7494212");  // an integer id is kept as its text
  EXPECT_EQ(b.column(1).ints[0], 3);
  EXPECT_EQ(b.column(2).ints[0], 1580738401001000);
  EXPECT_EQ(b.column(2).ints[1], 1580738401001000);  // the same instant written in Brasília time
  EXPECT_EQ(b.column(3).ints[0], 400);                // 0.0400 exactly
  EXPECT_EQ(b.column(3).ints[1], 10350);
  EXPECT_EQ(b.column(1).is_null[1], 1);
}

TEST(SchemaDecoder, RefusesBadRecordsNamingTheFieldAndTheRule) {
  auto d = Decoder();
  auto b = Batch();
  DecodeError why;
  EXPECT_FALSE(d.Decode("not json", b, &why));
  EXPECT_EQ(why.rule, "valid_json");
  EXPECT_FALSE(d.Decode(R"({"id":"x"})", b, &why));
  EXPECT_EQ(why.message, "/at: required, but absent or null");
  EXPECT_FALSE(d.Decode(R"({"id":"x","at":"2020-02-03 14:00:01"})", b, &why));  // no offset
  EXPECT_EQ(why.rule, "schema");
  EXPECT_NE(why.message.find("/at: expected an ISO 8601 date-time with an offset"), std::string::npos);
  EXPECT_FALSE(d.Decode(R"({"id":"x","at":"2020-02-03T14:00:01Z","n":3000000000})", b, &why));
  EXPECT_NE(why.message.find("/n: expected an integer (32-bit), got 3000000000"), std::string::npos);
  EXPECT_FALSE(d.Decode(R"({"id":"x","at":"2020-02-03T14:00:01Z","price":0.00001})", b, &why));
  EXPECT_NE(why.message.find("/price"), std::string::npos);
  EXPECT_EQ(b.num_rows(), 0u) << "a refused record appends nothing";
  auto strict = Decoder(true);
  EXPECT_FALSE(strict.Decode(R"({"id":"x","at":"2020-02-03T14:00:01Z","extra":1})", b, &why));
  EXPECT_NE(why.message.find("/extra: not a field of the schema"), std::string::npos);
}

TEST(SchemaDecoder, RefusesNumbersThatDoNotFitAndRepeatedKeysButSkipsUnknownMembers) {
  SchemaDecoder d({{"id", {"id", ColumnType::kString}, true},
                   {"ratio", {"ratio", ColumnType::kDouble}, false},
                   {"count", {"count", ColumnType::kInt64}, false}},
                  false);
  RecordBatch b({{"id", ColumnType::kString}, {"ratio", ColumnType::kDouble}, {"count", ColumnType::kInt64}});
  DecodeError why;
  EXPECT_FALSE(d.Decode(R"({"id":"x","ratio":1e-400})", b, &why));
  EXPECT_NE(why.message.find("/ratio: expected a number a double holds"), std::string::npos) << why.message;
  EXPECT_FALSE(d.Decode(R"({"id":"x","ratio":1e999})", b, &why));
  EXPECT_FALSE(d.Decode(R"({"id":"x","count":123456789012345678901234567890})", b, &why));
  EXPECT_NE(why.message.find("/count: expected an integer, got 123456789012345678901234567890"), std::string::npos)
      << why.message;
  EXPECT_FALSE(d.Decode(R"({"id":"x","id":"y"})", b, &why));
  EXPECT_EQ(why.rule, "valid_json");
  EXPECT_NE(why.message.find("appears twice"), std::string::npos) << why.message;
  ASSERT_TRUE(d.Decode(R"({"id":"x","ratio":0.0e10,"trace":123456789012345678901234567890})", b, &why))
      << why.message;
  EXPECT_EQ(b.column(1).doubles[0], 0.0);
  EXPECT_FALSE(d.Decode(R"({"id":"x",)", b, &why));
  EXPECT_NE(why.message.find("not valid JSON"), std::string::npos) << why.message;
}

TEST(Reports, BrlAmountsInPtBrFormRoundHalfUpToTheCentavo) {
  EXPECT_EQ(FormatBrl("1000.0000"), "1000,00");
  EXPECT_EQ(FormatBrl("44.1350"), "44,14");
  EXPECT_EQ(FormatBrl("28.7625"), "28,76");
  EXPECT_EQ(FormatBrl("0.0400"), "0,04");
  EXPECT_EQ(FormatBrl("7"), "7,00");
}

}  // namespace
}  // namespace lakestream
