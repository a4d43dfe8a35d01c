/*
** ngram — see ngram.h.
**
** Pipeline, in order:
**   1. validate UTF-8 ourselves first, because utf8proc_map only says "invalid"
**      and the user needs the byte offset;
**   2. utf8proc_map with STABLE|COMPOSE|COMPAT|CASEFOLD (NFKC + case folding:
**      full-width "ＡＢＣ" and "abc" become the same, half-width katakana
**      becomes full-width);
**   3. whitespace (any Unicode space separator or ASCII control space) is
**      collapsed to one U+0020 and trimmed at both ends; nothing left -> error
**      "empty text";
**   4. the code points are framed by two markers that no text can contain
**      (BOS = 0x110000, EOS = 0x110001); 1-grams are taken over the text
**      only, 2- and 3-grams over the framed sequence, so the first and last
**      characters get their own "word edge" features;
**   5. each n-gram is hashed with 64-bit FNV-1a (offset basis
**      0xcbf29ce484222325, prime 0x100000001b3) over the byte n (the seed, so
**      "ab" as a 2-gram never shares a hash with a 1-gram) followed by each
**      code point as 4 little-endian bytes, then mixed by the murmur3 fmix64
**      finaliser so the low bits are usable; bucket = h mod NGRAM_DIM, sign =
**      top bit (+1 when clear); every n-gram counts 1;
**   6. the sum is L2-normalised.
** Deterministic across platforms (integer hashing; accumulation in double, in
** text order).
*/
#include "ngram.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#define NGRAM_BOS 0x110000
#define NGRAM_EOS 0x110001

static clap_status ngram_create(const char *path, void **state, int *dim, clap_error *err) {
  if (path && *path)
    return clap_error_set(err, CLAP_ERR_ARG,
                          "encoder kind 'ngram' is built in and takes no path (got '%.200s')",
                          path);
  *state = NULL; /* stateless: everything is computed per call */
  *dim = NGRAM_DIM;
  return CLAP_OK;
}

static void ngram_destroy(void *state) { (void)state; }

static clap_status check_utf8(const char *text, size_t len, clap_error *err) {
  size_t off = 0;
  while (off < len) {
    utf8proc_int32_t cp;
    utf8proc_ssize_t step =
        utf8proc_iterate((const utf8proc_uint8_t *)text + off, (utf8proc_ssize_t)(len - off), &cp);
    if (step <= 0)
      return clap_error_set(err, CLAP_ERR_FORMAT,
                            "text is not valid UTF-8: bad byte 0x%02x at byte offset %zu",
                            (unsigned)(unsigned char)text[off], off);
    off += (size_t)step;
  }
  return CLAP_OK;
}

static int is_space(utf8proc_int32_t cp) {
  if (cp == ' ' || (cp >= 0x09 && cp <= 0x0d) || cp == 0x85) return 1;
  utf8proc_category_t c = utf8proc_category(cp);
  return c == UTF8PROC_CATEGORY_ZS || c == UTF8PROC_CATEGORY_ZL || c == UTF8PROC_CATEGORY_ZP;
}

/* Decode normalised UTF-8 into code points framed by BOS/EOS, whitespace
** collapsed and trimmed. Returns the number of text code points (0 = empty). */
static long to_codepoints(const utf8proc_uint8_t *s, utf8proc_ssize_t len, utf8proc_int32_t *cps) {
  long n = 0;
  int pending_space = 0;
  cps[0] = NGRAM_BOS;
  for (utf8proc_ssize_t off = 0; off < len;) {
    utf8proc_int32_t cp;
    utf8proc_ssize_t step = utf8proc_iterate(s + off, len - off, &cp);
    if (step <= 0) break; /* cannot happen: utf8proc_map output is valid */
    off += step;
    if (is_space(cp)) {
      pending_space = n > 0;
      continue;
    }
    if (pending_space) cps[1 + n++] = ' ';
    pending_space = 0;
    cps[1 + n++] = cp;
  }
  cps[1 + n] = NGRAM_EOS;
  return n;
}

static uint64_t ngram_hash(int n, const utf8proc_int32_t *cp) {
  uint64_t h = 0xcbf29ce484222325ULL;
  const uint64_t prime = 0x100000001b3ULL;
  h = (h ^ (uint64_t)n) * prime;
  for (int i = 0; i < n; i++) {
    uint32_t v = (uint32_t)cp[i];
    for (int b = 0; b < 4; b++) h = (h ^ ((v >> (8 * b)) & 0xff)) * prime;
  }
  h ^= h >> 33; /* murmur3 fmix64 */
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

static void add_grams(const utf8proc_int32_t *seq, long len, int n, double *acc) {
  for (long i = 0; i + n <= len; i++) {
    uint64_t h = ngram_hash(n, seq + i);
    acc[h % NGRAM_DIM] += (h >> 63) ? -1.0 : 1.0;
  }
}

static clap_status ngram_encode(void *state, const char *text, int nbytes, float *out,
                                clap_error *err) {
  (void)state;
  size_t len = nbytes < 0 ? strlen(text) : (size_t)nbytes;
  clap_status rc = check_utf8(text, len, err);
  if (rc != CLAP_OK) return rc;

  utf8proc_uint8_t *norm = NULL;
  utf8proc_ssize_t nl =
      utf8proc_map((const utf8proc_uint8_t *)text, (utf8proc_ssize_t)len, &norm,
                   UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD);
  if (nl < 0) {
    return clap_error_set(err, nl == UTF8PROC_ERROR_NOMEM ? CLAP_ERR_NOMEM : CLAP_ERR_FORMAT,
                          "text normalisation failed: %s", utf8proc_errmsg(nl));
  }
  /* Each code point takes at least one byte, plus the two markers. */
  utf8proc_int32_t *cps = malloc(((size_t)nl + 2) * sizeof *cps);
  double *acc = calloc(NGRAM_DIM, sizeof *acc);
  if (!cps || !acc) {
    free(norm), free(cps), free(acc);
    return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory encoding %zu bytes of text", len);
  }
  long n = to_codepoints(norm, nl, cps);
  free(norm);
  if (n == 0) {
    free(cps), free(acc);
    return clap_error_set(err, CLAP_ERR_ARG, "empty text");
  }
  add_grams(cps + 1, n, 1, acc);
  add_grams(cps, n + 2, 2, acc);
  add_grams(cps, n + 2, 3, acc);
  free(cps);

  double ss = 0;
  for (int i = 0; i < NGRAM_DIM; i++) ss += acc[i] * acc[i];
  if (ss <= 0) {
    free(acc);
    /* Every n-gram cancelled in its bucket: no direction to report. */
    return clap_error_set(err, CLAP_ERR_RANGE, "text hashes to a zero vector");
  }
  double inv = 1.0 / sqrt(ss);
  for (int i = 0; i < NGRAM_DIM; i++) out[i] = (float)(acc[i] * inv);
  free(acc);
  return CLAP_OK;
}

const encoder_ops ngram_encoder_ops = {
    .kind = "ngram",
    .modality = ENCODER_TEXT,
    .create = ngram_create,
    .encode_audio = NULL,
    .encode_text = ngram_encode,
    .destroy = ngram_destroy,
};
