/*
** vmath — see vmath.h.
**
** How the variants are made: every kernel is written once as plain C over
** blocks of VM_LANES floats (a fixed trip count, selects instead of
** branches), in always_inline bodies. Each body is then wrapped
** three times, in functions compiled with target("avx512f…"), target("avx2")
** and no target attribute. GCC's -O2 vectoriser ("very cheap" cost model)
** takes such loops because the vector code replaces the scalar code whole:
** no runtime alias checks, no epilogue. The last n % VM_LANES elements run
** through the same one-lane functions, so they get the same bits.
**
** No FMA: -std=c11 makes GCC keep a*b+c as two roundings (clang: the pragma
** below), and the targets do not enable FMA, so every variant rounds
** identically (see vmath.h).
**
** Integer work on float bits is done in uint32_t: a NaN input turns into an
** arbitrary exponent there, which must not be signed overflow (UBSan) or a
** float-to-int conversion of NaN (UB in C, trapped by clang's UBSan).
*/
#include "vmath.h"

/* GCC keeps a*b+c as two roundings under -std=c11; clang contracts it to an
** FMA by default wherever the target has one, which would make the AVX2 and
** AVX-512 variants round differently from the baseline. */
#if defined(__clang__)
#pragma clang fp contract(off)
#endif

#include <float.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

/* One AVX-512 vector; two AVX2 or four SSE2 vectors. */
#define VM_LANES 16

#define VM_INLINE static inline __attribute__((always_inline))

VM_INLINE uint32_t vm_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

