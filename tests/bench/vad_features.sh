#!/usr/bin/env bash
# Where the call segmenter loses boundaries with babble at 5 dB SNR, and what
# frame features could find them (tests/bench/NOTES.md; vad_features.py says
# what it measures). On the bench's F1 calls (seeds 6..10) with babble at
# 5 dB, and with white noise at 5 dB as the control where the same features
# do work. Needs Debian's python3-numpy; about a minute; not run by make bench.
set -eu
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
bin=$BUILD/bench/bench_vad
[ -x "$bin" ] || make --no-print-directory "$bin" >&2
dir=$(mktemp -d /tmp/clap-vad-features.XXXXXX)
trap 'rm -rf "$dir"' EXIT
S13='samples/audio/s[1-3]/*.flac' S45='samples/audio/s[45]/*.flac'
for noise in babble white; do
  mkdir -p "$dir/$noise"
  "$bin" --calls "$dir/$noise" "$S13" "$S45" "$noise" 5 6 10
done
/usr/bin/python3 tests/bench/vad_features.py "babble at 5 dB SNR, seeds 6..10=$dir/babble" \
  "white noise at 5 dB SNR, seeds 6..10=$dir/white"
