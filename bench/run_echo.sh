#!/usr/bin/env bash
# Echo throughput, side by side: each server on one core (SERVER_CPU), fastws_bench on another
# (CLIENT_CPU), 100 connections sending 16-byte messages, ping-pong (one message in flight per
# connection) and pipelined (no limit). Every server runs at once; RUNS rounds of DURATION seconds
# alternate between them, so that a change in the machine's load falls on all alike. Prints the
# median messages/s, the median messages per server CPU-second, and both as a ratio to the plain
# TCP echo server measured in the same run (the limit the kernel sets).
#
#   bench/run_echo.sh
# Environment: BUILD_DIR NO_BUILD RUNS DURATION CONNECTIONS SIZE SERVER_CPU CLIENT_CPU UWS_PEER
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

RUNS=${RUNS:-3}
DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-100}
SIZE=${SIZE:-16}
MODES=("ping-pong 1" "pipelined 0")

build_targets

declare -A pid_of port_of mode_of rates cpu_rates rate cpu_rate
measured=()
for server in "${SERVERS[@]}"; do
  read -r name binary mode args <<<"$server"
  if [ ! -x "$binary" ]; then
    echo "skipping $name: $binary is not built"
    continue
  fi
  # shellcheck disable=SC2086  # args is a word list on purpose
  start_server "$binary" --port "$(free_port)" $args
  pid_of[$name]=$SERVER_PID port_of[$name]=$SERVER_PORT mode_of[$name]=$mode
  measured+=("$name")
done

for run in $(seq "$RUNS"); do
  for entry in "${MODES[@]}"; do
    read -r label pipeline <<<"$entry"
    for name in "${measured[@]}"; do
      line=$(run_bench echo --mode "${mode_of[$name]}" --port "${port_of[$name]}" \
        --connections "$CONNECTIONS" --size "$SIZE" --pipeline "$pipeline" \
        --duration "$DURATION" --warmup 1 --server-pid "${pid_of[$name]}")
      echo "$name $label run $run: $line"
      rates[$name/$label]+=" $(value msgs_per_s "$line")"
      cpu_rates[$name/$label]+=" $(value msgs_per_server_cpu_s "$line")"
    done
  done
done
stop_started

for name in "${measured[@]}"; do
  for entry in "${MODES[@]}"; do
    read -r label _ <<<"$entry"
    # shellcheck disable=SC2086  # word lists on purpose
    rate[$name/$label]=$(median ${rates[$name/$label]})
    # shellcheck disable=SC2086
    cpu_rate[$name/$label]=$(median ${cpu_rates[$name/$label]})
  done
done

echo
printf '%-12s %-10s %14s %20s %12s %16s\n' server mode "msgs/s" "msgs/server-CPU-s" "x tcp rate" "x tcp per-CPU"
for name in "${measured[@]}"; do
  for entry in "${MODES[@]}"; do
    read -r label _ <<<"$entry"
    key=$name/$label
    printf '%-12s %-10s %14.0f %20.0f %12s %16s\n' "$name" "$label" "${rate[$key]}" \
      "${cpu_rate[$key]}" "$(ratio "${rate[$key]}" "${rate[tcp_echo/$label]:-0}")" \
      "$(ratio "${cpu_rate[$key]}" "${cpu_rate[tcp_echo/$label]:-0}")"
  done
done
echo "(median of $RUNS alternating rounds of ${DURATION} s; $CONNECTIONS connections, $SIZE-byte" \
  "messages; server on CPU $SERVER_CPU, fastws_bench on CPU $CLIENT_CPU)"
