#!/usr/bin/env bash
# clap ingest end to end: manifests and sox-made audio in a temp dir; rows,
# durations, rates, FLAC blobs and hashes; idempotence; changed sources and
# --replace; every failing input leaves the database byte-for-byte as it was;
# --keep-going; and a kill -9 in the middle of a larger run.
. "$(dirname "$0")/lib.sh"

q() { "$SQLITE3" -cmd ".timeout 5000" "$@"; }
dump() { q "$1" .dump; }
C="$T/corpus"
mkdir -p "$C/audio"
tone() { sox -n -r "$1" -c "$2" "$C/audio/$3" synth "$4" sine "$5" 2>/dev/null; }

tone 44100 2 a.wav 1.5 440      # 44.1 kHz stereo WAV
tone 22050 1 b.flac 0.7 300     # FLAC
tone 48000 1 long.wav 10 200    # one long recording cut into two utterances
tone 16000 1 five.wav 5 500
head -c 3000 /dev/urandom > "$C/audio/corrupt.wav"
: > "$C/audio/empty.wav"

cat > "$C/s1.json" <<'EOF'
{"session": "s1", "scenario": "Car dealership",
 "speakers": [{"id": "spk1", "gender": "female", "name": "A"}, {"id": "spk2", "gender": "male"}],
 "utterances": [
  {"id": "s1-u1", "audio": "audio/a.wav", "speaker": "spk1", "role": "customer", "text": "hello"},
  {"id": "s1-u2", "audio": "audio/b.flac", "speaker": "spk2", "role": "salesperson"}]}
EOF
cat > "$C/s2.json" <<'EOF'
{"session": "s2",
 "utterances": [
  {"id": "s2-u1", "audio": "audio/long.wav", "speaker": "spk3", "role": "customer", "start": 1, "end": 2.5},
  {"id": "s2-u2", "audio": "audio/long.wav", "speaker": "spk1", "role": "salesperson", "start": 3, "end": 9}]}
EOF
# A session with one utterance in FILE, id prefix ID.
one() { # name file
  printf '{"session": "%s", "utterances": [{"id": "%s-u1", "audio": "audio/%s", "role": "customer"}]}\n' \
    "$1" "$1" "$2" > "$C/$1.json"
}
one s3 five.wav
one bad_missing missing.wav
one bad_corrupt corrupt.wav
one bad_empty empty.wav
one bad_long five.wav

db="$T/a.db"
check_output_contains "ingest two sessions" "2 sessions ingested, 0 skipped, 0 failed; 4 utterances" \
  "$CLAP" ingest --create "$db" "$C/s1.json" "$C/s2.json"
check_equal "rows" "$(q "$db" "SELECT (SELECT count(*) FROM sessions), (SELECT count(*) FROM utterances), (SELECT group_concat(id || ':' || ifnull(gender, '') || ':' || ifnull(name, ''), ' ') FROM (SELECT * FROM speakers ORDER BY id))")" \
  "2|4|spk1:female:A spk2:male: spk3::"
check_equal "durations, rates, channels, cuts, paths" \
  "$(q "$db" "SELECT group_concat(id || ' ' || printf('%.3f', duration) || ' ' || source_rate || ' ' || source_channels || ' ' || ifnull(start_seconds, '-') || ' ' || ifnull(end_seconds, '-') || ' ' || source_path || ' ' || role || ' ' || ifnull(speaker_id, '-'), ';') FROM (SELECT * FROM utterances ORDER BY id)")" \
  "s1-u1 1.500 44100 2 - - audio/a.wav customer spk1;s1-u2 0.700 22050 1 - - audio/b.flac salesperson spk2;s2-u1 1.500 48000 1 1.0 2.5 audio/long.wav customer spk3;s2-u2 6.000 48000 1 3.0 9.0 audio/long.wav salesperson spk1"
check_equal "session rows" \
  "$(q "$db" "SELECT group_concat(id || ' ' || ifnull(scenario, '-') || ' ' || manifest_sha256, ';') FROM (SELECT * FROM sessions ORDER BY id)")" \
  "s1 Car dealership $(sha256sum < "$C/s1.json" | cut -c1-64);s2 - $(sha256sum < "$C/s2.json" | cut -c1-64)"
check_equal "source sha256 = sha256sum" \
  "$(q "$db" "SELECT group_concat(source_sha256, ' ') FROM (SELECT * FROM utterances ORDER BY id)")" \
  "$(for f in a.wav b.flac long.wav long.wav; do sha256sum < "$C/audio/$f" | cut -c1-64; done | paste -sd' ')"
