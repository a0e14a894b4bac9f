// SilverFormat: what a source format contributes to the medallion engine (medallion_pipeline.h) —
// how a Kafka record's payload becomes a typed silver row, and any state of its own that silver
// rebuilds at start-up. Everything else (bronze, expectations, deduplication, the watermark,
// quarantine, commits, catch-up, gold) is the engine's, the same for every format.
//
//   format "order-line.v1"  the order-line contract (docs/events/order-events.md): OrderEventDecoder,
//                           the country mapping and adjustment codes of [silver], and a count of the
//                           source's repeated lines (the same business content under another event
//                           id, kept)
//   format "json"           the pipeline file's [schema] (SchemaDecoder), plus event_date and
//                           arrived_after_close from [silver].event_time and the watermark
//
// Silver columns are the format's own, then kafka_partition, kafka_offset, bronze_version and
// ingest_time, which the engine fills. One thread uses a format (the pipeline's).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "lake/columnar/columnar.h"
#include "pipeline/pipeline_spec.h"
#include "pipeline/streaming_pipeline.h"
#include "source/kafka/kafka_client.h"

namespace lakestream {

/// Why a record could not be typed: the rule it broke ("valid_json", "schema", …) and a message
/// naming the field.
struct FormatRejection {
  std::string rule;
  std::string message;
};

class SilverFormat {
 public:
  virtual ~SilverFormat() = default;
  /// The silver table's columns: the format's, then kafka_partition (INT), kafka_offset (BIGINT),
  /// bronze_version (BIGINT) and ingest_time (TIMESTAMP µs, UTC).
  virtual const std::vector<ColumnSpec>& SilverColumns() const = 0;
  /// The number of leading columns the format fills (the rest are the engine's four).
  size_t NumFormatColumns() const { return SilverColumns().size() - 4; }
  /// The deduplication key's column (a string column).
  virtual size_t DedupeColumn() const = 0;
  /// The event-time column (TIMESTAMP µs) the watermark follows, when the pipeline declares one.
  virtual std::optional<size_t> EventTimeColumn() const { return std::nullopt; }
  /// The arrived_after_close column (BOOL), when the format has one.
  virtual std::optional<size_t> ArrivedAfterCloseColumn() const { return std::nullopt; }

  /// Starts typing one bronze version; `first_open_day` is the watermark's day before it (days since
  /// 1970-01-01, UTC; INT64_MIN when none): rows of earlier days arrived after their day closed.
  virtual void BeginVersion(int64_t first_open_day) { (void)first_open_day; }
  /// Appends the format's columns of `record` as a new row of `typed` and returns true; or appends
  /// nothing, fills `why` and returns false (the record goes to quarantine with why.rule).
  virtual bool Decode(const KafkaRecord& record, RecordBatch& typed, FormatRejection* why) = 0;
  /// What a quarantine reason adds after the failed expectations for typed row `row` of this version
  /// ("" by default; orders: " — transaction_no=… product_no=… …" and the decoder's notes).
  virtual std::string QuarantineDetail(size_t row) const {
    (void)row;
    return "";
  }
  /// Typed row `row` passed the expectations and deduplication and goes to silver.
  virtual void OnKept(const RecordBatch& typed, size_t row, int64_t ingest_us) {
    (void)typed, (void)row, (void)ingest_us;
  }
  /// The version's format-specific figures, into silver's commitInfo.operationMetrics.
  virtual void AddMetrics(std::map<std::string, std::string>& metrics) const { (void)metrics; }
  /// Counts the version's format-specific figures into `counters` (once per bronze version).
  virtual void Count(PipelineCounters& counters) const { (void)counters; }

  /// Rebuilds the format's own state from the silver rows (relation `silver_rel`; "" when silver has
  /// none) ingested after `since_us` (µs), read in ingest order. Errors: DuckDB's.
  virtual Status LoadState(ColumnarEngine& engine, const std::string& silver_rel, int64_t since_us) {
    (void)engine, (void)silver_rel, (void)since_us;
    return Status::OK();
  }
  /// A copy of the format's own state, restored after a version derived for quarantine alone.
  class State {
   public:
    virtual ~State() = default;
  };
  virtual std::unique_ptr<State> SaveState() const { return nullptr; }
  virtual void RestoreState(std::unique_ptr<State> state) { (void)state; }
};

/// The format `spec.format` names: "order-line.v1" (its Date field read in `timezone`, e.g.
/// "Europe/London") or "json". Errors: InvalidArgument for an unknown time zone (names --timezone) or format.
Result<std::unique_ptr<SilverFormat>> MakeSilverFormat(const PipelineSpec& spec, const std::string& timezone);

}  // namespace lakestream
