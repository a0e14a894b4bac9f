#!/usr/bin/env bash
# Installs what lakestream needs to build and test, on Debian 12: apt packages, the npm packages
# pinned by package-lock.json (DuckDB's prebuilt library and C header, the dashboard's libraries),
# and builds the dashboard (web/dist). Idempotent and quiet when
# nothing is missing. Needs root (or sudo) only when an apt package is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  librdkafka-dev libsimdjson-dev libcli11-dev libspdlog-dev libfmt-dev libtomlplusplus-dev
  libgtest-dev libgmock-dev libbenchmark-dev zlib1g-dev libssl-dev libcurl4-openssl-dev libcpp-httplib-dev
  kcat python3-confluent-kafka python3-pandas python3-prometheus-client chromium
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js and npm: any install will do (Debian's packages when none is present).
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if ((${#missing[@]})); then
  echo "bootstrap: installing apt packages: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm packages: DuckDB 1.4 LTS (libduckdb.so and duckdb.h), Chart.js and esbuild (the dashboard),
# playwright-core (the browser test, driving Debian's chromium). Scripts are disabled: nothing is built or
# downloaded beyond the registry tarballs pinned in package-lock.json.
stamp=node_modules/.lakestream-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || \
   [ ! -f node_modules/@duckdb/node-bindings-linux-x64/libduckdb.so ]; then
  echo "bootstrap: installing npm packages (package-lock.json)"
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
  echo "$want" > "$stamp"
fi

# The dashboard: web/src -> web/dist (embedded into the binary by the C++ build). Rebuilt when its
# sources or the lock file change.
web_stamp=node_modules/.lakestream-web.sha256
web_want=$(cat package-lock.json web/build.mjs web/src/* | sha256sum | cut -d' ' -f1)
if [ ! -f "$web_stamp" ] || [ "$(cat "$web_stamp")" != "$web_want" ] || [ ! -f web/dist/index.html ]; then
  echo "bootstrap: building the dashboard (npm run build:web)"
  npm run --silent build:web
  echo "$web_want" > "$web_stamp"
fi
