/*
** clap report — the paper's Table III from the evaluations table.
**
**   clap report DB [--run R] [--html FILE] [--quality FILE.json]
**   clap report DB --calls [--timeline NAME] [--session S]... [--html FILE]
**
** Markdown on stdout: Table III laid out as in the paper (Random,
** Supervised [Baseline], one Zero-shot row per prompt set x no augmentation /
** augmentation by paraphrasing; WA, UA, recall No / Yes in percent) from the
** run's pooled rows, the sign tests against the baseline, a per-fold UA
** table, and the evaluations row id behind every number. The prompt sets are
** whatever the run evaluated (clap eval: 1..3 the Table III pairs, 4 their
** ensemble, 5.. the pairs of --prompts), each named by the label its rows
** record. --html writes a self-contained page (lang="ja", a CJK-capable font
** stack) with the same tables, the provenance (date, clap version, encoders
** and their identities, training settings, database), and inline SVG charts
** — UA per arm with the per-fold spread, the baseline's ROC on the held-out
** utterances, the purchase-intention label balance per session — each with
** axis titles, a legend and a table of its values underneath. Every text put
** into the page is escaped. --quality FILE adds the figures of
** tests/bench/quality.py --json (latent recovery r, supervised UA per
** emotion) as a small table. The run defaults to the latest one.
** With --calls the report is per call instead (pipeline/report_calls.h):
** each session's utterances scored by the timeline NAME (default
** purchase_intention, a row of the timelines table) over time, one line per
** channel, as Markdown and, with --html, as SVG charts; no evaluation run is
** needed.
** Exit 0 ok, 1 failure (no such run, no pooled rows, unreadable --quality or
** unwritable --html), 2 usage.
*/
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "clap_version.h"
#include "commands.h"
#include "db.h"
#include "fileio.h"
#include "metrics.h"
#include "report_calls.h"

static const char report_usage[] =
    "usage: clap report DB [--run R] [--html FILE] [--quality FILE.json]\n"
    "       clap report DB --calls [--timeline NAME] [--session S]... [--html FILE]\n"
    "\n"
    "Print Table III (Markdown) of an evaluation run (default: the latest) and\n"
    "optionally write an HTML page with charts.\n"
    "  --run R            the run (default: the latest)\n"
    "  --html FILE        also write the HTML page to FILE\n"
    "  --quality FILE     add the figures of tests/bench/quality.py --json to the page\n"
    "  --calls            per-call timelines of P(positive) instead of Table III\n"
    "  --timeline NAME    the timeline (a row of timelines; default purchase_intention)\n"
    "  --session S        only session S (repeatable; default: every session)\n";

typedef struct cell {
  int id; /* evaluations row id, 0 = none */
  int n;
  double wa, ua, rno, ryes; /* NaN when NULL */
  double p;                 /* sign test vs baseline, NaN when none */
  char *details;
} cell;

/* One prompt set of the run: its pooled cells without / with paraphrases. */
typedef struct pset {
  int ps;
  char *label;
  cell c[2];
} pset;

typedef struct report {
  sqlite3 *db;
  const char *path;
  char run[256];
  cell random, baseline;
  pset *sets;
  int nsets;
  int ncols;        /* 2 + 2 * nsets: random, baseline, ZS(k), ZS(k)+para ... */
  char **folds;
  int nfolds;
  double *fold_ua;  /* nfolds x ncols, NaN when missing */
  int *fold_id;
  int *fold_cnt;    /* nfolds x 2: held-out No / Yes (from the baseline row) */
  char *config_key; /* of the run's first fold row */
  int nkeys;        /* distinct settings keys among the fold rows */
  char *evaluated;  /* the latest created_at */
  char *pooled_config;    /* "audio_encoder acoustic, ..., epochs 40, ..." the pooled rows' settings, or NULL */
  char pooled_digest[13]; /* the start of their inputs digest, or "" */
} report;

/* A fold whose held-out utterances have one class only (counts from its
** baseline row): "no" / "yes", else NULL. */
static const char *fold_one_class(const report *r, int i) {
  int no = r->fold_cnt[2 * i], yes = r->fold_cnt[2 * i + 1];
  if (no < 0 || (no > 0 && yes > 0)) return NULL;
  return no > 0 ? "no" : yes > 0 ? "yes" : NULL;
}

/* "t3" or "t3 (one class: yes)" */
static const char *fold_label(const report *r, int i, char *buf, size_t cap) {
  const char *one = fold_one_class(r, i);
  if (!one) return r->folds[i];
  snprintf(buf, cap, "%s (one class: %s)", r->folds[i], one);
  return buf;
}

static int any_one_class(const report *r) {
  for (int i = 0; i < r->nfolds; i++)
    if (fold_one_class(r, i)) return 1;
  return 0;
}

static const char one_class_note[] =
    "A fold marked \"one class\" has held-out utterances of that class only: its UA is the recall of that "
    "one class, not a mean over two; the pooled rows count its utterances like any other fold's.";

