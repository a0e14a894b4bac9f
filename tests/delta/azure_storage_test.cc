// The Azure Blob store (src/lake/storage/azure_blob_storage.cc): URI forms and SharedKey's
// string-to-sign offline; against Azurite: paged listings, block uploads, ranged reads, the cache,
// credentials kept out of errors; and through a fault-injecting proxy: 503 with Retry-After, dropped
// connections, and a commit whose outcome is unknown, resolved both when the blob was written and
// when it was not (and when another writer's blob took the name).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "azurite.h"
#include "lake/columnar/columnar.h"
#include "lake/delta/delta_table.h"
#include "lake/delta/delta_writer.h"
#include "lake/storage/azure_blob_storage.h"
#include "support/status_testing.h"

namespace lakestream {
namespace {

TEST(AzureLocation, AcceptsTheUriFormsOfDeltaRsAndSpark) {
  struct Case {
    const char* uri;
    const char* account;
    const char* container;
    const char* prefix;
    bool dfs;
  };
  for (const Case& c : std::vector<Case>{
           {"az://lake/shop/silver", "", "lake", "shop/silver", false},
           {"azure://lake/shop/", "", "lake", "shop", false},
           {"adl://lake", "", "lake", "", false},
           {"abfs://lake/a/b", "", "lake", "a/b", false},
           {"abfss://lake@acct.dfs.core.windows.net/shop/gold", "acct", "lake", "shop/gold", true},
           {"abfss://lake@acct.blob.core.windows.net/shop", "acct", "lake", "shop", false},
           {"https://acct.blob.core.windows.net/lake/shop", "acct", "lake", "shop", false},
           {"https://acct.dfs.core.windows.net/lake/x/y", "acct", "lake", "x/y", true},
           {"abfss://lake@acct.dfs.core.chinacloudapi.cn/p", "acct", "lake", "p", true},
       }) {
    auto loc = ParseAzureLocation(c.uri);
    ASSERT_TRUE(loc.ok()) << c.uri << ": " << loc.status().ToString();
    EXPECT_EQ(loc->account, c.account) << c.uri;
    EXPECT_EQ(loc->container, c.container) << c.uri;
    EXPECT_EQ(loc->prefix, c.prefix) << c.uri;
    EXPECT_EQ(loc->dfs_host, c.dfs) << c.uri;
    EXPECT_TRUE(IsAzureLocation(c.uri)) << c.uri;
  }
  for (const char* bad : {"az://", "abfss://lake@example.com/p", "https://example.com/lake/p", "s3://b/k"}) {
    auto loc = ParseAzureLocation(bad);
    ASSERT_FALSE(loc.ok()) << bad;
    EXPECT_EQ(loc.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(loc.status().message().find("az://<container>/<path>"), std::string::npos) << loc.status().message();
  }
  auto with_sas = ParseAzureLocation("https://acct.blob.core.windows.net/lake/x?sv=2021&sig=TOPSECRET");
  ASSERT_FALSE(with_sas.ok());
  EXPECT_NE(with_sas.status().message().find("AZURE_STORAGE_SAS_TOKEN"), std::string::npos);
  EXPECT_EQ(with_sas.status().message().find("TOPSECRET"), std::string::npos);
  EXPECT_FALSE(IsAzureLocation("/tmp/lake"));
  EXPECT_FALSE(IsAzureLocation("file:///tmp/lake"));
  EXPECT_FALSE(IsAzureLocation("https://example.com/lake"));
  EXPECT_EQ(JoinLocation("az://lake/shop/", "silver/orders"), "az://lake/shop/silver/orders");
}

TEST(AzureSharedKey, SignsTheCanonicalStringOfTheRestApi) {
  // Azure Storage REST, "Authorize with Shared Key": 12 standard header lines (Content-Length
  // empty when 0), x-ms-* headers sorted, then /account/path and the sorted, decoded query.
  const std::string s = SharedKeyStringToSign(
      "PUT",
      {{"x-ms-version", "2021-08-06"}, {"If-None-Match", "*"}, {"x-ms-blob-type", "BlockBlob"},
       {"Content-Length", "0"}, {"x-ms-date", "Sat, 21 Nov 2026 10:00:00 GMT"}},
      "acct", "/lake/shop/_delta_log/00000000000000000000.json", {{"comp", "list"}, {"prefix", "a b/"}});
  EXPECT_EQ(s,
            "PUT\n\n\n\n\n\n\n\n\n*\n\n\n"
            "x-ms-blob-type:BlockBlob\nx-ms-date:Sat, 21 Nov 2026 10:00:00 GMT\nx-ms-version:2021-08-06\n"
            "/acct/lake/shop/_delta_log/00000000000000000000.json\ncomp:list\nprefix:a b/");
  auto bad = SharedKeySignature("not base64!", s);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().find("not base64!"), std::string::npos) << "the key must not be echoed";
  auto sig = SharedKeySignature("a2V5", "text");  // key "key"
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(*sig, "avqQRqlXnK0UOjhMG1ZLmiUNJ9b2pj+fIL86dZTJ4sY=");  // `printf text | openssl dgst -sha256 -hmac key -binary | base64`
}

// Options pointing at Azurite (started for this process), optionally through `endpoint`.
AzureOptions EmulatorOptions(const std::string& endpoint = "") {
  std::string error;
  const std::string azurite = testing::StartAzurite(&error);
  EXPECT_FALSE(azurite.empty()) << error;
  AzureOptions o = AzureOptionsFromEnvironment();
  o.use_emulator = true;
  o.endpoint = endpoint.empty() ? azurite : endpoint;
  o.initial_backoff_ms = 20;
  o.max_backoff_ms = 200;
  return o;
}

std::string NewLocation(const std::string& name) { return "az://lakestream-tests/" + name + "-" + RandomUuid().substr(0, 8); }

TEST(AzureBlobStorage, PagesListingsUploadsInBlocksAndReadsRanges) {
  AzureOptions o = EmulatorOptions();
  o.list_page_size = 7;
  o.block_size_bytes = 64 * 1024;
  o.upload_concurrency = 3;
  SetAzureOptions(o);
  const std::string location = NewLocation("blobs");
  auto store = OpenStorage(location, true);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Storage& s = **store;
  for (int i = 0; i < 20; ++i) ASSERT_OK(s.Write("d/f" + std::to_string(100 + i), std::to_string(i)));
  ASSERT_OK(s.Write("d/sub/deep", "x"));
  ASSERT_OK(s.Write("d/with space é", "y"));
  auto one_level = s.List("d");
  ASSERT_TRUE(one_level.ok());
  EXPECT_EQ(one_level->size(), 21u);  // 20 + the name with a space, over 4 pages of 7
  auto all = s.ListRecursive("d");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 22u);
  auto dirs = s.ListDirectories("d");
  ASSERT_TRUE(dirs.ok());
  EXPECT_EQ(*dirs, std::vector<std::string>{"sub"});
  auto spaced = s.Read("d/with space é");
  ASSERT_TRUE(spaced.ok()) << spaced.status().ToString();
  EXPECT_EQ(*spaced, "y");

