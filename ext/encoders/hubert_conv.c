/*
** hubert_conv — see hubert_conv.h.
**
** Scratch layout (floats, each region rounded up to 64 bytes): layer-0
** statistics in double (mu, centered window, covariance), the per-call
** layer-0 weights [C0][k0+1] with the group norm's scale folded in and its
** shift as the last column, the layer-0 windows of one chunk [rows][k0+1]
** with a constant 1 last (so the shift comes out of the sgemm, no prefill
** pass over 16 M outputs), and two ping-pong activation buffers (even and
** odd layers). The last layer writes straight into feat.
*/
#include "hubert_conv.h"

#include "nn.h"

#include <cblas.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define GN_EPS 1e-5 /* PyTorch GroupNorm's default, as HF's layer 0 uses */

clap_status hconv_set_weight(hconv *c, int i, int cin, const float *w_pt, clap_error *err) {
  int co = c->dim[i], k = c->kernel[i];
  float *w = malloc(sizeof(float) * (size_t)co * (size_t)k * (size_t)cin);
  if (!w) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory loading HuBERT conv %d", i);
  nn_conv_weight_tap_major(w_pt, co, cin, k, w);
  free(c->w[i]);
  c->w[i] = w;
  return CLAP_OK;
}

void hconv_free_prims(hconv *c) {
  for (int i = 0; c && i < HUBERT_MAX_CONV; i++) {
    nn_dense_free(c->d[i]), c->d[i] = NULL;
    nn_conv_free(c->cv[i]), c->cv[i] = NULL;
  }
}

void hconv_free(hconv *c) {
  hconv_free_prims(c);
  for (int i = 0; c && i < HUBERT_MAX_CONV; i++) free(c->w[i]), c->w[i] = NULL;
}

/* float32: each layer >= 1 on oneDNN's float32 convolution (bias and GELU
** fused), or on sgemm where oneDNN has none for it (CLAP_ERR_UNSUPPORTED
** is not an error here; running out of memory is). */
static clap_status set_f32(hconv *c, clap_error *err) {
  for (int i = 1; i < c->n; i++) {
    clap_status rc = nn_conv_create(c->w[i], c->b[i], c->dim[i - 1], c->dim[i], c->kernel[i], 1,
                                    c->stride[i], 0, 0, 1, NN_F32, &c->cv[i], err);
    if (rc == CLAP_ERR_UNSUPPORTED) continue;
    if (rc) {
      hconv_free_prims(c);
      return rc;
    }
  }
  return CLAP_OK;
}

clap_status hconv_set_precision(hconv *c, nn_precision p, clap_error *err) {
  hconv_free_prims(c);
  if (p != NN_BF16) return set_f32(c, err);
  clap_status rc = CLAP_OK;
  /* tap-major [dim][kernel][cin] is one window row of kernel·cin per channel */
  for (int i = 1; i < c->n && !rc; i++)
    if (!(rc = nn_dense_create(c->w[i], c->b[i], c->kernel[i] * c->dim[i - 1], c->dim[i], NN_BF16,
                               &c->d[i], err)))
      nn_dense_fuse_gelu(c->d[i]);
  if (rc) hconv_free_prims(c);
  return rc;
}

long hconv_frames(const hconv *c, long n) {
  long len = n;
  for (int i = 0; i < c->n; i++) {
    if (len < c->kernel[i]) return 0;
    len = (len - c->kernel[i]) / c->stride[i] + 1;
  }
  return len;
}

/* Rows each layer computes for a chunk of `f` output frames. */
static void chunk_rows(const hconv *c, long f, long *rows) {
  rows[c->n - 1] = f;
  for (int i = c->n - 1; i > 0; i--) rows[i - 1] = (rows[i] - 1) * c->stride[i] + c->kernel[i];
}

static size_t up16(size_t n) { return (n + 15) & ~(size_t)15; }

/* Offsets in floats; col, a and b are within a worker's block, which
** starts at worker + w·per. */
typedef struct layout {
  size_t mu, d, cov, w0s, worker, col, a, b, col16, per, total;
} layout;

