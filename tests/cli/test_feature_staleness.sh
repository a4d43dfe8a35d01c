#!/usr/bin/env bash
# The feature cache knows which encoder computed each vector: `encoder add
# --replace` with other weights makes exactly the cached rows of that name
# stale, `clap embed` recomputes them (or refuses with --refuse-stale) and
# says how many; a checkpoint's identity covers every file the encoder reads
# (a changed spiece.model is refused by the binding and by embed, naming the
# file); a version-2 database migrates to 3 and keeps its rows, its cached
# vectors (no identity) counting as stale.
. "$(dirname "$0")/lib.sh"
export OPENBLAS_NUM_THREADS=1
db="$T/s.db"
cp -r tests/fixtures/hubert/f32 "$T/hb"
mkdir "$T/dt"
cp tests/fixtures/distilbert/{config.json,model.safetensors,spiece.model,tokenizer_config.json} "$T/dt"
q() { "$SQLITE3" -cmd ".timeout 5000" "$@" 2>&1; }
sql() { "$SQLITE3" "$db" ".load $BUILD/clap0" "$@" 2>&1; }
# utterance rows straight from fixture files (the decoder takes any format)
add_utt() { # db id file
  q "$1" "INSERT OR IGNORE INTO sessions(id) VALUES ('s1');
    INSERT INTO utterances(id, session_id, role, source_path, source_sha256, source_rate,
      source_channels, duration, audio)
    VALUES ('$2', 's1', 'customer', '$3', '-', 16000, 1, 1.0, readfile('$3'))"
}
vec() { q "$db" "SELECT hex(vec) FROM features WHERE encoder='$1' AND key='$2'"; }

check "init" "$CLAP" init "$db"
add_utt "$db" u1 tests/fixtures/audio/tone220_16k.flac
add_utt "$db" u2 tests/fixtures/audio/tone220_44k_stereo.wav
add_utt "$db" u3 tests/fixtures/audio/tone220.ogg
check_output_contains "add hubert reports its identity" "identity" \
  "$CLAP" encoder add "$db" --name hb --kind hubert --path "$T/hb"
check "add distilbert" "$CLAP" encoder add "$db" --name dt --kind distilbert --path "$T/dt"
ntext=$(q "$db" "SELECT count(DISTINCT text) FROM descriptions")

# The identity is sha256sum's listing of the files, sorted by name, hashed.
id_hb=$(cd "$T/hb" && sha256sum config.json model.safetensors preprocessor_config.json | sha256sum | cut -c1-64)
id_dt=$(cd "$T/dt" && sha256sum config.json model.safetensors spiece.model tokenizer_config.json | sha256sum | cut -c1-64)
check_equal "hubert identity covers its three files" \
  "$(q "$db" "SELECT json_extract(config, '\$.identity') || ' ' || (SELECT count(*) FROM json_each(config, '\$.files')) FROM clap_encoders WHERE name='hb'")" "$id_hb 3"
check_equal "distilbert identity covers its four files (not reference.json)" \
  "$(q "$db" "SELECT json_extract(config, '\$.identity') || ' ' || (SELECT count(*) FROM json_each(config, '\$.files')) FROM clap_encoders WHERE name='dt'")" "$id_dt 4"
check_equal "sha256 stays the weights' digest" \
  "$(q "$db" "SELECT sha256 FROM clap_encoders WHERE name='hb'")" "$(sha256sum "$T/hb/model.safetensors" | cut -c1-64)"
check_output_contains "encoder list shows the identity" "${id_hb:0:12}" "$CLAP" encoder list "$db"

check_output_contains "first embed adds everything" \
  "embed: 3 audio vectors (hb), $ntext text vectors (dt) added; 0 audio, 0 text stale vectors recomputed" \
  "$CLAP" embed "$db" --encoder hb --text-encoder dt --workers 2
# --threads sets the threads inside one encode call (with --workers, how many
# utterances at once). Neither text nor audio vectors change with it: ext/nn/gemm
# computes each output as one FMA chain, and nn_threads hands HuBERT's work to
# threads as single-threaded pieces (ext/nn/nn.h).
for w in "--threads 1 --workers 1" "--threads 2 --workers 1" "--threads 2"; do
  f="$T/th-${w// /_}.db"
  cp "$db" "$f"
  q "$f" "DELETE FROM features"
  check "embed $w" "$CLAP" embed "$f" --encoder hb --text-encoder dt $w
done
t1="$T/th---threads_1_--workers_1.db"
text_vecs() { q "$1" "SELECT key, hex(vec) FROM features WHERE encoder='dt' ORDER BY key" | sha256sum; }
audio_vecs() { q "$1" "SELECT key, hex(vec) FROM features WHERE encoder='hb' ORDER BY key" | sha256sum; }
for f in "$T/th---threads_2_--workers_1.db" "$T/th---threads_2.db" "$db"; do
  check_equal "text vectors identical: ${f##*/}" "$(text_vecs "$f")" "$(text_vecs "$t1")"
  check_equal "audio vectors identical: ${f##*/}" "$(audio_vecs "$f")" "$(audio_vecs "$t1")"
