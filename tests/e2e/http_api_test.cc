// The HTTP API, /metrics and the event stream of the real binary (docs/api.md; issue #5):
//   - Api.*: `lakestream serve` over a lakehouse written by `lakestream run` (first 9,999 lines):
//     every endpoint, the filters against an independent DuckDB recount of silver, bad parameters,
//     path traversal, methods, and the access token on and off;
//   - Live.*: a `lakestream run --follow` replaying at a steady pace: /metrics parsed by the
//     Prometheus client library's parser, and 100 concurrent event streams that stay connected while
//     API requests are answered (latency printed, not asserted).
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <simdjson.h>
#include <sys/socket.h>

#include <algorithm>
#include <regex>

#include "e2e/e2e_util.h"

namespace lakestream::e2e {
namespace {

// A raw HTTP/1.1 GET (no client-side path normalisation); returns the status code, or -1.
int RawGetStatus(int port, const std::string& raw_path) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    close(fd);
    return -1;
  }
  std::string req = "GET " + raw_path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  (void)!write(fd, req.data(), req.size());
  char buf[256] = {};
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n < 12) return -1;
  return std::atoi(buf + 9);
}

simdjson::dom::element Parse(simdjson::dom::parser& p, const std::string& body) {
  simdjson::dom::element doc;
  EXPECT_EQ(p.parse(body).get(doc), simdjson::SUCCESS) << body;
  return doc;
}

class Api : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(TempDir());
    const std::string lake = *dir_ + "/lake";
    pid_t run = Spawn({"run", "--lakehouse", lake, "--input", kUci, "--rate", "max", "--no-http"}, *dir_ + "/run.log");
    ASSERT_EQ(Wait(run), 0) << ReadFile(*dir_ + "/run.log");
    serve_ = Spawn({"serve", "--lakehouse", lake, "--http", "127.0.0.1:0"}, *dir_ + "/serve.log");
    port_ = WaitForPort(*dir_ + "/serve.log");
    ASSERT_GT(port_, 0) << ReadFile(*dir_ + "/serve.log");
  }
  static void TearDownTestSuite() {
    if (serve_ > 0) {
      kill(serve_, SIGTERM);
      EXPECT_EQ(Wait(serve_), 0) << ReadFile(*dir_ + "/serve.log");
    }
    std::filesystem::remove_all(*dir_);
  }
  static httplib::Result Get(const std::string& path) {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(30, 0);
    return c.Get(path.c_str());
  }
  // GET that must answer 200 with JSON; returns the body.
  static std::string GetJson(const std::string& path) {
    auto r = Get(path);
    EXPECT_TRUE(r) << path;
    if (!r) return "{}";
    EXPECT_EQ(r->status, 200) << path << ": " << r->body;
    EXPECT_NE(r->get_header_value("Content-Type").find("application/json"), std::string::npos) << path;
    return r->body;
  }
  static std::string* dir_;
  static pid_t serve_;
  static int port_;
};
std::string* Api::dir_ = nullptr;
pid_t Api::serve_ = -1;
int Api::port_ = -1;

TEST_F(Api, EveryEndpointAnswers) {
  simdjson::dom::parser p;
  for (const char* path : {"/api/v1", "/api/v1/pipelines", "/api/v1/tables", "/api/v1/tables/gold/sales_daily?history=3",
                           "/api/v1/orders/kpis", "/api/v1/orders/revenue-by-day", "/api/v1/orders/revenue-by-country",
                           "/api/v1/orders/top-products", "/api/v1/orders/countries", "/api/v1/quarantine"}) {
    SCOPED_TRACE(path);
    std::string body = GetJson(path);
    Parse(p, body);
  }
  // serve runs no pipeline
  EXPECT_EQ(GetJson("/api/v1/pipelines"), R"({"pipelines":[]})");
  auto r = Get("/api/v1/pipelines/orders");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  // the dashboard page and its assets
  auto page = Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("/assets/app.js"), std::string::npos);
  EXPECT_EQ(Get("/pipeline")->body, page->body);
  auto js = Get("/assets/app.js");
  ASSERT_TRUE(js);
  EXPECT_EQ(js->status, 200);
  EXPECT_NE(js->get_header_value("Content-Type").find("javascript"), std::string::npos);
  EXPECT_EQ(Get("/healthz")->status, 200);
  EXPECT_EQ(Get("/readyz")->status, 200);
}

