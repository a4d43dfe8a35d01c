/* HuBERT forward against torchaudio's reference outputs on the tiny
** checkpoints of tests/fixtures/make_checkpoints.py, and every load error. */
#include "fixture.h"
#include "harness.h"
#include "encoder.h"
#include "hubert.h"
#include "hubert_conv.h"
#include "nn_threads.h"
#include "safetensors.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* The generator of make_checkpoints.py's wave(), bit for bit. */
static float *wave(long n) {
  float *x = malloc(sizeof(float) * (size_t)n);
  uint64_t s = 12345;
  for (long i = 0; i < n; i++) {
    s = (s * 1103515245ull + 12345ull) % 2147483648ull;
    long noise = (long)((s >> 16) & 0x7fff) - 16384;
    long saw = (i * 37) % 200 - 100;
    x[i] = (float)(noise / 65536.0 + saw / 400.0);
  }
  return x;
}

static const long lengths[] = {400, 719, 1234, 4000, 8001, 16077};
static const int frames[] = {1, 1, 3, 12, 24, 49};
#define NLEN 6
#define HID 32

static float *read_ref(const char *variant, size_t *n) {
  char p[1300];
  snprintf(p, sizeof p, "%s/ref.bin", fx(variant));
  FILE *f = fopen(p, "rb");
  if (!f) return NULL;
  float *r = malloc(1 << 16);
  *n = fread(r, sizeof(float), (1 << 16) / sizeof(float), f);
  fclose(f);
  return r;
}

/* Max abs difference of our states and pooled vector vs the reference,
** with the conv stack run `chunk` output frames at a time (0: default). */
static void check_chunked(const char *variant, const char *refvariant, double tol, int chunk) {
  hubert *m = NULL;
  clap_error err;
  clap_status rc = hubert_load(fx(variant), &m, &err);
  CHECK_INT(rc, CLAP_OK);
  if (rc) {
    fprintf(stderr, "  %s\n", err.msg);
    return;
  }
  if (chunk) hubert_set_conv_chunk(m, chunk);
  size_t nref;
  float *ref = read_ref(refvariant, &nref);
  CHECK(ref != NULL);
  size_t at = 0;
  for (int li = 0; li < NLEN && ref; li++) {
    float *x = wave(lengths[li]), *h = NULL, pooled[HID];
    int T = 0;
    CHECK_INT(hubert_forward(m, x, lengths[li], &h, &T, &err), CLAP_OK);
    CHECK_INT(T, frames[li]);
    CHECK_INT(hubert_frames(m, lengths[li]), frames[li]);
    CHECK_INT(hubert_encode(m, x, lengths[li], pooled, &err), CLAP_OK);
    double dmax = 0, pmax = 0;
    for (int i = 0; h && i < T * HID && at + (size_t)i < nref; i++) {
      double d = fabs(h[i] - ref[at + (size_t)i]);
      if (d > dmax) dmax = d;
    }
    at += (size_t)frames[li] * HID;
    for (int j = 0; j < HID && at + (size_t)j < nref; j++) {
      double d = fabs(pooled[j] - ref[at + (size_t)j]);
      if (d > pmax) pmax = d;
    }
    at += HID;
    if (dmax > tol || pmax > tol)
      fprintf(stderr, "  %s length %ld chunk %d: states diff %g, pooled diff %g\n", variant,
              lengths[li], chunk, dmax, pmax);
    CHECK(dmax <= tol);
    CHECK(pmax <= tol);
    free(h);
    free(x);
  }
  CHECK_INT(at, nref);
  free(ref);
  hubert_free(m);
}

static void check_variant(const char *variant, const char *refvariant, double tol) {
  check_chunked(variant, refvariant, tol, 0);
}

static void test_f32(void) { check_variant("f32", "f32", 1e-4); }

