#!/usr/bin/env bash
# Builds the WebAssembly module (clients/wasm/): the libraries it links
# (scripts/wasm-deps.sh, cached outside the tree), then configures and
# builds build-wasm/, and prints the module's size, raw and gzipped.
#   scripts/wasm.sh [CMAKE ARGS...]
# SHOPLIST_WASM_BUILD_DIR (default build-wasm) and SHOPLIST_WASM_JOBS
# (default: the number of cores) change where and how wide.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --wasm
# Debian's emcc runs Node with Debian's JS modules; NodeSource's node does
# not look there by itself.
export NODE_PATH=/usr/share/nodejs${NODE_PATH:+:$NODE_PATH}
deps=$(scripts/wasm-deps.sh)
build="${SHOPLIST_WASM_BUILD_DIR:-build-wasm}"
jobs="${SHOPLIST_WASM_JOBS:-$(nproc)}"

mkdir -p "$build"
nice emcmake cmake -S clients/wasm -B "$build" -G Ninja \
  "-DSHOPLIST_WASM_DEPS=$deps" "$@" >"$build/configure.log" 2>&1 ||
  { cat "$build/configure.log" >&2; exit 1; }
nice cmake --build "$build" -j "$jobs"

for f in "$build"/shoplist_core_wasm.{wasm,mjs} "$build/shoplist_core.mjs"; do
  printf 'wasm: %-28s %8d bytes, %8d gzipped\n' "$f" \
    "$(stat -c %s "$f")" "$(gzip -9c "$f" | wc -c)"
done
