/* annotations — see annotations.h. */
#include "annotations.h"

#include "fileio.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cJSON.h>

struct ann_file {
  char *name;
  ann_format format;
  ann_record *rec;
  size_t n, cap;
  char **err_msg;
  int *err_line;
  size_t n_err, kept, err_cap;
  int nomem; /* an allocation failed while collecting: ann_parse reports it */
};

/* ---------------------------------------------------------------- helpers */

/* Record "name:line: msg" (line 0: "name: msg"). */
static void add_error(ann_file *f, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static void add_error(ann_file *f, int line, const char *fmt, ...) {
  f->n_err++;
  if (f->kept >= ANN_ERRORS_KEPT) return;
  if (f->kept == f->err_cap) {
    size_t cap = f->err_cap ? f->err_cap * 2 : 8;
    char **m = realloc(f->err_msg, cap * sizeof *m);
    if (!m) { f->nomem = 1; return; }
    f->err_msg = m;
    int *l = realloc(f->err_line, cap * sizeof *l);
    if (!l) { f->nomem = 1; return; }
    f->err_line = l;
    f->err_cap = cap;
  }
  char body[400], full[600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(body, sizeof body, fmt, ap);
  va_end(ap);
  if (line > 0) snprintf(full, sizeof full, "%s:%d: %s", f->name, line, body);
  else snprintf(full, sizeof full, "%s: %s", f->name, body);
  char *m = strdup(full);
  if (!m) { f->nomem = 1; return; }
  f->err_msg[f->kept] = m;
  f->err_line[f->kept] = line;
  f->kept++;
}

static int add_record(ann_file *f, const char *utt, const char *ann, const char *dim, int score,
                      int line) {
  if (f->n == f->cap) {
    size_t cap = f->cap ? f->cap * 2 : 64;
    ann_record *r = realloc(f->rec, cap * sizeof *r);
    if (!r) return f->nomem = 1, -1;
    f->rec = r;
    f->cap = cap;
  }
  char *u = strdup(utt), *a = strdup(ann), *d = strdup(dim);
  if (!u || !a || !d) {
    free(u), free(a), free(d);
    return f->nomem = 1, -1;
  }
  f->rec[f->n++] = (ann_record){u, a, d, score, line};
  return 0;
}

/* Trim spaces, tabs and a CR in place; returns the start. */
static char *trim(char *s) {
  while (*s == ' ' || *s == '\t' || *s == '\r') s++;
  size_t n = strlen(s);
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) s[--n] = 0;
  return s;
}

int ann_parse_score(const char *text, int *out) {
  const char *p = text;
  if (*p == '+' || *p == '-') p++;
  const char *digits = p;
  while (*p >= '0' && *p <= '9') p++;
  if (p == digits) return 1;
  const char *int_end = p;
  if (*p == '.') {
    p++;
    while (*p == '0') p++;
  }
  if (*p) return 1;
  /* An integer of any length: only its value decides the range. */
  const char *q = digits;
  while (q < int_end - 1 && *q == '0') q++;
  if (int_end - q != 1 || text[0] == '-' || *q < '1' || *q > '7') return 2;
  *out = *q - '0';
  return 0;
}

/* Check one record's fields; store it, or record why not. */
static void take_record(ann_file *f, int line, const char *utt, const char *ann, const char *dim,
                        const char *score_text) {
  const char *what[3] = {"utterance", "annotator", "dimension"};
  const char *val[3] = {utt, ann, dim};
  int bad = 0;
  for (int i = 0; i < 3; i++)
    if (!*val[i]) add_error(f, line, "empty %s", what[i]), bad = 1;
  int score = 0;
  switch (ann_parse_score(score_text, &score)) {
    case 0: break;
    case 1:
      if (*score_text) add_error(f, line, "score \"%.40s\" is not an integer", score_text);
      else add_error(f, line, "empty score");
      bad = 1;
      break;
    default: add_error(f, line, "score %.40s outside 1..7", score_text), bad = 1;
  }
  if (!bad) add_record(f, utt, ann, dim, score, line);
}

/* ------------------------------------------------------------------- CSV */

typedef struct csv_reader {
  const char *p, *end;
  char delim;
  int line;
  char *buf; /* the row's fields, unescaped, each NUL-terminated */
  size_t len, cap;
  size_t *off;
  int nfield, cap_field;
  int quoted; /* the row has a quoted field (so a lone "" is not blank) */
} csv_reader;

static int csv_put(csv_reader *r, char c) {
  if (r->len == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 256;
    char *b = realloc(r->buf, cap);
    if (!b) return -1;
    r->buf = b;
    r->cap = cap;
  }
  r->buf[r->len++] = c;
  return 0;
}

static int csv_field_start(csv_reader *r) {
  if (r->nfield == r->cap_field) {
    int cap = r->cap_field ? r->cap_field * 2 : 16;
    size_t *o = realloc(r->off, (size_t)cap * sizeof *o);
    if (!o) return -1;
    r->off = o;
    r->cap_field = cap;
  }
  r->off[r->nfield++] = r->len;
  return 0;
}

/* Read one quoted field (r->p after the opening quote). 0 ok, -1 nomem,
** -2 syntax error (message in msg). */
static int csv_quoted(csv_reader *r, char *msg, size_t msgsz) {
  int open_line = r->line;
  for (;;) {
    if (r->p == r->end) {
      snprintf(msg, msgsz, "quoted field opened on line %d is never closed", open_line);
      return -2;
    }
    char c = *r->p;
    if (c == '"') {
      if (r->p + 1 < r->end && r->p[1] == '"') {
        if (csv_put(r, '"')) return -1;
        r->p += 2;
        continue;
      }
      r->p++;
      break;
    }
    if (c == '\n') r->line++;
    if (csv_put(r, c)) return -1;
    r->p++;
  }
  if (r->p == r->end || *r->p == r->delim || *r->p == '\n') return 0;
  if (*r->p == '\r' && (r->p + 1 == r->end || r->p[1] == '\n')) return 0;
  snprintf(msg, msgsz, "unexpected character '%c' after a closing quote (a quote inside a "
           "quoted field is written \"\")", isprint((unsigned char)*r->p) ? *r->p : '?');
  return -2;
}

/* Read one row. 1 a row, 0 end of input, -1 nomem, -2 syntax error. */
static int csv_row(csv_reader *r, int *row_line, char *msg, size_t msgsz) {
  if (r->p >= r->end) return 0;
  *row_line = r->line;
  r->len = 0;
  r->nfield = 0;
  r->quoted = 0;
  for (;;) {
    if (csv_field_start(r)) return -1;
    if (r->p < r->end && *r->p == '"') {
      r->p++;
      r->quoted = 1;
      int rc = csv_quoted(r, msg, msgsz);
      if (rc) return rc;
    } else {
      while (r->p < r->end && *r->p != r->delim && *r->p != '\n') {
        if (*r->p == '\r' && (r->p + 1 == r->end || r->p[1] == '\n')) break;
        if (csv_put(r, *r->p++)) return -1;
      }
    }
    if (csv_put(r, 0)) return -1;
    if (r->p == r->end) return 1;
    if (*r->p == r->delim) {
      r->p++;
      continue;
    }
    if (*r->p == '\r') r->p++;
    if (r->p < r->end && *r->p == '\n') r->p++;
    r->line++;
    return 1;
  }
}

static const char *csv_field(csv_reader *r, int i) { return r->buf + r->off[i]; }

static int csv_blank(csv_reader *r) {
  return r->nfield == 1 && !r->quoted && !*trim((char *)csv_field(r, 0));
}

static const char *col_name(const ann_columns *c, int i) {
  static const char *def[4] = {"utterance", "annotator", "dimension", "score"};
  const char *given[4] = {c ? c->utterance : NULL, c ? c->annotator : NULL,
                          c ? c->dimension : NULL, c ? c->score : NULL};
  return given[i] ? given[i] : def[i];
}

static const char *col_flag(int i) {
  static const char *flag[4] = {"--utterance-col", "--annotator-col", "--dimension-col",
                                "--score-col"};
  return flag[i];
}

/* Map the header to column indexes; 0 ok, -1 a file error was recorded. */
static int csv_header(ann_file *f, csv_reader *r, int line, const ann_columns *cols, int idx[4]) {
  for (int k = 0; k < 4; k++) idx[k] = -1;
  for (int i = 0; i < r->nfield; i++) {
    const char *h = trim((char *)csv_field(r, i));
    for (int k = 0; k < 4; k++) {
      if (strcasecmp(h, col_name(cols, k))) continue;
      if (idx[k] >= 0) {
        add_error(f, line, "column \"%.60s\" appears twice in the header (columns %d and %d)",
                  col_name(cols, k), idx[k] + 1, i + 1);
        return -1;
      }
      idx[k] = i;
    }
  }
  for (int k = 0; k < 4; k++) {
    if (idx[k] >= 0) continue;
    char list[200] = "";
    size_t used = 0;
    for (int i = 0; i < r->nfield && used + 4 < sizeof list; i++) {
      int w = snprintf(list + used, sizeof list - used, "%s%.30s", i ? ", " : "", csv_field(r, i));
      if (w < 0) break;
      used += (size_t)w;
    }
    if (used >= sizeof list - 1) memcpy(list + sizeof list - 5, "...", 4);
    add_error(f, line, "no column \"%.60s\" in the header (columns: %s); name it with %s",
              col_name(cols, k), list, col_flag(k));
    return -1;
  }
  return 0;
}

static void parse_delimited(ann_file *f, const char *data, size_t len, char delim,
                            const ann_columns *cols) {
  csv_reader r = {.p = data, .end = data + len, .delim = delim, .line = 1};
  char msg[300];
  int idx[4], have_header = 0, line = 0, ncol = 0;
  for (;;) {
    int rc = csv_row(&r, &line, msg, sizeof msg);
    if (rc == 0) break;
    if (rc == -1) { f->nomem = 1; break; }
    if (rc == -2) { add_error(f, line, "%s", msg); break; }
    if (csv_blank(&r)) continue;
    if (!have_header) {
      if (csv_header(f, &r, line, cols, idx)) break;
      have_header = 1;
      ncol = r.nfield;
      continue;
    }
    if (r.nfield != ncol) {
      add_error(f, line, "%d field%s, the header has %d", r.nfield, r.nfield == 1 ? "" : "s",
                ncol);
      continue;
    }
    take_record(f, line, trim((char *)csv_field(&r, idx[0])), trim((char *)csv_field(&r, idx[1])),
                trim((char *)csv_field(&r, idx[2])), trim((char *)csv_field(&r, idx[3])));
  }
  if (!have_header && f->n_err == 0 && !f->nomem) add_error(f, 0, "empty file (no header row)");
  free(r.buf);
  free(r.off);
}

/* ------------------------------------------------------------------ JSON */

static int line_at(const char *data, const char *p) {
  int line = 1;
  for (const char *q = data; q < p; q++) line += *q == '\n';
  return line;
}

static const char *js_ws(const char *p, const char *end) {
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
  return p;
}

static const char *js_string(const char *p, const char *end) {
  for (p++; p < end && *p != '"'; p++)
    if (*p == '\\') p++;
  return p < end ? p + 1 : end;
}

static const char *js_value(const char *p, const char *end) {
  if (p >= end) return end;
  if (*p == '"') return js_string(p, end);
  if (*p != '{' && *p != '[') {
    while (p < end && !strchr(",]} \t\r\n", *p)) p++;
    return p;
  }
  int depth = 0;
  while (p < end) {
    if (*p == '"') {
      p = js_string(p, end);
      continue;
    }
    if (*p == '{' || *p == '[') depth++;
    if ((*p == '}' || *p == ']') && --depth == 0) return p + 1;
    p++;
  }
  return end;
}

/* The start of each element of the annotations array, found in the raw
** text (cJSON keeps no positions). The document is already known to be
** valid JSON; returns the number of starts found (up to max). */
static size_t js_element_starts(const char *p, const char *end, const char **starts, size_t max) {
  p = js_ws(p, end);
  if (p < end && *p == '{') {
    const char *arr = NULL;
    p++;
    while (p < end && !arr) {
      p = js_ws(p, end);
      if (p >= end || *p != '"') return 0;
      const char *key = p + 1, *key_end = js_string(p, end) - 1;
      p = js_ws(key_end + 1, end);
      if (p >= end || *p != ':') return 0;
      p = js_ws(p + 1, end);
      if (key_end - key == 11 && !memcmp(key, "annotations", 11)) arr = p;
      else p = js_ws(js_value(p, end), end);
      if (p < end && *p == ',') p++;
    }
    p = arr;
  } else {
    return 0;
  }
  if (!p || p >= end || *p != '[') return 0;
  size_t n = 0;
  p++;
  for (;;) {
    p = js_ws(p, end);
    if (p >= end || *p == ']') break;
    if (n < max) starts[n] = p;
    n++;
    p = js_ws(js_value(p, end), end);
    if (p < end && *p == ',') p++;
    else break;
  }
  return n;
}

static void json_record(ann_file *f, const cJSON *o, int line, const ann_columns *cols) {
  if (!cJSON_IsObject(o)) {
    add_error(f, line, "annotation is not an object");
    return;
  }
  char score_buf[64];
  const char *val[3];
  for (int k = 0; k < 4; k++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, col_name(cols, k));
    if (!v) {
      add_error(f, line, "annotation has no \"%.60s\"", col_name(cols, k));
      return;
    }
    if (k < 3) {
      if (!cJSON_IsString(v)) {
        add_error(f, line, "\"%.60s\" must be a string", col_name(cols, k));
        return;
      }
      val[k] = v->valuestring;
      continue;
    }
    if (!cJSON_IsNumber(v)) {
      add_error(f, line, "\"%.60s\" must be a number, not %s", col_name(cols, k),
                cJSON_IsString(v) ? "a string" : "another JSON value");
      return;
    }
    double d = v->valuedouble;
    if (d == floor(d) && fabs(d) >= 1e18) {
      add_error(f, line, "score %g outside 1..7", d);
      return;
    }
    snprintf(score_buf, sizeof score_buf, d == floor(d) && fabs(d) < 1e18 ? "%.0f" : "%.17g", d);
    const char *score_text = score_buf;
    /* Strings are trimmed like CSV fields so both forms behave the same. */
    char *copy[4] = {strdup(val[0]), strdup(val[1]), strdup(val[2]), strdup(score_text)};
    if (copy[0] && copy[1] && copy[2] && copy[3])
      take_record(f, line, trim(copy[0]), trim(copy[1]), trim(copy[2]), trim(copy[3]));
    else f->nomem = 1;
    for (int i = 0; i < 4; i++) free(copy[i]);
  }
}

