#include "source/file/order_csv.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace lakestream {
namespace {

std::string WriteTemp(const std::string& name, const std::string& content) {
  auto path = std::filesystem::temp_directory_path() / ("lakestream_csv_" + std::to_string(::getpid()) + "_" + name);
  std::ofstream(path, std::ios::binary) << content;
  return path.string();
}

std::vector<OrderLine> ReadAll(const std::string& path, std::vector<int64_t>* lines = nullptr) {
  auto r = OrderCsvReader::Open(path);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  std::vector<OrderLine> out;
  OrderLine l;
  int64_t n;
  bool ok;
  for (;;) {
    auto has = (*r)->Next(&l, &n, &ok);
    EXPECT_TRUE(has.ok()) << has.status().ToString();
    if (!has.ok() || !*has) break;
    out.push_back(l);
    if (lines) lines->push_back(n);
  }
  return out;
}

TEST(OrderCsv, ReadsKaggleHeaderWithCrlfAndNoFinalNewline) {
  auto path = WriteTemp("kaggle.csv",
                        "TransactionNo,Date,ProductNo,ProductName,Price,Quantity,CustomerNo,Country\r\n"
                        "581482,12/9/2019,22485,Set Of 2 Wooden Market Crates,21.47,12,17490,United Kingdom\r\n"
                        "C581484,12/9/2019,23843,Paper Craft Little Birdie,6.19,-80995,16446,United Kingdom");
  std::vector<int64_t> lines;
  auto rows = ReadAll(path, &lines);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].transaction_no, "581482");
  EXPECT_EQ(rows[0].date, "12/9/2019");
  EXPECT_EQ(rows[0].country, "United Kingdom");
  EXPECT_EQ(rows[1].transaction_no, "C581484");
  EXPECT_EQ(rows[1].quantity, "-80995");
  EXPECT_EQ(rows[1].country, "United Kingdom");  // no stray \r
  EXPECT_EQ(lines, (std::vector<int64_t>{1, 2}));
}

TEST(OrderCsv, ReadsUciHeaderWithBomQuotesAndEmptyOrFloatCustomerIds) {
  auto path = WriteTemp("uci.csv",
                        "\xEF\xBB\xBFInvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
                        "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\n"
                        "536370,22728,\"RECORD FRAME 7\"\" SINGLE SIZE \",3,12/1/2010 8:45,2.1,,France\n"
                        "536371,22086,\"LINE\nBREAK, AND COMMA\",1,12/1/2010 9:00,1,12583,France\n");
  auto rows = ReadAll(path);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].transaction_no, "536365");
  EXPECT_EQ(rows[0].product_no, "85123A");
  EXPECT_EQ(rows[0].price, "2.55");
  EXPECT_EQ(rows[0].quantity, "6");
  EXPECT_EQ(rows[0].customer_no, "17850");
  EXPECT_EQ(rows[1].product_name, "RECORD FRAME 7\" SINGLE SIZE ");
  EXPECT_EQ(rows[1].customer_no, "");
  EXPECT_EQ(rows[1].date, "12/1/2010 8:45");
  EXPECT_EQ(rows[2].product_name, "LINE\nBREAK, AND COMMA");
}

TEST(OrderCsv, ReadsGzipCompressedFiles) {
  auto path = std::filesystem::temp_directory_path() / ("lakestream_csv_" + std::to_string(::getpid()) + ".csv.gz");
  gzFile f = gzopen(path.c_str(), "wb");
  std::string content = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
                        "1,A,x,1,2010-12-01 08:26:00,1,,UK\n";
  gzwrite(f, content.data(), static_cast<unsigned>(content.size()));
  gzclose(f);
  EXPECT_EQ(ReadAll(path.string()).size(), 1u);
}

TEST(OrderCsv, BundledExcerptsHaveTheirDocumentedLineCounts) {
  std::string dir = std::string(LAKESTREAM_SOURCE_DIR) + "/data/online-shop/";
  EXPECT_EQ(ReadAll(dir + "sales_transaction_v4a.PARTIAL-first-1305-rows.csv.gz").size(), 1305u);
  EXPECT_EQ(ReadAll(dir + "online_retail.first-9999-rows.orig-format.csv.gz").size(), 9999u);
}

TEST(OrderCsv, RejectsAHeaderOutsideTheModelNamingTheMissingColumns) {
  auto path = WriteTemp("bad.csv", "id,when,what\n1,2,3\n");
  auto r = OrderCsvReader::Open(path);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("TransactionNo"), std::string::npos);
  EXPECT_NE(r.status().message().find("invoiceno"), std::string::npos);
}

TEST(OrderCsv, ReportsAnUnterminatedQuoteWithItsLine) {
  auto path = WriteTemp("unterminated.csv",
                        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
                        "1,A,\"oops,1,2010-12-01 08:26:00,1,,UK\n");
  auto r = OrderCsvReader::Open(path);
  ASSERT_TRUE(r.ok());
  OrderLine l;
  int64_t n;
  bool ok;
  auto has = (*r)->Next(&l, &n, &ok);
  ASSERT_FALSE(has.ok());
  EXPECT_NE(has.status().message().find("line 2"), std::string::npos);
}

TEST(OrderCsv, FlagsRecordsWithTheWrongNumberOfFields) {
  auto path = WriteTemp("short.csv",
                        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
                        "1,A,x,1\n");
  auto r = OrderCsvReader::Open(path);
  ASSERT_TRUE(r.ok());
  OrderLine l;
  int64_t n;
  bool ok = true;
  ASSERT_TRUE(*(*r)->Next(&l, &n, &ok));
  EXPECT_FALSE(ok);
  EXPECT_EQ(l.quantity, "1");
  EXPECT_EQ(l.country, "");
}

TEST(CustomerNo, NormalisesFloatTextOnly) {
  EXPECT_EQ(NormalizeCustomerNo("17850.0"), "17850");
  EXPECT_EQ(NormalizeCustomerNo(" 17850 "), "17850");
  EXPECT_EQ(NormalizeCustomerNo("17850.5"), "17850.5");
  EXPECT_EQ(NormalizeCustomerNo(""), "");
}

}  // namespace
}  // namespace lakestream
