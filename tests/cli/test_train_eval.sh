#!/usr/bin/env bash
# clap embed / train / baseline / eval / report wired end to end on a tiny
# generated corpus (3 sessions x 8 sox tones, labels inserted with sqlite3):
# embed fills features and a re-run adds nothing; cached vectors equal
# clap_encode_audio/clap_encode_text bit for bit; train is reproducible bit
# for bit for a seed (and a different seed differs); metadata records
# encoders, config, loss curve and provenance; eval writes sane evaluations
# rows and pooled rows; a re-run skips done folds; a failing fold leaves no
# model and no row; report prints Table III and writes the HTML page;
# train, baseline and eval on a checkpoint encoder read its registration and
# the cache, not the checkpoint.
# (clap_embed_audio vs the engine on cached features: tests/unit/test_fit.c.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tone_corpus.sh"
export OPENBLAS_NUM_THREADS=1

q() { "$SQLITE3" -cmd ".timeout 5000" "$@"; }
# sqlite3 with the extension (sanitizer runtimes preloaded when needed)
qx() {
  local db=$1; shift
  LD_PRELOAD="${CLAP_SQLITE_PRELOAD:-}" \
    ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:verify_asan_link_order=0 \
    "$SQLITE3" "$db" ".load $BUILD/clap0" "$@"
}

C="$T/corpus"
DB="$T/t.db"
tone_corpus "$C"

check "init" "$CLAP" init "$DB"
check "ingest" "$CLAP" ingest "$DB" "$C"/t1.json "$C"/t2.json "$C"/t3.json
# Labels: the six emotions follow the tone class (one NULL = excluded);
# purchase intention on customer utterances, both classes in every session.
tone_labels "$DB" "d.name='dominant' AND u.id LIKE '%-u3'"
check_equal "customer labels in every session have both classes" \
  "$(q "$DB" "SELECT group_concat(c) FROM (SELECT count(DISTINCT l.label) c FROM labels l JOIN utterances u ON u.id=l.utterance_id WHERE dimension='purchase_intention' GROUP BY session_id)")" "2,2,2"

# ---- embed
check_output_contains "embed adds every utterance and description" "24 audio vectors (acoustic), 18 text vectors (ngram) added" \
  "$CLAP" embed "$DB" --workers 2
n1=$(q "$DB" "SELECT count(*) FROM features")
check_equal "features rows" "$n1" "42"
check_output_contains "a re-run adds nothing" "0 audio vectors (acoustic), 0 text vectors (ngram) added" "$CLAP" embed "$DB"
check_equal "re-run leaves the count" "$(q "$DB" "SELECT count(*) FROM features")" "$n1"
check_equal "audio features equal clap_encode_audio bit for bit" \
  "$(qx "$DB" "SELECT count(*), sum(f.vec = clap_encode_audio(u.audio, 'acoustic')) FROM utterances u JOIN features f ON f.encoder='acoustic' AND f.modality='audio' AND f.key=u.id")" "24|24"
check_equal "text features equal clap_encode_text bit for bit" \
  "$(qx "$DB" "SELECT count(*) FROM (SELECT DISTINCT text FROM descriptions) d WHERE EXISTS (SELECT 1 FROM features f WHERE f.encoder='ngram' AND f.modality='text' AND f.vec = clap_encode_text(d.text, 'ngram'))")" "18"
check_equal "text keys are the sha256 of the text" \
  "$(q "$DB" "SELECT text FROM descriptions" | /usr/bin/python3 -c 'import hashlib,sys; print(len({hashlib.sha256(l.rstrip("\n").encode()).hexdigest() for l in sys.stdin}))')|$(q "$DB" "SELECT text FROM descriptions" | /usr/bin/python3 -c 'import hashlib,sys; print(",".join(sorted(hashlib.sha256(l.rstrip("\n").encode()).hexdigest() for l in sys.stdin)))' | md5sum | cut -c1-8)" \
  "$(q "$DB" "SELECT count(*) FROM features WHERE modality='text'")|$(q "$DB" "SELECT group_concat(key, ',') FROM (SELECT key FROM features WHERE modality='text' ORDER BY key)" | md5sum | cut -c1-8)"
