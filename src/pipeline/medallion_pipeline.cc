#include "pipeline/medallion_pipeline.h"

#include <simdjson.h>
#include <spdlog/spdlog.h>

#include "common/time.h"
#include "lake/delta/delta_scan.h"
#include "pipeline/data_loss.h"
#include "pipeline/event_id_set.h"
#include "pipeline/medallion.h"
#include "pipeline/silver_format.h"
#include "pipeline/window_gold.h"
#include "pipeline/writer_lease.h"

namespace lakestream {

namespace {

std::string Ident(const std::string& s) { return ColumnarEngine::QuoteIdentifier(s); }

}  // namespace

MedallionPipeline::~MedallionPipeline() = default;

std::vector<std::string> MedallionPipeline::Tables() const {
  const auto& s = options_.spec;
  std::vector<std::string> names = {s.bronze_table, s.silver_table, s.quarantine_table};
  for (const auto& g : gold_) names.push_back(g.plan.def.name);
  return names;
}

Result<std::unique_ptr<MedallionPipeline>> MedallionPipeline::Open(const MedallionPipelineOptions& options) {
  std::unique_ptr<MedallionPipeline> p(new MedallionPipeline());
  p->options_ = options;
  const PipelineSpec& spec = p->options_.spec;
  p->apps_ = std::make_unique<medallion::DerivedAppIds>("lakestream-" + spec.name);
  ASSIGN_OR_RETURN(p->format_, MakeSilverFormat(spec, options.timezone));
  ASSIGN_OR_RETURN(p->engine_, ColumnarEngine::Open(options.duckdb_threads, options.duckdb_memory_limit));
  // Every condition must bind against the silver columns: a typo stops the pipeline here, not later.
  RETURN_IF_ERROR(CheckPipelineSql(spec, *p->engine_));
  p->tally_ = std::make_unique<medallion::ExpectationTally>(spec.silver.expectations);

  // Gold: the file's tables, defined by SQL or as window aggregations (window_gold.h).
  const std::string app_id = "lakestream-" + spec.name + "-gold<-silver";
  MedallionPipeline* self = p.get();
  for (const auto& g : spec.gold) {
    if (g.IsSql()) {
      GoldTable t;
      const GoldSpec* gs = &g;
      t.plan.def = {g.location, g.columns, g.partition_by};
      t.plan.silver_columns = p->format_->SilverColumns();
      t.plan.app_id = app_id;
      t.plan.query = [self, gs](const std::string& silver_sql) {
        return SqlGoldQuery(self->options_.spec, *gs, silver_sql);
      };
      if (g.refresh == GoldRefresh::kDatePartitions) {
        t.plan.kind = GoldPlan::Kind::kDatePartitions;
        t.plan.silver_date_expr = g.silver_date;
        t.plan.prune_column = g.prune_column;
      } else {
        t.plan.kind = GoldPlan::Kind::kKeyedMerge;
        t.plan.key = g.key;
        t.plan.merge = [self, gs](const std::string& carried, const std::string& recomputed) {
          return SqlGoldMergeQuery(self->options_.spec, *gs, carried, recomputed);
        };
      }
      p->gold_.push_back(std::move(t));
      continue;
    }
    for (bool adj : {false, true}) {
      if (adj && g.late_events != "adjustments") continue;
      GoldTable t;
      t.window = &g;
      t.adjustments = adj;
      t.plan.def = {adj ? g.location + "_adjustments" : g.location, GoldColumns(spec, g, adj), g.PartitionColumns()};
      t.plan.silver_columns = p->format_->SilverColumns();
      t.plan.app_id = app_id;
      t.plan.kind = GoldPlan::Kind::kDatePartitions;
      t.plan.silver_date_expr = "event_date";
      t.plan.prune_column = "event_date";
      const GoldSpec* gs = &g;
      t.plan.query = [self, gs, adj](const std::string& silver_sql) {
        return WindowGoldQuery(self->options_.spec, *gs, adj, silver_sql, self->FirstOpenDay());
      };
      if (g.Mergeable()) {
        t.plan.merge_partials = [self, gs, adj](const std::string& rows) {
          return WindowGoldMergeQuery(self->options_.spec, *gs, adj, rows, self->FirstOpenDay());
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
                           {spec.silver_table, p->format_->SilverColumns(), {}, true},
                           {spec.quarantine_table, medallion::QuarantineColumns(), {}, true}};
  for (const auto& g : p->gold_) defs.push_back({g.plan.def.name, g.plan.def.columns, g.plan.def.partition_columns, false});
  for (const auto& d : defs) {
    ASSIGN_OR_RETURN(p->tables_[d.name],
                     medallion::OpenTable(options.lake_root, d.name, d.cols, d.partitions, d.append_only));
  }
  p->bronze_table_ = p->tables_[spec.bronze_table].get();
  p->silver_ = p->tables_[spec.silver_table].get();
  p->quarantine_ = p->tables_[spec.quarantine_table].get();
  p->bronze_ = std::make_unique<medallion::BronzeSink>("lakestream-" + spec.name, options.source_epoch,
                                                       p->bronze_table_, p->engine_.get(), &p->counters_);
  // Recorded data loss stops every start until it is accepted (docs/reliability.md, "Broker eviction").
  medallion::BronzeSink* sink = p->bronze_.get();
  RETURN_IF_ERROR(SettleDataLossGaps(*p->bronze_table_, spec.name, options.accept_data_loss,
                                     [sink](const std::string& topic, int32_t partition, const std::string& epoch) {
                                       return sink->AppId(topic, partition, epoch);
                                     }));
  p->counters_.bronze_rows = p->bronze_table_->snapshot().NumRecords();
  p->counters_.silver_rows = p->silver_->snapshot().NumRecords();
  p->counters_.quarantine_rows = p->quarantine_->snapshot().NumRecords();
  RETURN_IF_ERROR(medallion::CheckAndRepairDerivedTables(
      *p->bronze_table_, *p->silver_, *p->quarantine_, *p->engine_, *p->apps_, p->counters_,
      [self](int64_t oldest_us) { return self->LoadState(oldest_us); },
      [self](const std::vector<KafkaRecord>& records, const std::vector<int64_t>& ingest_us, int64_t v,
             bool quarantine_only) {
        return self->DeriveSilver(records, ingest_us, v, medallion::DeriveCommit::kRepair, quarantine_only);
      }));
  RETURN_IF_ERROR(p->CatchUp());
  if (options.auto_compact_min_files > 0) {
    ASSIGN_OR_RETURN(p->bronze_compactor_,
                     medallion::BackgroundCompactor::Start(p->bronze_table_->storage_ptr(), p->bronze_table_->name(),
                                                           options.auto_compact_min_files,
                                                           options.target_file_size_bytes,
                                                           options.duckdb_memory_limit, &p->counters_));
  }
  return p;
}

Result<std::vector<std::string>> MedallionPipeline::ActiveFilePaths(const std::string& name) {
  auto it = tables_.find(name);
  if (it == tables_.end()) return std::vector<std::string>{};
  return DataFileLocalPaths(it->second->storage(), it->second->snapshot().files);
}

Status MedallionPipeline::LoadState(int64_t oldest_us) {
  const PipelineSpec& spec = options_.spec;
  const int64_t horizon_us = spec.silver.dedupe_horizon_ms * 1000;
  const int64_t since_us = oldest_us - horizon_us;
  seen_ids_ = std::make_unique<EventIdSet>(horizon_us);
  ASSIGN_OR_RETURN(std::vector<std::string> files, ActiveFilePaths(spec.silver_table));
  if (files.empty()) return format_->LoadState(*engine_, "", since_us);
  const int64_t start = MonotonicMillis();
  const std::string rel = "read_parquet(" + ColumnarEngine::PathList(files) + ")";
  const auto& cols = format_->SilverColumns();
  if (auto et = format_->EventTimeColumn()) {
    ASSIGN_OR_RETURN(QueryResult mx, engine_->Query("SELECT epoch_us(max(" + Ident(cols[*et].name) + ")) FROM " + rel));
    if (!mx.rows.empty() && mx.rows[0][0]) max_event_us_ = std::stoll(*mx.rows[0][0]);
  }
  // In ingest order, so that expiry stays exact.
  RETURN_IF_ERROR(engine_->ForEachRow(
      "SELECT " + Ident(cols[format_->DedupeColumn()].name) + ", epoch_us(ingest_time)::VARCHAR FROM " + rel +
          " WHERE epoch_us(ingest_time) > " + std::to_string(since_us) +
          " ORDER BY ingest_time, kafka_partition, kafka_offset",
      [&](const std::vector<std::optional<std::string_view>>& row) {
        seen_ids_->Add(row[0].value_or(""), std::stoll(std::string(row[1].value_or("0"))));
      }).WithContext("load the deduplication state from " + spec.silver_table));
  RETURN_IF_ERROR(format_->LoadState(*engine_, rel, since_us));
  PublishWatermark();
  spdlog::info("{}: {} {} values within the {} s deduplication horizon{} loaded from silver in {} ms", spec.name,
               seen_ids_->size(), spec.silver.dedupe_key, spec.silver.dedupe_horizon_ms / 1000,
               format_->EventTimeColumn()
                   ? " and the newest event time (" +
                         (max_event_us_ == INT64_MIN ? std::string("none") : FormatTimestampIso(max_event_us_)) + ")"
                   : std::string(),
               MonotonicMillis() - start);
  return Status::OK();
}

int64_t MedallionPipeline::FirstOpenDay() const {
  if (max_event_us_ == INT64_MIN) return INT64_MIN;
  return FloorDiv(max_event_us_ - options_.spec.watermark_ms * 1000, kMicrosPerDay);
}

void MedallionPipeline::PublishWatermark() {
  counters_.max_event_time_us = max_event_us_ == INT64_MIN ? 0 : max_event_us_;
  counters_.watermark_us = max_event_us_ == INT64_MIN ? 0 : max_event_us_ - options_.spec.watermark_ms * 1000;
}

std::optional<int64_t> MedallionPipeline::StartOffset(const std::string& topic, int32_t partition) {
  return bronze_->StartOffset(topic, partition);
}

int64_t MedallionPipeline::CommittedBytes(int32_t partition) const { return bronze_->CommittedBytes(partition); }

std::vector<ExpectationCount> MedallionPipeline::ExpectationCounts() const { return tally_->Counts(); }

Status MedallionPipeline::ProcessBatch(const std::vector<KafkaRecord>& all_records) {
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

Status MedallionPipeline::Tick() {
  if (!gold_pending_ || NowMillis() - last_gold_ms_ < options_.gold_interval_ms) return Status::OK();
  if (lease_) RETURN_IF_ERROR(lease_->Check());
  RETURN_IF_ERROR(RefreshGold());
  RETURN_IF_ERROR(MaybeCompact());
  medallion::CountCheckpoints(tables_, counters_);
  return Status::OK();
}

Status MedallionPipeline::MaybeCompact() {
  // Bronze compacts on its own thread (bronze_compactor_).
  return medallion::CompactSmallFiles({silver_, quarantine_}, *engine_, options_.auto_compact_min_files,
                                      options_.target_file_size_bytes, counters_);
}

Status MedallionPipeline::DeriveSilver(const std::vector<KafkaRecord>& records, const std::vector<int64_t>& ingest_us,
                                       int64_t bronze_version, medallion::DeriveCommit mode, bool quarantine_only) {
  if (quarantine_only) {
    // Silver holds this version: derive it for quarantine alone, leaving the deduplication state, the
    // watermark and the format's state as they were (silver's rows of it are in the loaded state).
    EventIdSet saved = *seen_ids_;
    const int64_t saved_max = max_event_us_;
    std::unique_ptr<SilverFormat::State> saved_format = format_->SaveState();
    Status st = DeriveVersion(records, ingest_us, bronze_version, mode, true);
    *seen_ids_ = std::move(saved);
    max_event_us_ = saved_max;
    format_->RestoreState(std::move(saved_format));
    PublishWatermark();
    return st;
  }
  return DeriveVersion(records, ingest_us, bronze_version, mode, false);
}

Status MedallionPipeline::DeriveVersion(const std::vector<KafkaRecord>& records, const std::vector<int64_t>& ingest_us,
                                        int64_t bronze_version, medallion::DeriveCommit mode, bool quarantine_only) {
  const PipelineSpec& spec = options_.spec;
  const medallion::DerivedAppIds& apps = *apps_;
  const int64_t silver_done = silver_->snapshot().TxnVersion(apps.silver).value_or(-1);
  const int64_t quarantine_done = quarantine_->snapshot().TxnVersion(apps.quarantine).value_or(-1);
  const auto& expectations = spec.silver.expectations;
  const int64_t now_us = NowMicros();
  const std::vector<ColumnSpec>& columns = format_->SilverColumns();
  const size_t nf = format_->NumFormatColumns();
  const std::optional<size_t> event_time_col = format_->EventTimeColumn();
  const std::optional<size_t> late_col = format_->ArrivedAfterCloseColumn();
  format_->BeginVersion(FirstOpenDay());  // the watermark before this bronze version

  // 1. Type every record; what the format refuses goes to quarantine with its rule.
  RecordBatch typed(columns);
  std::vector<size_t> typed_record;  // typed row -> index in records
  RecordBatch bad(medallion::QuarantineColumns());
  std::vector<size_t> bad_record;    // quarantine row -> index in records
  FormatRejection why;
  for (size_t i = 0; i < records.size(); ++i) {
    const auto& r = records[i];
    if (!format_->Decode(r, typed, &why)) {
      counters_.envelope_rejects++;
      medallion::AppendQuarantineRow(bad, r, std::nullopt, why.rule,
                                     fmt::format("{}[{}]@{}: {}", r.topic, r.partition, r.offset, why.message),
                                     bronze_version, now_us);
      bad_record.push_back(i);
      continue;
    }
    typed.AppendInt(nf, r.partition);
    typed.AppendInt(nf + 1, r.offset);
    typed.AppendInt(nf + 2, bronze_version);
    typed.AppendInt(nf + 3, ingest_us[i]);
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
  RecordBatch good(columns);
  std::vector<int64_t> fail_counts(expectations.size(), 0);
  int64_t drops = 0, duplicates = 0, late = 0, batch_max = INT64_MIN;
  const auto& ids = typed.column(format_->DedupeColumn()).strings;
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
          "record {}[{}]@{} ({} {}) failed expectation(s) {}: {}{}. The expectation's action is `fail`, so the "
          "pipeline stops; bronze keeps the record (version {}). Fix the producer, or change the action in {}, then "
          "restart: the record is evaluated again",
          r.topic, r.partition, r.offset, spec.silver.dedupe_key, ids[t], names, reasons, format_->QuarantineDetail(t),
          bronze_version, spec.file);
    }
    if (strongest == ExpectationAction::kQuarantine) {
      medallion::AppendQuarantineRow(bad, r, ids[t], names,
                                     fmt::format("{}[{}]@{} {} {}: {}{}", r.topic, r.partition, r.offset,
                                                 spec.silver.dedupe_key, ids[t], reasons,
                                                 format_->QuarantineDetail(t)),
                                     bronze_version, now_us);
      bad_record.push_back(i);
      continue;
    }
    if (strongest == ExpectationAction::kDrop) {
      drops++;
      continue;
    }
    // Kept (passed, or warn only): once per key within the horizon.
    if (seen_ids_->Contains(ids[t], ingest_us[i])) {
      duplicates++;
      continue;
    }
    seen_ids_->Add(ids[t], ingest_us[i]);
    if (late_col && typed.column(*late_col).ints[t]) late++;
    if (event_time_col) batch_max = std::max(batch_max, typed.column(*event_time_col).ints[t]);
    format_->OnKept(typed, t, ingest_us[i]);
    good.AppendRowFrom(typed, t);
  }

  // Expectation results go into silver's commitInfo.operationMetrics, as DLT records them in its
  // event log: `lakestream table <silver> history` shows them per commit.
  std::map<std::string, std::string> metrics = {{"numDuplicateRows", std::to_string(duplicates)},
                                                {"numDroppedRows", std::to_string(drops)}};
  if (late_col) metrics["numArrivedAfterClose"] = std::to_string(late);
  format_->AddMetrics(metrics);
  for (size_t x = 0; x < expectations.size(); ++x) {
    metrics["expectation." + expectations[x].name + ".failedRows"] = std::to_string(fail_counts[x]);
  }
  if (!quarantine_only) {
    ASSIGN_OR_RETURN(int64_t sv, medallion::CommitDerived(*silver_, *engine_, good, apps.silver, apps.silver_repair,
                                                          bronze_version, silver_done, mode, {apps.verified}, metrics));
    if (sv >= 0) {
      counters_.silver_rows += static_cast<int64_t>(good.num_rows());
      counters_.silver_version = sv;
    }
    if (bronze_version > silver_done || mode == medallion::DeriveCommit::kRepair) {
      // Count each bronze version's outcome once, when silver takes it.
      counters_.duplicates_dropped += duplicates;
      counters_.expectation_drops += drops;
      counters_.late_after_close += late;
      format_->Count(counters_);
      tally_->Add(fail_counts);
    }
  }
  // The watermark moves only after the whole bronze version: every row of a version is judged against
  // the same watermark, whatever its order within the version.
  if (batch_max != INT64_MIN && batch_max > max_event_us_) {
    max_event_us_ = batch_max;
    PublishWatermark();
  }
  ASSIGN_OR_RETURN(int64_t qv, medallion::CommitDerived(*quarantine_, *engine_, bad, apps.quarantine,
                                                        apps.quarantine_repair, bronze_version, quarantine_done, mode,
                                                        {}, {}));
  if (qv >= 0) {
    counters_.quarantine_rows += static_cast<int64_t>(bad.num_rows());
    counters_.quarantine_version = qv;
    if (dead_letter_) {
      const auto& rules_col = bad.column(2).strings;
      const auto& reason_col = bad.column(3).strings;
      for (size_t q = 0; q < bad_record.size(); ++q) {
        RETURN_IF_ERROR(dead_letter_(records[bad_record[q]], rules_col[q], reason_col[q]));
        counters_.dead_lettered++;
      }
    }
  }
  return Status::OK();
}

Status MedallionPipeline::CatchUp() {
  const PipelineSpec& spec = options_.spec;
  auto& bronze = *bronze_table_;
  const int64_t silver_done = silver_->snapshot().TxnVersion(apps_->silver).value_or(-1);
  const int64_t quarantine_done = quarantine_->snapshot().TxnVersion(apps_->quarantine).value_or(-1);
  const int64_t from = std::max<int64_t>(std::min(silver_done, quarantine_done) + 1, 1);
  const int64_t to = bronze.snapshot().version;
  if (from <= to) {
    spdlog::info("{}: catching up silver and quarantine from bronze versions {}..{}", spec.name, from, to);
  }
  for (int64_t v = from; v <= to; ++v) {
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

Status MedallionPipeline::Rebuild(const std::string& table) {
  if (lease_) RETURN_IF_ERROR(lease_->Check());
  for (const auto& g : gold_) {
    if (g.plan.def.name != table) continue;
    ASSIGN_OR_RETURN(GoldRefreshResult r, RefreshGoldTable(g.plan, *tables_[table], *silver_, *engine_, {}, true));
    spdlog::info("{}: rebuilt {} in full from silver version {} (gold version {})", name(), table,
                 silver_->snapshot().version, r.version);
    counters_.gold_version = r.version;
    return Status::OK();
  }
  if (table != options_.spec.silver_table && table != options_.spec.quarantine_table) {
    std::string names;
    for (const auto& t : Tables()) {
      if (t != options_.spec.bronze_table) names += (names.empty() ? "" : ", ") + t;
    }
    return InvalidArgument("{} is not a derived table of pipeline '{}': rebuild one of {} ({} is the source; it is "
                           "never rebuilt)", table, name(), names, options_.spec.bronze_table);
  }
  // Silver and quarantine are derived together: empty both, with their txns back to bronze version 0
  // (the table's creation, no data), then derive every bronze version again. They are append-only
  // tables, so each is opened for the rewrite and closed again as Spark users do it: SET TBLPROPERTIES
  // delta.appendOnly=false, the rewrite, delta.appendOnly=true (Delta PROTOCOL.md, "Append-only
  // Tables"). A crash in between leaves the table writable, not wrong; running the rebuild again ends it.
  const int64_t now_ms = NowMillis();
  auto set_append_only = [&](DeltaTable& t, bool on) -> Status {
    if ((t.snapshot().Property("delta.appendOnly", "false") == "true") == on) return Status::OK();
    Transaction txn;
    txn.operation = "SET TBLPROPERTIES";
    txn.operation_parameters_json = std::string(R"({"properties":"{\"delta.appendOnly\":\")") +
                                    (on ? "true" : "false") + R"(\"}"})";
    txn.set_properties = std::map<std::string, std::string>{{"delta.appendOnly", on ? "true" : "false"}};
    return t.Commit(txn).status();
  };
  for (DeltaTable* t : {silver_, quarantine_}) {
    RETURN_IF_ERROR(t->Refresh());
    RETURN_IF_ERROR(set_append_only(*t, false));
    Transaction txn;
    txn.operation = "WRITE";
    txn.operation_parameters_json = R"({"mode":"Overwrite","rebuild":"from bronze"})";
    txn.read_whole_table = true;
    for (const auto& [key, f] : t->snapshot().files) txn.removes.push_back(RemoveOf(f, now_ms, true));
    if (t == silver_) {
      txn.txns = {{apps_->silver, 0, now_ms}, {apps_->verified, 0, now_ms}, {apps_->silver_repair, 0, now_ms}};
    } else {
      txn.txns = {{apps_->quarantine, 0, now_ms}, {apps_->quarantine_repair, 0, now_ms}};
    }
    RETURN_IF_ERROR(t->Commit(txn).status());
  }
  counters_.silver_rows = 0;
  counters_.quarantine_rows = 0;
  max_event_us_ = INT64_MIN;
  RETURN_IF_ERROR(LoadState(NowMicros()));
  RETURN_IF_ERROR(bronze_table_->Refresh());
  // Gold recounts in full by itself: the commits above removed silver rows (gold_refresh.h).
  RETURN_IF_ERROR(CatchUp());
  for (DeltaTable* t : {silver_, quarantine_}) RETURN_IF_ERROR(set_append_only(*t, true));
  spdlog::info("{}: rebuilt {} and {} from bronze versions 1..{}, and every gold table from silver", name(),
               options_.spec.silver_table, options_.spec.quarantine_table, bronze_table_->snapshot().version);
  return Status::OK();
}

Status MedallionPipeline::RefreshGold() {
  last_gold_ms_ = NowMillis();
  gold_pending_ = false;
  const int64_t first_open_day = FirstOpenDay();
  for (const auto& g : gold_) {
    DeltaTable& table = *tables_[g.plan.def.name];
    std::set<std::string> extra;
    if (g.window && !g.adjustments && g.window->late_events == "adjustments" && first_open_day != INT64_MIN) {
      // Days the watermark has passed since their rows were written: rewrite them as final.
      RETURN_IF_ERROR(table.Refresh());
      ASSIGN_OR_RETURN(std::vector<std::string> files, DataFileLocalPaths(table.storage(), table.snapshot().files));
      if (!files.empty()) {
        ASSIGN_OR_RETURN(QueryResult open,
                         engine_->Query("SELECT DISTINCT " + Ident(g.window->window_column) +
                                        "::VARCHAR FROM read_parquet(" + ColumnarEngine::PathList(files) +
                                        ") WHERE NOT is_final AND " + Ident(g.window->window_column) + " < " +
                                        ColumnarEngine::Quote(FormatDate(first_open_day)) + "::DATE"));
        for (const auto& row : open.rows) extra.insert(row[0].value_or(""));
      }
    }
    ASSIGN_OR_RETURN(GoldRefreshResult r, RefreshGoldTable(g.plan, table, *silver_, *engine_, extra));
    if (r.version >= 0) {
      counters_.gold_version = r.version;
      counters_.gold_refreshes++;
    }
  }
  return Status::OK();
}

Status MedallionPipeline::Close() {
  if (bronze_compactor_) bronze_compactor_->Stop();
  if (derive_failed_) {
    spdlog::warn("{}: silver is behind bronze after a failed batch: not fencing; the next start derives the rest",
                 options_.spec.name);
    if (lease_) lease_->Release();
    return Status::OK();
  }
  if (lease_) RETURN_IF_ERROR(lease_->Check());
  auto& bronze = *bronze_table_;
  RETURN_IF_ERROR(bronze.Refresh());
  // Fence the derived tables at the latest bronze version: the versions since the last one derived are
  // the compactor's (no rows), or another writer's, which must be derived, not fenced over.
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
  medallion::CountCheckpoints(tables_, counters_);
  if (lease_) lease_->Release();
  return Status::OK();
}

std::vector<TableSummary> MedallionPipeline::Summary() {
  std::vector<std::pair<std::string, DeltaTable*>> tables;
  for (const auto& name : Tables()) tables.emplace_back(name, tables_[name].get());
  return medallion::Summarize(tables);
}

Result<std::set<int64_t>> MedallionPipeline::CommittedSourceLines(const std::string& source_name) {
  std::set<int64_t> lines;
  simdjson::dom::parser parser;
  ASSIGN_OR_RETURN(std::vector<std::string> files, ActiveFilePaths(options_.spec.bronze_table));
  if (files.empty()) return lines;
  // Payloads streamed (bronze can be large) and parsed here: they are raw bytes, maybe not UTF-8.
  RETURN_IF_ERROR(engine_->ForEachRow(
      "SELECT payload FROM read_parquet(" + ColumnarEngine::PathList(files) + ")",
      [&](const std::vector<std::optional<std::string_view>>& row) {
        if (!row[0]) return;
        simdjson::dom::element doc;
        if (parser.parse(row[0]->data(), row[0]->size(), true).get(doc) != simdjson::SUCCESS) return;
        std::string_view name;
        int64_t line = 0;
        if (doc["source"]["name"].get(name) == simdjson::SUCCESS && name == source_name &&
            doc["source"]["line"].get(line) == simdjson::SUCCESS) {
          lines.insert(line);
        }
      }));
  return lines;
}

Status MedallionPipeline::RecordDataLoss(const OffsetGap& gap) {
  return RecordDataLossGap(*bronze_table_, "lakestream-" + options_.spec.name, bronze_->source_epoch(), gap);
}

std::vector<DataLossGap> MedallionPipeline::DataLossGaps() {
  (void)bronze_table_->Refresh();
  return DataLossGapsOf(bronze_table_->snapshot());
}

void MedallionPipeline::SetSourceEpoch(const std::string& epoch) { bronze_->set_source_epoch(epoch); }

}  // namespace lakestream
