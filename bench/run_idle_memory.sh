#!/usr/bin/env bash
# Server memory per idle open connection at CONNECTIONS (10,000) connections: each server is
# started fresh for each run, fastws_bench opens the connections (finishing the WebSocket
# handshake where there is one) and reports (VmRSS after - VmRSS before) / CONNECTIONS. The
# plain TCP echo server is the baseline. Only user-space RSS is counted: the kernel's socket
# memory is not in it.
#
#   bench/run_idle_memory.sh
# Environment: BUILD_DIR NO_BUILD RUNS CONNECTIONS SERVER_CPU CLIENT_CPU
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

RUNS=${RUNS:-1}
CONNECTIONS=${CONNECTIONS:-10000}
# Held open before the first reading: one-time costs (library code pages, arenas) stay out.
WARMUP_CONNECTIONS=${WARMUP_CONNECTIONS:-1000}

build_targets
# Each connection is a file descriptor in the server and in the client; both inherit this.
ulimit -n "$(ulimit -Hn)"

declare -A per_connection
measured=()
for server in "${SERVERS[@]}"; do
  read -r name binary mode args <<<"$server"
  if [ ! -x "$binary" ]; then
    echo "skipping $name: $binary is not built"
    continue
  fi
  results=()
  for run in $(seq "$RUNS"); do
    # A fresh server per run: memory freed by closed connections is not given back to the
    # system, so a second run on the same server would measure reused memory.
    # shellcheck disable=SC2086  # args is a word list on purpose
    start_server "$binary" --port "$(free_port)" $args
    line=$(run_bench idle --mode "$mode" --port "$SERVER_PORT" \
      --connections "$CONNECTIONS" --warmup-connections "$WARMUP_CONNECTIONS" \
      --server-pid "$SERVER_PID")
    echo "$name run $run: $line"
    results+=("$(value bytes_per_conn "$line")")
    stop_started
  done
  per_connection[$name]=$(median "${results[@]}")
  measured+=("$name")
done

echo
printf '%-10s %12s %16s %12s\n' server connections "bytes/conn (RSS)" "x tcp"
for name in "${measured[@]}"; do
  printf '%-10s %12s %16.0f %12s\n' "$name" "$CONNECTIONS" "${per_connection[$name]}" \
    "$(ratio "${per_connection[$name]}" "${per_connection[tcp_echo]:-0}")"
done
echo "(median of $RUNS runs; user-space RSS only: kernel socket buffers are NOT included)"
