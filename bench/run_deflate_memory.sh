#!/usr/bin/env bash
# Server memory per permessage-deflate connection once it has used compression: each server is
# started fresh for each run (with --compress), fastws_bench opens CONNECTIONS (1,000) connections
# offering permessage-deflate and echoes one MESSAGE_SIZE-byte (1 KiB) compressed message on
# each, then reports (VmRSS after - VmRSS before) / CONNECTIONS. WARMUP_CONNECTIONS (100) did the
# same before the first reading, so that what a loop sets up once (its shared zlib streams) stays
# out of the figure. Two offers: no context takeover either way (fastws_bench --deflate, what
# uWebSockets' shared mode answers anyway) and a browser's (the client keeps its context). Only
# user-space RSS is counted.
#
#   bench/run_deflate_memory.sh [--peer NAME=COMMAND ...]
#       COMMAND is run with "--compress --port N" appended and must print "listening on ...:N"
#       (uWebSockets: --peer uws=/tmp/uws/uws_peer)
# Environment: BUILD_DIR NO_BUILD RUNS CONNECTIONS WARMUP_CONNECTIONS MESSAGE_SIZE SERVER_CPU
#              CLIENT_CPU
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

RUNS=${RUNS:-3}
CONNECTIONS=${CONNECTIONS:-1000}
WARMUP_CONNECTIONS=${WARMUP_CONNECTIONS:-100}
MESSAGE_SIZE=${MESSAGE_SIZE:-1024}

# name and command (without --port)
servers=(
  "fastws=$BUILD_DIR/examples/echo --threads 1 --compress"
  "fastws_shared=$BUILD_DIR/examples/echo --threads 1 --compress --compressor shared"
)
while [ $# -gt 0 ]; do
  case $1 in
    --peer)
      if [ $# -lt 2 ] || [[ $2 != *=* ]]; then echo "usage: --peer NAME=COMMAND" >&2; exit 2; fi
      servers+=("${2%%=*}=${2#*=} --compress")
      shift
      ;;
    *) echo "usage: $0 [--peer NAME=COMMAND ...]" >&2; exit 2 ;;
  esac
  shift
done

build_targets
ulimit -n "$(ulimit -Hn)"

declare -A per_connection
for offer in no_context browser; do
  offer_flags=--deflate
  [ "$offer" = browser ] && offer_flags="--deflate --deflate-context"
  for entry in "${servers[@]}"; do
    name=${entry%%=*}
    results=()
    for run in $(seq "$RUNS"); do
      # shellcheck disable=SC2086  # the command and the flags are word lists on purpose
      start_server ${entry#*=} --port "$(free_port)" || exit 1
      # shellcheck disable=SC2086
      line=$(run_bench idle $offer_flags --message-size "$MESSAGE_SIZE" --port "$SERVER_PORT" \
        --connections "$CONNECTIONS" --warmup-connections "$WARMUP_CONNECTIONS" --settle 1 \
        --server-pid "$SERVER_PID")
      echo "$offer $name run $run: $line"
      results+=("$(value bytes_per_conn "$line")")
      stop_started
    done
    per_connection[$offer/$name]=$(median "${results[@]}")
  done
done

echo
printf '%-14s %-10s %18s\n' server offer "bytes/conn (RSS)"
for offer in no_context browser; do
  for entry in "${servers[@]}"; do
    name=${entry%%=*}
    printf '%-14s %-10s %18.0f\n' "$name" "$offer" "${per_connection[$offer/$name]}"
  done
done
echo "(median of $RUNS runs, $CONNECTIONS connections each echoing one $MESSAGE_SIZE-byte compressed"
echo " message; offers: no_context = permessage-deflate; client_no_context_takeover;"
echo " server_no_context_takeover, browser = permessage-deflate; client_max_window_bits;"
echo " user-space RSS only: kernel socket buffers are NOT included)"
