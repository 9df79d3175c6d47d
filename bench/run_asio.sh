#!/usr/bin/env bash
# fastws inside a Boost.Asio program against fastws alone and against Beast's own WebSocket:
# echo messages per server CPU-second, ping-pong (one 16-byte message in flight on each of 100
# connections), each server on one core (SERVER_CPU), fastws_bench on another (CLIENT_CPU).
#   fastws         examples/echo --threads 1: fastws's own loop
#   asio_upgrade   bench/load/asio_echo_server: a Beast acceptor, fastws::asio::upgrade, the
#                  bytes through Asio, fastws's loop run by run_on() on one io_context thread
#   asio_handover  the same with --handover: the socket goes to fastws's loop (run_on() too)
#   beast          bench/peers/beast: Beast's own websocket::stream on one io_context thread
# Rounds alternate the servers (each round runs every server once, in turn), so that a noisy
# neighbour on a shared machine hits them all alike; the table gives medians over the rounds
# and each server's figure as a ratio to fastws's own loop and to Beast.
#
#   bench/run_asio.sh
# Environment: BUILD_DIR NO_BUILD RUNS DURATION CONNECTIONS SIZE SERVER_CPU CLIENT_CPU
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

RUNS=${RUNS:-3}
DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-100}
SIZE=${SIZE:-16}
ASIO_SERVERS=(
  "fastws $BUILD_DIR/examples/echo --threads 1"
  "asio_upgrade $BUILD_DIR/bench/asio_echo_server"
  "asio_handover $BUILD_DIR/bench/asio_echo_server --handover"
  "beast $BUILD_DIR/bench/peers/beast_server"
)

build_targets
if [ "${NO_BUILD:-0}" != 1 ]; then
  # Defined only when Boost is found (bench/CMakeLists.txt, bench/peers/CMakeLists.txt).
  for target in asio_echo_server beast_server; do
    if ninja -C "$BUILD_DIR" -t targets all 2>/dev/null | grep -q "^$target:"; then
      ninja -C "$BUILD_DIR" -j2 "$target" >/dev/null || echo "warning: building $target failed" >&2
    fi
  done
fi

declare -A rates cpu_rates
present=()
for server in "${ASIO_SERVERS[@]}"; do
  read -r name binary _ <<<"$server"
  if [ -x "$binary" ]; then present+=("$server"); else echo "skipping $name: $binary is not built"; fi
done

for run in $(seq "$RUNS"); do
  for server in "${present[@]}"; do
    read -r name binary args <<<"$server"
    # shellcheck disable=SC2086  # args is a word list on purpose
    start_server "$binary" --port "$(free_port)" $args
    line=$(run_bench echo --mode ws --port "$SERVER_PORT" --connections "$CONNECTIONS" \
      --size "$SIZE" --pipeline 1 --duration "$DURATION" --warmup 1 --server-pid "$SERVER_PID")
    stop_started
    echo "round $run $name: $line"
    rates[$name]+="$(value msgs_per_s "$line") "
    cpu_rates[$name]+="$(value msgs_per_server_cpu_s "$line") "
  done
done

echo
printf '%-14s %12s %20s %14s %12s\n' server "msgs/s" "msgs/server-CPU-s" "x fastws/CPU" "x beast/CPU"
declare -A rate cpu_rate
for server in "${present[@]}"; do
  read -r name _ <<<"$server"
  # shellcheck disable=SC2086  # space-separated lists on purpose
  rate[$name]=$(median ${rates[$name]})
  # shellcheck disable=SC2086
  cpu_rate[$name]=$(median ${cpu_rates[$name]})
done
for server in "${present[@]}"; do
  read -r name _ <<<"$server"
  printf '%-14s %12.0f %20.0f %14s %12s\n' "$name" "${rate[$name]}" "${cpu_rate[$name]}" \
    "$(ratio "${cpu_rate[$name]}" "${cpu_rate[fastws]:-0}")" \
    "$(ratio "${cpu_rate[$name]}" "${cpu_rate[beast]:-0}")"
done
echo "(median of $RUNS alternating rounds of ${DURATION} s; ping-pong, $CONNECTIONS connections," \
  "$SIZE-byte messages; server on CPU $SERVER_CPU, fastws_bench on CPU $CLIENT_CPU)"
