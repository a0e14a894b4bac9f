// The parts of the bronze → silver/quarantine flow that every pipeline shares (docs/exactly-once.md):
// bronze's raw rows with one txn per Kafka partition, the quarantine table's rows, derived-table
// commits that record the bronze version they reflect, reading a bronze version back for catch-up,
// and automatic compaction. Internal to src/pipeline.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "lake/columnar/columnar.h"
#include "lake/delta/delta_table.h"
#include "pipeline/streaming_pipeline.h"
#include "source/kafka/kafka_client.h"

namespace lakestream::medallion {

/// Bronze: payload, key, headers (JSON), topic, partition, offset, kafka_timestamp, ingest_time, source_epoch.
const std::vector<ColumnSpec>& BronzeColumns();
/// Quarantine: payload, event_id, failed_rules, reason, topic, kafka_partition, kafka_offset,
/// kafka_timestamp, bronze_version, quarantined_at.
const std::vector<ColumnSpec>& QuarantineColumns();
DeltaSchema ToDeltaSchema(const std::vector<ColumnSpec>& cols);

/// The Kafka timestamp of a record in µs, nullopt when the record has none.
std::optional<int64_t> KafkaTimestampMicros(const KafkaRecord& r);

/// Opens (creating when missing) the table at `lake_root`/`name`. Errors: storage and Delta's.
Result<std::unique_ptr<DeltaTable>> OpenTable(const std::string& lake_root, const std::string& name,
                                              const std::vector<ColumnSpec>& cols,
                                              const std::vector<std::string>& partitions, bool append_only);

/// Writes `batch` as a new data file of `table` and returns its add action. Errors: IoError.
Result<AddFile> WriteDataFile(ColumnarEngine& engine, DeltaTable& table, const RecordBatch& batch);

/// `records` without those at or below the offset bronze's txn `app_id(topic, partition)` records.
std::vector<KafkaRecord> WithoutCommitted(const Snapshot& bronze,
                                          const std::function<std::string(const std::string&, int32_t)>& app_id,
                                          const std::vector<KafkaRecord>& records);

/// Commits `records` to bronze with ingest time `ingest_us`, one txn per (topic, partition) recording
/// its last offset. Adds each partition's payload bytes to `bytes`. Returns the bronze version.
Result<int64_t> CommitBronze(DeltaTable& bronze, ColumnarEngine& engine, const std::vector<KafkaRecord>& records,
                             int64_t ingest_us, const std::string& source_epoch,
                             const std::function<std::string(const std::string&, int32_t)>& app_id,
                             const std::string& query_id, std::map<int32_t, int64_t>* bytes);

/// Appends one quarantine row (QuarantineColumns order) for `r`.
void AppendQuarantineRow(RecordBatch& bad, const KafkaRecord& r, const std::optional<std::string>& event_id,
                         const std::string& rules, const std::string& reason, int64_t bronze_version, int64_t now_us);

/// Derived tables (silver, quarantine) commit the bronze version they have processed as their txn
/// `app`. A version that yields no rows is committed only as a periodic fence (every 50 versions) or
/// when `fence`: re-deriving it is deterministic and yields no rows again. Returns the version
/// committed, or -1 when nothing was committed (`bronze_version` <= `done`, or no rows and no fence).
Result<int64_t> CommitDerived(DeltaTable& table, ColumnarEngine& engine, const RecordBatch& rows,
                              const std::string& app, int64_t bronze_version, int64_t done, bool fence,
                              const std::map<std::string, std::string>& metrics);

/// The records of bronze version `v` (data files it added with dataChange), ordered by partition and
/// offset, with their ingest times (µs). Errors: storage, Delta and DuckDB's.
Status ReadBronzeVersion(DeltaTable& bronze, ColumnarEngine& engine, int64_t v, std::vector<KafkaRecord>* records,
                         std::vector<int64_t>* ingest_us);

/// OPTIMIZE each of `tables` holding more than `min_files` small files — smaller than an eighth of
/// `target_bytes` — into files near `target_bytes`; larger files (e.g. an earlier compaction's) are
/// left alone, so each row is compacted once (`min_files` 0: never).
/// A conflict with another writer is logged and skipped. Counts in `counters`. Errors: other than Conflict.
Status CompactSmallFiles(const std::vector<DeltaTable*>& tables, ColumnarEngine& engine, int64_t min_files,
                         int64_t target_bytes, PipelineCounters& counters);

/// Auto-compaction of one append-only table (bronze) on a thread of its own, with its own table
/// handle and DuckDB instance (1 thread), so the ingest loop does not wait for the rewrite and the
/// second core does it. Its OPTIMIZE commits race the pipeline's appends under the Delta conflict
/// rules (DeltaTable::Commit): it removes only files it read, with dataChange=false, and the appends
/// read nothing, so both sides retry after each other and neither fails. Not for tables an
/// incremental reader follows file by file (silver: gold counts the files added since its last
/// refresh; a file compacted away before gold read it forces a full recount).
class BackgroundCompactor {
 public:
  /// Starts the thread over `storage` (a table `name` that exists). `min_files`, `target_bytes`:
  /// as CompactSmallFiles. Errors: the table's and DuckDB's Open.
  static Result<std::unique_ptr<BackgroundCompactor>> Start(std::shared_ptr<Storage> storage, const std::string& name,
                                                            int64_t min_files, int64_t target_bytes,
                                                            const std::string& duckdb_memory_limit,
                                                            PipelineCounters* counters);
  ~BackgroundCompactor();
  /// Asks for a look at the small files (call after a commit); returns at once.
  void Nudge();
  /// The first error a compaction met (a conflict is not one: it retries at the next nudge); OK otherwise.
  Status status() const;
  /// Finishes the compaction under way and joins the thread. Idempotent.
  void Stop();

