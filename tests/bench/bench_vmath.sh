#!/usr/bin/env bash
# Element-wise kernels (ext/nn/vmath.c) against the scalar libm loops nn.c had
# before: ns per element on one thread, thread CPU clock, best of 5, every
# variant this CPU has. Prints a Markdown section; appends summary rows to
# $BENCH_SUMMARY when set.
set -eu
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
bin=$BUILD/bench/bench_vmath
[ -x "$bin" ] || make --no-print-directory "$bin" >&2
load=$(cut -d' ' -f1-3 /proc/loadavg)
out=$("$bin")
get() { sed -n "s/^$1=//p" <<<"$out"; }
best=$(get best)
variants=$(sed -n 's/^gelu_\(avx512\|avx2\|base\)=.*/\1/p' <<<"$out" | tr '\n' ' ')
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b / a }'; }

row() { # kernel peer-key peer-label what
  local k=$1 peer=$2 label=$3 what=$4 cells="" v
  for v in $variants; do cells="$cells $(get "${k}_$v") |"; done
  echo "| $what | $(get "${k}_$peer") ($label) |$cells **$(ratio "$(get "${k}_$best")" "$(get "${k}_$peer")")×** |"
}
head_cells=""
sep=""
for v in $variants; do head_cells="$head_cells vmath $v |"; sep="$sep---|"; done

cat <<EOF
## Element-wise kernels (vmath)

GELU (exact erf), exp, row softmax and layer norm: ext/nn/vmath.c's kernels against the scalar
loops nn.c used before (libm \`erff\`/\`expf\`, double-accumulated layer norm), in ns per
element, one thread, thread CPU clock, best of 5 samples of ≥ 20 ms. The variants are one C
source compiled for AVX-512, AVX2 and baseline x86-64, chosen by CPU on the first call; they
return bit-identical results. This CPU uses **${best}**. A call's fixed cost (\`vmath_moments\`
with n = 0): $(get empty_plain) ns through the plain function, $(get empty_direct) ns through the
variant's pointer; one 768-float layer-norm row: $(get row_layernorm_plain) and
$(get row_layernorm_direct) ns. Load average at the start: ${load} on
$(nproc) cores.

| kernel (input) | scalar peer, ns/elem |${head_cells} speed-up (${best}) |
|---|---|${sep}---|
$(row gelu libm 'libm erff loop' 'GELU (64 Ki values in [-6, 6])')
$(row exp libm 'libm expf loop' 'exp (64 Ki values in [-30, 0])')
$(row softmax libm 'expf, double sum' 'row softmax (499 × 499 attention logits)')
$(row layernorm double 'double loop' 'layer norm (499 × 768, with γ, β)')

Accuracy (asserted by tests/unit/test_vmath.c): GELU within 1.5e-7·max(1,|x|) of the
double-precision erf form for every float, exp within 2 ulp (measured 0.95). In HuBERT-base
these kernels were ~20% of a one-thread forward (50 M GELUs, 36 M exps per 10 s of audio).

Command: \`make bench\` (or \`$bin\`).
EOF
if [ -n "${BENCH_SUMMARY:-}" ]; then
  g=$(ratio "$(get "gelu_$best")" "$(get gelu_libm)")
  s=$(ratio "$(get "softmax_$best")" "$(get softmax_libm)")
  echo "| GELU per element, one core, thread CPU clock: speed-up over the libm \`erff\` loop (${best}) | ${g}× | none set | — |" >> "$BENCH_SUMMARY"
  echo "| row softmax per element, one core, thread CPU clock: speed-up over the libm \`expf\` loop (${best}) | ${s}× | none set | — |" >> "$BENCH_SUMMARY"
fi
