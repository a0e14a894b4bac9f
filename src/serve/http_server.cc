#include "serve/http_server.h"

#include <httplib.h>
#include <simdjson.h>
#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "common/json_writer.h"
#include "common/strings.h"
#include "common/time.h"
#include "serve/notification_reports.h"
#include "serve/sql_api.h"
#include "serve/web_assets.h"

namespace lakestream {

namespace {

constexpr const char* kTokenCookie = "lakestream_token";
constexpr const char* kTokenEnv = "LAKESTREAM_HTTP_TOKEN";
constexpr size_t kMinTokenLength = 16;

int HttpStatusOf(const Status& st) {
  switch (st.code()) {
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kUnavailable: return 503;
    default: return 500;
  }
}

void SetJson(httplib::Response& res, const std::string& json, int status = 200) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(json, "application/json; charset=utf-8");
}

void SetError(httplib::Response& res, int status, const std::string& code, const std::string& message) {
  JsonWriter w;
  w.BeginObject().Key("error").BeginObject().Key("status").Int(status).Key("code").String(code);
  w.Key("message").String(message).EndObject().EndObject();
  SetJson(res, w.Take(), status);
}

void SetError(httplib::Response& res, const Status& st) {
  SetError(res, HttpStatusOf(st), StatusCodeName(st.code()), st.message());
}

void Reply(httplib::Response& res, const Result<std::string>& r) {
  if (r.ok()) SetJson(res, *r);
  else SetError(res, r.status());
}

bool TokenEquals(const std::string& given, const std::string& want) {
  return given.size() == want.size() && CRYPTO_memcmp(given.data(), want.data(), want.size()) == 0;
}

std::string CookieValue(const httplib::Request& req, const std::string& name) {
  const std::string cookies = req.get_header_value("Cookie");
  size_t pos = 0;
  while (pos < cookies.size()) {
    size_t end = cookies.find(';', pos);
    std::string part = cookies.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    while (!part.empty() && part.front() == ' ') part.erase(0, 1);
    if (part.rfind(name + "=", 0) == 0) return part.substr(name.size() + 1);
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  return "";
}

// A bounded set of route labels for the request metrics (never raw paths: unbounded cardinality).
std::string RouteLabel(const std::string& path) {
  static const char* kExact[] = {"/metrics", "/healthz", "/readyz", "/api/v1", "/api/v1/pipelines", "/api/v1/tables",
                                 "/api/v1/stream", "/api/v1/orders/kpis", "/api/v1/orders/revenue-by-day",
                                 "/api/v1/orders/revenue-by-country", "/api/v1/orders/top-products",
                                 "/api/v1/orders/countries", "/api/v1/quarantine", "/api/v1/notifications/panel",
                                 "/api/v1/notifications/customers", "/api/v1/notifications/report",
                                 "/api/v1/notifications/billing", "/api/v1/sql"};
  for (const char* e : kExact) {
    if (path == e) return e;
  }
  if (path.rfind("/api/v1/pipelines/", 0) == 0) return "/api/v1/pipelines/{name}";
  if (path.rfind("/api/v1/tables/", 0) == 0) return "/api/v1/tables/{name}";
  if (path.rfind("/api/", 0) == 0) return "/api/other";
  return "static";
}

bool IsPage(const std::string& path) {
  return path == "/" || path == "/pipeline" || path == "/notifications" || path == "/index.html";
}

const WebAsset* FindAsset(const std::string& path) {
  size_t n = 0;
  const WebAsset* assets = WebAssets(&n);
  for (size_t i = 0; i < n; ++i) {
    if (assets[i].path == path) return &assets[i];
  }
  return nullptr;
}

// No query parameters allowed on endpoints that take none.
bool NoParams(const httplib::Request& req, httplib::Response& res) {
  if (req.params.empty()) return true;
  SetError(res, 400, "InvalidArgument",
           "unknown query parameter '" + req.params.begin()->first + "': " + req.path + " takes none");
  return false;
}

}  // namespace

bool IsLoopbackHost(const std::string& host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  in_addr a{};
  if (inet_pton(AF_INET, host.c_str(), &a) == 1) return (ntohl(a.s_addr) >> 24) == 127;
  return false;
}

bool HostAllowed(const std::string& host_header, const std::string& listen_host,
                 const std::vector<std::string>& allowed) {
  if (host_header.empty()) return true;  // HTTP/1.0 clients; browsers always send Host
  std::string host = host_header;
  if (host.front() == '[') {
    const size_t close = host.find(']');
    if (close == std::string::npos) return false;
    host = host.substr(1, close - 1);
  } else if (const size_t colon = host.rfind(':'); colon != std::string::npos && host.find(':') == colon) {
    host = host.substr(0, colon);  // name:port (a bare IPv6 address has several colons)
  }
  const std::string lower = AsciiLower(host);
  in_addr v4{};
  in6_addr v6{};
  if (inet_pton(AF_INET, lower.c_str(), &v4) == 1 || inet_pton(AF_INET6, lower.c_str(), &v6) == 1) return true;
  if (lower == "localhost" || lower == AsciiLower(listen_host)) return true;
  for (const auto& a : allowed) {
    if (lower == AsciiLower(a)) return true;
  }
  return false;
}

Result<HttpServerOptions> HttpServerOptionsFrom(const Settings& s) {
  HttpServerOptions o;
  const std::string hosts = s.GetString("http.allowed_hosts");
  for (size_t pos = 0; pos < hosts.size();) {
    const size_t comma = std::min(hosts.find(',', pos), hosts.size());
    std::string h(TrimBlanks(std::string_view(hosts).substr(pos, comma - pos)));
    if (!h.empty()) o.allowed_hosts.push_back(h);
    pos = comma + 1;
  }
  o.max_connections = static_cast<int>(s.GetInt("http.max_connections"));
  o.max_connections_per_ip = static_cast<int>(s.GetInt("http.max_connections_per_ip"));
  o.header_timeout_ms = s.GetInt("http.header_timeout_ms");
  o.body_timeout_ms = s.GetInt("http.body_timeout_ms");
  o.secure_cookie = s.GetBool("http.secure_cookie");
  o.session_max_age_s = s.GetInt("http.session_max_age_s");
  const std::string listen = s.GetString("http.listen");
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size()) {
    return InvalidArgument("--http '{}' is not HOST:PORT: write e.g. --http 127.0.0.1:8080 (or --no-http)", listen);
  }
  o.host = listen.substr(0, colon);
  if (o.host.size() > 2 && o.host.front() == '[' && o.host.back() == ']') o.host = o.host.substr(1, o.host.size() - 2);
  char* end = nullptr;
  const long port = std::strtol(listen.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || port < 0 || port > 65535) {
    return InvalidArgument("--http '{}': the port must be 0-65535 (0 picks a free one)", listen);
  }
  o.port = static_cast<int>(port);
  if (const char* env = std::getenv(kTokenEnv); env && *env) o.access_token = env;
  const std::string file = s.GetString("http.token_file");
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in) return InvalidArgument("--http-token-file {}: cannot read it; pass a readable file holding the token", file);
    std::stringstream ss;
    ss << in.rdbuf();
    o.access_token = ss.str();
    while (!o.access_token.empty() && std::isspace(static_cast<unsigned char>(o.access_token.back()))) {
      o.access_token.pop_back();
    }
    if (o.access_token.empty()) return InvalidArgument("--http-token-file {} is empty: write the access token in it", file);
  }
  if (!o.access_token.empty() && o.access_token.size() < kMinTokenLength) {
    return InvalidArgument("the HTTP access token is shorter than {} characters: use a random one, e.g. `openssl rand "
                           "-hex 32 > token` and --http-token-file token", kMinTokenLength);
  }
  if (!IsLoopbackHost(o.host) && o.access_token.empty()) {
    return InvalidArgument("--http {} listens beyond this machine, which needs an access token: set {} or pass "
                           "--http-token-file FILE (or listen on 127.0.0.1)", listen, kTokenEnv);
  }
  o.max_stream_clients = static_cast<int>(s.GetInt("http.max_stream_clients"));
  return o;
}

