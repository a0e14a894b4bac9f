#include "lake/storage/azure_blob_storage.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utime.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <random>
#include <thread>

#include <spdlog/spdlog.h>

#include "common/base64.h"
#include "common/ids.h"
#include "common/strings.h"
#include "lake/storage/http_client.h"

namespace lakestream {
namespace {

namespace fs = std::filesystem;

// Azurite's documented development account (Microsoft Learn, "Use the Azurite emulator":
// "Authorize with Shared Key"); public by design, it signs requests to the local emulator only.
constexpr const char* kEmulatorAccount = "devstoreaccount1";
constexpr const char* kEmulatorKey =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
constexpr const char* kEmulatorEndpoint = "http://127.0.0.1:10000/devstoreaccount1";
// The REST version we speak (Blob service versioning; conditional Put Blob and Put Block List
// with x-ms-blob-type are in every version since 2019).
constexpr const char* kApiVersion = "2021-08-06";

std::mutex g_options_mu;
std::optional<AzureOptions> g_options;

std::string Env(std::initializer_list<const char*> names) {
  for (const char* n : names) {
    if (const char* v = std::getenv(n); v != nullptr && *v) return v;
  }
  return "";
}

bool Truthy(const std::string& v) { return v == "1" || v == "true" || v == "TRUE" || v == "True" || v == "yes"; }

std::string Rfc1123Now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

int64_t ParseRfc1123Ms(const std::string& s) {
  std::tm tm{};
  if (strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S", &tm) == nullptr) return 0;
  return static_cast<int64_t>(timegm(&tm)) * 1000;
}

std::string XmlUnescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out.push_back(s[i]);
      continue;
    }
    const size_t semi = s.find(';', i);
    if (semi == std::string_view::npos) {
      out.push_back('&');
      continue;
    }
    std::string_view ent = s.substr(i + 1, semi - i - 1);
    if (ent == "amp") out.push_back('&');
    else if (ent == "lt") out.push_back('<');
    else if (ent == "gt") out.push_back('>');
    else if (ent == "quot") out.push_back('"');
    else if (ent == "apos") out.push_back('\'');
    else if (!ent.empty() && ent[0] == '#') {
      const long cp = ent.size() > 1 && (ent[1] == 'x' || ent[1] == 'X') ? std::strtol(std::string(ent.substr(2)).c_str(), nullptr, 16)
                                                                        : std::strtol(std::string(ent.substr(1)).c_str(), nullptr, 10);
      if (cp < 0x80) out.push_back(static_cast<char>(cp));
      else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      } else {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
      }
    } else {
      out.append(s.substr(i, semi - i + 1));
    }
    i = semi;
  }
  return out;
}

// The text of the first <tag …>…</tag> in `xml` from `*pos`, advancing `*pos` past it. `attrs`
// receives the opening tag's attributes text.
std::optional<std::string_view> NextElement(std::string_view xml, const std::string& tag, size_t* pos,
                                            std::string_view* attrs = nullptr) {
  const std::string open = "<" + tag, close = "</" + tag + ">";
  size_t at = *pos;
  for (;;) {
    at = xml.find(open, at);
    if (at == std::string_view::npos) return std::nullopt;
    const char after = at + open.size() < xml.size() ? xml[at + open.size()] : '\0';
    if (after == '>' || after == ' ' || after == '/') break;
    at += open.size();
  }
  const size_t gt = xml.find('>', at);
  if (gt == std::string_view::npos) return std::nullopt;
  if (attrs) *attrs = xml.substr(at + open.size(), gt - at - open.size());
  if (xml[gt - 1] == '/') {  // <Tag/>
    *pos = gt + 1;
    return std::string_view();
  }
  const size_t end = xml.find(close, gt);
  if (end == std::string_view::npos) return std::nullopt;
  *pos = end + close.size();
  return xml.substr(gt + 1, end - gt - 1);
}

std::string ElementText(std::string_view xml, const std::string& tag) {
  size_t pos = 0;
  auto v = NextElement(xml, tag, &pos);
  return v ? XmlUnescape(*v) : std::string();
}

// A blob <Name>, which the service sends URL-encoded (Encoded="true") when it holds characters XML
// cannot carry.
std::string BlobNameOf(std::string_view element) {
  size_t pos = 0;
  std::string_view attrs;
  auto v = NextElement(element, "Name", &pos, &attrs);
  if (!v) return "";
  std::string name = XmlUnescape(*v);
  if (attrs.find("Encoded=\"true\"") != std::string_view::npos) name = PercentDecode(name);
  return name;
}

// The URI scheme of `location`, lower-cased, or "" when it has none.
std::string SchemeOf(const std::string& location) {
  const size_t sep = location.find("://");
  return sep == std::string::npos ? "" : AsciiLower(location.substr(0, sep));
}

