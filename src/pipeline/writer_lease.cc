#include "pipeline/writer_lease.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <optional>
#include <sstream>

#include <fmt/format.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include "common/ids.h"
#include "common/json_writer.h"
#include "common/time.h"

namespace lakestream {

namespace {

constexpr int kSequenceDigits = 20;

std::string LeaseDir(const std::string& name) { return "_lakestream/leases/" + name; }

std::string RecordName(int64_t sequence) { return fmt::format("{:0{}d}.json", sequence, kSequenceDigits); }

std::string ReadTextFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

// Field 22 of /proc/<pid>/stat (starttime, clock ticks after boot); 0 when the process does not exist.
// The command name (field 2) may hold spaces and parentheses: fields are counted after its last ')'.
int64_t ProcessStartTicks(int64_t pid) {
  const std::string stat = ReadTextFile("/proc/" + std::to_string(pid) + "/stat");
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(stat.substr(close + 1));
  std::string field;
  for (int i = 3; i <= 22 && rest >> field; ++i) {
    if (i == 22) return std::strtoll(field.c_str(), nullptr, 10);
  }
  return 0;
}

// True when `r` names a process of this machine (same host and boot) that is gone, or whose pid now
// belongs to another process.
bool HolderIsDeadHere(const LeaseRecord& r, const std::string& host, const std::string& boot_id) {
  if (r.host != host || r.boot_id.empty() || r.boot_id != boot_id || r.pid <= 0) return false;
  if (kill(static_cast<pid_t>(r.pid), 0) != 0 && errno == ESRCH) return true;
  const int64_t ticks = ProcessStartTicks(r.pid);
  return ticks != 0 && r.pid_start_ticks != 0 && ticks != r.pid_start_ticks;
}

std::string Serialize(const LeaseRecord& r) {
  JsonWriter w;
  w.BeginObject()
      .Key("holder_id").String(r.holder_id)
      .Key("host").String(r.host)
      .Key("boot_id").String(r.boot_id)
      .Key("pid").Int(r.pid)
      .Key("pid_start_ticks").Int(r.pid_start_ticks)
      .Key("command").String(r.command)
      .Key("acquired_at_ms").Int(r.acquired_at_ms)
      .Key("renewed_at_ms").Int(r.renewed_at_ms)
      .Key("expires_at_ms").Int(r.expires_at_ms)
      .Key("released").Bool(r.released)
      .EndObject();
  return w.Take() + "\n";
}

Result<LeaseRecord> Parse(const std::string& text, int64_t sequence, const std::string& where) {
  simdjson::dom::parser parser;
  simdjson::dom::object o;
  if (parser.parse(text).get(o) != simdjson::SUCCESS) {
    return Corruption("writer lease record {} is not a JSON object; delete the directory {} once no lakestream "
                      "process writes this pipeline", where, where.substr(0, where.rfind('/')));
  }
  LeaseRecord r;
  r.sequence = sequence;
  std::string_view s;
  auto str = [&](const char* key, std::string* out) {
    if (o[key].get(s) == simdjson::SUCCESS) *out = std::string(s);
  };
  auto num = [&](const char* key, int64_t* out) {
    int64_t v = 0;
    if (o[key].get(v) == simdjson::SUCCESS) *out = v;
  };
  str("holder_id", &r.holder_id);
  str("host", &r.host);
  str("boot_id", &r.boot_id);
  str("command", &r.command);
  num("pid", &r.pid);
  num("pid_start_ticks", &r.pid_start_ticks);
  num("acquired_at_ms", &r.acquired_at_ms);
  num("renewed_at_ms", &r.renewed_at_ms);
  num("expires_at_ms", &r.expires_at_ms);
  bool released = false;
  if (o["released"].get(released) == simdjson::SUCCESS) r.released = released;
  if (r.holder_id.empty()) return Corruption("writer lease record {} names no holder_id", where);
  return r;
}

// The sequence numbers in the lease log, highest first is all callers need: returns the highest, or 0.
Result<int64_t> HighestSequence(Storage& store) {
  ASSIGN_OR_RETURN(std::vector<FileInfo> files, store.List(""));
  int64_t best = 0;
  for (const auto& f : files) {
    const std::string& p = f.path;
    if (p.size() != kSequenceDigits + 5 || p.compare(kSequenceDigits, 5, ".json") != 0) continue;
    char* end = nullptr;
    const long long v = std::strtoll(p.c_str(), &end, 10);
    if (end == p.c_str() + kSequenceDigits) best = std::max<int64_t>(best, v);
  }
  return best;
}

Result<std::optional<LeaseRecord>> ReadNewest(Storage& store) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    ASSIGN_OR_RETURN(int64_t seq, HighestSequence(store));
    if (seq == 0) return std::optional<LeaseRecord>();
    auto text = store.Read(RecordName(seq));
    if (!text.ok()) {
      if (text.status().code() == StatusCode::kNotFound) continue;  // cleaned up meanwhile: list again
      return text.status();
    }
    ASSIGN_OR_RETURN(LeaseRecord r, Parse(*text, seq, store.uri() + "/" + RecordName(seq)));
    return std::optional<LeaseRecord>(std::move(r));
  }
  return IoError("the writer lease log at {} keeps changing while it is read", store.uri());
}

}  // namespace

