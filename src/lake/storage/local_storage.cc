// LocalStorage: Storage on a local directory.
//
// PutIfAbsent writes a uniquely named temporary file, fsyncs it, then link()s it to the target name:
// link() fails with EEXIST when the target exists, so exactly one racing writer wins and a reader
// never sees a partial commit. Plain rename() would silently replace a winner's commit.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/ids.h"
#include "lake/storage/storage.h"

namespace lakestream {
namespace {

namespace fs = std::filesystem;

class LocalStorage : public Storage {
 public:
  explicit LocalStorage(fs::path root) : root_(std::move(root)) {}

  std::string uri() const override { return "file://" + root_.string(); }

  std::string LocalPath(const std::string& path) const override { return (root_ / path).string(); }

  Result<std::string> Read(const std::string& path) override {
    std::string full = LocalPath(path);
    int fd = ::open(full.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return NotFound("{} does not exist", full);
      return IoError("cannot open {}: {}", full, std::strerror(errno));
    }
    std::string data;
    char buf[1 << 16];
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0) {
        if (errno == EINTR) continue;
        int e = errno;
        ::close(fd);
        return IoError("cannot read {}: {}", full, std::strerror(e));
      }
      if (n == 0) break;
      data.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return data;
  }

  Result<std::string> ReadRange(const std::string& path, int64_t offset, int64_t length) override {
    std::string full = LocalPath(path);
    int fd = ::open(full.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return NotFound("{} does not exist", full);
      return IoError("cannot open {}: {}", full, std::strerror(errno));
    }
    std::string data(static_cast<size_t>(std::max<int64_t>(length, 0)), '\0');
    size_t got = 0;
    while (got < data.size()) {
      ssize_t n = ::pread(fd, data.data() + got, data.size() - got, static_cast<off_t>(offset + static_cast<int64_t>(got)));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        int e = errno;
        ::close(fd);
        return IoError("cannot read {}: {}", full, std::strerror(e));
      }
      if (n == 0) break;
      got += static_cast<size_t>(n);
    }
    ::close(fd);
    data.resize(got);
    return data;
  }

  Result<std::string> LocalFile(const std::string& path) override { return LocalPath(path); }

  Result<std::string> StagingPath(const std::string& path) override {
    fs::path full = root_ / path;
    std::error_code ec;
    fs::create_directories(full.parent_path(), ec);
    if (ec) return IoError("cannot create directory {}: {}", full.parent_path().string(), ec.message());
    return full.string();
  }

  Status PutFile(const std::string& path, const std::string& staged) override {
    const std::string full = LocalPath(path);
    if (staged == full) return Status::OK();
    if (::rename(staged.c_str(), full.c_str()) != 0) {
      return IoError("cannot rename {} to {}: {}", staged, full, std::strerror(errno));
    }
    return Status::OK();
  }

  Status Write(const std::string& path, std::string_view data) override {
    ASSIGN_OR_RETURN(std::string tmp, WriteTemp(path, data));
    std::string full = LocalPath(path);
    if (::rename(tmp.c_str(), full.c_str()) != 0) {
      int e = errno;
      ::unlink(tmp.c_str());
      return IoError("cannot rename {} to {}: {}", tmp, full, std::strerror(e));
    }
    return SyncDir(fs::path(full).parent_path());
  }

  Status PutIfAbsent(const std::string& path, std::string_view data) override {
    ASSIGN_OR_RETURN(std::string tmp, WriteTemp(path, data));
    std::string full = LocalPath(path);
    int rc = ::link(tmp.c_str(), full.c_str());
    int e = errno;
    ::unlink(tmp.c_str());
    if (rc != 0) {
      if (e == EEXIST) return AlreadyExists("{} already exists", full);
      return IoError("cannot create {}: {}", full, std::strerror(e));
    }
    return SyncDir(fs::path(full).parent_path());
  }