// The schemes delta-rs/object_store and Hadoop's ABFS driver use for Azure storage.
bool IsAzureScheme(const std::string& scheme) {
  return scheme == "az" || scheme == "azure" || scheme == "adl" || scheme == "abfs" || scheme == "abfss";
}

bool RetryableStatus(long status) {
  return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

// ---- the local cache of blobs, shared by every store of the process ----

std::mutex g_cache_mu;
std::atomic<int64_t> g_cache_bytes{-1};  // -1: not yet measured

void Touch(const std::string& file) { ::utime(file.c_str(), nullptr); }

// Removes least recently used files until the cache holds at most 80 % of `max_bytes`, sparing
// files used in the last minute (a reader may be about to open them).
void EvictIfNeeded(const std::string& cache_dir, int64_t max_bytes, int64_t added) {
  if (g_cache_bytes.load() >= 0 && g_cache_bytes.fetch_add(added) + added <= max_bytes) return;
  std::lock_guard<std::mutex> lock(g_cache_mu);
  struct Entry {
    int64_t mtime;
    int64_t size;
    fs::path path;
  };
  std::vector<Entry> entries;
  int64_t total = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(cache_dir, ec), end; !ec && it != end; it.increment(ec)) {
    struct stat st;
    if (!it->is_regular_file(ec) || ::stat(it->path().c_str(), &st) != 0) continue;
    entries.push_back({static_cast<int64_t>(st.st_mtime), static_cast<int64_t>(st.st_size), it->path()});
    total += st.st_size;
  }
  if (total > max_bytes) {
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.mtime < b.mtime; });
    const int64_t recent = static_cast<int64_t>(std::time(nullptr)) - 60;
    for (const auto& e : entries) {
      if (total <= max_bytes / 10 * 8) break;
      if (e.mtime > recent || e.path.filename().string().rfind(".staging-", 0) == 0) continue;
      if (fs::remove(e.path, ec)) total -= e.size;
    }
  }
  g_cache_bytes.store(total);
}

class AzureBlobStorage : public Storage {
 public:
  AzureBlobStorage(AzureLocation loc, AzureOptions opt, std::string display_uri)
      : loc_(std::move(loc)),
        opt_(std::move(opt)),
        uri_(std::move(display_uri)),
        http_(HttpClient::Options{10000, opt_.request_timeout_ms}) {
    base_url_ = opt_.endpoint.empty() ? "https://" + loc_.account + ".blob.core.windows.net" : opt_.endpoint;
    while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
    const size_t scheme = base_url_.find("://");
    const size_t slash = base_url_.find('/', scheme == std::string::npos ? 0 : scheme + 3);
    endpoint_path_ = slash == std::string::npos ? "" : base_url_.substr(slash);
    sas_ = opt_.sas_token;
    if (!sas_.empty() && sas_[0] == '?') sas_.erase(0, 1);
    cache_root_ = (fs::path(opt_.cache_dir) / loc_.account / loc_.container / loc_.prefix).string();
  }

  std::string uri() const override { return uri_; }
  std::string LocalPath(const std::string&) const override { return ""; }

  Status EnsureContainer() {
    Call c{"PUT", "", {{"restype", "container"}}, {}, {}, "create container " + loc_.container};
    ASSIGN_OR_RETURN(HttpResponse r, WithRetries(c));
    if (r.status == 201 || r.status == 409) return Status::OK();
    if (r.status == 403) {  // a SAS scoped to the container may not create it: may it list it?
      ASSIGN_OR_RETURN(HttpResponse lr, ListFirstBlob(false));
      if (lr.status == 200) return Status::OK();
      return HttpError(lr, "list " + uri_);
    }
    return HttpError(r, c.what);
  }

  Status CheckExists() {
    ASSIGN_OR_RETURN(HttpResponse r, ListFirstBlob(true));
    if (r.status == 404) return NotFound("table location {} does not exist (no container {})", uri_, loc_.container);
    if (r.status != 200) return HttpError(r, "list " + uri_);
    size_t pos = 0;
    if (!NextElement(r.body, "Blob", &pos)) return NotFound("table location {} does not exist (no blob under it)", uri_);
    return Status::OK();
  }

  Result<std::string> Read(const std::string& path) override {
    Call c{"GET", BlobName(path), {}, {}, {}, "read " + Describe(path)};
    ASSIGN_OR_RETURN(HttpResponse r, WithRetries(c));
    if (r.status != 200) return HttpError(r, c.what);
    return std::move(r.body);
  }

