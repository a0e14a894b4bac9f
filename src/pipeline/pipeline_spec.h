// PipelineSpec: a pipeline declared in a TOML file (pipelines/*.toml; the format's reference is
// docs/pipelines/README.md). One file declares the source (topic, format, key, event contract), the
// schema (fields and types), silver (expectations, deduplication, event time, watermark), gold
// (aggregations over tumbling event-time windows) and the sinks (table locations).
//
// Parsing checks everything that can be checked without data or SQL: keys, types, durations, names,
// references between sections (a group-by key must be a field, …). Every problem found is reported,
// each with its file and line. SQL conditions are bound against the silver columns later
// (CheckPipelineSql), where DuckDB is at hand.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "lake/columnar/columnar.h"
#include "pipeline/silver_rules.h"

namespace lakestream {

/// One field of the event schema (a top-level JSON member of the payload).
struct FieldSpec {
  std::string name;       // [a-z][a-z0-9_]*; the JSON member and the silver column
  ColumnSpec column;      // its silver type (string, long, int, double, boolean, timestamp, date, decimal(p,s))
  std::string type_text;  // as written in the file
  bool required = false;  // absent or null -> the record is quarantined (rule "schema")
  std::string description;
  int line = 0;
};

/// A measure of a gold aggregation: `fn` over `column` (count has none).
struct MeasureSpec {
  std::string name;
  std::string fn;      // count, sum, min, max, count_distinct
  std::string column;  // a silver column or a lookup; "" for count
  int line = 0;
};

/// A per-key value usable as a column in gold (e.g. a per-customer price): `key` is a field; rows whose
/// key is not listed take `default_value`. Values are SQL literals of `column.SqlType()`.
struct LookupSpec {
  std::string name;
  std::string key;
  ColumnSpec column;
  std::string default_value;
  std::map<std::string, std::string> values;
  int line = 0;
};

/// A named SELECT over silver (and the views declared before it) that gold SQL can read by name
/// ([[views]]; docs/pipelines/README.md, "Views").
struct ViewSpec {
  std::string name;
  std::string sql;
  int line = 0;
};

/// How a gold table defined by SQL is kept up to date (docs/pipelines/README.md, "Gold defined by SQL").
enum class GoldRefresh {
  kWindow,          // a window aggregation ([[gold]] with window and measures): its date partitions
  kDatePartitions,  // rewrite the date partitions the new silver rows touch, computed from their silver rows
  kMergeByKey,      // recompute the keys the new silver rows touch; carry the other rows over unchanged
};

/// The RFM operator ([[gold]] operator = "rfm"): scores customers by recency, frequency and monetary
/// value, in quintiles over every customer, so each refresh re-ranks every row. The table's `sql`
/// gives one base row per customer; these name its columns.
/// The columns the RFM operator adds to the base rows.
inline constexpr const char* kRfmOutputColumns[] = {"recency_days", "r_score", "f_score", "m_score",
                                                     "rfm_score",    "segment", "as_of_date"};
struct RfmSpec {
  std::string last_date = "last_order_date";  // DATE of the customer's latest sale
  std::string frequency = "frequency";        // number of orders
  std::string monetary = "monetary_gbp";      // money spent
};

/// A gold table. Either a window aggregation — rows of silver (filtered by `filter`) grouped by a
/// tumbling event-time window and `group_by`, with `measures`, partitioned by the window's date (UTC) —
/// or a table defined by `sql` over the relation `silver` (and [[views]]), with its `columns` declared
/// and a `refresh` strategy.
struct GoldSpec {
  std::string name;      // table name; location "gold/<name>" unless `location` is given
  std::string location;  // path under the lake root
  std::string description;
  GoldRefresh refresh = GoldRefresh::kWindow;
  // Defined by SQL (refresh kDatePartitions or kMergeByKey):
  std::string sql;                       // a SELECT over `silver` and the views
  std::vector<ColumnSpec> columns;       // `schema`: the table's columns, in order
  std::vector<std::string> partition_by; // kDatePartitions: the one DATE partition column
  std::string silver_date;               // kDatePartitions: SQL over silver giving a row's partition date
  std::string prune_column;              // kDatePartitions: silver column whose file statistics bound that date
  std::string key;                       // kMergeByKey: the key column, in silver and gold
  std::string op;                        // "" or "rfm": a built-in operator applied to the sql's rows
  RfmSpec rfm;
  // A window aggregation (refresh kWindow):
  int64_t window_ms = 0;        // 60000, 3600000 or 86400000
  std::string window_column;    // the window's start: a TIMESTAMP column, or for a 1-day window a DATE
  std::vector<std::string> group_by;
  std::string filter;           // SQL condition over silver columns and lookups, "" = all rows
  std::vector<MeasureSpec> measures;
  /// "include": every row counts in its own window. "adjustments": a row that arrived after its day was
  /// final (the watermark passed the day's end) goes to the companion table <name>_adjustments instead,
  /// so that a final row never changes.
  std::string late_events = "include";
  int line = 0;
  bool IsSql() const { return refresh != GoldRefresh::kWindow; }
  /// The partition column: window_column for 1-day windows, else "event_date"; for SQL tables the
  /// partition_by column ("" when unpartitioned).
  std::string PartitionColumn() const {
    if (IsSql()) return partition_by.empty() ? "" : partition_by[0];
    return window_ms == 86400000 ? window_column : "event_date";
  }
  /// The table's partition columns: the date, and for minute windows the hour of the day as well
  /// (event_hour, 0-23 UTC), so a refresh rewrites an hour of minutes rather than the whole day.
  std::vector<std::string> PartitionColumns() const {
    if (IsSql()) return partition_by;
    if (window_ms == 60000) return {"event_date", "event_hour"};
    return {PartitionColumn()};
  }
  /// True when every measure can be merged from partial aggregates (count, sum, min, max): the
  /// table is then refreshed from the new silver rows only (gold_refresh.h).
  bool Mergeable() const {
    if (IsSql()) return false;
    for (const auto& m : measures) {
      if (m.fn == "count_distinct") return false;
    }
    return true;
  }
};

/// The record formats lakestream decodes ([source].format). docs/pipelines/README.md, "Formats".
struct SourceFormat {
  const char* name;
  /// True when the file's [schema] types the records ("json"); false when the format is a fixed
  /// contract with its own silver columns ("order-line.v1").
  bool declared_schema;
  /// What `run` and `produce` publish when no producer is at hand: the order-line replay of a CSV
  /// (--input) or the built-in event generator (--rate, --events).
  enum class Sample { kCsvReplay, kGenerator } sample;
  const char* summary;
};
/// The online-shop order line, version 1 (docs/events/order-line.v1.schema.json).
inline constexpr const char* kOrderLineFormat = "order-line.v1";
/// Every registered format, and the one named `name` (nullptr when none is).
const std::vector<SourceFormat>& SourceFormats();
const SourceFormat* FindSourceFormat(std::string_view name);

struct PipelineSpec {
  std::string file;  // where it came from, for errors
  std::string name;  // [a-z][a-z0-9_]*, used in table names, txn appIds, metrics and the API
  std::string description;
  // [source]
  std::string topic;
  std::string format = "json";  // a SourceFormats() name: "json" (declared schema) or "order-line.v1"
  std::string key;              // the field producers key records by ("" = unkeyed)
  std::string contract;         // where the event contract is documented
  std::string group_id;         // consumer group, default "lakestream-<name>"
  bool unknown_fields_quarantine = false;  // "quarantine": members not in the schema break the contract
  /// Topic that receives a copy of every quarantined record ("" = none; --dlq-topic overrides it when
  /// one pipeline runs). docs/pipelines/README.md, "Dead letters".
  std::string dead_letter_topic;
  // [schema]
  std::vector<FieldSpec> fields;
  // [silver]: expectations and deduplication (dedupe_key names a field); orders keeps its own extras.
  SilverRules silver;
  std::string event_time;   // a timestamp field
  int64_t watermark_ms = 0; // allowed lateness
  // [[lookups]], [[views]] and [[gold]]
  std::vector<LookupSpec> lookups;
  std::vector<ViewSpec> views;
  std::vector<GoldSpec> gold;
  // [sinks]: table locations under the lake root
  std::string bronze_table, silver_table, quarantine_table;