static layout plan(const hconv *c, int workers) {
  long rows[HUBERT_MAX_CONV];
  chunk_rows(c, c->chunk > 0 ? c->chunk : 1, rows);
  size_t k0 = (size_t)c->kernel[0], c0 = (size_t)c->dim[0], a = 0, b = 0, w16 = 0;
  for (int i = 0; i < c->n; i++) { /* the last layer too: a padded last chunk's output */
    size_t need = (size_t)rows[i] * (size_t)c->dim[i];
    size_t *slot = (i % 2 == 0) ? &a : &b;
    if (need > *slot) *slot = need;
  }
  /* bf16 layers' windows: rows·kernel·cin halves, in floats */
  for (int i = 1; i < c->n; i++)
    if (c->d[i]) {
      size_t need = ((size_t)rows[i] * c->kernel[i] * c->dim[i - 1] + 1) / 2;
      if (need > w16) w16 = need;
    }
  layout l;
  l.mu = 0;
  l.d = l.mu + up16(2 * k0);
  l.cov = l.d + up16(2 * k0);
  l.w0s = l.cov + up16(2 * k0 * k0);
  l.worker = l.w0s + up16(c0 * (k0 + 1));
  l.col = 0;
  l.a = l.col + up16((size_t)rows[0] * (k0 + 1));
  l.b = l.a + up16(a);
  l.col16 = l.b + up16(b);
  l.per = l.col16 + up16(w16);
  l.total = l.worker + (size_t)(workers < 1 ? 1 : workers) * l.per;
  return l;
}

size_t hconv_scratch(const hconv *c, int workers) { return plan(c, workers).total; }

static float sample(const float *x, long i, double mean, double inv) {
  return (float)((x[i] - mean) * inv);
}

/* The same, zero past the last of n samples (the last chunk's padding). */
static float sample_or_zero(const float *x, long n, long i, double mean, double inv) {
  return i < n ? sample(x, i, mean, inv) : 0.0f;
}

/* Mean mu[k0] and covariance cov[k0][k0] of layer 0's L0 input windows. */
static void window_stats(const hconv *c, const float *x, long L0, double mean, double inv,
                         double *mu, double *d, double *cov) {
  int k = c->kernel[0], s = c->stride[0];
  memset(mu, 0, sizeof(double) * (size_t)k);
  memset(cov, 0, sizeof(double) * (size_t)k * (size_t)k);
  for (long t = 0; t < L0; t++)
    for (int j = 0; j < k; j++) mu[j] += sample(x, t * s + j, mean, inv);
  for (int j = 0; j < k; j++) mu[j] /= (double)L0;
  for (long t = 0; t < L0; t++) {
    for (int j = 0; j < k; j++) d[j] = sample(x, t * s + j, mean, inv) - mu[j];
    for (int j = 0; j < k; j++)
      for (int q = j; q < k; q++) cov[(size_t)j * k + q] += d[j] * d[q];
  }
  for (int j = 0; j < k; j++)
    for (int q = j; q < k; q++) {
      double v = cov[(size_t)j * k + q] / (double)L0;
      cov[(size_t)j * k + q] = cov[(size_t)q * k + j] = v;
    }
}

/* Fold the group norm into this call's layer-0 weights: per channel,
** y·a + shift with a = gamma/sqrt(var+eps), shift = beta - (w·mu)·a, as
** rows [k0 taps · a, shift]. */
static void fold_group_norm(const hconv *c, const double *mu, const double *cov, float *w0s) {
  int k = c->kernel[0];
  for (int ch = 0; ch < c->dim[0]; ch++) {
    const float *w = c->w[0] + (size_t)ch * k;
    double m = 0, var = 0;
    for (int j = 0; j < k; j++) {
      double row = 0;
      for (int q = 0; q < k; q++) row += cov[(size_t)j * k + q] * w[q];
      m += w[j] * mu[j];
      var += w[j] * row;
    }
    if (var < 0) var = 0; /* rounding on a constant input */
    double a = (c->gn_w ? c->gn_w[ch] : 1.0) / sqrt(var + GN_EPS);
    float *row = w0s + (size_t)ch * (k + 1);
    for (int j = 0; j < k; j++) row[j] = (float)(w[j] * a);
    row[k] = (float)((c->gn_b ? c->gn_b[ch] : 0.0) - m * a);
  }
}

/* Layer 0 for windows [lo, lo+rows) of n samples: normalised, windowed,
** one product. w0s: this call's folded weights; col: the worker's window
** rows. */
static void layer0(const hconv *c, const float *x, long n, long lo, long rows, double mean,
                   double inv, const float *w0s, float *col, float *out) {
  int k = c->kernel[0], s = c->stride[0], co = c->dim[0], k1 = k + 1;
  for (long r = 0; r < rows; r++) {
    float *row = col + (size_t)r * k1;
    long at = (lo + r) * s;
    if (at + k <= n)
      for (int j = 0; j < k; j++) row[j] = sample(x, at + j, mean, inv);
    else
      for (int j = 0; j < k; j++) row[j] = sample_or_zero(x, n, at + j, mean, inv);
    row[k] = 1.0f;
  }
  /* oneDNN's float32 product applies GELU in its output stage, while the
  ** rows are in cache; sgemm and nn_gelu where it cannot run */
  nn_mm mm = {.batch = 1, .m = rows, .n = co, .k = k1, .sa = {0, k1, 1}, .sb = {0, 1, k1},
              .sc = {0, co, 1}, .gelu = 1, .scale = 1.0f};
  if (nn_mm_run(&mm, col, w0s, NULL, out)) return;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, co, k1, 1.0f, col, k1,
              w0s, k1, 0.0f, out, co);
  nn_gelu(out, (size_t)rows * co);
}

