#!/usr/bin/env bash
# Attacks on fresh fastws servers (issue 16: pipelined HTTP, streamed sends to a paused reader,
# compressed messages in assembly, topic joins, a message flood, slowloris, a deflate bomb), each
# with a well-behaved client beside it. Prints per attack the server's peak RSS, its fds before
# and after, its CPU after the attack, and the client's p50/p99/max round trip and failures;
# exits 1 when a memory bound or a check fails. The attacks and their bounds are described at
# the top of tools/fastws_attack.cpp.
#
#   bench/run_attack.sh            # full run, a few minutes
#   bench/run_attack.sh --quick    # the memory bounds on the cheap sizes, about a minute
#   bench/run_attack.sh --only http-pipeline,deflate-bomb   (--list names them)
# Environment: BUILD_DIR NO_BUILD SERVER_CPU CLIENT_CPU
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build/release}
if [ "${NO_BUILD:-0}" != 1 ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  ninja -C "$BUILD_DIR" -j2 fastws_attack echo chat topics streamed_echo_server >/dev/null
fi
exec "$BUILD_DIR/tools/fastws_attack" --build-dir "$BUILD_DIR" --server-cpu "${SERVER_CPU:-0}" \
  --client-cpu "${CLIENT_CPU:-1}" "$@"
