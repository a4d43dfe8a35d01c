#!/usr/bin/env bash
# HuBERT-base forward, ours (f32 and, where the CPU has bf16 hardware, bf16)
# against PyTorch's best CPU mode on the same machine: torchaudio's
# hubert_base() as fp32, cast to bfloat16, and quantize_dynamic int8
# (tests/bench/torch_encoders.py), random weights, 10 s of audio, 1 and 2
# threads. Our GFLOP/s against oneDNN's own matmul peak at the precision
# used, our peak RSS against the weights at that precision, and seconds of
# audio per core-second. Prints a Markdown section; appends summary rows to
# $BENCH_SUMMARY when set. The ~360 MB random checkpoint is written once to
# build/bench-hubert/ by a separate run, so peak RSS is the encoder's alone.
set -eu
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
bin=$BUILD/bench/bench_hubert
[ -x "$bin" ] || make --no-print-directory "$bin" >&2
dir=$BUILD/bench-hubert
mkdir -p "$dir"
"$bin" "$dir" 1 0.5 >/dev/null # writes the checkpoint when missing
get() { sed -n "s/^$1=//p" <<<"$2"; }
. tests/bench/blas_configs.sh

torch_ok=0
/usr/bin/python3 -c 'import torch, torchaudio' 2>/dev/null && torch_ok=1
torch_time() { [ $torch_ok = 1 ] && torch_encoder_time hubert "$@" || echo n/a n/a; } # mode threads [lengths] -> "wall cpu"

precs="f32"
bf16_native=$("$bin" "$dir" 1 0.5 auto | sed -n 's/^precision=//p')
[ "$bf16_native" = bf16 ] && precs="f32 bf16"
load=$(cut -d' ' -f1-3 /proc/loadavg)
rows=""
for th in 1 2; do
  best_t=n/a
  for mode in fp32 bf16 int8; do
    read -r w c <<<"$(torch_time $mode $th)"
    eval "torch_${mode}_$th=$w"
    best_t=$(minof "$best_t" "$w")
    rows="$rows| $th | PyTorch $mode | $w s | $c s | | | |
"
  done
  eval "torch_best_$th=$best_t"
  for p in $precs; do
    out=$("$bin" "$dir" "$th" 10 "$p")
    t=$(get encode_seconds "$out")
    eval "ours_${p}_$th=$t"
    eff=$(awk -v g="$(get gflops "$out")" -v k="$(get dense_peak_gflops "$out")" 'BEGIN { printf "%.0f", 100 * g / k }')
    wmb=$(awk -v w="$(get weights_mb "$out")" -v p="$p" 'BEGIN { print (p == "bf16") ? w / 2 : w }')
    rss=$(awk -v r="$(get peak_rss_mb "$out")" -v w="$wmb" 'BEGIN { printf "%.2f", r / w }')
    rate=$(awk -v s="$(get seconds_audio "$out")" -v c="$(get encode_cpu_seconds "$out")" 'BEGIN { printf "%.1f", s / c }')
    eval "eff_${p}_$th=$eff rss_${p}_$th=$rss sha_${p}_$th=$(get out_sha256 "$out")"
    rows="$rows| $th | ours $p | $t s | $(get encode_cpu_seconds "$out") s | $(get gflops "$out") of $(get dense_peak_gflops "$out") (${eff}%) | $(get peak_rss_mb "$out") MB (${rss}× $p weights) | $rate |
"
    last=$out
  done
done

# A corpus: one clip of each length, each met for the first time (every
# new length is a new shape for both sides' primitives), after a warm-up.
corpus=$(awk 'BEGIN { for (i = 0; i < 16; i++) printf "%s%.2f", i ? "," : "", 0.8 + 0.45 * i }')
crows=""
for th in 1 2; do
  cbest_t=n/a
  for mode in fp32 bf16 int8; do
    read -r w c <<<"$(torch_time $mode $th "$corpus")"
    eval "ctorch_${mode}_$th=$w"
    cbest_t=$(minof "$cbest_t" "$w")
    crows="$crows| $th | PyTorch $mode | $w s | $c s | |
