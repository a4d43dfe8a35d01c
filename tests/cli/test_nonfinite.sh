#!/usr/bin/env bash
# Non-finite numbers never reach a vector: `clap encoder add` scans the
# weights once and refuses a NaN or an infinity naming the tensor and the
# element; an encoder whose finite weights still overflow is an error naming
# the encoder and the input in the SQL functions and in `clap embed`, which
# caches nothing for it.
. "$(dirname "$0")/lib.sh"
export OPENBLAS_NUM_THREADS=1
PY=/usr/bin/python3
patch() { "$PY" tests/cli/patch_safetensors.py "$@"; }
q() { "$SQLITE3" -cmd ".timeout 5000" "$db" "$@" 2>&1; }
db="$T/a.db"
"$CLAP" init "$db" >/dev/null
t=encoder.layers.0.attention.q_proj.weight

cp -r tests/fixtures/hubert/f32 "$T/nan"
patch "$T/nan/model.safetensors" $t nan 3
check_output_contains "a NaN weight is refused, naming tensor and element" \
  "$T/nan/model.safetensors: tensor $t: element 3 is NaN" \
  "$CLAP" encoder add "$db" --name hb --kind hubert --path "$T/nan"
cp -r tests/fixtures/hubert/f32 "$T/inf"
patch "$T/inf/model.safetensors" masked_spec_embed -inf 31
check_output_contains "an infinite weight is refused" \
  "$T/inf/model.safetensors: tensor masked_spec_embed: element 31 is infinite" \
  "$CLAP" encoder add "$db" --name hb --kind hubert --path "$T/inf"
check_equal "nothing registered" "$(q 'SELECT count(*) FROM clap_encoders')" 0

# Finite weights whose output overflows (a bias of 3e38).
cp -r tests/fixtures/hubert/f32 "$T/big"
patch "$T/big/model.safetensors" feature_projection.projection.bias 3e38
check "finite weights are accepted" "$CLAP" encoder add "$db" --name big --kind hubert --path "$T/big"
msg="encoder 'big' computed a non-finite vector"
check_output_contains "clap_encode_audio names the encoder and the argument" "argument 1: $msg" \
  "$SQLITE3" "$db" ".load $BUILD/clap0" \
  "SELECT clap_encode_audio(readfile('tests/fixtures/audio/tone220_16k.flac'), 'big')"
q "INSERT INTO sessions(id) VALUES ('s1');
   INSERT INTO utterances(id, session_id, role, source_path, source_sha256, source_rate,
     source_channels, duration, audio)
   VALUES ('s1-u1', 's1', 'customer', 'a.flac', '-', 16000, 1, 1.0,
           readfile('tests/fixtures/audio/tone220_16k.flac'))" >/dev/null
check_output_contains "embed names the utterance and the encoder" "utterance 's1-u1': $msg" \
  "$CLAP" embed "$db" --encoder big
check_fails "embed exits non-zero" "$CLAP" embed "$db" --encoder big
check_equal "no vector cached for it" "$(q "SELECT count(*) FROM features WHERE encoder='big'")" 0
finish
