#include "pipeline/medallion.h"

#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <filesystem>

#include "common/base64.h"
#include "common/ids.h"
#include "common/json_writer.h"
#include "common/time.h"
#include "lake/delta/delta_maintenance.h"
#include "lake/delta/delta_scan.h"
#include "lake/delta/delta_writer.h"

namespace lakestream::medallion {

namespace {

// Derived tables write a txn-only "fence" commit when they lag bronze by this many versions without
// rows of their own, so that a restart re-derives little.
constexpr int64_t kFenceEveryVersions = 50;

// Kafka headers as JSON: [{"key":"k","value":"v"}], a value that is not UTF-8 as "value_base64".
std::optional<std::string> HeadersJson(const KafkaHeaders& headers) {
  if (headers.empty()) return std::nullopt;
  JsonWriter w;
  w.BeginArray();
  for (const auto& [k, v] : headers) {
    w.BeginObject().Key("key").String(k);
    if (simdjson::validate_utf8(v.data(), v.size())) {
      w.Key("value").String(v);
    } else {
      w.Key("value_base64").String(Base64Encode(v));
    }
    w.EndObject();
  }
  w.EndArray();
  return w.Take();
}

void AppendOptional(RecordBatch& b, size_t col, const std::optional<std::string>& v) {
  if (v) {
    b.AppendString(col, *v);
  } else {
    b.AppendNull(col);
  }
}
void AppendOptional(RecordBatch& b, size_t col, const std::optional<int64_t>& v) {
  if (v) {
    b.AppendInt(col, *v);
  } else {
    b.AppendNull(col);
  }
}

}  // namespace

const std::vector<ColumnSpec>& BronzeColumns() {
  static const std::vector<ColumnSpec> kCols = {
      {"payload", ColumnType::kBinary, false},
      {"key", ColumnType::kBinary, true},
      {"headers", ColumnType::kString, true},
      {"topic", ColumnType::kString, false},
      {"partition", ColumnType::kInt32, false},
      {"offset", ColumnType::kInt64, false},
      {"kafka_timestamp", ColumnType::kTimestampMicros, true},
      {"ingest_time", ColumnType::kTimestampMicros, false},
      {"source_epoch", ColumnType::kString, true},
  };
  return kCols;
}

const std::vector<ColumnSpec>& QuarantineColumns() {
  static const std::vector<ColumnSpec> kCols = {
      {"payload", ColumnType::kBinary, false},
      {"event_id", ColumnType::kString, true},
      {"failed_rules", ColumnType::kString, false},
      {"reason", ColumnType::kString, false},
      {"topic", ColumnType::kString, false},
      {"kafka_partition", ColumnType::kInt32, false},
      {"kafka_offset", ColumnType::kInt64, false},
      {"kafka_timestamp", ColumnType::kTimestampMicros, true},
      {"bronze_version", ColumnType::kInt64, false},
      {"quarantined_at", ColumnType::kTimestampMicros, false},
  };
  return kCols;
}

DeltaSchema ToDeltaSchema(const std::vector<ColumnSpec>& cols) {
  DeltaSchema s;
  for (const auto& c : cols) s.fields.push_back({c.name, c.DeltaType(), c.nullable});
  return s;
}

std::optional<int64_t> KafkaTimestampMicros(const KafkaRecord& r) {
  return r.timestamp_ms >= 0 ? std::optional<int64_t>(r.timestamp_ms * 1000) : std::nullopt;
}

Result<std::unique_ptr<DeltaTable>> OpenTable(const std::string& lake_root, const std::string& name,
                                              const std::vector<ColumnSpec>& cols,
                                              const std::vector<std::string>& partitions, bool append_only) {
  ASSIGN_OR_RETURN(auto storage, OpenStorage(JoinLocation(lake_root, name)));
  ASSIGN_OR_RETURN(auto table, DeltaTable::Open(storage, name));
  RETURN_IF_ERROR(table->CreateIfNotExists(ToDeltaSchema(cols), partitions,
                                           append_only ? std::map<std::string, std::string>{{"delta.appendOnly", "true"}}
                                                       : std::map<std::string, std::string>{}));
  return table;
}

Result<AddFile> WriteDataFile(ColumnarEngine& engine, DeltaTable& table, const RecordBatch& batch) {
  const std::string rel = NewDataFileName();
  ASSIGN_OR_RETURN(std::string local, table.storage().StagingPath(rel));
  ASSIGN_OR_RETURN(ParquetFileInfo info, engine.WriteParquet(batch, local));
  RETURN_IF_ERROR(table.storage().PutFile(rel, local));
  return MakeAddFile(rel, info, {}, true);
}

std::vector<KafkaRecord> WithoutCommitted(const Snapshot& bronze,
                                          const std::function<std::string(const std::string&, int32_t)>& app_id,
                                          const std::vector<KafkaRecord>& all_records) {
  std::vector<KafkaRecord> records;
  records.reserve(all_records.size());
  std::map<std::pair<std::string, int32_t>, int64_t> committed;
  for (const auto& r : all_records) {
    auto key = std::make_pair(r.topic, r.partition);
    auto it = committed.find(key);
    if (it == committed.end()) {
      auto v = bronze.TxnVersion(app_id(r.topic, r.partition));
      it = committed.emplace(key, v ? *v : -1).first;
    }
    if (r.offset > it->second) records.push_back(r);
  }
  return records;
}

Result<int64_t> CommitBronze(DeltaTable& bronze, ColumnarEngine& engine, const std::vector<KafkaRecord>& records,
                             int64_t ingest_us, const std::string& source_epoch,
                             const std::function<std::string(const std::string&, int32_t)>& app_id,
                             const std::string& query_id, std::map<int32_t, int64_t>* bytes) {
  RecordBatch batch(BronzeColumns());
  std::map<std::pair<std::string, int32_t>, int64_t> last_offset;
  const std::optional<std::string> epoch =
      source_epoch.empty() ? std::nullopt : std::optional<std::string>(source_epoch);
  for (const auto& r : records) {
    batch.AppendString(0, r.value);
    AppendOptional(batch, 1, r.key);
    AppendOptional(batch, 2, HeadersJson(r.headers));
    batch.AppendString(3, r.topic);
    batch.AppendInt(4, r.partition);
    batch.AppendInt(5, r.offset);
    AppendOptional(batch, 6, KafkaTimestampMicros(r));
    batch.AppendInt(7, ingest_us);
    AppendOptional(batch, 8, epoch);
    auto& lo = last_offset[{r.topic, r.partition}];
    lo = std::max(lo, r.offset);
    (*bytes)[r.partition] += static_cast<int64_t>(r.value.size());
  }
  ASSIGN_OR_RETURN(AddFile add, WriteDataFile(engine, bronze, batch));
  Transaction txn;
  txn.operation = "STREAMING UPDATE";
  txn.operation_parameters_json = R"({"outputMode":"Append","queryId":")" + query_id + R"("})";
  txn.adds.push_back(add);
  for (const auto& [tp, off] : last_offset) txn.txns.push_back({app_id(tp.first, tp.second), off, 0});
  return bronze.Commit(txn);
}

void AppendQuarantineRow(RecordBatch& bad, const KafkaRecord& r, const std::optional<std::string>& event_id,
                         const std::string& rules, const std::string& reason, int64_t bronze_version, int64_t now_us) {
  bad.AppendString(0, r.value);
  AppendOptional(bad, 1, event_id);
  bad.AppendString(2, rules);
  bad.AppendString(3, reason);
  bad.AppendString(4, r.topic);
  bad.AppendInt(5, r.partition);
  bad.AppendInt(6, r.offset);
  AppendOptional(bad, 7, KafkaTimestampMicros(r));
  bad.AppendInt(8, bronze_version);
  bad.AppendInt(9, now_us);
}

Result<int64_t> CommitDerived(DeltaTable& table, ColumnarEngine& engine, const RecordBatch& rows,
                              const std::string& app, int64_t bronze_version, int64_t done, bool fence,
                              const std::map<std::string, std::string>& metrics) {
  if (bronze_version <= done) return -1;
  const bool has_rows = rows.num_rows() > 0;
  if (!has_rows && !fence && bronze_version - done < kFenceEveryVersions) return -1;
  Transaction txn;
  txn.operation = "STREAMING UPDATE";
  txn.operation_parameters_json = R"({"outputMode":"Append","queryId":")" + app + R"("})";
  txn.operation_metrics = metrics;
  if (has_rows) {
    ASSIGN_OR_RETURN(AddFile add, WriteDataFile(engine, table, rows));
    txn.adds.push_back(add);
  }
  txn.txns.push_back({app, bronze_version, 0});
  return table.Commit(txn);
}

Status ReadBronzeVersion(DeltaTable& bronze, ColumnarEngine& engine, int64_t v, std::vector<KafkaRecord>* records,
                         std::vector<int64_t>* ingest_us) {
  ASSIGN_OR_RETURN(CommitActions c, bronze.ReadCommit(v));
  for (const auto& add : c.adds) {
    if (!add.data_change) continue;  // a compaction rewrote rows already derived
    ASSIGN_OR_RETURN(std::string local, DataFileLocalPath(bronze.storage(), CanonicalDeltaPath(add.path)));
    ASSIGN_OR_RETURN(QueryResult rows,
                     engine.Query("SELECT payload, topic, \"partition\", \"offset\", epoch_us(kafka_timestamp), "
                                  "epoch_us(ingest_time), key FROM read_parquet(" +
                                  ColumnarEngine::Quote(local) + ") ORDER BY \"partition\", \"offset\""));
    for (auto& row : rows.rows) {
      KafkaRecord r;
      r.value = row[0].value_or("");
      r.topic = row[1].value_or("");
      r.partition = static_cast<int32_t>(std::stol(row[2].value_or("0")));
      r.offset = std::stoll(row[3].value_or("0"));
      r.timestamp_ms = row[4] ? std::stoll(*row[4]) / 1000 : -1;
      r.key = row[6];
      ingest_us->push_back(std::stoll(row[5].value_or("0")));
      records->push_back(std::move(r));
    }
  }
  return Status::OK();
}

Status CompactSmallFiles(const std::vector<DeltaTable*>& tables, ColumnarEngine& engine, int64_t min_files,
                         int64_t target_bytes, PipelineCounters& counters) {
  if (min_files <= 0) return Status::OK();
  for (DeltaTable* t : tables) {
    // Small: under an eighth of the target. A file compaction wrote is bigger, so each row is
    // compacted once, not again at every compaction (which would grow quadratically with the table).
    const int64_t small = std::max<int64_t>(target_bytes / 8, 1);
    if (CountSmallFiles(t->snapshot(), small) <= min_files) continue;
    OptimizeOptions opt;
    opt.target_file_size_bytes = target_bytes;
    opt.max_input_file_bytes = small;
    auto r = Optimize(*t, engine, opt);
    if (!r.ok()) {
      if (r.status().code() != StatusCode::kConflict) return r.status();
      spdlog::warn("auto-compaction of {} lost to a concurrent commit, will retry: {}", t->storage().uri(),
                   r.status().message());
      continue;
    }
    if (r->version >= 0) {
      counters.compactions++;
      counters.files_compacted += r->files_removed;
      spdlog::info("auto-compaction of {}: {} small files -> {} at version {}", t->storage().uri(), r->files_removed,
                   r->files_added, r->version);
    }
  }
  return Status::OK();
}

Result<int64_t> CommitMicroBatch(const std::vector<KafkaRecord>& records, BronzeSink& bronze,
                                 BackgroundCompactor* compactor, PipelineCounters& counters, bool* derive_failed,
                                 const std::function<Status(const std::vector<KafkaRecord>& records,
                                                            const std::vector<int64_t>& ingest_us,
                                                            int64_t bronze_version)>& derive) {
  if (compactor) RETURN_IF_ERROR(compactor->status());
  ASSIGN_OR_RETURN(BronzeSink::Committed batch, bronze.Commit(records));
  if (batch.version < 0) return -1;
  if (compactor) compactor->Nudge();
  if (Status st = derive(batch.records, batch.ingest_us, batch.version); !st.ok()) {
    *derive_failed = true;
    return st;
  }
  counters.batches++;
  counters.last_commit_ms = NowMillis();
  return batch.version;
}

void CountCheckpoints(const std::map<std::string, std::unique_ptr<DeltaTable>>& tables, PipelineCounters& counters) {
  int64_t checkpoints = 0;
  for (const auto& [name, t] : tables) checkpoints += t->checkpoints_written();
  counters.checkpoints = checkpoints;
}

Result<std::unique_ptr<BackgroundCompactor>> BackgroundCompactor::Start(std::shared_ptr<Storage> storage,
                                                                       const std::string& name, int64_t min_files,
                                                                       int64_t target_bytes,
                                                                       const std::string& duckdb_memory_limit,
                                                                       PipelineCounters* counters) {
  std::unique_ptr<BackgroundCompactor> c(new BackgroundCompactor());
  ASSIGN_OR_RETURN(c->table_, DeltaTable::Open(std::move(storage), name));
  ASSIGN_OR_RETURN(c->engine_, ColumnarEngine::Open(1, duckdb_memory_limit));
  c->min_files_ = min_files;
  c->target_bytes_ = target_bytes;
  c->counters_ = counters;
  c->thread_ = std::thread([p = c.get()] { p->Loop(); });
  return c;
}

BackgroundCompactor::~BackgroundCompactor() { Stop(); }

void BackgroundCompactor::Nudge() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    nudged_ = true;
  }
  cv_.notify_one();
}