VM_INLINE float vm_float(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

/* c ? a : b without a branch. GCC will not if-convert a select whose arm is
** arithmetic (the arm could raise an FP exception, -ftrapping-math), which
** leaves the whole loop scalar; integer masks it vectorises. */
VM_INLINE float vm_sel(int c, float a, float b) {
  uint32_t m = 0u - (uint32_t)c;
  return vm_float((vm_bits(a) & m) | (vm_bits(b) & ~m));
}

/* e^x: n = round(x/ln2) by the 1.5·2²³ trick (no conversion instruction,
** NaN-safe), r = x - n·ln2 in two parts (Cody–Waite: n·VM_LN2_HI is exact
** for |n| < 2¹⁵), e^r by a degree-6 polynomial fitted for relative error
** (3e-9 on |r| ≤ ln2/2), then 2ⁿ applied as two factors 2^(n/2)·2^(n-n/2),
** each a normal float, so results down in the subnormal range are rounded
** once, from the exact product. The clamp keeps n in [-150, 128]: below it
** the result is 0, above it the product overflows to +inf. */
#define VM_LN2_HI 0.693359375f
#define VM_LN2_LO -2.12194440e-4f
#define VM_SHIFTER 12582912.0f /* 1.5·2²³ */

/* e^r·2ⁿ for |r| ≲ ln2/2, n two's complement in [-190, 128]. */
VM_INLINE float vm_exp_tail(uint32_t n, float r) {
  float q = 1.38146005e-3f;
  q = q * r + 8.36870968e-3f;
  q = q * r + 4.16683875e-2f;
  q = q * r + 1.66665207e-1f;
  q = q * r + 4.99999935e-1f;
  float p = 1.0f + (r + r * r * q);
  uint32_t n1 = (uint32_t)((int32_t)n >> 1);
  uint32_t n2 = n - n1;
  float s1 = vm_float((n1 + 127u) << 23), s2 = vm_float((n2 + 127u) << 23);
  return p * s1 * s2;
}

VM_INLINE float vm_exp1(float x) {
  x = vm_sel(x > 88.8f, 88.8f, x); /* NaN compares false and stays NaN */
  x = vm_sel(x < -104.0f, -104.0f, x);
  float k = x * 1.44269504f + VM_SHIFTER;
  uint32_t n = vm_bits(k) - vm_bits(VM_SHIFTER); /* two's complement of round(x/ln2) */
  float fn = k - VM_SHIFTER;
  float r = x - fn * VM_LN2_HI;
  r = r - fn * VM_LN2_LO;
  return vm_exp_tail(n, r);
}

/* e^(hi + lo) with hi a float whose low bits matter (GELU's -x²/2, up to
** -128): for 1 ≤ |hi| hi - n·ln2_hi is exact (both are multiples of
** ulp(hi), the difference is below 2), so lo is added to a small number and
** keeps its digits, where hi + lo rounded would lose up to 8e-6 of the
** exponent. (For |hi| < 1 the difference may round, by ≤ 6e-8.)
** Needs hi + lo in [-130, 1]; below -104 the product underflows to 0. */
VM_INLINE float vm_exp_hilo(float hi, float lo) {
  float k = (hi + lo) * 1.44269504f + VM_SHIFTER;
  uint32_t n = vm_bits(k) - vm_bits(VM_SHIFTER);
  float fn = k - VM_SHIFTER;
  float r = (hi - fn * VM_LN2_HI) + lo;
  r = r - fn * VM_LN2_LO;
  return vm_exp_tail(n, r);
}

/* GELU as x·Φ(x), Φ(x) = erfc(-x/√2)/2. With a = |x|/√2,
**   erfc(a) = t·exp(P(t - 0.58) - a²),  t = 1/(1 + a/2),
** P of degree 10 fitted (minimax, Lawson) to log(erfc(a)/t) + a² on
** a ∈ [0, 10.5]: 6.7e-9 absolute in the exponent, i.e. relative in erfc.
** (The form is the one of Numerical Recipes' erfcc; the coefficients are our
** own fit, centred at 0.58 so the Horner sums stay small.) One formula for
** all a, so no select between pieces; Φ(x) = 1 - erfc/2 for x ≥ 0 and
** erfc/2 for x < 0, so the negative tail is not a difference of near-equal
** numbers. |x| is clamped to 16 for Φ (there Φ is 0 or 1 in float, and the
** exponent stays finite); x = -inf is clamped to -FLT_MAX before the product
** so that -inf·0 does not make NaN. */
VM_INLINE float vm_gelu1(float x) {
  float ax = fabsf(x);
  ax = vm_sel(ax > 16.0f, 16.0f, ax); /* Φ is 0 or 1 in float long before */
  float a = ax * 0.707106781f;
  float t = 1.0f / (1.0f + 0.5f * a);
  float u = t - 0.58f;
  float p = -1.337062486e-01f;
  p = p * u + 1.494084471e-01f;
  p = p * u + 1.338447204e-01f;
  p = p * u + -2.487240197e-01f;
  p = p * u + -4.629104442e-02f;
  p = p * u + 2.962030174e-01f;
  p = p * u + -3.965807216e-02f;
  p = p * u + -4.069025177e-01f;
  p = p * u + 9.476401667e-02f;
  p = p * u + 1.368118864e+00f;
  p = p * u + -5.631567905e-01f;
  /* -a² = -x²/2 split as -xh²/2 (exact: xh keeps 12 significant bits) and
  ** -xl·(ax + xh)/2, so the tail's exponent is not rounded at its size. */
  float xh = vm_float(vm_bits(ax) & 0xFFFFF000u), xl = ax - xh;
  float hi = -0.5f * xh * xh, lo = p - 0.5f * xl * (ax + xh);
  float h = 0.5f * t * vm_exp_hilo(hi, lo); /* Φ(-|x|) */
  float phi = vm_sel(x < 0.0f, h, 1.0f - h);
  float xc = vm_sel(x < -FLT_MAX, -FLT_MAX, x);
  return xc * phi;
}

/* ---- the bodies, one per kernel ----
** Inner loops read and write the caller's arrays directly: staging a block
** through a local buffer made GCC copy it in 16-byte pieces and reload it in
** 32-byte ones, a store-forwarding stall per vector. Out-of-place kernels
** come in two versions, in place and restrict, because an unknown overlap
** would need a runtime alias check, which the -O2 cost model refuses. */

VM_INLINE void gelu_body(float *x, size_t n) {
  size_t i = 0;
  for (; i + VM_LANES <= n; i += VM_LANES)
    for (int j = 0; j < VM_LANES; j++) x[i + j] = vm_gelu1(x[i + j]);
  for (; i < n; i++) x[i] = vm_gelu1(x[i]);
}

VM_INLINE void exp_inplace(float *x, size_t n) {
  size_t i = 0;
  for (; i + VM_LANES <= n; i += VM_LANES)
    for (int j = 0; j < VM_LANES; j++) x[i + j] = vm_exp1(x[i + j]);
  for (; i < n; i++) x[i] = vm_exp1(x[i]);
}

VM_INLINE void exp_apart(const float *restrict x, float *restrict y, size_t n) {
  size_t i = 0;
  for (; i + VM_LANES <= n; i += VM_LANES)
    for (int j = 0; j < VM_LANES; j++) y[i + j] = vm_exp1(x[i + j]);
  for (; i < n; i++) y[i] = vm_exp1(x[i]);
}

VM_INLINE void exp_body(const float *x, float *y, size_t n) {
  if (x == y)
    exp_inplace(y, n);
  else
    exp_apart(x, y, n);
}

/* Fixed pairwise order, so the total does not depend on the variant. */
VM_INLINE double vm_hsum(double *s) {
  for (int w = VM_LANES / 2; w >= 1; w /= 2)
    for (int j = 0; j < w; j++) s[j] += s[j + w];
  return s[0];
}

/* The max starts at -FLT_MAX and ignores NaN, as the scalar loop it replaces
** did; exp(x - max) then makes a NaN row NaN. */
VM_INLINE void softmax_row(float *x, size_t n) {
  float m[VM_LANES];
  for (int j = 0; j < VM_LANES; j++) m[j] = -FLT_MAX;
  size_t i = 0;
  for (; i + VM_LANES <= n; i += VM_LANES)
    for (int j = 0; j < VM_LANES; j++) m[j] = x[i + j] > m[j] ? x[i + j] : m[j];
  for (size_t j = 0; i + j < n; j++) m[j] = x[i + j] > m[j] ? x[i + j] : m[j];
  float mx = m[0];
  for (int j = 1; j < VM_LANES; j++) mx = m[j] > mx ? m[j] : mx;

  double s[VM_LANES] = {0};
  for (i = 0; i + VM_LANES <= n; i += VM_LANES)
    for (int j = 0; j < VM_LANES; j++) {
      float e = vm_exp1(x[i + j] - mx);
      x[i + j] = e;
      s[j] += (double)e;
    }
  for (size_t j = 0; i + j < n; j++) {
    float e = vm_exp1(x[i + j] - mx);
    x[i + j] = e;
    s[j] += (double)e;
  }
  float inv = (float)(1.0 / vm_hsum(s));
  for (i = 0; i + VM_LANES <= n; i += VM_LANES)
    for (int j = 0; j < VM_LANES; j++) x[i + j] *= inv;
  for (; i < n; i++) x[i] *= inv;
}

VM_INLINE void softmax_body(float *x, size_t rows, size_t cols) {
  for (size_t r = 0; r < rows; r++) softmax_row(x + r * cols, cols);
}

VM_INLINE void moments_body(const float *x, size_t n, double *mean, double *var) {
  if (n == 0) {
    *mean = 0, *var = 0;
    return;
  }
  double s[VM_LANES] = {0};
  size_t i = 0;
  for (; i + VM_LANES <= n; i += VM_LANES)
    for (int j = 0; j < VM_LANES; j++) s[j] += (double)x[i + j];
  for (size_t j = 0; i + j < n; j++) s[j] += (double)x[i + j];
  double mu = vm_hsum(s) / (double)n;
  double q[VM_LANES] = {0};
  for (i = 0; i + VM_LANES <= n; i += VM_LANES)
    for (int j = 0; j < VM_LANES; j++) {
      double d = (double)x[i + j] - mu;
      q[j] += d * d;
    }
  for (size_t j = 0; i + j < n; j++) {
    double d = (double)x[i + j] - mu;
    q[j] += d * d;
  }
  *mean = mu;
  *var = vm_hsum(q) / (double)n;
}

VM_INLINE void normalize1_inplace(float *x, size_t n, float mean, float inv, float g, float b) {
  size_t i = 0;
  for (; i + VM_LANES <= n; i += VM_LANES)
    for (int j = 0; j < VM_LANES; j++) x[i + j] = (x[i + j] - mean) * inv * g + b;
  for (; i < n; i++) x[i] = (x[i] - mean) * inv * g + b;
}

VM_INLINE void normalize1_apart(const float *restrict x, size_t n, float mean, float inv, float g,
                                float b, float *restrict y) {
  size_t i = 0;
  for (; i + VM_LANES <= n; i += VM_LANES)
    for (int j = 0; j < VM_LANES; j++) y[i + j] = (x[i + j] - mean) * inv * g + b;
  for (; i < n; i++) y[i] = (x[i] - mean) * inv * g + b;
}

VM_INLINE void normalize1_body(const float *x, size_t n, float mean, float inv, float g, float b,
                               float *y) {
  if (x == y)
    normalize1_inplace(y, n, mean, inv, g, b);
  else
    normalize1_apart(x, n, mean, inv, g, b, y);
}

VM_INLINE void normalize_inplace(float *restrict x, size_t n, float mean, float inv,
                                 const float *restrict gamma, const float *restrict beta) {
  size_t i = 0;
  for (; i + VM_LANES <= n; i += VM_LANES)
    for (int j = 0; j < VM_LANES; j++) x[i + j] = (x[i + j] - mean) * inv * gamma[i + j] + beta[i + j];
  for (; i < n; i++) x[i] = (x[i] - mean) * inv * gamma[i] + beta[i];
}

VM_INLINE void normalize_apart(const float *restrict x, size_t n, float mean, float inv,
                               const float *restrict gamma, const float *restrict beta,
                               float *restrict y) {
  size_t i = 0;
  for (; i + VM_LANES <= n; i += VM_LANES)
    for (int j = 0; j < VM_LANES; j++) y[i + j] = (x[i + j] - mean) * inv * gamma[i + j] + beta[i + j];
  for (; i < n; i++) y[i] = (x[i] - mean) * inv * gamma[i] + beta[i];
}

VM_INLINE void normalize_body(const float *x, size_t n, float mean, float inv, const float *gamma,
                              const float *beta, float *y) {
  if (gamma && beta) {
    if (x == y)
      normalize_inplace(y, n, mean, inv, gamma, beta);
    else
      normalize_apart(x, n, mean, inv, gamma, beta, y);
  } else if (!gamma && !beta) {
    normalize1_body(x, n, mean, inv, 1.0f, 0.0f, y);
  } else { /* one of the two: rare, left scalar */
    for (size_t i = 0; i < n; i++)
      y[i] = (x[i] - mean) * inv * (gamma ? gamma[i] : 1.0f) + (beta ? beta[i] : 0.0f);
  }
}

/* ---- the variants ---- */

#define VM_DEFINE(SFX, ATTR)                                                                    \
  ATTR static void gelu_##SFX(float *x, size_t n) { gelu_body(x, n); }                         \
  ATTR static void exp_##SFX(const float *x, float *y, size_t n) { exp_body(x, y, n); }        \
  ATTR static void softmax_##SFX(float *x, size_t rows, size_t cols) {                         \
    softmax_body(x, rows, cols);                                                               \
  }                                                                                            \
  ATTR static void moments_##SFX(const float *x, size_t n, double *mean, double *var) {        \
    moments_body(x, n, mean, var);                                                             \
  }                                                                                            \
  ATTR static void normalize_##SFX(const float *x, size_t n, float mean, float inv,            \
                                   const float *gamma, const float *beta, float *y) {          \
    normalize_body(x, n, mean, inv, gamma, beta, y);                                           \
  }                                                                                            \
  ATTR static void normalize1_##SFX(const float *x, size_t n, float mean, float inv, float g,  \
                                    float b, float *y) {                                       \
    normalize1_body(x, n, mean, inv, g, b, y);                                                 \
  }                                                                                            \
  static const vmath_kernels kernels_##SFX = {#SFX,          gelu_##SFX,      exp_##SFX,        \
                                              softmax_##SFX, moments_##SFX,   normalize_##SFX, \
                                              normalize1_##SFX};

