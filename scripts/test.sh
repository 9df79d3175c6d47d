#!/usr/bin/env bash
# Builds fastws and runs every test: unit and integration tests (Release, warnings as errors; again
# with every loop on io_uring),
# the API reference (Doxygen, warnings as errors: scripts/docs.sh),
# the whole conformance catalogue in both roles (scripts/conformance.sh), the tests again
# under ASan+UBSan, the threading tests under TSan, and each fuzz target for FUZZ_SECONDS (default 20).
# Usage: scripts/test.sh            (FUZZ_SECONDS=60 scripts/test.sh for longer fuzzing)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs=$(nproc)
fuzz_seconds=${FUZZ_SECONDS:-20}

step() { printf '\n=== %s ===\n' "$*"; }

step "Release build, all tests"
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DFASTWS_WERROR=ON >/dev/null
cmake --build build/release -j "$jobs"
# The interop tests keep what their peers printed: the matrix below is made from it.
rm -rf build/release/interop
FASTWS_INTEROP_REPORT_DIR=$PWD/build/release/interop \
  ctest --test-dir build/release --output-on-failure -j "$jobs" --timeout 300

step "Release tests again on the io_uring backend (FASTWS_IO_BACKEND=io_uring: every loop)"
# Browser and interop tests ran above with their peers; here the library's own tests run again.
FASTWS_IO_BACKEND=io_uring \
  ctest --test-dir build/release --output-on-failure -j "$jobs" --timeout 300 -E 'Browser|Interop'

step "API reference: Doxygen over the public headers, warnings as errors (scripts/docs.sh)"
scripts/docs.sh

step "Interop matrix (docs/interop.md is made the same way by scripts/interop-matrix.sh)"
/usr/bin/python3 scripts/interop_matrix.py build/release/interop scripts/interop-matrix.sh

step "Attacks in quick mode: each server's memory bound under attack (bench/run_attack.sh)"
NO_BUILD=1 BUILD_DIR=build/release bench/run_attack.sh --quick

step "bench/compare --smoke: every comparison measurement for about a second, fastws and TCP echo"
NO_BUILD=1 BUILD_DIR=build/release bench/compare --smoke

step "Conformance: the whole Autobahn case catalogue, the echo example (compression off and on) and the client"
NO_BUILD=1 BUILD_DIR=build/release scripts/conformance.sh

step "Install, then build a consumer with find_package(fastws) and with pkg-config"
rm -rf build/install-test
cmake --install build/release --prefix "$PWD/build/install-test" >/dev/null
cmake -S tests/install -B build/install-test/consumer -G Ninja \
  -DCMAKE_PREFIX_PATH="$PWD/build/install-test" >/dev/null
cmake --build build/install-test/consumer
build/install-test/consumer/consumer
build/install-test/consumer/redis_consumer
if [ -x build/install-test/consumer/asio_consumer ]; then build/install-test/consumer/asio_consumer; fi
PKG_CONFIG_PATH="$PWD/build/install-test/lib/pkgconfig" \
  c++ tests/install/consumer.cpp -o build/install-test/consumer-pkg-config \
  $(PKG_CONFIG_PATH="$PWD/build/install-test/lib/pkgconfig" pkg-config --cflags --libs --static fastws)
build/install-test/consumer-pkg-config

step "ASan + UBSan build, unit and integration tests"
cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DFASTWS_WERROR=ON \
  -DFASTWS_SANITIZE=address,undefined -DFASTWS_BUILD_BENCH=OFF -DFASTWS_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build/asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1 ctest --test-dir build/asan --output-on-failure -j "$jobs" --timeout 600

step "TSan build, threading tests"
cmake -S . -B build/tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFASTWS_WERROR=ON \
  -DFASTWS_SANITIZE=thread -DFASTWS_BUILD_BENCH=OFF -DFASTWS_BUILD_EXAMPLES=OFF >/dev/null
cmake --build build/tsan -j "$jobs"
# Tests whose name says they exercise threads (cross-thread sends, loops, shutdown).
TSAN_OPTIONS=halt_on_error=1 ctest --test-dir build/tsan --output-on-failure -j "$jobs" \
  --timeout 600 -R 'Thread|Concurrent|EventLoop|Shutdown|Broadcast|Publish'

step "Fuzz targets, ${fuzz_seconds}s each (clang, libFuzzer, ASan+UBSan)"
scripts/fuzz.sh "$fuzz_seconds"

step "all tests passed"
