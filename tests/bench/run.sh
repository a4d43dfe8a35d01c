#!/usr/bin/env bash
# make bench: runs every tests/bench/bench_*.sh; each prints a Markdown
# section (what was measured, the peer, the ratio). The sections are written
# to tests/bench/RESULTS.md under a header naming the machine and the date.
set -eu
cd "$(dirname "$0")/../.."
export BUILD=${BUILD:-build}
out=tests/bench/RESULTS.md
tmp=$(mktemp)
{
  echo "# Benchmark results"
  echo
  echo "Made by \`make bench\` on $(date -u +%Y-%m-%d), $(nproc) cores,"
  echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(sqlite3 --version | cut -d' ' -f1-2 | sed 's/^/sqlite /')."
  echo "Every figure is a ratio against the named peer measured in the same run."
  echo
} > "$tmp"
for b in tests/bench/bench_*.sh; do
  [ -f "$b" ] || continue
  echo "bench: $(basename "$b")" >&2
  bash "$b" >> "$tmp"
  echo >> "$tmp"
done
mv "$tmp" "$out"
cat "$out"
