#!/usr/bin/env bash
# A learned frame classifier against the call segmenter with babble at 5 dB SNR
# (tests/bench/NOTES.md; vad_learned.py says what it measures). Not run by make
# bench: it needs Debian's python3-torch and python3-torchaudio, ~3 GB in /tmp
# and ~15 minutes on 2 cores. Prints two Markdown tables:
#   1. trained on the bench's own pools (turns s1-s3, babble s4-s5; seeds 1..5
#      and 11..90), tested on seeds 6..10 (the bench's F1 calls: the same
#      utterances, new calls) and on the pools swapped (seeds 1..10, bench_vad's
#      ho_swap set: the training's babble now speaks);
#   2. trained on turns from s1 and babble from s4 (seeds 101..185), tested on
#      utterances it never heard: turns from s2-s3, babble from s5 (seeds 6..15).
set -eu
cd "$(dirname "$0")/../.."
. tests/bench/vad_calls.sh
calls train_a babble "$S13" "$S45" 1 5
calls train_a babble "$S13" "$S45" 11 90
calls test_a babble "$S13" "$S45" 6 10
calls test_swap babble "$S45" "$S13" 1 10
/usr/bin/python3 tests/bench/vad_learned.py --train "$dir/train_a" \
  --test "seeds 6..10 (same utterances)=$dir/test_a" --test "pools swapped=$dir/test_swap"
rm -rf "${dir:?}"/*
calls train_d babble 'samples/audio/s1/*.flac' 'samples/audio/s4/*.flac' 101 185
calls test_e babble 'samples/audio/s[23]/*.flac' 'samples/audio/s5/*.flac' 6 15
/usr/bin/python3 tests/bench/vad_learned.py --train "$dir/train_d" \
  --test "unseen utterances=$dir/test_e"
