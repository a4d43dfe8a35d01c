/* gemm_linear against a double-precision reference and against cblas_sgemm,
** for every kernel this CPU has, 1 and 2 threads, odd shapes, with and
** without bias, on pointers that are not 32-byte aligned. */
#include "harness.h"
#include "gemm.h"
#include "nn.h"

#include <cblas.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CANARY 12345.0f
#define PAD 8

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static float frand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (float)((double)(rng >> 11) / (double)(1ull << 53) * 2.0 - 1.0);
}

/* n floats one float past a 32-byte boundary: every vector load is unaligned. */
static float *unaligned(float *buf, size_t n) {
  float *p = buf + 1;
  for (size_t i = 0; i < n; i++) p[i] = frand();
  return p;
}

typedef struct shape {
  int rows, in, out;
  float *xb, *wb, *bb, *yb, *x, *w, *b;
  double *ref, *mag; /* reference with bias; Σ|x||w| + |b| per output */
} shape;

static void shape_init(shape *s, int rows, int in, int out) {
  s->rows = rows, s->in = in, s->out = out;
  s->xb = malloc(((size_t)rows * in + PAD) * sizeof(float));
  s->wb = malloc(((size_t)out * in + PAD) * sizeof(float));
  s->bb = malloc(((size_t)out + PAD) * sizeof(float));
  s->yb = malloc(((size_t)rows * out + 2 * PAD) * sizeof(float));
  s->x = unaligned(s->xb, (size_t)rows * in);
  s->w = unaligned(s->wb, (size_t)out * in);
  s->b = unaligned(s->bb, (size_t)out);
  s->ref = malloc((size_t)rows * out * sizeof(double));
  s->mag = malloc((size_t)rows * out * sizeof(double));
  for (int r = 0; r < rows; r++)
    for (int o = 0; o < out; o++) {
      double acc = 0, m = 0;
      for (int k = 0; k < in; k++) {
        double p = (double)s->x[(size_t)r * in + k] * s->w[(size_t)o * in + k];
        acc += p;
        m += fabs(p);
      }
      s->ref[(size_t)r * out + o] = acc;
      s->mag[(size_t)r * out + o] = m + fabs(s->b[o]);
    }
}

static void shape_free(shape *s) {
  free(s->xb), free(s->wb), free(s->bb), free(s->yb), free(s->ref), free(s->mag);
}

/* y with canaries on both sides, one float off alignment. */
static float *fresh_y(shape *s) {
  size_t n = (size_t)s->rows * s->out;
  for (size_t i = 0; i < n + 2 * PAD; i++) s->yb[i] = CANARY;
  return s->yb + PAD + 1;
}

/* Worst error of y against the reference, in units of the output's
** magnitude; -1 if a canary was overwritten. */
static double check(const shape *s, const float *y, int bias) {
  size_t n = (size_t)s->rows * s->out;
  for (size_t i = 0; i < PAD + 1; i++)
    if (s->yb[i] != CANARY) return -1;
  for (size_t i = PAD + 1 + n; i < n + 2 * PAD; i++)
    if (s->yb[i] != CANARY) return -1;
  double worst = 0;
  for (int r = 0; r < s->rows; r++)
    for (int o = 0; o < s->out; o++) {
      size_t i = (size_t)r * s->out + o;
      double want = s->ref[i] + (bias ? s->b[o] : 0.0);
      double e = fabs(y[i] - want) / (s->mag[i] > 0 ? s->mag[i] : 1);
      if (!(e <= worst)) worst = e; /* NaN propagates as a failure */
    }
  return worst;
}

static const gemm_kernel kernels[] = {GEMM_AUTO, GEMM_BLAS, GEMM_AVX512};
static const char *kernel_names[] = {"auto", "blas", "avx512"};

