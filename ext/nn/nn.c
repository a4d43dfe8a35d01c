/*
** nn — see nn.h.
**
** Reductions (norm statistics, softmax sums) accumulate in double: a minute
** of audio is ~200k frames per channel in HuBERT's layer-0 group norm, where
** float sums lose digits PyTorch's reference keeps.
*/
#include "nn.h"
#include "vmath.h"

#include "dense.h"
#include "gemm.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdatomic.h>
#include <string.h>

typedef struct nn_linear_job {
  const float *x, *w, *b;
  float *y;
  int rows, in, out, parts;
} nn_linear_job;

/* Column parts of a many-row linear: a function of the shape alone, never of
** the thread count, so the same sgemm calls run at any count. Cutting by
** thread count would move last bits: OpenBLAS's Haswell and Zen kernels
** round an element differently depending on where its call's column range
** starts (measured; its AVX-512 kernels do not). Fixed cuts cost 2-5% at
** one thread against one whole call (A is packed once per part). */
#define NN_LINEAR_PART_COLS 384
#define NN_LINEAR_PARTS_MAX 4

static int nn_linear_parts(int rows, int in, int out) {
  if ((long)rows * in * out < GEMM_THREAD_MIN_MACS) return 1;
  int p = out / NN_LINEAR_PART_COLS;
  return p < 1 ? 1 : p > NN_LINEAR_PARTS_MAX ? NN_LINEAR_PARTS_MAX : p;
}

/* Columns [o0, o1) of y, cut on multiples of 16 (whole vectors of the
** sgemm kernels' tiles): one single-threaded sgemm reading its rows of W. */
static void nn_linear_part(void *arg, int task, int worker) {
  (void)worker;
  const nn_linear_job *j = arg;
  int o0 = (int)((long)j->out * task / j->parts) & ~15;
  int o1 = task + 1 == j->parts ? j->out : (int)((long)j->out * (task + 1) / j->parts) & ~15;
  if (o1 <= o0) return;
  float beta = 0.0f;
  if (j->b) {
    for (int r = 0; r < j->rows; r++)
      memcpy(j->y + (size_t)r * j->out + o0, j->b + o0, sizeof(float) * (size_t)(o1 - o0));
    beta = 1.0f;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, j->rows, o1 - o0, j->in, 1.0f, j->x, j->in,
              j->w + (size_t)o0 * j->in, j->in, beta, j->y + o0, j->out);
}

void nn_linear(const float *x, int rows, int in, const float *w, const float *b, int out,
               float *y) {
  /* Few rows: dot products over W in place beat sgemm, which packs all of W
  ** per call (gemm.h). Many rows: sgemm's packed panels are reused enough;
  ** the column parts run on our threads, each single-threaded, so
  ** OpenBLAS's pool never wakes (its idle workers spin for ~70 ms after each
  ** threaded call, taking a core from the regions that follow). */
  int threads = nn_get_threads();
  if (rows <= gemm_small_rows()) {
    gemm_linear(x, rows, in, w, b, out, y, threads, GEMM_AUTO);
    return;
  }
  nn_linear_job j = {x, w, b, y, rows, in, out, nn_linear_parts(rows, in, out)};
  nn_parallel(j.parts, threads, nn_linear_part, &j);
}

void nn_layer_norm(const float *x, int rows, int d, const float *gamma, const float *beta,
                   float eps, float *y) {
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * d;
    double mean, var;
    vmath_moments(xr, (size_t)d, &mean, &var);
    float inv = (float)(1.0 / sqrt(var + eps));
    vmath_normalize(xr, (size_t)d, (float)mean, inv, gamma, beta, y + (size_t)r * d);
  }
}

/* Element-wise work big enough to share with a second thread: below this a
** pthread_create + join (25-140 us here) costs more than half the work. */
#define NN_SPLIT_MIN ((size_t)1 << 20)

typedef struct nn_rows_job {
  float *x;
  size_t rows, cols;
  int parts;
  int softmax; /* else GELU over the rows as one array */
} nn_rows_job;

/* Part `task` of `parts` equal runs of rows. */
static void nn_rows_part(void *arg, int task, int worker) {
  (void)worker;
  const nn_rows_job *j = arg;
  size_t r0 = j->rows * (size_t)task / (size_t)j->parts;
  size_t r1 = j->rows * (size_t)(task + 1) / (size_t)j->parts;
  float *x = j->x + r0 * j->cols;
  if (j->softmax)
    vmath_softmax_rows(x, r1 - r0, j->cols);
  else
    vmath_gelu(x, (r1 - r0) * j->cols);
}

