#!/usr/bin/env bash
# samples/demo.sh — what `make demo` runs: the whole pipeline on the demo
# corpus in a fresh temporary database, ending with the paper's Table III
# (Markdown on stdout) and an HTML report with charts; then a model named
# `default`, trained on every session with paraphrase augmentation, so that
# the README's SQL runs on the demo database as it is. The last lines print
# the database's path and one query to try.
#
#   bash samples/demo.sh [OUTDIR]     (default: a new directory under $TMPDIR or /tmp)
#   make demo [KEEP=1]
#
# The database and the HTML report are written to OUTDIR, which is kept. Without
# OUTDIR they go to a temporary directory that is removed at the end (also
# after a failure) unless KEEP=1, which keeps it and prints where it is.
#
# Environment: BUILD (default build), KEEP, CLAP_DEMO_EPOCHS (default: clap's
# own default), CLAP_DEMO_FOLDS (default all). Exits non-zero as soon as a step
# fails, naming the step.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
CLAP="$PWD/$BUILD/clap"
if [ -n "${1:-}" ]; then
  OUT=$1
  keep=1
else
  OUT=$(mktemp -d "${TMPDIR:-/tmp}/clap-demo.XXXXXX")
  keep=${KEEP:-}
  [ "$keep" = 0 ] && keep=
  [ -n "$keep" ] || trap 'rm -rf "$OUT"' EXIT
fi
mkdir -p "$OUT"
DB="$OUT/demo.db"
HTML="$OUT/report.html"
rm -f "$DB" "$DB-wal" "$DB-shm"

# Two cores are plenty: our worker threads times OpenBLAS threads must not
# oversubscribe them, and one BLAS thread is fastest for these small heads.
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}

step() { # name command...
  local name=$1; shift
  local t0=$SECONDS
  printf '== %s\n' "$name" >&2
  if ! "$@"; then
    printf 'demo: step "%s" failed: %s\n' "$name" "$*" >&2
    exit 1
  fi
  printf '   (%ds)\n' $((SECONDS - t0)) >&2
}

[ -x "$CLAP" ] || { echo "demo: $CLAP not built (run make)" >&2; exit 1; }
ls samples/sessions/*.json >/dev/null 2>&1 || { echo "demo: no samples/sessions/*.json" >&2; exit 1; }

have() { "$CLAP" "$1" --help >/dev/null 2>&1; }

step init "$CLAP" init "$DB"
step ingest "$CLAP" ingest "$DB" samples/sessions/*.json
step import-annotations "$CLAP" import-annotations "$DB" samples/annotations.csv
step labels "$CLAP" labels "$DB"
if [ -f samples/paraphrases.json ] && have paraphrase; then
  step "paraphrase --import" "$CLAP" paraphrase "$DB" --import samples/paraphrases.json
else
  echo "demo: no bundled paraphrases or no \`clap paraphrase\`; the augmented arms use the originals only" >&2
fi
step embed "$CLAP" embed "$DB"
eval_args=(--folds "${CLAP_DEMO_FOLDS:-all}")
[ -n "${CLAP_DEMO_EPOCHS:-}" ] && eval_args+=(--epochs "$CLAP_DEMO_EPOCHS")
step eval "$CLAP" eval "$DB" "${eval_args[@]}"
echo >&2
# What the audio carries (latent recovery, supervised UA per emotion) for the
# page, when numpy is there to compute it (tests/bench/quality.py).
report_args=(--html "$HTML")
if /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
  step "quality figures" /usr/bin/python3 tests/bench/quality.py --clap "$CLAP" --corpus samples \
    --db "$DB" --boot 200 --json "$OUT/quality.json" --title "samples/" >/dev/null
  report_args+=(--quality "$OUT/quality.json")
else
  echo "demo: no python3-numpy; the page has no latent-recovery table" >&2
fi
step report "$CLAP" report "$DB" "${report_args[@]}"
step "train default" "$CLAP" train "$DB" --name default --augment paraphrase >/dev/null
echo
if [ -n "$keep" ]; then
  echo "database: $DB (model 'default': all sessions, paraphrase augmentation)"
  echo "HTML report: $HTML"
  q="select id, round(clap_zero_shot(clap_embed_audio(audio), '私は欲しくないです', '私は欲しいです'), 3) from utterances where role = 'customer' limit 5;"
  echo "try:      sqlite3 $DB -cmd '.load $PWD/$BUILD/clap0' \"$q\""
else
  echo "demo: $OUT removed; run \`make demo KEEP=1\` (or \`bash samples/demo.sh OUTDIR\`) to keep the database (with model 'default', for the README's SQL) and the HTML report"
fi
