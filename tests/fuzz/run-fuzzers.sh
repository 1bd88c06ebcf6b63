#!/bin/bash
# Builds the libFuzzer targets with clang (ASan+UBSan) and runs each for SECONDS,
# starting from the corpus in tests/fuzz/corpus. New inputs go to BUILD_DIR/fuzz-new;
# a crash leaves its input there (crash-*) and fails the run.
# Usage: tests/fuzz/run-fuzzers.sh BUILD_DIR [SECONDS]
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$1
seconds=${2:-25}
cc=$(command -v clang-14 || command -v clang)
cxx=$(command -v clang++-14 || command -v clang++)
# -O1 with line tables: a third faster to build than -O2 -g, and fast enough to fuzz.
cmake -S "$src" -B "$build" -DHPAI_FUZZ=ON -DCMAKE_BUILD_TYPE= -DCMAKE_CXX_FLAGS="-O1 -gline-tables-only" -DCMAKE_C_FLAGS="-O1" \
  -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" >/dev/null
cmake --build "$build" -j2 --target hpai-fuzzers
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
for name in oci_manifest profile env tar_path registry; do
  new="$build/fuzz-new/$name"
  mkdir -p "$new" "$build/fuzz-artifacts"
  log="$build/fuzz-new/$name.log"
  if "$build/bin/fuzz-$name" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$build/fuzz-artifacts/$name-" "$new" "$src/tests/fuzz/corpus/$name" >"$log" 2>&1; then
    echo "fuzz-$name: ${seconds}s, $(grep -o 'number_of_executed_units: [0-9]*' "$log" | cut -d' ' -f2) inputs, corpus $(ls "$new" | wc -l) new + $(ls "$src/tests/fuzz/corpus/$name" | wc -l) seeds, no failure"
  else
    echo "fuzz-$name: FAILED (input in $build/fuzz-artifacts/):" >&2
    grep -v '^#' "$log" | tail -40 >&2
    status=1
  fi
done
exit $status
