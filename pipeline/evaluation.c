/* evaluation — see evaluation.h. */
#include "evaluation.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "metrics.h"

clap_status eval_summarise(const int *truth, const int *pred, int n, eval_summary *s, clap_error *err) {
  memset(s, 0, sizeof *s);
  s->n = n;
  for (int i = 0; i < n; i++) {
    if (truth[i]) pred[i] ? s->tp++ : s->fn++;
    else pred[i] ? s->fp++ : s->tn++;
  }
  s->correct = s->tp + s->tn;
  return metrics_classification(truth, pred, n, 2, &s->wa, &s->ua, s->recall, err);
}

cJSON *eval_int_array(const int *v, int n) {
  cJSON *a = cJSON_CreateArray();
  for (int i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
  return a;
}

cJSON *eval_counts_json(const eval_summary *s) {
  cJSON *c = cJSON_CreateObject();
  cJSON_AddNumberToObject(c, "n", s->n);
  cJSON_AddNumberToObject(c, "no", s->tn + s->fp);
  cJSON_AddNumberToObject(c, "yes", s->tp + s->fn);
  cJSON_AddNumberToObject(c, "correct", s->correct);
  cJSON_AddNumberToObject(c, "tn", s->tn);
  cJSON_AddNumberToObject(c, "fp", s->fp);
  cJSON_AddNumberToObject(c, "fn", s->fn);
  cJSON_AddNumberToObject(c, "tp", s->tp);
  return c;
}

/* Per-utterance correctness, for the sign test. */
static unsigned char *correctness(const int *truth, const int *pred, int n) {
  unsigned char *c = malloc((size_t)(n ? n : 1));
  for (int i = 0; c && i < n; i++) c[i] = truth[i] == pred[i];
  return c;
}

clap_status eval_sign_test_json(const int *truth, const int *base, const int *pred, int n, cJSON *details,
                                clap_error *err) {
  unsigned char *a = correctness(truth, base, n), *b = correctness(truth, pred, n);
  int nb = 0, nc = 0;
  double p = 1;
  clap_status rc = a && b ? metrics_sign_test_paired(a, b, n, &nb, &nc, &p, err)
                          : clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  if (rc == CLAP_OK) {
    cJSON *s = cJSON_AddObjectToObject(details, "sign_test");
    cJSON_AddStringToObject(s, "versus", "baseline");
    cJSON_AddNumberToObject(s, "baseline_only_correct", nb);
    cJSON_AddNumberToObject(s, "arm_only_correct", nc);
    cJSON_AddNumberToObject(s, "p", p);
  }
  free(a);
  free(b);
  return rc;
}

static void bind_metric(sqlite3_stmt *st, int i, double v) {
  if (isfinite(v)) sqlite3_bind_double(st, i, v);
  else sqlite3_bind_null(st, i);
}

clap_status eval_insert_row(sqlite3 *db, const char *run, const char *fold, const char *arm, const char *model,
                            int prompt_set, int augment, int n, double wa, double ua, double rno, double ryes,
                            const cJSON *details, clap_error *err) {
  char *d = cJSON_PrintUnformatted(details);
  if (!d) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  sqlite3_stmt *st;
  clap_status rc = db_prepare(db,
                              "INSERT INTO evaluations(run, fold, arm, model, prompt_set, augment, n, "
                              "wa, ua, recall_no, recall_yes, details) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                              &st, err);
  if (rc == CLAP_OK) {
    sqlite3_bind_text(st, 1, run, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, fold, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, arm, -1, SQLITE_STATIC);
    if (model && *model) sqlite3_bind_text(st, 4, model, -1, SQLITE_STATIC);
    if (prompt_set > 0) sqlite3_bind_int(st, 5, prompt_set);
    if (augment >= 0) sqlite3_bind_int(st, 6, augment);
    sqlite3_bind_int(st, 7, n);
    bind_metric(st, 8, wa);
    bind_metric(st, 9, ua);
    bind_metric(st, 10, rno);
    bind_metric(st, 11, ryes);
    sqlite3_bind_text(st, 12, d, -1, SQLITE_STATIC);
    rc = db_step_done(st, err);
  }
  sqlite3_finalize(st);
  free(d);
  if (rc != CLAP_OK) clap_error_prefix(err, "writing evaluations (%s, %s, %s): ", run, fold, arm);
  return rc;
}

/* ---------------------------------------------------------------- digest */

/* One column, typed and length-prefixed so no two rows hash alike by
** moving bytes between columns. */
static void hash_column(sha256_ctx *c, sqlite3_stmt *st, int i) {
  unsigned char tag = (unsigned char)sqlite3_column_type(st, i);
  sha256_update(c, &tag, 1);
  if (tag == SQLITE_INTEGER) {
    int64_t v = sqlite3_column_int64(st, i);
    sha256_update(c, &v, sizeof v);
  } else if (tag == SQLITE_FLOAT) {
    double v = sqlite3_column_double(st, i);
    sha256_update(c, &v, sizeof v);
  } else if (tag != SQLITE_NULL) {
    const void *p = tag == SQLITE_TEXT ? (const void *)sqlite3_column_text(st, i) : sqlite3_column_blob(st, i);
    uint64_t n = (uint64_t)sqlite3_column_bytes(st, i);
    sha256_update(c, &n, sizeof n);
    if (n) sha256_update(c, p, (size_t)n);
  }
}

static clap_status hash_query(sqlite3 *db, sha256_ctx *c, const char *sql, const char *a, const char *b,
                              clap_error *err) {
  sqlite3_stmt *st;
  clap_status rc = db_prepare(db, sql, &st, err);
  if (rc != CLAP_OK) return rc;
  if (sqlite3_bind_parameter_count(st) >= 2) {
    sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
  }
  sha256_update(c, sql, strlen(sql) + 1);
  int r, ncol = sqlite3_column_count(st);
  while ((r = db_step(st, err)) == DB_ROW)
    for (int i = 0; i < ncol; i++) hash_column(c, st, i);
  sqlite3_finalize(st);
  return DB_STATUS(r);
}

clap_status eval_data_digest(sqlite3 *db, const char *audio_encoder, const char *text_encoder,
                             char hex[SHA256_HEX_SIZE], clap_error *err) {
  static const char *const sql[] = {
      "SELECT id, session_id, role FROM utterances ORDER BY id",
      "SELECT name, training, customer_only FROM dimensions ORDER BY name",
      "SELECT utterance_id, dimension, value, label FROM labels ORDER BY utterance_id, dimension",
      "SELECT id, dimension, pole, text, source, status, prompt_set FROM descriptions ORDER BY id",
      "SELECT encoder, modality, key, dim, encoder_id, vec FROM features WHERE encoder IN (?1, ?2) "
      "ORDER BY encoder, modality, key"};
  sha256_ctx c;
  sha256_init(&c);
  clap_status rc = CLAP_OK;
  for (size_t i = 0; i < sizeof sql / sizeof *sql && rc == CLAP_OK; i++)
    rc = hash_query(db, &c, sql[i], audio_encoder, text_encoder, err);
  if (sha256_final_hex(&c, hex) && rc == CLAP_OK) rc = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  if (rc != CLAP_OK) {
    hex[0] = 0;
    clap_error_prefix(err, "digest of the evaluation's inputs: ");
  }
  return rc;
}

/* ---------------------------------------------------------------- pooled */

/* One arm's utterances over the folds, in fold order; folds is the
** comma-separated list of the folds it pooled. */
typedef struct pool_arm {
  char *arm;
  int prompt_set, augment;
  char **ids;
  int *truth, *pred, n, cap;
  double *score;
  char *folds;
  size_t folds_len, folds_cap;
} pool_arm;

/* Folds named in a message: at most LIST_MAX, then "and N more". */
#define LIST_MAX 8
typedef struct fold_list {
  char text[LIST_MAX * 80];
  int n;
} fold_list;

static void list_add(fold_list *l, const char *fold, const char *note) {
  size_t len = strlen(l->text);
  if (l->n < LIST_MAX)
    snprintf(l->text + len, sizeof l->text - len, "%s%s%s", l->n ? ", " : "", fold, note ? note : "");
  l->n++;
}

static const char *list_more(const fold_list *l, char *buf, size_t cap) {
  if (l->n > LIST_MAX) snprintf(buf, cap, " and %d more", l->n - LIST_MAX);
  else buf[0] = 0;
  return buf;
}

typedef struct pool {
  pool_arm *arms;
  int narms, cap;
  int nfolds;
  const eval_config *want;
  fold_list other_settings, other_data; /* folds that do not match want */
  char *first_other;                    /* config_key of the first in other_settings */
  char *one_class;                      /* "s4 (no), s5 (yes)", grown */
  size_t one_class_len;
} pool;

static void pool_free(pool *p) {
  for (int i = 0; i < p->narms; i++) {
    pool_arm *a = &p->arms[i];
    for (int j = 0; j < a->n; j++) free(a->ids[j]);
    free(a->arm);
    free(a->ids);
    free(a->truth);
    free(a->pred);
    free(a->score);
    free(a->folds);
  }
  free(p->arms);
  free(p->first_other);
  free(p->one_class);
  memset(p, 0, sizeof *p);
}

static int add_one_class(pool *p, const char *fold, const char *cls) {
  size_t need = p->one_class_len + strlen(fold) + strlen(cls) + 8;
  char *g = realloc(p->one_class, need);
  if (!g) return -1;
  p->one_class = g;
  p->one_class_len += (size_t)sprintf(g + p->one_class_len, "%s%s (%s)", p->one_class_len ? ", " : "", fold, cls);
  return 0;
}

/* The first row of a fold: does it match the configuration wanted, and
** does it hold one class only? */
static const char *string_item(const cJSON *d, const char *name) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(d, name);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static clap_status fold_check(pool *p, const cJSON *d, const char *fold, clap_error *err) {
  const char *key = string_item(d, "config_key");
  const char *digest = string_item(d, "data_digest");
  const char *cls = string_item(d, "one_class");
  if (cls && add_one_class(p, fold, cls)) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  if (!p->want) return CLAP_OK;
  if (!key || strcmp(key, p->want->config_key)) {
    if (!p->first_other && key && !(p->first_other = strdup(key)))
      return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
    list_add(&p->other_settings, fold, NULL);
  } else if (!digest || strcmp(digest, p->want->data_digest)) {
    list_add(&p->other_data, fold, NULL);
  }
  return CLAP_OK;
}

static pool_arm *find_arm(pool *p, const char *arm, int ps, int aug) {
  for (int i = 0; i < p->narms; i++)
    if (!strcmp(p->arms[i].arm, arm) && p->arms[i].prompt_set == ps && p->arms[i].augment == aug)
      return &p->arms[i];
  if (p->narms == p->cap) {
    int cap = p->cap ? 2 * p->cap : 8;
    pool_arm *g = realloc(p->arms, (size_t)cap * sizeof *g);
    if (!g) return NULL;
    p->arms = g;
    p->cap = cap;
  }
  pool_arm *a = &p->arms[p->narms];
  memset(a, 0, sizeof *a);
  if (!(a->arm = strdup(arm))) return NULL;
  a->prompt_set = ps;
  a->augment = aug;
  p->narms++;
  return a;
}

static int grow_arm(pool_arm *a, int more) {
  if (a->n + more <= a->cap) return 0;
  int cap = 2 * (a->n + more);
  char **ids = realloc(a->ids, (size_t)cap * sizeof *ids);
  if (ids) a->ids = ids;
  int *truth = realloc(a->truth, (size_t)cap * sizeof *truth);
  if (truth) a->truth = truth;
  int *pred = realloc(a->pred, (size_t)cap * sizeof *pred);
  if (pred) a->pred = pred;
  double *score = realloc(a->score, (size_t)cap * sizeof *score);
  if (score) a->score = score;
  if (!ids || !truth || !pred || !score) return -1;
  a->cap = cap;
  return 0;
}

static int add_fold_name(pool_arm *a, const char *fold) {
  size_t need = a->folds_len + strlen(fold) + 2;
  if (need > a->folds_cap) {
    size_t cap = 2 * need;
    char *g = realloc(a->folds, cap);
    if (!g) return -1;
    a->folds = g;
    a->folds_cap = cap;
  }
  a->folds_len += (size_t)sprintf(a->folds + a->folds_len, "%s%s", a->folds_len ? "," : "", fold);
  return 0;
}

static int binary(const cJSON *v) {
  return cJSON_IsNumber(v) && (v->valuedouble == 0 || v->valuedouble == 1);
}

static clap_status pool_add(pool_arm *a, const char *fold, const cJSON *d, clap_error *err) {
  const cJSON *ids = cJSON_GetObjectItem(d, "utterances"), *truth = cJSON_GetObjectItem(d, "truth");
  const cJSON *pred = cJSON_GetObjectItem(d, "pred"), *score = cJSON_GetObjectItem(d, "score");
  int n = cJSON_GetArraySize(ids);
  if (!cJSON_IsArray(ids) || !cJSON_IsArray(truth) || cJSON_GetArraySize(truth) != n ||
      (pred && (!cJSON_IsArray(pred) || cJSON_GetArraySize(pred) != n)))
    return clap_error_set(err, CLAP_ERR_FORMAT,
                          "evaluations row of fold %s, arm %s: details lack per-utterance arrays", fold, a->arm);
  if (grow_arm(a, n) || add_fold_name(a, fold)) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  if (score && (!cJSON_IsArray(score) || cJSON_GetArraySize(score) != n)) score = NULL;
  const cJSON *id = ids->child, *t = truth->child, *pr = pred ? pred->child : NULL;
  const cJSON *sc = score ? score->child : NULL;
  for (int i = 0; i < n; i++) {
    if (!cJSON_IsString(id) || !binary(t) || (pred && !binary(pr)))
      return clap_error_set(err, CLAP_ERR_FORMAT, "evaluations row of fold %s, arm %s: details entry %d is malformed",
                            fold, a->arm, i);
    if (!(a->ids[a->n] = strdup(id->valuestring))) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
    a->truth[a->n] = t->valueint;
    a->pred[a->n] = pr ? pr->valueint : 0;
    a->score[a->n] = cJSON_IsNumber(sc) ? sc->valuedouble : NAN;
    a->n++;
    id = id->next, t = t->next;
    if (pr) pr = pr->next;
    if (sc) sc = sc->next;
  }
  return CLAP_OK;
}

/* Every fold row of the run into p, one row at a time. */
static clap_status pool_read(sqlite3 *db, const char *run, pool *p, clap_error *err) {
  sqlite3_stmt *st;
  clap_status rc = db_prepare(db,
                              "SELECT fold, arm, coalesce(prompt_set,0), coalesce(augment,-1), details "
                              "FROM evaluations WHERE run=? AND fold<>'pooled' ORDER BY fold, id",
                              &st, err);
  if (rc != CLAP_OK) return rc;
  sqlite3_bind_text(st, 1, run, -1, SQLITE_STATIC);
  char *last = NULL;
  int r = DB_DONE;
  while (rc == CLAP_OK && (r = db_step(st, err)) == DB_ROW) {
    const char *fold = (const char *)sqlite3_column_text(st, 0);
    const char *arm = (const char *)sqlite3_column_text(st, 1);
    cJSON *d = cJSON_Parse((const char *)sqlite3_column_text(st, 4));
    if (d && (!last || strcmp(last, fold))) {
      free(last);
      if (!(last = strdup(fold))) {
        rc = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
        cJSON_Delete(d);
        break;
      }
      p->nfolds++;
      if ((rc = fold_check(p, d, fold, err)) != CLAP_OK) {
        cJSON_Delete(d);
        break;
      }
    }
    pool_arm *a = d ? find_arm(p, arm, sqlite3_column_int(st, 2), sqlite3_column_int(st, 3)) : NULL;
    if (!d)
      rc = clap_error_set(err, CLAP_ERR_FORMAT, "evaluations: details of fold %s, arm %s are not JSON", fold, arm);
    else if (!a)
      rc = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
    else
      rc = pool_add(a, fold, d, err);
    cJSON_Delete(d);
  }
  if (rc == CLAP_OK) rc = DB_STATUS(r);
  free(last);
  sqlite3_finalize(st);
  return rc;
}

static clap_status pooled_random(const pool_arm *a, uint64_t seed, int random_runs, cJSON *d, double m[4],
                                 clap_error *err) {
  clap_status rc = metrics_random_predictor(a->truth, a->n, 2, seed, random_runs, &m[0], &m[1], &m[2], err);
  int yes = 0;
  for (int j = 0; j < a->n; j++) yes += a->truth[j];
  cJSON *cn = cJSON_AddObjectToObject(d, "counts");
  cJSON_AddNumberToObject(cn, "n", a->n);
  cJSON_AddNumberToObject(cn, "no", a->n - yes);
  cJSON_AddNumberToObject(cn, "yes", yes);
  cJSON_AddNumberToObject(d, "runs", random_runs);
  return rc;
}

static clap_status pooled_arm(const pool_arm *a, const pool_arm *base, cJSON *d, double m[4], clap_error *err) {
  eval_summary s;
  clap_status rc = eval_summarise(a->truth, a->pred, a->n, &s, err);
  m[0] = s.wa, m[1] = s.ua, m[2] = s.recall[0], m[3] = s.recall[1];
  cJSON_AddItemToObject(d, "counts", eval_counts_json(&s));
  if (rc == CLAP_OK && !strcmp(a->arm, "baseline")) {
    double auc;
    if (metrics_auc(a->score, a->truth, a->n, &auc, NULL) == CLAP_OK) cJSON_AddNumberToObject(d, "auc", auc);
    cJSON_AddItemToObject(d, "score", cJSON_CreateDoubleArray(a->score, a->n));
    cJSON_AddItemToObject(d, "truth", eval_int_array(a->truth, a->n));
  }
  if (rc == CLAP_OK && !strcmp(a->arm, "zero-shot") && base) {
    for (int j = 0; j < a->n && rc == CLAP_OK; j++)
      if (j >= base->n || strcmp(a->ids[j], base->ids[j]))
        rc = clap_error_set(err, CLAP_ERR_FORMAT, "pooled rows: zero-shot and baseline utterances differ at %d", j);
    if (rc == CLAP_OK && a->n != base->n)
      rc = clap_error_set(err, CLAP_ERR_FORMAT, "pooled rows: %d zero-shot and %d baseline utterances", a->n,
                          base->n);
    if (rc == CLAP_OK) rc = eval_sign_test_json(a->truth, base->pred, a->pred, a->n, d, err);
  }
  return rc;
}

/* "epochs 200 (this run 100), lr ..." for the settings where theirs and
** ours (config_key JSON objects) differ. */
static void describe_diff(const char *theirs, const char *ours, char *buf, size_t cap) {
  cJSON *t = cJSON_Parse(theirs), *o = cJSON_Parse(ours);
  size_t len = 0;
  buf[0] = 0;
  for (const cJSON *it = o ? o->child : NULL; it && len + 1 < cap; it = it->next) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(t, it->string);
    char *a = v ? cJSON_PrintUnformatted(v) : NULL, *b = cJSON_PrintUnformatted(it);
    if (b && (!a || strcmp(a, b))) {
      int w = snprintf(buf + len, cap - len, "%s%s %s (this run %s)", len ? ", " : "", it->string,
                       a ? a : "unset", b);
      if (w > 0) len += (size_t)w < cap - len ? (size_t)w : cap - len - 1;
    }
    cJSON_free(a);
    cJSON_free(b);
  }
  if (!len) snprintf(buf, cap, "other settings");
  cJSON_Delete(t);
  cJSON_Delete(o);
}

/* The message for a run whose folds do not share one configuration. */
static clap_status refuse_mixed(const pool *p, const char *run, clap_error *err) {
  char more1[32], more2[32], diff[200] = "";
  char a[sizeof p->other_settings.text + 200] = "", b[sizeof p->other_data.text + 120] = "";
  if (p->other_settings.n) {
    if (p->first_other) describe_diff(p->first_other, p->want->config_key, diff, sizeof diff);
    snprintf(a, sizeof a, "%s %s%s evaluated with %s", p->other_settings.n > 1 ? "folds" : "fold",
             p->other_settings.text, list_more(&p->other_settings, more1, sizeof more1),
             p->first_other ? diff : "no recorded settings");
  }
  if (p->other_data.n)
    snprintf(b, sizeof b, "%s%s %s%s evaluated on other labels, descriptions or cached features",
             a[0] ? "; " : "", p->other_data.n > 1 ? "folds" : "fold", p->other_data.text,
             list_more(&p->other_data, more2, sizeof more2));
  return clap_error_set(err, CLAP_ERR_ARG,
                        "run '%s' mixes configurations, so it was not pooled (its old pooled rows are removed): "
                        "%s%s; evaluate those folds again with this run's settings (--folds) or use another --run",
                        run, a, b);
}

static clap_status delete_pooled(sqlite3 *db, const char *run, clap_error *err) {
  sqlite3_stmt *del;
  clap_status rc = db_prepare(db, "DELETE FROM evaluations WHERE run=? AND fold='pooled'", &del, err);
  if (rc == CLAP_OK) {
    sqlite3_bind_text(del, 1, run, -1, SQLITE_STATIC);
    rc = db_step_done(del, err);
  }
  sqlite3_finalize(del);
  return rc;
}

/* The pooled rows of p, inside the caller's transaction. */
static clap_status pool_write(sqlite3 *db, const char *run, const pool *p, uint64_t seed, int random_runs,
                              clap_error *err) {
  clap_status rc = delete_pooled(db, run, err);
  const pool_arm *base = NULL;
  for (int i = 0; i < p->narms; i++)
    if (!strcmp(p->arms[i].arm, "baseline")) base = &p->arms[i];
  for (int i = 0; i < p->narms && rc == CLAP_OK; i++) {
    const pool_arm *a = &p->arms[i];
    cJSON *d = cJSON_CreateObject();
    if (!d) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
    cJSON_AddStringToObject(d, "folds", a->folds ? a->folds : "");
    if (p->want) {
      cJSON_AddStringToObject(d, "config_key", p->want->config_key);
      cJSON_AddItemToObject(d, "config", cJSON_Parse(p->want->config_key));
      cJSON_AddStringToObject(d, "data_digest", p->want->data_digest);
    }
    if (p->one_class) cJSON_AddStringToObject(d, "one_class_folds", p->one_class);
    double m[4] = {NAN, NAN, NAN, NAN};
    rc = !strcmp(a->arm, "random") ? pooled_random(a, seed, random_runs, d, m, err)
                                   : pooled_arm(a, base, d, m, err);
    if (rc == CLAP_OK)
      rc = eval_insert_row(db, run, "pooled", a->arm, NULL, a->prompt_set, a->augment, a->n, m[0], m[1], m[2],
                           m[3], d, err);
    cJSON_Delete(d);
  }
  return rc;
}

void eval_pool_info_free(eval_pool_info *info) {
  if (!info) return;
  free(info->one_class);
  memset(info, 0, sizeof *info);
}

clap_status eval_pool(sqlite3 *db, const char *run, const eval_config *want, uint64_t seed, int random_runs,
                      eval_pool_info *info, clap_error *err) {
  pool p = {0};
  p.want = want && want->config_key && want->data_digest ? want : NULL;
  if (info) memset(info, 0, sizeof *info);
  clap_status rc = db_exec(db, "BEGIN IMMEDIATE", err);
  if (rc != CLAP_OK) return rc;
  rc = pool_read(db, run, &p, err);
  int mixed = rc == CLAP_OK && (p.other_settings.n || p.other_data.n);
  if (rc == CLAP_OK) rc = mixed ? delete_pooled(db, run, err) : pool_write(db, run, &p, seed, random_runs, err);
  if (rc == CLAP_OK) rc = db_exec(db, "COMMIT", err);
  if (rc != CLAP_OK) db_rollback(db);
  if (rc == CLAP_OK && mixed) rc = refuse_mixed(&p, run, err);
  if (rc == CLAP_OK && info) {
    info->nfolds = p.nfolds;
    info->one_class = p.one_class;
    p.one_class = NULL;
  }
  pool_free(&p);
  return rc;
}
