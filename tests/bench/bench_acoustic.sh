#!/usr/bin/env bash
# Acoustic encoder speed: real-time factor on 60 s of synthetic speech-like
# audio, one thread. Peers: real time itself, and `sox <file> -n stat` (one
# pass of simple time-domain statistics) on the same audio.
set -eu
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
bin=$BUILD/bench/bench_acoustic
[ -x "$bin" ] || make --no-print-directory "$bin" >&2
wav=$(mktemp --suffix=.wav)
trap 'rm -f "$wav"' EXIT
out=$("$bin" "$wav")
get() { sed -n "s/^$1=//p" <<<"$out"; }
enc=$(get encode_seconds)
rtf=$(get rtf)
cpu=$(get encode_cpu_seconds)
rtf_cpu=$(get rtf_cpu)

sox_line="not measured (sox not installed)"
if command -v sox >/dev/null; then
  best=""
  for _ in 1 2 3; do
    t0=$(date +%s.%N)
    sox "$wav" -n stat 2>/dev/null
    t1=$(date +%s.%N)
    dt=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
    if [ -z "$best" ] || awk -v d="$dt" -v b="$best" 'BEGIN { exit !(d < b) }'; then best=$dt; fi
  done
  ratio=$(awk -v s="$best" -v e="$enc" 'BEGIN { printf "%.1f", e / s }')
  sox_line="${best} s (the encoder takes ${ratio}x as long as sox's single statistics pass, while also computing FFTs, F0 and MFCCs for every frame)"
fi

cat <<EOF
## Acoustic encoder

60 s of synthetic speech-like audio (16 kHz mono), one thread, best of 5 runs. Load average
at the start: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores.

| measure | value |
|---|---|
| encode time, wall clock | ${enc} s |
| encode time, thread CPU clock | ${cpu} s |
| real-time factor (peer: real time), wall clock | ${rtf}x faster than real time |
| real-time factor, thread CPU clock (the cost on one core; a loaded machine's scheduler does not inflate it) | **${rtf_cpu}x** (target: 300x) |
| \`sox <file> -n stat\` on the same audio | ${sox_line} |

Command: \`make bench\` (or \`$bin [out.wav]\`).
EOF
if [ -n "${BENCH_SUMMARY:-}" ]; then
  verdict=$(awk -v r="$rtf_cpu" 'BEGIN { print (r >= 300) ? "met" : "**not met**" }')
  echo "| acoustic encoder, one core: real-time factor on the thread CPU clock (wall clock: ${rtf}×) | ${rtf_cpu}× | ≥ 300× | ${verdict} |" >> "$BENCH_SUMMARY"
fi