  Result<std::string> ReadRange(const std::string& path, int64_t offset, int64_t length) override {
    if (length <= 0) return std::string();
    ASSIGN_OR_RETURN(Range r, GetRange(path, offset, length));
    if (static_cast<int64_t>(r.bytes.size()) > length) r.bytes.resize(static_cast<size_t>(length));
    return std::move(r.bytes);
  }

  Status Write(const std::string& path, std::string_view data) override {
    RemoveCached(path);
    if (static_cast<int64_t>(data.size()) > opt_.block_size_bytes) {
      return PutBlocks(path, static_cast<int64_t>(data.size()), [&](int64_t off, int64_t len) -> Result<std::string> {
        return std::string(data.substr(static_cast<size_t>(off), static_cast<size_t>(len)));
      });
    }
    Call c{"PUT", BlobName(path), {}, {{"x-ms-blob-type", "BlockBlob"}}, data, "write " + Describe(path)};
    ASSIGN_OR_RETURN(HttpResponse r, WithRetries(c));
    if (r.status != 201) return HttpError(r, c.what);
    return Status::OK();
  }

  Status PutIfAbsent(const std::string& path, std::string_view data) override {
    const std::string what = "commit " + Describe(path);
    const auto start = std::chrono::steady_clock::now();
    for (int attempt = 0;; ++attempt) {
      Call c{"PUT", BlobName(path), {}, {{"x-ms-blob-type", "BlockBlob"}, {"If-None-Match", "*"}}, data, what};
      Result<HttpResponse> r = Once(c);
      if (r.ok() && r->status == 201) return Status::OK();
      if (r.ok() && (r->status == 409 || r->status == 412)) return AlreadyExists("{} already exists", Describe(path));
      if (r.ok() && !RetryableStatus(r->status)) return HttpError(*r, what);
      // Unknown outcome (a timeout, a dropped connection, a 5xx): the blob may have been written.
      // Read it back; ours if the bytes are ours, another writer's if they differ, absent → retry.
      spdlog::warn("{}: outcome unknown ({}); reading the blob back", what,
                   r.ok() ? fmt::format("HTTP {}", r->status) : r.status().message());
      Call get{"GET", BlobName(path), {}, {}, {}, "read back " + Describe(path)};
      ASSIGN_OR_RETURN(HttpResponse back, WithRetries(get));
      if (back.status == 200) {
        if (back.body == data) return Status::OK();
        return AlreadyExists("{} already exists (written by another writer)", Describe(path));
      }
      if (back.status != 404) return HttpError(back, get.what);
      const int64_t delay = BackoffMs(attempt, r.ok() ? &*r : nullptr);
      if (ElapsedMs(start) + delay > opt_.retry_budget_ms) {
        return IoError("{}: gave up after {} attempts in {} ms ({}); nothing was committed", what, attempt + 1,
                       ElapsedMs(start), r.ok() ? fmt::format("HTTP {}", r->status) : r.status().message());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    }
  }

  Result<std::vector<FileInfo>> List(const std::string& dir) override {
    std::vector<FileInfo> out;
    RETURN_IF_ERROR(ListBlobs(dir, true, &out, nullptr));
    return out;
  }

  Result<std::vector<FileInfo>> ListRecursive(const std::string& dir) override {
    std::vector<FileInfo> out;
    RETURN_IF_ERROR(ListBlobs(dir, false, &out, nullptr));
    return out;
  }

  Result<std::vector<std::string>> ListDirectories(const std::string& dir) override {
    std::vector<FileInfo> files;
    std::vector<std::string> dirs;
    RETURN_IF_ERROR(ListBlobs(dir, true, &files, &dirs));
    return dirs;
  }

  Result<FileInfo> Stat(const std::string& path) override {
    Call c{"HEAD", BlobName(path), {}, {}, {}, "stat " + Describe(path)};
    ASSIGN_OR_RETURN(HttpResponse r, WithRetries(c));
    if (r.status != 200) return HttpError(r, c.what);
    return FileInfo{path, std::atoll(r.Header("content-length").c_str()), ParseRfc1123Ms(r.Header("last-modified"))};
  }

  Status Delete(const std::string& path) override {
    RemoveCached(path);
    Call c{"DELETE", BlobName(path), {}, {}, {}, "delete " + Describe(path)};
    ASSIGN_OR_RETURN(HttpResponse r, WithRetries(c));
    if (r.status == 202 || r.status == 200 || r.status == 404) return Status::OK();
    return HttpError(r, c.what);
  }

  Result<std::string> LocalFile(const std::string& path) override {
    const std::string cached = (fs::path(cache_root_) / path).string();
    struct stat st;
    if (::stat(cached.c_str(), &st) == 0) {
      Touch(cached);
      return cached;
    }
    std::error_code ec;
    fs::create_directories(fs::path(cached).parent_path(), ec);
    if (ec) return IoError("cannot create cache directory {}: {}", fs::path(cached).parent_path().string(), ec.message());
    const std::string temp = fs::path(cached).parent_path() / (".download-" + RandomUuid());
    std::ofstream out(temp, std::ios::binary);
    int64_t total = 1, offset = 0;  // the first answer tells the real size
    while (offset < total) {
      Result<Range> r = GetRange(path, offset, opt_.block_size_bytes);
      if (!r.ok()) {
        out.close();
        fs::remove(temp, ec);
        return r.status();
      }
      out.write(r->bytes.data(), static_cast<std::streamsize>(r->bytes.size()));
      total = r->total_bytes;
      if (r->bytes.empty()) break;
      offset += static_cast<int64_t>(r->bytes.size());
    }
    out.close();
    if (!out) {
      fs::remove(temp, ec);
      return IoError("cannot write the cached copy {} of {}", temp, Describe(path));
    }
    fs::rename(temp, cached, ec);
    if (ec) return IoError("cannot move {} to {}: {}", temp, cached, ec.message());
    EvictIfNeeded(opt_.cache_dir, opt_.cache_max_bytes, total);
    return cached;
  }

  Result<std::string> StagingPath(const std::string& path) override {
    const fs::path cached = fs::path(cache_root_) / path;
    std::error_code ec;
    fs::create_directories(cached.parent_path(), ec);
    if (ec) return IoError("cannot create cache directory {}: {}", cached.parent_path().string(), ec.message());
    return (cached.parent_path() / (".staging-" + RandomUuid() + "-" + cached.filename().string())).string();
  }

  Status PutFile(const std::string& path, const std::string& staged) override {
    std::error_code ec;
    const int64_t size = static_cast<int64_t>(fs::file_size(staged, ec));
    if (ec) return IoError("cannot read staged file {}: {}", staged, ec.message());
    Status st;
    if (size > opt_.block_size_bytes) {
      st = PutBlocks(path, size, [&](int64_t off, int64_t len) -> Result<std::string> {
        std::ifstream in(staged, std::ios::binary);
        std::string buf(static_cast<size_t>(len), '\0');
        in.seekg(off);
        in.read(buf.data(), len);
        if (in.gcount() != len) return IoError("cannot read {} bytes at {} of {}", len, off, staged);
        return buf;
      });
    } else {
      std::ifstream in(staged, std::ios::binary);
      std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      Call c{"PUT", BlobName(path), {}, {{"x-ms-blob-type", "BlockBlob"}}, bytes, "upload " + Describe(path)};
      Result<HttpResponse> r = WithRetries(c);
      st = !r.ok() ? r.status() : r->status == 201 ? Status::OK() : HttpError(*r, c.what);
    }
    if (!st.ok()) {
      fs::remove(staged, ec);
      return st;
    }
    fs::rename(staged, fs::path(cache_root_) / path, ec);  // the upload's bytes are the cached copy
    if (ec) fs::remove(staged, ec);
    EvictIfNeeded(opt_.cache_dir, opt_.cache_max_bytes, size);
    return Status::OK();
  }

 private:
  struct Call {
    std::string method;
    std::string blob;  // "" for container operations
    std::vector<std::pair<std::string, std::string>> query;   // decoded
    std::vector<std::pair<std::string, std::string>> headers;  // besides date, version and auth
    std::string_view body;
    std::string what;
  };

  struct Range {
    std::string bytes;
    int64_t total_bytes = 0;  // the blob's size
  };

  // Get Blob with x-ms-range (Blob REST API, "Specifying the range header"): up to `length` bytes
  // from `offset`, and the blob's size from Content-Range. A range at or past the end (416, e.g. byte
  // 0 of an empty blob) gives no bytes; a service ignoring the range (200) gives the rest from `offset`.
  Result<Range> GetRange(const std::string& path, int64_t offset, int64_t length) {
    Call c{"GET", BlobName(path), {}, {{"x-ms-range", fmt::format("bytes={}-{}", offset, offset + length - 1)}}, {},
           "read " + Describe(path)};
    ASSIGN_OR_RETURN(HttpResponse r, WithRetries(c));
    if (r.status == 416) return Range{"", offset};
    if (r.status == 200) {
      const int64_t total = static_cast<int64_t>(r.body.size());
      return Range{r.body.substr(static_cast<size_t>(std::min(offset, total))), total};
    }
    if (r.status != 206) return HttpError(r, c.what);
    const std::string range = r.Header("content-range");  // "bytes 0-8388607/123456789"
    const size_t slash = range.rfind('/');
    const int64_t total =
        slash == std::string::npos ? offset + static_cast<int64_t>(r.body.size()) : std::atoll(range.c_str() + slash + 1);
    return Range{std::move(r.body), total};
  }

  // List Blobs answering at most one name: under the table's prefix, or anywhere in the container.
  Result<HttpResponse> ListFirstBlob(bool under_prefix) {
    Call c{"GET", "", {{"restype", "container"}, {"comp", "list"}, {"maxresults", "1"}}, {}, {}, "list " + uri_};
    if (under_prefix && !loc_.prefix.empty()) c.query.emplace_back("prefix", loc_.prefix + "/");
    return WithRetries(c);
  }

  std::string BlobName(const std::string& path) const {
    if (loc_.prefix.empty()) return path;
    return path.empty() ? loc_.prefix : loc_.prefix + "/" + path;
  }
  std::string Describe(const std::string& path) const { return JoinLocation(uri_, path); }

  static int64_t ElapsedMs(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  }

  // Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"),
  // at least what the service asked for in Retry-After (seconds) or x-ms-retry-after-ms.
  int64_t BackoffMs(int attempt, const HttpResponse* r) {
    const int64_t cap = std::min(opt_.max_backoff_ms, opt_.initial_backoff_ms << std::min(attempt, 20));
    thread_local std::mt19937_64 rng{std::random_device{}()};
    int64_t delay = std::uniform_int_distribution<int64_t>(cap / 2, std::max<int64_t>(cap, 1))(rng);
    if (r != nullptr) {
      if (std::string ms = r->Header("x-ms-retry-after-ms"); !ms.empty()) delay = std::max<int64_t>(delay, std::atoll(ms.c_str()));
      else if (std::string s = r->Header("retry-after"); !s.empty()) delay = std::max<int64_t>(delay, std::atoll(s.c_str()) * 1000);
    }
    return delay;
  }

  Result<HttpResponse> Once(const Call& c) {
    std::string path = endpoint_path_ + "/" + loc_.container;
    if (!c.blob.empty()) path += "/" + PercentEncode(c.blob, "/");
    std::string query;
    for (const auto& [k, v] : c.query) query += (query.empty() ? "" : "&") + k + "=" + PercentEncode(v);
    const bool use_sas = !sas_.empty() && opt_.account_key.empty() && opt_.bearer_token.empty();
    if (use_sas) query += (query.empty() ? "" : "&") + sas_;
    HttpRequest req;
    req.method = c.method;
    req.url = base_url_.substr(0, base_url_.size() - endpoint_path_.size()) + path + (query.empty() ? "" : "?" + query);
    req.headers = c.headers;
    req.headers.emplace_back("x-ms-date", Rfc1123Now());
    req.headers.emplace_back("x-ms-version", kApiVersion);
    if (c.method == "PUT") req.headers.emplace_back("Content-Length", std::to_string(c.body.size()));
    if (!opt_.account_key.empty()) {
      const std::string to_sign = SharedKeyStringToSign(c.method, req.headers, loc_.account, path, c.query);
      ASSIGN_OR_RETURN(std::string sig, SharedKeySignature(opt_.account_key, to_sign));
      req.headers.emplace_back("Authorization", "SharedKey " + loc_.account + ":" + sig);
    } else if (!opt_.bearer_token.empty()) {
      req.headers.emplace_back("Authorization", "Bearer " + opt_.bearer_token);
    }
    req.body = c.body;
    req.what = c.what;
    return http_.Send(req);
  }

  // Sends until a response that is not worth retrying, or the retry budget runs out (then the last
  // answer, or the network error, is returned).
  Result<HttpResponse> WithRetries(const Call& c) {
    const auto start = std::chrono::steady_clock::now();
    for (int attempt = 0;; ++attempt) {
      Result<HttpResponse> r = Once(c);
      if (r.ok() && !RetryableStatus(r->status)) return r;
      if (!r.ok() && r.status().code() != StatusCode::kIoError) return r;
      const int64_t delay = BackoffMs(attempt, r.ok() ? &*r : nullptr);
      if (ElapsedMs(start) + delay > opt_.retry_budget_ms) {
        if (r.ok()) return r;
        return IoError("{} (gave up after {} attempts in {} ms)", r.status().message(), attempt + 1, ElapsedMs(start));
      }
      spdlog::debug("{}: {}; retrying in {} ms", c.what, r.ok() ? fmt::format("HTTP {}", r->status) : r.status().message(),
                    delay);
      std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    }
  }

  Status HttpError(const HttpResponse& r, const std::string& what) const {
    std::string code = r.Header("x-ms-error-code");
    if (code.empty()) code = ElementText(r.body, "Code");
    const std::string detail = fmt::format("HTTP {}{}", r.status, code.empty() ? "" : " " + code);
    switch (r.status) {
      case 404:
        return NotFound("{}: does not exist ({})", what, detail);
      case 409:
      case 412:
        return AlreadyExists("{}: {}", what, detail);
      case 401:
      case 403:
        return IoError("{}: {}: check the credentials (AZURE_STORAGE_ACCOUNT_KEY, AZURE_STORAGE_SAS_TOKEN or "
                       "AZURE_STORAGE_TOKEN) and their permissions (docs/storage.md)",
                       what, detail);
      default:
        if (RetryableStatus(r.status)) return Unavailable("{}: {} after retrying for {} ms", what, detail, opt_.retry_budget_ms);
        return IoError("{}: {}", what, detail);
    }
  }

  // List Blobs over every page (Blob REST API, "List Blobs": NextMarker). With `one_level`, the
  // delimiter '/' keeps deeper names out and reports them as directories.
  Status ListBlobs(const std::string& dir, bool one_level, std::vector<FileInfo>* files, std::vector<std::string>* dirs) {
    std::string prefix = BlobName(dir);
    if (!prefix.empty()) prefix += "/";
    std::string marker;
    do {
      Call c{"GET", "", {{"restype", "container"}, {"comp", "list"}, {"include", "metadata"}, {"maxresults", std::to_string(opt_.list_page_size)}}, {}, {},
             "list " + Describe(dir)};
      if (!prefix.empty()) c.query.emplace_back("prefix", prefix);
      if (one_level) c.query.emplace_back("delimiter", "/");
      if (!marker.empty()) c.query.emplace_back("marker", marker);
      std::sort(c.query.begin(), c.query.end());
      ASSIGN_OR_RETURN(HttpResponse r, WithRetries(c));
      if (r.status == 404) return Status::OK();  // no container: nothing there
      if (r.status != 200) return HttpError(r, c.what);
      std::string_view body = r.body;
      size_t pos = 0;
      while (auto blob = NextElement(body, "Blob", &pos)) {
        const std::string name = BlobNameOf(*blob);
        if (name.size() <= prefix.size()) continue;
        if (ElementText(*blob, "hdi_isfolder") == "true") continue;  // an ADLS Gen2 directory marker
        const int64_t size = std::atoll(ElementText(*blob, "Content-Length").c_str());
        files->push_back({name.substr(prefix.size()), size, ParseRfc1123Ms(ElementText(*blob, "Last-Modified"))});
      }
      if (dirs != nullptr) {
        pos = 0;
        while (auto p = NextElement(body, "BlobPrefix", &pos)) {
          std::string name = BlobNameOf(*p);
          if (name.size() <= prefix.size()) continue;
          name = name.substr(prefix.size());
          if (!name.empty() && name.back() == '/') name.pop_back();
          dirs->push_back(name);
        }
      }
      marker = ElementText(body, "NextMarker");
    } while (!marker.empty());
    return Status::OK();
  }

  // Put Block for each `block_size_bytes` piece (up to upload_concurrency in flight, each holding
  // one piece in memory), then Put Block List (Blob REST API). Blocks not listed are discarded by
  // the service, so a failure publishes nothing.
  Status PutBlocks(const std::string& path, int64_t size, const std::function<Result<std::string>(int64_t, int64_t)>& piece) {
    const int64_t bs = opt_.block_size_bytes;
    const int64_t n = (size + bs - 1) / bs;
    const std::string upload = RandomUuid().substr(0, 16);
    auto block_id = [&](int64_t i) { return Base64Encode(fmt::format("{}-{:08d}", upload, i)); };
    std::atomic<int64_t> next{0};
    std::mutex err_mu;
    Status first_error;
    auto worker = [&] {
      for (int64_t i = next++; i < n; i = next++) {
        {
          std::lock_guard<std::mutex> lock(err_mu);
          if (!first_error.ok()) return;
        }
        Result<std::string> bytes = piece(i * bs, std::min(bs, size - i * bs));
        Status st;
        if (!bytes.ok()) {
          st = bytes.status();
        } else {
          Call c{"PUT", BlobName(path), {{"blockid", block_id(i)}, {"comp", "block"}}, {}, *bytes,
                 fmt::format("upload block {} of {} of {}", i + 1, n, Describe(path))};
          Result<HttpResponse> r = WithRetries(c);
          st = !r.ok() ? r.status() : r->status == 201 ? Status::OK() : HttpError(*r, c.what);
        }
        if (!st.ok()) {
          std::lock_guard<std::mutex> lock(err_mu);
          if (first_error.ok()) first_error = st;
          return;
        }
      }
    };
    std::vector<std::thread> threads;
    const int64_t k = std::min<int64_t>(std::max(opt_.upload_concurrency, 1), n);
    for (int64_t t = 0; t < k; ++t) threads.emplace_back(worker);
    for (auto& t : threads) t.join();
    RETURN_IF_ERROR(first_error);
    std::string xml = "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>";
    for (int64_t i = 0; i < n; ++i) xml += "<Latest>" + block_id(i) + "</Latest>";
    xml += "</BlockList>";
    Call c{"PUT", BlobName(path), {{"comp", "blocklist"}}, {{"Content-Type", "application/xml"}}, xml,
           "commit blocks of " + Describe(path)};
    ASSIGN_OR_RETURN(HttpResponse r, WithRetries(c));
    if (r.status != 201) return HttpError(r, c.what);
    return Status::OK();
  }

  void RemoveCached(const std::string& path) {
    std::error_code ec;
    fs::remove(fs::path(cache_root_) / path, ec);
  }

  AzureLocation loc_;
  AzureOptions opt_;
  std::string uri_;
  HttpClient http_;
  std::string base_url_;
  std::string endpoint_path_;  // "/devstoreaccount1" for a path-style endpoint, else ""
  std::string sas_;
  std::string cache_root_;
};

}  // namespace

