#!/usr/bin/env bash
# Installs what is missing, builds everything with warnings as errors (the
# client core's WebAssembly module too: scripts/wasm.sh), runs every test
# registered with CTest, then the tests of the code with threads
# and sockets under ASan and UBSan (scripts/sanitize.sh) and the fuzz
# targets for a bounded time (scripts/fuzz.sh), and last builds the
# container image from this tree and runs its smoke test
# (docker/smoke-test.sh; it starts Debian's dockerd when no daemon answers).
# Exits non-zero on any failure.
#   scripts/test.sh [extra ctest args, e.g. -L unit]
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
# The module before the native tree: tests/wasm compares the two builds.
scripts/wasm.sh
cmake -S . -B build -G Ninja -DSHOPLIST_WERROR=ON >/dev/null
cmake --build build -j"$(nproc)"
(cd build && ctest --no-tests=error --output-on-failure -j"$(nproc)" "$@")
# A full run also runs the sanitized build's tests (SHOPLIST_SANITIZE=0 to
# skip) and fuzzes every target for a bounded time (clang, ASan,
# UBSan): SHOPLIST_FUZZ_SECONDS each, 0 to skip.
if [ $# -eq 0 ] && [ "${SHOPLIST_SANITIZE:-1}" != 0 ]; then
  scripts/sanitize.sh
fi
fuzz_seconds="${SHOPLIST_FUZZ_SECONDS:-10}"
if [ $# -eq 0 ] && [ "$fuzz_seconds" != 0 ]; then
  scripts/fuzz.sh "$fuzz_seconds"
fi
# The image of this tree, built and smoke-tested (SHOPLIST_CONTAINER=0 to
# skip). The build's layers for packages and the WebAssembly libraries are
# cached, so only shoplist itself is compiled again.
if [ $# -eq 0 ] && [ "${SHOPLIST_CONTAINER:-1}" != 0 ]; then
  SHOPLIST_IMAGE=shoplist:test SHOPLIST_BUILD=always \
    SHOPLIST_BUILD_JOBS="$(nproc)" docker/smoke-test.sh
fi
