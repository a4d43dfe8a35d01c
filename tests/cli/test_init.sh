#!/usr/bin/env bash
# clap init: creates every table of DATA_SPEC.md with its seed rows, in WAL
# mode, at schema version 4; is idempotent; refuses files it must not touch.
. "$(dirname "$0")/lib.sh"

q() { "$SQLITE3" "$@"; }
db="$T/clap.db"

check_output_contains "init creates a database" "created" "$CLAP" init "$db"
check_output_contains "init prints the schema version" "schema version 4" "$CLAP" init "$T/other.db"

check_equal "all tables" \
  "$(q "$db" "SELECT group_concat(name, ' ') FROM (SELECT name FROM sqlite_schema WHERE type='table' ORDER BY name)")" \
  "annotators clap_encoders clap_models descriptions dimensions evaluations features label_thresholds labels llm_cache normalized_scores scores sessions speakers timelines utterances"
check_equal "views" \
  "$(q "$db" "SELECT group_concat(name, ' ') FROM (SELECT name FROM sqlite_schema WHERE type='view' ORDER BY name)")" \
  "call_timeline label_balance utterance_labels"
check_equal "lookup indexes" \
  "$(q "$db" "SELECT count(*) FROM sqlite_schema WHERE type='index' AND name IN ('utterances_session','scores_dimension')")" "2"
check_equal "user_version" "$(q "$db" 'PRAGMA user_version')" "4"
check_equal "WAL" "$(q "$db" 'PRAGMA journal_mode')" "wal"
check_equal "7 dimensions" "$(q "$db" 'SELECT count(*) FROM dimensions')" "7"
check_equal "purchase intention is customer-only, not training" \
  "$(q "$db" "SELECT customer_only, training FROM dimensions WHERE name='purchase_intention'")" "1|0"
check_equal "6 training dimensions" "$(q "$db" 'SELECT count(*) FROM dimensions WHERE training=1')" "6"
check_equal "12 originals, one per dimension and pole" \
  "$(q "$db" "SELECT count(*), count(DISTINCT dimension || pole) FROM descriptions WHERE source='original'")" "12|12"
check_equal "6 prompts in 3 sets" \
  "$(q "$db" "SELECT count(*), count(DISTINCT prompt_set), min(prompt_set), max(prompt_set) FROM descriptions WHERE source='prompt' AND dimension='purchase_intention'")" \
  "6|3|1|3"
check_equal "aroused positive original and its prohibited word" \
  "$(q "$db" "SELECT text, prohibited FROM descriptions WHERE dimension='aroused' AND pole=1 AND source='original'")" \
  "私の気持ちは覚醒しています|覚醒"
check_equal "pleasant poles" \
  "$(q "$db" "SELECT group_concat(text || '/' || prohibited, ' ') FROM (SELECT * FROM descriptions WHERE dimension='pleasant' ORDER BY pole)")" \
  "私は不快な気持ちです/不快 私は快な気持ちです/快"
check_equal "every original prohibits a word it contains" \
  "$(q "$db" "SELECT count(*) FROM descriptions WHERE instr(text, prohibited) > 0")" "18"
check_equal "prompt set 1, pole 0 is the 'not' sentence" \
  "$(q "$db" "SELECT text FROM descriptions WHERE prompt_set=1 AND pole=0")" "私は買う気なしです"
check_equal "prompt set 3" \
  "$(q "$db" "SELECT group_concat(text, ' ') FROM (SELECT text FROM descriptions WHERE prompt_set=3 ORDER BY pole)")" \
  "私は欲しくないです 私は欲しいです"

# Constraints as DATA_SPEC.md writes them (foreign keys need the pragma in
# the plain shell; clap turns it on itself, see tests/unit/test_db.c).
fk() { q "$db" 'PRAGMA foreign_keys=ON' "$@"; }
utt="INSERT INTO utterances(id,session_id,role,source_path,source_sha256,source_rate,source_channels,duration,audio)"
check_fails "foreign key: utterance of a missing session" fk "$utt VALUES ('u0','nope','customer','a','h',16000,1,1.0,x'00')"
check "a valid session, utterance, annotator" fk \
  "INSERT INTO sessions(id) VALUES ('s'); $utt VALUES ('u','s','customer','a','h',16000,1,1.0,x'00'); INSERT INTO annotators VALUES ('a1')"
check_fails "foreign key: score of a missing dimension" fk \
  "INSERT INTO scores(utterance_id,annotator_id,dimension,score) VALUES ('u','a1','happiness',3)"