Result<AzureLocation> ParseAzureLocation(const std::string& uri) {
  auto bad = [&](const char* why) {
    return InvalidArgument(
        "'{}' is not an Azure location ({}): write az://<container>/<path> or "
        "abfss://<container>@<account>.dfs.core.windows.net/<path> (docs/storage.md)",
        uri.substr(0, uri.find('?')), why);
  };
  const std::string scheme = SchemeOf(uri);
  if (scheme.empty()) return bad("no scheme");
  std::string rest = uri.substr(scheme.size() + 3);
  if (rest.find('?') != std::string::npos) {
    // A query string would be a SAS token; locations are printed in logs, the API and metrics.
    return InvalidArgument(
        "'{}?…' carries a query string: put a SAS token in AZURE_STORAGE_SAS_TOKEN (or --azure-sas-token-file), "
        "not in the location, which is printed in logs and the API (docs/storage.md)",
        uri.substr(0, uri.find('?')));
  }
  AzureLocation loc;
  auto host_account = [&](const std::string& host) -> bool {
    // <account>.(blob|dfs).core.windows.net (or a sovereign cloud's suffix)
    const size_t dot = host.find('.');
    if (dot == std::string::npos) return false;
    const std::string kind = host.substr(dot + 1, host.find('.', dot + 1) - dot - 1);
    if (kind != "blob" && kind != "dfs") return false;
    loc.account = host.substr(0, dot);
    loc.dfs_host = kind == "dfs";
    return true;
  };
  std::string path;
  if (IsAzureScheme(scheme)) {
    const size_t slash = rest.find('/');
    std::string authority = rest.substr(0, slash);
    path = slash == std::string::npos ? "" : rest.substr(slash + 1);
    if (const size_t at = authority.find('@'); at != std::string::npos) {
      loc.container = authority.substr(0, at);
      if (!host_account(authority.substr(at + 1))) return bad("the host after '@' must be <account>.dfs.core.windows.net");
    } else {
      loc.container = authority;
    }
  } else if (scheme == "https" || scheme == "http") {
    const size_t slash = rest.find('/');
    if (!host_account(rest.substr(0, slash))) return bad("not a blob.core.windows.net or dfs.core.windows.net host");
    std::string tail = slash == std::string::npos ? "" : rest.substr(slash + 1);
    const size_t s2 = tail.find('/');
    loc.container = tail.substr(0, s2);
    path = s2 == std::string::npos ? "" : tail.substr(s2 + 1);
  } else {
    return bad("unknown scheme");
  }
  if (loc.container.empty()) return bad("no container");
  while (!path.empty() && path.back() == '/') path.pop_back();
  while (!path.empty() && path.front() == '/') path.erase(0, 1);
  loc.prefix = path;
  return loc;
}

