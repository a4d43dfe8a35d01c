#!/usr/bin/env bash
# clap embed when the COMMIT of a unit of work fails: the run stops (exit 1)
# with a message naming what it was committing, that unit is rolled back and
# the units committed before it are kept. The COMMIT is made to fail by a
# deferred foreign key that a trigger (added here, not part of the schema)
# breaks on one insert: SQLite checks deferred keys only at COMMIT, so every
# statement of the unit succeeds and the COMMIT alone fails.
. "$(dirname "$0")/lib.sh"
export OPENBLAS_NUM_THREADS=1
db="$T/c.db"
q() { "$SQLITE3" -cmd ".timeout 5000" "$@" 2>&1; }
# A deferred key that can never be satisfied, broken by a trigger on `table`
# when `cond` holds for the new row.
trap_on() { # db table cond
  q "$1" "CREATE TABLE trap_parent(id INTEGER PRIMARY KEY);
    CREATE TABLE trap(p INTEGER REFERENCES trap_parent(id) DEFERRABLE INITIALLY DEFERRED);
    CREATE TRIGGER trap_t AFTER INSERT ON $2 WHEN $3 BEGIN INSERT INTO trap VALUES (1); END;"
}
untrap() { q "$1" "DROP TRIGGER trap_t; DROP TABLE trap; DROP TABLE trap_parent"; }

check "init" "$CLAP" init "$db"
# 17 utterances: with one worker a chunk is 16, so u17 is the second chunk.
q "$db" "INSERT INTO sessions(id) VALUES ('s1');
  WITH RECURSIVE i(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM i WHERE n < 17)
  INSERT INTO utterances(id, session_id, role, source_path, source_sha256, source_rate,
    source_channels, duration, audio)
  SELECT printf('u%02d', n), 's1', 'customer', 'tone', '-', 16000, 1, 1.0,
    readfile('tests/fixtures/audio/tone220_16k.flac') FROM i"
ntext=$(q "$db" "SELECT count(DISTINCT text) FROM descriptions")
nrows() { q "$1" "SELECT count(*) FROM features WHERE modality='$2'"; }

# Audio: the second chunk's COMMIT fails.
trap_on "$db" features "new.key = 'u17'"
msg="committing 1 audio vectors of encoder 'acoustic' (utterances 'u17'..'u17'): FOREIGN KEY constraint failed (in SQL: COMMIT)"
check_output_contains "a failing audio COMMIT names the chunk" "$msg" "$CLAP" embed "$db" --workers 1
check_equal "the first chunk is kept, the failed one rolled back, no text run" \
  "$(nrows "$db" audio) $(nrows "$db" text) $(q "$db" "SELECT count(*) FROM features WHERE key='u17'")" "16 0 0"
check_fails "it exits non-zero" "$CLAP" embed "$db" --workers 1
untrap "$db"

# Text: the one text transaction's COMMIT fails; the audio is all in.
trap_on "$db" features "new.modality = 'text'"
check_output_contains "a failing text COMMIT names it" \
  "committing $ntext text vectors of encoder 'ngram': FOREIGN KEY constraint failed (in SQL: COMMIT)" \
  "$CLAP" embed "$db" --workers 1
check_equal "audio complete, no text row" "$(nrows "$db" audio) $(nrows "$db" text)" "17 0"
untrap "$db"
check_output_contains "without the trap it finishes" \
  "embed: 0 audio vectors (acoustic), $ntext text vectors (ngram) added" "$CLAP" embed "$db"

# Shard: the shard database's record is committed on its own.
s="$T/c1.db"
check "a shard" "$CLAP" embed "$db" --shard 1/2 --out "$s"
q "$s" "DELETE FROM clap_shard"
trap_on "$s" clap_shard "1"
check_output_contains "a failing shard-record COMMIT names the row and the file" \
  "committing the clap_shard row of $s: FOREIGN KEY constraint failed" \
  "$CLAP" embed "$db" --shard 1/2 --out "$s"
check_equal "the shard has no record" "$(q "$s" "SELECT count(*) FROM clap_shard")" "0"
finish
