/* nn kernels against small cases computed by hand (values in the comments). */
#include "harness.h"
#include "oracle_nn.h"
#include "nn.h"
#include "dense.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void test_linear(void) {
  /* W [3,2] in PyTorch layout; x [2,2]. y = x Wᵀ + b. */
  const float x[] = {1, 2, 3, 4};
  const float w[] = {1, 0, 0, 1, 1, 1};
  const float b[] = {10, 20, 30};
  float y[6];
  nn_linear(x, 2, 2, w, b, 3, y);
  const float want[] = {11, 22, 33, 13, 24, 37};
  for (int i = 0; i < 6; i++) CHECK_NEAR(y[i], want[i], 1e-6);
  nn_linear(x, 2, 2, w, NULL, 3, y);
  CHECK_NEAR(y[5], 7, 1e-6);
  CHECK_NEAR(y[0], 1, 1e-6);
}

static void test_layer_norm(void) {
  /* Row [1,2,3,4]: mean 2.5, var 1.25 -> (x-2.5)/sqrt(1.25+eps). */
  float x[] = {1, 2, 3, 4, 5, 5, 5, 5};
  const float g[] = {1, 2, 1, 1}, b[] = {0, 0, 0, 1};
  float y[8];
  nn_layer_norm(x, 2, 4, g, b, 1e-5f, y);
  double s = 1.0 / sqrt(1.25 + 1e-5);
  CHECK_NEAR(y[0], -1.5 * s, 1e-6);
  CHECK_NEAR(y[1], -0.5 * s * 2, 1e-6);
  CHECK_NEAR(y[3], 1.5 * s + 1, 1e-6);
  /* A constant row normalises to beta. */
  CHECK_NEAR(y[4], 0, 1e-6);
  CHECK_NEAR(y[7], 1, 1e-6);
  nn_layer_norm(x, 2, 4, NULL, NULL, 1e-5f, x); /* in place */
  CHECK_NEAR(x[2], 0.5 * s, 1e-6);
}

static void test_group_norm(void) {
  /* 2 channels x 3 frames; groups == channels: each channel over time. */
  float x[] = {1, 2, 3, 10, 10, 16};
  const float g[] = {1, 3}, b[] = {0, -1};
  oracle_group_norm(x, 2, 3, 2, g, b, 0.0f);
  double s0 = 1.0 / sqrt(2.0 / 3.0); /* var of 1,2,3 */
  CHECK_NEAR(x[0], -s0, 1e-6);
  CHECK_NEAR(x[2], s0, 1e-6);
  /* 10,10,16: mean 12, var 8 -> (16-12)/sqrt(8)*3 - 1 */
  CHECK_NEAR(x[5], 4.0 / sqrt(8.0) * 3 - 1, 1e-5);
  /* One group over both channels: mean 3.5 of 1..6, var 35/12. */
  float y[] = {1, 2, 3, 4, 5, 6};
  oracle_group_norm(y, 2, 3, 1, NULL, NULL, 0.0f);
  CHECK_NEAR(y[0], -2.5 / sqrt(35.0 / 12), 1e-6);
  CHECK_NEAR(y[5], 2.5 / sqrt(35.0 / 12), 1e-6);
}

static void test_gelu(void) {
  /* gelu(1) = 0.5(1+erf(1/√2)) = 0.841344746; gelu(-1) = -0.158655254. */
  float x[] = {0, 1, -1, 3, -10};
  nn_gelu(x, 5);
  CHECK_NEAR(x[0], 0, 1e-7);
  CHECK_NEAR(x[1], 0.841344746, 1e-6);
  CHECK_NEAR(x[2], -0.158655254, 1e-6);
  CHECK_NEAR(x[3], 2.995950, 1e-5); /* exact erf, not the tanh approximation (2.996363) */
  CHECK_NEAR(x[4], 0, 1e-6);
}

