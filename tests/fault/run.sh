#!/usr/bin/env bash
# tests/fault/run.sh — I/O-error and out-of-memory injection (README.md here).
#
#   BUILD=build bash tests/fault/run.sh           seeded samples, seconds (make test)
#   BUILD=build bash tests/fault/run.sh --full    make faults: up to 100 fault points
#                                                 per command and mode, every
#                                                 allocation of every SQL function;
#                                                 the figures go into README.md
#
# Needs $BUILD/clap, $BUILD/fault/libfaultvfs.so and $BUILD/fault/oom_sql
# (make's unit-bins). The last line is "faults: N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
FULL=${1:-}
SQLITE3=${CLAP_SQLITE3:-sqlite3}
CLAP="$PWD/$BUILD/clap"
T=$(mktemp -d "${TMPDIR:-/tmp}/clap-fault.XXXXXX")
trap 'rm -rf "$T"' EXIT
export OPENBLAS_NUM_THREADS=1

if [ "$FULL" = --full ]; then io_sample=100; oom_sample=0; oom_tail=0
else io_sample=1; oom_sample=8; oom_tail=48; fi

# The OOM database: a model, both checkpoint encoders, one recording.
db="$T/oom.db"
{
  "$CLAP" init "$db" &&
    "$CLAP" model create "$db" --name default --dim 16 --seed 1 &&
    "$CLAP" encoder add "$db" --name hb --kind hubert --path tests/fixtures/hubert/f32 &&
    "$CLAP" encoder add "$db" --name db --kind distilbert --path tests/fixtures/distilbert &&
    "$SQLITE3" "$db" "CREATE TABLE clips(audio BLOB);
      INSERT INTO clips VALUES (readfile('tests/fixtures/audio/tone220_16k.flac'))"
} >"$T/setup.log" 2>&1 || { cat "$T/setup.log"; echo "faults: 0 passed, 1 failed"; exit 1; }

t0=$SECONDS
# Quick: the last allocations of each call (the function's own work comes
# after SQLite's open and prepare: a failing model lookup once read "no
# model named 'default'") and a sample of the rest.
"$BUILD/fault/oom_sql" "$db" --sample "$oom_sample" --tail "$oom_tail" --seed 1 \
  >"$T/oom.txt" 2>"$T/oom.err"
oom_rc=$?
cat "$T/oom.txt"
[ "$oom_rc" -ne 0 ] && head -40 "$T/oom.err"
# Again with cJSON's allocations counted too (a model header whose cJSON
# tree could not be built once leaked it and read as "not canonical").
"$BUILD/fault/oom_sql" "$db" --sample "$oom_sample" --tail "$oom_tail" --seed 1 --hook-json \
  >"$T/oomj.txt" 2>"$T/oomj.err"
oomj_rc=$?
oom_secs=$((SECONDS - t0))
cat "$T/oomj.txt"
[ "$oomj_rc" -ne 0 ] && head -40 "$T/oomj.err"

t0=$SECONDS
# model delete at its first writes, the DELETE's (a failing DELETE once said
# "no model named").
/usr/bin/python3 tests/fault/io_faults.py --build "$BUILD" --sample "$io_sample" --seed 1 \
  --points "model delete=1,2,3" --table "$T/io.md" >"$T/io.txt" 2>&1
io_rc=$?
io_secs=$((SECONDS - t0))
cat "$T/io.txt"

line() { sed -nE "s/^$1: ([0-9]+) passed, ([0-9]+) failed.*/\\$2/p" "$3" | tail -1; }
passed=$(( $(line oom 1 "$T/oom.txt") + $(line oom 1 "$T/oomj.txt") + $(line io-faults 1 "$T/io.txt") ))
failed=$(( $(line oom 2 "$T/oom.txt") + $(line oom 2 "$T/oomj.txt") + $(line io-faults 2 "$T/io.txt") ))
# A run that died before its summary counts as one failure.
grep -qE '^oom: [0-9]+ passed' "$T/oom.txt" || failed=$((failed + 1))
grep -qE '^oom: [0-9]+ passed' "$T/oomj.txt" || failed=$((failed + 1))
grep -qE '^io-faults: [0-9]+ passed' "$T/io.txt" || failed=$((failed + 1))
[ "$oom_rc" -ne 0 ] || [ "$oomj_rc" -ne 0 ] || [ "$io_rc" -ne 0 ] && [ "$failed" -eq 0 ] && failed=1

if [ "$FULL" = --full ]; then
  # Replace the figures between the markers of README.md.
  {
    echo "Measured by \`make faults\` on commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')" \
      "($(date -u +%Y-%m-%d), build \`$BUILD\`): I/O ${io_secs}s, out of memory ${oom_secs}s."
    echo
    echo "**I/O errors** (each fault point is one run: one mode, one N; *exit 0* counts runs where"
    echo "SQLite absorbed the fault and the result equals an uninterrupted run):"
    echo
    cat "$T/io.md"
    echo
    echo "**Out of memory** (per SQL call; *one*: only the Nth allocation fails, *sticky*: every"
    echo "allocation from the Nth on; *fallback*: succeeded with floats within 1e-5, see below):"
    echo
    echo '```text'
    grep -vE '^oom: ' "$T/oom.txt"
    echo '```'
    echo
    echo "With \`--hook-json\` (cJSON's allocations counted and failed too; *bad-JSON message*: see below):"
    echo
    echo '```text'
    grep -vE '^oom: ' "$T/oomj.txt"
    echo '```'
  } >"$T/figures.md"
  /usr/bin/python3 - "$T/figures.md" tests/fault/README.md <<'EOF'
import sys
fig = open(sys.argv[1]).read()
path = sys.argv[2]
text = open(path).read()
a, b = "<!-- figures: make faults writes from here -->", "<!-- figures end -->"
i, j = text.index(a) + len(a), text.index(b)
open(path, "w").write(text[:i] + "\n" + fig + text[j:])
EOF
  echo "figures written to tests/fault/README.md"
fi
echo "faults: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
