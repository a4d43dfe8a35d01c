# tests/cli/lib.sh — a tiny harness for CLI end-to-end tests. Source it from
# tests/cli/test_*.sh:
#
#   . "$(dirname "$0")/lib.sh"
#   check "init succeeds" "$CLAP" init "$T/a.db"
#   check_fails "refuses a text file" "$CLAP" init "$T/notes.txt"
#   check_output_contains "names the file" "notes.txt" "$CLAP" init "$T/notes.txt"
#   finish
#
# check passes when the command exits 0, check_fails when it exits non-zero,
# check_output_contains when its stdout+stderr contains the text (whatever
# the exit status: error messages come with status 1). A failure prints the
# name, the exit status and the start of the output. finish prints
# "N passed, N failed" (the line tests/run.sh counts) and sets the exit
# status. $T is a temporary directory removed on exit; $CLAP is the binary of
# $BUILD (default build); $SQLITE3 the sqlite3 shell. The working directory
# is the repository root. sox runs without dither (SOX_OPTS): by default it
# dithers what it writes at 16 bits with fresh random numbers each run, so
# the audio the tests make, and every vector from it, would differ between
# runs (test_calls compares such vectors to 1e-6).
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
BUILD=${BUILD:-build}
CLAP="$PWD/$BUILD/clap"
SQLITE3=${CLAP_SQLITE3:-sqlite3}
export SOX_OPTS="--no-dither"
T=$(mktemp -d "${TMPDIR:-/tmp}/clap-cli.XXXXXX")
trap 'rm -rf "$T"' EXIT
_pass=0
_fail=0

_report() { # name status output why
  _fail=$((_fail + 1))
  printf 'FAIL %s: %s (exit %s)\n' "$1" "$4" "$2"
  printf '%s\n' "$3" | head -15 | sed 's/^/    | /'
}

check() {
  local name=$1 out rc; shift
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" -eq 0 ]; then _pass=$((_pass + 1)); else _report "$name" "$rc" "$out" "expected success"; fi
}

check_fails() {
  local name=$1 out rc; shift
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" -ne 0 ]; then _pass=$((_pass + 1)); else _report "$name" "$rc" "$out" "expected failure"; fi
}

check_output_contains() {
  local name=$1 needle=$2 out rc; shift 2
  out=$("$@" 2>&1); rc=$?
  if [[ "$out" == *"$needle"* ]]; then _pass=$((_pass + 1))
  else _report "$name" "$rc" "$out" "output lacks '$needle'"; fi
}

# A value computed by the test against the one expected.
check_equal() { # name actual expected
  if [ "$2" == "$3" ]; then _pass=$((_pass + 1))
  else _report "$1" "-" "got:      $2"$'\n'"expected: $3" "values differ"; fi
}

finish() {
  echo "$_pass passed, $_fail failed"
  [ "$_fail" -eq 0 ]
  exit $?
}
