#!/usr/bin/env bash
# The client core's costs natively and in WebAssembly under Node, in the
# same run (bench/core_bench.cc): one change to a 1,000- and a 10,000-item
# list, loading such a list, its JSON document. Needs both builds
# (scripts/test.sh, or scripts/wasm.sh and a native build).
#   bench/core_bench.sh [RUNS]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
runs="${1:-21}"
echo "== native (build/bench/core_bench)"
"$root/build/bench/core_bench" "$runs"
echo "== wasm in Node $(node --version) (build-wasm/shoplist_core_bench.js)"
# Emscripten 3.1.6's glue reads its .wasm with fetch() unless told not to.
node --no-experimental-fetch "$root/build-wasm/shoplist_core_bench.js" "$runs"
for f in "$root"/build-wasm/shoplist_core_wasm.wasm \
         "$root"/build-wasm/shoplist_core_wasm.mjs \
         "$root"/build-wasm/shoplist_core.mjs; do
  printf 'module: %-24s %8d bytes, %8d gzipped\n' "$(basename "$f")" \
    "$(stat -c %s "$f")" "$(gzip -9c "$f" | wc -c)"
done
