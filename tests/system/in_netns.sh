#!/bin/sh
# Runs a test in a network namespace of its own with loopback up, so the
# iptables rules its partitions add touch nothing else (needs root).
# Without the permission to make one, the test runs as is and skips what
# needs it.
if unshare -n true 2>/dev/null; then
  exec unshare -n -- sh -c 'ip link set lo up && SHOPLIST_NETNS=1 exec "$@"' sh "$@"
fi
exec "$@"
