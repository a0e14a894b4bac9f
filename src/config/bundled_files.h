// Files shipped with lakestream — the sample data (data/), the pipeline files (pipelines/) and the
// batch jobs (jobs/) — found wherever the binary runs from: the working directory first, then the
// installed share directory beside the binary (`cmake --install` puts them in
// <prefix>/share/lakestream/), then the source tree the binary was built in (build/<preset>/lakestream).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace lakestream {

/// `relative` (e.g. "data/online-shop/online_retail.first-9999-rows.orig-format.csv.gz", "jobs") as it
/// exists: itself when it exists from the working directory (or is absolute), else the first of
/// <exe dir>/../share/lakestream/<relative> and <exe dir>/../../<relative> that exists; nullopt when
/// none does. The binary's directory comes from /proc/self/exe (Linux).
std::optional<std::string> FindBundled(const std::string& relative);

/// The places FindBundled looks for `relative`, in order, for error messages.
std::vector<std::string> BundledCandidates(const std::string& relative);

}  // namespace lakestream
