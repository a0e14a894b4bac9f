#include "lake/delta/delta_snapshot.h"

#include <algorithm>
#include <set>

#include "common/time.h"
#include "lake/delta/delta_checkpoint.h"

namespace lakestream {

std::string Snapshot::Property(const std::string& key, const std::string& fallback) const {
  auto it = metadata.configuration.find(key);
  return it == metadata.configuration.end() ? fallback : it->second;
}

int64_t Snapshot::NumRecords() const {
  int64_t n = 0;
  for (const auto& [_, f] : files) n += std::max<int64_t>(f.num_records, 0);
  return n;
}

int64_t Snapshot::SizeBytes() const {
  int64_t n = 0;
  for (const auto& [_, f] : files) n += f.size_bytes;
  return n;
}

std::optional<int64_t> Snapshot::TxnVersion(const std::string& app_id) const {
  auto it = txns.find(app_id);
  if (it == txns.end()) return std::nullopt;
  return it->second.version;
}

void Snapshot::Apply(const CommitActions& c) {
  if (c.protocol) {
    protocol = *c.protocol;
    has_protocol = true;
  }
  if (c.metadata) {
    metadata = *c.metadata;
    has_metadata = true;
  }
  for (const auto& r : c.removes) {
    std::string key = CanonicalDeltaPath(r.path);
    files.erase(key);
    tombstones[key] = r;
  }
  for (const auto& a : c.adds) {
    std::string key = CanonicalDeltaPath(a.path);
    tombstones.erase(key);
    files[key] = a;
  }
  for (const auto& t : c.txns) txns[t.app_id] = t;
  version = c.version;
  if (c.timestamp_ms > 0) timestamp_ms = c.timestamp_ms;
}

int64_t LogListing::LatestVersion() const {
  int64_t v = commits.empty() ? -1 : commits.back().version;
  if (!checkpoints.empty()) v = std::max(v, checkpoints.rbegin()->first);
  return v;
}

LogListing ClassifyDeltaLog(const std::vector<FileInfo>& entries) {
  LogListing out;
  // Multi-part checkpoints: version -> part count -> part number -> file. A map keeps the parts in order.
  std::map<int64_t, std::map<int, std::map<int, std::string>>> multipart;
  for (const auto& e : entries) {
    LogFileName n = ParseLogFileName(e.path);
    switch (n.kind) {
      case LogFileName::kCommit:
        out.commits.push_back({n.version, e.modification_time_ms, e.size_bytes});
        break;
      case LogFileName::kClassicCheckpoint:
        out.checkpoints[n.version] = {"_delta_log/" + e.path};
        break;
      case LogFileName::kMultiPartCheckpoint:
        multipart[n.version][n.parts][n.part] = "_delta_log/" + e.path;
        break;
      default:
        break;
    }
  }
  for (const auto& [version, by_parts] : multipart) {
    if (out.checkpoints.count(version)) continue;  // a classic checkpoint of the same version wins
    for (const auto& [parts, files] : by_parts) {
      const bool complete = static_cast<int>(files.size()) == parts && files.begin()->first == 1 &&
                            files.rbegin()->first == parts;
      if (!complete) continue;
      for (const auto& [part, file] : files) out.checkpoints[version].push_back(file);
      break;
    }
  }
  std::sort(out.commits.begin(), out.commits.end(),
            [](const CommitFileInfo& a, const CommitFileInfo& b) { return a.version < b.version; });
  return out;
}

Result<LogListing> ListDeltaLog(Storage& storage) {
  ASSIGN_OR_RETURN(auto entries, storage.List("_delta_log"));
  return ClassifyDeltaLog(entries);
}

Result<CommitActions> ReadCommitFile(Storage& storage, int64_t version) {
  const std::string file = CommitFileName(version);
  ASSIGN_OR_RETURN(std::string raw, storage.Read(file));
  if (raw.find_first_not_of(" \t\r\n") == std::string::npos) {
    // Commits are created whole (put-if-absent), so an empty one was truncated afterwards: reading it as
    // a commit with no actions would silently drop what it added.
    return Corruption("{}/{} is empty ({} bytes): a commit holds at least one action (Delta PROTOCOL.md, \"Delta "
                      "Log Entries\"). Restore the file from a backup; the table cannot be read past version {} "
                      "until then", storage.uri(), file, raw.size(), version - 1);
  }
  return ParseActions(raw, version, storage.uri() + "/" + file);
}

std::map<int64_t, int64_t> CommitTimestamps(const LogListing& listing) {
  std::map<int64_t, int64_t> out;
  int64_t prev = INT64_MIN;
  for (const auto& c : listing.commits) {
    int64_t ts = c.modification_time_ms;
    if (prev != INT64_MIN && ts <= prev) ts = prev + 1;
    out[c.version] = ts;
    prev = ts;
  }
  return out;
}

Result<int64_t> VersionAtTimestamp(const LogListing& listing, int64_t timestamp_ms, const std::string& uri) {
  auto ts = CommitTimestamps(listing);
  if (ts.empty()) return NotFound("{}: the table has no commits to time travel to", uri);
  if (timestamp_ms < ts.begin()->second) {
    return NotFound("{}: no commit at or before {}; the earliest kept commit is version {} at {}", uri,
                    FormatTimestampMillisZ(timestamp_ms * 1000), ts.begin()->first,
                    FormatTimestampMillisZ(ts.begin()->second * 1000));
  }
  int64_t best = ts.begin()->first;
  for (const auto& [v, t] : ts) {
    if (t <= timestamp_ms) best = v;
  }
  return best;
}

namespace {

// Replays commits (from, to] on top of `snap`. Every version in between must be listed.
Status ReplayCommits(Storage& storage, const std::set<int64_t>& listed, int64_t from, int64_t to, Snapshot* snap) {
  for (int64_t v = from + 1; v <= to; ++v) {
    if (!listed.count(v)) {
      return Corruption("{}: the Delta log has a version gap: version {} is missing before {} "
                        "(Delta PROTOCOL.md, \"Delta Log Entries\": versions are contiguous)",
                        storage.uri(), v, to);
    }
    ASSIGN_OR_RETURN(CommitActions c, ReadCommitFile(storage, v));
    snap->Apply(c);
  }
  return Status::OK();
}

}  // namespace

Result<Snapshot> LoadSnapshot(Storage& storage, const SnapshotSelector& selector) {
  ASSIGN_OR_RETURN(LogListing listing, ListDeltaLog(storage));
  const int64_t latest = listing.LatestVersion();
  if (latest < 0) {
    if (selector.version || selector.timestamp_ms) {
      return NotFound("{} is not a Delta table: _delta_log has no commits", storage.uri());
    }
    return Snapshot{};
  }
  int64_t target = latest;
  if (selector.version) {
    target = *selector.version;
    if (target < 0 || target > latest) {
      return NotFound("{}: version {} does not exist; the latest version is {}", storage.uri(), target, latest);
    }
  } else if (selector.timestamp_ms) {
    ASSIGN_OR_RETURN(target, VersionAtTimestamp(listing, *selector.timestamp_ms, storage.uri()));
  }
  std::set<int64_t> listed;
  for (const auto& c : listing.commits) listed.insert(c.version);
  auto finish = [&](Snapshot& s) -> Status {
    if (s.timestamp_ms == 0) {
      for (const auto& c : listing.commits) {
        if (c.version == target) s.timestamp_ms = c.modification_time_ms;
      }
    }
    return CheckReadable(s, storage.uri());
  };

  Snapshot snap;
  // _last_checkpoint is a hint; listing is the truth. A corrupt hint is reported and ignored.
  auto hint = ReadLastCheckpoint(storage);
  if (!hint.ok() && hint.status().code() != StatusCode::kNotFound) {
    snap.notes.push_back("ignored _last_checkpoint (" + hint.status().message() + "); used the listing");
  } else if (hint.ok() && !listing.checkpoints.count(hint->version)) {
    snap.notes.push_back(fmt::format("_last_checkpoint names version {} but that checkpoint is missing or "
                                     "incomplete; used the listing",
                                     hint->version));
  }
  for (auto it = listing.checkpoints.rbegin(); it != listing.checkpoints.rend(); ++it) {
    if (it->first > target) continue;
    auto actions = ReadCheckpoint(storage, it->first, it->second);
    if (!actions.ok()) {
      snap.notes.push_back("skipped unreadable checkpoint " + it->second.front() + ": " + actions.status().message());
      continue;
    }
    snap.Apply(*actions);
    snap.checkpoint_version = it->first;
    RETURN_IF_ERROR(ReplayCommits(storage, listed, it->first, target, &snap));
    RETURN_IF_ERROR(finish(snap));
    return snap;
  }
  if (!listed.count(0)) {
    return Corruption("{}: cannot rebuild version {}: commit 0 is gone (earliest commit {}) and no checkpoint "
                      "at or before it is readable",
                      storage.uri(), target, listing.commits.empty() ? -1 : listing.commits.front().version);
  }
  snap.version = -1;
  RETURN_IF_ERROR(ReplayCommits(storage, listed, -1, target, &snap));
  RETURN_IF_ERROR(finish(snap));
  return snap;
}

Status CheckReadable(const Snapshot& s, const std::string& uri) {
  if (s.version < 0) return Status::OK();
  if (!s.has_protocol) {
    return Corruption("{} version {}: the log has no protocol action (Delta PROTOCOL.md, \"Action "
                      "Reconciliation\": a snapshot has exactly one protocol)",
                      uri, s.version);
  }
  if (!s.has_metadata) {
    return Corruption("{} version {}: the log has no metaData action (Delta PROTOCOL.md, \"Action "
                      "Reconciliation\": a snapshot has exactly one metaData)",
                      uri, s.version);
  }
  const int r = s.protocol.min_reader_version;
  if (r == 2) {
    return Unsupported("{}: table feature columnMapping (reader version 2, delta.columnMapping.mode={}) is not "
                       "supported; lakestream reads tables at reader version 1 (Delta PROTOCOL.md, \"Column "
                       "Mapping\")",
                       uri, s.Property("delta.columnMapping.mode", "none"));
  }
  if (r == 3) {
    std::string names;
    for (const auto& f : s.protocol.reader_features.value_or(std::vector<std::string>{})) {
      names += (names.empty() ? "" : ", ") + f;
    }
    return Unsupported("{}: reader table features [{}] (reader version 3) are not supported; lakestream reads "
                       "tables at reader version 1 without table features (Delta PROTOCOL.md, \"Table Features\")",
                       uri, names);
  }
  if (r != 1) {
    return Unsupported("{}: minReaderVersion {} is not supported; lakestream reads reader version 1 "
                       "(Delta PROTOCOL.md, \"Protocol Evolution\")",
                       uri, r);
  }
  for (const auto& f : s.metadata.schema.fields) {
    if (f.type.find("timestamp_ntz") != std::string::npos) {
      return Unsupported("{}: column '{}' uses table feature timestampNtz (timestamp without time zone), which "
                         "lakestream does not read (Delta PROTOCOL.md, \"Timestamp without timezone\")",
                         uri, f.name);
    }
  }
  for (const auto& [path, a] : s.files) {
    if (a.has_deletion_vector) {
      return Unsupported("{}: file {} has a deletion vector; table feature deletionVectors is not supported "
                         "(Delta PROTOCOL.md, \"Deletion Vectors\")",
                         uri, a.path);
    }
  }
  return Status::OK();
}

Status CheckWritable(const Snapshot& s, const std::string& uri) {
  RETURN_IF_ERROR(CheckReadable(s, uri));
  if (s.version < 0) return Status::OK();
  const int w = s.protocol.min_writer_version;
  if (w > 2) {
    std::string why;
    switch (w) {
      case 3: why = "CHECK constraints"; break;
      case 4: why = "change data feed or generated columns"; break;
      case 5: why = "column mapping"; break;
      case 6: why = "identity columns"; break;
      default: {
        for (const auto& f : s.protocol.writer_features.value_or(std::vector<std::string>{})) {
          why += (why.empty() ? "writer features " : ", ") + f;
        }
      }
    }
    return Unsupported("{}: minWriterVersion {} ({}) is beyond what lakestream writes; it writes protocol (1,2) "
                       "tables (Delta PROTOCOL.md, \"Writer Version Requirements\")",
                       uri, w, why);
  }
  for (const auto& f : s.metadata.schema.fields) {
    if (f.metadata_json.find("delta.invariants") != std::string::npos) {
      return Unsupported("{}: column '{}' declares delta.invariants, which lakestream cannot evaluate; refusing "
                         "to write (Delta PROTOCOL.md, \"Column Invariants\")",
                         uri, f.name);
    }
  }
  return Status::OK();
}

}  // namespace lakestream
