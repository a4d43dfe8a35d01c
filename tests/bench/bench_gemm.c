/* Which float32 product wins at the shapes the project multiplies: OpenBLAS
** (one cblas_sgemm call, its own threads), ext/nn/gemm's hand-written
** kernel (gemm_linear_ld with GEMM_AVX512: x·Wᵀ + b only; the broadcast
** kernel where gemm.c keeps it, cblas_sgemm elsewhere) and oneDNN's matmul
** (nn_matmul, the primitive nn_dense runs), in GFLOP/s.
**   bench_gemm [threads [rows,rows,...]]
** With a row list, the encoders' three linear shapes (768x768, 768x3072,
** 3072x768) at each row count instead: where ext/nn/gemm's few-row kernel
** stops beating oneDNN (gemm_small_rows()).
** Shapes: HuBERT-base's linears (499 frames of 10 s), DistilBERT-base's
** (32 tokens) and its per-head attention products (gemm_linear_ld's callers),
** the training heads' forward and backward products (batch 64, ~122
** distinct text rows, 1024-d text and 50-d acoustic features into D 512,
** MLP hidden 512) and the loss's similarity products, and the acoustic
** head's embedding chunk (256 rows). Best of 11 rounds, wall clock; matrices
** over 4 MB rotate through NMAT copies so each call streams its weights from
** memory as an encoder's forward pass does; smaller ones stay in cache, as in
** a training step. Prints one Markdown table row per shape. */
#include "dense.h"
#include "gemm.h"
#include "nn.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NMAT 6

typedef struct shape {
  const char *what;
  int ta, tb, m, n, k; /* c[m,n] = op(a)·op(b) (+ c when beta) */
  float beta;
} shape;

/* op(b) = bᵀ with b [n,k] is a linear's x·Wᵀ: the only product ext/nn/gemm
** computes (as y = x·Wᵀ + b, so beta 1 means a bias there). */
static const shape shapes[] = {
    {"HuBERT linear q/k/v/o", 0, 1, 499, 768, 768, 1},
    {"HuBERT FF1", 0, 1, 499, 3072, 768, 1},
    {"HuBERT FF2", 0, 1, 499, 768, 3072, 1},
    {"DistilBERT linear q/k/v/o", 0, 1, 32, 768, 768, 1},
    {"DistilBERT FF1", 0, 1, 32, 3072, 768, 1},
    {"DistilBERT FF2", 0, 1, 32, 768, 3072, 1},
    {"DistilBERT attention q·kᵀ (per head)", 0, 1, 32, 32, 64, 0},
    {"DistilBERT attention p·v (per head)", 0, 1, 32, 64, 32, 0},
    {"train: audio head forward", 0, 1, 64, 512, 50, 1},
    {"train: text head forward", 0, 1, 122, 512, 1024, 1},
    {"train: MLP second layer forward", 0, 1, 122, 512, 512, 1},
    {"train: text head dW = gᵀ·x", 1, 0, 512, 1024, 122, 1},
    {"train: audio head dW = gᵀ·x", 1, 0, 512, 50, 64, 1},
    {"train: MLP hidden grad g·W2", 0, 0, 122, 512, 512, 0},
    {"train: loss similarity t·aᵀ", 0, 1, 64, 64, 512, 0},
    {"train: loss text grad G·a", 0, 0, 64, 512, 64, 0},
    {"train: loss audio grad Gᵀ·t", 1, 0, 64, 512, 64, 1},
    {"acoustic head embed chunk", 0, 1, 256, 512, 50, 1},
};

enum { K_BLAS, K_AVX512, K_DNNL, K_N };

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static float *randv(size_t n) {
  float *v = malloc(n * sizeof *v);
  for (size_t i = 0; v && i < n; i++) v[i] = (float)rand() / RAND_MAX - 0.5f;
  return v;
}

static void run(int kind, const shape *s, const float *a, const float *b, const float *bias,
                float *c, int threads) {
  int lda = s->ta ? s->m : s->k, ldb = s->tb ? s->k : s->n;
  switch (kind) {
  case K_BLAS:
    cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans, s->tb ? CblasTrans : CblasNoTrans,
                s->m, s->n, s->k, 1.0f, a, lda, b, ldb, s->beta, c, s->n);
    break;
  case K_AVX512:
    gemm_linear_ld(a, lda, s->m, s->k, b, ldb, s->beta != 0 ? bias : NULL, s->n, c, s->n, threads,
                   GEMM_AVX512);
    break;
  default:
    nn_matmul(s->ta, s->tb, s->m, s->n, s->k, 1.0f, a, lda, b, ldb, s->beta, c, s->n);
  }
}

/* Seconds per call, best of 11 rounds. */
static double timeit(int kind, const shape *s, const float *a, float **b, int nb,
                     const float *bias, float *c, int threads) {
  double flop = 2.0 * s->m * s->n * s->k;
  int reps = (int)(1e8 / flop) + 1;
  double best = 1e30;
  run(kind, s, a, b[0], bias, c, threads); /* primitive creation, page faults */
  for (int round = 0; round < 11; round++) {
    double t0 = now();
    for (int i = 0; i < reps; i++) run(kind, s, a, b[i % nb], bias, c, threads);
    double dt = (now() - t0) / reps;
    if (dt < best) best = dt;
  }
  return best;
}

static void row(const shape *s, int threads) {
  static const char *const names[K_N] = {"OpenBLAS", "gemm AVX-512", "oneDNN"};
  size_t bsize = (size_t)s->k * s->n;
  int nb = bsize * sizeof(float) > (4u << 20) ? NMAT : 1;
  float *a = randv((size_t)s->m * s->k), *c = randv((size_t)s->m * s->n), *bias = randv((size_t)s->n);
  float *b[NMAT];
  for (int j = 0; j < nb; j++) b[j] = randv(bsize);
  double flop = 2.0 * s->m * s->n * s->k, g[K_N];
  int best = K_BLAS;
  printf("| %s | %d × %d × %d%s |", s->what, s->m, s->n, s->k,
         s->ta ? " (aᵀ)" : s->tb ? "" : " (b not transposed)");
  for (int kind = 0; kind < K_N; kind++) {
    int linear = !s->ta && s->tb;
    if (kind == K_AVX512 && (!linear || !gemm_kernel_available(GEMM_AVX512))) {
      g[kind] = 0;
      printf(" n/a |");
      continue;
    }
    g[kind] = flop / timeit(kind, s, a, b, nb, bias, c, threads) * 1e-9;
    if (g[kind] > g[best]) best = kind;
    printf(" %.1f |", g[kind]);
  }
  printf(" %s |\n", names[best]);
  fflush(stdout);
  free(a), free(c), free(bias);
  for (int j = 0; j < nb; j++) free(b[j]);
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 1;
  nn_set_threads(threads);
  printf("threads=%d\ndnnl_isa=%s\nopenblas_core=%s\n\n", nn_get_threads(), nn_dense_isa(),
         openblas_get_corename());
  printf("| product | m × n × k | OpenBLAS | gemm AVX-512 | oneDNN | best |\n"
         "|---|---|---|---|---|---|\n");
  if (argc > 2) {
    static const int lin[][2] = {{768, 768}, {3072, 768}, {768, 3072}}; /* out, in */
    for (const char *p = argv[2]; *p;) {
      for (int i = 0; i < 3; i++) {
        shape s = {"linear", 0, 1, atoi(p), lin[i][0], lin[i][1], 1};
        row(&s, threads);
      }
      while (*p && *p != ',') p++;
      if (*p == ',') p++;
    }
    return 0;
  }
  for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) row(&shapes[i], threads);
  return 0;
}
