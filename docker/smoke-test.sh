#!/usr/bin/env bash
# Smoke test of the container image: 1 proxy and 3 nodes as containers on a
# user-defined network, driven by the host's shoplist-cli through the proxy
# port published on 127.0.0.1. Creates a list, adds items, reads them back
# from a second home that joins by the list's edit link, SIGKILLs one node
# container
# (`docker kill`) and checks the list is still readable and writable.
# Removes every container and the network it made on exit, pass or fail.
#   docker/smoke-test.sh
# Builds what is missing first: the base image (docker/make-base-image.sh,
# which also starts dockerd if none answers) and the image (`docker build`,
# slow: see SHOPLIST_BUILD_JOBS; SHOPLIST_BUILD=always builds it from this
# tree even when it exists, as scripts/test.sh does).
# Environment:
#   SHOPLIST_IMAGE       image to test (shoplist:latest)
#   SHOPLIST_BASE_IMAGE  base image to build it from (shoplist/debian:bookworm)
#   SHOPLIST_BUILD       "missing" (build the image only if it does not
#                        exist) or "always" (docker build from this tree:
#                        cached layers make it quick when nothing changed)
#   SHOPLIST_BUILD_JOBS  compile jobs if the image has to be built (1)
#   SHOPLIST_CLI         host CLI (build/clients/cli/shoplist-cli)
#   SHOPLIST_READY       host shoplist-ready, run in a container on the
#                        network (build/tools/shoplist-ready); without it
#                        readiness is polled with the CLI
#   SHOPLIST_KEEP_LOGS   a folder to copy the containers' logs into
# Exits 0 when every step passed; otherwise non-zero after a line
# "smoke-test: FAIL: ..." and the last log lines of each container.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
image="${SHOPLIST_IMAGE:-shoplist:latest}"
base_image="${SHOPLIST_BASE_IMAGE:-shoplist/debian:bookworm}"
jobs="${SHOPLIST_BUILD_JOBS:-1}"
cli_bin="${SHOPLIST_CLI:-$root/build/clients/cli/shoplist-cli}"
ready_bin="${SHOPLIST_READY:-$root/build/tools/shoplist-ready}"
nodes=3
tag="shoplist-smoke-$$"
net="$tag-net"
proxy_c="$tag-proxy"
work="$(mktemp -d /tmp/shoplist-smoke.XXXXXX)"
containers=()
network_made=0
failed=1
# Milliseconds since the start of this script.
now_ms() { local t="${EPOCHREALTIME/./}"; echo $((t / 1000)); }
t0="$(now_ms)"
# ms SINCE_MS: "1.234 s" elapsed since SINCE_MS
ms() { local d=$(($(now_ms) - $1)); printf '%d.%03d s' $((d / 1000)) $((d % 1000)); }
say() { local d=$(($(now_ms) - t0)); printf '[%3d.%03d] %s\n' $((d / 1000)) $((d % 1000)) "$*"; }
fail() {
  echo "smoke-test: FAIL: $*" >&2
  exit 1
}
python=/usr/bin/python3
[ -x "$python" ] || python=python3

