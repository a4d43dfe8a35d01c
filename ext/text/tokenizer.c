/*
** tokenizer — see tokenizer.h.
**
** Text is handled as an array of code points between the steps, because
** every AlbertTokenizer step is defined on Python str (characters, not
** bytes). Python's Unicode tables are stood in for by utf8proc, plus two
** small tables for the properties utf8proc lacks (str.isspace, str.isdigit).
*/
#include "tokenizer.h"

#include "hfckpt.h"
#include "spm_wrap.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#define TOK_DEFAULT_MAX 512
#define SPIECE_UNDERLINE 0x2581

struct tokenizer {
  spm_model *sp;
  int do_lower_case, remove_space, keep_accents;
  int max_length;
  int cls_id, sep_id;
};

/* ---- code point buffers ---------------------------------------------- */

typedef struct cpbuf {
  int32_t *v;
  size_t n, cap;
} cpbuf;

static int cp_push(cpbuf *b, int32_t c) {
  if (b->n == b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 64;
    int32_t *v = realloc(b->v, cap * sizeof *v);
    if (!v) return -1;
    b->v = v;
    b->cap = cap;
  }
  b->v[b->n++] = c;
  return 0;
}

static clap_status oom(clap_error *err) {
  return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory tokenizing text");
}

/* UTF-8 -> code points; invalid UTF-8 (including surrogates and overlong
** forms, which utf8proc rejects) is an error naming the byte offset. */
static clap_status decode_utf8(const char *s, size_t n, cpbuf *out, clap_error *err) {
  size_t i = 0;
  while (i < n) {
    utf8proc_int32_t c;
    utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &c);
    if (k <= 0 || c < 0)
      return clap_error_set(err, CLAP_ERR_FORMAT, "text is not valid UTF-8 at byte %zu", i);
    if (cp_push(out, c)) return oom(err);
    i += (size_t)k;
  }
  return CLAP_OK;
}

/* Code points -> malloc'd NUL-terminated UTF-8. */
static clap_status encode_utf8(const int32_t *v, size_t n, char **out, size_t *outlen,
                               clap_error *err) {
  char *s = malloc(n * 4 + 1);
  if (!s) return oom(err);
  size_t at = 0;
  for (size_t i = 0; i < n; i++)
    at += (size_t)utf8proc_encode_char(v[i], (utf8proc_uint8_t *)s + at);
  s[at] = 0;
  *out = s;
  *outlen = at;
  return CLAP_OK;
}

/* ---- Python's character predicates ------------------------------------ */

/* str.isspace(): bidi WS/B/S or category Zs (CPython's _PyUnicode_IsWhitespace). */
static int py_isspace(int32_t c) {
  if (c <= 0x20) return c == ' ' || (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x1F);
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
         c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* str.isdigit(): Numeric_Type Decimal (= category Nd) or Digit. The Digit
** ones are not in utf8proc; this is their list (Unicode 14, as CPython 3.11). */
static int py_isdigit(int32_t c) {
  static const int32_t digit_ranges[][2] = {
      {0xB2, 0xB3},       {0xB9, 0xB9},       {0x1369, 0x1371},   {0x19DA, 0x19DA},
      {0x2070, 0x2070},   {0x2074, 0x2079},   {0x2080, 0x2089},   {0x2460, 0x2468},
      {0x2474, 0x247C},   {0x2488, 0x2490},   {0x24EA, 0x24EA},   {0x24F5, 0x24FD},
      {0x24FF, 0x24FF},   {0x2776, 0x277E},   {0x2780, 0x2788},   {0x278A, 0x2792},
      {0x10A40, 0x10A43}, {0x10E60, 0x10E68}, {0x11052, 0x1105A}, {0x1F100, 0x1F10A},
  };
  if (utf8proc_category(c) == UTF8PROC_CATEGORY_ND) return 1;
  for (size_t i = 0; i < sizeof digit_ranges / sizeof digit_ranges[0]; i++)
    if (c >= digit_ranges[i][0] && c <= digit_ranges[i][1]) return 1;
  return 0;
}

static int is_cased(int32_t c) {
  return utf8proc_islower(c) || utf8proc_isupper(c) ||
         utf8proc_category(c) == UTF8PROC_CATEGORY_LT;
}

/* Case_Ignorable: Mn Me Cf Lm Sk, and the word-break MidLetter/MidNumLet/
** Single_Quote characters. */
static int is_case_ignorable(int32_t c) {
  switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_SK: return 1;
    default: break;
  }
  return c == 0x27 || c == 0x2E || c == 0x3A || c == 0xB7 || c == 0x387 || c == 0x55F ||
         c == 0x5F4 || c == 0x2018 || c == 0x2019 || c == 0x2024 || c == 0x2027 || c == 0xFE13 ||
         c == 0xFE52 || c == 0xFE55 || c == 0xFF07 || c == 0xFF0E || c == 0xFF1A;
}

