// HttpClient: one HTTP/1.1 exchange at a time per call, over libcurl, with connections reused across
// calls (a pool of curl easy handles, each keeping its connection alive). Used by the Azure Blob
// store; it knows nothing about Azure. Thread-safe: concurrent calls take different handles.
//
// URLs may carry secrets (a SAS token in the query): errors never print the URL, only what the
// caller passes as `what`.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace lakestream {

struct HttpRequest {
  std::string method;  // GET, PUT, HEAD, DELETE
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;  // sent as given
  std::string_view body;                                     // PUT body (may be empty)
  std::string what;  // what the request is about, for error messages ("PUT az://c/t/_delta_log/…")
};

struct HttpResponse {
  long status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased; the last value of a repeated header
  std::string body;
  /// The header's value, or "" (`lower_name` is lower case).
  std::string Header(const std::string& lower_name) const;
};

class HttpClient {
 public:
  struct Options {
    int64_t connect_timeout_ms = 10000;
    /// Whole exchange, body included. Uploads of large blocks need minutes on slow links.
    int64_t request_timeout_ms = 120000;
  };
  explicit HttpClient(Options options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  /// One attempt, no retry. Any HTTP status is a response (the caller judges it). Errors:
  /// IoError for network failures (refused, reset, timed out, TLS), naming `request.what` and curl's
  /// reason (a timeout too: its outcome on the server is unknown).
  Result<HttpResponse> Send(const HttpRequest& request);

 private:
  void* Acquire();
  void Release(void* handle);

  Options options_;
  std::mutex mu_;
  std::vector<void*> idle_;  // CURL* kept with their open connections
};

}  // namespace lakestream