/* Rows [0, rows) in two halves when there is enough work; each element (or
** row) is computed as on one thread, so the bits do not depend on the split. */
static void nn_rows_split(float *x, size_t rows, size_t cols, int softmax) {
  nn_rows_job j = {x, rows, cols, rows >= 2 && rows * cols >= NN_SPLIT_MIN ? 2 : 1, softmax};
  if (j.parts == 1)
    nn_rows_part(&j, 0, 0); /* no sgemm here: no region (and no BLAS hold) needed */
  else
    nn_parallel(j.parts, j.parts, nn_rows_part, &j);
}

void nn_gelu(float *x, size_t n) {
  /* as rows of 4096 so the halves split on a whole row; the tail alone */
  size_t rows = n / 4096;
  nn_rows_split(x, rows, 4096, 0);
  vmath_gelu(x + rows * 4096, n - rows * 4096);
}

void nn_softmax_rows(float *x, int rows, int cols) {
  nn_rows_split(x, (size_t)rows, (size_t)cols, 1);
}

size_t nn_attention_scratch(int t, int s, int workers) {
  size_t rows = t < NN_ATTN_ROWS ? (size_t)t : NN_ATTN_ROWS;
  return (size_t)(workers < 1 ? 1 : workers) * rows * (size_t)s;
}

typedef struct nn_attn_job {
  const float *q, *k, *v;
  int t, s, heads, hd, blocks;
  float scale;
  const unsigned char *key_mask;
  float *scratch, *out;
} nn_attn_job;

/* Task = head h, query rows [i0, i0 + n): logits, softmax, times v_h. */
static void nn_attn_task(void *arg, int task, int worker) {
  const nn_attn_job *j = arg;
  int h = task / j->blocks, i0 = task % j->blocks * NN_ATTN_ROWS, d = j->heads * j->hd, s = j->s;
  int n = j->t - i0 < NN_ATTN_ROWS ? j->t - i0 : NN_ATTN_ROWS;
  size_t off = (size_t)h * j->hd;
  float *sc = j->scratch + (size_t)worker * (j->t < NN_ATTN_ROWS ? j->t : NN_ATTN_ROWS) * s;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, s, j->hd, j->scale,
              j->q + (size_t)i0 * d + off, d, j->k + off, d, 0.0f, sc, s);
  if (j->key_mask)
    for (int i = 0; i < n; i++)
      for (int c = 0; c < s; c++)
        if (!j->key_mask[c]) sc[(size_t)i * s + c] = -FLT_MAX;
  nn_softmax_rows(sc, n, s);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, j->hd, s, 1.0f, sc, s, j->v + off, d,
              0.0f, j->out + (size_t)i0 * d + off, d);
}

void nn_attention(const float *q, const float *k, const float *v, int t, int s, int heads, int hd,
                  float scale, const unsigned char *key_mask, int workers, float *scratch,
                  float *out) {
  int blocks = (t + NN_ATTN_ROWS - 1) / NN_ATTN_ROWS;
  nn_attn_job j = {q, k, v, t, s, heads, hd, blocks, scale, key_mask, scratch, out};
  nn_parallel(heads * blocks, workers, nn_attn_task, &j);
}

/* Query rows per block of the bf16 attention: NN_ATTN_ROWS, as float32's,
** so a worker's logits stay ~0.4 MB whatever t (all 499 rows of 10 s at
** once cost 1.1 MB more per worker of HuBERT's peak at the same speed). */
static int attn_bf16_rows(int t) { return t < NN_ATTN_ROWS ? t : NN_ATTN_ROWS; }

/* Per worker: logits [rb][t] float32 and their bfloat16 copy, then its
** head's q and k as dense [t][hd] bfloat16 matrices: oneDNN's AMX kernels
** take a head only as a dense matrix (a strided one falls to a kernel 5-20x
** slower, measured with oneDNN 2.6 at 499 x 64). Copied per head, in the
** worker's task, so the scratch does not hold every head at once. */
static size_t attn_bf16_worker(int t, int hd) {
  size_t n = (size_t)attn_bf16_rows(t) * t;
  return (n + (n + 1) / 2 + (size_t)t * hd + 15) & ~(size_t)15;
}

size_t nn_attention_bf16_scratch(int t, int hd, int workers) {
  return (size_t)(workers < 1 ? 1 : workers) * attn_bf16_worker(t, hd);
}

/* dst [t][hd] = src's columns [h·hd, h·hd + hd) of its t rows. */
static void head_dense(const unsigned short *src, int ld, int t, int h, int hd,
                       unsigned short *dst) {
  for (int r = 0; r < t; r++)
    memcpy(dst + (size_t)r * hd, src + (size_t)r * ld + (size_t)h * hd, sizeof *dst * (size_t)hd);
}

typedef struct attn_bf16_job {
  const unsigned short *q, *k, *v;
  int ld, t, hd, d;
  float scale;
  float *scratch;
  unsigned short *out;
  atomic_int failed;
} attn_bf16_job;