/* CPython's handle_capital_sigma: Σ after a cased letter (skipping case-
** ignorables) and not before one is final. */
static int32_t lower_sigma(const int32_t *v, size_t n, size_t i) {
  size_t j = i;
  int32_t c = 0;
  while (j > 0) {
    c = v[--j];
    if (!is_case_ignorable(c)) break;
    c = 0;
  }
  if (!c || !is_cased(c)) return 0x3C3;
  for (j = i + 1; j < n; j++)
    if (!is_case_ignorable(v[j])) return is_cased(v[j]) ? 0x3C3 : 0x3C2;
  return 0x3C2;
}

/* ---- the preprocessing steps ------------------------------------------ */

/* " ".join(s.strip().split()) */
static clap_status step_remove_space(const cpbuf *in, cpbuf *out, clap_error *err) {
  int pending_space = 0;
  for (size_t i = 0; i < in->n; i++) {
    if (py_isspace(in->v[i])) {
      pending_space = out->n > 0;
      continue;
    }
    if (pending_space && cp_push(out, ' ')) return oom(err);
    pending_space = 0;
    if (cp_push(out, in->v[i])) return oom(err);
  }
  return CLAP_OK;
}

/* .replace("``", '"').replace("''", '"'): each a left-to-right,
** non-overlapping replace, applied one after the other. */
static void replace_pair(cpbuf *b, int32_t q) {
  size_t w = 0;
  for (size_t r = 0; r < b->n; r++) {
    if (b->v[r] == q && r + 1 < b->n && b->v[r + 1] == q) {
      b->v[w++] = '"';
      r++;
    } else {
      b->v[w++] = b->v[r];
    }
  }
  b->n = w;
}

/* NFKD, then drop every character with a non-zero combining class. */
static clap_status step_strip_accents(const cpbuf *in, cpbuf *out, clap_error *err) {
  char *s;
  size_t len;
  clap_status rc = encode_utf8(in->v, in->n, &s, &len, err);
  if (rc != CLAP_OK) return rc;
  utf8proc_uint8_t *nfkd = NULL;
  utf8proc_ssize_t m = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &nfkd,
                                    UTF8PROC_STABLE | UTF8PROC_COMPAT | UTF8PROC_DECOMPOSE);
  free(s);
  if (m < 0) {
    free(nfkd);
    return m == UTF8PROC_ERROR_NOMEM
               ? oom(err)
               : clap_error_set(err, CLAP_ERR_INTERNAL, "NFKD failed: %s", utf8proc_errmsg(m));
  }
  for (utf8proc_ssize_t i = 0; i < m;) {
    utf8proc_int32_t c;
    utf8proc_ssize_t k = utf8proc_iterate(nfkd + i, m - i, &c);
    if (k <= 0) break; /* cannot happen: utf8proc wrote it */
    i += k;
    if (utf8proc_get_property(c)->combining_class != 0) continue;
    if (cp_push(out, c)) {
      free(nfkd);
      return oom(err);
    }
  }
  free(nfkd);
  return CLAP_OK;
}

