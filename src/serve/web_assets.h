// The dashboard's static assets (web/dist, built by npm at set-up: scripts/bootstrap.sh), embedded in
// the binary at build time by cmake/embed_dir.cmake, so the binary serves the dashboard offline and
// without a separate web server.
#pragma once

#include <cstddef>
#include <string_view>

namespace lakestream {

struct WebAsset {
  std::string_view path;          // URL path, e.g. "/assets/app.js"
  std::string_view content_type;  // e.g. "text/javascript; charset=utf-8"
  std::string_view body;
};

/// The embedded assets, or nullptr (with *count 0) when none were built.
const WebAsset* WebAssets(size_t* count);

}  // namespace lakestream
