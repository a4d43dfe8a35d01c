#!/usr/bin/env bash
# clap convert-checkpoint and clap encoder add/list end to end on the tiny
# HuBERT fixtures (tests/fixtures/make_checkpoints.py).
. "$(dirname "$0")/lib.sh"
fx=tests/fixtures/hubert
check_output_contains "converts the .bin" "51 tensors" \
  "$CLAP" convert-checkpoint $fx/bin/pytorch_model.bin "$T/out.safetensors"
# The tensors equal, bit for bit, the safetensors written from the same state dict:
# compare every tensor's bytes with Python (no torch needed).
check "bit-identical tensors" /usr/bin/python3 - "$T/out.safetensors" $fx/f32/model.safetensors <<'PY'
import json, struct, sys
def load(p):
    b = open(p, "rb").read(); n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n])
    h.pop("__metadata__", None); d = b[8 + n:]
    return {k: (v["dtype"], v["shape"], d[v["data_offsets"][0]:v["data_offsets"][1]]) for k, v in h.items()}
a, b = load(sys.argv[1]), load(sys.argv[2])
sys.exit(0 if a == b and len(a) == 51 else 1)
PY
check_output_contains "refuses os.system" "pickle global os.system is not allowed" \
  "$CLAP" convert-checkpoint $fx/pickle_evil.bin "$T/evil.safetensors"
check_fails "no output on refusal" test -e "$T/evil.safetensors"
check_fails "no temp file left" test -e "$T/evil.safetensors.tmp"
check_output_contains "refuses compressed entries" "is compressed (method 8)" \
  "$CLAP" convert-checkpoint $fx/compressed.bin "$T/c.safetensors"
check_output_contains "usage" "no output file given" "$CLAP" convert-checkpoint onlyone

db="$T/e.db"
check_output_contains "encoder add" "encoder hb: hubert, 32 dims, f32, sha256" \
  "$CLAP" encoder add --create "$db" --name hb --kind hubert --path $fx/f32
check_output_contains "encoder add from .bin" "encoder hbbin: hubert, 32 dims" \
  "$CLAP" encoder add --create "$db" --name hbbin --kind hubert --path $fx/bin
check_output_contains "existing name refused" "an encoder named 'hb' exists (use --replace)" \
  "$CLAP" encoder add --create "$db" --name hb --kind hubert --path $fx/f16
check "replace" "$CLAP" encoder add --create "$db" --name hb --kind hubert --path $fx/f16 --replace
check_output_contains "built-in name refused" "'acoustic' is a built-in encoder name" \
  "$CLAP" encoder add --create "$db" --name acoustic --kind hubert --path $fx/f32
check_output_contains "broken checkpoint refused" "config.json" \
  "$CLAP" encoder add --create "$db" --name bad --kind hubert --path tests/fixtures
check_output_contains "unknown kind" "unknown encoder kind 'wav2vec'" \
  "$CLAP" encoder add --create "$db" --name w --kind wav2vec --path $fx/f32
sha=$(sha256sum $fx/f16/model.safetensors | cut -c1-64)
check_equal "sha256 of the weights file" "$("$SQLITE3" "$db" "SELECT sha256 FROM clap_encoders WHERE name='hb'")" "$sha"
check_equal "absolute path, dim" "$("$SQLITE3" "$db" "SELECT path, dim FROM clap_encoders WHERE name='hb'")" "$PWD/$fx/f16|32"
check_equal "config keeps config.json" "$("$SQLITE3" "$db" "SELECT json_extract(config, '\$.weights'), json_extract(config, '\$.model_config.hidden_size') FROM clap_encoders WHERE name='hbbin'")" "pytorch_model.bin|32"
check_equal "list" "$("$CLAP" encoder list "$db" | tail -n +2 | awk '{print $1, $2, $3}' | tr '\n' ';')" "hb hubert 32;hbbin hubert 32;"
check_output_contains "a model can use it" "hb (32)" \
  "$CLAP" model create --create "$db" --name m --audio-encoder hb --dim 8
finish
