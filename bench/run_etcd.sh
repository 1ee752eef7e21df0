#!/usr/bin/env bash
# A three-member etcd cluster on loopback (Debian's etcd-server 3.4), its
# data in a fresh folder, and `etcdctl check perf`: the durable writes/s of
# the consensus store people compare a replicated store with. Prints that
# one number. Stops the members it started (by PID) and removes the folder.
#   bench/run_etcd.sh [LOAD: s, m, l or xl; default xl]
# Needs etcd and etcdctl (apt-get install etcd-server etcd-client).
set -euo pipefail
load="${1:-xl}"
command -v etcd >/dev/null && command -v etcdctl >/dev/null ||
  { echo "run_etcd: needs etcd and etcdctl (apt-get install etcd-server etcd-client)" >&2; exit 2; }
dir="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT
base=23700
cluster=""
for i in 0 1 2; do
  cluster+="${cluster:+,}e$i=http://127.0.0.1:$((base + 100 + i))"
done
endpoints=""
for i in 0 1 2; do
  etcd --name "e$i" --data-dir "$dir/e$i" \
    --listen-peer-urls "http://127.0.0.1:$((base + 100 + i))" \
    --initial-advertise-peer-urls "http://127.0.0.1:$((base + 100 + i))" \
    --listen-client-urls "http://127.0.0.1:$((base + i))" \
    --advertise-client-urls "http://127.0.0.1:$((base + i))" \
    --initial-cluster "$cluster" --initial-cluster-state new \
    --initial-cluster-token shoplist-bench >"$dir/e$i.log" 2>&1 &
  pids+=($!)
  endpoints+="${endpoints:+,}127.0.0.1:$((base + i))"
done
export ETCDCTL_API=3
for _ in $(seq 50); do
  etcdctl --endpoints="$endpoints" endpoint health >/dev/null 2>&1 && break
  sleep 0.2
done
# It exits non-zero when etcd misses the load's own target ("FAIL:
# Throughput too low: N writes/s"): N is still the figure.
out="$(etcdctl --endpoints="$endpoints" check perf --load="$load" 2>&1 |
  tr '\r' '\n' || true)"
rate="$(grep -oE 'Throughput (is|too low:) [0-9]+ writes/s' <<<"$out" |
  grep -oE '[0-9]+' || true)"
[ -n "$rate" ] || { echo "run_etcd: no throughput in: $(tail -3 <<<"$out")" >&2; exit 1; }
echo "$rate"