/* Every available kernel, 1 and 2 threads, with and without bias, against
** the reference (relative error <= 1e-5: a dropped or doubled term is
** ~1/in, far above it) and against cblas_sgemm. */
static int run_shape(int rows, int in, int out) {
  shape s;
  shape_init(&s, rows, in, out);
  int fails = 0;
  float *blas = malloc((size_t)rows * out * sizeof(float));
  for (int bias = 0; bias < 2; bias++) {
    const float *b = bias ? s.b : NULL;
    float *y = fresh_y(&s);
    gemm_linear(s.x, rows, in, s.w, b, out, y, 1, GEMM_BLAS);
    memcpy(blas, y, (size_t)rows * out * sizeof(float));
    for (size_t kk = 0; kk < sizeof kernels / sizeof kernels[0]; kk++) {
      if (!gemm_kernel_available(kernels[kk])) continue;
      for (int threads = 1; threads <= 2; threads++) {
        y = fresh_y(&s);
        gemm_linear(s.x, rows, in, s.w, b, out, y, threads, kernels[kk]);
        double e = check(&s, y, bias);
        double eb = 0;
        for (size_t i = 0; i < (size_t)rows * out; i++) {
          double d = fabs(y[i] - blas[i]) / (s.mag[i] > 0 ? s.mag[i] : 1);
          if (!(d <= eb)) eb = d;
        }
        if (!(e >= 0 && e <= 1e-5 && eb <= 2e-5)) {
          fprintf(stderr, "  rows %d in %d out %d bias %d %s threads %d: error %g, vs blas %g\n",
                  rows, in, out, bias, kernel_names[kk], threads, e, eb);
          fails++;
        }
      }
    }
  }
  free(blas);
  shape_free(&s);
  return fails;
}

static void test_small_shapes(void) {
  static const int dims[] = {1, 3, 7, 17};
  int fails = 0;
  for (int rows = 1; rows <= 64; rows++)
    for (int i = 0; i < 4; i++)
      for (int o = 0; o < 4; o++) fails += run_shape(rows, dims[i], dims[o]);
  CHECK_INT(fails, 0);
}

static void test_wide_shapes(void) {
  /* 769 and 1100 inputs: the AVX-512 broadcast kernel (>= 768 inputs);
  ** 64 / 65 rows: both sides of its switch to cblas_sgemm; 17, 31, 33, 47:
  ** partial second vectors of 16 rows; 3 and 17 inputs: cblas_sgemm. */
  static const int rows[] = {1, 2, 3, 4, 5, 7, 12, 13, 17, 31, 32, 33, 47, 63, 64, 65, 128, 200};
  int fails = 0;
  for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
    fails += run_shape(rows[r], 769, 17);
    fails += run_shape(rows[r], 17, 769);
    fails += run_shape(rows[r], 3, 769);
    fails += run_shape(rows[r], 1100, 7);
  }
  CHECK_INT(fails, 0);
}

/* Above GEMM_THREAD_MIN_MACS the out dimension is really split; each thread
** computes its own columns the same way, so 1 and 2 threads agree bit for
** bit, and both are right. */
static void test_threads_split(void) {
  int rows = 32, in = 1100, out = 1001;
  CHECK((long)rows * in * out >= GEMM_THREAD_MIN_MACS);
  CHECK_INT(run_shape(rows, in, out), 0);
  shape s;
  shape_init(&s, rows, in, out);
  float *one = malloc((size_t)rows * out * sizeof(float));
  for (size_t kk = 0; kk < sizeof kernels / sizeof kernels[0]; kk++) {
    if (!gemm_kernel_available(kernels[kk]) || kernels[kk] == GEMM_BLAS) continue;
    float *y = fresh_y(&s);
    gemm_linear(s.x, rows, in, s.w, s.b, out, y, 1, kernels[kk]);
    memcpy(one, y, (size_t)rows * out * sizeof(float));
    for (int threads = 2; threads <= 5; threads++) {
      y = fresh_y(&s);
      gemm_linear(s.x, rows, in, s.w, s.b, out, y, threads, kernels[kk]);
      CHECK(memcmp(one, y, (size_t)rows * out * sizeof(float)) == 0);
      CHECK(check(&s, y, 1) >= 0);
    }
  }
  free(one);
  shape_free(&s);
}

