// Storage: the object-store interface that Delta tables live on. Paths are relative to the store's
// root ("_delta_log/00000000000000000000.json", "part-00000-<uuid>-c000.zstd.parquet").
//
// Implementations: LocalStorage (a directory on local disk). Azure Blob comes behind the same
// interface. All methods are thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace lakestream {

struct FileInfo {
  std::string path;  // relative to the listed directory
  int64_t size_bytes = 0;
  int64_t modification_time_ms = 0;
};

class Storage {
 public:
  virtual ~Storage() = default;
  /// A printable location for messages, e.g. "file:///abs/lakehouse/bronze/orders".
  virtual std::string uri() const = 0;
  /// Whole-object read. Errors: NotFound, IoError.
  virtual Result<std::string> Read(const std::string& path) = 0;
  /// Creates or replaces an object atomically (readers see the old or the new content, never a mix).
  virtual Status Write(const std::string& path, std::string_view data) = 0;
  /// Creates `path` only if it does not exist, atomically: exactly one of several racing callers
  /// succeeds, the others get AlreadyExists. This is the Delta commit primitive
  /// (Delta PROTOCOL.md, "Creation of New Log Entries").
  virtual Status PutIfAbsent(const std::string& path, std::string_view data) = 0;
  /// Entries directly under `dir` (files only), in no particular order. A missing dir lists as empty.
  virtual Result<std::vector<FileInfo>> List(const std::string& dir) = 0;
  /// Every file under `dir` at any depth (paths relative to `dir`, '/'-separated), in no particular
  /// order. A missing dir lists as empty. Used by VACUUM.
  virtual Result<std::vector<FileInfo>> ListRecursive(const std::string& dir) = 0;
  /// Size and modification time of one object. Errors: NotFound.
  virtual Result<FileInfo> Stat(const std::string& path) = 0;
  virtual Status Delete(const std::string& path) = 0;
  /// A local file-system path where `path` can be written or read directly (DuckDB writes Parquet
  /// there), or an empty string when the store is remote.
  virtual std::string LocalPath(const std::string& path) const = 0;
};

/// Opens a store rooted at `location`: a local path or a file:// URI. The directory is created when
/// missing and `create_if_missing` is set. Errors: InvalidArgument for an unsupported URI scheme
/// (names the supported ones); NotFound when the location does not exist and may not be created.
Result<std::shared_ptr<Storage>> OpenStorage(const std::string& location, bool create_if_missing = true);

}  // namespace lakestream