check_equal "text kept" "$(q "$db" "SELECT text FROM utterances WHERE id='s1-u1'")" "hello"
for id in s1-u1 s2-u2; do
  q "$db" "SELECT writefile('$T/$id.flac', audio) FROM utterances WHERE id='$id'" >/dev/null
  check_equal "$id blob is 16 kHz mono FLAC" "$(soxi -t "$T/$id.flac") $(soxi -r "$T/$id.flac") $(soxi -c "$T/$id.flac")" "flac 16000 1"
  check_equal "$id blob duration" "$(printf '%.3f' "$(soxi -D "$T/$id.flac")")" \
    "$(q "$db" "SELECT printf('%.3f', duration) FROM utterances WHERE id='$id'")"
done

# Idempotent.
dump "$db" > "$T/d1"
check_output_contains "second run skips" "0 sessions ingested, 2 skipped, 0 failed; 0 utterances" \
  "$CLAP" ingest --create "$db" "$C/s1.json" "$C/s2.json"
dump "$db" > "$T/d2"
check "second run changes nothing" cmp "$T/d1" "$T/d2"

# A changed source file is refused without --replace; the database is untouched.
cp "$C/audio/a.wav" "$T/a.orig.wav"
tone 44100 2 a.wav 1.5 550
new_sha=$(sha256sum < "$C/audio/a.wav" | cut -c1-64)
check_output_contains "changed source refused" "s1.json: s1-u1: source changed (sha256 " \
  "$CLAP" ingest --create "$db" "$C/s1.json"
check_output_contains "changed source: hint" "use --replace" "$CLAP" ingest --create "$db" "$C/s1.json"
check_fails "changed source exits 1" "$CLAP" ingest --create "$db" "$C/s1.json"
dump "$db" > "$T/d3"
check "changed source leaves the db as it was" cmp "$T/d1" "$T/d3"

# --replace replaces the session atomically, cascading to its scores and labels only.
q "$db" "PRAGMA foreign_keys=ON; INSERT INTO annotators VALUES ('a1');
  INSERT INTO scores(utterance_id, annotator_id, dimension, score) VALUES ('s1-u1','a1','aroused',5), ('s2-u1','a1','aroused',3);
  INSERT INTO labels(utterance_id, dimension, value, label) VALUES ('s1-u2','aroused',4.5,1), ('s2-u2','aroused',2,0);"
check_output_contains "--replace ingests the changed session" "1 sessions ingested, 1 skipped, 0 failed; 2 utterances" \
  "$CLAP" ingest --create "$db" "$C/s1.json" "$C/s2.json" --replace
check_equal "new sha stored" "$(q "$db" "SELECT source_sha256 FROM utterances WHERE id='s1-u1'")" "$new_sha"
check_equal "unchanged utterance of the replaced session kept" \
  "$(q "$db" "SELECT source_sha256, printf('%.3f', duration) FROM utterances WHERE id='s1-u2'")" \
  "$(sha256sum < "$C/audio/b.flac" | cut -c1-64)|0.700"
check_equal "scores and labels of s1 cascaded, of s2 kept" \
  "$(q "$db" "SELECT (SELECT group_concat(utterance_id) FROM scores), (SELECT group_concat(utterance_id) FROM labels)")" "s2-u1|s2-u2"
check_equal "after --replace: still 4 utterances, 2 sessions" \
  "$(q "$db" "SELECT (SELECT count(*) FROM utterances), (SELECT count(*) FROM sessions)")" "4|2"
dump "$db" > "$T/d4"
check_output_contains "--replace again: nothing changed, skipped" "0 sessions ingested, 2 skipped" \
  "$CLAP" ingest --create "$db" "$C/s1.json" "$C/s2.json" --replace
dump "$db" > "$T/d5"
check "--replace of an unchanged session changes nothing" cmp "$T/d4" "$T/d5"

# A moved cut is a change too.
sed 's/"end": 9/"end": 8/' "$C/s2.json" > "$C/s2b.json"
check_output_contains "moved cut refused" "s2-u2: cut changed; use --replace" "$CLAP" ingest --create "$db" "$C/s2b.json"
# An utterance id of another session is never taken over.
printf '{"session": "s9", "utterances": [{"id": "s1-u1", "audio": "audio/a.wav", "role": "customer"}]}' > "$C/s9.json"
check_output_contains "utterance of another session" "s1-u1: utterance id already belongs to session s1" \
  "$CLAP" ingest --create "$db" "$C/s9.json" --replace

