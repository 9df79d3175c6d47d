#!/usr/bin/env bash
# The fastws Client as a load generator, beside fastws_bench in the same run: the fastws echo
# example on one core (SERVER_CPU), the generators taking turns on another (CLIENT_CPU),
# CONNECTIONS connections of SIZE-byte messages, ping-pong and PIPELINE messages in flight, RUNS
# alternating rounds of DURATION seconds. Prints the medians of messages/s and of messages per
# client CPU-second, and the client's ratio to fastws_bench (a hand-built generator that sends
# pre-built bytes). Then memory per idle connection at IDLE_CONNECTIONS: the client process's
# and the server's, measured over the same connections.
#
#   bench/run_client.sh
# Environment: BUILD_DIR NO_BUILD RUNS DURATION CONNECTIONS SIZE PIPELINE IDLE_CONNECTIONS
#              SERVER_CPU CLIENT_CPU
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

RUNS=${RUNS:-3}
DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-100}
SIZE=${SIZE:-16}
PIPELINE=${PIPELINE:-32}
IDLE_CONNECTIONS=${IDLE_CONNECTIONS:-10000}
CLIENT_LOAD="$BUILD_DIR/bench/client_load"

build_targets
if [ "${NO_BUILD:-0}" != 1 ]; then ninja -C "$BUILD_DIR" -j2 client_load >/dev/null; fi
ulimit -n "$(ulimit -Hn)"

# run_client_load ARGS...: like run_bench, for client_load.
run_client_load() {
  local output
  output=$(taskset -c "$CLIENT_CPU" "$CLIENT_LOAD" "$@") || {
    echo "error: client_load $* failed" >&2
    exit 1
  }
  echo "$output"
}

# per_cpu LINE: messages per client CPU-second of a result line.
per_cpu() {
  awk -v m="$(value messages "$1")" -v c="$(value client_cpu_s "$1")" \
    'BEGIN { if (c + 0 > 0) printf "%.0f", m / c; else print "n/a" }'
}

declare -A rate cpu_rate
start_server "$BUILD_DIR/examples/echo" --port "$(free_port)" --threads 1
for entry in "ping-pong 1" "pipelined $PIPELINE"; do
  read -r label pipeline <<<"$entry"
  bench_rates=() bench_cpu=() client_rates=() client_cpu=()
  for run in $(seq "$RUNS"); do
    common=(--port "$SERVER_PORT" --connections "$CONNECTIONS" --size "$SIZE"
      --pipeline "$pipeline" --duration "$DURATION" --warmup 1 --server-pid "$SERVER_PID")
    line=$(run_bench echo --mode ws "${common[@]}")
    echo "fastws_bench $label run $run: $line"
    bench_rates+=("$(value msgs_per_s "$line")") bench_cpu+=("$(per_cpu "$line")")
    line=$(run_client_load echo "${common[@]}")
    echo "client_load  $label run $run: $line"
    client_rates+=("$(value msgs_per_s "$line")") client_cpu+=("$(per_cpu "$line")")
  done
  rate[bench/$label]=$(median "${bench_rates[@]}")
  cpu_rate[bench/$label]=$(median "${bench_cpu[@]}")
  rate[client/$label]=$(median "${client_rates[@]}")
  cpu_rate[client/$label]=$(median "${client_cpu[@]}")
done
stop_started

client_memory=() server_memory=()
for run in $(seq "$RUNS"); do
  # A fresh server per run: memory freed by closed connections is not given back.
  start_server "$BUILD_DIR/examples/echo" --port "$(free_port)" --threads 1
  line=$(run_client_load idle --port "$SERVER_PORT" --connections "$IDLE_CONNECTIONS" \
    --server-pid "$SERVER_PID")
  echo "client_load idle run $run: $line"
  client_memory+=("$(value client_bytes_per_conn "$line")")
  server_memory+=("$(value server_bytes_per_conn "$line")")
  stop_started
done

echo
printf '%-12s %-10s %14s %22s\n' generator mode "msgs/s" "msgs/client-CPU-s"
for label in ping-pong pipelined; do
  for generator in bench client; do
    printf '%-12s %-10s %14.0f %22.0f\n' "$generator" "$label" "${rate[$generator/$label]}" \
      "${cpu_rate[$generator/$label]}"
  done
  echo "  client / fastws_bench ($label): $(ratio "${rate[client/$label]}" "${rate[bench/$label]}") msgs/s," \
    "$(ratio "${cpu_rate[client/$label]}" "${cpu_rate[bench/$label]}") per client CPU-second"
done
client_bytes=$(median "${client_memory[@]}")
server_bytes=$(median "${server_memory[@]}")
echo "idle connection ($IDLE_CONNECTIONS): client $client_bytes B, server $server_bytes B," \
  "client / server $(ratio "$client_bytes" "$server_bytes") (user-space RSS)"
echo "(medians of $RUNS alternating rounds; pipelined = $PIPELINE in flight per connection)"
