#!/usr/bin/env bash
# Runs the README's grpcurl block, as written, against a fresh local cluster
# (scripts/cluster-up.sh on free ports) with grpcurl_lite.py, a client that
# knows the services only through reflection, and checks what comes back.
# Also checks that Locate without the cluster token is refused.
#   readme_grpcurl_test.sh BUILD_DIR
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
export SHOPLIST_BUILD_DIR="${1:?usage: readme_grpcurl_test.sh BUILD_DIR}"
work="$(mktemp -d)"
cleanup() { "$root/scripts/cluster-down.sh" "$work/cluster" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

# The reflection messages, from Debian's grpc-proto, under a module name
# that does not shadow python3-grpcio's own `grpc` package.
cp /usr/share/grpc-proto/grpc/reflection/v1alpha/reflection.proto \
  "$work/reflection_v1alpha.proto"
protoc --proto_path="$work" --python_out="$work" reflection_v1alpha.proto
export REFLECTION_PB2_DIR="$work"

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# Node ports follow the proxy's; move on if one of them is taken.
for try in 1 2 3 4 5; do
  if SHOPLIST_PROXY_PORT=$port "$root/scripts/cluster-up.sh" "$work/cluster" \
      >"$work/up.log" 2>&1; then
    break
  fi
  "$root/scripts/cluster-down.sh" "$work/cluster" >/dev/null 2>&1 || true
  port=$((port + 7))
  [ "$try" = 5 ] && { cat "$work/up.log"; exit 1; }
done
address="127.0.0.1:$port"

# The block between ```sh and ``` after the grpcurl heading, with this
# cluster's address and token file.
block=$(awk '/^## Using the cluster with grpcurl/{f=1} f&&/^```sh/{g=1;next} g&&/^```/{exit} g' \
  "$root/README.md")
[ -n "$block" ] || { echo "no grpcurl block in README.md" >&2; exit 1; }
block=${block//127.0.0.1:7000/$address}
block=${block//.cluster\/token/$work/cluster/token}
block=${block//.cluster\/readme-home/$work/readme-home}
block=${block//build\/clients/$SHOPLIST_BUILD_DIR/clients}
printf '%s\n' "$block" >"$work/block.sh"

out=$(cd "$work" && bash -euo pipefail -c '
  grpcurl() { /usr/bin/python3 "'"$here"'/grpcurl_lite.py" "$@"; }
  . ./block.sh' 2>&1) || { echo "$out"; echo "FAIL: the README block failed" >&2; exit 1; }
echo "$out"

expect() {  # description, pattern
  if ! grep -Eq "$2" <<<"$out"; then echo "FAIL: $1 (no /$2/)" >&2; exit 1; fi
}
expect "list shows the list service" '^shoplist\.v1\.ListService$'
expect "list shows the membership service" '^shoplist\.v1\.MembershipService$'
expect "list shows the health service" '^grpc\.health\.v1\.Health$'
expect "list shows reflection" '^grpc\.reflection\.v1alpha\.ServerReflection$'
expect "health check answers SERVING" '"status": "SERVING"'
expect "the list has its title" '"title": "groceries"'
expect "Get shows milk" '"name": "milk"'
expect "Get shows 2 wanted" '"wanted": "?2"?,?$'
expect "Milk is milk, with its note" '"note": "2% fat"'
expect "Get shows the aisle order" '"Dairy",'
expect "Locate names a coordinator" '"coordinator"'
expect "Locate gives a preference list" '"preferenceList"'
expect "a closed list reads with its read secret" '"title": "party"'
expect "a closed list without a secret does not exist" 'Code: NotFound'
expect "a read secret cannot change the list" 'Code: PermissionDenied'

denied=$(/usr/bin/python3 "$here/grpcurl_lite.py" -plaintext \
  -d '{"list_id":"aaaaaaaaaaaaaaaaaaaaaaaaaa"}' "$address" \
  shoplist.v1.MembershipService/Locate 2>&1) && {
  echo "FAIL: Locate without the cluster token was answered" >&2; exit 1; }
grep -q "Code: Unauthenticated" <<<"$denied" ||
  { echo "FAIL: expected Unauthenticated, got: $denied" >&2; exit 1; }
bad=$(/usr/bin/python3 "$here/grpcurl_lite.py" -plaintext \
  -d '{"list_id":"NOT-AN-ID"}' "$address" shoplist.v1.ListService/Get 2>&1) && {
  echo "FAIL: a malformed list id was answered" >&2; exit 1; }
grep -q "Code: InvalidArgument" <<<"$bad" ||
  { echo "FAIL: expected InvalidArgument, got: $bad" >&2; exit 1; }
echo "readme_grpcurl: PASS"
