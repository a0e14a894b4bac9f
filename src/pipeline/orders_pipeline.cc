#include "pipeline/orders_pipeline.h"

#include "lake/delta/delta_maintenance.h"
#include "lake/delta/delta_scan.h"
#include "lake/delta/delta_writer.h"

#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <filesystem>

#include "common/ids.h"
#include "format/order_event.h"

namespace lakestream {

namespace {

constexpr const char* kAppPrefix = "lakestream-orders";
// Silver and quarantine write a txn-only "fence" commit when they lag bronze by this many versions
// without rows of their own, so that a restart re-derives little (see DeriveSilver).
constexpr int64_t kFenceEveryVersions = 50;

std::vector<ColumnSpec> BronzeColumns() {
  return {
      {"payload", ColumnType::kBinary, false},
      {"key", ColumnType::kBinary, true},
      {"topic", ColumnType::kString, false},
      {"partition", ColumnType::kInt32, false},
      {"offset", ColumnType::kInt64, false},
      {"kafka_timestamp", ColumnType::kTimestampMicros, true},
      {"ingest_time", ColumnType::kTimestampMicros, false},
  };
}

std::vector<ColumnSpec> SilverColumns() {
  return {
      {"event_id", ColumnType::kString, false},
      {"event_time", ColumnType::kTimestampMicros, false},
      {"order_date", ColumnType::kDate, false},
      {"transaction_no", ColumnType::kString, false},
      {"product_no", ColumnType::kString, false},
      {"product_name", ColumnType::kString, false},
      {"quantity", ColumnType::kInt32, false},
      {"unit_price_gbp", ColumnType::kDecimal, false, 12, 3},
      {"line_revenue_gbp", ColumnType::kDecimal, false, 18, 3},
      {"customer_no", ColumnType::kString, true},
      {"country", ColumnType::kString, false},
      {"is_cancellation", ColumnType::kBool, false},
      {"kafka_partition", ColumnType::kInt32, false},
      {"kafka_offset", ColumnType::kInt64, false},
      {"bronze_version", ColumnType::kInt64, false},
      {"ingest_time", ColumnType::kTimestampMicros, false},
  };
}

std::vector<ColumnSpec> QuarantineColumns() {
  return {
      {"payload", ColumnType::kBinary, false},
      {"rule", ColumnType::kString, false},
      {"reason", ColumnType::kString, false},
      {"topic", ColumnType::kString, false},
      {"kafka_partition", ColumnType::kInt32, false},
      {"kafka_offset", ColumnType::kInt64, false},
      {"kafka_timestamp", ColumnType::kTimestampMicros, true},
      {"bronze_version", ColumnType::kInt64, false},
      {"quarantined_at", ColumnType::kTimestampMicros, false},
  };
}

std::vector<ColumnSpec> GoldDailyColumns() {
  return {
      {"order_date", ColumnType::kDate, false},
      {"country", ColumnType::kString, false},
      {"orders", ColumnType::kInt64, false},
      {"order_lines", ColumnType::kInt64, false},
      {"units", ColumnType::kInt64, false},
      {"revenue_gbp", ColumnType::kDecimal, false, 18, 3},
      {"cancelled_orders", ColumnType::kInt64, false},
      {"cancellation_lines", ColumnType::kInt64, false},
      {"cancelled_units", ColumnType::kInt64, false},
      {"cancelled_revenue_gbp", ColumnType::kDecimal, false, 18, 3},
      {"net_revenue_gbp", ColumnType::kDecimal, false, 18, 3},
  };
}

std::vector<ColumnSpec> GoldProductColumns() {
  return {
      {"product_no", ColumnType::kString, false},
      {"product_name", ColumnType::kString, false},
      {"orders", ColumnType::kInt64, false},
      {"order_lines", ColumnType::kInt64, false},
      {"units", ColumnType::kInt64, false},
      {"revenue_gbp", ColumnType::kDecimal, false, 18, 3},
      {"cancellation_lines", ColumnType::kInt64, false},
      {"cancelled_units", ColumnType::kInt64, false},
      {"cancelled_revenue_gbp", ColumnType::kDecimal, false, 18, 3},
      {"net_revenue_gbp", ColumnType::kDecimal, false, 18, 3},
  };
}

// The measures shared by both gold tables. Revenue counts non-cancellation lines; cancellations are
// counted apart, as positive amounts; net = the sum of every line (cancellations are negative).
const char* kGoldMeasures = R"(
  count(DISTINCT transaction_no) FILTER (WHERE NOT is_cancellation),
  count(*) FILTER (WHERE NOT is_cancellation),
  coalesce(sum(quantity) FILTER (WHERE NOT is_cancellation), 0),
  coalesce(sum(line_revenue_gbp) FILTER (WHERE NOT is_cancellation), 0)::DECIMAL(18,3),
  %CANCELLED_ORDERS%
  count(*) FILTER (WHERE is_cancellation),
  coalesce(-sum(quantity) FILTER (WHERE is_cancellation), 0),
  coalesce(-sum(line_revenue_gbp) FILTER (WHERE is_cancellation), 0)::DECIMAL(18,3),
  coalesce(sum(line_revenue_gbp), 0)::DECIMAL(18,3))";

std::string GoldMeasures(bool with_cancelled_orders) {
  std::string m = kGoldMeasures;
  auto pos = m.find("%CANCELLED_ORDERS%");
  m.replace(pos, 18, with_cancelled_orders ? "count(DISTINCT transaction_no) FILTER (WHERE is_cancellation)," : "");
  return m;
}

DeltaSchema ToDeltaSchema(const std::vector<ColumnSpec>& cols) {
  DeltaSchema s;
  for (const auto& c : cols) s.fields.push_back({c.name, c.DeltaType(), c.nullable});
  return s;
}

}  // namespace

