// Status and Result<T>: how library code reports failure (STYLE.md "Errors").
//
// A Status is either OK or carries a code and a human message that names the thing that failed
// (table URI, topic/partition/offset, field) and, where possible, what to do. Result<T> holds a value
// or a non-OK Status. Both are cheap to move; neither throws.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

#include <fmt/format.h>

namespace lakestream {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,  // bad flag, config value or record field
  kNotFound,         // a file, table, topic or key does not exist
  kAlreadyExists,    // put-if-absent lost the race (Delta commit conflict)
  kConflict,         // a Delta conflict check aborted the transaction
  kIoError,          // local file system or network failure
  kCorruption,       // a file does not have the format it claims
  kDataLoss,         // an offset gap or out-of-range offset: data could have been lost
  kUnsupported,      // a feature we refuse (e.g. an unknown Delta reader feature)
  kCancelled,        // shutdown requested
  kExpectationFailed,  // a record broke a silver expectation whose action is `fail`
  kUnavailable,      // not ready yet (e.g. a table with no data yet): retry later
  kDeadlineExceeded, // a time limit ran out (e.g. an SQL statement's)
  kInternal,         // a bug
};

/// Name of a status code, e.g. "DataLoss".
const char* StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status OK() { return {}; }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  /// "DataLoss: offset gap on orders[2] ..." or "OK".
  std::string ToString() const;
  /// Returns a copy whose message is prefixed with `context: `.
  Status WithContext(const std::string& context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

#define LAKESTREAM_STATUS_FACTORY(Name, Code)                                    \
  template <typename... Args>                                                    \
  Status Name(fmt::format_string<Args...> f, Args&&... args) {                   \
    return Status(StatusCode::Code, fmt::format(f, std::forward<Args>(args)...)); \
  }
LAKESTREAM_STATUS_FACTORY(InvalidArgument, kInvalidArgument)
LAKESTREAM_STATUS_FACTORY(NotFound, kNotFound)
LAKESTREAM_STATUS_FACTORY(AlreadyExists, kAlreadyExists)
LAKESTREAM_STATUS_FACTORY(Conflict, kConflict)
LAKESTREAM_STATUS_FACTORY(IoError, kIoError)
LAKESTREAM_STATUS_FACTORY(Corruption, kCorruption)
LAKESTREAM_STATUS_FACTORY(DataLoss, kDataLoss)
LAKESTREAM_STATUS_FACTORY(Unsupported, kUnsupported)
LAKESTREAM_STATUS_FACTORY(Cancelled, kCancelled)
LAKESTREAM_STATUS_FACTORY(ExpectationFailed, kExpectationFailed)
LAKESTREAM_STATUS_FACTORY(Unavailable, kUnavailable)
LAKESTREAM_STATUS_FACTORY(DeadlineExceeded, kDeadlineExceeded)
LAKESTREAM_STATUS_FACTORY(Internal, kInternal)
#undef LAKESTREAM_STATUS_FACTORY

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace lakestream

#define LS_CONCAT_INNER(a, b) a##b
#define LS_CONCAT(a, b) LS_CONCAT_INNER(a, b)

/// Returns the Status from the enclosing function when `expr` is not OK.
#define RETURN_IF_ERROR(expr)                          \
  do {                                                 \
    ::lakestream::Status _st = (expr);                 \
    if (!_st.ok()) return _st;                         \
  } while (0)

#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(tmp).value()

/// `ASSIGN_OR_RETURN(auto x, ComputeX());` — unwraps a Result or returns its Status.
#define ASSIGN_OR_RETURN(lhs, expr) ASSIGN_OR_RETURN_IMPL(LS_CONCAT(_res_, __LINE__), lhs, expr)