/* str.lower(): simple lowercase plus the one unconditional special case
** (U+0130 -> i + U+0307) and the conditional final sigma. */
static clap_status step_lower(const cpbuf *in, cpbuf *out, clap_error *err) {
  for (size_t i = 0; i < in->n; i++) {
    int32_t c = in->v[i];
    int bad;
    if (c == 0x130)
      bad = cp_push(out, 'i') || cp_push(out, 0x307);
    else if (c == 0x3A3)
      bad = cp_push(out, lower_sigma(in->v, in->n, i));
    else
      bad = cp_push(out, utf8proc_tolower(c));
    if (bad) return oom(err);
  }
  return CLAP_OK;
}

static clap_status preprocess_cp(const tokenizer *t, const char *text, size_t n, cpbuf *out,
                                 clap_error *err) {
  cpbuf a = {0}, b = {0};
  clap_status rc = decode_utf8(text, n, &a, err);
  if (rc == CLAP_OK && t->remove_space) {
    rc = step_remove_space(&a, &b, err);
    cpbuf x = a; a = b; b = x; b.n = 0;
  }
  if (rc == CLAP_OK) {
    replace_pair(&a, '`');
    replace_pair(&a, '\'');
  }
  if (rc == CLAP_OK && !t->keep_accents) {
    rc = step_strip_accents(&a, &b, err);
    cpbuf x = a; a = b; b = x; b.n = 0;
  }
  if (rc == CLAP_OK && t->do_lower_case) {
    rc = step_lower(&a, &b, err);
    cpbuf x = a; a = b; b = x; b.n = 0;
  }
  free(b.v);
  if (rc != CLAP_OK) {
    free(a.v);
    return rc;
  }
  *out = a;
  return CLAP_OK;
}

static clap_status check_args(const tokenizer *t, const char *text, int nbytes, size_t *n,
                              clap_error *err) {
  if (!t) return clap_error_set(err, CLAP_ERR_ARG, "tokenizer is NULL");
  if (!text) return clap_error_set(err, CLAP_ERR_ARG, "text is NULL");
  *n = nbytes < 0 ? strlen(text) : (size_t)nbytes;
  return CLAP_OK;
}

static clap_status preprocess_bytes(const tokenizer *t, const char *text, size_t n, char **out,
                                    size_t *outlen, clap_error *err) {
  cpbuf cp = {0};
  clap_status rc = preprocess_cp(t, text, n, &cp, err);
  if (rc == CLAP_OK) rc = encode_utf8(cp.v, cp.n, out, outlen, err);
  free(cp.v);
  return rc;
}

clap_status tokenizer_preprocess(const tokenizer *t, const char *text, int nbytes, char **out,
                                 size_t *outlen, clap_error *err) {
  size_t n = 0;
  if (!out || !outlen) return clap_error_set(err, CLAP_ERR_ARG, "tokenizer_preprocess: out is NULL");
  *out = NULL;
  *outlen = 0;
  clap_status rc = check_args(t, text, nbytes, &n, err);
  if (rc != CLAP_OK) return rc;
  return preprocess_bytes(t, text, n, out, outlen, err);
}

/* ---- pieces -> ids ----------------------------------------------------- */

typedef struct idbuf {
  int *v;
  int n, limit; /* stop collecting at limit (the truncation point) */
} idbuf;

static void id_push(idbuf *b, int id) {
  if (b->n < b->limit) b->v[b->n++] = id;
}

/* Number of code points in a valid UTF-8 string, and its last two. */
static size_t utf8_tail(const char *s, size_t n, int32_t *last, int32_t *prev) {
  size_t count = 0;
  *last = *prev = 0;
  for (size_t i = 0; i < n;) {
    utf8proc_int32_t c;
    utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &c);
    if (k <= 0) {
      c = 0xFFFD;
      k = 1;
    }
    *prev = *last;
    *last = c;
    count++;
    i += (size_t)k;
  }
  return count;
}

static int starts_with_underline(const char *s, size_t n) {
  return n >= 3 && (unsigned char)s[0] == 0xE2 && (unsigned char)s[1] == 0x96 &&
         (unsigned char)s[2] == 0x81;
}

