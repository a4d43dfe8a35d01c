#!/usr/bin/env bash
# Encoder precision (ext/nn/dense.h): `encoder add --precision` records f32
# or bf16 (auto chooses by the CPU and a timed encode), the precision is
# folded into the identity, so vectors of one precision are stale for the
# other; bf16 vectors stay within cosine 0.999 of f32 ones, in SQL and in
# `clap embed`; a bad value is a usage error.
# Then the override of one run (`clap embed/train/baseline/eval --precision`)
# on a tone corpus: vectors cached under the identity of the precision they
# were computed at and equal to the SQL functions under clap_precision();
# training reads only the vectors of its precision and the model records it;
# the SQL functions run a model at its precision and refuse an explicit
# other one; a shard made at bf16 merges as bf16 vectors.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tone_corpus.sh"
db="$T/p.db"
q() { "$SQLITE3" -cmd ".timeout 5000" "$db" ".load $BUILD/clap0" "$@" 2>&1; }
# Bad values: usage errors naming the option and the accepted values.
usage_errors() {
  "$CLAP" encoder add "$db" --name x --kind hubert --path tests/fixtures/hubert/f32 \
    --precision fp16 >/dev/null 2>&1
  check_equal "bad precision is a usage error (exit 2)" "$?" 2
  check_output_contains "its message" "--precision: expected f32, bf16 or auto, got 'fp16'" \
    "$CLAP" encoder add "$db" --name x --kind hubert --path tests/fixtures/hubert/f32 --precision fp16
  local cmd out
  for cmd in embed train eval baseline; do
    out=$("$CLAP" $cmd "$db" --precision fp16 2>&1)
    check_equal "$cmd --precision fp16 is a usage error (exit 2)" "$?" 2
    check_output_contains "  naming the option and the values" \
      "--precision: expected f32, bf16, auto or registered, got 'fp16'" echo "$out"
  done
}
check "init" "$CLAP" init "$db"
q "INSERT INTO sessions(id) VALUES ('s1');
   INSERT INTO utterances(id, session_id, role, source_path, source_sha256, source_rate,
     source_channels, duration, audio)
   VALUES ('u1', 's1', 'customer', 'x', '-', 16000, 1, 1.0,
           readfile('tests/fixtures/audio/tone220_16k.flac'))" >/dev/null

# bf16 runs on oneDNN's bf16 matmul: native on AMX or AVX512-BF16, emulated
# on the other AVX-512 CPUs. A CPU with neither (AVX2 only) has none: bf16 is
# refused there, naming the shape, by registration, `clap embed` and the SQL
# functions alike, and only that refusal, auto (f32) and the usage errors
# are checked.
if ! "$CLAP" encoder add "$db" --name probe --kind hubert --path tests/fixtures/hubert/f32 \
     --precision bf16 >"$T/probe" 2>&1; then
  echo "no bf16 matmul on this CPU ($(q "SELECT clap_debug()" | grep oneDNN)): checking the refusals"
  check_output_contains "encoder add --precision bf16 is refused, naming the shape" \
    "oneDNN has no bf16 matmul for" cat "$T/probe"
  check "register f32" "$CLAP" encoder add "$db" --name hb --kind hubert --path tests/fixtures/hubert/f32
  check_output_contains "embed --precision bf16 too" "encoder 'hb': oneDNN has no bf16 matmul for" \
    "$CLAP" embed "$db" --encoder hb --precision bf16
  check_equal "  writing nothing" "$(q "SELECT count(*) FROM features")" 0
  check_output_contains "and the SQL functions under clap_precision('bf16')" \
    "clap_encode_audio(): encoder 'hb': oneDNN has no bf16 matmul for" \
    q "SELECT clap_precision('bf16'); SELECT clap_encode_audio(audio, 'hb') FROM utterances"
  check_output_contains "auto registers f32" "hb: hubert, 32 dims, f32" "$CLAP" encoder add "$db" \
    --name hb --kind hubert --path tests/fixtures/hubert/f32 --precision auto --replace
  check_output_contains "embed --precision auto computes f32" "1 audio vectors (hb)" \
    "$CLAP" embed "$db" --encoder hb --precision auto
  check_equal "  under the f32 identity" \
    "$(q "SELECT encoder_id = (SELECT json_extract(config, '\$.identity') FROM clap_encoders WHERE name='hb') FROM features WHERE encoder='hb'")" 1
  check_equal "clap_precision('auto') is f32" "$(q "SELECT clap_precision('auto'); SELECT clap_precision()")" "registered
f32"
  usage_errors
  finish
fi
q "DELETE FROM clap_encoders WHERE name = 'probe'" >/dev/null

