#!/usr/bin/env bash
# DistilBERT-base text encoder speed: 32-token sentences, one per call, ours
# (f32 and, where the CPU has bf16 hardware, bf16) against PyTorch's best CPU
# mode on the same machine (fp32, bf16 cast, quantize_dynamic int8:
# tests/bench/torch_encoders.py), 1 and 2 threads. Prints a Markdown section;
# appends summary rows to $BENCH_SUMMARY when set.
set -eu
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
export CLAP_ROOT=$PWD
bin=$BUILD/bench/bench_distilbert
[ -x "$bin" ] || make --no-print-directory "$bin" >&2
n=${BENCH_SENTENCES:-50}
load=$(cut -d' ' -f1-3 /proc/loadavg)
get() { sed -n "s/^$1=//p" <<<"$2"; }
. tests/bench/blas_configs.sh
torch_ok=0
/usr/bin/python3 -c 'import torch, sentencepiece' 2>/dev/null && torch_ok=1
torch_time() { [ $torch_ok = 1 ] && torch_encoder_time distilbert "$1" "$2" "$n" || echo n/a n/a; } # mode threads -> "wall cpu"
precs=f32
[ "$(get precision "$("$bin" 1 1 auto)")" = bf16 ] && precs="f32 bf16"
rows=""
for th in 1 2; do
  best_t=n/a
  for mode in fp32 bf16 int8; do
    read -r w c <<<"$(torch_time $mode $th)"
    eval "torch_${mode}_$th=$w"
    best_t=$(minof "$best_t" "$w")
    rows="$rows| $th | PyTorch $mode | $w s | $c s |
"
  done
  eval "torch_best_$th=$best_t"
  best_o=n/a
  for p in $precs; do
    out=$("$bin" "$th" "$n" "$p")
    t=$(get seconds "$out")
    eval "ours_${p}_$th=$t"
    best_o=$(minof "$best_o" "$t")
    rows="$rows| $th | ours $p | $t s | $(get cpu_seconds "$out") s |
"
    last=$out
  done
  eval "ours_best_$th=$best_o"
done
r1=$(div "$ours_best_1" "$torch_best_1"); r2=$(div "$ours_best_2" "$torch_best_2")
f1=$(div "$ours_f32_1" "$torch_fp32_1"); f2=$(div "$ours_f32_2" "$torch_fp32_2")

cat <<MD
## DistilBERT text encoder

DistilBERT-base shapes (vocab 32000, dim 768, 6 layers, 12 heads, hidden 3072), random
weights, ${n} sentences of 32 tokens, one sentence per call, best of 3 runs after a warm-up,
the same thread count on both sides. CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //');
oneDNN dispatches to **$(get dnnl_isa "$last")**; our precisions run: ${precs}. Ours:
ext/encoders/distilbert.c. f32: linears of 32 rows on ext/nn/gemm's $(get gemm_kernel "$last")
small-row kernel (W read in place), attention as per-head small-row products, GELU after lin1.
bf16: linears on oneDNN's matmul (ext/nn/dense.c; weights converted once, on 2 MiB pages),
q, k, v as one 768->2304 product, GELU fused into lin1's product, attention as two float32
batched products over the heads on oneDNN (nn_matmul_batched). Peer: PyTorch
$(/usr/bin/python3 -c 'import torch; print(torch.__version__)' 2>/dev/null || echo unavailable)
torch.nn modules (tests/fixtures/make_distilbert.py) in its three CPU modes, inference_mode,
OMP_WAIT_POLICY=${BENCH_OMP_WAIT_POLICY:-PASSIVE}. Wall clock judged, process CPU time beside
it. Load average at the start: ${load} on $(nproc) cores.

| threads | side | wall (${n} sentences) | CPU |
|---|---|---|---|
${rows}
Ours best vs PyTorch's best mode: 1 thread **${r1}x**, 2 threads **${r2}x** (target ≤ 0.5).
Our f32 vs PyTorch fp32: 1 thread ${f1}x, 2 threads ${f2}x.

Command: \`make bench\` (or \`$bin THREADS SENTENCES f32|bf16\` and
\`/usr/bin/python3 tests/bench/torch_encoders.py distilbert fp32|bf16|int8 THREADS SENTENCES\`).
MD
if [ -n "${BENCH_SUMMARY:-}" ]; then
  met() { awk -v r="$1" -v t="$2" 'BEGIN { if (r == "n/a") print "not measured (peer unavailable)"; else print (r <= t) ? "met" : "**not met**" }'; }
  {
    echo "| DistilBERT-base, 32-token sentences, 1 thread, our best precision vs PyTorch's best mode | ${r1} | ≤ 0.5 | $(met "$r1" 0.5) |"
    echo "| DistilBERT-base, 2 threads, our best precision vs PyTorch's best mode | ${r2} | ≤ 0.5 | $(met "$r2" 0.5) |"
  } >> "$BENCH_SUMMARY"
fi