# Bad inputs: an error naming the manifest and the audio file; the db unchanged.
dump "$db" > "$T/before"
bad() { # name manifest needle [options]
  local name=$1 m=$2 needle=$3; shift 3
  check_output_contains "$name: names manifest and file" "$C/$m.json: $m-u1: $C/audio/$needle" \
    "$CLAP" ingest --create "$db" "$C/$m.json" "$@"
  check_fails "$name: exit 1" "$CLAP" ingest --create "$db" "$C/$m.json" "$@"
  dump "$db" > "$T/after"
  check "$name: db unchanged" cmp "$T/before" "$T/after"
}
bad "missing file" bad_missing "missing.wav: cannot open"
bad "corrupt file" bad_corrupt "corrupt.wav"
bad "empty file" bad_empty "empty.wav: empty"
bad "too long" bad_long "five.wav: 5.0 s long, over the limit of 2 s" --max-seconds 2
check_output_contains "too long cut" "s2-u2: $C/audio/long.wav: cut [3 s, 9 s) is 6 s long, over the limit of 2 s" \
  "$CLAP" ingest --create "$T/cut.db" "$C/s2.json" --max-seconds 2
printf '{"session": "s6", "utterances": [{"id": "s6-u1", "audio": "audio/long.wav", "role": "customer", "start": 8},
  {"id": "s6-u2", "audio": "audio/long.wav", "role": "customer", "end": 0.5}]}' > "$C/s6.json"
check_output_contains "open-ended cuts" "1 sessions ingested" "$CLAP" ingest --create "$T/open.db" "$C/s6.json"
check_equal "open-ended cuts: durations and NULL ends" \
  "$(q "$T/open.db" "SELECT group_concat(printf('%.3f', duration) || ' ' || ifnull(start_seconds, '-') || ' ' || ifnull(end_seconds, '-'), ';') FROM (SELECT * FROM utterances ORDER BY id)")" \
  "2.000 8.0 -;0.500 - 0.5"
sed 's/"start": 8/"start": 1/' "$C/s6.json" > "$C/s6b.json"
check_output_contains "open-ended cut over the limit" "s6-u1: $C/audio/long.wav: cut is 9 s long, over the limit of 2 s" \
  "$CLAP" ingest --create "$T/open3.db" "$C/s6b.json" --max-seconds 2
# A cut of absurd size gets a short message (%g, not 300 digits of %f).
cat > "$C/huge_cut.json" <<'EOF'
{"session": "s9", "utterances": [{"id": "s9-u1", "audio": "audio/long.wav", "role": "customer",
  "start": 1e300, "end": 3e300}]}
EOF
out=$("$CLAP" ingest --create "$db" "$C/huge_cut.json" 2>&1)
check_equal "a 1e300 cut: short message" "$(grep -c 'cut \[1e+300 s, 3e+300 s) is 2e+300 s long, over the limit of 600 s' <<<"$out") $(wc -c <<<"$out" | awk '$1 < 400 {print "short"}')" "1 short"
printf '{"session": "s8", "utterances": [{"id": "s8-u1", "audio": "audio/a.wav", "role": "buyer"}]}' > "$C/s8.json"
check_output_contains "invalid manifest" "$C/s8.json: utterances[0].role: must be \"salesperson\" or \"customer\", got \"buyer\"" \
  "$CLAP" ingest --create "$db" "$C/s8.json"
printf '{"session": "s7", "utterances": [{"id": "s7-u1", "audio": "%s", "role": "customer"}]}' "$C/audio/a.wav" > "$C/s7.json"
check_output_contains "absolute audio path refused" "utterances[0].audio: must be relative" "$CLAP" ingest --create "$db" "$C/s7.json"
check_output_contains "missing manifest" "$T/nope.json: cannot open" "$CLAP" ingest --create "$db" "$T/nope.json"
check_output_contains "same session twice" "session s3 is also in $C/s3.json" "$CLAP" ingest --create "$T/twice.db" "$C/s3.json" "$C/s3.json"
dump "$db" > "$T/after"
check "invalid manifests: db unchanged" cmp "$T/before" "$T/after"