cleanup() {
  local rc=$?
  set +e
  if [ "$rc" -ne 0 ] || [ "$failed" -ne 0 ]; then
    for c in "${containers[@]}"; do
      docker inspect "$c" >/dev/null 2>&1 || continue
      echo "---- last log lines of $c ($(docker inspect -f '{{.State.Status}}' "$c" 2>/dev/null)):" >&2
      docker logs --tail 15 "$c" 2>&1 | sed 's/^/  /' >&2
    done
  fi
  if [ -n "${SHOPLIST_KEEP_LOGS:-}" ]; then
    mkdir -p "$SHOPLIST_KEEP_LOGS"
    for c in "${containers[@]}"; do
      docker inspect "$c" >/dev/null 2>&1 || continue
      docker logs "$c" >"$SHOPLIST_KEEP_LOGS/$c.log" 2>&1
    done
  fi
  # -v: also the anonymous /data volumes.
  [ ${#containers[@]} -gt 0 ] && docker rm -fv "${containers[@]}" >/dev/null 2>&1
  [ "$network_made" -eq 1 ] && docker network rm "$net" >/dev/null 2>&1
  rm -rf "$work"
  left="$(docker ps -aq --filter "name=^$tag-")"
  [ -n "$left" ] && echo "smoke-test: WARNING: containers left: $left" >&2
  if [ "$rc" -eq 0 ] && [ "$failed" -eq 0 ]; then
    echo "smoke-test: PASS in $(ms "$t0") (containers and network removed)"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "smoke-test: FAIL: interrupted" >&2; exit 130' INT TERM

# --- 0. What the test needs --------------------------------------------------
[ -x "$cli_bin" ] ||
  fail "no host CLI at $cli_bin; build it: cmake --build build --target shoplist-cli"
if ! docker info >/dev/null 2>&1 || ! docker image inspect "$base_image" >/dev/null 2>&1; then
  say "no Docker daemon or no base image: running docker/make-base-image.sh"
  "$root/docker/make-base-image.sh" || fail "docker/make-base-image.sh failed"
fi
if [ "${SHOPLIST_BUILD:-missing}" = always ] || ! docker image inspect "$image" >/dev/null 2>&1; then
  say "docker build of $image from $root (-j$jobs; slow when the sources changed)"
  start="$(now_ms)"
  # The two build stages are tagged too: the dependencies' layers
  # (shoplist/build-deps) and the last compile (shoplist/build) stay cached,
  # and the images they replace are pruned below instead of piling up
  # (about 2 GB each).
  # docker_build LOG ARGS...: the classic builder (Debian's docker.io has no
  # buildx), its output in LOG, the last lines shown on failure.
  docker_build() {
    local log="$1"
    shift
    DOCKER_BUILDKIT=0 docker build --build-arg BUILD_JOBS="$jobs" \
      --build-arg BASE_IMAGE="$base_image" "$@" "$root" >"$log" 2>&1 ||
      { tail -25 "$log" >&2; fail "docker build $* failed (log: $log)"; }
  }
  build_log="${TMPDIR:-/tmp}/shoplist-docker-build.log"
  docker_build "$build_log" --target deps -t shoplist/build-deps
  docker_build "$build_log" --target build -t shoplist/build
  docker_build "$build_log" -t "$image"
  docker image prune -f --filter label=org.shoplist.stage >/dev/null ||
    say "WARNING: docker image prune failed"
  say "built $image in $(ms "$start")"
fi
say "image $image: $(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.1f MB", $1/1e6}')"

# --- helpers ------------------------------------------------------------------
cli() { # cli HOME ARGS...: the host CLI against the published proxy port
  local home="$1"
  shift
  "$cli_bin" --home "$work/$home" --proxy "$proxy_addr" --json "$@"
}
# Prints "unsynced=N name:wanted:bought ..." (items sorted) of one list's JSON.
summary() {
  "$python" -c '
import json, sys
text = sys.stdin.read().strip()
if not text:
    sys.exit("no JSON output")
l = json.loads(text.splitlines()[-1])["list"]  # docs/json.md: show
items = sorted("%s:%d:%d" % (i["name"], i["wanted"], i["bought"]) for i in l["items"])
print(" ".join(["unsynced=%d" % l["unsynced"]] + items))'
}
# expect HOME LIST WANT: `show` in HOME must print exactly WANT.
expect() {
  local got
  got="$(cli "$1" show "$2" | summary)" || fail "show $2 in home $1 failed"
  [ "$got" = "$3" ] || fail "home $1: expected '$3', got '$got'"
  say "  home $1 holds: $got"
}
# synced HOME LIST: push HOME's pending changes of LIST, retrying `sync`
# until it succeeds or 30 s pass; prints how long it took.
synced() {
  local start tries=0 out
  start="$(now_ms)"
  while :; do
    tries=$((tries + 1))
    if out="$(cli "$1" sync "$2" 2>&1)" &&
      [ "$(cli "$1" show "$2" | summary | cut -d' ' -f1)" = "unsynced=0" ]; then
      say "  home $1: sync ok after $tries call(s), $(ms "$start")"
      return 0
    fi
    [ $(($(now_ms) - start)) -ge 30000 ] &&
      fail "home $1: list $2 still not synced after 30 s ($tries tries); last: $out"
    sleep 1
  done
}
# change HOME ARGS...: one change command; it must reach the cloud, at once
# or (said so) through `sync` retries.
change() {
  local home="$1" list="$3" start
  start="$(now_ms)"
  shift
  cli "$home" "$@" >/dev/null 2>"$work/err" ||
    fail "shoplist-cli $* in home $home failed: $(cat "$work/err")"
  # The command prints the list before it syncs; `show` tells what stuck.
  if [ "$(cli "$home" show "$list" | summary | cut -d' ' -f1)" = "unsynced=0" ]; then
    say "  home $home: $* (synced at once, $(ms "$start"))"
  else
    say "  home $home: $* saved locally, not synced at once: $(tr '\n' ' ' <"$work/err")"
    synced "$home" "$list"
  fi
}

# --- 1. The cluster -------------------------------------------------------------
say "network $net"
docker network create "$net" >/dev/null || fail "docker network create $net failed"
network_made=1
# Servers listening on 0.0.0.0 refuse to start without a cluster token or TLS.
token="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"

containers+=("$proxy_c")
docker run -d --name "$proxy_c" --network "$net" -p 127.0.0.1::7000 \
  -e SHOPLIST_CLUSTER_TOKEN="$token" "$image" \
  shoplist-proxy --listen 0.0.0.0:7000 --data /data >/dev/null ||
  fail "could not start the proxy container"
for i in $(seq 0 $((nodes - 1))); do
  c="$tag-node-$i"
  containers+=("$c")
  docker run -d --name "$c" --network "$net" \
    -e SHOPLIST_CLUSTER_TOKEN="$token" "$image" \
    shoplist-node --id "node-$i" --listen 0.0.0.0:7001 --advertise "$c:7001" \
    --proxy "$proxy_c:7000" --data /data >/dev/null ||
    fail "could not start node container $c"
done
proxy_addr="$(docker port "$proxy_c" 7000/tcp | grep -m1 '^127\.0\.0\.1:')" ||
  fail "the proxy's port 7000 is not published on 127.0.0.1"
say "started $proxy_c (published on $proxy_addr) and $nodes nodes"

# --- 2. Ready -------------------------------------------------------------------
start="$(now_ms)"
if [ -x "$ready_bin" ]; then
  # Node addresses are container names, which only resolve on the network:
  # run the host's shoplist-ready there (same Debian 12 libraries).
  containers+=("$tag-ready")
  docker run --rm --name "$tag-ready" --network "$net" \
    -e SHOPLIST_CLUSTER_TOKEN="$token" \
    -v "$(readlink -f "$ready_bin"):/usr/local/bin/shoplist-ready:ro" "$image" \
    shoplist-ready --proxy="$proxy_c:7000" --nodes="$nodes" --timeout-s=60 ||
    fail "cluster not ready: $nodes nodes not up within 60 s"
  say "ready: $nodes nodes up and answering (shoplist-ready), $(ms "$start")"
else
  # Without shoplist-ready: a list can be created once W nodes answer.
  probe_ok=0
  for _ in $(seq 1 60); do
    if probe="$(cli probe new probe 2>/dev/null | "$python" -c 'import json,sys; print(json.load(sys.stdin)["list"]["id"])')" &&
      [ "$(cli probe show "$probe" | summary | cut -d' ' -f1)" = "unsynced=0" ]; then
      probe_ok=1
      break
    fi
    rm -rf "$work/probe"
    sleep 1
  done
  [ "$probe_ok" -eq 1 ] || fail "cluster not ready: no write succeeded within 60 s"
  sleep 4 # let every node's heartbeat reach the proxy
  say "ready: a probe list was written (CLI polling), $(ms "$start")"
fi

# --- 3. Create, add, read back from a second home ---------------------------------
say "home a: new list, add items"
id="$(cli a new "Smoke test groceries" | "$python" -c 'import json,sys; print(json.load(sys.stdin)["list"]["id"])')" ||
  fail "shoplist-cli new failed"
[ "${#id}" -eq 26 ] || fail "unexpected list id '$id'"
say "  list $id"
[ "$(cli a show "$id" | summary)" = "unsynced=0" ] || synced a "$id"
change a add "$id" milk 2
change a add "$id" bread
change a add "$id" eggs 12
expect a "$id" "unsynced=0 bread:1:0 eggs:12:0 milk:2:0"

# join HOME LIST: a fresh home fetches the list from the cloud.
join() {
  local start
  start="$(now_ms)"
  cli "$1" join "$2" >/dev/null 2>"$work/err" ||
    fail "join in home $1 failed: $(cat "$work/err")"
  say "  home $1: joined $2 in $(ms "$start")"
}
# A list is closed: other homes join by a link its owner shares.
link="$(cli a share "$id" | "$python" -c 'import json,sys; print(json.load(sys.stdin)["link"])')" ||
  fail "shoplist-cli share failed"
say "home b: join by the edit link"
join b "$link"
expect b "$id" "unsynced=0 bread:1:0 eggs:12:0 milk:2:0"

# --- 4. One node SIGKILLed ---------------------------------------------------------
victim="$tag-node-1"
killed_at="$(now_ms)"
docker kill --signal KILL "$victim" >/dev/null || fail "docker kill $victim failed"
say "SIGKILLed $victim with docker kill ($(docker inspect -f '{{.State.Status}}' "$victim"))"

say "at once: writes and reads with $((nodes - 1)) of $nodes nodes up"
change b add "$id" butter
change a buy "$id" milk
synced a "$id"
expect a "$id" "unsynced=0 bread:1:0 butter:1:0 eggs:12:0 milk:2:2"
synced b "$id"
expect b "$id" "unsynced=0 bread:1:0 butter:1:0 eggs:12:0 milk:2:2"
join c "$link"
expect c "$id" "unsynced=0 bread:1:0 butter:1:0 eggs:12:0 milk:2:2"

# Once the proxy has marked the node down (--heartbeat-timeout-ms, 3 s by
# default), the ring view it streams changes: the same again in that state
# (the proxy does not log it at info level, so this waits, it does not check).
while [ $(($(now_ms) - killed_at)) -lt 4500 ]; do sleep 0.2; done
say "$(ms "$killed_at") after the kill (past the proxy's 3 s heartbeat timeout): writes and reads again"
change c add "$id" apples 3
change b remove "$id" bread
synced a "$id"
expect a "$id" "unsynced=0 apples:3:0 butter:1:0 eggs:12:0 milk:2:2"
join d "$link"
expect d "$id" "unsynced=0 apples:3:0 butter:1:0 eggs:12:0 milk:2:2"

for c in "$proxy_c" "$tag-node-0" "$tag-node-2"; do
  [ "$(docker inspect -f '{{.State.Running}}' "$c")" = true ] ||
    fail "container $c stopped during the test"
done
failed=0