done
check_output_contains "--threads 0 refused, naming its range" "--threads: expected an integer from 1 to 256, got '0'" \
  "$CLAP" embed "$T/th---threads_2.db" --threads 0
check_equal "every row records the identity that computed it" \
  "$(q "$db" "SELECT group_concat(DISTINCT encoder_id) FROM features WHERE encoder='hb'") $(q "$db" "SELECT group_concat(DISTINCT encoder_id) FROM features WHERE encoder='dt'")" \
  "$id_hb $id_dt"
check_output_contains "a re-run does nothing" \
  "0 audio vectors (hb), 0 text vectors (dt) added; 0 audio, 0 text stale" \
  "$CLAP" embed "$db" --encoder hb --text-encoder dt
check_output_contains "built-in embed" "3 audio vectors (acoustic), $ntext text vectors (ngram) added" \
  "$CLAP" embed "$db"
check_equal "built-in identity" \
  "$(q "$db" "SELECT group_concat(DISTINCT encoder_id) FROM features WHERE encoder='acoustic'")" \
  "builtin:acoustic:clap-$(sql "SELECT clap_version()")"

# Other weights registered under the same name; one new utterance.
old_u1=$(vec hb u1)
old_dt=$(q "$db" "SELECT group_concat(hex(vec)) FROM features WHERE encoder='dt'")
cp tests/fixtures/hubert/f16/model.safetensors "$T/hb/model.safetensors"
check "re-add hb with new weights" "$CLAP" encoder add "$db" --name hb --kind hubert --path "$T/hb" --replace
add_utt "$db" u4 tests/fixtures/audio/tone220_16k.flac
check_output_contains "--refuse-stale names the count" \
  "3 cached audio vectors of encoder 'hb' are stale" \
  "$CLAP" embed "$db" --encoder hb --text-encoder dt --refuse-stale
check_fails "--refuse-stale exits non-zero" "$CLAP" embed "$db" --encoder hb --text-encoder dt --refuse-stale
check_equal "--refuse-stale wrote nothing" "$(vec hb u1) $(q "$db" "SELECT count(*) FROM features WHERE encoder='hb'")" "$old_u1 3"
check_output_contains "embed recomputes exactly the stale rows" \
  "embed: 1 audio vectors (hb), 0 text vectors (dt) added; 3 audio, 0 text stale vectors recomputed" \
  "$CLAP" embed "$db" --encoder hb --text-encoder dt
new_u1=$(vec hb u1)
check "the recomputed vector changed" test "$new_u1" != "$old_u1" -a -n "$new_u1"
check_equal "it is what the SQL function computes now" \
  "$(sql "SELECT hex(clap_encode_audio(readfile('tests/fixtures/audio/tone220_16k.flac'), 'hb'))")" "$new_u1"
check_equal "the text encoder's rows were left alone" \
  "$(q "$db" "SELECT group_concat(hex(vec)) FROM features WHERE encoder='dt'")" "$old_dt"
check_output_contains "then nothing is stale" "0 audio, 0 text stale vectors recomputed" \
  "$CLAP" embed "$db" --encoder hb --text-encoder dt

# Only spiece.model changes: refused by the binding and by embed, naming it.
cp "$T/dt/spiece.model" "$T/spiece.orig"
printf 'x' >> "$T/dt/spiece.model"
check_output_contains "binding refuses a changed spiece.model" \
  "$T/dt/spiece.model changed since \`clap encoder add\`" \
  sql "SELECT clap_encode_text('私は欲しいです', 'dt')"
check_output_contains "embed refuses a changed spiece.model" "spiece.model changed since" \
  "$CLAP" embed "$db" --encoder hb --text-encoder dt
check_fails "embed exits non-zero" "$CLAP" embed "$db" --encoder hb --text-encoder dt
cp "$T/spiece.orig" "$T/dt/spiece.model"
check "restored, it runs again" "$CLAP" embed "$db" --encoder hb --text-encoder dt
# A file the encoder would read that was not there at `encoder add`.
echo '{"do_lower_case": false}' > "$T/hb/tokenizer_config.json"
check_output_contains "a file that appeared is refused" "$T/hb/tokenizer_config.json appeared since" \
  sql "SELECT clap_encode_audio(readfile('tests/fixtures/audio/tone220_16k.flac'), 'hb')"
