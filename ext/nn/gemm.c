/*
** gemm — see gemm.h.
**
** Tiles: MR = 4 rows of W by 3 rows of x in AVX2 (12 accumulators, 3 x
** vectors and one W vector: the 16 ymm registers), by 4 rows of x in
** AVX-512 (16 of 32 zmm). Loop order per k block: W tile outermost, x rows
** inside, so a W tile (4·KC floats) comes from memory once and then from L1
** for every group of x rows, while x (rows·KC floats) stays in L2. Blocking
** k bounds both footprints for the 3072-wide inputs; a later k block adds to
** what the earlier ones stored. W is streamed from DRAM once per call, so
** each tile prefetches the next one, a share per x group: without that the
** first x group of every tile waits on memory (measured: ~15-25% of a
** 32-row DistilBERT linear).
*/
#include "gemm.h"

#include "nn_threads.h"

#include <cblas.h>
#include <stdlib.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#if defined(__x86_64__) || defined(__i386__)
#define GEMM_X86 1
#include <immintrin.h>
#endif

#define MR 4
#define KC 1024

typedef struct gemm_job {
  const float *x, *w, *b;
  float *y;
  int rows, in, out, o0, o1, ldx, ldw, ldy;
  gemm_kernel k;
  const float *xt; /* AVX-512 few-row path: x transposed, [in][rp], or NULL */
  int rp;          /* rows rounded up to 16 (xt's row length) */
} gemm_job;

/* Rows up to which the AVX-512 kernel works from x transposed (W broadcast
** one element at a time against 16 rows of x in a vector): 150-180 GFLOP/s
** a core here up to 128 rows, where xt (128·in floats) still sits in L2;
** beyond, the dot-product tiles are faster. Also the W rows per tile. */
#define BCAST_ROWS 128
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

/* ---- AVX2 + FMA ---- */

#define AVX2 __attribute__((target("avx2,fma")))
#define INLINE static inline __attribute__((always_inline))

/* Lanes [8-n, 16-n) of this table are n all-ones words then zeros. */
static const int32_t tail_mask[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

/* Four accumulators -> their four horizontal sums, in order. */
AVX2 INLINE __m128 hsum4(__m256 a, __m256 b, __m256 c, __m256 d) {
  __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
  return _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
}

/* Adds the tile's sums s (lanes i < mr) to y, or stores them plus b. */
AVX2 INLINE void put4(__m128 s, float *y, const float *b, int add, const int mr) {
  if (mr == 4) {
    if (add)
      s = _mm_add_ps(s, _mm_loadu_ps(y));
    else if (b)
      s = _mm_add_ps(s, _mm_loadu_ps(b));
    _mm_storeu_ps(y, s);
  } else {
    float t[4];
    _mm_storeu_ps(t, s);
    for (int i = 0; i < mr; i++) y[i] = t[i] + (add ? y[i] : b ? b[i] : 0.0f);
  }
}

/* One tile: y[j][i] (+)= Σ_k x[j][k]·w[i][k] for i < mr, j < nr, k < kc.
** `add` adds to y (a later k block); else y = sum + b (b may be NULL).
** pf/npf: rows of the next W tile to prefetch, one line per 16 floats, so
** its DRAM latency hides behind this tile's FMAs. */
AVX2 INLINE void avx2_tile(const float *x, size_t ldx, const float *w, size_t ldw, int kc, float *y,
                           size_t ldy, const float *b, int add, const float *pf, int npf,
                           const int mr, const int nr) {
  __m256 acc[4][4], xv[4];
#pragma GCC unroll 4
  for (int i = 0; i < mr; i++)
#pragma GCC unroll 4
    for (int j = 0; j < nr; j++) acc[i][j] = _mm256_setzero_ps();
  int k = 0;
  for (; k + 8 <= kc; k += 8) {
    if (!(k & 15))
      for (int p = 0; p < npf; p++) _mm_prefetch((const char *)(pf + p * ldw + k), _MM_HINT_T0);
#pragma GCC unroll 4
    for (int j = 0; j < nr; j++) xv[j] = _mm256_loadu_ps(x + j * ldx + k);
#pragma GCC unroll 4
    for (int i = 0; i < mr; i++) {
      __m256 wv = _mm256_loadu_ps(w + i * ldw + k);
#pragma GCC unroll 4
      for (int j = 0; j < nr; j++) acc[i][j] = _mm256_fmadd_ps(wv, xv[j], acc[i][j]);
    }
  }
  if (k < kc) {
    __m256i m = _mm256_loadu_si256((const __m256i *)(tail_mask + 8 - (kc - k)));
#pragma GCC unroll 4
    for (int j = 0; j < nr; j++) xv[j] = _mm256_maskload_ps(x + j * ldx + k, m);
#pragma GCC unroll 4
    for (int i = 0; i < mr; i++) {
      __m256 wv = _mm256_maskload_ps(w + i * ldw + k, m);
#pragma GCC unroll 4
      for (int j = 0; j < nr; j++) acc[i][j] = _mm256_fmadd_ps(wv, xv[j], acc[i][j]);
    }
  }
  __m256 z = _mm256_setzero_ps();
#pragma GCC unroll 4
  for (int j = 0; j < nr; j++)
    put4(hsum4(acc[0][j], mr > 1 ? acc[1][j] : z, mr > 2 ? acc[2][j] : z, mr > 3 ? acc[3][j] : z),
         y + j * ldy, b, add, mr);
}

/* The same tile in 512-bit vectors (16 floats, 32 registers: 4 W rows by
** 4 x rows). Masked loads of the k tail cannot fault. */
#define AVX512 __attribute__((target("avx512f,avx2,fma")))

AVX512 INLINE __m256 half_sum(__m512 a) {
  return _mm256_add_ps(_mm512_castps512_ps256(a),
                       _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1)));
}