check_fails "check: role" fk "$utt VALUES ('u2','s','manager','a','h',16000,1,1.0,x'00')"
check_fails "check: score 1..7" fk "INSERT INTO scores(utterance_id,annotator_id,dimension,score) VALUES ('u','a1','aroused',8)"
check_fails "check: label 0/1" fk "INSERT INTO labels(utterance_id,dimension,value,label) VALUES ('u','aroused',0.5,2)"
check_fails "check: description source" fk "INSERT INTO descriptions(dimension,pole,text,source) VALUES ('aroused',1,'x','llm')"
check_equal "rejected rows were not stored" \
  "$(q "$db" "SELECT (SELECT count(*) FROM utterances) || ' ' || (SELECT count(*) FROM scores) || ' ' || (SELECT count(*) FROM labels) || ' ' || (SELECT count(*) FROM descriptions)")" \
  "1 0 0 18"
check "a valid score" fk "INSERT INTO scores(utterance_id,annotator_id,dimension,score) VALUES ('u','a1','aroused',7)"
check_equal "deleting a session cascades to its utterances and scores" \
  "$(fk "DELETE FROM sessions WHERE id='s'" "SELECT (SELECT count(*) FROM utterances) || ' ' || (SELECT count(*) FROM scores)")" "0 0"

# Idempotent: a second run changes nothing, and says so.
before=$(q "$db" .dump)
check_output_contains "second init says so" "nothing to do" "$CLAP" init "$db"
check_equal "second init changes nothing" "$(q "$db" .dump)" "$before"

# Two inits racing on one new file: both succeed, seeds are not doubled.
# Twenty rounds: the window (one init committing between the other's reads
# of user_version and of the schema) was hit about once in 70 rounds.
lost=0
for i in $(seq 1 20); do
  rm -f "$T/race.db" "$T/race.db-wal" "$T/race.db-shm"
  "$CLAP" init "$T/race.db" >/dev/null 2>"$T/race1.err" & p1=$!
  "$CLAP" init "$T/race.db" >/dev/null 2>"$T/race2.err"; r2=$?
  wait $p1; r1=$?
  [ "$r1 $r2" = "0 0" ] || { lost=$((lost + 1)); cat "$T/race1.err" "$T/race2.err" >&2; }
done
check_equal "concurrent inits both succeed (20 rounds)" "$lost" "0"
check_equal "concurrent inits seed once" "$(q "$T/race.db" 'SELECT count(*) FROM descriptions')" "18"

# Files we must not touch.
q "$T/newer.db" 'CREATE TABLE future(x); PRAGMA user_version=99'
sum=$(sha256sum < "$T/newer.db")
check_fails "newer schema refused" "$CLAP" init "$T/newer.db"
check_output_contains "newer schema message" "newer.db: schema version 99 is newer" "$CLAP" init "$T/newer.db"
check_equal "newer database untouched" "$(sha256sum < "$T/newer.db")" "$sum"
check_equal "newer database still not WAL" "$(q "$T/newer.db" 'PRAGMA journal_mode')" "delete"

printf 'session,annotator\n' > "$T/notes.csv"
check_fails "non-database refused" "$CLAP" init "$T/notes.csv"
check_output_contains "non-database message names it" "notes.csv: not a SQLite database" "$CLAP" init "$T/notes.csv"
check_equal "non-database untouched" "$(cat "$T/notes.csv")" "session,annotator"

q "$T/theirs.db" 'CREATE TABLE sessions(x)'
check_output_contains "somebody else's database refused" "theirs.db: not a clap database" "$CLAP" init "$T/theirs.db"
check_equal "somebody else's database untouched" "$(q "$T/theirs.db" .schema)" "CREATE TABLE sessions(x);"

check_output_contains "directory refused" "is a directory" "$CLAP" init "$T"
check_output_contains "missing parent directory" "$T/no/such/dir.db" "$CLAP" init "$T/no/such/dir.db"
: > "$T/empty.db"
check_output_contains "an empty file is initialised" "initialised" "$CLAP" init "$T/empty.db"

# Usage.
check_output_contains "--help" "usage: clap init DB" "$CLAP" init --help
check_output_contains "listed in clap help" "create or upgrade a clap database" "$CLAP" help
"$CLAP" init >/dev/null 2>&1; check_equal "no argument: usage error" "$?" "2"
"$CLAP" init --force "$db" >/dev/null 2>&1; check_equal "unknown option: usage error" "$?" "2"
"$CLAP" init "$db" "$T/x.db" >/dev/null 2>&1; check_equal "two databases: usage error" "$?" "2"

finish
