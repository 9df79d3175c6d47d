#!/usr/bin/env bash
# Instructions per echoed message in each server's user space, counted by callgrind: the stable
# measure of the echo path's cost, which the machine's load does not move (bench/run_echo.sh's
# per CPU-second figures move by 10 to 20% from run to run on a shared machine). Each server of
# bench/lib.sh (the TCP echo, fastws on epoll and on io_uring, UWS_PEER when set) runs under
# callgrind twice while fastws_bench makes a ping-pong echo over CONNECTIONS connections of
# SIZE-byte messages: SHORT messages, then LONG. The difference of the two totals divided by the
# difference of the messages echoed (as fastws_bench counted them) leaves start-up and
# handshakes out.
#
#   bench/run_instructions.sh
# Environment: BUILD_DIR NO_BUILD CONNECTIONS SIZE SHORT LONG SERVER_CPU CLIENT_CPU UWS_PEER
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

CONNECTIONS=${CONNECTIONS:-100}
SIZE=${SIZE:-16}
SHORT=${SHORT:-50000}
LONG=${LONG:-150000}

command -v valgrind >/dev/null || {
  echo "error: valgrind is not installed" >&2
  exit 1
}
build_targets
profiles=$(mktemp -d)
trap 'stop_started; rm -rf "$profiles"' EXIT

# total_instructions NAME BINARY MODE MESSAGES ARGS...: the instructions the server executed,
# start to exit, and the messages echoed (fastws_bench stops within 20 ms of the MESSAGES-th:
# up to about a thousand more came back under callgrind); nothing when the server left no
# profile.
total_instructions() {
  local name=$1 binary=$2 mode=$3 messages=$4 profile line total
  shift 4
  profile="$profiles/$name.$messages"
  start_server valgrind --tool=callgrind --callgrind-out-file="$profile" "$binary" \
    --port "$(free_port)" "$@"
  line=$(run_bench echo --mode "$mode" --port "$SERVER_PORT" --connections "$CONNECTIONS" \
    --size "$SIZE" --duration 600 --warmup 0 --max-messages "$messages")
  wait_exit "$SERVER_PID" 60 || stop_pid "$SERVER_PID"
  total=$(awk '/^(summary|totals):/ { print $2; exit }' "$profile" 2>/dev/null || true)
  if [ -n "$total" ]; then echo "$total $(value messages "$line")"; fi
}

# wait_exit PID SECONDS: whether the process ended within SECONDS.
wait_exit() {
  local pid=$1
  for _ in $(seq $(($2 * 10))); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  return 1
}

printf '%-13s %22s\n' server "instructions/message"
for entry in "${SERVERS[@]}"; do
  read -r name binary mode extra <<<"$entry"
  [ -x "$binary" ] || continue
  # The fastws example stops itself once the benchmark's connections have closed: a SIGTERM
  # stops the others, but under valgrind (3.19) not a loop waiting in io_uring_enter, which
  # valgrind runs with every signal blocked (not being a call it knows to block); the signal
  # then waits until the loop has done enough work for valgrind to look, and, the benchmark
  # over, the loop does none: it was killed after 5 s, leaving no profile.
  if [ "$binary" = "$BUILD_DIR/examples/echo" ]; then
    extra+=" --exit-after-connections $CONNECTIONS"
  fi
  # shellcheck disable=SC2086  # extra holds separate arguments
  short=$(total_instructions "$name" "$binary" "$mode" "$SHORT" $extra)
  # shellcheck disable=SC2086
  long=$(total_instructions "$name" "$binary" "$mode" "$LONG" $extra)
  read -r short short_messages <<<"$short"
  read -r long long_messages <<<"$long"
  if [ -n "$short" ] && [ -n "$long" ] && ((long_messages > short_messages)); then
    printf '%-13s %22s\n' "$name" "$(((long - short) / (long_messages - short_messages)))"
  else
    printf '%-13s %22s\n' "$name" "n/a (no profile)"
  fi
done
echo "(callgrind; (total of the long run - total of the short run) / (the messages echoed in the" \
  "long run - those of the short one); about $LONG and $SHORT messages, $CONNECTIONS connections," \
  "$SIZE-byte ping-pong; server on CPU $SERVER_CPU, fastws_bench on CPU $CLIENT_CPU)"