static double col(sqlite3_stmt *st, int i) {
  return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

static char *dup_text(sqlite3_stmt *st, int i) {
  const char *s = (const char *)sqlite3_column_text(st, i);
  return strdup(s ? s : "");
}

/* Column of an arm, -1 for an arm this report does not show. */
static int column(const report *r, const char *arm, int ps, int aug) {
  if (!strcmp(arm, "random")) return 0;
  if (!strcmp(arm, "baseline")) return 1;
  if (strcmp(arm, "zero-shot") || (aug != 0 && aug != 1)) return -1;
  for (int k = 0; k < r->nsets; k++)
    if (r->sets[k].ps == ps) return 2 + 2 * k + aug;
  return -1;
}

static cell *cell_at(report *r, int c) {
  return c == 0 ? &r->random : c == 1 ? &r->baseline : &r->sets[(c - 2) / 2].c[(c - 2) % 2];
}

static void col_label(const report *r, int c, char *out, size_t cap) {
  if (c == 0) snprintf(out, cap, "Random");
  else if (c == 1) snprintf(out, cap, "Baseline");
  else snprintf(out, cap, "ZS(%d)%s", r->sets[(c - 2) / 2].ps, (c - 2) % 2 ? "+para" : "");
}

static clap_status pick_run(report *r, const char *run, clap_error *err) {
  if (run) {
    snprintf(r->run, sizeof r->run, "%s", run);
    return CLAP_OK;
  }
  sqlite3_stmt *st;
  clap_status rc = db_prepare(r->db, "SELECT run FROM evaluations ORDER BY id DESC LIMIT 1", &st, err);
  if (rc != CLAP_OK) return rc;
  int step = db_step(st, err);
  if (step == DB_ROW) snprintf(r->run, sizeof r->run, "%s", sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  if (step < 0) return DB_STATUS(step);
  if (!r->run[0])
    return clap_error_set(err, CLAP_ERR_NOTFOUND, "no evaluations yet (run `clap eval` first)");
  return CLAP_OK;
}

/* The run's prompt sets and their labels: the label a zero-shot row records,
** else (runs made before rows recorded it) the Table III description pair. */
static clap_status load_sets(report *r, clap_error *err) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(
          r->db,
          "SELECT e.prompt_set, coalesce(max(json_extract(e.details, '$.prompts.label')), "
          "(SELECT group_concat(text, ' / ') FROM (SELECT text FROM descriptions d WHERE "
          "d.source='prompt' AND d.dimension='purchase_intention' AND d.prompt_set=e.prompt_set "
          "ORDER BY d.pole, d.id)), '?') FROM evaluations e WHERE e.run=? AND e.arm='zero-shot' "
          "AND e.prompt_set IS NOT NULL GROUP BY e.prompt_set ORDER BY e.prompt_set",
          -1, &st, NULL) != SQLITE_OK)
    return clap_error_set(err, CLAP_ERR_INTERNAL, "%s", sqlite3_errmsg(r->db));
  sqlite3_bind_text(st, 1, r->run, -1, SQLITE_STATIC);
  clap_status rc = CLAP_OK;
  int rs;
  while (rc == CLAP_OK && (rs = sqlite3_step(st)) == SQLITE_ROW) {
    pset *g = realloc(r->sets, (size_t)(r->nsets + 1) * sizeof *g);
    if (!g) {
      rc = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
      break;
    }
    r->sets = g;
    pset *p = &r->sets[r->nsets++];
    memset(p, 0, sizeof *p);
    p->ps = sqlite3_column_int(st, 0);
    p->label = dup_text(st, 1);
    p->c[0].wa = p->c[1].wa = NAN;
  }
  if (rc == CLAP_OK && rs != SQLITE_DONE)
    rc = clap_error_set(err, CLAP_ERR_IO, "reading evaluations: %s", sqlite3_errmsg(r->db));
  sqlite3_finalize(st);
  r->ncols = 2 + 2 * r->nsets;
  return rc;
}

static int add_fold(report *r, const char *fold) {
  int f = 0;
  while (f < r->nfolds && strcmp(r->folds[f], fold)) f++;
  if (f < r->nfolds) return f;
  char **g = realloc(r->folds, (size_t)(f + 1) * sizeof *g);
  if (g) r->folds = g;
  double *u = realloc(r->fold_ua, (size_t)(f + 1) * r->ncols * sizeof *u);
  if (u) r->fold_ua = u;
  int *id = realloc(r->fold_id, (size_t)(f + 1) * r->ncols * sizeof *id);
  if (id) r->fold_id = id;
  int *cnt = realloc(r->fold_cnt, (size_t)(f + 1) * 2 * sizeof *cnt);
  if (cnt) r->fold_cnt = cnt;
  if (!g || !u || !id || !cnt || !(r->folds[f] = strdup(fold))) return -1;
  for (int j = 0; j < r->ncols; j++) r->fold_ua[f * r->ncols + j] = NAN, r->fold_id[f * r->ncols + j] = 0;
  r->fold_cnt[2 * f] = r->fold_cnt[2 * f + 1] = -1;
  r->nfolds++;
  return f;
}

