#!/usr/bin/env bash
# Builds fastws (Release) and runs the demo server on ws://127.0.0.1:8080/ until Ctrl-C.
# Usage: scripts/demo.sh [--port N] [--host H] [--compress]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j "$(nproc)" --target echo
exec build/release/examples/echo "$@"
