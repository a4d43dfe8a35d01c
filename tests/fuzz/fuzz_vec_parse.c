/*
** Fuzz vec_parse. Byte 0 picks the mode: bit 0 = JSON text (else blob),
** bits 1-2 = misalignment of the copy (0..3 bytes), so both the zero-copy
** view and the copying path are exercised. The rest is the input.
**
** Oracles (any violation aborts, which libFuzzer reports):
**   - failure: status == err.code, message starts with `what`, view is empty;
**   - blob success: dim == n/4, the values are the bytes, a view exactly when aligned;
**   - JSON success: cJSON (an independent parser) reads the same count of
**     numbers with the same values (to one float ulp: it rounds via double);
**   - any success: no NaN/Inf; cosine(v, v) is 1 or the zero-vector error;
**     cosine(v, reversed v) in [-1, 1]; a normalized copy has unit norm;
**     vec_to_json -> vec_parse gives back the same bits.
*/
#include <cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vec.h"

#define WHAT "fuzz() argument 1"

static void fail(const char *why, const clap_error *e) {
  fprintf(stderr, "fuzz_vec_parse: oracle violated: %s (%s)\n", why, e ? e->msg : "");
  abort();
}

static int all_zero(const float *v, int d) {
  for (int i = 0; i < d; i++)
    if (v[i] != 0) return 0;
  return 1;
}

static void check_cjson(const char *s, size_t n, const vec_view *v) {
  cJSON *j = cJSON_ParseWithLength(s, n);
  /* cJSON truncates numbers longer than 63 characters, so it may reject or
  ** misread input we read correctly; only a full agreement is compared. */
  if (!j) return;
  if (cJSON_IsArray(j) && cJSON_GetArraySize(j) == v->dim) {
    int i = 0;
    for (cJSON *it = j->child; it; it = it->next, i++) {
      if (!cJSON_IsNumber(it)) break;
      float f = (float)it->valuedouble, x = v->data[i];
      if (isfinite(f) && f != x && nextafterf(f, x) != x) fail("value differs from cJSON", NULL);
    }
  }
  cJSON_Delete(j);
}

static void check_arithmetic(const vec_view *v) {
  int d = v->dim;
  clap_error e;
  for (int i = 0; i < d; i++)
    if (!isfinite(v->data[i])) fail("non-finite element accepted", NULL);
  double c = 5;
  clap_status st = vec_cosine(v->data, v->data, d, &c, &e);
  if (all_zero(v->data, d)) {
    if (st != CLAP_ERR_RANGE || !strstr(e.msg, "zero vector")) fail("zero vector not reported", &e);
    return;
  }
  if (st != CLAP_OK || !(c <= 1 && c >= 1 - 1e-6)) fail("cosine(v, v) is not 1", &e);
  float *r = malloc((size_t)d * sizeof *r), *u = malloc((size_t)d * sizeof *u);
  if (!r || !u) abort();
  for (int i = 0; i < d; i++) r[i] = v->data[d - 1 - i], u[i] = v->data[i];
  st = vec_cosine(v->data, r, d, &c, &e);
  if (st != CLAP_OK || !(c >= -1 && c <= 1)) fail("cosine(v, reversed v) outside [-1, 1]", &e);
  if (vec_normalize(u, d, &e) != CLAP_OK) fail("normalize failed on a non-zero vector", &e);
  double n2 = 0;
  for (int i = 0; i < d; i++) n2 += (double)u[i] * u[i];
  if (fabs(sqrt(n2) - 1) > 1e-6) fail("normalized vector is not unit length", NULL);
  free(r);
  free(u);
}

static void check_round_trip(const vec_view *v) {
  char *s = vec_to_json(v->data, v->dim);
  if (!s) abort();
  vec_view w;
  clap_error e;
  if (vec_parse(s, strlen(s), 1, WHAT, &w, &e) != CLAP_OK) fail("vec_to_json output does not parse", &e);
  if (w.dim != v->dim || memcmp(w.data, v->data, (size_t)v->dim * 4) != 0) fail("JSON round trip changed bits", NULL);
  vec_clear(&w);
  free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  int is_text = data[0] & 1;
  size_t off = (data[0] >> 1) & 3, n = size - 1;
  /* An exact-size allocation, so ASan sees any read past the input. */
  unsigned char *buf = malloc(off + n + 1);
  if (!buf) return 0;
  memcpy(buf + off, data + 1, n);
  const unsigned char *p = buf + off;
  vec_view v;
  clap_error e;
  clap_error_clear(&e);
  clap_status st = vec_parse(p, n, is_text, WHAT, &v, &e);
  if (st != CLAP_OK) {
    if (e.code != st || strncmp(e.msg, WHAT ": ", strlen(WHAT) + 2) != 0) fail("bad error report", &e);
    if (v.data || v.dim || v.owned) fail("view not empty after an error", &e);
    free(buf);
    return 0;
  }
  if (v.dim <= 0 || v.dim > VEC_MAX_DIM) fail("dimension out of range", NULL);
  if (!is_text) {
    if ((size_t)v.dim * 4 != n || memcmp(v.data, p, n) != 0) fail("blob values differ from its bytes", NULL);
    int aligned = (uintptr_t)p % _Alignof(float) == 0;
    if (aligned != ((const void *)v.data == (const void *)p)) fail("view/copy choice wrong", NULL);
  } else {
    char *z = malloc(n + 1); /* cJSON reads up to the length but wants a terminator for safety */
    if (!z) abort();
    memcpy(z, p, n);
    z[n] = 0;
    if (memchr(z, 0, n) == NULL) check_cjson(z, n, &v);
    free(z);
  }
  check_arithmetic(&v);
  check_round_trip(&v);
  vec_clear(&v);
  free(buf);
  return 0;
}
