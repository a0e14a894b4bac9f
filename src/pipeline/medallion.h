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
#include "lake/delta/table_io.h"
#include "pipeline/streaming_pipeline.h"
#include "source/kafka/kafka_client.h"

namespace lakestream::medallion {

/// Bronze: payload, key, headers (JSON), topic, partition, offset, kafka_timestamp, ingest_time, source_epoch.
const std::vector<ColumnSpec>& BronzeColumns();
/// Quarantine: payload, event_id, failed_rules, reason, topic, kafka_partition, kafka_offset,
/// kafka_timestamp, bronze_version, quarantined_at.
const std::vector<ColumnSpec>& QuarantineColumns();
using ::lakestream::ToDeltaSchema;  // lake/delta/table_io.h
using ::lakestream::OpenTable;
using ::lakestream::WriteDataFile;

/// The Kafka timestamp of a record in µs, nullopt when the record has none.
std::optional<int64_t> KafkaTimestampMicros(const KafkaRecord& r);

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

/// The txn appIds of a pipeline's derived tables (docs/exactly-once.md): `prefix` is
/// "lakestream-<pipeline>".
struct DerivedAppIds {
  explicit DerivedAppIds(const std::string& prefix)
      : silver(prefix + "-silver<-bronze"),
        quarantine(prefix + "-quarantine<-bronze"),
        verified(prefix + "-silver<-bronze-verified"),
        silver_repair(prefix + "-silver<-bronze-repair"),
        quarantine_repair(prefix + "-quarantine<-bronze-repair") {}
  std::string silver, quarantine;  // the last bronze version derived, in order
  /// On silver: every bronze version up to it is derived (no version was skipped). Written with every
  /// silver commit by a writer that derives each version in turn; absent in lakehouses written before.
  std::string verified;
  /// The last bronze version a start-up repair derived (below the in-order txns above).
  std::string silver_repair, quarantine_repair;
};

/// How a derived table (silver, quarantine) commits the rows of one bronze version.
enum class DeriveCommit {
  /// txn `app` = the bronze version; skipped when the table holds it already (version <= `done`); a
  /// version without rows is committed only as a periodic fence (every 50 versions): re-deriving it is
  /// deterministic and yields no rows again.
  kAppend,
  /// As kAppend, but a version without rows is committed too (txn only): before exit, end of catch-up.
  kFence,
  /// A version below the txn that the table lacks (the start-up check found it): the rows with txn
  /// `repair_app` = the version, committed even without rows so that the repair is recorded.
  kRepair,
};

/// Commits `rows` derived from `bronze_version` to `table` as `mode` says; with kAppend and kFence also
/// sets each of `also_set` (e.g. DerivedAppIds::verified) to the version. Returns the version
/// committed, or -1 when nothing was committed.
Result<int64_t> CommitDerived(DeltaTable& table, ColumnarEngine& engine, const RecordBatch& rows,
                              const std::string& app, const std::string& repair_app, int64_t bronze_version,
                              int64_t done, DeriveCommit mode, const std::vector<std::string>& also_set,
                              const std::map<std::string, std::string>& metrics);

/// What the start-up check found (docs/reliability.md, "A double start"): bronze versions at or below
/// the derived tables' txns whose rows are in neither silver nor quarantine, found by what the tables
/// contain (their bronze_version columns), not by the txns alone.
struct UnderivedVersions {
  int64_t verified = -1;                // checked before: every version up to it is derived
  int64_t checked_through = -1;         // this check covers (verified, checked_through]
  std::vector<int64_t> missing;         // bronze versions that added data and have no derived rows
  int64_t quarantine_only = -1;         // a repair interrupted after its silver commit (-1: none)
  int64_t unreadable = 0;               // versions whose commit file log cleanup removed (not checked)
};
/// Finds them. Errors: storage, Delta and DuckDB errors.
Result<UnderivedVersions> FindUnderivedVersions(DeltaTable& bronze, DeltaTable& silver, DeltaTable& quarantine,
                                                ColumnarEngine& engine, const DerivedAppIds& apps);
/// Records on silver that every bronze version up to `version` is derived (txn DerivedAppIds::verified).
Status CommitVerified(DeltaTable& silver, const DerivedAppIds& apps, int64_t version);

/// The start-up check and its repair, for a pipeline's Open (after the writer lease, before the
/// catch-up): FindUnderivedVersions; then `load_dedupe_state(oldest_us)` with the oldest ingest time
/// (µs) among the versions to repair (NowMicros() when none), so that the deduplication state covers
/// them; then `repair(records, ingest_us, version, quarantine_only)` for an interrupted repair's
/// quarantine and for each missing version in order (each logged as a warning and counted in
/// counters.repaired_versions); then CommitVerified. Errors: the parts'.
Status CheckAndRepairDerivedTables(
    DeltaTable& bronze, DeltaTable& silver, DeltaTable& quarantine, ColumnarEngine& engine, const DerivedAppIds& apps,
    PipelineCounters& counters, const std::function<Status(int64_t oldest_us)>& load_dedupe_state,
    const std::function<Status(const std::vector<KafkaRecord>&, const std::vector<int64_t>&, int64_t, bool)>& repair);

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
/// silver and quarantine — after any bronze version between the last one derived and this one that
/// added data (another writer's, e.g. after a writer lease was taken over: no bronze version is ever
/// skipped). A failed derive sets `*derive_failed` (Close must then not fence past that version: a
/// restart derives it) and returns its error. Counts the batch in `counters`. Returns the bronze
/// version committed, or -1 when every record was already in bronze (nothing else done).
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
  /// The appId of a partition under another source epoch.
  std::string AppId(const std::string& topic, int32_t partition, const std::string& epoch) const;
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
  /// The bronze version up to which silver and quarantine are derived (set after the catch-up).
  int64_t derived_through() const { return derived_through_; }
  void set_derived_through(int64_t v) { derived_through_ = v; }
  DeltaTable& table() { return *bronze_; }
  ColumnarEngine& engine() { return *engine_; }
  /// Changes the epoch scoping the partitions' appIds (the embedded broker restarted: its offsets
  /// begin again at 0 on a new topic).
  void set_source_epoch(const std::string& epoch) { source_epoch_ = epoch; }
  const std::string& source_epoch() const { return source_epoch_; }

 private:
  std::string app_prefix_, source_epoch_;
  DeltaTable* bronze_;
  ColumnarEngine* engine_;
  PipelineCounters* counters_;
  int64_t derived_through_ = -1;
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
