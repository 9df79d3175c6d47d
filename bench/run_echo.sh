#!/usr/bin/env bash
# Echo throughput, side by side: each server on one core (SERVER_CPU), fastws_bench on another
# (CLIENT_CPU), 100 connections sending 16-byte messages, ping-pong (one message in flight per
# connection) and pipelined (no limit), RUNS runs of DURATION seconds each. Prints the median
# messages/s, the median messages per server CPU-second, and both as a ratio to the plain TCP
# echo server measured in the same run (the limit the kernel sets).
#
#   bench/run_echo.sh
# Environment: BUILD_DIR NO_BUILD RUNS DURATION CONNECTIONS SIZE SERVER_CPU CLIENT_CPU
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

RUNS=${RUNS:-3}
DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-100}
SIZE=${SIZE:-16}
MODES=("ping-pong 1" "pipelined 0")

build_targets

declare -A rate cpu_rate
measured=()
for server in "${SERVERS[@]}"; do
  read -r name binary mode args <<<"$server"
  if [ ! -x "$binary" ]; then
    echo "skipping $name: $binary is not built"
    continue
  fi
  # shellcheck disable=SC2086  # args is a word list on purpose
  start_server "$binary" --port "$(free_port)" $args
  for entry in "${MODES[@]}"; do
    read -r label pipeline <<<"$entry"
    rates=() cpu_rates=()
    for run in $(seq "$RUNS"); do
      line=$(run_bench echo --mode "$mode" --port "$SERVER_PORT" \
        --connections "$CONNECTIONS" --size "$SIZE" --pipeline "$pipeline" \
        --duration "$DURATION" --warmup 1 --server-pid "$SERVER_PID")
      echo "$name $label run $run: $line"
      rates+=("$(value msgs_per_s "$line")")
      cpu_rates+=("$(value msgs_per_server_cpu_s "$line")")
    done
    rate[$name/$label]=$(median "${rates[@]}")
    cpu_rate[$name/$label]=$(median "${cpu_rates[@]}")
  done
  stop_started
  measured+=("$name")
done

echo
printf '%-10s %-10s %14s %20s %12s %16s\n' server mode "msgs/s" "msgs/server-CPU-s" "x tcp rate" "x tcp per-CPU"
for name in "${measured[@]}"; do
  for entry in "${MODES[@]}"; do
    read -r label _ <<<"$entry"
    key=$name/$label
    printf '%-10s %-10s %14.0f %20.0f %12s %16s\n' "$name" "$label" "${rate[$key]}" \
      "${cpu_rate[$key]}" "$(ratio "${rate[$key]}" "${rate[tcp_echo/$label]:-0}")" \
      "$(ratio "${cpu_rate[$key]}" "${cpu_rate[tcp_echo/$label]:-0}")"
  done
done
echo "(median of $RUNS runs of ${DURATION} s; $CONNECTIONS connections, $SIZE-byte messages;" \
  "server on CPU $SERVER_CPU, fastws_bench on CPU $CLIENT_CPU)"