check_output_contains "f32 registration says f32" "hb32: hubert, 32 dims, f32" \
  "$CLAP" encoder add "$db" --name hb32 --kind hubert --path tests/fixtures/hubert/f32
check_output_contains "bf16 registration says bf16" "hb16: hubert, 32 dims, bf16" \
  "$CLAP" encoder add "$db" --name hb16 --kind hubert --path tests/fixtures/hubert/f32 --precision bf16
check "auto registration" "$CLAP" encoder add "$db" --name hbauto --kind hubert \
  --path tests/fixtures/hubert/f32 --precision auto
check "distilbert in bf16" "$CLAP" encoder add "$db" --name dt16 --kind distilbert \
  --path tests/fixtures/distilbert --precision bf16
check_equal "precisions recorded" \
  "$(q "SELECT group_concat(json_extract(config, '\$.precision'), ' ') FROM clap_encoders WHERE name IN ('hb16', 'hb32') ORDER BY name")" \
  "bf16 f32"
auto=$(q "SELECT json_extract(config, '\$.precision') FROM clap_encoders WHERE name='hbauto'")
check_equal "auto chose f32 or bf16" "$(case $auto in f32|bf16) echo ok ;; *) echo "$auto" ;; esac)" ok
check_output_contains "list shows the precision" "bf16" "$CLAP" encoder list "$db"

# Same files, different precision: different identities (the fold of
# hfckpt_recorded_identity), same files digest.
id32=$(q "SELECT json_extract(config, '\$.identity') FROM clap_encoders WHERE name='hb32'")
folded=$(printf '%s bf16' "$id32" | sha256sum | cut -c1-64)
check_output_contains "bf16 identity is sha256('ID bf16') in the list" "${folded:0:12}" \
  "$CLAP" encoder list "$db"

check_equal "SQL: bf16 within cosine 0.999 of f32, and not identical" \
  "$(q "SELECT cosine(clap_encode_audio(audio, 'hb16'), clap_encode_audio(audio, 'hb32')) >= 0.999,
            clap_encode_audio(audio, 'hb16') != clap_encode_audio(audio, 'hb32') FROM utterances")" "1|1"
check "distilbert in f32" "$CLAP" encoder add "$db" --name dt32 --kind distilbert \
  --path tests/fixtures/distilbert
check_equal "SQL text: bf16 within cosine 0.999 of f32" \
  "$(q "SELECT cosine(clap_encode_text('私は欲しいです', 'dt16'), clap_encode_text('私は欲しいです', 'dt32')) >= 0.999")" 1

check "embed both" "$CLAP" embed "$db" --encoder hb32 --text-encoder ngram
check "embed bf16" "$CLAP" embed "$db" --encoder hb16 --text-encoder ngram
check_equal "cached vectors equal the SQL functions at their precision" \
  "$(q "SELECT f.vec = clap_encode_audio(u.audio, f.encoder) FROM features f JOIN utterances u ON u.id = f.key WHERE f.encoder IN ('hb16', 'hb32') ORDER BY f.encoder")" "1
1"
# A registration switched to the other precision (by hand, files unchanged)
# makes its cached vector stale: the identity it was recorded under differs.
q "UPDATE clap_encoders SET config = json_set(config, '\$.precision', 'bf16') WHERE name = 'hb32'" >/dev/null
check_output_contains "switched precision: the vector is stale and recomputed" "1 audio" \
  "$CLAP" embed "$db" --encoder hb32 --text-encoder ngram
check_equal "recomputed at bf16" \
  "$(q "SELECT f.vec = (SELECT vec FROM features WHERE encoder = 'hb16' AND key = 'u1') FROM features f WHERE encoder = 'hb32'")" "1"


# ---- the override of one run, on a corpus
DB="$T/c.db"
qc() { "$SQLITE3" -cmd ".timeout 5000" "$DB" ".load $BUILD/clap0" "$@" 2>&1; }
tone_corpus "$T/corpus"
check "corpus init" "$CLAP" init "$DB"
check "corpus ingest" "$CLAP" ingest "$DB" "$T"/corpus/t1.json "$T"/corpus/t2.json "$T"/corpus/t3.json
tone_labels "$DB"
check "register hubert (f32)" "$CLAP" encoder add "$DB" --name hb --kind hubert --path tests/fixtures/hubert/f32
check "register distilbert (f32)" "$CLAP" encoder add "$DB" --name dt --kind distilbert \
  --path tests/fixtures/distilbert
