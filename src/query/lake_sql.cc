#include "query/lake_sql.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "common/strings.h"
#include "common/time.h"
#include "lake/delta/delta_scan.h"
#include "lake/delta/delta_table.h"
#include "lake/storage/storage.h"

namespace lakestream {

namespace {

bool IsIdentStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsIdentChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$'; }

// Skips whitespace and comments from `i`; returns the new position.
size_t SkipSpace(std::string_view s, size_t i) {
  for (;;) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    if (s.substr(i, 2) == "--") {
      while (i < s.size() && s[i] != '\n') ++i;
    } else if (s.substr(i, 2) == "/*") {
      const size_t e = s.find("*/", i + 2);
      i = e == std::string_view::npos ? s.size() : e + 2;
    } else {
      return i;
    }
  }
}

// The end of the quoted text starting at `i` (s[i] is the quote); a doubled quote is an escape.
size_t QuotedEnd(std::string_view s, size_t i) {
  const char q = s[i];
  for (size_t j = i + 1; j < s.size(); ++j) {
    if (s[j] != q) continue;
    if (j + 1 < s.size() && s[j + 1] == q) {
      ++j;
      continue;
    }
    return j + 1;
  }
  return s.size();
}

std::string Unquote(std::string_view quoted) {
  const char q = quoted.front();
  std::string out;
  for (size_t j = 1; j < quoted.size(); ++j) {
    if (quoted[j] == q) {
      if (j + 1 < quoted.size() && quoted[j + 1] == q) {
        out += q;
        ++j;
        continue;
      }
      break;
    }
    out += quoted[j];
  }
  return out;
}

// An identifier at `i`: plain (lower-cased) or double-quoted (as written). Sets *end.
std::optional<std::string> IdentAt(std::string_view s, size_t i, size_t* end) {
  if (i >= s.size()) return std::nullopt;
  if (s[i] == '"') {
    *end = QuotedEnd(s, i);
    return Unquote(s.substr(i, *end - i));
  }
  if (!IsIdentStart(s[i])) return std::nullopt;
  size_t j = i;
  while (j < s.size() && IsIdentChar(s[j])) ++j;
  *end = j;
  return AsciiLower(s.substr(i, j - i));
}

bool KeywordAt(std::string_view s, size_t i, std::string_view kw, size_t* end) {
  if (i + kw.size() > s.size()) return false;
  if (AsciiLower(s.substr(i, kw.size())) != kw) return false;
  if (i + kw.size() < s.size() && IsIdentChar(s[i + kw.size()])) return false;
  *end = i + kw.size();
  return true;
}

// Milliseconds since the epoch of a time-travel timestamp: Delta's yyyyMMddHHmmssSSS (UTC) or ISO
// 8601 (a date, or a date and time, optionally with an offset; none means UTC).
std::optional<int64_t> TimeTravelMillis(const std::string& text) {
  std::string iso = text;
  if (text.size() == 17 && std::all_of(text.begin(), text.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    iso = fmt::format("{}-{}-{}T{}:{}:{}.{}Z", text.substr(0, 4), text.substr(4, 2), text.substr(6, 2),
                      text.substr(8, 2), text.substr(10, 2), text.substr(12, 2), text.substr(14, 3));
  }
  static const auto utc = TimeZoneRule::Parse("UTC");
  auto us = ParseEventTimeMicros(iso, *utc);
  if (!us) return std::nullopt;
  return *us / 1000;
}

constexpr const char* kTimeTravelForms =
    "write table@v12, table@20240501103000000 (yyyyMMddHHmmssSSS, UTC), table@2024-05-01T10:30:00Z, "
    "table@'2024-05-01 10:30:00', table VERSION AS OF 12 or table TIMESTAMP AS OF '2024-05-01 10:30:00'";

// Parses the time travel after a reference ending at `i`; fills `ref` and returns the new end.
Result<size_t> ParseTimeTravel(std::string_view s, size_t i, TableReference* ref) {
  auto bad = [&](std::string_view what) {
    return InvalidArgument("{}.{}: cannot read the time travel \"{}\": {}", ref->layer, ref->table, what,
                           kTimeTravelForms);
  };
  auto VersionOutOfRange = [&](const std::string& digits) {
    return InvalidArgument("{}.{}: version {} is out of range: a Delta version is at most {} (`lakestream table "
                           "<table> history` lists the versions there are)",
                           ref->layer, ref->table, digits, INT64_MAX);
  };
  auto set_timestamp = [&](const std::string& text, std::string_view written) -> Status {
    auto ms = TimeTravelMillis(text);
    if (!ms) return bad(written);
    ref->at.timestamp_ms = *ms;
    ref->at_text = std::string(written);
    return Status::OK();
  };
  if (i < s.size() && s[i] == '@') {
    size_t j = i + 1;
    if (j < s.size() && (s[j] == '\'' || s[j] == '"')) {
      const size_t e = QuotedEnd(s, j);
      RETURN_IF_ERROR(set_timestamp(Unquote(s.substr(j, e - j)), s.substr(i, e - i)));
      return e;
    }
    while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == ':' || s[j] == '.' ||
                            s[j] == '+' || s[j] == '-')) {
      ++j;
    }
    const std::string text(s.substr(i + 1, j - i - 1));
    if (text.size() > 1 && (text[0] == 'v' || text[0] == 'V') &&
        std::all_of(text.begin() + 1, text.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
      const std::optional<int64_t> n = ParseInt64(text.substr(1));
      if (!n) return VersionOutOfRange(text.substr(1));
      ref->at.version = *n;
      ref->at_text = "@" + text;
      return j;
    }
    if (text.empty()) return bad("@");
    RETURN_IF_ERROR(set_timestamp(text, s.substr(i, j - i)));
    return j;
  }
  // Spark SQL: VERSION AS OF n | TIMESTAMP AS OF 'ts'.
  size_t k = SkipSpace(s, i), e = 0;
  const bool version = KeywordAt(s, k, "version", &e);
  const bool timestamp = !version && KeywordAt(s, k, "timestamp", &e);
  if (!version && !timestamp) return i;
  size_t a = SkipSpace(s, e), a_end = 0;
  if (!KeywordAt(s, a, "as", &a_end)) return i;  // e.g. a column alias named "version"
  size_t o = SkipSpace(s, a_end), o_end = 0;
  if (!KeywordAt(s, o, "of", &o_end)) return i;
  size_t v = SkipSpace(s, o_end);
  if (version) {
    size_t d = v;
    while (d < s.size() && std::isdigit(static_cast<unsigned char>(s[d]))) ++d;
    if (d == v) return bad(s.substr(k, std::min(s.size(), d + 8) - k));
    const std::optional<int64_t> n = ParseInt64(s.substr(v, d - v));
    if (!n) return VersionOutOfRange(std::string(s.substr(v, d - v)));
    ref->at.version = *n;
    ref->at_text = "VERSION AS OF " + std::string(s.substr(v, d - v));
    return d;
  }
  if (v >= s.size() || s[v] != '\'') return bad(s.substr(k, std::min(s.size(), v + 8) - k));
  const size_t q = QuotedEnd(s, v);
  RETURN_IF_ERROR(set_timestamp(Unquote(s.substr(v, q - v)), s.substr(k, q - k)));
  ref->at_text = "TIMESTAMP AS OF " + std::string(s.substr(v, q - v));
  return q;
}

// The first keyword of a statement (lower case), past comments and opening parentheses.
std::string FirstKeyword(std::string_view s) {
  size_t i = SkipSpace(s, 0);
  while (i < s.size() && s[i] == '(') i = SkipSpace(s, i + 1);
  size_t j = i;
  while (j < s.size() && IsIdentChar(s[j])) ++j;
  return AsciiLower(s.substr(i, j - i));
}

// Statements that change state, refused before DuckDB binds them (binding an INSERT into one of our
// views fails with a less helpful message).
bool IsWritingKeyword(const std::string& kw) {
  static const std::set<std::string> kWriting = {
      "insert", "update", "delete", "merge", "truncate", "create", "drop", "alter", "copy", "attach", "detach",
      "set", "reset", "install", "load", "pragma", "call", "export", "import", "vacuum", "checkpoint", "begin",
      "commit", "rollback", "abort", "start", "use", "analyze", "prepare", "execute", "deallocate", "update_extensions"};
  return kWriting.count(kw) != 0;
}

std::string ReadOnlyRefusal(const std::string& type) {
  return fmt::format(
      "{} statements are refused: SQL over the lakehouse is read-only (SELECT, WITH, FROM, DESCRIBE, SHOW, "
      "SUMMARIZE, EXPLAIN); tables change only through their pipelines and jobs",
      type);
}

}  // namespace

