// HttpServer: the dashboard, the JSON API, the Server-Sent Events stream and /metrics of a lakestream
// process (every endpoint in docs/api.md), on cpp-httplib.
//
// Lifecycle: Start() binds and serves on its own threads; Stop() (or the destructor) ends the event
// streams, stops accepting and joins. The LakeQueries, monitors and registry passed in must outlive
// it. Threads: a pool of max_stream_clients + 32 workers (an open event stream holds one worker, so
// API requests always find a free one), plus one ticker that samples the monitors and wakes the
// streams every stream_interval_ms.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "config/settings.h"
#include "serve/lake_queries.h"
#include "serve/metrics.h"
#include "serve/pipeline_monitor.h"

namespace lakestream {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port (see HttpServer::port)
  /// Required when `host` is not a loopback address; checked on every request but /healthz and /readyz.
  std::string access_token;
  int max_stream_clients = 256;
  int64_t stream_interval_ms = 1000;
  /// Host names answered besides IP literals and localhost (DNS-rebinding defence).
  std::vector<std::string> allowed_hosts;
  int max_connections = 1024;         // open at once; more get 503 before a worker is taken
  int max_connections_per_ip = 300;   // from one client address
  int64_t header_timeout_ms = 10000;  // a request's whole header, awaited without a worker
  int64_t body_timeout_ms = 30000;    // a request's body, after its header
  bool secure_cookie = false;         // the session cookie's Secure attribute
  int64_t session_max_age_s = 86400;  // the session cookie's Max-Age
};

/// The options from settings http.* and the LAKESTREAM_HTTP_TOKEN environment variable.
/// Errors: InvalidArgument when http.listen is not HOST:PORT, the token file cannot be read
/// or is empty, a token is shorter than 16 characters, or the host is not loopback and no token is
/// given (each message says how to fix it).
Result<HttpServerOptions> HttpServerOptionsFrom(const Settings& s);

/// True for 127.0.0.0/8, ::1 and "localhost".
bool IsLoopbackHost(const std::string& host);

/// Whether a request's Host header (or an Origin's host) may be answered: absent, an IP literal,
/// localhost, the address listened on, or one of `allowed` (case-insensitive); the port is ignored.
/// A name outside these is how a DNS-rebinding page reaches a server bound to 127.0.0.1.
bool HostAllowed(const std::string& host_header, const std::string& listen_host,
                 const std::vector<std::string>& allowed);

class HttpServer {
 public:
  ~HttpServer();
  /// Binds and starts serving. `monitors` may be empty (`lakestream serve`: tables only).
  /// Errors: InvalidArgument for a non-loopback host without a token; IoError when the address cannot
  /// be bound (in use: names it and the flags that change it).
  static Result<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options, LakeQueries& lake,
                                                   std::vector<PipelineMonitor*> monitors,
                                                   metrics::Registry& registry);
  /// The bound port (the chosen one when options.port was 0).
  int port() const { return port_; }
  /// "http://HOST:PORT/".
  std::string url() const;
  /// Open event streams now.
  int stream_clients() const { return stream_clients_.load(); }
  void Stop();

 private:
  HttpServer() = default;
  void Tick();
  std::string StreamEvent();

  struct Impl;
  std::unique_ptr<Impl> impl_;
  HttpServerOptions options_;
  LakeQueries* lake_ = nullptr;
  std::vector<PipelineMonitor*> monitors_;
  metrics::Registry* registry_ = nullptr;
  int port_ = 0;
  std::thread listen_thread_, ticker_thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> stream_clients_{0};
  // The latest stream event, shared by every stream; seq_ counts ticks.
  std::mutex tick_mu_;
  std::condition_variable tick_cv_;
  uint64_t seq_ = 0;
  std::string event_;
};

}  // namespace lakestream
