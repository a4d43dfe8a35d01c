/* Unit tests for ext/model/model.c: init, blob round trip and validation, forward pass. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>

#include "harness.h"
#include "model.h"

static model_config tiny_cfg(model_head_kind head) {
  model_config c;
  memset(&c, 0, sizeof c);
  strcpy(c.audio_encoder, "acoustic");
  strcpy(c.text_encoder, "ngram");
  c.audio_in = 3;
  c.text_in = 4;
  c.dim = 2;
  c.head = head;
  c.hidden = head == MODEL_HEAD_MLP ? 3 : 0;
  return c;
}

static clap_model *make(model_head_kind head, uint64_t seed) {
  model_config c = tiny_cfg(head);
  clap_model *m = NULL;
  clap_error e;
  CHECK_INT(model_create(&c, seed, &m, &e), CLAP_OK);
  return m;
}

static unsigned char *save(const clap_model *m, size_t *n) {
  unsigned char *b = NULL;
  clap_error e;
  CHECK_INT(model_save(m, &b, n, &e), CLAP_OK);
  return b;
}

static uint32_t rd32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void fix_crc(unsigned char *b, size_t n) { wr32(b + n - 4, model_crc32(b, n - 4)); }

/* A blob with the given header and tensor bytes and a correct CRC. */
static unsigned char *build_blob(uint32_t version, const char *header, const unsigned char *t,
                                 size_t tbytes, size_t *n) {
  size_t hl = strlen(header);
  *n = 16 + hl + tbytes + 4;
  unsigned char *b = malloc(*n);
  memcpy(b, "CLAPMDL\0", 8);
  wr32(b + 8, version);
  wr32(b + 12, (uint32_t)hl);
  memcpy(b + 16, header, hl);
  memcpy(b + 16 + hl, t, tbytes);
  fix_crc(b, *n);
  return b;
}

/* Load and expect failure with `code` and a message containing `needle`. */
static void expect_load_error(const unsigned char *b, size_t n, clap_status code,
                              const char *needle) {
  clap_model *m = (clap_model *)1;
  clap_error e;
  clap_error_clear(&e);
  CHECK_INT(model_load(b, n, &m, &e), code);
  CHECK(m == NULL);
  CHECK_INT(e.code, code);
  CHECK_CONTAINS(e.msg, needle);
}

/* The tiny linear model's blob split into header text and tensor bytes. */
typedef struct parts {
  char *header;
  unsigned char *tensors;
  size_t tbytes;
} parts;

static parts split(const unsigned char *b, size_t n) {
  parts p;
  uint32_t hl = rd32(b + 12);
  p.header = malloc(hl + 1);
  memcpy(p.header, b + 16, hl);
  p.header[hl] = 0;
  p.tbytes = n - 20 - hl;
  p.tensors = malloc(p.tbytes);
  memcpy(p.tensors, b + 16 + hl, p.tbytes);
  return p;
}

/* header with the first `from` replaced by `to` (must occur). */
static char *replace(const char *h, const char *from, const char *to) {
  const char *at = strstr(h, from);
  CHECK(at != NULL);
  if (!at) at = h;
  size_t pre = (size_t)(at - h), fl = strlen(from), tl = strlen(to);
  char *r = malloc(strlen(h) - fl + tl + 1);
  memcpy(r, h, pre);
  memcpy(r + pre, to, tl);
  strcpy(r + pre + tl, at + fl);
  return r;
}

static void expect_header_error(const parts *p, const char *from, const char *to,
                                clap_status code, const char *needle) {
  char *h = replace(p->header, from, to);
  size_t n;
  unsigned char *b = build_blob(1, h, p->tensors, p->tbytes, &n);
  expect_load_error(b, n, code, needle);
  free(b);
  free(h);
}

/* ------------------------------------------------------------------ tests */

static void test_crc32_known_values(void) {
  CHECK_INT(model_crc32("123456789", 9), 0xcbf43926u);
  CHECK_INT(model_crc32("", 0), 0);
  CHECK_INT(model_crc32("a", 1), 0xe8b7be43u);
}

static void test_create_is_deterministic(void) {
  clap_model *a = make(MODEL_HEAD_MLP, 42), *b = make(MODEL_HEAD_MLP, 42);
  clap_model *c = make(MODEL_HEAD_MLP, 43);
  size_t na, nb, nc;
  unsigned char *ba = save(a, &na), *bb = save(b, &nb), *bc = save(c, &nc);
  CHECK(na == nb && memcmp(ba, bb, na) == 0);
  CHECK(na == nc && memcmp(ba, bc, na) != 0);
  int r, k;
  float *wa = model_tensor(a, "text.w2", &r, &k), *wc = model_tensor(c, "text.w2", &r, &k);
  CHECK(memcmp(wa, wc, sizeof(float) * r * k) != 0);
  free(ba);
  free(bb);
  free(bc);
  model_free(a);
  model_free(b);
  model_free(c);
}