id32=$(qc "SELECT json_extract(config, '\$.identity') FROM clap_encoders WHERE name='hb'")
id16=$(printf '%s bf16' "$id32" | sha256sum | cut -c1-64)
tid32=$(qc "SELECT json_extract(config, '\$.identity') FROM clap_encoders WHERE name='dt'")
tid16=$(printf '%s bf16' "$tid32" | sha256sum | cut -c1-64)
ids() { qc "SELECT group_concat(DISTINCT encoder_id) FROM features WHERE encoder='$1'"; }
E=(--encoder hb --text-encoder dt)
T2=(--epochs 2 --dim 8)

check_output_contains "embed at the registered f32" "24 audio vectors (hb), 18 text vectors (dt) added" \
  "$CLAP" embed "$DB" "${E[@]}"
check_equal "f32 vectors under the f32 identity" "$(ids hb) $(ids dt)" "$id32 $tid32"
check_output_contains "--precision bf16: every f32 vector is stale and recomputed" \
  "0 audio vectors (hb), 0 text vectors (dt) added; 24 audio, 18 text stale vectors recomputed" \
  "$CLAP" embed "$DB" "${E[@]}" --precision bf16
check_equal "bf16 vectors under the bf16 identity" "$(ids hb) $(ids dt)" "$id16 $tid16"
check_output_contains "a re-run at bf16 adds nothing" "0 audio vectors (hb), 0 text vectors (dt) added; 0 audio, 0 text" \
  "$CLAP" embed "$DB" "${E[@]}" --precision bf16
check_output_contains "--refuse-stale at the registered precision counts the bf16 vectors" \
  "24 cached audio vectors of encoder 'hb' are stale" \
  "$CLAP" embed "$DB" "${E[@]}" --refuse-stale
check_equal "the cached bf16 vectors are the SQL functions' under clap_precision('bf16')" \
  "$(qc "SELECT clap_precision('bf16');
         SELECT count(*), sum(f.vec = clap_encode_audio(u.audio, 'hb')) FROM utterances u
           JOIN features f ON f.encoder='hb' AND f.key=u.id;
         SELECT count(*) FROM (SELECT DISTINCT text FROM descriptions) d WHERE EXISTS
           (SELECT 1 FROM features f WHERE f.encoder='dt' AND f.vec = clap_encode_text(d.text, 'dt'))")" \
  "registered
24|24
18"
check_equal "and not the f32 ones" \
  "$(qc "SELECT sum(f.vec = clap_encode_audio(u.audio, 'hb')) FROM utterances u
           JOIN features f ON f.encoder='hb' AND f.key=u.id")" "0"

# Training reads the vectors of the precision it is told.
check_output_contains "train at the registered f32 refuses the bf16 vectors, saying which they are" \
  "they are its bf16 vectors: pass --precision bf16 to use them" \
  "$CLAP" train "$DB" --name m32 "${E[@]}" "${T2[@]}"
check "train --precision bf16" "$CLAP" train "$DB" --name m16 "${E[@]}" "${T2[@]}" --precision bf16
check "baseline --precision bf16" "$CLAP" baseline "$DB" --name b16 --encoder hb "${T2[@]}" --precision bf16
meta() { "$CLAP" model show "$DB" "$1" | /usr/bin/python3 -c 'import json,sys; e=json.load(sys.stdin)["metadata"]["encoders"]; print(" ".join(e[s].get(k, "-") for s in ("audio", "text") for k in ("precision", "identity")))'; }
check_equal "the model records bf16 and the bf16 identities" "$(meta m16)" "bf16 $id16 bf16 $tid16"
check_equal "so does the baseline (no text side)" "$(meta b16)" "bf16 $id16 - -"
check_output_contains "eval at the registered f32 refuses them too" "stale hb audio features" \
  "$CLAP" eval "$DB" "${E[@]}" "${T2[@]}" --folds t1 --random-runs 2
check_output_contains "eval --precision bf16 runs" "fold t1:" \
  "$CLAP" eval "$DB" "${E[@]}" "${T2[@]}" --folds t1 --random-runs 2 --precision bf16
check_equal "its fold models record bf16" \
  "$(for m in fold-t1-none fold-t1-para fold-t1-base; do meta $m | cut -d' ' -f1; done | tr '\n' ' ')" "bf16 bf16 bf16 "
check_equal "its settings key records the precision" \
  "$(qc "SELECT DISTINCT json_extract(json_extract(details, '\$.config_key'), '\$.precision') FROM evaluations WHERE fold='t1'")" "bf16"