  // 300 KiB + 5 bytes: five blocks of 64 KiB, three in flight.
  std::string big;
  for (int i = 0; big.size() < 300 * 1024 + 5; ++i) big += std::to_string(i) + ",";
  big.resize(300 * 1024 + 5);
  auto staged = s.StagingPath("data/part-0.parquet");
  ASSERT_TRUE(staged.ok());
  {
    std::ofstream out(*staged, std::ios::binary);
    out << big;
  }
  ASSERT_OK(s.PutFile("data/part-0.parquet", *staged));
  auto st = s.Stat("data/part-0.parquet");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->size_bytes, static_cast<int64_t>(big.size()));
  auto range = s.ReadRange("data/part-0.parquet", 70000, 100);
  ASSERT_TRUE(range.ok());
  EXPECT_EQ(*range, big.substr(70000, 100));
  auto tail = s.ReadRange("data/part-0.parquet", static_cast<int64_t>(big.size()) - 3, 100);
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(*tail, big.substr(big.size() - 3));
  // A second store (another process's view) fetches the file into its cache by ranges.
  AzureOptions other = o;
  other.cache_dir = "/tmp/lakestream-azure-cache-" + RandomUuid();
  SetAzureOptions(other);
  auto reader = OpenStorage(location, false);
  ASSERT_TRUE(reader.ok());
  auto local = (*reader)->LocalFile("data/part-0.parquet");
  ASSERT_TRUE(local.ok()) << local.status().ToString();
  std::ifstream in(*local, std::ios::binary);
  std::string copy((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(copy, big);
  EXPECT_EQ(local->rfind(other.cache_dir, 0), 0u) << *local;
  ASSERT_OK((*reader)->Delete("data/part-0.parquet"));
  EXPECT_EQ((*reader)->Stat("data/part-0.parquet").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(OpenStorage(location + "/nothing-here", false).status().code(), StatusCode::kNotFound);
}

TEST(AzureBlobStorage, CredentialsNeverAppearInErrors) {
  AzureOptions o = EmulatorOptions();
  o.account_key = "d3JvbmcgYnV0IHdlbGwgZm9ybWVkIGtleQ==";  // base64 of a wrong key
  o.retry_budget_ms = 0;
  SetAzureOptions(o);
  auto store = OpenStorage(NewLocation("denied"), true);
  ASSERT_FALSE(store.ok());
  const std::string msg = store.status().ToString();
  EXPECT_NE(msg.find("403"), std::string::npos) << msg;
  EXPECT_NE(msg.find("AZURE_STORAGE_ACCOUNT_KEY"), std::string::npos) << msg;
  EXPECT_EQ(msg.find(o.account_key), std::string::npos) << msg;
  o.account_key.clear();
  o.use_emulator = false;
  o.account_name = "devstoreaccount1";
  o.sas_token = "?sv=2021-08-06&sig=TOPSECRETSIGNATURE";
  SetAzureOptions(o);
  auto sas = OpenStorage(NewLocation("sas"), false);
  ASSERT_FALSE(sas.ok());
  EXPECT_EQ(sas.status().ToString().find("TOPSECRET"), std::string::npos) << sas.status().ToString();
}

// ---- a fault-injecting HTTP proxy in front of Azurite ----

enum class Fault {
  kForward,              // relay the request and the answer
  kBusy,                 // answer 503 with Retry-After: 1, do not forward
  kDropBefore,           // close the connection without forwarding (the request never arrived)
  kDropAfter,            // forward, then close without answering (written, outcome unknown)
  kErrorAfter,           // forward, then answer 500 (written, outcome unknown)
  kErrorBefore,          // answer 500 without forwarding (not written, outcome unknown)
  kOtherWriterFirst,     // forward the same request with another body, then answer 500
};

// One request per connection: the proxy adds "Connection: close" upstream and closes after answering.
class FaultProxy {
 public:
  using Plan = std::function<Fault(const std::string& method, const std::string& target)>;
  FaultProxy(int upstream_port, Plan plan) : upstream_(upstream_port), plan_(std::move(plan)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    ::listen(fd_, 64);
    thread_ = std::thread([this] { Accept(); });
  }
  ~FaultProxy() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
    for (auto& t : workers_) t.join();
  }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_) + "/devstoreaccount1"; }
  std::vector<std::pair<std::string, Fault>> log() {
    std::lock_guard<std::mutex> lock(mu_);
    return log_;
  }
  std::vector<std::chrono::steady_clock::time_point> times() {
    std::lock_guard<std::mutex> lock(mu_);
    return times_;
  }

