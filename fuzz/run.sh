#!/usr/bin/env bash
# run.sh [seconds-per-harness] [harness…] — build the libFuzzer harnesses
# with clang (ASan + UBSan + coverage) into build-fuzz/ and run each for the
# given time (default 20 s) on its seed corpus in fuzz/corpus/<name>/.
#
# New inputs the fuzzer finds go to build-fuzz/corpus/<name>/ (the checked-in
# seeds are never modified); a crash leaves build-fuzz/crash-<name>-* and makes
# the script fail. Prints, per harness, executions, executions per second and
# the outcome. A longer run: fuzz/run.sh 600 (ten minutes per harness);
# reproduce a crash: build-fuzz/fuzz/<name> build-fuzz/crash-<name>-<hash>.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-20}
shift || true
harnesses=("$@")
[ ${#harnesses[@]} -eq 0 ] && harnesses=(fuzz_tokenizer fuzz_csv fuzz_store fuzz_json_request)
build=${RAGD_FUZZ_BUILD:-$root/build-fuzz}
export RAGD_SHARED_DIR=${RAGD_SHARED_DIR:-$(cd "$root/../shared" 2>/dev/null && pwd)}

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
      -DRAGD_SANITIZE=ON -DRAGD_FUZZ=ON >/dev/null || { echo "fuzz: cmake failed"; exit 1; }
cmake --build "$build" -j"${RAGD_FUZZ_JOBS:-2}" --target "${harnesses[@]}" >/dev/null ||
  { cmake --build "$build" -j1 --target "${harnesses[@]}" 2>&1 | grep -E 'error|Error' | head -20
    echo "fuzz: build failed"; exit 1; }

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=0
printf '%-20s %12s %10s  %s\n' harness executions exec/s result
for h in "${harnesses[@]}"; do
  seeds="$root/fuzz/corpus/$h"
  work="$build/corpus/$h"
  mkdir -p "$work"
  log="$build/$h.log"
  maxlen=4096 timeout=25
  [ "$h" = fuzz_store ] && maxlen=8192 # whole store.bin images are ~5 KB
  # Valid requests run the real encoder, under ASan on a shared machine:
  # shorter inputs keep it fast, and a slow answer is not a hang.
  [ "$h" = fuzz_json_request ] && maxlen=1024 timeout=120
  # -timeout: one input taking that long is a hang; -rss_limit_mb: the
  # encoder's weights count too. The fuzzer writes new inputs into $work only.
  "$build/fuzz/$h" -max_total_time="$secs" -timeout=$timeout -rss_limit_mb=4096 -max_len=$maxlen \
      -print_final_stats=1 -artifact_prefix="$build/crash-$h-" "$work" "$seeds" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  if [ $rc -eq 0 ]; then
    result=ok
  else
    result="FAILED (exit $rc; see $log)"
    failed=$((failed + 1))
    grep -m1 -E 'ERROR: (AddressSanitizer|libFuzzer|LeakSanitizer)|runtime error|Test unit written' "$log" | sed 's/^/    /'
  fi
  printf '%-20s %12s %10s  %s\n' "$h" "${execs:-?}" "${rate:-?}" "$result"
done
[ $failed -eq 0 ]
