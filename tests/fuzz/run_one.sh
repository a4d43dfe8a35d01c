#!/bin/bash
# Fuzz one libFuzzer target for FUZZ_SECONDS and print one summary line:
#   name  runs  exec/s  coverage  corpus-size  clean|FAILED
# Usage: run_one.sh BIN SECONDS BUILD_DIR
# New inputs go to BUILD_DIR/fuzz/new-NAME (the committed seed corpus in
# tests/fuzz/corpus/NAME is read, never written); the full log is
# BUILD_DIR/fuzz/NAME.log and the summary line also BUILD_DIR/fuzz/NAME.ran.
# Exit status is the fuzzer's (non-zero on a crash, leak or timeout).
set -u
bin=$1 secs=$2 build=$3
name=$(basename "$bin")
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$build/fuzz/new-$name"
rm -f "$build/fuzz/$name.ran"
echo "fuzzing $name for ${secs}s"
LSAN_OPTIONS=suppressions=$here/lsan.supp \
  "$bin" -max_total_time="$secs" -max_len=65536 -print_final_stats=1 -artifact_prefix="$build/fuzz/$name-" \
  "$build/fuzz/new-$name" "$here/corpus/$name" 2>"$build/fuzz/$name.log"
rc=$?
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$build/fuzz/$name.log" | tail -1)
eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$build/fuzz/$name.log" | tail -1)
cov=$(grep -o 'cov: [0-9]*' "$build/fuzz/$name.log" | tail -1 | cut -d' ' -f2)
corp=$(find "$build/fuzz/new-$name" "$here/corpus/$name" -type f 2>/dev/null | wc -l)
if [ $rc -eq 0 ]; then verdict=clean; else verdict="FAILED (exit $rc, see $build/fuzz/$name.log)"; fi
line=$(printf '%-24s %12s runs %8s exec/s  cov %6s  corpus %6s  %s' \
  "$name" "${runs:-?}" "${eps:-?}" "${cov:-?}" "$corp" "$verdict")
echo "$line" | tee "$build/fuzz/$name.ran"
[ $rc -eq 0 ] || tail -40 "$build/fuzz/$name.log"
exit $rc
