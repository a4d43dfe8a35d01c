#!/usr/bin/env bash
# The top-level test runner: unit tests, fuzz-corpus replays, SQL scripts and
# CLI tests. Each part prints "N passed, N failed" as its last line; this sums
# them and ends with the total on one line. Exit status 1 if anything failed.
#
#   BUILD=build bash tests/run.sh [filter]     filter: substring of test names
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
FILTER=${1:-}
export BUILD
export CLAP_ROOT=$PWD
total_pass=0
total_fail=0
failed_names=()

# Under the sanitizer build the sqlite3 shell loads an ASan-instrumented
# clap0.so, so the sanitizer runtimes must be preloaded into it: every test
# calls the shell through $CLAP_SQLITE3, which is then a wrapper that does so.
export CLAP_SQLITE3="${CLAP_SQLITE3:-sqlite3}"
if [ -n "${CLAP_SANITIZED:-}" ]; then
  asan=$(gcc -print-file-name=libasan.so)
  ubsan=$(gcc -print-file-name=libubsan.so)
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  wrapper="$PWD/$BUILD/sqlite3-sanitized"
  {
    echo '#!/bin/sh'
    echo '# sqlite3 with the sanitizer runtimes preloaded (the shell leaks by design).'
    echo "LD_PRELOAD=\"$asan:$ubsan\${LD_PRELOAD:+:\$LD_PRELOAD}\" \\"
    echo 'ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:verify_asan_link_order=0 exec sqlite3 "$@"'
  } > "$wrapper"
  chmod +x "$wrapper"
  export CLAP_SQLITE3="$wrapper"
fi

# Run one test program; count from its last "N passed, N failed" line.
run_counted() {
  local name=$1; shift
  [ -n "$FILTER" ] && [[ "$name" != *"$FILTER"* ]] && return
  local out rc line p f t0=$SECONDS
  out=$("$@" 2>&1); rc=$?
  local secs=$((SECONDS - t0))
  line=$(printf '%s\n' "$out" | grep -E '^([A-Za-z_-]+: )?[0-9]+ passed, [0-9]+ failed' | tail -1)
  if [ -z "$line" ]; then p=0; f=1
  else
    p=$(sed -E 's/^([A-Za-z_-]+: )?([0-9]+) passed.*/\2/' <<<"$line")
    f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
  fi
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
  if [ "$f" -ne 0 ]; then
    failed_names+=("$name")
    printf 'FAIL %-34s %s (%ds)\n' "$name" "${line:-no summary line (exit $rc)}" "$secs"
    printf '%s\n' "$out" | tail -40 | sed 's/^/    /'
  else
    printf 'ok   %-34s %-24s %3ds\n' "$name" "$line" "$secs"
  fi
}

# Binaries are found from their sources, so a stale binary of a deleted test
# never runs; a source whose binary is missing fails.
for src in tests/unit/test_*.c; do
  n=$(basename "$src" .c)
  run_counted "unit/$n" "$BUILD/tests/$n"
done

for src in tests/fuzz/fuzz_*.c; do
  n=$(basename "$src" .c)
  run_counted "fuzz-replay/$n" "$BUILD/tests/replay_$n" "tests/fuzz/corpus/$n"
done

run_counted "sql" bash tests/sql/run.sh
# I/O-error and out-of-memory injection, a seeded sample (make faults: all).
run_counted "fault" bash tests/fault/run.sh
for c in tests/cli/test_*.sh; do
  [ -f "$c" ] || continue
  run_counted "cli/$(basename "$c" .sh)" bash "$c"
done

if [ ${#failed_names[@]} -gt 0 ]; then
  echo "failed: ${failed_names[*]}"
fi
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
