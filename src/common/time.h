// Calendar and clock helpers. All instants are UTC; units are in the names.
//
// Civil-date arithmetic follows Howard Hinnant's public-domain "days_from_civil" algorithm
// (http://howardhinnant.github.io/date_algorithms.html), proleptic Gregorian calendar.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lakestream {

/// Microseconds in a UTC day (86,400 s; Delta and Parquet timestamps ignore leap seconds).
inline constexpr int64_t kMicrosPerDay = 86400LL * 1000000;

/// Wall clock, microseconds since the Unix epoch (UTC).
int64_t NowMicros();
/// Wall clock, milliseconds since the Unix epoch (UTC).
int64_t NowMillis();
/// Monotonic clock, milliseconds (for intervals and rates only).
int64_t MonotonicMillis();

/// Days since 1970-01-01 for a proleptic Gregorian date. month 1..12, day 1..31 (not validated here).
int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day);
/// Inverse of DaysFromCivil.
void CivilFromDays(int64_t days, int64_t* year, unsigned* month, unsigned* day);
/// True when (year, month, day) names a real calendar day.
bool IsValidDate(int64_t year, unsigned month, unsigned day);

/// "2010-12-01T08:26:00.000Z" (millisecond precision, as Delta stats use: PROTOCOL.md "Per-file Statistics").
std::string FormatTimestampMillisZ(int64_t micros);
/// "2010-12-01T08:26:00Z", or with a fraction when micros has one: "…:01.001000Z".
std::string FormatTimestampIso(int64_t micros);
/// "2010-12-01" for days since the epoch.
std::string FormatDate(int64_t days);

/// A time zone rule for local wall-clock times found in source data.
/// Supported: "UTC", fixed offsets "+HH:MM"/"-HH:MM", and "Europe/London" (GMT, with British Summer Time
/// from 01:00 UTC on the last Sunday of March to 01:00 UTC on the last Sunday of October: the EU rule,
/// in force for the UK since 1996 — Summer Time Order 2002 / Directive 2000/84/EC).
class TimeZoneRule {
 public:
  /// Parses a zone name; returns nullopt for an unsupported name.
  static std::optional<TimeZoneRule> Parse(std::string_view name);
  /// Converts local wall-clock seconds-since-epoch (as if UTC) to UTC seconds. For a local time that
  /// falls in the repeated hour at the end of summer time, the earlier (summer) instant is chosen; a
  /// local time in the skipped hour is taken as standard time.
  int64_t LocalToUtcSeconds(int64_t local_seconds) const;
  const std::string& name() const { return name_; }

 private:
  enum class Kind { kFixed, kEuropeLondon };
  Kind kind_ = Kind::kFixed;
  int64_t fixed_offset_seconds_ = 0;
  std::string name_;
};

/// Parses date/time text in the dialects of the online-shop model, returning UTC microseconds.
/// Accepted (local times are interpreted in `zone`):
///   "2010-12-01 08:26:00", "2010-12-01 08:26", "2010-12-01"     (ISO, UCI by-day files)
///   "12/1/2010 8:26", "12/1/2010 08:26:00", "12/9/2019"          (month/day/year, UCI Excel export, Kaggle)
///   "2020-02-03T14:00:01.001+00:00", "2010-12-01T08:26:00Z"      (ISO 8601 with offset; zone ignored)
/// Returns nullopt for anything else (including impossible dates such as 2/30/2011).
/// When `local_days` is given it receives the calendar date as written (days since the epoch): the
/// business date of the event, which for local times near midnight differs from the UTC date.
std::optional<int64_t> ParseEventTimeMicros(std::string_view text, const TimeZoneRule& zone,
                                            int64_t* local_days = nullptr);

}  // namespace lakestream
