# shellcheck shell=bash
# Shared by scripts/install-deps.sh and scripts/install-peer-deps.sh (sourced, not run).

# install_missing PACKAGE... [--programs PATH:PACKAGE...]: installs with apt-get the Debian
# packages that are not installed, and for each PATH:PACKAGE the package when PATH is missing
# (so that another distribution of a program, e.g. NodeSource's nodejs with its own npm, serves
# as well and is not replaced).
install_missing() {
  local missing=() entry programs=0
  for entry in "$@"; do
    if [ "$entry" = --programs ]; then
      programs=1
    elif [ "$programs" = 1 ]; then
      [ -x "${entry%%:*}" ] || missing+=("${entry##*:}")
    else
      dpkg-query -W -f='${Status}' "$entry" 2>/dev/null | grep -q "install ok installed" ||
        missing+=("$entry")
    fi
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  echo "installing: ${missing[*]}"
  local sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq || true
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# npm_ci_if_stale DIR: `npm ci` in DIR when its node_modules is missing or older than its
# package-lock.json (npm writes node_modules/.package-lock.json on every install: older than the
# committed lock file means the lock file changed since).
npm_ci_if_stale() {
  local project=$1
  if [ ! -e "$project/node_modules/.package-lock.json" ] ||
    [ "$project/package-lock.json" -nt "$project/node_modules/.package-lock.json" ]; then
    echo "installing the npm packages of $project"
    (cd "$project" && npm ci --no-audit --no-fund)
  fi
}
