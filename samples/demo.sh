#!/usr/bin/env bash
# make demo: the pipeline end to end on the bundled synthetic corpus, in a
# fresh temporary database. Exits non-zero if any step fails.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
clap="$BUILD/clap"
dir=$(mktemp -d "${TMPDIR:-/tmp}/clap-demo.XXXXXX")
db="$dir/demo.db"
step() { printf '\n== %s\n' "$*"; }

step "init";               "$clap" init "$db"
step "ingest";             "$clap" ingest "$db" samples/sessions/*.json
step "import annotations"; "$clap" import-annotations "$db" samples/annotations.csv
step "labels";             "$clap" labels "$db"
step "model";              "$clap" model create "$db" --name default --dim 512 --seed 1

step "zero-shot purchase intention, in SQL (first customers)"
sqlite3 -header -column "$db" ".load ./$BUILD/clap0" "
  select u.id, l.label as annotated,
         round(clap_zero_shot(clap_embed_audio(u.audio), '私は欲しくないです', '私は欲しいです'), 3) as p_yes
  from utterances u join labels l on l.utterance_id = u.id and l.dimension = 'purchase_intention'
  where u.role = 'customer' and l.label is not null
  order by u.id limit 8"
echo
echo "The model above is untrained (random heads): training arrives with \`clap train\`."
echo "The database is $db"