static clap_status load_rows(report *r, clap_error *err) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(r->db,
                         "SELECT id, fold, arm, coalesce(prompt_set,0), coalesce(augment,-1), n, "
                         "wa, ua, recall_no, recall_yes, json_extract(details,'$.sign_test.p'), "
                         "details, json_extract(details,'$.counts.no'), "
                         "json_extract(details,'$.counts.yes'), "
                         "json_extract(details,'$.config_key'), created_at "
                         "FROM evaluations WHERE run=? ORDER BY fold='pooled', fold, id",
                         -1, &st, NULL) != SQLITE_OK)
    return clap_error_set(err, CLAP_ERR_INTERNAL, "%s", sqlite3_errmsg(r->db));
  sqlite3_bind_text(st, 1, r->run, -1, SQLITE_STATIC);
  int have_pooled = 0, rs;
  clap_status rc = CLAP_OK;
  while (rc == CLAP_OK && (rs = sqlite3_step(st)) == SQLITE_ROW) {
    const char *fold = (const char *)sqlite3_column_text(st, 1);
    const char *created = (const char *)sqlite3_column_text(st, 15);
    if (created && (!r->evaluated || strcmp(created, r->evaluated) > 0)) {
      free(r->evaluated);
      r->evaluated = strdup(created);
    }
    int a = column(r, (const char *)sqlite3_column_text(st, 2), sqlite3_column_int(st, 3),
                   sqlite3_column_int(st, 4));
    if (a < 0 || !fold) continue;
    if (!strcmp(fold, "pooled")) {
      cell *c = cell_at(r, a);
      free(c->details);
      c->id = sqlite3_column_int(st, 0);
      c->n = sqlite3_column_int(st, 5);
      c->wa = col(st, 6), c->ua = col(st, 7), c->rno = col(st, 8), c->ryes = col(st, 9);
      c->p = col(st, 10);
      c->details = dup_text(st, 11);
      have_pooled = 1;
      continue;
    }
    const char *key = (const char *)sqlite3_column_text(st, 14);
    if (key && (!r->config_key || strcmp(key, r->config_key))) {
      if (!r->config_key) r->config_key = strdup(key);
      r->nkeys++;
    }
    int f = add_fold(r, fold);
    if (f < 0) {
      rc = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
      break;
    }
    r->fold_ua[f * r->ncols + a] = col(st, 7);
    r->fold_id[f * r->ncols + a] = sqlite3_column_int(st, 0);
    if (a == 1 && sqlite3_column_type(st, 12) != SQLITE_NULL)
      r->fold_cnt[2 * f] = sqlite3_column_int(st, 12), r->fold_cnt[2 * f + 1] = sqlite3_column_int(st, 13);
  }
  if (rc == CLAP_OK && rs != SQLITE_DONE && rs != SQLITE_ROW)
    rc = clap_error_set(err, CLAP_ERR_IO, "reading evaluations: %s", sqlite3_errmsg(r->db));
  sqlite3_finalize(st);
  if (rc == CLAP_OK && !have_pooled)
    rc = clap_error_set(err, CLAP_ERR_NOTFOUND, "no pooled evaluations for run '%s'", r->run);
  return rc;
}

/* The pooled rows' settings (details.config) as "key value, ..." and the
** start of their inputs digest. */
static void load_pooled_config(report *r) {
  const cell *c = r->baseline.id ? &r->baseline : &r->random;
  cJSON *d = cJSON_Parse(c->details ? c->details : "");
  const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(d, "config");
  const cJSON *dg = cJSON_GetObjectItemCaseSensitive(d, "data_digest");
  size_t len = 0, cap = 0;
  for (const cJSON *it = cJSON_IsObject(cfg) ? cfg->child : NULL; it; it = it->next) {
    char *v = cJSON_IsString(it) ? NULL : cJSON_PrintUnformatted(it);
    const char *val = cJSON_IsString(it) ? it->valuestring : v ? v : "?";
    size_t need = len + strlen(it->string) + strlen(val) + 4;
    if (need > cap) {
      char *g = realloc(r->pooled_config, cap = 2 * need);
      if (!g) {
        cJSON_free(v);
        break;
      }
      r->pooled_config = g;
    }
    len += (size_t)sprintf(r->pooled_config + len, "%s%s %s", len ? ", " : "", it->string, val);
    cJSON_free(v);
  }
  if (cJSON_IsString(dg)) snprintf(r->pooled_digest, sizeof r->pooled_digest, "%.12s", dg->valuestring);
  cJSON_Delete(d);
}

