#!/usr/bin/env bash
# `ingest --replace` with new audio for an utterance drops its cached audio
# vectors (every encoder) in the same transaction, so `clap embed` computes
# them from the new audio and the cache equals clap_encode_audio(new audio);
# an utterance whose audio did not change keeps its vector.
. "$(dirname "$0")/lib.sh"
q() { "$SQLITE3" -cmd ".timeout 5000" "$db" "$@" 2>&1; }
sql() { "$SQLITE3" "$db" ".load $BUILD/clap0" "$@" 2>&1; }
C="$T/c"; mkdir -p "$C"
db="$T/a.db"
sox -n -r 16000 -c 1 "$C/a.wav" synth 1 sine 300 2>/dev/null
sox -n -r 16000 -c 1 "$C/b.wav" synth 1 sine 500 2>/dev/null
cat > "$C/s1.json" <<'J'
{"session": "s1", "utterances": [
  {"id": "s1-u1", "audio": "a.wav", "role": "customer"},
  {"id": "s1-u2", "audio": "b.wav", "role": "customer"}]}
J
check "ingest" "$CLAP" ingest --create "$db" "$C/s1.json"
check_output_contains "embed" "2 audio vectors (acoustic)" "$CLAP" embed "$db"
vec() { q "SELECT hex(vec) FROM features WHERE encoder='acoustic' AND modality='audio' AND key='$1'"; }
old1=$(vec s1-u1); old2=$(vec s1-u2)

# New audio for s1-u1 only.
sox -n -r 16000 -c 1 "$C/a.wav" synth 1 sine 2000 2>/dev/null
check "ingest --replace" "$CLAP" ingest --create "$db" "$C/s1.json" --replace
check_equal "the replaced utterance's vector is gone, the other kept" \
  "$(q "SELECT group_concat(key) FROM features WHERE modality='audio'")" "s1-u2"
check_output_contains "embed recomputes it" "1 audio vectors (acoustic)" "$CLAP" embed "$db"
new1=$(vec s1-u1)
check "the vector changed" test -n "$new1" -a "$new1" != "$old1"
check_equal "it is what clap_encode_audio computes from the stored audio" "$new1" \
  "$(sql "SELECT hex(clap_encode_audio(audio, 'acoustic')) FROM utterances WHERE id='s1-u1'")"
check_equal "the unchanged utterance kept its vector" "$(vec s1-u2)" "$old2"

# A failed --replace drops nothing.
printf 'not audio' > "$C/b.wav"
check_fails "a failing replace" "$CLAP" ingest --create "$db" "$C/s1.json" --replace
check_equal "its vectors are still there" "$(q "SELECT count(*) FROM features WHERE modality='audio'")" 2
finish