VM_DEFINE(base, )

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define VM_X86 1
/* GCC's generic tuning may prefer 256-bit vectors even with AVX-512 on;
** clang has no such option in the attribute and uses 512 bits when asked
** for avx512f in a function. */
#if defined(__clang__)
#define VM_TARGET_512 __attribute__((target("avx512f,avx512vl,avx2")))
#else
#define VM_TARGET_512 __attribute__((target("avx512f,avx512vl,avx2,prefer-vector-width=512")))
#endif
#define VM_TARGET_256 __attribute__((target("avx2")))
VM_DEFINE(avx2, VM_TARGET_256)
VM_DEFINE(avx512, VM_TARGET_512)
#endif

const vmath_kernels *vmath_kernels_for(vmath_isa isa) {
  switch (isa) {
#ifdef VM_X86
  case VMATH_AVX512:
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")
               ? &kernels_avx512
               : NULL;
  case VMATH_AVX2: return __builtin_cpu_supports("avx2") ? &kernels_avx2 : NULL;
#endif
  case VMATH_BASE: return &kernels_base;
  default: return NULL;
  }
}

vmath_isa vmath_best(void) {
  for (int v = 0; v < VMATH_NVARIANTS; v++)
    if (vmath_kernels_for((vmath_isa)v)) return (vmath_isa)v;
  return VMATH_BASE;
}