/* bf16 linears against float32 on every fixture: pooled vectors keep
** cosine >= 0.999 (the bound); the worst max abs difference is
** printed for the record. */
static void test_bf16_precision(void) {
  const char *variants[] = {"f32", "f16", "bf16", "param", "odd"};
  double worst_cos = 1, worst_abs = 0;
  for (size_t v = 0; v < sizeof variants / sizeof *variants; v++) {
    hubert *m = NULL;
    clap_error err;
    CHECK_INT(hubert_load(fx(variants[v]), &m, &err), CLAP_OK);
    if (!m) continue;
    int H = hubert_get_config(m)->hidden;
    float *a = malloc(sizeof(float) * (size_t)H), *b = malloc(sizeof(float) * (size_t)H);
    for (int li = 0; li < NLEN; li++) {
      float *x = wave(lengths[li]);
      CHECK_INT(hubert_set_precision(m, NN_F32, &err), CLAP_OK);
      CHECK_INT(hubert_encode(m, x, lengths[li], a, &err), CLAP_OK);
      CHECK_INT(hubert_set_precision(m, NN_BF16, &err), CLAP_OK);
      CHECK_INT(hubert_precision(m), NN_BF16);
      CHECK_INT(hubert_encode(m, x, lengths[li], b, &err), CLAP_OK);
      double dot = 0, na = 0, nb = 0;
      for (int j = 0; j < H; j++) {
        dot += (double)a[j] * b[j], na += (double)a[j] * a[j], nb += (double)b[j] * b[j];
        if (fabs(a[j] - b[j]) > worst_abs) worst_abs = fabs(a[j] - b[j]);
      }
      double cos = dot / sqrt(na * nb);
      if (cos < worst_cos) worst_cos = cos;
      CHECK(cos >= 0.999);
      free(x);
    }
    free(a), free(b);
    hubert_free(m);
  }
  printf("hubert bf16 vs f32 on the fixtures: min cosine %.6f, max abs diff %.3g\n", worst_cos,
         worst_abs);
}

/* The conv stack streams chunks of output frames, each recomputing the
** frames its receptive field shares with the previous chunk. The reference
** lengths give 1, 1, 3, 12, 24 and 49 frames: chunk 1 makes every frame a
** boundary; 12 is exactly one chunk and 24 exactly two; 49 is chunk+1 at
** 48, exactly one at 49, chunk-1 at 50; 5 leaves ragged last chunks. */
static void test_chunk_boundaries(void) {
  static const int chunks[] = {1, 5, 12, 48, 49, 50};
  for (int i = 0; i < 6; i++) check_chunked("f32", "f32", 1e-4, chunks[i]);
  /* do_normalize and the parametrizations naming, through chunks too */
  check_chunked("param", "param", 1e-4, 5);
  check_chunked("bf16", "bf16", 1e-4, 48);
}
static void test_f16(void) { check_variant("f16", "f16", 1e-4); }
static void test_bf16(void) { check_variant("bf16", "bf16", 1e-4); }
/* parametrizations naming + hubert. prefix + do_normalize. */
static void test_param_prefix_normalize(void) { check_variant("param", "param", 1e-4); }
/* pytorch_model.bin converted in memory: same weights as f32. */
static void test_bin(void) { check_variant("bin", "f32", 1e-4); }

static void test_config_read(void) {
  hubert *m;
  clap_error err;
  CHECK_INT(hubert_load(fx("param"), &m, &err), CLAP_OK);
  const hubert_config *c = hubert_get_config(m);
  CHECK_INT(c->hidden, 32);
  CHECK_INT(c->layers, 2);
  CHECK_INT(c->heads, 4);
  CHECK_INT(c->n_conv, 7);
  CHECK_INT(c->conv_kernel[0], 10);
  CHECK_INT(c->pos_kernel, 4);
  CHECK_INT(c->pos_groups, 2);
  CHECK_INT(c->do_normalize, 1);
  CHECK_CONTAINS(hubert_weights_path(m), "param/model.safetensors");
  hubert_free(m);
  CHECK_INT(hubert_load(fx("f16"), &m, &err), CLAP_OK);
  CHECK_INT(hubert_get_config(m)->do_normalize, 0); /* no preprocessor_config.json */
  hubert_free(m);
  CHECK_INT(hubert_load(fx("bin"), &m, &err), CLAP_OK);
  CHECK_CONTAINS(hubert_weights_path(m), "bin/pytorch_model.bin");
  hubert_free(m);
}

