#include "jobs/batch_job.h"

#include <gtest/gtest.h>

#include "query/result_writer.h"

namespace lakestream {
namespace {

TEST(BatchJob, SplitsJsonArraysAndLinesKeepingMalformedElementsWhole) {
  auto arr = SplitJsonRecords("[\n  {\"a\": \"x,]}\"},\n  {\"b\": [1, {\"c\": 2}]},\n  {\"d\": broken}\n]\n");
  ASSERT_EQ(arr.size(), 3u);
  EXPECT_EQ(arr[0].text, "{\"a\": \"x,]}\"}");
  EXPECT_EQ(arr[0].line, 2);
  EXPECT_EQ(arr[1].text, "{\"b\": [1, {\"c\": 2}]}");
  EXPECT_EQ(arr[2].text, "{\"d\": broken}");
  EXPECT_EQ(arr[2].line, 4);
  auto lines = SplitJsonRecords("{\"a\":1}\n\n  {\"b\":2}  \n");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1].text, "{\"b\":2}");
  EXPECT_EQ(lines[1].line, 3);
  auto open = SplitJsonRecords("[{\"a\": \"unterminated");
  ASSERT_EQ(open.size(), 1u);  // the rest of the file is one record
}

TEST(BatchJob, FormatsDecimalsThePtBrWay) {
  EXPECT_EQ(PtBrDecimal("56333.33"), "56.333,33");
  EXPECT_EQ(PtBrDecimal("-1234567.5"), "-1.234.567,5");
  EXPECT_EQ(PtBrDecimal("23.33"), "23,33");
  EXPECT_EQ(PtBrDecimal("1000"), "1.000");
  EXPECT_EQ(PtBrDecimal("nan"), "nan");
}

}  // namespace
}  // namespace lakestream
