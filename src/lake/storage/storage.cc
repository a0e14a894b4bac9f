// OpenStorage: picks the Storage implementation from the location's scheme.
#include "lake/storage/storage.h"

#include "lake/storage/azure_blob_storage.h"

namespace lakestream {

Result<std::shared_ptr<Storage>> OpenLocalStorage(const std::string& location, bool create_if_missing);

std::string JoinLocation(const std::string& root, const std::string& path) {
  if (root.empty()) return path;
  if (path.empty()) return root;
  std::string out = root;
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out + "/" + path;
}

Result<std::shared_ptr<Storage>> OpenStorage(const std::string& location, bool create_if_missing) {
  if (IsAzureLocation(location)) return OpenAzureStorage(location, create_if_missing);
  if (location.rfind("file://", 0) != 0 && location.find("://") != std::string::npos) {
    return InvalidArgument(
        "table location '{}' has an unsupported scheme; use a local path, file:///abs/path, "
        "az://<container>/<path> or abfss://<container>@<account>.dfs.core.windows.net/<path> (docs/storage.md)",
        location);
  }
  return OpenLocalStorage(location, create_if_missing);
}

}  // namespace lakestream