std::string TableReference::DisplayName() const {
  std::string n = layer + "." + table;
  if (at.version) n += fmt::format("@v{}", *at.version);
  else if (!at_text.empty()) n += " " + at_text;
  return n;
}

Result<std::vector<TableReference>> FindTableReferences(
    std::string_view s, const std::function<bool(const std::string&, const std::string&)>& is_table) {
  std::vector<TableReference> refs;
  char prev = 0;  // the previous significant character
  size_t i = 0;
  while (i < s.size()) {
    const size_t j = SkipSpace(s, i);
    if (j != i) {
      i = j;
      continue;
    }
    const char c = s[i];
    if (c == '\'' ) {
      i = QuotedEnd(s, i);
      prev = '\'';
      continue;
    }
    if (c == '$') {  // $tag$ … $tag$ (dollar-quoted string)
      size_t t = i + 1;
      while (t < s.size() && IsIdentChar(s[t]) && s[t] != '$') ++t;
      if (t < s.size() && s[t] == '$') {
        const std::string tag(s.substr(i, t - i + 1));
        const size_t e = s.find(tag, t + 1);
        i = e == std::string_view::npos ? s.size() : e + tag.size();
        prev = '\'';
        continue;
      }
    }
    size_t end1 = 0;
    if (c == '"' || IsIdentStart(c)) {
      auto first = IdentAt(s, i, &end1);
      if (prev != '.' && first && end1 < s.size() && s[end1] == '.') {
        size_t end2 = 0;
        auto second = IdentAt(s, end1 + 1, &end2);
        const bool longer = end2 < s.size() && s[end2] == '.';  // a.b.c: a column or a catalog path
        if (second && !longer && is_table(*first, *second)) {
          TableReference ref;
          ref.layer = *first;
          ref.table = *second;
          ref.begin = i;
          ASSIGN_OR_RETURN(ref.end, ParseTimeTravel(s, end2, &ref));
          i = ref.end;
          prev = 'x';
          refs.push_back(std::move(ref));
          continue;
        }
      }
      if (first) {
        i = end1;
        prev = 'x';
        continue;
      }
    }
    prev = c;
    ++i;
  }
  return refs;
}

