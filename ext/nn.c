/*
** nn — see nn.h.
**
** Reductions (norm statistics, softmax sums) accumulate in double: a minute
** of audio is ~200k frames per channel in HuBERT's layer-0 group norm, where
** float sums lose digits PyTorch's reference keeps.
*/
#include "nn.h"
#include "vmath.h"

#include "gemm.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

/* Output frames per im2col block: big enough for sgemm to reach its peak,
** small enough that scratch stays a few MB (512 channels · 3 taps · 1024). */
#define NN_CONV_BLOCK 1024

void nn_linear(const float *x, int rows, int in, const float *w, const float *b, int out,
               float *y) {
  /* Few rows: dot products over W in place beat sgemm, which packs all of W
  ** per call (gemm.h). Many rows: sgemm's packed panels are reused enough. */
  if (rows <= gemm_small_rows()) {
    gemm_linear(x, rows, in, w, b, out, y, nn_get_threads(), GEMM_AUTO);
    return;
  }
  float beta = 0.0f;
  if (b) {
    nn_fill_rows(y, rows, out, b);
    beta = 1.0f;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, out, in, 1.0f, x, in, w, in, beta, y,
              out);
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

void nn_group_norm(float *x, int c, int len, int groups, const float *gamma, const float *beta,
                   float eps) {
  int per = c / groups;
  size_t n = (size_t)per * (size_t)len;
  for (int g = 0; g < groups; g++) {
    float *xg = x + (size_t)g * n;
    double mean, var;
    vmath_moments(xg, n, &mean, &var);
    float inv = (float)(1.0 / sqrt(var + eps)), m = (float)mean;
    for (int ch = 0; ch < per; ch++) {
      int cc = g * per + ch;
      float *row = xg + (size_t)ch * len;
      vmath_normalize1(row, (size_t)len, m, inv, gamma ? gamma[cc] : 1.0f, beta ? beta[cc] : 0.0f,
                       row);
    }
  }
}

/* Element-wise work big enough to share with a second thread: below this a
** pthread_create + join (25-140 us here) costs more than half the work. */
#define NN_SPLIT_MIN ((size_t)1 << 20)

typedef struct nn_rows_job {
  float *x;
  size_t r0, r1, cols;
  int softmax; /* else GELU over the rows as one array */
} nn_rows_job;

static void nn_rows_run(const nn_rows_job *j) {
  float *x = j->x + j->r0 * j->cols;
  if (j->softmax)
    vmath_softmax_rows(x, j->r1 - j->r0, j->cols);
  else
    vmath_gelu(x, (j->r1 - j->r0) * j->cols);
}

static void *nn_rows_worker(void *arg) {
  nn_rows_run(arg);
  return NULL;
}

/* Rows [0, rows) in two halves when there is a second thread to spare and
** enough work; each element (or row) is computed as on one thread, so the
** bits do not depend on the split. */
static void nn_rows_split(float *x, size_t rows, size_t cols, int softmax) {
  nn_rows_job a = {x, 0, rows, cols, softmax}, b = a;
  pthread_t tid;
  if (rows < 2 || rows * cols < NN_SPLIT_MIN || nn_get_threads() < 2) {
    nn_rows_run(&a);
    return;
  }
  a.r1 = b.r0 = rows / 2;
  if (pthread_create(&tid, NULL, nn_rows_worker, &b) != 0) {
    nn_rows_run(&a), nn_rows_run(&b);
    return;
  }
  nn_rows_run(&a);
  pthread_join(tid, NULL);
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

size_t nn_attention_scratch(int t, int s) { return (size_t)t * (size_t)s; }

void nn_attention(const float *q, const float *k, const float *v, int t, int s, int heads, int hd,
                  float scale, const unsigned char *key_mask, float *scratch, float *out) {
  int d = heads * hd;
  for (int h = 0; h < heads; h++) {
    const float *qh = q + (size_t)h * hd, *kh = k + (size_t)h * hd, *vh = v + (size_t)h * hd;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, t, s, hd, scale, qh, d, kh, d, 0.0f,
                scratch, s);
    if (key_mask)
      for (int i = 0; i < t; i++)
        for (int j = 0; j < s; j++)
          if (!key_mask[j]) scratch[(size_t)i * s + j] = -FLT_MAX;
    nn_softmax_rows(scratch, t, s);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, t, hd, s, 1.0f, scratch, s, vh, d, 0.0f,
                out + (size_t)h * hd, d);
  }
}

int nn_conv1d_out_len(int len, int k, int stride, int pad) {
  long padded = (long)len + 2L * pad;
  if (stride < 1 || k < 1 || padded < k) return 0;
  return (int)((padded - k) / stride + 1);
}

size_t nn_conv1d_scratch(int cin_per_group, int k, int lout) {
  int blk = lout < NN_CONV_BLOCK ? lout : NN_CONV_BLOCK;
  return (size_t)cin_per_group * (size_t)k * (size_t)(blk > 0 ? blk : 1);
}

/* col[(c·k + j), f] = x[c0+c, (f0+f)·stride + j - pad], zero outside x. */
static void im2col(const float *x, int cin_g, int c0, int len, int k, int stride, int pad, int f0,
                   int nf, float *col) {
  for (int c = 0; c < cin_g; c++) {
    const float *xc = x + (size_t)(c0 + c) * len;
    for (int j = 0; j < k; j++) {
      float *dst = col + ((size_t)c * k + j) * nf;
      for (int f = 0; f < nf; f++) {
        long pos = (long)(f0 + f) * stride + j - pad;
        dst[f] = (pos >= 0 && pos < len) ? xc[pos] : 0.0f;
      }
    }
  }
}

void nn_conv1d(const float *x, int cin, int len, const float *w, const float *b, int cout, int k,
               int stride, int pad, int groups, float *scratch, float *y) {
  int lout = nn_conv1d_out_len(len, k, stride, pad);
  int cin_g = cin / groups, cout_g = cout / groups, kk = cin_g * k;
  for (int g = 0; g < groups; g++) {
    const float *wg = w + (size_t)g * cout_g * kk;
    float *yg = y + (size_t)g * cout_g * lout;
    for (int f0 = 0; f0 < lout; f0 += NN_CONV_BLOCK) {
      int nf = lout - f0 < NN_CONV_BLOCK ? lout - f0 : NN_CONV_BLOCK;
      im2col(x, cin_g, g * cin_g, len, k, stride, pad, f0, nf, scratch);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, cout_g, nf, kk, 1.0f, wg, kk, scratch,
                  nf, 0.0f, yg + f0, lout);
    }
  }
  if (b)
    for (int o = 0; o < cout; o++) {
      float *row = y + (size_t)o * lout;
      for (int f = 0; f < lout; f++) row[f] += b[o];
    }
}

void nn_weight_norm_dim2(const float *v, const float *g, int o, int i, int k, float *w) {
  size_t rows = (size_t)o * (size_t)i;
  for (int j = 0; j < k; j++) {
    double sq = 0;
    for (size_t r = 0; r < rows; r++) {
      double e = v[r * k + j];
      sq += e * e;
    }
    float scale = sq > 0 ? (float)(g[j] / sqrt(sq)) : 0.0f;
    for (size_t r = 0; r < rows; r++) w[r * k + j] = v[r * k + j] * scale;
  }
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

int nn_set_threads(int n) {
  openblas_set_num_threads(n < 1 ? 1 : n);
  return openblas_get_num_threads();
}

int nn_get_threads(void) { return openblas_get_num_threads(); }

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
