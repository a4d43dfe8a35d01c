/*
** gemm — see gemm.h.
**
** One kernel: W broadcast one element at a time against 16 rows of x
** transposed, 16 accumulators, W streamed from memory once. What measured
** slower than oneDNN or OpenBLAS at the project's shapes is gone (the
** register-blocked dot-product tiles in AVX2 and AVX-512; tests/bench/RESULTS.md,
** "float32 products").
*/
#include "gemm.h"

#include "nn_threads.h"

#include <cblas.h>
#include <stdlib.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define GEMM_X86 1
#include <immintrin.h>
#endif

typedef struct gemm_job {
  const float *x, *w, *b;
  float *y;
  int rows, in, out, o0, o1, ldx, ldw, ldy;
  gemm_kernel k;
  const float *xt; /* AVX-512 few-row path: x transposed, [in][rp], or NULL */
  int rp;          /* rows rounded up to 16 (xt's row length) */
} gemm_job;

/* Where the broadcast kernel runs: up to BCAST_ROWS rows of x (xt, rows·in
** floats, stays in L2) and from BCAST_MIN_IN inputs (a W big enough that
** streaming it once is what counts). Measured against oneDNN's and
** OpenBLAS's float32 products on one core of an Intel Xeon with AMX
** (bench_gemm, tests/bench/RESULTS.md): 32 rows x 768 -> 768 / 3072 and
** 3072 -> 768, 136-161 GFLOP/s against oneDNN's 105-125 and OpenBLAS's
** 80-94; 64 rows level with oneDNN (141-167 vs 145-155), 96 rows and more
** behind it; below 768 inputs behind OpenBLAS (attention's 32 x 32 x 64:
** 47-54 vs 83-98; a 50-input head: 90-95 vs 114-121). Inside the models,
** where each layer's W is cold, oneDNN wins from fewer rows: HuBERT-base
** clips of 39-63 frames (0.8-1.3 s) encoded 9-16% faster with their
** linears on oneDNN, DistilBERT's 48-token sentences 12-14%, while its
** 32-token ones were 2% faster here (2026-12-07). BCAST_MR: W rows per
** tile. */
#define BCAST_ROWS 32
#define BCAST_MIN_IN 768
#define BCAST_MR 16

/* ---- BLAS ---- */

static void blas_cols(const gemm_job *j) {
  int n = j->o1 - j->o0;
  float beta = 0.0f;
  float *y = j->y + j->o0;
  if (j->b) {
    for (int r = 0; r < j->rows; r++)
      memcpy(y + (size_t)r * j->ldy, j->b + j->o0, sizeof(float) * (size_t)n);
    beta = 1.0f;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, j->rows, n, j->in, 1.0f, j->x, j->ldx,
              j->w + (size_t)j->o0 * j->ldw, j->ldw, beta, y, j->ldy);
}

#ifdef GEMM_X86

#define AVX512 __attribute__((target("avx512f,avx2,fma")))
#define INLINE static inline __attribute__((always_inline))

