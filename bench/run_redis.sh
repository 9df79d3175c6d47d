#!/usr/bin/env bash
# Scale-out through Redis, measured from outside: SUBSCRIBERS (1,000) subscribers of one topic
# spread over three nodes (examples/topics --threads 1 --redis, each pinned to SERVER_CPU beside
# redis-server) and one publisher per node (bench/load/redis_fanout_load on CLIENT_CPU). The
# baseline ("local") is the same load on one node without Redis: every subscriber and the three
# publishers on it, so every publish is a local one.
#
# Per configuration, medians of RUNS runs:
#   - delivery latency, p50 and p99, at RATE messages/s per publisher for DURATION s: to the
#     subscribers on the publisher's node (local) and to those on the other nodes (across, by way
#     of Redis); "added" is across minus local;
#   - deliveries/s when each publisher sends BURST messages at once, and of them across nodes;
#   - CPU per published message (burst phase): the nodes together, and redis-server.
#
#   bench/run_redis.sh
# Environment: BUILD_DIR NO_BUILD RUNS SUBSCRIBERS RATE DURATION BURST SIZE SERVER_CPU CLIENT_CPU
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

RUNS=${RUNS:-3}
SUBSCRIBERS=${SUBSCRIBERS:-1000}
RATE=${RATE:-10}
DURATION=${DURATION:-3}
BURST=${BURST:-1000}
SIZE=${SIZE:-64}
LOAD="$BUILD_DIR/bench/redis_fanout_load"
NODE="$BUILD_DIR/examples/topics"

if [ "${NO_BUILD:-0}" != 1 ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  ninja -C "$BUILD_DIR" -j2 topics redis_fanout_load >/dev/null
fi
command -v redis-server >/dev/null || { echo "error: redis-server is missing (scripts/install-deps.sh)" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"

redis_port=$(free_port)
taskset -c "$SERVER_CPU" redis-server --port "$redis_port" --bind 127.0.0.1 --save "" \
  --appendonly no >/dev/null &
redis_pid=$!
started_pids+=("$redis_pid")
for _ in $(seq 50); do
  [ "$(redis-cli -p "$redis_port" ping 2>/dev/null)" = PONG ] && break
  sleep 0.1
done

# run_load NAME PORTS PIDS: one run of the load generator, its line kept under NAME.
declare -A lines
run_load() {
  local name=$1 ports=$2 pids=$3 line
  line=$(taskset -c "$CLIENT_CPU" "$LOAD" --ports "$ports" --pids "$pids" --redis-pid "$redis_pid" \
    --subscribers "$SUBSCRIBERS" --rate "$RATE" --duration "$DURATION" --burst "$BURST" \
    --size "$SIZE") || { echo "error: $name run failed: $line" >&2; exit 1; }
  echo "$name: $line"
  lines[$name]+="$line"$'\n'
}

for run in $(seq "$RUNS"); do
  ports=() pids=()
  for _ in 1 2 3; do
    start_server "$NODE" --port "$(free_port)" --threads 1 --redis "redis://127.0.0.1:$redis_port"
    ports+=("$SERVER_PORT") pids+=("$SERVER_PID")
  done
  run_load scaled "$(IFS=,; echo "${ports[*]}")" "$(IFS=,; echo "${pids[*]}")"
  for pid in "${pids[@]}"; do stop_pid "$pid"; done

  start_server "$NODE" --port "$(free_port)" --threads 1
  run_load local "$SERVER_PORT,$SERVER_PORT,$SERVER_PORT" "$SERVER_PID"
  stop_pid "$SERVER_PID"
done

# column NAME KEY: the median of KEY over NAME's runs.
column() {
  # shellcheck disable=SC2046  # one value per run
  median $(while read -r line; do [ -n "$line" ] && value "$2" "$line"; done <<<"${lines[$1]}")
}
echo
printf '%-7s %9s %9s %9s %9s %10s %10s %14s %14s %13s %13s\n' setup "local p50" "local p99" \
  "across p50" "across p99" "added p50" "added p99" "deliveries/s" "across/s" "node CPU/msg" \
  "Redis CPU/msg"
for name in local scaled; do
  lp50=$(column "$name" local_p50_us) lp99=$(column "$name" local_p99_us)
  cp50=$(column "$name" cross_p50_us) cp99=$(column "$name" cross_p99_us)
  added50=n/a added99=n/a
  if [ "$name" = scaled ]; then
    added50=$(awk -v a="$cp50" -v b="$lp50" 'BEGIN { printf "%.0f", a - b }')
    added99=$(awk -v a="$cp99" -v b="$lp99" 'BEGIN { printf "%.0f", a - b }')
  fi
  printf '%-7s %7sus %7sus %8sus %8sus %8sus %8sus %14.0f %14.0f %11sus %11sus\n' "$name" \
    "$lp50" "$lp99" "$cp50" "$cp99" "$added50" "$added99" "$(column "$name" deliveries_per_s)" \
    "$(column "$name" cross_deliveries_per_s)" "$(column "$name" node_cpu_us_per_message)" \
    "$(column "$name" redis_cpu_us_per_message)"
done
echo "(medians of $RUNS runs; $SUBSCRIBERS subscribers, 3 publishers, $SIZE-byte messages;" \
  "latency at $RATE msg/s per publisher for $DURATION s; throughput and CPU from $BURST" \
  "messages per publisher at once; nodes and redis-server on CPU $SERVER_CPU, the load" \
  "generator on CPU $CLIENT_CPU)"