static clap_status load_report(report *r, const char *run, clap_error *err) {
  r->random.wa = r->baseline.wa = NAN;
  clap_status rc = pick_run(r, run, err);
  if (rc == CLAP_OK) rc = load_sets(r, err);
  if (rc == CLAP_OK) rc = load_rows(r, err);
  if (rc == CLAP_OK) load_pooled_config(r);
  return rc;
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

static int pooled_n(const report *r) { return r->baseline.id ? r->baseline.n : r->random.n; }

static void markdown(FILE *f, report *r) {
  char lab[64];
  fprintf(f, "## Table III: WA, UA and the recall of purchase intention (%%)\n\n");
  fprintf(f, "Run `%s`, leave one session out, pooled over %d folds, n = %d held-out customer "
          "utterances.\n\n", r->run, r->nfolds, pooled_n(r));
  if (r->pooled_config)
    fprintf(f, "Configuration pooled (every fold): %s; inputs digest %s (labels, descriptions, cached features).\n\n",
            r->pooled_config, r->pooled_digest[0] ? r->pooled_digest : "?");
  fprintf(f, "| | Text indicating classes | No aug. WA | UA | No | Yes | Paraphrase aug. WA | UA | "
          "No | Yes |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  fprintf(f, "| Random | -");
  cells(f, &r->random, " | ", "");
  cells(f, NULL, " | ", " |\n");
  fprintf(f, "| Supervised [Baseline] | -");
  cells(f, &r->baseline, " | ", "");
  cells(f, NULL, " | ", " |\n");
  for (int k = 0; k < r->nsets; k++) {
    fprintf(f, "| %s | (%d) %s", k == 0 ? "Zero-shot [Ours]" : "", r->sets[k].ps, r->sets[k].label);
    cells(f, &r->sets[k].c[0], " | ", "");
    cells(f, &r->sets[k].c[1], " | ", " |\n");
  }
  fprintf(f, "\nTwo-tailed exact sign test against the baseline (pooled per-utterance "
          "correctness): ");
  for (int a = 2; a < r->ncols; a++) {
    col_label(r, a, lab, sizeof lab);
    fprintf(f, "%s p = %.3g%s", lab, cell_at(r, a)->p, a + 1 < r->ncols ? "; " : ".\n");
  }
  fprintf(f, "\nUA per fold (%%):\n\n| fold |");
  for (int a = 0; a < r->ncols; a++) col_label(r, a, lab, sizeof lab), fprintf(f, " %s |", lab);
  fprintf(f, "\n|---|");
  for (int a = 0; a < r->ncols; a++) fprintf(f, "---:|");
  fprintf(f, "\n");
  for (int i = 0; i < r->nfolds; i++) {
    char buf[300];
    fprintf(f, "| %s |", fold_label(r, i, buf, sizeof buf));
    for (int a = 0; a < r->ncols; a++)
      fputs(" ", f), pct(f, r->fold_ua[i * r->ncols + a]), fputs(" |", f);
    fprintf(f, "\n");
  }
  if (any_one_class(r)) fprintf(f, "\n%s\n", one_class_note);
  fprintf(f, "\nSources (evaluations.id of the pooled rows): ");
  for (int a = 0; a < r->ncols; a++) {
    col_label(r, a, lab, sizeof lab);
    fprintf(f, "%s #%d%s", lab, cell_at(r, a)->id, a + 1 < r->ncols ? ", " : ".\n");
  }
}

/* ------------------------------------------------------------------ HTML */


static void html_table(FILE *f, report *r) {
  char lab[64];
  fputs("<table><tr><th></th><th>Text indicating classes</th><th colspan=4>No augmentation</th>"
        "<th colspan=4>Augmentation by paraphrasing</th></tr>"
        "<tr><th></th><th></th><th>WA</th><th>UA</th><th>No</th><th>Yes</th><th>WA</th>"
        "<th>UA</th><th>No</th><th>Yes</th></tr>\n",
        f);
  fprintf(f, "<tr><td>Random</td><td>-</td>");
  cells(f, &r->random, "<td>", "");
  cells(f, NULL, "<td>", "</tr>\n");
  fprintf(f, "<tr><td>Supervised [Baseline]</td><td>-</td>");
  cells(f, &r->baseline, "<td>", "");
  cells(f, NULL, "<td>", "</tr>\n");
  for (int k = 0; k < r->nsets; k++) {
    fprintf(f, "<tr><td>%s</td><td>(%d) ", k == 0 ? "Zero-shot [Ours]" : "", r->sets[k].ps);
    report_html_escape(f, r->sets[k].label);
    fputs("</td>", f);
    cells(f, &r->sets[k].c[0], "<td>", "");
    cells(f, &r->sets[k].c[1], "<td>", "</tr>\n");
  }
  fputs("</table>\n<p class=src>Pooled rows (evaluations.id): ", f);
  for (int a = 0; a < r->ncols; a++) {
    col_label(r, a, lab, sizeof lab);
    fprintf(f, "%s #%d%s", lab, cell_at(r, a)->id, a + 1 < r->ncols ? "; " : ".");
  }
  fputs(" Two-tailed exact sign test against the baseline: ", f);
  for (int a = 2; a < r->ncols; a++) {
    col_label(r, a, lab, sizeof lab);
    fprintf(f, "%s p = %.3g%s", lab, cell_at(r, a)->p, a + 1 < r->ncols ? "; " : ".");
  }
  fputs("</p>\n", f);
}

/* Chart geometry (SVG user units; the SVG scales to the page width). */
#define W 880
#define H 340
#define ML 64 /* left margin: tick labels and the axis title */
#define MR 16
#define MT 16
#define MB 64 /* bottom: arm labels and the axis title */
#define FONT 14

static const char *col_colour(int a) {
  return a == 0 ? "#999999" : a == 1 ? "#e08a3c" : (a - 2) % 2 ? "#54a24b" : "#4c78a8";
}

static void legend_item(FILE *f, double x, double y, const char *colour, const char *text) {
  fprintf(f, "<rect x=%.1f y=%.1f width=12 height=12 fill='%s'/><text x=%.1f y=%.1f>", x, y - 11,
          colour, x + 16, y);
  report_html_escape(f, text);
  fputs("</text>\n", f);
}

static void svg_ua(FILE *f, report *r) {
  char lab[64];
  fputs("<h2>UA per arm</h2>\n", f);
  fprintf(f, "<svg viewBox='0 0 %d %d' width='100%%' role='img' font-size=%d "
          "xmlns='http://www.w3.org/2000/svg'>\n", W, H + 24, FONT);
  double ph = H - MT - MB, bw = (W - ML - MR) / (double)r->ncols;
  for (int t = 0; t <= 4; t++) {
    double y = H - MB - t * ph / 4;
    fprintf(f, "<line x1=%d y1=%.1f x2=%d y2=%.1f stroke='#ddd'/><text x=%d y=%.1f "
            "text-anchor=end>%d</text>\n", ML, y, W - MR, y, ML - 6, y + 5, t * 25);
  }
  fprintf(f, "<line x1=%d y1=%.1f x2=%d y2=%.1f stroke='#888' stroke-dasharray='6 4'/>\n", ML,
          H - MB - ph / 2, W - MR, H - MB - ph / 2);
  fprintf(f, "<text x=16 y=%.1f transform='rotate(-90 16 %.1f)' text-anchor=middle>UA (%%), "
          "chance = 50</text>\n", MT + ph / 2, MT + ph / 2);
  for (int a = 0; a < r->ncols; a++) {
    double x = ML + a * bw, ua = cell_at(r, a)->ua;
    col_label(r, a, lab, sizeof lab);
    if (isfinite(ua)) {
      double h = ua * ph;
      fprintf(f, "<rect x=%.1f y=%.1f width=%.1f height=%.1f fill='%s'><title>", x + 4,
              H - MB - h, bw - 8, h, col_colour(a));
      report_html_escape(f, lab);
      fprintf(f, " pooled UA %.1f%% (evaluations #%d)</title></rect>\n", 100 * ua, cell_at(r, a)->id);
    }
    double lo = 2, hi = -1;
    for (int i = 0; i < r->nfolds; i++) {
      double v = r->fold_ua[i * r->ncols + a];
      if (!isfinite(v)) continue;
      lo = v < lo ? v : lo, hi = v > hi ? v : hi;
      char buf[300];
      fprintf(f, "<circle cx=%.1f cy=%.1f r=3.5 %s><title>fold ", x + bw / 2, H - MB - v * ph,
              fold_one_class(r, i) ? "fill='none' stroke='#222'" : "fill='#222'");
      report_html_escape(f, fold_label(r, i, buf, sizeof buf));
      fprintf(f, ": %.1f%% (evaluations #%d)</title></circle>\n", 100 * v, r->fold_id[i * r->ncols + a]);
    }
    if (hi >= lo)
      fprintf(f, "<line x1=%.1f x2=%.1f y1=%.1f y2=%.1f stroke='#222'/>\n", x + bw / 2, x + bw / 2,
              H - MB - lo * ph, H - MB - hi * ph);
    fprintf(f, "<text x=%.1f y=%d text-anchor=middle font-size=%d>", x + bw / 2, H - MB + 18,
            r->ncols > 12 ? FONT - 3 : FONT - 1);
    report_html_escape(f, lab);
    fputs("</text>\n", f);
  }
  fprintf(f, "<text x=%.1f y=%d text-anchor=middle>arm (ZS(k): zero-shot with prompt set k)</text>\n",
          ML + (W - ML - MR) / 2.0, H - MB + 40);
  double lx = ML;
  legend_item(f, lx, H + 18, col_colour(0), "random"), lx += 110;
  legend_item(f, lx, H + 18, col_colour(1), "supervised baseline"), lx += 190;
  legend_item(f, lx, H + 18, col_colour(2), "zero-shot, no augmentation"), lx += 250;
  legend_item(f, lx, H + 18, col_colour(3), "zero-shot, paraphrase aug.");
  fputs("</svg>\n<p class=src>Bars: UA pooled over the folds; dots and whisker: each fold's UA. "
        "The values (%):</p>\n<table class=num><tr><th>arm</th>", f);
  for (int i = 0; i < r->nfolds; i++) {
    char buf[300];
    fputs("<th>", f), report_html_escape(f, fold_label(r, i, buf, sizeof buf)), fputs("</th>", f);
  }
  fputs("<th>pooled</th></tr>\n<tr><td>held out: n (No / Yes)</td>", f);
  for (int i = 0; i < r->nfolds; i++) {
    int no = r->fold_cnt[2 * i], yes = r->fold_cnt[2 * i + 1];
    if (no >= 0) fprintf(f, "<td>%d (%d / %d)%s</td>", no + yes, no, yes, no && yes ? "" : "<br>one class");
    else fputs("<td>-</td>", f);
  }
  fprintf(f, "<td>%d</td></tr>\n", pooled_n(r));
  for (int a = 0; a < r->ncols; a++) {
    col_label(r, a, lab, sizeof lab);
    fputs("<tr><td>", f), report_html_escape(f, lab), fputs("</td>", f);
    for (int i = 0; i < r->nfolds; i++)
      fputs("<td>", f), pct(f, r->fold_ua[i * r->ncols + a]), fputs("</td>", f);
    fputs("<td>", f), pct(f, cell_at(r, a)->ua), fputs("</td></tr>\n", f);
  }
  fputs("</table>\n", f);
}

static void svg_roc(FILE *f, const report *r) {
  fputs("<h2>Baseline ROC on the held-out utterances (pooled)</h2>\n", f);
  cJSON *d = cJSON_Parse(r->baseline.details ? r->baseline.details : "");
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
    const int S = 300, L = 64, T = 16, WW = 640;
    fprintf(f, "<svg viewBox='0 0 %d %d' width='100%%' style='max-width:%dpx' role='img' "
            "font-size=%d xmlns='http://www.w3.org/2000/svg'>\n<rect x=%d y=%d width=%d "
            "height=%d fill='none' stroke='#999'/><line x1=%d y1=%d x2=%d y2=%d stroke='#ccc' "
            "stroke-dasharray='4'/>\n<polyline fill='none' stroke='#e08a3c' stroke-width=2.5 "
            "points='", WW, S + T + 56, WW, FONT, L, T, S, S, L, T + S, L + S, T);
    for (int i = 0; i < np; i++)
      fprintf(f, "%.1f,%.1f ", L + pts[i].fpr * S, T + S - pts[i].tpr * S);
    fputs("'/>\n", f);
    static const char *const tick[5] = {"0", "0.25", "0.5", "0.75", "1"};
    for (int k = 0; k < 5; k++)
      fprintf(f, "<text x=%d y=%d text-anchor=middle>%s</text><text x=%d y=%d text-anchor=end>"
              "%s</text>\n", L + k * S / 4, T + S + 18, tick[k], L - 6, T + S - k * S / 4 + 5,
              tick[k]);
    for (int i = 0; i < np; i++)
      if (pts[i].threshold == thr) {
        fprintf(f, "<circle cx=%.1f cy=%.1f r=6 fill='#c00'><title>Youden point: threshold "
                "%.4g, J = %.3f</title></circle>\n", L + pts[i].fpr * S, T + S - pts[i].tpr * S,
                thr, j);
        break;
      }
    const cell *b = &r->baseline;
    if (isfinite(b->rno) && isfinite(b->ryes))
      fprintf(f, "<rect x=%.1f y=%.1f width=10 height=10 fill='#222'/>\n", L + (1 - b->rno) * S - 5,
              T + S - b->ryes * S - 5);
    fprintf(f, "<text x=%d y=%d text-anchor=middle>false positive rate (1 − recall No)</text>"
            "<text x=16 y=%d transform='rotate(-90 16 %d)' text-anchor=middle>true positive "
            "rate (recall Yes)</text>\n", L + S / 2, T + S + 40, T + S / 2, T + S / 2);
    int lx = L + S + 24;
    legend_item(f, lx, T + 20, "#e08a3c", "ROC of the pooled scores");
    fprintf(f, "<circle cx=%d cy=%d r=6 fill='#c00'/><text x=%d y=%d>Youden point</text>\n",
            lx + 6, T + 40, lx + 16, T + 45);
    fprintf(f, "<rect x=%d y=%d width=10 height=10 fill='#222'/><text x=%d y=%d>per-fold "
            "thresholds</text>\n<line x1=%d y1=%d x2=%d y2=%d stroke='#ccc' stroke-dasharray='4'/>"
            "<text x=%d y=%d>chance</text></svg>\n", lx + 1, T + 60, lx + 16, T + 70, lx, T + 90,
            lx + 12, T + 90, lx + 16, T + 95);
    fprintf(f, "<table class=num><tr><th>AUC</th><th>Youden threshold</th><th>J</th>"
            "<th>recall No at the folds' thresholds</th><th>recall Yes</th><th>n</th>"
            "<th>evaluations row</th></tr><tr><td>%.3f</td><td>%.4g</td><td>%.3f</td><td>",
            auc, thr, j);
    pct(f, b->rno);
    fputs("</td><td>", f);
    pct(f, b->ryes);
    fprintf(f, "</td><td>%d</td><td>#%d</td></tr></table>\n", n, b->id);
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
  int n = 0, cap = 0, ok = 1, step = SQLITE_DONE;
  while (ok && (step = sqlite3_step(st)) == SQLITE_ROW) {
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
  if (step != SQLITE_DONE) ok = 0; /* a failed read is no chart, not a partial one */
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
  static const char *const color[3] = {"#4c78a8", "#e45756", "#cccccc"};
  static const char *const what[3] = {"No", "Yes", "excluded (= threshold)"};
  const int L = 90, top = 30, row_h = 26, plot = W - L - MR;
  int h = top + row_h * n + 50;
  fprintf(f, "<svg viewBox='0 0 %d %d' width='100%%' role='img' font-size=%d "
          "xmlns='http://www.w3.org/2000/svg'>\n", W, h, FONT);
  for (int k = 0; k < 3; k++) legend_item(f, L + 200 * k, 16, color[k], what[k]);
  for (int i = 0; i < n; i++) {
    double x = L;
    int y = top + row_h * i;
    fprintf(f, "<text x=4 y=%d>", y + 16);
    report_html_escape(f, row[i].session);
    fputs("</text>\n", f);
    for (int k = 0; k < 3; k++) {
      double w = (double)row[i].cnt[k] / mx * plot;
      fprintf(f, "<rect x=%.1f y=%d width=%.1f height=20 fill='%s'/>", x, y, w, color[k]);
      if (row[i].cnt[k] && w >= 24)
        fprintf(f, "<text x=%.1f y=%d text-anchor=middle fill='%s'>%d</text>", x + w / 2, y + 15,
                k == 2 ? "#222" : "#fff", row[i].cnt[k]);
      fputs("\n", f);
      x += w;
    }
  }
  for (int t = 0; t <= 4; t++) {
    double x = L + t * plot / 4.0;
    fprintf(f, "<line x1=%.1f x2=%.1f y1=%d y2=%d stroke='#999'/><text x=%.1f y=%d "
            "text-anchor=middle>%.0f</text>\n", x, x, top + row_h * n, top + row_h * n + 5, x,
            top + row_h * n + 20, mx * t / 4.0);
  }
  fprintf(f, "<text x=%.1f y=%d text-anchor=middle>customer utterances</text></svg>\n",
          L + plot / 2.0, top + row_h * n + 42);
  fputs("<table class=num><tr><th>session</th><th>No</th><th>Yes</th><th>excluded</th>"
        "<th>labelled</th></tr>\n", f);
  for (int i = 0; i < n; i++) {
    fputs("<tr><td>", f), report_html_escape(f, row[i].session);
    fprintf(f, "</td><td>%d</td><td>%d</td><td>%d</td><td>%d%s</td></tr>\n", row[i].cnt[0],
            row[i].cnt[1], row[i].cnt[2], row[i].cnt[0] + row[i].cnt[1],
            row[i].cnt[0] && row[i].cnt[1] ? "" : " (one class)");
    free(row[i].session);
  }
  fputs("</table>\n", f);
  free(row);
}

/* Provenance: when, with what, from where. */
static void provenance(FILE *f, const report *r) {
  char now[32];
  time_t t = time(NULL);
  struct tm tm;
  strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
  fputs("<table class=prov>\n<tr><td>database</td><td><code>", f);
  report_html_escape(f, r->path);
  fputs("</code></td></tr>\n<tr><td>run</td><td><code>", f);
  report_html_escape(f, r->run);
  fputs("</code>, evaluated ", f);
  report_html_escape(f, r->evaluated ? r->evaluated : "?");
  fprintf(f, "; page written %s by clap %s</td></tr>\n", now, CLAP_VERSION);
  cJSON *k = cJSON_Parse(r->config_key ? r->config_key : "");
  static const char *const enc[2][2] = {{"audio_encoder", "audio"}, {"text_encoder", "text"}};
  for (int e = 0; e < 2; e++) {
    const cJSON *name = cJSON_GetObjectItem(k, enc[e][0]);
    fprintf(f, "<tr><td>%s encoder</td><td>", enc[e][1]);
    if (!cJSON_IsString(name)) {
      fputs("?</td></tr>\n", f);
      continue;
    }
    fputs("<code>", f), report_html_escape(f, name->valuestring), fputs("</code>", f);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(r->db, "SELECT DISTINCT coalesce(encoder_id, 'unknown') FROM features "
                           "WHERE encoder=? AND modality=? ORDER BY 1 LIMIT 4",
                           -1, &st, NULL) == SQLITE_OK) {
      sqlite3_bind_text(st, 1, name->valuestring, -1, SQLITE_STATIC);
      sqlite3_bind_text(st, 2, enc[e][1], -1, SQLITE_STATIC);
      const char *sep = ", identity ";
      int step;
      while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        fputs(sep, f), fputs("<code>", f), report_html_escape(f, (const char *)sqlite3_column_text(st, 0));
        fputs("</code>", f), sep = "; ";
      }
      if (step != SQLITE_DONE) fputs(", identity unreadable: ", f), report_html_escape(f, sqlite3_errmsg(r->db));
    }
    sqlite3_finalize(st);
    fputs("</td></tr>\n", f);
  }
  fputs("<tr><td>training</td><td>", f);
  static const char *const keys[] = {"epochs", "lr", "batch", "seed", "dim", "head", "random_runs"};
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
    const cJSON *v = cJSON_GetObjectItem(k, keys[i]);
    fprintf(f, "%s%s ", i ? ", " : "", keys[i]);
    if (cJSON_IsNumber(v)) fprintf(f, "%g", v->valuedouble);
    else if (cJSON_IsString(v)) report_html_escape(f, v->valuestring);
    else fputs("?", f);
  }
  if (r->nkeys > 1)
    fprintf(f, "; <b>the fold rows were made with %d different settings</b> (details.config_key)",
            r->nkeys);
  fputs("</td></tr>\n</table>\n", f);
  cJSON_Delete(k);
}