OrdersPipeline::~OrdersPipeline() = default;

Result<std::unique_ptr<OrdersPipeline>> OrdersPipeline::Open(const OrdersPipelineOptions& options) {
  std::unique_ptr<OrdersPipeline> p(new OrdersPipeline());
  p->options_ = options;
  auto zone = TimeZoneRule::Parse(options.timezone);
  if (!zone) {
    return InvalidArgument("unsupported time zone '{}' for --timezone: use UTC, Europe/London or +HH:MM",
                           options.timezone);
  }
  p->decoder_ = std::make_unique<OrderEventDecoder>(*zone);
  ASSIGN_OR_RETURN(p->engine_, ColumnarEngine::Open(options.duckdb_threads, options.duckdb_memory_limit));
  const std::map<std::string, std::string> append_only = {{"delta.appendOnly", "true"}};
  struct Def {
    const char* name;
    std::vector<ColumnSpec> cols;
    bool append_only;
  };
  const Def defs[] = {
      {kBronze, BronzeColumns(), true},         {kSilver, SilverColumns(), true},
      {kQuarantine, QuarantineColumns(), true}, {kGoldDaily, GoldDailyColumns(), false},
      {kGoldProduct, GoldProductColumns(), false},
  };
  for (const auto& d : defs) {
    std::string location = (std::filesystem::path(options.lake_root) / d.name).string();
    ASSIGN_OR_RETURN(auto storage, OpenStorage(location));
    ASSIGN_OR_RETURN(auto table, DeltaTable::Open(storage, d.name));
    RETURN_IF_ERROR(table->CreateIfNotExists(ToDeltaSchema(d.cols), {},
                                             d.append_only ? append_only : std::map<std::string, std::string>{}));
    p->tables_[d.name] = std::move(table);
  }
  p->counters_.bronze_rows = p->tables_[kBronze]->snapshot().NumRecords();
  p->counters_.silver_rows = p->tables_[kSilver]->snapshot().NumRecords();
  p->counters_.quarantine_rows = p->tables_[kQuarantine]->snapshot().NumRecords();
  RETURN_IF_ERROR(p->CatchUp());
  return p;
}

std::string OrdersPipeline::BronzeAppId(const std::string& topic, int32_t partition) const {
  std::string id = std::string(kAppPrefix) + "-bronze-" + topic + "-" + std::to_string(partition);
  if (!options_.source_epoch.empty()) id += "@" + options_.source_epoch;
  return id;
}

