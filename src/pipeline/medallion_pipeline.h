// MedallionPipeline: the one engine every pipeline runs on — the orders pipeline and every pipeline
// file alike (docs/pipelines/README.md; the exactly-once rules in docs/exactly-once.md). What differs
// between pipelines is data: the pipeline file (PipelineSpec), the source format that types a payload
// (silver_format.h) and the gold tables.
//
//   Kafka records ──► <sinks.bronze>      raw rows; txn per partition "lakestream-<name>-bronze-<topic>-<p>[@epoch]"
//   bronze version V ─► <sinks.silver>     typed by the format, expectations applied, deduplicated on
//                   │                      [silver].dedupe_key within its horizon; txn ("…silver<-bronze", V)
//                   └─► <sinks.quarantine> records the format or an expectation refused, with rule and reason;
//                                          txn ("…quarantine<-bronze", V); optionally also a dead-letter topic
//   silver version S ─► gold tables         maintained incrementally (gold_refresh.h); txn ("…gold<-silver", S)
//
// Silver and quarantine are derived from bronze versions, not from Kafka, in bronze order, so a crash
// between the commits of two layers is repaired at start-up by deriving the missing versions, whatever
// happened to the topic meanwhile. The deduplication state, the newest event time (the watermark:
// [silver].watermark behind it) and the format's own state are rebuilt from silver at start-up, so
// a crash and restart derive exactly the same rows. Gold runs on its own clock (Tick).
//
// Thread model: one thread calls Open/ProcessBatch/Tick/Close; counters(), ExpectationCounts() and
// CommittedBytes() from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
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
class SilverFormat;
class EventIdSet;

struct MedallionPipelineOptions {
  PipelineSpec spec;
  std::string lake_root = "./lakehouse";
  /// Scope of the Kafka offsets in bronze's txn appIds: the embedded broker's epoch, or "".
  std::string source_epoch;
  /// Format "order-line.v1": the zone of the events' local-time Date field (UTC, Europe/London, +HH:MM).
  std::string timezone = "Europe/London";
  /// Gold reflects a committed silver version within this many ms of its commit (Tick).
  int64_t gold_interval_ms = 5000;
  int duckdb_threads = 1;
  std::string duckdb_memory_limit = "1GB";
  /// Automatic compaction: OPTIMIZE an append-only table once it holds more than this many files
  /// smaller than target_file_size_bytes (0: never).
  int64_t auto_compact_min_files = 50;
  int64_t target_file_size_bytes = 128LL << 20;
  /// The writer lease (writer_lease.h) taken before anything is written: its TTL (ms; 0: no lease,
  /// for library tests that open a pipeline twice on purpose) and the command named in it.
  int64_t writer_lease_ms = 15000;
  std::string command = "ingest";
  /// Data-loss gaps the operator accepts at this start (--accept-data-loss; data_loss.h).
  std::vector<DataLossAcceptance> accept_data_loss;
};

/// Publishes one quarantined record to the dead-letter topic: the original record, the failed rule
/// names (comma-separated) and the reason. Errors are the sink's (the pipeline stops on them).
using DeadLetterSink =
    std::function<Status(const KafkaRecord& original, const std::string& rules, const std::string& reason)>;

class MedallionPipeline : public StreamingPipeline {
 public:
  ~MedallionPipeline() override;
  /// Takes the writer lease, binds the file's SQL, creates missing tables (checking existing ones),
  /// settles recorded data loss, repairs bronze versions with no derived rows, rebuilds the
  /// deduplication state and the watermark from silver, and catches silver, quarantine and gold up
  /// with bronze. Errors: the file's SQL (with lines), an unknown format or time zone, Conflict when
  /// another process holds the writer lease, DataLoss for an unaccepted gap, storage, DuckDB and
  /// Delta errors (naming the table).
  static Result<std::unique_ptr<MedallionPipeline>> Open(const MedallionPipelineOptions& options);

  const std::string& name() const override { return options_.spec.name; }
  /// Bronze, silver, quarantine, then the gold tables in refresh order (paths under the lake root).
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

