#!/usr/bin/env bash
# The call segmenter (ext/audio/vad.c): real-time factor and peak RSS on an
# hour-long stereo call, streamed, and the boundary F1 on synthetic calls.
# Prints a Markdown section; appends summary rows to $BENCH_SUMMARY when set.
#   VAD_MINUTES=60 (the length of the long call)
set -eu
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
bin=$BUILD/bench/bench_vad
[ -x "$bin" ] || make --no-print-directory "$bin" >&2
minutes=${VAD_MINUTES:-60}
load=$(cut -d' ' -f1-3 /proc/loadavg)
out=$("$bin" "$minutes")
get() { sed -n "s/^$1=//p" <<<"$out"; }
cat <<EOT
## Call segmentation (vad)

\`$bin $minutes\` (run by \`make bench\`, or \`BENCH_ONLY=vad make bench\`): a ${minutes}-minute
16 kHz stereo 16-bit WAV of synthetic calls (tests/unit/synth_call.h: bundled utterances,
agent on channel 0 and customer on channel 1, white noise at 20 dB SNR) segmented on both
channels by \`vad_segment_file\` in a fresh process: $(get segments) segments, CPU time user +
system of that process on one core. The peer is decoding the same file alone
(\`audio_stream_read\` to the end) in a fresh process of the same binary, the floor under any
segmenter; its peak RSS is the binary's own baseline (OpenBLAS's buffers included). Load
average at the start: ${load} on $(nproc) cores.

| | CPU s | real-time factor (audio s / CPU s) | peak RSS |
|---|---:|---:|---:|
| segment both channels | $(get segment_cpu) | **$(get segment_rtf)×** | $(get segment_rss_mb) MB |
| decode only (peer) | $(get decode_cpu) | $(get decode_rtf)× | $(get decode_rss_mb) MB |
| decode one channel whole, not streamed | | | $(get whole_rss_mb) MB |

Boundary F1 (a start or end within 100 ms of the truth; 5 calls × 40 turns, seeds 6..10):
clean $(get f1_clean), white noise 20 dB $(get f1_white20), babble 20 dB $(get f1_babble20),
white noise 5 dB $(get f1_white5), babble 5 dB $(get f1_babble5) (targets: ≥ 0.95 at 20 dB,
≥ 0.85 at 5 dB; checked by tests/unit/test_vad.c, where babble at 5 dB is a known shortfall,
explained under "Notes on reading these figures").
On calls the defaults were never tuned on (20 calls × 40 turns, seeds 11..30; and 10 calls with
the pools swapped, turns from samples/audio/s4–s5 and babble from s1–s3):

| | white 20 dB | babble 20 dB | white 5 dB | babble 5 dB |
|---|---:|---:|---:|---:|
| seeds 11..30 | $(get ho_seeds_white20) | $(get ho_seeds_babble20) | $(get ho_seeds_white5) | $(get ho_seeds_babble5) |
| pools swapped, seeds 1..10 | $(get ho_swap_white20) | $(get ho_swap_babble20) | $(get ho_swap_white5) | $(get ho_swap_babble5) |
EOT
met() { awk -v a="$1" -v t="$2" 'BEGIN { print (a >= t) ? "met" : "not met" }'; }
worst() { awk -v a="$1" -v b="$2" 'BEGIN { print (a < b) ? a : b }'; }
if [ -n "${BENCH_SUMMARY:-}" ]; then
  f20=$(worst "$(get f1_white20)" "$(get f1_babble20)")
  f5=$(worst "$(get f1_white5)" "$(get f1_babble5)")
  {
    echo "| call segmenter, ${minutes} min 16 kHz stereo WAV, both channels, one core: real-time factor | $(get segment_rtf)× | ≥ 1000× | $(met "$(get segment_rtf)" 1000) |"
    echo "| call segmenter peak RSS on it, streamed (decode-only baseline $(get decode_rss_mb) MB; one channel decoded whole $(get whole_rss_mb) MB) | $(get segment_rss_mb) MB | none set | — |"
    echo "| segment boundary F1 (100 ms), worst of white noise and babble, 20 dB / 5 dB SNR | $f20 / $f5 | ≥ 0.95 / ≥ 0.85 | $(met "$f20" 0.95) / $(met "$f5" 0.85) |"
  } >> "$BENCH_SUMMARY"
fi