# The SQL functions run a model at the precision it was trained on.
A="(SELECT audio FROM utterances WHERE id='t1-u1')"
check_equal "one connection: f32, bf16, f32 again (an encoder per row and precision)" \
  "$(qc "CREATE TEMP TABLE a AS SELECT clap_encode_audio($A, 'hb') v;
         SELECT clap_precision('bf16'); SELECT v != clap_encode_audio($A, 'hb') FROM a;
         SELECT clap_precision(NULL); SELECT v = clap_encode_audio($A, 'hb') FROM a")" "registered
1
bf16
1"
check_equal "a bf16 model runs at bf16 under the registered setting, as under clap_precision('bf16')" \
  "$(qc "CREATE TEMP TABLE r AS SELECT clap_embed_audio($A, 'm16') v, clap_embed_text('yes', 'm16') t;
         SELECT clap_precision('bf16');
         SELECT v = clap_embed_audio($A, 'm16'), t = clap_embed_text('yes', 'm16') FROM r")" "registered
1|1"
check_equal "a model's embedding is the same on every call, of its dim" \
  "$(qc "SELECT clap_embed_audio($A, 'm16') = clap_embed_audio($A, 'm16'),
                length(clap_embed_audio($A, 'm16')) / 4")" "1|8"
check_output_contains "an explicit other precision is refused, naming both and the ways out" \
  "clap_embed_audio(): model 'm16' was trained on bf16 features of encoder 'hb', but this connection encodes at f32 (clap_precision()); call clap_precision(NULL)" \
  qc "SELECT clap_precision('f32'); SELECT clap_embed_audio($A, 'm16')"
check_output_contains "zero-shot too (the text side)" "model 'm16' was trained on bf16 features of encoder 'dt'" \
  qc "CREATE TEMP TABLE e AS SELECT clap_embed_audio($A, 'm16') v; SELECT clap_precision('f32');
      SELECT clap_zero_shot(v, 'no', 'yes', 'm16') FROM e"
check_equal "back to 'registered' it runs" \
  "$(qc "SELECT clap_precision('f32'); SELECT clap_precision(NULL);
         SELECT clap_zero_shot(clap_embed_audio($A, 'm16'), 'no', 'yes', 'm16') BETWEEN 0 AND 1")" "registered
f32
1"

# Back to f32: recomputed, and an f32 model is refused at bf16.
check_output_contains "embed at the registered f32 recomputes the bf16 vectors" "24 audio, 18 text stale vectors recomputed" \
  "$CLAP" embed "$DB" "${E[@]}"
check "train at f32" "$CLAP" train "$DB" --name m32 "${E[@]}" "${T2[@]}"
check_equal "the f32 model records f32" "$(meta m32)" "f32 $id32 f32 $tid32"
check_output_contains "an f32 model under clap_precision('bf16') is refused" \
  "model 'm32' was trained on f32 features of encoder 'hb', but this connection encodes at bf16" \
  qc "SELECT clap_precision('bf16'); SELECT clap_embed_audio($A, 'm32')"
check_output_contains "train --precision bf16 refuses the f32 vectors cached now" \
  "stale hb audio features" "$CLAP" train "$DB" --name again "${E[@]}" "${T2[@]}" --precision bf16
check "model create records the registered precision" "$CLAP" model create "$DB" --name mc \
  --audio-encoder hb --text-encoder dt --dim 8
check_equal "  f32 for both" "$(meta mc | cut -d' ' -f1,3)" "f32 f32"

# auto: bf16 where the CPU has AMX or AVX512-BF16, else f32.
native=$(qc "SELECT instr(clap_debug(), 'bf16 hardware yes') > 0")
auto_id=$([ "$native" = 1 ] && echo "$id16" || echo "$id32")
check "embed --precision auto" "$CLAP" embed "$DB" "${E[@]}" --precision auto
check_equal "auto computed at the CPU's choice" "$(ids hb)" "$auto_id"

# A shard embedded at bf16 merges as bf16 vectors (stale for f32 readers).
check "embed f32 again" "$CLAP" embed "$DB" "${E[@]}" --precision f32
check "a shard at bf16" "$CLAP" embed "$DB" "${E[@]}" --precision bf16 --shard 1/1 --out "$T/s.db"
check_equal "the shard records the bf16 identity" \
  "$("$SQLITE3" "$T/s.db" "SELECT audio_encoder_id FROM clap_shard")" "$id16"
check_output_contains "merge takes it, replacing the f32 rows" "0 new, 0 already present, 42 stale replaced" \
  "$CLAP" merge "$DB" "$T/s.db"
check_equal "merged rows carry the bf16 identity" "$(ids hb)" "$id16"
check "so training at bf16 reads them" "$CLAP" train "$DB" --name m16b "${E[@]}" "${T2[@]}" --precision bf16

usage_errors
finish
