#!/usr/bin/env bash
# Ingest throughput: `clap ingest` (read, sha256, decode, downmix, resample to
# 16 kHz, FLAC, one SQLite transaction per session) with 1 and 2 workers,
# against the peer `sox IN -r 16000 -c 1 OUT.flac` over the same files, run
# sequentially and with xargs -P2. Prints a Markdown section on stdout.
#
# Corpus: `samples/generate --out DIR --utterances N` when that script exists,
# else N tone files (44.1 kHz stereo WAV, 2-4 s) made with sox, 10 per session.
#   BENCH_UTTERANCES (default 200)
set -eu
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
CLAP="$PWD/$BUILD/clap"
N=${BENCH_UTTERANCES:-200}
W=$(mktemp -d "${TMPDIR:-/tmp}/clap-bench-ingest.XXXXXX")
trap 'rm -rf "$W"' EXIT
now() { date +%s.%N; }

corpus="generated tones (44.1 kHz stereo WAV, 2-4 s), 10 utterances per session"
if [ -x samples/generate ] && samples/generate --out "$W/c" --utterances "$N" >/dev/null 2>&1; then
  corpus="samples/generate --utterances $N"
  mapfile -t manifests < <(grep -l '"utterances"' $(find "$W/c" -name '*.json') | sort)
  mapfile -t files < <(find "$W/c" -type f \( -name '*.wav' -o -name '*.flac' -o -name '*.ogg' -o -name '*.mp3' \) | sort)
else
  mkdir -p "$W/c/audio"
  # 20 distinct recordings, copied to N files (the work per file is the same).
  for i in $(seq 0 19); do
    sox -n -r 44100 -c 2 "$W/c/audio/t$i.wav" synth "$(echo "2 + $i / 10" | bc -l)" sine $((150 + 37 * i)) \
      sine $((300 + 11 * i)) 2>/dev/null
  done
  files=()
  for u in $(seq 0 $((N - 1))); do
    cp "$W/c/audio/t$((u % 20)).wav" "$W/c/audio/u$u.wav"
    files+=("$W/c/audio/u$u.wav")
  done
  rm -f "$W"/c/audio/t*.wav
  manifests=()
  for s in $(seq 0 $(((N + 9) / 10 - 1))); do
    m="$W/c/s$s.json"
    {
      printf '{"session": "b%d", "utterances": [' "$s"
      first=1
      for u in $(seq $((s * 10)) $((s * 10 + 9))); do
        [ "$u" -lt "$N" ] || break
        [ $first -eq 1 ] || printf ', '
        first=0
        printf '{"id": "b%d-u%d", "audio": "audio/u%d.wav", "role": "customer"}' "$s" "$u" "$u"
      done
      printf ']}\n'
    } > "$m"
    manifests+=("$m")
  done
fi

ingest_run() { # workers -> seconds
  rm -f "$W/b.db" "$W/b.db-wal" "$W/b.db-shm"
  local t0 t1
  t0=$(now)
  "$CLAP" ingest "$W/b.db" "${manifests[@]}" --workers "$1" > "$W/summary.txt"
  t1=$(now)
  echo "$t1 - $t0" | bc -l
}
sox_seq() {
  mkdir -p "$W/o"
  local t0 t1 i=0
  t0=$(now)
  for f in "${files[@]}"; do sox "$f" -r 16000 -c 1 "$W/o/$i.flac"; i=$((i + 1)); done
  t1=$(now)
  echo "$t1 - $t0" | bc -l
}
sox_par() {
  mkdir -p "$W/p"
  local t0 t1
  t0=$(now)
  printf '%s\n' "${files[@]}" | xargs -P2 -I{} sh -c 'sox "$1" -r 16000 -c 1 "$2/$(basename "$1").flac"' _ {} "$W/p"
  t1=$(now)
  echo "$t1 - $t0" | bc -l
}

t1=$(ingest_run 1)
t2=$(ingest_run 2)
n=$(sqlite3 "$W/b.db" "SELECT count(*) FROM utterances")
audio_s=$(sqlite3 "$W/b.db" "SELECT total(duration) FROM utterances")
ts=$(sox_seq)
tp=$(sox_par)

row() { # name seconds
  printf '| %s | %.2f | %.0f | %.0f× |\n' "$1" "$2" "$(echo "$n / $2" | bc -l)" "$(echo "$audio_s / $2" | bc -l)"
}
echo "## Ingest throughput"
echo
echo "Corpus: $corpus — $n utterances, $(printf '%.0f' "$audio_s") s of audio. \`clap ingest\` reads,"
echo "hashes (SHA-256), decodes, downmixes, resamples to 16 kHz, encodes FLAC and commits one"
echo "SQLite transaction per session; the peer is \`sox IN -r 16000 -c 1 OUT.flac\` per file."
echo "$(nproc) cores."
echo
echo "| run | seconds | utterances/s | × real time |"
echo "|---|---|---|---|"
row "clap ingest --workers 1" "$t1"
row "clap ingest --workers 2" "$t2"
row "sox, sequential" "$ts"
row "sox, xargs -P2" "$tp"
echo
printf 'Ratios: ingest/sox sequential (1 worker) %.2f×, ingest/sox -P2 (2 workers) %.2f× (above 1 = ingest faster).\n' \
  "$(echo "$ts / $t1" | bc -l)" "$(echo "$tp / $t2" | bc -l)"
