/* manifest — see manifest.h. The cJSON tree is kept alive: the views point into it. */
#include "manifest.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "fileio.h"
#include "sha256.h"

#define MANIFEST_MAX_BYTES ((size_t)64 << 20)

struct manifest {
  char *name;
  cJSON *root;
  const char *session, *scenario;
  int channel; /* the session's "channel": MANIFEST_MIX when absent */
  char sha256[SHA256_HEX_SIZE];
  manifest_speaker *speakers;
  int n_speakers;
  manifest_utterance *utts;
  int n_utts;
  char **paths;      /* resolved audio path per utterance (owned) */
  const char **sources;
  int n_sources;
};

/* ---- messages ---------------------------------------------------------- */

/* "NAME: PATH: message". */
static clap_status bad(clap_error *e, const char *name, const char *path, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static clap_status bad(clap_error *e, const char *name, const char *path, const char *fmt, ...) {
  char msg[CLAP_ERROR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (path && *path) return clap_error_set(e, CLAP_ERR_FORMAT, "%s: %s: %s", name, path, msg);
  return clap_error_set(e, CLAP_ERR_FORMAT, "%s: %s", name, msg);
}

/* What a JSON value is, for "got ..." (strings quoted, shortened, made printable). */
static const char *describe(const cJSON *v, char *buf, size_t size) {
  if (cJSON_IsString(v)) {
    size_t o = 0;
    buf[o++] = '"';
    const unsigned char *s = (const unsigned char *)v->valuestring;
    for (size_t i = 0; s[i] && o + 6 < size; i++) {
      if (i == 40) {
        memcpy(buf + o, "...", 3);
        o += 3;
        break;
      }
      buf[o++] = (s[i] < 0x20 || s[i] == 0x7f) ? '?' : (char)s[i];
    }
    buf[o++] = '"';
    buf[o] = 0;
    return buf;
  }
  if (cJSON_IsNumber(v)) return snprintf(buf, size, "%.17g", v->valuedouble), buf;
  if (cJSON_IsBool(v)) return cJSON_IsTrue(v) ? "true" : "false";
  if (cJSON_IsNull(v)) return "null";
  if (cJSON_IsArray(v)) return "an array";
  if (cJSON_IsObject(v)) return "an object";
  return "an invalid value";
}

/* ---- input checks before cJSON sees the bytes --------------------------- */

static void line_col(const char *s, size_t off, int *line, int *col) {
  *line = 1;
  *col = 1;
  for (size_t i = 0; i < off; i++) {
    if (s[i] == '\n') (*line)++, *col = 1;
    else (*col)++;
  }
}

/* JSON must be UTF-8 (fileio_utf8_invalid_at, the one validator) and no
** string may hold NUL (raw or \u0000): cJSON would silently cut the string
** there. */
static clap_status check_bytes(const char *json, size_t n, const char *name, clap_error *err) {
  const unsigned char *s = (const unsigned char *)json;
  int in_string = 0, line, col;
  size_t bad_at = fileio_utf8_invalid_at(json, n, NULL);
  const unsigned char *nul = memchr(s, 0, bad_at);
  size_t end = nul ? (size_t)(nul - s) : bad_at; /* the first NUL or invalid byte */
  for (size_t i = 0; i < end; i++) {
    if (in_string && s[i] == '\\' && i + 6 <= end && s[i + 1] == 'u' &&
        !memcmp(s + i + 2, "0000", 4)) {
      line_col(json, i, &line, &col);
      return bad(err, name, NULL, "line %d, column %d: \\u0000 in a string", line, col);
    }
    if (in_string && s[i] == '\\') {
      i++;
      continue;
    }
    if (s[i] == '"') in_string = !in_string;
  }
  if (nul) {
    line_col(json, (size_t)(nul - s), &line, &col);
    return bad(err, name, NULL, "line %d, column %d: NUL byte", line, col);
  }
  if (bad_at < n) {
    line_col(json, bad_at, &line, &col);
    return bad(err, name, NULL, "line %d, column %d: invalid UTF-8 at byte offset %zu (byte 0x%02x)",
               line, col, bad_at, s[bad_at]);
  }
  return CLAP_OK;
}

static clap_status parse_json(const char *json, size_t n, const char *name, cJSON **out,
                              clap_error *err) {
  *out = NULL;
  if (n == 0) return bad(err, name, NULL, "empty file, expected a JSON object");
  clap_status rc = check_bytes(json, n, name, err);
  if (rc) return rc;
  char *z = malloc(n + 1);
  if (!z) return clap_error_set(err, CLAP_ERR_NOMEM, "%s: out of memory", name);
  memcpy(z, json, n);
  z[n] = 0;
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(z, n + 1, &end, 1);
  if (!root) {
    int line, col;
    size_t off = end && end >= z && end <= z + n ? (size_t)(end - z) : 0;
    line_col(z, off, &line, &col);
    free(z);
    return bad(err, name, NULL, "line %d, column %d: invalid JSON", line, col);
  }
  free(z);
  *out = root;
  return CLAP_OK;
}

/* ---- member checks ------------------------------------------------------ */

static int valid_id(const char *s) {
  size_t n = strlen(s);
  if (n < 1 || n > MANIFEST_ID_MAX) return 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '.' || c == '-'))
      return 0;
  }
  return 1;
}