bool IsAzureLocation(const std::string& location) {
  const std::string scheme = SchemeOf(location);
  if (IsAzureScheme(scheme)) return true;
  if (scheme != "https" && scheme != "http") return false;
  const size_t start = scheme.size() + 3;
  const std::string host = location.substr(start, location.find('/', start) - start);
  return host.find(".blob.") != std::string::npos || host.find(".dfs.") != std::string::npos;
}

AzureOptions AzureOptionsFromEnvironment() {
  AzureOptions o;
  o.account_name = Env({"AZURE_STORAGE_ACCOUNT_NAME", "AZURE_STORAGE_ACCOUNT"});
  o.account_key = Env({"AZURE_STORAGE_ACCOUNT_KEY", "AZURE_STORAGE_ACCESS_KEY", "AZURE_STORAGE_MASTER_KEY", "AZURE_STORAGE_KEY"});
  o.sas_token = Env({"AZURE_STORAGE_SAS_TOKEN", "AZURE_STORAGE_SAS_KEY"});
  o.bearer_token = Env({"AZURE_STORAGE_TOKEN", "AZURE_STORAGE_BEARER_TOKEN"});
  o.endpoint = Env({"AZURE_STORAGE_ENDPOINT", "AZURE_ENDPOINT"});
  o.use_emulator = Truthy(Env({"AZURE_STORAGE_USE_EMULATOR"}));
  o.cache_dir = Env({"LAKESTREAM_AZURE_CACHE_DIR"});
  return o;
}

