#!/usr/bin/env bash
# Installs what lakestream needs to build and test, on Debian 12: apt packages and the npm packages
# pinned by package-lock.json (DuckDB's prebuilt library and C header). Idempotent and quiet when
# nothing is missing. Needs root (or sudo) only when an apt package is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  librdkafka-dev libsimdjson-dev libcli11-dev libspdlog-dev libfmt-dev libtomlplusplus-dev
  libgtest-dev libgmock-dev libbenchmark-dev zlib1g-dev libssl-dev
  kcat python3-confluent-kafka python3-pandas
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

# npm packages: DuckDB 1.4 LTS (libduckdb.so and duckdb.h). Scripts are disabled: nothing is built or
# downloaded beyond the registry tarballs pinned in package-lock.json.
stamp=node_modules/.lakestream-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || \
   [ ! -f node_modules/@duckdb/node-bindings-linux-x64/libduckdb.so ]; then
  echo "bootstrap: installing npm packages (package-lock.json)"
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
  echo "$want" > "$stamp"
fi