static void test_encoder_registry(void) {
  encoder *e;
  clap_error err;
  CHECK_INT(encoder_create("hb", "hubert", fx("f32"), &e, &err), CLAP_OK);
  CHECK_INT(encoder_dim(e), HID);
  CHECK_INT(encoder_modality_of(e), ENCODER_AUDIO);
  size_t nref;
  float *ref = read_ref("f32", &nref), out[HID];
  float *x = wave(4000);
  CHECK_INT(encoder_encode_audio(e, x, 4000, out, &err), CLAP_OK);
  /* pooled vector of length 4000 follows three earlier lengths' blocks */
  size_t at = (1 + 1 + 3) * HID + 3 * HID + 12 * HID;
  for (int j = 0; j < HID; j++) CHECK_NEAR(out[j], ref[at + j], 1e-4);
  CHECK_INT(encoder_encode_text(e, "x", 1, out, &err), CLAP_ERR_ARG);
  /* the precision through the interface: bf16 close to f32, back to f32 exact */
  float b16[HID], f32[HID];
  CHECK_INT(encoder_precision(e), NN_F32);
  CHECK_INT(encoder_set_precision(e, NN_BF16, &err), CLAP_OK);
  CHECK_INT(encoder_precision(e), NN_BF16);
  CHECK_INT(encoder_encode_audio(e, x, 4000, b16, &err), CLAP_OK);
  CHECK_INT(encoder_set_precision(e, NN_F32, &err), CLAP_OK);
  CHECK_INT(encoder_encode_audio(e, x, 4000, f32, &err), CLAP_OK);
  CHECK(memcmp(f32, out, sizeof out) == 0);
  for (int j = 0; j < HID; j++) CHECK_NEAR(b16[j], out[j], 0.05);
  free(x), free(ref);
  encoder_free(e);
  CHECK_INT(encoder_create("hb", "hubert", NULL, &e, &err), CLAP_ERR_ARG);
  CHECK_CONTAINS(err.msg, "checkpoint directory");
}

static void test_input_errors(void) {
  hubert *m;
  clap_error err;
  CHECK_INT(hubert_load(fx("f32"), &m, &err), CLAP_OK);
  float *x = wave(1000), out[HID];
  CHECK_INT(hubert_encode(m, x, 399, out, &err), CLAP_ERR_RANGE);
  CHECK_CONTAINS(err.msg, "too short: 399 samples, at least 400");
  x[10] = NAN;
  CHECK_INT(hubert_encode(m, x, 1000, out, &err), CLAP_ERR_RANGE);
  CHECK_CONTAINS(err.msg, "sample 10 is not finite");
  CHECK_INT(hubert_encode(m, NULL, 1000, out, &err), CLAP_ERR_ARG);
  /* Refused on the length alone, before any sample is read. */
  CHECK_INT(hubert_encode(m, x, (long)HUBERT_MAX_SECONDS * 16000 + 1, out, &err), CLAP_ERR_RANGE);
  CHECK_CONTAINS(err.msg, "audio too long: 1200 s (at most 1200 s");
  /* forward refuses before sizing the states for 10^12 samples */
  float *h = NULL;
  int T = -1;
  CHECK_INT(hubert_forward(m, x, 1000000000000L, &h, &T, &err), CLAP_ERR_RANGE);
  CHECK_CONTAINS(err.msg, "audio too long");
  CHECK(h == NULL);
  CHECK_INT(T, 0);
  free(x);
  hubert_free(m);
}