void SetAzureOptions(const AzureOptions& options) {
  std::lock_guard<std::mutex> lock(g_options_mu);
  g_options = options;
}

std::string SharedKeyStringToSign(const std::string& method, const std::vector<std::pair<std::string, std::string>>& headers,
                                  const std::string& account, const std::string& url_path,
                                  const std::vector<std::pair<std::string, std::string>>& query) {
  auto header = [&](const std::string& name) -> std::string {
    for (const auto& [k, v] : headers) {
      if (AsciiLower(k) == name) return v;
    }
    return "";
  };
  std::string length = header("content-length");
  if (length == "0") length.clear();
  std::string s = method + "\n" + header("content-encoding") + "\n" + header("content-language") + "\n" + length + "\n" +
                  header("content-md5") + "\n" + header("content-type") + "\n" + header("date") + "\n" +
                  header("if-modified-since") + "\n" + header("if-match") + "\n" + header("if-none-match") + "\n" +
                  header("if-unmodified-since") + "\n" + header("range") + "\n";
  std::vector<std::pair<std::string, std::string>> ms;
  for (const auto& [k, v] : headers) {
    if (AsciiLower(k).rfind("x-ms-", 0) == 0) ms.emplace_back(AsciiLower(k), v);
  }
  std::sort(ms.begin(), ms.end());
  for (const auto& [k, v] : ms) s += k + ":" + v + "\n";
  s += "/" + account + url_path;
  std::vector<std::pair<std::string, std::string>> q;
  for (const auto& [k, v] : query) q.emplace_back(AsciiLower(k), v);
  std::sort(q.begin(), q.end());
  for (const auto& [k, v] : q) s += "\n" + k + ":" + v;
  return s;
}