/* The variant is chosen on the first call and kept: asking the CPU costs
** about 5 ns a call (bench_vmath's empty_plain against empty_direct), and
** nn.c calls these once per row. Threads racing through the first call
** each store the same pointer, so the race is benign; relaxed order is
** enough because the kernels tables are constant from load time. */
static _Atomic(const vmath_kernels *) chosen;

static const vmath_kernels *best(void) {
  const vmath_kernels *k = atomic_load_explicit(&chosen, memory_order_relaxed);
  if (!k) {
    k = vmath_kernels_for(vmath_best());
    atomic_store_explicit(&chosen, k, memory_order_relaxed);
  }
  return k;
}

void vmath_gelu(float *x, size_t n) { best()->gelu(x, n); }

void vmath_exp(const float *x, float *y, size_t n) { best()->exp(x, y, n); }

void vmath_softmax_rows(float *x, size_t rows, size_t cols) {
  best()->softmax_rows(x, rows, cols);
}

void vmath_moments(const float *x, size_t n, double *mean, double *var) {
  best()->moments(x, n, mean, var);
}

void vmath_normalize(const float *x, size_t n, float mean, float inv, const float *gamma,
                     const float *beta, float *y) {
  best()->normalize(x, n, mean, inv, gamma, beta, y);
}

void vmath_normalize1(const float *x, size_t n, float mean, float inv, float g, float b,
                      float *y) {
  best()->normalize1(x, n, mean, inv, g, b, y);
}
