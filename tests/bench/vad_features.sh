#!/usr/bin/env bash
# Where the call segmenter loses boundaries with babble at 5 dB SNR, and what
# frame features could find them (tests/bench/NOTES.md; vad_features.py says
# what it measures). On the bench's F1 calls (seeds 6..10) with babble at
# 5 dB, and with white noise at 5 dB as the control where the same features
# do work. Needs Debian's python3-numpy; about 20 s; not run by make bench.
set -eu
cd "$(dirname "$0")/../.."
. tests/bench/vad_calls.sh
calls babble babble "$S13" "$S45" 6 10
calls white white "$S13" "$S45" 6 10
/usr/bin/python3 tests/bench/vad_features.py "babble at 5 dB SNR, seeds 6..10=$dir/babble" \
  "white noise at 5 dB SNR, seeds 6..10=$dir/white"
