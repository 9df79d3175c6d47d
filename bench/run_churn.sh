#!/usr/bin/env bash
# Memory under churn (issue 12): the fastws echo example on one core (SERVER_CPU), fastws_bench
# churn on another (CLIENT_CPU) holding CONNECTIONS connections for DURATION seconds while it
# replaces CHURN of them per second and sends MESSAGES messages per second over the open ones.
# Prints the server's RSS every REPORT_EVERY seconds and the growth from the first reading (the
# population open) to the last; a leak or fragmentation the allocator keeps shows as growth.
# Exits 1 when the server ended connections the run did not end.
#
#   bench/run_churn.sh                        # ten minutes around 10,000 connections
#   DURATION=60 CONNECTIONS=2000 bench/run_churn.sh
# Environment: BUILD_DIR NO_BUILD CONNECTIONS CHURN MESSAGES SIZE DURATION REPORT_EVERY
#              SERVER_CPU CLIENT_CPU
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

CONNECTIONS=${CONNECTIONS:-10000}
CHURN=${CHURN:-200}
MESSAGES=${MESSAGES:-10000}
SIZE=${SIZE:-64}
DURATION=${DURATION:-600}
REPORT_EVERY=${REPORT_EVERY:-60}

build_targets
ulimit -n "$(ulimit -Hn)"
start_server "$BUILD_DIR/examples/echo" --port "$(free_port)" --threads 1
echo "fastws echo (PID $SERVER_PID) on CPU $SERVER_CPU; $CONNECTIONS connections, $CHURN replaced/s," \
  "$MESSAGES messages/s of $SIZE B, $DURATION s"
taskset -c "$CLIENT_CPU" "$BENCH" churn --port "$SERVER_PORT" --server-pid "$SERVER_PID" \
  --connections "$CONNECTIONS" --churn "$CHURN" --messages "$MESSAGES" --size "$SIZE" \
  --duration "$DURATION" --report-every "$REPORT_EVERY"