"
  done
  eval "ctorch_best_$th=$cbest_t"
  for p in $precs; do
    out=$("$bin" "$dir" "$th" "$corpus" "$p")
    t=$(get corpus_seconds "$out")
    eval "cours_${p}_$th=$t"
    caudio=$(get corpus_audio_seconds "$out")
    rate=$(awk -v s="$caudio" -v c="$(get corpus_cpu_seconds "$out")" 'BEGIN { printf "%.1f", s / c }')
    crows="$crows| $th | ours $p | $t s | $(get corpus_cpu_seconds "$out") s | $rate |
"
  done
done
ours_best() { eval "local a=\$ours_f32_$1 b=\${ours_bf16_$1:-n/a}"; minof "$a" "$b"; }
cours_best() { eval "local a=\$cours_f32_$1 b=\${cours_bf16_$1:-n/a}"; minof "$a" "$b"; }
cr1=$(div "$(cours_best 1)" "$ctorch_best_1"); cr2=$(div "$(cours_best 2)" "$ctorch_best_2")
cf1=$(div "$cours_f32_1" "$ctorch_fp32_1"); cf2=$(div "$cours_f32_2" "$ctorch_fp32_2")
r1=$(div "$(ours_best 1)" "$torch_best_1"); r2=$(div "$(ours_best 2)" "$torch_best_2")
f1=$(div "$ours_f32_1" "$torch_fp32_1"); f2=$(div "$ours_f32_2" "$torch_fp32_2")
judged=${precs##* }
# f32's promise: the thread count changes no bit of the output
same_bits=no
[ -n "$sha_f32_1" ] && [ "$sha_f32_1" = "$sha_f32_2" ] && same_bits=yes
peer_note="PyTorch $(/usr/bin/python3 -c 'import torch, torchaudio; print(torch.__version__ + ", torchaudio " + torchaudio.__version__)' 2>/dev/null || echo '(unavailable: import torch/torchaudio fails)')"

cat <<EOF
## HuBERT-base encoder

Full-size HuBERT-base (12 layers, 768 hidden, conv stack 7x512; $(get weights_mb "$last") MB of
F32 weights, random) on 10 s of 16 kHz audio ($(get frames "$last") frames, $(get gflop "$last")
GFLOP per forward), best of 3 after a warm-up. CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //');
oneDNN dispatches to **$(get dnnl_isa "$last")**; our precisions run: ${precs}. Peer: ${peer_note},
\`hubert_base()\` in its three CPU modes (fp32; bf16: weight norm folded, model and input cast
to bfloat16; int8: \`quantize_dynamic\` over the linears), \`torch.set_num_threads\` equal to
ours, inference_mode, OMP_WAIT_POLICY=${BENCH_OMP_WAIT_POLICY:-PASSIVE}. Wall clock is the time
judged; process CPU time beside it. Load average at the start: ${load} on $(nproc) cores.

Ours (ext/nn/dense.c), at the precision: the linears are oneDNN matmuls (GELU fused into the
first feed-forward one), conv layers 1-6 and the positional conv are oneDNN convolutions (bias
and GELU fused; at bf16 layers 1-6 are matmuls over the windows written as bfloat16 rows), conv
layer 0 a oneDNN float32 product (its group norm folded per call, GELU fused). At bf16 the
attention products (q·kᵀ per head with the scale fused, softmax·v) are oneDNN bf16 matmuls, with
the activations that only feed the next product kept in bfloat16; at f32 they stay on OpenBLAS
sgemm (oneDNN's float32 kernel for these strided per-head shapes measured 1% faster for HuBERT
and slower for DistilBERT's 32-token heads). Softmax and the layer norms are float32 at both
precisions; every parallel region on the same OpenMP pool, and a product inside a region's
task runs on one thread. f32 pooled vector at 1 and 2 threads: sha256 ${sha_f32_1:-n/a} and
${sha_f32_2:-n/a}, **same bits: ${same_bits}** (the f32 promise; checked on every run). Efficiency is our forward's GFLOP/s against
oneDNN's own 1024³ matmul at the same precision and thread count in the same process (target
≥ 70%); RSS is against the weights at the precision used (target ≤ 1.2×); the last column is
seconds of audio encoded per CPU-second.

| threads | side | wall | CPU | GFLOP/s (share of oneDNN peak) | peak RSS | audio s per core-s |
|---|---|---|---|---|---|---|
${rows}
Ours best vs PyTorch's best mode: 1 thread **${r1}x**, 2 threads **${r2}x** (target ≤ 0.5).
Our f32 vs PyTorch fp32: 1 thread **${f1}x**, 2 threads **${f2}x** (target ≤ 0.8).

Command: \`make bench\` (or \`$bin $dir THREADS 10 f32|bf16\`, and
\`/usr/bin/python3 tests/bench/torch_encoders.py hubert fp32|bf16|int8 THREADS\`).

### HuBERT-base on a corpus of utterance lengths

A corpus is not one 10 s clip: utterances run from under a second to several, and each new
length is a new shape for every primitive that both sides make per shape. Here each side,
after the same warm-up on 10 s, encodes one clip of each of 16 lengths once (${corpus} s,
${caudio} s of audio) and is timed over the whole pass; best of three passes, each one frame
(20 ms) longer per clip than the last, so that every pass meets its lengths for the first time. Under 82 frames (f32) or 255 (bf16)
oneDNN 2.6 has only its reference loop for the positional conv in the weights' layout; such
inputs are zero-extended to the fewest frames that get a real kernel (ext/nn/dense.h;
before that, a 3 s clip took 21 s in bf16).

| threads | side | wall | CPU | audio s per core-s |
|---|---|---|---|---|
${crows}
Ours best vs PyTorch's best mode: 1 thread **${cr1}x**, 2 threads **${cr2}x** (≤ 0.5, as for 10 s).
Our f32 vs PyTorch fp32: 1 thread **${cf1}x**, 2 threads **${cf2}x** (≤ 0.8, as for 10 s).

Command: \`make bench\` (or \`$bin $dir THREADS ${corpus} f32|bf16\`, and
\`/usr/bin/python3 tests/bench/torch_encoders.py hubert fp32|bf16|int8 THREADS ${corpus}\`).
EOF
if [ -n "${BENCH_SUMMARY:-}" ]; then
  met() { awk -v r="$1" -v t="$2" -v d="$3" 'BEGIN { if (r == "n/a") print "not measured (peer unavailable)"; else if ((d == "le" && r <= t) || (d == "ge" && r >= t)) print "met"; else print "**not met**" }'; }
  eval "e1=\$eff_${judged}_1 e2=\$eff_${judged}_2 s1=\$rss_${judged}_1 s2=\$rss_${judged}_2"
  {
    echo "| HuBERT-base 10 s, 1 thread, our best precision vs PyTorch's best mode (fp32/bf16/int8) | $r1 | ≤ 0.5 | $(met "$r1" 0.5 le) |"
    echo "| HuBERT-base 10 s, 2 threads, our best precision vs PyTorch's best mode | $r2 | ≤ 0.5 | $(met "$r2" 0.5 le) |"
    echo "| HuBERT-base 10 s, our f32 vs PyTorch fp32, 1 / 2 threads | $f1 / $f2 | ≤ 0.8 | $(met "$f1" 0.8 le) / $(met "$f2" 0.8 le) |"
    echo "| HuBERT-base $judged GFLOP/s vs oneDNN's $judged matmul peak, 1 / 2 threads | $e1% / $e2% | ≥ 70% | $(met "$e1" 70 ge) / $(met "$e2" 70 ge) |"
    echo "| HuBERT-base $judged peak RSS vs $judged weights, 1 / 2 threads | $s1 / $s2 | ≤ 1.2 | $(met "$s1" 1.2 le) / $(met "$s2" 1.2 le) |"
    echo "| HuBERT-base corpus of 16 lengths (0.8-7.55 s), our best precision vs PyTorch's best mode, 1 / 2 threads | $cr1 / $cr2 | ≤ 0.5 | $(met "$cr1" 0.5 le) / $(met "$cr2" 0.5 le) |"
    echo "| HuBERT-base corpus of 16 lengths, our f32 vs PyTorch fp32, 1 / 2 threads | $cf1 / $cf2 | ≤ 0.8 | $(met "$cf1" 0.8 le) / $(met "$cf2" 0.8 le) |"
    echo "| HuBERT-base f32 pooled vector, 1 vs 2 threads: the same bits | $same_bits | yes | $([ $same_bits = yes ] && echo met || echo '**not met**') |"
  } >> "$BENCH_SUMMARY"
fi
