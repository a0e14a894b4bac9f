#include "pipeline/orders_pipeline.h"

#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <type_traits>

#include "common/base64.h"
#include "common/ids.h"
#include "common/json_writer.h"
#include "format/order_event.h"
#include "lake/delta/delta_maintenance.h"
#include "lake/delta/delta_scan.h"
#include "lake/delta/delta_writer.h"
#include "pipeline/event_id_set.h"
#include "pipeline/data_loss.h"
#include "pipeline/medallion.h"
#include "pipeline/writer_lease.h"

namespace lakestream {

namespace {

constexpr const char* kAppPrefix = "lakestream-orders";

// Column indexes of silver (OrdersSilverColumns order).
enum SilverCol : size_t {
  kEventId, kEventTime, kOrderDate, kTransactionNo, kProductNo, kProductName, kQuantity, kUnitPrice, kLineRevenue,
  kCustomerNo, kCountry, kIsCancellation, kIsAdjustment, kKafkaPartition, kKafkaOffset, kBronzeVersion, kIngestTime,
};

template <typename T>
void AppendOptionalString(RecordBatch& b, size_t col, const std::optional<T>& v) {
  if (v) {
    b.AppendString(col, *v);
  } else {
    b.AppendNull(col);
  }
}
template <typename T>
void AppendOptionalInt(RecordBatch& b, size_t col, const std::optional<T>& v) {
  if (v) {
    b.AppendInt(col, *v);
  } else {
    b.AppendNull(col);
  }
}

// The business content of a line (everything but its event id and Kafka coordinates), for counting
// the source's repeated lines. Fields are separated by 0x1f; null is 0x1e.
std::string LineContentKey(const std::optional<std::string_view> (&f)[8]) {
  std::string key;
  for (const auto& v : f) {
    if (v) {
      key.append(v->data(), v->size());
    } else {
      key.push_back('\x1e');
    }
    key.push_back('\x1f');
  }
  return key;
}

// An optional field as text: strings as they are, numbers in decimal.
template <typename T>
std::optional<std::string> Text(const std::optional<T>& v) {
  if (!v) return std::nullopt;
  if constexpr (std::is_same_v<T, std::string>) {
    return *v;
  } else {
    return std::to_string(*v);
  }
}

std::string LineContentKey(const OrderRecord& o) {
  std::optional<std::string> parts[8] = {o.transaction_no, Text(o.event_time_us), o.product_no, o.product_name,
                                         Text(o.quantity), Text(o.unit_price_milli_gbp), o.customer_no, o.country};
  std::optional<std::string_view> views[8];
  for (int i = 0; i < 8; ++i) {
    if (parts[i]) views[i] = *parts[i];
  }
  return LineContentKey(views);
}

// The typed fields of a record, for quarantine reasons: "transaction_no=A563187 product_no=B …".
std::string RecordSummary(const OrderRecord& o) {
  auto opt = [](const auto& v) { return Text(v).value_or("NULL"); };
  return fmt::format("transaction_no={} product_no={} quantity={} unit_price_gbp={} order_date={} country={}",
                     opt(o.transaction_no), opt(o.product_no), opt(o.quantity),
                     o.unit_price_milli_gbp ? FormatScaledDecimal(*o.unit_price_milli_gbp, 3) : "NULL",
                     o.order_date_days ? FormatDate(*o.order_date_days) : "NULL", opt(o.country));
}

}  // namespace

OrdersPipeline::~OrdersPipeline() = default;

std::vector<std::string> OrdersPipeline::TableNames() {
  std::vector<std::string> names = {kBronze, kSilver, kQuarantine};
  for (const auto& g : OrdersGoldTables()) names.push_back(g.name);
  return names;
}

Result<std::unique_ptr<OrdersPipeline>> OrdersPipeline::Open(const OrdersPipelineOptions& options) {
  std::unique_ptr<OrdersPipeline> p(new OrdersPipeline());
  p->options_ = options;
  p->apps_ = std::make_unique<medallion::DerivedAppIds>(kAppPrefix);
  const SilverRules& rules = options.rules;
  auto zone = TimeZoneRule::Parse(options.timezone);
  if (!zone) {
    return InvalidArgument("unsupported time zone '{}' for --timezone: use UTC, Europe/London or +HH:MM",
                           options.timezone);
  }
  p->decoder_ = std::make_unique<OrderEventDecoder>(
      *zone, OrderNormalization{rules.country_aliases, rules.adjustment_product_codes,
                                rules.adjustment_transaction_prefixes});
  ASSIGN_OR_RETURN(p->engine_, ColumnarEngine::Open(options.duckdb_threads, options.duckdb_memory_limit));
  // Every condition must bind against the silver columns: a typo stops the pipeline here, not later.
  for (const auto& x : rules.expectations) {
    Status st = p->engine_->CheckPredicates(OrdersSilverColumns(), {x.condition});
    if (!st.ok()) {
      return InvalidArgument("{}:{}: the condition of expectation '{}' is not a valid SQL condition over the silver "
                             "columns: {} (columns: docs/pipelines/orders.md, \"Silver\")",
                             rules.source, x.line, x.name, st.message());
    }
  }
  p->tally_ = std::make_unique<medallion::ExpectationTally>(rules.expectations);
  // One writer at a time, before anything is written (docs/reliability.md, "A double start").
  if (options.writer_lease_ms > 0) {
    ASSIGN_OR_RETURN(p->lease_, WriterLease::Acquire({options.lake_root, p->name_, options.command,
                                                      options.writer_lease_ms}));
  }
  struct Def {
    std::string name;
    std::vector<ColumnSpec> cols;
    std::vector<std::string> partitions;
    bool append_only;
  };
  std::vector<Def> defs = {
      {kBronze, medallion::BronzeColumns(), {}, true},
      {kSilver, OrdersSilverColumns(), {}, true},
      {kQuarantine, medallion::QuarantineColumns(), {}, true},
  };
  for (const auto& g : OrdersGoldTables()) defs.push_back({g.name, g.columns, g.partition_columns, false});
  for (const auto& d : defs) {
    ASSIGN_OR_RETURN(p->tables_[d.name], medallion::OpenTable(options.lake_root, d.name, d.cols, d.partitions,
                                                              d.append_only));
  }
  p->bronze_ = std::make_unique<medallion::BronzeSink>(kAppPrefix, options.source_epoch, p->tables_[kBronze].get(),
                                                       p->engine_.get(), &p->counters_);
  // Recorded data loss stops every start until it is accepted (docs/reliability.md, "Broker eviction").
  medallion::BronzeSink* sink = p->bronze_.get();
  RETURN_IF_ERROR(SettleDataLossGaps(*p->tables_[kBronze], p->name_, options.accept_data_loss,
                                     [sink](const std::string& topic, int32_t partition, const std::string& epoch) {
                                       return sink->AppId(topic, partition, epoch);
                                     }));
  p->counters_.bronze_rows = p->tables_[kBronze]->snapshot().NumRecords();
  p->counters_.silver_rows = p->tables_[kSilver]->snapshot().NumRecords();
  p->counters_.quarantine_rows = p->tables_[kQuarantine]->snapshot().NumRecords();
  OrdersPipeline* self = p.get();
  RETURN_IF_ERROR(medallion::CheckAndRepairDerivedTables(
      *p->tables_[kBronze], *p->tables_[kSilver], *p->tables_[kQuarantine], *p->engine_, *p->apps_, p->counters_,
      [self](int64_t oldest_us) { return self->LoadDedupeState(oldest_us); },
      [self](const std::vector<KafkaRecord>& records, const std::vector<int64_t>& ingest_us, int64_t v,
             bool quarantine_only) {
        return self->DeriveSilver(records, ingest_us, v, medallion::DeriveCommit::kRepair, quarantine_only);
      }));
  RETURN_IF_ERROR(p->CatchUp());
  if (options.auto_compact_min_files > 0) {
    auto& bronze = *p->tables_[kBronze];
    ASSIGN_OR_RETURN(p->bronze_compactor_,
                     medallion::BackgroundCompactor::Start(bronze.storage_ptr(), bronze.name(),
                                                           options.auto_compact_min_files,
                                                           options.target_file_size_bytes,
                                                           options.duckdb_memory_limit, &p->counters_));
  }
  return p;
}

Status OrdersPipeline::LoadDedupeState(int64_t oldest_us) {
  const int64_t horizon_us = options_.rules.dedupe_horizon_ms * 1000;
  seen_ids_ = std::make_unique<EventIdSet>(horizon_us);
  seen_lines_ = std::make_unique<EventIdSet>(horizon_us);
  ASSIGN_OR_RETURN(std::vector<std::string> files, ActiveFilePaths(kSilver));
  if (files.empty()) return Status::OK();
  const int64_t start = MonotonicMillis();
  // In ingest order, so that expiry stays exact and the first copy of a repeated line stays first.
  std::string sql = fmt::format(
      "SELECT event_id, epoch_us(ingest_time)::VARCHAR, transaction_no, epoch_us(event_time)::VARCHAR, product_no, "
      "product_name, quantity::VARCHAR, (unit_price_gbp * 1000)::BIGINT::VARCHAR, customer_no, country "
      "FROM read_parquet({}) WHERE epoch_us(ingest_time) > {} ORDER BY ingest_time, kafka_partition, kafka_offset",
      ColumnarEngine::PathList(files), oldest_us - horizon_us);
  RETURN_IF_ERROR(engine_->ForEachRow(sql, [&](const std::vector<std::optional<std::string_view>>& row) {
    int64_t seen = std::stoll(std::string(row[1].value_or("0")));
    seen_ids_->Add(row[0].value_or(""), seen);
    const std::optional<std::string_view> content[8] = {row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9]};
    seen_lines_->Add(LineContentKey(content), seen);
  }).WithContext("load the deduplication state from silver"));
  spdlog::info("deduplication state: {} event ids ingested within the last {} h, loaded from silver in {} ms",
               seen_ids_->size(), options_.rules.dedupe_horizon_ms / 3600000, MonotonicMillis() - start);
  return Status::OK();
}

