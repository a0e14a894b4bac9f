#include "pipeline/medallion.h"

#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <set>

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

std::optional<int64_t> KafkaTimestampMicros(const KafkaRecord& r) {
  return r.timestamp_ms >= 0 ? std::optional<int64_t>(r.timestamp_ms * 1000) : std::nullopt;
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
                              const std::string& app, const std::string& repair_app, int64_t bronze_version,
                              int64_t done, DeriveCommit mode, const std::vector<std::string>& also_set,
                              const std::map<std::string, std::string>& metrics) {
  const bool has_rows = rows.num_rows() > 0;
  if (mode != DeriveCommit::kRepair) {
    if (bronze_version <= done) return -1;
    if (!has_rows && mode == DeriveCommit::kAppend && bronze_version - done < kFenceEveryVersions) return -1;
  }
  Transaction txn;
  txn.operation = "STREAMING UPDATE";
  txn.operation_parameters_json = R"({"outputMode":"Append","queryId":")" + app + R"(")" +
                                  (mode == DeriveCommit::kRepair
                                       ? R"(,"repairOfBronzeVersion":")" + std::to_string(bronze_version) + R"(")"
                                       : std::string()) +
                                  "}";
  txn.operation_metrics = metrics;
  if (has_rows) {
    ASSIGN_OR_RETURN(AddFile add, WriteDataFile(engine, table, rows));
    txn.adds.push_back(add);
  }
  if (mode == DeriveCommit::kRepair) {
    txn.txns.push_back({repair_app, bronze_version, 0});
  } else {
    txn.txns.push_back({app, bronze_version, 0});
    for (const auto& a : also_set) txn.txns.push_back({a, bronze_version, 0});
  }
  return table.Commit(txn);
}

Status CommitVerified(DeltaTable& silver, const DerivedAppIds& apps, int64_t version) {
  Transaction txn;
  txn.operation = "STREAMING UPDATE";
  txn.operation_parameters_json = R"({"outputMode":"Append","queryId":")" + apps.verified + R"("})";
  txn.txns.push_back({apps.verified, version, 0});
  return silver.Commit(txn).status();
}

Result<UnderivedVersions> FindUnderivedVersions(DeltaTable& bronze, DeltaTable& silver, DeltaTable& quarantine,
                                                ColumnarEngine& engine, const DerivedAppIds& apps) {
  UnderivedVersions out;
  out.verified = silver.snapshot().TxnVersion(apps.verified).value_or(0);  // version 0 creates the table
  const int64_t silver_done = silver.snapshot().TxnVersion(apps.silver).value_or(-1);
  const int64_t quarantine_done = quarantine.snapshot().TxnVersion(apps.quarantine).value_or(-1);
  out.checked_through = std::min({silver_done, quarantine_done, bronze.snapshot().version});
  const int64_t silver_repair = silver.snapshot().TxnVersion(apps.silver_repair).value_or(-1);
  const int64_t quarantine_repair = quarantine.snapshot().TxnVersion(apps.quarantine_repair).value_or(-1);
  if (silver_repair > quarantine_repair) out.quarantine_only = silver_repair;
  if (out.checked_through <= out.verified) return out;
  // The bronze versions the derived tables hold rows of (their bronze_version columns).
  std::set<int64_t> present;
  for (DeltaTable* t : {&silver, &quarantine}) {
    ASSIGN_OR_RETURN(std::vector<std::string> files, DataFileLocalPaths(t->storage(), t->snapshot().files));
    if (files.empty()) continue;
    RETURN_IF_ERROR(engine.ForEachRow(
        fmt::format("SELECT DISTINCT bronze_version::VARCHAR FROM read_parquet({}) WHERE bronze_version > {} AND "
                    "bronze_version <= {}",
                    ColumnarEngine::PathList(files), out.verified, out.checked_through),
        [&](const std::vector<std::optional<std::string_view>>& row) {
          if (row[0]) present.insert(std::stoll(std::string(*row[0])));
        }).WithContext("the start-up check of " + t->storage().uri()));
  }
  for (int64_t v = out.verified + 1; v <= out.checked_through; ++v) {
    if (present.count(v)) continue;
    auto commit = bronze.ReadCommit(v);
    if (!commit.ok()) {
      if (commit.status().code() != StatusCode::kNotFound) return commit.status();
      out.unreadable++;  // removed by log cleanup (delta.logRetentionDuration): cannot be checked
      continue;
    }
    const bool adds_data =
        std::any_of(commit->adds.begin(), commit->adds.end(), [](const AddFile& a) { return a.data_change; });
    if (adds_data) out.missing.push_back(v);
  }
  return out;
}

