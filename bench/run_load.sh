#!/usr/bin/env bash
# Starts a local cluster (1 proxy, 3 nodes, N=3 R=2 W=2, durable acks),
# measures the bare RPC floor (Ping) on the same servers, then replicated
# writes, reads and a mixed load at 16, 64 and 256 calls in flight, and
# prints a table with each figure's ratio to the floor of the same run and
# the servers' CPU time per operation (all four processes, from /proc, in
# the measured window only), so figures compare across machines.
# With etcd installed (etcd-server, etcd-client), it ends with a
# three-member etcd's durable writes/s and our direct writes' ratio to it.
# Needs a build (scripts/test.sh). Stops the cluster it started.
#   bench/run_load.sh [SECONDS per run, default 3]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-3}"
bench="$root/build/bench/shoplist-bench"
dir="$(mktemp -d)"
port=7150
export SHOPLIST_PROXY_PORT=$port
cleanup() { "$root/scripts/cluster-down.sh" "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT
"$root/scripts/cluster-up.sh" "$dir" >/dev/null
proxy="127.0.0.1:$port"
node="127.0.0.1:$((port + 1))"

pids=$(paste -sd, "$dir/pids")  # the proxy's and the nodes'
run() {  # label target extra-args...
  local label=$1 target=$2
  shift 2
  "$bench" --target="$target" --duration-s="$seconds" --warmup-s=1 --csv \
    --cluster-token-file="$dir/token" --server-pids="$pids" "$@" |
    sed "s/^[^,]*/$label/"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(date -u +%Y-%m-%d)"
printf '%-14s %6s %9s %8s %8s %8s %7s %7s %9s\n' load inflight ops/s p50_ms p99_ms max_ms x_echo p99/echo cpu_us/op
for c in 16 64 256; do
  echo_node=$(run echo-node "$node" --mode=echo --concurrency="$c")
  echo_proxy=$(run echo-proxy "$proxy" --mode=echo --concurrency="$c")
  rows=("$echo_node" "$echo_proxy"
        "$(run write-direct "$proxy" --direct --mode=write --concurrency="$c")"
        "$(run write-proxy "$proxy" --mode=write --concurrency="$c")"
        "$(run read-direct "$proxy" --direct --mode=read --concurrency="$c")"
        "$(run mixed-direct "$proxy" --direct --mode=mixed --concurrency="$c")")
  floor_rate=$(echo "$echo_node" | cut -d, -f4)
  floor_p99=$(echo "$echo_node" | cut -d, -f7)
  for row in "${rows[@]}"; do
    IFS=, read -r label inflight ops rate p50 p90 p99 max errors cpu <<<"$row"
    [ "$label,$inflight" = "write-direct,64" ] && write_direct_64=$rate
    awk -v l="$label" -v c="$inflight" -v r="$rate" -v p50="$p50" -v p99="$p99" \
        -v mx="$max" -v fr="$floor_rate" -v fp="$floor_p99" -v e="$errors" \
        -v cpu="$cpu" 'BEGIN {
      printf "%-14s %6d %9.0f %8.2f %8.2f %8.2f %7.2f %7.2f %9.1f%s\n", l, c, r,
        p50 / 1000, p99 / 1000, mx / 1000, r / fr, p99 / fp, cpu,
        (e > 0 ? "  errors " e : "") }'
  done
done
lists=$((100 * 4 * 3))  # every non-echo run created 100 lists
kib=$(du -sck "$dir"/node-*/ | tail -1 | cut -f1)
echo "disk: $kib KiB in the 3 nodes' data for $lists lists x 3 replicas" \
  "($(( kib * 1024 / (lists * 3) )) bytes per replica of a list, logs included)"

# The consensus store people compare with, on the same machine in the same
# run, when it is installed: a three-member etcd's durable writes/s
# (bench/run_etcd.sh; SHOPLIST_BENCH_ETCD=0 skips it).
if [ "${SHOPLIST_BENCH_ETCD:-1}" != 0 ] && command -v etcd >/dev/null &&
   command -v etcdctl >/dev/null; then
  "$root/scripts/cluster-down.sh" "$dir" >/dev/null 2>&1 || true  # its cores back
  etcd_rate=$("$root/bench/run_etcd.sh" xl)
  awk -v e="$etcd_rate" -v w="$write_direct_64" 'BEGIN {
    printf "etcd (3 members, etcdctl check perf --load=xl): %d writes/s; " \
      "shoplist direct writes at 64 in flight: %.0f/s, %.2f x etcd\n", e, w, w / e }'
fi
