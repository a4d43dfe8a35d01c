/*
** bench_vmath — the element-wise kernels against the scalar libm loops they
** replaced in nn.c, on one thread, timed on the thread CPU clock (best of 5).
** Every variant this CPU has is timed; "best" is what the encoders use.
**
**   build/bench/bench_vmath
** Prints key=value lines, ns per element:
**   gelu_libm, gelu_<variant>     (64 Ki activations uniform in [-6, 6])
**   exp_libm, exp_<variant>       (64 Ki values uniform in [-30, 0])
**   softmax_libm, softmax_<variant>   (499 x 499 logits: 10 s of HuBERT)
**   layernorm_double, layernorm_<variant> (499 x 768 rows)
**   row_<kernel>_plain, row_<kernel>_direct   ns per call on one row of 768
**       floats (gelu, exp, softmax, layernorm = moments + normalize), through
**       the plain functions and through the best variant's pointers: the
**       difference is what choosing the variant costs a call
** and best=<variant>.
*/
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmath.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float frand(float lo, float hi) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return lo + (hi - lo) * (float)((double)(rng >> 11) / 9007199254740992.0);
}

static double cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* The loops nn.c had before vmath. */
static void gelu_libm(float *x, size_t n) {
  for (size_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * (float)M_SQRT1_2));
}
static void exp_libm(const float *x, float *y, size_t n) {
  for (size_t i = 0; i < n; i++) y[i] = expf(x[i]);
}
static void softmax_libm(float *x, size_t rows, size_t cols) {
  for (size_t r = 0; r < rows; r++) {
    float *xr = x + r * cols, mx = -FLT_MAX;
    for (size_t j = 0; j < cols; j++)
      if (xr[j] > mx) mx = xr[j];
    double sum = 0;
    for (size_t j = 0; j < cols; j++) sum += xr[j] = expf(xr[j] - mx);
    float inv = (float)(1.0 / sum);
    for (size_t j = 0; j < cols; j++) xr[j] *= inv;
  }
}
static void layernorm_double(const float *x, size_t rows, size_t d, const float *g,
                             const float *b, float *y) {
  for (size_t r = 0; r < rows; r++) {
    const float *xr = x + r * d;
    double sum = 0, sq = 0;
    for (size_t j = 0; j < d; j++) sum += xr[j];
    double mean = sum / d;
    for (size_t j = 0; j < d; j++) sq += (xr[j] - mean) * (xr[j] - mean);
    float inv = (float)(1.0 / sqrt(sq / d + 1e-5)), m = (float)mean;
    for (size_t j = 0; j < d; j++) y[r * d + j] = (xr[j] - m) * inv * g[j] + b[j];
  }
}
static void layernorm_vmath(const vmath_kernels *k, const float *x, size_t rows, size_t d,
                            const float *g, const float *b, float *y) {
  for (size_t r = 0; r < rows; r++) {
    double mean, var;
    k->moments(x + r * d, d, &mean, &var);
    k->normalize(x + r * d, d, (float)mean, (float)(1.0 / sqrt(var + 1e-5)), g, b, y + r * d);
  }
}

enum { N = 65536, T = 499, D = 768 };
static float src[T * D], work[T * D], gam[D], bet[D];

typedef enum { GELU, EXP, SOFTMAX, LAYERNORM } op;

/* One timed call of `o` by kernel set k (NULL: the libm/double loop). */
static size_t call(op o, const vmath_kernels *k) {
  switch (o) {
  case GELU:
    memcpy(work, src, N * sizeof *work);
    k ? k->gelu(work, N) : gelu_libm(work, N);
    return N;
  case EXP: k ? k->exp(src, work, N) : exp_libm(src, work, N); return N;
  case SOFTMAX:
    memcpy(work, src, (size_t)T * T * sizeof *work);
    k ? k->softmax_rows(work, T, T) : softmax_libm(work, T, T);
    return (size_t)T * T;
  default:
    k ? layernorm_vmath(k, src, T, D, gam, bet, work) : layernorm_double(src, T, D, gam, bet, work);
    return (size_t)T * D;
  }
}