/* Layer i >= 1: rows output frames from in [(rows-1)·s+k, cin]. A float32
** layer is one oneDNN convolution when it has one. A bf16 layer writes
** each output frame's window (k·cin values, contiguous in the time-major
** input) as one bfloat16 row of col16 and runs one product. Otherwise
** sgemm over blocks of taps (hubert_conv.h). */
static int layer_n(const hconv *c, int i, const float *in, long rows, unsigned short *col16,
                   float *out) {
  int k = c->kernel[i], s = c->stride[i], co = c->dim[i], cin = c->dim[i - 1];
  if (c->cv[i]) return nn_conv_run(c->cv[i], in, (int)((rows - 1) * s + k), out); /* GELU fused */
  if (c->d[i]) {
    size_t kc = (size_t)k * cin;
    for (long r = 0; r < rows; r++) nn_to_bf16(in + (size_t)r * s * cin, col16 + r * kc, (long)kc);
    return nn_dense_run_bf16(c->d[i], col16, (int)rows, out); /* GELU fused */
  }
  float beta = 0.0f;
  if (c->b[i]) {
    nn_fill_rows(out, rows, co, c->b[i]);
    beta = 1.0f;
  }
  for (int j0 = 0; j0 < k; j0 += s) {
    int nt = k - j0 < s ? k - j0 : s;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, co, nt * cin, 1.0f,
                in + (size_t)j0 * cin, s * cin, c->w[i] + (size_t)j0 * cin, k * cin, beta, out,
                co);
    beta = 1.0f;
  }
  nn_gelu(out, (size_t)rows * co);
  return 1;
}

typedef struct chunk_job {
  const hconv *c;
  const float *x;
  long n; /* samples */
  double mean, inv;
  long T;
  layout l;
  float *scratch, *feat;
  atomic_int failed; /* a bf16 product could not run */
} chunk_job;

/* Task = output frames [f0, f0 + chunk): every layer, on the worker's
** block. Every chunk has the same shape, so each layer's product is one
** primitive whatever the audio's length: the last chunk runs whole on
** zero samples past the end, into the worker's block, and only its frames
** before T are copied out (each frame reads only its own receptive field,
** so the padding never reaches them). */
static void chunk_task(void *arg, int task, int worker) {
  chunk_job *j = arg;
  const hconv *c = j->c;
  int last = c->n - 1;
  long chunk = c->chunk > 0 ? c->chunk : 1, f0 = (long)task * chunk;
  long lo[HUBERT_MAX_CONV], rows[HUBERT_MAX_CONV], keep = j->T - f0 < chunk ? j->T - f0 : chunk;
  float *blk = j->scratch + j->l.worker + (size_t)worker * j->l.per;
  float *direct = keep == chunk ? j->feat + (size_t)f0 * c->dim[last] : NULL;
  lo[last] = f0;
  for (int i = last; i > 0; i--) lo[i - 1] = lo[i] * c->stride[i];
  chunk_rows(c, chunk, rows);
  float *prev = last == 0 && direct ? direct : blk + j->l.a;
  layer0(c, j->x, j->n, lo[0], rows[0], j->mean, j->inv, j->scratch + j->l.w0s, blk + j->l.col,
         prev);
  for (int i = 1; i <= last; i++) {
    float *out = i == last && direct ? direct : blk + (i % 2 ? j->l.b : j->l.a);
    if (!layer_n(c, i, prev, rows[i], (unsigned short *)(blk + j->l.col16), out)) {
      atomic_store(&j->failed, 1);
      return;
    }
    prev = out;
  }
  if (!direct)
    memcpy(j->feat + (size_t)f0 * c->dim[last], prev, sizeof(float) * (size_t)keep * c->dim[last]);
}

int hconv_forward(const hconv *c, const float *x, long n, double mean, double inv, int workers,
                  float *scratch, float *feat) {
  chunk_job j = {c, x, n, mean, inv, hconv_frames(c, n), plan(c, workers), scratch, feat, 0};
  long L0 = (n - c->kernel[0]) / c->stride[0] + 1, chunk = c->chunk > 0 ? c->chunk : 1;
  double *dd = (double *)scratch;
  window_stats(c, x, L0, mean, inv, dd + j.l.mu / 2, dd + j.l.d / 2, dd + j.l.cov / 2);
  fold_group_norm(c, dd + j.l.mu / 2, dd + j.l.cov / 2, scratch + j.l.w0s);
  nn_parallel((int)((j.T + chunk - 1) / chunk), workers, chunk_task, &j);
  return !atomic_load(&j.failed);
}
