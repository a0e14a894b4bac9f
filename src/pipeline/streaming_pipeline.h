// StreamingPipeline: what the runner, the HTTP monitor and the benchmark see of a pipeline (one
// engine serves every pipeline: medallion_pipeline.h).
// Lifecycle: Open (the implementation's) → StartOffset/ProcessBatch… → Close. One thread drives it;
// counters(), ExpectationCounts() and CommittedBytes() may be read from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "pipeline/data_loss.h"
#include "pipeline/silver_rules.h"
#include "source/kafka/kafka_client.h"

namespace lakestream {

/// Failures of one expectation since start-up.
struct ExpectationCount {
  std::string name;
  ExpectationAction action;
  int64_t failed = 0;
};

/// Live counters, readable from any thread.
struct PipelineCounters {
  std::atomic<int64_t> bronze_rows{0}, silver_rows{0}, quarantine_rows{0}, batches{0};
  std::atomic<int64_t> bronze_version{-1}, silver_version{-1}, quarantine_version{-1}, gold_version{-1};
  std::atomic<int64_t> last_commit_ms{0};
  std::atomic<int64_t> compactions{0}, files_compacted{0}, checkpoints{0};
  /// Silver: rows left out as redeliveries of a stored id; rows left out by `drop` expectations; rows
  /// whose business fields repeat an earlier row's under another id (orders: the source's repeated
  /// lines, kept); records rejected by the envelope or schema rules; records sent to the dead-letter
  /// topic; rows that arrived after their day was final (declared pipelines).
  std::atomic<int64_t> duplicates_dropped{0}, expectation_drops{0}, repeated_lines{0}, envelope_rejects{0};
  std::atomic<int64_t> dead_lettered{0};
  std::atomic<int64_t> late_after_close{0};
  /// Bronze versions the start-up check found without derived rows and derived (docs/reliability.md).
  std::atomic<int64_t> repaired_versions{0};
  std::atomic<int64_t> gold_refreshes{0};
  /// Event time (UTC µs) of the newest silver row, and the watermark (it minus the allowed lateness);
  /// 0 when unknown.
  std::atomic<int64_t> max_event_time_us{0}, watermark_us{0};
};

struct TableSummary {
  std::string name;  // "bronze/orders"
  std::string uri;
  int64_t version = -1;
  int64_t rows = 0;
  int64_t files = 0;
  int64_t size_bytes = 0;
  int64_t checkpoint_version = -1;  // latest checkpoint written or loaded, -1: none
};

class StreamingPipeline {
 public:
  virtual ~StreamingPipeline() = default;
  /// The pipeline's name ("orders", "notifications").
  virtual const std::string& name() const = 0;
  /// Its tables (paths under the lake root): bronze, silver, quarantine, then the gold tables.
  virtual std::vector<std::string> Tables() const = 0;
  /// Where to resume `partition` of `topic`: the offset after the one recorded in bronze's txn, or
  /// nullopt (start at the beginning).
  virtual std::optional<int64_t> StartOffset(const std::string& topic, int32_t partition) = 0;
  /// Commits one micro-batch to bronze, then silver and quarantine (and gold when due). Records at or
  /// below bronze's txn offset are skipped. Errors: Conflict when another writer owns a partition;
  /// ExpectationFailed for a `fail` expectation; storage, DuckDB and Delta errors.
  virtual Status ProcessBatch(const std::vector<KafkaRecord>& records) = 0;
  /// The pipeline's own clock: refreshes gold (then compacts silver and quarantine) when a silver
  /// version committed since the last refresh is not in gold yet and gold_interval_ms has passed since
  /// that refresh, whether or not more records arrive. So gold reflects every committed silver version
  /// within gold_interval_ms of its commit (docs/exactly-once.md, "Gold"). Cheap when nothing is due:
  /// the ingest loop calls it after every poll (about every 50 ms). Errors: as ProcessBatch.
  virtual Status Tick() = 0;
  /// Fences the derived tables at the latest bronze version and refreshes gold: call before exit.
  virtual Status Close() = 0;
  /// Payload bytes committed to bronze per partition by this process (for backpressure).
  virtual int64_t CommittedBytes(int32_t partition) const = 0;
  /// Every table's version, size and checkpoint (refreshed from storage).
  virtual std::vector<TableSummary> Summary() = 0;
  virtual const PipelineCounters& counters() const = 0;
  /// Failures per expectation since start-up, in declaration order.
  virtual std::vector<ExpectationCount> ExpectationCounts() const = 0;
  /// Records `gap` in bronze (data_loss.h): every start refuses until it is accepted. Errors: Delta's.
  virtual Status RecordDataLoss(const OffsetGap& gap) = 0;
  /// The data-loss gaps bronze records, open and accepted (pipeline thread).
  virtual std::vector<DataLossGap> DataLossGaps() = 0;
  /// Scopes the partitions' offsets to another source epoch: the embedded broker restarted and its
  /// topic begins again at offset 0 (docs/reliability.md, "Broker restart").
  virtual void SetSourceEpoch(const std::string& epoch) = 0;
};

}  // namespace lakestream
