// DeclaredPipeline: a pipeline run from its file (format "json"; docs/pipelines/README.md) — bronze,
// silver (typed by the schema, expectations, deduplication, event time and watermark), quarantine,
// and gold aggregations over tumbling event-time windows, with the exactly-once rules of the orders
// pipeline (docs/exactly-once.md):
//
//   Kafka records ──► <sinks.bronze>      raw rows; txn per partition "lakestream-<name>-bronze-<topic>-<p>[@epoch]"
//   bronze version V ─► <sinks.silver>     typed, validated, deduplicated on dedupe_key; txn ("…silver<-bronze", V)
//                   └─► <sinks.quarantine> records that broke the schema or a quarantine expectation
//   silver version S ─► gold/<table>…      date partitions touched by new rows rewritten; txn ("…gold<-silver", S)
//
// Watermark: before deriving each bronze version, watermark = (the newest event time silver holds) −
// [silver].watermark. A row whose event day ended at or before the watermark is stored with
// arrived_after_close = true: gold tables with late_events = "adjustments" count it in
// <table>_adjustments, never in a day already final. Both the newest event time and the deduplication
// state are rebuilt from silver at start-up, and silver is derived from bronze versions in order, so
// a crash and restart derive exactly the same rows and flags.
//
// Thread model: one thread calls Open/ProcessBatch/RefreshGold/Close; counters() from any thread.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "lake/columnar/columnar.h"
#include "lake/delta/delta_table.h"
#include "pipeline/gold_refresh.h"
#include "pipeline/pipeline_spec.h"
#include "pipeline/streaming_pipeline.h"

namespace lakestream {

namespace medallion {
class BronzeSink;
class ExpectationTally;
class BackgroundCompactor;
struct DerivedAppIds;
enum class DeriveCommit;
}  // namespace medallion
class WriterLease;

struct DeclaredPipelineOptions {
  PipelineSpec spec;
  std::string lake_root = "./lakehouse";
  /// Scope of the Kafka offsets in bronze's txn appIds: the embedded broker's epoch, or "".
  std::string source_epoch;
  int64_t gold_interval_ms = 5000;
  int duckdb_threads = 1;
  std::string duckdb_memory_limit = "1GB";
  int64_t auto_compact_min_files = 50;
  int64_t target_file_size_bytes = 128LL << 20;
  /// The writer lease (writer_lease.h): its TTL (ms; 0: none) and the command named in it.
  int64_t writer_lease_ms = 15000;
  std::string command = "ingest";
  /// Data-loss gaps the operator accepts at this start (--accept-data-loss; data_loss.h).
  std::vector<DataLossAcceptance> accept_data_loss;
};

class DeclaredPipeline : public StreamingPipeline {
 public:
  ~DeclaredPipeline() override;
  /// Binds the SQL of the file, creates missing tables, rebuilds the deduplication state and the
  /// watermark from silver, and catches silver, quarantine and gold up with bronze. Errors: the file's
  /// SQL (with lines), storage, DuckDB and Delta errors (naming the table).
  static Result<std::unique_ptr<DeclaredPipeline>> Open(const DeclaredPipelineOptions& options);

  const std::string& name() const override { return options_.spec.name; }
  std::vector<std::string> Tables() const override;
  std::optional<int64_t> StartOffset(const std::string& topic, int32_t partition) override;
  Status ProcessBatch(const std::vector<KafkaRecord>& records) override;
  Status Tick() override;
  Status Close() override;
  int64_t CommittedBytes(int32_t partition) const override;
  std::vector<TableSummary> Summary() override;
  const PipelineCounters& counters() const override { return counters_; }
  std::vector<ExpectationCount> ExpectationCounts() const override;
  Status RecordDataLoss(const OffsetGap& gap) override;
  std::vector<DataLossGap> DataLossGaps() override;
  void SetSourceEpoch(const std::string& epoch) override;

  /// Brings every gold table up to silver (and marks days final as the watermark passes them).
  Status RefreshGold();
  const PipelineSpec& spec() const { return options_.spec; }
  /// The SELECT computing gold table `g` (or its adjustments companion) from silver relation `silver_sql`,
  /// with days before `first_open_day` (days since 1970-01-01) final: the definition, for tests.
  static std::string GoldQuery(const PipelineSpec& spec, const GoldSpec& g, bool adjustments,
                               const std::string& silver_sql, int64_t first_open_day);
  /// The SELECT merging `rows` (gold rows and partials of gold table `g`, in its columns) into one row
  /// per group: counts and sums summed, min of mins, max of maxes, is_final recomputed from
  /// `first_open_day`. Used when every measure is mergeable (GoldSpec::Mergeable).
  static std::string MergeQuery(const PipelineSpec& spec, const GoldSpec& g, bool adjustments, const std::string& rows,
                                int64_t first_open_day);

 private:
  DeclaredPipeline() = default;
  /// Types, checks and deduplicates the records of one bronze version and commits them as `mode` says
  /// (medallion::CommitDerived); `quarantine_only` commits quarantine alone and leaves the
  /// deduplication state and the watermark as they were.
  Status DeriveSilver(const std::vector<KafkaRecord>& records, const std::vector<int64_t>& ingest_us,
                      int64_t bronze_version, medallion::DeriveCommit mode, bool quarantine_only = false);
  Status DeriveVersion(const std::vector<KafkaRecord>& records, const std::vector<int64_t>& ingest_us,
                       int64_t bronze_version, medallion::DeriveCommit mode, bool quarantine_only);
  Status CatchUp();
  /// Loads the deduplication state (ids stored within the horizon before `oldest_us`, ingest time µs)
  /// and the newest event time from silver.
  Status LoadState(int64_t oldest_us);
  /// Days since the epoch before which every day is final (the watermark's day), or INT64_MIN.
  int64_t FirstOpenDay() const;
  Result<std::vector<std::string>> ActiveFilePaths(const std::string& table);

  DeclaredPipelineOptions options_;
  std::unique_ptr<ColumnarEngine> engine_;
  std::map<std::string, std::unique_ptr<DeltaTable>> tables_;
  std::unique_ptr<class SchemaDecoder> decoder_;
  std::unique_ptr<class EventIdSet> seen_ids_;
  std::vector<ColumnSpec> silver_columns_;
  size_t event_time_col_ = 0, dedupe_col_ = 0;
  struct GoldTable {
    GoldPlan plan;
    const GoldSpec* spec;
    bool adjustments;
  };
  std::vector<GoldTable> gold_;
  int64_t max_event_us_ = INT64_MIN;  // newest event time in silver, moved after each bronze version
  PipelineCounters counters_;
  std::unique_ptr<medallion::BronzeSink> bronze_;
  std::unique_ptr<medallion::ExpectationTally> tally_;
  int64_t last_gold_ms_ = 0;
  bool gold_pending_ = false;  // a silver version committed since the last gold refresh
  bool derive_failed_ = false;
  std::unique_ptr<medallion::DerivedAppIds> apps_;
  std::unique_ptr<WriterLease> lease_;  // held from Open until Close or destruction
  // Bronze compaction off the pipeline thread; declared last, so it stops before the tables go.
  std::unique_ptr<medallion::BackgroundCompactor> bronze_compactor_;
};

}  // namespace lakestream