std::optional<int64_t> OrdersPipeline::StartOffset(const std::string& topic, int32_t partition) {
  auto& bronze = *tables_[kBronze];
  Status st = bronze.Refresh();
  if (!st.ok()) spdlog::warn("refreshing {}: {}", bronze.storage().uri(), st.ToString());
  auto v = bronze.snapshot().TxnVersion(BronzeAppId(topic, partition));
  if (!v) return std::nullopt;
  return *v + 1;
}

int64_t OrdersPipeline::CommittedBytes(int32_t partition) const {
  std::lock_guard<std::mutex> lock(bytes_mu_);
  auto it = committed_bytes_.find(partition);
  return it == committed_bytes_.end() ? 0 : it->second;
}

Result<AddFile> OrdersPipeline::WriteDataFile(DeltaTable& table, const RecordBatch& batch) {
  const std::string rel = NewDataFileName();
  ASSIGN_OR_RETURN(ParquetFileInfo info, engine_->WriteParquet(batch, table.storage().LocalPath(rel)));
  return MakeAddFile(rel, info, {}, true);
}

Status OrdersPipeline::ProcessBatch(const std::vector<KafkaRecord>& all_records) {
  auto& bronze = *tables_[kBronze];
  // Drop redeliveries: records at or below the committed offset of their partition.
  std::vector<KafkaRecord> records;
  records.reserve(all_records.size());
  std::map<std::pair<std::string, int32_t>, int64_t> committed;
  for (const auto& r : all_records) {
    auto key = std::make_pair(r.topic, r.partition);
    auto it = committed.find(key);
    if (it == committed.end()) {
      auto v = bronze.snapshot().TxnVersion(BronzeAppId(r.topic, r.partition));
      it = committed.emplace(key, v ? *v : -1).first;
    }
    if (r.offset > it->second) records.push_back(r);
  }
  if (records.empty()) return Status::OK();

  const int64_t ingest_us = NowMicros();
  RecordBatch batch(BronzeColumns());
  std::map<std::pair<std::string, int32_t>, int64_t> last_offset;
  std::map<int32_t, int64_t> bytes;
  for (const auto& r : records) {
    batch.AppendString(0, r.value);
    if (r.key) {
      batch.AppendString(1, *r.key);
    } else {
      batch.AppendNull(1);
    }
    batch.AppendString(2, r.topic);
    batch.AppendInt(3, r.partition);
    batch.AppendInt(4, r.offset);
    if (r.timestamp_ms >= 0) {
      batch.AppendInt(5, r.timestamp_ms * 1000);
    } else {
      batch.AppendNull(5);
    }
    batch.AppendInt(6, ingest_us);
    auto& lo = last_offset[{r.topic, r.partition}];
    lo = std::max(lo, r.offset);
    bytes[r.partition] += static_cast<int64_t>(r.value.size());
  }
  ASSIGN_OR_RETURN(AddFile add, WriteDataFile(bronze, batch));
  Transaction txn;
  txn.operation = "STREAMING UPDATE";
  txn.operation_parameters_json = R"({"outputMode":"Append","queryId":"lakestream-orders-bronze"})";
  txn.adds.push_back(add);
  for (const auto& [tp, off] : last_offset) txn.txns.push_back({BronzeAppId(tp.first, tp.second), off, 0});
  ASSIGN_OR_RETURN(int64_t bronze_version, bronze.Commit(txn));
  counters_.bronze_rows += static_cast<int64_t>(records.size());
  counters_.bronze_version = bronze_version;
  {
    std::lock_guard<std::mutex> lock(bytes_mu_);
    for (const auto& [p, b] : bytes) committed_bytes_[p] += b;
  }
  std::vector<int64_t> ingest(records.size(), ingest_us);
  RETURN_IF_ERROR(DeriveSilver(records, ingest, bronze_version, false));
  counters_.batches++;
  counters_.last_commit_ms = NowMillis();
  if (NowMillis() - last_gold_ms_ >= options_.gold_interval_ms) {
    RETURN_IF_ERROR(RefreshGold(false));
    RETURN_IF_ERROR(MaybeCompact());
  }
  CountCheckpoints();
  return Status::OK();
}