/* Every key of obj must be in allowed (NULL-terminated) and appear once. */
static clap_status check_keys(const cJSON *obj, const char *const *allowed, const char *name,
                              const char *path, clap_error *err) {
  for (const cJSON *a = obj->child; a; a = a->next) {
    int known = !strncmp(a->string, "x-", 2);
    for (int i = 0; allowed[i]; i++) known |= !strcmp(a->string, allowed[i]);
    /* Duplicates count for notes too: the second would silently win. */
    char p[256];
    snprintf(p, sizeof p, "%s%s%s", path, *path ? "." : "", a->string);
    if (!known) {
      char list[256] = "";
      for (int i = 0; allowed[i]; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s\"%s\"", i ? ", " : "",
                 allowed[i]);
      return bad(err, name, p, "unknown member (expected one of %s)", list);
    }
    for (const cJSON *b = a->next; b; b = b->next)
      if (!strcmp(a->string, b->string)) return bad(err, name, p, "duplicate key");
  }
  return CLAP_OK;
}

static const cJSON *member(const cJSON *obj, const char *key) {
  for (const cJSON *a = obj->child; a; a = a->next)
    if (!strcmp(a->string, key)) return a;
  return NULL;
}

/* A string member: required or optional (absent -> *out = NULL). */
static clap_status get_string(const cJSON *obj, const char *key, int required, const char *name,
                              const char *path, const char **out, clap_error *err) {
  const cJSON *v = member(obj, key);
  char p[256], got[64];
  snprintf(p, sizeof p, "%s%s%s", path, *path ? "." : "", key);
  *out = NULL;
  if (!v) return required ? bad(err, name, p, "required") : CLAP_OK;
  if (!cJSON_IsString(v)) return bad(err, name, p, "must be a string, got %s", describe(v, got, sizeof got));
  *out = v->valuestring;
  return CLAP_OK;
}

static clap_status get_id(const cJSON *obj, const char *key, int required, const char *name,
                          const char *path, const char **out, clap_error *err) {
  clap_status rc = get_string(obj, key, required, name, path, out, err);
  if (rc || !*out || valid_id(*out)) return rc;
  char p[256], got[64];
  snprintf(p, sizeof p, "%s%s%s", path, *path ? "." : "", key);
  return bad(err, name, p, "must match [A-Za-z0-9_.-]{1,%d}, got %s", MANIFEST_ID_MAX,
             describe(member(obj, key), got, sizeof got));
}

/* Optional finite number: *has = 0 when absent. */
static clap_status get_number(const cJSON *obj, const char *key, const char *name,
                              const char *path, int *has, double *out, clap_error *err) {
  const cJSON *v = member(obj, key);
  char p[256], got[64];
  snprintf(p, sizeof p, "%s.%s", path, key);
  *has = 0;
  *out = 0;
  if (!v) return CLAP_OK;
  if (!cJSON_IsNumber(v)) return bad(err, name, p, "must be a number of seconds, got %s", describe(v, got, sizeof got));
  if (!isfinite(v->valuedouble)) return bad(err, name, p, "must be a finite number");
  *has = 1;
  *out = v->valuedouble;
  return CLAP_OK;
}