 private:
  BackgroundCompactor() = default;
  void Loop();
  std::unique_ptr<DeltaTable> table_;
  std::unique_ptr<ColumnarEngine> engine_;
  int64_t min_files_ = 0, target_bytes_ = 0;
  PipelineCounters* counters_ = nullptr;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool nudged_ = false, stop_ = false;
  Status status_;
  std::thread thread_;
};

class BronzeSink;

/// The start of every pipeline's micro-batch: the bronze compactor's error (if any) stops it; the
/// batch is committed to bronze; the compactor is nudged; `derive` takes the committed version to
/// silver and quarantine. A failed derive sets `*derive_failed` (Close must then not fence past that
/// version: a restart derives it) and returns its error. Counts the batch in `counters`. Returns the
/// bronze version committed, or -1 when every record was already in bronze (nothing else done).
Result<int64_t> CommitMicroBatch(const std::vector<KafkaRecord>& records, BronzeSink& bronze,
                                 BackgroundCompactor* compactor, PipelineCounters& counters, bool* derive_failed,
                                 const std::function<Status(const std::vector<KafkaRecord>& records,
                                                            const std::vector<int64_t>& ingest_us,
                                                            int64_t bronze_version)>& derive);

/// counters.checkpoints = the checkpoints written by all of `tables` since they were opened.
void CountCheckpoints(const std::map<std::string, std::unique_ptr<DeltaTable>>& tables, PipelineCounters& counters);

/// A pipeline's bronze side: the txn appId of each partition ("<app_prefix>-bronze-<topic>-<p>[@epoch]"),
/// where to resume, committing a micro-batch, and the payload bytes committed per partition (for
/// backpressure). Commit and StartOffset on the pipeline thread; CommittedBytes from any thread.
class BronzeSink {
 public:
  /// `bronze`, `engine` and `counters` must outlive the sink.
  BronzeSink(std::string app_prefix, std::string source_epoch, DeltaTable* bronze, ColumnarEngine* engine,
             PipelineCounters* counters);
  std::string AppId(const std::string& topic, int32_t partition) const;
  /// The offset after the one bronze's txn records for the partition, or nullopt (from the beginning).
  std::optional<int64_t> StartOffset(const std::string& topic, int32_t partition);
  struct Committed {
    std::vector<KafkaRecord> records;  // those not in bronze before
    std::vector<int64_t> ingest_us;    // one per record
    int64_t version = -1;              // -1: every record was a redelivery, nothing committed
  };
  /// Commits the records above each partition's committed offset, counting rows and bytes.
  /// Errors: CommitBronze's (Conflict when another writer owns a partition).
  Result<Committed> Commit(const std::vector<KafkaRecord>& records);
  int64_t CommittedBytes(int32_t partition) const;

 private:
  std::string app_prefix_, source_epoch_;
  DeltaTable* bronze_;
  ColumnarEngine* engine_;
  PipelineCounters* counters_;
  mutable std::mutex bytes_mu_;
  std::map<int32_t, int64_t> committed_bytes_;
};

/// Failures per expectation since start-up, in declaration order; Add on the pipeline thread, Counts
/// from any thread.
class ExpectationTally {
 public:
  explicit ExpectationTally(const std::vector<Expectation>& expectations);
  /// `failed[i]`: new failures of expectation i.
  void Add(const std::vector<int64_t>& failed);
  std::vector<ExpectationCount> Counts() const;

 private:
  mutable std::mutex mu_;
  std::vector<ExpectationCount> counts_;
};

/// Every table's summary line.
std::vector<TableSummary> Summarize(const std::vector<std::pair<std::string, DeltaTable*>>& tables);

}  // namespace lakestream::medallion
