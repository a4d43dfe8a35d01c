#!/usr/bin/env bash
# make bench: runs every tests/bench/bench_*.sh; each prints a Markdown
# section (what was measured, the peer, the ratio, the command) and appends
# its rows for the summary table to $BENCH_SUMMARY. RESULTS.md gets a header
# (machine, date, load), the summary table, then the sections. A bench that
# fails is named in RESULTS.md and the others still run; make bench then
# exits 1.
#   BENCH_ONLY="sql hubert"  run only these benches (RESULTS.md is still written)
set -eu
cd "$(dirname "$0")/../.."
export BUILD=${BUILD:-build}
out=tests/bench/RESULTS.md
body=$(mktemp)
export BENCH_SUMMARY=$(mktemp)
trap 'rm -f "$body" "$BENCH_SUMMARY"' EXIT
load0=$(cut -d' ' -f1-3 /proc/loadavg)
t0=$(date +%s)
failed=""
for b in tests/bench/bench_*.sh; do
  name=$(basename "$b" .sh)
  if [ -n "${BENCH_ONLY:-}" ] && ! grep -qw "${name#bench_}" <<<"$BENCH_ONLY"; then continue; fi
  echo "bench: $name (load $(cut -d' ' -f1 /proc/loadavg))" >&2
  s=$(date +%s)
  if bash "$b" > "$body.one" 2> "$body.err"; then
    cat "$body.one" >> "$body"
  else
    failed="$failed $name"
    { echo "## $name FAILED"; echo; echo '```'; tail -20 "$body.err"; echo '```'; } >> "$body"
    echo "| $name | failed (see its section) | | |" >> "$BENCH_SUMMARY"
  fi
  echo >> "$body"
  echo "bench: $name took $(( $(date +%s) - s )) s" >&2
done
rm -f "$body.one" "$body.err"
{
  echo "# Benchmark results"
  echo
  echo "- Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"
  echo "  $(awk '/MemTotal/ { printf "%.0f GB RAM", $2 / 1048576 }' /proc/meminfo), $(uname -sr), sqlite $(sqlite3 --version | cut -d' ' -f1),"
  echo "  OpenBLAS $(pkg-config --modversion openblas 2>/dev/null || echo '?'), PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)' 2>/dev/null || echo 'unavailable')."
  echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); \`make bench\` took $(( ($(date +%s) - t0) / 60 )) min."
  echo "- Load: load average $load0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end (each section"
  echo "  gives its own). The machine may be shared with other jobs, so absolute times can be"
  echo "  pessimistic and noisy; every figure below is a ratio against the named peer measured"
  echo "  in the same run, on the same load."
  echo
  echo "| figure | measured | target | |"
  echo "|---|---|---|---|"
  cat "$BENCH_SUMMARY"
  echo
  # Findings that hold beyond one run (what dominates a figure, why a peer
  # is configured as it is), kept by hand.
  [ -f tests/bench/NOTES.md ] && { cat tests/bench/NOTES.md; echo; }
  cat "$body"
} > "$out"
cat "$out"
if [ -n "$failed" ]; then echo "bench: failed:$failed" >&2; exit 1; fi