/* Optional "channel": a 0-based index below MANIFEST_MAX_CHANNELS or "mix";
** absent leaves *out as it is (the session's, or MANIFEST_MIX). */
static clap_status get_channel(const cJSON *obj, const char *name, const char *path, int *out,
                               clap_error *err) {
  const cJSON *v = member(obj, "channel");
  char p[256], got[64];
  snprintf(p, sizeof p, "%s%schannel", path, *path ? "." : "");
  if (!v) return CLAP_OK;
  if (cJSON_IsString(v) && !strcmp(v->valuestring, "mix")) {
    *out = MANIFEST_MIX;
    return CLAP_OK;
  }
  if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble >= MANIFEST_MAX_CHANNELS ||
      v->valuedouble != floor(v->valuedouble))
    return bad(err, name, p, "must be a channel index in [0, %d] or \"mix\", got %s",
               MANIFEST_MAX_CHANNELS - 1, describe(v, got, sizeof got));
  *out = (int)v->valuedouble;
  return CLAP_OK;
}

/* ---- sorting for duplicate detection ------------------------------------ */

typedef struct keyed {
  const char *key;
  int idx;
} keyed;

static int keyed_cmp(const void *a, const void *b) {
  const keyed *x = a, *y = b;
  int c = strcmp(x->key, y->key);
  return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

/* Sorted (key, index) pairs; NULL on out of memory. */
static keyed *sorted_keys(const char **keys, int n) {
  keyed *k = malloc(sizeof *k * (size_t)(n ? n : 1));
  if (!k) return NULL;
  for (int i = 0; i < n; i++) k[i] = (keyed){keys[i], i};
  qsort(k, (size_t)n, sizeof *k, keyed_cmp);
  return k;
}

/* The first duplicate in document order: *later is the index of the repeat
** with the lowest index, *first the earlier occurrence; returns 0 if none. */
static int find_duplicate(const keyed *k, int n, int *first, int *later) {
  int found = 0;
  for (int i = 1; i < n; i++)
    if (!strcmp(k[i].key, k[i - 1].key) && (!found || k[i].idx < *later)) {
      int j = i - 1;
      while (j > 0 && !strcmp(k[j - 1].key, k[i].key)) j--;
      *first = k[j].idx;
      *later = k[i].idx;
      found = 1;
    }
  return found;
}

/* ---- the parts of a manifest -------------------------------------------- */

static clap_status parse_speakers(manifest *m, const cJSON *arr, clap_error *err) {
  static const char *const keys[] = {"id", "gender", "name", NULL};
  char got[64];
  if (!arr) return CLAP_OK;
  if (!cJSON_IsArray(arr))
    return bad(err, m->name, "speakers", "must be an array, got %s", describe(arr, got, sizeof got));
  int n = cJSON_GetArraySize(arr);
  m->speakers = calloc((size_t)(n ? n : 1), sizeof *m->speakers);
  if (!m->speakers) return clap_error_set(err, CLAP_ERR_NOMEM, "%s: out of memory", m->name);
  int i = 0;
  for (const cJSON *s = arr->child; s; s = s->next, i++) {
    char p[64];
    snprintf(p, sizeof p, "speakers[%d]", i);
    if (!cJSON_IsObject(s)) return bad(err, m->name, p, "must be an object, got %s", describe(s, got, sizeof got));
    manifest_speaker *sp = &m->speakers[i];
    clap_status rc = check_keys(s, keys, m->name, p, err);
    if (!rc) rc = get_id(s, "id", 1, m->name, p, &sp->id, err);
    if (!rc) rc = get_string(s, "gender", 0, m->name, p, &sp->gender, err);
    if (!rc) rc = get_string(s, "name", 0, m->name, p, &sp->name, err);
    if (rc) return rc;
    m->n_speakers = i + 1;
  }
  const char **ids = malloc(sizeof *ids * (size_t)(n ? n : 1));
  if (!ids) return clap_error_set(err, CLAP_ERR_NOMEM, "%s: out of memory", m->name);
  for (i = 0; i < n; i++) ids[i] = m->speakers[i].id;
  keyed *k = sorted_keys(ids, n);
  free(ids);
  if (!k) return clap_error_set(err, CLAP_ERR_NOMEM, "%s: out of memory", m->name);
  int first, later;
  int dup = find_duplicate(k, n, &first, &later);
  free(k);
  if (dup) {
    char p[64];
    snprintf(p, sizeof p, "speakers[%d].id", later);
    return bad(err, m->name, p, "duplicate speaker \"%s\" (also speakers[%d])",
               m->speakers[later].id, first);
  }
  return CLAP_OK;
}

static int speaker_listed(const manifest *m, const char *id) {
  for (int i = 0; i < m->n_speakers; i++)
    if (!strcmp(m->speakers[i].id, id)) return 1;
  return 0;
}

static char *resolve(const char *base, const char *rel) {
  size_t nb = base ? strlen(base) : 0, nr = strlen(rel);
  char *p = malloc(nb + nr + 2);
  if (!p) return NULL;
  if (nb == 0 || (nb == 1 && base[0] == '.')) {
    memcpy(p, rel, nr + 1);
  } else {
    memcpy(p, base, nb);
    size_t o = nb;
    if (base[nb - 1] != '/') p[o++] = '/';
    memcpy(p + o, rel, nr + 1);
  }
  return p;
}

static clap_status parse_cut(manifest *m, const cJSON *u, const char *p, manifest_utterance *ut,
                             clap_error *err) {
  char q[96];
  clap_status rc = get_number(u, "start", m->name, p, &ut->has_start, &ut->start, err);
  if (!rc) rc = get_number(u, "end", m->name, p, &ut->has_end, &ut->end, err);
  if (rc) return rc;
  if (ut->has_start && ut->start < 0) {
    snprintf(q, sizeof q, "%s.start", p);
    return bad(err, m->name, q, "must be >= 0, got %.17g", ut->start);
  }
  if (ut->has_end && !(ut->end > ut->start)) {
    snprintf(q, sizeof q, "%s.end", p);
    if (!ut->has_start) return bad(err, m->name, q, "must be > 0, got %.17g", ut->end);
    return bad(err, m->name, q, "must be greater than start (%.17g), got %.17g", ut->start, ut->end);
  }
  return CLAP_OK;
}

static clap_status parse_utterance(manifest *m, const cJSON *u, int i, const char *base_dir,
                                   clap_error *err) {
  static const char *const keys[] = {"id", "audio", "speaker", "role", "start", "end", "text",
                                     "channel", NULL};
  char p[64], q[96], got[64];
  snprintf(p, sizeof p, "utterances[%d]", i);
  if (!cJSON_IsObject(u)) return bad(err, m->name, p, "must be an object, got %s", describe(u, got, sizeof got));
  manifest_utterance *ut = &m->utts[i];
  clap_status rc = check_keys(u, keys, m->name, p, err);
  if (!rc) rc = get_id(u, "id", 1, m->name, p, &ut->id, err);
  if (!rc) rc = get_string(u, "audio", 1, m->name, p, &ut->audio, err);
  if (!rc) rc = get_id(u, "speaker", 0, m->name, p, &ut->speaker, err);
  if (!rc) rc = get_string(u, "role", 1, m->name, p, &ut->role, err);
  if (!rc) rc = get_string(u, "text", 0, m->name, p, &ut->text, err);
  if (!rc) rc = parse_cut(m, u, p, ut, err);
  ut->channel = m->channel;
  if (!rc) rc = get_channel(u, m->name, p, &ut->channel, err);
  if (rc) return rc;
  snprintf(q, sizeof q, "%s.audio", p);
  if (!ut->audio[0]) return bad(err, m->name, q, "must not be empty");
  if (ut->audio[0] == '/')
    return bad(err, m->name, q, "must be relative to the manifest's directory, got %s",
               describe(member(u, "audio"), got, sizeof got));
  snprintf(q, sizeof q, "%s.role", p);
  if (strcmp(ut->role, "salesperson") && strcmp(ut->role, "customer"))
    return bad(err, m->name, q, "must be \"salesperson\" or \"customer\", got %s",
               describe(member(u, "role"), got, sizeof got));
  if (ut->speaker && m->n_speakers > 0 && !speaker_listed(m, ut->speaker)) {
    snprintf(q, sizeof q, "%s.speaker", p);
    return bad(err, m->name, q, "\"%s\" is not in \"speakers\"", ut->speaker);
  }
  m->paths[i] = resolve(base_dir, ut->audio);
  if (!m->paths[i]) return clap_error_set(err, CLAP_ERR_NOMEM, "%s: out of memory", m->name);
  ut->path = m->paths[i];
  return CLAP_OK;
}

/* Unique utterance ids; shared sources by resolved path. */
static clap_status index_utterances(manifest *m, clap_error *err) {
  int n = m->n_utts, first, later;
  const char **keys = malloc(sizeof *keys * (size_t)n);
  m->sources = malloc(sizeof *m->sources * (size_t)n);
  if (!keys || !m->sources) {
    free(keys);
    return clap_error_set(err, CLAP_ERR_NOMEM, "%s: out of memory", m->name);
  }
  for (int i = 0; i < n; i++) keys[i] = m->utts[i].id;
  keyed *k = sorted_keys(keys, n);
  int nomem = !k, dup = k && find_duplicate(k, n, &first, &later);
  free(k);
  if (dup) {
    free(keys);
    char p[64];
    snprintf(p, sizeof p, "utterances[%d].id", later);
    return bad(err, m->name, p, "duplicate utterance \"%s\" (also utterances[%d])",
               m->utts[later].id, first);
  }
  for (int i = 0; i < n; i++) keys[i] = m->utts[i].path;
  k = nomem ? NULL : sorted_keys(keys, n);
  free(keys);
  if (!k) return clap_error_set(err, CLAP_ERR_NOMEM, "%s: out of memory", m->name);
  /* Number sources in order of first use, so source 0 is the first file. */
  int *first_of = malloc(sizeof *first_of * (size_t)n);
  if (!first_of) {
    free(k);
    return clap_error_set(err, CLAP_ERR_NOMEM, "%s: out of memory", m->name);
  }
  for (int i = 0; i < n; i++) {
    int j = i;
    while (j > 0 && !strcmp(k[j - 1].key, k[i].key)) j--;
    first_of[k[i].idx] = k[j].idx;  /* sorted by (key, idx): k[j] is the first use */
  }
  free(k);
  for (int i = 0; i < n; i++) {
    if (first_of[i] == i) {
      m->utts[i].source = m->n_sources;
      m->sources[m->n_sources++] = m->utts[i].path;
    } else {
      m->utts[i].source = m->utts[first_of[i]].source;
    }
  }
  free(first_of);
  return CLAP_OK;
}

static clap_status parse_utterances(manifest *m, const cJSON *arr, const char *base_dir,
                                    clap_error *err) {
  char got[64];
  if (!arr) return bad(err, m->name, "utterances", "required");
  if (!cJSON_IsArray(arr))
    return bad(err, m->name, "utterances", "must be an array, got %s", describe(arr, got, sizeof got));
  int n = cJSON_GetArraySize(arr);
  if (n == 0) return bad(err, m->name, "utterances", "must not be empty");
  m->utts = calloc((size_t)n, sizeof *m->utts);
  m->paths = calloc((size_t)n, sizeof *m->paths);
  if (!m->utts || !m->paths) return clap_error_set(err, CLAP_ERR_NOMEM, "%s: out of memory", m->name);
  int i = 0;
  for (const cJSON *u = arr->child; u; u = u->next, i++) {
    clap_status rc = parse_utterance(m, u, i, base_dir, err);
    if (rc) return rc;
    m->n_utts = i + 1;
  }
  return index_utterances(m, err);
}

static clap_status parse_root(manifest *m, const char *base_dir, clap_error *err) {
  static const char *const keys[] = {"session", "scenario", "channel", "speakers", "utterances",
                                     NULL};
  char got[64];
  if (!cJSON_IsObject(m->root))
    return bad(err, m->name, NULL, "must be a JSON object, got %s", describe(m->root, got, sizeof got));
  clap_status rc = check_keys(m->root, keys, m->name, "", err);
  if (!rc) rc = get_id(m->root, "session", 1, m->name, "", &m->session, err);
  if (!rc) rc = get_string(m->root, "scenario", 0, m->name, "", &m->scenario, err);
  m->channel = MANIFEST_MIX;
  if (!rc) rc = get_channel(m->root, m->name, "", &m->channel, err);
  if (!rc) rc = parse_speakers(m, member(m->root, "speakers"), err);
  if (!rc) rc = parse_utterances(m, member(m->root, "utterances"), base_dir, err);
  return rc;
}

/* ---- public ------------------------------------------------------------- */

clap_status manifest_parse(const char *json, size_t n, const char *name, const char *base_dir,
                           manifest **out, clap_error *err) {
  *out = NULL;
  if (!name) name = "manifest";
  if (!json && n) return clap_error_set(err, CLAP_ERR_ARG, "%s: no bytes", name);
  manifest *m = calloc(1, sizeof *m);
  if (!m || !(m->name = strdup(name))) {
    free(m);
    return clap_error_set(err, CLAP_ERR_NOMEM, "%s: out of memory", name);
  }
  clap_status rc = sha256_hex(json, n, m->sha256) ? clap_error_set(err, CLAP_ERR_NOMEM, "%s: out of memory", name)
                                                 : parse_json(json, n, name, &m->root, err);
  if (!rc) rc = parse_root(m, base_dir, err);
  if (rc) {
    manifest_free(m);
    return rc;
  }
  *out = m;
  return CLAP_OK;
}

clap_status manifest_load(const char *path, manifest **out, clap_error *err) {
  *out = NULL;
  unsigned char *raw;
  size_t n;
  clap_status rc = fileio_read(path, MANIFEST_MAX_BYTES, &raw, &n, err);
  if (rc == CLAP_ERR_NOTFOUND) /* a missing manifest has always been CLAP_ERR_IO */
    rc = err ? (err->code = CLAP_ERR_IO) : CLAP_ERR_IO;
  if (rc) return rc;
  char *bytes = (char *)raw;
  char *dir = strdup(path);
  if (!dir) {
    free(bytes);
    return clap_error_set(err, CLAP_ERR_NOMEM, "%s: out of memory", path);
  }
  char *slash = strrchr(dir, '/');
  if (!slash) dir[0] = 0;
  else if (slash == dir) dir[1] = 0;
  else *slash = 0;
  rc = manifest_parse(bytes, n, path, dir, out, err);
  free(dir);
  free(bytes);
  return rc;
}

void manifest_free(manifest *m) {
  if (!m) return;
  if (m->paths)
    for (int i = 0; i < m->n_utts; i++) free(m->paths[i]);
  free(m->paths);
  free(m->sources);
  free(m->utts);
  free(m->speakers);
  cJSON_Delete(m->root);
  free(m->name);
  free(m);
}

const char *manifest_name(const manifest *m) { return m->name; }
const char *manifest_session(const manifest *m) { return m->session; }
const char *manifest_scenario(const manifest *m) { return m->scenario; }
const char *manifest_sha256(const manifest *m) { return m->sha256; }
int manifest_n_speakers(const manifest *m) { return m->n_speakers; }
const manifest_speaker *manifest_speaker_at(const manifest *m, int i) {
  return i >= 0 && i < m->n_speakers ? &m->speakers[i] : NULL;
}
int manifest_n_utterances(const manifest *m) { return m->n_utts; }
const manifest_utterance *manifest_utterance_at(const manifest *m, int i) {
  return i >= 0 && i < m->n_utts ? &m->utts[i] : NULL;
}
int manifest_n_sources(const manifest *m) { return m->n_sources; }
const char *manifest_source_path(const manifest *m, int i) {
  return i >= 0 && i < m->n_sources ? m->sources[i] : NULL;
}