Result<std::vector<std::string>> ListLakehouseTables(const std::string& root) {
  auto store = OpenStorage(root, false);
  if (!store.ok()) {
    if (store.status().code() != StatusCode::kNotFound) return store.status();
    return NotFound("no lakehouse at {}: pass --lakehouse DIR (the directory or az:// location `lakestream run` wrote)",
                    root);
  }
  std::vector<std::string> names;
  ASSIGN_OR_RETURN(std::vector<std::string> layers, (*store)->ListDirectories(""));
  for (const auto& layer : layers) {
    if (layer.empty() || layer.front() == '_') continue;
    ASSIGN_OR_RETURN(std::vector<std::string> tables, (*store)->ListDirectories(layer));
    for (const auto& table : tables) {
      ASSIGN_OR_RETURN(std::vector<std::string> inside, (*store)->ListDirectories(layer + "/" + table));
      if (std::find(inside.begin(), inside.end(), "_delta_log") != inside.end()) names.push_back(layer + "." + table);
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

LakeSqlQuery::~LakeSqlQuery() = default;

Result<std::unique_ptr<LakeSqlQuery>> LakeSqlQuery::Prepare(const std::string& sql, const LakeSqlOptions& options) {
  std::unique_ptr<LakeSqlQuery> q(new LakeSqlQuery());
  q->options_ = options;
  if (const std::string kw = FirstKeyword(sql); IsWritingKeyword(kw)) {
    return InvalidArgument("{}", ReadOnlyRefusal(AsciiUpper(kw)));
  }
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListLakehouseTables(options.lakehouse));
  const std::set<std::string> known(names.begin(), names.end());
  ASSIGN_OR_RETURN(std::vector<TableReference> refs,
                   FindTableReferences(sql, [&](const std::string& layer, const std::string& table) {
                     return known.count(layer + "." + table) != 0;
                   }));
  ASSIGN_OR_RETURN(q->engine_, ColumnarEngine::Open(options.duckdb_threads, options.duckdb_memory_limit));
  ColumnarEngine& engine = *q->engine_;

  // One snapshot per distinct (table, time travel); the view name says which.
  std::map<std::string, std::string> view_of;  // key -> quoted view name
  std::vector<std::string> allowed;
  std::set<std::string> schemas;
  std::vector<std::string> replacement(refs.size());
  for (size_t r = 0; r < refs.size(); ++r) {
    const TableReference& ref = refs[r];
    const std::string key = ref.layer + "." + ref.table + "|" +
                            (ref.at.version ? "v" + std::to_string(*ref.at.version) : "") +
                            (ref.at.timestamp_ms ? "t" + std::to_string(*ref.at.timestamp_ms) : "");
    if (auto it = view_of.find(key); it != view_of.end()) {
      replacement[r] = it->second;
      continue;
    }
    const std::string location = JoinLocation(options.lakehouse, ref.layer + "/" + ref.table);
    ASSIGN_OR_RETURN(auto storage, OpenStorage(location, false));
    const std::string name = ref.layer + "." + ref.table;
    auto table = DeltaTable::OpenExisting(storage, ref.layer + "/" + ref.table, ref.at);
    if (!table.ok()) return table.status().WithContext(ref.DisplayName());
    const Snapshot& snap = (*table)->snapshot();
    auto scan = SnapshotScanSql(snap, (*table)->storage(), engine);
    if (!scan.ok()) return scan.status().WithContext(name);
    const bool travel = ref.at.version || ref.at.timestamp_ms;
    const std::string view_table = travel ? fmt::format("{}@v{}", ref.table, snap.version) : ref.table;
    const std::string view = ColumnarEngine::QuoteIdentifier(ref.layer) + "." + ColumnarEngine::QuoteIdentifier(view_table);
    if (schemas.insert(ref.layer).second) {
      RETURN_IF_ERROR(engine.Query("CREATE SCHEMA IF NOT EXISTS " + ColumnarEngine::QuoteIdentifier(ref.layer)).status());
    }
    RETURN_IF_ERROR(engine.Query("CREATE OR REPLACE VIEW " + view + " AS " + *scan).status());
    ASSIGN_OR_RETURN(std::vector<std::string> locals, DataFileLocalPaths((*table)->storage(), snap.files));
    allowed.insert(allowed.end(), locals.begin(), locals.end());
    q->tables_.push_back(TableRead{name, snap.version, static_cast<int64_t>(snap.files.size()), travel});
    view_of[key] = view;
    replacement[r] = view;
  }
  std::string rewritten = sql;
  for (size_t r = refs.size(); r-- > 0;) {
    rewritten.replace(refs[r].begin, refs[r].end - refs[r].begin, replacement[r]);
  }
  q->rewritten_ = rewritten;
  if (options.sandbox) RETURN_IF_ERROR(engine.RestrictFileAccess(allowed));

  auto type = engine.StatementType(rewritten);
  if (!type.ok()) {
    std::string msg = type.status().message();
    if (msg.find("does not exist") != std::string::npos || msg.find("Catalog Error") != std::string::npos) {
      std::string list;
      for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
      msg += fmt::format("\n  tables in {}: {}", options.lakehouse, list.empty() ? "(none)" : list);
    }
    return InvalidArgument("{}", msg);
  }
  if (*type != "SELECT" && *type != "EXPLAIN") {
    return InvalidArgument("{}", ReadOnlyRefusal(*type));
  }
  q->statement_type_ = *type;
  return q;
}

Status LakeSqlQuery::Stream(const ColumnarEngine::HeaderCallback& header, const ColumnarEngine::RowPredicate& row) {
  rows_ = 0;
  truncated_ = false;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::atomic<bool> timed_out{false};
  std::thread watchdog;
  if (options_.timeout_ms > 0) {
    watchdog = std::thread([&] {
      std::unique_lock<std::mutex> lock(mu);
      if (!cv.wait_for(lock, std::chrono::milliseconds(options_.timeout_ms), [&] { return done; })) {
        timed_out = true;
        engine_->Interrupt();
      }
    });
  }
  Status st = engine_->StreamRows(rewritten_, header, [&](const std::vector<std::optional<std::string_view>>& v) {
    // The limit holds while the rows are written out too, not only while DuckDB computes them.
    if (timed_out.load()) return false;
    if (options_.max_rows >= 0 && rows_ >= options_.max_rows) {
      truncated_ = true;
      return false;
    }
    ++rows_;
    return row(v);
  });
  if (watchdog.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mu);
      done = true;
    }
    cv.notify_all();
    watchdog.join();
  }
  if (timed_out) {
    return DeadlineExceeded("the statement ran longer than its limit of {} ms and was stopped; narrow it (filters, "
                            "LIMIT) or raise the limit",
                            options_.timeout_ms);
  }
  return st;
}

Status LakeSqlQuery::WriteParquet(const std::string& path) {
  if (options_.sandbox) return InvalidArgument("Parquet output is not available over the HTTP API");
  if (statement_type_ != "SELECT") return InvalidArgument("only a SELECT can be written as Parquet");
  auto r = engine_->Query("COPY (\n" + ColumnarEngine::SubqueryBody(rewritten_) + "\n) TO " + ColumnarEngine::Quote(path) +
                          " (FORMAT parquet, COMPRESSION zstd)");
  if (!r.ok()) return r.status().WithContext(path);
  if (!r->rows.empty() && r->rows[0][0]) rows_ = std::stoll(*r->rows[0][0]);
  return Status::OK();
}

std::string LakeSqlQuery::TablesRead() const {
  std::string out;
  for (const auto& t : tables_) out += fmt::format("{}{}@v{}", out.empty() ? "" : ", ", t.name, t.version);
  return out;
}

void LakeSqlQuery::Interrupt() {
  if (engine_) engine_->Interrupt();
}

}  // namespace lakestream
