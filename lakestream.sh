#!/usr/bin/env bash
# One entry point for people and CI.
#
#   ./lakestream.sh run [lakestream run options]   set up, build the release binary, run the main job
#   ./lakestream.sh test [ctest options]           set up, build, run the whole test suite (CTest)
#   ./lakestream.sh build                          set up and build only
#   ./lakestream.sh e2e [ctest options]            the end-to-end tests only (label e2e), see docs/testing.md
set -euo pipefail
cd "$(dirname "$0")"
cmd="${1:-run}"
shift || true

scripts/bootstrap.sh
build() {
  if [ ! -f build/release/build.ninja ]; then
    cmake --preset release >/dev/null
  fi
  cmake --build --preset release -- -j"$(nproc)" --quiet
}

case "$cmd" in
  build) build ;;
  run) build; exec build/release/lakestream run "$@" ;;
  test) build; exec ctest --preset release "$@" ;;
  e2e) build; exec ctest --preset release -L e2e "$@" ;;
  *) echo "usage: ./lakestream.sh {run|test|build|e2e} [options]" >&2; exit 2 ;;
esac
