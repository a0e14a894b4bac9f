#include "pipeline/declared_pipeline.h"

#include <spdlog/spdlog.h>

#include "common/time.h"
#include "format/schema_decoder.h"
#include "lake/delta/delta_scan.h"
#include "pipeline/event_id_set.h"
#include "pipeline/data_loss.h"
#include "pipeline/medallion.h"
#include "pipeline/writer_lease.h"

namespace lakestream {

namespace {

constexpr int64_t kDayUs = 86400LL * 1000000;

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

std::string Ident(const std::string& s) { return ColumnarEngine::QuoteIdentifier(s); }

// Silver rows with every lookup as a column: s.*, coalesce(<value for s.key>, default) AS <lookup>.
std::string WithLookups(const PipelineSpec& spec, const std::string& silver_sql) {
  if (spec.lookups.empty()) return silver_sql;
  std::string cols = "s.*", joins;
  for (size_t i = 0; i < spec.lookups.size(); ++i) {
    const LookupSpec& l = spec.lookups[i];
    const std::string alias = "lk" + std::to_string(i);
    const std::string type = l.column.SqlType();
    std::string rows;
    for (const auto& [k, v] : l.values) {
      rows += (rows.empty() ? "" : " UNION ALL ") + ("SELECT " + ColumnarEngine::Quote(k) + " AS k, " +
                                                    ColumnarEngine::Quote(v) + "::" + type + " AS v");
    }
    if (rows.empty()) rows = "SELECT NULL::VARCHAR AS k, NULL::" + type + " AS v WHERE false";
    cols += ", coalesce(" + alias + ".v, " + ColumnarEngine::Quote(l.default_value) + "::" + type + ") AS " +
            Ident(l.name);
    joins += " LEFT JOIN (" + rows + ") AS " + alias + " ON s." + Ident(l.key) + " = " + alias + ".k";
  }
  return "(SELECT " + cols + " FROM " + silver_sql + " AS s" + joins + ")";
}

std::string MeasureSql(const MeasureSpec& m, const ColumnSpec& out) {
  if (m.fn == "count") return "count(*)::BIGINT";
  if (m.fn == "count_distinct") return "count(DISTINCT " + Ident(m.column) + ")::BIGINT";
  return m.fn + "(" + Ident(m.column) + ")::" + out.SqlType();
}

}  // namespace

std::string DeclaredPipeline::GoldQuery(const PipelineSpec& spec, const GoldSpec& g, bool adjustments,
                                        const std::string& silver_sql, int64_t first_open_day) {
  const std::vector<ColumnSpec> cols = GoldColumns(spec, g, adjustments);
  const std::string et = Ident(spec.event_time);
  std::string select, group;
  if (g.window_ms == 86400000) {
    select = "event_date AS " + Ident(g.window_column);
    group = "event_date";
  } else {
    const char* unit = g.window_ms == 60000 ? "minute" : "hour";
    const std::string hour = g.window_ms == 60000 ? "hour(" + et + ")::INTEGER" : "";
    select = "event_date, " + (hour.empty() ? "" : hour + " AS event_hour, ") + "date_trunc('" + unit + "', " + et +
             ") AS " + Ident(g.window_column);
    group = "event_date, " + (hour.empty() ? "" : hour + ", ") + "date_trunc('" + unit + "', " + et + ")";
  }
  if (adjustments) {
    select += ", ingest_time::DATE AS recorded_on";
    group += ", ingest_time::DATE";
  }
  for (const auto& k : g.group_by) {
    select += ", " + Ident(k);
    group += ", " + Ident(k);
  }
  const size_t first_measure = cols.size() - g.measures.size() - (g.late_events == "adjustments" && !adjustments);
  for (size_t i = 0; i < g.measures.size(); ++i) {
    select += ", " + MeasureSql(g.measures[i], cols[first_measure + i]) + " AS " + Ident(g.measures[i].name);
  }
  std::string where = "TRUE";
  if (!g.filter.empty()) where += " AND (" + g.filter + ")";
  if (g.late_events == "adjustments") {
    where += adjustments ? " AND arrived_after_close" : " AND NOT arrived_after_close";
    if (!adjustments) {
      select += first_open_day == INT64_MIN
                    ? ", false AS is_final"
                    : ", (event_date < " + ColumnarEngine::Quote(FormatDate(first_open_day)) + "::DATE) AS is_final";
    }
  }
  return "SELECT " + select + " FROM " + WithLookups(spec, silver_sql) + " WHERE " + where + " GROUP BY " + group;
}

std::string DeclaredPipeline::MergeQuery(const PipelineSpec& spec, const GoldSpec& g, bool adjustments,
                                         const std::string& rows, int64_t first_open_day) {
  const std::vector<ColumnSpec> cols = GoldColumns(spec, g, adjustments);
  std::string select, group;
  for (const auto& c : cols) {
    const MeasureSpec* m = nullptr;
    for (const auto& x : g.measures) {
      if (x.name == c.name) m = &x;
    }
    const std::string id = Ident(c.name);
    std::string expr;
    if (m) {
      const std::string fn = m->fn == "count" ? "sum" : m->fn;  // partial counts add up
      expr = fn + "(" + id + ")::" + c.SqlType();
    } else if (c.name == "is_final" && g.late_events == "adjustments" && !adjustments) {
      // Recomputed, not merged: a day turns final when the watermark passes it.
      const std::string day = Ident(g.PartitionColumn());
      expr = first_open_day == INT64_MIN
                 ? "false"
                 : "(" + day + " < " + ColumnarEngine::Quote(FormatDate(first_open_day)) + "::DATE)";
    } else {
      expr = id;
      group += (group.empty() ? "" : ", ") + id;
    }
    select += (select.empty() ? "" : ", ") + expr + " AS " + id;
  }
  return "SELECT " + select + " FROM " + rows + " GROUP BY " + group;
}

DeclaredPipeline::~DeclaredPipeline() = default;

std::vector<std::string> DeclaredPipeline::Tables() const {
  const auto& s = options_.spec;
  std::vector<std::string> names = {s.bronze_table, s.silver_table, s.quarantine_table};
  for (const auto& g : gold_) names.push_back(g.plan.def.name);
  return names;
}

Result<std::unique_ptr<DeclaredPipeline>> DeclaredPipeline::Open(const DeclaredPipelineOptions& options) {
  std::unique_ptr<DeclaredPipeline> p(new DeclaredPipeline());
  p->options_ = options;
  const PipelineSpec& spec = p->options_.spec;
  if (spec.is_orders()) return InvalidArgument("{}: format \"orders\" runs as the orders pipeline", spec.file);
  p->apps_ = std::make_unique<medallion::DerivedAppIds>("lakestream-" + spec.name);
  ASSIGN_OR_RETURN(p->engine_, ColumnarEngine::Open(options.duckdb_threads, options.duckdb_memory_limit));
  RETURN_IF_ERROR(CheckPipelineSql(spec, *p->engine_));
  std::vector<DecodedField> fields;
  for (size_t i = 0; i < spec.fields.size(); ++i) {
    const auto& f = spec.fields[i];
    fields.push_back({f.name, f.column, f.required});
    if (f.name == spec.event_time) p->event_time_col_ = i;
    if (f.name == spec.silver.dedupe_key) p->dedupe_col_ = i;
  }
  p->decoder_ = std::make_unique<SchemaDecoder>(std::move(fields), spec.unknown_fields_quarantine);
  p->silver_columns_ = DeclaredSilverColumns(spec);
  p->tally_ = std::make_unique<medallion::ExpectationTally>(spec.silver.expectations);

  const std::string app_id = "lakestream-" + spec.name + "-gold<-silver";
  DeclaredPipeline* self = p.get();
  for (const auto& g : spec.gold) {
    for (bool adj : {false, true}) {
      if (adj && g.late_events != "adjustments") continue;
      GoldTable t;
      t.spec = &g;
      t.adjustments = adj;
      t.plan.def = {adj ? g.location + "_adjustments" : g.location, GoldColumns(spec, g, adj), g.PartitionColumns()};
      t.plan.silver_columns = p->silver_columns_;
      t.plan.app_id = app_id;
      t.plan.kind = GoldPlan::Kind::kDatePartitions;
      t.plan.silver_date_expr = "event_date";
      t.plan.prune_column = "event_date";
      const GoldSpec* gs = &g;
      t.plan.query = [self, gs, adj](const std::string& silver_sql) {
        return GoldQuery(self->options_.spec, *gs, adj, silver_sql, self->FirstOpenDay());
      };
      if (g.Mergeable()) {
        t.plan.merge_partials = [self, gs, adj](const std::string& rows) {
          return MergeQuery(self->options_.spec, *gs, adj, rows, self->FirstOpenDay());
        };
      }
      p->gold_.push_back(std::move(t));
    }
  }
  // One writer at a time, before anything is written (docs/reliability.md, "A double start").
  if (options.writer_lease_ms > 0) {
    ASSIGN_OR_RETURN(p->lease_, WriterLease::Acquire({options.lake_root, spec.name, options.command,
                                                      options.writer_lease_ms}));
  }
  struct Def {
    std::string name;
    std::vector<ColumnSpec> cols;
    std::vector<std::string> partitions;
    bool append_only;
  };
  std::vector<Def> defs = {{spec.bronze_table, medallion::BronzeColumns(), {}, true},
                           {spec.silver_table, p->silver_columns_, {}, true},
                           {spec.quarantine_table, medallion::QuarantineColumns(), {}, true}};
  for (const auto& g : p->gold_) defs.push_back({g.plan.def.name, g.plan.def.columns, g.plan.def.partition_columns, false});
  for (const auto& d : defs) {
    ASSIGN_OR_RETURN(p->tables_[d.name],
                     medallion::OpenTable(options.lake_root, d.name, d.cols, d.partitions, d.append_only));
  }
  p->bronze_ = std::make_unique<medallion::BronzeSink>("lakestream-" + spec.name, options.source_epoch,
                                                       p->tables_[spec.bronze_table].get(), p->engine_.get(),
                                                       &p->counters_);
  // Recorded data loss stops every start until it is accepted (docs/reliability.md, "Broker eviction").
  medallion::BronzeSink* sink = p->bronze_.get();
  RETURN_IF_ERROR(SettleDataLossGaps(*p->tables_[spec.bronze_table], spec.name, options.accept_data_loss,
                                     [sink](const std::string& topic, int32_t partition, const std::string& epoch) {
                                       return sink->AppId(topic, partition, epoch);
                                     }));
  p->counters_.bronze_rows = p->tables_[spec.bronze_table]->snapshot().NumRecords();
  p->counters_.silver_rows = p->tables_[spec.silver_table]->snapshot().NumRecords();
  p->counters_.quarantine_rows = p->tables_[spec.quarantine_table]->snapshot().NumRecords();
  RETURN_IF_ERROR(medallion::CheckAndRepairDerivedTables(
      *p->tables_[spec.bronze_table], *p->tables_[spec.silver_table], *p->tables_[spec.quarantine_table],
      *p->engine_, *p->apps_, p->counters_, [self](int64_t oldest_us) { return self->LoadState(oldest_us); },
      [self](const std::vector<KafkaRecord>& records, const std::vector<int64_t>& ingest_us, int64_t v,
             bool quarantine_only) {
        return self->DeriveSilver(records, ingest_us, v, medallion::DeriveCommit::kRepair, quarantine_only);
      }));
  RETURN_IF_ERROR(p->CatchUp());
  if (options.auto_compact_min_files > 0) {
    auto& bronze = *p->tables_[spec.bronze_table];
    ASSIGN_OR_RETURN(p->bronze_compactor_,
                     medallion::BackgroundCompactor::Start(bronze.storage_ptr(), bronze.name(),
                                                           options.auto_compact_min_files,
                                                           options.target_file_size_bytes,
                                                           options.duckdb_memory_limit, &p->counters_));
  }
  return p;
}

Result<std::vector<std::string>> DeclaredPipeline::ActiveFilePaths(const std::string& name) {
  auto& t = *tables_.at(name);
  return DataFileLocalPaths(t.storage(), t.snapshot().files);
}

Status DeclaredPipeline::LoadState(int64_t oldest_us) {
  const PipelineSpec& spec = options_.spec;
  const int64_t horizon_us = spec.silver.dedupe_horizon_ms * 1000;
  seen_ids_ = std::make_unique<EventIdSet>(horizon_us);
  ASSIGN_OR_RETURN(std::vector<std::string> files, ActiveFilePaths(spec.silver_table));
  if (files.empty()) return Status::OK();
  const int64_t start = MonotonicMillis();
  const std::string rel = "read_parquet(" + ColumnarEngine::PathList(files) + ")";
  ASSIGN_OR_RETURN(QueryResult mx, engine_->Query("SELECT epoch_us(max(" + Ident(spec.event_time) + ")) FROM " + rel));
  if (!mx.rows.empty() && mx.rows[0][0]) max_event_us_ = std::stoll(*mx.rows[0][0]);
  // In ingest order, so that expiry stays exact.
  RETURN_IF_ERROR(engine_->ForEachRow(
      "SELECT " + Ident(spec.silver.dedupe_key) + ", epoch_us(ingest_time)::VARCHAR FROM " + rel +
          " WHERE epoch_us(ingest_time) > " + std::to_string(oldest_us - horizon_us) +
          " ORDER BY ingest_time, kafka_partition, kafka_offset",
      [&](const std::vector<std::optional<std::string_view>>& row) {
        seen_ids_->Add(row[0].value_or(""), std::stoll(std::string(row[1].value_or("0"))));
      }).WithContext("load the deduplication state from " + spec.silver_table));
  counters_.max_event_time_us = max_event_us_ == INT64_MIN ? 0 : max_event_us_;
  counters_.watermark_us = max_event_us_ == INT64_MIN ? 0 : max_event_us_ - spec.watermark_ms * 1000;
  spdlog::info("{}: {} ids within the {} s deduplication horizon and the newest event time ({}) loaded from silver in {} ms",
               spec.name, seen_ids_->size(), spec.silver.dedupe_horizon_ms / 1000,
               max_event_us_ == INT64_MIN ? "none" : FormatTimestampIso(max_event_us_), MonotonicMillis() - start);
  return Status::OK();
}

int64_t DeclaredPipeline::FirstOpenDay() const {
  if (max_event_us_ == INT64_MIN) return INT64_MIN;
  return FloorDiv(max_event_us_ - options_.spec.watermark_ms * 1000, kDayUs);
}

std::optional<int64_t> DeclaredPipeline::StartOffset(const std::string& topic, int32_t partition) {
  return bronze_->StartOffset(topic, partition);
}

int64_t DeclaredPipeline::CommittedBytes(int32_t partition) const { return bronze_->CommittedBytes(partition); }

std::vector<ExpectationCount> DeclaredPipeline::ExpectationCounts() const { return tally_->Counts(); }

Status DeclaredPipeline::ProcessBatch(const std::vector<KafkaRecord>& all_records) {
  if (lease_) RETURN_IF_ERROR(lease_->Check());
  ASSIGN_OR_RETURN(int64_t version,
                   medallion::CommitMicroBatch(all_records, *bronze_, bronze_compactor_.get(), counters_,
                                               &derive_failed_,
                                               [this](const std::vector<KafkaRecord>& records,
                                                      const std::vector<int64_t>& ingest_us, int64_t bronze_version) {
                                                 return DeriveSilver(records, ingest_us, bronze_version,
                                                                     medallion::DeriveCommit::kAppend);
                                               }));
  if (version < 0) return Status::OK();
  gold_pending_ = true;
  RETURN_IF_ERROR(Tick());
  medallion::CountCheckpoints(tables_, counters_);
  return Status::OK();
}

Status DeclaredPipeline::Tick() {
  if (!gold_pending_ || NowMillis() - last_gold_ms_ < options_.gold_interval_ms) return Status::OK();
  if (lease_) RETURN_IF_ERROR(lease_->Check());
  RETURN_IF_ERROR(RefreshGold());
  // Bronze compacts on its own thread (bronze_compactor_).
  std::vector<DeltaTable*> append_only = {tables_[options_.spec.silver_table].get(),
                                          tables_[options_.spec.quarantine_table].get()};
  RETURN_IF_ERROR(medallion::CompactSmallFiles(append_only, *engine_, options_.auto_compact_min_files,
                                               options_.target_file_size_bytes, counters_));
  medallion::CountCheckpoints(tables_, counters_);
  return Status::OK();
}

Status DeclaredPipeline::DeriveSilver(const std::vector<KafkaRecord>& records, const std::vector<int64_t>& ingest_us,
                                      int64_t bronze_version, medallion::DeriveCommit mode, bool quarantine_only) {
  if (quarantine_only) {
    // Silver holds this version: derive it for quarantine alone, leaving the deduplication state and
    // the watermark as they were (silver's rows of it are in the loaded state already).
    EventIdSet saved = *seen_ids_;
    const int64_t saved_max = max_event_us_;
    Status st = DeriveVersion(records, ingest_us, bronze_version, mode, true);
    *seen_ids_ = std::move(saved);
    max_event_us_ = saved_max;
    counters_.max_event_time_us = max_event_us_ == INT64_MIN ? 0 : max_event_us_;
    counters_.watermark_us = max_event_us_ == INT64_MIN ? 0 : max_event_us_ - options_.spec.watermark_ms * 1000;
    return st;
  }
  return DeriveVersion(records, ingest_us, bronze_version, mode, false);
}

Status DeclaredPipeline::DeriveVersion(const std::vector<KafkaRecord>& records, const std::vector<int64_t>& ingest_us,
                                       int64_t bronze_version, medallion::DeriveCommit mode, bool quarantine_only) {
  const PipelineSpec& spec = options_.spec;
  auto& silver = *tables_[spec.silver_table];
  auto& quarantine = *tables_[spec.quarantine_table];
  const medallion::DerivedAppIds& apps = *apps_;
  const int64_t silver_done = silver.snapshot().TxnVersion(apps.silver).value_or(-1);
  const int64_t quarantine_done = quarantine.snapshot().TxnVersion(apps.quarantine).value_or(-1);
  const auto& expectations = spec.silver.expectations;
  const int64_t now_us = NowMicros();
  const size_t nf = spec.fields.size();
  const int64_t first_open_day = FirstOpenDay();  // the watermark before this bronze version

  // 1. Type every record by the schema.
  RecordBatch typed(silver_columns_);
  std::vector<size_t> typed_record;
  RecordBatch bad(medallion::QuarantineColumns());
  DecodeError why;
  for (size_t i = 0; i < records.size(); ++i) {
    const auto& r = records[i];
    if (!decoder_->Decode(r.value, typed, &why)) {
      counters_.envelope_rejects++;
      medallion::AppendQuarantineRow(bad, r, std::nullopt, why.rule,
                                     fmt::format("{}[{}]@{}: {}", r.topic, r.partition, r.offset, why.message),
                                     bronze_version, now_us);
      continue;
    }
    const int64_t et = typed.column(event_time_col_).ints.back();
    const int64_t day = FloorDiv(et, kDayUs);
    typed.AppendInt(nf, day);
    typed.AppendBool(nf + 1, first_open_day != INT64_MIN && day < first_open_day);
    typed.AppendInt(nf + 2, r.partition);
    typed.AppendInt(nf + 3, r.offset);
    typed.AppendInt(nf + 4, bronze_version);
    typed.AppendInt(nf + 5, ingest_us[i]);
    typed_record.push_back(i);
  }

  // 2. Expectations, all rows at once in DuckDB.
  std::vector<std::string> conditions;
  for (const auto& x : expectations) conditions.push_back(x.condition);
  std::vector<uint64_t> failed(typed.num_rows(), 0);
  if (!conditions.empty() && typed.num_rows() > 0) {
    ASSIGN_OR_RETURN(failed, engine_->EvaluatePredicates(typed, conditions));
  }

  // 3. Route each row by its strongest failed action; deduplicate what goes to silver.
  RecordBatch good(silver_columns_);
  std::vector<int64_t> fail_counts(expectations.size(), 0);
  int64_t drops = 0, duplicates = 0, late = 0, batch_max = INT64_MIN;
  const auto& ids = typed.column(dedupe_col_).strings;
  for (size_t t = 0; t < typed.num_rows(); ++t) {
    const size_t i = typed_record[t];
    const auto& r = records[i];
    std::optional<ExpectationAction> strongest;
    std::string names, reasons;
    for (size_t x = 0; x < expectations.size(); ++x) {
      if (!(failed[t] & (1ULL << x))) continue;
      fail_counts[x]++;
      const auto& e = expectations[x];
      if (!strongest || e.action > *strongest) strongest = e.action;
      names += (names.empty() ? "" : ",") + e.name;
      reasons += fmt::format("{}{} ({}): `{}` is false", reasons.empty() ? "" : "; ", e.name,
                             ExpectationActionName(e.action), e.condition);
    }
    if (strongest == ExpectationAction::kFail) {
      return ExpectationFailed(
          "record {}[{}]@{} ({} {}) failed expectation(s) {}: {}. The expectation's action is `fail`, so the pipeline "
          "stops; bronze keeps the record (version {}). Fix the producer, or change the action in {}, then restart",
          r.topic, r.partition, r.offset, spec.silver.dedupe_key, ids[t], names, reasons, bronze_version, spec.file);
    }
    if (strongest == ExpectationAction::kQuarantine) {
      medallion::AppendQuarantineRow(bad, r, ids[t], names,
                                     fmt::format("{}[{}]@{} {} {}: {}", r.topic, r.partition, r.offset,
                                                 spec.silver.dedupe_key, ids[t], reasons),
                                     bronze_version, now_us);
      continue;
    }
    if (strongest == ExpectationAction::kDrop) {
      drops++;
      continue;
    }
    if (seen_ids_->Contains(ids[t], ingest_us[i])) {
      duplicates++;
      continue;
    }
    seen_ids_->Add(ids[t], ingest_us[i]);
    if (typed.column(nf + 1).ints[t]) late++;
    batch_max = std::max(batch_max, typed.column(event_time_col_).ints[t]);
    good.AppendRowFrom(typed, t);
  }

  std::map<std::string, std::string> metrics = {{"numDuplicateRows", std::to_string(duplicates)},
                                                {"numDroppedRows", std::to_string(drops)},
                                                {"numArrivedAfterClose", std::to_string(late)}};
  for (size_t x = 0; x < expectations.size(); ++x) {
    metrics["expectation." + expectations[x].name + ".failedRows"] = std::to_string(fail_counts[x]);
  }
  if (!quarantine_only) {
    ASSIGN_OR_RETURN(int64_t sv, medallion::CommitDerived(silver, *engine_, good, apps.silver, apps.silver_repair,
                                                          bronze_version, silver_done, mode, {apps.verified}, metrics));
    if (sv >= 0) {
      counters_.silver_rows += static_cast<int64_t>(good.num_rows());
      counters_.silver_version = sv;
    }
    if (bronze_version > silver_done || mode == medallion::DeriveCommit::kRepair) {
      counters_.duplicates_dropped += duplicates;
      counters_.expectation_drops += drops;
      counters_.late_after_close += late;
      tally_->Add(fail_counts);
    }
  }
  // The watermark moves only after the whole bronze version: every row of a version is judged against
  // the same watermark, whatever its order within the version.
  if (batch_max != INT64_MIN && batch_max > max_event_us_) {
    max_event_us_ = batch_max;
    counters_.max_event_time_us = max_event_us_;
    counters_.watermark_us = max_event_us_ - spec.watermark_ms * 1000;
  }
  ASSIGN_OR_RETURN(int64_t qv, medallion::CommitDerived(quarantine, *engine_, bad, apps.quarantine,
                                                        apps.quarantine_repair, bronze_version, quarantine_done, mode,
                                                        {}, {}));
  if (qv >= 0) {
    counters_.quarantine_rows += static_cast<int64_t>(bad.num_rows());
    counters_.quarantine_version = qv;
  }
  return Status::OK();
}

Status DeclaredPipeline::CatchUp() {
  const PipelineSpec& spec = options_.spec;
  auto& bronze = *tables_[spec.bronze_table];
  const int64_t silver_done = tables_[spec.silver_table]->snapshot().TxnVersion(apps_->silver).value_or(-1);
  const int64_t quarantine_done =
      tables_[spec.quarantine_table]->snapshot().TxnVersion(apps_->quarantine).value_or(-1);
  const int64_t from = std::min(silver_done, quarantine_done) + 1;
  const int64_t to = bronze.snapshot().version;
  if (std::max<int64_t>(from, 1) <= to) {
    spdlog::info("{}: catching up silver and quarantine from bronze versions {}..{}", spec.name, std::max<int64_t>(from, 1), to);
  }
  for (int64_t v = std::max<int64_t>(from, 1); v <= to; ++v) {
    if (lease_) RETURN_IF_ERROR(lease_->Check());
    std::vector<KafkaRecord> records;
    std::vector<int64_t> ingest;
    RETURN_IF_ERROR(medallion::ReadBronzeVersion(bronze, *engine_, v, &records, &ingest));
    // At or below silver's txn (quarantine is behind): silver holds this version already.
    RETURN_IF_ERROR(DeriveSilver(records, ingest, v,
                                 v == to ? medallion::DeriveCommit::kFence : medallion::DeriveCommit::kAppend,
                                 v <= silver_done));
  }
  bronze_->set_derived_through(to);
  return RefreshGold();
}

Status DeclaredPipeline::RefreshGold() {
  last_gold_ms_ = NowMillis();
  gold_pending_ = false;
  auto& silver = *tables_[options_.spec.silver_table];
  const int64_t first_open_day = FirstOpenDay();
  for (const auto& g : gold_) {
    DeltaTable& table = *tables_[g.plan.def.name];
    std::set<std::string> extra;
    if (!g.adjustments && g.spec->late_events == "adjustments" && first_open_day != INT64_MIN) {
      // Days the watermark has passed since their rows were written: rewrite them as final.
      RETURN_IF_ERROR(table.Refresh());
      ASSIGN_OR_RETURN(std::vector<std::string> files, DataFileLocalPaths(table.storage(), table.snapshot().files));
      if (!files.empty()) {
        ASSIGN_OR_RETURN(QueryResult open,
                         engine_->Query("SELECT DISTINCT " + Ident(g.spec->window_column) + "::VARCHAR FROM read_parquet(" +
                                        ColumnarEngine::PathList(files) + ") WHERE NOT is_final AND " +
                                        Ident(g.spec->window_column) + " < " +
                                        ColumnarEngine::Quote(FormatDate(first_open_day)) + "::DATE"));
        for (const auto& row : open.rows) extra.insert(row[0].value_or(""));
      }
    }
    ASSIGN_OR_RETURN(GoldRefreshResult r, RefreshGoldTable(g.plan, table, silver, *engine_, extra));
    if (r.version >= 0) {
      counters_.gold_version = r.version;
      counters_.gold_refreshes++;
    }
  }
  return Status::OK();
}

Status DeclaredPipeline::Close() {
  if (bronze_compactor_) bronze_compactor_->Stop();
  if (derive_failed_) {
    spdlog::warn("{}: silver is behind bronze after a failed batch: not fencing; the next start derives the rest",
                 options_.spec.name);
    if (lease_) lease_->Release();
    return Status::OK();
  }
  if (lease_) RETURN_IF_ERROR(lease_->Check());
  auto& bronze = *tables_[options_.spec.bronze_table];
  RETURN_IF_ERROR(bronze.Refresh());
  // Versions since the last one derived: the compactor's (no rows), or another writer's, derived here.
  const int64_t bv = bronze.snapshot().version;
  for (int64_t v = bronze_->derived_through() + 1; bronze_->derived_through() >= 0 && v <= bv; ++v) {
    std::vector<KafkaRecord> records;
    std::vector<int64_t> ingest;
    RETURN_IF_ERROR(medallion::ReadBronzeVersion(bronze, *engine_, v, &records, &ingest));
    RETURN_IF_ERROR(DeriveSilver(records, ingest, v,
                                 v == bv ? medallion::DeriveCommit::kFence : medallion::DeriveCommit::kAppend));
  }
  if (bv >= 1) RETURN_IF_ERROR(DeriveSilver({}, {}, bv, medallion::DeriveCommit::kFence));
  bronze_->set_derived_through(bv);
  RETURN_IF_ERROR(RefreshGold());
  if (lease_) lease_->Release();
  return Status::OK();
}

std::vector<TableSummary> DeclaredPipeline::Summary() {
  std::vector<std::pair<std::string, DeltaTable*>> tables;
  for (const auto& name : Tables()) tables.emplace_back(name, tables_[name].get());
  return medallion::Summarize(tables);
}

}  // namespace lakestream

namespace lakestream {

Status DeclaredPipeline::RecordDataLoss(const OffsetGap& gap) {
  return RecordDataLossGap(*tables_[options_.spec.bronze_table], "lakestream-" + options_.spec.name, bronze_->source_epoch(), gap);
}

std::vector<DataLossGap> DeclaredPipeline::DataLossGaps() {
  (void)tables_[options_.spec.bronze_table]->Refresh();
  return DataLossGapsOf(tables_[options_.spec.bronze_table]->snapshot());
}

void DeclaredPipeline::SetSourceEpoch(const std::string& epoch) { bronze_->set_source_epoch(epoch); }

}  // namespace lakestream
