/* safetensors: header validation (every rejection checks its message),
** dtype widening, the writer round trip, files on disk. */
#include "harness.h"
#include "safetensors.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* A file image: 8-byte length, header, then `dlen` data bytes (0..dlen-1). */
static uint8_t *image(const char *header, size_t dlen, size_t *n) {
  size_t hl = strlen(header);
  *n = 8 + hl + dlen;
  uint8_t *b = malloc(*n);
  for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)hl >> (8 * i));
  memcpy(b + 8, header, hl);
  for (size_t i = 0; i < dlen; i++) b[8 + hl + i] = (uint8_t)i;
  return b;
}

/* Open a header + data image; returns the status, message in err. */
static clap_status try_open(const char *header, size_t dlen, clap_error *err) {
  size_t n;
  uint8_t *b = image(header, dlen, &n);
  st_file *f = NULL;
  clap_status rc = st_open_memory(b, n, 1, "t.safetensors", &f, err);
  CHECK((rc == CLAP_OK) == (f != NULL));
  st_close(f);
  return rc;
}

static void test_valid_minimal(void) {
  clap_error err;
  CHECK_INT(try_open("{}", 0, &err), CLAP_OK);
  CHECK_INT(try_open("{\"__metadata__\":{\"format\":\"pt\"}}   ", 0, &err), CLAP_OK);
  CHECK_INT(try_open("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                     "\"e\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[8,8]}}",
                     8, &err),
            CLAP_OK);
}

static void test_bad_length(void) {
  clap_error err;
  st_file *f;
  uint8_t b[8] = {1, 2, 3};
  CHECK_INT(st_open_memory(b, 5, 0, "x.st", &f, &err), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "x.st: 5 bytes, too short");
  uint64_t big = 200ull << 20;
  for (int i = 0; i < 8; i++) b[i] = (uint8_t)(big >> (8 * i));
  CHECK_INT(st_open_memory(b, 8, 0, "x.st", &f, &err), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "exceeds the 100 MB limit");
  size_t n;
  uint8_t *im = image("{\"a\":{}}", 0, &n);
  CHECK_INT(st_open_memory(im, n - 2, 0, "x.st", &f, &err), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "runs past the end of the file");
  free(im);
}