Status BackgroundCompactor::status() const {
  std::lock_guard<std::mutex> lock(mu_);
  return status_;
}

void BackgroundCompactor::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void BackgroundCompactor::Loop() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stop_ || nudged_; });
      if (stop_) return;
      nudged_ = false;
    }
    Status st = table_->Refresh();
    if (st.ok()) st = CompactSmallFiles({table_.get()}, *engine_, min_files_, target_bytes_, *counters_);
    if (!st.ok()) {
      spdlog::error("auto-compaction of {} failed: {}", table_->storage().uri(), st.ToString());
      std::lock_guard<std::mutex> lock(mu_);
      if (status_.ok()) status_ = st.WithContext("auto-compaction of " + table_->storage().uri());
    }
  }
}

BronzeSink::BronzeSink(std::string app_prefix, std::string source_epoch, DeltaTable* bronze, ColumnarEngine* engine,
                       PipelineCounters* counters)
    : app_prefix_(std::move(app_prefix)),
      source_epoch_(std::move(source_epoch)),
      bronze_(bronze),
      engine_(engine),
      counters_(counters) {}

std::string BronzeSink::AppId(const std::string& topic, int32_t partition) const {
  std::string id = app_prefix_ + "-bronze-" + topic + "-" + std::to_string(partition);
  if (!source_epoch_.empty()) id += "@" + source_epoch_;
  return id;
}

