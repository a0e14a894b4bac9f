// OrdersPipeline: the orders medallion — bronze, silver (+ quarantine) and gold Delta tables — and
// the exactly-once rules that tie them together (docs/exactly-once.md; every rule and column in
// docs/pipelines/orders.md).
//
//   Kafka records ──► bronze/orders            one row per record: raw bytes, key, headers, Kafka coordinates;
//                                              txn per partition: (appId "<prefix>-<topic>-<p>[@epoch]", last offset)
//   bronze version V ─► silver/orders           typed, expectations applied, deduplicated by event_id;
//                   │                           txn ("…silver<-bronze", V)
//                   └─► silver/orders_quarantine rows an expectation quarantined, with the rule(s) and reason;
//                                              txn ("…quarantine<-bronze", V); optionally also to a dead-letter topic
//   silver version S ─► gold/sales_daily, gold/sales_hourly, gold/product_sales, gold/customer_rfm
//                                              incremental (orders_gold.h); txn ("…gold<-silver", S)
//
// Silver and quarantine are derived from bronze versions, not from Kafka, so a crash between the
// commits of two layers is repaired at start-up by re-deriving the missing bronze versions
// (CatchUp), whatever happened to the topic meanwhile. The deduplication state (event ids stored
// within the horizon) is rebuilt from silver at start-up, so derivation is deterministic.
//
// Thread model: one thread calls Open/ProcessBatch/RefreshGold/Close; counters() may be read from any
// thread.
#pragma once

#include <atomic>
#include <functional>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/time.h"
#include "lake/columnar/columnar.h"
#include "lake/delta/delta_table.h"
#include "pipeline/orders_gold.h"
#include "pipeline/silver_rules.h"
#include "pipeline/streaming_pipeline.h"
#include "source/kafka/kafka_client.h"

namespace lakestream {

namespace medallion {
class BronzeSink;
class ExpectationTally;
class BackgroundCompactor;
struct DerivedAppIds;
enum class DeriveCommit;
}  // namespace medallion
class WriterLease;

struct OrdersPipelineOptions {
  std::string lake_root = "./lakehouse";
  std::string topic = "orders";
  /// Scope of the Kafka offsets in bronze's txn appIds: the embedded broker's epoch, or "".
  std::string source_epoch;
  std::string timezone = "Europe/London";
  int64_t gold_interval_ms = 5000;
  int duckdb_threads = 1;
  std::string duckdb_memory_limit = "1GB";
  /// Automatic compaction: OPTIMIZE a bronze/silver table once it holds more than this many files
  /// smaller than target_file_size_bytes (0: never).
  int64_t auto_compact_min_files = 50;
  int64_t target_file_size_bytes = 128LL << 20;
  /// Expectations, deduplication, country mapping and adjustment codes (pipelines/orders.toml).
  SilverRules rules;
  /// The writer lease (writer_lease.h) taken before anything is written: its TTL (ms; 0: no lease,
  /// for library tests that open a pipeline twice on purpose) and the command named in it.
  int64_t writer_lease_ms = 15000;
  std::string command = "ingest";
  /// Data-loss gaps the operator accepts at this start (--accept-data-loss; data_loss.h).
  std::vector<DataLossAcceptance> accept_data_loss;
};

/// Publishes one quarantined record to the dead-letter topic: the original record, the failed
/// rule names (comma-separated) and the reason. Errors are the sink's (the pipeline stops on them).
using DeadLetterSink =
    std::function<Status(const KafkaRecord& original, const std::string& rules, const std::string& reason)>;


class OrdersPipeline : public StreamingPipeline {
 public:
  ~OrdersPipeline();
  /// Creates the tables when missing, checks existing ones, and catches silver, quarantine and gold up
  /// with bronze. Errors: from storage and Delta (names the table).
  static Result<std::unique_ptr<OrdersPipeline>> Open(const OrdersPipelineOptions& options);

  /// Where to resume `partition` of `topic`: the offset after the one recorded in bronze's txn for
  /// this topic/partition/epoch, or nullopt (start at the beginning). Refreshes bronze first.
  std::optional<int64_t> StartOffset(const std::string& topic, int32_t partition) override;

  /// Commits one micro-batch: bronze (with a txn per partition), then silver and quarantine; gold
  /// when gold_interval_ms has passed. Records at or below bronze's txn offset are skipped (a
  /// redelivery after a rebalance). Errors: Conflict when another writer owns a partition.
  Status ProcessBatch(const std::vector<KafkaRecord>& records) override;