Status OrdersPipeline::MaybeCompact() {
  if (options_.auto_compact_min_files <= 0) return Status::OK();
  for (const char* name : {kBronze, kSilver, kQuarantine}) {
    DeltaTable& t = *tables_[name];
    if (CountSmallFiles(t.snapshot(), options_.target_file_size_bytes) <= options_.auto_compact_min_files) continue;
    OptimizeOptions opt;
    opt.target_file_size_bytes = options_.target_file_size_bytes;
    auto r = Optimize(t, *engine_, opt);
    if (!r.ok()) {
      if (r.status().code() != StatusCode::kConflict) return r.status();
      spdlog::warn("auto-compaction of {} lost to a concurrent commit, will retry: {}", name, r.status().message());
      continue;
    }
    if (r->version >= 0) {
      counters_.compactions++;
      counters_.files_compacted += r->files_removed;
      spdlog::info("auto-compaction of {}: {} small files -> {} at version {}", name, r->files_removed,
                   r->files_added, r->version);
    }
  }
  return Status::OK();
}

Status OrdersPipeline::DeriveSilver(const std::vector<KafkaRecord>& records, const std::vector<int64_t>& ingest_us,
                                    int64_t bronze_version, bool fence) {
  auto& silver = *tables_[kSilver];
  auto& quarantine = *tables_[kQuarantine];
  const std::string silver_app = std::string(kAppPrefix) + "-silver<-bronze";
  const std::string quarantine_app = std::string(kAppPrefix) + "-quarantine<-bronze";
  const int64_t silver_done = silver.snapshot().TxnVersion(silver_app).value_or(-1);
  const int64_t quarantine_done = quarantine.snapshot().TxnVersion(quarantine_app).value_or(-1);

  RecordBatch good(SilverColumns());
  RecordBatch bad(QuarantineColumns());
  OrderRecord o;
  Rejection why;
  const int64_t now_us = NowMicros();
  for (size_t i = 0; i < records.size(); ++i) {
    const auto& r = records[i];
    if (decoder_->Decode(r.value, &o, &why)) {
      good.AppendString(0, o.event_id);
      good.AppendInt(1, o.event_time_us);
      good.AppendInt(2, o.order_date_days);
      good.AppendString(3, o.transaction_no);
      good.AppendString(4, o.product_no);
      good.AppendString(5, o.product_name);
      good.AppendInt(6, o.quantity);
      good.AppendInt(7, o.unit_price_milli_gbp);
      good.AppendInt(8, o.line_revenue_milli_gbp);
      if (o.customer_no) {
        good.AppendString(9, *o.customer_no);
      } else {
        good.AppendNull(9);
      }
      good.AppendString(10, o.country);
      good.AppendBool(11, o.is_cancellation);
      good.AppendInt(12, r.partition);
      good.AppendInt(13, r.offset);
      good.AppendInt(14, bronze_version);
      good.AppendInt(15, ingest_us[i]);
    } else {
      bad.AppendString(0, r.value);
      bad.AppendString(1, why.rule);
      bad.AppendString(2, fmt::format("{}[{}]@{}: {}", r.topic, r.partition, r.offset, why.message));
      bad.AppendString(3, r.topic);
      bad.AppendInt(4, r.partition);
      bad.AppendInt(5, r.offset);
      if (r.timestamp_ms >= 0) {
        bad.AppendInt(6, r.timestamp_ms * 1000);
      } else {
        bad.AppendNull(6);
      }
      bad.AppendInt(7, bronze_version);
      bad.AppendInt(8, now_us);
    }
  }
  // Each derived table commits the bronze version it has processed as its txn. A version that yields
  // no rows is committed only as a periodic fence (or at Close): re-deriving it is deterministic and
  // yields no rows again, so skipping its commit loses nothing.
  auto commit = [&](DeltaTable& table, RecordBatch& rows, const std::string& app, int64_t done,
                    std::atomic<int64_t>& rows_counter, std::atomic<int64_t>& version_counter) -> Status {
    if (bronze_version <= done) return Status::OK();
    bool has_rows = rows.num_rows() > 0;
    if (!has_rows && !fence && bronze_version - done < kFenceEveryVersions) return Status::OK();
    Transaction txn;
    txn.operation = "STREAMING UPDATE";
    txn.operation_parameters_json = R"({"outputMode":"Append","queryId":")" + app + R"("})";
    if (has_rows) {
      ASSIGN_OR_RETURN(AddFile add, WriteDataFile(table, rows));
      txn.adds.push_back(add);
    }
    txn.txns.push_back({app, bronze_version, 0});
    ASSIGN_OR_RETURN(int64_t v, table.Commit(txn));
    rows_counter += static_cast<int64_t>(rows.num_rows());
    version_counter = v;
    return Status::OK();
  };
  RETURN_IF_ERROR(commit(silver, good, silver_app, silver_done, counters_.silver_rows, counters_.silver_version));
  RETURN_IF_ERROR(commit(quarantine, bad, quarantine_app, quarantine_done, counters_.quarantine_rows,
                         counters_.quarantine_version));
  return Status::OK();
}

