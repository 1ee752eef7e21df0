#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang, ASan and UBSan in
# build-fuzz/ and runs each for a bounded time from a fresh seed corpus.
# Prints executions per second and coverage per target; exits non-zero on
# any crash, leak or time-out, keeping the input in build-fuzz/crashes/.
#   scripts/fuzz.sh [SECONDS per target, default 20]
# FUZZ_JOBS sets the build's parallelism (default: all cores).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-20}"
jobs="${FUZZ_JOBS:-$(nproc)}"
targets=(crdt_codec_fuzz operation_fuzz replica_request_fuzz
  list_request_fuzz membership_request_fuzz node_fuzz web_api_fuzz)

scripts/install-deps.sh --sanitizers
cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ \
  -DSHOPLIST_FUZZ=ON -DSHOPLIST_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build build-fuzz -j"$jobs" --target shoplist_fuzz shoplist_sanitized_tests

# The pure unit tests under the same sanitizers (clang, ASan, UBSan); two
# seeds of each property test (all of them take 75 s here).
for t in crdt_test "crdt_property_test --gtest_filter=*/0:*/1" \
  list_features_test codec_test quorum_test ring_test access_test; do
  name="${t%% *}"
  # shellcheck disable=SC2086  # the filter is a second word on purpose
  if ! build-fuzz/tests/unit/$t --gtest_brief=1 >"build-fuzz/$name.log" 2>&1; then
    cat "build-fuzz/$name.log"
    echo "fuzz: $name failed under the sanitizers" >&2
    exit 1
  fi
  echo "sanitized $name: $(grep -E '^\[  PASSED  \]' "build-fuzz/$name.log")"
done

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
build-fuzz/fuzz/make_seeds "$work/seeds"
mkdir -p build-fuzz/crashes build-fuzz/logs
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export ASAN_SYMBOLIZER_PATH="${ASAN_SYMBOLIZER_PATH:-$(command -v llvm-symbolizer-14 || true)}"

failed=()
printf '\n%-26s %10s %8s %7s %7s  %s\n' target execs exec/s cov ft result
for t in "${targets[@]}"; do
  corpus="$work/corpus/$t"
  mkdir -p "$corpus"
  cp "$work/seeds/$t"/* "$corpus/"
  # Inputs that once failed stay in every run.
  if [ -d "fuzz/regressions/$t" ]; then cp "fuzz/regressions/$t"/* "$corpus/"; fi
  log="build-fuzz/logs/$t.log"
  status=0
  "build-fuzz/fuzz/$t" -max_total_time="$seconds" -timeout=5 \
    -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="build-fuzz/crashes/$t-" "$corpus" >"$log" 2>&1 ||
    status=$?
  # The last status line (DONE, or the last pulse before a crash).
  last="$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)"
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")"
  cov="$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")"
  ft="$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")"
  result=ok
  if [ "$status" -ne 0 ]; then
    artifact="$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)"
    result="FAILED (exit $status) ${artifact:-see $log}"
    failed+=("$t")
  fi
  printf '%-26s %10s %8s %7s %7s  %s\n' "$t" "${execs:--}" "${rate:--}" \
    "${cov:--}" "${ft:--}" "$result"
done

if [ ${#failed[@]} -gt 0 ]; then
  for t in "${failed[@]}"; do
    echo -e "\n--- $t (build-fuzz/logs/$t.log) ---" >&2
    # From the first report line: the failed invariant or sanitizer error.
    grep -v -E '^#[0-9]+|NEW_FUNC' "build-fuzz/logs/$t.log" |
      sed -n '/invariant failed\|ERROR\|runtime error\|: INVALID\|: OUT_OF/,$p' |
      head -n 30 >&2
  done
  echo -e "\nfuzz: ${#failed[@]} target(s) failed: ${failed[*]}" >&2
  exit 1
fi
echo -e "\nfuzz: all ${#targets[@]} targets ran ${seconds}s each without a failure"
