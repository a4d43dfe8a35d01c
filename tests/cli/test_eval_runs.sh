#!/usr/bin/env bash
# clap eval's runs on a tiny generated corpus (3 sessions x 8 sox tones):
# "already evaluated" is keyed by the settings and a digest of the inputs
# (labels, descriptions, cached features), so changed labels re-run a fold
# (10 rows a fold: random, baseline, prompt sets 1-4 x 2 augmentations);
# a run's pooled rows come from one configuration or eval refuses naming
# the folds that differ; `clap report` prints the configuration it pooled;
# a fold with one class is marked in eval's output, its rows, the pooled
# rows and the report; eval trains outside any write transaction, so a
# `clap train` or a second eval started meanwhile is not locked out.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tone_corpus.sh"
export OPENBLAS_NUM_THREADS=1

q() { "$SQLITE3" -cmd ".timeout 5000" "$@"; }

C="$T/corpus"
DB="$T/t.db"
tone_corpus "$C"
check "init" "$CLAP" init "$DB"
check "ingest" "$CLAP" ingest "$DB" "$C"/t1.json "$C"/t2.json "$C"/t3.json
tone_labels "$DB"
check "embed" "$CLAP" embed "$DB"
E=(--dim 8 --random-runs 10)

out=$("$CLAP" eval "$DB" --epochs 2 "${E[@]}" 2>&1); rc=$?
check_equal "eval succeeds" "$rc" "0"
check_output_contains "eval says what it pooled" "eval: run 'default' pooled over 3 folds" printf '%s' "$out"
check_equal "pooled rows record the configuration and the inputs' digest" \
  "$(q "$DB" "SELECT count(*), count(DISTINCT json_extract(details,'$.data_digest')) FROM evaluations WHERE fold='pooled' AND json_extract(details,'$.config.epochs') = 2 AND length(json_extract(details,'$.data_digest')) = 64")" "10|1"
check_equal "fold rows carry the same digest" \
  "$(q "$DB" "SELECT count(DISTINCT json_extract(details,'$.data_digest')) FROM evaluations")" "1"
check_output_contains "same settings, same inputs: skipped" "fold t1: already evaluated with these settings and inputs" \
  "$CLAP" eval "$DB" --epochs 2 "${E[@]}"

# ---- issue 16.3: the key covers the labels, the descriptions and the features
truth() { q "$DB" "SELECT json_extract(details,'$.truth') FROM evaluations WHERE run='default' AND fold='t1' AND arm='baseline'"; }
before=$(truth)
q "$DB" "UPDATE labels SET label = 1 - label WHERE dimension='purchase_intention'"
out=$("$CLAP" eval "$DB" --epochs 2 "${E[@]}" 2>&1); rc=$?
check_equal "inverted labels: eval re-runs every fold" "$rc|$(grep -c 'already evaluated' <<<"$out")|$(grep -c '^fold t[123]:' <<<"$out")" "0|0|3"
check_equal "... and the stored truth is the new one" \
  "$(/usr/bin/python3 -c "import json,sys; print([1 - x for x in json.loads(sys.argv[1])] == json.loads(sys.argv[2]))" "$before" "$(truth)")" "True"
check_output_contains "unchanged again: skipped" "fold t2: already evaluated" "$CLAP" eval "$DB" --epochs 2 "${E[@]}" --folds t2
q "$DB" "UPDATE descriptions SET text = text || '。' WHERE source='prompt' AND prompt_set=3 AND pole=1"
check_output_contains "a changed description re-runs the fold" "fold t2: baseline" "$CLAP" eval "$DB" --epochs 2 "${E[@]}" --folds t2
q "$DB" "UPDATE features SET vec = (SELECT vec FROM features WHERE modality='audio' AND key='t1-u0') WHERE modality='audio' AND key='t1-u1'"
check_output_contains "a changed cached vector re-runs the fold" "fold t2: baseline" "$CLAP" eval "$DB" --epochs 2 "${E[@]}" --folds t2

# ---- issue 17.1: one configuration per pooled run
check "bring every fold to these inputs" "$CLAP" eval "$DB" --epochs 2 "${E[@]}"
out=$("$CLAP" eval "$DB" --folds t1 --force --epochs 3 "${E[@]}" 2>&1); rc=$?
check_equal "other settings on one fold: eval fails" "$rc" "1"
check_output_contains "... naming the folds and the setting that differ" \
  "folds t2, t3 evaluated with epochs 2 (this run 3)" printf '%s' "$out"
