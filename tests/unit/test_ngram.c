#include "harness.h"
#include "encoder.h"
#include "ngram.h"

static encoder *ng(void) { return encoder_builtin("ngram", NULL); }

static int enc(const char *s, float *out) {
  clap_error err;
  clap_status rc = encoder_encode_text(ng(), s, -1, out, &err);
  if (rc != CLAP_OK) fprintf(stderr, "encode '%s': %s\n", s, err.msg);
  return rc == CLAP_OK;
}

static double dot(const float *a, const float *b) {
  double s = 0;
  for (int i = 0; i < NGRAM_DIM; i++) s += (double)a[i] * b[i];
  return s;
}

static double cosine_of(const char *x, const char *y) {
  float a[NGRAM_DIM], b[NGRAM_DIM];
  if (!enc(x, a) || !enc(y, b)) return NAN;
  return dot(a, b);
}

static void test_dim_and_unit_norm(void) {
  CHECK_INT(encoder_dim(ng()), NGRAM_DIM);
  float v[NGRAM_DIM];
  const char *texts[] = {"a", "hello world", "この商品を買いたい", "ｶﾀｶﾅ 😀 ünïcödé"};
  for (int i = 0; i < 4; i++) {
    CHECK(enc(texts[i], v));
    CHECK_NEAR(dot(v, v), 1.0, 1e-5);
  }
}

static void test_nfkc_casefold(void) {
  CHECK_NEAR(cosine_of("ＡＢＣ", "abc"), 1.0, 1e-6);
  CHECK_NEAR(cosine_of("Hello World", "hello world"), 1.0, 1e-6);
  CHECK_NEAR(cosine_of("ｶﾀｶﾅ", "カタカナ"), 1.0, 1e-6);
  CHECK_NEAR(cosine_of("ｶﾞｷﾞ", "ガギ"), 1.0, 1e-6); /* voiced mark composes */
  CHECK_NEAR(cosine_of("Straße", "STRASSE"), 1.0, 1e-6);
  /* whitespace: runs collapse, ends trim (ideographic space too) */
  CHECK_NEAR(cosine_of("  a\t\u3000b \n", "a b"), 1.0, 1e-6);
  CHECK(cosine_of("abc", "abd") < 0.9);
}

static void test_japanese_similarity(void) {
  const char *a = "この商品をとても買いたいと思います";
  const char *b = "この商品を買いたいと思います";
  const char *c = "昨日の天気は雨でした";
  double ab = cosine_of(a, b), ac = cosine_of(a, c), bc = cosine_of(b, c);
  CHECK(ab > 0.7);
  CHECK(ac < 0.3);
  CHECK(ab > ac + 0.4);
  CHECK(ab > bc + 0.4);
  /* Bipolar pair shares most n-grams: closer to each other than to unrelated text. */
  double pol = cosine_of("買いたい", "買いたくない");
  CHECK(pol > cosine_of("買いたい", "天気は雨"));
}

static void test_nbytes(void) {
  float a[NGRAM_DIM], b[NGRAM_DIM];
  clap_error err;
  CHECK_INT(encoder_encode_text(ng(), "abcdef", 3, a, &err), CLAP_OK);
  CHECK(enc("abc", b));
  CHECK(memcmp(a, b, sizeof a) == 0);
  /* Deterministic: same text, same bits. */
  CHECK(enc("abc", a));
  CHECK(memcmp(a, b, sizeof a) == 0);
}

static void test_errors(void) {
  float v[NGRAM_DIM];
  clap_error err;
  CHECK_INT(encoder_encode_text(ng(), "", -1, v, &err), CLAP_ERR_ARG);
  CHECK_CONTAINS(err.msg, "empty text");
  CHECK_INT(encoder_encode_text(ng(), " \t\n\u3000 ", -1, v, &err), CLAP_ERR_ARG);
  CHECK_CONTAINS(err.msg, "empty text");
  CHECK_INT(encoder_encode_text(ng(), "abc", 0, v, &err), CLAP_ERR_ARG);
  CHECK_CONTAINS(err.msg, "empty text");
  CHECK_INT(encoder_encode_text(ng(), "ab\xff" "cd", -1, v, &err), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "byte offset 2");
  CHECK_CONTAINS(err.msg, "0xff");
  /* truncated multi-byte sequence at the end ("あ" is e3 81 82) */
  CHECK_INT(encoder_encode_text(ng(), "xy\xe3\x81", -1, v, &err), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "byte offset 2");
  /* overlong encoding and a surrogate are invalid too */
  CHECK_INT(encoder_encode_text(ng(), "\xc0\xaf", -1, v, &err), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "byte offset 0");
  CHECK_INT(encoder_encode_text(ng(), "a\xed\xa0\x80", -1, v, &err), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "byte offset 1");
  encoder *e;
  CHECK_INT(encoder_create("n", "ngram", "x.bin", &e, &err), CLAP_ERR_ARG);
  CHECK_CONTAINS(err.msg, "takes no path");
}

int main(void) {
  RUN(test_dim_and_unit_norm);
  RUN(test_nfkc_casefold);
  RUN(test_japanese_similarity);
  RUN(test_nbytes);
  RUN(test_errors);
  return harness_report();
}
