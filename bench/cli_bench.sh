#!/usr/bin/env bash
# Times shoplist-cli as people run it, process start to exit: an offline
# `add` (no proxy answers) and `show` of a 1,000-item list. Prints p50, p90
# and max over RUNS runs (default 50). Needs a build (scripts/test.sh).
#   bench/cli_bench.sh [RUNS]   (SHOPLIST_CLI=path times another binary)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cli="${SHOPLIST_CLI:-$root/build/clients/cli/shoplist-cli}"
runs="${1:-50}"
home="$(mktemp -d)"
trap 'rm -rf "$home"' EXIT
offline="--proxy=127.0.0.1:1"

time_ms() {  # prints the wall time of "$@" in milliseconds (3 decimals)
  local start end
  start=$(date +%s%N)
  "$@" >/dev/null 2>&1
  end=$(date +%s%N)
  echo "scale=3; ($end - $start) / 1000000" | bc
}

report() {  # name, then samples on stdin
  sort -n | awk -v name="$1" '{ v[NR] = $1 } END {
    printf "%-34s runs %4d   p50 %7.2f ms   p90 %7.2f ms   max %7.2f ms\n",
      name, NR, v[int(NR * 0.5 + 0.5)], v[int(NR * 0.9 + 0.5)], v[NR] }'
}

id=$("$cli" --home="$home" $offline new "Bench" 2>/dev/null)
for i in $(seq 1 "$runs"); do
  time_ms "$cli" --home="$home" $offline add "$id" "item-$i" 1
done | report "offline add (start to exit)"

for i in $(seq 1 1000); do echo "item-$i"; done >"$home/items"
while read -r item; do
  "$cli" --home="$home" $offline add "$id" "$item" 1 >/dev/null 2>&1
done <"$home/items"
for i in $(seq 1 "$runs"); do
  time_ms "$cli" --home="$home" show "$id"
done | report "show, 1,000-item list"
echo "home on disk: $(du -sk "$home/db" | cut -f1) KiB for 1 list of $("$cli" --home="$home" --json lists | grep -o '"name"' | wc -l) items"
