#!/usr/bin/env bash
# Idle push connections on one proxy's web front door: N browsers' watches
# of one list (raw HTTP connections, each past its first event), then the
# proxy's memory (VmRSS) and threads, and how long a change takes to reach
# one watcher among them. Needs a build and the app (scripts/run.sh's).
#   bench/web_watch_bench.sh [N ...]     (default: 1000 5000 10000)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
counts=("${@:-1000 5000 10000}")
ulimit -n "$(ulimit -Hn)"  # a socket per watch, on each side
work="$(mktemp -d)"
trap '"$root/scripts/cluster-down.sh" "$work/cluster" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
port=7600 web_port=7690
# Every watch comes from this one address: the per-address limit lifted.
SHOPLIST_PROXY_PORT=$port SHOPLIST_WEB_PORT=$web_port \
  SHOPLIST_PROXY_FLAGS="--web-max-watches-per-client=100000 --web-max-watches=100000" \
  "$root/scripts/cluster-up.sh" "$work/cluster" >/dev/null
proxy_pid="$(head -n 1 "$work/cluster/pids")"
cli=("$root/build/clients/cli/shoplist-cli" --home="$work/home" --proxy=127.0.0.1:$port)
id="$("${cli[@]}" new Bench)"
"${cli[@]}" add "$id" milk >/dev/null
link="$("${cli[@]}" share "$id" | grep -o '[a-z2-7]*_e_[a-z2-7]*' | head -n 1)"
node "$root/bench/web_watch_bench.mjs" "$web_port" "$proxy_pid" "$link" \
  "${cli[*]}" ${counts[*]}