 private:
  static bool ReadRequest(int fd, std::string* head, std::string* body) {
    std::string buf;
    char c[65536];
    size_t end;
    while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
      ssize_t n = ::recv(fd, c, sizeof c, 0);
      if (n <= 0) return false;
      buf.append(c, static_cast<size_t>(n));
    }
    *head = buf.substr(0, end + 2);
    *body = buf.substr(end + 4);
    size_t length = 0;
    std::string lower = *head;
    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (size_t p = lower.find("content-length:"); p != std::string::npos) length = std::stoul(lower.substr(p + 15));
    while (body->size() < length) {
      ssize_t n = ::recv(fd, c, sizeof c, 0);
      if (n <= 0) return false;
      body->append(c, static_cast<size_t>(n));
    }
    return true;
  }
  static void SendAll(int fd, const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }
  std::string Upstream(const std::string& head, const std::string& body) {
    int up = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(upstream_));
    if (::connect(up, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(up);
      return "";
    }
    SendAll(up, head + "Connection: close\r\n\r\n" + body);
    std::string answer;
    char c[65536];
    for (ssize_t n; (n = ::recv(up, c, sizeof c, 0)) > 0;) answer.append(c, static_cast<size_t>(n));
    ::close(up);
    return answer;
  }
  void Serve(int client) {
    std::string head, body;
    if (!ReadRequest(client, &head, &body)) {
      ::close(client);
      return;
    }
    const std::string line = head.substr(0, head.find("\r\n"));
    const std::string method = line.substr(0, line.find(' '));
    const std::string target = line.substr(line.find(' ') + 1, line.rfind(' ') - line.find(' ') - 1);
    // Without keep-alive the client opens a new connection per request.
    std::string h = head;
    const Fault f = plan_(method, target);
    {
      std::lock_guard<std::mutex> lock(mu_);
      log_.emplace_back(method + " " + target.substr(0, target.find('?')), f);
      times_.push_back(std::chrono::steady_clock::now());
    }
    const std::string kError = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    switch (f) {
      case Fault::kForward:
        SendAll(client, Upstream(h, body));
        break;
      case Fault::kBusy:
        SendAll(client, "HTTP/1.1 503 Server Busy\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        break;
      case Fault::kDropBefore:
        break;
      case Fault::kDropAfter:
        Upstream(h, body);
        break;
      case Fault::kErrorAfter:
        Upstream(h, body);
        SendAll(client, kError);
        break;
      case Fault::kErrorBefore:
        SendAll(client, kError);
        break;
      case Fault::kOtherWriterFirst: {
        // Another writer's commit of the same version lands first (same signed headers, other bytes
        // of the same length, which the service does not check against the signature).
        std::string other = body;
        for (char& ch : other) ch = ch == 'a' ? 'b' : ch == 'b' ? 'a' : ch;
        Upstream(h, other);
        SendAll(client, kError);
        break;
      }
    }
    ::shutdown(client, SHUT_RDWR);
    ::close(client);
  }
  void Accept() {
    while (!stop_) {
      int client = ::accept(fd_, nullptr, nullptr);
      if (client < 0) return;
      std::lock_guard<std::mutex> lock(mu_);
      workers_.emplace_back([this, client] { Serve(client); });
    }
  }

  int upstream_;
  Plan plan_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::thread> workers_;
  std::vector<std::pair<std::string, Fault>> log_;
  std::vector<std::chrono::steady_clock::time_point> times_;
};