std::optional<int64_t> OrdersPipeline::StartOffset(const std::string& topic, int32_t partition) {
  return bronze_->StartOffset(topic, partition);
}

int64_t OrdersPipeline::CommittedBytes(int32_t partition) const { return bronze_->CommittedBytes(partition); }

std::vector<ExpectationCount> OrdersPipeline::ExpectationCounts() const { return tally_->Counts(); }

Status OrdersPipeline::ProcessBatch(const std::vector<KafkaRecord>& all_records) {
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
  CountCheckpoints();
  return Status::OK();
}

Status OrdersPipeline::Tick() {
  if (!gold_pending_ || NowMillis() - last_gold_ms_ < options_.gold_interval_ms) return Status::OK();
  if (lease_) RETURN_IF_ERROR(lease_->Check());
  RETURN_IF_ERROR(RefreshGold());
  RETURN_IF_ERROR(MaybeCompact());
  CountCheckpoints();
  return Status::OK();
}

Status OrdersPipeline::MaybeCompact() {
  // Bronze compacts on its own thread (bronze_compactor_).
  return medallion::CompactSmallFiles({tables_[kSilver].get(), tables_[kQuarantine].get()},
                                      *engine_, options_.auto_compact_min_files, options_.target_file_size_bytes,
                                      counters_);
}