  /// Brings every gold table up to the current silver snapshot (incrementally).
  Status RefreshGold();

  /// Automatic compaction: runs OPTIMIZE on each append-only table holding more than
  /// auto_compact_min_files small files. A conflict with another writer's compaction is logged and
  /// skipped (the next round retries). Errors: storage and Delta errors other than Conflict.
  Status MaybeCompact();
  /// Fences silver/quarantine txns to the latest bronze version and refreshes gold: call before exit.
  /// After a batch whose silver derivation failed it does nothing, so that the next Open derives
  /// that bronze version again (CatchUp).
  Status Tick() override;
  Status Close() override;

  /// The set of source lines of `source_name` already in bronze (from the events' source.line).
  Result<std::set<int64_t>> CommittedSourceLines(const std::string& source_name);
  /// Payload bytes committed to bronze per partition by this process (for backpressure).
  int64_t CommittedBytes(int32_t partition) const override;

  std::vector<TableSummary> Summary() override;
  const PipelineCounters& counters() const override { return counters_; }
  /// Failures per expectation since start-up, in declaration order.
  std::vector<ExpectationCount> ExpectationCounts() const override;
  Status RecordDataLoss(const OffsetGap& gap) override;
  std::vector<DataLossGap> DataLossGaps() override;
  void SetSourceEpoch(const std::string& epoch) override;
  const std::string& name() const override { return name_; }
  std::vector<std::string> Tables() const override { return TableNames(); }
  /// Sends every record quarantined from now on to `sink` as well (after the quarantine commit).
  void SetDeadLetterSink(DeadLetterSink sink) { dead_letter_ = std::move(sink); }
  ColumnarEngine& engine() { return *engine_; }
  /// Local paths of the active files of a table ("bronze/orders", "silver/orders", …).
  Result<std::vector<std::string>> ActiveFilePaths(const std::string& table);

  /// Table names, as paths under the lake root.
  static constexpr const char* kBronze = "bronze/orders";
  static constexpr const char* kSilver = "silver/orders";
  static constexpr const char* kQuarantine = "silver/orders_quarantine";
  /// All tables, bronze first then silver, quarantine and the gold tables.
  static std::vector<std::string> TableNames();

 private:
  OrdersPipeline() = default;
  /// Types, checks and deduplicates the records of one bronze version and commits them to silver and
  /// quarantine as `mode` says (medallion::CommitDerived); `quarantine_only` commits quarantine alone.
  Status DeriveSilver(const std::vector<KafkaRecord>& records, const std::vector<int64_t>& ingest_us,
                      int64_t bronze_version, medallion::DeriveCommit mode, bool quarantine_only = false);
  Status CatchUp();
  /// Loads the event ids (and line contents) silver stored within the horizon before `oldest_us`
  /// (ingest time, µs): the horizon before now, or before the oldest version a repair derives.
  Status LoadDedupeState(int64_t oldest_us);
  /// Publishes the checkpoints written by all tables in counters_.checkpoints.
  void CountCheckpoints();

  OrdersPipelineOptions options_;
  std::unique_ptr<ColumnarEngine> engine_;
  std::map<std::string, std::unique_ptr<DeltaTable>> tables_;
  std::unique_ptr<class OrderEventDecoder> decoder_;
  std::unique_ptr<class EventIdSet> seen_ids_, seen_lines_;
  PipelineCounters counters_;
  std::unique_ptr<medallion::BronzeSink> bronze_;
  std::unique_ptr<medallion::ExpectationTally> tally_;
  DeadLetterSink dead_letter_;
  int64_t last_gold_ms_ = 0;
  bool gold_pending_ = false;  // a silver version committed since the last gold refresh
  bool derive_failed_ = false;  // a batch reached bronze but not silver (e.g. a `fail` expectation)
  std::string name_ = "orders";
  std::unique_ptr<medallion::DerivedAppIds> apps_;
  std::unique_ptr<WriterLease> lease_;  // held from Open until Close or destruction
  // Bronze compaction off the pipeline thread; declared last, so it stops before the tables go.
  std::unique_ptr<medallion::BackgroundCompactor> bronze_compactor_;
};

}  // namespace lakestream