static void test_softmax(void) {
  float x[] = {0, 0, 1000, 2, 1, 0};
  nn_softmax_rows(x, 2, 3);
  CHECK_NEAR(x[0], 0, 1e-7);
  CHECK_NEAR(x[2], 1, 1e-7); /* max-subtracted: no overflow at 1000 */
  double z = 1 + exp(-1.0) + exp(-2.0);
  CHECK_NEAR(x[3], 1 / z, 1e-6);
  CHECK_NEAR(x[4], exp(-1.0) / z, 1e-6);
  CHECK_NEAR(x[5], exp(-2.0) / z, 1e-6);
}

/* Above the few-row path, nn_linear cuts y's columns (on multiples of 16,
** the last part ragged: 496 + 504 here) into single-threaded sgemm calls
** that do not depend on the thread count: the same bits on one thread as on
** two, and right against a double reference. */
static void test_linear_columns(void) {
  const int rows = 600, in = 256, out = 1000; /* above 512 rows: sgemm */
  float *x = malloc(sizeof(float) * rows * in), *w = malloc(sizeof(float) * out * in);
  float *b = malloc(sizeof(float) * out), *y1 = malloc(sizeof(float) * rows * out);
  float *y2 = malloc(sizeof(float) * rows * out);
  for (unsigned i = 0; i < (unsigned)(rows * in); i++) x[i] = (float)((i * 7919u) % 211) / 105.0f - 1.0f;
  for (unsigned i = 0; i < (unsigned)(out * in); i++) w[i] = (float)((i * 104729u) % 197) / 98.0f - 1.0f;
  for (int i = 0; i < out; i++) b[i] = (float)i / 100.0f;
  int before = nn_get_threads();
  nn_set_threads(1);
  nn_linear(x, rows, in, w, b, out, y1);
  nn_set_threads(2);
  nn_linear(x, rows, in, w, b, out, y2);
  nn_set_threads(before);
  CHECK(memcmp(y1, y2, sizeof(float) * rows * out) == 0);
  double worst = 0;
  for (int r = 0; r < rows; r += 13)
    for (int o = 0; o < out; o++) {
      double want = b[o];
      for (int k = 0; k < in; k++) want += (double)x[r * in + k] * w[o * in + k];
      if (fabs(want - y2[r * out + o]) > worst) worst = fabs(want - y2[r * out + o]);
    }
  CHECK_NEAR(worst, 0, 1e-3);
  free(x), free(w), free(b), free(y1), free(y2);
}

static void test_attention(void) {
  /* 2 heads of dim 1; t = s = 2. Head 0: q=[1],[0]; k=[0],[1] -> logits
  ** row0 [0,1], row1 [0,0]. v head0 = [1],[3]. */
  const float q[] = {1, 0, 0, 5}, k[] = {0, 2, 1, 2}, v[] = {1, 7, 3, 9};
  float out[4], scratch[4];
  nn_attention(q, k, v, 2, 2, 2, 1, 1.0f, NULL, 1, scratch, out);
  double p = 1 / (1 + exp(-1.0)); /* weight on key 1 for row 0 */
  CHECK_NEAR(out[0], (1 - p) * 1 + p * 3, 1e-6);
  CHECK_NEAR(out[2], 2.0, 1e-6); /* row1 head0: uniform -> (1+3)/2 */
  /* Head 1, row 0: q=0 -> uniform over v 7,9 = 8; row 1: q=5, k=2,2 -> equal = 8. */
  CHECK_NEAR(out[1], 8.0, 1e-6);
  CHECK_NEAR(out[3], 8.0, 1e-6);
  /* Scale applies to the logits: scale 2 -> row 0 head 0 logits [0,2]. */
  nn_attention(q, k, v, 2, 2, 2, 1, 2.0f, NULL, 1, scratch, out);
  double p2 = 1 / (1 + exp(-2.0));
  CHECK_NEAR(out[0], (1 - p2) + 3 * p2, 1e-6);
  /* Masking key 1 leaves only key 0. */
  const unsigned char mask[] = {1, 0};
  nn_attention(q, k, v, 2, 2, 2, 1, 1.0f, mask, 1, scratch, out);
  CHECK_NEAR(out[0], 1.0, 1e-6);
  CHECK_NEAR(out[3], 7.0, 1e-6);
  /* All keys masked: uniform, as PyTorch's finfo.min fill gives, never NaN. */
  const unsigned char none[] = {0, 0};
  nn_attention(q, k, v, 2, 2, 2, 1, 1.0f, none, 1, scratch, out);
  CHECK_NEAR(out[0], 2.0, 1e-6);
  CHECK_NEAR(out[1], 8.0, 1e-6);
  CHECK_INT(nn_attention_scratch(3, 5, 1), 15);
  CHECK_INT(nn_attention_scratch(300, 5, 2), 2 * NN_ATTN_ROWS * 5); /* a row block per worker */
}