namespace {

// ---------------------------------------------------------------------------------------------
// The connection front: cpp-httplib gives each accepted connection a worker thread for as long as it
// lives, so slow or idle clients can occupy every worker before they are even authenticated. Here the
// accepting thread only counts the connection (global and per-address caps, answered 503 beyond them)
// and hands it to one epoll thread, which waits — without a worker — until a whole request header has
// arrived (peeked, not read) or the header timeout passes. Only then does a worker read and answer that
// one request through httplib's own request processing; a keep-alive connection then goes back to the
// epoll thread to wait for its next request.

constexpr size_t kMaxHeaderBytes = 16384;

int64_t SteadyMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string PeerAddress(int fd) {
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return "";
  char buf[INET6_ADDRSTRLEN] = {};
  if (a.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&a)->sin_addr, buf, sizeof buf);
  } else if (a.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&a)->sin6_addr, buf, sizeof buf);
  }
  return buf;
}

void AddressOf(int fd, bool peer, std::string& ip, int& port) {
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  const int rc = peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&a), &len)
                      : ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  if (rc != 0) return;
  char buf[INET6_ADDRSTRLEN] = {};
  if (a.ss_family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&a);
    inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
    port = ntohs(in->sin_port);
  } else if (a.ss_family == AF_INET6) {
    auto* in = reinterpret_cast<sockaddr_in6*>(&a);
    inet_ntop(AF_INET6, &in->sin6_addr, buf, sizeof buf);
    port = ntohs(in->sin6_port);
  }
  ip = buf;
}

// One request's stream for httplib: the header bytes already received, then the socket, read with a
// deadline for the whole request and written with a timeout per wait. Never reads past what httplib
// asks for, so the next request of a keep-alive connection stays in the socket.
class RequestStream : public httplib::Stream {
 public:
  RequestStream(int fd, std::string head, int64_t read_deadline_ms, int write_timeout_ms)
      : fd_(fd), head_(std::move(head)), read_deadline_ms_(read_deadline_ms), write_timeout_ms_(write_timeout_ms) {}
  bool is_readable() const override { return pos_ < head_.size() || Wait(POLLIN, read_deadline_ms_ - SteadyMillis()); }
  bool is_writable() const override { return Wait(POLLOUT, write_timeout_ms_); }
  ssize_t read(char* ptr, size_t size) override {
    if (pos_ < head_.size()) {
      const size_t n = std::min(size, head_.size() - pos_);
      std::memcpy(ptr, head_.data() + pos_, n);
      pos_ += n;
      return static_cast<ssize_t>(n);
    }
    if (!Wait(POLLIN, read_deadline_ms_ - SteadyMillis())) return -1;
    for (;;) {
      const ssize_t n = ::recv(fd_, ptr, size, 0);
      if (n < 0 && errno == EINTR) continue;
      return n;
    }
  }
  ssize_t write(const char* ptr, size_t size) override {
    if (!is_writable()) return -1;
    for (;;) {
      const ssize_t n = ::send(fd_, ptr, size, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      return n;
    }
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override { AddressOf(fd_, true, ip, port); }
  void get_local_ip_and_port(std::string& ip, int& port) const override { AddressOf(fd_, false, ip, port); }
  socket_t socket() const override { return fd_; }

 private:
  bool Wait(short events, int64_t timeout_ms) const {
    if (timeout_ms <= 0) return false;
    pollfd p{fd_, events, 0};
    for (;;) {
      const int rc = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(timeout_ms, 60000)));
      if (rc < 0 && errno == EINTR) continue;
      return rc > 0 && (p.revents & events);
    }
  }
  int fd_;
  std::string head_;
  size_t pos_ = 0;
  int64_t read_deadline_ms_;
  int write_timeout_ms_;
};

