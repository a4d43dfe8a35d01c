#!/usr/bin/env bash
# Encoder precision (ext/nn/dense.h): `encoder add --precision` records f32
# or bf16 (auto chooses by the CPU and a timed encode), the precision is
# folded into the identity, so vectors of one precision are stale for the
# other; bf16 vectors stay within cosine 0.999 of f32 ones, in SQL and in
# `clap embed`; a bad value is a usage error.
. "$(dirname "$0")/lib.sh"
db="$T/p.db"
q() { "$SQLITE3" -cmd ".timeout 5000" "$db" ".load $BUILD/clap0" "$@" 2>&1; }
check "init" "$CLAP" init "$db"
q "INSERT INTO sessions(id) VALUES ('s1');
   INSERT INTO utterances(id, session_id, role, source_path, source_sha256, source_rate,
     source_channels, duration, audio)
   VALUES ('u1', 's1', 'customer', 'x', '-', 16000, 1, 1.0,
           readfile('tests/fixtures/audio/tone220_16k.flac'))" >/dev/null

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

"$CLAP" encoder add "$db" --name x --kind hubert --path tests/fixtures/hubert/f32 \
  --precision fp16 >/dev/null 2>&1
check_equal "bad precision is a usage error (exit 2)" "$?" 2
check_output_contains "its message" "--precision: expected f32, bf16 or auto, got 'fp16'" \
  "$CLAP" encoder add "$db" --name x --kind hubert --path tests/fixtures/hubert/f32 --precision fp16
finish
