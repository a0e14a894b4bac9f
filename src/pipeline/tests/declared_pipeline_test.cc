// DeclaredPipeline without Kafka: batches of records straight into ProcessBatch on a temporary
// lakehouse. Deduplication on the event-time clock (docs/pipelines/README.md, "[silver]").
#include "pipeline/declared_pipeline.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/ids.h"
#include "pipeline/pipeline_spec.h"

namespace lakestream {
namespace {

const char* kSpec = R"([pipeline]
name = "clicks"
[source]
topic = "clicks"
format = "json"
[[schema.fields]]
name = "id"
type = "string"
required = true
[[schema.fields]]
name = "ts"
type = "timestamp"
required = true
[silver]
dedupe_key = "id"
dedupe_horizon = "1h"
event_time = "ts"
watermark = "10m"
[[gold]]
name = "per_hour"
window = "1h"
measures = [{ name = "n", fn = "count" }]
)";

class DedupeClock : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() / ("lakestream_declared_" + RandomUuid())).string();
    auto spec = ParsePipelineSpec(kSpec, "clicks.toml");
    ASSERT_TRUE(spec.ok()) << spec.status().ToString();
    options_.spec = *spec;
    options_.lake_root = dir_;
    options_.gold_interval_ms = 0;
    Reopen();
  }
  void TearDown() override {
    if (pipeline_) {
      EXPECT_TRUE(pipeline_->Close().ok());
    }
    pipeline_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Reopen() {
    if (pipeline_) {
      ASSERT_TRUE(pipeline_->Close().ok());
    }
    pipeline_.reset();
    auto p = DeclaredPipeline::Open(options_);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    pipeline_ = std::move(p).value();
  }
  // One batch of (id, event time "HH:MM" on 2020-02-03 UTC); returns the rows silver admitted.
  int64_t Batch(const std::vector<std::pair<std::string, std::string>>& events) {
    std::vector<KafkaRecord> records;
    for (const auto& [id, hhmm] : events) {
      KafkaRecord r;
      r.topic = "clicks";
      r.offset = next_offset_++;
      r.timestamp_ms = 1;
      r.value = R"({"id":")" + id + R"(","ts":"2020-02-03T)" + hhmm + R"(:00+00:00"})";
      records.push_back(std::move(r));
    }
    const int64_t before = pipeline_->counters().silver_rows.load();
    Status st = pipeline_->ProcessBatch(records);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return pipeline_->counters().silver_rows.load() - before;
  }

  std::string dir_;
  DeclaredPipelineOptions options_;
  std::unique_ptr<DeclaredPipeline> pipeline_;
  int64_t next_offset_ = 0;
};

TEST_F(DedupeClock, KeysLiveForTheHorizonOfEventTimeAfterTheirArrivalLateOnesIncluded) {
  EXPECT_EQ(Batch({{"a", "10:00"}, {"b", "10:30"}}), 2);
  // "c" is 2.5 h late: it arrives when the clock reads 10:30, so it is remembered until 11:30.
  EXPECT_EQ(Batch({{"c", "08:00"}, {"a", "10:00"}}), 1) << "a's copy is a duplicate (clock 10:30 < 10:00 + 1h)";
  EXPECT_EQ(Batch({{"d", "11:05"}}), 1);
  // The clock reads 11:05: "a" (arrived at 10:00) is forgotten, "c" and "b" (arrived at 10:30) are not.
  EXPECT_EQ(Batch({{"c", "08:00"}, {"b", "10:30"}}), 0) << "a late event's copy is caught within the horizon";
  EXPECT_EQ(Batch({{"a", "10:00"}}), 1) << "past the horizon a copy is admitted again (documented)";
  EXPECT_EQ(pipeline_->counters().duplicates_dropped.load(), 3);

  // After a restart the state is rebuilt from silver: the same keys are remembered.
  Reopen();
  EXPECT_EQ(Batch({{"c", "08:00"}, {"b", "10:30"}, {"d", "11:05"}}), 0);
  // A processing-time horizon would have remembered everything of this test; the event-time clock
  // forgets "b" and "c" once event time passes 11:30, however fast the events come.
  EXPECT_EQ(Batch({{"e", "11:40"}, {"b", "10:30"}}), 2);
}

}  // namespace
}  // namespace lakestream
