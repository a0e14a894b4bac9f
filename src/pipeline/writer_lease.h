// WriterLease: at most one process writes a pipeline's tables at a time (docs/reliability.md, "A double
// start"). The lease is a log of small JSON records in the lake, one per renewal,
// `<lake root>/_lakestream/leases/<pipeline>/<20-digit sequence>.json`, each created with put-if-absent
// (the primitive Delta commits use), so of two processes racing for the next record exactly one wins.
// The newest record names the holder (host, boot id, pid, command, a random holder id) and when the
// lease expires (wall clock, ms).
//
// Another process may take the lease over only when the newest record is released, has expired, or
// names a process of this same machine (host and boot id) that no longer runs (so a restart after a
// crash or SIGKILL does not wait for the expiry). Otherwise Acquire refuses, naming the holder.
//
// Lifecycle: Acquire → Check before every commit → Release (or the destructor). A thread renews the
// lease every ttl/3; Check fails once another process took it over or it could not be renewed before
// its expiry, so the pipeline stops before its next commit. Clocks of machines sharing a lakehouse must
// agree to well within the TTL (NTP). Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/status.h"
#include "lake/storage/storage.h"

namespace lakestream {

/// One record of the lease log.
struct LeaseRecord {
  int64_t sequence = 0;
  std::string holder_id;  // random, one per Acquire
  std::string host;       // gethostname()
  std::string boot_id;    // /proc/sys/kernel/random/boot_id: tells a reboot (or another machine) apart
  int64_t pid = 0;
  int64_t pid_start_ticks = 0;  // /proc/<pid>/stat field 22: tells a reused pid apart
  std::string command;          // "ingest", "run", …
  int64_t acquired_at_ms = 0, renewed_at_ms = 0, expires_at_ms = 0;  // wall clock, Unix ms
  bool released = false;
  /// "host build-7 pid 1234 (lakestream ingest), renewed 2026-12-02T10:00:00Z, expires …".
  std::string Describe() const;
};

struct WriterLeaseOptions {
  std::string lake_root;  // a local directory or an Azure location
  std::string name;       // the pipeline's name: one lease per pipeline
  std::string command;    // what the holder runs, for messages
  int64_t ttl_ms = 15000; // how long a record holds without renewal
};

class WriterLease {
 public:
  /// Takes the lease or refuses. Errors: Conflict naming the live holder, when it expires and what to
  /// do; storage errors.
  static Result<std::unique_ptr<WriterLease>> Acquire(const WriterLeaseOptions& options);
  ~WriterLease();

  /// OK while this process holds the lease. Errors: Conflict when another process took it over;
  /// Unavailable when it could not be renewed and is about to expire (names the storage error).
  Status Check() const;
  /// Writes a released record (best effort) and stops renewing. Idempotent.
  void Release();
  /// This holder's newest record (a copy).
  LeaseRecord record() const;
  /// The lease log's location, for messages.
  std::string location() const;

 private:
  WriterLease() = default;
  void RenewLoop();

  WriterLeaseOptions options_;
  std::shared_ptr<Storage> store_;
  LeaseRecord mine_;  // holder fields fixed at Acquire; sequence/expiry updated under mu_
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  Status lost_;              // set when another holder wrote the next record
  Status last_renew_error_;  // the last renewal's storage error, OK after a success
  int64_t expires_at_ms_ = 0;
  std::thread renewer_;
};

/// The newest record of `name`'s lease log under `lake_root`, or nullopt when there is none.
/// Errors: storage errors; Corruption for a record that is not valid.
Result<std::optional<LeaseRecord>> ReadCurrentLease(const std::string& lake_root, const std::string& name);

}  // namespace lakestream