/* One minute of audio: T = 2999 frames, attention one head at a time. */
static void test_long_audio(void) {
  hubert *m;
  clap_error err;
  CHECK_INT(hubert_load(fx("f32"), &m, &err), CLAP_OK);
  long n = 60L * 16000;
  float *x = wave(n), *h = NULL;
  int T = 0;
  CHECK_INT(hubert_forward(m, x, n, &h, &T, &err), CLAP_OK);
  CHECK_INT(T, (n - 400) / 320 + 1);
  int finite = 1;
  for (long i = 0; h && i < (long)T * HID; i++) finite &= isfinite(h[i]) != 0;
  CHECK(finite);
  /* Streamed conv stack (default chunk, 47 chunks here) vs one chunk of all
  ** 2999 frames: the layer-0 group norm statistics come from the whole
  ** input either way, so the states agree to rounding. */
  float *one = NULL;
  int T1 = 0;
  hubert_set_conv_chunk(m, T);
  CHECK_INT(hubert_forward(m, x, n, &one, &T1, &err), CLAP_OK);
  CHECK_INT(T1, T);
  double dmax = 0, scale = 0;
  for (long i = 0; h && one && i < (long)T * HID; i++) {
    if (fabs(h[i] - one[i]) > dmax) dmax = fabs(h[i] - one[i]);
    if (fabs(h[i]) > scale) scale = fabs(h[i]);
  }
  CHECK(dmax <= 1e-4);
  CHECK(scale > 0.1); /* the states are not all zero */
  free(h), free(one), free(x);
  hubert_free(m);
}

typedef struct job {
  const hubert *m;
  long n;
  float out[HID];
  clap_status rc;
} job;

static void *run_job(void *arg) {
  job *j = arg;
  float *x = wave(j->n);
  clap_error err;
  for (int k = 0; k < 5; k++) j->rc |= hubert_encode(j->m, x, j->n, j->out, &err);
  free(x);
  return NULL;
}

static void test_threads(void) {
  hubert *m;
  clap_error err;
  CHECK_INT(hubert_load(fx("f32"), &m, &err), CLAP_OK);
  job a = {m, 8001, {0}, 0}, b = {m, 8001, {0}, 0}, c = {m, 16077, {0}, 0};
  pthread_t t1, t2, t3;
  pthread_create(&t1, NULL, run_job, &a);
  pthread_create(&t2, NULL, run_job, &b);
  pthread_create(&t3, NULL, run_job, &c);
  pthread_join(t1, NULL), pthread_join(t2, NULL), pthread_join(t3, NULL);
  CHECK_INT(a.rc | b.rc | c.rc, CLAP_OK);
  CHECK(memcmp(a.out, b.out, sizeof a.out) == 0);
  CHECK(memcmp(a.out, c.out, sizeof a.out) != 0);
  hubert_free(m);
}

/* The thread count never moves a bit: every parallel part runs as
** single-threaded pieces (nn_threads.h). Lengths: one conv chunk (24
** frames), two (74), several with a ragged last one and attention row
** blocks (299 frames: 5 chunks, 3 row blocks of 128). */
static void test_thread_count_same_bits(void) {
  hubert *m;
  clap_error err;
  CHECK_INT(hubert_load(fx("f32"), &m, &err), CLAP_OK);
  const long lengths[] = {8000, 24000, 96000};
  int before = nn_get_threads();
  for (int i = 0; i < 3; i++) {
    float *x = wave(lengths[i]), one[HID], two[HID];
    nn_set_threads(1);
    CHECK_INT(hubert_encode(m, x, lengths[i], one, &err), CLAP_OK);
    nn_set_threads(2);
    CHECK_INT(hubert_encode(m, x, lengths[i], two, &err), CLAP_OK);
    CHECK(memcmp(one, two, sizeof one) == 0);
    free(x);
  }
  nn_set_threads(before);
  hubert_free(m);
}

