/*
** clap report — the paper's Table III from the evaluations table.
**
**   clap report DB [--run R] [--html FILE]
**
** Markdown on stdout: Table III laid out as in the paper (Random,
** Supervised [Baseline], Zero-shot (1)(2)(3) x no augmentation /
** augmentation by paraphrasing; WA, UA, recall No / Yes in percent) from the
** run's pooled rows, the sign tests against the baseline, a per-fold UA
** table, and the evaluations row id behind every number. --html writes a
** self-contained page with the same tables and inline SVG charts: UA per arm
** with the per-fold spread, the baseline's ROC on the held-out utterances
** with its Youden point and its operating point, and the purchase-intention
** label balance per session. The run defaults to the latest one.
** Exit 0 ok, 1 failure (no such run, no pooled rows), 2 usage.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "commands.h"
#include "db.h"
#include "metrics.h"

static const char report_usage[] =
    "usage: clap report DB [--run R] [--html FILE]\n"
    "\n"
    "Print Table III (Markdown) of an evaluation run (default: the latest) and\n"
    "optionally write an HTML page with charts.\n";

#define NARMS 8 /* random, baseline, zs1..3 none, zs1..3 para */

typedef struct cell {
  int id; /* evaluations row id, 0 = none */
  int n;
  double wa, ua, rno, ryes; /* NaN when NULL */
  double p;                 /* sign test vs baseline, NaN when none */
  char *details;
} cell;

typedef struct report {
  sqlite3 *db;
  char run[256];
  cell pooled[NARMS];
  char *prompt[4];  /* "neg / pos" per prompt set */
  char **folds;
  int nfolds;
  double *fold_ua;  /* nfolds x NARMS, NaN when missing */
  int *fold_id;
} report;

static int arm_index(const char *arm, int ps, int aug) {
  if (!strcmp(arm, "random")) return 0;
  if (!strcmp(arm, "baseline")) return 1;
  if (!strcmp(arm, "zero-shot") && ps >= 1 && ps <= 3 && (aug == 0 || aug == 1))
    return 2 + aug * 3 + (ps - 1);
  return -1;
}

static const char *arm_label(int i) {
  static const char *const l[NARMS] = {"Random", "Baseline", "ZS(1)", "ZS(2)", "ZS(3)",
                                       "ZS(1)+para", "ZS(2)+para", "ZS(3)+para"};
  return l[i];
}