Status CheckAndRepairDerivedTables(
    DeltaTable& bronze, DeltaTable& silver, DeltaTable& quarantine, ColumnarEngine& engine, const DerivedAppIds& apps,
    PipelineCounters& counters, const std::function<Status(int64_t oldest_us)>& load_dedupe_state,
    const std::function<Status(const std::vector<KafkaRecord>&, const std::vector<int64_t>&, int64_t, bool)>& repair) {
  const int64_t start_ms = MonotonicMillis();
  ASSIGN_OR_RETURN(UnderivedVersions found, FindUnderivedVersions(bronze, silver, quarantine, engine, apps));
  struct Version {
    int64_t v;
    bool quarantine_only;
    std::vector<KafkaRecord> records;
    std::vector<int64_t> ingest_us;
  };
  std::vector<Version> todo;
  if (found.quarantine_only >= 0) todo.push_back({found.quarantine_only, true, {}, {}});
  for (int64_t v : found.missing) todo.push_back({v, false, {}, {}});
  int64_t oldest_us = NowMicros();
  for (auto& t : todo) {
    RETURN_IF_ERROR(ReadBronzeVersion(bronze, engine, t.v, &t.records, &t.ingest_us)
                        .WithContext(fmt::format("reading bronze version {} to repair its derived rows", t.v)));
    for (int64_t us : t.ingest_us) oldest_us = std::min(oldest_us, us);
  }
  RETURN_IF_ERROR(load_dedupe_state(oldest_us));
  if (found.unreadable > 0) {
    spdlog::warn("start-up check of {}: {} bronze versions without derived rows have left the Delta log (log "
                 "retention) and could not be checked", silver.storage().uri(), found.unreadable);
  }
  for (auto& t : todo) {
    if (t.quarantine_only) {
      spdlog::warn("start-up check: the repair of bronze version {} was interrupted after its silver commit: "
                   "committing its quarantine rows", t.v);
    } else {
      spdlog::warn("start-up check: bronze version {} ({} records) has no derived commit in {} or {} (another writer "
                   "committed it and stopped before deriving it): deriving it now",
                   t.v, t.records.size(), silver.storage().uri(), quarantine.storage().uri());
      counters.repaired_versions++;
    }
    RETURN_IF_ERROR(repair(t.records, t.ingest_us, t.v, t.quarantine_only)
                        .WithContext(fmt::format("repairing bronze version {}", t.v)));
  }
  if (found.checked_through > found.verified) {
    RETURN_IF_ERROR(CommitVerified(silver, apps, found.checked_through));
    spdlog::info("start-up check: bronze versions {}..{} checked against silver and quarantine in {} ms, {} repaired",
                 found.verified + 1, found.checked_through, MonotonicMillis() - start_ms, found.missing.size());
  }
  return Status::OK();
}

Status ReadBronzeVersion(DeltaTable& bronze, ColumnarEngine& engine, int64_t v, std::vector<KafkaRecord>* records,
                         std::vector<int64_t>* ingest_us) {
  ASSIGN_OR_RETURN(CommitActions c, bronze.ReadCommit(v));
  for (const auto& add : c.adds) {
    if (!add.data_change) continue;  // a compaction rewrote rows already derived
    ASSIGN_OR_RETURN(std::string local,
                     DataFileLocalPath(bronze.storage(), CanonicalDeltaPath(add.path), add.size_bytes));
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
  auto derive_or_fail = [&](const std::vector<KafkaRecord>& rs, const std::vector<int64_t>& ingest, int64_t v) {
    Status st = derive(rs, ingest, v);
    if (!st.ok()) *derive_failed = true;
    return st;
  };
  // Versions committed between the last one derived and ours: the compactor's (no new rows), or
  // another writer's, which must not be skipped.
  for (int64_t v = bronze.derived_through() + 1; bronze.derived_through() >= 0 && v < batch.version; ++v) {
    std::vector<KafkaRecord> others;
    std::vector<int64_t> ingest;
    RETURN_IF_ERROR(ReadBronzeVersion(bronze.table(), bronze.engine(), v, &others, &ingest));
    if (others.empty()) continue;
    spdlog::warn("{}: bronze version {} ({} records) was committed by another writer: deriving it before version {}",
                 bronze.table().storage().uri(), v, others.size(), batch.version);
    RETURN_IF_ERROR(derive_or_fail(others, ingest, v));
  }
  RETURN_IF_ERROR(derive_or_fail(batch.records, batch.ingest_us, batch.version));
  bronze.set_derived_through(batch.version);
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
  return AppId(topic, partition, source_epoch_);
}

std::string BronzeSink::AppId(const std::string& topic, int32_t partition, const std::string& epoch) const {
  std::string id = app_prefix_ + "-bronze-" + topic + "-" + std::to_string(partition);
  if (!epoch.empty()) id += "@" + epoch;
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