/* The figures of tests/bench/quality.py --json: one small table. */
static int quality_table(FILE *f, const char *path) {
  unsigned char *buf = NULL;
  clap_error err;
  if (fileio_read(path, 1u << 20, &buf, NULL, &err) != CLAP_OK) {
    fprintf(stderr, "clap report: --quality: %s\n", err.msg);
    return -1;
  }
  cJSON *q = cJSON_Parse((const char *)buf);
  free(buf);
  const cJSON *lat = cJSON_GetObjectItem(q, "latents"), *emo = cJSON_GetObjectItem(q, "emotions");
  if (!cJSON_IsArray(lat) || !cJSON_IsArray(emo)) {
    fprintf(stderr, "clap report: --quality: %s: expected JSON with arrays \"latents\" and "
            "\"emotions\" (tests/bench/quality.py --json)\n", path);
    cJSON_Delete(q);
    return -1;
  }
  const cJSON *corpus = cJSON_GetObjectItem(q, "corpus");
  fputs("<h2>What the audio carries (leave one session out)</h2>\n<p>", f);
  if (cJSON_IsString(corpus)) fputs("Corpus <code>", f), report_html_escape(f, corpus->valuestring), fputs("</code>. ", f);
  fputs("Latent recovery: r of a ridge regression from the cached audio features to each latent "
        "of the generator; supervised UA: a logistic probe per emotion. 95% bootstrap intervals "
        "over utterances.</p>\n<table class='num q'><tr><th>latent</th><th>r</th><th>95% CI</th>"
        "<th></th><th>emotion</th><th>UA %</th><th>95% CI</th></tr>\n", f);
  int n = cJSON_GetArraySize(lat) > cJSON_GetArraySize(emo) ? cJSON_GetArraySize(lat)
                                                             : cJSON_GetArraySize(emo);
  for (int i = 0; i < n; i++) {
    const cJSON *rows[2] = {cJSON_GetArrayItem(lat, i), cJSON_GetArrayItem(emo, i)};
    fputs("<tr>", f);
    for (int k = 0; k < 2; k++) {
      const cJSON *nm = cJSON_GetObjectItem(rows[k], "name"), *v = cJSON_GetObjectItem(rows[k], "value");
      const cJSON *lo = cJSON_GetObjectItem(rows[k], "lo"), *hi = cJSON_GetObjectItem(rows[k], "hi");
      double s = k ? 100 : 1;
      if (k) fputs("<td></td>", f);
      if (cJSON_IsString(nm) && cJSON_IsNumber(v) && cJSON_IsNumber(lo) && cJSON_IsNumber(hi)) {
        fputs("<td>", f), report_html_escape(f, nm->valuestring);
        fprintf(f, k ? "</td><td>%.1f</td><td>%.1f–%.1f</td>" : "</td><td>%.2f</td><td>%.2f–%.2f</td>",
                s * v->valuedouble, s * lo->valuedouble, s * hi->valuedouble);
      } else {
        fputs("<td></td><td></td><td></td>", f);
      }
    }
    fputs("</tr>\n", f);
  }
  fputs("</table>\n", f);
  cJSON_Delete(q);
  return 0;
}

