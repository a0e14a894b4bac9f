#!/usr/bin/env bash
# The layer check (cmake/check_layers.cmake) passes on src/ as it is, and fails — naming the file and
# the rule — once a lower module includes a higher one or another module's internal header.
# usage: wrong_include_test.sh REPO
set -euo pipefail
repo="$1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cmake -DSRC="$repo/src" -DSTAMP="$work/ok" -P "$repo/cmake/check_layers.cmake"
check_fails() {  # $1: file under src to break, $2: the include line, $3: the message expected
  rm -rf "$work/src" && cp -r "$repo/src" "$work/src"
  sed -i "1a $2" "$work/src/$1"
  if cmake -DSRC="$work/src" -DSTAMP="$work/ok2" -P "$repo/cmake/check_layers.cmake" > "$work/out" 2>&1; then
    echo "FAIL: the check passed with $2 in $1"; exit 1
  fi
  tr -s ' \n' ' ' < "$work/out" | grep -qF "$3" || { echo "FAIL: expected '$3' in:"; cat "$work/out"; exit 1; }
}
check_fails lake/delta/delta_log.cc '#include "serve/metrics.h"' "src/lake/delta/delta_log.cc: includes serve/metrics.h, but lake/ is below serve/"
check_fails pipeline/medallion_pipeline.cc '#include "app/runner.h"' "includes app/runner.h, but pipeline/ is below app/"
check_fails jobs/batch_job.cc '#include "pipeline/medallion.h"' "includes pipeline/medallion.h, which is internal to pipeline/"
echo "layer check: passes on src/, fails on each wrong include"