/* Several row blocks and heads against a double reference, and the same
** bits on one worker as on two (each task's sgemm is single-threaded). */
static void test_attention_blocks(void) {
  const int t = 2 * NN_ATTN_ROWS + 37, s = 61, heads = 3, hd = 8, d = heads * hd;
  float *q = malloc(sizeof(float) * t * d), *k = malloc(sizeof(float) * s * d);
  float *v = malloc(sizeof(float) * s * d), *o1 = malloc(sizeof(float) * t * d);
  float *o2 = malloc(sizeof(float) * t * d);
  float *sc = malloc(sizeof(float) * nn_attention_scratch(t, s, 2));
  for (int i = 0; i < t * d; i++) q[i] = (float)((i * 7919) % 101) / 50.0f - 1.0f;
  for (int i = 0; i < s * d; i++) k[i] = (float)((i * 104729) % 97) / 48.0f - 1.0f;
  for (int i = 0; i < s * d; i++) v[i] = (float)((i * 31) % 89) / 44.0f - 1.0f;
  int before = nn_get_threads();
  nn_set_threads(1);
  nn_attention(q, k, v, t, s, heads, hd, 0.3f, NULL, 1, sc, o1);
  nn_set_threads(2);
  nn_attention(q, k, v, t, s, heads, hd, 0.3f, NULL, 2, sc, o2);
  nn_set_threads(before);
  CHECK(memcmp(o1, o2, sizeof(float) * t * d) == 0);
  double worst = 0;
  for (int i = 0; i < t; i += 37)
    for (int h = 0; h < heads; h++) {
      double lg[61], mx = -1e300, z = 0;
      for (int j = 0; j < s; j++) {
        double a = 0;
        for (int e = 0; e < hd; e++) a += (double)q[i * d + h * hd + e] * k[j * d + h * hd + e];
        lg[j] = 0.3 * a;
        if (lg[j] > mx) mx = lg[j];
      }
      for (int j = 0; j < s; j++) z += lg[j] = exp(lg[j] - mx);
      for (int e = 0; e < hd; e++) {
        double want = 0;
        for (int j = 0; j < s; j++) want += lg[j] / z * v[j * d + h * hd + e];
        double err = fabs(want - o2[i * d + h * hd + e]);
        if (err > worst) worst = err;
      }
    }
  CHECK_NEAR(worst, 0, 1e-5);
  free(q), free(k), free(v), free(o1), free(o2), free(sc);
}