// Answers a connection turned away before any worker (503) and closes it.
void Refuse(int fd, const char* why) {
  const std::string body = std::string(why) + "\n";
  const std::string msg = "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\n"
                          "Content-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  (void)::send(fd, msg.data(), msg.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  ::close(fd);
}

}  // namespace

// httplib::Server with the connection front in place of its thread-per-connection loop: the accepting
// thread calls process_and_close_socket (through a task queue that runs it at once), which only hands
// the socket over.
class GuardedServer : public httplib::Server {
 public:
  struct Limits {
    int max_connections = 1024, max_per_ip = 300, workers = 64;
    int64_t header_timeout_ms = 10000, body_timeout_ms = 30000;
    int write_timeout_ms = 10000;
  };

  explicit GuardedServer(Limits limits) : limits_(limits) {
    new_task_queue = [] { return new InlineQueue(); };
    epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
    reactor_ = std::thread([this] { ReactorLoop(); });
    for (int i = 0; i < limits_.workers; ++i) workers_.emplace_back([this] { WorkerLoop(); });
  }
  ~GuardedServer() override { Shutdown(); }

  // cpp-httplib listens with a backlog of 5 (CPPHTTPLIB_LISTEN_BACKLOG): a burst of connections then
  // waits for SYN retransmissions (1 s, 3 s, …). Listening again on the bound socket widens it.
  void WidenBacklog(int backlog) { ::listen(svr_sock_, backlog); }

  // Stops waiting connections and workers (after httplib's stop(): nothing new is accepted).
  void Shutdown() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (shutdown_) return;
      shutdown_ = true;
    }
    cv_.notify_all();
    if (reactor_.joinable()) reactor_.join();
    for (auto& w : workers_) w.join();
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [fd, c] : waiting_) ::close(fd);
    waiting_.clear();
    for (auto& job : jobs_) ::close(job.fd);
    jobs_.clear();
    if (epoll_ >= 0) ::close(epoll_);
    epoll_ = -1;
  }

 private:
  struct InlineQueue : public httplib::TaskQueue {
    void enqueue(std::function<void()> fn) override { fn(); }
    void shutdown() override {}
  };
  struct Waiting {
    std::string ip;
    int64_t deadline_ms = 0;
  };
  struct Job {
    int fd;
    std::string ip;
    size_t header_bytes;
  };

  // On the accepting thread.
  bool process_and_close_socket(socket_t sock) override {
    const std::string ip = PeerAddress(sock);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (shutdown_) {
        ::close(sock);
        return false;
      }
      if (open_ >= limits_.max_connections) {
        Refuse(sock, "too many connections: retry in a moment (--http-max-connections)");
        return false;
      }
      if (per_ip_[ip] >= limits_.max_per_ip) {
        Refuse(sock, "too many connections from this address (--http-max-connections-per-ip)");
        return false;
      }
      ++open_;
      ++per_ip_[ip];
    }
    const int one = 1;
    ::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // no Nagle delay on small answers
    Wait(sock, ip);
    return true;
  }

  void Wait(int fd, const std::string& ip) {
    std::lock_guard<std::mutex> lock(mu_);
    waiting_[fd] = Waiting{ip, SteadyMillis() + limits_.header_timeout_ms};
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;
    ev.data.fd = fd;
    ::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev);
    Check(fd);  // a request may be there already (keep-alive, or bytes before the registration)
  }

  void Close(int fd, const std::string& ip) {
    ::close(fd);
    std::lock_guard<std::mutex> lock(mu_);
    --open_;
    if (--per_ip_[ip] <= 0) per_ip_.erase(ip);
  }

  // With mu_ held: is `fd`'s request header complete (dispatch), malformed or gone (close)?
  void Check(int fd) {
    auto it = waiting_.find(fd);
    if (it == waiting_.end()) return;
    char buf[kMaxHeaderBytes];
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    const std::string_view peeked(buf, n > 0 ? static_cast<size_t>(n) : 0);
    const size_t end = peeked.find("\r\n\r\n");
    if (n > 0 && end == std::string_view::npos && peeked.size() < sizeof buf) return;  // more to come
    ::epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);
    const std::string ip = it->second.ip;
    waiting_.erase(it);
    if (n <= 0 || end == std::string_view::npos) {
      if (n > 0) {
        static const char kTooLarge[] =
            "HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
        (void)::send(fd, kTooLarge, sizeof kTooLarge - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
      }
      ::close(fd);
      --open_;
      if (--per_ip_[ip] <= 0) per_ip_.erase(ip);
      return;
    }
    jobs_.push_back(Job{fd, ip, end + 4});
    cv_.notify_one();
  }

  void ReactorLoop() {
    epoll_event events[128];
    while (true) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (shutdown_) return;
      }
      const int n = ::epoll_wait(epoll_, events, 128, 100);
      std::lock_guard<std::mutex> lock(mu_);
      for (int i = 0; i < n; ++i) Check(events[i].data.fd);
      // Connections that did not send a whole header in time (slow, or idle keep-alive) are closed.
      const int64_t now = SteadyMillis();
      for (auto it = waiting_.begin(); it != waiting_.end();) {
        if (it->second.deadline_ms > now) {
          ++it;
          continue;
        }
        ::epoll_ctl(epoll_, EPOLL_CTL_DEL, it->first, nullptr);
        ::close(it->first);
        --open_;
        if (--per_ip_[it->second.ip] <= 0) per_ip_.erase(it->second.ip);
        it = waiting_.erase(it);
      }
    }
  }

  void WorkerLoop() {
    for (;;) {
      Job job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return shutdown_ || !jobs_.empty(); });
        if (shutdown_) return;
        job = jobs_.front();
        jobs_.pop_front();
      }
      // The header is in the socket already: read exactly it, then let httplib answer the request.
      std::string head(job.header_bytes, '\0');
      size_t got = 0;
      while (got < head.size()) {
        const ssize_t n = ::recv(job.fd, head.data() + got, head.size() - got, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += static_cast<size_t>(n);
      }
      bool keep = got == head.size();
      if (keep) {
        RequestStream strm(job.fd, std::move(head), SteadyMillis() + limits_.body_timeout_ms, limits_.write_timeout_ms);
        bool closed = false;
        keep = process_request(strm, /*close_connection=*/false, closed, nullptr) && !closed;
      }
      bool stopping;
      {
        std::lock_guard<std::mutex> lock(mu_);
        stopping = shutdown_;
      }
      if (keep && !stopping) {
        Wait(job.fd, job.ip);  // the next request of this keep-alive connection
      } else {
        Close(job.fd, job.ip);
      }
    }
  }

  Limits limits_;
  int epoll_ = -1;
  std::mutex mu_;
  std::condition_variable cv_;
  bool shutdown_ = false;
  int open_ = 0;
  std::map<std::string, int> per_ip_;
  std::map<int, Waiting> waiting_;
  std::deque<Job> jobs_;
  std::thread reactor_;
  std::vector<std::thread> workers_;
};

