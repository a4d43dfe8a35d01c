/* paraphrase — see paraphrase.h. */
#include "paraphrase.h"

#include "fileio.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <utf8proc.h>

/* ---- the prompt (paper Table I) ----------------------------------------- */

const char *paraphrase_count_word(int n, char *buf, size_t cap) {
  static const char *words[] = {"zero", "one", "two", "three", "four", "five",
                                "six",  "seven", "eight", "nine", "ten"};
  if (n >= 0 && n <= 10) snprintf(buf, cap, "%s", words[n]);
  else snprintf(buf, cap, "%d", n);
  return buf;
}

static void paren(char *buf, size_t cap, const char *s) {
  if (s && *s) snprintf(buf, cap, " (%s)", s);
  else buf[0] = 0;
}

char *paraphrase_prompt(const char *text, const char *gloss, const char *prohibited, const char *prohibited_gloss,
                        int count) {
  if (!text || !*text || count < 1 || count > 99) return NULL;
  char word[16], g1[512], g2[256];
  paraphrase_count_word(count, word, sizeof word);
  paren(g1, sizeof g1, gloss);
  paren(g2, sizeof g2, prohibited_gloss);
  const char *fmt =
      "You are an imaginative assistant.\n"
      "Given the emotion description, please generate %s paraphrase %s in Japanese.\n"
      "Note that you cannot add the prohibited word.\n"
      "\n"
      "### Input and output\n"
      "\n"
      "Emotion description: %s%s\n"
      "\n"
      "Prohibited word: %s%s\n"
      "Paraphrase sentences:\n";
  const char *noun = count == 1 ? "sentence" : "sentences";
  const char *pw = prohibited ? prohibited : "";
  int n = snprintf(NULL, 0, fmt, word, noun, text, g1, pw, g2);
  if (n < 0) return NULL;
  char *out = malloc((size_t)n + 1);
  if (out) snprintf(out, (size_t)n + 1, fmt, word, noun, text, g1, pw, g2);
  return out;
}

/* ---- splitting a reply -------------------------------------------------- */

/* Bytes of one whitespace character at p (ASCII, NBSP, U+3000), else 0. */
static size_t space_at(const unsigned char *p, size_t n) {
  if (n >= 1 && (p[0] == ' ' || p[0] == '\t' || p[0] == '\r' || p[0] == '\f' || p[0] == '\v')) return 1;
  if (n >= 2 && p[0] == 0xC2 && p[1] == 0xA0) return 2;
  if (n >= 3 && p[0] == 0xE3 && p[1] == 0x80 && p[2] == 0x80) return 3;
  return 0;
}

static int starts(const unsigned char *p, size_t n, const char *s) {
  size_t k = strlen(s);
  return n >= k && memcmp(p, s, k) == 0;
}

static int ends(const unsigned char *p, size_t n, const char *s) {
  size_t k = strlen(s);
  return n >= k && memcmp(p + n - k, s, k) == 0;
}

typedef struct span {
  const unsigned char *p;
  size_t n;
} span;

static void trim(span *s) {
  size_t k;
  while (s->n && (k = space_at(s->p, s->n)) != 0) s->p += k, s->n -= k;
  for (;;) {
    if (s->n >= 1 && space_at(s->p + s->n - 1, 1)) s->n--;
    else if (s->n >= 2 && space_at(s->p + s->n - 2, 2) == 2) s->n -= 2;
    else if (s->n >= 3 && space_at(s->p + s->n - 3, 3) == 3) s->n -= 3;
    else break;
  }
}

/* Digits (ASCII or full-width) at p: count of bytes, 0 if none. */
static size_t digits_at(const unsigned char *p, size_t n, int *ndigits) {
  size_t i = 0;
  *ndigits = 0;
  while (*ndigits < 3) {
    if (i < n && p[i] >= '0' && p[i] <= '9') i += 1;
    else if (i + 2 < n && p[i] == 0xEF && p[i + 1] == 0xBC && p[i + 2] >= 0x90 && p[i + 2] <= 0x99) i += 3;
    else break;
    (*ndigits)++;
  }
  return i;
}