/* bf16 attention against float32 nn_attention on the same (bfloat16)
** inputs, one fused [t, 3·d] array as HuBERT passes it; t long enough that
** the logits come in two row blocks. */
static void test_attention_bf16(void) {
  const int t = 900, heads = 2, hd = 16, d = heads * hd, ld = 3 * d;
  size_t n = (size_t)t * ld;
  float *x = malloc(sizeof(float) * n), *q = malloc(sizeof(float) * t * d);
  float *k = malloc(sizeof(float) * t * d), *v = malloc(sizeof(float) * t * d);
  float *ref = malloc(sizeof(float) * t * d);
  float *sc = malloc(sizeof(float) * nn_attention_scratch(t, t, 1));
  float *sb = malloc(sizeof(float) * nn_attention_bf16_scratch(t, hd, 2));
  unsigned short *xb = malloc(sizeof *xb * n), *out = malloc(sizeof *out * (size_t)t * d);
  for (size_t i = 0; i < n; i++) x[i] = (float)((i * 7919) % 211) / 105.0f - 1.0f;
  nn_to_bf16(x, xb, (long)n);
  for (int r = 0; r < t; r++)
    for (int c = 0; c < d; c++) { /* the rounded values, so both sides see the same inputs */
      unsigned short *row = xb + (size_t)r * ld;
      uint32_t uq = (uint32_t)row[c] << 16, uk = (uint32_t)row[d + c] << 16,
               uv = (uint32_t)row[2 * d + c] << 16;
      memcpy(q + r * d + c, &uq, 4), memcpy(k + r * d + c, &uk, 4), memcpy(v + r * d + c, &uv, 4);
    }
  nn_attention(q, k, v, t, t, heads, hd, 0.25f, NULL, 1, sc, ref);
  int before = nn_get_threads();
  nn_set_threads(2);
  int ok = nn_attention_bf16(xb, xb + d, xb + 2 * d, ld, t, heads, hd, 0.25f, 2, sb, out);
  nn_set_threads(before);
  CHECK(ok || !nn_bf16_native());
  double worst = 0;
  for (int i = 0; i < t * d; i++) {
    uint32_t u = (uint32_t)out[i] << 16;
    float o;
    memcpy(&o, &u, 4);
    if (fabs(o - ref[i]) > worst) worst = fabs(o - ref[i]);
  }
  if (ok) CHECK(worst < 2e-2); /* probabilities and output in bfloat16, values within ±1 */
  free(x), free(q), free(k), free(v), free(ref), free(sc), free(sb), free(xb), free(out);
}

static void test_conv1d_basic(void) {
  /* 1 in, 1 out channel, k=2, stride 1: y[f] = 1·x[f] + 2·x[f+1] + 0.5. */
  const float x[] = {1, 2, 3, 4};
  const float w[] = {1, 2}, b[] = {0.5f};
  float y[3], sc[16];
  CHECK_INT(oracle_conv1d_out_len(4, 2, 1, 0), 3);
  oracle_conv1d(x, 1, 4, w, b, 1, 2, 1, 0, 1, sc, y);
  CHECK_NEAR(y[0], 5.5, 1e-6);
  CHECK_NEAR(y[2], 11.5, 1e-6);
  /* Stride 2, pad 1: padded 0,1,2,3,4,0 -> frames at 0,2,4: (0,1),(2,3),(4,0). */
  CHECK_INT(oracle_conv1d_out_len(4, 2, 2, 1), 3);
  oracle_conv1d(x, 1, 4, w, NULL, 1, 2, 2, 1, 1, sc, y);
  CHECK_NEAR(y[0], 2, 1e-6);
  CHECK_NEAR(y[1], 2 + 6, 1e-6);
  CHECK_NEAR(y[2], 4, 1e-6);
  CHECK_INT(oracle_conv1d_out_len(1, 2, 1, 0), 0); /* shorter than the kernel */
  CHECK_INT(oracle_conv1d_scratch(3, 4, 10), 120);
}

