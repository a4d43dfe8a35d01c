/*
** clap labels — normalise annotator scores and binarise them into labels
** (paper §III-A; the procedure is written out in pipeline/labels.h).
**
**   clap labels DB [--grid G] [--dimension D]...
**
** For every dimension of the database (or each --dimension D, repeatable)
** the scores table is read, labels_compute runs, and the previous labelling
** of that dimension is replaced: normalized_scores (one value per score),
** labels (per utterance: the rounded mean, and 0, 1 or NULL when the value
** equals the threshold) and label_thresholds (threshold, grid, counts,
** computed_at). All dimensions are replaced in ONE transaction, so a reader
** sees the old labelling or the new one, never a mix; on any error nothing
** changes. A dimension without scores loses any previous labelling and is
** reported as "no scores". The grid G (default 1, one scale point) must be
** in [1e-6, 100]. Output: one line per dimension with the threshold, the
** grid and the counts of negative, positive and excluded utterances.
**
** Errors: a missing or non-clap database, an unknown --dimension (exit 1);
** a bad --grid, unknown options (exit 2).
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "db.h"
#include "labels.h"

typedef struct dim_result {
  char *name;
  int n_scores, n_utterances, n_annotators;
  labels_output out;
} dim_result;

static void usage(FILE *f) {
  fprintf(f,
          "usage: clap labels DB [--grid G] [--dimension D]...\n"
          "\n"
          "Normalise each annotator's scores onto the pooled mean and variance of\n"
          "the dimension, average per utterance, round to the grid G (default 1),\n"
          "take the most frequent value as the threshold (ties: the smaller) and\n"
          "label below 0, above 1, equal excluded. Replaces the previous labels.\n");
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct scores {
  size_t n, cap;
  int *utt, *ann;
  double *score;
  char **utt_id, **ann_id; /* distinct ids, sorted */
  int nu, na;
} scores;

static void scores_free(scores *s) {
  for (int i = 0; i < s->nu; i++) free(s->utt_id[i]);
  for (int i = 0; i < s->na; i++) free(s->ann_id[i]);
  free(s->utt), free(s->ann), free(s->score), free(s->utt_id), free(s->ann_id);
  memset(s, 0, sizeof *s);
}

static int grow(void **p, size_t n, size_t size) {
  void *q = realloc(*p, (n ? n : 1) * size);
  if (!q) return -1;
  *p = q;
  return 0;
}