Status OrdersPipeline::CatchUp() {
  auto& bronze = *tables_[kBronze];
  const int64_t silver_done =
      tables_[kSilver]->snapshot().TxnVersion(std::string(kAppPrefix) + "-silver<-bronze").value_or(-1);
  const int64_t quarantine_done =
      tables_[kQuarantine]->snapshot().TxnVersion(std::string(kAppPrefix) + "-quarantine<-bronze").value_or(-1);
  const int64_t from = std::min(silver_done, quarantine_done) + 1;
  if (from <= bronze.snapshot().version) {
    spdlog::info("catching up silver and quarantine from bronze versions {}..{}", from, bronze.snapshot().version);
  }
  for (int64_t v = std::max<int64_t>(from, 1); v <= bronze.snapshot().version; ++v) {
    ASSIGN_OR_RETURN(CommitActions c, bronze.ReadCommit(v));
    std::vector<KafkaRecord> records;
    std::vector<int64_t> ingest;
    for (const auto& add : c.adds) {
      if (!add.data_change) continue;  // a compaction rewrote rows already derived
      std::string local = DataFileLocalPath(bronze.storage(), CanonicalDeltaPath(add.path));
      ASSIGN_OR_RETURN(QueryResult rows,
                       engine_->Query("SELECT payload, topic, \"partition\", \"offset\", epoch_us(kafka_timestamp), "
                                      "epoch_us(ingest_time) FROM read_parquet(" +
                                      ColumnarEngine::Quote(local) + ") ORDER BY \"partition\", \"offset\""));
      for (auto& row : rows.rows) {
        KafkaRecord r;
        r.value = row[0].value_or("");
        r.topic = row[1].value_or("");
        r.partition = static_cast<int32_t>(std::stol(row[2].value_or("0")));
        r.offset = std::stoll(row[3].value_or("0"));
        r.timestamp_ms = row[4] ? std::stoll(*row[4]) / 1000 : -1;
        ingest.push_back(std::stoll(row[5].value_or("0")));
        records.push_back(std::move(r));
      }
    }
    RETURN_IF_ERROR(DeriveSilver(records, ingest, v, v == bronze.snapshot().version));
  }
  return RefreshGold(false);
}