/* ---- awkward shapes: odd/ ----
** hidden 33 in 3 heads of 11, intermediate 37, conv_dim 13/15/17/19/13/11/17
** with conv biases, positional conv kernel 5 in 3 groups of 11, do_normalize.
** Odd T·hidden puts the conv stack's doubles after an odd number of floats
** unless the workspace rounds the phase region up (UBSan flags it). */
static const long odd_lengths[] = {400, 1111, 2345, 8319, 42101};
static const int odd_frames[] = {1, 3, 7, 25, 131};
#define ODD_NLEN 5
#define ODD_HID 33

typedef struct odd_run {
  float *states[ODD_NLEN];
  float pooled[ODD_NLEN][ODD_HID];
} odd_run;

/* Every length through forward and encode; each against the reference. */
static void odd_pass(hubert *m, const float *ref, size_t nref, int chunk, int threads,
                     odd_run *out) {
  clap_error err;
  size_t at = 0;
  for (int li = 0; li < ODD_NLEN; li++) {
    long n = odd_lengths[li];
    int T = 0;
    float *x = wave(n), *h = NULL, *po = out->pooled[li];
    CHECK_INT(hubert_forward(m, x, n, &h, &T, &err), CLAP_OK);
    CHECK_INT(T, odd_frames[li]);
    CHECK_INT(hubert_encode(m, x, n, po, &err), CLAP_OK);
    out->states[li] = h;
    double dmax = 0, pmax = 0;
    size_t th = (size_t)odd_frames[li] * ODD_HID;
    for (size_t i = 0; h && T == odd_frames[li] && i < th && at + i < nref; i++)
      if (fabs(h[i] - ref[at + i]) > dmax) dmax = fabs(h[i] - ref[at + i]);
    at += th;
    for (int j = 0; j < ODD_HID && at + (size_t)j < nref; j++)
      if (fabs(po[j] - ref[at + (size_t)j]) > pmax) pmax = fabs(po[j] - ref[at + (size_t)j]);
    at += ODD_HID;
    if (dmax > 1e-4 || pmax > 1e-4)
      fprintf(stderr, "  odd length %ld chunk %d threads %d: states diff %g, pooled diff %g\n", n,
              chunk, threads, dmax, pmax);
    CHECK(dmax <= 1e-4);
    CHECK(pmax <= 1e-4);
    free(x);
  }
  CHECK_INT(at, nref);
}

/* Conv chunks: default (64: 131 frames are 3 chunks, the last of 3),
** 5 (ragged everywhere) and 1 (every frame a boundary). At 1 and 2
** threads, the second bit for bit the first: conv chunks, positional-conv
** groups and attention heads split across workers. */
static void test_odd_shapes(void) {
  hubert *m;
  clap_error err;
  CHECK_INT(hubert_load(fx("odd"), &m, &err), CLAP_OK);
  if (!m) return;
  const hubert_config *c = hubert_get_config(m);
  CHECK_INT(c->hidden, 33);
  CHECK_INT(c->heads, 3);
  CHECK_INT(c->intermediate, 37);
  CHECK_INT(c->conv_dim[0], 13);
  CHECK_INT(c->conv_dim[6], 17);
  CHECK_INT(c->conv_bias, 1);
  CHECK_INT(c->pos_kernel, 5);
  CHECK_INT(c->pos_groups, 3);
  CHECK_INT(c->do_normalize, 1);
  CHECK_INT(hubert_frames(m, 42101), 131);
  size_t nref = 0;
  float *ref = read_ref("odd", &nref);
  CHECK(ref != NULL);
  CHECK_INT(nref, (1 + 3 + 7 + 25 + 131 + ODD_NLEN) * ODD_HID);
  static const int chunks[] = {0, 5, 1};
  int before = nn_get_threads();
  for (int ci = 0; ci < 3 && ref; ci++) {
    hubert_set_conv_chunk(m, chunks[ci] ? chunks[ci] : HCONV_DEFAULT_CHUNK);
    odd_run one, two;
    nn_set_threads(1);
    odd_pass(m, ref, nref, chunks[ci], 1, &one);
    nn_set_threads(2);
    odd_pass(m, ref, nref, chunks[ci], 2, &two);
    for (int li = 0; li < ODD_NLEN; li++) {
      size_t th = (size_t)odd_frames[li] * ODD_HID;
      CHECK(one.states[li] && two.states[li] &&
            memcmp(one.states[li], two.states[li], sizeof(float) * th) == 0);
      CHECK(memcmp(one.pooled[li], two.pooled[li], sizeof one.pooled[li]) == 0);
      free(one.states[li]), free(two.states[li]);
    }
  }
  nn_set_threads(before);
  free(ref);
  hubert_free(m);
}

