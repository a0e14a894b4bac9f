// The HTTP server against hostile clients (docs/reliability.md, "Hostile HTTP clients"), with raw
// sockets: DNS rebinding, slow connections, connection caps, keep-alive latency, the session cookie and
// the SQL answer's size. Each failed on the version before its fix.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>

#include "e2e/e2e_util.h"

namespace lakestream::e2e {
namespace {

// A connection from `source` (any address of 127.0.0.0/8) to 127.0.0.1:port; -1 on failure.
int Connect(int port, const char* source = "127.0.0.1") {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  inet_pton(AF_INET, source, &from.sin_addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) {
    ::close(fd);
    return -1;
  }
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void Send(int fd, const std::string& s) { (void)::send(fd, s.data(), s.size(), MSG_NOSIGNAL); }

// Reads one HTTP response with a Content-Length (or until the peer closes), within `timeout_ms`.
std::string ReadResponse(int fd, int timeout_ms = 5000) {
  std::string out;
  char buf[65536];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    const size_t head = out.find("\r\n\r\n");
    if (head != std::string::npos) {
      const size_t cl = out.find("Content-Length: ");
      if (cl != std::string::npos && cl < head) {
        const size_t len = std::stoul(out.substr(cl + 16));
        if (out.size() >= head + 4 + len) return out;
      }
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// `lakestream serve` over a small lakehouse, with extra flags.
class Server {
 public:
  explicit Server(const std::vector<std::string>& extra = {}, const std::vector<std::pair<std::string, std::string>>& env = {}) {
    dir_ = TempDir();
    EXPECT_EQ(RunCli({"run", "--lakehouse", dir_, "--input", kKaggle, "--rate", "max", "--no-http"}, dir_ + "/run.txt"), 0)
        << ReadFile(dir_ + "/run.txt");
    std::vector<std::string> args = {"serve", "--lakehouse", dir_, "--http", "127.0.0.1:0"};
    args.insert(args.end(), extra.begin(), extra.end());
    pid_ = Spawn(args, dir_ + "/serve.txt", env);
    port_ = WaitForPort(dir_ + "/serve.txt");
    EXPECT_GT(port_, 0) << ReadFile(dir_ + "/serve.txt");
  }
  ~Server() {
    kill(pid_, SIGTERM);
    EXPECT_EQ(Wait(pid_), 0) << ReadFile(dir_ + "/serve.txt");
  }
  int port() const { return port_; }
  // One request on a new connection from 127.0.0.1: the raw response.
  std::string Request(const std::string& raw) {
    const int fd = Connect(port_);
    Send(fd, raw);
    std::string r = ReadResponse(fd);
    ::close(fd);
    return r;
  }

 private:
  std::string dir_;
  pid_t pid_ = -1;
  int port_ = -1;
};

int StatusOf(const std::string& response) {
  return response.size() > 12 ? std::atoi(response.c_str() + 9) : 0;
}

// DNS rebinding: a page of evil.example rebinds its name to 127.0.0.1 and calls the API; its requests
// carry Host: evil.example (and Origin: http://evil.example on a POST). Before, any Host was answered.
TEST(HostileClients, AHostOrOriginThatIsNotThisServerIsRefused) {
  Server s({"--http-allowed-hosts", "lake.example.com"});
  const std::string port = std::to_string(s.port());
  EXPECT_EQ(StatusOf(s.Request("GET /api/v1/tables HTTP/1.1\r\nHost: evil.example:" + port + "\r\n\r\n")), 403);
  const std::string sql = R"({"sql":"SELECT count(*) FROM silver.orders"})";
  const std::string post = "POST /api/v1/sql HTTP/1.1\r\nHost: evil.example\r\nContent-Type: application/json\r\n"
                           "Content-Length: " + std::to_string(sql.size()) + "\r\n\r\n" + sql;
  const std::string refused = s.Request(post);
  EXPECT_EQ(StatusOf(refused), 403) << refused;
  EXPECT_NE(refused.find("--http-allowed-hosts"), std::string::npos) << refused;
  // The server's own names: IP literals, localhost, and the allowed names.
  for (const std::string& host :
       std::vector<std::string>{"127.0.0.1:" + port, "localhost:" + port, "[::1]:" + port, "LAKE.example.com"}) {
    EXPECT_EQ(StatusOf(s.Request("GET /api/v1/tables HTTP/1.1\r\nHost: " + host + "\r\n\r\n")), 200) << host;
  }
  // A POST from another site's page is refused by its Origin, even with an allowed Host.
  const std::string cross = "POST /api/v1/sql HTTP/1.1\r\nHost: 127.0.0.1:" + port +
                            "\r\nOrigin: http://evil.example\r\nContent-Type: application/json\r\nContent-Length: " +
                            std::to_string(sql.size()) + "\r\n\r\n" + sql;
  EXPECT_EQ(StatusOf(s.Request(cross)), 403);
  const std::string same = "POST /api/v1/sql HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\nOrigin: http://127.0.0.1:" +
                           port + "\r\nContent-Type: application/json\r\nContent-Length: " +
                           std::to_string(sql.size()) + "\r\n\r\n" + sql;
  EXPECT_EQ(StatusOf(s.Request(same)), 200) << s.Request(same);
  // A form's content type (what a cross-site form can send without CORS) is refused.
  const std::string form = "POST /api/v1/sql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
                           "Content-Length: " + std::to_string(sql.size()) + "\r\n\r\n" + sql;
  EXPECT_EQ(StatusOf(s.Request(form)), 415);
}

// 200 slow connections (a header byte every second, from another address) must not delay /healthz.
// Before, 60 slow connections against the 48-thread pool made /healthz fail for 40 s: each held a
// worker while it read a header. The connection caps turn away what is beyond them before any worker.
TEST(HostileClients, SlowConnectionsNeitherStarveTheServerNorOutliveTheHeaderTimeout) {
  Server s({"--http-max-connections-per-ip", "220", "--http-header-timeout-ms", "8000"});
  const auto opened = std::chrono::steady_clock::now();
  std::vector<int> slow;
  for (int i = 0; i < 200; ++i) {
    const int fd = Connect(s.port(), "127.0.0.2");
    ASSERT_GE(fd, 0);
    Send(fd, "GET /api/v1/tables HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
    slow.push_back(fd);
  }
  std::vector<double> ms;
  for (int i = 0; i < 100; ++i) {
    if (i % 10 == 0) {
      for (int fd : slow) Send(fd, "a");  // one more byte: still no end of header
    }
    const auto t0 = std::chrono::steady_clock::now();
    const std::string r = s.Request("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    ASSERT_EQ(StatusOf(r), 200) << r;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::sort(ms.begin(), ms.end());
  const double p99 = ms[98];
  std::printf("[ figures ] /healthz during 200 slow connections: p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", ms[50],
              p99, ms.back());
  EXPECT_LT(p99, 1000.0) << "far above the ~1 ms measured (docs/reliability.md), far below the 40 s outage before";
  // Beyond the per-address cap: answered 503 at once, before any worker.
  std::vector<int> extra;
  for (int i = 0; i < 30; ++i) extra.push_back(Connect(s.port(), "127.0.0.2"));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  int refused = 0;
  for (int fd : extra) {
    char buf[256];
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    refused += n > 12 && StatusOf(std::string(buf, static_cast<size_t>(n))) == 503;
  }
  EXPECT_EQ(refused, 10) << "220 allowed from one address, 230 opened";
  EXPECT_LT(std::chrono::steady_clock::now() - opened, std::chrono::seconds(7)) << "the checks above ran too slowly";
  // The slow ones are closed once the header timeout passes (8 s here).
  std::this_thread::sleep_until(opened + std::chrono::milliseconds(8600));
  int closed = 0;
  for (int fd : slow) {
    char c;
    pollfd p{fd, POLLIN, 0};
    // Closed with the slow bytes unread, the server's end sends a reset rather than a FIN.
    if (::poll(&p, 1, 1000) > 0) {
      const ssize_t n = ::recv(fd, &c, 1, MSG_DONTWAIT);
      closed += n == 0 || (n < 0 && errno == ECONNRESET);
    }
    ::close(fd);
  }
  for (int fd : extra) ::close(fd);
  EXPECT_EQ(closed, 200);
}

// Every keep-alive request after the first used to take about 42 ms (Nagle's algorithm on the server
// against the client's delayed ACK): TCP_NODELAY on every connection.
TEST(HostileClients, KeepAliveRequestsAreAnsweredWithoutTheNagleDelay) {
  Server s;
  const int fd = Connect(s.port());
  std::vector<double> ms;
  for (int i = 0; i < 40; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    Send(fd, "GET /api/v1/tables HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    const std::string r = ReadResponse(fd);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    ASSERT_EQ(StatusOf(r), 200) << "request " << i << ": " << r;
  }
  ::close(fd);
  std::sort(ms.begin(), ms.end());
  std::printf("[ figures ] 40 requests on one keep-alive connection: median %.1f ms, max %.1f ms\n", ms[20], ms.back());
  EXPECT_LT(ms[20], 20.0) << "42 ms each before";
}

// The session cookie a dashboard link sets: HttpOnly, SameSite=Strict, an expiry, and Secure when TLS
// is in front (a setting, or X-Forwarded-Proto: https). Before it had no expiry and no Secure.
TEST(HostileClients, TheSessionCookieIsStrictExpiresAndIsSecureBehindTls) {
  const std::string token = "0123456789abcdef0123456789abcdef";
  Server s({"--http-session-max-age-s", "3600"}, {{"LAKESTREAM_HTTP_TOKEN", token}});
  std::string r = s.Request("GET /?access_token=" + token + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  EXPECT_EQ(StatusOf(r), 303) << r;
  EXPECT_NE(r.find("Set-Cookie: lakestream_token=" + token + "; Path=/; HttpOnly; SameSite=Strict; Max-Age=3600\r\n"),
            std::string::npos) << r;
  r = s.Request("GET /?access_token=" + token + " HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-Proto: https\r\n\r\n");
  EXPECT_NE(r.find("Max-Age=3600; Secure\r\n"), std::string::npos) << r;
}

// One SQL request built a 300 MB answer and pushed the server to 1.27 GB, and 600 large rows ran 86 s
// against a 60 s limit. The answer is capped in bytes (16 MiB by default) and says so; the time limit
// holds while rows are written out.
TEST(HostileClients, AnSqlAnswerIsCappedInBytesAndSaysSo) {
  Server s;
  httplib::Client c("127.0.0.1", s.port());
  c.set_read_timeout(60, 0);
  auto r = c.Post("/api/v1/sql", R"J({"sql":"SELECT repeat('x', 1000000) AS big FROM range(300)","max_rows":100000})J",
                  "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_LE(r->body.size(), (16u << 20) + 4096);
  EXPECT_NE(r->body.find(R"("truncated":true,"truncated_by":"bytes")"), std::string::npos) << r->body.substr(r->body.size() - 300);
  r = c.Post("/api/v1/sql", R"J({"sql":"SELECT repeat('x', 1000) AS s FROM range(100)","format":"csv","max_bytes":20000})J",
             "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->get_header_value("X-Lakestream-Truncated"), "true");
  EXPECT_EQ(r->get_header_value("X-Lakestream-Truncated-By"), "bytes");
  EXPECT_LE(r->body.size(), 20000u);
  r = c.Post("/api/v1/sql", R"({"sql":"SELECT 1","max_bytes":999999999})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
}

}  // namespace
}  // namespace lakestream::e2e