  /// The format's registry entry (parsing guarantees it exists).
  const SourceFormat& source_format() const;
  /// The gold table declared with `location`, nullptr when none is.
  const GoldSpec* GoldAt(std::string_view location) const;
  /// The payload's JSON member that producers key records by ([source].key in the payload's spelling:
  /// "TransactionNo" for the order-line contract), "" when unkeyed.
  std::string KeyMember() const;
  const FieldSpec* Field(std::string_view name) const;
  const LookupSpec* Lookup(std::string_view name) const;
};

/// Parses a pipeline file's text. Errors: InvalidArgument listing every problem found, one per line,
/// each as "<file>:<line>: <what> — <how to fix>".
Result<PipelineSpec> ParsePipelineSpec(std::string_view text, const std::string& file);
/// Reads and parses `path`. Errors: NotFound naming the path; as ParsePipelineSpec.
Result<PipelineSpec> LoadPipelineSpec(const std::string& path);
/// The built-in orders pipeline (pipelines/orders.toml as compiled into the binary).
Result<PipelineSpec> DefaultOrdersPipelineSpec();

/// The silver columns of any pipeline: the format's contract (order-line.v1: event_id, event_time,
/// order_date, transaction_no, …, docs/pipelines/orders.md, "Silver") or DeclaredSilverColumns.
std::vector<ColumnSpec> SilverColumnsOf(const PipelineSpec& spec);
/// The silver columns of a declared (format "json") pipeline: the fields, then event_date (DATE of the
/// event time, UTC), arrived_after_close (BOOL), kafka_partition, kafka_offset, bronze_version and
/// ingest_time. docs/pipelines/README.md, "Silver".
std::vector<ColumnSpec> DeclaredSilverColumns(const PipelineSpec& spec);
/// The columns of gold table `g` (and, with `adjustments`, of its <name>_adjustments companion).
std::vector<ColumnSpec> GoldColumns(const PipelineSpec& spec, const GoldSpec& g, bool adjustments);

/// Binds every SQL condition (expectations, gold filters), view and gold query against the silver
/// columns with `engine`, and checks that each SQL gold table returns exactly its declared columns.
/// Errors: InvalidArgument listing each one that does not bind, with its line.
Status CheckPipelineSql(const PipelineSpec& spec, ColumnarEngine& engine);

}  // namespace lakestream