static const char style[] =
    "<style>body{font-family:'Noto Sans CJK JP','Noto Sans JP','Hiragino Sans',"
    "'Hiragino Kaku Gothic ProN','Yu Gothic','Meiryo','Source Han Sans JP','IPAexGothic',"
    "'IPAGothic','Droid Sans Fallback',sans-serif;max-width:960px;margin:2em auto;padding:0 1em;"
    "color:#222}svg{display:block;margin:0.5em 0}svg text{font-family:inherit;fill:#222}"
    "table{border-collapse:collapse;margin:0.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;"
    "text-align:right}td:first-child,th:first-child,td:nth-child(2),th:nth-child(2){text-align:left}"
    "table.num td:nth-child(2),table.num th:nth-child(2){text-align:right}table.q td:nth-child(5),table.q th:nth-child(5){text-align:left}table.num td,table.num th{white-space:nowrap}table.prov td{text-align:left}"
    ".src{font-size:small;color:#555}</style>";

/* The page is built in memory and written whole or not at all by
** fileio_write_replace: a symlink at path is followed, a replaced file keeps
** its mode, a device or FIFO there is refused and never removed. */
static int write_html(report *r, const char *path, const char *quality) {
  char *page = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&page, &len);
  if (!f) {
    fprintf(stderr, "clap report: cannot write %s: %s\n", path, strerror(errno));
    return -1;
  }
  fprintf(f, "<!doctype html><html lang='ja'><head><meta charset='utf-8'><title>sqlite-clap: "
          "Table III</title>%s</head><body>\n", style);
  fputs("<h1>Purchase intention: Table III</h1>\n<p>Run <code>", f);
  report_html_escape(f, r->run);
  fprintf(f, "</code>, leave one session out, pooled over %d folds, n = %d held-out customer "
          "utterances. Percentages.</p>\n", r->nfolds, pooled_n(r));
  provenance(f, r);
  if (r->pooled_config) {
    fputs("<p>Configuration pooled (every fold): ", f);
    report_html_escape(f, r->pooled_config);
    fprintf(f, "; inputs digest %s.</p>\n", r->pooled_digest[0] ? r->pooled_digest : "?");
  }
  if (any_one_class(r)) {
    fputs("<p>Folds with one class (hollow dots): ", f);
    for (int i = 0, k = 0; i < r->nfolds; i++) {
      char buf[300];
      if (!fold_one_class(r, i)) continue;
      fputs(k++ ? ", " : "", f);
      report_html_escape(f, fold_label(r, i, buf, sizeof buf));
    }
    fprintf(f, ". %s</p>\n", one_class_note);
  }
  html_table(f, r);
  int rc = quality ? quality_table(f, quality) : 0;
  svg_ua(f, r);
  svg_roc(f, r);
  svg_balance(f, r->db);
  fputs("</body></html>\n", f);
  if (fclose(f) != 0 && rc == 0) {
    fprintf(stderr, "clap report: cannot write %s: out of memory\n", path);
    rc = -1;
  }
  clap_error err;
  if (rc == 0 && fileio_write_replace(path, page, len, &err) != CLAP_OK) {
    fprintf(stderr, "clap report: %s\n", err.msg);
    rc = -1;
  }
  free(page);
  return rc;
}

