#!/usr/bin/env bash
# Installs the Debian packages fastws needs to build, test and benchmark, when they are missing,
# then the npm packages of the Node interop peer (tests/interop/node) with `npm ci`, when its
# node_modules is missing or older than its package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/.."
# The client's proxy tests start their own tinyproxy and danted on free loopback ports. Debian's
# tinyproxy-bin is tinyproxy without its service (the tinyproxy package would serve port 8888);
# dante-server's service does not start with the stock /etc/danted.conf, which names no address
# to serve on (its postinst says so and goes on). The Redis scale-out's tests and
# scripts/demo-cluster.sh start their own redis-server on free loopback ports and watch it with
# redis-cli (redis-tools); fastws::redis speaks RESP itself, so no hiredis. doxygen makes the API
# reference (scripts/docs.sh).
packages=(
  build-essential cmake ninja-build pkg-config clang libclang-rt-dev
  zlib1g-dev libssl-dev openssl libgtest-dev libgmock-dev libbenchmark-dev
  python3-websockets
  doxygen
  tinyproxy-bin dante-server
  redis-server redis-tools
  chromium chromium-driver firefox-esr
)
# Programs whose Debian package is installed only when the program is missing: another
# distribution of Node.js (NodeSource's nodejs brings its own npm, and conflicts with Debian's
# npm package) serves as well.
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
# file means the lock file changed since.
node_project=tests/interop/node
if [ ! -e "$node_project/node_modules/.package-lock.json" ] ||
  [ "$node_project/package-lock.json" -nt "$node_project/node_modules/.package-lock.json" ]; then
  echo "installing the npm packages of $node_project"
  (cd "$node_project" && npm ci --no-audit --no-fund)
fi