AVX512 INLINE void avx512_tile(const float *x, size_t ldx, const float *w, size_t ldw, int kc, float *y,
                               size_t ldy, const float *b, int add, const float *pf, int npf,
                               const int mr, const int nr) {
  __m512 acc[4][4], xv[4];
#pragma GCC unroll 4
  for (int i = 0; i < mr; i++)
#pragma GCC unroll 4
    for (int j = 0; j < nr; j++) acc[i][j] = _mm512_setzero_ps();
  int k = 0;
  for (; k + 16 <= kc; k += 16) {
    for (int p = 0; p < npf; p++) _mm_prefetch((const char *)(pf + p * ldw + k), _MM_HINT_T0);
#pragma GCC unroll 4
    for (int j = 0; j < nr; j++) xv[j] = _mm512_loadu_ps(x + j * ldx + k);
#pragma GCC unroll 4
    for (int i = 0; i < mr; i++) {
      __m512 wv = _mm512_loadu_ps(w + i * ldw + k);
#pragma GCC unroll 4
      for (int j = 0; j < nr; j++) acc[i][j] = _mm512_fmadd_ps(wv, xv[j], acc[i][j]);
    }
  }
  if (k < kc) {
    __mmask16 m = (__mmask16)((1u << (kc - k)) - 1);
#pragma GCC unroll 4
    for (int j = 0; j < nr; j++) xv[j] = _mm512_maskz_loadu_ps(m, x + j * ldx + k);
#pragma GCC unroll 4
    for (int i = 0; i < mr; i++) {
      __m512 wv = _mm512_maskz_loadu_ps(m, w + i * ldw + k);
#pragma GCC unroll 4
      for (int j = 0; j < nr; j++) acc[i][j] = _mm512_fmadd_ps(wv, xv[j], acc[i][j]);
    }
  }
  __m256 z = _mm256_setzero_ps();
#pragma GCC unroll 4
  for (int j = 0; j < nr; j++)
    put4(hsum4(half_sum(acc[0][j]), mr > 1 ? half_sum(acc[1][j]) : z,
               mr > 2 ? half_sum(acc[2][j]) : z, mr > 3 ? half_sum(acc[3][j]) : z),
         y + j * ldy, b, add, mr);
}

