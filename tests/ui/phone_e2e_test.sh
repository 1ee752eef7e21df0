#!/usr/bin/env bash
# CTest phone_e2e: the phone app (the proxy's web front door over the wasm
# core) end to end in Debian's Chromium, against a local cluster and a CLI
# home. Installs Chromium, Node.js and the npm packages when missing.
#   phone_e2e_test.sh BUILD_DIR WEB_ROOT ARTIFACT_DIR
# Screenshots go to ARTIFACT_DIR; SHOPLIST_UPDATE_SCREENSHOTS=1 also copies
# the README's (docs/phone-*.png).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="$(cd "${1:?usage: phone_e2e_test.sh BUILD_DIR WEB_ROOT ARTIFACT_DIR}" && pwd)"
web_root="${2:?}"
artifacts="${3:?}"
mkdir -p "$artifacts"
[ -f "$web_root/index.html" ] || { echo "phone_e2e: no app in $web_root (run scripts/wasm.sh)" >&2; exit 1; }
# shellcheck source=tests/ui/npm_packages.sh
source "$here/npm_packages.sh"
[ -x /usr/bin/chromium ] || ui_apt_install chromium fonts-dejavu-core
# zbarimg reads the share dialog's QR code back.
command -v zbarimg >/dev/null || ui_apt_install zbar-tools
ui_npm_ci

work="$(mktemp -d)"
cleanup() {
  "$root/scripts/cluster-down.sh" "$work/cluster" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

export SHOPLIST_BUILD_DIR="$build" SHOPLIST_WEB_ROOT="$web_root"
for try in 1 2 3 4 5; do
  port=$(free_port)
  web_port=$(free_port)
  if SHOPLIST_PROXY_PORT=$port SHOPLIST_WEB_PORT=$web_port \
      "$root/scripts/cluster-up.sh" "$work/cluster" >"$work/up.log" 2>&1; then
    break
  fi
  "$root/scripts/cluster-down.sh" "$work/cluster" >/dev/null 2>&1 || true
  [ "$try" = 5 ] && { cat "$work/up.log" >&2; exit 1; }
done
export APP_URL="http://127.0.0.1:$web_port/" SHOPLIST_PROXY_ADDR="127.0.0.1:$port"
# The proxy (cluster-up.sh's first PID), and how to start it again as it
# was: the test kills it with SIGKILL while the phone has changes pending.
export PROXY_PID="$(head -n 1 "$work/cluster/pids")"
cat >"$work/restart-proxy.sh" <<RESTART
#!/usr/bin/env bash
"$build/services/proxy/shoplist-proxy" --listen=127.0.0.1:$port \\
  --data="$work/cluster/proxy" --cluster-token-file="$work/cluster/token" \\
  --web-listen=127.0.0.1:$web_port --web-root="$web_root" \\
  >>"$work/cluster/proxy.log" 2>&1 &
echo \$! | tee -a "$work/cluster/pids"
RESTART
chmod +x "$work/restart-proxy.sh"
export RESTART_PROXY="$work/restart-proxy.sh"
export SHOPLIST_CLI="$build/clients/cli/shoplist-cli" CLI_HOME="$work/cli-home"
export ARTIFACT_DIR="$artifacts"
node "$here/phone_e2e.mjs"
# The README's pictures change only when asked, so a test run leaves the
# tree clean.
if [ "${SHOPLIST_UPDATE_SCREENSHOTS:-0}" = 1 ]; then
  for f in phone-list phone-share phone-desktop phone-offline; do
    cp "$artifacts/$f.png" "$root/docs/$f.png"
  done
  echo "phone_e2e: the README's pictures copied to $root/docs/"
fi