/* "1." "1)" "1:" "1、" "１．" "1）" → bytes of the marker, else 0. */
static size_t number_marker(const unsigned char *p, size_t n) {
  static const char *after[] = {".", ")", ":", "\xE3\x80\x81" /* 、 */, "\xEF\xBC\x8E" /* ． */,
                                "\xEF\xBC\x89" /* ） */, "\xEF\xBC\x9A" /* ： */, "\xE3\x80\x82" /* 。 */};
  int nd;
  size_t i = digits_at(p, n, &nd);
  if (nd == 0) return 0;
  for (size_t k = 0; k < sizeof after / sizeof after[0]; k++)
    if (starts(p + i, n - i, after[k])) {
      size_t m = i + strlen(after[k]);
      /* "1.5倍" is a number, not a marker. */
      if (after[k][0] == '.' && m < n && p[m] >= '0' && p[m] <= '9') return 0;
      return m;
    }
  return 0;
}

/* "(1)" "（1）" */
static size_t paren_marker(const unsigned char *p, size_t n) {
  size_t open = starts(p, n, "(") ? 1 : starts(p, n, "\xEF\xBC\x88") ? 3 : 0;
  if (!open) return 0;
  int nd;
  size_t i = open + digits_at(p + open, n - open, &nd);
  if (nd == 0) return 0;
  if (starts(p + i, n - i, ")")) return i + 1;
  if (starts(p + i, n - i, "\xEF\xBC\x89")) return i + 3;
  return 0;
}

/* ①..⑳ (U+2460..2473), ❶..❿ (U+2776..277F), ⑴..⒇ (U+2474..2487). */
static size_t circled_marker(const unsigned char *p, size_t n) {
  if (n < 3) return 0;
  int32_t cp;
  utf8proc_ssize_t k = utf8proc_iterate(p, (utf8proc_ssize_t)n, &cp);
  if (k != 3) return 0;
  if ((cp >= 0x2460 && cp <= 0x2487) || (cp >= 0x2776 && cp <= 0x2793)) return 3;
  return 0;
}

static size_t bullet_marker(const unsigned char *p, size_t n) {
  static const char *bullets[] = {"- ", "* ", "+ ", "-", "*", "\xE2\x80\xA2" /* • */, "\xE3\x83\xBB" /* ・ */,
                                  "\xE2\x97\x8F" /* ● */, "\xE2\x97\x8B" /* ○ */, "\xE2\x97\xA6" /* ◦ */,
                                  "\xE2\x80\xA3" /* ‣ */, "\xE2\x80\x93" /* – */, "\xEF\xBC\x8D" /* － */};
  if (starts(p, n, "**")) return 0; /* markdown bold, handled as text */
  for (size_t k = 0; k < sizeof bullets / sizeof bullets[0]; k++)
    if (starts(p, n, bullets[k])) return strlen(bullets[k]);
  return 0;
}

static void strip_markers(span *s) {
  for (int round = 0; round < 4; round++) {
    size_t k = number_marker(s->p, s->n);
    if (!k) k = paren_marker(s->p, s->n);
    if (!k) k = circled_marker(s->p, s->n);
    if (!k) k = bullet_marker(s->p, s->n);
    if (!k) return;
    s->p += k;
    s->n -= k;
    trim(s);
  }
}

static void strip_quotes(span *s) {
  static const char *pairs[][2] = {{"\"", "\""}, {"'", "'"}, {"\xE3\x80\x8C", "\xE3\x80\x8D"} /* 「」 */,
                                   {"\xE3\x80\x8E", "\xE3\x80\x8F"} /* 『』 */,
                                   {"\xE2\x80\x9C", "\xE2\x80\x9D"} /* “” */,
                                   {"\xEF\xBC\x82", "\xEF\xBC\x82"} /* ＂＂ */, {"**", "**"}};
  for (int round = 0; round < 3; round++) {
    int hit = 0;
    for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++) {
      size_t a = strlen(pairs[k][0]), b = strlen(pairs[k][1]);
      if (s->n >= a + b && starts(s->p, s->n, pairs[k][0]) && ends(s->p, s->n, pairs[k][1])) {
        s->p += a;
        s->n -= a + b;
        trim(s);
        hit = 1;
        break;
      }
    }
    if (!hit) return;
  }
}

