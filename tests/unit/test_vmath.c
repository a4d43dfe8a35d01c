/*
** vmath: accuracy against double-precision libm over dense grids, the
** special inputs of the contract, every length class and misaligned
** pointers, and that all variants this CPU has give the same bits.
** The measured worst errors are printed (stderr) so the figures in vmath.h
** can be checked against a run.
*/
#include "vmath.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#if defined(__clang__) /* the expected values below are two roundings, as in vmath.c */
#pragma clang fp contract(off)
#endif

static const vmath_kernels *K[VMATH_NVARIANTS];
static int nk; /* variants available here */

static uint32_t bits_of(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}
static float float_of(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd32(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return (uint32_t)(rng >> 32);
}
static float uniform(float lo, float hi) { return lo + (hi - lo) * (float)(rnd32() >> 8) / 16777216.0f; }

/* The spacing of floats at the magnitude of the (double) reference. */
static double ulp_at(double ref) {
  double a = fabs(ref);
  if (a < FLT_MIN) return ldexp(1.0, -149);
  int e;
  frexp(a, &e);
  if ((float)a >= ldexp(1.0, e)) e++; /* rounds up into the next binade */
  return ldexp(1.0, e - 24);
}

static void test_dispatch(void) {
  CHECK(K[0] != NULL);
  CHECK(vmath_kernels_for(VMATH_BASE) != NULL);
  CHECK(vmath_kernels_for(VMATH_NVARIANTS) == NULL);
  CHECK(strcmp(vmath_kernels_for(VMATH_BASE)->name, "base") == 0);
#if defined(__x86_64__)
  int has512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
  int has2 = !!__builtin_cpu_supports("avx2");
  CHECK_INT(vmath_kernels_for(VMATH_AVX512) != NULL, has512);
  CHECK_INT(vmath_kernels_for(VMATH_AVX2) != NULL, has2);
  CHECK_INT(vmath_best(), has512 ? VMATH_AVX512 : has2 ? VMATH_AVX2 : VMATH_BASE);
  if (has512) CHECK(strcmp(vmath_kernels_for(VMATH_AVX512)->name, "avx512") == 0);
  if (has2) CHECK(strcmp(vmath_kernels_for(VMATH_AVX2)->name, "avx2") == 0);
#else
  CHECK_INT(vmath_best(), VMATH_BASE);
#endif
  fprintf(stderr, "test_vmath: variants here:");
  for (int v = 0; v < nk; v++) fprintf(stderr, " %s", K[v]->name);
  fprintf(stderr, " (plain functions use %s)\n", vmath_kernels_for(vmath_best())->name);
}

/* ---- exp ---- */

/* Grid: every 1021st float from -110 to 95 (both signs, subnormal results
** included), plus a fine uniform grid on the softmax's usual [-30, 0]. */
static size_t exp_grid(float **out) {
  size_t cap = 4000000, n = 0;
  float *g = malloc(cap * sizeof *g);
  for (uint32_t u = 0; u <= bits_of(95.0f); u += 1021) g[n++] = float_of(u);
  for (uint32_t u = 0x80000000u; u <= bits_of(-110.0f); u += 1021) g[n++] = float_of(u);
  for (int i = 0; i <= 1500000; i++) g[n++] = -30.0f + 30.0f * (float)i / 1500000.0f;
  *out = g;
  return n;
}

static void test_exp_accuracy(void) {
  float *x, *y;
  size_t n = exp_grid(&x);
  y = malloc(n * sizeof *y);
  for (int v = 0; v < nk; v++) {
    K[v]->exp(x, y, n);
    double worst = 0, worst_sub = 0;
    float at = 0;
    for (size_t i = 0; i < n; i++) {
      double ref = exp((double)x[i]);
      if (isinf((float)ref)) {
        CHECK(y[i] >= FLT_MAX);
        continue;
      }
      double err = fabs((double)y[i] - ref) / ulp_at(ref);
      if (ref < FLT_MIN) {
        if (err > worst_sub) worst_sub = err;
      } else if (err > worst) {
        worst = err, at = x[i];
      }
    }
    fprintf(stderr, "test_vmath: exp %s: max %.3f ulp (at %.9g), subnormal results %.3f ulp\n",
            K[v]->name, worst, at, worst_sub);
    CHECK(worst <= 2.0);
    CHECK(worst_sub <= 1.0);
  }
  free(x);
  free(y);
}

static void test_exp_specials(void) {
  float in[] = {0.0f,   -0.0f,    1.0f,        -1.0f,     88.72f,  88.73f,   -87.0f,
                -100.0f, -103.9f, -104.0f,     -110.0f,   -1e30f,  1e30f,    -FLT_MAX,
                FLT_MAX, INFINITY, -INFINITY,  NAN,       -NAN,    FLT_MIN,  -FLT_TRUE_MIN};
  size_t n = sizeof in / sizeof in[0];
  float out[sizeof in / sizeof in[0]];
  for (int v = 0; v < nk; v++) {
    K[v]->exp(in, out, n);
    CHECK(out[0] == 1.0f && out[1] == 1.0f);
    CHECK_NEAR(out[2], 2.718281828, 3e-7);
    CHECK_NEAR(out[3], 0.367879441, 1e-7);
    CHECK(isfinite(out[4]) && out[4] > 3.3e38f);
    CHECK(isinf(out[5]) && out[5] > 0);
    CHECK_NEAR(out[6] / 1.6458115e-38f, 1.0, 3e-7); /* just below FLT_MIN */
    CHECK(out[7] > 0 && out[7] < FLT_MIN);          /* subnormal */
    CHECK(out[8] >= 0 && out[8] <= 2 * FLT_TRUE_MIN);
    CHECK(out[9] == 0.0f && !signbit(out[9]));
    CHECK(out[10] == 0.0f && !signbit(out[10]));
    CHECK(out[11] == 0.0f && !signbit(out[11]));
    CHECK(isinf(out[12]) && out[12] > 0);
    CHECK(out[13] == 0.0f && !signbit(out[13])); /* a masked logit */
    CHECK(isinf(out[14]) && out[14] > 0);
    CHECK(isinf(out[15]) && out[15] > 0);
    CHECK(out[16] == 0.0f && !signbit(out[16]));
    CHECK(isnan(out[17]));
    CHECK(isnan(out[18]));
    CHECK(out[19] == 1.0f && out[20] == 1.0f);
  }
}

/* ---- gelu ---- */

static double gelu_ref(double x) {
  /* erfc form for x < 0: 1 + erf(x/√2) cancels there. */
  if (x < 0) return 0.5 * x * erfc(-x * M_SQRT1_2);
  return 0.5 * x * (1.0 + erf(x * M_SQRT1_2));
}

static void test_gelu_accuracy(void) {
  size_t cap = 4000000, n = 0;
  float *x = malloc(cap * sizeof *x), *y = malloc(cap * sizeof *y);
  /* Every 2039th float of either sign over all magnitudes (subnormals to
  ** FLT_MAX) and a fine grid on [-20, 20]. */
  for (uint32_t u = 0; u < bits_of(INFINITY); u += 2039) x[n++] = float_of(u);
  for (uint32_t u = 0x80000000u; u < bits_of(-INFINITY); u += 2039) x[n++] = float_of(u);
  for (int i = 0; i <= 800000; i++) x[n++] = -20.0f + 40.0f * (float)i / 800000.0f;
  for (int v = 0; v < nk; v++) {
    memcpy(y, x, n * sizeof *y);
    K[v]->gelu(y, n);
    double worst = 0, worst_rel = 0;
    float at = 0, at_rel = 0;
    for (size_t i = 0; i < n; i++) {
      double ref = gelu_ref(x[i]);
      double err = fabs((double)y[i] - ref) / fmax(1.0, fabs((double)x[i]));
      if (err > worst) worst = err, at = x[i];
      if (x[i] < 0 && x[i] >= -13.0f && fabs(ref) >= FLT_MIN) {
        double rel = fabs((double)y[i] - ref) / fabs(ref);
        if (rel > worst_rel) worst_rel = rel, at_rel = x[i];
      }
    }
    fprintf(stderr,
            "test_vmath: gelu %s: max |err|/max(1,|x|) %.3g (at %.9g); relative on [-13,0), "
            "normal results, "
            "%.3g (at %.9g)\n",
            K[v]->name, worst, at, worst_rel, at_rel);
    CHECK(worst <= 1.5e-7);
    CHECK(worst_rel <= 5e-7);
  }
  free(x);
  free(y);
}

static void test_gelu_specials(void) {
  float x[] = {0.0f,  -0.0f, INFINITY, -INFINITY, NAN,   1e30f, -1e30f, FLT_MAX, -FLT_MAX,
               1.0f,  -1.0f, -5.0f,    -14.5f,    3.0f,  FLT_TRUE_MIN, -FLT_TRUE_MIN, 1e-20f};
  size_t n = sizeof x / sizeof x[0];
  for (int v = 0; v < nk; v++) {
    float y[sizeof x / sizeof x[0]];
    memcpy(y, x, sizeof y);
    K[v]->gelu(y, n);
    CHECK(y[0] == 0.0f && !signbit(y[0]));
    CHECK(y[1] == 0.0f && signbit(y[1]));
    CHECK(isinf(y[2]) && y[2] > 0);
    CHECK(y[3] == 0.0f);
    CHECK(isnan(y[4]));
    CHECK(y[5] == 1e30f);
    CHECK(y[6] == 0.0f);
    CHECK(y[7] == FLT_MAX);
    CHECK(y[8] == 0.0f);
    CHECK_NEAR(y[9], 0.841344746, 1e-7);
    CHECK_NEAR(y[10], -0.158655254, 1e-7);
    CHECK_NEAR(y[11] / -1.43325e-6, 1.0, 1e-5); /* -5·Φ(-5): kept, not cancelled */
    CHECK(y[12] == 0.0f);
    CHECK_NEAR(y[13], 2.995950, 1e-6);
    CHECK(y[14] == 0.0f || y[14] == FLT_TRUE_MIN); /* half of it, rounded */
    CHECK(y[15] == 0.0f || y[15] == -FLT_TRUE_MIN);
    CHECK(y[16] == 5e-21f);
  }
}

/* ---- every variant gives the same bits, at every length and offset ---- */

static void fill(float *x, size_t n, int kind) {
  for (size_t i = 0; i < n; i++) {
    switch (kind) {
    case 0: x[i] = uniform(-8, 8); break;
    case 1: x[i] = uniform(-60, 0); break;
    case 2: x[i] = float_of(rnd32()); break; /* any bits: NaN, inf, subnormals */
    default: x[i] = uniform(-1, 1) * 1000.0f + 3.0f; break;
    }
  }
}

static const size_t LENS[] = {0, 1, 7, 15, 16, 17, 33, 1023};

/* Runs one kernel over x at an offset inside a guarded buffer. */
typedef void (*elemwise)(const vmath_kernels *k, float *x, size_t n);
static void run_gelu(const vmath_kernels *k, float *x, size_t n) { k->gelu(x, n); }
static void run_exp(const vmath_kernels *k, float *x, size_t n) { k->exp(x, x, n); }
static void run_softmax(const vmath_kernels *k, float *x, size_t n) {
  if (n) k->softmax_rows(x, 1, n);
}
static void run_norm(const vmath_kernels *k, float *x, size_t n) {
  double m, var;
  k->moments(x, n, &m, &var);
  static float g[1024], b[1024];
  for (size_t i = 0; i < n; i++) g[i] = 1.0f + 0.001f * (float)i, b[i] = 0.5f - 0.002f * (float)i;
  k->normalize(x, n, (float)m, (float)(1.0 / sqrt(var + 1e-5)), g, b, x);
}
static void run_norm1(const vmath_kernels *k, float *x, size_t n) {
  double m, var;
  k->moments(x, n, &m, &var);
  k->normalize1(x, n, (float)m, (float)(1.0 / sqrt(var + 1e-5)), 1.5f, -0.25f, x);
}

/* Bit-identical, except that any NaN equals any NaN: which payload survives
** an operation differs between SSE and AVX-512 instructions. */
static int same_bits(const float *a, const float *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (bits_of(a[i]) != bits_of(b[i]) && !(isnan(a[i]) && isnan(b[i]))) return 0;
  return 1;
}

static void check_variants(elemwise f, int kinds) {
  enum { PAD = 19 };
  static float src[1024 + 2 * PAD], ref[1024 + 2 * PAD], got[1024 + 2 * PAD];
  for (size_t li = 0; li < sizeof LENS / sizeof LENS[0]; li++) {
    size_t n = LENS[li];
    for (int kind = 0; kind < kinds; kind++) {
      fill(src, n, kind);
      for (size_t off = 0; off < 4; off++) {
        for (size_t i = 0; i < sizeof ref / sizeof ref[0]; i++) ref[i] = got[i] = 12345.0f;
        memcpy(ref + off + 1, src, n * sizeof *src);
        f(K[nk - 1], ref + off + 1, n); /* baseline */
        for (int v = 0; v < nk; v++) {
          for (size_t i = 0; i < sizeof got / sizeof got[0]; i++) got[i] = 12345.0f;
          memcpy(got + off + 1, src, n * sizeof *src);
          f(K[v], got + off + 1, n);
          if (!same_bits(got, ref, sizeof got / sizeof got[0])) {
            fprintf(stderr, "  variant %s differs from base at n=%zu kind=%d offset=%zu\n",
                    K[v]->name, n, kind, off + 1);
            CHECK(0);
          }
          CHECK(got[off] == 12345.0f && got[off + 1 + n] == 12345.0f); /* guards */
        }
        /* And the lanes agree with the one-lane tail: element i of a long
        ** array equals the same value run alone. */
        if (f != run_softmax && f != run_norm && f != run_norm1 && n > 0) {
          float one = src[n - 1];
          f(K[0], &one, 1);
          CHECK(same_bits(&one, ref + off + n, 1));
        }
      }
    }
  }
}

static void test_variants_gelu(void) { check_variants(run_gelu, 4); }
static void test_variants_exp(void) { check_variants(run_exp, 4); }
static void test_variants_softmax(void) { check_variants(run_softmax, 4); }
static void test_variants_norm(void) {
  check_variants(run_norm, 4);
  check_variants(run_norm1, 4);
}

static void test_exp_out_of_place(void) {
  float x[37], y[37], z[37];
  fill(x, 37, 0);
  memcpy(z, x, sizeof z);
  vmath_exp(x, y, 37);
  vmath_exp(z, z, 37);
  CHECK(same_bits(y, z, 37));
  float before[37];
  memcpy(before, x, sizeof x);
  CHECK(same_bits(x, before, 37)); /* input untouched */
  vmath_exp(x, y, 0);              /* n = 0 touches nothing */
  CHECK(same_bits(y, z, 37));
}

/* ---- softmax ---- */

static void test_softmax_values(void) {
  size_t lens[] = {1, 7, 17, 499, 1023};
  for (size_t li = 0; li < 5; li++) {
    size_t cols = lens[li], rows = 3;
    float *x = malloc(rows * cols * sizeof *x);
    double *ref = malloc(rows * cols * sizeof *ref);
    for (size_t i = 0; i < rows * cols; i++) x[i] = uniform(-20, 20);
    for (size_t r = 0; r < rows; r++) {
      double mx = -INFINITY, s = 0;
      for (size_t j = 0; j < cols; j++) mx = fmax(mx, x[r * cols + j]);
      for (size_t j = 0; j < cols; j++) s += ref[r * cols + j] = exp(x[r * cols + j] - mx);
      for (size_t j = 0; j < cols; j++) ref[r * cols + j] /= s;
    }
    float *x0 = malloc(rows * cols * sizeof *x0);
    memcpy(x0, x, rows * cols * sizeof *x0);
    vmath_softmax_rows(x, rows, cols);
    /* x - max is rounded to float before the exp (as in the libm loop this
    ** replaces): up to 6e-8·|x - max| relative, on top of exp's 2 ulp. */
    double worst = 0;
    for (size_t r = 0; r < rows; r++) {
      double s = 0;
      float mx = -FLT_MAX;
      for (size_t j = 0; j < cols; j++) mx = fmaxf(mx, x0[r * cols + j]);
      for (size_t j = 0; j < cols; j++) {
        size_t i = r * cols + j;
        s += x[i];
        double bound = 5e-7 + 6e-8 * fabs((double)x0[i] - mx);
        double e = fabs(x[i] - ref[i]) / ref[i] / bound;
        if (ref[i] > 1e-30 && e > worst) worst = e;
      }
      CHECK_NEAR(s, 1.0, 1e-5);
    }
    CHECK(worst <= 1.0);
    free(x0);
    free(x);
    free(ref);
  }
}

/* vmath.h says vmath_exp is the softmax's exp: the row's max gives
** e^0 = 1, so its output is the row's 1/sum exactly, and every other entry
** must be vmath_exp(x - max) times it, to the bit. */
static void test_softmax_is_exp(void) {
  size_t lens[] = {1, 17, 768};
  for (size_t li = 0; li < 3; li++) {
    size_t n = lens[li], imax = 0;
    float x[768], d[768], e[768], y[768];
    for (size_t i = 0; i < n; i++) {
      x[i] = uniform(-20, 20);
      if (x[i] > x[imax]) imax = i;
    }
    for (size_t i = 0; i < n; i++) d[i] = x[i] - x[imax];
    for (int v = 0; v <= nk; v++) { /* v == nk: the plain functions */
      memcpy(y, x, n * sizeof *y);
      if (v < nk) {
        K[v]->exp(d, e, n);
        K[v]->softmax_rows(y, 1, n);
      } else {
        vmath_exp(d, e, n);
        vmath_softmax_rows(y, 1, n);
      }
      CHECK(e[imax] == 1.0f);
      int same = 1;
      for (size_t i = 0; i < n; i++) same &= bits_of(y[i]) == bits_of(e[i] * y[imax]);
      CHECK(same);
    }
  }
}

static void test_softmax_masked(void) {
  /* Row 0: keys 1 and 3 masked. Row 1: every key masked → uniform.
  ** Row 2: a NaN → NaN row. Row 3: all -inf → NaN (0/0), as before. */
  float x[4 * 5] = {1, -FLT_MAX, 2, -FLT_MAX, 3,
                    -FLT_MAX, -FLT_MAX, -FLT_MAX, -FLT_MAX, -FLT_MAX,
                    1, 2, NAN, 3, 4,
                    -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
  for (int v = 0; v < nk; v++) {
    float y[20];
    memcpy(y, x, sizeof y);
    K[v]->softmax_rows(y, 4, 5);
    CHECK(y[1] == 0.0f && y[3] == 0.0f);
    double s = exp(1.0) + exp(2.0) + exp(3.0);
    CHECK_NEAR(y[0], exp(1.0) / s, 1e-7);
    CHECK_NEAR(y[4], exp(3.0) / s, 1e-7);
    for (int j = 0; j < 5; j++) CHECK(y[5 + j] == 0.2f);
    for (int j = 0; j < 5; j++) CHECK(isnan(y[10 + j]));
    for (int j = 0; j < 5; j++) CHECK(isnan(y[15 + j]));
  }
}

/* ---- moments and normalisation ---- */

static void test_moments(void) {
  /* A long channel with a large offset (HuBERT's group norm over a minute
  ** of audio): the double lanes must keep the variance. */
  size_t ns[] = {768, 3072, 1000003};
  for (int k = 0; k < 3; k++) {
    size_t n = ns[k];
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = 1000.0f + uniform(-1, 1);
    long double s = 0, q = 0;
    for (size_t i = 0; i < n; i++) s += x[i];
    long double mu = s / n;
    for (size_t i = 0; i < n; i++) q += (x[i] - mu) * (x[i] - mu);
    double var_ref = (double)(q / n);
    for (int v = 0; v < nk; v++) {
      double m, var;
      K[v]->moments(x, n, &m, &var);
      CHECK_NEAR(m / (double)mu, 1.0, 1e-14);
      CHECK_NEAR(var / var_ref, 1.0, 1e-12);
    }
    free(x);
  }
  double m = 7, var = 7;
  vmath_moments(NULL, 0, &m, &var);
  CHECK(m == 0 && var == 0);
  float one = 3.5f;
  vmath_moments(&one, 1, &m, &var);
  CHECK(m == 3.5 && var == 0);
}

static void test_normalize(void) {
  enum { N = 45 };
  float x[N], g[N], b[N], y[N];
  for (int i = 0; i < N; i++) x[i] = uniform(-3, 3), g[i] = uniform(0.5f, 1.5f), b[i] = uniform(-1, 1);
  float m = 0.25f, inv = 1.75f;
  vmath_normalize(x, N, m, inv, g, b, y);
  for (int i = 0; i < N; i++) CHECK(y[i] == (x[i] - m) * inv * g[i] + b[i]);
  vmath_normalize(x, N, m, inv, NULL, NULL, y);
  for (int i = 0; i < N; i++) CHECK(y[i] == (x[i] - m) * inv);
  vmath_normalize(x, N, m, inv, g, NULL, y);
  for (int i = 0; i < N; i++) CHECK(y[i] == (x[i] - m) * inv * g[i]);
  vmath_normalize(x, N, m, inv, NULL, b, y);
  for (int i = 0; i < N; i++) CHECK(y[i] == (x[i] - m) * inv + b[i]);
  vmath_normalize1(x, N, m, inv, 2.0f, 0.5f, y);
  for (int i = 0; i < N; i++) CHECK(y[i] == (x[i] - m) * inv * 2.0f + 0.5f);
  memcpy(y, x, sizeof y);
  vmath_normalize(y, N, m, inv, g, b, y); /* in place */
  for (int i = 0; i < N; i++) CHECK(y[i] == (x[i] - m) * inv * g[i] + b[i]);
}

int main(void) {
  for (int v = 0; v < VMATH_NVARIANTS; v++)
    if (vmath_kernels_for((vmath_isa)v)) K[nk++] = vmath_kernels_for((vmath_isa)v);
  RUN(test_dispatch);
  RUN(test_exp_accuracy);
  RUN(test_exp_specials);
  RUN(test_gelu_accuracy);
  RUN(test_gelu_specials);
  RUN(test_variants_gelu);
  RUN(test_variants_exp);
  RUN(test_variants_softmax);
  RUN(test_variants_norm);
  RUN(test_exp_out_of_place);
  RUN(test_softmax_values);
  RUN(test_softmax_is_exp);
  RUN(test_softmax_masked);
  RUN(test_moments);
  RUN(test_normalize);
  return harness_report();
}