/* The documented PRNG pinned: xoshiro256** from splitmix64(1), top 24 bits,
** (2u - 1) * sqrt(6 / (3 + 2)) - values computed independently in Python. */
static void test_create_golden_values(void) {
  clap_model *m = make(MODEL_HEAD_LINEAR, 1);
  int r, c;
  float *w = model_tensor(m, "audio.w1", &r, &c);
  CHECK_INT(r, 2);
  CHECK_INT(c, 3);
  CHECK(w[0] == 0.4445793926715851f);
  CHECK(w[1] == 0.044774312525987625f);
  CHECK(w[2] == 0.1623574048280716f);
  CHECK(model_log_scale(m) == (float)log(1.0 / 0.07));
  CHECK_NEAR(model_log_scale(m), 2.6592600, 1e-6);
  model_free(m);
}

static void test_create_init_ranges(void) {
  clap_model *m = make(MODEL_HEAD_MLP, 5);
  for (int i = 0; i < model_tensor_count(m); i++) {
    const char *name = model_tensor_name(m, i);
    int r, c;
    float *d = model_tensor(m, name, &r, &c);
    const char *leaf = strchr(name, '.') ? strchr(name, '.') + 1 : name;
    int nonzero = 0;
    for (int k = 0; k < r * c; k++) {
      if (leaf[0] == 'w') {
        /* w1 is [out x in]: fan_in = cols, fan_out = rows. */
        CHECK(fabsf(d[k]) <= (float)sqrt(6.0 / (r + c)));
        nonzero += d[k] != 0;
      } else if (leaf[0] == 'b' || !strcmp(leaf, "mean")) {
        CHECK(d[k] == 0.0f);
      } else if (!strcmp(leaf, "std")) {
        CHECK(d[k] == 1.0f);
      }
    }
    if (leaf[0] == 'w') CHECK(nonzero > 0);
  }
  model_free(m);
}

