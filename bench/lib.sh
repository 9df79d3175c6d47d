# shellcheck shell=bash disable=SC2034  # sourced: the variables set here are used by the caller
# Shared by bench/run_*.sh (sourced, not run): building, starting servers pinned to a core,
# waiting until they are ready, killing exactly the PIDs started here, and small table helpers.

BUILD_DIR=${BUILD_DIR:-build/release}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
BENCH="$BUILD_DIR/tools/fastws_bench"

# The servers compared, as "name binary mode extra-args". Each runs on one core: the fastws
# example is told to use one event loop, the TCP echo server has one. UWS_PEER, when set, names
# a uWebSockets echo server one has built (it takes --port N, like bench/compare's --peer).
SERVERS=(
  "tcp_echo $BUILD_DIR/bench/tcp_echo_server tcp"
  "fastws $BUILD_DIR/examples/echo ws --threads 1 --backend epoll"
  "fastws_uring $BUILD_DIR/examples/echo ws --threads 1 --backend io_uring"
)
[ -n "${UWS_PEER:-}" ] && SERVERS+=("uws $UWS_PEER ws")

started_pids=()

# Stops one server started here: SIGTERM, then SIGKILL if it has not exited within 5 s.
stop_pid() {
  local pid=$1
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

stop_started() {
  local pid
  for pid in "${started_pids[@]}"; do stop_pid "$pid"; done
  started_pids=()
}
trap stop_started EXIT
trap 'exit 130' INT TERM

# Builds (Release) the targets whose sources exist; a missing target just skips its server later.
# NO_BUILD=1 uses what BUILD_DIR already holds.
build_targets() {
  local targets=(fastws_bench) source target
  [ "${NO_BUILD:-0}" = 1 ] && return 0
  for source in bench/load/tcp_echo_server.cpp examples/echo.cpp; do
    [ -f "$source" ] && targets+=("$(basename "$source" .cpp)")
  done
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null || return 1
  for target in "${targets[@]}"; do
    ninja -C "$BUILD_DIR" -j2 "$target" >/dev/null || echo "warning: building $target failed" >&2
  done
  [ -x "$BENCH" ] || { echo "error: $BENCH was not built" >&2; return 1; }
}

# A port nobody listens on, from a range the kernel does not hand out to outgoing connections.
free_port() {
  local port
  for _ in $(seq 100); do
    port=$((20000 + RANDOM % 10000))
    [ -z "$(ss -Htln "sport = :$port")" ] && { echo "$port"; return 0; }
  done
  return 1
}

# start_server BINARY ARGS...: starts it pinned to SERVER_CPU and waits (10 s at most) for its
# ready line; sets SERVER_PID and SERVER_PORT (read back from the line it prints).
start_server() {
  local binary=$1 log line
  shift
  log=$(mktemp)
  taskset -c "$SERVER_CPU" "$binary" "$@" >"$log" 2>&1 &
  SERVER_PID=$!
  started_pids+=("$SERVER_PID")
  for _ in $(seq 100); do
    line=$(grep -m1 -E 'listening on .*:[0-9]+' "$log" || true)
    if [ -n "$line" ]; then
      SERVER_PORT=$(grep -oE ':[0-9]+' <<<"$line" | tail -n1 | tr -d :)
      rm -f "$log"
      return 0
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "error: $binary did not become ready:" >&2
  cat "$log" >&2
  rm -f "$log"
  return 1
}

# value KEY LINE: the value of KEY=value in a fastws_bench result line.
value() {
  grep -oE "(^| )$1=[^ ]+" <<<"$2" | head -n1 | cut -d= -f2 || true
}

# run_bench ARGS...: runs fastws_bench pinned to CLIENT_CPU and prints its key=value line. A
# failed run (a wrong echo, a closed connection) stops the whole comparison, loudly.
run_bench() {
  local output
  output=$(taskset -c "$CLIENT_CPU" "$BENCH" "$@") || {
    echo "error: fastws_bench $* failed" >&2
    exit 1
  }
  echo "${output%%$'\n'*}"
}

median() {
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2];
    else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ratio A B: A / B with two decimals, or n/a.
ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0 && a != "n/a") printf "%.2f", a / b; else print "n/a" }'
}