TEST_F(Api, TablesReportEveryLayerWithVersionFilesBytesAndLastCommit) {
  simdjson::dom::parser p;
  auto doc = Parse(p, GetJson("/api/v1/tables"));
  std::vector<std::string> names;
  for (auto t : doc["tables"].get_array()) {
    names.emplace_back(std::string_view(t["name"]));
    EXPECT_GE(int64_t(t["version"]), 0);
    EXPECT_GE(int64_t(t["files"]), 0);
    if (names.back() == "bronze/orders") {
      EXPECT_EQ(int64_t(t["rows"]), 9999);
      EXPECT_GT(int64_t(t["size_bytes"]), 0);
      EXPECT_EQ(std::string_view(t["last_commit"]["operation"]), "STREAMING UPDATE");
    }
  }
  EXPECT_EQ(names.front(), "bronze/orders");
  for (const char* t : {"silver/orders", "silver/orders_quarantine", "gold/sales_daily", "gold/product_sales_daily",
                        "gold/customer_rfm"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), t), names.end()) << t;
  }
  auto one = Parse(p, GetJson("/api/v1/tables/silver/orders?history=2"));
  EXPECT_EQ(one["history"].get_array().size(), 2u);
  EXPECT_EQ(Get("/api/v1/tables/gold/nope")->status, 404);
}

// KPIs per country and date range equal an independent count over silver's rows (the gold tables'
// definitions: docs/pipelines/orders.md "Gold").
TEST_F(Api, KpisAndPanelsEqualARecountOfSilverUnderEachFilter) {
  Lake lake(*dir_ + "/lake");
  const std::string silver = lake.Scan("silver/orders");
  simdjson::dom::parser p, p_days, p_countries, p_top;  // one per live document
  struct Case {
    std::string query, where;
  };
  for (const Case& c : std::vector<Case>{{"", "true"},
                                         {"country=France", "country = 'France'"},
                                         {"from=2010-12-02&to=2010-12-03", "order_date BETWEEN '2010-12-02' AND '2010-12-03'"},
                                         {"country=United%20Kingdom&from=2010-12-03",
                                          "country = 'United Kingdom' AND order_date >= '2010-12-03'"},
                                         {"product=85123A", "product_no = '85123A'"}}) {
    SCOPED_TRACE(c.query);
    auto k = Parse(p, GetJson("/api/v1/orders/kpis?" + c.query));
    const std::string sale = "NOT is_cancellation AND NOT is_adjustment AND quantity > 0 AND " + c.where;
    EXPECT_EQ(std::to_string(int64_t(k["orders"])),
              lake.One("SELECT count(DISTINCT transaction_no) FROM " + silver + " WHERE " + sale));
    EXPECT_EQ(std::to_string(int64_t(k["units"])), lake.One("SELECT sum(quantity) FROM " + silver + " WHERE " + sale));
    EXPECT_NEAR(double(k["revenue_gbp"]),
                std::stod(lake.One("SELECT sum(line_revenue_gbp)::DOUBLE FROM " + silver + " WHERE " + sale)), 1e-6);
    // revenue by day sums to the KPI; with a country, revenue by country is that country alone
    auto days = Parse(p_days, GetJson("/api/v1/orders/revenue-by-day?" + c.query));
    double sum = 0;
    for (auto d : days["days"].get_array()) sum += double(d["revenue_gbp"]);
    EXPECT_NEAR(sum, double(k["revenue_gbp"]), 1e-6);
    auto countries = Parse(p_countries, GetJson("/api/v1/orders/revenue-by-country?" + c.query));
    if (c.query.find("country=") != std::string::npos) {
      ASSERT_EQ(countries["countries"].get_array().size(), 1u);
    }
    auto top = Parse(p_top, GetJson("/api/v1/orders/top-products?limit=3&" + c.query));
    auto products = top["products"].get_array();
    EXPECT_LE(products.size(), 3u);
    if (products.size() > 0) {
      std::string best(std::string_view(products.at(0)["product_no"]));
      EXPECT_EQ(best, lake.One("SELECT product_no FROM " + silver + " WHERE " + sale +
                               " GROUP BY product_no ORDER BY sum(line_revenue_gbp) DESC, product_no LIMIT 1"));
    }
  }
}

