#!/usr/bin/env bash
# Broken audio gets a message that says what is wrong with the file (not
# libsndfile's internal wording), in ingest and in the SQL functions; and a
# large file that is not audio is refused from its header, fast and small.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
C="$T/c"; mkdir -p "$C"
sox -n -r 16000 -c 1 "$T/ok.wav" synth 1 sine 300 2>/dev/null
sox -n -r 16000 -c 1 "$T/ok.flac" synth 1 sine 300 2>/dev/null
"$PY" - "$T" <<'PY'
import random, sys
t = sys.argv[1]
random.seed(7)
b = bytearray(open(t + "/ok.wav", "rb").read()); b[24:28] = b"\0\0\0\0"  # fmt chunk: rate 0
open(t + "/c/rate0.wav", "wb").write(b)
b = bytearray(open(t + "/ok.flac", "rb").read())
i = 4  # skip the metadata blocks; every frame after them becomes noise
while True:
    last, n = b[i] & 0x80, int.from_bytes(b[i + 1:i + 4], "big"); i += 4 + n
    if last: break
b[i:] = bytes(random.randrange(256) for _ in range(len(b) - i))
open(t + "/c/frames.flac", "wb").write(b)
open(t + "/c/noise.mp3", "wb").write(b"\xff\xfb\x90\x64" + bytes(random.randrange(256) for _ in range(20000)))
PY
manifest() { # file audio
  printf '{"session": "s", "utterances": [{"id": "u", "audio": "%s", "role": "customer"}]}\n' "$2" > "$C/$1"
}
db="$T/a.db"
expect() { # name file message
  manifest m.json "$2"
  check_output_contains "ingest: $1" "$C/$2: $3" "$CLAP" ingest --create "$db" "$C/m.json"
  check_output_contains "clap_encode_audio: $1" "argument 1: $3" "$SQLITE3" :memory: ".load $BUILD/clap0" \
    "SELECT clap_encode_audio(readfile('$C/$2'), 'acoustic')"
}
expect "WAV with rate 0" rate0.wav "damaged header: it declares a sample rate of 0 Hz or 0 channels"
expect "FLAC with damaged frames" frames.flac "damaged audio data: the header promises 16000 frames, none could be decoded"
expect "MP3 of random bytes" noise.mp3 "damaged or not audio: it starts like an audio stream"
check_fails "no libsndfile internals" bash -c "'$CLAP' ingest --create '$db' '$C/m.json' 2>&1 | grep -E 'SF_INFO|possibly a pipe|contains no samples'"

# A 3 GB sparse file that is not audio: refused from its header, before its
# body is read into memory (it used to cost 3.1 GB and 21 s). The bound is
# generous (the CLI itself needs tens of MB) and far below the file.
truncate -s 3G "$C/huge.wav"
manifest huge.json huge.wav
out=$( /usr/bin/time -f "maxrss_kb=%M" timeout 60 "$CLAP" ingest --create "$db" "$C/huge.json" 2>&1 )
check_equal "3 GB non-audio: refused by format" \
  "$(grep -c "huge.wav: not an audio format libsndfile recognises" <<<"$out")" 1
rss=$(sed -n 's/.*maxrss_kb=\([0-9]*\).*/\1/p' <<<"$out")
check "3 GB non-audio: peak RSS ${rss:-?} KB under 300 MB" test "${rss:-999999999}" -lt 307200
rm -f "$C/huge.wav"
# An audio path that is a symlink to /dev/zero: refused as a device at once.
ln -s /dev/zero "$C/zero.wav"
manifest zero.json zero.wav
check_output_contains "/dev/zero behind a symlink" "zero.wav: is a character device, not a regular file" \
  timeout 20 "$CLAP" ingest --create "$db" "$C/zero.json"
finish