check_output_contains "embed: unknown encoder named" "unknown encoder 'nope'" "$CLAP" embed "$DB" --encoder nope
check_output_contains "embed: a text encoder for audio is refused" "encodes text, not audio" "$CLAP" embed "$DB" --encoder ngram
check_fails "embed: bad --workers is a usage error" "$CLAP" embed "$DB" --workers 0

# ---- train
check "train a (seed 7)" "$CLAP" train "$DB" --name a --seed 7 --epochs 4 --dim 32
check "train b (seed 7)" "$CLAP" train "$DB" --name b --seed 7 --epochs 4 --dim 32
check "train c (seed 8)" "$CLAP" train "$DB" --name c --seed 8 --epochs 4 --dim 32
for m in a b c; do "$CLAP" model export "$DB" $m "$T/$m.bin" >/dev/null; done
check "same seed: identical blobs" cmp -s "$T/a.bin" "$T/b.bin"
check_fails "another seed: different blobs" cmp -s "$T/a.bin" "$T/c.bin"
check_output_contains "an existing name needs --replace" "exists (use --replace)" "$CLAP" train "$DB" --name a --epochs 1
check "--replace overwrites" "$CLAP" train "$DB" --name a --seed 7 --epochs 4 --dim 32 --replace
check_output_contains "--epochs 0 is refused" "--epochs 0: at least 1 epoch is needed" \
  "$CLAP" train "$DB" --name zero --epochs 0 --dim 32
check_equal "...and stores no model" "$("$SQLITE3" "$DB" "SELECT count(*) FROM clap_models WHERE name = 'zero'")" 0
check_output_contains "baseline --epochs 0 is refused" "--epochs 0: at least 1 epoch is needed" \
  "$CLAP" baseline "$DB" --name zb --epochs 0
meta=$("$CLAP" model show "$DB" a)
check_equal "metadata: kind, encoders, epochs, loss curve, provenance" \
  "$(printf '%s' "$meta" | /usr/bin/python3 -c '
import json, sys
m = json.load(sys.stdin)["metadata"]
p = m["provenance"]
print(m["kind"], m["encoders"]["audio"]["name"], m["encoders"]["text"]["name"], m["trained"], m["training"]["epochs"], m["training"]["lr"],
      len(m["loss"]), sorted(p["sessions"]), p["utterances"], p["labels"]["dominant"], p["texts"]["original"],
      "purchase_intention" in p["labels"])')" \
  "clap acoustic ngram True 4 0.001 4 ['t1', 't2', 't3'] 24 {'0': 10, '1': 11} 12 False"
check "train with a held-out session" "$CLAP" train "$DB" --name h --holdout-session t2 --epochs 2 --dim 16
check_equal "held-out session not in provenance" \
  "$("$CLAP" model show "$DB" h | /usr/bin/python3 -c 'import json,sys; p=json.load(sys.stdin)["metadata"]["provenance"]; print(sorted(p["sessions"]), p["utterances"])')" \
  "['t1', 't3'] 16"
check_output_contains "train: --augment checks its value" "none or paraphrase" "$CLAP" train "$DB" --name z --augment maybe
check_output_contains "train: --name is required" "--name is required" "$CLAP" train "$DB"
check_output_contains "train --help states the paper's values" "the paper: 1e-6" "$CLAP" train --help
check_output_contains "train: no labels outside the holdout" "no labeled utterances" \
  "$CLAP" train "$DB" --name z --holdout-session t1 --holdout-session t2 --holdout-session t3

# ---- baseline
check_output_contains "baseline trains and reports its threshold" "Youden's J" "$CLAP" baseline "$DB" --name base --epochs 5 --dim 16
check_equal "baseline metadata: kind, fc size, threshold in [0,1]" \
  "$("$CLAP" model show "$DB" base | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); m=d["metadata"]; print(m["kind"], len(m["fc"]["w"]), 0 <= m["threshold"] <= 1, m["provenance"]["labels"]["purchase_intention"], d["config"]["text_encoder"])')" \
  "baseline 16 True {'0': 6, '1': 6} none"

