#!/usr/bin/env bash
# Runs the interop tests (fastws against Python websockets, Node ws, Chromium and Firefox, in
# both roles where fastws has them) on a Release build and writes docs/interop.md from what
# the peers printed (scripts/interop_matrix.py). Exits nonzero if a test or a check failed.
#   scripts/interop-matrix.sh
# Environment: BUILD_DIR (build/release)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build/release}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)"
report=$BUILD_DIR/interop
rm -rf "$report"
status=0
FASTWS_INTEROP_REPORT_DIR=$PWD/$report ctest --test-dir "$BUILD_DIR" --output-on-failure \
  -R 'Interop' --timeout 300 || status=1
mkdir -p docs
/usr/bin/python3 scripts/interop_matrix.py "$report" scripts/interop-matrix.sh >docs/interop.md ||
  status=1
cat docs/interop.md
exit "$status"