static void parse_json(ann_file *f, const char *data, size_t len, const ann_columns *cols) {
  const char *end_parse = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(data, len, &end_parse, 0);
  if (!root) {
    const char *at = end_parse && end_parse >= data && end_parse <= data + len ? end_parse : data;
    char near[24];
    size_t nl = (size_t)(data + len - at) < 20 ? (size_t)(data + len - at) : 20;
    memcpy(near, at, nl);
    near[nl] = 0;
    for (char *q = near; *q; q++)
      if (*q == '\n' || *q == '\r' || *q == '\t') *q = ' ';
    add_error(f, line_at(data, at), "JSON syntax error near \"%s\"", nl ? near : "end of file");
    return;
  }
  const char *rest = js_ws(end_parse, data + len);
  if (rest < data + len) {
    add_error(f, line_at(data, rest), "unexpected text after the JSON document");
    cJSON_Delete(root);
    return;
  }
  const cJSON *arr = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "annotations") : NULL;
  if (!cJSON_IsArray(arr)) {
    add_error(f, 1, "expected {\"annotations\": [...]}");
    cJSON_Delete(root);
    return;
  }
  size_t n = (size_t)cJSON_GetArraySize(arr);
  const char **starts = malloc((n ? n : 1) * sizeof *starts);
  if (!starts) {
    f->nomem = 1;
    cJSON_Delete(root);
    return;
  }
  size_t found = js_element_starts(data, data + len, starts, n);
  /* Line numbers grow monotonically, so count newlines incrementally. */
  const char *pos = data;
  int line = 1, i = 0;
  for (const cJSON *o = arr->child; o; o = o->next, i++) {
    int at_line = 1;
    if (found == n) {
      for (; pos < starts[i]; pos++) line += *pos == '\n';
      at_line = line;
    }
    json_record(f, o, at_line, cols);
  }
  free(starts);
  cJSON_Delete(root);
}