/* A trailing " (English gloss)" that models copy from the prompt's layout:
** dropped when the parenthesis holds only ASCII and something precedes it. */
static void strip_gloss(span *s) {
  if (s->n < 3 || s->p[s->n - 1] != ')') return;
  size_t i = s->n - 1;
  while (i > 0 && s->p[i - 1] != '(') {
    if (s->p[i - 1] >= 0x80 || s->p[i - 1] == ')') return;
    i--;
  }
  if (i <= 1) return;
  s->n = i - 1;
  trim(s);
}

static int is_heading(const span *s) {
  return (s->n && s->p[s->n - 1] == ':') || ends(s->p, s->n, "\xEF\xBC\x9A") || starts(s->p, s->n, "```") ||
         starts(s->p, s->n, "#");
}

typedef struct list {
  char **v;
  int n, cap;
} list;

static int list_add(list *l, const unsigned char *p, size_t n) {
  if (l->n >= PARAPHRASE_MAX_SENTENCES) return 1;
  if (l->n == l->cap) {
    int cap = l->cap ? l->cap * 2 : 16;
    char **v = realloc(l->v, (size_t)cap * sizeof *v);
    if (!v) return 0;
    l->v = v;
    l->cap = cap;
  }
  char *s = malloc(n + 1);
  if (!s) return 0;
  memcpy(s, p, n);
  s[n] = 0;
  l->v[l->n++] = s;
  return 1;
}

static int add_line(list *l, span s) {
  trim(&s);
  if (!s.n || is_heading(&s)) return 1;
  strip_markers(&s);
  strip_quotes(&s);
  strip_gloss(&s);
  strip_quotes(&s);
  if (!s.n || is_heading(&s)) return 1;
  return list_add(l, s.p, s.n);
}

static int add_lines(list *l, const char *text, size_t n) {
  const unsigned char *p = (const unsigned char *)text, *end = p + n;
  int good = 1;
  while (good && p < end) {
    const unsigned char *e = p;
    while (e < end && *e != '\n' && *e != '\r' && *e != 0) e++;
    span s = {p, (size_t)(e - p)};
    good = add_line(l, s);
    p = e < end ? e + 1 : e;
  }
  return good;
}

/* A reply that is a JSON array of strings (some models answer that way). */
static int split_json(const char *reply, size_t n, list *l, int *ok) {
  *ok = 0;
  span whole = {(const unsigned char *)reply, n};
  trim(&whole);
  if (!whole.n || whole.p[0] != '[') return 1;
  cJSON *arr = cJSON_ParseWithLength((const char *)whole.p, whole.n);
  if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0) {
    cJSON_Delete(arr);
    return 1;
  }
  const cJSON *it;
  cJSON_ArrayForEach(it, arr) {
    if (!cJSON_IsString(it)) {
      cJSON_Delete(arr);
      return 1;
    }
  }
  int good = 1;
  cJSON_ArrayForEach(it, arr) {
    if (!(good = add_lines(l, it->valuestring, strlen(it->valuestring)))) break;
  }
  cJSON_Delete(arr);
  *ok = good;
  return good;
}

void paraphrase_list_free(char **v, int n) {
  for (int i = 0; v && i < n; i++) free(v[i]);
  free(v);
}

clap_status paraphrase_split(const char *reply, size_t n, char ***out, int *count, clap_error *err) {
  if (!out || !count) return clap_error_set(err, CLAP_ERR_ARG, "paraphrase_split: no output");
  *out = NULL;
  *count = 0;
  list l = {0};
  int json = 0;
  int good = reply ? split_json(reply, n, &l, &json) : 1;
  if (good && !json && reply) {
    paraphrase_list_free(l.v, l.n);
    memset(&l, 0, sizeof l);
    good = add_lines(&l, reply, n);
  }
  if (!good) {
    paraphrase_list_free(l.v, l.n);
    return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory splitting a reply");
  }
  *out = l.v;
  *count = l.n;
  return CLAP_OK;
}

