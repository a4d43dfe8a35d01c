/*
** Fuzz the vmath kernels with arbitrary float bits. Byte 0: bits 0-1 = how
** many floats the working copy is misaligned by (0..3), bits 2-4 = rows - 1
** for the softmax. The rest is the input, read as little-endian floats.
**
** Oracles (any violation aborts, which libFuzzer reports):
**   - every variant this CPU has returns the same bits as the baseline (any
**     NaN equals any NaN), and writes nothing outside [x, x+n);
**   - gelu: NaN exactly for NaN; within 1.5e-7·max(1,|x|) (+ one subnormal
**     step) of the double erf form; +inf → +inf, -inf → 0;
**   - exp: within 2 ulp of double exp (1 ulp of a subnormal result), inf
**     for overflow, 0 for underflow, NaN for NaN;
**   - softmax: a row without NaN or +inf and not all -inf sums to 1 ± 1e-5
**     with every entry in [0, 1];
**   - moments: the variance is ≥ 0 (or NaN when the input is not finite).
*/
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmath.h"

#define GUARD 12345.0f

static void fail(const char *why, size_t i, float x, float y) {
  fprintf(stderr, "fuzz_vmath: oracle violated: %s at %zu: x = %.9g, y = %.9g\n", why, i, x, y);
  abort();
}

static int same(float a, float b) {
  uint32_t ua, ub;
  memcpy(&ua, &a, 4), memcpy(&ub, &b, 4);
  return ua == ub || (isnan(a) && isnan(b));
}

static double ulp_at(double ref) {
  double a = fabs(ref);
  if (a < FLT_MIN) return ldexp(1.0, -149);
  int e;
  frexp(a, &e);
  if ((float)a >= ldexp(1.0, e)) e++;
  return ldexp(1.0, e - 24);
}

static void check_gelu(const float *x, const float *y, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (isnan(x[i]) != isnan(y[i])) fail("gelu NaN", i, x[i], y[i]);
    if (isnan(x[i])) continue;
    if (isinf(x[i])) {
      if (x[i] > 0 ? !(isinf(y[i]) && y[i] > 0) : y[i] != 0) fail("gelu inf", i, x[i], y[i]);
      continue;
    }
    double xd = x[i];
    double ref = xd < 0 ? 0.5 * xd * erfc(-xd * M_SQRT1_2) : 0.5 * xd * (1 + erf(xd * M_SQRT1_2));
    if (fabs(y[i] - ref) > 1.5e-7 * fmax(1.0, fabs(xd)) + ldexp(1.0, -149))
      fail("gelu accuracy", i, x[i], y[i]);
  }
}

static void check_exp(const float *x, const float *y, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (isnan(x[i]) != isnan(y[i])) fail("exp NaN", i, x[i], y[i]);
    if (isnan(x[i])) continue;
    double ref = exp((double)x[i]);
    if (isinf((float)ref)) {
      if (!(y[i] >= FLT_MAX)) fail("exp overflow", i, x[i], y[i]);
      continue;
    }
    double tol = ref < FLT_MIN ? 1.0 : 2.0;
    if (fabs(y[i] - ref) / ulp_at(ref) > tol) fail("exp accuracy", i, x[i], y[i]);
  }
}

static void check_softmax(const float *x, const float *y, size_t rows, size_t cols) {
  for (size_t r = 0; r < rows; r++) {
    const float *xr = x + r * cols, *yr = y + r * cols;
    int bad = 0, all_ninf = 1;
    for (size_t j = 0; j < cols; j++) {
      if (isnan(xr[j]) || (isinf(xr[j]) && xr[j] > 0)) bad = 1;
      if (!(isinf(xr[j]) && xr[j] < 0)) all_ninf = 0;
    }
    if (bad || all_ninf) continue;
    double s = 0;
    for (size_t j = 0; j < cols; j++) {
      if (!(yr[j] >= 0 && yr[j] <= 1)) fail("softmax range", r * cols + j, xr[j], yr[j]);
      s += yr[j];
    }
    if (fabs(s - 1) > 1e-5) fail("softmax sum", r, (float)s, 0);
  }
}

/* Runs every kernel of k on a guarded, misaligned copy of x into out
** (4 kernels x n floats, in that order). */
static void run_all(const vmath_kernels *k, const float *x, size_t n, size_t off, size_t rows,
                    float *buf, float *out) {
  size_t cols = n / rows;
  for (int kern = 0; kern < 4; kern++) {
    float *w = buf + 1 + off;
    buf[off] = GUARD, w[n] = GUARD;
    memcpy(w, x, n * sizeof *w);
    if (kern == 0) k->gelu(w, n);
    if (kern == 1) k->exp(w, w, n);
    if (kern == 2 && cols) k->softmax_rows(w, rows, cols);
    if (kern == 3) {
      double m, v;
      k->moments(w, n, &m, &v);
      if (!(v >= 0) && !isnan(v)) fail("variance < 0", 0, (float)m, (float)v);
      k->normalize1(w, n, (float)m, (float)(1.0 / sqrt(v + 1e-5)), 1.5f, -0.5f, w);
    }
    if (buf[off] != GUARD || w[n] != GUARD) fail("write outside the array", n, 0, 0);
    memcpy(out + (size_t)kern * n, w, n * sizeof *w);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t off = data[0] & 3, rows = ((data[0] >> 2) & 7) + 1;
  size_t n = (size - 1) / 4;
  float *x = malloc((n + 1) * sizeof *x);
  float *buf = malloc((n + 6) * sizeof *buf);
  float *ref = malloc((4 * n + 1) * sizeof *ref), *got = malloc((4 * n + 1) * sizeof *got);
  if (!x || !buf || !ref || !got) abort();
  memcpy(x, data + 1, n * sizeof *x);
  run_all(vmath_kernels_for(VMATH_BASE), x, n, off, rows, buf, ref);
  for (int v = 0; v < VMATH_NVARIANTS; v++) {
    const vmath_kernels *k = vmath_kernels_for((vmath_isa)v);
    if (!k || v == VMATH_BASE) continue;
    run_all(k, x, n, off, rows, buf, got);
    for (size_t i = 0; i < 4 * n; i++)
      if (!same(got[i], ref[i])) fail(k->name, i, x[i % (n ? n : 1)], got[i]);
  }
  check_gelu(x, ref, n);
  check_exp(x, ref + n, n);
  if (n / rows) check_softmax(x, ref + 2 * n, rows, n / rows);
  free(x), free(buf), free(ref), free(got);
  return 0;
}
