#include "lake/delta/delta_maintenance.h"

#include <algorithm>
#include <set>

#include "common/json_writer.h"
#include "common/time.h"
#include "lake/delta/delta_writer.h"

namespace lakestream {

Result<std::vector<HistoryEntry>> ReadHistory(Storage& storage, int64_t limit) {
  ASSIGN_OR_RETURN(LogListing listing, ListDeltaLog(storage));
  std::vector<HistoryEntry> out;
  for (auto it = listing.commits.rbegin(); it != listing.commits.rend(); ++it) {
    if (limit > 0 && static_cast<int64_t>(out.size()) >= limit) break;
    ASSIGN_OR_RETURN(CommitActions c, ReadCommitFile(storage, it->version));
    HistoryEntry h;
    h.version = it->version;
    h.timestamp_ms = c.timestamp_ms > 0 ? c.timestamp_ms : it->modification_time_ms;
    h.operation = c.operation;
    h.commit_info_json = c.commit_info_json.empty() ? "{}" : c.commit_info_json;
    out.push_back(std::move(h));
  }
  return out;
}

int64_t CountSmallFiles(const Snapshot& snapshot, int64_t small_file_bytes) {
  int64_t n = 0;
  for (const auto& [key, f] : snapshot.files) n += f.size_bytes < small_file_bytes ? 1 : 0;
  return n;
}

namespace {
std::string PartitionKey(const AddFile& f) {
  JsonWriter w;
  w.BeginObject();
  WritePartitionValuesJson(w, f.partition_values);
  w.EndObject();
  return w.Take();
}
}  // namespace

Result<OptimizeResult> Optimize(DeltaTable& table, ColumnarEngine& engine, const OptimizeOptions& options) {
  RETURN_IF_ERROR(table.Refresh());
  const Snapshot snapshot = table.snapshot();
  if (snapshot.version < 0) return InvalidArgument("table {} does not exist", table.storage().uri());
  RETURN_IF_ERROR(CheckWritable(snapshot, table.storage().uri()));
  // Small files per partition, oldest first, so that compaction keeps the rows roughly in arrival order.
  std::map<std::string, std::vector<const AddFile*>> by_partition;
  std::map<const AddFile*, std::string> key_of;
  const int64_t small = options.max_input_file_bytes > 0
                            ? std::min(options.max_input_file_bytes, options.target_file_size_bytes)
                            : options.target_file_size_bytes;
  for (const auto& [key, f] : snapshot.files) {
    if (f.size_bytes >= small) continue;
    by_partition[PartitionKey(f)].push_back(&f);
    key_of[&f] = key;
  }
  OptimizeResult result;
  Transaction txn;
  txn.operation = "OPTIMIZE";
  txn.operation_parameters_json = R"({"predicate":"[]","zOrderBy":"[]"})";
  const int64_t now = NowMillis();
  for (auto& [pkey, files] : by_partition) {
    std::sort(files.begin(), files.end(), [](const AddFile* a, const AddFile* b) {
      return a->modification_time_ms != b->modification_time_ms ? a->modification_time_ms < b->modification_time_ms
                                                                : a->path < b->path;
    });
    // Greedy bins: fill up to the target size in order.
    std::vector<std::vector<const AddFile*>> bins(1);
    int64_t bin_bytes = 0;
    for (const AddFile* f : files) {
      if (!bins.back().empty() && bin_bytes + f->size_bytes > options.target_file_size_bytes) {
        bins.emplace_back();
        bin_bytes = 0;
      }
      bins.back().push_back(f);
      bin_bytes += f->size_bytes;
    }
    bool touched = false;
    for (const auto& bin : bins) {
      if (static_cast<int>(bin.size()) < options.min_files_per_bin) continue;
      std::vector<std::string> keys;
      for (const AddFile* f : bin) keys.push_back(key_of[f]);
      ASSIGN_OR_RETURN(AddFile add, RewriteFiles(engine, table.storage(), snapshot, keys));
      for (const AddFile* f : bin) {
        txn.removes.push_back(RemoveOf(*f, now, false));
        txn.read_files.insert(key_of[f]);
        result.bytes_removed += f->size_bytes;
      }
      result.bytes_added += add.size_bytes;
      txn.adds.push_back(std::move(add));
      touched = true;
    }
    if (touched) ++result.partitions_optimized;
  }
  if (txn.adds.empty()) return result;
  result.files_removed = static_cast<int64_t>(txn.removes.size());
  result.files_added = static_cast<int64_t>(txn.adds.size());
  txn.operation_metrics = {{"numRemovedFiles", std::to_string(result.files_removed)},
                           {"numAddedFiles", std::to_string(result.files_added)},
                           {"numRemovedBytes", std::to_string(result.bytes_removed)},
                           {"numAddedBytes", std::to_string(result.bytes_added)}};
  ASSIGN_OR_RETURN(result.version, table.Commit(txn));
  return result;
}

Result<VacuumResult> Vacuum(DeltaTable& table, const VacuumOptions& options) {
  RETURN_IF_ERROR(table.Refresh());
  const Snapshot& s = table.snapshot();
  if (s.version < 0) return InvalidArgument("table {} does not exist", table.storage().uri());
  RETURN_IF_ERROR(CheckWritable(s, table.storage().uri()));
  ASSIGN_OR_RETURN(const int64_t table_retention,
                   ParseDeltaIntervalMs(s.Property("delta.deletedFileRetentionDuration", "interval 1 week")));
  VacuumResult result;
  result.retention_ms = options.retention_ms >= 0 ? options.retention_ms : table_retention;
  if (result.retention_ms < table_retention && !options.force) {
    return InvalidArgument("vacuum of {} with a retention of {} h is below the table's "
                           "delta.deletedFileRetentionDuration ({} h): readers of older versions and running writers "
                           "may still need those files. Use a longer retention, or --force if no reader or writer "
                           "is running",
                           table.storage().uri(), result.retention_ms / 3'600'000.0, table_retention / 3'600'000.0);
  }
  const int64_t now = options.now_ms > 0 ? options.now_ms : NowMillis();
  const int64_t cutoff = now - result.retention_ms;
  std::set<std::string> keep;
  for (const auto& [key, f] : s.files) keep.insert(key);
  for (const auto& [key, r] : s.tombstones) {
    if (r.deletion_timestamp_ms > cutoff) keep.insert(key);
  }
  ASSIGN_OR_RETURN(auto all, table.storage().ListRecursive(""));
  for (const auto& f : all) {
    // Never touch hidden or underscore paths (_delta_log, _change_data, .tmp files of writers).
    bool hidden = false;
    size_t start = 0;
    while (start < f.path.size()) {
      size_t slash = f.path.find('/', start);
      std::string part = f.path.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
      if (!part.empty() && (part[0] == '_' || part[0] == '.')) {
        // Spark keeps '_'-prefixed names unless they are partition directories (col=value).
        if (part[0] == '.' || part.find('=') == std::string::npos) hidden = true;
      }
      if (slash == std::string::npos) break;
      start = slash + 1;
    }
    if (hidden || keep.count(f.path) || f.modification_time_ms > cutoff) continue;
    result.files.push_back(f.path);
    result.bytes += f.size_bytes;
  }
  std::sort(result.files.begin(), result.files.end());
  if (!options.dry_run) {
    for (const auto& path : result.files) RETURN_IF_ERROR(table.storage().Delete(path));
  }
  return result;
}

Result<int64_t> Restore(DeltaTable& table, int64_t version) {
  RETURN_IF_ERROR(table.Refresh());
  const Snapshot& current = table.snapshot();
  if (current.version < 0) return InvalidArgument("table {} does not exist", table.storage().uri());
  if (version == current.version) {
    return InvalidArgument("table {} is already at version {}", table.storage().uri(), version);
  }
  SnapshotSelector at;
  at.version = version;
  ASSIGN_OR_RETURN(Snapshot old, LoadSnapshot(table.storage(), at));
  if (old.metadata.schema_string != current.metadata.schema_string ||
      old.metadata.partition_columns != current.metadata.partition_columns) {
    return InvalidArgument("cannot restore {} to version {}: its schema or partitioning differs from the current "
                           "version {}",
                           table.storage().uri(), version, current.version);
  }
  Transaction txn;
  txn.operation = "RESTORE";
  txn.operation_parameters_json = fmt::format(R"({{"version":{},"timestamp":null}})", version);
  txn.read_whole_table = true;
  const int64_t now = NowMillis();
  for (const auto& [key, f] : current.files) {
    if (!old.files.count(key)) {
      txn.removes.push_back(RemoveOf(f, now, true));
      txn.read_files.insert(key);
    }
  }
  for (const auto& [key, f] : old.files) {
    if (current.files.count(key)) continue;
    if (key.empty() || key[0] != '/') {
      auto st = table.storage().Stat(key);
      if (!st.ok()) {
        return NotFound("cannot restore {} to version {}: its file {} is gone (vacuumed?)", table.storage().uri(),
                        version, f.path);
      }
    }
    AddFile a = f;
    a.data_change = true;
    txn.adds.push_back(std::move(a));
  }
  if (txn.adds.empty() && txn.removes.empty()) {
    return InvalidArgument("version {} of {} has the same files as the current version {}", version,
                           table.storage().uri(), current.version);
  }
  txn.operation_metrics = {{"numRestoredFiles", std::to_string(txn.adds.size())}};
  return table.Commit(txn);
}

}  // namespace lakestream