static void test_create_rejects_bad_config(void) {
  clap_model *m = (clap_model *)1;
  clap_error e;
  model_config c = tiny_cfg(MODEL_HEAD_LINEAR);
  c.dim = 0;
  CHECK_INT(model_create(&c, 1, &m, &e), CLAP_ERR_RANGE);
  CHECK(m == NULL);
  CHECK_CONTAINS(e.msg, "config.dim = 0 is outside 1..16384");
  c = tiny_cfg(MODEL_HEAD_LINEAR);
  c.text_in = MODEL_MAX_DIM + 1;
  CHECK_INT(model_create(&c, 1, &m, &e), CLAP_ERR_RANGE);
  CHECK_CONTAINS(e.msg, "config.text_in = 16385 is outside 1..16384");
  c = tiny_cfg(MODEL_HEAD_LINEAR);
  c.audio_in = -3;
  CHECK_INT(model_create(&c, 1, &m, &e), CLAP_ERR_RANGE);
  CHECK_CONTAINS(e.msg, "config.audio_in = -3");
  c = tiny_cfg(MODEL_HEAD_MLP);
  c.hidden = 0;
  CHECK_INT(model_create(&c, 1, &m, &e), CLAP_ERR_RANGE);
  CHECK_CONTAINS(e.msg, "config.hidden = 0 is outside");
  c = tiny_cfg(MODEL_HEAD_LINEAR);
  c.head = (model_head_kind)7;
  CHECK_INT(model_create(&c, 1, &m, &e), CLAP_ERR_RANGE);
  CHECK_CONTAINS(e.msg, "config.head = 7");
  c = tiny_cfg(MODEL_HEAD_LINEAR);
  c.audio_encoder[0] = 0;
  CHECK_INT(model_create(&c, 1, &m, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "config.audio_encoder is empty");
  c = tiny_cfg(MODEL_HEAD_LINEAR);
  strcpy(c.text_encoder, "ng\nram");
  CHECK_INT(model_create(&c, 1, &m, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "config.text_encoder has a non-printable byte 0x0a at offset 2");
  c = tiny_cfg(MODEL_HEAD_LINEAR);
  memset(c.text_encoder, 'x', sizeof c.text_encoder);
  CHECK_INT(model_create(&c, 1, &m, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "config.text_encoder is not NUL-terminated within 64 bytes");
  CHECK_INT(model_create(NULL, 1, &m, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "config is NULL");
  /* A linear head ignores hidden: stored as 0. */
  c = tiny_cfg(MODEL_HEAD_LINEAR);
  c.hidden = 99;
  CHECK_INT(model_create(&c, 1, &m, &e), CLAP_OK);
  CHECK_INT(model_get_config(m)->hidden, 0);
  CHECK_INT(model_tensor_count(m), 9);
  model_free(m);
}

static void round_trip(model_head_kind head) {
  clap_model *m = make(head, 9);
  clap_error e;
  float mean[4] = {0.5f, -1.0f, 2.0f, 0.25f}, sd[4] = {2.0f, 0.5f, 1.5f, 3.0f};
  CHECK_INT(model_set_standardisation(m, MODEL_TEXT, mean, sd, &e), CLAP_OK);
  CHECK_INT(model_set_metadata(m, "{\"loss\":[0.5,0.25],\"note\":\"caf\\u00e9\"}", &e), CLAP_OK);
  model_set_log_scale(m, -0.0f);
  size_t n1, n2;
  unsigned char *b1 = save(m, &n1);
  clap_model *l = NULL;
  CHECK_INT(model_load(b1, n1, &l, &e), CLAP_OK);
  if (!l) {
    fprintf(stderr, "load: %s\n", e.msg);
    free(b1);
    model_free(m);
    return;
  }
  unsigned char *b2 = save(l, &n2);
  CHECK(n1 == n2 && memcmp(b1, b2, n1) == 0);
  CHECK(memcmp(model_get_config(m), model_get_config(l), sizeof(model_config)) == 0);
  CHECK(strcmp(model_metadata(l), model_metadata(m)) == 0);
  CHECK(signbit(model_log_scale(l)));
  free(b1);
  free(b2);
  model_free(m);
  model_free(l);
}

static void test_round_trip_linear(void) { round_trip(MODEL_HEAD_LINEAR); }
static void test_round_trip_mlp(void) { round_trip(MODEL_HEAD_MLP); }

static void test_every_byte_corruption_fails(void) {
  clap_model *m = make(MODEL_HEAD_LINEAR, 3);
  size_t n;
  unsigned char *b = save(m, &n);
  long tried = 0, failed = 0, crc_hits = 0;
  for (size_t i = 0; i < n; i++) {
    for (int mask = 1; mask < 256; mask++) {
      b[i] ^= (unsigned char)mask;
      clap_model *l = NULL;
      clap_error e;
      tried++;
      if (model_load(b, n, &l, &e) != CLAP_OK && l == NULL) failed++;
      if (strstr(e.msg, "checksum mismatch")) crc_hits++;
      model_free(l);
      b[i] ^= (unsigned char)mask;
    }
  }
  CHECK_INT(failed, tried);
  /* Everything past magic and version is caught by the CRC. */
  CHECK_INT(crc_hits, (long)(n - 12) * 255);
  clap_model *l = NULL;
  clap_error e;
  CHECK_INT(model_load(b, n, &l, &e), CLAP_OK); /* restored intact */
  model_free(l);
  free(b);
  model_free(m);
}

static void test_every_truncation_fails(void) {
  clap_model *m = make(MODEL_HEAD_MLP, 3);
  size_t n;
  unsigned char *b = save(m, &n);
  long failed = 0;
  for (size_t len = 0; len < n; len++) {
    /* An exact-size copy so ASan would see any read past the end. */
    unsigned char *t = malloc(len ? len : 1);
    memcpy(t, b, len);
    clap_model *l = NULL;
    clap_error e;
    if (model_load(t, len, &l, &e) != CLAP_OK && l == NULL) failed++;
    model_free(l);
    free(t);
  }
  CHECK_INT(failed, (long)n);
  expect_load_error(b, 19, CLAP_ERR_FORMAT, "model blob is 19 bytes, shorter than the 20-byte minimum");
  expect_load_error(b, n - 1, CLAP_ERR_FORMAT, "checksum mismatch: blob is corrupt");
  expect_load_error(NULL, 0, CLAP_ERR_FORMAT, "model blob is 0 bytes");
  free(b);
  model_free(m);
}

static void test_future_version_is_unsupported(void) {
  clap_model *m = make(MODEL_HEAD_LINEAR, 3);
  size_t n;
  unsigned char *b = save(m, &n);
  wr32(b + 8, 2);
  fix_crc(b, n);
  clap_model *l = NULL;
  clap_error e;
  CHECK_INT(model_load(b, n, &l, &e), CLAP_ERR_UNSUPPORTED);
  CHECK(strcmp(e.msg, "model blob version 2 is newer than this build supports (1)") == 0);
  wr32(b + 8, 0);
  fix_crc(b, n);
  expect_load_error(b, n, CLAP_ERR_FORMAT, "model blob version 0 is invalid");
  free(b);
  model_free(m);
}

static void test_load_frame_errors(void) {
  clap_model *m = make(MODEL_HEAD_LINEAR, 3);
  size_t n;
  unsigned char *b = save(m, &n);
  b[0] = 'X';
  expect_load_error(b, n, CLAP_ERR_FORMAT, "not a model blob: the magic is not \"CLAPMDL\\0\"");
  b[0] = 'C';
  b[20] ^= 1;
  expect_load_error(b, n, CLAP_ERR_FORMAT, "checksum mismatch: blob is corrupt");
  b[20] ^= 1;
  uint32_t hl = rd32(b + 12);
  wr32(b + 12, (uint32_t)(n - 20 + 1));
  fix_crc(b, n);
  expect_load_error(b, n, CLAP_ERR_FORMAT, "runs past the end of the blob");
  wr32(b + 12, 0xffffffffu);
  fix_crc(b, n);
  expect_load_error(b, n, CLAP_ERR_FORMAT, "model header length 4294967295 runs past");
  wr32(b + 12, hl - 1);
  fix_crc(b, n);
  expect_load_error(b, n, CLAP_ERR_FORMAT, "model header is not valid JSON");
  free(b);
  model_free(m);
}

static void test_load_header_errors(void) {
  clap_model *m = make(MODEL_HEAD_LINEAR, 3);
  size_t n;
  unsigned char *b = save(m, &n);
  parts p = split(b, n);
  CHECK_CONTAINS(p.header, "{\"config\":{\"audio_encoder\":\"acoustic\",\"text_encoder\":\"ngram\","
                           "\"audio_in\":3,\"text_in\":4,\"dim\":2,\"head\":\"linear\",\"hidden\":0},"
                           "\"metadata\":{},\"tensors\":[{\"name\":\"audio.mean\",\"rows\":3,\"cols\":1}");
  expect_header_error(&p, "{\"config\"", "[{\"config\"", CLAP_ERR_FORMAT, "not valid JSON");
  expect_header_error(&p, "\"metadata\":{},", "\"metadata\":{},,", CLAP_ERR_FORMAT,
                      "not valid JSON (at byte");
  expect_header_error(&p, "\"metadata\":{},", "\"metadata\":{} ,", CLAP_ERR_FORMAT,
                      "not in the canonical form");
  {
    size_t bn;
    unsigned char *bb = build_blob(1, "[1]", p.tensors, p.tbytes, &bn);
    expect_load_error(bb, bn, CLAP_ERR_FORMAT, "model header is not a single JSON object");
    free(bb);
  }
  expect_header_error(&p, "\"config\":", "\"konfig\":", CLAP_ERR_FORMAT,
                      "model header: config is missing or not an object");
  expect_header_error(&p, "\"dim\":2,", "", CLAP_ERR_FORMAT, "model header: config.dim is missing");
  expect_header_error(&p, "\"dim\":2", "\"dim\":\"2\"", CLAP_ERR_FORMAT,
                      "model header: config.dim is not a number");
  expect_header_error(&p, "\"dim\":2", "\"dim\":0", CLAP_ERR_RANGE,
                      "model header: config.dim = 0 is not an integer in 1..16384");
  expect_header_error(&p, "\"dim\":2", "\"dim\":2.5", CLAP_ERR_RANGE, "config.dim = 2.5");
  expect_header_error(&p, "\"dim\":2", "\"dim\":1e999", CLAP_ERR_RANGE, "config.dim = inf");
  expect_header_error(&p, "\"audio_in\":3", "\"audio_in\":16385", CLAP_ERR_RANGE,
                      "config.audio_in = 16385");
  expect_header_error(&p, "\"head\":\"linear\"", "\"head\":\"conv\"", CLAP_ERR_RANGE,
                      "config.head = \"conv\" is neither \"linear\" nor \"mlp\"");
  expect_header_error(&p, "\"head\":\"linear\",", "", CLAP_ERR_FORMAT, "config.head is missing");
  expect_header_error(&p, "\"hidden\":0", "\"hidden\":3", CLAP_ERR_RANGE,
                      "model header: config.hidden = 3 but a linear head has no hidden layer");
  expect_header_error(&p, "\"acoustic\"", "\"\"", CLAP_ERR_FORMAT,
                      "model header: config.audio_encoder is empty");
  expect_header_error(&p, "\"acoustic\"", "\"a\\tb\"", CLAP_ERR_FORMAT,
                      "config.audio_encoder has a non-printable byte 0x09 at offset 1");
  expect_header_error(&p, "\"ngram\"",
                      "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"",
                      CLAP_ERR_FORMAT, "config.text_encoder is 64 bytes; names must be shorter than 64");
  expect_header_error(&p, "\"ngram\"", "7", CLAP_ERR_FORMAT, "config.text_encoder is not a string");
  expect_header_error(&p, "\"metadata\":{}", "\"metadata\":[]", CLAP_ERR_FORMAT,
                      "model header: metadata is missing or not an object");
  expect_header_error(&p, "\"tensors\":", "\"tensor\":", CLAP_ERR_FORMAT,
                      "model header: tensors is missing or not an array");
  expect_header_error(&p, "{\"name\":\"audio.mean\",\"rows\":3,\"cols\":1},", "", CLAP_ERR_FORMAT,
                      "model header lists 8 tensors; the config implies 9");
  expect_header_error(&p, "\"name\":\"audio.std\"", "\"name\":\"audio.sd\"", CLAP_ERR_FORMAT,
                      "model header: tensor 1 is \"audio.sd\", expected \"audio.std\"");
  expect_header_error(&p, "\"name\":\"audio.std\"", "\"name\":\"audio.\\u0001\\u00e9\"",
                      CLAP_ERR_FORMAT, "tensor 1 is \"audio.???\", expected \"audio.std\"");
  expect_header_error(&p, "\"name\":\"audio.std\"", "\"nom\":\"audio.std\"", CLAP_ERR_FORMAT,
                      "model header: tensor 1 has no name");
  expect_header_error(&p, "\"name\":\"audio.w1\",\"rows\":2,\"cols\":3",
                      "\"name\":\"audio.w1\",\"rows\":3,\"cols\":2", CLAP_ERR_FORMAT,
                      "model header: tensor audio.w1 is 3x2; the config implies 2x3");
  expect_header_error(&p, "\"name\":\"audio.w1\",\"rows\":2", "\"name\":\"audio.w1\"",
                      CLAP_ERR_FORMAT, "model header: audio.w1.rows is missing");
  /* dim 3 implies different shapes: the table check fires before the byte count. */
  expect_header_error(&p, "\"dim\":2", "\"dim\":3", CLAP_ERR_FORMAT,
                      "tensor audio.w1 is 2x3; the config implies 3x3");
  /* Valid but not what model_save writes: key order, extra key. */
  expect_header_error(&p, "\"metadata\":{}", "\"metadata\":{},\"extra\":1", CLAP_ERR_FORMAT,
                      "not in the canonical form");
  expect_header_error(&p, "\"metadata\":{}", "\"metadata\":{\"a\":1.0}", CLAP_ERR_FORMAT,
                      "not in the canonical form");
  expect_header_error(&p, "\"text_in\":4,\"dim\":2", "\"dim\":2,\"text_in\":4", CLAP_ERR_FORMAT,
                      "not in the canonical form");
  free(p.header);
  free(p.tensors);
  free(b);
  model_free(m);
}

static void test_load_tensor_errors(void) {
  clap_model *m = make(MODEL_HEAD_LINEAR, 3);
  size_t n;
  unsigned char *b = save(m, &n);
  parts p = split(b, n);
  size_t bn;
  unsigned char *bb = build_blob(1, p.header, p.tensors, p.tbytes - 4, &bn);
  expect_load_error(bb, bn, CLAP_ERR_FORMAT,
                    "tensor data is 128 bytes; the tensor table needs 33 floats");
  free(bb);
  unsigned char *more = calloc(1, p.tbytes + 4);
  memcpy(more, p.tensors, p.tbytes);
  bb = build_blob(1, p.header, more, p.tbytes + 4, &bn);
  expect_load_error(bb, bn, CLAP_ERR_FORMAT, "tensor data is 136 bytes");
  free(bb);
  /* audio.w1 starts after mean[3] and std[3]; element 4 is float 10. */
  memcpy(more, p.tensors, p.tbytes);
  wr32(more + 4 * 10, 0x7fc00000u); /* NaN */
  bb = build_blob(1, p.header, more, p.tbytes, &bn);
  expect_load_error(bb, bn, CLAP_ERR_RANGE, "tensor audio.w1[4] is not finite");
  free(bb);
  memcpy(more, p.tensors, p.tbytes);
  wr32(more + 4 * (p.tbytes / 4 - 1), 0xff800000u); /* -inf log_scale */
  bb = build_blob(1, p.header, more, p.tbytes, &bn);
  expect_load_error(bb, bn, CLAP_ERR_RANGE, "tensor log_scale[0] is not finite");
  free(bb);
  memcpy(more, p.tensors, p.tbytes);
  wr32(more + 4 * 4, 0); /* audio.std[1] = 0 */
  bb = build_blob(1, p.header, more, p.tbytes, &bn);
  expect_load_error(bb, bn, CLAP_ERR_RANGE, "tensor audio.std[1] = 0 is not positive");
  free(bb);
  free(more);
  free(p.header);
  free(p.tensors);
  free(b);
  model_free(m);
}

static void set_tensor(clap_model *m, const char *name, const float *v, int n) {
  int r, c;
  float *d = model_tensor(m, name, &r, &c);
  CHECK(d != NULL);
  CHECK_INT(r * c, n);
  if (d && r * c == n) memcpy(d, v, sizeof(float) * n);
}

/* z = (x - mean) / std = [1, 0, 2]; W z + b = [3, -2] + [0, -2] = [3, -4];
** normalised [0.6, -0.8]. The second row is the mean: z = 0, output b / |b|. */
static void test_forward_linear_by_hand(void) {
  model_config c = tiny_cfg(MODEL_HEAD_LINEAR);
  clap_model *m = NULL;
  clap_error e;
  CHECK_INT(model_create(&c, 1, &m, &e), CLAP_OK);
  float mean[3] = {1, 2, 3}, sd[3] = {2, 1, 0.5f};
  CHECK_INT(model_set_standardisation(m, MODEL_AUDIO, mean, sd, &e), CLAP_OK);
  float w[6] = {1, 0, 1, 0, 2, -1}, bias[2] = {0, -2};
  set_tensor(m, "audio.w1", w, 6);
  set_tensor(m, "audio.b1", bias, 2);
  float x[6] = {3, 2, 4, 1, 2, 3}, y[4];
  CHECK_INT(model_embed(m, MODEL_AUDIO, x, 2, y, &e), CLAP_OK);
  CHECK_NEAR(y[0], 0.6, 1e-6);
  CHECK_NEAR(y[1], -0.8, 1e-6);
  CHECK_NEAR(y[2], 0.0, 1e-7);
  CHECK_NEAR(y[3], -1.0, 1e-7);
  /* The text side has its own head: [1 0 0 0; 0 0 0 1] picks x0 and x3. */
  float wt[8] = {1, 0, 0, 0, 0, 0, 0, 1}, xt[4] = {5, 9, 9, 12};
  set_tensor(m, "text.w1", wt, 8);
  CHECK_INT(model_embed(m, MODEL_TEXT, xt, 1, y, &e), CLAP_OK);
  CHECK_NEAR(y[0], 5.0 / 13.0, 1e-6);
  CHECK_NEAR(y[1], 12.0 / 13.0, 1e-6);
  model_free(m);
}

/* x = [1, -1], W1 = I: h = GELU([1, -1]) = [0.841344746, -0.158655254];
** W2 = [1 1; 1 -1]: [0.682689492, 1.0], normalised [0.563827967, 0.825892259]. */
static void test_forward_mlp_by_hand(void) {
  model_config c = tiny_cfg(MODEL_HEAD_MLP);
  c.audio_in = 2;
  c.hidden = 2;
  clap_model *m = NULL;
  clap_error e;
  CHECK_INT(model_create(&c, 1, &m, &e), CLAP_OK);
  float w1[4] = {1, 0, 0, 1}, w2[4] = {1, 1, 1, -1}, zero[2] = {0, 0};
  set_tensor(m, "audio.w1", w1, 4);
  set_tensor(m, "audio.w2", w2, 4);
  set_tensor(m, "audio.b1", zero, 2);
  set_tensor(m, "audio.b2", zero, 2);
  float x[2] = {1, -1}, y[2];
  CHECK_INT(model_embed(m, MODEL_AUDIO, x, 1, y, &e), CLAP_OK);
  CHECK_NEAR(y[0], 0.5638279669452271, 1e-6);
  CHECK_NEAR(y[1], 0.8258922591297317, 1e-6);
  /* b2 shifts the output after GELU: [0.682689492, 1.0] + [0.317310508, 0] = [1, 1]. */
  float b2[2] = {0.3173105078629141f, 0};
  set_tensor(m, "audio.b2", b2, 2);
  CHECK_INT(model_embed(m, MODEL_AUDIO, x, 1, y, &e), CLAP_OK);
  CHECK_NEAR(y[0], 0.70710678, 1e-6);
  CHECK_NEAR(y[1], 0.70710678, 1e-6);
  model_free(m);
}

static void batch_vs_rows(model_head_kind head) {
  model_config c = tiny_cfg(head);
  c.audio_in = 37;
  c.dim = 11;
  c.hidden = head == MODEL_HEAD_MLP ? 23 : 0;
  clap_model *m = NULL;
  clap_error e;
  CHECK_INT(model_create(&c, 11, &m, &e), CLAP_OK);
  const int n = 300; /* more than one internal chunk */
  float *x = malloc(sizeof(float) * n * 37), *yb = malloc(sizeof(float) * n * 11), y1[11];
  uint32_t s = 12345;
  for (int i = 0; i < n * 37; i++) {
    s = s * 1664525u + 1013904223u;
    x[i] = (float)(s >> 8) / 16777216.0f * 4.0f - 2.0f;
  }
  CHECK_INT(model_embed(m, MODEL_AUDIO, x, n, yb, &e), CLAP_OK);
  double worst = 0;
  for (int r = 0; r < n; r++) {
    CHECK_INT(model_embed(m, MODEL_AUDIO, x + r * 37, 1, y1, &e), CLAP_OK);
    double norm = 0;
    for (int j = 0; j < 11; j++) {
      double d = fabs(y1[j] - yb[r * 11 + j]);
      if (d > worst) worst = d;
      norm += (double)yb[r * 11 + j] * yb[r * 11 + j];
    }
    CHECK_NEAR(norm, 1.0, 1e-5);
  }
  CHECK_NEAR(worst, 0.0, 1e-6);
  free(x);
  free(yb);
  model_free(m);
}

static void test_batch_equals_rows_linear(void) { batch_vs_rows(MODEL_HEAD_LINEAR); }
static void test_batch_equals_rows_mlp(void) { batch_vs_rows(MODEL_HEAD_MLP); }

static void test_zero_row_is_range_error(void) {
  clap_model *m = make(MODEL_HEAD_LINEAR, 2); /* zero biases, identity standardisation */
  float x[9] = {1, 2, 3, 0, 0, 0, 4, 5, 6}, y[6];
  clap_error e;
  CHECK_INT(model_embed(m, MODEL_AUDIO, x, 3, y, &e), CLAP_ERR_RANGE);
  CHECK_CONTAINS(e.msg, "row 1: the projection is zero and cannot be L2-normalised");
  model_free(m);
}

static void test_embed_argument_errors(void) {
  clap_model *m = make(MODEL_HEAD_LINEAR, 2);
  float x[6] = {1, 2, 3, 4, NAN, 6}, y[4];
  clap_error e;
  CHECK_INT(model_embed(m, MODEL_AUDIO, x, 2, y, &e), CLAP_ERR_RANGE);
  CHECK_CONTAINS(e.msg, "row 1, column 1: feature is not finite");
  CHECK_INT(model_embed(m, MODEL_AUDIO, x, -1, y, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "n = -1 is negative");
  CHECK_INT(model_embed(m, (model_side)2, x, 1, y, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "side 2 is neither audio (0) nor text (1)");
  CHECK_INT(model_embed(m, MODEL_AUDIO, NULL, 1, y, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "x or out is NULL");
  CHECK_INT(model_embed(m, MODEL_AUDIO, NULL, 0, NULL, &e), CLAP_OK);
  /* Overflow inside the head is reported, not returned as inf/NaN. */
  float big[3] = {3e38f, 3e38f, 3e38f}, w[6] = {1, 1, 1, 1, 1, 1};
  set_tensor(m, "audio.w1", w, 6);
  CHECK_INT(model_embed(m, MODEL_AUDIO, big, 1, y, &e), CLAP_ERR_RANGE);
  CHECK_CONTAINS(e.msg, "row 0: the embedding is not finite");
  model_free(m);
}

static void test_metadata(void) {
  clap_model *m = make(MODEL_HEAD_LINEAR, 2);
  clap_error e;
  CHECK(strcmp(model_metadata(m), "{}") == 0);
  CHECK_INT(model_set_metadata(m, " { \"epochs\" : 3, \"loss\": [1.5, 0.75], \"by\": \"t\" } ", &e),
            CLAP_OK);
  CHECK(strcmp(model_metadata(m), "{\"epochs\":3,\"loss\":[1.5,0.75],\"by\":\"t\"}") == 0);
  size_t n;
  unsigned char *b = save(m, &n);
  clap_model *l = NULL;
  CHECK_INT(model_load(b, n, &l, &e), CLAP_OK);
  if (l) CHECK(strcmp(model_metadata(l), model_metadata(m)) == 0);
  model_free(l);
  free(b);
  CHECK_INT(model_set_metadata(m, "{\"a\": }", &e), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(e.msg, "metadata is not valid JSON (at byte 6)");
  CHECK_INT(model_set_metadata(m, "{} x", &e), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(e.msg, "metadata is not valid JSON");
  CHECK_INT(model_set_metadata(m, "[1]", &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "metadata must be a JSON object");
  /* Failed sets leave the old metadata. */
  CHECK(strcmp(model_metadata(m), "{\"epochs\":3,\"loss\":[1.5,0.75],\"by\":\"t\"}") == 0);
  CHECK_INT(model_set_metadata(m, NULL, &e), CLAP_OK);
  CHECK(strcmp(model_metadata(m), "{}") == 0);
  model_free(m);
}

static void test_standardisation(void) {
  clap_model *m = make(MODEL_HEAD_LINEAR, 2);
  clap_error e;
  float mean[3] = {1, 2, 3}, sd[3] = {0, -1, 4};
  CHECK_INT(model_set_standardisation(m, MODEL_AUDIO, mean, sd, &e), CLAP_OK);
  int r, c;
  float *s = model_tensor(m, "audio.std", &r, &c), *mu = model_tensor(m, "audio.mean", &r, &c);
  CHECK(s[0] == 1.0f && s[1] == 1.0f && s[2] == 4.0f);
  CHECK(mu[2] == 3.0f);
  float bad[3] = {5, INFINITY, 5};
  CHECK_INT(model_set_standardisation(m, MODEL_AUDIO, bad, sd, &e), CLAP_ERR_RANGE);
  CHECK_CONTAINS(e.msg, "audio mean[1] is not finite");
  CHECK(mu[0] == 1.0f); /* unchanged */
  float sd4[4] = {1, 1, NAN, 1}, mean4[4] = {0};
  CHECK_INT(model_set_standardisation(m, MODEL_TEXT, mean4, sd4, &e), CLAP_ERR_RANGE);
  CHECK_CONTAINS(e.msg, "text std[2] is not finite");
  CHECK_INT(model_set_standardisation(m, MODEL_AUDIO, NULL, sd, &e), CLAP_ERR_ARG);
  model_free(m);
}

static void test_tensor_table(void) {
  clap_model *m = make(MODEL_HEAD_MLP, 2);
  static const char *want[] = {"audio.mean", "audio.std", "audio.w1", "audio.b1",
                               "audio.w2",   "audio.b2",  "text.mean", "text.std",
                               "text.w1",    "text.b1",   "text.w2",  "text.b2", "log_scale"};
  CHECK_INT(model_tensor_count(m), 13);
  for (int i = 0; i < 13; i++) CHECK(strcmp(model_tensor_name(m, i), want[i]) == 0);
  CHECK(model_tensor_name(m, 13) == NULL);
  CHECK(model_tensor_name(m, -1) == NULL);
  int r = -1, c = -1;
  model_tensor(m, "text.w1", &r, &c);
  CHECK_INT(r, 3); /* hidden x text_in */
  CHECK_INT(c, 4);
  model_tensor(m, "text.w2", &r, &c);
  CHECK_INT(r, 2);
  CHECK_INT(c, 3);
  CHECK(model_tensor(m, "audio.w3", &r, &c) == NULL);
  CHECK_INT(r, 0);
  CHECK_INT(c, 0);
  float *ls = model_tensor(m, "log_scale", &r, &c);
  *ls = 1.25f;
  CHECK(model_log_scale(m) == 1.25f);
  model_free(m);
}

static void test_describe_json(void) {
  clap_model *m = make(MODEL_HEAD_LINEAR, 2);
  clap_error e;
  CHECK_INT(model_set_metadata(m, "{\"fold\":\"s1\"}", &e), CLAP_OK);
  char *s = model_describe_json(m);
  cJSON *j = cJSON_Parse(s);
  CHECK(j != NULL);
  CHECK_INT(cJSON_GetObjectItem(j, "blob_version")->valuedouble, 1);
  cJSON *cfg = cJSON_GetObjectItem(j, "config");
  CHECK_INT(cJSON_GetObjectItem(cfg, "dim")->valuedouble, 2);
  CHECK(strcmp(cJSON_GetObjectItem(cfg, "head")->valuestring, "linear") == 0);
  CHECK(strcmp(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "metadata"), "fold")->valuestring,
               "s1") == 0);
  CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(j, "tensors")), 9);
  /* audio w1 2x3 + b1 2, text w1 2x4 + b1 2, log_scale: 19; plus mean, std 2x(3+4): 33. */
  CHECK_INT(cJSON_GetObjectItem(j, "parameters")->valuedouble, 19);
  CHECK_INT(cJSON_GetObjectItem(j, "stored_values")->valuedouble, 33);
  cJSON_Delete(j);
  free(s);
  model_free(m);
}

static void test_save_refuses_unloadable(void) {
  clap_model *m = make(MODEL_HEAD_LINEAR, 2);
  clap_error e;
  unsigned char *b = (unsigned char *)1;
  size_t n = 7;
  model_set_log_scale(m, NAN);
  CHECK_INT(model_save(m, &b, &n, &e), CLAP_ERR_RANGE);
  CHECK_CONTAINS(e.msg, "cannot save the model: tensor log_scale[0] is not finite");
  CHECK(b == NULL && n == 0);
  model_set_log_scale(m, 1.0f);
  float *sd = model_tensor(m, "text.std", NULL, NULL);
  sd[3] = -2.0f;
  CHECK_INT(model_save(m, &b, &n, &e), CLAP_ERR_RANGE);
  CHECK_CONTAINS(e.msg, "tensor text.std[3] = -2 is not positive");
  model_free(m);
}

/* A blob whose log_scale is out of range but whose CRC is right (as a
** hand-edited export would be): refused on load, naming the value; the
** trainer's clamp value itself loads; model_save refuses to write one. */
static void test_log_scale_range(void) {
  clap_model *m = make(MODEL_HEAD_LINEAR, 1);
  size_t n;
  unsigned char *b = save(m, &n);
  static const float bad[] = {1e30f, -1.0f, 4.61f};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    uint32_t u;
    memcpy(&u, &bad[i], 4);
    wr32(b + n - 8, u); /* log_scale is the last float before the CRC */
    fix_crc(b, n);
    clap_model *l = NULL;
    clap_error e;
    CHECK_INT(model_load(b, n, &l, &e), CLAP_ERR_RANGE);
    CHECK_CONTAINS(e.msg, "tensor log_scale = ");
    CHECK_CONTAINS(e.msg, "is outside 0..4.60517");
    CHECK(l == NULL);
  }
  float edge = (float)MODEL_LOG_SCALE_MAX;
  uint32_t u;
  memcpy(&u, &edge, 4);
  wr32(b + n - 8, u);
  fix_crc(b, n);
  clap_model *l = NULL;
  clap_error e;
  CHECK_INT(model_load(b, n, &l, &e), CLAP_OK);
  CHECK(l && model_log_scale(l) == edge);
  model_free(l);
  free(b);
  model_set_log_scale(m, 1e30f);
  unsigned char *out = NULL;
  CHECK_INT(model_save(m, &out, &n, &e), CLAP_ERR_RANGE);
  CHECK_CONTAINS(e.msg, "cannot save the model: tensor log_scale = 1e+30");
  model_free(m);
}

int main(void) {
  RUN(test_crc32_known_values);
  RUN(test_create_is_deterministic);
  RUN(test_create_golden_values);
  RUN(test_create_init_ranges);
  RUN(test_create_rejects_bad_config);
  RUN(test_round_trip_linear);
  RUN(test_round_trip_mlp);
  RUN(test_every_byte_corruption_fails);
  RUN(test_every_truncation_fails);
  RUN(test_future_version_is_unsupported);
  RUN(test_load_frame_errors);
  RUN(test_load_header_errors);
  RUN(test_load_tensor_errors);
  RUN(test_forward_linear_by_hand);
  RUN(test_forward_mlp_by_hand);
  RUN(test_batch_equals_rows_linear);
  RUN(test_batch_equals_rows_mlp);
  RUN(test_zero_row_is_range_error);
  RUN(test_embed_argument_errors);
  RUN(test_metadata);
  RUN(test_standardisation);
  RUN(test_tensor_table);
  RUN(test_describe_json);
  RUN(test_save_refuses_unloadable);
  RUN(test_log_scale_range);
  return harness_report();
}
