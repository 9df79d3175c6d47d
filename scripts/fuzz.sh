#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) and runs each one for N seconds (default
# 20) on a copy of its seed corpus, with its dictionary. Fails on the first crash.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
CC=clang CXX=clang++ cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DFASTWS_FUZZ=ON -DFASTWS_SANITIZE=address,undefined -DFASTWS_BUILD_TESTS=OFF \
  -DFASTWS_BUILD_BENCH=OFF -DFASTWS_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build/fuzz -j "$(nproc)"
shopt -s nullglob
for target in build/fuzz/fuzz/fuzz_*; do
  [ -x "$target" ] || continue
  name=$(basename "$target"); name=${name#fuzz_}
  work=build/fuzz/work/$name
  rm -rf "$work"; mkdir -p "$work/corpus" "$work/artifacts"
  [ -d "fuzz/corpus/$name" ] && cp -r "fuzz/corpus/$name/." "$work/corpus/"
  dict=(); [ -f "fuzz/dict/$name.dict" ] && dict=("-dict=fuzz/dict/$name.dict")
  echo "fuzz $name for ${seconds}s"
  "$target" "$work/corpus" "${dict[@]}" -max_total_time="$seconds" -rss_limit_mb=2048 \
    -artifact_prefix="$work/artifacts/" -print_final_stats=1 2>"$work/log" ||
    { tail -n 60 "$work/log"; echo "fuzz target $name failed"; exit 1; }
  grep -E '^stat::number_of_executed_units' "$work/log" || true
done