Status OrdersPipeline::DeriveSilver(const std::vector<KafkaRecord>& records, const std::vector<int64_t>& ingest_us,
                                    int64_t bronze_version, medallion::DeriveCommit mode, bool quarantine_only) {
  auto& silver = *tables_[kSilver];
  auto& quarantine = *tables_[kQuarantine];
  const medallion::DerivedAppIds& apps = *apps_;
  const int64_t silver_done = silver.snapshot().TxnVersion(apps.silver).value_or(-1);
  const int64_t quarantine_done = quarantine.snapshot().TxnVersion(apps.quarantine).value_or(-1);
  const auto& expectations = options_.rules.expectations;
  const int64_t now_us = NowMicros();

  // 1. Type every record; the envelope rules reject what cannot be identified.
  RecordBatch typed(OrdersSilverColumns());
  std::vector<size_t> typed_record;  // typed row -> index in records
  std::vector<OrderRecord> decoded;
  RecordBatch bad(medallion::QuarantineColumns());
  std::vector<size_t> bad_record;  // quarantine row -> index in records
  auto quarantine_row = [&](size_t i, const std::optional<std::string>& event_id, const std::string& rules,
                            const std::string& reason) {
    medallion::AppendQuarantineRow(bad, records[i], event_id, rules, reason, bronze_version, now_us);
    bad_record.push_back(i);
  };
  OrderRecord o;
  Rejection why;
  for (size_t i = 0; i < records.size(); ++i) {
    const auto& r = records[i];
    if (!decoder_->Decode(r.value, &o, &why)) {
      counters_.envelope_rejects++;
      quarantine_row(i, std::nullopt, why.rule, fmt::format("{}[{}]@{}: {}", r.topic, r.partition, r.offset, why.message));
      continue;
    }
    typed.AppendString(kEventId, o.event_id);
    AppendOptionalInt(typed, kEventTime, o.event_time_us);
    AppendOptionalInt(typed, kOrderDate, o.order_date_days);
    AppendOptionalString(typed, kTransactionNo, o.transaction_no);
    AppendOptionalString(typed, kProductNo, o.product_no);
    AppendOptionalString(typed, kProductName, o.product_name);
    AppendOptionalInt(typed, kQuantity, o.quantity);
    AppendOptionalInt(typed, kUnitPrice, o.unit_price_milli_gbp);
    AppendOptionalInt(typed, kLineRevenue, o.line_revenue_milli_gbp);
    AppendOptionalString(typed, kCustomerNo, o.customer_no);
    AppendOptionalString(typed, kCountry, o.country);
    typed.AppendBool(kIsCancellation, o.is_cancellation);
    typed.AppendBool(kIsAdjustment, o.is_adjustment);
    typed.AppendInt(kKafkaPartition, r.partition);
    typed.AppendInt(kKafkaOffset, r.offset);
    typed.AppendInt(kBronzeVersion, bronze_version);
    typed.AppendInt(kIngestTime, ingest_us[i]);
    typed_record.push_back(i);
    decoded.push_back(std::move(o));
  }

  // 2. Expectations, all rows at once in DuckDB.
  std::vector<std::string> conditions;
  for (const auto& x : expectations) conditions.push_back(x.condition);
  ASSIGN_OR_RETURN(std::vector<uint64_t> failed, engine_->EvaluatePredicates(typed, conditions));

  // 3. Route each row by its strongest failed action; deduplicate what goes to silver.
  RecordBatch good(OrdersSilverColumns());
  std::vector<int64_t> fail_counts(expectations.size(), 0);
  int64_t drops = 0, duplicates = 0, repeats = 0;
  for (size_t t = 0; t < typed.num_rows(); ++t) {
    const size_t i = typed_record[t];
    const auto& r = records[i];
    const OrderRecord& rec = decoded[t];
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
          "record {}[{}]@{} (event_id {}) failed expectation(s) {}: {}{}. The expectation's action is `fail`, so the "
          "pipeline stops; bronze keeps the record (version {}). Fix the producer, or change the action in {}, then "
          "restart: the record is evaluated again",
          r.topic, r.partition, r.offset, rec.event_id, names, reasons, rec.notes.empty() ? "" : " [" + rec.notes + "]",
          bronze_version, options_.rules.source);
    }
    if (strongest == ExpectationAction::kQuarantine) {
      quarantine_row(i, rec.event_id, names,
                     fmt::format("{}[{}]@{} event_id {}: {} — {}{}", r.topic, r.partition, r.offset, rec.event_id,
                                 reasons, RecordSummary(rec), rec.notes.empty() ? "" : " [" + rec.notes + "]"));
      continue;
    }
    if (strongest == ExpectationAction::kDrop) {
      drops++;
      continue;
    }
    // Kept (passed, or warn only): once per event_id within the horizon.
    if (seen_ids_->Contains(rec.event_id, ingest_us[i])) {
      duplicates++;
      continue;
    }
    seen_ids_->Add(rec.event_id, ingest_us[i]);
    std::string content = LineContentKey(rec);
    if (seen_lines_->Contains(content, ingest_us[i])) {
      repeats++;
    } else {
      seen_lines_->Add(content, ingest_us[i]);
    }
    good.AppendRowFrom(typed, t);
  }

  auto commit = [&](DeltaTable& table, RecordBatch& rows, const std::string& app, const std::string& repair_app,
                    int64_t done, const std::vector<std::string>& also_set, std::atomic<int64_t>& rows_counter,
                    std::atomic<int64_t>& version_counter,
                    const std::map<std::string, std::string>& metrics) -> Result<bool> {
    ASSIGN_OR_RETURN(int64_t v, medallion::CommitDerived(table, *engine_, rows, app, repair_app, bronze_version, done,
                                                         mode, also_set, metrics));
    if (v < 0) return false;
    rows_counter += static_cast<int64_t>(rows.num_rows());
    version_counter = v;
    return true;
  };
  // Expectation results go into silver's commitInfo.operationMetrics, as DLT records them in its
  // event log: `lakestream table silver/orders history` shows them per commit.
  std::map<std::string, std::string> metrics = {{"numDuplicateRows", std::to_string(duplicates)},
                                                {"numDroppedRows", std::to_string(drops)},
                                                {"numRepeatedLines", std::to_string(repeats)}};
  for (size_t x = 0; x < expectations.size(); ++x) {
    metrics["expectation." + expectations[x].name + ".failedRows"] = std::to_string(fail_counts[x]);
  }
  if (!quarantine_only) {
    RETURN_IF_ERROR(commit(silver, good, apps.silver, apps.silver_repair, silver_done, {apps.verified},
                           counters_.silver_rows, counters_.silver_version, metrics)
                        .status());
    if (bronze_version > silver_done || mode == medallion::DeriveCommit::kRepair) {
      // Count each bronze version's outcome once, when silver takes it.
      counters_.duplicates_dropped += duplicates;
      counters_.expectation_drops += drops;
      counters_.repeated_lines += repeats;
      tally_->Add(fail_counts);
    }
  }
  ASSIGN_OR_RETURN(bool quarantined, commit(quarantine, bad, apps.quarantine, apps.quarantine_repair, quarantine_done,
                                            {}, counters_.quarantine_rows, counters_.quarantine_version, {}));
  if (quarantined && dead_letter_) {
    const auto& rules_col = bad.column(2).strings;
    const auto& reason_col = bad.column(3).strings;
    for (size_t q = 0; q < bad_record.size(); ++q) {
      RETURN_IF_ERROR(dead_letter_(records[bad_record[q]], rules_col[q], reason_col[q]));
      counters_.dead_lettered++;
    }
  }
  return Status::OK();
}

