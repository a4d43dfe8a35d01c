/* vec — float32 vectors in the sqlite-vec format; see vec.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strtof_l, newlocale, uselocale */
#endif
#include "vec.h"

#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define VEC_BIG_ENDIAN 1
#else
#define VEC_BIG_ENDIAN 0
#endif

/* Hot loops work in chunks of VEC_LANES with a constant inner trip count, so
** gcc -O2 (whose "very cheap" cost model refuses loops that need a scalar
** epilogue) still vectorises them, and the independent float lanes break the
** add latency chain. Float lanes are flushed into double every VEC_BLOCK
** elements, so each float partial sum has at most VEC_BLOCK/VEC_LANES terms
** whatever the dimension: ~1e-7 error on unit-scale data. */
#define VEC_LANES 16
#define VEC_BLOCK 512

/* Fully unrolled, the lanes become SSA values that stay in registers instead
** of a stack array reloaded every iteration (measured: ~1.4x on 512-d). */
#if defined(__clang__)
#define VEC_UNROLL _Pragma("clang loop unroll(full)")
#elif defined(__GNUC__)
#define VEC_UNROLL _Pragma("GCC unroll 16")
#else
#define VEC_UNROLL
#endif

/* The default build is baseline x86-64 (SSE2); where the toolchain can
** dispatch at load time, the hot kernels also get an AVX2 clone (~2x on
** 512-d). Both clones do the same float operations in the same order, so
** results are bitwise identical whichever runs. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define VEC_CLONES __attribute__((target_clones("avx2", "default")))
#define VEC_KERNEL_NAME() (__builtin_cpu_supports("avx2") ? "avx2" : "sse2")
#else
#define VEC_CLONES
#define VEC_KERNEL_NAME() "portable"
#endif

const char *vec_kernel_name(void) { return VEC_KERNEL_NAME(); }

static const char *what_or_default(const char *what) { return what && *what ? what : "vector"; }

/* ---- locale: JSON always uses '.', whatever setlocale() the host did ---- */

static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static locale_t c_locale; /* process-lifetime cache, created once, never freed */

