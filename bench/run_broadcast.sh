#!/usr/bin/env bash
# Broadcast, side by side: each server on one core (SERVER_CPU), fastws_bench on another
# (CLIENT_CPU). The first connection publishes SIZE-byte (1 KiB) messages, the server sends each
# to every connection. The baseline is a plain epoll TCP relay writing the same pre-framed bytes
# to every socket (bench/load/tcp_broadcast_server); fastws is bench/load/fastws_broadcast_server
# (Server::broadcast on one event loop).
#
# 1. Throughput, CONNECTIONS (1,000) connections, for each of WINDOWS (broadcasts in flight:
#    1 = one at a time, 32 = several waiting in the server at once), RUNS runs, the servers
#    taking turns: median deliveries/s and deliveries per server CPU-second.
# 2. Memory, a fresh server per run, MEMORY_CONNECTIONS (100) connections that stop reading
#    (receive buffers shrunk to RCVBUF) while QUEUED (6,144) broadcasts are published: per
#    connection and broadcast, the growth of the server's RSS and the bytes queued in kernel
#    sockets. On loopback the kernel takes about 4 MiB per connection, so only what lies beyond
#    it shows in the server: fewer connections than above, more broadcasts (6 MiB each).
#    "RSS per held byte" = RSS growth / the bytes the kernel did not take: about 1 when each
#    connection keeps its own copy, about 0 when the bytes are shared.
# fastws runs twice: with Server::broadcast, and ("fastws_topic") publishing to a topic every
# connection joined while TOPICS (10,000) other topics exist that the publish does not touch.
# Figures are medians of RUNS runs, with ratios to the TCP relay measured in the same run.
#
#   bench/run_broadcast.sh
# Environment: BUILD_DIR NO_BUILD RUNS DURATION WINDOWS CONNECTIONS SIZE MEMORY_CONNECTIONS
#              QUEUED RCVBUF TOPICS SERVER_CPU CLIENT_CPU
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

RUNS=${RUNS:-3}
DURATION=${DURATION:-1}
WINDOWS=${WINDOWS:-1 32}
CONNECTIONS=${CONNECTIONS:-1000}
SIZE=${SIZE:-1024}
MEMORY_CONNECTIONS=${MEMORY_CONNECTIONS:-100}
QUEUED=${QUEUED:-6144}
RCVBUF=${RCVBUF:-4096}
TOPICS=${TOPICS:-10000}

BROADCAST_SERVERS=(
  "tcp_relay $BUILD_DIR/bench/tcp_broadcast_server tcp"
  "fastws $BUILD_DIR/bench/fastws_broadcast_server ws --threads 1"
  "fastws_topic $BUILD_DIR/bench/fastws_broadcast_server ws --threads 1 --topics $TOPICS"
)

build_targets
if [ "${NO_BUILD:-0}" != 1 ]; then
  for target in tcp_broadcast_server fastws_broadcast_server; do
    ninja -C "$BUILD_DIR" -j2 "$target" >/dev/null || echo "warning: building $target failed" >&2
  done
fi
# Each connection is a file descriptor in the server and in the client; both inherit this.
ulimit -n "$(ulimit -Hn)"

declare -A rate cpu_rate user_bytes kernel_bytes held_bytes port pid
measured=()
for server in "${BROADCAST_SERVERS[@]}"; do
  read -r name binary mode args <<<"$server"
  if [ ! -x "$binary" ]; then
    echo "skipping $name: $binary is not built"
    continue
  fi
  measured+=("$name")
done

# Throughput: every server runs at once (idle but for the one measured) and the runs take turns,
# so that the machine's changing load falls on all of them alike.
for server in "${BROADCAST_SERVERS[@]}"; do
  read -r name binary mode args <<<"$server"
  [ -x "$binary" ] || continue
  # shellcheck disable=SC2086  # args is a word list on purpose
  start_server "$binary" --port "$(free_port)" $args
  port[$name]=$SERVER_PORT pid[$name]=$SERVER_PID