/* Constant mr/nr at each call so the tile's loops unroll into registers. */
#define TILE_CASE(tile, m, n)                                              \
  case (m) * 8 + (n):                                                      \
    tile(xr, ldx, wo, ldw, kc, yr, ldy, bo, add, pf, npf, m, n);   \
    break;
#define CASES_3(tile)                                                      \
  TILE_CASE(tile, 4, 3) TILE_CASE(tile, 4, 2) TILE_CASE(tile, 4, 1)        \
  TILE_CASE(tile, 3, 3) TILE_CASE(tile, 3, 2) TILE_CASE(tile, 3, 1)        \
  TILE_CASE(tile, 2, 3) TILE_CASE(tile, 2, 2) TILE_CASE(tile, 2, 1)        \
  TILE_CASE(tile, 1, 3) TILE_CASE(tile, 1, 2) TILE_CASE(tile, 1, 1)
#define CASES_4(tile)                                                      \
  CASES_3(tile) TILE_CASE(tile, 4, 4) TILE_CASE(tile, 3, 4)                \
  TILE_CASE(tile, 2, 4) TILE_CASE(tile, 1, 4)

/* Columns [o0, o1) of y: W tiles of MR rows outermost, x rows (nr at a
** time) inside, per k block. Each x group of a W tile prefetches a share
** of the next W tile's rows. */
#define DEFINE_COLS(name, ATTR, NRMAX, CASES)                                          \
  ATTR static void name(const gemm_job *j) {                                           \
    size_t ldx = (size_t)j->ldx, ldw = (size_t)j->ldw, ldy = (size_t)j->ldy;           \
    int nt = (j->rows + NRMAX - 1) / NRMAX, per = (MR + nt - 1) / nt;                  \
    for (int k0 = 0; k0 < j->in; k0 += KC) {                                           \
      int kc = j->in - k0 < KC ? j->in - k0 : KC, add = k0 > 0;                        \
      for (int o = j->o0; o < j->o1; o += MR) {                                        \
        int mr = j->o1 - o < MR ? j->o1 - o : MR;                                      \
        const float *wo = j->w + (size_t)o * ldw + k0, *bo = j->b ? j->b + o : NULL;    \
        int next = o + MR < j->o1 ? o + MR : k0 + KC < j->in ? j->o0 : -1;             \
        int nrows = next < 0 ? 0 : j->o1 - next < MR ? j->o1 - next : MR;              \
        const float *wn =                                                              \
            next < 0 ? j->w : j->w + (size_t)next * ldw + (next > o ? k0 : k0 + KC);   \
        for (int r = 0, t = 0; r < j->rows; r += NRMAX, t++) {                         \
          int nr = j->rows - r < NRMAX ? j->rows - r : NRMAX;                          \
          int p0 = t * per < nrows ? t * per : nrows;                                  \
          int p1 = p0 + per < nrows ? p0 + per : nrows, npf = p1 - p0;                 \
          const float *pf = wn + (size_t)p0 * ldw, *xr = j->x + (size_t)r * ldx + k0;  \
          float *yr = j->y + (size_t)r * ldy + o;                                      \
          switch (mr * 8 + nr) { CASES }                                               \
        }                                                                              \
      }                                                                                \
    }                                                                                  \
  }

DEFINE_COLS(avx2_cols, AVX2, 3, CASES_3(avx2_tile))
DEFINE_COLS(avx512_cols, AVX512, 4, CASES_4(avx512_tile))

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

