#!/usr/bin/env bash
# The JSON Schemas in schemas/: each valid itself, the fixtures in
# tests/fixtures/schemas/ (valid and INVALID examples), every samples/ JSON,
# and the descriptions `clap init` seeds, exported in the descriptions-file
# form, all checked by tests/cli/validate_schemas.py. Its last line is the
# "N passed, N failed" count.
. "$(dirname "$0")/lib.sh"

"$CLAP" init "$T/seed.db" >/dev/null || { echo "clap init failed"; echo "0 passed, 1 failed"; exit 1; }
"$SQLITE3" "$T/seed.db" "
  SELECT json_object('descriptions', json_group_array(json(
           json_remove(json_object('dimension', dimension, 'pole', pole, 'text', text, 'gloss', gloss,
                                   'source', source, 'prohibited', prohibited, 'prompt_set', prompt_set,
                                   'status', status),
                       CASE WHEN prompt_set IS NULL THEN '\$.prompt_set' ELSE '\$.none' END))))
  FROM (SELECT * FROM descriptions ORDER BY id)" > "$T/seeds.json"

# Not exec: the EXIT trap must still remove $T.
/usr/bin/python3 tests/cli/validate_schemas.py "descriptions=$T/seeds.json"
