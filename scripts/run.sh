#!/usr/bin/env bash
# Installs what is missing, builds, and starts a local shoplist cluster in
# the background (1 proxy on 127.0.0.1:7000 serving the app on
# 127.0.0.1:8080, 3 nodes). Stop it with scripts/cluster-down.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/wasm.sh >/dev/null  # the app: build-wasm/web
cmake -S . -B build -G Ninja >/dev/null
cmake --build build -j"$(nproc)" --target shoplist-proxy shoplist-node shoplist-ready \
  shoplist-cli
exec scripts/cluster-up.sh "$@"
