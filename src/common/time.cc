#include "common/time.h"
#include "common/strings.h"

#include <chrono>
#include <cstdio>

#include <fmt/format.h>

namespace lakestream {

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
int64_t NowMillis() { return NowMicros() / 1000; }
int64_t MonotonicMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void CivilFromDays(int64_t z, int64_t* year, unsigned* month, unsigned* day) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *day = doy - (153 * mp + 2) / 5 + 1;
  *month = mp < 10 ? mp + 3 : mp - 9;
  *year = y + (*month <= 2);
}

bool IsValidDate(int64_t y, unsigned m, unsigned d) {
  if (m < 1 || m > 12 || d < 1) return false;
  static const unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  unsigned max = kDays[m - 1];
  if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) max = 29;
  return d <= max;
}

namespace {
int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
}  // namespace

std::string FormatTimestampMillisZ(int64_t micros) {
  int64_t secs = FloorDiv(micros, 1000000);
  int64_t frac_us = micros - secs * 1000000;
  int64_t days = FloorDiv(secs, 86400);
  int64_t sod = secs - days * 86400;
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  return fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}.{:03d}Z", y, m, d, sod / 3600,
                     (sod / 60) % 60, sod % 60, frac_us / 1000);
}

std::string FormatTimestampIso(int64_t micros) {
  int64_t secs = FloorDiv(micros, 1000000);
  int64_t frac_us = micros - secs * 1000000;
  int64_t days = FloorDiv(secs, 86400);
  int64_t sod = secs - days * 86400;
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  if (frac_us == 0) {
    return fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}Z", y, m, d, sod / 3600,
                       (sod / 60) % 60, sod % 60);
  }
  return fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}.{:06d}Z", y, m, d, sod / 3600,
                     (sod / 60) % 60, sod % 60, frac_us);
}

std::string FormatDate(int64_t days) {
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  return fmt::format("{:04d}-{:02d}-{:02d}", y, m, d);
}

std::optional<TimeZoneRule> TimeZoneRule::Parse(std::string_view name) {
  TimeZoneRule r;
  r.name_ = std::string(name);
  if (name == "UTC" || name == "Etc/UTC" || name == "Z" || name == "GMT") return r;
  if (name == "Europe/London") {
    r.kind_ = Kind::kEuropeLondon;
    return r;
  }
  if (name.size() == 6 && (name[0] == '+' || name[0] == '-') && name[3] == ':') {
    auto dig = [&](size_t i) { return name[i] >= '0' && name[i] <= '9'; };
    if (!dig(1) || !dig(2) || !dig(4) || !dig(5)) return std::nullopt;
    int h = (name[1] - '0') * 10 + (name[2] - '0');
    int mi = (name[4] - '0') * 10 + (name[5] - '0');
    if (h > 18 || mi > 59) return std::nullopt;
    r.fixed_offset_seconds_ = (name[0] == '-' ? -1 : 1) * (h * 3600 + mi * 60);
    return r;
  }
  return std::nullopt;
}

namespace {
// Last Sunday of `month` in `year`, as days since the epoch. 1970-01-01 was a Thursday.
int64_t LastSunday(int64_t year, unsigned month) {
  static const unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int64_t last = DaysFromCivil(year, month, kDays[month - 1]);
  int64_t weekday = ((last % 7) + 7 + 4) % 7;  // 0 = Sunday
  return last - weekday;
}
}  // namespace

int64_t TimeZoneRule::LocalToUtcSeconds(int64_t local) const {
  if (kind_ == Kind::kFixed) return local - fixed_offset_seconds_;
  // Europe/London: BST (UTC+1) from 01:00 UTC last Sunday of March to 01:00 UTC last Sunday of October.
  int64_t days = FloorDiv(local, 86400);
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  int64_t start_utc = LastSunday(y, 3) * 86400 + 3600;
  int64_t end_utc = LastSunday(y, 10) * 86400 + 3600;
  int64_t as_summer = local - 3600;  // candidate UTC if summer time applies
  if (as_summer >= start_utc && as_summer < end_utc) return as_summer;
  return local;  // GMT
}

namespace {
struct Cursor {
  std::string_view s;
  size_t i = 0;
  bool Done() const { return i >= s.size(); }
  bool Eat(char c) {
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  }
  // Reads 1..max_digits digits.
  bool Int(int min_digits, int max_digits, int64_t* out) {
    int n = 0;
    int64_t v = 0;
    while (i < s.size() && n < max_digits && s[i] >= '0' && s[i] <= '9') {
      v = v * 10 + (s[i] - '0');
      ++i;
      ++n;
    }
    *out = v;
    return n >= min_digits;
  }
};

}  // namespace

std::optional<int64_t> ParseEventTimeMicros(std::string_view text, const TimeZoneRule& zone,
                                            int64_t* local_days) {
  Cursor c{TrimBlanks(text)};
  int64_t y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, frac_us = 0;
  bool iso = false;
  if (c.s.size() >= 10 && c.s[4] == '-') {  // YYYY-MM-DD
    iso = true;
    if (!c.Int(4, 4, &y) || !c.Eat('-') || !c.Int(2, 2, &mo) || !c.Eat('-') || !c.Int(2, 2, &d)) {
      return std::nullopt;
    }
  } else {  // M/D/YYYY
    if (!c.Int(1, 2, &mo) || !c.Eat('/') || !c.Int(1, 2, &d) || !c.Eat('/') || !c.Int(4, 4, &y)) {
      return std::nullopt;
    }
  }
  if (!IsValidDate(y, static_cast<unsigned>(mo), static_cast<unsigned>(d))) return std::nullopt;
  bool has_time = false;
  bool explicit_offset = false;
  int64_t offset_s = 0;
  if (!c.Done()) {
    bool t_sep = iso && c.Eat('T');
    if (!t_sep && !c.Eat(' ')) return std::nullopt;
    has_time = true;
    if (!c.Int(1, 2, &h) || !c.Eat(':') || !c.Int(2, 2, &mi)) return std::nullopt;
    if (c.Eat(':')) {
      if (!c.Int(2, 2, &sec)) return std::nullopt;
      if (c.Eat('.')) {
        int64_t digits = 0;
        size_t start = c.i;
        if (!c.Int(1, 9, &digits)) return std::nullopt;
        size_t n = c.i - start;
        for (size_t k = n; k < 6; ++k) digits *= 10;
        for (size_t k = 6; k < n; ++k) digits /= 10;
        frac_us = digits;
      }
    }
    if (c.Eat('Z')) {
      explicit_offset = true;
    } else if (!c.Done() && (c.s[c.i] == '+' || c.s[c.i] == '-')) {
      int sign = c.s[c.i] == '-' ? -1 : 1;
      ++c.i;
      int64_t oh = 0, om = 0;
      if (!c.Int(2, 2, &oh)) return std::nullopt;
      c.Eat(':');
      if (!c.Int(2, 2, &om)) return std::nullopt;
      explicit_offset = true;
      offset_s = sign * (oh * 3600 + om * 60);
    }
    if (!c.Done()) return std::nullopt;
    if (h > 23 || mi > 59 || sec > 60) return std::nullopt;
  }
  (void)has_time;
  const int64_t days = DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  if (local_days != nullptr) *local_days = days;
  int64_t local = days * 86400 + h * 3600 + mi * 60 + sec;
  int64_t utc = explicit_offset ? local - offset_s : zone.LocalToUtcSeconds(local);
  return utc * 1000000 + frac_us;
}

}  // namespace lakestream
