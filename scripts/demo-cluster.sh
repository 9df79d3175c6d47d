#!/usr/bin/env bash
# The chat demo scaled out: a redis-server on 127.0.0.1 and three chat servers attached to it
# (examples/chat.cpp --redis), on three ports. Users on different servers chat in one room:
#   http://127.0.0.1:8081/?name=ann    http://127.0.0.1:8082/?name=bob    http://127.0.0.1:8083/
# Ctrl-C stops all four. Stop Redis alone (the PID is printed) to see local delivery go on and
# the servers reconnect when it is back (start it again with the printed command).
# Usage: scripts/demo-cluster.sh [--redis-port N] [--port N]   (N, N+1, N+2 for the chat servers)
set -euo pipefail
cd "$(dirname "$0")/.."
redis_port=6390
first_port=8081
while [ $# -gt 0 ]; do
  case "$1" in
    --redis-port) redis_port="$2"; shift 2 ;;
    --port) first_port="$2"; shift 2 ;;
    *) echo "usage: $0 [--redis-port N] [--port N]" >&2; exit 2 ;;
  esac
done

scripts/install-deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j "$(nproc)" --target chat

pids=()
stop_all() {
  # Only the processes this script started, by PID.
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop_all EXIT
trap 'exit 130' INT TERM

redis_command=(redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no)
"${redis_command[@]}" >/dev/null &
pids+=($!)
echo "redis-server on 127.0.0.1:$redis_port (PID $!): ${redis_command[*]}"
for _ in $(seq 50); do
  [ "$(redis-cli -p "$redis_port" ping 2>/dev/null)" = PONG ] && break
  sleep 0.1
done
[ "$(redis-cli -p "$redis_port" ping 2>/dev/null)" = PONG ] || {
  echo "redis-server did not start on port $redis_port (taken? try --redis-port)" >&2
  exit 1
}

for i in 0 1 2; do
  build/release/examples/chat --port $((first_port + i)) --redis "redis://127.0.0.1:$redis_port" &
  pids+=($!)
done
echo "open http://127.0.0.1:$first_port/?name=ann and http://127.0.0.1:$((first_port + 1))/?name=bob"
echo "watch Redis: redis-cli -p $redis_port PUBSUB NUMSUB lobby   (one subscription per server)"
# Until Ctrl-C, or until one of them ends.
wait -n
