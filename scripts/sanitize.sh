#!/usr/bin/env bash
# Builds the servers and the tests of the code with threads and sockets
# (Calls streams, the gateway, the coordinator, the store and its streams,
# a rolling restart of real processes) with clang, ASan and UBSan in
# build-asan/, and runs them. Any sanitizer report fails the run: in a
# test process it aborts the test; in a server, the server dies and the
# system test that started it fails (and the report is in its log).
#   scripts/sanitize.sh
# SANITIZE_JOBS sets the build's parallelism (default: all cores).
set -euo pipefail
cd "$(dirname "$0")/.."

jobs="${SANITIZE_JOBS:-$(nproc)}"
service_tests=(call_batches_test gateway_test store_stream_test
  coordinator_test replica_store_test list_log_test disk_fault_test
  replica_service_test web_server_test)

scripts/install-deps.sh --sanitizers
cmake -S . -B build-asan -G Ninja -DCMAKE_CXX_COMPILER=clang++ \
  -DSHOPLIST_SANITIZE=ON -DSHOPLIST_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build build-asan -j"$jobs" --target "${service_tests[@]}" \
  rolling_restart_test admin_test shoplist-node shoplist-proxy shoplist-admin

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
export ASAN_SYMBOLIZER_PATH="${ASAN_SYMBOLIZER_PATH:-$(command -v llvm-symbolizer-14 || true)}"

mkdir -p build-asan/logs
failed=()
run() {
  local name="$1"
  shift
  local log="build-asan/logs/$name.log"
  local start=$SECONDS
  if "$@" >"$log" 2>&1; then
    echo "sanitized $name: $(grep -E '^\[  PASSED  \]' "$log") in $((SECONDS - start)) s"
  else
    echo "sanitized $name: FAILED (log: $log)" >&2
    # The report, or the failed expectation.
    grep -E -A 30 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error|Failure$|died|\[  FAILED' \
      "$log" | head -n 60 >&2 || tail -n 40 "$log" >&2
    failed+=("$name")
  fi
}

for t in "${service_tests[@]}"; do
  run "$t" "build-asan/tests/service/$t" --gtest_brief=1
done
# One round of the two-proxy rolling restart: the sanitized servers are
# several times slower, and one round restarts each of them once.
run rolling_restart_test env SHOPLIST_ROLLING_ROUNDS=1 \
  build-asan/tests/system/rolling_restart_test \
  --gtest_filter='*TwoProxies*'

# The operators' tool against sanitized servers: a node's repair and backup
# streams are fed by threads of their own.
run admin_test build-asan/tests/system/admin_test --gtest_brief=1

if [ ${#failed[@]} -gt 0 ]; then
  echo "sanitize: ${#failed[@]} failed under ASan+UBSan: ${failed[*]}" >&2
  exit 1
fi
echo "sanitize: every sanitized test passed"
