# shellcheck shell=bash
# Shared by scripts/conformance.sh and scripts/conformance-peers.sh (sourced, not run): the
# processes a run starts (stopped on exit), the port a started server prints, a run's summary.

pids=()
stop_all() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
}
trap stop_all EXIT

# wait_port LOG: the port the process writing LOG printed as 127.0.0.1:PORT, empty if none
# within 10 s.
wait_port() {
  local port=
  for _ in $(seq 100); do
    port=$(grep -oE '127\.0\.0\.1:[0-9]+' "$1" | head -n 1 | cut -d: -f2 || true)
    [ -n "$port" ] && break
    sleep 0.1
  done
  echo "$port"
}

# start_server NAME LOG COMMAND...: starts COMMAND in the background (output to LOG, its pid
# last in pids) and sets server_port to the port it prints; 1, LOG shown, if it prints none.
start_server() {
  local name=$1 log=$2
  shift 2
  "$@" >"$log" 2>&1 &
  pids+=($!)
  server_port=$(wait_port "$log")
  if [ -z "$server_port" ]; then
    echo "$name did not start:" >&2
    cat "$log" >&2
    return 1
  fi
}

# summary LOG [STARTED]: every case of the runner's LOG that is not OK/OK, the summary, and
# the wall time since STARTED (date +%s) when given.
summary() {
  grep -E '^\[' "$1" | grep -vE '\] [0-9.]+ +OK +OK ' || true
  sed -n '/^behavior:/,$p' "$1"
  if [ -n "${2:-}" ]; then echo "wall time: $(($(date +%s) - $2)) s"; fi
}