TEST_F(Api, BadParametersGet400WithAMessageNamingTheParameter) {
  struct Case {
    std::string path, mentions;
  };
  for (const Case& c : std::vector<Case>{
           {"/api/v1/orders/kpis?from=2010-13-01", "'from'"},
           {"/api/v1/orders/kpis?from=2011-02-30", "'from'"},
           {"/api/v1/orders/kpis?from=yesterday", "YYYY-MM-DD"},
           {"/api/v1/orders/kpis?from=2011-02-01&to=2011-01-01", "after"},
           {"/api/v1/orders/kpis?colour=red", "unknown query parameter 'colour'"},
           {"/api/v1/orders/kpis?country=France&country=Spain", "twice"},
           {"/api/v1/orders/kpis?country=%3Cscript%3E", "'country'"},
           {"/api/v1/orders/kpis?country=x%27%20OR%201%3D1%20--%20", "'country'"},
           {"/api/v1/orders/kpis?product=12%2034", "'product'"},
           {"/api/v1/orders/top-products?limit=0", "'limit'"},
           {"/api/v1/orders/top-products?limit=1e3", "'limit'"},
           {"/api/v1/orders/kpis?limit=5", "unknown query parameter 'limit'"},
           {"/api/v1/quarantine?limit=-1", "'limit'"},
           {"/api/v1/quarantine?rule=a%20b", "'rule'"},
           {"/api/v1/tables?x=1", "unknown query parameter 'x'"},
           {"/api/v1/tables/silver/orders?history=many", "history"},
       }) {
    SCOPED_TRACE(c.path);
    auto r = Get(c.path);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << r->body;
    simdjson::dom::parser p;
    auto doc = Parse(p, r->body);
    std::string message{std::string_view(doc["error"]["message"])};
    EXPECT_NE(message.find(c.mentions), std::string::npos) << message;
  }
}

TEST_F(Api, PathTraversalAndUnknownPathsGet404) {
  for (const char* path : {"/../../etc/passwd", "/assets/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
                           "/assets/..%2f..%2f..%2fetc%2fpasswd", "/assets/app.js/../../CMakeLists.txt", "/nope",
                           "/api/v1/nope"}) {
    SCOPED_TRACE(path);
    EXPECT_EQ(RawGetStatus(port_, path), 404);
  }
}

TEST_F(Api, OnlyGetIsAllowed) {
  httplib::Client c("127.0.0.1", port_);
  auto r = c.Post("/api/v1/tables", "{}", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->get_header_value("Allow"), "GET, HEAD");
  auto d = c.Delete("/api/v1/tables/bronze/orders");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->status, 405);
}

TEST_F(Api, SqlEndpointRunsReadOnlyStatementsByPost) {
  httplib::Client c("127.0.0.1", port_);
  c.set_read_timeout(30, 0);
  auto r = c.Post("/api/v1/sql", R"({"sql": "SELECT count(*) AS n FROM silver.orders", "format": "csv"})",
                  "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto direct = GetJson("/api/v1/tables/silver/orders");
  simdjson::dom::parser p;
  EXPECT_EQ(r->body, "n\n" + std::to_string(int64_t(Parse(p, direct)["rows"])) + "\n");
  EXPECT_EQ(r->get_header_value("X-Lakestream-Tables").rfind("silver.orders@v", 0), 0u);
  auto get = Get("/api/v1/sql");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 405);
  EXPECT_EQ(get->get_header_value("Allow"), "POST");
  auto form = c.Post("/api/v1/sql", "sql=SELECT+1", "application/x-www-form-urlencoded");
  ASSERT_TRUE(form);
  EXPECT_EQ(form->status, 415);
  auto refused = c.Post("/api/v1/sql", R"({"sql": "COPY silver.orders TO 'x.csv'"})", "application/json");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 400);
  EXPECT_NE(refused->body.find("COPY statements are refused"), std::string::npos) << refused->body;
}

