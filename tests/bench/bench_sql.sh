#!/usr/bin/env bash
# cosine vs sqlite-vec's vec_distance_cosine, and a constant clap_embed_text
# argument vs a precomputed vector, over 100k × 512-d rows (bench_sql.c).
set -eu
cd "$(dirname "$0")/../.."
vec0=$(bash tests/sql/sqlite_vec.sh)
"$BUILD/bench/bench_sql" "$vec0" "${BENCH_ROWS:-100000}" 5
echo
echo "Command: \`make bench\` (runs \`$BUILD/bench/bench_sql $vec0 100000 5\`)."