Status OrdersPipeline::RefreshGold(bool force) {
  last_gold_ms_ = NowMillis();
  auto& silver = *tables_[kSilver];
  const std::string gold_app = std::string(kAppPrefix) + "-gold<-silver";
  const int64_t sv = silver.snapshot().version;
  struct GoldDef {
    const char* name;
    std::vector<ColumnSpec> cols;
    std::string select;
  };
  std::vector<std::string> files = ActiveFilePaths(kSilver);
  std::string source = files.empty() ? std::string("(SELECT * FROM (SELECT NULL::DATE AS order_date, NULL AS country, "
                                                   "NULL AS transaction_no, NULL::INT AS quantity, NULL::DECIMAL(18,3) "
                                                   "AS line_revenue_gbp, NULL::BOOLEAN AS is_cancellation, NULL AS "
                                                   "product_no, NULL AS product_name, NULL::TIMESTAMPTZ AS event_time) "
                                                   "WHERE false)")
                                     : "read_parquet(" + ColumnarEngine::PathList(files) + ")";
  const GoldDef defs[] = {
      {kGoldDaily, GoldDailyColumns(),
       "SELECT order_date, country, " + GoldMeasures(true) + " FROM " + source + " GROUP BY ALL ORDER BY 1, 2"},
      {kGoldProduct, GoldProductColumns(),
       "SELECT product_no, arg_max(product_name, event_time), " + GoldMeasures(false) + " FROM " + source +
           " GROUP BY product_no ORDER BY 1"},
  };
  for (const auto& d : defs) {
    auto& gold = *tables_[d.name];
    RETURN_IF_ERROR(gold.Refresh());
    if (!force && gold.snapshot().TxnVersion(gold_app).value_or(-1) >= sv) continue;
    const std::string rel = NewDataFileName();
    ASSIGN_OR_RETURN(ParquetFileInfo info,
                     engine_->WriteQueryToParquet(d.select, d.cols, gold.storage().LocalPath(rel)));
    Transaction txn;
    txn.operation = "WRITE";
    txn.operation_parameters_json = R"({"mode":"Overwrite"})";
    txn.read_whole_table = true;
    for (const auto& [key, f] : gold.snapshot().files) txn.removes.push_back(RemoveOf(f, NowMillis(), true));
    txn.adds.push_back(MakeAddFile(rel, info, {}, true));
    txn.txns.push_back({gold_app, sv, 0});
    ASSIGN_OR_RETURN(int64_t v, gold.Commit(txn));
    counters_.gold_version = v;
  }
  return Status::OK();
}

Status OrdersPipeline::Close() {
  auto& bronze = *tables_[kBronze];
  RETURN_IF_ERROR(bronze.Refresh());
  // Fence the derived tables at the latest bronze version (no rows are pending by construction).
  int64_t bv = bronze.snapshot().version;
  if (bv >= 1) RETURN_IF_ERROR(DeriveSilver({}, {}, bv, true));
  RETURN_IF_ERROR(RefreshGold(false));
  CountCheckpoints();
  return Status::OK();
}

void OrdersPipeline::CountCheckpoints() {
  int64_t checkpoints = 0;
  for (const auto& [name, t] : tables_) checkpoints += t->checkpoints_written();
  counters_.checkpoints = checkpoints;
}

std::vector<std::string> OrdersPipeline::ActiveFilePaths(const std::string& name) {
  std::vector<std::string> out;
  auto it = tables_.find(name);
  if (it == tables_.end()) return out;
  for (const auto& [key, f] : it->second->snapshot().files) {
    out.push_back(DataFileLocalPath(it->second->storage(), key));
  }
  return out;
}

Result<std::set<int64_t>> OrdersPipeline::CommittedSourceLines(const std::string& source_name) {
  std::set<int64_t> lines;
  simdjson::dom::parser parser;
  for (const std::string& file : ActiveFilePaths(kBronze)) {
    ASSIGN_OR_RETURN(QueryResult rows, engine_->Query("SELECT payload FROM read_parquet(" +
                                                      ColumnarEngine::Quote(file) + ")"));
    for (const auto& row : rows.rows) {
      if (!row[0]) continue;
      simdjson::dom::element doc;
      if (parser.parse(row[0]->data(), row[0]->size(), true).get(doc) != simdjson::SUCCESS) continue;
      std::string_view name;
      int64_t line = 0;
      if (doc["source"]["name"].get(name) == simdjson::SUCCESS && name == source_name &&
          doc["source"]["line"].get(line) == simdjson::SUCCESS) {
        lines.insert(line);
      }
    }
  }
  return lines;
}

std::vector<TableSummary> OrdersPipeline::Summary() {
  std::vector<TableSummary> out;
  for (const char* name : {kBronze, kSilver, kQuarantine, kGoldDaily, kGoldProduct}) {
    auto& t = *tables_[name];
    (void)t.Refresh();
    const auto& s = t.snapshot();
    out.push_back({name, t.storage().uri(), s.version, s.NumRecords(), static_cast<int64_t>(s.files.size()),
                   s.SizeBytes(), t.last_checkpoint_version()});
  }
  return out;
}

}  // namespace lakestream