  Result<std::vector<FileInfo>> List(const std::string& dir) override {
    std::vector<FileInfo> out;
    std::string full = LocalPath(dir);
    DIR* d = ::opendir(full.c_str());
    if (d == nullptr) {
      if (errno == ENOENT) return out;
      return IoError("cannot list {}: {}", full, std::strerror(errno));
    }
    while (dirent* ent = ::readdir(d)) {
      std::string name = ent->d_name;
      if (name == "." || name == "..") continue;
      struct stat st;
      if (::stat((full + "/" + name).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
      out.push_back({name, st.st_size, st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000});
    }
    ::closedir(d);
    return out;
  }

  Result<std::vector<FileInfo>> ListRecursive(const std::string& dir) override {
    std::vector<FileInfo> out;
    fs::path base = root_ / dir;
    std::error_code ec;
    if (!fs::exists(base, ec)) return out;
    fs::recursive_directory_iterator it(base, fs::directory_options::skip_permission_denied, ec), end;
    if (ec) return IoError("cannot list {}: {}", base.string(), ec.message());
    for (; it != end; it.increment(ec)) {
      if (ec) return IoError("cannot list {}: {}", base.string(), ec.message());
      if (!it->is_regular_file(ec)) continue;
      struct stat st;
      if (::stat(it->path().c_str(), &st) != 0) continue;
      out.push_back({it->path().lexically_relative(base).generic_string(), st.st_size,
                     st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000});
    }
    return out;
  }

  Result<std::vector<std::string>> ListDirectories(const std::string& dir) override {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(root_ / dir, ec)) {
      if (e.is_directory(ec)) out.push_back(e.path().filename().string());
    }
    if (ec && ec != std::errc::no_such_file_or_directory) {
      return IoError("cannot list {}: {}", (root_ / dir).string(), ec.message());
    }
    return out;
  }

  Result<FileInfo> Stat(const std::string& path) override {
    struct stat st;
    std::string full = LocalPath(path);
    if (::stat(full.c_str(), &st) != 0) {
      if (errno == ENOENT) return NotFound("{} does not exist", full);
      return IoError("cannot stat {}: {}", full, std::strerror(errno));
    }
    return FileInfo{path, st.st_size, st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000};
  }

  Status Delete(const std::string& path) override {
    std::string full = LocalPath(path);
    if (::unlink(full.c_str()) != 0 && errno != ENOENT) {
      return IoError("cannot delete {}: {}", full, std::strerror(errno));
    }
    return Status::OK();
  }

 private:
  Result<std::string> WriteTemp(const std::string& path, std::string_view data) {
    fs::path full = root_ / path;
    std::error_code ec;
    fs::create_directories(full.parent_path(), ec);
    if (ec) return IoError("cannot create directory {}: {}", full.parent_path().string(), ec.message());
    std::string tmp = (full.parent_path() / ("." + full.filename().string() + "." + RandomUuid() + ".tmp")).string();
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return IoError("cannot create {}: {}", tmp, std::strerror(errno));
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = ::write(fd, data.data() + off, data.size() - off);
      if (n < 0) {
        if (errno == EINTR) continue;
        int e = errno;
        ::close(fd);
        ::unlink(tmp.c_str());
        return IoError("cannot write {}: {}", tmp, std::strerror(e));
      }
      off += static_cast<size_t>(n);
    }
    if (::fsync(fd) != 0) {
      int e = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return IoError("cannot fsync {}: {}", tmp, std::strerror(e));
    }
    ::close(fd);
    return tmp;
  }

  static Status SyncDir(const fs::path& dir) {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return IoError("cannot open directory {}: {}", dir.string(), std::strerror(errno));
    ::fsync(fd);
    ::close(fd);
    return Status::OK();
  }

  fs::path root_;
};

}  // namespace

Result<std::shared_ptr<Storage>> OpenLocalStorage(const std::string& location, bool create_if_missing) {
  std::string path = location;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  if (path.rfind("file://", 0) == 0) path = path.substr(7);
  std::error_code ec;
  if (!create_if_missing) {
    if (!fs::is_directory(path, ec)) return NotFound("table location {} does not exist", location);
  }
  fs::create_directories(path, ec);
  if (ec) return IoError("cannot create table directory {}: {}", path, ec.message());
  fs::path abs = fs::absolute(path, ec);
  return std::shared_ptr<Storage>(std::make_shared<LocalStorage>(abs.lexically_normal()));
}

}  // namespace lakestream