# ---- a checkpoint encoder: train, baseline and eval take its dim and
# identity from clap_encoders and its vectors from the cache; nothing reads
# the checkpoint, so they run with its weights file gone (and eval's folds
# pay for no hashing or loading). The SQL functions check the files when the
# model runs; stale rows are still refused. (A copy: the eval checks below
# count this database's rows.)
HB="$T/hb.db"
cp "$DB" "$HB"
cp -r tests/fixtures/hubert/f32 "$T/hb"
check "register a hubert checkpoint" "$CLAP" encoder add "$HB" --name hb --kind hubert --path "$T/hb"
check_output_contains "embed with it" "24 audio vectors (hb)" "$CLAP" embed "$HB" --encoder hb
mv "$T/hb/model.safetensors" "$T/hb-weights"
check "train on hb without its weights file" "$CLAP" train "$HB" --name hbm --encoder hb --epochs 2 --dim 8
check "baseline on hb without its weights file" "$CLAP" baseline "$HB" --name hbb --encoder hb --epochs 2 --dim 8
rec() { "$CLAP" model show "$HB" "$1" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); a=d["metadata"]["encoders"]["audio"]; print(d["config"]["audio_in"], a["sha256"], a["identity"])'; }
reg=$(q "$HB" "SELECT dim || ' ' || sha256 || ' ' || json_extract(config, '\$.identity') FROM clap_encoders WHERE name='hb'")
check_equal "the model records hb's registered dim, weights sha256 and files identity" "$(rec hbm)" "$reg"
check_equal "so does the baseline" "$(rec hbb)" "$reg"
check_output_contains "eval on hb without its weights file: every fold trains" "fold t3:" \
  "$CLAP" eval "$HB" --encoder hb --epochs 2 --dim 8 --random-runs 10
check_equal "eval stored its fold models" "$(q "$HB" "SELECT count(*) FROM clap_models WHERE name LIKE 'fold-%'")" "9"
check_output_contains "the SQL functions check the files when the model runs" "no model.safetensors or pytorch_model.bin" \
  qx "$HB" "SELECT clap_embed_audio(audio, 'hbm') FROM utterances WHERE id='t1-u1'"
mv "$T/hb-weights" "$T/hb/model.safetensors"
check_equal "with the weights back the model runs" \
  "$(qx "$HB" "SELECT length(clap_embed_audio(audio, 'hbm')) FROM utterances WHERE id='t1-u1'" 2>&1)" "32"
cp tests/fixtures/hubert/f16/model.safetensors "$T/hb/model.safetensors"
check "re-register hb with other weights" "$CLAP" encoder add "$HB" --name hb --kind hubert --path "$T/hb" --replace
check_output_contains "training refuses the rows the old weights computed" "stale hb audio features" \
  "$CLAP" train "$HB" --name hbs --encoder hb --epochs 1 --dim 8
check_output_contains "so does the baseline" "stale hb audio features" \
  "$CLAP" baseline "$HB" --name hbs --encoder hb --epochs 1 --dim 8

# ---- eval
out=$("$CLAP" eval "$DB" --epochs 3 --dim 16 --random-runs 50 2>&1); rc=$?
check_equal "eval succeeds" "$rc" "0"
check_equal "eval rows: 10 per fold and 10 pooled" \
  "$(q "$DB" "SELECT fold, count(*) FROM evaluations WHERE run='default' GROUP BY fold ORDER BY fold" | tr '\n' ' ')" \
  "pooled|10 t1|10 t2|10 t3|10 "
check_equal "every metric in [0,1], n = 4 per fold and 12 pooled" \
  "$(q "$DB" "SELECT count(*) FROM evaluations WHERE run='default' AND wa BETWEEN 0 AND 1 AND ua BETWEEN 0 AND 1 AND recall_no BETWEEN 0 AND 1 AND recall_yes BETWEEN 0 AND 1 AND n = CASE fold WHEN 'pooled' THEN 12 ELSE 4 END")" "40"