/* ---- broken checkpoints ---- */

static char tmpdir[64];

static void write_file(const char *name, const char *text) {
  char p[256];
  snprintf(p, sizeof p, "%s/%s", tmpdir, name);
  FILE *f = fopen(p, "w");
  fputs(text, f);
  fclose(f);
}

/* Copy the f32 weights to tmpdir minus `drop` (or with `rename_from` renamed). */
static void write_weights(const char *drop, const char *rename_from, const char *rename_to) {
  st_file *f;
  clap_error err;
  CHECK_INT(st_open(fx("f32/model.safetensors"), &f, &err), CLAP_OK);
  int n = st_count(f), k = 0;
  st_write_tensor *w = calloc((size_t)n, sizeof *w);
  for (int i = 0; i < n; i++) {
    const st_tensor_info *t = st_tensor_at(f, i);
    if (drop && !strcmp(t->name, drop)) continue;
    w[k].name = rename_from && !strcmp(t->name, rename_from) ? rename_to : t->name;
    w[k].dtype = t->dtype;
    w[k].ndim = t->ndim;
    memcpy(w[k].shape, t->shape, sizeof t->shape);
    w[k].data = t->data;
    k++;
  }
  char p[256];
  snprintf(p, sizeof p, "%s/model.safetensors", tmpdir);
  CHECK_INT(st_write_file(p, w, k, &err), CLAP_OK);
  free(w);
  st_close(f);
}

static clap_status load_tmp(clap_error *err) {
  hubert *m = NULL;
  clap_status rc = hubert_load(tmpdir, &m, err);
  hubert_free(m);
  return rc;
}