static void report_free(report *r) {
  free(r->random.details);
  free(r->baseline.details);
  for (int k = 0; k < r->nsets; k++) {
    free(r->sets[k].label);
    free(r->sets[k].c[0].details);
    free(r->sets[k].c[1].details);
  }
  free(r->sets);
  for (int i = 0; i < r->nfolds; i++) free(r->folds[i]);
  free(r->folds);
  free(r->fold_ua);
  free(r->fold_id);
  free(r->fold_cnt);
  free(r->config_key);
  free(r->pooled_config);
  free(r->evaluated);
}

/* clap report DB --calls ... */
static int run_calls(const char *path, const char *timeline, const char *const *sessions, int ns,
                     const char *html) {
  sqlite3 *db = NULL;
  clap_error err;
  clap_status rc = db_open(path, 0, &db, &err);
  if (!rc) rc = report_calls(db, timeline ? timeline : "purchase_intention", sessions, ns, stdout,
                             html, &err);
  db_close(db);
  if (rc) {
    fprintf(stderr, "clap report: %s\n", err.msg);
    return 1;
  }
  if (html) printf("\nHTML report: %s\n", html);
  return 0;
}

enum { OPT_RUN = CLI_OPT, OPT_HTML, OPT_QUALITY, OPT_CALLS, OPT_TIMELINE, OPT_SESSION };
static const struct option report_opts[] = {
    CLI_HELP_OPTION, CLI_DB_OPTION,
    {"run", required_argument, NULL, OPT_RUN},
    {"html", required_argument, NULL, OPT_HTML},
    {"quality", required_argument, NULL, OPT_QUALITY},
    {"calls", no_argument, NULL, OPT_CALLS},
    {"timeline", required_argument, NULL, OPT_TIMELINE},
    {"session", required_argument, NULL, OPT_SESSION},
    {0}};

