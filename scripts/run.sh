#!/usr/bin/env bash
# Installs what is missing, builds, and runs shoplist. Until the storage
# nodes and proxy exist this runs the CRDT demo: two people edit one list
# offline and converge.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake -S . -B build -G Ninja >/dev/null
cmake --build build -j"$(nproc)" --target shoplist-demo >/dev/null
exec build/tools/shoplist-demo
