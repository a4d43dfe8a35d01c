#!/usr/bin/env bash
# clap merge checks every row it would copy against what DB would have
# written: vec a BLOB of 4 x dim bytes, dim the encoder's dimension here, an
# audio key naming one of DB's utterances, a text key a SHA-256. A broken row
# refuses the whole shard naming the file, the table and the key, and DB is
# left byte for byte as it was; the intact shard then merges.
. "$(dirname "$0")/lib.sh"
q() { "$SQLITE3" -cmd ".timeout 5000" "$@" 2>&1; }
db="$T/a.db"
"$CLAP" init "$db" >/dev/null
q "$db" "INSERT INTO sessions(id) VALUES ('s1');
  INSERT INTO utterances(id, session_id, role, source_path, source_sha256, source_rate,
    source_channels, duration, audio)
  VALUES ('s1-u1', 's1', 'customer', 'a', '-', 16000, 1, 1.0, readfile('tests/fixtures/audio/tone220_16k.flac')),
         ('s1-u2', 's1', 'customer', 'b', '-', 16000, 1, 1.0, readfile('tests/fixtures/audio/tone220.ogg'))"
check "embed a shard" "$CLAP" embed "$db" --shard 1/1 --out "$T/good.db"
dim=$(q "$T/good.db" "SELECT dim FROM features WHERE modality='audio' LIMIT 1")
before=$(q "$db" .dump)

broken() { # name sql expected-message
  cp "$T/good.db" "$T/bad.db"
  q "$T/bad.db" "$2" >/dev/null
  check_output_contains "$1" "$T/bad.db: table features, encoder 'acoustic', audio key 's1-u1': $3" \
    "$CLAP" merge "$db" "$T/bad.db"
  check_fails "$1: exit 1" "$CLAP" merge "$db" "$T/bad.db"
  check_equal "$1: nothing merged" "$(q "$db" .dump)" "$before"
}
w="WHERE modality='audio' AND key='s1-u1'"
broken "an 8-byte vector" "UPDATE features SET vec = zeroblob(8) $w" \
  "vec is 8 bytes, $dim dims need $((4 * dim))"
broken "another dim" "UPDATE features SET dim = 3, vec = zeroblob(12) $w" \
  "dim is integer 3, encoder 'acoustic' has $dim dims"
broken "a TEXT vector" "UPDATE features SET vec = 'hello' $w" "vec is text, not a BLOB"
cp "$T/good.db" "$T/bad.db"
q "$T/bad.db" "UPDATE features SET key = 's9-nobody' WHERE modality='audio' AND key='s1-u2'" >/dev/null
check_output_contains "an audio key with no utterance" \
  "$T/bad.db: table features, encoder 'acoustic', audio key 's9-nobody': no such utterance in the database" \
  "$CLAP" merge "$db" "$T/bad.db"
cp "$T/good.db" "$T/bad.db"
q "$T/bad.db" "UPDATE features SET key = 'not-a-sha' WHERE rowid = (SELECT min(rowid) FROM features WHERE modality='text')" >/dev/null
check_output_contains "a text key that is not a SHA-256" \
  "$T/bad.db: table features, encoder 'ngram', text key 'not-a-sha': not a text key" \
  "$CLAP" merge "$db" "$T/bad.db"
check_equal "still nothing merged" "$(q "$db" .dump)" "$before"
check_output_contains "the intact shard merges" "shard 1/1:" "$CLAP" merge "$db" "$T/good.db"
check_equal "every vector arrived" "$(q "$db" "SELECT count(*) FROM features")" \
  "$(q "$T/good.db" "SELECT count(*) FROM features")"
finish