static void c_locale_init(void) { c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

static locale_t get_c_locale(void) {
  pthread_once(&c_locale_once, c_locale_init);
  return c_locale;
}

/* ---- non-finite scan ---- */

static uint32_t load_u32(const unsigned char *p) {
  uint32_t u;
  memcpy(&u, p, 4);
  return u;
}

/* Index of the first NaN/Inf among n float32 at p (native byte order), or -1.
** An exponent of all ones plus one carries into bit 31, so the common case is
** a branch-free OR over the whole vector. */
VEC_CLONES static long first_nonfinite(const unsigned char *p, size_t n) {
  uint32_t acc[VEC_LANES] = {0};
  size_t i = 0;
  for (; i + VEC_LANES <= n; i += VEC_LANES)
    VEC_UNROLL
    for (int j = 0; j < VEC_LANES; j++) acc[j] |= (load_u32(p + 4 * (i + j)) & 0x7f800000u) + 0x00800000u;
  for (; i < n; i++) acc[0] |= (load_u32(p + 4 * i) & 0x7f800000u) + 0x00800000u;
  uint32_t all = 0;
  for (int j = 0; j < VEC_LANES; j++) all |= acc[j];
  if (!(all & 0x80000000u)) return -1;
  for (i = 0; i < n; i++)
    if ((load_u32(p + 4 * i) & 0x7f800000u) == 0x7f800000u) return (long)i;
  return -1;
}

static clap_status nonfinite_error(const float *v, long idx, const char *what, clap_error *err) {
  float x = v[idx];
  const char *kind = isnan(x) ? "NaN" : x > 0 ? "+Inf" : "-Inf";
  return clap_error_set(err, CLAP_ERR_RANGE, "%s: element %ld is %s", what, idx, kind);
}

/* ---- blob ---- */

static clap_status parse_blob(const unsigned char *p, size_t nbytes, const char *what, vec_view *out,
                              clap_error *err) {
  if (nbytes % 4)
    return clap_error_set(err, CLAP_ERR_FORMAT,
                          "%s: blob of %zu bytes is not a whole number of float32 (multiple of 4)", what,
                          nbytes);
  size_t n = nbytes / 4;
  if (n > VEC_MAX_DIM)
    return clap_error_set(err, CLAP_ERR_RANGE, "%s: %zu elements exceeds the maximum of %d", what, n,
                          VEC_MAX_DIM);
  const float *data;
  float *owned = NULL;
  if (!VEC_BIG_ENDIAN && (uintptr_t)p % _Alignof(float) == 0) {
    data = (const float *)(const void *)p;
  } else {
    /* Unaligned float loads are undefined behaviour: copy instead. */
    owned = malloc(nbytes);
    if (!owned) return clap_error_set(err, CLAP_ERR_NOMEM, "%s: out of memory copying %zu bytes", what, nbytes);
    memcpy(owned, p, nbytes);
#if VEC_BIG_ENDIAN
    for (size_t i = 0; i < n; i++) {
      uint32_t u;
      memcpy(&u, owned + i, 4);
      u = __builtin_bswap32(u);
      memcpy(owned + i, &u, 4);
    }
#endif
    data = owned;
  }
  long bad = first_nonfinite((const unsigned char *)data, n);
  if (bad >= 0) {
    clap_status st = nonfinite_error(data, bad, what, err);
    free(owned);
    return st;
  }
  out->data = data;
  out->dim = (int)n;
  out->owned = owned;
  return CLAP_OK;
}

/* int8 elements (sqlite-vec's vec_int8): each byte a signed value, as a float. */
static clap_status parse_int8(const unsigned char *p, size_t nbytes, const char *what,
                              vec_view *out, clap_error *err) {
  if (nbytes > VEC_MAX_DIM)
    return clap_error_set(err, CLAP_ERR_RANGE, "%s: %zu elements exceeds the maximum of %d", what,
                          nbytes, VEC_MAX_DIM);
  float *v = malloc(nbytes * sizeof *v);
  if (!v) return clap_error_set(err, CLAP_ERR_NOMEM, "%s: out of memory converting %zu int8", what, nbytes);
  for (size_t i = 0; i < nbytes; i++) v[i] = (float)(int8_t)p[i];
  out->data = v;
  out->dim = (int)nbytes;
  out->owned = v;
  return CLAP_OK;
}

/* ---- JSON ---- */

typedef struct json_cursor {
  const char *s;
  size_t n, i;
  const char *what;
  clap_error *err;
} json_cursor;

static int json_is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
static int json_is_digit(char c) { return c >= '0' && c <= '9'; }

static void json_skip_ws(json_cursor *c) {
  while (c->i < c->n && json_is_ws(c->s[c->i])) c->i++;
}

static int json_has_word(const json_cursor *c, size_t at, const char *w) {
  size_t len = strlen(w);
  return c->n - at >= len && memcmp(c->s + at, w, len) == 0;
}

/* What stands at byte `at`, for messages. */
static void json_describe(const json_cursor *c, size_t at, char *buf, size_t cap) {
  if (at >= c->n) {
    snprintf(buf, cap, "end of text");
    return;
  }
  unsigned char ch = (unsigned char)c->s[at];
  static const char *const words[] = {"null", "true", "false", "NaN", "Infinity"};
  for (size_t k = 0; k < sizeof words / sizeof *words; k++)
    if (json_has_word(c, at, words[k])) {
      snprintf(buf, cap, "'%s'", words[k]);
      return;
    }
  if (ch == '"') snprintf(buf, cap, "a string");
  else if (ch >= 0x20 && ch < 0x7f) snprintf(buf, cap, "'%c'", ch);
  else snprintf(buf, cap, "byte 0x%02x", ch);
}

static clap_status json_fail(const json_cursor *c, const char *expected, const char *hint) {
  char found[64];
  json_describe(c, c->i, found, sizeof found);
  return clap_error_set(c->err, CLAP_ERR_FORMAT, "%s: invalid JSON vector at byte %zu: expected %s, found %s%s",
                        c->what, c->i, expected, found, hint);
}

static int json_digits(json_cursor *c) {
  size_t start = c->i;
  while (c->i < c->n && json_is_digit(c->s[c->i])) c->i++;
  return c->i > start;
}

/* Advance over one number per the JSON grammar:
**   -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?   */
static clap_status json_scan_number(json_cursor *c) {
  int minus = c->i < c->n && c->s[c->i] == '-';
  c->i += minus;
  if (c->i >= c->n || !json_is_digit(c->s[c->i]))
    return json_fail(c, minus ? "a digit after '-'" : "a number",
                     c->i < c->n && c->s[c->i] == '[' ? " (nested arrays are not allowed)" : "");
  if (c->s[c->i] == '0') c->i++;
  else json_digits(c);
  if (c->i < c->n && c->s[c->i] == '.') {
    c->i++;
    if (!json_digits(c)) return json_fail(c, "a digit after '.'", "");
  }
  if (c->i < c->n && (c->s[c->i] == 'e' || c->s[c->i] == 'E')) {
    c->i++;
    if (c->i < c->n && (c->s[c->i] == '+' || c->s[c->i] == '-')) c->i++;
    if (!json_digits(c)) return json_fail(c, "a digit in the exponent", "");
  }
  return CLAP_OK;
}

/* Convert the validated number [start, end) of the NUL-terminated copy z. */
static clap_status json_convert(const json_cursor *c, const char *z, size_t start, size_t end, long idx,
                                float *dst) {
  char *stop;
  float x = strtof_l(z + start, &stop, get_c_locale());
  if ((size_t)(stop - z) != end)
    return clap_error_set(c->err, CLAP_ERR_INTERNAL, "%s: element %ld at byte %zu: strtof disagrees with the JSON grammar",
                          c->what, idx, start);
  if (isinf(x)) {
    int len = end - start > 40 ? 40 : (int)(end - start);
    return clap_error_set(c->err, CLAP_ERR_RANGE, "%s: element %ld at byte %zu: %.*s%s overflows float32", c->what,
                          idx, start, len, z + start, end - start > 40 ? "..." : "");
  }
  *dst = x;
  return CLAP_OK;
}

/* One walk over the array. With dst == NULL it only validates and counts;
** otherwise z is a NUL-terminated copy of the text and dst receives values. */
static clap_status json_walk(json_cursor *c, const char *z, float *dst, size_t *count) {
  size_t k = 0;
  c->i = 0;
  json_skip_ws(c);
  if (c->i >= c->n || c->s[c->i] != '[') return json_fail(c, "'['", "");
  c->i++;
  json_skip_ws(c);
  if (c->i < c->n && c->s[c->i] == ']') {
    c->i++;
  } else {
    for (;;) {
      size_t start = c->i;
      clap_status st = json_scan_number(c);
      if (st) return st;
      if (dst && (st = json_convert(c, z, start, c->i, (long)k, dst + k))) return st;
      k++;
      json_skip_ws(c);
      if (c->i < c->n && c->s[c->i] == ',') {
        c->i++;
        json_skip_ws(c);
        if (c->i < c->n && c->s[c->i] == ']') return json_fail(c, "a number", " (trailing comma?)");
        continue;
      }
      if (c->i < c->n && c->s[c->i] == ']') {
        c->i++;
        break;
      }
      return json_fail(c, "',' or ']'", "");
    }
  }
  json_skip_ws(c);
  if (c->i < c->n) return json_fail(c, "end of text after ']'", "");
  *count = k;
  return CLAP_OK;
}

static clap_status parse_json(const char *s, size_t n, const char *what, vec_view *out, clap_error *err) {
  json_cursor c = {s, n, 0, what, err};
  size_t count;
  clap_status st = json_walk(&c, NULL, NULL, &count);
  if (st) return st;
  if (count == 0) return clap_error_set(err, CLAP_ERR_RANGE, "%s: empty vector", what);
  if (count > VEC_MAX_DIM)
    return clap_error_set(err, CLAP_ERR_RANGE, "%s: %zu elements exceeds the maximum of %d", what, count,
                          VEC_MAX_DIM);
  if (!get_c_locale()) return clap_error_set(err, CLAP_ERR_NOMEM, "%s: out of memory creating the C locale", what);
  /* strtof needs a terminator; the caller's bytes need not have one. */
  char *z = malloc(n + 1);
  float *v = malloc(count * sizeof *v);
  if (!z || !v) {
    free(z);
    free(v);
    return clap_error_set(err, CLAP_ERR_NOMEM, "%s: out of memory parsing %zu bytes of JSON", what, n);
  }
  memcpy(z, s, n);
  z[n] = 0;
  st = json_walk(&c, z, v, &count);
  free(z);
  if (st) {
    free(v);
    return st;
  }
  out->data = v;
  out->dim = (int)count;
  out->owned = v;
  return CLAP_OK;
}

/* ---- public: parse ---- */

clap_status vec_parse(const void *bytes, size_t nbytes, int is_text, const char *what, vec_view *out,
                      clap_error *err) {
  return vec_parse_subtype(bytes, nbytes, is_text, 0, what, out, err);
}

clap_status vec_parse_subtype(const void *bytes, size_t nbytes, int is_text, unsigned subtype,
                              const char *what, vec_view *out, clap_error *err) {
  what = what_or_default(what);
  if (!out) return clap_error_set(err, CLAP_ERR_ARG, "%s: no output vector", what);
  out->data = NULL;
  out->dim = 0;
  out->owned = NULL;
  if (!bytes && nbytes) return clap_error_set(err, CLAP_ERR_ARG, "%s: NULL pointer to %zu bytes", what, nbytes);
  if (!is_text && nbytes == 0) return clap_error_set(err, CLAP_ERR_RANGE, "%s: empty vector", what);
  if (is_text) return parse_json(bytes ? bytes : "", nbytes, what, out, err);
  if (subtype == VEC_SUBTYPE_BIT)
    return clap_error_set(err, CLAP_ERR_UNSUPPORTED,
                          "%s: a sqlite-vec bit vector (subtype %d) has no float values to "
                          "compare; give the float32 vector (or int8, subtype %d)",
                          what, VEC_SUBTYPE_BIT, VEC_SUBTYPE_INT8);
  if (subtype == VEC_SUBTYPE_INT8) return parse_int8(bytes, nbytes, what, out, err);
  return parse_blob(bytes, nbytes, what, out, err);
}

void vec_clear(vec_view *v) {
  if (!v) return;
  free(v->owned);
  v->owned = NULL;
  v->data = NULL;
  v->dim = 0;
}

clap_status vec_check_same_dim(int da, int db, const char *what, clap_error *err) {
  if (da == db) return CLAP_OK;
  return clap_error_set(err, CLAP_ERR_RANGE, "%s: dimension mismatch: %d vs %d", what_or_default(what), da, db);
}

/* ---- arithmetic ---- */

typedef struct sums {
  double ab, aa, bb;
} sums;

/* Dot products <a,b>, <a,a>, <b,b> in float lanes flushed to double per
** block. The zero-initialised lanes and the constant inner trip count are what
** lets gcc keep the lanes in vector registers. */
VEC_CLONES static sums sums_fast(const float *restrict a, const float *restrict b, int dim) {
  sums s = {0, 0, 0};
  int i = 0;
  while (i + VEC_LANES <= dim) {
    float d[VEC_LANES] = {0}, x[VEC_LANES] = {0}, y[VEC_LANES] = {0};
    int stop = dim - i >= VEC_BLOCK ? i + VEC_BLOCK : i + (dim - i) / VEC_LANES * VEC_LANES;
    for (; i < stop; i += VEC_LANES)
      VEC_UNROLL
      for (int j = 0; j < VEC_LANES; j++) {
        float p = a[i + j], q = b[i + j];
        d[j] += p * q;
        x[j] += p * p;
        y[j] += q * q;
      }
    for (int j = 0; j < VEC_LANES; j++) {
      s.ab += d[j];
      s.aa += x[j];
      s.bb += y[j];
    }
  }
  for (; i < dim; i++) {
    s.ab += (double)a[i] * b[i];
    s.aa += (double)a[i] * a[i];
    s.bb += (double)b[i] * b[i];
  }
  return s;
}

/* The same in double: no float overflow for |x| near FLT_MAX and no underflow
** for tiny x (the square of the smallest subnormal float is a normal double). */
static sums sums_exact(const float *a, const float *b, int dim) {
  sums s = {0, 0, 0};
  for (int i = 0; i < dim; i++) {
    s.ab += (double)a[i] * b[i];
    s.aa += (double)a[i] * a[i];
    s.bb += (double)b[i] * b[i];
  }
  return s;
}

/* Float squares overflow above ~1.8e19 and lose precision below ~1e-19; both
** are rare enough that the slow path costs nothing on real embeddings. */
static int sums_trustworthy(sums s) {
  const double lo = 1e-30, hi = 1e36;
  return s.aa >= lo && s.aa <= hi && s.bb >= lo && s.bb <= hi;
}

static sums sums_of(const float *a, const float *b, int dim) {
  sums s = sums_fast(a, b, dim);
  return sums_trustworthy(s) ? s : sums_exact(a, b, dim);
}

clap_status vec_cosine(const float *a, const float *b, int dim, double *out, clap_error *err) {
  if (!a || !b || dim <= 0) return clap_error_set(err, CLAP_ERR_ARG, "cosine of an empty vector");
  sums s = sums_of(a, b, dim);
  if (s.aa == 0 || s.bb == 0)
    return clap_error_set(err, CLAP_ERR_RANGE, "zero vector has no direction (%s)",
                          s.aa == 0 && s.bb == 0 ? "both vectors"
                          : s.aa == 0            ? "first vector"
                                                 : "second vector");
  double c = s.ab / (sqrt(s.aa) * sqrt(s.bb));
  if (!(c == c)) return clap_error_set(err, CLAP_ERR_RANGE, "cosine is NaN (non-finite input?)");
  if (c > 1) c = 1;
  if (c < -1) c = -1;
  if (out) *out = c;
  return CLAP_OK;
}

VEC_CLONES static double dot_fast(const float *restrict a, const float *restrict b, int dim) {
  double acc = 0;
  int i = 0;
  while (i + VEC_LANES <= dim) {
    float d[VEC_LANES] = {0};
    int stop = dim - i >= VEC_BLOCK ? i + VEC_BLOCK : i + (dim - i) / VEC_LANES * VEC_LANES;
    for (; i < stop; i += VEC_LANES)
      VEC_UNROLL
      for (int j = 0; j < VEC_LANES; j++) d[j] += a[i + j] * b[i + j];
    for (int j = 0; j < VEC_LANES; j++) acc += d[j];
  }
  for (; i < dim; i++) acc += (double)a[i] * b[i];
  return acc;
}

float vec_dot(const float *a, const float *b, int dim) {
  if (!a || !b || dim <= 0) return 0;
  return (float)dot_fast(a, b, dim);
}

clap_status vec_normalize(float *v, int dim, clap_error *err) {
  if (!v || dim <= 0) return clap_error_set(err, CLAP_ERR_ARG, "cannot normalize an empty vector");
  sums s = sums_of(v, v, dim);
  if (s.aa == 0) return clap_error_set(err, CLAP_ERR_RANGE, "zero vector has no direction");
  if (!isfinite(s.aa)) return clap_error_set(err, CLAP_ERR_RANGE, "cannot normalize a vector with NaN or Inf");
  double norm = sqrt(s.aa);
  for (int i = 0; i < dim; i++) v[i] = (float)(v[i] / norm);
  return CLAP_OK;
}

/* ---- JSON output ---- */

/* The fewest significant digits (at most 9, which always suffice) that read
** back as exactly x; "%g" then writes 100 as "1e+02", so the plain form is
** used instead when it is no longer. */
static int format_shortest(char *buf, size_t cap, float x, locale_t loc) {
  int n = snprintf(buf, cap, "%.8g", (double)x);
  if (strtof_l(buf, NULL, loc) != x) return snprintf(buf, cap, "%.9g", (double)x);
  /* Most data needs 8 or 9 digits; values like 0.5 or 0.1 stop early here. */
  char tmp[32];
  for (int p = 1; p < 8; p++) {
    int m = snprintf(tmp, sizeof tmp, "%.*g", p, (double)x);
    if (strtof_l(tmp, NULL, loc) == x) {
      memcpy(buf, tmp, (size_t)m + 1);
      n = m;
      break;
    }
  }
  const char *e = strstr(buf, "e+");
  if (e && atoi(e + 2) < 9) {
    int m = snprintf(tmp, sizeof tmp, "%.*g", atoi(e + 2) + 1, (double)x);
    if (m <= n && strtof_l(tmp, NULL, loc) == x) {
      memcpy(buf, tmp, (size_t)m + 1);
      n = m;
    }
  }
  return n;
}

char *vec_to_json(const float *v, int dim) {
  if (!v || dim < 0) dim = 0;
  locale_t loc = get_c_locale();
  if (!loc) return NULL;
  /* The longest element is "-1.17549435e-38" (15 bytes) plus a comma. */
  size_t cap = (size_t)dim * 17 + 3;
  char *out = malloc(cap);
  if (!out) return NULL;
  locale_t old = uselocale(loc); /* snprintf's decimal point follows the thread's locale */
  size_t len = 0;
  out[len++] = '[';
  for (int i = 0; i < dim; i++) {
    if (i) out[len++] = ',';
    if (!isfinite(v[i])) { /* not representable in JSON; re-parsing names the element */
      memcpy(out + len, "null", 4);
      len += 4;
      continue;
    }
    char num[32];
    int m = format_shortest(num, sizeof num, v[i], loc);
    memcpy(out + len, num, (size_t)m);
    len += (size_t)m;
  }
  out[len++] = ']';
  out[len] = 0;
  uselocale(old);
  return out;
}
