#include "source/file/csv_reader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace lakestream {
namespace {

TEST(Csv, SplitsRecordsWithQuotedLineBreaks) {
  auto r = SplitCsvRecords("\xEF\xBB\xBF" "a,b\r\n1,\"x\ny\"\n2,\"say \"\"hi\"\"\"");
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].text, "a,b");
  EXPECT_EQ(r[1].text, "1,\"x\ny\"");
  EXPECT_EQ(r[2].line, 4);
  auto f = ParseCsvFields(r[2].text);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f, (std::vector<std::string>{"2", "say \"hi\""}));
  EXPECT_EQ(*ParseCsvFields(",,"), (std::vector<std::string>{"", "", ""}));
  EXPECT_FALSE(ParseCsvFields("1,\"open").ok());
  auto after = ParseCsvFields("\"a\"b,c");
  ASSERT_FALSE(after.ok());
  EXPECT_NE(after.status().message().find("column 1"), std::string::npos);
}

// A quote inside an unquoted field is a character (12" ruler): it opens nothing, so the line break
// after it ends the record. The jobs' own splitter took it for an opening quote and ran two records
// into one, while the replay's reader read two.
TEST(Csv, AQuoteInsideAFieldIsACharacterAndEveryReaderAgrees) {
  const std::string text = "no,name\n1,12\" ruler\n2,\"a \"\"b\"\"\"\n3,x\n";
  auto records = SplitCsvRecords(text);
  ASSERT_EQ(records.size(), 4u);
  EXPECT_EQ(records[1].text, "1,12\" ruler");
  EXPECT_EQ(records[3].line, 4);
  auto path = std::filesystem::temp_directory_path() / ("lakestream_csv_reader_" + std::to_string(::getpid()));
  std::ofstream(path, std::ios::binary) << text;
  auto reader = CsvReader::Open(path.string());
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  CsvRecord rec;
  for (size_t i = 0; i < records.size(); ++i) {
    auto has = (*reader)->Next(&rec);
    ASSERT_TRUE(has.ok() && *has) << i;
    EXPECT_EQ(rec.first_line, records[i].line);
    EXPECT_EQ(rec.fields, *ParseCsvFields(records[i].text)) << i;
  }
  EXPECT_EQ(rec.fields, (std::vector<std::string>{"3", "x"}));
  auto end = (*reader)->Next(&rec);
  ASSERT_TRUE(end.ok());
  EXPECT_FALSE(*end);
  std::filesystem::remove(path);
}

TEST(Csv, TheReaderRefusesTextAfterAClosingQuoteAndAnOpenQuoteWithTheLine) {
  auto path = std::filesystem::temp_directory_path() / ("lakestream_csv_bad_" + std::to_string(::getpid()));
  std::ofstream(path, std::ios::binary) << "a,b\n\"x\"y,1\n";
  auto reader = CsvReader::Open(path.string());
  ASSERT_TRUE(reader.ok());
  CsvRecord rec;
  ASSERT_TRUE(*(*reader)->Next(&rec));
  auto bad = (*reader)->Next(&rec);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("line 2: column 1: text after the closing quote"), std::string::npos)
      << bad.status().message();
  std::ofstream(path, std::ios::binary) << "a,b\n1,\"open\n";
  reader = CsvReader::Open(path.string());
  ASSERT_TRUE(reader.ok());
  ASSERT_TRUE(*(*reader)->Next(&rec));
  bad = (*reader)->Next(&rec);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("line 2: quoted field is not closed before end of file"), std::string::npos)
      << bad.status().message();
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace lakestream