/* AlbertTokenizer._tokenize's quirk for a piece such as "▁1999,": encode
** "1999" again on its own (U+2581 removed), drop the leading "▁" it gains
** unless the original piece had one, and emit "," separately. */
static clap_status split_digit_comma(const tokenizer *t, const char *piece, size_t n, idbuf *ids,
                                     clap_error *err) {
  char *buf = malloc(n + 1);
  if (!buf) return oom(err);
  size_t m = 0, body = n - 1; /* piece[:-1]: the "," is one byte */
  for (size_t i = 0; i < body;) {
    if (starts_with_underline(piece + i, body - i)) {
      i += 3;
      continue;
    }
    buf[m++] = piece[i++];
  }
  spm_pieces sub;
  clap_status rc = spm_encode(t->sp, buf, m, &sub, err);
  free(buf);
  if (rc != CLAP_OK) return rc;
  for (int k = 0; k < sub.n; k++) {
    const char *p = sub.text + sub.off[k];
    size_t len = sub.off[k + 1] - sub.off[k];
    if (k == 0 && !starts_with_underline(piece, n) && starts_with_underline(p, len)) {
      if (len == 3) continue;
      p += 3;
      len -= 3;
    }
    id_push(ids, spm_piece_to_id(t->sp, p, len));
  }
  spm_pieces_free(&sub);
  id_push(ids, spm_piece_to_id(t->sp, ",", 1));
  return CLAP_OK;
}

static clap_status pieces_to_ids(const tokenizer *t, const spm_pieces *pc, idbuf *ids,
                                 clap_error *err) {
  for (int i = 0; i < pc->n && ids->n < ids->limit; i++) {
    const char *p = pc->text + pc->off[i];
    size_t len = pc->off[i + 1] - pc->off[i];
    int32_t last, prev;
    size_t chars = utf8_tail(p, len, &last, &prev);
    if (chars > 1 && last == ',' && py_isdigit(prev)) {
      clap_status rc = split_digit_comma(t, p, len, ids, err);
      if (rc != CLAP_OK) return rc;
    } else {
      id_push(ids, spm_piece_to_id(t->sp, p, len));
    }
  }
  return CLAP_OK;
}

clap_status tokenizer_encode(const tokenizer *t, const char *text, int nbytes, int *ids, int cap,
                             int *n_out, clap_error *err) {
  size_t n = 0;
  if (!ids || !n_out) return clap_error_set(err, CLAP_ERR_ARG, "tokenizer_encode: ids is NULL");
  *n_out = 0;
  if (cap < 2)
    return clap_error_set(err, CLAP_ERR_ARG, "tokenizer_encode: room for %d ids, need at least 2",
                          cap);
  clap_status rc = check_args(t, text, nbytes, &n, err);
  if (rc != CLAP_OK) return rc;
  int limit = cap < t->max_length ? cap : t->max_length;
  char *pre;
  size_t prelen;
  rc = preprocess_bytes(t, text, n, &pre, &prelen, err);
  if (rc != CLAP_OK) return rc;
  spm_pieces pc;
  rc = spm_encode(t->sp, pre, prelen, &pc, err);
  free(pre);
  if (rc != CLAP_OK) return rc;
  idbuf b = {ids + 1, 0, limit - 2};
  rc = pieces_to_ids(t, &pc, &b, err);
  spm_pieces_free(&pc);
  if (rc != CLAP_OK) return rc;
  ids[0] = t->cls_id;
  ids[b.n + 1] = t->sep_id;
  *n_out = b.n + 2;
  return CLAP_OK;
}

/* ---- creation ------------------------------------------------------------ */

static clap_status config_max_length(const cJSON *j, int *v, const char *path, clap_error *err) {
  const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, "model_max_length");
  if (!x || cJSON_IsNull(x)) return CLAP_OK;
  double d = cJSON_IsNumber(x) ? x->valuedouble : -1;
  if (d > (double)INT_MAX) return CLAP_OK; /* transformers' VERY_LARGE_INTEGER: no limit set */
  if (!cJSON_IsNumber(x) || d != (double)(int)d || d < 2)
    return clap_error_set(err, CLAP_ERR_FORMAT,
                          "%.300s: \"model_max_length\" must be an integer >= 2", path);
  *v = (int)d;
  return CLAP_OK;
}