Result<std::string> SharedKeySignature(const std::string& account_key_base64, const std::string& string_to_sign) {
  auto key = Base64Decode(account_key_base64);
  if (!key || key->empty()) {
    return InvalidArgument("the Azure account key is not base64: copy it whole from the portal into AZURE_STORAGE_ACCOUNT_KEY");
  }
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key->data(), static_cast<int>(key->size()), reinterpret_cast<const unsigned char*>(string_to_sign.data()),
       string_to_sign.size(), mac, &len);
  return Base64Encode(std::string_view(reinterpret_cast<const char*>(mac), len));
}

Result<std::shared_ptr<Storage>> OpenAzureStorage(const std::string& location, bool create_if_missing) {
  ASSIGN_OR_RETURN(AzureLocation loc, ParseAzureLocation(location));
  AzureOptions opt;
  {
    std::lock_guard<std::mutex> lock(g_options_mu);
    opt = g_options ? *g_options : AzureOptionsFromEnvironment();
  }
  if (opt.use_emulator) {
    if (opt.account_name.empty()) opt.account_name = kEmulatorAccount;
    if (opt.account_key.empty() && opt.sas_token.empty() && opt.bearer_token.empty()) opt.account_key = kEmulatorKey;
    if (opt.endpoint.empty()) opt.endpoint = kEmulatorEndpoint;
  }
  if (loc.account.empty()) loc.account = opt.account_name;
  if (loc.account.empty()) {
    return InvalidArgument(
        "{}: no storage account: set AZURE_STORAGE_ACCOUNT_NAME (or --azure-account-name), or write "
        "abfss://<container>@<account>.dfs.core.windows.net/<path>",
        location.substr(0, location.find('?')));
  }
  if (opt.cache_dir.empty()) opt.cache_dir = (fs::temp_directory_path() / "lakestream-azure-cache").string();
  if (opt.endpoint.empty() && loc.dfs_host) {
    spdlog::debug("{}: the dfs endpoint is served through the account's blob endpoint", location.substr(0, location.find('?')));
  }
  std::string display = location.substr(0, location.find('?'));
  while (display.size() > 1 && display.back() == '/') display.pop_back();
  auto storage = std::make_shared<AzureBlobStorage>(loc, opt, display);
  if (create_if_missing) {
    RETURN_IF_ERROR(storage->EnsureContainer());
  } else {
    RETURN_IF_ERROR(storage->CheckExists());
  }
  return std::shared_ptr<Storage>(storage);
}

}  // namespace lakestream