static void test_conv1d_grouped(void) {
  /* 2 in, 4 out channels, groups 2, k=1: out 0,1 see channel 0; out 2,3 see channel 1. */
  const float x[] = {1, 2, 10, 20};
  const float w[] = {1, -1, 2, 3};
  float y[8], sc[8];
  oracle_conv1d(x, 2, 2, w, NULL, 4, 1, 1, 0, 2, sc, y);
  const float want[] = {1, 2, -1, -2, 20, 40, 30, 60};
  for (int i = 0; i < 8; i++) CHECK_NEAR(y[i], want[i], 1e-6);
  /* 2 in, 1 out, k=2 mixes channels: y = x0[f]+x0[f+1] - x1[f]. */
  const float w2[] = {1, 1, -1, 0};
  const float x2[] = {1, 2, 3, 5, 7, 11};
  float y2[2];
  oracle_conv1d(x2, 2, 3, w2, NULL, 1, 2, 1, 0, 1, sc, y2);
  CHECK_NEAR(y2[0], 3 - 5, 1e-6);
  CHECK_NEAR(y2[1], 5 - 7, 1e-6);
}

/* Longer than one im2col block: compare with a direct loop. */
static void test_conv1d_blocks(void) {
  int cin = 3, cout = 2, k = 3, len = 2500, stride = 2, pad = 1;
  int lout = oracle_conv1d_out_len(len, k, stride, pad);
  float *x = malloc(sizeof(float) * cin * len), *w = malloc(sizeof(float) * cout * cin * k);
  float *y = malloc(sizeof(float) * cout * lout);
  float *sc = malloc(sizeof(float) * oracle_conv1d_scratch(cin, k, lout));
  for (int i = 0; i < cin * len; i++) x[i] = (float)((i * 7919) % 101) / 50.0f - 1;
  for (int i = 0; i < cout * cin * k; i++) w[i] = (float)(i % 5) - 2;
  oracle_conv1d(x, cin, len, w, NULL, cout, k, stride, pad, 1, sc, y);
  double maxd = 0;
  for (int o = 0; o < cout; o++)
    for (int f = 0; f < lout; f++) {
      double s = 0;
      for (int c = 0; c < cin; c++)
        for (int j = 0; j < k; j++) {
          int p = f * stride + j - pad;
          if (p >= 0 && p < len) s += (double)w[(o * cin + c) * k + j] * x[c * len + p];
        }
      double d = fabs(s - y[o * lout + f]);
      if (d > maxd) maxd = d;
    }
  CHECK_NEAR(maxd, 0, 1e-5);
  free(x), free(w), free(y), free(sc);
}

static void test_weight_norm(void) {
  /* v [1,2,2]: tap 0 column (3,4) has norm 5; tap 1 (0,0) is zero. */
  const float v[] = {3, 0, 4, 0}, g[] = {10, 2};
  float w[4];
  oracle_weight_norm_dim2(v, g, 1, 2, 2, w);
  CHECK_NEAR(w[0], 6, 1e-6);
  CHECK_NEAR(w[2], 8, 1e-6);
  CHECK_NEAR(w[1], 0, 0);
  CHECK_NEAR(w[3], 0, 0);
  /* Over both dims 0 and 1: v [2,1,1] = (1,1) -> each 1/√2 · g. */
  const float v2[] = {1, 1}, g2[] = {2};
  oracle_weight_norm_dim2(v2, g2, 2, 1, 1, w);
  CHECK_NEAR(w[0], sqrt(2.0), 1e-6);
  CHECK_NEAR(w[1], sqrt(2.0), 1e-6);
}

/* [o,i,k] -> [o,k,i]; the weight-norm variant equals fold-then-permute. */
static void test_tap_major(void) {
  float w[2 * 3 * 4], t[2 * 4 * 3], f[2 * 3 * 4], ft[2 * 4 * 3];
  for (int n = 0; n < 24; n++) w[n] = (float)(n % 7) - 2.5f;
  nn_conv_weight_tap_major(w, 2, 3, 4, t);
  CHECK_NEAR(t[(1 * 4 + 2) * 3 + 1], w[(1 * 3 + 1) * 4 + 2], 0);
  CHECK_NEAR(t[(0 * 4 + 3) * 3 + 2], w[(0 * 3 + 2) * 4 + 3], 0);
  const float g[4] = {1, -2, 0.5f, 3};
  double sc[4];
  oracle_weight_norm_dim2(w, g, 2, 3, 4, f);
  nn_conv_weight_tap_major(f, 2, 3, 4, ft);
  nn_weight_norm_dim2_tap_major(w, g, 2, 3, 4, sc, t);
  double d = 0;
  for (int n = 0; n < 24; n++) d = fmax(d, fabs(t[n] - ft[n]));
  CHECK_NEAR(d, 0, 1e-6);
  CHECK(fabs(ft[5]) > 0.01); /* not all zero */
}