Status OrdersPipeline::CatchUp() {
  auto& bronze = *tables_[kBronze];
  const int64_t silver_done = tables_[kSilver]->snapshot().TxnVersion(apps_->silver).value_or(-1);
  const int64_t quarantine_done = tables_[kQuarantine]->snapshot().TxnVersion(apps_->quarantine).value_or(-1);
  const int64_t from = std::min(silver_done, quarantine_done) + 1;
  const int64_t to = bronze.snapshot().version;
  if (std::max<int64_t>(from, 1) <= to) {
    spdlog::info("catching up silver and quarantine from bronze versions {}..{}", std::max<int64_t>(from, 1), to);
  }
  for (int64_t v = std::max<int64_t>(from, 1); v <= to; ++v) {
    if (lease_) RETURN_IF_ERROR(lease_->Check());
    std::vector<KafkaRecord> records;
    std::vector<int64_t> ingest;
    RETURN_IF_ERROR(medallion::ReadBronzeVersion(bronze, *engine_, v, &records, &ingest));
    RETURN_IF_ERROR(DeriveSilver(records, ingest, v,
                                 v == to ? medallion::DeriveCommit::kFence : medallion::DeriveCommit::kAppend));
  }
  bronze_->set_derived_through(to);
  return RefreshGold();
}

