/* Unit tests for nn_matmul (ext/nn/dense.h): every transpose combination,
** strided operands, alpha and beta, against a double reference at the
** training shapes' kinds (small, odd, a k that is not a vector multiple);
** the same call twice gives the same bits; k = 0 and empty shapes. */
#include "dense.h"
#include "harness.h"
#include "nn_threads.h"

#include <stdlib.h>
#include <string.h>

static float *rnd(size_t n, unsigned s) {
  float *v = malloc(sizeof *v * (n ? n : 1));
  for (size_t i = 0; i < n; i++) {
    s = s * 1664525u + 1013904223u;
    v[i] = (float)((s >> 8) & 0xffff) / 32768.0f - 1.0f;
  }
  return v;
}

/* op(x)[i][j] for x stored with row stride ld. */
static float at(const float *x, int t, int ld, int i, int j) {
  return t ? x[(size_t)j * ld + i] : x[(size_t)i * ld + j];
}

/* c = alpha·op(a)·op(b) + beta·c0 against a double reference, relative to
** the magnitude summed (Σ|a·b|·|alpha| + |beta·c0|). */
static void check(int ta, int tb, int m, int n, int k, float alpha, float beta, int pad) {
  int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
  float *a = rnd((size_t)(ta ? k : m) * lda, 1 + m), *b = rnd((size_t)(tb ? n : k) * ldb, 2 + n);
  float *c = rnd((size_t)m * ldc, 3 + k), *c0 = malloc(sizeof *c0 * (size_t)m * ldc);
  float *c2 = malloc(sizeof *c2 * (size_t)m * ldc);
  memcpy(c0, c, sizeof *c * (size_t)m * ldc);
  memcpy(c2, c, sizeof *c * (size_t)m * ldc);
  nn_matmul(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  nn_matmul(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c2, ldc);
  double worst = 0;
  int pad_kept = 1;
  for (int i = 0; i < m; i++) {
    for (int j = 0; j < n; j++) {
      double s = 0, mag = 0;
      for (int p = 0; p < k; p++) {
        double v = (double)at(a, ta, lda, i, p) * at(b, tb, ldb, p, j);
        s += v;
        mag += fabs(v);
      }
      double c_in = c0[(size_t)i * ldc + j];
      double ref = alpha * s + (beta != 0 ? beta * c_in : 0);
      mag = fabs(alpha) * mag + fabs(beta * c_in);
      double e = fabs(c[(size_t)i * ldc + j] - ref) / (mag > 0 ? mag : 1);
      if (e > worst) worst = e;
    }
    for (int j = n; j < ldc; j++) pad_kept &= c[(size_t)i * ldc + j] == c0[(size_t)i * ldc + j];
  }
  if (worst > 1e-5)
    fprintf(stderr, "ta %d tb %d %dx%dx%d alpha %g beta %g pad %d: rel err %g\n", ta, tb, m, n, k,
            alpha, beta, pad, worst);
  CHECK(worst <= 1e-5);
  CHECK(pad_kept); /* columns past n of a strided c are not written */
  CHECK(!memcmp(c, c2, sizeof *c * (size_t)m * ldc)); /* deterministic */
  free(a), free(b), free(c), free(c0), free(c2);
}

static void test_layouts(void) {
  static const int shapes[][3] = {{64, 512, 50}, {122, 512, 1024}, {512, 1024, 122},
                                  {64, 64, 512}, {7, 13, 5},       {1, 1, 1}};
  for (int s = 0; s < 6; s++)
    for (int ta = 0; ta < 2; ta++)
      for (int tb = 0; tb < 2; tb++) {
        const int *d = shapes[s];
        check(ta, tb, d[0], d[1], d[2], 1.0f, 0.0f, 0);
        check(ta, tb, d[0], d[1], d[2], 2.5f, 1.0f, 3);
      }
}

/* A scale that changes every call (the loss's temperature) is applied as
** given, not the first one cached with the primitive. */
static void test_alpha_at_run_time(void) {
  int m = 16, n = 24, k = 40;
  float *a = rnd((size_t)m * k, 5), *b = rnd((size_t)k * n, 6);
  float *c1 = calloc((size_t)m * n, sizeof *c1), *c3 = calloc((size_t)m * n, sizeof *c3);
  nn_matmul(0, 0, m, n, k, 1.5f, a, k, b, n, 0.0f, c1, n);
  nn_matmul(0, 0, m, n, k, 4.5f, a, k, b, n, 0.0f, c3, n);
  int ok = 1;
  for (int i = 0; i < m * n; i++) ok &= fabs(c3[i] - 3.0f * c1[i]) <= 1e-5f * (1 + fabs(c3[i]));
  CHECK(ok);
  free(a), free(b), free(c1), free(c3);
}

static void test_degenerate(void) {
  float c[6] = {1, 2, 3, 4, 5, 6}, a[1] = {0}, b[1] = {0};
  nn_matmul(0, 0, 2, 3, 0, 1.0f, a, 1, b, 3, 1.0f, c, 3); /* k = 0, beta 1: unchanged */
  CHECK(c[0] == 1 && c[5] == 6);
  nn_matmul(0, 0, 2, 3, 0, 1.0f, a, 1, b, 3, 0.0f, c, 3); /* k = 0, beta 0: zeros */
  CHECK(c[0] == 0 && c[5] == 0);
  c[0] = 7;
  nn_matmul(0, 0, 0, 3, 4, 1.0f, a, 4, b, 3, 0.0f, c, 3); /* m = 0: nothing */
  CHECK(c[0] == 7);
}

/* At 2 threads the same call gives the same bits every time too. */
static void test_two_threads(void) {
  int before = nn_get_threads();
  nn_set_threads(2);
  check(0, 1, 256, 768, 768, 1.0f, 1.0f, 0); /* above the one-thread size */
  check(1, 0, 512, 1024, 122, 1.0f, 1.0f, 0);
  nn_set_threads(before);
}

int main(void) {
  RUN(test_layouts);
  RUN(test_alpha_at_run_time);
  RUN(test_degenerate);
  RUN(test_two_threads);
  return harness_report();
}
