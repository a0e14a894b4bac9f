// Storage: the object-store interface that Delta tables live on. Paths are relative to the store's
// root ("_delta_log/00000000000000000000.json", "part-00000-<uuid>-c000.zstd.parquet").
//
// Implementations: LocalStorage (a directory on local disk, local_storage.cc) and AzureBlobStorage
// (a container and prefix in an Azure storage account, azure_blob_storage.cc). All methods are
// thread-safe.
//
// DuckDB reads and writes Parquet through local files: LocalFile gives a file to read (on Azure, a
// cached copy), StagingPath + PutFile publish a file written locally (on Azure, an upload).
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
  /// Bytes [offset, offset + length) of an object (fewer at its end). Errors: NotFound, IoError.
  virtual Result<std::string> ReadRange(const std::string& path, int64_t offset, int64_t length) = 0;
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
  /// Names of the directories directly under `dir` (on object stores: the common prefixes), in no
  /// particular order. A missing dir lists as empty.
  virtual Result<std::vector<std::string>> ListDirectories(const std::string& dir) = 0;
  /// Size and modification time of one object. Errors: NotFound.
  virtual Result<FileInfo> Stat(const std::string& path) = 0;
  virtual Status Delete(const std::string& path) = 0;
  /// A local file-system path where `path` can be written or read directly, or an empty string
  /// when the store is remote.
  virtual std::string LocalPath(const std::string& path) const = 0;
  /// A local file holding the object's bytes, for readers that need a file (DuckDB reads Parquet).
  /// Local: the file itself. Remote: a copy in the local cache, downloaded once by ranged reads;
  /// Delta data files and checkpoints are never rewritten, so a copy never goes stale
  /// (Delta PROTOCOL.md, "Data Files": files are immutable). Errors: NotFound, IoError.
  virtual Result<std::string> LocalFile(const std::string& path) = 0;
  /// Where to write a new object `path` locally before PutFile publishes it (parent directories
  /// exist). Local: its final place. Remote: a staging file in the local cache.
  virtual Result<std::string> StagingPath(const std::string& path) = 0;
  /// Publishes the file written at `staged` (from StagingPath) as object `path`, replacing any.
  /// Local: nothing to do when already in place. Remote: an upload (in blocks when large); the file
  /// then serves as the cached copy. Errors: IoError (nothing is published half-way).
  virtual Status PutFile(const std::string& path, const std::string& staged) = 0;
};

/// True when `location` names an Azure Blob / ADLS Gen2 location (az://, azure://, abfs[s]://,
/// adl://, https://<account>.blob|dfs.core.windows.net/…), as delta-rs and Spark write them.
bool IsAzureLocation(const std::string& location);

/// `root` joined with the relative `path` ("a/b" + "silver/orders"), for local paths and URIs alike.
std::string JoinLocation(const std::string& root, const std::string& path);

/// Opens a store rooted at `location`: a local path, a file:// URI or an Azure location (see
/// IsAzureLocation; credentials and endpoint from azure_blob_storage.h). The directory (the Azure
/// container) is created when missing and `create_if_missing` is set. Errors: InvalidArgument for an
/// unsupported URI scheme (names the supported ones) or missing Azure credentials; NotFound when the
/// location does not exist and may not be created.
Result<std::shared_ptr<Storage>> OpenStorage(const std::string& location, bool create_if_missing = true);

}  // namespace lakestream