/* y[r0+r][i] = b[i] + Σ_k w[i][k]·xt[k][r0+r] for i < mr, r < nrow, with
** nv vectors of 16 rows: 16 accumulators (mr 16 × 1 vector or 8 × 2), each
** one FMA chain over k in order. W's element is broadcast, xt's rows are
** contiguous: no horizontal sums, and xt streams from L1/L2 in order. */
AVX512 INLINE void bcast_tile(const float *xt, int rp, int in, const float *w, size_t ldw,
                              float *y, size_t ldy, const float *b, int r0, int nrow, const int mr,
                              const int nv) {
  __m512 acc[16][2];
#pragma GCC unroll 16
  for (int i = 0; i < 16; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  const float *xp = xt + r0;
  for (int k = 0; k < in; k++, xp += rp) {
    __m512 x0 = _mm512_load_ps(xp), x1 = nv > 1 ? _mm512_load_ps(xp + 16) : x0;
#pragma GCC unroll 16
    for (int i = 0; i < mr; i++) {
      __m512 wb = _mm512_set1_ps(w[i * ldw + k]);
      acc[i][0] = _mm512_fmadd_ps(wb, x0, acc[i][0]);
      if (nv > 1) acc[i][1] = _mm512_fmadd_ps(wb, x1, acc[i][1]);
    }
  }
  float t[16][32] __attribute__((aligned(64)));
#pragma GCC unroll 16
  for (int i = 0; i < mr; i++)
#pragma GCC unroll 2
    for (int v = 0; v < nv; v++) _mm512_store_ps(&t[i][16 * v], acc[i][v]);
  for (int r = 0; r < nrow; r++)
    for (int i = 0; i < mr; i++) y[(size_t)(r0 + r) * ldy + i] = t[i][r] + (b ? b[i] : 0.0f);
}

/* Up to 16 W rows against 32 (two vectors) or 16 x rows at a time. */
AVX512 static void bcast_block(const gemm_job *j, int o, int mr, int r0, int nrow) {
  const float *w = j->w + (size_t)o * j->ldw, *b = j->b ? j->b + o : NULL;
  float *y = j->y + o;
  size_t ldw = (size_t)j->ldw, ldy = (size_t)j->ldy;
  if (nrow > 16) { /* two vectors: 8 W rows per pass keeps 16 accumulators */
    for (int h = 0; h < mr; h += 8) {
      int m = mr - h < 8 ? mr - h : 8;
      if (m == 8)
        bcast_tile(j->xt, j->rp, j->in, w + h * ldw, ldw, y + h, ldy, b ? b + h : NULL, r0, nrow, 8, 2);
      else
        bcast_tile(j->xt, j->rp, j->in, w + h * ldw, ldw, y + h, ldy, b ? b + h : NULL, r0, nrow, m, 2);
    }
  } else if (mr == 16) {
    bcast_tile(j->xt, j->rp, j->in, w, ldw, y, ldy, b, r0, nrow, 16, 1);
  } else {
    bcast_tile(j->xt, j->rp, j->in, w, ldw, y, ldy, b, r0, nrow, mr, 1);
  }
}

/* Columns [o0, o1): W tiles of 16 rows outermost (read once, from L1 for
** every row block), blocks of 32 x rows inside. */
AVX512 static void bcast_cols(const gemm_job *j) {
  for (int o = j->o0; o < j->o1; o += BCAST_MR) {
    int mr = j->o1 - o < BCAST_MR ? j->o1 - o : BCAST_MR;
    for (int r0 = 0; r0 < j->rows; r0 += 32)
      bcast_block(j, o, mr, r0, j->rows - r0 < 32 ? j->rows - r0 : 32);
  }
}

/* xt[k][r] = x[r][k], rows r >= rows zero (they only feed unused lanes). */
static void transpose_x(const float *x, int ldx, int rows, int in, int rp, float *xt) {
  enum { TB = 16 };
  for (int k0 = 0; k0 < in; k0 += TB)
    for (int r = 0; r < rp; r++) {
      int k1 = k0 + TB < in ? k0 + TB : in;
      for (int k = k0; k < k1; k++) xt[(size_t)k * rp + r] = r < rows ? x[(size_t)r * ldx + k] : 0.0f;
    }
}

static int have_avx512(void) {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") &&
         __builtin_cpu_supports("fma");
}

#else
static int have_avx512(void) { return 0; }
#endif

int gemm_kernel_available(gemm_kernel k) {
  switch (k) {
    case GEMM_AUTO:
    case GEMM_BLAS: return 1;
    case GEMM_AVX512: return have_avx512();
  }
  return 0;
}

gemm_kernel gemm_kernel_auto(void) {
  return have_avx512() ? GEMM_AVX512 : GEMM_BLAS;
}

const char *gemm_kernel_name(gemm_kernel k) {
  static const char *const name[] = {"auto", "BLAS", "AVX-512"};
  return (unsigned)k < sizeof name / sizeof *name ? name[k] : "?";
}

int gemm_small_rows(void) { return gemm_kernel_auto() == GEMM_AVX512 ? BCAST_ROWS : 0; }

static void run_cols(const gemm_job *j) {
  if (j->o1 <= j->o0) return;
#ifdef GEMM_X86
  if (j->xt) {
    bcast_cols(j);
    return;
  }
#endif
  blas_cols(j);
}

#define MAX_THREADS 64

/* One thread's share: column ranges of one or more outputs. */
typedef struct gemm_span {
  gemm_job *job;
  int n;
} gemm_span;

static void span_task(void *arg, int task, int worker) {
  (void)worker;
  gemm_span *s = (gemm_span *)arg + task;
  for (int i = 0; i < s->n; i++) run_cols(&s->job[i]);
}

/* Each span is one task of a region (nn_threads.h): the caller and the
** threads it starts share them out; a span's results do not depend on
** which thread ran it. */
static void run_spans(gemm_span *span, int threads) {
  if (threads < 2)
    span_task(span, 0, 0); /* GEMM_BLAS stays on OpenBLAS's own pool */
  else
    nn_parallel(threads, threads, span_task, span);
}

/* The AVX-512 kernel works from x transposed: one allocation of rp·in
** floats per call (≤ BCAST_ROWS rows). Outside its shapes, or without the
** memory, the job becomes a GEMM_BLAS one. */
static float *bcast_prepare(gemm_job *j) {
#ifdef GEMM_X86
  if (j->k != GEMM_AVX512 || j->rows > BCAST_ROWS || j->in < BCAST_MIN_IN) {
    j->k = GEMM_BLAS;
    return NULL;
  }
  j->rp = (j->rows + 15) & ~15;
  size_t bytes = sizeof(float) * (size_t)j->rp * (size_t)j->in;
  float *xt = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
  if (xt) transpose_x(j->x, j->ldx, j->rows, j->in, j->rp, xt);
  else j->k = GEMM_BLAS;
  j->xt = xt;
  return xt;
#else
  j->k = GEMM_BLAS;
  return NULL;
#endif
}

static void run_split(const gemm_job *job, int threads) {
  int unit = BCAST_MR, out = job->out;
  int tiles = (out + unit - 1) / unit;
  if (threads > tiles) threads = tiles;
  if (threads < 2) {
    run_cols(job);
    return;
  }
  gemm_job part[MAX_THREADS];
  gemm_span span[MAX_THREADS];
  for (int t = 0; t < threads; t++) {
    part[t] = *job;
    part[t].o0 = (int)((long)tiles * t / threads) * unit;
    part[t].o1 = t + 1 == threads ? out : (int)((long)tiles * (t + 1) / threads) * unit;
    span[t] = (gemm_span){&part[t], 1};
  }
  run_spans(span, threads);
}

void gemm_linear_ld(const float *x, int ldx, int rows, int in, const float *w, int ldw,
                    const float *b, int out, float *y, int ldy, int threads, gemm_kernel k) {
  if (rows < 1 || out < 1 || in < 1) return;
  if (k == GEMM_AUTO || !gemm_kernel_available(k)) k = gemm_kernel_auto();
  gemm_job job = {x, w, b, y, rows, in, out, 0, out, ldx, ldw, ldy, k, NULL, 0};
  long long macs = (long long)rows * in * out;
  float *xt = bcast_prepare(&job);
  if (threads > MAX_THREADS) threads = MAX_THREADS;
  /* OpenBLAS threads itself; splitting its calls would nest two pools. */
  if (macs < GEMM_THREAD_MIN_MACS || job.k == GEMM_BLAS) threads = 1;
  run_split(&job, threads);
  free(xt);
}

/* Thread t's columns are [total·t/threads, total·(t+1)/threads) of the parts
** laid end to end, each cut rounded down to a whole tile of its part. */
static void split_spans(const gemm_job *base, const gemm_out *o, int n, int threads, int unit,
                        gemm_job *jobs, gemm_span *span) {
  long total = 0;
  for (int i = 0; i < n; i++) total += o[i].out;
  int part = 0, off = 0; /* where the previous thread stopped */
  for (int t = 0; t < threads; t++) {
    long end = t + 1 == threads ? total : total * (t + 1) / threads;
    span[t] = (gemm_span){jobs, 0};
    long at = 0;
    for (int i = 0; i < part; i++) at += o[i].out;
    while (part < n) {
      int stop = end - at >= o[part].out ? o[part].out : (int)((end - at) / unit) * unit;
      if (t + 1 == threads) stop = o[part].out;
      if (stop > off) {
        gemm_job *j = jobs++;
        span[t].n++;
        *j = *base;
        j->w = o[part].w, j->b = o[part].b, j->y = o[part].y, j->out = o[part].out;
        j->ldw = base->in, j->ldy = o[part].out, j->o0 = off, j->o1 = stop;
      }
      if (stop < o[part].out) {
        if (stop > off) off = stop;
        break;
      }
      at += o[part].out, part++, off = 0;
    }
  }
}

void gemm_linear_multi(const float *x, int rows, int in, const gemm_out *o, int n, int threads,
                       gemm_kernel k) {
  if (rows < 1 || in < 1 || n < 1 || n > GEMM_MAX_OUTS) return;
  if (k == GEMM_AUTO || !gemm_kernel_available(k)) k = gemm_kernel_auto();
  long long macs = 0;
  for (int i = 0; i < n; i++) macs += (long long)rows * in * (o[i].out > 0 ? o[i].out : 0);
  gemm_job base = {x, NULL, NULL, NULL, rows, in, 0, 0, 0, in, in, 0, k, NULL, 0};
  float *xt = bcast_prepare(&base);
  if (threads > MAX_THREADS) threads = MAX_THREADS;
  if (threads < 2 || macs < GEMM_THREAD_MIN_MACS || base.k == GEMM_BLAS) threads = 1;
  /* every cut adds at most one job to those one per part */
  gemm_job jobs[MAX_THREADS + GEMM_MAX_OUTS];
  gemm_span span[MAX_THREADS];
  split_spans(&base, o, n, threads, BCAST_MR, jobs, span);
  run_spans(span, threads);
  free(xt);
}

void gemm_linear(const float *x, int rows, int in, const float *w, const float *b, int out,
                 float *y, int threads, gemm_kernel k) {
  gemm_linear_ld(x, in, rows, in, w, in, b, out, y, out, threads, k);
}
