#!/usr/bin/env bash
# Installs the Debian packages fastws needs to build, test and benchmark, when they are missing,
# then the npm packages of the Node interop peer (tests/interop/node) with `npm ci`, when its
# node_modules is missing or older than its package-lock.json.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/install.sh
# The client's proxy tests start their own tinyproxy and danted on free loopback ports. Debian's
# tinyproxy-bin is tinyproxy without its service (the tinyproxy package would serve port 8888);
# dante-server's service does not start with the stock /etc/danted.conf, which names no address
# to serve on (its postinst says so and goes on). The Redis scale-out's tests and
# scripts/demo-cluster.sh start their own redis-server on free loopback ports and watch it with
# redis-cli (redis-tools); fastws::redis speaks RESP itself, so no hiredis. libboost-dev brings
# the header-only Boost.Asio and Beast that fastws::asio (adapters/asio) and its tests build on;
# doxygen makes the API reference (scripts/docs.sh). liburing-dev: the io_uring backend.
packages=(
  build-essential cmake ninja-build pkg-config clang libclang-rt-dev
  zlib1g-dev libssl-dev openssl liburing-dev libgtest-dev libgmock-dev libbenchmark-dev libboost-dev
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
install_missing "${packages[@]}" --programs "${programs[@]}"
npm_ci_if_stale tests/interop/node