check_equal "arms: random, baseline, 3 prompts and their ensemble x 2 augmentations" \
  "$(q "$DB" "SELECT group_concat(a, ' ') FROM (SELECT DISTINCT arm || coalesce(prompt_set,'') || coalesce(augment,'') a FROM evaluations WHERE fold='pooled' ORDER BY a)")" \
  "baseline random zero-shot10 zero-shot11 zero-shot20 zero-shot21 zero-shot30 zero-shot31 zero-shot40 zero-shot41"
check_equal "fold rows name their models" \
  "$(q "$DB" "SELECT group_concat(DISTINCT model) FROM evaluations WHERE fold='t2' AND model IS NOT NULL")" \
  "fold-t2-base,fold-t2-none,fold-t2-para"
check_equal "fold models are stored" "$(q "$DB" "SELECT count(*) FROM clap_models WHERE name LIKE 'fold-%'")" "9"
check_equal "zero-shot rows carry a sign test p in [0,1] and the counts" \
  "$(q "$DB" "SELECT count(*) FROM evaluations WHERE arm='zero-shot' AND json_extract(details,'$.sign_test.p') BETWEEN 0 AND 1 AND json_extract(details,'$.counts.n') = n AND json_extract(details,'$.counts.tp') + json_extract(details,'$.counts.tn') = json_extract(details,'$.counts.correct')")" "32"
check_equal "WA = correct / n in every fold row" \
  "$(q "$DB" "SELECT count(*) FROM evaluations WHERE arm<>'random' AND abs(wa - 1.0 * json_extract(details,'$.counts.correct') / n) < 1e-12")" "36"
check_equal "pooled WA = the pooled counts of the fold rows" \
  "$(q "$DB" "SELECT count(*) FROM evaluations p WHERE fold='pooled' AND arm<>'random' AND abs(p.wa - (SELECT 1.0 * sum(json_extract(details,'$.counts.correct')) / sum(n) FROM evaluations f WHERE f.fold<>'pooled' AND f.run=p.run AND f.arm=p.arm AND f.prompt_set IS p.prompt_set AND f.augment IS p.augment)) < 1e-12")" "9"
check_equal "random predictor near chance" \
  "$(q "$DB" "SELECT ua BETWEEN 0.35 AND 0.65 FROM evaluations WHERE fold='pooled' AND arm='random'")" "1"
zs=$(q "$DB" "SELECT json_extract(details,'$.score[0]') FROM evaluations WHERE fold='t1' AND arm='zero-shot' AND prompt_set=3 AND augment=0")
ref=$(qx "$DB" "SELECT clap_zero_shot(clap_embed_audio(audio, 'fold-t1-none'), (SELECT text FROM descriptions WHERE source='prompt' AND prompt_set=3 AND pole=0), (SELECT text FROM descriptions WHERE source='prompt' AND prompt_set=3 AND pole=1), 'fold-t1-none') FROM utterances WHERE id='t1-u1'")
check "zero-shot score equals clap_zero_shot in SQL" /usr/bin/python3 -c "import sys; a, b = float('$zs'), float('$ref'); sys.exit(0 if a == b else 1)"
# The ensemble (prompt set 4): each pole the array of the three Table III sentences.
zs=$(q "$DB" "SELECT json_extract(details,'$.score[0]') FROM evaluations WHERE fold='t1' AND arm='zero-shot' AND prompt_set=4 AND augment=1")
ref=$(qx "$DB" "SELECT clap_zero_shot(clap_embed_audio(audio, 'fold-t1-para'), (SELECT json_group_array(text) FROM (SELECT text FROM descriptions WHERE source='prompt' AND pole=0 ORDER BY prompt_set)), (SELECT json_group_array(text) FROM (SELECT text FROM descriptions WHERE source='prompt' AND pole=1 ORDER BY prompt_set)), 'fold-t1-para') FROM utterances WHERE id='t1-u1'")
check "ensemble score equals clap_zero_shot with the three sentences per pole" /usr/bin/python3 -c "import sys; a, b = float('$zs'), float('$ref'); sys.exit(0 if a == b else 1)"
check_equal "ensemble rows record their prompts" \
  "$(q "$DB" "SELECT DISTINCT json_extract(details,'$.prompts.label') || ' | ' || json_array_length(json_extract(details,'$.prompts.yes')) FROM evaluations WHERE arm='zero-shot' AND prompt_set=4 AND fold<>'pooled'")" \
  "ensemble of (1)-(3) | 3"