  const PipelineSpec& spec() const { return options_.spec; }
  /// Brings every gold table up to silver (and rewrites days the watermark has made final).
  /// Errors: RefreshGoldTable's.
  Status RefreshGold();
  /// Recomputes `table` from its source, each in one commit per table (docs/pipelines/README.md,
  /// "Rebuilding a table"): a gold table in full from silver; silver or quarantine (derived together)
  /// from every bronze version in order, with the deduplication state and the watermark rebuilt as they
  /// go, then every gold table in full. For a table restored or edited by hand, or after a change of
  /// the rules. Errors: InvalidArgument when `table` is not one of this pipeline's derived tables
  /// (bronze is the source; names them); Delta's, DuckDB's and the derivation's (an unreadable bronze
  /// version after log cleanup: restore bronze's log, or accept the loss and rebuild gold only).
  Status Rebuild(const std::string& table);
  /// Sends every record quarantined from now on to `sink` as well (after the quarantine commit).
  void SetDeadLetterSink(DeadLetterSink sink) { dead_letter_ = std::move(sink); }
  /// The source lines of `source_name` already in bronze, from the payloads' source.name/source.line
  /// (the orders replay's lineage, docs/events/order-events.md): a resumed replay skips them.
  /// Errors: storage and DuckDB errors.
  Result<std::set<int64_t>> CommittedSourceLines(const std::string& source_name);

 private:
  MedallionPipeline() = default;
  /// Types, checks and deduplicates the records of one bronze version and commits them to silver and
  /// quarantine as `mode` says (medallion::CommitDerived); `quarantine_only` commits quarantine alone
  /// and leaves the deduplication state, the watermark and the format's state as they were.
  Status DeriveSilver(const std::vector<KafkaRecord>& records, const std::vector<int64_t>& ingest_us,
                      int64_t bronze_version, medallion::DeriveCommit mode, bool quarantine_only = false);
  Status DeriveVersion(const std::vector<KafkaRecord>& records, const std::vector<int64_t>& ingest_us,
                       int64_t bronze_version, medallion::DeriveCommit mode, bool quarantine_only);
  Status CatchUp();
  /// Loads the deduplication state (keys stored within the horizon before `oldest_us`, ingest time
  /// µs), the newest event time and the format's state from silver.
  Status LoadState(int64_t oldest_us);
  /// Days since the epoch before which every day is final (the watermark's day), or INT64_MIN.
  int64_t FirstOpenDay() const;
  void PublishWatermark();
  Status MaybeCompact();
  Result<std::vector<std::string>> ActiveFilePaths(const std::string& table);

  MedallionPipelineOptions options_;
  std::unique_ptr<SilverFormat> format_;
  std::unique_ptr<ColumnarEngine> engine_;
  std::map<std::string, std::unique_ptr<DeltaTable>> tables_;
  DeltaTable* bronze_table_ = nullptr;
  DeltaTable* silver_ = nullptr;
  DeltaTable* quarantine_ = nullptr;
  std::unique_ptr<EventIdSet> seen_ids_;
  struct GoldTable {
    GoldPlan plan;
    const GoldSpec* window = nullptr;  // a [[gold]] window aggregation of the file, or nullptr
    bool adjustments = false;          // its <name>_adjustments companion
  };
  std::vector<GoldTable> gold_;
  int64_t max_event_us_ = INT64_MIN;  // newest event time in silver, moved after each bronze version
  PipelineCounters counters_;
  std::unique_ptr<medallion::BronzeSink> bronze_;
  std::unique_ptr<medallion::ExpectationTally> tally_;
  DeadLetterSink dead_letter_;
  int64_t last_gold_ms_ = 0;
  bool gold_pending_ = false;   // a silver version committed since the last gold refresh
  bool derive_failed_ = false;  // a batch reached bronze but not silver (e.g. a `fail` expectation)
  std::unique_ptr<medallion::DerivedAppIds> apps_;
  std::unique_ptr<WriterLease> lease_;  // held from Open until Close or destruction
  // Bronze compaction off the pipeline thread; declared last, so it stops before the tables go.
  std::unique_ptr<medallion::BackgroundCompactor> bronze_compactor_;
};

}  // namespace lakestream