/* ---- filters ------------------------------------------------------------ */

static char *nfkc(const char *s) {
  return (char *)utf8proc_NFKC((const utf8proc_uint8_t *)s);
}

static int is_kana_or_kanji(int32_t c) {
  return (c >= 0x3041 && c <= 0x30FF) || (c >= 0x31F0 && c <= 0x31FF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x20000 && c <= 0x3134F) ||
         c == 0x3005 || c == 0x3006 || c == 0x3007;
}

/* Walk s's code points: 1 at the first one want accepts (want NULL accepts
** none), -1 at the first byte that is not UTF-8, 0 at the end. */
static int utf8_find(const char *s, int (*want)(int32_t)) {
  const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
  utf8proc_ssize_t n = (utf8proc_ssize_t)strlen(s);
  while (n > 0) {
    int32_t cp;
    utf8proc_ssize_t k = utf8proc_iterate(p, n, &cp);
    if (k <= 0) return -1;
    if (want && want(cp)) return 1;
    p += k;
    n -= k;
  }
  return 0;
}

static int has_japanese(const char *s) { return utf8_find(s, is_kana_or_kanji) == 1; }

static paraphrase_verdict verdict(paraphrase_verdict v, char *reason, size_t cap, const char *fmt, const char *arg) {
  if (reason && cap) snprintf(reason, cap, fmt, arg);
  return v;
}

paraphrase_verdict paraphrase_check(const char *text, const char *prohibited, char *reason, size_t cap) {
  if (reason && cap) reason[0] = 0;
  span s = {(const unsigned char *)(text ? text : ""), text ? strlen(text) : 0};
  trim(&s);
  if (!s.n) return verdict(PARAPHRASE_EMPTY, reason, cap, "%s", "empty");
  if (strlen(text) > PARAPHRASE_MAX_BYTES)
    return verdict(PARAPHRASE_TOO_LONG, reason, cap, "longer than %s bytes", "1000");
  char *t = nfkc(text);
  if (!t) return verdict(PARAPHRASE_BAD_UTF8, reason, cap, "%s", "not valid UTF-8");
  paraphrase_verdict v = PARAPHRASE_OK;
  if (prohibited && *prohibited) {
    char *w = nfkc(prohibited);
    if (w && *w && strstr(t, w)) v = verdict(PARAPHRASE_PROHIBITED, reason, cap, "contains the prohibited word %s", prohibited);
    free(w);
  }
  if (v == PARAPHRASE_OK && !has_japanese(t))
    v = verdict(PARAPHRASE_NOT_JAPANESE, reason, cap, "%s", "not Japanese (no kana or kanji)");
  free(t);
  return v;
}

char *paraphrase_dedup_key(const char *text) {
  if (!text) return NULL;
  char *t = nfkc(text);
  if (!t) return NULL;
  span s = {(const unsigned char *)t, strlen(t)};
  for (;;) {
    trim(&s);
    if (ends(s.p, s.n, "\xE3\x80\x82")) s.n -= 3;      /* 。 */
    else if (ends(s.p, s.n, ".")) s.n -= 1;
    else break;
  }
  char *out = malloc(s.n + 1);
  if (out) {
    memmove(out, s.p, s.n);
    out[s.n] = 0;
  }
  free(t);
  return out;
}

/* ---- the descriptions file ---------------------------------------------- */

static const char *const DIMENSIONS[] = {"pleasant", "aroused", "dominant", "credible", "interested", "positive",
                                         "purchase_intention", NULL};
static const char *const SOURCES[] = {"original", "paraphrase", "bundled", "manual", "prompt", NULL};
static const char *const STATUSES[] = {"ok", "rejected", NULL};

static int one_of(const char *s, const char *const *set) {
  for (int i = 0; set[i]; i++)
    if (!strcmp(s, set[i])) return 1;
  return 0;
}