check_output_contains "... and what to do" "evaluate those folds again with this run's settings" printf '%s' "$out"
check_equal "the fold's rows are kept, the stale pooled rows removed" \
  "$(q "$DB" "SELECT count(*) FROM evaluations WHERE fold='t1' AND json_extract(details,'$.config_key') LIKE '%\"epochs\":3,%'")|$(q "$DB" "SELECT count(*) FROM evaluations WHERE fold='pooled'")" "10|0"
check_output_contains "report: no pooled rows" "no pooled evaluations for run 'default'" "$CLAP" report "$DB"
out=$("$CLAP" eval "$DB" --epochs 3 "${E[@]}" 2>&1); rc=$?
check_equal "the other folds with those settings: pooled again" "$rc|$(grep -c 'already evaluated' <<<"$out")" "0|1"
check_equal "pooled over one configuration" \
  "$(q "$DB" "SELECT count(*) FROM evaluations WHERE fold='pooled' AND json_extract(details,'$.config.epochs') = 3")" "10"
check_output_contains "report prints the configuration it pooled" 'Configuration pooled (every fold): audio_encoder acoustic, text_encoder ngram, head linear, dim 8, hidden 0, epochs 3,' "$CLAP" report "$DB"
check_output_contains "report prints the inputs' digest" "inputs digest $(q "$DB" "SELECT substr(json_extract(details,'$.data_digest'),1,12) FROM evaluations WHERE fold='pooled' LIMIT 1")" "$CLAP" report "$DB"

# ---- issue 17.3: folds with one class
q "$DB" "UPDATE labels SET label = 1 WHERE dimension='purchase_intention' AND utterance_id LIKE 't3-%'"
out=$("$CLAP" eval "$DB" --epochs 3 "${E[@]}" 2>&1); rc=$?
check_equal "eval with a one-class fold succeeds" "$rc" "0"
check_output_contains "the fold line marks it" "fold t3: [one class: all 4 held-out utterances are 'yes'" printf '%s' "$out"
check_output_contains "the summary says how pooling treats it" \
  "with one class only: t3 (yes) - such a fold's UA is the recall of that class alone, and the pooled rows count its utterances like any other fold's" \
  printf '%s' "$out"
check_equal "its rows are marked, the others not" \
  "$(q "$DB" "SELECT group_concat(DISTINCT fold || '=' || coalesce(json_extract(details,'$.one_class'), '-')) FROM evaluations WHERE fold<>'pooled'")" "t1=-,t2=-,t3=yes"
check_equal "pooled rows list it and still count its utterances" \
  "$(q "$DB" "SELECT count(*) FROM evaluations WHERE fold='pooled' AND json_extract(details,'$.one_class_folds') = 't3 (yes)' AND n = 12")" "10"
rep=$("$CLAP" report "$DB" --html "$T/r.html" 2>&1)
check_output_contains "report marks the fold in the per-fold table" "| t3 (one class: yes) |" printf '%s' "$rep"
check_output_contains "report says how pooling treats it" "its UA is the recall of that one class" printf '%s' "$rep"
check_output_contains "HTML marks it too" "t3 (one class: yes)" cat "$T/r.html"

# ---- issue 16.7: eval holds no write lock while it trains. While two
# evals train, a writer that waits up to 2 s always gets in (eval's fold
# transactions are short), and `clap train` stores its model.
slow=(--folds t1 --epochs 3000 --dim 64 --random-runs 10)
"$CLAP" eval "$DB" --run slow "${slow[@]}" > "$T/eval1.out" 2>&1 &
pid1=$!
"$CLAP" eval "$DB" --run slow2 "${slow[@]}" > "$T/eval2.out" 2>&1 &
pid2=$!
sleep 0.5
out=$("$CLAP" train "$DB" --name q --epochs 2 --dim 8 2>&1); rc=$?
check_equal "train during two evals stores its model" "$rc|$(grep -c "model 'q' stored" <<<"$out")" "0|1"
probes=0; locked=0
while kill -0 $pid1 2>/dev/null || kill -0 $pid2 2>/dev/null; do
  "$SQLITE3" -cmd ".timeout 2000" "$DB" "BEGIN IMMEDIATE; COMMIT;" >/dev/null 2>&1 || locked=$((locked + 1))
  probes=$((probes + 1))
  sleep 0.3
done
wait $pid1; rc1=$?
wait $pid2; rc2=$?
check_equal "a writer probing while they train is never locked out" "$locked of $((probes >= 3 ? 3 : probes))+ probes" "0 of 3+ probes"
check_equal "both evals succeed side by side" "$rc1|$rc2" "0|0"
check_equal "... each with its fold pooled" \
  "$(q "$DB" "SELECT group_concat(run || ':' || n, ' ') FROM (SELECT run, count(*) n FROM evaluations WHERE run LIKE 'slow%' GROUP BY run ORDER BY run)")" "slow:20 slow2:20"
finish
