/* report_calls — see report_calls.h. */
#include "report_calls.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SVG_W 760
#define SVG_H 260
#define PAD_L 48
#define PAD_R 150
#define PAD_T 16
#define PAD_B 36

typedef struct point {
  char *session, *utt, *role;
  int channel; /* -1 = mix */
  double start, p;
} point;

typedef struct calls {
  point *pts;
  long n, cap;
} calls;

static void calls_free(calls *c) {
  for (long i = 0; i < c->n; i++) free(c->pts[i].session), free(c->pts[i].utt), free(c->pts[i].role);
  free(c->pts);
}

static char *dup_col(sqlite3_stmt *st, int i) {
  const char *s = (const char *)sqlite3_column_text(st, i);
  return strdup(s ? s : "");
}

static clap_status check_timeline(sqlite3 *db, const char *name, clap_error *err) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db,
                              "SELECT (SELECT count(*) FROM timelines WHERE name = ?1), "
                              "(SELECT group_concat(name, ', ') FROM (SELECT name FROM timelines ORDER BY name))",
                              -1, &st, NULL);
  if (rc == SQLITE_OK) sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  if (rc == SQLITE_OK) rc = sqlite3_step(st);
  clap_status s = CLAP_OK;
  if (rc != SQLITE_ROW)
    s = clap_error_set(err, CLAP_ERR_IO, "reading timelines: %s", sqlite3_errmsg(db));
  else if (sqlite3_column_int(st, 0) == 0)
    s = clap_error_set(err, CLAP_ERR_NOTFOUND, "no timeline named '%s' in the timelines table (there: %s)",
                       name, sqlite3_column_text(st, 1) ? (const char *)sqlite3_column_text(st, 1) : "none");
  sqlite3_finalize(st);
  return s;
}

static int wanted(const char *session, const char *const *sessions, int n) {
  if (n == 0) return 1;
  for (int i = 0; i < n; i++)
    if (!strcmp(sessions[i], session)) return 1;
  return 0;
}

static clap_status load(sqlite3 *db, const char *timeline, const char *const *sessions, int ns,
                        calls *c, clap_error *err) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db,
                              "SELECT session_id, utterance_id, role, channel, start_seconds, "
                              "p_positive FROM call_timeline WHERE timeline = ?1 "
                              "ORDER BY session_id, channel, start_seconds, utterance_id",
                              -1, &st, NULL);
  if (rc == SQLITE_OK) sqlite3_bind_text(st, 1, timeline, -1, SQLITE_STATIC);
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    rc = SQLITE_OK;
    const char *sid = (const char *)sqlite3_column_text(st, 0);
    if (!sid || !wanted(sid, sessions, ns)) continue;
    if (c->n == c->cap) {
      long cap = c->cap ? c->cap * 2 : 256;
      point *p = realloc(c->pts, sizeof *p * (size_t)cap);
      if (!p) {
        sqlite3_finalize(st);
        return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
      }
      c->pts = p, c->cap = cap;
    }
    point *p = &c->pts[c->n++];
    p->session = dup_col(st, 0), p->utt = dup_col(st, 1), p->role = dup_col(st, 2);
    p->channel = sqlite3_column_type(st, 3) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 3);
    p->start = sqlite3_column_double(st, 4);
    p->p = sqlite3_column_double(st, 5);
  }
  clap_status s = CLAP_OK;
  if (rc != SQLITE_DONE)
    s = clap_error_set(err, CLAP_ERR_IO, "timeline '%s': %s", timeline, sqlite3_errmsg(db));
  else if (c->n == 0)
    s = clap_error_set(err, CLAP_ERR_NOTFOUND, "no utterances%s to put on a timeline",
                       ns ? " in the sessions given" : "");
  sqlite3_finalize(st);
  return s;
}

void report_html_escape(FILE *f, const char *s) {
  for (; s && *s; s++) {
    if (*s == '<') fputs("&lt;", f);
    else if (*s == '>') fputs("&gt;", f);
    else if (*s == '&') fputs("&amp;", f);
    else if (*s == '"') fputs("&quot;", f);
    else if (*s == '\'') fputs("&#39;", f);
    else fputc(*s, f);
  }
}

static void md_cell(FILE *f, const char *s) {
  for (; s && *s; s++) {
    if (*s == '|' || *s == '\\' || *s == '`') fputc('\\', f);
    fputc(*s == '\n' ? ' ' : *s, f);
  }
}

static void channel_name(char *buf, size_t n, int ch) {
  if (ch < 0) snprintf(buf, n, "mix");
  else snprintf(buf, n, "channel %d", ch);
}

/* Markdown: one row per session and channel; points are sorted that way. */
static void markdown(FILE *f, const char *timeline, const calls *c) {
  fprintf(f, "## Call timelines: ");
  md_cell(f, timeline);
  fprintf(f, "\n\n| session | channel | role | utterances | mean P(positive) | last P(positive) |\n"
             "|---|---|---|---:|---:|---:|\n");
  for (long i = 0; i < c->n;) {
    long j = i;
    double sum = 0;
    while (j < c->n && !strcmp(c->pts[j].session, c->pts[i].session) &&
           c->pts[j].channel == c->pts[i].channel)
      sum += c->pts[j++].p;
    char ch[32];
    channel_name(ch, sizeof ch, c->pts[i].channel);
    fputs("| ", f);
    md_cell(f, c->pts[i].session);
    fprintf(f, " | %s | ", ch);
    md_cell(f, c->pts[i].role);
    fprintf(f, " | %ld | %.3f | %.3f |\n", j - i, sum / (double)(j - i), c->pts[j - 1].p);
    i = j;
  }
}