static int valid_utf8(const char *s) { return utf8_find(s, NULL) == 0; }

void paraphrase_entries_free(paraphrase_entry *e, int count) {
  for (int i = 0; e && i < count; i++) {
    free(e[i].dimension);
    free(e[i].text);
    free(e[i].gloss);
    free(e[i].source);
    free(e[i].prohibited);
    free(e[i].status);
    free(e[i].reason);
    free(e[i].model);
    free(e[i].prompt_sha256);
  }
  free(e);
}

static char **member_slot(paraphrase_entry *e, const char *key) {
  if (!strcmp(key, "dimension")) return &e->dimension;
  if (!strcmp(key, "text")) return &e->text;
  if (!strcmp(key, "gloss")) return &e->gloss;
  if (!strcmp(key, "source")) return &e->source;
  if (!strcmp(key, "prohibited")) return &e->prohibited;
  if (!strcmp(key, "status")) return &e->status;
  if (!strcmp(key, "reason")) return &e->reason;
  if (!strcmp(key, "model")) return &e->model;
  if (!strcmp(key, "prompt_sha256")) return &e->prompt_sha256;
  return NULL;
}

static int is_hex64(const char *s) {
  size_t n = strlen(s);
  if (n != 64) return 0;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
  return 1;
}

#define BAD(...) clap_error_set(err, CLAP_ERR_FORMAT, __VA_ARGS__)

static clap_status entry_member(const cJSON *m, paraphrase_entry *e, const char *name, int i, clap_error *err) {
  const char *k = m->string;
  if (!strcmp(k, "pole")) {
    if (!cJSON_IsNumber(m) || (m->valuedouble != 0 && m->valuedouble != 1))
      return BAD("%s: descriptions[%d].pole: must be 0 or 1", name, i);
    e->pole = (int)m->valuedouble;
    return CLAP_OK;
  }
  if (!strcmp(k, "prompt_set")) {
    double v = m->valuedouble;
    if (!cJSON_IsNumber(m) || v != (double)(int)v || v < 1 || v > 3)
      return BAD("%s: descriptions[%d].prompt_set: must be an integer 1..3", name, i);
    e->prompt_set = (int)v;
    return CLAP_OK;
  }
  char **slot = member_slot(e, k);
  if (!slot) {
    if (!strncmp(k, "x-", 2)) return CLAP_OK;
    return BAD("%s: descriptions[%d]: unknown member \"%.40s\"", name, i, k);
  }
  if (!cJSON_IsString(m)) return BAD("%s: descriptions[%d].%s: must be a string", name, i, k);
  if (!valid_utf8(m->valuestring)) return BAD("%s: descriptions[%d].%s: not valid UTF-8", name, i, k);
  *slot = strdup(m->valuestring);
  return *slot ? CLAP_OK : clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
}

static clap_status check_entry(const paraphrase_entry *e, const cJSON *item, const char *name, int i,
                               clap_error *err) {
  if (!e->dimension) return BAD("%s: descriptions[%d]: \"dimension\" is missing", name, i);
  if (!one_of(e->dimension, DIMENSIONS))
    return BAD("%s: descriptions[%d].dimension: unknown dimension \"%.40s\"", name, i, e->dimension);
  if (!cJSON_GetObjectItemCaseSensitive(item, "pole")) return BAD("%s: descriptions[%d]: \"pole\" is missing", name, i);
  if (!e->text) return BAD("%s: descriptions[%d]: \"text\" is missing", name, i);
  span s = {(const unsigned char *)e->text, strlen(e->text)};
  trim(&s);
  if (!s.n) return BAD("%s: descriptions[%d].text: is blank", name, i);
  if (e->source && !one_of(e->source, SOURCES))
    return BAD("%s: descriptions[%d].source: \"%.40s\" is not one of original, paraphrase, bundled, manual, prompt",
               name, i, e->source);
  if (e->status && !one_of(e->status, STATUSES))
    return BAD("%s: descriptions[%d].status: must be \"ok\" or \"rejected\"", name, i);
  if (e->prompt_sha256 && !is_hex64(e->prompt_sha256))
    return BAD("%s: descriptions[%d].prompt_sha256: must be 64 lowercase hex digits", name, i);
  int prompt = e->source && !strcmp(e->source, "prompt");
  if (prompt && !e->prompt_set)
    return BAD("%s: descriptions[%d]: source \"prompt\" needs a prompt_set", name, i);
  if (e->prompt_set && !prompt) return BAD("%s: descriptions[%d]: prompt_set needs source \"prompt\"", name, i);
  if (prompt && strcmp(e->dimension, "purchase_intention") != 0)
    return BAD("%s: descriptions[%d]: a prompt must be of dimension purchase_intention", name, i);
  int exempt = (e->source && (!strcmp(e->source, "original") || prompt)) || (e->status && !strcmp(e->status, "rejected"));
  char reason[160];
  if (!exempt && paraphrase_check(e->text, e->prohibited, reason, sizeof reason) == PARAPHRASE_PROHIBITED)
    return BAD("%s: descriptions[%d].text: %s (fix it or mark it \"status\": \"rejected\")", name, i, reason);
  return CLAP_OK;
}

