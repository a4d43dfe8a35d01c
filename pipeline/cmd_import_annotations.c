/*
** clap import-annotations — import annotator scores into the scores table.
**
**   clap import-annotations DB FILE... [--format csv|tsv|json]
**       [--utterance-col NAME] [--annotator-col NAME] [--dimension-col NAME]
**       [--score-col NAME] [--replace] [--dry-run]
**
** Each FILE is long-format CSV, TSV or JSON (pipeline/annotations.h: one
** row per utterance, annotator, dimension and score 1..7; the format comes
** from the extension unless --format says; the --*-col flags name the
** columns or JSON keys of other tools' exports).
**
** Everything is validated before anything is written. Errors, each as
** "FILE:LINE: message":
**   - what annotations.h rejects (a score outside 1..7 or not an integer, a
**     ragged row, a missing column, bad quoting or JSON; an unreadable file);
**   - an utterance id that is not in the database (ingest its session first);
**   - a dimension that is not one of the database's dimensions;
**   - a score for a customer-only dimension (purchase_intention) on an
**     utterance whose role is not customer;
**   - the same (utterance, annotator, dimension) twice among the FILEs;
**   - a (utterance, annotator, dimension) already stored with a different
**     score, unless --replace (then the new score and FILE replace it).
** A row identical to what is stored is not an error and changes nothing,
** so importing the same file again is a no-op. All errors are reported (the
** first 20 in file and line order, then a count of the rest); if there is
** any, exit status 1 and the database is left exactly as it was. Otherwise
** all rows are written in ONE transaction, annotators are added to the
** annotators table as needed, source_file records the FILE argument, and one
** line on stdout counts added, replaced and unchanged scores. --dry-run
** validates and reports the counts but writes nothing. Usage errors exit 2.
** Labels are not recomputed: run `clap labels DB` after importing.
*/
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "annotations.h"
#include "cli.h"
#include "commands.h"
#include "db.h"

#define MAX_SHOWN 20

typedef struct issue {
  int file, line;
  size_t seq;
  char *msg;
} issue;

typedef struct issues {
  issue *v;
  size_t n, cap;
  int nomem;
} issues;

typedef struct ref {
  const ann_record *r;
  int file;
  int action; /* 0 add, 1 replace, 2 unchanged */
} ref;

typedef struct dim {
  char *name;
  int customer_only;
} dim;

typedef struct import {
  sqlite3 *db;
  ann_file **files;
  int nfiles;
  char **paths;
  dim *dims;
  int ndims;
  char dim_list[300];
  ref *refs;
  size_t nrefs;
  issues is;
  int replace;
} import;

static void issue_add(issues *is, int file, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static void issue_add(issues *is, int file, int line, const char *fmt, ...) {
  if (is->n == is->cap) {
    size_t cap = is->cap ? is->cap * 2 : 32;
    issue *v = realloc(is->v, cap * sizeof *v);
    if (!v) { is->nomem = 1; return; }
    is->v = v;
    is->cap = cap;
  }
  char buf[700];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  char *m = strdup(buf);
  if (!m) { is->nomem = 1; return; }
  is->v[is->n] = (issue){file, line, is->n, m};
  is->n++;
}

static int issue_cmp(const void *a, const void *b) {
  const issue *x = a, *y = b;
  if (x->file != y->file) return x->file < y->file ? -1 : 1;
  if (x->line != y->line) return x->line < y->line ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: clap import-annotations DB FILE... [options]\n"
          "\n"
          "Import annotator scores (long format: utterance, annotator, dimension,\n"
          "score 1..7) from CSV, TSV or JSON files. Everything is checked first;\n"
          "on any error nothing is written. Importing the same file again is a no-op.\n"
          "\n"
          "options:\n"
          "  --format csv|tsv|json   file format (default: from the extension)\n"
          "  --utterance-col NAME    column / key of the utterance id (default utterance)\n"
          "  --annotator-col NAME    column / key of the annotator id (default annotator)\n"
          "  --dimension-col NAME    column / key of the dimension (default dimension)\n"
          "  --score-col NAME        column / key of the score (default score)\n"
          "  --replace               a different score for a stored triple replaces it\n"
          "  --dry-run               check and count, write nothing\n");
}

