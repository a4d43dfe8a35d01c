/*
** vmath — element-wise float32 kernels for the encoders' non-GEMM work
** (GELU, softmax, normalisation), vectorised without -march flags.
**
** The contract:
**   - Every kernel exists in three variants, AVX-512 (avx512f), AVX2 and
**     baseline x86-64 (SSE2; the only one on other architectures), all built
**     from one C source. The public functions use the widest variant the
**     CPU has, chosen on the first call and kept. The variants compute the
**     same operations in the same order without FMA contraction, so they
**     return bit-identical results: an embedding does not depend on the
**     machine that computed it.
**   - Accuracy, measured against double-precision libm over dense grids
**     (tests/unit/test_vmath.c, which asserts the bounds given here):
**       vmath_exp   ≤ 2 ulp relative for normal results (measured 0.95);
**                   subnormal results within 1 ulp of the subnormal (0.72).
**                   Overflow (x > 88.722) gives +inf, x < -103.98 gives +0
**                   (so does -FLT_MAX, a masked logit minus the row max),
**                   +inf gives +inf, -inf gives +0, NaN gives NaN.
**       vmath_gelu  exact-erf GELU, 0.5·x·(1+erf(x/√2)), computed as x·Φ(x)
**                   with Φ from a fitted erfc:
**                   |error| ≤ 1.5e-7·max(1,|x|) for every float x (measured
**                   1.03e-7: the result's own rounding plus ~0.7 of it);
**                   and because the negative side is never 1 + erf(…), the
**                   tail keeps relative accuracy: ≤ 5e-7 (measured 3.7e-7)
**                   for every x in [-13, 0) whose result is a normal float
**                   (below about -13.2 the result is subnormal, below -14.15
**                   it is -0). The libm form 0.5f·x·(1+erff(x/√2)) it
**                   replaces has no relative accuracy below about -4.
**                   +inf gives +inf, -inf and -huge give -0, NaN gives NaN,
**                   ±0 gives ±0, tiny x gives x/2.
**       vmath_softmax_rows  e^(x - max) as vmath_exp (x - max rounded to
**                   float first, as in the scalar code), the row sum in
**                   double, then one float multiply by 1/sum.
**       vmath_moments       sums in double, 16 lanes combined in a fixed
**                   pairwise order, two passes: at least as accurate as a
**                   sequential double loop for any n (HuBERT's group norm
**                   over a minute of audio sums ~10⁶ values).
**   - In place: vmath_gelu and vmath_softmax_rows work in place; vmath_exp
**     and vmath_normalize take y == x, but no other overlap (nor may gamma
**     or beta overlap y).
**   - Any n, including 0, and any float alignment. No allocation, no
**     failure: safe from any number of threads. The one global written is
**     the chosen variant, by the first calls (threads racing there store
**     the same value, atomically).
**   - vmath_kernels_for exposes each variant for tests and benchmarks;
**     callers use the plain functions.
*/
#ifndef CLAP_VMATH_H
#define CLAP_VMATH_H

#include <stddef.h>

/* GELU in place (PyTorch's default, erf form). */
void vmath_gelu(float *x, size_t n);

/* y[i] = e^x[i]. y may equal x. The engine has no caller: this is the exp
** vmath_softmax_rows applies to each x - max, bit for bit, made public so
** that tests/unit/test_vmath.c can measure its accuracy over dense grids
** (the bound above) and check that the softmax uses exactly it. */
void vmath_exp(const float *x, float *y, size_t n);

/* Row-wise softmax in place on x[rows, cols], max-subtracted. A row whose
** entries are all -FLT_MAX (fully masked keys) becomes uniform; a NaN in a
** row, or a +inf, makes that row NaN (as the libm loop it replaces). */
void vmath_softmax_rows(float *x, size_t rows, size_t cols);

/* Mean and population variance of x[0..n), two-pass, in double. n == 0
** gives 0 and 0. */
void vmath_moments(const float *x, size_t n, double *mean, double *var);

/* y[i] = (x[i] - mean)·inv·gamma[i] + beta[i], gamma/beta NULL meaning 1
** and 0. y may equal x. */
void vmath_normalize(const float *x, size_t n, float mean, float inv, const float *gamma,
                     const float *beta, float *y);

/* The same with one gain and offset for all of x: (x[i] - mean)·inv·g + b. */
void vmath_normalize1(const float *x, size_t n, float mean, float inv, float g, float b,
                      float *y);

/* The variants, widest first. */
typedef enum { VMATH_AVX512 = 0, VMATH_AVX2 = 1, VMATH_BASE = 2, VMATH_NVARIANTS = 3 } vmath_isa;

typedef struct vmath_kernels {
  const char *name; /* "avx512", "avx2", "base" */
  void (*gelu)(float *x, size_t n);
  void (*exp)(const float *x, float *y, size_t n);
  void (*softmax_rows)(float *x, size_t rows, size_t cols);
  void (*moments)(const float *x, size_t n, double *mean, double *var);
  void (*normalize)(const float *x, size_t n, float mean, float inv, const float *gamma,
                    const float *beta, float *y);
  void (*normalize1)(const float *x, size_t n, float mean, float inv, float g, float b,
                     float *y);
} vmath_kernels;

/* The kernels of variant `isa`, or NULL if this CPU (or this build) lacks
** it. VMATH_BASE is always there. */
const vmath_kernels *vmath_kernels_for(vmath_isa isa);

/* The variant the plain functions use on this CPU. */
vmath_isa vmath_best(void);

#endif