static int have_avx2(void) {
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
static int have_avx512(void) {
  return __builtin_cpu_supports("avx512f") && have_avx2();
}

#else
static int have_avx2(void) { return 0; }
static int have_avx512(void) { return 0; }
#endif

int gemm_kernel_available(gemm_kernel k) {
  switch (k) {
    case GEMM_AUTO:
    case GEMM_BLAS: return 1;
    case GEMM_AVX2: return have_avx2();
    case GEMM_AVX512: return have_avx512();
  }
  return 0;
}

gemm_kernel gemm_kernel_auto(void) {
  return have_avx512() ? GEMM_AVX512 : have_avx2() ? GEMM_AVX2 : GEMM_BLAS;
}

/* OpenBLAS's own AVX-512 kernels (chosen by its CPU detection, or by
** OPENBLAS_CORETYPE) pack and multiply at ~150-175 GFLOP/s a core here from
** 128 rows on: ahead of our dot-product tiles, level with the broadcast
** path (bench_gemm), so they take everything above BCAST_ROWS. */
static int blas_has_avx512(void) {
  static const char *const cores[] = {"skylakex", "cooperlake", "sapphirerapids"};
  const char *name = openblas_get_corename();
  for (size_t i = 0; name && i < sizeof cores / sizeof *cores; i++)
    if (strncasecmp(name, cores[i], strlen(cores[i])) == 0) return 1;
  return 0;
}

const char *gemm_kernel_name(gemm_kernel k) {
  static const char *const name[] = {"auto", "BLAS", "AVX2", "AVX-512"};
  return (unsigned)k < sizeof name / sizeof *name ? name[k] : "?";
}

int gemm_small_rows(void) {
  if (blas_has_avx512()) return gemm_kernel_auto() == GEMM_AVX512 ? BCAST_ROWS : 0;
  switch (gemm_kernel_auto()) {
    case GEMM_AVX512: return 512;
    case GEMM_AVX2: return 128;
    default: return 0;
  }
}

static void run_cols(const gemm_job *j) {
  if (j->o1 <= j->o0) return;
  switch (j->k) {
#ifdef GEMM_X86
    case GEMM_AVX2: avx2_cols(j); return;
    case GEMM_AVX512:
      if (j->xt)
        bcast_cols(j);
      else
        avx512_cols(j);
      return;
#endif
    default: blas_cols(j); return;
  }
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

/* The few-row AVX-512 path works from x transposed: one allocation of
** rp·in floats per call (≤ 128 rows). Without memory, the tiles run. */
static float *bcast_prepare(gemm_job *j) {
#ifdef GEMM_X86
  if (j->k != GEMM_AVX512 || j->rows > BCAST_ROWS) return NULL;
  j->rp = (j->rows + 15) & ~15;
  size_t bytes = sizeof(float) * (size_t)j->rp * (size_t)j->in;
  float *xt = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
  if (xt) transpose_x(j->x, j->ldx, j->rows, j->in, j->rp, xt);
  j->xt = xt;
  return xt;
#else
  (void)j;
  return NULL;
#endif
}

static void run_split(const gemm_job *job, int threads) {
  int unit = job->xt ? BCAST_MR : MR, out = job->out;
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
  if (threads > MAX_THREADS) threads = MAX_THREADS;
  /* OpenBLAS threads itself; splitting its calls would nest two pools. */
  if (macs < GEMM_THREAD_MIN_MACS || k == GEMM_BLAS) threads = 1;
  float *xt = bcast_prepare(&job);
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
  if (threads < 2 || macs < GEMM_THREAD_MIN_MACS || k == GEMM_BLAS) threads = 1;
  /* every cut adds at most one job to those one per part */
  gemm_job jobs[MAX_THREADS + GEMM_MAX_OUTS];
  gemm_span span[MAX_THREADS];
  split_spans(&base, o, n, threads, xt ? BCAST_MR : MR, jobs, span);
  run_spans(span, threads);
  free(xt);
}

void gemm_linear(const float *x, int rows, int in, const float *w, const float *b, int out,
                 float *y, int threads, gemm_kernel k) {
  gemm_linear_ld(x, in, rows, in, w, in, b, out, y, out, threads, k);
}