std::string LeaseRecord::Describe() const {
  return fmt::format("host {} pid {} (lakestream {}), holder {}, renewed {}, expires {}", host, pid, command, holder_id,
                     FormatTimestampIso(renewed_at_ms * 1000), FormatTimestampIso(expires_at_ms * 1000));
}

Result<std::optional<LeaseRecord>> ReadCurrentLease(const std::string& lake_root, const std::string& name) {
  ASSIGN_OR_RETURN(auto store, OpenStorage(JoinLocation(lake_root, LeaseDir(name))));
  return ReadNewest(*store);
}

Result<std::unique_ptr<WriterLease>> WriterLease::Acquire(const WriterLeaseOptions& options) {
  std::unique_ptr<WriterLease> l(new WriterLease());
  l->options_ = options;
  ASSIGN_OR_RETURN(l->store_, OpenStorage(JoinLocation(options.lake_root, LeaseDir(options.name))));
  LeaseRecord& me = l->mine_;
  me.holder_id = RandomUuid();
  me.host = HostName();
  me.boot_id = ReadTextFile("/proc/sys/kernel/random/boot_id");
  me.pid = getpid();
  me.pid_start_ticks = ProcessStartTicks(me.pid);
  me.command = options.command;
  for (int attempt = 0; attempt < 20; ++attempt) {
    ASSIGN_OR_RETURN(std::optional<LeaseRecord> current, ReadNewest(*l->store_));
    const int64_t now = NowMillis();
    if (current && !current->released && current->expires_at_ms > now) {
      if (!HolderIsDeadHere(*current, me.host, me.boot_id)) {
        return Conflict(
            "pipeline '{}': another lakestream process is writing this lakehouse's tables: {}. Two writers would lose "
            "rows (docs/reliability.md, \"A double start\"), so this one stops before it commits anything. Stop the "
            "other process first; if it died on another machine, start again after its lease expires (in {} s). "
            "Lease log: {}",
            options.name, current->Describe(), (current->expires_at_ms - now + 999) / 1000, l->store_->uri());
      }
      spdlog::warn("pipeline '{}': taking over the writer lease of a process that no longer runs ({})", options.name,
                   current->Describe());
    } else if (current && !current->released) {
      spdlog::warn("pipeline '{}': taking over an expired writer lease ({})", options.name, current->Describe());
    }
    me.sequence = current ? current->sequence + 1 : 1;
    me.acquired_at_ms = me.renewed_at_ms = now;
    me.expires_at_ms = now + options.ttl_ms;
    Status st = l->store_->PutIfAbsent(RecordName(me.sequence), Serialize(me));
    if (st.ok()) {
      l->expires_at_ms_ = me.expires_at_ms;
      spdlog::info("pipeline '{}': writer lease taken (record {}, renewed every {} ms, expires after {} ms without "
                   "renewal)", options.name, me.sequence, options.ttl_ms / 3, options.ttl_ms);
      l->renewer_ = std::thread([p = l.get()] { p->RenewLoop(); });
      return l;
    }
    if (st.code() != StatusCode::kAlreadyExists) return st.WithContext("taking the writer lease");
    // Another process wrote the same record first: look again.
  }
  return Conflict("pipeline '{}': could not take the writer lease at {}: other processes keep taking it",
                  options.name, l->store_->uri());
}

