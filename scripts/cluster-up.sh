#!/usr/bin/env bash
# Starts a local shoplist cluster in the background: 1 proxy and 3 nodes by
# default, all data and logs in one folder, PIDs recorded for
# cluster-down.sh. Waits until every node is up, then prints the proxy's
# address. Expects the binaries built (scripts/run.sh does both).
#   scripts/cluster-up.sh [DIR]     (default: $SHOPLIST_CLUSTER_DIR or .cluster)
# Environment: SHOPLIST_NODES (3), SHOPLIST_PROXY_PORT (7000), first node
# port is proxy port + 1, SHOPLIST_BUILD_DIR (build), SHOPLIST_NODE_FLAGS
# (more flags for every node, e.g. "--state-cache-mib=128"),
# SHOPLIST_PROXY_FLAGS (more flags for the proxy), SHOPLIST_WEB_PORT
# (8080: the phone app and browser API on 127.0.0.1, when the app is built
# in SHOPLIST_WEB_ROOT, default build-wasm/web; 0: none).
# Membership and replication take a cluster token, made once in DIR/token:
# pass --cluster-token-file=DIR/token to tools that use them, or
# -H "shoplist-cluster-token: $(cat DIR/token)" to grpcurl.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:-${SHOPLIST_CLUSTER_DIR:-$root/.cluster}}"
nodes="${SHOPLIST_NODES:-3}"
proxy_port="${SHOPLIST_PROXY_PORT:-7000}"
bin="${SHOPLIST_BUILD_DIR:-$root/build}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"

if [ -f "$dir/pids" ]; then
  for pid in $(cat "$dir/pids"); do
    if kill -0 "$pid" 2>/dev/null; then
      echo "cluster-up: a cluster is already running from $dir (pid $pid); run scripts/cluster-down.sh $dir" >&2
      exit 1
    fi
  done
  rm -f "$dir/pids"
fi

proxy="127.0.0.1:$proxy_port"
if [ ! -s "$dir/token" ]; then
  (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/token")
fi
token="--cluster-token-file=$dir/token"
web_port="${SHOPLIST_WEB_PORT:-8080}"
web_root="${SHOPLIST_WEB_ROOT:-$root/build-wasm/web}"
web=()
if [ "$web_port" != 0 ] && [ -f "$web_root/index.html" ]; then
  web=(--web-listen="127.0.0.1:$web_port" --web-root="$web_root")
fi
"$bin/services/proxy/shoplist-proxy" --listen="$proxy" --data="$dir/proxy" \
  "$token" "${web[@]}" ${SHOPLIST_PROXY_FLAGS:-} >>"$dir/proxy.log" 2>&1 &
echo $! >>"$dir/pids"
for i in $(seq 0 $((nodes - 1))); do
  port=$((proxy_port + 1 + i))
  "$bin/services/node/shoplist-node" --id="node-$i" --listen="127.0.0.1:$port" \
    --proxy="$proxy" --data="$dir/node-$i" "$token" ${SHOPLIST_NODE_FLAGS:-} \
    >>"$dir/node-$i.log" 2>&1 &
  echo $! >>"$dir/pids"
done

if ! "$bin/tools/shoplist-ready" --proxy="$proxy" --nodes="$nodes" --timeout-s=30 "$token"; then
  echo "cluster-up: not healthy; logs in $dir" >&2
  "$root/scripts/cluster-down.sh" "$dir" >/dev/null 2>&1 || true
  exit 1
fi
echo "shoplist cluster up: proxy $proxy, $nodes node(s), data and logs in $dir"
if [ ${#web[@]} -gt 0 ]; then
  echo "the app: http://127.0.0.1:$web_port/ (on a phone: see the README)"
fi
echo "stop it with: scripts/cluster-down.sh $dir"
