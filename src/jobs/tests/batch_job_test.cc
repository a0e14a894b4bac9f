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

TEST(BatchJob, SplitsCsvRecordsWithQuotedLineBreaks) {
  auto r = SplitCsvRecords("\xEF\xBB\xBF" "a,b\r\n1,\"x\ny\"\n2,\"say \"\"hi\"\"\"");
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].text, "a,b");
  EXPECT_EQ(r[1].text, "1,\"x\ny\"");
  EXPECT_EQ(r[2].line, 4);
  auto f = FieldsOfCsvRecord(r[2].text);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f, (std::vector<std::string>{"2", "say \"hi\""}));
  EXPECT_EQ(*FieldsOfCsvRecord(",,"), (std::vector<std::string>{"", "", ""}));
  EXPECT_FALSE(FieldsOfCsvRecord("1,\"open").ok());
  auto after = FieldsOfCsvRecord("\"a\"b,c");
  ASSERT_FALSE(after.ok());
  EXPECT_NE(after.status().message().find("column 1"), std::string::npos);
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