int cmd_report(int argc, char **argv) {
  const char *run = NULL, *html = NULL, *quality = NULL, *timeline = NULL;
  const char **sessions = calloc((size_t)argc, sizeof *sessions);
  int calls = 0, ns = 0;
  if (!sessions) return fprintf(stderr, "clap report: out of memory\n"), 1;
  cli c = {.cmd = "clap report", .help = report_usage};
  for (int o; (o = cli_next(&c, argc, argv, "", report_opts)) != CLI_END;) {
    if (o == CLI_EXIT) return free(sessions), c.status;
    if (o == OPT_RUN) run = optarg;
    else if (o == OPT_QUALITY) quality = optarg;
    else if (o == OPT_HTML) html = optarg;
    else if (o == OPT_CALLS) calls = 1;
    else if (o == OPT_TIMELINE) timeline = optarg;
    else sessions[ns++] = optarg;
  }
  static const char *const operands[] = {"database", NULL};
  if (cli_operands(&c, argc, argv, operands, 1, 1)) return free(sessions), 2;
  int st = -1;
  if (!calls && (timeline || ns)) st = cli_usage(&c, "--timeline and --session need --calls");
  else if (calls && quality) st = cli_usage(&c, "--quality goes with Table III, not --calls");
  else if (calls) st = run_calls(argv[optind], timeline, sessions, ns, html);
  free(sessions);
  if (st >= 0) return st;
  if (quality && !html) return cli_usage(&c, "--quality needs --html");
  report r;
  memset(&r, 0, sizeof r);
  r.path = argv[optind];
  clap_error err;
  if (db_open(r.path, 0, &r.db, &err) != CLAP_OK) {
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
      if (write_html(&r, html, quality)) status = 1;
      else printf("\nHTML report: %s\n", html);
    }
  }
  report_free(&r);
  db_close(r.db);
  return status;
}
