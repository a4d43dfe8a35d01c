#!/usr/bin/env bash
# float32 products at the project's shapes: OpenBLAS, ext/nn/gemm (as it
# stands) and oneDNN, in GFLOP/s, at 1 and BENCH_THREADS (default 2) threads.
# Prints a Markdown section; appends one summary row to $BENCH_SUMMARY when set:
# whether the kept hand-written kernel still beats oneDNN at DistilBERT's
# 32-row linears (the reason it is kept, ext/nn/gemm.h).
set -eu
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
bin=$BUILD/bench/bench_gemm
[ -x "$bin" ] || make --no-print-directory "$bin" >&2
threads=${BENCH_THREADS:-2}
load=$(cut -d' ' -f1-3 /proc/loadavg)
one=$("$bin" 1)
two=$("$bin" "$threads")
get() { sed -n "s/^$1=//p" <<<"$one"; }
table() { grep '^|' <<<"$1"; }

cat <<EOF2
## float32 products: ext/nn/gemm, oneDNN and OpenBLAS

Which product wins at the shapes the project multiplies (tests/bench/bench_gemm.c): OpenBLAS
(one \`cblas_sgemm\` call on its own threads), ext/nn/gemm's \`gemm_linear_ld\` as it stands
(its AVX-512 broadcast kernel up to 64 rows of at least 768 inputs, \`cblas_sgemm\`
elsewhere; x·Wᵀ + b only, "n/a" for other layouts) and oneDNN's float32 matmul (\`nn_matmul\`,
the primitive \`nn_dense\` runs), in GFLOP/s, best of 11 rounds, wall clock; weights over 4 MB
rotate through 6 copies so each call streams them from memory as an encoder does. oneDNN ISA
**$(get dnnl_isa)**, OpenBLAS core $(get openblas_core). Load average at the start: ${load} on
$(nproc) cores. Why each kernel that was cut went, and the figures of the cut: NOTES.md
("ext/nn/gemm keeps one kernel").

1 thread:

$(table "$one")

${threads} threads:

$(table "$two")

Command: \`make bench\` (or \`build/bench/bench_gemm THREADS\`; \`build/bench/bench_gemm 1 16,32,64,96,128\`
sweeps the rows where the kept kernel stops winning).
EOF2

if [ -n "${BENCH_SUMMARY:-}" ]; then
  # Kept kernel vs oneDNN on DistilBERT's three 32-row linears, 1 thread.
  r=$(grep '^| DistilBERT \(linear\|FF\)' <<<"$one" |
      awk -F'|' '{ g = $5 + 0; d = $6 + 0; if (d > 0) { s += g / d; n++ } } END { if (n) printf "%.2f", s / n }')
  verdict=$(awk -v r="$r" 'BEGIN { print (r >= 1 ? "kept: wins" : "loses: remove it") }')
  echo "| ext/nn/gemm's kept AVX-512 kernel vs oneDNN f32, DistilBERT's 32-row linears, 1 thread (mean GFLOP/s ratio) | ${r}× | ≥ 1 to keep it | ${verdict} |" >> "$BENCH_SUMMARY"
fi