TEST_F(Api, AccessTokenIsRequiredBeyondLoopbackAndCheckedOnEveryRequest) {
  const std::string dir = *dir_;
  // No token: refuses to start, and says what to do.
  pid_t refused = Spawn({"serve", "--lakehouse", dir + "/lake", "--http", "0.0.0.0:0"}, dir + "/refused.log");
  EXPECT_EQ(Wait(refused), 1);
  EXPECT_NE(ReadFile(dir + "/refused.log").find("needs an access token"), std::string::npos) << ReadFile(dir + "/refused.log");
  // A too short token is refused too.
  pid_t weak = Spawn({"serve", "--lakehouse", dir + "/lake", "--http", "0.0.0.0:0"}, dir + "/weak.log",
                            {{"LAKESTREAM_HTTP_TOKEN", "short"}});
  EXPECT_EQ(Wait(weak), 1);

  const std::string token = "s3cret-token-0123456789abcdef";
  { std::ofstream(dir + "/token") << token << "\n"; }
  pid_t pid = Spawn({"serve", "--lakehouse", dir + "/lake", "--http", "0.0.0.0:0", "--http-token-file", dir + "/token"},
                    dir + "/auth.log");
  int port = WaitForPort(dir + "/auth.log");
  ASSERT_GT(port, 0) << ReadFile(dir + "/auth.log");
  httplib::Client c("127.0.0.1", port);
  for (const char* path : {"/", "/pipeline", "/assets/app.js", "/api/v1/tables", "/api/v1/orders/kpis",
                           "/api/v1/stream", "/metrics"}) {
    SCOPED_TRACE(path);
    auto r = c.Get(path);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401);
    EXPECT_EQ(r->body.find(token), std::string::npos);
    auto wrong = c.Get(path, {{"Authorization", "Bearer " + token + "x"}});
    ASSERT_TRUE(wrong);
    EXPECT_EQ(wrong->status, 401);
  }
  auto ok = c.Get("/api/v1/tables", {{"Authorization", "Bearer " + token}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(c.Get("/healthz")->status, 200);  // probes need no token
  // The dashboard link with ?access_token= sets an HttpOnly cookie and drops the token from the URL.
  auto link = c.Get("/?access_token=" + token + "&country=France");
  ASSERT_TRUE(link);
  EXPECT_EQ(link->status, 303);
  EXPECT_EQ(link->get_header_value("Location"), "/?country=France");
  EXPECT_NE(link->get_header_value("Set-Cookie").find("HttpOnly"), std::string::npos);
  auto with_cookie = c.Get("/api/v1/orders/kpis", {{"Cookie", "lakestream_token=" + token}});
  ASSERT_TRUE(with_cookie);
  EXPECT_EQ(with_cookie->status, 200);
  // The token appears nowhere: not in the metrics, not in the log.
  auto metrics = c.Get("/metrics", {{"Authorization", "Bearer " + token}});
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_EQ(metrics->body.find(token), std::string::npos);
  kill(pid, SIGTERM);
  EXPECT_EQ(Wait(pid), 0);
  EXPECT_EQ(ReadFile(dir + "/auth.log").find(token), std::string::npos);
}

// --- a live pipeline ---

class Live : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(TempDir());
    run_ = Spawn({"run", "--lakehouse", *dir_ + "/lake", "--input", kUci, "--rate", "200", "--follow",
                  "--gold-interval-ms", "1000", "--http", "127.0.0.1:0"},
                 *dir_ + "/run.log");
    port_ = WaitForPort(*dir_ + "/run.log");
    ASSERT_GT(port_, 0) << ReadFile(*dir_ + "/run.log");
    // Wait until the pipeline has committed something, gold included.
    httplib::Client c("127.0.0.1", port_);
    for (int i = 0; i < 600; ++i) {
      auto r = c.Get("/api/v1/pipelines");
      auto gold = c.Get("/api/v1/orders/top-products");
      if (r && r->body.find("\"bronze_rows\":0,") == std::string::npos && r->body.find("bronze_rows") != std::string::npos &&
          gold && gold->status == 200) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  static void TearDownTestSuite() {
    kill(run_, SIGTERM);
    EXPECT_EQ(Wait(run_), 0) << ReadFile(*dir_ + "/run.log");
    std::filesystem::remove_all(*dir_);
  }
  static std::string* dir_;
  static pid_t run_;
  static int port_;
};
std::string* Live::dir_ = nullptr;
pid_t Live::run_ = -1;
int Live::port_ = -1;

TEST_F(Live, MetricsParseAsPrometheusExpositionWithThePipelineFamilies) {
  httplib::Client c("127.0.0.1", port_);
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // a few samples
  auto r = c.Get("/metrics");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_NE(r->get_header_value("Content-Type").find("text/plain; version=0.0.4"), std::string::npos);
  const std::string file = *dir_ + "/metrics.txt";
  { std::ofstream(file) << r->body; }
  // The Prometheus client library's own parser (python3-prometheus-client) reads every family.
  const std::string out = *dir_ + "/families.txt";
  const std::string cmd = "/usr/bin/python3 " + kSource + "/tests/e2e/parse_metrics.py " + file + " > " + out + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << ReadFile(out);
  const std::string families = ReadFile(out);
  for (const char* f : {"lakestream_layer_events_in_total counter", "lakestream_layer_events_out_total counter",
                        "lakestream_consumed_bytes_total counter", "lakestream_consumer_lag_messages gauge",
                        "lakestream_commit_duration_seconds histogram", "lakestream_freshness_seconds histogram",
                        "lakestream_table_version gauge", "lakestream_table_files gauge",
                        "lakestream_quarantined_records_total counter", "lakestream_http_requests_total counter"}) {
    EXPECT_NE(families.find(f), std::string::npos) << f << "\n" << families;
  }
  // Values that must have moved by now.
  EXPECT_NE(families.find("sample lakestream_layer_events_out_total{layer=bronze,pipeline=orders} "), std::string::npos);
  EXPECT_EQ(families.find("sample lakestream_layer_events_out_total{layer=bronze,pipeline=orders} 0.0\n"), std::string::npos)
      << families;
}

// 100 event-stream clients stay connected and keep receiving an event each second while API requests
// are answered. The latencies are printed (docs/api.md), never asserted.
TEST_F(Live, HundredEventStreamsStayConnectedWhileTheApiAnswers) {
  constexpr int kClients = 100;
  std::vector<int> fds;
  for (int i = 0; i < kClients; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port_));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    std::string req = "GET /api/v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n";
    ASSERT_EQ(write(fd, req.data(), req.size()), static_cast<ssize_t>(req.size()));
    fds.push_back(fd);
  }
  std::vector<int> events(kClients, 0), closed(kClients, 0);
  std::vector<std::string> tails(kClients);
  std::atomic<bool> done{false};
  std::string last_event;
  std::thread reader([&] {
    std::vector<pollfd> pfds(kClients);
    for (int i = 0; i < kClients; ++i) pfds[i] = {fds[i], POLLIN, 0};
    char buf[65536];
    while (!done.load()) {
      if (poll(pfds.data(), pfds.size(), 100) <= 0) continue;
      for (int i = 0; i < kClients; ++i) {
        if (!(pfds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t n = read(fds[i], buf, sizeof(buf));
        if (n <= 0) {
          closed[i] = 1;
          pfds[i].fd = -1;
          continue;
        }
        tails[i].append(buf, static_cast<size_t>(n));
        size_t pos;
        while ((pos = tails[i].find("event: status\ndata: ")) != std::string::npos) {
          size_t end = tails[i].find("\n\n", pos);
          if (end == std::string::npos) break;
          ++events[i];
          if (i == 0) last_event = tails[i].substr(pos + 20, end - pos - 20);
          tails[i].erase(0, end + 2);
        }
      }
    }
  });
  // API requests while the streams are open: 10 s of sequential GETs over fresh connections.
  httplib::Client c("127.0.0.1", port_);
  std::vector<double> latency_ms;
  int failures = 0;
  const auto t_end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  const char* paths[] = {"/api/v1/orders/kpis", "/api/v1/tables", "/api/v1/pipelines", "/api/v1/orders/top-products",
                         "/metrics"};
  for (int i = 0; std::chrono::steady_clock::now() < t_end; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    auto r = c.Get(paths[i % 5]);
    latency_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    if (!r || r->status != 200) {
      ++failures;
      std::printf("[ failure ] %s: %s\n", paths[i % 5],
                  r ? (std::to_string(r->status) + " " + r->body.substr(0, 200)).c_str()
                    : httplib::to_string(r.error()).c_str());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  done = true;
  reader.join();
  for (int fd : fds) close(fd);

  EXPECT_EQ(failures, 0);
  int min_events = *std::min_element(events.begin(), events.end());
  int open = kClients - static_cast<int>(std::count(closed.begin(), closed.end(), 1));
  EXPECT_EQ(open, kClients) << "every stream stays connected";
  EXPECT_GE(min_events, 8) << "every stream gets about one event a second (10 s)";
  // The server counted them all at once.
  simdjson::dom::parser p;
  auto ev = Parse(p, last_event);
  EXPECT_GE(int64_t(ev["stream_clients"]), kClients);
  std::sort(latency_ms.begin(), latency_ms.end());
  auto pct = [&](double q) { return latency_ms[static_cast<size_t>(q * static_cast<double>(latency_ms.size() - 1))]; };
  std::printf("[ figures ] %d event streams open, each got >= %d events in ~10.5 s; %zu API requests meanwhile: "
              "p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
              open, min_events, latency_ms.size(), pct(0.5), pct(0.99), latency_ms.back());
}

}  // namespace
}  // namespace lakestream::e2e