static void test_kernels(void) {
  CHECK(strcmp(gemm_kernel_name(GEMM_AVX512), "AVX-512") == 0);
  CHECK(strcmp(gemm_kernel_name((gemm_kernel)99), "?") == 0);
  CHECK_INT(gemm_kernel_available(GEMM_AUTO), 1);
  CHECK_INT(gemm_kernel_available(GEMM_BLAS), 1);
  gemm_kernel a = gemm_kernel_auto();
  CHECK(a != GEMM_AUTO);
  CHECK_INT(gemm_kernel_available(a), 1);
  if (gemm_kernel_available(GEMM_AVX512)) CHECK_INT(a, GEMM_AVX512);
  CHECK_INT(gemm_small_rows(), a == GEMM_AVX512 ? 32 : 0);
  /* Outside the broadcast kernel's shapes (more than 32 rows, fewer than
  ** 768 inputs) the AVX-512 kernel is cblas_sgemm itself: the same bits. */
  static const int dims[][3] = {{65, 1100, 40}, {32, 767, 40}, {32, 64, 32}};
  for (int d = 0; d < 3; d++) {
    shape s;
    shape_init(&s, dims[d][0], dims[d][1], dims[d][2]);
    size_t n = (size_t)s.rows * s.out;
    float *y = fresh_y(&s), *blas = malloc(n * sizeof *blas);
    gemm_linear(s.x, s.rows, s.in, s.w, s.b, s.out, blas, 1, GEMM_BLAS);
    gemm_linear(s.x, s.rows, s.in, s.w, s.b, s.out, y, 1, GEMM_AVX512);
    CHECK(memcmp(y, blas, n * sizeof *y) == 0);
    free(blas);
    shape_free(&s);
  }
}

/* Strided operands give bit for bit what dense copies give, and y's gaps
** between rows are left alone. */
static void test_strided(void) {
  static const int rows_list[] = {1, 5, 32};
  int fails = 0;
  for (int ri = 0; ri < 3; ri++) {
    int rows = rows_list[ri], in = 37, out = 9, ldx = in + 3, ldw = in + 5, ldy = out + 2;
    shape s;
    shape_init(&s, rows, in, out);
    float *xs = calloc((size_t)rows * ldx, sizeof(float)), *ws = calloc((size_t)out * ldw, sizeof(float));
    float *ys = malloc((size_t)rows * ldy * sizeof(float));
    for (int r = 0; r < rows; r++) memcpy(xs + (size_t)r * ldx, s.x + (size_t)r * in, in * sizeof(float));
    for (int o = 0; o < out; o++) memcpy(ws + (size_t)o * ldw, s.w + (size_t)o * in, in * sizeof(float));
    for (size_t kk = 0; kk < sizeof kernels / sizeof kernels[0]; kk++) {
      if (!gemm_kernel_available(kernels[kk])) continue;
      float *y = fresh_y(&s);
      gemm_linear(s.x, rows, in, s.w, s.b, out, y, 1, kernels[kk]);
      for (size_t i = 0; i < (size_t)rows * ldy; i++) ys[i] = CANARY;
      gemm_linear_ld(xs, ldx, rows, in, ws, ldw, s.b, out, ys, ldy, 1, kernels[kk]);
      for (int r = 0; r < rows; r++) {
        if (memcmp(ys + (size_t)r * ldy, y + (size_t)r * out, out * sizeof(float)) != 0) fails++;
        if (ys[(size_t)r * ldy + out] != CANARY || ys[(size_t)r * ldy + out + 1] != CANARY) fails++;
      }
    }
    free(xs), free(ws), free(ys);
    shape_free(&s);
  }
  CHECK_INT(fails, 0);
}

/* Nothing is written for an empty product. */
static void test_empty(void) {
  float x[4] = {1, 2, 3, 4}, w[4] = {1, 1, 1, 1}, y[4] = {7, 7, 7, 7};
  gemm_linear(x, 0, 4, w, NULL, 1, y, 1, GEMM_AUTO);
  gemm_linear(x, 1, 4, w, NULL, 0, y, 2, GEMM_AUTO);
  CHECK(y[0] == 7 && y[3] == 7);
  gemm_linear(x, 1, 4, w, NULL, 1, y, 1, GEMM_AUTO);
  CHECK_NEAR(y[0], 10, 0);
  CHECK(y[1] == 7);
}

