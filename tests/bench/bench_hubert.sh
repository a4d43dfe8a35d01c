#!/usr/bin/env bash
# HuBERT-base forward, ours vs torchaudio's hubert_base() (random weights,
# same shapes, same 10 s input length, same thread count), 1 and 2 threads.
set -eu
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
bin=$BUILD/bench/bench_hubert
[ -x "$bin" ] || make --no-print-directory "$bin" >&2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
get() { sed -n "s/^$1=//p" <<<"$2"; }

torch_time() { # threads -> best of 3 seconds, or "n/a"
  /usr/bin/python3 - "$1" <<'PY' 2>/dev/null || echo n/a
import sys, time, torch, torchaudio
torch.set_num_threads(int(sys.argv[1]))
m = torchaudio.models.hubert_base().eval()
x = torch.rand(1, 160000) * 0.6 - 0.3
best = 1e9
with torch.inference_mode():
    m(x)
    for _ in range(3):
        t = time.perf_counter(); m(x); best = min(best, time.perf_counter() - t)
print(f"{best:.3f}")
PY
}

rows=""
for th in 1 2; do
  out=$("$bin" "$dir" "$th" 10)
  ours=$(get encode_seconds "$out")
  theirs=$(torch_time "$th")
  ratio=$(awk -v a="$ours" -v b="$theirs" 'BEGIN { if (b == "n/a") print "n/a"; else printf "%.2f", a / b }')
  eff=$(awk -v g="$(get gflops "$out")" -v p="$(get sgemm_peak_gflops "$out")" 'BEGIN { printf "%.0f", 100 * g / p }')
  rows="$rows| $th | ${ours} s | ${theirs} s | **${ratio}x** | $(get gflops "$out") | $(get sgemm_peak_gflops "$out") (${eff}%) | $(get peak_rss_mb "$out") MB |
"
  last=$out
done

cat <<EOF
## HuBERT-base encoder

Full-size HuBERT-base (12 layers, 768 hidden, conv stack 7x512; $(get weights_mb "$last") MB of
F32 weights, random) on 10 s of 16 kHz audio ($(get frames "$last") frames,
$(get gflop "$last") GFLOP per forward), best of 3. Peer: torchaudio $(/usr/bin/python3 -c 'import torchaudio; print(torchaudio.__version__)' 2>/dev/null || echo n/a)
\`hubert_base()\` in the same run with \`torch.set_num_threads\` equal to ours.

| threads | ours | torchaudio | ours / torchaudio | our GFLOP/s | sgemm peak GFLOP/s (share) | our peak RSS |
|---|---|---|---|---|---|---|
${rows}
Load (mmap + weight-norm fold): $(get load_seconds "$last") s. Widening F16 to F32 for all
94M weights (what loading an F16 file costs extra): $(get f16_widen_seconds "$last") s.
Peak RSS includes the mapped weights ($(get weights_mb "$last") MB) and the benchmark's own
random-weight generation on first run.

Command: \`make bench\` (or \`$bin DIR THREADS [SECONDS]\`).
EOF
