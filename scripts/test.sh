#!/usr/bin/env bash
# Installs what is missing, builds everything with warnings as errors, and
# runs every test registered with CTest. Exits non-zero on any failure.
#   scripts/test.sh [extra ctest args, e.g. -L unit]
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake -S . -B build -G Ninja -DSHOPLIST_WERROR=ON >/dev/null
cmake --build build -j"$(nproc)"
cd build
ctest --output-on-failure -j"$(nproc)" "$@"