int AzuritePort() {
  const std::string e = testing::StartAzurite(nullptr);
  const size_t colon = e.rfind(':');
  return std::stoi(e.substr(colon + 1, e.find('/', colon) - colon - 1));
}

bool IsCommit(const std::string& method, const std::string& target) {
  return method == "PUT" && target.find("_delta_log/00000000000000000007.json") != std::string::npos;
}

TEST(AzureFaults, BusyAndDroppedRequestsAreRetriedHonouringRetryAfter) {
  std::atomic<int> n{0};
  FaultProxy proxy(AzuritePort(), [&](const std::string&, const std::string&) {
    const int i = n++;
    if (i < 2) return Fault::kBusy;
    if (i < 4) return Fault::kDropBefore;
    return Fault::kForward;
  });
  SetAzureOptions(EmulatorOptions(proxy.endpoint()));
  const std::string location = NewLocation("retries");
  auto store = OpenStorage(location, true);  // the container creation meets the four faults
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_OK((*store)->Write("a.json", "{}"));
  auto back = (*store)->Read("a.json");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, "{}");
  const auto times = proxy.times();
  ASSERT_GE(times.size(), 7u);
  // Retry-After: 1 held the second and third attempts back a second each.
  EXPECT_GE(times[1] - times[0], std::chrono::milliseconds(1000));
  EXPECT_GE(times[2] - times[1], std::chrono::milliseconds(1000));
}

