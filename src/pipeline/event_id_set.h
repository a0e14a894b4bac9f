// EventIdSet: the event ids silver stored within the deduplication horizon, for exactly-once silver
// under redelivery (producer retries, replays). Ids are kept as 128-bit fingerprints: a UUID's own
// 128 bits (exact), any other text through two independent 64-bit hashes. Memory: about 64 bytes
// per id (541,909 ids ≈ 35 MB).
//
// Not thread-safe: the pipeline thread owns it.
#pragma once

#include <cstdint>
#include <deque>
#include <string_view>
#include <unordered_set>

namespace lakestream {

struct Fingerprint128 {
  uint64_t hi = 0, lo = 0;
  bool operator==(const Fingerprint128& o) const { return hi == o.hi && lo == o.lo; }
};

/// The fingerprint of `text`: the 128 bits of a canonical UUID (any case), else FNV-1a 64 with two
/// offset bases, each finished by the SplitMix64 mixer.
Fingerprint128 FingerprintOf(std::string_view text);

class EventIdSet {
 public:
  /// `horizon_us`: how long (processing time, µs) an id is remembered after it was first stored.
  explicit EventIdSet(int64_t horizon_us) : horizon_us_(horizon_us) {}

  /// True when `id` is stored and not expired at `now_us`.
  bool Contains(std::string_view id, int64_t now_us);
  /// Stores `id` as first seen at `seen_us` (ids must be added in non-decreasing seen_us order for
  /// expiry to be exact; an older one is kept until every id before it has expired).
  void Add(std::string_view id, int64_t seen_us);
  /// Forgets ids first seen at or before now_us - horizon_us.
  void Expire(int64_t now_us);
  size_t size() const { return set_.size(); }
  int64_t horizon_us() const { return horizon_us_; }

 private:
  struct Hash {
    size_t operator()(const Fingerprint128& f) const { return static_cast<size_t>(f.lo ^ (f.hi * 0x9e3779b97f4a7c15ULL)); }
  };
  int64_t horizon_us_;
  std::unordered_set<Fingerprint128, Hash> set_;
  std::deque<std::pair<int64_t, Fingerprint128>> order_;  // (seen_us, id) in insertion order
};

}  // namespace lakestream
