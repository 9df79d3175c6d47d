#!/usr/bin/env bash
# Installs what the peers of bench/compare need, when it is missing (opt-in: neither
# scripts/install-deps.sh nor the tests need it): Debian's Boost (Beast), websocketpp,
# libwebsockets, Go and gorilla/websocket (built against Debian's copy, no module download),
# matplotlib for the charts, and the npm packages of the Node peer (bench/peers/node: ws and
# bufferutil, `npm ci` from its package-lock.json).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/install.sh
packages=(
  libboost-dev libwebsocketpp-dev libwebsockets-dev
  golang-go golang-github-gorilla-websocket-dev
  python3-matplotlib
)
# As in scripts/install-deps.sh: another distribution of Node.js (with its own npm) serves too.
programs=(
  /usr/bin/node:nodejs /usr/bin/npm:npm
)
install_missing "${packages[@]}" --programs "${programs[@]}"
# bufferutil ships prebuilt binaries for Linux x64 in its package, so nothing is compiled.
npm_ci_if_stale bench/peers/node