Status OrdersPipeline::RefreshGold() {
  last_gold_ms_ = NowMillis();
  gold_pending_ = false;
  auto& silver = *tables_[kSilver];
  for (const auto& plan : OrdersGoldPlans()) {
    ASSIGN_OR_RETURN(GoldRefreshResult r, RefreshGoldTable(plan, *tables_[plan.def.name], silver, *engine_));
    if (r.version >= 0) {
      counters_.gold_version = r.version;
      counters_.gold_refreshes++;
    }
  }
  return Status::OK();
}

Status OrdersPipeline::Close() {
  if (bronze_compactor_) bronze_compactor_->Stop();
  if (derive_failed_) {
    spdlog::warn("silver is behind bronze after a failed batch: not fencing; the next start derives the rest");
    if (lease_) lease_->Release();
    return Status::OK();
  }
  if (lease_) RETURN_IF_ERROR(lease_->Check());
  auto& bronze = *tables_[kBronze];
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
  CountCheckpoints();
  if (lease_) lease_->Release();
  return Status::OK();
}

void OrdersPipeline::CountCheckpoints() { medallion::CountCheckpoints(tables_, counters_); }

Result<std::vector<std::string>> OrdersPipeline::ActiveFilePaths(const std::string& name) {
  auto it = tables_.find(name);
  if (it == tables_.end()) return std::vector<std::string>{};
  return DataFileLocalPaths(it->second->storage(), it->second->snapshot().files);
}

Result<std::set<int64_t>> OrdersPipeline::CommittedSourceLines(const std::string& source_name) {
  std::set<int64_t> lines;
  simdjson::dom::parser parser;
  ASSIGN_OR_RETURN(std::vector<std::string> files, ActiveFilePaths(kBronze));
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

std::vector<TableSummary> OrdersPipeline::Summary() {
  std::vector<std::pair<std::string, DeltaTable*>> tables;
  for (const auto& name : TableNames()) tables.emplace_back(name, tables_[name].get());
  return medallion::Summarize(tables);
}

}  // namespace lakestream

namespace lakestream {

Status OrdersPipeline::RecordDataLoss(const OffsetGap& gap) {
  return RecordDataLossGap(*tables_[kBronze], kAppPrefix, bronze_->source_epoch(), gap);
}

std::vector<DataLossGap> OrdersPipeline::DataLossGaps() {
  (void)tables_[kBronze]->Refresh();
  return DataLossGapsOf(tables_[kBronze]->snapshot());
}

void OrdersPipeline::SetSourceEpoch(const std::string& epoch) { bronze_->set_source_epoch(epoch); }

}  // namespace lakestream
