#!/usr/bin/env bash
# Builds fastws (Release) and runs the chat demo until Ctrl-C: open http://127.0.0.1:8080/ in two
# browser tabs. Usage: scripts/demo.sh [--port N] [--host H]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j "$(nproc)" --target chat
exec build/release/examples/chat "$@"