static double col(sqlite3_stmt *st, int i) {
  return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

static clap_status load_report(report *r, const char *run, clap_error *err) {
  sqlite3_stmt *st;
  if (!run) {
    if (sqlite3_prepare_v2(r->db, "SELECT run FROM evaluations ORDER BY id DESC LIMIT 1", -1, &st,
                           NULL) != SQLITE_OK)
      return clap_error_set(err, CLAP_ERR_INTERNAL, "%s", sqlite3_errmsg(r->db));
    if (sqlite3_step(st) == SQLITE_ROW)
      snprintf(r->run, sizeof r->run, "%s", sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (!r->run[0])
      return clap_error_set(err, CLAP_ERR_NOTFOUND, "no evaluations yet (run `clap eval` first)");
  } else {
    snprintf(r->run, sizeof r->run, "%s", run);
  }
  for (int i = 0; i < NARMS; i++) r->pooled[i].wa = NAN;
  if (sqlite3_prepare_v2(r->db,
                         "SELECT id, fold, arm, coalesce(prompt_set,0), coalesce(augment,-1), n, "
                         "wa, ua, recall_no, recall_yes, json_extract(details,'$.sign_test.p'), "
                         "details FROM evaluations WHERE run=? ORDER BY fold='pooled', fold, id",
                         -1, &st, NULL) != SQLITE_OK)
    return clap_error_set(err, CLAP_ERR_INTERNAL, "%s", sqlite3_errmsg(r->db));
  sqlite3_bind_text(st, 1, r->run, -1, SQLITE_STATIC);
  int have_pooled = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *fold = (const char *)sqlite3_column_text(st, 1);
    int a = arm_index((const char *)sqlite3_column_text(st, 2), sqlite3_column_int(st, 3),
                      sqlite3_column_int(st, 4));
    if (a < 0) continue;
    if (!strcmp(fold, "pooled")) {
      cell *c = &r->pooled[a];
      c->id = sqlite3_column_int(st, 0);
      c->n = sqlite3_column_int(st, 5);
      c->wa = col(st, 6), c->ua = col(st, 7), c->rno = col(st, 8), c->ryes = col(st, 9);
      c->p = col(st, 10);
      c->details = strdup((const char *)sqlite3_column_text(st, 11));
      have_pooled = 1;
      continue;
    }
    int f = 0;
    while (f < r->nfolds && strcmp(r->folds[f], fold)) f++;
    if (f == r->nfolds) {
      r->folds = realloc(r->folds, (size_t)(f + 1) * sizeof *r->folds);
      r->fold_ua = realloc(r->fold_ua, (size_t)(f + 1) * NARMS * sizeof *r->fold_ua);
      r->fold_id = realloc(r->fold_id, (size_t)(f + 1) * NARMS * sizeof *r->fold_id);
      if (!r->folds || !r->fold_ua || !r->fold_id) break;
      r->folds[f] = strdup(fold);
      for (int j = 0; j < NARMS; j++) r->fold_ua[f * NARMS + j] = NAN, r->fold_id[f * NARMS + j] = 0;
      r->nfolds++;
    }
    r->fold_ua[f * NARMS + a] = col(st, 7);
    r->fold_id[f * NARMS + a] = sqlite3_column_int(st, 0);
  }
  sqlite3_finalize(st);
  if (!have_pooled)
    return clap_error_set(err, CLAP_ERR_NOTFOUND, "no pooled evaluations for run '%s'", r->run);
  if (sqlite3_prepare_v2(r->db,
                         "SELECT prompt_set, group_concat(text, ' / ') FROM (SELECT prompt_set, "
                         "text FROM descriptions WHERE source='prompt' AND dimension="
                         "'purchase_intention' ORDER BY prompt_set, pole, id) GROUP BY prompt_set",
                         -1, &st, NULL) == SQLITE_OK)
    while (sqlite3_step(st) == SQLITE_ROW) {
      int s = sqlite3_column_int(st, 0);
      if (s >= 1 && s <= 3) r->prompt[s] = strdup((const char *)sqlite3_column_text(st, 1));
    }
  sqlite3_finalize(st);
  return CLAP_OK;
}

static void pct(FILE *f, double v) {
  if (isfinite(v)) fprintf(f, "%.1f", 100 * v);
  else fputs("-", f);
}

static void cells(FILE *f, const cell *c, const char *sep, const char *end) {
  if (!c || !c->id) {
    for (int i = 0; i < 4; i++) fprintf(f, "%s-", sep);
    fputs(end, f);
    return;
  }
  fputs(sep, f), pct(f, c->wa);
  fputs(sep, f), pct(f, c->ua);
  fputs(sep, f), pct(f, c->rno);
  fputs(sep, f), pct(f, c->ryes);
  fputs(end, f);
}

static int pooled_n(const report *r) { return r->pooled[1].id ? r->pooled[1].n : r->pooled[0].n; }

static void markdown(FILE *f, const report *r) {
  fprintf(f, "## Table III: WA, UA and the recall of purchase intention (%%)\n\n");
  fprintf(f, "Run `%s`, leave one session out, pooled over %d folds, n = %d held-out customer "
          "utterances.\n\n", r->run, r->nfolds, pooled_n(r));
  fprintf(f, "| | Text indicating classes | No aug. WA | UA | No | Yes | Paraphrase aug. WA | UA | "
          "No | Yes |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  fprintf(f, "| Random | - ");
  cells(f, &r->pooled[0], " | ", "");
  cells(f, NULL, " | ", " |\n");
  fprintf(f, "| Supervised [Baseline] | - ");
  cells(f, &r->pooled[1], " | ", "");
  cells(f, NULL, " | ", " |\n");
  for (int s = 1; s <= 3; s++) {
    fprintf(f, "| %s | (%d) %s ", s == 1 ? "Zero-shot [Ours]" : "", s, r->prompt[s] ? r->prompt[s] : "?");
    cells(f, &r->pooled[1 + s], " | ", "");
    cells(f, &r->pooled[4 + s], " | ", " |\n");
  }
  fprintf(f, "\nTwo-tailed exact sign test against the baseline (pooled per-utterance "
          "correctness): ");
  for (int a = 2; a < NARMS; a++)
    fprintf(f, "%s p = %.3g%s", arm_label(a), r->pooled[a].p, a + 1 < NARMS ? "; " : ".\n");
  fprintf(f, "\nUA per fold (%%):\n\n| fold |");
  for (int a = 0; a < NARMS; a++) fprintf(f, " %s |", arm_label(a));
  fprintf(f, "\n|---|");
  for (int a = 0; a < NARMS; a++) fprintf(f, "---:|");
  fprintf(f, "\n");
  for (int i = 0; i < r->nfolds; i++) {
    fprintf(f, "| %s |", r->folds[i]);
    for (int a = 0; a < NARMS; a++) fputs(" ", f), pct(f, r->fold_ua[i * NARMS + a]), fputs(" |", f);
    fprintf(f, "\n");
  }
  fprintf(f, "\nSources (evaluations.id of the pooled rows): ");
  for (int a = 0; a < NARMS; a++)
    fprintf(f, "%s #%d%s", arm_label(a), r->pooled[a].id, a + 1 < NARMS ? ", " : ".\n");
}

/* ------------------------------------------------------------------ HTML */

static void html_escape(FILE *f, const char *s) {
  for (; s && *s; s++) {
    if (*s == '<') fputs("&lt;", f);
    else if (*s == '>') fputs("&gt;", f);
    else if (*s == '&') fputs("&amp;", f);
    else if (*s == '"') fputs("&quot;", f);
    else if (*s == '\'') fputs("&#39;", f);
    else fputc(*s, f);
  }
}

static void html_table(FILE *f, const report *r) {
  fputs("<table><tr><th></th><th>Text indicating classes</th><th colspan=4>No augmentation</th>"
        "<th colspan=4>Augmentation by paraphrasing</th></tr>"
        "<tr><th></th><th></th><th>WA</th><th>UA</th><th>No</th><th>Yes</th><th>WA</th>"
        "<th>UA</th><th>No</th><th>Yes</th></tr>\n",
        f);
  fprintf(f, "<tr><td>Random</td><td>-</td>");
  cells(f, &r->pooled[0], "<td>", "");
  cells(f, NULL, "<td>", "</tr>\n");
  fprintf(f, "<tr><td>Supervised [Baseline]</td><td>-</td>");
  cells(f, &r->pooled[1], "<td>", "");
  cells(f, NULL, "<td>", "</tr>\n");
  for (int s = 1; s <= 3; s++) {
    fprintf(f, "<tr><td>%s</td><td>(%d) ", s == 1 ? "Zero-shot [Ours]" : "", s);
    html_escape(f, r->prompt[s]);
    fputs("</td>", f);
    cells(f, &r->pooled[1 + s], "<td>", "");
    cells(f, &r->pooled[4 + s], "<td>", "</tr>\n");
  }
  fputs("</table>\n<p class=src>Pooled rows (evaluations.id): ", f);
  for (int a = 0; a < NARMS; a++)
    fprintf(f, "%s #%d%s", arm_label(a), r->pooled[a].id, a + 1 < NARMS ? "; " : ".");
  fputs(" Two-tailed exact sign test against the baseline: ", f);
  for (int a = 2; a < NARMS; a++)
    fprintf(f, "%s p = %.3g%s", arm_label(a), r->pooled[a].p, a + 1 < NARMS ? "; " : ".");
  fputs("</p>\n", f);
}

#define W 640
#define H 300
#define M 40

static void svg_ua(FILE *f, const report *r) {
  fprintf(f, "<h2>UA per arm (bar: pooled; dots: folds)</h2>\n<svg width=%d height=%d "
          "viewBox='0 0 %d %d' xmlns='http://www.w3.org/2000/svg'>\n", W, H, W, H);
  double bw = (W - 2.0 * M) / NARMS;
  for (int t = 0; t <= 4; t++) {
    double y = H - M - t * (H - 2.0 * M) / 4;
    fprintf(f, "<line x1=%d y1=%.1f x2=%d y2=%.1f stroke='#ddd'/><text x=%d y=%.1f font-size=10 "
            "text-anchor=end>%d%%</text>\n", M, y, W - M, y, M - 4, y + 3, t * 25);
  }
  for (int a = 0; a < NARMS; a++) {
    double x = M + a * bw, ua = r->pooled[a].ua;
    if (isfinite(ua)) {
      double h = ua * (H - 2.0 * M);
      fprintf(f, "<rect x=%.1f y=%.1f width=%.1f height=%.1f fill='%s'><title>%s pooled UA "
              "%.1f%% (evaluations #%d)</title></rect>\n", x + 6, H - M - h, bw - 12, h,
              a == 0 ? "#bbb" : a == 1 ? "#e08a3c" : a < 5 ? "#4c78a8" : "#72b7b2", arm_label(a),
              100 * ua, r->pooled[a].id);
    }
    double lo = 2, hi = -1;
    for (int i = 0; i < r->nfolds; i++) {
      double v = r->fold_ua[i * NARMS + a];
      if (!isfinite(v)) continue;
      lo = v < lo ? v : lo, hi = v > hi ? v : hi;
      fprintf(f, "<circle cx=%.1f cy=%.1f r=3 fill='#222'><title>fold %s: %.1f%% (evaluations "
              "#%d)</title></circle>\n", x + bw / 2, H - M - v * (H - 2.0 * M), r->folds[i],
              100 * v, r->fold_id[i * NARMS + a]);
    }
    if (hi >= lo)
      fprintf(f, "<line x1=%.1f x2=%.1f y1=%.1f y2=%.1f stroke='#222'/>\n", x + bw / 2, x + bw / 2,
              H - M - lo * (H - 2.0 * M), H - M - hi * (H - 2.0 * M));
    fprintf(f, "<text x=%.1f y=%d font-size=10 text-anchor=middle>%s</text>\n", x + bw / 2,
            H - M + 14, arm_label(a));
  }
  fputs("</svg>\n", f);
}

static void svg_roc(FILE *f, const report *r) {
  fputs("<h2>Baseline ROC on the held-out utterances (pooled)</h2>\n", f);
  cJSON *d = cJSON_Parse(r->pooled[1].details ? r->pooled[1].details : "");
  cJSON *sc = cJSON_GetObjectItem(d, "score"), *tr = cJSON_GetObjectItem(d, "truth");
  int n = cJSON_GetArraySize(sc);
  double *s = malloc((size_t)(n ? n : 1) * sizeof *s);
  int *t = malloc((size_t)(n ? n : 1) * sizeof *t);
  metrics_roc_point *pts = NULL;
  int np = 0;
  double thr = 0, j = 0, auc = NAN;
  int ok = s && t && n == cJSON_GetArraySize(tr) && n > 0;
  for (int i = 0; ok && i < n; i++)
    s[i] = cJSON_GetArrayItem(sc, i)->valuedouble, t[i] = cJSON_GetArrayItem(tr, i)->valueint;
  if (ok) ok = metrics_roc(s, t, n, &pts, &np, NULL) == CLAP_OK;
  if (ok) ok = metrics_youden(s, t, n, &thr, &j, NULL) == CLAP_OK;
  if (ok) metrics_auc(s, t, n, &auc, NULL);
  if (!ok) {
    fputs("<p>No ROC: the held-out utterances need both classes and baseline scores.</p>\n", f);
  } else {
    int S = H - 2 * M;
    fprintf(f, "<svg width=%d height=%d xmlns='http://www.w3.org/2000/svg'>\n<rect x=%d y=%d "
            "width=%d height=%d fill='none' stroke='#999'/><line x1=%d y1=%d x2=%d y2=%d "
            "stroke='#ccc' stroke-dasharray='4'/>\n<polyline fill='none' stroke='#e08a3c' "
            "stroke-width=2 points='", S + 2 * M, H, M, M, S, S, M, M + S, M + S, M);
    for (int i = 0; i < np; i++)
      fprintf(f, "%.1f,%.1f ", M + pts[i].fpr * S, M + S - pts[i].tpr * S);
    fputs("'/>\n", f);
    static const char *const tick[3] = {"0", "0.5", "1"};
    for (int k = 0; k < 3; k++)
      fprintf(f, "<text x=%d y=%d font-size=10 text-anchor=middle>%s</text><text x=%d y=%d "
              "font-size=10 text-anchor=end>%s</text>\n", M + k * S / 2, M + S + 12, tick[k],
              M - 4, M + S - k * S / 2 + 3, tick[k]);
    for (int i = 0; i < np; i++)
      if (pts[i].threshold == thr)
        fprintf(f, "<circle cx=%.1f cy=%.1f r=5 fill='#c00'><title>Youden point: threshold "
                "%.4g, J = %.3f</title></circle>\n", M + pts[i].fpr * S, M + S - pts[i].tpr * S,
                thr, j);
    const cell *b = &r->pooled[1];
    if (isfinite(b->rno) && isfinite(b->ryes))
      fprintf(f, "<rect x=%.1f y=%.1f width=8 height=8 fill='#222'><title>operating point (the "
              "folds' training thresholds): recall No %.1f%%, Yes %.1f%%</title></rect>\n",
              M + (1 - b->rno) * S - 4, M + S - b->ryes * S - 4, 100 * b->rno, 100 * b->ryes);
    fprintf(f, "<text x=%d y=%d font-size=10 text-anchor=middle>false positive rate</text>"
            "<text x=12 y=%d font-size=10 transform='rotate(-90 12 %d)' text-anchor=middle>true "
            "positive rate</text></svg>\n<p>AUC %.3f (evaluations #%d). Red: Youden point of this "
            "curve; black: the operating point of the per-fold thresholds.</p>\n",
            M + S / 2, H - 8, M + S / 2, M + S / 2, auc, b->id);
  }
  free(pts);
  free(s);
  free(t);
  cJSON_Delete(d);
}

typedef struct balance_row {
  char *session;
  int cnt[3]; /* no, yes, excluded */
} balance_row;

/* Every session's counts (a corpus may have hundreds of sessions: the chart
** grows rather than dropping any). NULL when the query fails or memory runs out. */
static balance_row *balance_rows(sqlite3 *db, int *n_out) {
  sqlite3_stmt *st;
  *n_out = 0;
  if (sqlite3_prepare_v2(db,
                         "SELECT u.session_id, sum(l.label=0), sum(l.label=1), sum(l.label IS "
                         "NULL) FROM labels l JOIN utterances u ON u.id=l.utterance_id WHERE "
                         "l.dimension='purchase_intention' AND u.role='customer' GROUP BY 1 "
                         "ORDER BY 1",
                         -1, &st, NULL) != SQLITE_OK)
    return NULL;
  balance_row *row = NULL;
  int n = 0, cap = 0, ok = 1;
  while (ok && sqlite3_step(st) == SQLITE_ROW) {
    if (n == cap) {
      balance_row *g = realloc(row, sizeof *row * (size_t)(cap = cap ? 2 * cap : 16));
      if (!(ok = g != NULL)) break;
      row = g;
    }
    const char *id = (const char *)sqlite3_column_text(st, 0);
    if (!(ok = (row[n].session = strdup(id ? id : "")) != NULL)) break;
    for (int k = 0; k < 3; k++) row[n].cnt[k] = sqlite3_column_int(st, 1 + k);
    n++;
  }
  sqlite3_finalize(st);
  if (!ok) {
    for (int i = 0; i < n; i++) free(row[i].session);
    free(row);
    return NULL;
  }
  *n_out = n;
  return row;
}

static void svg_balance(FILE *f, sqlite3 *db) {
  fputs("<h2>Purchase-intention labels per session (customer utterances)</h2>\n", f);
  int n = 0, mx = 1;
  balance_row *row = balance_rows(db, &n);
  for (int i = 0; i < n; i++) {
    int tot = row[i].cnt[0] + row[i].cnt[1] + row[i].cnt[2];
    mx = tot > mx ? tot : mx;
  }
  static const char *const color[3] = {"#4c78a8", "#e45756", "#ccc"};
  static const char *const what[3] = {"no", "yes", "excluded (= threshold)"};
  fprintf(f, "<svg width=%d height=%d xmlns='http://www.w3.org/2000/svg'>\n", W, 40 + 22 * n);
  for (int i = 0; i < n; i++) {
    double x = 60;
    fprintf(f, "<text x=54 y=%d font-size=11 text-anchor=end>", 34 + 22 * i);
    html_escape(f, row[i].session);
    fputs("</text>\n", f);
    for (int k = 0; k < 3; k++) {
      double w = (double)row[i].cnt[k] / mx * (W - 100);
      fprintf(f, "<rect x=%.1f y=%d width=%.1f height=16 fill='%s'><title>", x, 22 + 22 * i, w,
              color[k]);
      html_escape(f, row[i].session);
      fprintf(f, ": %d %s</title></rect>\n", row[i].cnt[k], what[k]);
      x += w;
    }
    free(row[i].session);
  }
  free(row);
  for (int k = 0; k < 3; k++)
    fprintf(f, "<rect x=%d y=4 width=10 height=10 fill='%s'/><text x=%d y=13 font-size=11>%s"
            "</text>\n", 60 + 150 * k, color[k], 74 + 150 * k, what[k]);
  fputs("</svg>\n", f);
}

static int write_html(const report *r, const char *path) {
  FILE *f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "clap report: cannot write %s\n", path);
    return -1;
  }
  fputs("<!doctype html><html><head><meta charset='utf-8'><title>sqlite-clap: Table III</title>"
        "<style>body{font-family:sans-serif;max-width:900px;margin:2em auto}table{border-collapse:"
        "collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:nth-child(2)"
        "{text-align:left}.src{font-size:small;color:#555}</style></head><body>\n",
        f);
  fputs("<h1>Purchase intention: Table III</h1>\n<p>Run <code>", f);
  html_escape(f, r->run);
  fprintf(f, "</code>, leave one session out, pooled over %d folds, n = %d. Percentages; "
          "hover a bar or dot for its evaluations row.</p>\n", r->nfolds, pooled_n(r));
  html_table(f, r);
  svg_ua(f, r);
  svg_roc(f, r);
  svg_balance(f, r->db);
  fputs("</body></html>\n", f);
  return fclose(f) == 0 ? 0 : -1;
}