WriterLease::~WriterLease() { Release(); }

std::string WriterLease::location() const { return store_->uri(); }

LeaseRecord WriterLease::record() const {
  std::lock_guard<std::mutex> lock(mu_);
  return mine_;
}

Status WriterLease::Check() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!lost_.ok()) return lost_;
  // Stop a fifth of the TTL before the expiry: a commit under way must not outlive the lease.
  if (NowMillis() >= expires_at_ms_ - options_.ttl_ms / 5) {
    return Unavailable("pipeline '{}': the writer lease could not be renewed since {} ({}); stopping before another "
                       "commit, since another process may take the lease over once it expires",
                       options_.name, FormatTimestampIso(mine_.renewed_at_ms * 1000),
                       last_renew_error_.ok() ? std::string("no error reported") : last_renew_error_.ToString());
  }
  return Status::OK();
}

void WriterLease::RenewLoop() {
  const auto period = std::chrono::milliseconds(std::max<int64_t>(options_.ttl_ms / 3, 10));
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait_for(lock, period, [this] { return stop_; });
    if (stop_ || !lost_.ok()) return;
    LeaseRecord next = mine_;
    next.sequence = mine_.sequence + 1;
    next.renewed_at_ms = NowMillis();
    next.expires_at_ms = next.renewed_at_ms + options_.ttl_ms;
    lock.unlock();
    Status st = store_->PutIfAbsent(RecordName(next.sequence), Serialize(next));
    std::optional<LeaseRecord> winner;
    if (st.code() == StatusCode::kAlreadyExists) {
      auto text = store_->Read(RecordName(next.sequence));
      if (text.ok()) {
        auto r = Parse(*text, next.sequence, store_->uri());
        if (r.ok()) winner = *r;
      }
    } else if (st.ok() && next.sequence > 3) {
      (void)store_->Delete(RecordName(next.sequence - 3));  // keep the log short; best effort
    }
    lock.lock();
    if (st.ok()) {
      mine_ = next;
      expires_at_ms_ = next.expires_at_ms;
      last_renew_error_ = Status::OK();
    } else if (winner && winner->holder_id != mine_.holder_id) {
      lost_ = Conflict("pipeline '{}': the writer lease was taken over by {} (this process could not renew it in "
                       "time); stopping before another commit", options_.name, winner->Describe());
      spdlog::error("{}", lost_.message());
      return;
    } else {
      last_renew_error_ = st;
      spdlog::warn("pipeline '{}': renewing the writer lease failed (will retry): {}", options_.name, st.ToString());
    }
  }
}

void WriterLease::Release() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (renewer_.joinable()) renewer_.join();
  std::lock_guard<std::mutex> lock(mu_);
  if (!lost_.ok() || !store_ || expires_at_ms_ == 0) return;  // lost, or never taken (a refused Acquire)
  LeaseRecord next = mine_;
  next.sequence = mine_.sequence + 1;
  next.renewed_at_ms = NowMillis();
  next.expires_at_ms = next.renewed_at_ms;
  next.released = true;
  Status st = store_->PutIfAbsent(RecordName(next.sequence), Serialize(next));
  if (!st.ok()) spdlog::warn("pipeline '{}': releasing the writer lease: {}", options_.name, st.ToString());
}

}  // namespace lakestream
