#include "pipeline/dead_letters.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/base64.h"
#include "common/ids.h"

namespace lakestream {
namespace {

std::string WriteTemp(const std::string& text) {
  auto path = std::filesystem::temp_directory_path() / ("dead_letters_" + RandomUuid() + ".jsonl");
  std::ofstream(path, std::ios::binary) << text;
  return path.string();
}

TEST(Base64, RoundTripsEveryLengthAndRejectsBadText) {
  std::string bytes;
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(Base64Decode(Base64Encode(bytes)), bytes) << i;
    bytes.push_back(static_cast<char>(0xF0 + i));
  }
  EXPECT_EQ(Base64Encode("foob"), "Zm9vYg==");  // RFC 4648 §10 test vector
  EXPECT_FALSE(Base64Decode("abc").has_value());
  EXPECT_FALSE(Base64Decode("ab!=").has_value());
}

TEST(DeadLetters, ExportLinesReadBackExactlyIncludingNonUtf8Payloads) {
  QuarantinedRecord text{"{\"event_id\":\"e1\",\"TransactionNo\":\"C536379\"}", "e1", "price_cap,date_parseable",
                         "why", "orders", 2, 41, "2026-11-21T00:00:00.000000Z"};
  QuarantinedRecord binary{std::string("\xff\xfe raw", 6), std::nullopt, "valid_json", "not JSON", "orders", 0, 7, ""};
  std::string path = WriteTemp(QuarantinedRecordJson(text) + "\n\n" + QuarantinedRecordJson(binary) + "\n");
  EXPECT_NE(QuarantinedRecordJson(binary).find("\"payload_base64\""), std::string::npos);
  auto read = ReadDeadLetterFile(path);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  ASSERT_EQ(read->size(), 2u);
  EXPECT_EQ((*read)[0].payload, text.payload);
  EXPECT_EQ((*read)[0].event_id, "e1");
  EXPECT_EQ((*read)[0].failed_rules, text.failed_rules);
  EXPECT_EQ((*read)[0].partition, 2);
  EXPECT_EQ((*read)[0].offset, 41);
  EXPECT_EQ((*read)[1].payload, binary.payload);
  EXPECT_FALSE((*read)[1].event_id.has_value());
  EXPECT_EQ(ReplayKeyOf(text.payload, "TransactionNo", "event_id"), "C536379");
  EXPECT_EQ(ReplayKeyOf("{\"event_id\":\"e2\"}", "TransactionNo", "event_id"), "e2");
  EXPECT_EQ(ReplayKeyOf("{\"customer_id\":7494212,\"message_id\":\"m\"}", "customer_id", "message_id"), "7494212");
  EXPECT_EQ(ReplayKeyOf("not json", "TransactionNo", "event_id"), "");
}

TEST(DeadLetters, AnInlineEventObjectIsAcceptedAndBadLinesAreNamed) {
  auto ok = ReadDeadLetterFile(WriteTemp("{\"payload\":{\"event_id\":\"e3\",\"Price\":1.5}}\n"));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ((*ok)[0].payload, "{\"event_id\":\"e3\",\"Price\":1.5}");
  auto missing = ReadDeadLetterFile(WriteTemp("{\"payload\":\"{}\"}\n{\"event_id\":\"x\"}\n"));
  EXPECT_NE(missing.status().message().find("line 2: missing field \"payload\""), std::string::npos)
      << missing.status().ToString();
  auto bad = ReadDeadLetterFile(WriteTemp("{\"payload\":\n"));
  EXPECT_NE(bad.status().message().find("line 1: not a JSON object"), std::string::npos) << bad.status().ToString();
  EXPECT_EQ(ReadDeadLetterFile("/nonexistent/file.jsonl").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace lakestream
