#include "common/time.h"

#include <gtest/gtest.h>

namespace lakestream {
namespace {

const TimeZoneRule kUtc = *TimeZoneRule::Parse("UTC");
const TimeZoneRule kLondon = *TimeZoneRule::Parse("Europe/London");

int64_t Micros(int64_t y, unsigned m, unsigned d, int h, int mi, int s) {
  return (DaysFromCivil(y, m, d) * 86400 + h * 3600 + mi * 60 + s) * 1000000;
}

TEST(EventTime, ParsesIsoLocalTimeOfTheUciByDayFiles) {
  EXPECT_EQ(ParseEventTimeMicros("2010-12-01 08:26:00", kUtc), Micros(2010, 12, 1, 8, 26, 0));
}

TEST(EventTime, ParsesMonthDayYearWithShortTimeOfTheUciExport) {
  EXPECT_EQ(ParseEventTimeMicros("12/1/2010 8:26", kUtc), Micros(2010, 12, 1, 8, 26, 0));
}

TEST(EventTime, ParsesKaggleDateWithoutTimeAsMidnight) {
  int64_t days = 0;
  EXPECT_EQ(ParseEventTimeMicros("12/9/2019", kUtc, &days), Micros(2019, 12, 9, 0, 0, 0));
  EXPECT_EQ(FormatDate(days), "2019-12-09");
}

TEST(EventTime, ParsesIso8601WithOffsetAndMillis) {
  EXPECT_EQ(ParseEventTimeMicros("2020-02-03T14:00:01.001+00:00", kLondon), Micros(2020, 2, 3, 14, 0, 1) + 1000);
  EXPECT_EQ(ParseEventTimeMicros("2020-02-03T14:00:01-03:00", kUtc), Micros(2020, 2, 3, 17, 0, 1));
}

TEST(EventTime, LondonSummerTimeIsOneHourAheadOfUtc) {
  // 2011-06-01 10:00 BST = 09:00 UTC; 2011-12-01 10:00 GMT = 10:00 UTC.
  EXPECT_EQ(ParseEventTimeMicros("2011-06-01 10:00:00", kLondon), Micros(2011, 6, 1, 9, 0, 0));
  EXPECT_EQ(ParseEventTimeMicros("2011-12-01 10:00:00", kLondon), Micros(2011, 12, 1, 10, 0, 0));
  // BST began 2011-03-27 01:00 UTC and ended 2011-10-30 01:00 UTC.
  EXPECT_EQ(ParseEventTimeMicros("2011-03-27 00:30:00", kLondon), Micros(2011, 3, 27, 0, 30, 0));
  EXPECT_EQ(ParseEventTimeMicros("2011-03-27 03:00:00", kLondon), Micros(2011, 3, 27, 2, 0, 0));
  EXPECT_EQ(ParseEventTimeMicros("2011-10-30 02:30:00", kLondon), Micros(2011, 10, 30, 2, 30, 0));
}

TEST(EventTime, BusinessDateIsTheLocalDateNotTheUtcDate) {
  int64_t days = 0;
  auto t = ParseEventTimeMicros("7/1/2011", kLondon, &days);  // midnight BST = 23:00 UTC the day before
  ASSERT_TRUE(t);
  EXPECT_EQ(FormatDate(days), "2011-07-01");
  EXPECT_EQ(FormatTimestampIso(*t), "2011-06-30T23:00:00Z");
}

TEST(EventTime, RejectsImpossibleAndMalformedDates) {
  EXPECT_FALSE(ParseEventTimeMicros("2/30/2011", kUtc));
  EXPECT_FALSE(ParseEventTimeMicros("2011-13-01 00:00:00", kUtc));
  EXPECT_FALSE(ParseEventTimeMicros("yesterday", kUtc));
  EXPECT_FALSE(ParseEventTimeMicros("", kUtc));
  EXPECT_FALSE(ParseEventTimeMicros("12/1/2010 25:00", kUtc));
}

TEST(TimeZoneRule, AcceptsFixedOffsetsAndRejectsUnknownZones) {
  auto plus = TimeZoneRule::Parse("+05:30");
  ASSERT_TRUE(plus);
  EXPECT_EQ(plus->LocalToUtcSeconds(19800), 0);
  EXPECT_FALSE(TimeZoneRule::Parse("Mars/Olympus"));
}

TEST(Format, TimestampsAtMillisecondPrecisionForDeltaStats) {
  EXPECT_EQ(FormatTimestampMillisZ(Micros(2010, 12, 1, 8, 26, 0) + 1999), "2010-12-01T08:26:00.001Z");
  EXPECT_EQ(FormatTimestampMillisZ(-1), "1969-12-31T23:59:59.999Z");
}

}  // namespace
}  // namespace lakestream
