#!/usr/bin/env bash
# The conformance runner (fastws-conformance: the Autobahn case catalogue) in both roles:
#   echo           the echo example without compression, the runner as fuzzing client: every
#                  case but 12.x/13.x (they need permessage-deflate: the echo would decline them)
#   echo-compress  the echo example with --compress: every case
#   client         the fastws client testee (tools/autobahn_client) against the runner as
#                  fuzzing server: every case, permessage-deflate offered
# Every case must pass: OK, or INFORMATIONAL where that is the only outcome (--require-ok).
# Cases are played JOBS at a time (default: twice the number of cores: a case is a ping-pong,
# its two sides taking turns, so it keeps one core busy at most), each on its own connection;
# the 9.x cases, whose durations are performance figures, each alone. Each run's wall time is
# printed. Reports: $BUILD_DIR/conformance/RUN/index.html and index.json.
#
#   scripts/conformance.sh                       # builds what it needs (Release)
#   NO_BUILD=1 BUILD_DIR=build/release scripts/conformance.sh
#   CASES='1.*,9.*' scripts/conformance.sh       # fewer cases, in every run
#   RUNS='echo-compress client' scripts/conformance.sh
#   COMPRESS_LEVEL=6 scripts/conformance.sh      # the testees' zlib level (see below)
#   QUICK=1 scripts/conformance.sh               # a part of 12.x/13.x (see below)
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build/release}
if [ "${NO_BUILD:-0}" != 1 ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  ninja -C "$BUILD_DIR" -j2 fastws_conformance echo autobahn_client >/dev/null
fi
runner="$BUILD_DIR/tools/fastws-conformance"
jobs=${JOBS:-$((2 * $(nproc)))}
runs=${RUNS:-echo echo-compress client}
cases=${CASES:-*}
# QUICK=1: with compression, of 12.x/13.x only the message shapes up to 8 KiB whole and 8 KiB
# in 256-byte fragments (cases N.M.1-6 and N.M.11), every parameter variant.
if [ "${QUICK:-0}" = 1 ] && [ "$cases" = "*" ]; then
  compressed_cases="1.*,2.*,3.*,4.*,5.*,6.*,7.*,9.*,10.*"
  for n in 1 2 3 4 5 6 11; do compressed_cases+=",12.*.$n,13.*.$n"; done
else
  compressed_cases=$cases
fi
# The zlib level the testees (echo, autobahn_client) compress with. Most of a run's time is
# zlib, and the level changes none of the protocol paths (context takeover, window sizes,
# fragmentation) the compression cases test, only how hard zlib looks for matches: 1 lets the
# whole catalogue run in CI. The runner compresses at level 1 whatever this says.
compress_level=${COMPRESS_LEVEL:-1}

source scripts/lib/conformance.sh

# server_run NAME CASES [echo flags]: one echo process, the runner as fuzzing client against it.
server_run() {
  local name=$1 run_cases=$2 status=0 started
  shift 2
  local out="$BUILD_DIR/conformance/$name"
  rm -rf "$out"
  mkdir -p "$out"
  started=$(date +%s)
  start_server "echo $*" "$out/echo.log" \
    "$BUILD_DIR/examples/echo" --port 0 --threads "$jobs" "$@" || return 1
  echo "--- $name: echo${*:+ $*} (cases $run_cases, $jobs at a time)"
  "$runner" test-server "ws://127.0.0.1:$server_port/" --cases "$run_cases" --jobs "$jobs" \
    --agent "$name" --report "$out" --require-ok >"$out/run.log" || status=$?
  summary "$out/run.log" "$started"
  stop_all
  return "$status"
}

# client_run NAME CASES: the runner as fuzzing server, the fastws client testee against it.
client_run() {
  local name=$1 run_cases=$2 status=0 started
  local out="$BUILD_DIR/conformance/$name"
  rm -rf "$out"
  mkdir -p "$out"
  started=$(date +%s)
  start_server "the fuzzing server" "$out/run.log" \
    "$runner" test-client --port 0 --once --cases "$run_cases" --report "$out" --require-ok ||
    return 1
  echo "--- $name: autobahn_client (cases $run_cases, $jobs at a time)"
  "$BUILD_DIR/tools/autobahn_client" "ws://127.0.0.1:$server_port" "$name" --jobs "$jobs" \
    --compress-level "$compress_level" >"$out/client.log" 2>&1 || status=$?
  wait "${pids[-1]}" || status=$?
  pids=()
  summary "$out/run.log" "$started"
  return "$status"
}

status=0
for run in $runs; do
  case $run in
    echo) server_run echo "$cases,-12.*,-13.*" || status=1 ;;
    echo-compress)
      server_run echo-compress "$compressed_cases" --compress --compress-level "$compress_level" ||
        status=1
      ;;
    client) client_run client "$compressed_cases" || status=1 ;;
    *) echo "unknown run $run (echo echo-compress client)" >&2; exit 2 ;;
  esac
done
exit "$status"