enum { OPT_RUN = CLI_OPT, OPT_HTML };
static const struct option report_opts[] = {
    CLI_HELP_OPTION,
    {"run", required_argument, NULL, OPT_RUN},
    {"html", required_argument, NULL, OPT_HTML},
    {0}};

int cmd_report(int argc, char **argv) {
  const char *path = NULL, *run = NULL, *html = NULL;
  cli c = {.cmd = "clap report", .help = report_usage};
  for (int o; (o = cli_next(&c, argc, argv, "", report_opts)) != CLI_END;)
    if (o == CLI_EXIT) return c.status;
    else if (o == OPT_RUN) run = optarg;
    else html = optarg;
  static const char *const operands[] = {"database", NULL};
  if (cli_operands(&c, argc, argv, operands, 1, 1)) return 2;
  path = argv[optind];
  report r;
  memset(&r, 0, sizeof r);
  clap_error err;
  if (db_open(path, 0, &r.db, &err) != CLAP_OK) {
    fprintf(stderr, "clap report: %s\n", err.msg);
    return 1;
  }
  int status = 0;
  if (load_report(&r, run, &err) != CLAP_OK) {
    fprintf(stderr, "clap report: %s\n", err.msg);
    status = 1;
  } else {
    markdown(stdout, &r);
    if (html) {
      if (write_html(&r, html)) status = 1;
      else printf("\nHTML report: %s\n", html);
    }
  }
  for (int i = 0; i < NARMS; i++) free(r.pooled[i].details);
  for (int i = 0; i < 4; i++) free(r.prompt[i]);
  for (int i = 0; i < r.nfolds; i++) free(r.folds[i]);
  free(r.folds);
  free(r.fold_ua);
  free(r.fold_id);
  db_close(r.db);
  return status;
}