static void test_bad_json(void) {
  clap_error err;
  CHECK_INT(try_open("{\"a\":", 0, &err), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "header is not a JSON object");
  CHECK_INT(try_open("[1,2]", 0, &err), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "not a JSON object");
  CHECK_INT(try_open("{\"a\":3}", 0, &err), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "tensor a: header entry is not an object");
  CHECK_INT(try_open("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, &err), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "needs string \"dtype\"");
  CHECK_INT(try_open("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, &err),
            CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "shape[0] is not a non-negative integer");
  CHECK_INT(try_open("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, &err),
            CLAP_ERR_FORMAT);
  CHECK_INT(try_open("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4, &err),
            CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "begin <= end");
  CHECK_INT(try_open("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}",
                     4, &err),
            CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "9 dimensions");
  CHECK_INT(try_open("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
                     "\"data_offsets\":[0,4]}}",
                     4, &err),
            CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "shape overflows");
}

static void test_unknown_dtype(void) {
  clap_error err;
  CHECK_INT(try_open("{\"w\":{\"dtype\":\"F12\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, &err),
            CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "t.safetensors: tensor w: unknown dtype 'F12'");
}

static void test_size_and_ranges(void) {
  clap_error err;
  CHECK_INT(try_open("{\"w\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, &err),
            CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "tensor w: F16 x 3 elements = 6 bytes, but data_offsets [0,8] hold 8");
  CHECK_INT(try_open("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 6, &err),
            CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "past the end of the data buffer (6 bytes; file truncated?)");
  CHECK_INT(try_open("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                     "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                     12, &err),
            CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "tensors a and b overlap");
  /* An overlap hidden behind an empty tensor in between is still found. */
  CHECK_INT(try_open("{\"a\":{\"dtype\":\"U8\",\"shape\":[100],\"data_offsets\":[0,100]},"
                     "\"z\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[10,10]},"
                     "\"c\":{\"dtype\":\"U8\",\"shape\":[10],\"data_offsets\":[50,60]}}",
                     100, &err),
            CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "tensors a and c overlap");
  CHECK_INT(try_open("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                     "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                     8, &err),
            CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "tensor a appears twice");
}

static void test_get_f32(void) {
  /* F32 [2,2] at 0, F16 [3] at 16 (1.0, -2.0, 65504), BF16 [2] at 22 (1.0, -0.5), I64 at 26. */
  const char *h = "{\"f\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
                  "\"h\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[16,22]},"
                  "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[22,26]},"
                  "\"i\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[26,34]}}";
  size_t hl = strlen(h), pad = (8 - hl % 8) % 8, n;
  char hp[512];
  snprintf(hp, sizeof hp, "%s%*s", h, (int)pad, "");
  uint8_t *b = image(hp, 34, &n);
  uint8_t *d = b + 8 + strlen(hp);
  float fv[4] = {1.5f, -2, 3, 4};
  memcpy(d, fv, 16);
  const uint8_t half[] = {0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b};
  memcpy(d + 16, half, 6);
  const uint8_t bf[] = {0x80, 0x3f, 0x00, 0xbf};
  memcpy(d + 22, bf, 4);
  st_file *f;
  clap_error err;
  CHECK_INT(st_open_memory(b, n, 1, "g.st", &f, &err), CLAP_OK);
  CHECK_INT(st_count(f), 4);
  CHECK(strcmp(st_tensor_at(f, 1)->name, "h") == 0);
  CHECK(st_find(f, "zz") == NULL);
  const float *p;
  const int64_t s22[] = {2, 2}, s23[] = {2, 3}, s3[] = {3}, s2[] = {2};
  CHECK_INT(st_get_f32(f, "f", 2, s22, &p, &err), CLAP_OK);
  CHECK(p == (const float *)st_find(f, "f")->data); /* zero copy */
  CHECK_NEAR(p[0], 1.5, 0);
  CHECK_NEAR(p[3], 4, 0);
  CHECK_INT(st_get_f32(f, "h", 1, s3, &p, &err), CLAP_OK);
  CHECK_NEAR(p[0], 1, 0);
  CHECK_NEAR(p[1], -2, 0);
  CHECK_NEAR(p[2], 65504, 0);
  CHECK_INT(st_get_f32(f, "b", 1, s2, &p, &err), CLAP_OK);
  CHECK_NEAR(p[0], 1, 0);
  CHECK_NEAR(p[1], -0.5, 0);
  CHECK_INT(st_get_f32(f, "b", -1, NULL, &p, &err), CLAP_OK);
  CHECK_INT(st_get_f32(f, "f", 2, s23, &p, &err), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "tensor f: shape [2,2], expected [2,3]");
  CHECK_INT(st_get_f32(f, "f", 1, s3, &p, &err), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "shape [2,2], expected [3]");
  CHECK_INT(st_get_f32(f, "nope", 1, s3, &p, &err), CLAP_ERR_NOTFOUND);
  CHECK_CONTAINS(err.msg, "tensor nope not found in g.st");
  CHECK_INT(st_get_f32(f, "i", 1, (const int64_t[]){1}, &p, &err), CLAP_ERR_UNSUPPORTED);
  CHECK_CONTAINS(err.msg, "tensor i: dtype I64");
  st_close(f);
}

static void test_half_conversions(void) {
  CHECK_NEAR(st_f16_to_f32(0x0001), 5.960464477539063e-08, 1e-15); /* smallest subnormal */
  CHECK_NEAR(st_f16_to_f32(0x03ff), 6.097555160522461e-05, 1e-12);
  CHECK_NEAR(st_f16_to_f32(0x3555), 0.333251953125, 0);
  CHECK_NEAR(st_f16_to_f32(0x8000), 0, 0);
  CHECK(isinf(st_f16_to_f32(0x7c00)));
  CHECK(isnan(st_f16_to_f32(0x7e00)));
  CHECK_NEAR(st_bf16_to_f32(0x4049), 3.140625, 0);
}

static void test_write_round_trip(void) {
  float a[6] = {1, 2, 3, 4, 5, 6};
  uint16_t h[3] = {0x3c00, 0x4000, 0x4200};
  st_write_tensor t[] = {
      {"enc.a", "F32", 2, {2, 3}, a},
      {"enc.\"quoted\"", "F16", 1, {3}, h},
  };
  void *buf;
  size_t n;
  clap_error err;
  CHECK_INT(st_write_memory(t, 2, &buf, &n, &err), CLAP_OK);
  uint64_t hl = 0;
  for (int i = 7; i >= 0; i--) hl = hl << 8 | ((uint8_t *)buf)[i];
  CHECK_INT(hl % 8, 0);
  CHECK_INT(n, 8 + hl + 24 + 6);
  st_file *f;
  CHECK_INT(st_open_memory(buf, n, 1, "rt", &f, &err), CLAP_OK);
  const float *p;
  CHECK_INT(st_get_f32(f, "enc.a", 2, (const int64_t[]){2, 3}, &p, &err), CLAP_OK);
  CHECK_NEAR(p[5], 6, 0);
  CHECK_INT(st_get_f32(f, "enc.\"quoted\"", 1, (const int64_t[]){3}, &p, &err), CLAP_OK);
  CHECK_NEAR(p[2], 3, 0);
  st_close(f);
  st_write_tensor dup[] = {{"x", "F32", 1, {1}, a}, {"x", "F32", 1, {1}, a}};
  CHECK_INT(st_write_memory(dup, 2, &buf, &n, &err), CLAP_ERR_ARG);
  CHECK_CONTAINS(err.msg, "tensor x given twice");
  st_write_tensor bad[] = {{"x", "Q4", 1, {1}, a}};
  CHECK_INT(st_write_memory(bad, 1, &buf, &n, &err), CLAP_ERR_ARG);
}

static void test_files(void) {
  char path[] = "/tmp/clap_st_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  close(fd);
  float a[2] = {7, 8};
  st_write_tensor t[] = {{"w", "F32", 1, {2}, a}};
  clap_error err;
  CHECK_INT(st_write_file(path, t, 1, &err), CLAP_OK);
  st_file *f;
  CHECK_INT(st_open(path, &f, &err), CLAP_OK);
  const float *p;
  CHECK_INT(st_get_f32(f, "w", 1, (const int64_t[]){2}, &p, &err), CLAP_OK);
  CHECK_NEAR(p[1], 8, 0);
  st_close(f);
  /* Truncate the file by 4 bytes: the tensor runs past the data buffer. */
  struct stat sb;
  CHECK_INT(stat(path, &sb), 0);
  CHECK_INT(truncate(path, sb.st_size - 4), 0);
  CHECK_INT(st_open(path, &f, &err), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "file truncated?");
  CHECK_CONTAINS(err.msg, path);
  remove(path);
  CHECK_INT(st_open("/nonexistent/x.safetensors", &f, &err), CLAP_ERR_IO);
  CHECK_CONTAINS(err.msg, "/nonexistent/x.safetensors: cannot open: No such file");
  CHECK_INT(st_open("/tmp", &f, &err), CLAP_ERR_IO);
  CHECK_CONTAINS(err.msg, "not a regular file");
}

/* Resident pages of this process (/proc/self/statm's second field). */
static long resident_pages(void) {
  long size = 0, res = -1;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f && fscanf(f, "%ld %ld", &size, &res) != 2) res = -1;
  if (f) fclose(f);
  return res;
}

/* st_release hands a mapped F32 tensor's pages back (they come back, same
** bytes, when read again) and frees a widened half copy. */
static void test_release(void) {
  char path[] = "/tmp/clap_st_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  close(fd);
  enum { N = 1 << 20 }; /* 4 MB: 1024 pages */
  float *big = malloc(sizeof(float) * N);
  for (int i = 0; i < N; i++) big[i] = (float)(i % 1000);
  uint16_t half[3] = {0x3c00, 0xc000, 0x3800}; /* 1, -2, 0.5 */
  st_write_tensor t[] = {{"big", "F32", 1, {N}, big}, {"h", "F16", 1, {3}, half}};
  clap_error err;
  CHECK_INT(st_write_file(path, t, 2, &err), CLAP_OK);
  free(big);
  st_file *f;
  CHECK_INT(st_open(path, &f, &err), CLAP_OK);
  const float *p;
  CHECK_INT(st_get_f32(f, "big", 1, (const int64_t[]){N}, &p, &err), CLAP_OK);
  double sum = 0;
  for (int i = 0; i < N; i++) sum += p[i];
  long touched = resident_pages();
  st_release(f, "big");
  long released = resident_pages();
  CHECK(touched - released >= 1000);
  CHECK_INT(st_get_f32(f, "big", 1, (const int64_t[]){N}, &p, &err), CLAP_OK);
  double again = 0;
  for (int i = 0; i < N; i++) again += p[i];
  CHECK_NEAR(again, sum, 0);
  CHECK_NEAR(p[N - 1], (N - 1) % 1000, 0);
  CHECK_INT(st_get_f32(f, "h", 1, (const int64_t[]){3}, &p, &err), CLAP_OK);
  CHECK_NEAR(p[1], -2, 0);
  st_release(f, "h");
  CHECK_INT(st_get_f32(f, "h", 1, (const int64_t[]){3}, &p, &err), CLAP_OK);
  CHECK_NEAR(p[2], 0.5, 0);
  st_release(f, "no such tensor"); /* ignored */
  st_close(f);
  /* From memory: the bytes stay. */
  size_t n;
  void *buf;
  CHECK_INT(st_write_memory(t + 1, 1, &buf, &n, &err), CLAP_OK);
  CHECK_INT(st_open_memory(buf, n, 1, "mem", &f, &err), CLAP_OK);
  CHECK_INT(st_get_f32(f, "h", 1, (const int64_t[]){3}, &p, &err), CLAP_OK);
  st_release(f, "h");
  CHECK_INT(st_get_f32(f, "h", 1, (const int64_t[]){3}, &p, &err), CLAP_OK);
  CHECK_NEAR(p[0], 1, 0);
  st_close(f);
  remove(path);
}

/* st_release_all hands every page of the mapping back at once; pointers
** fetched before stay valid (mapped pages re-read, widened copies kept). */
static void test_release_all(void) {
  char path[] = "/tmp/clap_st_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  close(fd);
  enum { N = 1 << 20 };
  float *big = malloc(sizeof(float) * N);
  for (int i = 0; i < N; i++) big[i] = (float)(i % 997);
  uint16_t half[2] = {0x4000, 0xbc00}; /* 2, -1 */
  st_write_tensor t[] = {{"big", "F32", 1, {N}, big}, {"h", "F16", 1, {2}, half}};
  clap_error err;
  CHECK_INT(st_write_file(path, t, 2, &err), CLAP_OK);
  free(big);
  st_file *f;
  CHECK_INT(st_open(path, &f, &err), CLAP_OK);
  const float *p, *h;
  CHECK_INT(st_get_f32(f, "big", 1, (const int64_t[]){N}, &p, &err), CLAP_OK);
  CHECK_INT(st_get_f32(f, "h", 1, (const int64_t[]){2}, &h, &err), CLAP_OK);
  double sum = 0;
  for (int i = 0; i < N; i++) sum += p[i];
  long touched = resident_pages();
  st_release_all(f);
  CHECK(touched - resident_pages() >= 1000);
  double again = 0;
  for (int i = 0; i < N; i++) again += p[i]; /* the same pointer, pages re-read */
  CHECK_NEAR(again, sum, 0);
  CHECK_NEAR(h[0], 2, 0);
  CHECK_NEAR(h[1], -1, 0);
  st_close(f);
  /* From memory: nothing is released. */
  size_t n;
  void *buf;
  CHECK_INT(st_write_memory(t + 1, 1, &buf, &n, &err), CLAP_OK);
  CHECK_INT(st_open_memory(buf, n, 1, "mem", &f, &err), CLAP_OK);
  CHECK_INT(st_get_f32(f, "h", 1, (const int64_t[]){2}, &h, &err), CLAP_OK);
  st_release_all(f);
  CHECK_NEAR(h[1], -1, 0);
  st_release_all(NULL);
  st_close(f);
  remove(path);
}

/* Finite-ness from the bit patterns of each float dtype. */
static void test_check_finite(void) {
  static const uint16_t half_ok[3] = {0x3c00, 0xfbff, 0x0001}, half_nan[2] = {0x3c00, 0x7e00};
  static const uint16_t bf_inf[2] = {0x0000, 0xff80};
  static const uint32_t f32_ok[2] = {0x7f7fffffu, 0x00000001u}, f32_nan[3] = {0, 0, 0xffc00000u};
  static const uint64_t f64_inf[1] = {0x7ff0000000000000ull};
  static const int32_t ints[1] = {0x7f800000};
  struct { const char *dtype; int n; const void *data; const char *msg; } c[] = {
      {"F16", 3, half_ok, NULL},
      {"F32", 2, f32_ok, NULL},
      {"I32", 1, ints, NULL},
      {"F16", 2, half_nan, "mem: tensor t: element 1 is NaN"},
      {"BF16", 2, bf_inf, "mem: tensor t: element 1 is infinite"},
      {"F32", 3, f32_nan, "mem: tensor t: element 2 is NaN"},
      {"F64", 1, f64_inf, "mem: tensor t: element 0 is infinite"},
  };
  for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
    st_write_tensor t[] = {{"t", c[i].dtype, 1, {c[i].n}, c[i].data}};
    void *buf = NULL;
    size_t n = 0;
    clap_error err;
    CHECK_INT(st_write_memory(t, 1, &buf, &n, &err), CLAP_OK);
    st_file *f = NULL;
    CHECK_INT(st_open_memory(buf, n, 1, "mem", &f, &err), CLAP_OK);
    clap_error_clear(&err);
    CHECK_INT(st_check_finite(f, &err), c[i].msg ? CLAP_ERR_FORMAT : CLAP_OK);
    if (c[i].msg) CHECK(!strcmp(err.msg, c[i].msg));
    st_close(f);
  }
}

int main(void) {
  RUN(test_check_finite);
  RUN(test_valid_minimal);
  RUN(test_bad_length);
  RUN(test_bad_json);
  RUN(test_unknown_dtype);
  RUN(test_size_and_ranges);
  RUN(test_get_f32);
  RUN(test_half_conversions);
  RUN(test_write_round_trip);
  RUN(test_files);
  RUN(test_release);
  RUN(test_release_all);
  return harness_report();
}