done
declare -A rates cpu_rates
for window in $WINDOWS; do
  for run in $(seq "$RUNS"); do
    for server in "${BROADCAST_SERVERS[@]}"; do
      read -r name binary mode args <<<"$server"
      [ -n "${port[$name]:-}" ] || continue
      line=$(run_bench broadcast --mode "$mode" --port "${port[$name]}" \
        --connections "$CONNECTIONS" --size "$SIZE" --window "$window" \
        --duration "$DURATION" --warmup 1 --server-pid "${pid[$name]}")
      echo "$name window $window run $run: $line"
      rates[$name/$window]+=" $(value deliveries_per_s "$line")"
      cpu_rates[$name/$window]+=" $(value deliveries_per_server_cpu_s "$line")"
    done
  done
  for name in "${measured[@]}"; do
    # shellcheck disable=SC2086  # word lists on purpose
    rate[$name/$window]=$(median ${rates[$name/$window]})
    # shellcheck disable=SC2086
    cpu_rate[$name/$window]=$(median ${cpu_rates[$name/$window]})
  done
done
stop_started

for server in "${BROADCAST_SERVERS[@]}"; do
  read -r name binary mode args <<<"$server"
  [ -x "$binary" ] || continue
  users=() kernels=() helds=()
  for run in $(seq "$RUNS"); do
    # A fresh server per run: memory freed by earlier connections would be reused unseen.
    # shellcheck disable=SC2086
    start_server "$binary" --port "$(free_port)" $args
    line=$(run_bench broadcast --mode "$mode" --port "$SERVER_PORT" \
      --connections "$MEMORY_CONNECTIONS" --size "$SIZE" --queued "$QUEUED" --rcvbuf "$RCVBUF" \
      --server-pid "$SERVER_PID")
    echo "$name memory run $run: $line"
    users+=("$(value user_bytes_per_delivery "$line")")
    kernels+=("$(value kernel_bytes_per_delivery "$line")")
    helds+=("$(value held_bytes_per_delivery "$line")")
    stop_started
  done
  user_bytes[$name]=$(median "${users[@]}")
  kernel_bytes[$name]=$(median "${kernels[@]}")
  held_bytes[$name]=$(median "${helds[@]}")
done

echo
printf '%-13s %7s %14s %10s %24s %14s\n' server window "deliveries/s" "x tcp" \
  "deliveries/server-CPU-s" "x tcp per-CPU"
for name in "${measured[@]}"; do
  for window in $WINDOWS; do
    key=$name/$window
    printf '%-13s %7s %14.0f %10s %24.0f %14s\n' "$name" "$window" "${rate[$key]}" \
      "$(ratio "${rate[$key]}" "${rate[tcp_relay/$window]:-0}")" "${cpu_rate[$key]}" \
      "$(ratio "${cpu_rate[$key]}" "${cpu_rate[tcp_relay/$window]:-0}")"
  done
done
echo "(medians of $RUNS runs of ${DURATION} s after 1 s of warm-up; $CONNECTIONS connections," \
  "$SIZE-byte payloads; server on CPU $SERVER_CPU, fastws_bench on CPU $CLIENT_CPU)"
echo
printf '%-13s %22s %22s %20s %20s\n' server "RSS B/delivery" "kernel B/delivery" \
  "held B/delivery" "RSS per held byte"
for name in "${measured[@]}"; do
  printf '%-13s %22.1f %22.1f %20.1f %20s\n' "$name" "${user_bytes[$name]}" \
    "${kernel_bytes[$name]}" "${held_bytes[$name]}" \
    "$(ratio "${user_bytes[$name]}" "${held_bytes[$name]}")"
done
echo "(medians of $RUNS runs; $QUEUED broadcasts of $SIZE bytes queued for $MEMORY_CONNECTIONS" \
  "connections that do not read, SO_RCVBUF $RCVBUF; per connection and broadcast: server" \
  "user-space RSS growth, payload bytes in kernel socket queues (not the kernel's memory for" \
  "them), and the frame bytes the kernel did not take)"