static const char *const colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"};

/* One session's SVG: points [a, b) of c. */
static void svg_session(FILE *f, const calls *c, long a, long b) {
  double tmax = 1;
  for (long i = a; i < b; i++)
    if (c->pts[i].start > tmax) tmax = c->pts[i].start;
  tmax = ceil(tmax / 10) * 10;
  double w = SVG_W - PAD_L - PAD_R, h = SVG_H - PAD_T - PAD_B;
  fputs("<h2>", f);
  report_html_escape(f, c->pts[a].session);
  fprintf(f, "</h2>\n<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' "
             "role='img'><g font-size='11'>\n", SVG_W, SVG_H);
  fprintf(f, "<rect x='%d' y='%d' width='%.0f' height='%.0f' fill='none' stroke='#999'/>\n",
          PAD_L, PAD_T, w, h);
  for (int k = 0; k <= 4; k++) {
    double y = PAD_T + h - h * k / 4;
    fprintf(f, "<line x1='%d' x2='%.0f' y1='%.1f' y2='%.1f' stroke='#eee'/>"
               "<text x='%d' y='%.1f' text-anchor='end'>%.2f</text>\n",
            PAD_L, PAD_L + w, y, y, PAD_L - 4, y + 4, k / 4.0);
  }
  for (int k = 0; k <= 5; k++)
    fprintf(f, "<text x='%.1f' y='%d' text-anchor='middle'>%.0f s</text>\n", PAD_L + w * k / 5,
            SVG_H - PAD_B + 16, tmax * k / 5);
  fprintf(f, "<text x='12' y='%d' transform='rotate(-90 12 %d)' text-anchor='middle'>P(positive)</text>\n",
          PAD_T + (int)h / 2, PAD_T + (int)h / 2);
  int line = 0;
  for (long i = a; i < b; line++) {
    long j = i;
    while (j < b && c->pts[j].channel == c->pts[i].channel) j++;
    const char *col = colours[line % 6];
    char ch[32];
    channel_name(ch, sizeof ch, c->pts[i].channel);
    fprintf(f, "<polyline fill='none' stroke='%s' stroke-width='1.5' points='", col);
    for (long k = i; k < j; k++)
      fprintf(f, "%.1f,%.1f ", PAD_L + w * c->pts[k].start / tmax, PAD_T + h * (1 - c->pts[k].p));
    fputs("'/>\n", f);
    for (long k = i; k < j; k++) {
      fprintf(f, "<circle cx='%.1f' cy='%.1f' r='3' fill='%s'><title>",
              PAD_L + w * c->pts[k].start / tmax, PAD_T + h * (1 - c->pts[k].p), col);
      report_html_escape(f, c->pts[k].utt);
      fputs(" (", f);
      report_html_escape(f, c->pts[k].role);
      fprintf(f, ") at %.2f s: P = %.3f</title></circle>\n", c->pts[k].start, c->pts[k].p);
    }
    fprintf(f, "<rect x='%.0f' y='%d' width='12' height='3' fill='%s'/><text x='%.0f' y='%d'>%s (",
            PAD_L + w + 10, PAD_T + 8 + 16 * line, col, PAD_L + w + 26, PAD_T + 12 + 16 * line, ch);
    report_html_escape(f, c->pts[i].role);
    fputs(")</text>\n", f);
    i = j;
  }
  fputs("</g></svg>\n", f);
}

static clap_status html(const char *path, const char *timeline, const calls *c, clap_error *err) {
  FILE *f = fopen(path, "w");
  if (!f) return clap_error_set(err, CLAP_ERR_IO, "cannot write %s", path);
  fputs("<!doctype html><html><head><meta charset='utf-8'><title>sqlite-clap: call timelines"
        "</title><style>body{font-family:sans-serif;max-width:800px;margin:2em auto}</style>"
        "</head><body>\n<h1>Call timelines: ", f);
  report_html_escape(f, timeline);
  fputs("</h1>\n<p>Each dot is an utterance at its start time; its height is the zero-shot "
        "probability of the timeline's positive sentence. Hover a dot for the utterance.</p>\n", f);
  for (long i = 0; i < c->n;) {
    long j = i;
    while (j < c->n && !strcmp(c->pts[j].session, c->pts[i].session)) j++;
    svg_session(f, c, i, j);
    i = j;
  }
  fputs("</body></html>\n", f);
  if (fclose(f) != 0) return clap_error_set(err, CLAP_ERR_IO, "cannot write %s", path);
  return CLAP_OK;
}

clap_status report_calls(sqlite3 *db, const char *timeline, const char *const *sessions,
                         int nsessions, FILE *out, const char *html_path, clap_error *err) {
  calls c = {0};
  clap_status rc = check_timeline(db, timeline, err);
  if (!rc) rc = load(db, timeline, sessions, nsessions, &c, err);
  if (!rc) markdown(out, timeline, &c);
  if (!rc && html_path) rc = html(html_path, timeline, &c, err);
  calls_free(&c);
  return rc;
}
