#!/usr/bin/env bash
# Scale-out through Redis, measured from outside: SUBSCRIBERS (1,000) subscribers, each in TOPICS
# (9) topics, spread over three nodes (examples/topics --threads 1, pinned to SERVER_CPU beside
# Redis) and one publisher per node taking turns over the topics (bench/load/redis_fanout_load
# on CLIENT_CPU). Three setups:
#   local    the same load on one node without Redis: every subscriber and the three publishers
#            on it, so every publish is a local one (the baseline);
#   scaled   three nodes with --redis on one redis-server;
#   cluster  three nodes with --redis-cluster on a three-shard Redis Cluster (sharded pub/sub:
#            the topics' channels spread over the shards).
#
# Per configuration, medians of RUNS runs:
#   - delivery latency, p50 and p99, at RATE messages/s per publisher for DURATION s: to the
#     subscribers on the publisher's node (local) and to those on the other nodes (across, by way
#     of Redis); "added" is across minus local;
#   - deliveries/s when each publisher sends BURST messages at once, and of them across nodes;
#   - CPU per published message (burst phase): the nodes together, and redis-server.
#
#   bench/run_redis.sh
# Environment: BUILD_DIR NO_BUILD RUNS SUBSCRIBERS TOPICS RATE DURATION BURST SIZE SERVER_CPU
#              CLIENT_CPU
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

RUNS=${RUNS:-3}
SUBSCRIBERS=${SUBSCRIBERS:-1000}
TOPICS=${TOPICS:-9}
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

scratch=$(mktemp -d)
trap 'stop_started; rm -rf "$scratch"' EXIT

# start_redis ARGS...: a redis-server on a free port, pinned to SERVER_CPU; sets REDIS_PORT and
# REDIS_PID once it answers.
start_redis() {
  REDIS_PORT=$(free_port)
  taskset -c "$SERVER_CPU" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" \
    --appendonly no --dir "$scratch" "$@" >/dev/null &
  REDIS_PID=$!
  started_pids+=("$REDIS_PID")
  for _ in $(seq 50); do
    [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] && return 0
    sleep 0.1
  done
  echo "error: redis-server did not start on port $REDIS_PORT" >&2
  exit 1
}

start_redis
standalone_port=$REDIS_PORT standalone_pid=$REDIS_PID
cluster_ports=() cluster_pids=()
for _ in 1 2 3; do
  start_redis --cluster-enabled yes --cluster-config-file "nodes-$RANDOM.conf"
  cluster_ports+=("127.0.0.1:$REDIS_PORT") cluster_pids+=("$REDIS_PID")
done
redis-cli --cluster create "${cluster_ports[@]}" --cluster-replicas 0 --cluster-yes >/dev/null
for _ in $(seq 100); do
  redis-cli -p "${cluster_ports[0]#*:}" cluster info | grep -q cluster_state:ok && break
  sleep 0.1
done

# run_load NAME PORTS PIDS REDIS_PIDS: one run of the load generator, its line kept under NAME.
declare -A lines
run_load() {
  local name=$1 ports=$2 pids=$3 redis_pids=$4 line
  line=$(taskset -c "$CLIENT_CPU" "$LOAD" --ports "$ports" --pids "$pids" \
    --redis-pids "$redis_pids" --subscribers "$SUBSCRIBERS" --topics "$TOPICS" --rate "$RATE" \
    --duration "$DURATION" --burst "$BURST" --size "$SIZE") ||
    { echo "error: $name run failed: $line" >&2; exit 1; }
  echo "$name: $line"
  lines[$name]+="$line"$'\n'
}

# run_nodes NAME REDIS_PIDS NODE-ARGS...: three nodes with NODE-ARGS, one run, the nodes stopped.
run_nodes() {
  local name=$1 redis_pids=$2 ports=() pids=() pid
  shift 2
  for _ in 1 2 3; do
    start_server "$NODE" --port "$(free_port)" --threads 1 "$@"
    ports+=("$SERVER_PORT") pids+=("$SERVER_PID")
  done
  run_load "$name" "$(IFS=,; echo "${ports[*]}")" "$(IFS=,; echo "${pids[*]}")" "$redis_pids"
  for pid in "${pids[@]}"; do stop_pid "$pid"; done
}

for run in $(seq "$RUNS"); do
  start_server "$NODE" --port "$(free_port)" --threads 1
  run_load local "$SERVER_PORT,$SERVER_PORT,$SERVER_PORT" "$SERVER_PID" "$standalone_pid"
  stop_pid "$SERVER_PID"
  run_nodes scaled "$standalone_pid" --redis "redis://127.0.0.1:$standalone_port"
  run_nodes cluster "$(IFS=,; echo "${cluster_pids[*]}")" \
    --redis "redis://${cluster_ports[0]}" --redis-cluster
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
for name in local scaled cluster; do
  lp50=$(column "$name" local_p50_us) lp99=$(column "$name" local_p99_us)
  cp50=$(column "$name" cross_p50_us) cp99=$(column "$name" cross_p99_us)
  added50=n/a added99=n/a
  if [ "$name" != local ]; then
    added50=$(awk -v a="$cp50" -v b="$lp50" 'BEGIN { printf "%.0f", a - b }')
    added99=$(awk -v a="$cp99" -v b="$lp99" 'BEGIN { printf "%.0f", a - b }')
  fi
  printf '%-7s %7sus %7sus %8sus %8sus %8sus %8sus %14.0f %14.0f %11sus %11sus\n' "$name" \
    "$lp50" "$lp99" "$cp50" "$cp99" "$added50" "$added99" "$(column "$name" deliveries_per_s)" \
    "$(column "$name" cross_deliveries_per_s)" "$(column "$name" node_cpu_us_per_message)" \
    "$(column "$name" redis_cpu_us_per_message)"
done
echo "(medians of $RUNS runs; $SUBSCRIBERS subscribers in $TOPICS topics, 3 publishers," \
  "$SIZE-byte messages;" \
  "latency at $RATE msg/s per publisher for $DURATION s; throughput and CPU from $BURST" \
  "messages per publisher at once; nodes and redis-server on CPU $SERVER_CPU, the load" \
  "generator on CPU $CLIENT_CPU)"
