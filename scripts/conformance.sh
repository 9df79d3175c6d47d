#!/usr/bin/env bash
# The conformance runner (fastws-conformance: the Autobahn case catalogue) against the echo
# example, as the fuzzing client: without compression every case but 12.x/13.x (they need
# permessage-deflate, the echo then answers UNIMPLEMENTED), and with --compress every case.
# Every case must pass: OK, or INFORMATIONAL where that is the only outcome (--require-ok).
# Reports: $BUILD_DIR/conformance/echo/index.html and .../echo-compress/index.html.
#
#   scripts/conformance.sh                       # builds what it needs (Release)
#   NO_BUILD=1 BUILD_DIR=build/release scripts/conformance.sh
#   CASES='1.*,9.*' scripts/conformance.sh       # fewer cases, in both runs
#   QUICK=1 scripts/conformance.sh               # a part of 12.x/13.x (see below): for CI
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build/release}
if [ "${NO_BUILD:-0}" != 1 ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  ninja -C "$BUILD_DIR" -j2 fastws_conformance echo >/dev/null
fi

echo_pid=
stop_echo() {
  [ -n "$echo_pid" ] || return 0
  kill "$echo_pid" 2>/dev/null || true
  wait "$echo_pid" 2>/dev/null || true
  echo_pid=
}
trap stop_echo EXIT

# run NAME CASES [echo flags]: one echo process, the runner against it.
run() {
  local name=$1 cases=$2 port= status=0
  shift 2
  local out="$BUILD_DIR/conformance/$name"
  rm -rf "$out"
  mkdir -p "$out"
  "$BUILD_DIR/examples/echo" --port 0 --threads 1 "$@" >"$out/echo.log" 2>&1 &
  echo_pid=$!
  for _ in $(seq 100); do
    port=$(grep -oE '127\.0\.0\.1:[0-9]+' "$out/echo.log" | head -n 1 | cut -d: -f2 || true)
    [ -n "$port" ] && break
    sleep 0.1
  done
  if [ -z "$port" ]; then
    echo "echo $* did not start:" >&2
    cat "$out/echo.log" >&2
    return 1
  fi
  echo "--- echo $* (cases $cases)"
  "$BUILD_DIR/tools/fastws-conformance" test-server "ws://127.0.0.1:$port/" --cases "$cases" \
    --agent "$name" --report "$out" --require-ok >"$out/run.log" || status=$?
  # Every case not OK/OK, then the summary.
  grep -E '^\[' "$out/run.log" | grep -vE '\] [0-9.]+ +OK +OK ' || true
  sed -n '/^behavior:/,$p' "$out/run.log"
  stop_echo
  return "$status"
}

cases=${CASES:-*}
# QUICK=1 (scripts/test.sh): with compression, of 12.x/13.x only the message shapes up to 8 KiB
# whole and 8 KiB in 256-byte fragments (cases N.M.1-6 and N.M.11), every parameter variant:
# the whole of 12.x/13.x takes about 15 minutes on a 2-core machine, 95% of it in zlib.
if [ "${QUICK:-0}" = 1 ] && [ "$cases" = "*" ]; then
  compressed_cases="1.*,2.*,3.*,4.*,5.*,6.*,7.*,9.*,10.*"
  for n in 1 2 3 4 5 6 11; do compressed_cases+=",12.*.$n,13.*.$n"; done
else
  compressed_cases=$cases
fi
status=0
run echo "$cases,-12.*,-13.*" || status=1
run echo-compress "$compressed_cases" --compress || status=1
exit "$status"