static void test_bad_checkpoints(void) {
  strcpy(tmpdir, "/tmp/clap_hubert_XXXXXX");
  CHECK(mkdtemp(tmpdir) != NULL);
  clap_error err;
  char *config = fixture_read(fx("f32/config.json"), NULL);
  CHECK_INT(load_tmp(&err), CLAP_ERR_NOTFOUND);
  CHECK_CONTAINS(err.msg, "config.json: cannot open: No such file");
  write_file("config.json", config);
  CHECK_INT(load_tmp(&err), CLAP_ERR_NOTFOUND);
  CHECK_CONTAINS(err.msg, "no model.safetensors or pytorch_model.bin");

  write_weights("encoder.layers.1.final_layer_norm.bias", NULL, NULL);
  CHECK_INT(load_tmp(&err), CLAP_ERR_NOTFOUND);
  CHECK_CONTAINS(err.msg, "tensor encoder.layers.1.final_layer_norm.bias not found in");
  write_weights("encoder.pos_conv_embed.conv.weight_g", NULL, NULL);
  CHECK_INT(load_tmp(&err), CLAP_ERR_NOTFOUND);
  CHECK_CONTAINS(err.msg, "tensor encoder.pos_conv_embed.conv.weight_g not found");

  /* A config that disagrees with the weights: wrong shapes, named. */
  write_weights(NULL, NULL, NULL);
  CHECK_INT(load_tmp(&err), CLAP_OK);
  char *alt = malloc(strlen(config) + 64);
  char *p = strstr(config, "\"intermediate_size\": 64");
  CHECK(p != NULL);
  sprintf(alt, "%.*s\"intermediate_size\": 48%s", (int)(p - config), config, p + 23);
  write_file("config.json", alt);
  CHECK_INT(load_tmp(&err), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg,
                 "tensor encoder.layers.0.feed_forward.intermediate_dense.weight: shape [64,32], "
                 "expected [48,32]");
  p = strstr(config, "\"num_attention_heads\": 4");
  sprintf(alt, "%.*s\"num_attention_heads\": 5%s", (int)(p - config), config, p + 24);
  write_file("config.json", alt);
  CHECK_INT(load_tmp(&err), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "hidden_size 32 is not a multiple of num_attention_heads 5");
  p = strstr(config, "\"do_stable_layer_norm\": false");
  sprintf(alt, "%.*s\"do_stable_layer_norm\": true%s", (int)(p - config), config, p + 29);
  write_file("config.json", alt);
  CHECK_INT(load_tmp(&err), CLAP_ERR_UNSUPPORTED);
  CHECK_CONTAINS(err.msg, "do_stable_layer_norm");
  p = strstr(config, "\"feat_extract_norm\": \"group\"");
  sprintf(alt, "%.*s\"feat_extract_norm\": \"layer\"%s", (int)(p - config), config, p + 28);
  write_file("config.json", alt);
  CHECK_INT(load_tmp(&err), CLAP_ERR_UNSUPPORTED);
  CHECK_CONTAINS(err.msg, "\"feat_extract_norm\" is layer; only \"group\" is supported");
  write_file("config.json", "{\"conv_dim\": [16, 16], \"conv_kernel\": [3]}");
  CHECK_INT(load_tmp(&err), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "\"conv_kernel\" has 1 entries");
  write_file("config.json", "{\"hidden_size\": -3}");
  CHECK_INT(load_tmp(&err), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "\"hidden_size\" must be an integer");
  write_file("config.json", "not json");
  CHECK_INT(load_tmp(&err), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "config.json: not a JSON object");
  write_file("config.json", config);
  write_file("preprocessor_config.json", "{\"do_normalize\": \"yes\"}");
  CHECK_INT(load_tmp(&err), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "\"do_normalize\" must be true or false");
  write_file("preprocessor_config.json", "{\"sampling_rate\": 8000}");
  CHECK_INT(load_tmp(&err), CLAP_ERR_UNSUPPORTED);
  CHECK_CONTAINS(err.msg, "sampling_rate 8000");
  write_file("preprocessor_config.json", "{}");
  CHECK_INT(load_tmp(&err), CLAP_OK);

  /* Truncated weights and an unknown dtype: the safetensors checks, via load. */
  char wp[256];
  snprintf(wp, sizeof wp, "%s/model.safetensors", tmpdir);
  struct stat sb;
  stat(wp, &sb);
  CHECK_INT(truncate(wp, sb.st_size - 100), 0);
  CHECK_INT(load_tmp(&err), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "file truncated?");
  FILE *f = fopen(wp, "wb");
  const char *h = "{\"x\":{\"dtype\":\"Q8\",\"shape\":[1],\"data_offsets\":[0,1]}}   ";
  uint64_t hl = strlen(h);
  fwrite(&hl, 8, 1, f);
  fwrite(h, 1, hl, f);
  fputc(0, f);
  fclose(f);
  CHECK_INT(load_tmp(&err), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "tensor x: unknown dtype 'Q8'");
  /* An F32 tensor stored as I32: refused by dtype, not misread. */
  write_weights(NULL, NULL, NULL);
  free(alt);
  free(config);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  CHECK_INT(system(cmd), 0);
}

int main(void) {
  fixture_dir("tests/fixtures/hubert");
  RUN(test_f32);
  RUN(test_bf16_precision);
  RUN(test_chunk_boundaries);
  RUN(test_f16);
  RUN(test_bf16);
  RUN(test_param_prefix_normalize);
  RUN(test_bin);
  RUN(test_config_read);
  RUN(test_encoder_registry);
  RUN(test_input_errors);
  RUN(test_long_audio);
  RUN(test_threads);
  RUN(test_thread_count_same_bits);
  RUN(test_odd_shapes);
  RUN(test_bad_checkpoints);
  return harness_report();
}
