#!/usr/bin/env bash
# Ingest throughput: `clap ingest` (read, SHA-256, decode, downmix, resample
# to 16 kHz, FLAC, one SQLite transaction per session) with 1 and 2 workers,
# against the peer `sox IN -r 16000 -c 1 OUT.flac` over the same utterances
# (with `trim` for the utterances cut from a long session recording), run
# sequentially and with xargs -P2. Prints a Markdown section; appends summary
# rows to $BENCH_SUMMARY when set.
#
# Corpus: `samples/generate --utterances N --seed 7`, generated once and
# shared with bench_quality.sh (tests/bench/corpus.sh).
#   BENCH_UTTERANCES (default 2600)
set -eu
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
CLAP="$PWD/$BUILD/clap"
[ -x "$CLAP" ] || make --no-print-directory "$BUILD/clap" >&2
N=${BENCH_UTTERANCES:-2600}
SEED=7
. tests/bench/corpus.sh
C=$(bench_corpus bench_ingest "$N" "$SEED")
W=$(mktemp -d "${TMPDIR:-/tmp}/clap-bench-ingest.XXXXXX")
trap 'rm -rf "$W"' EXIT
mapfile -t manifests < <(ls "$C"/sessions/*.json)

# One line per utterance: input, output, and the trim (start, end) if any.
/usr/bin/python3 - "$W/jobs" "$W/o" "${manifests[@]}" <<'PY'
import json, os, sys
out, odir, manifests = sys.argv[1], sys.argv[2], sys.argv[3:]
with open(out, "w") as f:
    for m in manifests:
        for u in json.load(open(m))["utterances"]:
            src = os.path.normpath(os.path.join(os.path.dirname(m), u["audio"]))
            trim = f"trim {u['start']} ={u['end']}" if "start" in u else ""
            f.write(f"{src}\t{odir}/{u['id']}.flac\t{trim}\n")
PY
sox_one='IFS="	" read -r in out trim <<<"$1"; sox "$in" -r 16000 -c 1 "$out" $trim'

run() { # label command... -> "wall cpu" (CPU = user + sys of every child)
  /usr/bin/time -f "%e %U %S" -o "$W/time" "$@" > "$W/out.txt" 2>"$W/err.txt" ||
    { echo "bench_ingest: $1 failed:" >&2; tail -5 "$W/err.txt" >&2; exit 1; }
  awk '{ printf "%.2f %.2f", $1, $2 + $3 }' "$W/time"
}
ingest() { rm -f "$W/b.db"*; run "$CLAP" ingest --create "$W/b.db" "${manifests[@]}" --workers "$1"; }
sox_seq() { rm -rf "$W/o"; mkdir -p "$W/o"; run bash -c "while IFS= read -r l; do bash -c '$sox_one' _ \"\$l\"; done < '$W/jobs'"; }
sox_par() { rm -rf "$W/o"; mkdir -p "$W/o"; run bash -c "tr '\n' '\0' < '$W/jobs' | xargs -0 -P2 -n1 bash -c '$sox_one' _"; }

load=$(cut -d' ' -f1-3 /proc/loadavg)
read -r i1 i1c <<<"$(ingest 1)"
read -r i2 i2c <<<"$(ingest 2)"
n=$(sqlite3 "$W/b.db" "SELECT count(*) FROM utterances")
audio_s=$(sqlite3 "$W/b.db" "SELECT total(duration) FROM utterances")
read -r s1 s1c <<<"$(sox_seq)"
read -r s2 s2c <<<"$(sox_par)"
nflac=$(ls "$W/o" | wc -l)
[ "$nflac" -eq "$n" ] || { echo "bench_ingest: sox wrote $nflac files for $n utterances" >&2; exit 1; }

row() { # name wall cpu
  awk -v name="$1" -v w="$2" -v c="$3" -v n="$n" -v a="$audio_s" \
    'BEGIN { printf "| %s | %.2f | %.2f | %.0f | %.0f× |\n", name, w, c, n / w, a / w }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
cat <<MD
## Ingest throughput

Corpus: \`samples/generate --utterances $N --seed $SEED\` (cached in \`$BUILD/bench-corpus/\`) —
$n utterances in $(ls "$C"/sessions/*.json | wc -l) sessions, $(printf '%.0f' "$audio_s") s of audio (16 kHz FLAC, 44.1 kHz
stereo WAV, and one session cut from a long recording). \`clap ingest\` reads, hashes
(SHA-256), decodes, downmixes, resamples to 16 kHz, encodes FLAC and commits one SQLite
transaction per session; the peer is \`sox IN -r 16000 -c 1 OUT.flac [trim S =E]\` per
utterance, writing the same $n FLAC files (sequentially, then with \`xargs -P2\`). One run each
(wall clock; CPU = user + sys of every process). Load average at the start: $load on
$(nproc) cores.

| run | wall s | CPU s | utterances/s | × real time |
|---|---|---|---|---|
$(row "clap ingest --workers 1" "$i1" "$i1c")
$(row "clap ingest --workers 2" "$i2" "$i2c")
$(row "sox, sequential (peer for 1 worker)" "$s1" "$s1c")
$(row "sox, xargs -P2 (peer for 2 workers)" "$s2" "$s2c")

Time ratios, ingest / sox (below 1 = ingest faster): 1 worker vs sequential sox
**$(ratio "$i1" "$s1")** (CPU $(ratio "$i1c" "$s1c")); 2 workers vs sox -P2 **$(ratio "$i2" "$s2")** (CPU $(ratio "$i2c" "$s2c")).

Command: \`make bench\` (or \`BENCH_UTTERANCES=$N bash tests/bench/bench_ingest.sh\`).
MD
if [ -n "${BENCH_SUMMARY:-}" ]; then
  awk -v n="$n" -v a="$audio_s" -v w1="$i1" -v w2="$i2" -v s1="$s1" -v s2="$s2" 'BEGIN {
    printf "| ingest, 1 worker: %.0f utt/s, %.0f× real time; time vs sequential sox | %.2f | none set | — |\n", n / w1, a / w1, w1 / s1
    printf "| ingest, 2 workers: %.0f utt/s, %.0f× real time; time vs sox -P2 | %.2f | none set | — |\n", n / w2, a / w2, w2 / s2
  }' >> "$BENCH_SUMMARY"
fi
