#!/usr/bin/env bash
# Installs what is missing, builds everything with warnings as errors, runs
# every test registered with CTest, then the fuzz targets for a bounded
# time (scripts/fuzz.sh). Exits non-zero on any failure.
#   scripts/test.sh [extra ctest args, e.g. -L unit]
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
cmake -S . -B build -G Ninja -DSHOPLIST_WERROR=ON >/dev/null
cmake --build build -j"$(nproc)"
(cd build && ctest --no-tests=error --output-on-failure -j"$(nproc)" "$@")
# A full run also fuzzes every target for a bounded time (clang, ASan,
# UBSan): SHOPLIST_FUZZ_SECONDS each, 0 to skip.
fuzz_seconds="${SHOPLIST_FUZZ_SECONDS:-10}"
if [ $# -eq 0 ] && [ "$fuzz_seconds" != 0 ]; then
  scripts/fuzz.sh "$fuzz_seconds"
fi
