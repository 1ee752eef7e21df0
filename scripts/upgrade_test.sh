#!/usr/bin/env bash
# A rolling upgrade under load. Builds the servers of a former version in a
# worktree (default: 58a4881, the last before lists kept logs), then runs
# rolling_restart_test with SHOPLIST_UPGRADE_FROM set to that build: the
# cluster starts on the former servers, and each is replaced by this
# build's, one at a time, while 64 clients write and read; no call may fail
# and no acknowledged write may be lost. Needs this tree built
# (scripts/test.sh); the former build stays in .upgrade-from for next time.
#   scripts/upgrade_test.sh [REV]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
rev="${1:-58a4881}"
from="${SHOPLIST_UPGRADE_DIR:-$root/.upgrade-from}"
if [ ! -e "$from/src/.git" ]; then
  git -C "$root" worktree add --detach "$from/src" "$rev" >/dev/null
else
  git -C "$from/src" checkout --quiet --detach "$rev"
fi
cmake -S "$from/src" -B "$from/build" -G Ninja >/dev/null
cmake --build "$from/build" -j"$(nproc)" --target shoplist-node shoplist-proxy
echo "upgrading from $(git -C "$from/src" log --oneline -1)"
SHOPLIST_UPGRADE_FROM="$from/build" SHOPLIST_ROLLING_ROUNDS="${SHOPLIST_ROLLING_ROUNDS:-1}" \
  "$root/build/tests/system/rolling_restart_test"