# Without --keep-going the run stops at the first failed session; earlier ones stay.
one s4 b.flac
one s5 b.flac
check_fails "stop at first failure: exit 1" "$CLAP" ingest --create "$db" "$C/s4.json" "$C/bad_missing.json" "$C/s5.json"
check_equal "stop at first failure: before kept, after not run" \
  "$(q "$db" "SELECT group_concat(id) FROM (SELECT id FROM sessions WHERE id IN ('s4','s5') ORDER BY id)")" "s4"
check_output_contains "--keep-going goes on" "1 sessions ingested, 1 skipped, 2 failed" \
  "$CLAP" ingest --create "$db" "$C/s4.json" "$C/bad_corrupt.json" "$C/s5.json" "$C/bad_empty.json" --keep-going
check_fails "--keep-going still exits 1" "$CLAP" ingest --create "$db" "$C/bad_empty.json" "$C/s5.json" --keep-going
check_equal "--keep-going ingested the good session" "$(q "$db" "SELECT count(*) FROM sessions WHERE id='s5'")" "1"

# Usage errors.
for args in "" "$T/u.db" "$T/u.db $C/s1.json --workers 0" "$T/u.db $C/s1.json --max-seconds x" "$T/u.db $C/s1.json --bogus"; do
  # shellcheck disable=SC2086
  "$CLAP" ingest --create $args >/dev/null 2>&1
  check_equal "usage error exits 2: '$args'" "$?" "2"
done
check_output_contains "--help" "usage: clap ingest DB MANIFEST..." "$CLAP" ingest --create --help

# The number of workers does not change what is stored.
"$CLAP" ingest --create "$T/w1.db" "$C/s1.json" "$C/s2.json" "$C/s3.json" --workers 1 >/dev/null 2>&1
"$CLAP" ingest --create "$T/w3.db" "$C/s1.json" "$C/s2.json" "$C/s3.json" --workers 3 >/dev/null 2>&1
content="SELECT id, session_id, source_sha256, duration, hex(audio) FROM utterances ORDER BY id"
check_equal "1 and 3 workers store the same bytes" "$(q "$T/w1.db" "$content" | sha256sum)" "$(q "$T/w3.db" "$content" | sha256sum)"
check_equal "3 sessions stored" "$(q "$T/w3.db" "SELECT count(*) FROM sessions")" "3"

# Crash safety: kill -9 after the first sessions are committed.
K="$T/crash"
mkdir -p "$K/audio"
for i in 0 1 2 3 4 5 6 7 8 9; do sox -n -r 48000 -c 2 "$K/audio/t$i.wav" synth 2 sine $((200 + 50 * i)) 2>/dev/null; done
for s in $(seq -w 0 39); do
  {
    printf '{"session": "k%s", "utterances": [' "$s"
    for i in 0 1 2 3 4 5 6 7 8 9; do
      [ "$i" -gt 0 ] && printf ', '
      printf '{"id": "k%s-u%d", "audio": "audio/t%d.wav", "role": "customer"}' "$s" "$i" "$i"
    done
    printf ']}\n'
  } > "$K/k$s.json"
done
kdb="$T/crash.db"
"$CLAP" init "$kdb" >/dev/null
"$CLAP" ingest --create "$kdb" "$K"/k*.json --workers 1 >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 400); do
  n=$(q "$kdb" "SELECT count(*) FROM sessions" 2>/dev/null || echo 0)
  [ "${n:-0}" -ge 2 ] && break
  sleep 0.05
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
committed=$(q "$kdb" "SELECT count(*) FROM sessions")
check_equal "killed mid-way (some but not all sessions)" "$([ "$committed" -ge 2 ] && [ "$committed" -lt 40 ] && echo yes || echo "no: $committed")" "yes"
check_equal "integrity_check after kill -9" "$(q "$kdb" "PRAGMA integrity_check")" "ok"
check_equal "every session present is whole" \
  "$(q "$kdb" "SELECT count(*) FROM sessions s WHERE (SELECT count(*) FROM utterances u WHERE u.session_id = s.id) != 10")" "0"
check_equal "no utterance without its session" \
  "$(q "$kdb" "SELECT count(*) FROM utterances WHERE session_id NOT IN (SELECT id FROM sessions)")" "0"
check_output_contains "re-run finishes the rest" "$((40 - committed)) sessions ingested, $committed skipped, 0 failed" \
  "$CLAP" ingest --create "$kdb" "$K"/k*.json
check_equal "all 40 sessions, 400 utterances" \
  "$(q "$kdb" "SELECT (SELECT count(*) FROM sessions), (SELECT count(*) FROM utterances)")" "40|400"

finish
