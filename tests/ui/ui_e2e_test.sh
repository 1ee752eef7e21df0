#!/usr/bin/env bash
# CTest ui_e2e: the page of `shoplist-cli ui`, end to end in a real browser.
# Starts a local cluster on free ports, two homes each served by
# `shoplist-cli ui`, and runs tests/ui/e2e.mjs (Playwright's playwright-core
# driving Debian's Chromium) against both pages.
#   ui_e2e_test.sh BUILD_DIR ARTIFACT_DIR
# Screenshots go to ARTIFACT_DIR (the README's are the phone app's:
# phone_e2e_test.sh); on failure the logs of every process go there too.
# Installs Chromium, Node.js/npm (Debian packages) and the locked npm
# packages when they are missing, so it works on a fresh Debian 12 machine.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="$(cd "${1:?usage: ui_e2e_test.sh BUILD_DIR ARTIFACT_DIR}" && pwd)"
artifacts="${2:?usage: ui_e2e_test.sh BUILD_DIR ARTIFACT_DIR}"
mkdir -p "$artifacts"
artifacts="$(cd "$artifacts" && pwd)"
cli="$build/clients/cli/shoplist-cli"
chromium=/usr/bin/chromium

# shellcheck source=tests/ui/npm_packages.sh
source "$here/npm_packages.sh"
packages=()
[ -x "$chromium" ] || packages+=(chromium fonts-dejavu-core)
command -v npm >/dev/null || packages+=(nodejs npm)
ui_apt_install "${packages[@]}"
ui_npm_ci

work="$(mktemp -d)"
ui_pids=()
status=1
cleanup() {
  local pid
  for pid in "${ui_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${ui_pids[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null && echo "ui_e2e: killed $pid" >&2
  done
  "$root/scripts/cluster-down.sh" "$work/cluster" >/dev/null 2>&1 || true
  if [ "$status" -ne 0 ]; then
    mkdir -p "$artifacts/logs"
    cp "$work"/*.log "$work"/cluster/*.log "$artifacts/logs/" 2>/dev/null || true
    echo "ui_e2e: logs in $artifacts/logs" >&2
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT


# The cluster: its node ports follow the proxy's; move on if one is taken.
export SHOPLIST_BUILD_DIR="$build"
port=$(free_port)
for try in 1 2 3 4 5; do
  if SHOPLIST_PROXY_PORT=$port "$root/scripts/cluster-up.sh" "$work/cluster" \
      >"$work/cluster-up.log" 2>&1; then
    break
  fi
  "$root/scripts/cluster-down.sh" "$work/cluster" >/dev/null 2>&1 || true
  [ "$try" = 5 ] && { cat "$work/cluster-up.log" >&2; exit 1; }
  port=$(free_port)
done
proxy="127.0.0.1:$port"

# Two people, each with a home (and a name others see) and a page.
"$cli" --home="$work/home-a" config name alice >/dev/null
"$cli" --home="$work/home-b" config name bob >/dev/null
port_a=$(free_port)
port_b=$(free_port)
while [ "$port_b" = "$port_a" ]; do port_b=$(free_port); done
"$cli" --home="$work/home-a" --proxy="$proxy" ui --port="$port_a" \
  >"$work/ui-a.log" 2>&1 &
ui_pids+=($!)
"$cli" --home="$work/home-b" --proxy="$proxy" ui --port="$port_b" \
  >"$work/ui-b.log" 2>&1 &
ui_pids+=($!)

# Until each page's server answers /api/status (30 s), or its process ends.
i=0
for port_ui in "$port_a" "$port_b"; do
  pid=${ui_pids[$i]}
  i=$((i + 1))
  for try in $(seq 1 300); do
    if node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1),
                                            () => process.exit(1))' \
        "http://127.0.0.1:$port_ui/api/status" 2>/dev/null; then
      break
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "ui_e2e: FAIL: shoplist-cli ui --port=$port_ui exited:" >&2
      cat "$work"/ui-*.log >&2
      exit 1
    fi
    [ "$try" = 300 ] && { echo "ui_e2e: FAIL: nothing answers on port $port_ui" >&2; exit 1; }
    sleep 0.1
  done
done

export UI_A_URL="http://127.0.0.1:$port_a/" UI_B_URL="http://127.0.0.1:$port_b/"
export SHOPLIST_CLI="$cli" HOME_A="$work/home-a" HOME_B="$work/home-b"
export SHOPLIST_PROXY_ADDR="$proxy" CLUSTER_DIR="$work/cluster"
export SHOPLIST_PROXY_BIN="$build/services/proxy/shoplist-proxy"
export ARTIFACT_DIR="$artifacts" CHROMIUM="$chromium"
export BROWSER_PROFILE="$work/chromium-profile"
rm -rf "$artifacts"/*.png "$artifacts/timeline.txt" "$artifacts/logs"  # an earlier run's
start=$(date +%s)
node "$here/e2e.mjs"
echo "ui_e2e: the browser part took $(($(date +%s) - start)) s"

status=0