static int load_dims(import *im, clap_error *err) {
  sqlite3_stmt *st = NULL;
  if (db_prepare(im->db, "SELECT name, customer_only FROM dimensions ORDER BY rowid", &st, err) != CLAP_OK) {
    clap_error_prefix(err, "reading dimensions: ");
    return -1;
  }
  size_t used = 0;
  int r, ok = 1;
  while (ok && (r = db_step(st, err)) == DB_ROW) {
    dim *d = realloc(im->dims, (size_t)(im->ndims + 1) * sizeof *d);
    if (!(ok = d != NULL)) break;
    im->dims = d;
    const char *name = (const char *)sqlite3_column_text(st, 0);
    d[im->ndims].name = strdup(name ? name : "");
    d[im->ndims].customer_only = sqlite3_column_int(st, 1);
    if (!(ok = d[im->ndims].name != NULL)) break;
    if (used < sizeof im->dim_list) {
      int w = snprintf(im->dim_list + used, sizeof im->dim_list - used, "%s%s", im->ndims ? ", " : "",
                       d[im->ndims].name);
      if (w > 0) used += (size_t)w;
    }
    im->ndims++;
  }
  sqlite3_finalize(st);
  if (!ok) clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  else if (r < 0) clap_error_prefix(err, "reading dimensions: ");
  return ok && r >= 0 ? 0 : -1;
}

static const dim *find_dim(const import *im, const char *name) {
  for (int i = 0; i < im->ndims; i++)
    if (!strcmp(im->dims[i].name, name)) return &im->dims[i];
  return NULL;
}

static int ref_cmp(const void *a, const void *b) {
  const ref *x = a, *y = b;
  int c = strcmp(x->r->utterance, y->r->utterance);
  if (!c) c = strcmp(x->r->annotator, y->r->annotator);
  if (!c) c = strcmp(x->r->dimension, y->r->dimension);
  if (!c) c = x->file - y->file;
  if (!c) c = x->r->line - y->r->line;
  return c;
}

/* The same triple twice among the files: report every later occurrence. */
static void check_duplicates(import *im) {
  qsort(im->refs, im->nrefs, sizeof *im->refs, ref_cmp);
  size_t first = 0;
  for (size_t i = 1; i < im->nrefs; i++) {
    const ref *a = &im->refs[first], *b = &im->refs[i];
    if (strcmp(a->r->utterance, b->r->utterance) || strcmp(a->r->annotator, b->r->annotator) ||
        strcmp(a->r->dimension, b->r->dimension)) {
      first = i;
      continue;
    }
    issue_add(&im->is, b->file, b->r->line,
              "%s:%d: %s, annotator %s, %s: already given on %s:%d", im->paths[b->file],
              b->r->line, b->r->utterance, b->r->annotator, b->r->dimension, im->paths[a->file],
              a->r->line);
  }
}

/* Check one record against the database; sets its action. -1 when the
** database could not be read (err filled). */
static int check_record(import *im, ref *f, sqlite3_stmt *q_role, sqlite3_stmt *q_score, clap_error *err) {
  const ann_record *r = f->r;
  const char *path = im->paths[f->file];
  const dim *d = find_dim(im, r->dimension);
  if (!d)
    issue_add(&im->is, f->file, r->line, "%s:%d: unknown dimension \"%.60s\" (known: %s)", path,
              r->line, r->dimension, im->dim_list);
  sqlite3_reset(q_role);
  sqlite3_bind_text(q_role, 1, r->utterance, -1, SQLITE_STATIC);
  int st = db_step(q_role, err);
  if (st < 0) return -1;
  if (st == DB_DONE) {
    issue_add(&im->is, f->file, r->line,
              "%s:%d: unknown utterance \"%.80s\" (not in the database; ingest its session first)",
              path, r->line, r->utterance);
    return 0;
  }
  const char *role = (const char *)sqlite3_column_text(q_role, 0);
  if (d && d->customer_only && (!role || strcmp(role, "customer")))
    issue_add(&im->is, f->file, r->line, "%s:%d: %s is only for customer utterances; %s is a %s",
              path, r->line, d->name, r->utterance, role ? role : "(no role)");
  if (!d) return 0;
  sqlite3_reset(q_score);
  sqlite3_bind_text(q_score, 1, r->utterance, -1, SQLITE_STATIC);
  sqlite3_bind_text(q_score, 2, r->annotator, -1, SQLITE_STATIC);
  sqlite3_bind_text(q_score, 3, r->dimension, -1, SQLITE_STATIC);
  f->action = 0;
  st = db_step(q_score, err);
  if (st != DB_ROW) return st;
  int stored = sqlite3_column_int(q_score, 0);
  if (stored == r->score) f->action = 2;
  else if (im->replace) f->action = 1;
  else
    issue_add(&im->is, f->file, r->line,
              "%s:%d: %s, annotator %s, %s: score %d but %d is stored (--replace to overwrite)",
              path, r->line, r->utterance, r->annotator, r->dimension, r->score, stored);
  return 0;
}