rm "$T/hb/tokenizer_config.json"
rm "$T/hb/preprocessor_config.json"
check_output_contains "a recorded file that is gone is refused" "preprocessor_config.json, recorded by \`clap encoder add\`, is gone" \
  "$CLAP" embed "$db" --encoder hb --text-encoder dt
cp tests/fixtures/hubert/f32/preprocessor_config.json "$T/hb/"
# Re-added with only tokenizer_config.json changed: the weights digest is the
# same, the identity is not, so every text row of dt is stale, and a model
# made before refuses the encoder.
check "a model on dt" "$CLAP" model create "$db" --name m1 --audio-encoder hb --text-encoder dt --dim 8
check_equal "the model records dt's weights and files identity" \
  "$(q "$db" "SELECT json_extract(config, '\$.metadata.encoders.text.sha256') || ' ' || json_extract(config, '\$.metadata.encoders.text.identity') FROM clap_models WHERE name='m1'")" \
  "$(sha256sum "$T/dt/model.safetensors" | cut -c1-64) $id_dt"
check_equal "and it runs" "$(sql "SELECT length(clap_embed_text('私は欲しいです', 'm1')) / 4")" "8"
sed 's/"do_lower_case": true/"do_lower_case": false/' tests/fixtures/distilbert/tokenizer_config.json > "$T/dt/tokenizer_config.json"
check "re-add dt with another tokenizer config" "$CLAP" encoder add "$db" --name dt --kind distilbert --path "$T/dt" --replace
check_output_contains "only the text rows are stale" \
  "0 audio vectors (hb), 0 text vectors (dt) added; 0 audio, $ntext text stale vectors recomputed" \
  "$CLAP" embed "$db" --encoder hb --text-encoder dt
check_output_contains "the model made before refuses the re-registered encoder" \
  "model 'm1' was trained on encoder 'dt' with files identity ${id_dt:0:12}" \
  sql "SELECT clap_embed_text('私は欲しいです', 'm1')"

# A version-2 database (the schema before this change) with rows in it.
v2="$T/v2.db"
q "$v2" ".read tests/fixtures/schema_v2.sql"
add_utt "$v2" u1 tests/fixtures/audio/tone220_16k.flac
add_utt "$v2" u2 tests/fixtures/audio/tone220.ogg
q "$v2" "INSERT INTO features(encoder, modality, key, dim, vec) VALUES ('acoustic', 'audio', 'u1', 1, zeroblob(4));
  INSERT INTO llm_cache(key, endpoint, model, request, response) VALUES ('k', 'e', 'm', '{}', '{}');
  INSERT INTO clap_encoders(name, kind, path, sha256, dim, config) VALUES
    ('old', 'hubert', '$T/hb', '$(sha256sum "$T/hb/model.safetensors" | cut -c1-64)', 32, '{\"weights\":\"model.safetensors\"}');"
check_equal "the fixture is at version 2" "$(q "$v2" "PRAGMA user_version")" "2"
check_output_contains "embed on a v2 database: the old row is stale, the rest new" \
  "embed: 1 audio vectors (acoustic), $ntext text vectors (ngram) added; 1 audio, 0 text stale vectors recomputed" \
  "$CLAP" embed "$v2"
check_equal "migrated to 4, rows kept, their utterances mixed" \
  "$(q "$v2" "SELECT (SELECT user_version FROM pragma_user_version), (SELECT count(*) FROM utterances WHERE channel IS NULL), (SELECT count(*) FROM llm_cache), (SELECT count(*) FROM clap_encoders), (SELECT count(*) FROM features WHERE encoder='acoustic' AND modality='audio' AND dim > 1)")" \
  "4|2|1|1|2"
# An encoder row from before (weights sha256 only): it still works, verified
# by its weights, and its cache identity is the weights' digest.
check_output_contains "an old encoder row embeds" "2 audio vectors (old)" \
  "$CLAP" embed "$v2" --encoder old
check "a model on the old row" "$CLAP" model create "$v2" --name mo --audio-encoder old --dim 8
check_equal "records its weights, no files identity" \
  "$(q "$v2" "SELECT json_extract(config, '\$.metadata.encoders.audio.sha256') || ' ' || quote(json_extract(config, '\$.metadata.encoders.audio.identity')) FROM clap_models WHERE name='mo'")" \
  "$(sha256sum "$T/hb/model.safetensors" | cut -c1-64) NULL"
check_equal "its rows record the weights digest" \
  "$(q "$v2" "SELECT group_concat(DISTINCT encoder_id) FROM features WHERE encoder='old'")" \
  "$(sha256sum "$T/hb/model.safetensors" | cut -c1-64)"
cp tests/fixtures/hubert/f32/model.safetensors "$T/hb/model.safetensors"
check_output_contains "an old row still refuses other weights" "weights $T/hb/model.safetensors changed since" \
  "$CLAP" embed "$v2" --encoder old
finish