/* Task = head h, all its query rows, on one thread (oneDNN runs
** single-threaded inside a task): logits, softmax, times v_h. */
static void attn_bf16_task(void *arg, int h, int worker) {
  attn_bf16_job *j = arg;
  int t = j->t, hd = j->hd, rb = attn_bf16_rows(t);
  size_t hs = (size_t)t * hd, n = (size_t)rb * t;
  float *logits = j->scratch + (size_t)worker * attn_bf16_worker(t, hd);
  unsigned short *p = (unsigned short *)(logits + n), *qh = p + n, *kh = qh + hs;
  head_dense(j->q, j->ld, t, h, hd, qh);
  head_dense(j->k, j->ld, t, h, hd, kh);
  for (int i0 = 0; i0 < t; i0 += rb) {
    long m = t - i0 < rb ? t - i0 : rb;
    /* logits = scale · q_h k_hᵀ: k_h [t][hd] read as the [hd][t] matrix */
    nn_mm qk = {.batch = 1, .m = m, .n = t, .k = hd, .sa = {0, hd, 1}, .sb = {0, 1, hd},
                .sc = {0, t, 1}, .a_bf16 = 1, .scale = j->scale};
    nn_mm pv = {.batch = 1, .m = m, .n = hd, .k = t, .sa = {0, t, 1}, .sb = {0, j->ld, 1},
                .sc = {0, j->d, 1}, .a_bf16 = 1, .c_bf16 = 1, .scale = 1.0f};
    if (!nn_mm_run(&qk, qh + (size_t)i0 * hd, kh, NULL, logits)) {
      atomic_store(&j->failed, 1);
      return;
    }
    vmath_softmax_rows(logits, (size_t)m, (size_t)t);
    nn_to_bf16(logits, p, (long)m * t);
    if (!nn_mm_run(&pv, p, j->v + (size_t)h * hd,  NULL,
                   j->out + (size_t)i0 * j->d + (size_t)h * hd)) {
      atomic_store(&j->failed, 1);
      return;
    }
  }
}

int nn_attention_bf16(const unsigned short *q, const unsigned short *k, const unsigned short *v,
                      int ld, int t, int heads, int hd, float scale, int workers, float *scratch,
                      unsigned short *out) {
  int w = workers < 1 ? 1 : workers;
  attn_bf16_job j = {q, k, v, ld, t, hd, heads * hd, scale, scratch, out, 0};
  nn_parallel(heads, w, attn_bf16_task, &j);
  return !atomic_load(&j.failed);
}

void nn_fill_rows(float *y, long rows, int cols, const float *v) {
  for (long r = 0; r < rows; r++) memcpy(y + (size_t)r * cols, v, sizeof(float) * (size_t)cols);
}

void nn_add(float *y, const float *x, size_t n) {
  for (size_t i = 0; i < n; i++) y[i] += x[i];
}

void nn_transpose(const float *in, int rows, int cols, float *out) {
  /* Tiled so both sides stay in cache for the 768 x T shapes HuBERT uses. */
  enum { TILE = 32 };
  for (int r0 = 0; r0 < rows; r0 += TILE)
    for (int c0 = 0; c0 < cols; c0 += TILE) {
      int r1 = r0 + TILE < rows ? r0 + TILE : rows, c1 = c0 + TILE < cols ? c0 + TILE : cols;
      for (int r = r0; r < r1; r++)
        for (int c = c0; c < c1; c++) out[(size_t)c * rows + r] = in[(size_t)r * cols + c];
    }
}

void nn_conv_weight_tap_major(const float *w, int o, int i, int k, float *out) {
  for (int r = 0; r < o; r++)
    for (int c = 0; c < i; c++)
      for (int j = 0; j < k; j++)
        out[((size_t)r * k + j) * i + c] = w[((size_t)r * i + c) * k + j];
}

void nn_weight_norm_dim2_tap_major(const float *v, const float *g, int o, int i, int k,
                                   double *scratch, float *w) {
  size_t rows = (size_t)o * (size_t)i;
  memset(scratch, 0, sizeof(double) * (size_t)k);
  for (size_t r = 0; r < rows; r++)
    for (int j = 0; j < k; j++) scratch[j] += (double)v[r * k + j] * v[r * k + j];
  for (int j = 0; j < k; j++) scratch[j] = scratch[j] > 0 ? g[j] / sqrt(scratch[j]) : 0.0;
  for (int r = 0; r < o; r++)
    for (int c = 0; c < i; c++)
      for (int j = 0; j < k; j++)
        w[((size_t)r * k + j) * i + c] = v[((size_t)r * i + c) * k + j] * (float)scratch[j];
}
