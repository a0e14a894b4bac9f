#include "config/bundled_files.h"

#include <filesystem>
#include <system_error>

namespace lakestream {

namespace fs = std::filesystem;

std::vector<std::string> BundledCandidates(const std::string& relative) {
  std::vector<std::string> out = {relative};
  const fs::path rel(relative);
  if (rel.is_absolute()) return out;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec || exe.empty()) return out;
  const fs::path dir = exe.parent_path();
  out.push_back((dir.parent_path() / "share" / "lakestream" / rel).lexically_normal().string());
  out.push_back((dir.parent_path().parent_path() / rel).lexically_normal().string());
  return out;
}

std::optional<std::string> FindBundled(const std::string& relative) {
  for (const auto& candidate : BundledCandidates(relative)) {
    std::error_code ec;
    if (fs::exists(candidate, ec)) return candidate;
  }
  return std::nullopt;
}

}  // namespace lakestream