/* Read one dimension's scores; utterance and annotator ids become indexes
** into sorted id lists. */
static clap_status load_scores(sqlite3 *db, const char *dim, scores *s, clap_error *err) {
  sqlite3_stmt *q = NULL, *qa = NULL;
  clap_status st = CLAP_ERR_NOMEM;
  int r;
  if ((st = db_prepare(db,
                       "SELECT utterance_id, annotator_id, score FROM scores "
                       "WHERE dimension = ?1 ORDER BY utterance_id, annotator_id",
                       &q, err)) != CLAP_OK ||
      (st = db_prepare(db,
                       "SELECT DISTINCT annotator_id FROM scores WHERE dimension = ?1 "
                       "ORDER BY annotator_id",
                       &qa, err)) != CLAP_OK)
    goto done;
  sqlite3_bind_text(qa, 1, dim, -1, SQLITE_STATIC);
  while ((r = db_step(qa, err)) == DB_ROW) {
    if (grow((void **)&s->ann_id, (size_t)s->na + 1, sizeof *s->ann_id)) goto nomem;
    if (!(s->ann_id[s->na] = strdup((const char *)sqlite3_column_text(qa, 0)))) goto nomem;
    s->na++;
  }
  if ((st = DB_STATUS(r)) != CLAP_OK) goto done;
  sqlite3_bind_text(q, 1, dim, -1, SQLITE_STATIC);
  while ((r = db_step(q, err)) == DB_ROW) {
    const char *u = (const char *)sqlite3_column_text(q, 0);
    const char *a = (const char *)sqlite3_column_text(q, 1);
    if (s->n == s->cap) {
      s->cap = s->cap ? s->cap * 2 : 256;
      if (grow((void **)&s->utt, s->cap, sizeof *s->utt) ||
          grow((void **)&s->ann, s->cap, sizeof *s->ann) ||
          grow((void **)&s->score, s->cap, sizeof *s->score))
        goto nomem;
    }
    if (!s->nu || strcmp(s->utt_id[s->nu - 1], u)) {
      if (grow((void **)&s->utt_id, (size_t)s->nu + 1, sizeof *s->utt_id)) goto nomem;
      if (!(s->utt_id[s->nu] = strdup(u))) goto nomem;
      s->nu++;
    }
    char **hit = bsearch(&a, s->ann_id, (size_t)s->na, sizeof *s->ann_id, cmp_str);
    if (!hit) {
      st = clap_error_set(err, CLAP_ERR_INTERNAL, "%s: annotator %s vanished while reading", dim, a);
      goto done;
    }
    s->utt[s->n] = s->nu - 1;
    s->ann[s->n] = (int)(hit - s->ann_id);
    s->score[s->n] = sqlite3_column_double(q, 2);
    s->n++;
  }
  st = DB_STATUS(r);
  goto done;
nomem:
  st = clap_error_set(err, CLAP_ERR_NOMEM, "%s: out of memory", dim);
done:
  sqlite3_finalize(q);
  sqlite3_finalize(qa);
  return st;
}

static clap_status step_all(sqlite3 *db, sqlite3_stmt *st, const char *what, clap_error *err) {
  clap_status rc = db_step_done(st, err);
  if (rc != CLAP_OK) clap_error_prefix(err, "%s: ", what);
  return rc;
}

