#!/usr/bin/env bash
# Writes and reads over many lists against over a hundred, in one run:
# starts a local cluster (1 proxy, 3 nodes, N=3 R=2 W=2, durable acks),
# measures direct writes and reads at 64 in flight over 100 lists of 10
# items, then creates LISTS more lists of 10 items and measures the same
# over them. Prints each figure with the servers' CPU per operation, each
# node's resident memory after the run, and the bytes on disk per replica
# of a list. Needs a build (scripts/test.sh). Stops the cluster it started.
# With SHOPLIST_BENCH_PERF=FILE, `perf record` samples the three nodes into
# FILE through the measured part of the run over LISTS lists.
#   bench/run_scale.sh [LISTS, default 1000000] [SECONDS per run, default 5]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
lists="${1:-1000000}"
seconds="${2:-5}"
bench="$root/build/bench/shoplist-bench"
dir="$(mktemp -d)"
port=7170
export SHOPLIST_PROXY_PORT=$port
cleanup() {
  local status=$?
  if [ "$status" -ne 0 ]; then  # what the servers said, before it is gone
    for log in "$dir"/*.log; do
      echo "--- last lines of $(basename "$log")"
      grep -v 'anti-entropy: [0-9]* list(s) repaired' "$log" | tail -n 5
    done
  fi
  "$root/scripts/cluster-down.sh" "$dir" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
"$root/scripts/cluster-up.sh" "$dir" >/dev/null
pids=$(paste -sd, "$dir/pids")
run() {  # lists mode
  "$bench" --target="127.0.0.1:$port" --direct --mode="$2" --lists="$1" \
    --items=10 --concurrency=64 --duration-s="$seconds" --warmup-s=1 \
    --cluster-token-file="$dir/token" --server-pids="$pids"
}
rss() {
  for pid in $(tail -n +2 "$dir/pids"); do
    awk '/VmRSS/ { printf "%d MiB ", $2 / 1024 }' "/proc/$pid/status"
  done
}
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(date -u +%Y-%m-%d)"
echo "--- over 100 lists"
run 100 write
run 100 read
echo "--- over $lists lists (created first, concurrently)"
nodes=$(tail -n +2 "$dir/pids" | paste -sd,)
run "$lists" write 2>&1 | while IFS= read -r line; do
  echo "$line"
  if [[ -n "${SHOPLIST_BENCH_PERF:-}" && "$line" == *"created "* ]]; then
    # after the warm-up second, for the measured seconds but the last
    (sleep 1.5; perf record -F 499 -g -o "$SHOPLIST_BENCH_PERF" -p "$nodes" \
       -- sleep $((seconds > 2 ? seconds - 1 : 1)) >/dev/null 2>&1) &
  fi
done
wait
echo "nodes' resident memory: $(rss)"
total=$((lists + 200))  # and the two runs over 100
kib=$(du -sck "$dir"/node-*/ | tail -1 | cut -f1)
echo "disk: $kib KiB in the 3 nodes' data for $total lists x 3 replicas" \
  "($(( kib * 1024 / (total * 3) )) bytes per replica of a list, logs included)"
