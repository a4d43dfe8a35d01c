#!/usr/bin/env bash
# Checkpoint encoders through SQL, and the promise that a model trained on one
# encoder's weights refuses to run on a different file.
. "$(dirname "$0")/lib.sh"
db="$T/e.db"
cp -r tests/fixtures/hubert/f32 "$T/hb"
cp -r tests/fixtures/distilbert "$T/db"
wav=tests/fixtures/audio/tone220_16k.flac
sql() { "$SQLITE3" "$db" ".load $BUILD/clap0" "$@" 2>&1; }

check "add hubert" "$CLAP" encoder add --create "$db" --name hb --kind hubert --path "$T/hb"
check "add distilbert" "$CLAP" encoder add --create "$db" --name dt --kind distilbert --path "$T/db"
check_equal "hubert features through SQL" "$(sql "select length(clap_encode_audio(readfile('$wav'), 'hb')) / 4")" "32"
check_equal "distilbert features through SQL" "$(sql "select length(clap_encode_text('私は欲しいです', 'dt')) / 4")" "32"
check "model on both" "$CLAP" model create --create "$db" --name paper --audio-encoder hb --text-encoder dt --dim 16
sha=$(sha256sum "$T/hb/model.safetensors" | cut -c1-64)
check_equal "model records the audio weights' sha256" \
  "$(sql "select json_extract(config, '\$.metadata.encoders.audio.sha256') from clap_models where name = 'paper'")" "$sha"
check_equal "zero-shot through the paper's encoders" \
  "$(sql "select clap_zero_shot(clap_embed_audio(readfile('$wav'), 'paper'), '私は欲しくないです', '私は欲しいです', 'paper') between 0 and 1")" "1"

# clap embed resolves and verifies the same way (the weights name is relative
# to the checkpoint directory, not to the working directory).
check "embed with checkpoint encoders" "$CLAP" embed "$db" --encoder hb --text-encoder dt
check_equal "descriptions embedded by distilbert" \
  "$(sql "select count(*) > 0, min(dim) from features where encoder = 'dt'")" "1|32"

# Other weights under the same path: the encoder refuses before the model does.
cp tests/fixtures/hubert/f16/model.safetensors "$T/hb/model.safetensors"
check_output_contains "changed weights refused" "changed since \`clap encoder add\`" \
  sql "select clap_embed_audio(readfile('$wav'), 'paper')"
# Registered again: the encoder is fine, but the model was trained on the old file.
check "re-add the encoder" "$CLAP" encoder add --create "$db" --name hb --kind hubert --path "$T/hb" --replace
check_output_contains "model refuses other weights" "was trained on encoder 'hb' with weights sha256 ${sha:0:12}" \
  sql "select clap_embed_audio(readfile('$wav'), 'paper')"
check_equal "a model made now runs" "$("$CLAP" model create --create "$db" --name paper2 --audio-encoder hb --text-encoder dt --dim 16 >/dev/null;
  sql "select length(clap_embed_audio(readfile('$wav'), 'paper2')) / 4")" "16"
finish
