#!/usr/bin/env bash
# fastws-conformance checked against implementations it did not come from (issue 11): as the
# fuzzing client against Python websockets and Node ws echo servers, and as the fuzzing server
# against their clients (tests/interop/autobahn_testee.py, tests/interop/node/autobahn_testee.mjs).
# Prints each run's summary and every case that is not OK; compare with what the official suite
# reports for the same versions (the closing note of issue 11 has both). Not run by CI: the whole
# catalogue takes 10-20 minutes a run on two cores (12.x/13.x are most of it; Python's slowest),
# the four runs about an hour one after the other (RUNS= in parallel shells: each run has its
# own report directory).
#
#   scripts/conformance-peers.sh                  # all four runs, every case
#   CASES='1.*,2.*,13.2.*' scripts/conformance-peers.sh
#   RUNS='python-client node-server' scripts/conformance-peers.sh
# Reports: $BUILD_DIR/conformance-peers/RUN/index.html
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build/release}
if [ "${NO_BUILD:-0}" != 1 ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  ninja -C "$BUILD_DIR" -j2 fastws_conformance >/dev/null
fi
runner="$BUILD_DIR/tools/fastws-conformance"
cases=${CASES:-*}
runs=${RUNS:-python-server node-server python-client node-client}

source scripts/lib/conformance.sh

# server_run NAME COMMAND...: the echo server COMMAND, the fuzzing client against it.
server_run() {
  local name=$1 out="$BUILD_DIR/conformance-peers/$1"
  shift
  rm -rf "$out" && mkdir -p "$out"
  start_server "$name: the peer" "$out/peer.log" "$@" || return 1
  echo "--- $name: fastws-conformance test-server against $* (cases $cases)"
  "$runner" test-server "ws://127.0.0.1:$server_port/" --cases "$cases" --agent "$name" \
    --report "$out" >"$out/run.log" || true
  summary "$out/run.log"
  stop_all
}

# client_run NAME COMMAND...: the fuzzing server, then COMMAND ws://127.0.0.1:PORT NAME.
client_run() {
  local name=$1 out="$BUILD_DIR/conformance-peers/$1"
  shift
  rm -rf "$out" && mkdir -p "$out"
  start_server "$name: the fuzzing server" "$out/run.log" \
    "$runner" test-client --port 0 --once --cases "$cases" --report "$out" || return 1
  echo "--- $name: fastws-conformance test-client with $* (cases $cases)"
  "$@" "ws://127.0.0.1:$server_port" "$name" >"$out/peer.log" 2>&1 || true
  wait "${pids[-1]}" || true
  pids=()
  summary "$out/run.log"
}

node_dir=tests/interop/node
for run in $runs; do
  case $run in
    python-server) server_run "$run" /usr/bin/python3 tests/interop/ws_echo_server.py --compress ;;
    node-server) server_run "$run" node "$node_dir/ws_echo_server.mjs" --compress ;;
    python-client) client_run "$run" /usr/bin/python3 tests/interop/autobahn_testee.py ;;
    node-client) client_run "$run" node "$node_dir/autobahn_testee.mjs" ;;
    *) echo "unknown run $run (python-server node-server python-client node-client)" >&2; exit 2 ;;
  esac
done
