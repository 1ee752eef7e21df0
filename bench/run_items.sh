#!/usr/bin/env bash
# A one-item write's cost against the size of the list it goes to: one
# local cluster (1 proxy, 3 nodes, N=3 R=2 W=2, durable acks), direct
# writes and reads at 64 in flight over 50 lists of 10, 100, 1,000 and
# 5,000 items, with the servers' CPU time per operation (all four
# processes, from /proc, in the measured window only) and each size's
# ratio to the 10-item figures of the same run.
# Needs a build (scripts/test.sh). Stops the cluster it started.
#   bench/run_items.sh [SECONDS per run, default 3] [ITEMS ...]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-3}"
shift || true
sizes=("${@:-10 100 1000 5000}")
sizes=(${sizes[*]})
bench="$root/build/bench/shoplist-bench"
dir="$(mktemp -d)"
port=7250
export SHOPLIST_PROXY_PORT=$port SHOPLIST_WEB_PORT=0
cleanup() { "$root/scripts/cluster-down.sh" "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT
"$root/scripts/cluster-up.sh" "$dir" >/dev/null
proxy="127.0.0.1:$port"
pids=$(paste -sd, "$dir/pids")
run() {  # mode items
  "$bench" --target="$proxy" --direct --mode="$1" --items="$2" --lists=50 \
    --concurrency=64 --duration-s="$seconds" --warmup-s=1 --csv \
    --cluster-token-file="$dir/token" --server-pids="$pids"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(date -u +%Y-%m-%d)"
printf '%6s %9s %9s %8s %9s %9s %9s %8s\n' items writes/s w_cpu_us x_cpu10 w_p99_ms reads/s r_cpu_us r_p99_ms
base_cpu=""
for n in "${sizes[@]}"; do
  IFS=, read -r _ _ _ wrate _ _ wp99 _ _ wcpu <<<"$(run write "$n")"
  IFS=, read -r _ _ _ rrate _ _ rp99 _ _ rcpu <<<"$(run read "$n")"
  [ -z "$base_cpu" ] && base_cpu=$wcpu
  awk -v n="$n" -v wr="$wrate" -v wc="$wcpu" -v b="$base_cpu" -v wp="$wp99" \
      -v rr="$rrate" -v rc="$rcpu" -v rp="$rp99" 'BEGIN {
    printf "%6d %9.0f %9.1f %8.2f %9.2f %9.0f %9.1f %8.2f\n", n, wr, wc, wc / b,
      wp / 1000, rr, rc, rp / 1000 }'
done
