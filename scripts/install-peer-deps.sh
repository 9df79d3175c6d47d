#!/usr/bin/env bash
# Installs what the peers of bench/compare need, when it is missing (opt-in: neither
# scripts/install-deps.sh nor the tests need it): Debian's Boost (Beast), websocketpp,
# libwebsockets, Go and gorilla/websocket (built against Debian's copy, no module download),
# matplotlib for the charts, and the npm packages of the Node peer (bench/peers/node: ws and
# bufferutil, `npm ci` from its package-lock.json).
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(
  libboost-dev libwebsocketpp-dev libwebsockets-dev
  golang-go golang-github-gorilla-websocket-dev
  python3-matplotlib
)
# As in scripts/install-deps.sh: another distribution of Node.js (with its own npm) serves too.
programs=(
  /usr/bin/node:nodejs /usr/bin/npm:npm
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
for entry in "${programs[@]}"; do
  [ -x "${entry%%:*}" ] || missing+=("${entry##*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq || true
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm writes node_modules/.package-lock.json on every install: older than the committed lock
# file means the lock file changed since. bufferutil ships prebuilt binaries for Linux x64 in its
# package, so nothing is compiled.
node_project=bench/peers/node
if [ ! -e "$node_project/node_modules/.package-lock.json" ] ||
  [ "$node_project/package-lock.json" -nt "$node_project/node_modules/.package-lock.json" ]; then
  echo "installing the npm packages of $node_project"
  (cd "$node_project" && npm ci --no-audit --no-fund)
fi