std::optional<int64_t> BronzeSink::StartOffset(const std::string& topic, int32_t partition) {
  Status st = bronze_->Refresh();
  if (!st.ok()) spdlog::warn("refreshing {}: {}", bronze_->storage().uri(), st.ToString());
  auto v = bronze_->snapshot().TxnVersion(AppId(topic, partition));
  if (!v) return std::nullopt;
  return *v + 1;
}

Result<BronzeSink::Committed> BronzeSink::Commit(const std::vector<KafkaRecord>& all_records) {
  auto app_id = [this](const std::string& topic, int32_t partition) { return AppId(topic, partition); };
  Committed out;
  // Redeliveries: records at or below the committed offset of their partition.
  out.records = WithoutCommitted(bronze_->snapshot(), app_id, all_records);
  if (out.records.empty()) return out;
  const int64_t ingest_us = NowMicros();
  std::map<int32_t, int64_t> bytes;
  ASSIGN_OR_RETURN(out.version, CommitBronze(*bronze_, *engine_, out.records, ingest_us, source_epoch_, app_id,
                                             app_prefix_ + "-bronze", &bytes));
  out.ingest_us.assign(out.records.size(), ingest_us);
  counters_->bronze_rows += static_cast<int64_t>(out.records.size());
  counters_->bronze_version = out.version;
  std::lock_guard<std::mutex> lock(bytes_mu_);
  for (const auto& [p, b] : bytes) committed_bytes_[p] += b;
  return out;
}

int64_t BronzeSink::CommittedBytes(int32_t partition) const {
  std::lock_guard<std::mutex> lock(bytes_mu_);
  auto it = committed_bytes_.find(partition);
  return it == committed_bytes_.end() ? 0 : it->second;
}

ExpectationTally::ExpectationTally(const std::vector<Expectation>& expectations) {
  for (const auto& x : expectations) counts_.push_back({x.name, x.action, 0});
}

void ExpectationTally::Add(const std::vector<int64_t>& failed) {
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t i = 0; i < counts_.size() && i < failed.size(); ++i) counts_[i].failed += failed[i];
}

std::vector<ExpectationCount> ExpectationTally::Counts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counts_;
}

std::vector<TableSummary> Summarize(const std::vector<std::pair<std::string, DeltaTable*>>& tables) {
  std::vector<TableSummary> out;
  for (const auto& [name, t] : tables) {
    (void)t->Refresh();
    const auto& s = t->snapshot();
    out.push_back({name, t->storage().uri(), s.version, s.NumRecords(), static_cast<int64_t>(s.files.size()),
                   s.SizeBytes(), t->last_checkpoint_version()});
  }
  return out;
}

}  // namespace lakestream::medallion
