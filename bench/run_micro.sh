#!/usr/bin/env bash
# Runs the micro benchmarks (Release build) with 3 repetitions; each prints bytes/s and its
# ratio to memcpy of the same buffer measured in the same run (medians).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j "$(nproc)"
for bench in build/release/bench/bench_*; do
  [ -x "$bench" ] || continue
  echo "=== $(basename "$bench")"
  "$bench" --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
done