struct HttpServer::Impl {
  explicit Impl(GuardedServer::Limits limits) : server(limits) {}
  GuardedServer server;
  std::atomic<int> sql_running{0};  // POST /api/v1/sql statements in flight
};

HttpServer::~HttpServer() { Stop(); }

std::string HttpServer::url() const {
  const bool v6 = options_.host.find(':') != std::string::npos;
  return "http://" + (v6 ? "[" + options_.host + "]" : options_.host) + ":" + std::to_string(port_) + "/";
}

std::string HttpServer::StreamEvent() {
  JsonWriter w;
  w.BeginObject().Key("t").Int(NowMillis()).Key("pipelines").BeginArray();
  for (auto* m : monitors_) w.Raw(m->StatusJson());
  w.EndArray().Key("tables").BeginObject();
  for (const auto& [name, v] : lake_->Versions()) w.Key(name).Int(v);
  w.EndObject().Key("stream_clients").Int(stream_clients_.load()).EndObject();
  return w.Take();
}

void HttpServer::Tick() {
  for (auto* m : monitors_) m->Sample();
  std::string ev = StreamEvent();
  {
    std::lock_guard<std::mutex> lock(tick_mu_);
    event_ = std::move(ev);
    ++seq_;
  }
  tick_cv_.notify_all();
}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options, LakeQueries& lake,
                                                      std::vector<PipelineMonitor*> monitors,
                                                      metrics::Registry& registry) {
  if (!IsLoopbackHost(options.host) && options.access_token.empty()) {
    return InvalidArgument("HTTP on {} needs an access token ({} or --http-token-file)", options.host, kTokenEnv);
  }
  std::unique_ptr<HttpServer> s(new HttpServer());
  s->options_ = options;
  s->lake_ = &lake;
  s->monitors_ = std::move(monitors);
  s->registry_ = &registry;
  GuardedServer::Limits limits;
  limits.max_connections = options.max_connections;
  limits.max_per_ip = options.max_connections_per_ip;
  limits.workers = options.max_stream_clients + 32;  // an open event stream holds one
  limits.header_timeout_ms = options.header_timeout_ms;
  limits.body_timeout_ms = options.body_timeout_ms;
  s->impl_ = std::make_unique<Impl>(limits);
  HttpServer* self = s.get();
  httplib::Server& svr = s->impl_->server;
  svr.set_payload_max_length(64 * 1024);
  svr.set_tcp_nodelay(true);

  auto& requests = registry.CounterFamily("lakestream_http_requests_total", "HTTP requests answered, by route and status",
                                          {"route", "status"});
  auto& latency = registry.HistogramFamily("lakestream_http_request_duration_seconds",
                                           "Time to answer an HTTP request (event streams excluded)", {"route"},
                                           {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5});
  auto& streams = registry.GaugeFamily("lakestream_http_stream_clients", "Open Server-Sent Events streams");
  metrics::Gauge* stream_gauge = &streams.WithLabels({});

  // Every request: its Host (and a POST's Origin), its method, then the access token (when one is set).
  svr.set_pre_routing_handler([self](const httplib::Request& req, httplib::Response& res) {
    const std::string host = req.get_header_value("Host");
    if (!HostAllowed(host, self->options_.host, self->options_.allowed_hosts)) {
      SetError(res, 403, "Forbidden",
               "Host '" + host + "' is not a name of this server: only IP addresses, localhost and the names given "
               "with --http-allowed-hosts are answered (a page that rebinds its own name to this machine must not "
               "reach the API)");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.method == "POST" && req.has_header("Origin")) {
      // A state-reading POST from a browser must come from a page of this server (same checks as Host).
      const std::string origin = req.get_header_value("Origin");
      const size_t scheme = origin.find("://");
      if (origin == "null" || scheme == std::string::npos ||
          !HostAllowed(origin.substr(scheme + 3), self->options_.host, self->options_.allowed_hosts)) {
        SetError(res, 403, "Forbidden",
                 "Origin '" + origin + "' may not POST here: only pages served from an IP address, localhost or a "
                 "name given with --http-allowed-hosts");
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    const bool sql = req.path == "/api/v1/sql";
    if (sql ? req.method != "POST" : (req.method != "GET" && req.method != "HEAD")) {
      res.set_header("Allow", sql ? "POST" : "GET, HEAD");
      SetError(res, 405, "MethodNotAllowed",
               req.method + " is not allowed on " + req.path + (sql ? ": use POST with a JSON body" : ": use GET"));
      return httplib::Server::HandlerResponse::Handled;
    }
    const std::string& token = self->options_.access_token;
    if (token.empty() || req.path == "/healthz" || req.path == "/readyz") {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    std::string auth = req.get_header_value("Authorization");
    if (auth.rfind("Bearer ", 0) == 0 && TokenEquals(auth.substr(7), token)) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    if (TokenEquals(CookieValue(req, kTokenCookie), token)) return httplib::Server::HandlerResponse::Unhandled;
    // A dashboard link carrying ?access_token=: set the cookie and drop the token from the address bar.
    if (IsPage(req.path) && req.has_param("access_token") && TokenEquals(req.get_param_value("access_token"), token)) {
      std::string query;
      for (const auto& [k, v] : req.params) {
        if (k == "access_token") continue;
        query += (query.empty() ? "?" : "&") + httplib::detail::encode_query_param(k) + "=" +
                 httplib::detail::encode_query_param(v);
      }
      const bool secure = self->options_.secure_cookie || req.get_header_value("X-Forwarded-Proto") == "https";
      res.set_header("Set-Cookie", std::string(kTokenCookie) + "=" + token + "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" +
                                       std::to_string(self->options_.session_max_age_s) + (secure ? "; Secure" : ""));
      res.set_redirect(req.path + query, 303);
      return httplib::Server::HandlerResponse::Handled;
    }
    res.set_header("WWW-Authenticate", "Bearer realm=\"lakestream\"");
    SetError(res, 401, "Unauthenticated",
             "this server requires its access token: send 'Authorization: Bearer TOKEN', or open the dashboard "
             "once as /?access_token=TOKEN");
    return httplib::Server::HandlerResponse::Handled;
  });
  svr.set_logger([&requests](const httplib::Request& req, const httplib::Response& res) {
    // Never the query string: it may carry the access token.
    requests.WithLabels({RouteLabel(req.path), std::to_string(res.status)}).Increment();
    spdlog::debug("http {} {} -> {}", req.method, req.path, res.status);
  });
  svr.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    spdlog::error("http {} {}: internal error: {}", req.method, req.path, what);
    SetError(res, 500, "Internal", "internal error while answering " + req.path);
  });
  svr.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 404) SetError(res, 404, "NotFound", "no such path: " + req.path + " (see docs/api.md)");
    else SetError(res, res.status, "Error", "request failed");
  });

  auto timed = [&latency](const std::string& route, auto handler) {
    metrics::Histogram* h = &latency.WithLabels({route});
    return [h, handler](const httplib::Request& req, httplib::Response& res) {
      const auto t0 = std::chrono::steady_clock::now();
      handler(req, res);
      h->Observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    };
  };

  // --- health ---
  svr.Get("/healthz", [](const httplib::Request&, httplib::Response& res) { res.set_content("ok\n", "text/plain"); });
  svr.Get("/readyz", [self](const httplib::Request&, httplib::Response& res) {
    bool ready = true;
    std::string why;
    for (auto* m : self->monitors_) {
      const std::string state = m->state();
      if (state != "running" && state != "idle") {
        ready = false;
        why = "pipeline " + m->info().name + " is not running";
      }
    }
    res.status = ready ? 200 : 503;
    res.set_content(ready ? "ready\n" : why + "\n", "text/plain");
  });

  // --- metrics ---
  svr.Get("/metrics", timed("/metrics", [self](const httplib::Request& req, httplib::Response& res) {
            if (!NoParams(req, res)) return;
            // Table gauges are read at scrape time.
            auto& version = self->registry_->GaugeFamily("lakestream_table_version", "Latest Delta version", {"table"});
            auto& files = self->registry_->GaugeFamily("lakestream_table_files", "Active data files", {"table"});
            auto& bytes = self->registry_->GaugeFamily("lakestream_table_size_bytes", "Bytes of the active data files",
                                                       {"table"});
            auto& rows = self->registry_->GaugeFamily("lakestream_table_rows", "Rows in the active data files (from "
                                                      "file statistics)", {"table"});
            auto& readable = self->registry_->GaugeFamily(
                "lakestream_table_readable", "1 when the table's log and files can be read, 0 when it is corrupt or "
                "unreadable (GET /api/v1/tables names the error)", {"table"});
            auto& lost = self->registry_->GaugeFamily(
                "lakestream_data_loss_records", "Kafka records lost before bronze held them, per recorded gap's "
                "partition; state open stops every start until accepted (docs/reliability.md)",
                {"table", "topic", "partition", "state"});
            for (const auto& t : self->lake_->TableStates()) {
              readable.WithLabels({t.name}).Set(t.error.empty() ? 1 : 0);
              if (!t.error.empty()) continue;
              version.WithLabels({t.name}).Set(static_cast<double>(t.version));
              files.WithLabels({t.name}).Set(static_cast<double>(t.files));
              bytes.WithLabels({t.name}).Set(static_cast<double>(t.size_bytes));
              rows.WithLabels({t.name}).Set(static_cast<double>(t.rows));
              std::map<std::pair<std::string, std::string>, std::pair<int64_t, int64_t>> per;  // open, accepted
              for (const auto& g : t.data_loss) {
                auto& slot = per[{g.topic, std::to_string(g.partition)}];
                (g.accepted ? slot.second : slot.first) += g.records();
              }
              for (const auto& [tp, n] : per) {
                lost.WithLabels({t.name, tp.first, tp.second, "open"}).Set(static_cast<double>(n.first));
                lost.WithLabels({t.name, tp.first, tp.second, "accepted"}).Set(static_cast<double>(n.second));
              }
            }
            res.set_content(self->registry_->Render(), "text/plain; version=0.0.4; charset=utf-8");
          }));

  // --- API ---
  svr.Get("/api/v1", [](const httplib::Request&, httplib::Response& res) {
    SetJson(res, R"({"endpoints":["/api/v1/pipelines","/api/v1/pipelines/{name}","/api/v1/tables",)"
                 R"("/api/v1/tables/{layer}/{name}","/api/v1/orders/kpis","/api/v1/orders/revenue-by-day",)"
                 R"("/api/v1/orders/revenue-by-country","/api/v1/orders/top-products","/api/v1/orders/countries",)"
                 R"("/api/v1/quarantine","/api/v1/notifications/customers","/api/v1/notifications/panel",)"
                 R"("/api/v1/notifications/report","/api/v1/notifications/billing","/api/v1/stream","/metrics","/healthz","/readyz"],"docs":"docs/api.md"})");
  });
  svr.Get("/api/v1/pipelines", timed("/api/v1/pipelines", [self](const httplib::Request& req, httplib::Response& res) {
            if (!NoParams(req, res)) return;
            JsonWriter w;
            w.BeginObject().Key("pipelines").BeginArray();
            for (auto* m : self->monitors_) w.Raw(m->StatusJson());
            w.EndArray().EndObject();
            SetJson(res, w.Take());
          }));
  svr.Get(R"(/api/v1/pipelines/([a-z0-9_\-]+))",
          timed("/api/v1/pipelines/{name}", [self](const httplib::Request& req, httplib::Response& res) {
            if (!NoParams(req, res)) return;
            for (auto* m : self->monitors_) {
              if (m->info().name == req.matches[1].str()) return SetJson(res, m->StatusWithHistoryJson());
            }
            SetError(res, 404, "NotFound",
                     "no pipeline '" + req.matches[1].str() + "' runs in this process: GET /api/v1/pipelines lists them");
          }));
  svr.Get("/api/v1/tables", timed("/api/v1/tables", [self](const httplib::Request& req, httplib::Response& res) {
            if (!NoParams(req, res)) return;
            Reply(res, self->lake_->TablesJson());
          }));
  svr.Get(R"(/api/v1/tables/([a-z0-9_]+/[a-z0-9_]+))",
          timed("/api/v1/tables/{name}", [self](const httplib::Request& req, httplib::Response& res) {
            int history = 10;
            for (const auto& [k, v] : req.params) {
              char* end = nullptr;
              long n = std::strtol(v.c_str(), &end, 10);
              if (k != "history" || v.empty() || *end != '\0' || n < 0 || n > 1000) {
                return SetError(res, 400, "InvalidArgument",
                                "query parameter '" + k + "': this endpoint accepts history=N (0-1000 commits)");
              }
              history = static_cast<int>(n);
            }
            Reply(res, self->lake_->TableJson(req.matches[1].str(), history));
          }));
  auto orders = [self, &timed, &svr](const std::string& path, std::vector<std::string> allowed, auto query) {
    svr.Get(path, timed(path, [self, allowed, query](const httplib::Request& req, httplib::Response& res) {
              auto f = ParseOrdersFilter(req.params, allowed);
              if (!f.ok()) return SetError(res, f.status());
              Reply(res, query(*self->lake_, *f));
            }));
  };
  const std::vector<std::string> filters = {"from", "to", "country", "product"};
  const std::vector<std::string> top_filters = {"from", "to", "country", "product", "limit"};
  orders("/api/v1/orders/kpis", filters, [](LakeQueries& l, const OrdersFilter& f) { return l.OrdersKpis(f); });
  orders("/api/v1/orders/revenue-by-day", filters, [](LakeQueries& l, const OrdersFilter& f) { return l.RevenueByDay(f); });
  orders("/api/v1/orders/revenue-by-country", top_filters,
         [](LakeQueries& l, const OrdersFilter& f) { return l.RevenueByCountry(f); });
  orders("/api/v1/orders/top-products", top_filters, [](LakeQueries& l, const OrdersFilter& f) { return l.TopProducts(f); });
  orders("/api/v1/orders/countries", {}, [](LakeQueries& l, const OrdersFilter&) { return l.Countries(); });
  svr.Get("/api/v1/quarantine", timed("/api/v1/quarantine", [self](const httplib::Request& req, httplib::Response& res) {
            std::string rule;
            int64_t limit = 20;
            for (const auto& [k, v] : req.params) {
              if (k == "rule") {
                bool ok = !v.empty() && v.size() <= 64;
                for (unsigned char c : v) ok = ok && (std::isalnum(c) || c == '_' || c == '-');
                if (!ok) return SetError(res, 400, "InvalidArgument", "query parameter 'rule' must be an expectation name "
                                                                      "(letters, digits, _ or -), e.g. rule=price_non_negative");
                rule = v;
              } else if (k == "limit") {
                char* end = nullptr;
                long n = std::strtol(v.c_str(), &end, 10);
                if (v.empty() || *end != '\0' || n < 0 || n > 500) {
                  return SetError(res, 400, "InvalidArgument", "query parameter 'limit' must be an integer from 0 to 500");
                }
                limit = n;
              } else {
                return SetError(res, 400, "InvalidArgument",
                                "unknown query parameter '" + k + "': this endpoint accepts rule, limit");
              }
            }
            Reply(res, self->lake_->Quarantine(rule, limit));
          }));

  // --- the notifications pipeline (docs/pipelines/notifications.md) ---
  svr.Get("/api/v1/notifications/customers",
          timed("/api/v1/notifications/customers", [self](const httplib::Request& req, httplib::Response& res) {
            auto q = ParsePanelQuery(req.params, {"date", "channel", "limit"});
            if (!q.ok()) return SetError(res, q.status());
            Reply(res, self->lake_->NotificationCustomers(*q));
          }));
  svr.Get("/api/v1/notifications/panel",
          timed("/api/v1/notifications/panel", [self](const httplib::Request& req, httplib::Response& res) {
            auto params = req.params;
            std::string format = "json";
            if (auto it = params.find("format"); it != params.end()) {
              format = it->second;
              params.erase(it);
            }
            if (format != "json" && format != "text") {
              return SetError(res, 400, "InvalidArgument", "query parameter 'format' must be json or text");
            }
            auto q = ParsePanelQuery(params, {"customer", "date", "channel"});
            if (!q.ok()) return SetError(res, q.status());
            auto panel = self->lake_->NotificationPanel(*q);
            if (!panel.ok() || format == "json") return Reply(res, panel);
            simdjson::dom::parser parser;
            std::string_view text;
            if (parser.parse(*panel).at_key("panel").get(text) != simdjson::SUCCESS) {
              return SetError(res, 500, "Internal", "the panel has no text");
            }
            res.set_header("Cache-Control", "no-store");
            res.set_content(std::string(text), "text/plain; charset=utf-8");
          }));
  // Reports stream (chunked): a report of millions of lines never sits whole in memory.
  auto report = [](httplib::Response& res, const std::string& format_text, const std::string& filename,
                       std::function<Result<int64_t>(ReportFormat, const ReportSink&)> write) {
    ReportFormat format = ReportFormat::kJson;
    if (format_text == "csv") format = ReportFormat::kCsv;
    else if (format_text == "text") format = ReportFormat::kHuman;
    else if (format_text != "json") {
      return SetError(res, 400, "InvalidArgument", "query parameter 'format' must be json, csv or text");
    }
    const char* type = format == ReportFormat::kCsv    ? "text/csv; charset=utf-8"
                       : format == ReportFormat::kJson ? "application/json; charset=utf-8"
                                                       : "text/plain; charset=utf-8";
    res.set_header("Cache-Control", "no-store");
    if (format == ReportFormat::kCsv) {
      res.set_header("Content-Disposition", "attachment; filename=\"" + filename + ".csv\"");
    }
    res.set_chunked_content_provider(type, [format, write](size_t, httplib::DataSink& sink) {
      std::string buffer;  // written in pieces of about 64 KiB
      auto flush = [&] {
        const bool ok = buffer.empty() || sink.write(buffer.data(), buffer.size());
        buffer.clear();
        return ok;
      };
      auto n = write(format, [&](std::string_view piece) {
        buffer.append(piece);
        return buffer.size() < 65536 || flush();
      });
      if (!n.ok()) {
        // Headers are sent: end the stream without its last chunk, so the client sees a truncated
        // response rather than a complete one.
        if (n.status().code() != StatusCode::kCancelled) {
          spdlog::warn("http report stopped: {}", n.status().ToString());
        }
        return false;
      }
      if (!flush()) return false;
      sink.done();
      return true;
    });
  };
  auto table_exists = [self](httplib::Response& res, const std::string& table) {
    auto versions = self->lake_->Versions();
    if (versions.count(table) && versions[table] >= 0) return true;
    SetError(res, 404, "NotFound", "no table " + table + " in this lakehouse: run the notifications pipeline "
                                   "(lakestream run --pipeline pipelines/notifications.toml)");
    return false;
  };
  svr.Get("/api/v1/notifications/report",
          timed("/api/v1/notifications/report", [report, table_exists, root = lake.root()](const httplib::Request& req, httplib::Response& res) {
            if (Status st = CheckQueryParameters(req.params, {"customer", "from", "to", "format"}); !st.ok()) {
              return SetError(res, st);
            }
            const std::string customer = req.get_param_value("customer"), from = req.get_param_value("from"),
                              to = req.get_param_value("to");
            const std::string format = req.has_param("format") ? req.get_param_value("format") : "json";
            if (customer.empty() || customer.size() > 64) {
              return SetError(res, 400, "InvalidArgument", "query parameter 'customer' is required: a customer_id or "
                                                           "name of 1-64 characters, e.g. customer=Acme");
            }
            auto f = ParseReportInstant(from, false), t = ParseReportInstant(to, true);
            if (!f || !t) {
              return SetError(res, 400, "InvalidArgument",
                              "query parameters 'from' and 'to' are required: YYYY-MM-DD (a day, inclusive) or an ISO "
                              "8601 instant with offset, e.g. from=2020-02-03T14:00:00%2B00:00");
            }
            if (*t <= *f) return SetError(res, 400, "InvalidArgument", "query parameter 'to' must be after 'from'");
            if (!table_exists(res, "silver/notifications")) return;
            const NotificationReportQuery q{customer, *f, *t};
            report(res, format, "notifications-" + from.substr(0, 10),
                   [root, q](ReportFormat fmt, const ReportSink& sink) { return WriteNotificationReport(root, q, fmt, sink); });
          }));

  svr.Get("/api/v1/notifications/billing",
          timed("/api/v1/notifications/billing", [report, table_exists, root = lake.root()](const httplib::Request& req,
                                                                                           httplib::Response& res) {
            if (Status st = CheckQueryParameters(req.params, {"date", "customer", "format"}); !st.ok()) {
              return SetError(res, st);
            }
            const std::string date = req.get_param_value("date"), customer = req.get_param_value("customer");
            const std::string format = req.has_param("format") ? req.get_param_value("format") : "json";
            auto day = ParseReportInstant(date, false);
            if (!day || date.size() != 10) {
              return SetError(res, 400, "InvalidArgument",
                              "query parameter 'date' is required: the billing day YYYY-MM-DD, e.g. date=2020-02-03");
            }
            if (customer.size() > 64) {
              return SetError(res, 400, "InvalidArgument", "query parameter 'customer' is longer than 64 characters");
            }
            if (!table_exists(res, "gold/billing_daily")) return;
            const std::optional<std::string> who = customer.empty() ? std::nullopt : std::optional<std::string>(customer);
            const int64_t days = *day / (86400LL * 1000000);
            report(res, format, "billing-" + date, [root, days, who](ReportFormat fmt, const ReportSink& sink) {
              return WriteBillingReport(root, days, who, fmt, sink);
            });
          }));

  // --- SQL (read-only, sandboxed; docs/api.md "SQL") ---
  svr.Post("/api/v1/sql", timed("/api/v1/sql", [self, root = lake.root()](const httplib::Request& req, httplib::Response& res) {
    const std::string type = req.get_header_value("Content-Type");
    if (type.rfind("application/json", 0) != 0) {
      // A JSON content type also keeps other sites' forms out (they cannot send it without CORS).
      return SetError(res, 415, "UnsupportedMediaType", "send the statement as Content-Type: application/json, "
                                                        "e.g. {\"sql\": \"SELECT count(*) FROM silver.orders\"}");
    }
    SqlApiResponse r = AnswerSqlRequest(req.body, root, SqlApiLimits{}, &self->impl_->sql_running);
    res.status = r.http_status;
    res.set_header("Cache-Control", "no-store");
    if (!r.tables_header.empty()) res.set_header("X-Lakestream-Tables", r.tables_header);
    if (r.truncated) {
      res.set_header("X-Lakestream-Truncated", "true");
      res.set_header("X-Lakestream-Truncated-By", r.truncated_by);
    }
    if (r.http_status == 503) res.set_header("Retry-After", "1");
    res.set_content(r.body, r.content_type);
  }));

  // --- Server-Sent Events: one "status" event per tick (https://html.spec.whatwg.org/multipage/server-sent-events.html) ---
  svr.Get("/api/v1/stream", [self, stream_gauge](const httplib::Request& req, httplib::Response& res) {
    if (!NoParams(req, res)) return;
    if (self->stream_clients_.fetch_add(1) >= self->options_.max_stream_clients) {
      self->stream_clients_.fetch_sub(1);
      res.set_header("Retry-After", "5");
      return SetError(res, 503, "Unavailable",
                      "too many event streams open (--http-max-stream-clients " +
                          std::to_string(self->options_.max_stream_clients) + "); retry later");
    }
    stream_gauge->Set(self->stream_clients_.load());
    res.set_header("Cache-Control", "no-store");
    res.set_header("X-Accel-Buffering", "no");
    auto last = std::make_shared<uint64_t>(0);
    res.set_chunked_content_provider(
        "text/event-stream",
        [self, last](size_t, httplib::DataSink& sink) {
          std::string msg;
          {
            std::unique_lock<std::mutex> lock(self->tick_mu_);
            if (*last == 0) {
              msg = "retry: 2000\n";
            } else {
              self->tick_cv_.wait_for(lock, std::chrono::seconds(15),
                                      [&] { return self->stopping_.load() || self->seq_ != *last; });
            }
            if (self->stopping_.load()) {
              sink.done();
              return false;
            }
            if (self->seq_ != *last && !self->event_.empty()) {
              msg += "id: " + std::to_string(self->seq_) + "\nevent: status\ndata: " + self->event_ + "\n\n";
              *last = self->seq_;
            } else if (*last == 0) {
              *last = self->seq_ == 0 ? 1 : self->seq_;
            } else {
              msg = ": keep-alive\n\n";  // a comment: keeps proxies from closing an idle stream
            }
          }
          return sink.write(msg.data(), msg.size());
        },
        [self, stream_gauge](bool) {
          self->stream_clients_.fetch_sub(1);
          stream_gauge->Set(self->stream_clients_.load());
        });
  });

  // --- the dashboard ---
  svr.Get(R"(/.*)", [](const httplib::Request& req, httplib::Response& res) {
    const std::string path = IsPage(req.path) ? "/index.html" : req.path;
    const WebAsset* a = path.find("..") == std::string::npos ? FindAsset(path) : nullptr;
    if (!a) {
      size_t n = 0;
      WebAssets(&n);
      return SetError(res, 404, "NotFound",
                      n == 0 && IsPage(req.path) ? "the dashboard was not built into this binary: run "
                                                   "scripts/bootstrap.sh (npm run build:web), then rebuild"
                                                 : "no such path: " + req.path);
    }
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Content-Security-Policy",
                   "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'");
    res.set_header("Cache-Control", path == "/index.html" ? "no-cache" : "public, max-age=300");
    res.set_content(std::string(a->body), std::string(a->content_type));
  });

  if (options.port == 0) {
    s->port_ = svr.bind_to_any_port(options.host);
    if (s->port_ <= 0) return IoError("cannot listen on {}:any port", options.host);
  } else {
    if (!svr.bind_to_port(options.host, options.port)) {
      return IoError("cannot listen on {}:{} (in use, or not an address of this machine): pass --http HOST:PORT with "
                     "another port, or --no-http", options.host, options.port);
    }
    s->port_ = options.port;
  }
  s->impl_->server.WidenBacklog(1024);
  s->listen_thread_ = std::thread([self] { self->impl_->server.listen_after_bind(); });
  s->Tick();
  s->ticker_thread_ = std::thread([self] {
    while (!self->stopping_.load()) {
      for (int64_t waited = 0; waited < self->options_.stream_interval_ms && !self->stopping_.load(); waited += 50) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      if (!self->stopping_.load()) self->Tick();
    }
  });
  return s;
}

void HttpServer::Stop() {
  if (stopping_.exchange(true)) return;
  tick_cv_.notify_all();
  if (ticker_thread_.joinable()) ticker_thread_.join();
  if (impl_) impl_->server.stop();
  if (listen_thread_.joinable()) listen_thread_.join();
  if (impl_) impl_->server.Shutdown();
}

}  // namespace lakestream