static clap_status store(sqlite3 *db, const char *dim, const scores *s, const labels_output *o,
                         double grid, clap_error *err) {
  sqlite3_stmt *ns = NULL, *lb = NULL, *th = NULL;
  clap_status st = CLAP_OK;
  if ((st = db_prepare(db,
                       "INSERT INTO normalized_scores(utterance_id, annotator_id, dimension, value) "
                       "VALUES (?1, ?2, ?3, ?4)", &ns, err)) ||
      (st = db_prepare(db,
                       "INSERT INTO labels(utterance_id, dimension, value, label) "
                       "VALUES (?1, ?2, ?3, ?4)", &lb, err)) ||
      (st = db_prepare(db,
                       "INSERT INTO label_thresholds(dimension, threshold, grid, n_negative, "
                       "n_positive, n_excluded, computed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                       "strftime('%Y-%m-%dT%H:%M:%SZ','now'))", &th, err)))
    goto done;
  for (size_t i = 0; i < s->n && !st; i++) {
    sqlite3_bind_text(ns, 1, s->utt_id[s->utt[i]], -1, SQLITE_STATIC);
    sqlite3_bind_text(ns, 2, s->ann_id[s->ann[i]], -1, SQLITE_STATIC);
    sqlite3_bind_text(ns, 3, dim, -1, SQLITE_STATIC);
    sqlite3_bind_double(ns, 4, o->normalized[i]);
    st = step_all(db, ns, "writing normalized_scores", err);
  }
  for (int u = 0; u < s->nu && !st; u++) {
    sqlite3_bind_text(lb, 1, s->utt_id[u], -1, SQLITE_STATIC);
    sqlite3_bind_text(lb, 2, dim, -1, SQLITE_STATIC);
    sqlite3_bind_double(lb, 3, o->value[u]);
    if (o->label[u] == LABELS_NEGATIVE || o->label[u] == LABELS_POSITIVE)
      sqlite3_bind_int(lb, 4, o->label[u]);
    else sqlite3_bind_null(lb, 4);
    st = step_all(db, lb, "writing labels", err);
  }
  if (!st) {
    sqlite3_bind_text(th, 1, dim, -1, SQLITE_STATIC);
    sqlite3_bind_double(th, 2, o->threshold);
    sqlite3_bind_double(th, 3, grid);
    sqlite3_bind_int(th, 4, o->n_negative);
    sqlite3_bind_int(th, 5, o->n_positive);
    sqlite3_bind_int(th, 6, o->n_excluded);
    st = step_all(db, th, "writing label_thresholds", err);
  }
done:
  sqlite3_finalize(ns);
  sqlite3_finalize(lb);
  sqlite3_finalize(th);
  return st;
}

/* Replace one dimension's labelling (inside the caller's transaction). */
static clap_status label_dimension(sqlite3 *db, dim_result *r, double grid, clap_error *err) {
  static const char *del[3] = {"DELETE FROM normalized_scores WHERE dimension = ?1",
                               "DELETE FROM labels WHERE dimension = ?1",
                               "DELETE FROM label_thresholds WHERE dimension = ?1"};
  for (int i = 0; i < 3; i++) {
    sqlite3_stmt *st = NULL;
    clap_status s = db_prepare(db, del[i], &st, err);
    if (s) return s;
    sqlite3_bind_text(st, 1, r->name, -1, SQLITE_STATIC);
    s = step_all(db, st, "removing the previous labels", err);
    sqlite3_finalize(st);
    if (s) return s;
  }
  scores s = {0};
  clap_status st = load_scores(db, r->name, &s, err);
  r->n_scores = (int)s.n;
  r->n_utterances = s.nu;
  r->n_annotators = s.na;
  if (st || s.n == 0) {
    scores_free(&s);
    return st;
  }
  double *norm = malloc(s.n * sizeof *norm), *val = malloc((size_t)s.nu * sizeof *val);
  int *lab = malloc((size_t)s.nu * sizeof *lab);
  labels_output *o = &r->out;
  *o = (labels_output){.normalized = norm, .value = val, .label = lab};
  if (!norm || !val || !lab) st = clap_error_set(err, CLAP_ERR_NOMEM, "%s: out of memory", r->name);
  labels_input in = {s.n, s.utt, s.ann, s.score, s.nu, s.na, grid};
  if (!st) st = labels_compute(&in, o, err);
  if (!st) st = store(db, r->name, &s, o, grid, err);
  if (st) clap_error_prefix(err, "%s: ", r->name);
  free(norm), free(val), free(lab);
  o->normalized = o->value = NULL;
  o->label = NULL;
  scores_free(&s);
  return st;
}

/* The dimensions to label: the named ones (each must exist) or all. */
static int pick_dimensions(sqlite3 *db, char **want, int nwant, dim_result **out, int *n,
                           clap_error *err) {
  sqlite3_stmt *q = NULL;
  if (db_prepare(db, "SELECT name FROM dimensions ORDER BY rowid", &q, err) != CLAP_OK) {
    clap_error_prefix(err, "reading dimensions: ");
    return -1;
  }
  char **all = NULL, known[400] = "";
  int nall = 0, rc = 0, r = DB_DONE;
  size_t used = 0;
  while (!rc && (r = db_step(q, err)) == DB_ROW) {
    const char *name = (const char *)sqlite3_column_text(q, 0);
    if (grow((void **)&all, (size_t)nall + 1, sizeof *all) || !(all[nall] = strdup(name))) {
      rc = -1;
      break;
    }
    nall++;
    if (used < sizeof known) {
      int w = snprintf(known + used, sizeof known - used, "%s%s", used ? ", " : "", name);
      if (w > 0) used += (size_t)w;
    }
  }
  sqlite3_finalize(q);
  if (r < 0) {
    clap_error_prefix(err, "reading dimensions: ");
    for (int i = 0; i < nall; i++) free(all[i]);
    free(all);
    return -1;
  }
  dim_result *res = calloc((size_t)(nwant ? nwant : nall) + 1, sizeof *res);
  int nr = 0;
  if (!res || rc) rc = -1, clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  for (int i = 0; !rc && i < (nwant ? nwant : nall); i++) {
    const char *name = nwant ? want[i] : all[i];
    int found = 0;
    for (int k = 0; k < nall && !found; k++) found = !strcmp(all[k], name);
    if (!found) {
      clap_error_set(err, CLAP_ERR_NOTFOUND, "unknown dimension \"%.60s\" (known: %s)", name, known);
      rc = -1;
    } else if (!(res[nr++].name = strdup(name))) {
      clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
      rc = -1;
    }
  }
  for (int k = 0; k < nall; k++) free(all[k]);
  free(all);
  *out = res;
  *n = nr;
  return rc;
}

static void print_table(const dim_result *r, int n, double grid) {
  printf("%-20s %9s %6s %8s %8s %8s %10s %10s\n", "dimension", "threshold", "grid", "negative",
         "positive", "excluded", "utterances", "annotators");
  for (int i = 0; i < n; i++) {
    if (r[i].n_scores == 0) {
      printf("%-20s (no scores)\n", r[i].name);
      continue;
    }
    printf("%-20s %9g %6g %8d %8d %8d %10d %10d\n", r[i].name, r[i].out.threshold, grid,
           r[i].out.n_negative, r[i].out.n_positive, r[i].out.n_excluded, r[i].n_utterances,
           r[i].n_annotators);
  }
}

static int run(const char *path, double grid, char **want, int nwant) {
  sqlite3 *db = NULL;
  clap_error err = {0};
  if (db_open(path, 0, &db, &err) != CLAP_OK) {
    fprintf(stderr, "clap labels: %s\n", err.msg);
    return 1;
  }
  dim_result *r = NULL;
  int n = 0, rc = 1;
  if (db_exec(db, "BEGIN IMMEDIATE", &err) || pick_dimensions(db, want, nwant, &r, &n, &err)) {
    fprintf(stderr, "clap labels: %s: %s\n", path, err.msg);
    goto done;
  }
  for (int i = 0; i < n; i++) {
    if (label_dimension(db, &r[i], grid, &err)) {
      fprintf(stderr, "clap labels: %s: %s; nothing changed\n", path, err.msg);
      goto done;
    }
  }
  if (db_exec(db, "COMMIT", &err)) {
    fprintf(stderr, "clap labels: %s: %s; nothing changed\n", path, err.msg);
    goto done;
  }
  print_table(r, n, grid);
  rc = 0;
done:
  if (rc) db_rollback(db);
  for (int i = 0; i < n; i++) free(r[i].name);
  free(r);
  db_close(db);
  return rc;
}

enum { OPT_GRID = CLI_OPT, OPT_DIMENSION };
static const struct option labels_opts[] = {
    CLI_HELP_OPTION, CLI_DB_OPTION,
    {"grid", required_argument, NULL, OPT_GRID},
    {"dimension", required_argument, NULL, OPT_DIMENSION},
    {0}};

int cmd_labels(int argc, char **argv) {
  double grid = LABELS_DEFAULT_GRID;
  char **want = calloc((size_t)argc + 1, sizeof *want);
  int nwant = 0, status = -1;
  if (!want) return 1;
  cli c = {.cmd = "clap labels", .help_fn = usage};
  for (int o; status < 0 && (o = cli_next(&c, argc, argv, "", labels_opts)) != CLI_END;)
    if (o == CLI_EXIT) status = c.status;
    else if (o == OPT_DIMENSION) want[nwant++] = optarg;
    else if (cli_number(&c, 1e-6, 100, &grid)) status = 2;
  static const char *const operands[] = {"database", NULL};
  if (status < 0 && cli_operands(&c, argc, argv, operands, 1, 1)) status = 2;
  if (status < 0) status = run(argv[optind], grid, want, nwant);
  free(want);
  return status;
}
