#!/usr/bin/env bash
# What a proxy and a node use under load, and how long a node takes to
# drain on SIGTERM under that load: the figures behind the requests,
# limits, preStop and termination grace of k8s/ (k8s/README.md, "Drains
# and resources"; README, "Resources of a server").
#   bench/run_resources.sh [SECONDS] [LISTS]
# Starts a local cluster (scripts/cluster-up.sh: 1 proxy, 3 nodes), runs
# mixed reads and writes through the proxy at 64 in flight for SECONDS
# (30) over LISTS lists (1000), and samples each server's resident memory
# (VmRSS, VmHWM) and CPU (cores used over the window). Then, under the same
# load, it sends SIGTERM to one node and times it until it exits, and
# counts the client calls that failed meanwhile. Needs a build
# (cmake --build build).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-30}"
lists="${2:-1000}"
bench="$root/build/bench/shoplist-bench"
dir="$(mktemp -d)"
port=7250
export SHOPLIST_PROXY_PORT=$port SHOPLIST_WEB_PORT=0
load_pid=""
cleanup() {
  [ -n "$load_pid" ] && kill "$load_pid" 2>/dev/null
  "$root/scripts/cluster-down.sh" "$dir" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
"$root/scripts/cluster-up.sh" "$dir" >/dev/null
proxy="127.0.0.1:$port"
mapfile -t pids <"$dir/pids" # the proxy's, then the nodes'
names=(proxy)
for i in $(seq 1 $((${#pids[@]} - 1))); do names+=("node-$((i - 1))"); done

ticks() { # utime + stime of PID, in clock ticks
  awk '{print $14 + $15}' "/proc/$1/stat"
}
kib() { # FIELD PID: a Vm* line of /proc/PID/status, in KiB
  awk -v f="$1:" '$1 == f {print $2}' "/proc/$2/status"
}
load() { # SECONDS: mixed load through the proxy, one CSV line
  "$bench" --target="$proxy" --mode=mixed --concurrency=64 --lists="$lists" \
    --duration-s="$1" --warmup-s=1 --csv --cluster-token-file="$dir/token"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(date -u +%Y-%m-%d)"
echo "load: mixed reads and writes through the proxy, 64 in flight, $lists lists, ${seconds} s"
declare -A before
for p in "${pids[@]}"; do before[$p]=$(ticks "$p"); done
start=$(date +%s.%N)
result=$(load "$seconds")
end=$(date +%s.%N)
hz=$(getconf CLK_TCK)
echo "result (mode,concurrency,ops,ops_per_s,p50_us,p90_us,p99_us,max_us,errors): $result"
printf '%-8s %12s %12s %10s\n' server rss_mib peak_mib cores
for i in "${!pids[@]}"; do
  p=${pids[$i]}
  used=$(($(ticks "$p") - before[$p]))
  printf '%-8s %12.1f %12.1f %10.2f\n' "${names[$i]}" \
    "$(echo "$(kib VmRSS "$p") / 1024" | bc -l)" \
    "$(echo "$(kib VmHWM "$p") / 1024" | bc -l)" \
    "$(echo "$used / $hz / ($end - $start)" | bc -l)"
done

# A drain under load: SIGTERM to the last node while the load runs.
load $((seconds / 2 + 5)) >"$dir/drain-load.csv" &
load_pid=$!
sleep $((seconds / 4 + 2))
victim=${pids[$((${#pids[@]} - 1))]}
t0=$(date +%s%N)
kill -TERM "$victim"
while kill -0 "$victim" 2>/dev/null; do sleep 0.01; done
t1=$(date +%s%N)
wait "$load_pid" || true
load_pid=""
echo "drain: ${names[$((${#pids[@]} - 1))]} exited $(((t1 - t0) / 1000000)) ms after SIGTERM under load"
echo "load during the drain (mode,concurrency,ops,ops_per_s,p50_us,p90_us,p99_us,max_us,errors): $(cat "$dir/drain-load.csv")"
grep -h "stopped cleanly\|signal" "$dir/node-$((${#pids[@]} - 2)).log" | tail -2 | cut -c1-160
