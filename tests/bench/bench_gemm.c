/* The crossover behind gemm_small_rows() (ext/gemm.h): GFLOP/s of gemm_linear
** (each available kernel) and of cblas_sgemm with CblasTrans (as nn_linear
** called it before, packing included) on the encoders' linear shapes, for
** a range of row counts.
**   bench_gemm [threads [rows,rows,...]]
** Prints one Markdown table row per (rows, in, out); best of several runs,
** wall clock. Weights are 9 MB per matrix, so every call streams W from
** memory as in a real forward pass (several matrices rotate to defeat L3). */
#include "gemm.h"
#include "nn.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef NMAT
#define NMAT 6
#endif

static double now(void) {
  struct timespec ts;
  clock_gettime(getenv("BENCH_CPU") ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static float *randv(size_t n) {
  float *v = malloc(n * sizeof *v);
  for (size_t i = 0; v && i < n; i++) v[i] = (float)rand() / RAND_MAX - 0.5f;
  return v;
}

static void blas(const float *x, int rows, int in, const float *w, const float *b, int out,
                 float *y) {
  for (int r = 0; r < rows; r++) memcpy(y + (size_t)r * out, b, sizeof(float) * (size_t)out);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, out, in, 1.0f, x, in, w, in, 1.0f, y,
              out);
}

/* Seconds per call, best of 5 rounds of `reps` calls over NMAT matrices. */
static double timeit(int kind, const float *x, int rows, int in, float **w, const float *b, int out,
                     float *y, int threads) {
  int reps = (int)(4e8 / (2.0 * rows * in * out)) + 1;
  double best = 1e30;
  for (int round = 0; round < 5; round++) {
    double t0 = now();
    for (int i = 0; i < reps; i++) {
      const float *wi = w[i % NMAT];
      if (kind < 0)
        blas(x, rows, in, wi, b, out, y);
      else
        gemm_linear(x, rows, in, wi, b, out, y, threads, (gemm_kernel)kind);
    }
    double dt = (now() - t0) / reps;
    if (dt < best) best = dt;
  }
  return best;
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 1;
  const char *list = argc > 2 ? argv[2] : "1,8,16,32,48,64,96,128,192,256,499";
  nn_set_threads(threads);
  static const int shapes[][2] = {{768, 768}, {768, 3072}, {3072, 768}};
  printf("threads=%d\n\n| rows | in | out | cblas_sgemm GFLOP/s | AVX2 GFLOP/s | AVX-512 GFLOP/s |\n"
         "|---|---|---|---|---|---|\n",
         nn_get_threads());
  for (const char *p = list; *p;) {
    int rows = atoi(p);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
      int in = shapes[s][0], out = shapes[s][1];
      float *x = randv((size_t)rows * in), *b = randv((size_t)out), *y = randv((size_t)rows * out);
      float *w[NMAT];
      for (int i = 0; i < NMAT; i++) w[i] = randv((size_t)in * out);
      double flop = 2.0 * rows * in * out;
      printf("| %d | %d | %d | %.1f", rows, in, out,
             flop / timeit(-1, x, rows, in, w, b, out, y, threads) * 1e-9);
      gemm_kernel ks[] = {GEMM_AVX2, GEMM_AVX512};
      for (int i = 0; i < 2; i++) {
        if (gemm_kernel_available(ks[i]))
          printf(" | %.1f", flop / timeit(ks[i], x, rows, in, w, b, out, y, threads) * 1e-9);
        else
          printf(" | n/a");
      }
      printf(" |\n");
      fflush(stdout);
      free(x), free(b), free(y);
      for (int i = 0; i < NMAT; i++) free(w[i]);
    }
    while (*p && *p != ',') p++;
    if (*p == ',') p++;
  }
  return 0;
}
