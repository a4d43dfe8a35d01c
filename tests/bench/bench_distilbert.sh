#!/usr/bin/env bash
# DistilBERT-base text encoder speed: sentences/s on 32-token sentences (one
# per call) vs the same model in PyTorch (torch.nn modules, Debian's
# python3-torch), same thread count, same run. Ratio = C time / PyTorch time.
set -eu
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
export CLAP_ROOT=$PWD
bin=$BUILD/bench/bench_distilbert
[ -x "$bin" ] || make --no-print-directory "$bin" >&2
threads=${BENCH_THREADS:-$(nproc)}
load=$(cut -d' ' -f1-3 /proc/loadavg)
n=${BENCH_SENTENCES:-50}
c=$(OPENBLAS_NUM_THREADS=$threads "$bin" "$threads" "$n")
get() { sed -n "s/^$1=//p" <<<"$2"; }
c_sps=$(get sentences_per_second "$c")
c_s=$(get seconds "$c")
load_s=$(get load_seconds "$c")
c_threads=$(get threads "$c")
kernel=$(get gemm_kernel "$c")

py_line="peer unavailable (\`/usr/bin/python3 -c 'import torch'\` fails)"
ratio="n/a"
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  p=$(OMP_WAIT_POLICY=${BENCH_OMP_WAIT_POLICY:-PASSIVE} OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads /usr/bin/python3 tests/bench/bench_distilbert.py "$threads" "$n")
  p_sps=$(get sentences_per_second "$p")
  p_s=$(get seconds "$p")
  ratio=$(awk -v c="$c_s" -v p="$p_s" 'BEGIN { printf "%.2f", c / p }')
  libblas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || echo unknown)
  py_line="${p_sps} sentences/s (${p_s} s; torch $(get torch "$p"), BLAS_INFO=$(get blas "$p"), libblas.so.3 = ${libblas})"
fi

cat <<MD
## DistilBERT text encoder

DistilBERT-base shapes (vocab 32000, dim 768, 6 layers, 12 heads, hidden 3072), random
weights, ${n} sentences of 32 tokens, one sentence per call, ${c_threads} thread(s) for both,
best of 3 runs after 3 warm-up sentences. Load average at the start: ${load} on $(nproc) cores
(a busy machine slows both sides; the ratio is the figure to read).

| measure | value |
|---|---|
| C (ext/distilbert.c; linears and attention on ext/gemm.c's ${kernel} small-row kernel, W read in place) | ${c_sps} sentences/s (${c_s} s) |
| PyTorch, torch.nn modules, no_grad, OMP_WAIT_POLICY=${BENCH_OMP_WAIT_POLICY:-PASSIVE} (peer) | ${py_line} |
| time ratio C / PyTorch | **${ratio}x** (target: at most 0.6x) |
| checkpoint load (mmap, 270 MB F32) | ${load_s} s |

Command: \`make bench\` (or \`$bin THREADS SENTENCES\`).
MD
if [ -n "${BENCH_SUMMARY:-}" ]; then
  verdict=$(awk -v r="$ratio" 'BEGIN { if (r == "n/a") print "not measured (peer unavailable)"; else print (r <= 0.6) ? "met" : "**not met**" }')
  echo "| DistilBERT-base, 32-token sentences, ${c_threads} thread(s), time vs PyTorch (${c_sps} sentences/s) | ${ratio} | ≤ 0.6 | ${verdict} |" >> "$BENCH_SUMMARY"
fi