n_before=$(q "$DB" "SELECT count(*), max(id) FROM evaluations")
check_output_contains "a re-run skips done folds" "already evaluated" "$CLAP" eval "$DB" --epochs 3 --dim 16 --random-runs 50 --folds t1
check_equal "... and keeps the rows" "$(q "$DB" "SELECT count(*), max(id) FROM evaluations")" "$n_before"
check_output_contains "eval: unknown fold" "no session 'zz'" "$CLAP" eval "$DB" --folds zz

# A fold that fails half way (a paraphrase without cached features makes
# the augmented training fail after the plain model was stored): nothing of
# that fold is kept.
q "$DB" "INSERT INTO descriptions(dimension, pole, text, source) VALUES ('aroused', 1, 'not embedded yet', 'manual')"
check_output_contains "failing fold: error says what and that nothing is kept" "nothing of it kept" \
  "$CLAP" eval "$DB" --run broken --folds t2 --epochs 2 --dim 16 --random-runs 10
check_equal "failing fold: no evaluations rows" "$(q "$DB" "SELECT count(*) FROM evaluations WHERE run='broken'")" "0"
check_equal "failing fold: no models" "$(q "$DB" "SELECT count(*) FROM clap_models WHERE name LIKE 'broken:%'")" "0"
check_equal "failing fold: the other run untouched" "$(q "$DB" "SELECT count(*), max(id) FROM evaluations")" "$n_before"

# ---- report
rep=$("$CLAP" report "$DB" --run default --html "$T/r.html" 2>&1); rc=$?
check_equal "report succeeds" "$rc" "0"
check_output_contains "report: Table III title" "Table III" printf '%s' "$rep"
check_output_contains "report: baseline row" "| Supervised [Baseline] |" printf '%s' "$rep"
check_output_contains "report: prompt (3)" "(3) 私は欲しくないです / 私は欲しいです" printf '%s' "$rep"
pooled_ua=$(q "$DB" "SELECT printf('%.1f', 100 * ua) FROM evaluations WHERE run='default' AND fold='pooled' AND arm='baseline'")
check_output_contains "report: the baseline's UA from its row" "| $pooled_ua |" printf '%s' "$rep"
check_output_contains "report: row ids for traceability" "Baseline #" printf '%s' "$rep"
check_equal "HTML: three inline SVG charts" "$(grep -o '<svg' "$T/r.html" | wc -l)" "3"
check_output_contains "report: unknown run" "no pooled evaluations for run 'nope'" "$CLAP" report "$DB" --run nope
# An HTML file that cannot be written: the path and the reason, exit 1.
out=$("$CLAP" report "$DB" --html /nonexistent/x.html 2>&1 >/dev/null); rc=$?
check_equal "report: an unwritable HTML path says why" "$rc|$out" \
  "1|clap report: /nonexistent/x.html: cannot write: No such file or directory"
# The per-session chart has a bar for every session however many there are,
# and a session id is text, not markup.
cp "$DB" "$T/many.db"
q "$T/many.db" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 70)
  INSERT INTO sessions(id) SELECT printf('m%02d<&''>', i) FROM n;
  INSERT INTO utterances(id, session_id, role, source_path, source_sha256, source_rate,
    source_channels, duration, audio) SELECT 'u-' || id, id, 'customer', 'x', 'x', 16000, 1, 1, x'00'
    FROM sessions WHERE id LIKE 'm%';
  INSERT INTO labels(utterance_id, dimension, value, label)
    SELECT id, 'purchase_intention', 0, 1 FROM utterances WHERE id LIKE 'u-m%';"
check "report with 73 sessions" "$CLAP" report "$T/many.db" --run default --html "$T/many.html"
check_equal "HTML: one labelled bar group per session (73)" \
  "$(grep -c '^<text x=4 ' "$T/many.html")" "73"
check_output_contains "HTML: session ids escaped" "m70&lt;&amp;&#39;&gt;" cat "$T/many.html"
check_equal "HTML: no raw markup from session ids" "$(grep -c "m70<&'>" "$T/many.html")" "0"
finish