/* ----------------------------------------------------------------- entry */

static ann_format sniff(const char *name, const char *data, size_t len) {
  const char *dot = strrchr(name, '.');
  if (dot && !strcasecmp(dot, ".csv")) return ANN_CSV;
  if (dot && (!strcasecmp(dot, ".tsv") || !strcasecmp(dot, ".tab"))) return ANN_TSV;
  if (dot && !strcasecmp(dot, ".json")) return ANN_JSON;
  const char *p = js_ws(data, data + len);
  if (p < data + len && (*p == '{' || *p == '[')) return ANN_JSON;
  for (const char *q = data; q < data + len && *q != '\n'; q++)
    if (*q == '\t') return ANN_TSV;
  return ANN_CSV;
}

clap_status ann_format_from_name(const char *s, ann_format *out, clap_error *err) {
  if (s && !strcmp(s, "csv")) return *out = ANN_CSV, CLAP_OK;
  if (s && !strcmp(s, "tsv")) return *out = ANN_TSV, CLAP_OK;
  if (s && !strcmp(s, "json")) return *out = ANN_JSON, CLAP_OK;
  return clap_error_set(err, CLAP_ERR_ARG, "format \"%s\": expected csv, tsv or json",
                        s ? s : "(null)");
}

clap_status ann_parse(const char *name, const char *data, size_t len, ann_format format,
                      const ann_columns *cols, ann_file **out, clap_error *err) {
  *out = NULL;
  if (!name || (!data && len)) return clap_error_set(err, CLAP_ERR_ARG, "ann_parse: no name or data");
  if (format < ANN_AUTO || format > ANN_JSON)
    return clap_error_set(err, CLAP_ERR_ARG, "%s: unknown format %d", name, (int)format);
  ann_file *f = calloc(1, sizeof *f);
  if (!f || !(f->name = strdup(name))) {
    free(f);
    return clap_error_set(err, CLAP_ERR_NOMEM, "%s: out of memory", name);
  }
  if (!data) data = "";
  /* Offsets in messages count from the file's first byte, BOM included. */
  size_t line, bad_at = fileio_utf8_invalid_at(data, len, &line);
  size_t bom = len >= 3 && !memcmp(data, "\xEF\xBB\xBF", 3) ? 3 : 0;
  data += bom, len -= bom;
  f->format = format == ANN_AUTO ? sniff(name, data, len) : format;
  const char *nul = memchr(data, 0, len);
  if (len >= 2 && (!memcmp(data, "\xFF\xFE", 2) || !memcmp(data, "\xFE\xFF", 2)))
    add_error(f, 0, "the file is UTF-16; save it as UTF-8");
  else if (bad_at < len + bom)
    add_error(f, (int)line, "invalid UTF-8 at byte offset %zu (byte 0x%02x); save the file as UTF-8",
              bad_at, (unsigned char)data[bad_at - bom]);
  else if (nul)
    add_error(f, line_at(data, nul), "NUL byte in the text (is this a text file?)");
  else if (f->format == ANN_JSON) parse_json(f, data, len, cols);
  else parse_delimited(f, data, len, f->format == ANN_TSV ? '\t' : ',', cols);
  if (f->nomem) {
    ann_free(f);
    return clap_error_set(err, CLAP_ERR_NOMEM, "%s: out of memory", name);
  }
  *out = f;
  return CLAP_OK;
}

