#!/usr/bin/env bash
# Stops the cluster started by cluster-up.sh, by the PIDs it recorded:
# SIGTERM first (clean shutdown), SIGKILL for anything still running after
# 10 seconds. Data stays in the folder.
#   scripts/cluster-down.sh [DIR]
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:-${SHOPLIST_CLUSTER_DIR:-$root/.cluster}}"
[ -f "$dir/pids" ] || { echo "cluster-down: no cluster recorded in $dir"; exit 0; }
pids=$(cat "$dir/pids")
for pid in $pids; do kill -TERM "$pid" 2>/dev/null; done
for _ in $(seq 1 100); do
  alive=0
  for pid in $pids; do kill -0 "$pid" 2>/dev/null && alive=1; done
  [ $alive -eq 0 ] && break
  sleep 0.1
done
for pid in $pids; do kill -KILL "$pid" 2>/dev/null && echo "cluster-down: killed $pid"; done
rm -f "$dir/pids"
echo "shoplist cluster stopped ($dir)"
