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

#include <cblas.h>
#include <pthread.h>
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
} gemm_job;

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
** OPENBLAS_CORETYPE) pack and multiply at ~170 GFLOP/s a core here, faster
** than our dot-product tiles at any row count bench_gemm tried (32..499). */
static int blas_has_avx512(void) {
  static const char *const cores[] = {"skylakex", "cooperlake", "sapphirerapids"};
  const char *name = openblas_get_corename();
  for (size_t i = 0; name && i < sizeof cores / sizeof *cores; i++)
    if (strncasecmp(name, cores[i], strlen(cores[i])) == 0) return 1;
  return 0;
}

int gemm_small_rows(void) {
  if (blas_has_avx512()) return 0;
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
    case GEMM_AVX512: avx512_cols(j); return;
#endif
    default: blas_cols(j); return;
  }
}

static void *worker(void *arg) {
  run_cols(arg);
  return NULL;
}

#define MAX_THREADS 64

void gemm_linear_ld(const float *x, int ldx, int rows, int in, const float *w, int ldw,
                    const float *b, int out, float *y, int ldy, int threads, gemm_kernel k) {
  if (rows < 1 || out < 1 || in < 1) return;
  if (k == GEMM_AUTO || !gemm_kernel_available(k)) k = gemm_kernel_auto();
  gemm_job job = {x, w, b, y, rows, in, out, 0, out, ldx, ldw, ldy, k};
  long long macs = (long long)rows * in * out;
  if (threads > MAX_THREADS) threads = MAX_THREADS;
  if (threads > (out + MR - 1) / MR) threads = (out + MR - 1) / MR;
  /* OpenBLAS threads itself; splitting its calls would nest two pools. */
  if (threads < 2 || macs < GEMM_THREAD_MIN_MACS || k == GEMM_BLAS) {
    run_cols(&job);
    return;
  }
  gemm_job part[MAX_THREADS];
  pthread_t tid[MAX_THREADS];
  int started[MAX_THREADS] = {0};
  int tiles = (out + MR - 1) / MR;
  for (int t = 0; t < threads; t++) {
    part[t] = job;
    part[t].o0 = (int)((long)tiles * t / threads) * MR;
    part[t].o1 = t + 1 == threads ? out : (int)((long)tiles * (t + 1) / threads) * MR;
  }
  for (int t = 1; t < threads; t++) started[t] = pthread_create(&tid[t], NULL, worker, &part[t]) == 0;
  run_cols(&part[0]);
  for (int t = 1; t < threads; t++) {
    if (started[t])
      pthread_join(tid[t], NULL);
    else
      run_cols(&part[t]);
  }
}

void gemm_linear(const float *x, int rows, int in, const float *w, const float *b, int out,
                 float *y, int threads, gemm_kernel k) {
  gemm_linear_ld(x, in, rows, in, w, in, b, out, y, out, threads, k);
}