static int validate(import *im, clap_error *err) {
  sqlite3_stmt *q_role = NULL, *q_score = NULL;
  if (db_prepare(im->db, "SELECT role FROM utterances WHERE id = ?1", &q_role, err) ||
      db_prepare(im->db,
                 "SELECT score FROM scores WHERE utterance_id = ?1 AND annotator_id = ?2 "
                 "AND dimension = ?3",
                 &q_score, err)) {
    sqlite3_finalize(q_role);
    return -1;
  }
  int rc = 0;
  for (size_t i = 0; i < im->nrefs && rc == 0; i++) rc = check_record(im, &im->refs[i], q_role, q_score, err);
  sqlite3_finalize(q_role);
  sqlite3_finalize(q_score);
  if (rc == 0) check_duplicates(im);
  return rc;
}

static int write_scores(import *im, int counts[3], clap_error *err) {
  sqlite3_stmt *ins_a = NULL, *ins_s = NULL;
  int rc = -1;
  if (db_prepare(im->db, "INSERT OR IGNORE INTO annotators(id) VALUES (?1)", &ins_a, err) ||
      db_prepare(im->db,
                 "INSERT INTO scores(utterance_id, annotator_id, dimension, score, "
                 "source_file) VALUES (?1, ?2, ?3, ?4, ?5) "
                 "ON CONFLICT(utterance_id, annotator_id, dimension) DO UPDATE SET "
                 "score = excluded.score, source_file = excluded.source_file",
                 &ins_s, err))
    goto done;
  for (size_t i = 0; i < im->nrefs; i++) {
    const ref *f = &im->refs[i];
    counts[f->action]++;
    if (f->action == 2) continue;
    sqlite3_reset(ins_a);
    sqlite3_bind_text(ins_a, 1, f->r->annotator, -1, SQLITE_STATIC);
    sqlite3_reset(ins_s);
    sqlite3_bind_text(ins_s, 1, f->r->utterance, -1, SQLITE_STATIC);
    sqlite3_bind_text(ins_s, 2, f->r->annotator, -1, SQLITE_STATIC);
    sqlite3_bind_text(ins_s, 3, f->r->dimension, -1, SQLITE_STATIC);
    sqlite3_bind_int(ins_s, 4, f->r->score);
    sqlite3_bind_text(ins_s, 5, im->paths[f->file], -1, SQLITE_STATIC);
    if (db_step_done(ins_a, err) != CLAP_OK || db_step_done(ins_s, err) != CLAP_OK) {
      clap_error_prefix(err, "%s:%d: writing the score: ", im->paths[f->file], f->r->line);
      goto done;
    }
  }
  rc = 0;
done:
  sqlite3_finalize(ins_a);
  sqlite3_finalize(ins_s);
  return rc;
}

static void report_issues(import *im) {
  qsort(im->is.v, im->is.n, sizeof *im->is.v, issue_cmp);
  for (size_t i = 0; i < im->is.n && i < MAX_SHOWN; i++) fprintf(stderr, "%s\n", im->is.v[i].msg);
  if (im->is.n > MAX_SHOWN) fprintf(stderr, "and %zu more errors\n", im->is.n - MAX_SHOWN);
  fprintf(stderr, "clap import-annotations: %zu error%s; nothing imported\n", im->is.n,
          im->is.n == 1 ? "" : "s");
}

/* Parse every file; its own errors join the list, its records the refs. */
static int read_files(import *im, ann_format fmt, const ann_columns *cols) {
  size_t total = 0;
  for (int i = 0; i < im->nfiles; i++) {
    clap_error e = {0};
    if (ann_read_file(im->paths[i], fmt, cols, &im->files[i], &e) != CLAP_OK) {
      if (e.code == CLAP_ERR_NOMEM) return -1;
      issue_add(&im->is, i, 0, "%s", e.msg);
      continue;
    }
    for (size_t k = 0; k < ann_error_kept(im->files[i]); k++) {
      int line = 0;
      const char *m = ann_error_at(im->files[i], k, &line);
      issue_add(&im->is, i, line, "%s", m);
    }
    size_t hidden = ann_error_count(im->files[i]) - ann_error_kept(im->files[i]);
    if (hidden) issue_add(&im->is, i, 1 << 30, "%s: %zu more errors", im->paths[i], hidden);
    total += ann_count(im->files[i]);
  }
  im->refs = calloc(total ? total : 1, sizeof *im->refs);
  if (!im->refs) return -1;
  for (int i = 0; i < im->nfiles; i++)
    for (size_t k = 0; im->files[i] && k < ann_count(im->files[i]); k++)
      im->refs[im->nrefs++] = (ref){ann_record_at(im->files[i], k), i, 0};
  return 0;
}

static void import_free(import *im) {
  for (int i = 0; i < im->nfiles; i++) ann_free(im->files[i]);
  free(im->files);
  for (int i = 0; i < im->ndims; i++) free(im->dims[i].name);
  free(im->dims);
  free(im->refs);
  for (size_t i = 0; i < im->is.n; i++) free(im->is.v[i].msg);
  free(im->is.v);
  db_close(im->db);
}

