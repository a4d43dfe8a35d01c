#!/usr/bin/env bash
# Vector search in SQL: our cosine() against sqlite-vec's vec_distance_cosine
# in the same process, and a constant clap_embed_text('…') argument against a
# precomputed vector, over 100k × 512-d rows (bench_sql.c); plus the C kernel
# underneath against plain loops (bench_vec.c). Prints a Markdown section;
# appends summary rows to $BENCH_SUMMARY when set.
#   BENCH_ROWS (default 100000), BENCH_REPS (default 7)
set -eu
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
rows=${BENCH_ROWS:-100000}
reps=${BENCH_REPS:-7}
for b in bench_sql bench_vec; do
  [ -x "$BUILD/bench/$b" ] || make --no-print-directory "$BUILD/bench/$b" >&2
done
vec0=$(bash tests/sql/sqlite_vec.sh 2>/dev/null) || vec0=none

echo "## Vector search in SQL"
echo
echo "Load average at the start: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores."
[ "$vec0" = none ] && echo "sqlite-vec: peer unavailable (tests/sql/sqlite_vec.sh could not install it)."
echo
out=$("$BUILD/bench/bench_sql" "$vec0" "$rows" "$reps")
grep -v '^SUMMARY ' <<<"$out"
echo
summ() { sed -n "s/^SUMMARY $1=//p" <<<"$out"; }
if [ -n "${BENCH_SUMMARY:-}" ]; then
  r=$(summ sql_cosine_vs_sqlite_vec)
  if [ -n "$r" ]; then
    echo "| SQL \`sum(cosine(v, :q))\`, 100k × 512-d, vs sqlite-vec \`vec_distance_cosine\` (CPU time) | $r | ≤ 0.8 | $(awk -v r="$r" 'BEGIN{print (r <= 0.8) ? "met" : "**not met**"}') |" >> "$BENCH_SUMMARY"
  else
    echo "| SQL \`sum(cosine(v, :q))\` vs sqlite-vec | peer unavailable | ≤ 0.8 | not measured |" >> "$BENCH_SUMMARY"
  fi
  r=$(summ const_text_vs_precomputed)
  echo "| SQL \`cosine(v, clap_embed_text('…')) > x\` vs precomputed vector (CPU time) | $r | ≤ 1.2 | $(awk -v r="$r" 'BEGIN{print (r <= 1.2) ? "met" : "**not met**"}') |" >> "$BENCH_SUMMARY"
fi

echo "### The kernel: vec_cosine against plain C loops, no SQL"
echo
echo '```'
"$BUILD/bench/bench_vec" "$rows" 512
echo '```'
echo
echo "Commands: \`make bench\`, or \`$BUILD/bench/bench_sql $vec0 $rows $reps\` and"
echo "\`$BUILD/bench/bench_vec $rows 512\` (\`bash tests/bench/bench_sql.sh\` runs both)."