/* nn_linear on both sides of gemm_small_rows(). */
static void test_nn_dispatch(void) {
  int fails = 0;
  int rows[] = {gemm_small_rows() > 0 ? gemm_small_rows() : 1, gemm_small_rows() + 1};
  for (int i = 0; i < 2; i++) {
    shape s;
    shape_init(&s, rows[i], 65, 33);
    float *y = fresh_y(&s);
    nn_linear(s.x, s.rows, s.in, s.w, s.b, s.out, y);
    double e = check(&s, y, 1);
    if (!(e >= 0 && e <= 1e-5)) fails++;
    shape_free(&s);
  }
  CHECK_INT(fails, 0);
}

/* gemm_linear_multi gives each part the bits gemm_linear gives it, whatever
** the kernel and thread count, with the threads' cuts inside and between
** parts (sizes not multiples of the tile, a 1-wide part, 3 threads). */
static void test_multi(void) {
  static const int rows_list[] = {1, 17, 32, 129};
  static const int outs[3] = {1001, 1, 517};
  const int in = 1100;
  int fails = 0;
  for (size_t ri = 0; ri < sizeof rows_list / sizeof *rows_list; ri++) {
    int rows = rows_list[ri];
    float *x = malloc(sizeof(float) * (size_t)rows * in);
    for (size_t i = 0; i < (size_t)rows * in; i++) x[i] = (float)((i * 7919) % 1000) / 500.0f - 1.0f;
    float *w[3], *b[3], *y[3], *ref[3];
    gemm_out o[3];
    for (int p = 0; p < 3; p++) {
      w[p] = malloc(sizeof(float) * (size_t)outs[p] * in);
      b[p] = malloc(sizeof(float) * (size_t)outs[p]);
      y[p] = malloc(sizeof(float) * (size_t)rows * outs[p]);
      ref[p] = malloc(sizeof(float) * (size_t)rows * outs[p]);
      for (size_t i = 0; i < (size_t)outs[p] * in; i++) w[p][i] = (float)((i * 104729 + p) % 997) / 498.0f - 1.0f;
      for (int i = 0; i < outs[p]; i++) b[p][i] = (float)i / outs[p];
      o[p] = (gemm_out){w[p], p == 1 ? NULL : b[p], outs[p], y[p]};
    }
    for (int kk = GEMM_BLAS; kk <= GEMM_AVX512; kk++) {
      if (!gemm_kernel_available((gemm_kernel)kk)) continue;
      for (int p = 0; p < 3; p++)
        gemm_linear(x, rows, in, w[p], o[p].b, outs[p], ref[p], 1, (gemm_kernel)kk);
      for (int threads = 1; threads <= 3; threads++) {
        for (int p = 0; p < 3; p++) memset(y[p], 0xff, sizeof(float) * (size_t)rows * outs[p]);
        gemm_linear_multi(x, rows, in, o, 3, threads, (gemm_kernel)kk);
        for (int p = 0; p < 3; p++)
          if (memcmp(y[p], ref[p], sizeof(float) * (size_t)rows * outs[p]) != 0) {
            fprintf(stderr, "  multi: rows %d kernel %d threads %d part %d differs\n", rows, kk,
                    threads, p);
            fails++;
          }
      }
    }
    for (int p = 0; p < 3; p++) free(w[p]), free(b[p]), free(y[p]), free(ref[p]);
    free(x);
  }
  CHECK_INT(fails, 0);
  CHECK((long)32 * in * (1001 + 1 + 517) >= GEMM_THREAD_MIN_MACS); /* the split really runs */
}

int main(void) {
  RUN(test_multi);
  RUN(test_kernels);
  RUN(test_empty);
  RUN(test_small_shapes);
  RUN(test_wide_shapes);
  RUN(test_threads_split);
  RUN(test_strided);
  RUN(test_nn_dispatch);
  return harness_report();
}
