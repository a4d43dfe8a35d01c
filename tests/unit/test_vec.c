#include <float.h>
#include <stdint.h>
#include <stdlib.h>

#include "harness.h"
#include "vec.h"

static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static float frand(void) { /* uniform in [-1, 1) */
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (float)((double)(rng_state >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static double cos_ref(const float *a, const float *b, int d) {
  double ab = 0, aa = 0, bb = 0;
  for (int i = 0; i < d; i++) {
    ab += (double)a[i] * b[i];
    aa += (double)a[i] * a[i];
    bb += (double)b[i] * b[i];
  }
  return ab / (sqrt(aa) * sqrt(bb));
}

static uint32_t bits(float x) {
  uint32_t u;
  memcpy(&u, &x, 4);
  return u;
}

/* Parse must fail with `code` and exactly `msg`, leaving the view empty. */
static void expect_err_at(int line, const void *p, size_t n, int is_text, const char *what, clap_status code,
                          const char *msg) {
  vec_view v = {(const float *)1, 7, (float *)1};
  clap_error e;
  clap_error_clear(&e);
  clap_status st = vec_parse(p, n, is_text, what, &v, &e);
  if (st != code || e.code != code || strcmp(e.msg, msg) != 0 || v.data || v.dim || v.owned) {
    harness_current_failed++;
    fprintf(stderr, "test_vec.c:%d: %s: status %d (want %d), message \"%s\"\n  want \"%s\"\n", line,
            harness_current, (int)st, (int)code, e.msg, msg);
  }
  vec_clear(&v);
}
#define EXPECT_ERR(p, n, t, what, code, msg) expect_err_at(__LINE__, p, n, t, what, code, msg)
#define EXPECT_JSON_ERR(s, code, msg) expect_err_at(__LINE__, s, strlen(s), 1, "v", code, msg)

/* ---- blobs ---- */

static void test_blob_aligned_is_a_view(void) {
  float buf[4] = {0.5f, -1.0f, 3.25f, 0.0f};
  vec_view v;
  clap_error e;
  CHECK_INT(vec_parse(buf, sizeof buf, 0, "x", &v, &e), CLAP_OK);
  CHECK(v.data == buf);
  CHECK(v.owned == NULL);
  CHECK_INT(v.dim, 4);
  CHECK(v.data[2] == 3.25f);
  vec_clear(&v);
  CHECK(v.data == NULL && v.dim == 0);
  vec_clear(&v); /* idempotent */
  vec_clear(NULL);
}

static void test_blob_unaligned_is_copied(void) {
  enum { D = 512 };
  static float a[D], b[D];
  static unsigned char raw[4 * D + 8];
  for (int i = 0; i < D; i++) a[i] = frand(), b[i] = frand();
  for (int off = 1; off < 4; off++) {
    memcpy(raw + off, b, sizeof b);
    vec_view va, vu;
    clap_error e;
    CHECK_INT(vec_parse(b, sizeof b, 0, "x", &va, &e), CLAP_OK);
    CHECK_INT(vec_parse(raw + off, sizeof b, 0, "x", &vu, &e), CLAP_OK);
    CHECK(vu.owned != NULL && vu.data == vu.owned);
    CHECK_INT(vu.dim, D);
    CHECK(memcmp(vu.data, b, sizeof b) == 0);
    double ca = 2, cu = 3;
    CHECK_INT(vec_cosine(a, va.data, D, &ca, &e), CLAP_OK);
    CHECK_INT(vec_cosine(a, vu.data, D, &cu, &e), CLAP_OK);
    CHECK(memcmp(&ca, &cu, sizeof ca) == 0);
    vec_clear(&va);
    vec_clear(&vu);
  }
}

static void test_blob_little_endian_layout(void) {
  /* 1.0f = 0x3f800000, -2.5f = 0xc0200000, stored little-endian. */
  static const unsigned char raw[8] = {0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x20, 0xc0};
  vec_view v;
  CHECK_INT(vec_parse(raw, sizeof raw, 0, "x", &v, NULL), CLAP_OK);
  CHECK_INT(v.dim, 2);
  CHECK(v.data[0] == 1.0f && v.data[1] == -2.5f);
  vec_clear(&v);
}

static void test_blob_errors(void) {
  float buf[4] = {1, 2, 3, 4};
  EXPECT_ERR(NULL, 0, 0, "cosine() argument 2", CLAP_ERR_RANGE, "cosine() argument 2: empty vector");
  EXPECT_ERR(buf, 0, 0, "cosine() argument 2", CLAP_ERR_RANGE, "cosine() argument 2: empty vector");
  EXPECT_ERR(buf, 10, 0, "cosine() argument 2", CLAP_ERR_FORMAT,
             "cosine() argument 2: blob of 10 bytes is not a whole number of float32 (multiple of 4)");
  EXPECT_ERR(buf, 3, 0, "a", CLAP_ERR_FORMAT, "a: blob of 3 bytes is not a whole number of float32 (multiple of 4)");
  EXPECT_ERR(NULL, 8, 0, "a", CLAP_ERR_ARG, "a: NULL pointer to 8 bytes");
  EXPECT_ERR(buf, 0, 0, NULL, CLAP_ERR_RANGE, "vector: empty vector");
  clap_error e;
  CHECK_INT(vec_parse(buf, 16, 0, "a", NULL, &e), CLAP_ERR_ARG);
}

static void test_blob_nonfinite(void) {
  enum { D = 40 };
  float buf[D];
  for (int i = 0; i < D; i++) buf[i] = (float)i;
  buf[3] = NAN;
  EXPECT_ERR(buf, sizeof buf, 0, "cosine() argument 1", CLAP_ERR_RANGE, "cosine() argument 1: element 3 is NaN");
  buf[3] = 3;
  buf[37] = INFINITY; /* past the vectorised chunks, in the tail */
  EXPECT_ERR(buf, sizeof buf, 0, "w", CLAP_ERR_RANGE, "w: element 37 is +Inf");
  buf[17] = -INFINITY;
  EXPECT_ERR(buf, sizeof buf, 0, "w", CLAP_ERR_RANGE, "w: element 17 is -Inf");
  /* A NaN with payload and sign set is still NaN; the unaligned copy is checked too. */
  unsigned char raw[4 * D + 1];
  buf[17] = 17;
  buf[37] = 37;
  uint32_t nan_bits = 0xffc00123u;
  memcpy(&buf[0], &nan_bits, 4);
  memcpy(raw + 1, buf, sizeof buf);
  EXPECT_ERR(raw + 1, sizeof buf, 0, "w", CLAP_ERR_RANGE, "w: element 0 is NaN");
  /* Largest finite and subnormal values are accepted. */
  buf[0] = FLT_MAX;
  buf[1] = -FLT_MAX;
  buf[2] = FLT_TRUE_MIN;
  vec_view v;
  CHECK_INT(vec_parse(buf, sizeof buf, 0, "w", &v, NULL), CLAP_OK);
  vec_clear(&v);
}

static void test_blob_limits(void) {
  size_t n = VEC_MAX_DIM + 1;
  float *buf = calloc(70000, sizeof *buf);
  vec_view v;
  clap_error e;
  CHECK_INT(vec_parse(buf, (size_t)VEC_MAX_DIM * 4, 0, "x", &v, &e), CLAP_OK);
  CHECK_INT(v.dim, 65536);
  vec_clear(&v);
  EXPECT_ERR(buf, n * 4, 0, "x", CLAP_ERR_RANGE, "x: 65537 elements exceeds the maximum of 65536");
  EXPECT_ERR(buf, 70000 * 4, 0, "cosine() argument 2", CLAP_ERR_RANGE,
             "cosine() argument 2: 70000 elements exceeds the maximum of 65536");
  free(buf);
}

/* ---- JSON ---- */

static void expect_json(const char *s, int dim, const float *want) {
  vec_view v;
  clap_error e;
  clap_error_clear(&e);
  clap_status st = vec_parse(s, strlen(s), 1, "j", &v, &e);
  if (st != CLAP_OK) {
    harness_current_failed++;
    fprintf(stderr, "%s: \"%s\" rejected: %s\n", harness_current, s, e.msg);
    return;
  }
  CHECK(v.owned != NULL && v.data == v.owned);
  CHECK_INT(v.dim, dim);
  for (int i = 0; i < dim && i < v.dim; i++)
    if (bits(v.data[i]) != bits(want[i])) {
      harness_current_failed++;
      fprintf(stderr, "%s: \"%s\"[%d] = %.9g, want %.9g\n", harness_current, s, i, v.data[i], want[i]);
    }
  vec_clear(&v);
}

static void test_json_accepts(void) {
  expect_json("[0.1, -2, 3e-4]", 3, (float[]){0.1f, -2.0f, 3e-4f});
  expect_json(" \t\r\n[ 1 ,2\n,\t3 ] \n", 3, (float[]){1, 2, 3});
  expect_json("[0]", 1, (float[]){0});
  expect_json("[-0]", 1, (float[]){-0.0f});
  expect_json("[-0.0e0]", 1, (float[]){-0.0f});
  expect_json("[1E+2,1e-2,0.5e1,2E2,-1.5E-1]", 5, (float[]){100, 0.01f, 5, 200, -0.15f});
  expect_json("[3.4028235e38,-3.4028235e38]", 2, (float[]){FLT_MAX, -FLT_MAX});
  expect_json("[1e-45, 1e-50]", 2, (float[]){FLT_TRUE_MIN, 0.0f}); /* subnormal; underflow to 0 is fine */
  expect_json("[0.100000000000000000000000000000000000000000000000000000000000000001]", 1, (float[]){0.1f});
  expect_json("[123456789012345678901234567890]", 1, (float[]){1.23456789012345678901234567890e29f});
  /* Text that is not NUL-terminated: only nbytes are read. */
  const char *s = "[1,2]garbage";
  vec_view v;
  CHECK_INT(vec_parse(s, 5, 1, "j", &v, NULL), CLAP_OK);
  CHECK_INT(v.dim, 2);
  vec_clear(&v);
}

static void test_json_rejects(void) {
  EXPECT_ERR(NULL, 0, 1, "v", CLAP_ERR_FORMAT, "v: invalid JSON vector at byte 0: expected '[', found end of text");
  EXPECT_JSON_ERR("   ", CLAP_ERR_FORMAT, "v: invalid JSON vector at byte 3: expected '[', found end of text");
  EXPECT_JSON_ERR("1,2", CLAP_ERR_FORMAT, "v: invalid JSON vector at byte 0: expected '[', found '1'");
  EXPECT_JSON_ERR("{}", CLAP_ERR_FORMAT, "v: invalid JSON vector at byte 0: expected '[', found '{'");
  EXPECT_JSON_ERR("[]", CLAP_ERR_RANGE, "v: empty vector");
  EXPECT_JSON_ERR(" [ \n ] ", CLAP_ERR_RANGE, "v: empty vector");
  EXPECT_JSON_ERR("[1,2,]", CLAP_ERR_FORMAT,
                  "v: invalid JSON vector at byte 5: expected a number, found ']' (trailing comma?)");
  EXPECT_JSON_ERR("[1, ]", CLAP_ERR_FORMAT,
                  "v: invalid JSON vector at byte 4: expected a number, found ']' (trailing comma?)");
  EXPECT_JSON_ERR("[,1]", CLAP_ERR_FORMAT, "v: invalid JSON vector at byte 1: expected a number, found ','");
  EXPECT_JSON_ERR("[1,,2]", CLAP_ERR_FORMAT, "v: invalid JSON vector at byte 3: expected a number, found ','");
  EXPECT_JSON_ERR("[[1]]", CLAP_ERR_FORMAT,
                  "v: invalid JSON vector at byte 1: expected a number, found '[' (nested arrays are not allowed)");
  EXPECT_JSON_ERR("[1,[2]]", CLAP_ERR_FORMAT,
                  "v: invalid JSON vector at byte 3: expected a number, found '[' (nested arrays are not allowed)");
  EXPECT_JSON_ERR("[\"1\"]", CLAP_ERR_FORMAT, "v: invalid JSON vector at byte 1: expected a number, found a string");
  EXPECT_JSON_ERR("[null]", CLAP_ERR_FORMAT, "v: invalid JSON vector at byte 1: expected a number, found 'null'");
  EXPECT_JSON_ERR("[1,true]", CLAP_ERR_FORMAT, "v: invalid JSON vector at byte 3: expected a number, found 'true'");
  EXPECT_JSON_ERR("[false]", CLAP_ERR_FORMAT, "v: invalid JSON vector at byte 1: expected a number, found 'false'");
  EXPECT_JSON_ERR("[NaN]", CLAP_ERR_FORMAT, "v: invalid JSON vector at byte 1: expected a number, found 'NaN'");
  EXPECT_JSON_ERR("[-Infinity]", CLAP_ERR_FORMAT,
                  "v: invalid JSON vector at byte 2: expected a digit after '-', found 'Infinity'");
  EXPECT_JSON_ERR("[1] x", CLAP_ERR_FORMAT, "v: invalid JSON vector at byte 4: expected end of text after ']', found 'x'");
  EXPECT_JSON_ERR("[1][2]", CLAP_ERR_FORMAT,
                  "v: invalid JSON vector at byte 3: expected end of text after ']', found '['");
  EXPECT_JSON_ERR("[1 2]", CLAP_ERR_FORMAT, "v: invalid JSON vector at byte 3: expected ',' or ']', found '2'");
  EXPECT_JSON_ERR("[1,2", CLAP_ERR_FORMAT, "v: invalid JSON vector at byte 4: expected ',' or ']', found end of text");
  EXPECT_JSON_ERR("[", CLAP_ERR_FORMAT, "v: invalid JSON vector at byte 1: expected a number, found end of text");
  EXPECT_JSON_ERR("[01]", CLAP_ERR_FORMAT, "v: invalid JSON vector at byte 2: expected ',' or ']', found '1'");
  EXPECT_JSON_ERR("[1.]", CLAP_ERR_FORMAT, "v: invalid JSON vector at byte 3: expected a digit after '.', found ']'");
  EXPECT_JSON_ERR("[.5]", CLAP_ERR_FORMAT, "v: invalid JSON vector at byte 1: expected a number, found '.'");
  EXPECT_JSON_ERR("[+1]", CLAP_ERR_FORMAT, "v: invalid JSON vector at byte 1: expected a number, found '+'");
  EXPECT_JSON_ERR("[-]", CLAP_ERR_FORMAT, "v: invalid JSON vector at byte 2: expected a digit after '-', found ']'");
  EXPECT_JSON_ERR("[1e]", CLAP_ERR_FORMAT,
                  "v: invalid JSON vector at byte 3: expected a digit in the exponent, found ']'");
  EXPECT_JSON_ERR("[1e+]", CLAP_ERR_FORMAT,
                  "v: invalid JSON vector at byte 4: expected a digit in the exponent, found ']'");
  EXPECT_JSON_ERR("[0x10]", CLAP_ERR_FORMAT, "v: invalid JSON vector at byte 2: expected ',' or ']', found 'x'");
  EXPECT_JSON_ERR("[1;2]", CLAP_ERR_FORMAT, "v: invalid JSON vector at byte 2: expected ',' or ']', found ';'");
  EXPECT_JSON_ERR("\xef\xbb\xbf[1]", CLAP_ERR_FORMAT, "v: invalid JSON vector at byte 0: expected '[', found byte 0xef");
  EXPECT_ERR("[1\0]", 4, 1, "v", CLAP_ERR_FORMAT, "v: invalid JSON vector at byte 2: expected ',' or ']', found byte 0x00");
  EXPECT_JSON_ERR("[1,\v2]", CLAP_ERR_FORMAT, "v: invalid JSON vector at byte 3: expected a number, found byte 0x0b");
  /* Overflow to Inf is rejected with index and offset; underflow is not. */
  EXPECT_JSON_ERR("[1e39]", CLAP_ERR_RANGE, "v: element 0 at byte 1: 1e39 overflows float32");
  EXPECT_JSON_ERR("[0, 1, -3.5e38]", CLAP_ERR_RANGE, "v: element 2 at byte 7: -3.5e38 overflows float32");
  EXPECT_JSON_ERR("[1e99999999999999999999]", CLAP_ERR_RANGE,
                  "v: element 0 at byte 1: 1e99999999999999999999 overflows float32");
  EXPECT_JSON_ERR("[10000000000000000000000000000000000000000000000000000000]", CLAP_ERR_RANGE,
                  "v: element 0 at byte 1: 1000000000000000000000000000000000000000... overflows float32");
}

static char *json_of_n(int n) {
  char *s = malloc((size_t)n * 2 + 3), *p = s;
  *p++ = '[';
  for (int i = 0; i < n; i++) {
    if (i) *p++ = ',';
    *p++ = (char)('0' + i % 10);
  }
  *p++ = ']';
  *p = 0;
  return s;
}

static void test_json_limits(void) {
  char *ok = json_of_n(VEC_MAX_DIM), *big = json_of_n(VEC_MAX_DIM + 1), *huge = json_of_n(70000);
  vec_view v;
  CHECK_INT(vec_parse(ok, strlen(ok), 1, "x", &v, NULL), CLAP_OK);
  CHECK_INT(v.dim, 65536);
  CHECK(v.data[65535] == 5.0f);
  vec_clear(&v);
  EXPECT_ERR(big, strlen(big), 1, "x", CLAP_ERR_RANGE, "x: 65537 elements exceeds the maximum of 65536");
  EXPECT_ERR(huge, strlen(huge), 1, "cosine() argument 2", CLAP_ERR_RANGE,
             "cosine() argument 2: 70000 elements exceeds the maximum of 65536");
  free(ok);
  free(big);
  free(huge);
}

static void test_same_dim(void) {
  clap_error e;
  CHECK_INT(vec_check_same_dim(512, 512, "cosine()", &e), CLAP_OK);
  CHECK_INT(vec_check_same_dim(512, 384, "cosine()", &e), CLAP_ERR_RANGE);
  CHECK(strcmp(e.msg, "cosine(): dimension mismatch: 512 vs 384") == 0);
  CHECK_INT(vec_check_same_dim(3, 4, NULL, NULL), CLAP_ERR_RANGE);
}

/* ---- arithmetic ---- */

static void test_cosine_known(void) {
  double c = 9;
  clap_error e;
  CHECK_INT(vec_cosine((float[]){1, 0}, (float[]){0, 1}, 2, &c, &e), CLAP_OK);
  CHECK(c == 0);
  CHECK_INT(vec_cosine((float[]){1, 2, 3}, (float[]){2, 4, 6}, 3, &c, &e), CLAP_OK);
  CHECK_NEAR(c, 1, 1e-15);
  CHECK_INT(vec_cosine((float[]){1, 2, 3}, (float[]){-1, -2, -3}, 3, &c, &e), CLAP_OK);
  CHECK_NEAR(c, -1, 1e-15);
  CHECK_INT(vec_cosine((float[]){3, 4}, (float[]){4, 3}, 2, &c, &e), CLAP_OK);
  CHECK_NEAR(c, 24.0 / 25.0, 1e-15);
  /* Identical vectors give exactly 1, never 1 + epsilon. */
  float a[300];
  for (int i = 0; i < 300; i++) a[i] = frand();
  CHECK_INT(vec_cosine(a, a, 300, &c, &e), CLAP_OK);
  CHECK(c <= 1.0 && c > 1 - 1e-12);
}

static void test_cosine_zero_vector(void) {
  float z[20] = {0}, a[20];
  for (int i = 0; i < 20; i++) a[i] = (float)i - 3;
  z[7] = -0.0f;
  double c = 42;
  clap_error e;
  CHECK_INT(vec_cosine(z, a, 20, &c, &e), CLAP_ERR_RANGE);
  CHECK(strcmp(e.msg, "zero vector has no direction (first vector)") == 0);
  CHECK_INT(vec_cosine(a, z, 20, &c, &e), CLAP_ERR_RANGE);
  CHECK(strcmp(e.msg, "zero vector has no direction (second vector)") == 0);
  CHECK_INT(vec_cosine(z, z, 20, &c, &e), CLAP_ERR_RANGE);
  CHECK(strcmp(e.msg, "zero vector has no direction (both vectors)") == 0);
  CHECK(c == 42); /* untouched on error */
  /* A vector of subnormals is tiny, not zero. */
  float t[20] = {0};
  t[19] = FLT_TRUE_MIN;
  CHECK_INT(vec_cosine(t, a, 20, &c, &e), CLAP_OK);
  double na2 = 0;
  for (int i = 0; i < 20; i++) na2 += (double)a[i] * a[i];
  CHECK_NEAR(c, 16.0 / sqrt(na2), 1e-12);
  CHECK_INT(vec_cosine(a, a, 0, &c, &e), CLAP_ERR_ARG);
}

static void test_cosine_matches_double(void) {
  static float a[VEC_MAX_DIM], b[VEC_MAX_DIM];
  static const int dims[] = {1, 2, 3, 15, 16, 17, 100, 384, 511, 512, 513, 768, 1000, 1024, 4099, VEC_MAX_DIM};
  double worst = 0;
  for (size_t k = 0; k < sizeof dims / sizeof *dims; k++) {
    int d = dims[k];
    for (int rep = 0; rep < (d <= 1024 ? 50 : 3); rep++) {
      for (int i = 0; i < d; i++) a[i] = frand(), b[i] = frand();
      if (rep % 5 == 1) /* strongly correlated pairs: cosine near 1 */
        for (int i = 0; i < d; i++) b[i] = a[i] + 0.01f * b[i];
      double c, ref = cos_ref(a, b, d);
      CHECK_INT(vec_cosine(a, b, d, &c, NULL), CLAP_OK);
      worst = fmax(worst, fabs(c - ref));
    }
  }
  CHECK_NEAR(worst, 0, 1e-6);
  /* 512-d is the case the engine lives on: hold it to a tighter bound. */
  double worst512 = 0;
  for (int rep = 0; rep < 200; rep++) {
    for (int i = 0; i < 512; i++) a[i] = frand() * 3, b[i] = frand() + 0.2f;
    double c;
    vec_cosine(a, b, 512, &c, NULL);
    worst512 = fmax(worst512, fabs(c - cos_ref(a, b, 512)));
  }
  CHECK_NEAR(worst512, 0, 2e-7);
}

static void test_cosine_extreme_magnitudes(void) {
  /* Squares of these overflow / underflow float32; the result must not. */
  float a[64], b[64], sa[64], sb[64];
  for (int i = 0; i < 64; i++) a[i] = frand(), b[i] = frand();
  double ref = cos_ref(a, b, 64);
  static const float scales[] = {1e30f, 3e38f / 64, 1e-30f, 1e-40f, 1e20f};
  for (size_t k = 0; k < sizeof scales / sizeof *scales; k++) {
    for (int i = 0; i < 64; i++) sa[i] = a[i] * scales[k], sb[i] = b[i];
    double c = 9;
    CHECK_INT(vec_cosine(sa, sb, 64, &c, NULL), CLAP_OK);
    CHECK_NEAR(c, cos_ref(sa, sb, 64), 1e-9);
    if (scales[k] >= 1e-30f) CHECK_NEAR(c, ref, 1e-6);
    for (int i = 0; i < 64; i++) sb[i] = b[i] * scales[k];
    CHECK_INT(vec_cosine(sa, sb, 64, &c, NULL), CLAP_OK);
    CHECK_NEAR(c, cos_ref(sa, sb, 64), 1e-9);
  }
  float m[2] = {FLT_MAX, FLT_MAX}, n[2] = {FLT_MAX, -FLT_MAX};
  double c;
  CHECK_INT(vec_cosine(m, n, 2, &c, NULL), CLAP_OK);
  CHECK_NEAR(c, 0, 1e-15);
  CHECK_INT(vec_cosine(m, m, 2, &c, NULL), CLAP_OK);
  CHECK_NEAR(c, 1, 1e-15);
}

static void test_dot(void) {
  CHECK(vec_dot((float[]){1, 2, 3}, (float[]){4, -5, 6}, 3) == 12.0f);
  CHECK(vec_dot((float[]){1}, (float[]){1}, 0) == 0.0f);
  static float a[2000], b[2000];
  for (int d = 1; d < 2000; d += 97) {
    double ref = 0, mag = 0;
    for (int i = 0; i < d; i++) {
      a[i] = frand(), b[i] = frand();
      ref += (double)a[i] * b[i];
      mag += fabs((double)a[i] * b[i]);
    }
    CHECK_NEAR(vec_dot(a, b, d), ref, mag * 1e-6 + 1e-30);
  }
}

static void test_normalize(void) {
  float v[1000];
  clap_error e;
  for (int d = 1; d <= 1000; d += 111) {
    for (int i = 0; i < d; i++) v[i] = frand() * 50;
    float orig[1000];
    memcpy(orig, v, sizeof(float) * (size_t)d);
    CHECK_INT(vec_normalize(v, d, &e), CLAP_OK);
    double n2 = 0;
    for (int i = 0; i < d; i++) n2 += (double)v[i] * v[i];
    CHECK_NEAR(sqrt(n2), 1, 1e-6);
    double c;
    vec_cosine(v, orig, d, &c, NULL);
    CHECK_NEAR(c, 1, 1e-6);
  }
  float big[3] = {FLT_MAX, FLT_MAX, 0}, tiny[2] = {FLT_TRUE_MIN, 0};
  CHECK_INT(vec_normalize(big, 3, &e), CLAP_OK);
  CHECK_NEAR(big[0], sqrt(0.5), 1e-7);
  CHECK_INT(vec_normalize(tiny, 2, &e), CLAP_OK);
  CHECK(tiny[0] == 1.0f && tiny[1] == 0.0f);
  float z[5] = {0, -0.0f, 0, 0, 0};
  CHECK_INT(vec_normalize(z, 5, &e), CLAP_ERR_RANGE);
  CHECK(strcmp(e.msg, "zero vector has no direction") == 0);
  CHECK(z[0] == 0); /* left as it was */
  CHECK_INT(vec_normalize(z, 0, &e), CLAP_ERR_ARG);
  float bad[2] = {NAN, 1};
  CHECK_INT(vec_normalize(bad, 2, &e), CLAP_ERR_RANGE);
  CHECK_CONTAINS(e.msg, "NaN");
}

/* ---- JSON output ---- */

static void expect_json_out(const float *v, int d, const char *want) {
  char *s = vec_to_json(v, d);
  if (!s || strcmp(s, want) != 0) {
    harness_current_failed++;
    fprintf(stderr, "%s: vec_to_json gave \"%s\", want \"%s\"\n", harness_current, s ? s : "(null)", want);
  }
  free(s);
}

static void test_to_json_format(void) {
  expect_json_out((float[]){0.5f, -1, 0.1f, 100, 1e-7f}, 5, "[0.5,-1,0.1,100,1e-07]");
  expect_json_out((float[]){-0.0f, 0.0f}, 2, "[-0,0]");
  expect_json_out((float[]){FLT_MAX, FLT_TRUE_MIN, FLT_MIN}, 3, "[3.4028235e+38,1e-45,1.1754944e-38]");
  expect_json_out((float[]){1.0f / 3, 16777216.0f, 16777215.0f, 123456789.0f}, 4,
                  "[0.33333334,16777216,16777215,123456792]");
  expect_json_out((float[]){1e6f, 25000, 1e10f, 0.001f, 0.0001f}, 5, "[1e+06,25000,1e+10,0.001,0.0001]");
  expect_json_out((float[]){1}, 0, "[]");
  expect_json_out(NULL, 3, "[]");
  expect_json_out((float[]){1, NAN, -INFINITY}, 3, "[1,null,null]");
}

static void round_trip(const float *v, int d) {
  char *s = vec_to_json(v, d);
  CHECK(s != NULL);
  if (!s) return;
  vec_view p;
  clap_error e;
  clap_status st = vec_parse(s, strlen(s), 1, "rt", &p, &e);
  CHECK_INT(st, CLAP_OK);
  if (st == CLAP_OK) {
    CHECK_INT(p.dim, d);
    CHECK(p.dim == d && memcmp(p.data, v, (size_t)d * 4) == 0);
  } else {
    fprintf(stderr, "  %s\n", e.msg);
  }
  vec_clear(&p);
  free(s);
}

static void test_json_round_trip(void) {
  static float v[4096];
  for (int i = 0; i < 4096; i++) v[i] = frand() * powf(10.0f, (float)(i % 70 - 40));
  round_trip(v, 4096);
  /* Random bit patterns cover every exponent, subnormals and both zeros. */
  for (int i = 0; i < 4096; i++) {
    uint32_t u = (uint32_t)(frand() * 2147483647.0f) ^ ((uint32_t)i << 20);
    if ((u & 0x7f800000u) == 0x7f800000u) u &= 0xbfffffffu;
    memcpy(&v[i], &u, 4);
  }
  round_trip(v, 4096);
  float special[] = {0.0f, -0.0f, FLT_MAX, -FLT_MAX, FLT_MIN, FLT_TRUE_MIN, -FLT_TRUE_MIN, 1.0f, 0.1f,
                     0.2f, 0.3f, 1e10f, 8388607.5f, 16777217.0f, 3.14159265f, 2.7182817f, 9.99999944e-11f};
  round_trip(special, (int)(sizeof special / sizeof *special));
}

/* sqlite-vec's element types by subtype: int8 converted, bit refused, and
** float32 (tagged, untagged or any other subtype) read as before. */
static void test_subtypes(void) {
  const unsigned char i8[] = {0x01, 0xff, 0x7f, 0x80, 0x00};
  vec_view v = {0};
  clap_error e;
  CHECK_INT(vec_parse_subtype(i8, sizeof i8, 0, VEC_SUBTYPE_INT8, "x", &v, &e), CLAP_OK);
  CHECK_INT(v.dim, 5);
  if (v.dim == 5) {
    CHECK(v.data[0] == 1 && v.data[1] == -1 && v.data[2] == 127 && v.data[3] == -128 &&
          v.data[4] == 0);
  }
  vec_clear(&v);
  CHECK_INT(vec_parse_subtype(i8, sizeof i8, 0, VEC_SUBTYPE_BIT, "f() argument 1", &v, &e),
            CLAP_ERR_UNSUPPORTED);
  CHECK_CONTAINS(e.msg, "f() argument 1: a sqlite-vec bit vector (subtype 224) has no float values");
  CHECK(v.data == NULL);
  unsigned char big[VEC_MAX_DIM + 1] = {0};
  CHECK_INT(vec_parse_subtype(big, sizeof big, 0, VEC_SUBTYPE_INT8, "x", &v, &e), CLAP_ERR_RANGE);
  CHECK_INT(vec_parse_subtype(i8, 0, 0, VEC_SUBTYPE_INT8, "x", &v, &e), CLAP_ERR_RANGE);
  CHECK_CONTAINS(e.msg, "empty vector");
  float f[2] = {0.5f, -2};
  unsigned subtypes[] = {0, VEC_SUBTYPE, 74};
  for (int i = 0; i < 3; i++) {
    CHECK_INT(vec_parse_subtype(f, sizeof f, 0, subtypes[i], "x", &v, &e), CLAP_OK);
    CHECK(v.dim == 2 && v.data[0] == 0.5f && v.data[1] == -2);
    vec_clear(&v);
  }
  /* Text is JSON whatever the subtype. */
  CHECK_INT(vec_parse_subtype("[1, 2]", 6, 1, VEC_SUBTYPE_BIT, "x", &v, &e), CLAP_OK);
  CHECK_INT(v.dim, 2);
  vec_clear(&v);
}

int main(void) {
  RUN(test_blob_aligned_is_a_view);
  RUN(test_blob_unaligned_is_copied);
  RUN(test_blob_little_endian_layout);
  RUN(test_blob_errors);
  RUN(test_blob_nonfinite);
  RUN(test_blob_limits);
  RUN(test_json_accepts);
  RUN(test_json_rejects);
  RUN(test_json_limits);
  RUN(test_same_dim);
  RUN(test_cosine_known);
  RUN(test_cosine_zero_vector);
  RUN(test_cosine_matches_double);
  RUN(test_cosine_extreme_magnitudes);
  RUN(test_dot);
  RUN(test_normalize);
  RUN(test_to_json_format);
  RUN(test_json_round_trip);
  RUN(test_subtypes);
  return harness_report();
}
