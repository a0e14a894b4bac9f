#include "pipeline/event_id_set.h"

#include <cstdint>

namespace lakestream {

namespace {
uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// 8-4-4-4-12 hex digits (RFC 9562).
bool ParseUuid(std::string_view s, Fingerprint128* out) {
  if (s.size() != 36) return false;
  uint64_t parts[2] = {0, 0};
  int digits = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
      continue;
    }
    int v = HexValue(s[i]);
    if (v < 0) return false;
    uint64_t& p = parts[digits / 16];
    p = (p << 4) | static_cast<uint64_t>(v);
    ++digits;
  }
  out->hi = parts[0];
  out->lo = parts[1];
  return true;
}
}  // namespace

Fingerprint128 FingerprintOf(std::string_view text) {
  Fingerprint128 f;
  if (ParseUuid(text, &f)) return f;
  // FNV-1a 64 (offset basis 14695981039346656037, prime 1099511628211), and again from a second basis.
  uint64_t a = 14695981039346656037ULL, b = 0x84222325cbf29ce4ULL;
  for (unsigned char c : text) {
    a = (a ^ c) * 1099511628211ULL;
    b = (b ^ c) * 1099511628211ULL;
    b ^= b >> 29;
  }
  f.hi = SplitMix64(a ^ text.size());
  f.lo = SplitMix64(b);
  return f;
}

bool EventIdSet::Contains(std::string_view id, int64_t now_us) {
  Expire(now_us);
  return set_.count(FingerprintOf(id)) != 0;
}

void EventIdSet::Add(std::string_view id, int64_t seen_us) {
  Fingerprint128 f = FingerprintOf(id);
  if (set_.insert(f).second) order_.emplace_back(seen_us, f);
}

void EventIdSet::Expire(int64_t now_us) {
  if (now_us < INT64_MIN + horizon_us_) return;  // before any clock: nothing can have expired
  const int64_t cutoff = now_us - horizon_us_;
  while (!order_.empty() && order_.front().first <= cutoff) {
    set_.erase(order_.front().second);
    order_.pop_front();
  }
}

}  // namespace lakestream