/* One call of `o` per row of 768 floats, T rows, by the plain functions
** (k NULL) or by k's pointers; returns the calls made. GELU and softmax
** refill their row first (both ways alike), so repeated passes do not drift
** into subnormals. */
static size_t call_rows(op o, const vmath_kernels *k) {
  for (size_t r = 0; r < T; r++) {
    const float *x = src + r * D;
    float *y = work + r * D;
    switch (o) {
    case GELU:
      memcpy(y, x, D * sizeof *y);
      k ? k->gelu(y, D) : vmath_gelu(y, D);
      break;
    case EXP: k ? k->exp(x, y, D) : vmath_exp(x, y, D); break;
    case SOFTMAX:
      memcpy(y, x, D * sizeof *y);
      k ? k->softmax_rows(y, 1, D) : vmath_softmax_rows(y, 1, D);
      break;
    default: {
      double mean, var;
      k ? k->moments(x, D, &mean, &var) : vmath_moments(x, D, &mean, &var);
      float inv = (float)(1.0 / sqrt(var + 1e-5));
      k ? k->normalize(x, D, (float)mean, inv, gam, bet, y)
        : vmath_normalize(x, D, (float)mean, inv, gam, bet, y);
    }
    }
  }
  return T;
}

static size_t call_empty(op o, const vmath_kernels *k) {
  double mean, var;
  for (int i = 0; i < 1000; i++)
    k ? k->moments(src, 0, &mean, &var) : vmath_moments(src, 0, &mean, &var);
  return 1000;
}

/* Best of 5 samples of ≥ 20 ms: ns per unit that `run` reports doing. */
static double best_ns(size_t (*run)(op, const vmath_kernels *), op o, const vmath_kernels *k) {
  double best = 1e30;
  for (int rep = 0; rep < 5; rep++) {
    size_t units = 0;
    double t0 = cpu_ns(), t;
    do units += run(o, k);
    while ((t = cpu_ns() - t0) < 2e7);
    if (t / (double)units < best) best = t / (double)units;
  }
  return best;
}

static double ns_per_elem(op o, const vmath_kernels *k) { return best_ns(call, o, k); }

static void fill(op o) {
  size_t n = o == SOFTMAX ? (size_t)T * T : o == LAYERNORM ? (size_t)T * D : N;
  for (size_t i = 0; i < n; i++)
    src[i] = o == GELU ? frand(-6, 6) : o == EXP ? frand(-30, 0) : o == SOFTMAX ? frand(-8, 8)
                                                                                 : frand(-3, 5);
}

int main(void) {
  static const char *const names[] = {"gelu", "exp", "softmax", "layernorm"};
  static const char *const peers[] = {"libm", "libm", "libm", "double"};
  for (int j = 0; j < D; j++) gam[j] = frand(0.5f, 1.5f), bet[j] = frand(-0.5f, 0.5f);
  for (int o = GELU; o <= LAYERNORM; o++) {
    fill((op)o);
    printf("%s_%s=%.3f\n", names[o], peers[o], ns_per_elem((op)o, NULL));
    for (int v = 0; v < VMATH_NVARIANTS; v++) {
      const vmath_kernels *k = vmath_kernels_for((vmath_isa)v);
      if (k) printf("%s_%s=%.3f\n", names[o], k->name, ns_per_elem((op)o, k));
    }
  }
  const vmath_kernels *kb = vmath_kernels_for(vmath_best());
  fill(LAYERNORM); /* [-3, 5]: no overflow in exp, no subnormal GELU */
  for (int o = GELU; o <= LAYERNORM; o++) {
    printf("row_%s_plain=%.1f\n", names[o], best_ns(call_rows, (op)o, NULL));
    printf("row_%s_direct=%.1f\n", names[o], best_ns(call_rows, (op)o, kb));
  }
  printf("empty_plain=%.2f\n", best_ns(call_empty, LAYERNORM, NULL));
  printf("empty_direct=%.2f\n", best_ns(call_empty, LAYERNORM, kb));
  printf("best=%s\n", kb->name);
  return 0;
}
