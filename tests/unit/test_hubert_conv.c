/* The streamed, time-major conv stack (hubert_conv) against a plain
** channel-major one built from nn's im2col conv, group norm over the whole
** computed activation, GELU and a transpose: conv bias on and off, strides
** below, equal to and above the kernel, one layer, normalised input, and
** chunk sizes from 1 to one chunk for everything. */
#include "harness.h"
#include "oracle_nn.h"
#include "hubert_conv.h"
#include "nn.h"

#include <stdint.h>
#include <stdlib.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float frand(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return (float)(rng >> 40) / (float)(1 << 24) - 0.5f;
}

typedef struct spec {
  int n, bias;
  int dim[4], kernel[4], stride[4];
} spec;

typedef struct model {
  hconv c;
  float *w[4], *b[4], *gn_w, *gn_b; /* PyTorch layouts */
} model;

static void build(const spec *s, model *m) {
  memset(m, 0, sizeof *m);
  m->c.n = s->n;
  m->c.chunk = HCONV_DEFAULT_CHUNK;
  int cin = 1;
  for (int i = 0; i < s->n; i++) {
    m->c.dim[i] = s->dim[i], m->c.kernel[i] = s->kernel[i], m->c.stride[i] = s->stride[i];
    size_t nw = (size_t)s->dim[i] * cin * s->kernel[i];
    m->w[i] = malloc(sizeof(float) * nw);
    for (size_t j = 0; j < nw; j++) m->w[i][j] = frand();
    CHECK_INT(hconv_set_weight(&m->c, i, cin, m->w[i], NULL), CLAP_OK);
    if (s->bias) {
      m->b[i] = malloc(sizeof(float) * (size_t)s->dim[i]);
      for (int j = 0; j < s->dim[i]; j++) m->b[i][j] = frand() + (i == 0 ? 3.0f : 0.0f);
      m->c.b[i] = m->b[i];
    }
    cin = s->dim[i];
  }
  m->gn_w = malloc(sizeof(float) * (size_t)s->dim[0]);
  m->gn_b = malloc(sizeof(float) * (size_t)s->dim[0]);
  for (int j = 0; j < s->dim[0]; j++) m->gn_w[j] = 1 + frand(), m->gn_b[j] = frand();
  m->c.gn_w = m->gn_w, m->c.gn_b = m->gn_b;
}

static void drop(model *m) {
  hconv_free(&m->c);
  for (int i = 0; i < 4; i++) free(m->w[i]), free(m->b[i]);
  free(m->gn_w), free(m->gn_b);
}

/* The reference: [T, C_last], malloc'd. */
static float *reference(const model *m, const float *x, long n, double mean, double inv,
                        long *T) {
  float *a = malloc(sizeof(float) * (size_t)n);
  for (long i = 0; i < n; i++) a[i] = (float)((x[i] - mean) * inv);
  int len = (int)n, cin = 1;
  for (int i = 0; i < m->c.n; i++) {
    int k = m->c.kernel[i], s = m->c.stride[i], co = m->c.dim[i];
    int lout = oracle_conv1d_out_len(len, k, s, 0);
    float *y = malloc(sizeof(float) * (size_t)co * lout);
    float *sc = malloc(sizeof(float) * oracle_conv1d_scratch(cin, k, lout));
    oracle_conv1d(a, cin, len, m->w[i], m->b[i], co, k, s, 0, 1, sc, y);
    if (i == 0) oracle_group_norm(y, co, lout, co, m->gn_w, m->gn_b, 1e-5f);
    nn_gelu(y, (size_t)co * lout);
    free(sc), free(a);
    a = y, len = lout, cin = co;
  }
  float *t = malloc(sizeof(float) * (size_t)cin * len);
  nn_transpose(a, cin, len, t);
  free(a);
  *T = len;
  return t;
}

/* Max abs difference of hconv_forward vs the reference at every chunk. */
static void check_spec(const spec *s, long n, double mean, double inv) {
  model m;
  build(s, &m);
  float *x = malloc(sizeof(float) * (size_t)n);
  for (long i = 0; i < n; i++) x[i] = 0.4f * frand() + 0.05f * (float)((i % 50) - 25) / 25.0f;
  long T;
  float *ref = reference(&m, x, n, mean, inv, &T);
  CHECK_INT(hconv_frames(&m.c, n), T);
  int C = s->dim[s->n - 1];
  const int chunks[] = {1, 2, 3, 7, (int)T - 1, (int)T, (int)T + 1, 1000};
  for (int ci = 0; ci < 8; ci++) {
    if (chunks[ci] < 1) continue;
    m.c.chunk = chunks[ci];
    float *sc = malloc(sizeof(float) * hconv_scratch(&m.c, 1));
    float *feat = malloc(sizeof(float) * (size_t)T * C);
    hconv_forward(&m.c, x, n, mean, inv, 1, sc, feat);
    double dmax = 0;
    for (long i = 0; i < T * C; i++)
      if (fabs(feat[i] - ref[i]) > dmax) dmax = fabs(feat[i] - ref[i]);
    if (dmax > 2e-5)
      fprintf(stderr, "  n %ld chunk %d: max diff %g\n", n, chunks[ci], dmax);
    CHECK(dmax <= 2e-5);
    free(sc), free(feat);
  }
  free(ref), free(x);
  drop(&m);
}

/* HuBERT's own shape, scaled down: k 10/3/3/2 over s 5/2/2/2. */
static void test_base_like(void) {
  spec s = {4, 0, {8, 6, 6, 5}, {10, 3, 3, 2}, {5, 2, 2, 2}};
  check_spec(&s, 400, 0, 1);  /* few frames */
  check_spec(&s, 1234, 0, 1); /* odd length: trailing samples unused */
  check_spec(&s, 5000, 0.01, 3.5);
}

/* With conv bias: cancelled by layer 0's norm, added before GELU after. */
static void test_bias(void) {
  spec s = {3, 1, {5, 4, 3}, {4, 3, 2}, {2, 2, 1}};
  check_spec(&s, 977, 0, 1);
  check_spec(&s, 977, -0.2, 0.7);
}

/* Stride above the kernel (skipped samples), stride = kernel, kernel 1. */
static void test_strides(void) {
  spec a = {2, 1, {4, 3}, {3, 2}, {5, 4}};
  check_spec(&a, 700, 0, 1);
  spec b = {3, 0, {4, 4, 3}, {2, 2, 1}, {2, 2, 1}};
  check_spec(&b, 301, 0, 1);
  spec c = {1, 1, {6}, {7}, {3}};
  check_spec(&c, 90, 0, 1);
}

/* A constant input: zero variance in every channel, normalised to beta. */
static void test_constant_input(void) {
  spec s = {1, 0, {3}, {4}, {2}};
  model m;
  build(&s, &m);
  float x[40];
  for (int i = 0; i < 40; i++) x[i] = 0.25f;
  long T = hconv_frames(&m.c, 40);
  CHECK_INT(T, 19);
  float *sc = malloc(sizeof(float) * hconv_scratch(&m.c, 1)), feat[19 * 3];
  hconv_forward(&m.c, x, 40, 0, 1, 1, sc, feat);
  for (int ch = 0; ch < 3; ch++) {
    double b = m.gn_b[ch], want = 0.5 * b * (1 + erf(b / sqrt(2.0)));
    CHECK_NEAR(feat[5 * 3 + ch], want, 1e-3);
  }
  free(sc);
  drop(&m);
}

int main(void) {
  RUN(test_base_like);
  RUN(test_bias);
  RUN(test_strides);
  RUN(test_constant_input);
  return harness_report();
}
