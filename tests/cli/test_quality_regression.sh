#!/usr/bin/env bash
# Regression: the bundled corpus carries its labels and training picks them
# up. On samples/ with its fixed seeds, through the C pipeline (init, ingest,
# import-annotations, labels, paraphrase --import, embed, eval --epochs 10),
# tests/bench/quality.py reports the baseline's pooled purchase-intention AUC
# and the arousal probe's leave-one-session-out UA; they must stay at or
# above 0.65 and 70 %. Deterministic (fixed seeds, one BLAS thread), not
# timed; it fails if training or the corpus stops carrying signal. The full
# figures and targets are in the bench (tests/bench/bench_quality.sh).
. "$(dirname "$0")/lib.sh"
export OPENBLAS_NUM_THREADS=1
if ! /usr/bin/python3 tests/bench/quality.py --clap "$CLAP" --corpus samples --db "$T/q.db" \
     --boot 20 --json "$T/q.json" --eval-arg=--epochs --eval-arg=10 >"$T/q.md" 2>"$T/err"; then
  check_fails "quality.py on samples/ ($(tail -3 "$T/err"))" true
  finish
  exit
fi
get() { /usr/bin/python3 -c "import json,sys; print($1)" "$T/q.json"; }
auc=$(get "[a['auc'] for a in json.load(open(sys.argv[1]))['arms'] if a['arm'] == 'baseline'][0]")
ua=$(get "[e['value'] for e in json.load(open(sys.argv[1]))['emotions'] if e['name'] == 'aroused'][0]")
check "baseline pooled purchase-intention AUC >= 0.65 (got $auc)" \
  /usr/bin/python3 -c "import sys; sys.exit(0 if $auc >= 0.65 else 1)"
check "arousal probe LOSO UA >= 70% (got $ua)" \
  /usr/bin/python3 -c "import sys; sys.exit(0 if $ua >= 0.70 else 1)"
check_equal "the AUC is clap eval's own pooled figure" \
  "$("$SQLITE3" "$T/q.db" "SELECT round(json_extract(details, '$.auc'), 6) FROM evaluations WHERE fold='pooled' AND arm='baseline'")" \
  "$(/usr/bin/python3 -c "print(round($auc, 6))")"
finish
