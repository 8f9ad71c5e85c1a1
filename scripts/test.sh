#!/usr/bin/env bash
# test.sh — install what is missing, build, and run every test suite twice:
# in the release build, then in the AddressSanitizer + UndefinedBehaviorSanitizer
# build. ctest prints the closing summary of each run; the last line of this
# script is the total, "N passed, N failed".
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/deps.sh" || exit 1
passed=0 failed=0
run_suite() { # name, build dir, extra ctest args
  local name=$1 dir=$2; shift 2
  echo "== $name tests"
  local log; log=$(mktemp)
  (cd "$dir" && ctest --output-on-failure -j2 "$@") 2>&1 | tee "$log"
  local p f
  p=$(sed -n 's/.* tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\2 \1/p' "$log" | awk '{print $1-$2}')
  f=$(sed -n 's/.* tests passed, \([0-9]*\) tests failed out of.*/\1/p' "$log")
  if [ -z "$p" ]; then p=0; f=$((f + 1)); echo "$name: ctest did not finish" >&2; fi
  passed=$((passed + p)); failed=$((failed + ${f:-0}))
  rm -f "$log"
}
"$root/scripts/build.sh" release || { echo "0 passed, 1 failed"; exit 1; }
run_suite release "$root/build"
if [ "${RAGD_SKIP_SANITIZE:-0}" != 1 ]; then
  "$root/scripts/build.sh" sanitize || { echo "$passed passed, $((failed + 1)) failed"; exit 1; }
  # Suites labelled "slow" re-run only in the release build: under ASan the
  # corpus-sized ones take minutes and test no code the fast suites don't.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_suite sanitize "$root/build-sanitize" -LE slow
fi
# RAGD_FUZZ_SECONDS=N also runs every libFuzzer harness for N seconds (CI does);
# each harness counts as one test in the total.
if [ -n "${RAGD_FUZZ_SECONDS:-}" ]; then
  echo "== fuzz (${RAGD_FUZZ_SECONDS} s per harness)"
  log=$(mktemp)
  "$root/fuzz/run.sh" "$RAGD_FUZZ_SECONDS" 2>&1 | tee "$log"
  fuzz_rc=${PIPESTATUS[0]}
  ran=$(grep -cE '^fuzz_[a-z_]+ +[0-9?]' "$log" || true)
  bad=$(grep -E '^fuzz_[a-z_]+ +[0-9?]' "$log" | grep -cv ' ok$' || true)
  if [ "$fuzz_rc" -ne 0 ] && [ "$bad" -eq 0 ]; then bad=1; fi
  passed=$((passed + ran - bad)); failed=$((failed + bad))
  rm -f "$log"
fi
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
