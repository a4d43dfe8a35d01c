#!/usr/bin/env bash
# clap model create/list/show/export/import/delete end to end on a temp database.
. "$(dirname "$0")/lib.sh"
db="$T/m.db"
check "create default" "$CLAP" model create --create "$db" --name default --audio-encoder acoustic \
  --text-encoder ngram --dim 512 --seed 1
check_output_contains "create names dims" "acoustic (50) + ngram (1024) -> 64" \
  "$CLAP" model create --create "$db" --name small --dim 64 --seed 2
check_output_contains "existing name refused" "a model named 'default' exists (use --replace)" \
  "$CLAP" model create --create "$db" --name default --seed 9
check "replace allowed" "$CLAP" model create --create "$db" --name mlp --head mlp --hidden 32 --dim 16 --seed 3
check_output_contains "list shows both" "small" "$CLAP" model list "$db"
check_equal "list rows" "$("$CLAP" model list "$db" | tail -n +2 | awk '{print $1}' | tr '\n' ' ')" "default mlp small "
show=$("$CLAP" model show "$db" mlp)
check_equal "show is JSON with the name" "$(printf '%s' "$show" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["name"], d["config"]["head"], d["config"]["dim"])')" "mlp mlp 16"
check "show validates against the model card schema" /usr/bin/python3 -c '
import json, sys, jsonschema
card = json.loads(sys.argv[1]); schema = json.load(open("schemas/model_card.schema.json"))
jsonschema.Draft202012Validator(schema).validate(card)' "$show"

# Same seed, same bytes; different seed, different bytes.
"$CLAP" model create --create "$T/a.db" --name x --dim 8 --seed 5 >/dev/null
"$CLAP" model create --create "$T/b.db" --name x --dim 8 --seed 5 >/dev/null
"$CLAP" model create --create "$T/c.db" --name x --dim 8 --seed 6 >/dev/null
"$CLAP" model export "$T/a.db" x "$T/a.bin" >/dev/null
"$CLAP" model export "$T/b.db" x "$T/b.bin" >/dev/null
"$CLAP" model export "$T/c.db" x "$T/c.bin" >/dev/null
check "seeded create is deterministic" cmp -s "$T/a.bin" "$T/b.bin"
check_fails "another seed differs" cmp -s "$T/a.bin" "$T/c.bin"

# Export/import round trip is bitwise.
check "export" "$CLAP" model export "$db" small "$T/small.bin"
"$SQLITE3" "$db" "select writefile('$T/raw.bin', model) from clap_models where name='small'" >/dev/null
check "export equals the stored blob" cmp -s "$T/small.bin" "$T/raw.bin"
check "import under a new name" "$CLAP" model import --create "$db" copy "$T/small.bin"
"$CLAP" model export "$db" copy "$T/copy.bin" >/dev/null
check "import round trip bitwise" cmp -s "$T/small.bin" "$T/copy.bin"
check_output_contains "import refuses existing name" "exists (use --replace)" "$CLAP" model import --create "$db" copy "$T/small.bin"
check "import --replace" "$CLAP" model import --create "$db" copy "$T/small.bin" --replace

# Bad blobs are refused before anything is written.
before=$("$SQLITE3" "$db" .dump)
head -c 200 "$T/small.bin" > "$T/trunc.bin"
check_output_contains "truncated blob refused, file named" "trunc.bin" "$CLAP" model import --create "$db" t "$T/trunc.bin"
printf 'not a model at all' > "$T/junk.bin"
check_output_contains "junk refused" "junk.bin" "$CLAP" model import --create "$db" j "$T/junk.bin"
check_output_contains "missing file" "cannot open" "$CLAP" model import --create "$db" j "$T/nope.bin"
check_equal "database unchanged by refused imports" "$("$SQLITE3" "$db" .dump)" "$before"

# Errors name what is wrong.
check_output_contains "unknown encoder" "unknown encoder 'nope'" "$CLAP" model create --create "$db" --name e --audio-encoder nope
check_output_contains "text encoder as audio" "encodes text, not audio" "$CLAP" model create --create "$db" --name e --audio-encoder ngram
check_output_contains "bad dim" "--dim: expected an integer from 1 to 16384, got '0'" "$CLAP" model create --create "$db" --name e --dim 0
check_output_contains "bad head" "--head: expected linear or mlp" "$CLAP" model create --create "$db" --name e --head cnn
check_output_contains "create needs a name" "create needs --name" "$CLAP" model create --create "$db"
check_output_contains "show unknown" "no model named 'zzz'" "$CLAP" model show "$db" zzz
check_output_contains "missing database" "no such database" "$CLAP" model list "$T/none.db"
check "delete" "$CLAP" model delete "$db" copy
check_output_contains "delete twice" "no model named 'copy'" "$CLAP" model delete "$db" copy

# The extension finds what the CLI made.
v=$("$SQLITE3" "$db" ".load $BUILD/clap0" "select length(clap_embed_text('私は欲しいです', 'small'))")
check_equal "extension uses the stored model" "$v" "256"
finish
