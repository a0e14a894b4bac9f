#include "serve/sql_api.h"

#include <chrono>

#include <simdjson.h>

#include "common/json_writer.h"
#include "query/lake_sql.h"
#include "query/result_writer.h"

namespace lakestream {

namespace {

int HttpStatusOf(const Status& st) {
  switch (st.code()) {
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kUnavailable: return 503;
    case StatusCode::kDeadlineExceeded: return 504;
    case StatusCode::kUnsupported: return 400;
    default: return 500;
  }
}

SqlApiResponse ErrorResponse(const Status& st) {
  SqlApiResponse r;
  r.http_status = HttpStatusOf(st);
  JsonWriter w;
  w.BeginObject().Key("error").BeginObject().Key("status").Int(r.http_status).Key("code").String(StatusCodeName(st.code()));
  w.Key("message").String(st.message()).EndObject().EndObject();
  r.body = w.Take();
  return r;
}

const char* KindName(ColumnarEngine::ValueKind k) {
  switch (k) {
    case ColumnarEngine::ValueKind::kNumber: return "number";
    case ColumnarEngine::ValueKind::kBoolean: return "boolean";
    case ColumnarEngine::ValueKind::kJson: return "json";
    default: return "string";
  }
}

struct Request {
  std::string sql, format = "json";
  int64_t max_rows = -1, timeout_ms = -1, max_bytes = -1;
};

Result<Request> ParseRequest(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(body).get(doc) != simdjson::SUCCESS || !doc.is_object()) {
    return InvalidArgument("the body must be a JSON object such as {{\"sql\": \"SELECT count(*) FROM silver.orders\"}}");
  }
  Request r;
  for (auto [key, value] : doc.get_object()) {
    if (key == "sql") {
      std::string_view s;
      if (value.get(s) != simdjson::SUCCESS) return InvalidArgument("\"sql\" must be a string");
      r.sql = std::string(s);
    } else if (key == "format") {
      std::string_view s;
      if (value.get(s) != simdjson::SUCCESS || (s != "json" && s != "csv")) {
        return InvalidArgument("\"format\" must be \"json\" or \"csv\"");
      }
      r.format = std::string(s);
    } else if (key == "max_rows" || key == "timeout_ms" || key == "max_bytes") {
      int64_t n = 0;
      if (value.get(n) != simdjson::SUCCESS || n < 1) return InvalidArgument("\"{}\" must be a positive integer", key);
      (key == "max_rows" ? r.max_rows : key == "timeout_ms" ? r.timeout_ms : r.max_bytes) = n;
    } else {
      return InvalidArgument("unknown member \"{}\": the body takes sql, format, max_rows, max_bytes and timeout_ms",
                             key);
    }
  }
  if (r.sql.empty()) return InvalidArgument("\"sql\" is required: {{\"sql\": \"SELECT …\"}}");
  return r;
}

}  // namespace

SqlApiResponse AnswerSqlRequest(const std::string& body, const std::string& lake_root, const SqlApiLimits& limits,
                                std::atomic<int>* running) {
  const auto t0 = std::chrono::steady_clock::now();
  auto req = ParseRequest(body);
  if (!req.ok()) return ErrorResponse(req.status());
  if (req->max_rows > limits.max_rows_cap) {
    return ErrorResponse(InvalidArgument("\"max_rows\" may be at most {}", limits.max_rows_cap));
  }
  if (req->timeout_ms > limits.timeout_cap_ms) {
    return ErrorResponse(InvalidArgument("\"timeout_ms\" may be at most {}", limits.timeout_cap_ms));
  }
  if (req->max_bytes > limits.max_bytes_cap) {
    return ErrorResponse(InvalidArgument("\"max_bytes\" may be at most {}", limits.max_bytes_cap));
  }
  const size_t max_bytes = static_cast<size_t>(req->max_bytes > 0 ? req->max_bytes : limits.default_max_bytes);
  if (running->fetch_add(1) >= limits.max_concurrent) {
    running->fetch_sub(1);
    return ErrorResponse(Unavailable("{} SQL statements are already running: retry in a moment", limits.max_concurrent));
  }
  struct Release {
    std::atomic<int>* n;
    ~Release() { n->fetch_sub(1); }
  } release{running};

  LakeSqlOptions o;
  o.lakehouse = lake_root;
  o.sandbox = true;
  o.max_rows = req->max_rows > 0 ? req->max_rows : limits.default_max_rows;
  o.timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : limits.default_timeout_ms;
  o.duckdb_threads = limits.duckdb_threads;
  o.duckdb_memory_limit = limits.duckdb_memory_limit;
  auto q = LakeSqlQuery::Prepare(req->sql, o);
  if (!q.ok()) return ErrorResponse(q.status());

  SqlApiResponse out;
  std::string& text = out.body;
  Status st;
  bool bytes_full = false;
  if (req->format == "csv") {
    out.content_type = "text/csv; charset=utf-8";
    size_t kept = 0;  // the text up to the last whole row
    auto writer = ResultWriter::Make(ResultFormat::kCsv, [&](std::string_view piece) {
      text.append(piece);
      return true;
    });
    st = (*q)->Stream([&](const auto& c) { writer->Header(c); kept = text.size(); },
                      [&](const auto& v) {
                        if (!writer->Row(v)) return false;
                        if (text.size() > max_bytes) {  // this row does not fit: leave it out, stop
                          text.resize(kept);
                          bytes_full = true;
                          return false;
                        }
                        kept = text.size();
                        return true;
                      });
    out.tables_header = (*q)->TablesRead();
    out.truncated = (*q)->truncated() || bytes_full;
    out.truncated_by = bytes_full ? "bytes" : (*q)->truncated() ? "rows" : "";
  } else {
    std::vector<ColumnarEngine::ResultColumn> columns;
    std::string rows;
    st = (*q)->Stream(
        [&](const auto& c) { columns = c; },
        [&](const std::vector<std::optional<std::string_view>>& v) {
          // One row as a JSON array, values typed as the JSON-lines writer types them.
          const size_t before = rows.size();
          rows += rows.empty() ? "[" : ",[";
          for (size_t i = 0; i < v.size(); ++i) {
            if (i) rows += ',';
            if (v[i]) AppendJsonValue(&rows, columns[i].kind, *v[i]);
            else rows += "null";
          }
          rows += ']';
          if (rows.size() > max_bytes) {  // this row does not fit: leave it out, stop
            rows.resize(before);
            bytes_full = true;
            return false;
          }
          return true;
        });
    if (st.ok()) {
      JsonWriter w;
      w.BeginObject().Key("columns").BeginArray();
      for (const auto& c : columns) w.BeginObject().Key("name").String(c.name).Key("type").String(KindName(c.kind)).EndObject();
      w.EndArray().Key("rows").Raw("[" + rows + "]");
      const bool truncated = (*q)->truncated() || bytes_full;
      w.Key("row_count").Int((*q)->rows() - (bytes_full ? 1 : 0)).Key("truncated").Bool(truncated);
      w.Key("truncated_by");
      if (truncated) {
        w.String(bytes_full ? "bytes" : "rows");
      } else {
        w.Null();
      }
      w.Key("tables").BeginArray();
      for (const auto& t : (*q)->tables()) {
        w.BeginObject().Key("name").String(t.name).Key("version").Int(t.version).Key("files").Int(t.files);
        w.Key("time_travel").Bool(t.time_travel).EndObject();
      }
      w.EndArray();
      w.Key("elapsed_ms").Int(std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count());
      w.EndObject();
      text = w.Take();
    }
  }
  if (!st.ok()) return ErrorResponse(st);
  return out;
}

}  // namespace lakestream
