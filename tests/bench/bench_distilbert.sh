#!/usr/bin/env bash
# DistilBERT-base text encoder speed: sentences/s on 32-token sentences (one
# per call) vs the same model in PyTorch (torch.nn modules, Debian's
# python3-torch), same thread count, same run, 1 and $(nproc) threads, under
# two BLAS configurations (see below). Ratio = C time / PyTorch time.
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
/usr/bin/python3 -c 'import torch' 2>/dev/null && torch_ok=1
max_th=$(nproc)
rows=""
threads_list="1"
[ "$max_th" -gt 1 ] && threads_list="1 $max_th"
for th in $threads_list; do
  eval "ours_$th=n/a theirs_$th=n/a"
  for cfg in machine avx512; do
    c=$($(cfg_env $cfg) OPENBLAS_NUM_THREADS=$th "$bin" "$th" "$n")
    c_s=$(get seconds "$c")
    p_s=n/a p_cpu=n/a p_sps=n/a
    if [ $torch_ok = 1 ]; then
      p=$($(cfg_env $cfg) OMP_WAIT_POLICY=${BENCH_OMP_WAIT_POLICY:-PASSIVE} OMP_NUM_THREADS=$th OPENBLAS_NUM_THREADS=$th /usr/bin/python3 tests/bench/bench_distilbert.py "$th" "$n")
      p_s=$(get seconds "$p") p_cpu=$(get cpu_seconds "$p") p_sps=$(get sentences_per_second "$p")
      torch_v=$(get torch "$p")
    fi
    eval "prev=\$ours_$th"; eval "ours_$th=$(minof "$prev" "$c_s")"
    eval "prev=\$theirs_$th"; eval "theirs_$th=$(minof "$prev" "$p_s")"
    rows="$rows| $th | $cfg ($(get blas_core "$c")) | $(get sentences_per_second "$c") /s (${c_s} s) | ${p_sps} /s (${p_s} s) | $(div "$c_s" "$p_s")x | $(get cpu_seconds "$c") s / ${p_cpu} s ($(div "$(get cpu_seconds "$c")" "$p_cpu")x) |
"
    last=$c
  done
done
r1=$(div "$ours_1" "$theirs_1")
rN=$(div "$(eval echo \$ours_$max_th)" "$(eval echo \$theirs_$max_th)")
best_ours=$(minof "$ours_1" "$(eval echo \$ours_$max_th)")
best_theirs=$(minof "$theirs_1" "$(eval echo \$theirs_$max_th)")
best_ratio=$(div "$best_ours" "$best_theirs")
peer="PyTorch ${torch_v:-(unavailable: \`/usr/bin/python3 -c 'import torch'\` fails)}"

cat <<MD
## DistilBERT text encoder

DistilBERT-base shapes (vocab 32000, dim 768, 6 layers, 12 heads, hidden 3072), random
weights, ${n} sentences of 32 tokens, one sentence per call, best of 3 runs after 3 warm-up
sentences, the same thread count on both sides. Ours: ext/encoders/distilbert.c, its linears and
attention on ext/nn/gemm.c's $(get gemm_kernel "$last") small-row kernel (W read in place, no
packing). Peer: ${peer}, torch.nn modules, no_grad, OMP_WAIT_POLICY=${BENCH_OMP_WAIT_POLICY:-PASSIVE}.
Both run under two BLAS configurations: **machine** is the environment as it is
(\`OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}\`), **avx512** unsets it so OpenBLAS picks its
AVX-512 kernels and sets \`ATEN_CPU_CAPABILITY=avx512\` for PyTorch (the core OpenBLAS reported
is in brackets). Wall clock is judged; process CPU time beside it. Load average at the start:
${load} on $(nproc) cores (a busy machine slows both sides; the ratio is the figure to read).

| threads | BLAS configuration | ours | PyTorch | ours / PyTorch | CPU time, ours / PyTorch |
|---|---|---|---|---|---|
${rows}
Best of each side over both configurations: 1 thread **${r1}x**, ${max_th} threads **${rN}x**;
best of either thread count: ours ${best_ours} s, PyTorch ${best_theirs} s, **${best_ratio}x**
(target: at most 0.6x). Checkpoint load (mmap, 270 MB F32): $(get load_seconds "$last") s.

Command: \`make bench\` (or \`$bin THREADS SENTENCES\` and
\`/usr/bin/python3 tests/bench/bench_distilbert.py THREADS SENTENCES\`).
MD
if [ -n "${BENCH_SUMMARY:-}" ]; then
  met() { awk -v r="$1" 'BEGIN { if (r == "n/a") print "not measured (peer unavailable)"; else print (r <= 0.6) ? "met" : "**not met**" }'; }
  {
    echo "| DistilBERT-base, 32-token sentences, 1 thread, time vs PyTorch (best of both BLAS configurations each) | ${r1} | ≤ 0.6 | $(met "$r1") |"
    echo "| DistilBERT-base, 32-token sentences, ${max_th} threads, time vs PyTorch (best of both configurations each) | ${rN} | ≤ 0.6 | $(met "$rN") |"
    echo "| DistilBERT-base, our best time vs PyTorch's best time (either thread count) | ${best_ratio} | ≤ 0.6 | $(met "$best_ratio") |"
  } >> "$BENCH_SUMMARY"
fi