TEST(AzureFaults, GivesUpWithinTheRetryBudgetAndCommitsNothing) {
  FaultProxy proxy(AzuritePort(), [&](const std::string& m, const std::string& t) {
    return IsCommit(m, t) ? Fault::kBusy : Fault::kForward;
  });
  AzureOptions o = EmulatorOptions(proxy.endpoint());
  o.retry_budget_ms = 2500;
  SetAzureOptions(o);
  auto store = OpenStorage(NewLocation("budget"), true);
  ASSERT_TRUE(store.ok());
  const auto start = std::chrono::steady_clock::now();
  Status st = (*store)->PutIfAbsent("_delta_log/00000000000000000007.json", "{\"commitInfo\":{}}");
  ASSERT_FALSE(st.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_NE(st.message().find("nothing was committed"), std::string::npos) << st.ToString();
  EXPECT_EQ((*store)->Stat("_delta_log/00000000000000000007.json").status().code(), StatusCode::kNotFound);
}

// The commit's answer is lost; the read-back decides.
void ExpectUnknownOutcome(Fault fault, bool ours) {
  std::atomic<int> commits{0};
  FaultProxy proxy(AzuritePort(), [&](const std::string& m, const std::string& t) {
    if (!IsCommit(m, t)) return Fault::kForward;
    return commits++ == 0 ? fault : Fault::kForward;
  });
  SetAzureOptions(EmulatorOptions(proxy.endpoint()));
  auto store = OpenStorage(NewLocation("unknown"), true);
  ASSERT_TRUE(store.ok());
  const std::string mine = "{\"commitInfo\":{\"txnId\":\"aaaa-bbbb\"}}";
  Status st = (*store)->PutIfAbsent("_delta_log/00000000000000000007.json", mine);
  auto stored = (*store)->Read("_delta_log/00000000000000000007.json");
  ASSERT_TRUE(stored.ok());
  if (ours) {
    EXPECT_TRUE(st.ok()) << st.ToString();
    EXPECT_EQ(*stored, mine);
  } else {
    EXPECT_EQ(st.code(), StatusCode::kAlreadyExists) << st.ToString();
    EXPECT_NE(*stored, mine);
  }
}

TEST(AzureFaults, UnknownCommitOutcomeWrittenIsRecognisedAsOurs) {
  ExpectUnknownOutcome(Fault::kErrorAfter, true);
  ExpectUnknownOutcome(Fault::kDropAfter, true);
}

TEST(AzureFaults, UnknownCommitOutcomeNotWrittenIsRetried) {
  ExpectUnknownOutcome(Fault::kErrorBefore, true);
  ExpectUnknownOutcome(Fault::kDropBefore, true);
}

TEST(AzureFaults, UnknownCommitOutcomeWonByAnotherWriterIsAConflict) {
  ExpectUnknownOutcome(Fault::kOtherWriterFirst, false);
}

// The Delta writer on top: a commit that met every fault lands once, at the right version.
TEST(AzureFaults, DeltaCommitsLandExactlyOnceThroughFaults) {
  std::atomic<int> n{0};
  FaultProxy proxy(AzuritePort(), [&](const std::string& m, const std::string& t) {
    if (m != "PUT" || t.find("_delta_log/") == std::string::npos || t.find(".json") == std::string::npos) {
      return Fault::kForward;
    }
    switch (n++ % 4) {
      case 0:
        return Fault::kDropAfter;
      case 1:
        return Fault::kErrorBefore;
      default:
        return Fault::kForward;
    }
  });
  SetAzureOptions(EmulatorOptions(proxy.endpoint()));
  auto store = OpenStorage(NewLocation("delta"), true);
  ASSERT_TRUE(store.ok());
  auto engine = ColumnarEngine::Open(1, "256MB");
  ASSERT_TRUE(engine.ok());
  auto t = DeltaTable::Open(*store, "t");
  ASSERT_TRUE(t.ok());
  DeltaSchema schema;
  schema.fields = {{"i", "integer", true, "{}"}};
  ASSERT_OK((*t)->CreateIfNotExists(schema, {}, {}));
  for (int i = 1; i <= 6; ++i) {
    auto adds = WriteDataFiles(**engine, **store, (*t)->snapshot(), "SELECT " + std::to_string(i));
    ASSERT_TRUE(adds.ok()) << adds.status().ToString();
    Transaction txn;
    txn.adds = *adds;
    auto v = (*t)->Commit(txn);
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    EXPECT_EQ(*v, i);
  }
  auto fresh = DeltaTable::OpenExisting(*store, "t");
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ((*fresh)->snapshot().version, 6);
  EXPECT_EQ((*fresh)->snapshot().files.size(), 6u);
  EXPECT_EQ((*fresh)->snapshot().NumRecords(), 6);
}

}  // namespace
}  // namespace lakestream
