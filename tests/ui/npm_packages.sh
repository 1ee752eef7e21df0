# shellcheck shell=bash
# Sourced by tests/ui/ui_e2e_test.sh, tests/ui/phone_e2e_test.sh and
# scripts/lint-js.sh: installs what the JavaScript checks need when it is
# missing, so they work on a fresh Debian 12 machine; and a free port for
# the browser tests' servers.

# Installs the Debian packages named (with sudo when not root); none named,
# nothing to do.
ui_apt_install() {
  [ $# -gt 0 ] || return 0
  local sudo_cmd=()
  [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
  echo "installing $*" >&2
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "$@"
}

# Installs the npm packages locked in tests/ui/package-lock.json into
# tests/ui/node_modules (and Node.js with npm first, when missing). npm ci
# records what it installed in node_modules/.package-lock.json; install
# again when the committed lock is newer. The lock file keeps two build
# trees (or two tests) from installing over each other.
ui_npm_ci() {
  local dir
  dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  command -v npm >/dev/null || ui_apt_install nodejs npm
  (
    flock 9
    if [ ! -f "$dir/node_modules/.package-lock.json" ] ||
       [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
      cd "$dir" && npm ci --include=dev --no-audit --no-fund >&2
    fi
  ) 9>"$dir/.npm-ci.lock"
}

# A TCP port free on loopback now (Node's pick).
free_port() {
  node -e 'const s = require("net").createServer();
    s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}