clap_status ann_read_file(const char *path, ann_format format, const ann_columns *cols,
                          ann_file **out, clap_error *err) {
  *out = NULL;
  unsigned char *buf;
  size_t len;
  clap_status st = fileio_read(path, ANN_MAX_FILE_BYTES, &buf, &len, err);
  if (st == CLAP_ERR_NOTFOUND) /* the header promises IO for every unreadable file */
    st = err ? (err->code = CLAP_ERR_IO) : CLAP_ERR_IO;
  if (st) return st;
  st = ann_parse(path, (const char *)buf, len, format, cols, out, err);
  free(buf);
  return st;
}

void ann_free(ann_file *f) {
  if (!f) return;
  for (size_t i = 0; i < f->n; i++) {
    free((char *)f->rec[i].utterance);
    free((char *)f->rec[i].annotator);
    free((char *)f->rec[i].dimension);
  }
  for (size_t i = 0; i < f->kept; i++) free(f->err_msg[i]);
  free(f->rec);
  free(f->err_msg);
  free(f->err_line);
  free(f->name);
  free(f);
}

const char *ann_name(const ann_file *f) { return f->name; }
ann_format ann_file_format(const ann_file *f) { return f->format; }
size_t ann_count(const ann_file *f) { return f->n; }
const ann_record *ann_record_at(const ann_file *f, size_t i) { return i < f->n ? &f->rec[i] : NULL; }
size_t ann_error_count(const ann_file *f) { return f->n_err; }
size_t ann_error_kept(const ann_file *f) { return f->kept; }
const char *ann_error_at(const ann_file *f, size_t i, int *line) {
  if (i >= f->kept) return NULL;
  if (line) *line = f->err_line[i];
  return f->err_msg[i];
}