/* A special token: "[CLS]" or {"content": "[CLS]", ...} (an AddedToken). */
static clap_status config_token(const cJSON *j, const char *key, const char **v, const char *path,
                                clap_error *err) {
  const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, key);
  if (!x || cJSON_IsNull(x)) return CLAP_OK;
  if (cJSON_IsObject(x)) x = cJSON_GetObjectItemCaseSensitive(x, "content");
  if (!cJSON_IsString(x) || !x->valuestring[0])
    return clap_error_set(err, CLAP_ERR_FORMAT,
                          "%.300s: \"%s\" must be a string or {\"content\": string}", path, key);
  *v = x->valuestring;
  return CLAP_OK;
}

static clap_status special_id(tokenizer *t, const char *piece, const char *key, int *id,
                              const char *spiece_path, clap_error *err) {
  *id = spm_piece_id(t->sp, piece, strlen(piece));
  if (*id < 0)
    return clap_error_set(err, CLAP_ERR_FORMAT, "%.200s has no piece '%.50s' (%s)", spiece_path,
                          piece, key);
  return CLAP_OK;
}

static clap_status apply_config(tokenizer *t, const char *spiece_path, const char *config_path,
                                clap_error *err) {
  const char *cls = "[CLS]", *sep = "[SEP]";
  cJSON *j = NULL;
  clap_status rc = CLAP_OK;
  if (config_path) {
    rc = hfckpt_load_json(config_path, &j, err);
    if (rc == CLAP_ERR_NOTFOUND) /* the header promises IO for every unreadable file */
      rc = err ? (err->code = CLAP_ERR_IO) : CLAP_ERR_IO;
    if (rc != CLAP_OK) return rc;
    if (rc == CLAP_OK) rc = hfckpt_bool(j, "do_lower_case", t->do_lower_case, &t->do_lower_case, config_path, err);
    if (rc == CLAP_OK) rc = hfckpt_bool(j, "remove_space", t->remove_space, &t->remove_space, config_path, err);
    if (rc == CLAP_OK) rc = hfckpt_bool(j, "keep_accents", t->keep_accents, &t->keep_accents, config_path, err);
    if (rc == CLAP_OK) rc = config_max_length(j, &t->max_length, config_path, err);
    if (rc == CLAP_OK) rc = config_token(j, "cls_token", &cls, config_path, err);
    if (rc == CLAP_OK) rc = config_token(j, "sep_token", &sep, config_path, err);
  }
  if (rc == CLAP_OK) rc = special_id(t, cls, "cls_token", &t->cls_id, spiece_path, err);
  if (rc == CLAP_OK) rc = special_id(t, sep, "sep_token", &t->sep_id, spiece_path, err);
  cJSON_Delete(j);
  return rc;
}

clap_status tokenizer_create(const char *spiece_path, const char *config_path, tokenizer **out,
                             clap_error *err) {
  if (!out) return clap_error_set(err, CLAP_ERR_ARG, "tokenizer_create: out is NULL");
  *out = NULL;
  if (!spiece_path) return clap_error_set(err, CLAP_ERR_ARG, "tokenizer_create: spiece path is NULL");
  tokenizer *t = calloc(1, sizeof *t);
  if (!t) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory creating a tokenizer");
  t->do_lower_case = 1;
  t->remove_space = 1;
  t->keep_accents = 0;
  t->max_length = TOK_DEFAULT_MAX;
  clap_status rc = spm_load_file(spiece_path, &t->sp, err);
  if (rc == CLAP_OK) rc = apply_config(t, spiece_path, config_path, err);
  if (rc != CLAP_OK) {
    tokenizer_free(t);
    return rc;
  }
  *out = t;
  return CLAP_OK;
}

void tokenizer_free(tokenizer *t) {
  if (!t) return;
  spm_free(t->sp);
  free(t);
}

int tokenizer_max_length(const tokenizer *t) { return t ? t->max_length : 0; }
int tokenizer_vocab_size(const tokenizer *t) { return t ? spm_vocab_size(t->sp) : 0; }
int tokenizer_cls_id(const tokenizer *t) { return t ? t->cls_id : -1; }
int tokenizer_sep_id(const tokenizer *t) { return t ? t->sep_id : -1; }
