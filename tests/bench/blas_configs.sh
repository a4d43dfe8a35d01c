# Sourced by the encoder benches (bench_hubert.sh, bench_distilbert.sh): the
# two BLAS configurations both sides run under, and the arithmetic on
# figures that may be "n/a" (peer unavailable).
#
# "machine": the environment as it is (this machine sets OPENBLAS_CORETYPE=
# Haswell, pinning OpenBLAS to its AVX2 kernels); "avx512": OpenBLAS picks its
# AVX-512 kernels and PyTorch its AVX-512 ATen kernels. Our ext/nn/gemm and
# ext/nn/vmath kernels pick AVX-512 by themselves when the CPU has it, so the
# judged ratio is our best over both against PyTorch's best over both.
cfg_env() {
  case $1 in
    machine) echo env ;;
    avx512) echo "env -u OPENBLAS_CORETYPE ATEN_CPU_CAPABILITY=avx512" ;;
  esac
}
minof() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "n/a") print b; else if (b == "n/a") print a; else print (a + 0 < b + 0) ? a : b }'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "n/a" || b == "n/a") print "n/a"; else printf "%.2f", a / b }'; }

# PyTorch's time for one encoder mode (tests/bench/torch_encoders.py ARGS...):
# "wall cpu" of its best wall over the configurations (machine, and avx512
# where this machine pins OpenBLAS with OPENBLAS_CORETYPE), "n/a n/a" if none ran.
torch_encoder_time() {
  local configs="machine" best="n/a n/a" cfg r threads=$3
  [ -n "${OPENBLAS_CORETYPE:-}" ] && configs="machine avx512"
  for cfg in $configs; do
    r=$($(cfg_env $cfg) OMP_WAIT_POLICY=${BENCH_OMP_WAIT_POLICY:-PASSIVE} OMP_NUM_THREADS=$threads \
      /usr/bin/python3 tests/bench/torch_encoders.py "$@" 2>/dev/null) || continue
    if [ "${best% *}" = n/a ] || [ "$(minof "${best% *}" "${r% *}")" = "${r% *}" ]; then best=$r; fi
  done
  echo "$best"
}