static clap_status parse_entry(const cJSON *item, paraphrase_entry *e, const char *name, int i, clap_error *err) {
  if (!cJSON_IsObject(item)) return BAD("%s: descriptions[%d]: must be an object", name, i);
  e->pole = -1;
  const cJSON *m;
  cJSON_ArrayForEach(m, item) {
    for (const cJSON *o = item->child; o != m; o = o->next)
      if (!strcmp(o->string, m->string)) return BAD("%s: descriptions[%d]: duplicate member \"%.40s\"", name, i, m->string);
    clap_status s = entry_member(m, e, name, i, err);
    if (s != CLAP_OK) return s;
  }
  return check_entry(e, item, name, i, err);
}

static clap_status parse_root(const cJSON *root, const char *name, paraphrase_entry **out, int *count,
                              clap_error *err) {
  if (!cJSON_IsObject(root)) return BAD("%s: must be a JSON object with \"descriptions\"", name);
  const cJSON *m;
  cJSON_ArrayForEach(m, root) {
    if (strcmp(m->string, "descriptions") != 0 && strncmp(m->string, "x-", 2) != 0)
      return BAD("%s: unknown member \"%.40s\"", name, m->string);
  }
  const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "descriptions");
  if (!arr) return BAD("%s: \"descriptions\" is missing", name);
  if (!cJSON_IsArray(arr)) return BAD("%s: descriptions: must be an array", name);
  int n = cJSON_GetArraySize(arr);
  paraphrase_entry *e = calloc(n > 0 ? (size_t)n : 1, sizeof *e);
  if (!e) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  int i = 0;
  const cJSON *item;
  cJSON_ArrayForEach(item, arr) {
    clap_status s = parse_entry(item, &e[i], name, i, err);
    if (s != CLAP_OK) {
      paraphrase_entries_free(e, n);
      return s;
    }
    i++;
  }
  *out = e;
  *count = n;
  return CLAP_OK;
}

clap_status paraphrase_file_parse(const char *json, size_t n, const char *name, paraphrase_entry **out, int *count,
                                  clap_error *err) {
  if (!out || !count) return clap_error_set(err, CLAP_ERR_ARG, "paraphrase_file_parse: no output");
  *out = NULL;
  *count = 0;
  if (!name) name = "descriptions";
  if (!json || n == 0) return BAD("%s: empty file", name);
  if (fileio_check_utf8(name, json, n, err)) return CLAP_ERR_FORMAT;
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(json, n, &end, 0);
  if (!root) {
    size_t at = end && end >= json && end <= json + n ? (size_t)(end - json) : 0;
    int line = 1;
    for (size_t k = 0; k < at; k++) line += json[k] == '\n';
    return BAD("%s: not valid JSON (line %d, byte %zu)", name, line, at);
  }
  clap_status s = parse_root(root, name, out, count, err);
  cJSON_Delete(root);
  return s;
}