static int run(import *im, const char *dbpath, ann_format fmt, const ann_columns *cols,
               int dry_run) {
  clap_error err = {0};
  if (db_open(dbpath, 0, &im->db, &err) != CLAP_OK) {
    fprintf(stderr, "clap import-annotations: %s\n", err.msg);
    return 1;
  }
  if (read_files(im, fmt, cols)) {
    fprintf(stderr, "clap import-annotations: out of memory\n");
    return 1;
  }
  /* IMMEDIATE: what is checked is what gets written, no writer in between. */
  if (db_exec(im->db, "BEGIN IMMEDIATE", &err) || load_dims(im, &err) || validate(im, &err)) {
    fprintf(stderr, "clap import-annotations: %s: %s\n", dbpath, err.msg);
    db_rollback(im->db);
    return 1;
  }
  if (im->is.n || im->is.nomem) {
    db_rollback(im->db);
    report_issues(im);
    return 1;
  }
  int counts[3] = {0, 0, 0};
  if (write_scores(im, counts, &err) ||
      (dry_run ? db_exec(im->db, "ROLLBACK", &err) : db_exec(im->db, "COMMIT", &err))) {
    fprintf(stderr, "clap import-annotations: %s: %s; nothing imported\n", dbpath, err.msg);
    db_rollback(im->db);
    return 1;
  }
  printf("%s%zu score%s from %d file%s: %d added, %d replaced, %d already stored\n",
         dry_run ? "dry run (nothing written): " : "", im->nrefs, im->nrefs == 1 ? "" : "s",
         im->nfiles, im->nfiles == 1 ? "" : "s", counts[0], counts[1], counts[2]);
  if (!dry_run && counts[0] + counts[1] > 0)
    printf("scores changed: run `clap labels %s` to recompute the labels\n", dbpath);
  return 0;
}

enum { OPT_FORMAT = CLI_OPT, OPT_UTTERANCE_COL, OPT_ANNOTATOR_COL, OPT_DIMENSION_COL,
       OPT_SCORE_COL, OPT_REPLACE, OPT_DRY_RUN };
static const struct option import_opts[] = {
    CLI_HELP_OPTION, CLI_DB_OPTION,
    {"format", required_argument, NULL, OPT_FORMAT},
    {"utterance-col", required_argument, NULL, OPT_UTTERANCE_COL},
    {"annotator-col", required_argument, NULL, OPT_ANNOTATOR_COL},
    {"dimension-col", required_argument, NULL, OPT_DIMENSION_COL},
    {"score-col", required_argument, NULL, OPT_SCORE_COL},
    {"replace", no_argument, NULL, OPT_REPLACE},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {0}};

/* What the command line asks for (the usage above). */
typedef struct import_args {
  ann_columns cols;
  ann_format fmt;
  int replace, dry_run;
} import_args;

/* One option into a; 0, or 2 after a usage error. */
static int import_option(import_args *a, const cli *c, int opt) {
  static const char *const formats[] = {"csv", "tsv", "json", NULL};
  static const ann_format format_of[] = {ANN_CSV, ANN_TSV, ANN_JSON};
  const char **col = NULL;
  int f;
  switch (opt) {
  case OPT_FORMAT:
    if (cli_choice(c, formats, &f)) return 2;
    a->fmt = format_of[f];
    return 0;
  case OPT_UTTERANCE_COL: col = &a->cols.utterance; break;
  case OPT_ANNOTATOR_COL: col = &a->cols.annotator; break;
  case OPT_DIMENSION_COL: col = &a->cols.dimension; break;
  case OPT_SCORE_COL: col = &a->cols.score; break;
  case OPT_REPLACE: a->replace = 1; return 0;
  case OPT_DRY_RUN: a->dry_run = 1; return 0;
  }
  if (!*optarg) return cli_usage(c, "%s: expected a column name, got ''", c->opt);
  *col = optarg;
  return 0;
}

int cmd_import_annotations(int argc, char **argv) {
  import_args a = {.fmt = ANN_AUTO};
  cli c = {.cmd = "clap import-annotations", .help_fn = usage};
  for (int o; (o = cli_next(&c, argc, argv, "", import_opts)) != CLI_END;)
    if (o == CLI_EXIT) return c.status;
    else if (import_option(&a, &c, o)) return 2;
  static const char *const operands[] = {"database", "annotation file", NULL};
  if (cli_operands(&c, argc, argv, operands, 2, -1)) return 2;
  char **pos = argv + optind;
  int npos = argc - optind;
  import im = {.nfiles = npos - 1, .paths = pos + 1, .replace = a.replace};
  im.files = calloc((size_t)im.nfiles, sizeof *im.files);
  int rc = im.files ? run(&im, pos[0], a.fmt, &a.cols, a.dry_run) : 1;
  import_free(&im);
  return rc;
}