static void test_transpose(void) {
  float in[40 * 35], out[35 * 40];
  for (int i = 0; i < 40 * 35; i++) in[i] = (float)i;
  nn_transpose(in, 40, 35, out);
  CHECK_NEAR(out[0], 0, 0);
  CHECK_NEAR(out[1], 35, 0);
  CHECK_NEAR(out[34 * 40 + 39], 39 * 35 + 34, 0);
  CHECK_NEAR(out[5 * 40 + 33], 33 * 35 + 5, 0);
}

static void test_threads(void) {
  int old = nn_get_threads();
  CHECK_INT(nn_set_threads(1), 1);
  CHECK_INT(nn_set_threads(0), 1);
  CHECK(nn_set_threads(old) >= 1);
}

/* Big element-wise calls are shared with a second thread when there is one;
** the halves compute each element (row) as one thread would, so 1 and 2
** threads give the same bits, tails and odd row counts included. */
static void test_split_same_bits(void) {
  const size_t n = 3 * 1048576 + 4095; /* several 4096 rows and a tail */
  const int rows = 601, cols = 2003;
  float *g1 = malloc(sizeof(float) * n), *g2 = malloc(sizeof(float) * n);
  float *s1 = malloc(sizeof(float) * (size_t)rows * cols), *s2 = malloc(sizeof(float) * (size_t)rows * cols);
  for (size_t i = 0; i < n; i++) g1[i] = g2[i] = (float)((i * 2654435761u) % 20001) / 1000.0f - 10.0f;
  for (size_t i = 0; i < (size_t)rows * cols; i++)
    s1[i] = s2[i] = (float)((i * 40503u) % 3001) / 100.0f - 15.0f;
  int before = nn_get_threads();
  nn_set_threads(1);
  nn_gelu(g1, n);
  nn_softmax_rows(s1, rows, cols);
  nn_set_threads(2);
  nn_gelu(g2, n);
  nn_softmax_rows(s2, rows, cols);
  nn_set_threads(before);
  CHECK(memcmp(g1, g2, sizeof(float) * n) == 0);
  CHECK(memcmp(s1, s2, sizeof(float) * (size_t)rows * cols) == 0);
  double xt = (double)(float)((float)(((n - 1) * 2654435761u) % 20001) / 1000.0f - 10.0f);
  CHECK_NEAR(g2[n - 1], 0.5 * xt * (1 + erf(xt / sqrt(2.0))), 1e-5); /* the tail is done too */
  double sum = 0;
  for (int j = 0; j < cols; j++) sum += s2[(size_t)(rows - 1) * cols + j];
  CHECK_NEAR(sum, 1.0, 1e-5); /* the second half's last row is a softmax */
  free(g1), free(g2), free(s1), free(s2);
}

int main(void) {
  RUN(test_linear);
  RUN(test_linear_columns);
  RUN(test_layer_norm);
  RUN(test_group_norm);
  RUN(test_gelu);
  RUN(test_softmax);
  RUN(test_attention);
  RUN(test_attention_blocks);
  RUN(test_conv1d_basic);
  RUN(test_conv1d_grouped);
  RUN(test_conv1d_blocks);
  RUN(test_weight_norm);
  RUN(test_tap_major);
  RUN(test_attention_bf16);
  RUN(test_transpose);
  RUN(test_threads);
  RUN(test_split_same_bits);
  return harness_report();
}
