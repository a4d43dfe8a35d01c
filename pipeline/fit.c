/* fit — see fit.h. */
#include "fit.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "clap_bce.h"
#include "clap_rng.h"
#include "clap_train.h"
#include "db.h"
#include "dense.h"
#include "feature_cache.h"
#include "metrics.h"
#include "model_store.h"
#include "progress.h"

#define MAX_TASKS 16

void fit_defaults(fit_options *o) {
  memset(o, 0, sizeof *o);
  o->audio_encoder = "acoustic";
  o->text_encoder = "ngram";
  o->head = MODEL_HEAD_LINEAR;
  o->dim = FIT_DEFAULT_DIM;
  o->hidden = FIT_DEFAULT_DIM;
  o->epochs = FIT_DEFAULT_EPOCHS;
  o->batch = FIT_DEFAULT_BATCH;
  o->lr = FIT_DEFAULT_LR;
  o->seed = FIT_DEFAULT_SEED;
  o->prec = REGISTRY_PREC_RECORDED;
}

void fit_free_strings(char **s, int n) {
  for (int i = 0; s && i < n; i++) free(s[i]);
  free(s);
}

/* A growable list of strings. */
typedef struct strlist {
  char **v;
  int n, cap;
} strlist;

static int strlist_add(strlist *l, const char *s) {
  if (l->n == l->cap) {
    int cap = l->cap ? 2 * l->cap : 64;
    char **g = realloc(l->v, (size_t)cap * sizeof *g);
    if (!g) return -1;
    l->v = g;
    l->cap = cap;
  }
  l->v[l->n] = strdup(s ? s : "");
  return l->v[l->n] ? (l->n++, 0) : -1;
}

clap_status fit_sessions(sqlite3 *db, char ***ids, int *n, clap_error *err) {
  sqlite3_stmt *st;
  strlist l = {0};
  clap_status rc = db_prepare(db, "SELECT id FROM sessions ORDER BY id", &st, err);
  if (rc != CLAP_OK) return rc;
  int r = DB_DONE;
  while (rc == CLAP_OK && (r = db_step(st, err)) == DB_ROW)
    if (strlist_add(&l, (const char *)sqlite3_column_text(st, 0)))
      rc = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  if (rc == CLAP_OK) rc = DB_STATUS(r);
  sqlite3_finalize(st);
  if (rc != CLAP_OK) fit_free_strings(l.v, l.n), l.v = NULL, l.n = 0;
  *ids = l.v;
  *n = l.n;
  return rc;
}

/* The holdout list as a JSON array, for json_each() in SQL. */
static char *holdout_json(const fit_options *o) {
  cJSON *a = cJSON_CreateArray();
  for (int i = 0; a && i < o->nholdout; i++)
    cJSON_AddItemToArray(a, cJSON_CreateString(o->holdout[i]));
  char *s = a ? cJSON_PrintUnformatted(a) : NULL;
  cJSON_Delete(a);
  return s;
}

/* What fit_clap and fit_baseline begin with: *out cleared, the options
** checked, and cfg zeroed but for the audio side (the encoder's name and
** input size, features_encoder_info) and the joint dim; sha, id and prec
** are what the model records of the audio encoder. */
static clap_status fit_start(sqlite3 *db, const fit_options *o, clap_model **out,
                             model_config *cfg, char sha[SHA256_HEX_SIZE],
                             char id[SHA256_HEX_SIZE], char prec[FEATURES_PREC_SIZE],
                             clap_error *err) {
  *out = NULL;
  memset(cfg, 0, sizeof *cfg);
  /* 0 epochs would store the random initial weights as a trained model. */
  if (o->epochs < 1)
    return clap_error_set(err, CLAP_ERR_RANGE,
                          "--epochs %d: at least 1 epoch is needed (0 would store an untrained "
                          "model as trained; `clap model create` makes an untrained one)",
                          o->epochs);
  if (o->batch < 1 || !(o->lr > 0))
    return clap_error_set(err, CLAP_ERR_RANGE, "batch >= 1 and lr > 0 are needed");
  snprintf(cfg->audio_encoder, sizeof cfg->audio_encoder, "%s", o->audio_encoder);
  cfg->dim = o->dim;
  clap_status rc = features_encoder_info(db, o->audio_encoder, o->prec, ENCODER_AUDIO,
                                         &cfg->audio_in, sha, id, err);
  if (rc == CLAP_OK) rc = features_precision(db, o->audio_encoder, o->prec, prec, err);
  return rc;
}

/* ------------------------------------------------------------ CLAP data */

typedef struct clap_data {
  int k;
  char task[MAX_TASKS][64];
  strlist rows, row_session;
  int *labels;             /* rows x k */
  float *audio;            /* rows x audio_in */
  int npool;
  int *ptask, *pcls;
  unsigned char *porig;
  float *text;             /* npool x text_in */
  int sources[4];          /* original, paraphrase, bundled, manual */
  char audio_sha[SHA256_HEX_SIZE], text_sha[SHA256_HEX_SIZE];
  char audio_id[SHA256_HEX_SIZE], text_id[SHA256_HEX_SIZE];
  char audio_prec[FEATURES_PREC_SIZE], text_prec[FEATURES_PREC_SIZE];
  int counts[MAX_TASKS][2];
} clap_data;

static void clap_data_free(clap_data *d) {
  fit_free_strings(d->rows.v, d->rows.n);
  fit_free_strings(d->row_session.v, d->row_session.n);
  free(d->labels);
  free(d->audio);
  free(d->ptask);
  free(d->pcls);
  free(d->porig);
  free(d->text);
}

static clap_status load_tasks(sqlite3 *db, clap_data *d, clap_error *err) {
  sqlite3_stmt *st;
  clap_status rc = db_prepare(db,
                              "SELECT name FROM dimensions WHERE training=1 AND customer_only=0 AND "
                              "name<>'purchase_intention' ORDER BY rowid",
                              &st, err);
  if (rc != CLAP_OK) return rc;
  d->k = 0;
  int r = DB_DONE;
  while (rc == CLAP_OK && (r = db_step(st, err)) == DB_ROW) {
    const char *name = (const char *)sqlite3_column_text(st, 0);
    if (d->k == MAX_TASKS || strlen(name) >= sizeof d->task[0])
      rc = clap_error_set(err, CLAP_ERR_RANGE,
                          "table dimensions: training dimension '%.80s' is one too many or too long "
                          "(at most %d dimensions of %zu bytes)",
                          name, MAX_TASKS, sizeof d->task[0] - 1);
    else
      snprintf(d->task[d->k++], sizeof d->task[0], "%s", name);
  }
  if (rc == CLAP_OK) rc = DB_STATUS(r);
  sqlite3_finalize(st);
  if (rc != CLAP_OK) return rc;
  if (d->k == 0)
    return clap_error_set(err, CLAP_ERR_NOTFOUND, "no training dimensions in table dimensions");
  return CLAP_OK;
}

static int task_index(const clap_data *d, const char *name) {
  for (int t = 0; t < d->k; t++)
    if (!strcmp(d->task[t], name)) return t;
  return -1;
}

static clap_status load_clap_rows(sqlite3 *db, const fit_options *o, clap_data *d,
                                  clap_error *err) {
  char *hold = holdout_json(o);
  if (!hold) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  sqlite3_stmt *st;
  clap_status rc = db_prepare(
      db,
      "SELECT l.utterance_id, u.session_id, l.dimension, l.label FROM labels l "
      "JOIN utterances u ON u.id = l.utterance_id "
      "WHERE u.session_id NOT IN (SELECT value FROM json_each(?1)) "
      "AND l.dimension IN (SELECT name FROM dimensions WHERE training=1 AND customer_only=0 "
      "AND name<>'purchase_intention') "
      "AND l.utterance_id IN (SELECT utterance_id FROM labels WHERE label IS NOT NULL "
      "AND dimension<>'purchase_intention') "
      "ORDER BY l.utterance_id",
      &st, err);
  if (rc != CLAP_OK) {
    free(hold);
    return rc;
  }
  sqlite3_bind_text(st, 1, hold, -1, SQLITE_STATIC);
  int cap = 0, r = DB_DONE;
  while (rc == CLAP_OK && (r = db_step(st, err)) == DB_ROW) {
    const char *id = (const char *)sqlite3_column_text(st, 0);
    if (d->rows.n == 0 || strcmp(d->rows.v[d->rows.n - 1], id)) {
      if (strlist_add(&d->rows, id) ||
          strlist_add(&d->row_session, (const char *)sqlite3_column_text(st, 1))) {
        rc = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
        break;
      }
      if (d->rows.n > cap) {
        cap = cap ? 2 * cap : 256;
        int *g = realloc(d->labels, (size_t)cap * d->k * sizeof *g);
        if (!g) {
          rc = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
          break;
        }
        d->labels = g;
      }
      for (int t = 0; t < d->k; t++) d->labels[(d->rows.n - 1) * d->k + t] = -1;
    }
    int t = task_index(d, (const char *)sqlite3_column_text(st, 2));
    if (t >= 0 && sqlite3_column_type(st, 3) != SQLITE_NULL) {
      int c = sqlite3_column_int(st, 3) ? 1 : 0;
      d->labels[(d->rows.n - 1) * d->k + t] = c;
      d->counts[t][c]++;
    }
  }
  if (rc == CLAP_OK) rc = DB_STATUS(r);
  sqlite3_finalize(st);
  free(hold);
  if (rc == CLAP_OK && d->rows.n == 0)
    rc = clap_error_set(err, CLAP_ERR_NOTFOUND,
                        "no labeled utterances to train on (outside the held-out sessions); "
                        "run `clap labels` first");
  return rc;
}

static const char *const augment_sources[] = {"original", "paraphrase", "bundled", "manual"};

static clap_status load_pool(sqlite3 *db, const fit_options *o, int text_in, clap_data *d,
                             clap_error *err) {
  sqlite3_stmt *st;
  clap_status rc = db_prepare(db, "SELECT dimension, pole, text, source FROM descriptions WHERE status='ok' AND "
          "(source='original' OR (?1 AND source IN ('paraphrase','bundled','manual'))) "
          "ORDER BY dimension, pole, source<>'original', id", &st, err);
  if (rc != CLAP_OK) return rc;
  sqlite3_bind_int(st, 1, o->augment ? 1 : 0);
  strlist texts = {0}, keys = {0};
  int cap = 0, r = DB_DONE;
  while (rc == CLAP_OK && (r = db_step(st, err)) == DB_ROW) {
    int t = task_index(d, (const char *)sqlite3_column_text(st, 0));
    if (t < 0) continue;
    const char *text = (const char *)sqlite3_column_text(st, 2);
    const char *src = (const char *)sqlite3_column_text(st, 3);
    char key[SHA256_HEX_SIZE];
    if ((rc = features_text_key(text, key, err)) != CLAP_OK) break;
    if (d->npool == cap) {
      cap = cap ? 2 * cap : 64;
      int *a = realloc(d->ptask, (size_t)cap * sizeof *a);
      if (a) d->ptask = a;
      int *b = realloc(d->pcls, (size_t)cap * sizeof *b);
      if (b) d->pcls = b;
      unsigned char *c = realloc(d->porig, (size_t)cap);
      if (c) d->porig = c;
      if (!a || !b || !c) {
        rc = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
        break;
      }
    }
    if (strlist_add(&texts, text) || strlist_add(&keys, key)) {
      rc = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
      break;
    }
    d->ptask[d->npool] = t;
    d->pcls[d->npool] = sqlite3_column_int(st, 1) ? 1 : 0;
    d->porig[d->npool] = !strcmp(src, "original");
    for (int s = 0; s < 4; s++)
      if (!strcmp(src, augment_sources[s])) d->sources[s]++;
    d->npool++;
  }
  if (rc == CLAP_OK) rc = DB_STATUS(r);
  sqlite3_finalize(st);
  if (rc == CLAP_OK && d->npool == 0)
    rc = clap_error_set(err, CLAP_ERR_NOTFOUND, "no original descriptions (run `clap init`)");
  if (rc == CLAP_OK) {
    d->text = malloc((size_t)d->npool * text_in * sizeof(float));
    if (!d->text) rc = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
    else
      rc = features_load(db, o->text_encoder, o->prec, ENCODER_TEXT, (const char *const *)keys.v,
                         (const char *const *)texts.v, d->npool, text_in, d->text, err);
  }
  fit_free_strings(texts.v, texts.n);
  fit_free_strings(keys.v, keys.n);
  return rc;
}

/* ---------------------------------------------------------- provenance */

static cJSON *training_json(const fit_options *o, const char *kind) {
  cJSON *t = cJSON_CreateObject();
  cJSON_AddStringToObject(t, "objective", kind);
  cJSON_AddNumberToObject(t, "epochs", o->epochs);
  cJSON_AddNumberToObject(t, "lr", o->lr);
  cJSON_AddNumberToObject(t, "batch", o->batch);
  cJSON_AddNumberToObject(t, "seed", (double)o->seed);
  cJSON_AddStringToObject(t, "optimizer", "adam");
  cJSON_AddStringToObject(t, "augment", o->augment ? "paraphrase" : "none");
  cJSON_AddStringToObject(t, "head", o->head == MODEL_HEAD_MLP ? "mlp" : "linear");
  cJSON_AddNumberToObject(t, "dim", o->dim);
  if (o->head == MODEL_HEAD_MLP) cJSON_AddNumberToObject(t, "hidden", o->hidden);
  cJSON *h = cJSON_AddArrayToObject(t, "holdout");
  for (int i = 0; i < o->nholdout; i++) cJSON_AddItemToArray(h, cJSON_CreateString(o->holdout[i]));
  return t;
}

/* The distinct sessions of the rows (sorted by utterance id, not session). */
static cJSON *sessions_json(char **row_session, int n) {
  cJSON *a = cJSON_CreateArray();
  for (int i = 0; i < n; i++) {
    int seen = 0;
    cJSON *it;
    cJSON_ArrayForEach(it, a) if (!strcmp(it->valuestring, row_session[i])) seen = 1;
    if (!seen) cJSON_AddItemToArray(a, cJSON_CreateString(row_session[i]));
  }
  return a;
}

/* {"audio":{"name":..,"sha256":..,"identity":..,"precision":..},"text":{...}},
** as `clap model create` records it: the SQL functions refuse a checkpoint
** encoder whose weights (or, when recorded, files) are not these, and
** encode at the precision the features were computed in. */
static cJSON *encoders_json(const char *audio, const char *asha, const char *aid,
                            const char *aprec, const char *text, const char *tsha,
                            const char *tid, const char *tprec) {
  cJSON *e = cJSON_CreateObject();
  cJSON *a = cJSON_AddObjectToObject(e, "audio"), *t = cJSON_AddObjectToObject(e, "text");
  cJSON_AddStringToObject(a, "name", audio);
  if (asha[0]) cJSON_AddStringToObject(a, "sha256", asha);
  if (aid[0]) cJSON_AddStringToObject(a, "identity", aid);
  if (aprec[0]) cJSON_AddStringToObject(a, "precision", aprec);
  cJSON_AddStringToObject(t, "name", text);
  if (tsha[0]) cJSON_AddStringToObject(t, "sha256", tsha);
  if (tid[0]) cJSON_AddStringToObject(t, "identity", tid);
  if (tprec[0]) cJSON_AddStringToObject(t, "precision", tprec);
  return e;
}

static cJSON *loss_json(const double *loss, int n) {
  cJSON *a = cJSON_CreateArray();
  for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(loss[i]));
  return a;
}

/* meta's "training" and "loss", then its "provenance": the sessions and
** number of the training rows (one row_session entry per row) and an empty
** "labels" object for the caller's counts (add_counts). Returns provenance. */
static cJSON *add_run_record(cJSON *meta, const fit_options *o, const char *objective,
                             const double *loss, const strlist *row_session) {
  cJSON_AddItemToObject(meta, "training", training_json(o, objective));
  cJSON_AddItemToObject(meta, "loss", loss_json(loss, o->epochs));
  cJSON *prov = cJSON_AddObjectToObject(meta, "provenance");
  cJSON_AddItemToObject(prov, "sessions", sessions_json(row_session->v, row_session->n));
  cJSON_AddNumberToObject(prov, "utterances", row_session->n);
  cJSON_AddObjectToObject(prov, "labels");
  return prov;
}

/* labels.<name> = {"0": no, "1": yes} */
static void add_counts(cJSON *labels, const char *name, const int counts[2]) {
  cJSON *c = cJSON_AddObjectToObject(labels, name);
  cJSON_AddNumberToObject(c, "0", counts[0]);
  cJSON_AddNumberToObject(c, "1", counts[1]);
}

static clap_status set_metadata(clap_model *m, cJSON *meta, clap_error *err) {
  char *s = cJSON_PrintUnformatted(meta);
  clap_status rc = s ? model_set_metadata(m, s, err)
                     : clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  free(s);
  return rc;
}

/* ------------------------------------------------------------- CLAP fit */

static clap_status run_clap_epochs(clap_model *m, const fit_options *o, clap_data *d,
                                   clap_text_pool *pool, double *loss, clap_error *err) {
  clap_adam *opt = NULL;
  clap_sampler *s = NULL;
  clap_status rc = clap_adam_create(m, o->lr, &opt, err);
  if (rc == CLAP_OK) rc = clap_sampler_create(d->rows.n, o->batch, o->seed + 1, &s, err);
  clap_rng r;
  clap_rng_seed(&r, o->seed + 2);
  clap_train_set set = {d->audio, d->labels, d->rows.n, d->k, pool};
  for (int ep = 0; ep < o->epochs && rc == CLAP_OK; ep++) {
    rc = clap_train_epoch(m, opt, s, &set, o->augment, &r, &loss[ep], err);
    if (rc != CLAP_OK) clap_error_prefix(err, "epoch %d: ", ep + 1);
    else if (o->on_epoch) o->on_epoch(o->ctx, ep + 1, o->epochs, loss[ep]);
  }
  clap_adam_free(opt);
  clap_sampler_free(s);
  return rc;
}

static clap_status clap_metadata(clap_model *m, const fit_options *o, const clap_data *d,
                                 const double *loss, clap_error *err) {
  cJSON *meta = cJSON_CreateObject();
  cJSON_AddStringToObject(meta, "kind", "clap");
  cJSON_AddItemToObject(meta, "encoders",
                        encoders_json(o->audio_encoder, d->audio_sha, d->audio_id, d->audio_prec,
                                      o->text_encoder, d->text_sha, d->text_id, d->text_prec));
  cJSON_AddTrueToObject(meta, "trained");
  cJSON *std = cJSON_AddObjectToObject(meta, "standardisation");
  cJSON_AddStringToObject(std, "audio", "training utterances");
  cJSON_AddNumberToObject(std, "audio_rows", d->rows.n);
  cJSON_AddStringToObject(std, "text", "training texts");
  cJSON_AddNumberToObject(std, "text_rows", d->npool);
  cJSON *prov = add_run_record(meta, o, "multi-class multi-task CLAP", loss, &d->row_session);
  cJSON *lab = cJSON_GetObjectItemCaseSensitive(prov, "labels");
  for (int t = 0; t < d->k; t++) add_counts(lab, d->task[t], d->counts[t]);
  cJSON *tx = cJSON_AddObjectToObject(prov, "texts");
  for (int s = 0; s < 4; s++) cJSON_AddNumberToObject(tx, augment_sources[s], d->sources[s]);
  clap_status rc = set_metadata(m, meta, err);
  cJSON_Delete(meta);
  return rc;
}

clap_status fit_clap(sqlite3 *db, const fit_options *o, clap_model **out, clap_error *err) {
  clap_data d;
  memset(&d, 0, sizeof d);
  model_config cfg;
  clap_status rc = fit_start(db, o, out, &cfg, d.audio_sha, d.audio_id, d.audio_prec, err);
  if (rc != CLAP_OK) return rc;
  snprintf(cfg.text_encoder, sizeof cfg.text_encoder, "%s", o->text_encoder);
  cfg.head = o->head;
  cfg.hidden = o->hidden;
  rc = features_encoder_info(db, o->text_encoder, o->prec, ENCODER_TEXT, &cfg.text_in,
                             d.text_sha, d.text_id, err);
  if (rc == CLAP_OK) rc = features_precision(db, o->text_encoder, o->prec, d.text_prec, err);
  if (rc == CLAP_OK) rc = load_tasks(db, &d, err);
  if (rc == CLAP_OK) rc = load_clap_rows(db, o, &d, err);
  if (rc == CLAP_OK) {
    d.audio = malloc((size_t)d.rows.n * cfg.audio_in * sizeof(float));
    rc = d.audio ? features_load(db, o->audio_encoder, o->prec, ENCODER_AUDIO,
                                 (const char *const *)d.rows.v, NULL, d.rows.n, cfg.audio_in,
                                 d.audio, err)
                 : clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  }
  if (rc == CLAP_OK) rc = load_pool(db, o, cfg.text_in, &d, err);
  clap_text_pool *pool = NULL;
  clap_model *m = NULL;
  double *loss = calloc((size_t)o->epochs + 1, sizeof *loss);
  if (rc == CLAP_OK && !loss) rc = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  if (rc == CLAP_OK)
    rc = clap_text_pool_create(d.text, d.npool, cfg.text_in, d.ptask, d.pcls, d.porig, &pool, err);
  if (rc == CLAP_OK) rc = model_create(&cfg, o->seed, &m, err);
  if (rc == CLAP_OK) rc = clap_train_standardise(m, MODEL_AUDIO, d.audio, d.rows.n, err);
  if (rc == CLAP_OK) rc = clap_train_standardise(m, MODEL_TEXT, d.text, d.npool, err);
  if (rc == CLAP_OK) {
    clap_train_set set = {d.audio, d.labels, d.rows.n, d.k, pool};
    rc = clap_train_check(m, &set, o->augment, err);
  }
  if (rc == CLAP_OK) rc = run_clap_epochs(m, o, &d, pool, loss, err);
  if (rc == CLAP_OK) rc = clap_metadata(m, o, &d, loss, err);
  if (rc == CLAP_OK) *out = m;
  else model_free(m);
  free(loss);
  clap_text_pool_free(pool);
  clap_data_free(&d);
  return rc;
}

/* ------------------------------------------------------------- baseline */

typedef struct bl_data {
  strlist rows, row_session;
  int *y;
  float *audio;
  int counts[2];
} bl_data;

static clap_status load_baseline_rows(sqlite3 *db, const fit_options *o, int audio_in, bl_data *d,
                                      clap_error *err) {
  char *hold = holdout_json(o);
  if (!hold) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  sqlite3_stmt *st;
  clap_status rc = db_prepare(db, "SELECT u.id, u.session_id, l.label FROM labels l JOIN utterances u ON "
                         "u.id = l.utterance_id WHERE l.dimension='purchase_intention' AND "
                         "l.label IS NOT NULL AND u.role='customer' AND u.session_id NOT IN "
                         "(SELECT value FROM json_each(?1)) ORDER BY u.id", &st, err);
  if (rc != CLAP_OK) {
    free(hold);
    return rc;
  }
  sqlite3_bind_text(st, 1, hold, -1, SQLITE_STATIC);
  int cap = 0, r = DB_DONE;
  while (rc == CLAP_OK && (r = db_step(st, err)) == DB_ROW) {
    if (strlist_add(&d->rows, (const char *)sqlite3_column_text(st, 0)) ||
        strlist_add(&d->row_session, (const char *)sqlite3_column_text(st, 1))) {
      rc = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
      break;
    }
    if (d->rows.n > cap) {
      cap = cap ? 2 * cap : 256;
      int *g = realloc(d->y, (size_t)cap * sizeof *g);
      if (!g) {
        rc = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
        break;
      }
      d->y = g;
    }
    int c = sqlite3_column_int(st, 2) ? 1 : 0;
    d->y[d->rows.n - 1] = c;
    d->counts[c]++;
  }
  if (rc == CLAP_OK) rc = DB_STATUS(r);
  sqlite3_finalize(st);
  free(hold);
  if (rc == CLAP_OK && (d->counts[0] == 0 || d->counts[1] == 0))
    rc = clap_error_set(err, CLAP_ERR_RANGE,
                        "the training sessions have %d 'no' and %d 'yes' purchase_intention "
                        "labels on customer utterances; the baseline needs both",
                        d->counts[0], d->counts[1]);
  if (rc == CLAP_OK) {
    d->audio = malloc((size_t)d->rows.n * audio_in * sizeof(float));
    rc = d->audio ? features_load(db, o->audio_encoder, o->prec, ENCODER_AUDIO,
                                  (const char *const *)d->rows.v, NULL, d->rows.n, audio_in,
                                  d->audio, err)
                  : clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  }
  return rc;
}

/* z = W1 * standardise(x) + b1 for n rows; z is n x dim. */
static void baseline_project(clap_model *m, const float *x, int n, float *s, float *z) {
  int in, one, dim;
  const float *mean = model_tensor(m, "audio.mean", &in, &one);
  const float *sd = model_tensor(m, "audio.std", &in, &one);
  const float *w1 = model_tensor(m, "audio.w1", &dim, &in);
  const float *b1 = model_tensor(m, "audio.b1", &dim, &one);
  for (int i = 0; i < n; i++)
    for (int j = 0; j < in; j++) s[i * in + j] = (x[i * in + j] - mean[j]) / sd[j];
  for (int i = 0; i < n; i++) memcpy(z + (size_t)i * dim, b1, (size_t)dim * sizeof(float));
  nn_matmul(0, 1, n, dim, in, 1.0f, s, in, w1, in, 1.0f, z, dim);
}

typedef struct bl_state {
  clap_model *m;
  clap_grads *g;
  clap_adam *opt;        /* the layers in the model: audio.w1, audio.b1 */
  clap_adam_vec *fopt;   /* the output unit: w [dim] then b */
  float *wb;             /* dim + 1: the output unit's w, then b */
  float *gwb;            /* its gradient */
  float *s, *z, *dz;
  int *y;                /* a batch's labels */
  int in, dim;
  char audio_sha[SHA256_HEX_SIZE], audio_id[SHA256_HEX_SIZE], audio_prec[FEATURES_PREC_SIZE];
} bl_state;

/* One batch: forward, BCE and its gradients (clap_bce), then the one Adam of
** ext/train on both the layers in the model and the output unit. */
static clap_status baseline_batch(bl_state *st, const bl_data *d, const int *idx, int n,
                                  double *loss_sum, clap_error *err) {
  int in = st->in, dim = st->dim;
  float *x = st->s + (size_t)n * in; /* gathered rows after the standardised ones */
  for (int i = 0; i < n; i++) {
    memcpy(x + (size_t)i * in, d->audio + (size_t)idx[i] * in, (size_t)in * sizeof(float));
    st->y[i] = d->y[idx[i]];
  }
  baseline_project(st->m, x, n, st->s, st->z);
  clap_grads_zero(st->g);
  int r, c;
  float *gw1 = clap_grads_tensor(st->g, "audio.w1", &r, &c);
  float *gb1 = clap_grads_tensor(st->g, "audio.b1", &r, &c);
  clap_status rc = clap_bce_grad(st->z, n, dim, st->wb, st->wb[dim], st->y, st->gwb, &st->gwb[dim], st->dz,
                                 loss_sum, err);
  if (rc != CLAP_OK) return rc;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < dim; j++) gb1[j] += st->dz[(size_t)i * dim + j];
  nn_matmul(1, 0, dim, in, n, 1.0f, st->dz, dim, st->s, in, 0.0f, gw1, in);
  rc = clap_adam_step(st->opt, st->m, st->g, err);
  if (rc == CLAP_OK) rc = clap_adam_vec_step(st->fopt, st->wb, st->gwb, dim + 1, "the output unit", err);
  return rc;
}

static clap_status baseline_train(bl_state *st, const fit_options *o, const bl_data *d,
                                  double *loss, clap_error *err) {
  clap_sampler *s = NULL;
  clap_status rc = clap_sampler_create(d->rows.n, o->batch, o->seed + 1, &s, err);
  for (int ep = 0; ep < o->epochs && rc == CLAP_OK; ep++) {
    const int *idx;
    int n;
    double sum = 0;
    while (rc == CLAP_OK && clap_sampler_next(s, &idx, &n))
      rc = baseline_batch(st, d, idx, n, &sum, err);
    loss[ep] = sum / d->rows.n;
    if (rc != CLAP_OK) clap_error_prefix(err, "epoch %d: ", ep + 1);
    else if (o->on_epoch) o->on_epoch(o->ctx, ep + 1, o->epochs, loss[ep]);
  }
  clap_sampler_free(s);
  return rc;
}

static clap_status baseline_metadata(bl_state *st, const fit_options *o, const bl_data *d,
                                     const double *loss, clap_error *err) {
  /* the operating point: Youden's J on the training ROC */
  double *p = malloc((size_t)d->rows.n * sizeof *p);
  if (!p) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  cJSON *meta = cJSON_CreateObject();
  cJSON_AddStringToObject(meta, "kind", "baseline");
  cJSON *fc = cJSON_AddObjectToObject(meta, "fc");
  cJSON *w = cJSON_AddArrayToObject(fc, "w");
  for (int j = 0; j < st->dim; j++) cJSON_AddItemToArray(w, cJSON_CreateNumber(st->wb[j]));
  cJSON_AddNumberToObject(fc, "b", st->wb[st->dim]);
  clap_status rc = set_metadata(st->m, meta, err);
  double thr = 0.5, j = 0, auc = 0.5;
  if (rc == CLAP_OK) rc = fit_baseline_predict(st->m, d->audio, d->rows.n, p, NULL, err);
  if (rc == CLAP_OK) rc = metrics_youden(p, d->y, d->rows.n, &thr, &j, err);
  if (rc == CLAP_OK) rc = metrics_auc(p, d->y, d->rows.n, &auc, err);
  if (rc == CLAP_OK) {
    cJSON_AddNumberToObject(meta, "threshold", thr);
    cJSON_AddNumberToObject(meta, "youden_j", j);
    cJSON_AddNumberToObject(meta, "train_auc", auc);
    cJSON *prov = add_run_record(meta, o, "supervised baseline (BCE)", loss, &d->row_session);
    add_counts(cJSON_GetObjectItemCaseSensitive(prov, "labels"), "purchase_intention", d->counts);
    cJSON_AddItemToObject(meta, "encoders", encoders_json(o->audio_encoder, st->audio_sha,
                                                          st->audio_id, st->audio_prec, "none",
                                                          "", "", ""));
    cJSON_AddTrueToObject(meta, "trained");
    rc = set_metadata(st->m, meta, err);
  }
  cJSON_Delete(meta);
  free(p);
  return rc;
}

clap_status fit_baseline(sqlite3 *db, const fit_options *o, clap_model **out, clap_error *err) {
  bl_data d;
  memset(&d, 0, sizeof d);
  bl_state st;
  memset(&st, 0, sizeof st);
  model_config cfg;
  clap_status rc = fit_start(db, o, out, &cfg, st.audio_sha, st.audio_id, st.audio_prec, err);
  if (rc != CLAP_OK) return rc;
  strcpy(cfg.text_encoder, "none");
  cfg.text_in = 1;
  cfg.head = MODEL_HEAD_LINEAR;
  rc = load_baseline_rows(db, o, cfg.audio_in, &d, err);
  if (rc == CLAP_OK) rc = model_create(&cfg, o->seed, &st.m, err);
  if (rc == CLAP_OK) rc = clap_train_standardise(st.m, MODEL_AUDIO, d.audio, d.rows.n, err);
  if (rc == CLAP_OK) rc = clap_grads_create(st.m, &st.g, err);
  if (rc == CLAP_OK) rc = clap_adam_create(st.m, o->lr, &st.opt, err);
  if (rc == CLAP_OK) rc = clap_adam_vec_create(cfg.dim + 1, o->lr, &st.fopt, err);
  st.in = cfg.audio_in;
  st.dim = cfg.dim;
  int bmax = o->batch < d.rows.n ? o->batch : d.rows.n;
  size_t rows = (size_t)(bmax > 0 ? bmax : 1);
  double *loss = calloc((size_t)o->epochs + 1, sizeof *loss);
  st.wb = calloc((size_t)cfg.dim + 1, sizeof *st.wb);
  st.gwb = calloc((size_t)cfg.dim + 1, sizeof *st.gwb);
  st.s = malloc(2 * rows * cfg.audio_in * sizeof(float));
  st.z = malloc(rows * cfg.dim * sizeof(float));
  st.dz = malloc(rows * cfg.dim * sizeof(float));
  st.y = malloc(rows * sizeof *st.y);
  if (rc == CLAP_OK && (!loss || !st.wb || !st.gwb || !st.s || !st.z || !st.dz || !st.y))
    rc = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  if (rc == CLAP_OK) {
    /* Xavier-uniform like model_create, from a stream of its own */
    clap_rng r;
    clap_rng_seed(&r, o->seed ^ 0x6261736531ULL);
    double a = sqrt(6.0 / (cfg.dim + 1));
    for (int j = 0; j < cfg.dim; j++) st.wb[j] = (float)((2 * clap_rng_uniform(&r) - 1) * a);
    rc = baseline_train(&st, o, &d, loss, err);
  }
  if (rc == CLAP_OK) rc = baseline_metadata(&st, o, &d, loss, err);
  if (rc == CLAP_OK) *out = st.m, st.m = NULL;
  model_free(st.m);
  clap_grads_free(st.g);
  clap_adam_free(st.opt);
  clap_adam_vec_free(st.fopt);
  free(st.wb);
  free(st.gwb);
  free(st.s);
  free(st.z);
  free(st.dz);
  free(st.y);
  free(loss);
  fit_free_strings(d.rows.v, d.rows.n);
  fit_free_strings(d.row_session.v, d.row_session.n);
  free(d.y);
  free(d.audio);
  return rc;
}

/* True when v is a finite number that a float holds without overflow. */
static int float_finite(double v) { return isfinite(v) && fabs(v) <= FLT_MAX; }

clap_status fit_baseline_predict(const clap_model *m, const float *x, int n, double *p,
                                 double *threshold, clap_error *err) {
  const model_config *cfg = model_get_config(m);
  cJSON *meta = cJSON_Parse(model_metadata(m));
  cJSON *kind = cJSON_GetObjectItemCaseSensitive(meta, "kind");
  cJSON *fc = cJSON_GetObjectItemCaseSensitive(meta, "fc");
  cJSON *w = cJSON_GetObjectItemCaseSensitive(fc, "w");
  cJSON *b = cJSON_GetObjectItemCaseSensitive(fc, "b");
  cJSON *t = cJSON_GetObjectItemCaseSensitive(meta, "threshold");
  clap_status rc = CLAP_OK;
  if (!cJSON_IsString(kind) || strcmp(kind->valuestring, "baseline"))
    rc = clap_error_set(err, CLAP_ERR_FORMAT, "not a baseline model (metadata kind is not 'baseline')");
  else if (!cJSON_IsArray(w) || cJSON_GetArraySize(w) != cfg->dim || !cJSON_IsNumber(b))
    rc = clap_error_set(err, CLAP_ERR_FORMAT,
                        "baseline metadata: fc.w must hold %d numbers and fc.b one", cfg->dim);
  else if (threshold && !cJSON_IsNumber(t))
    rc = clap_error_set(err, CLAP_ERR_FORMAT, "baseline metadata: no threshold");
  float *wv = NULL, *s = NULL, *z = NULL;
  int chunk = 256;
  if (rc == CLAP_OK) {
    wv = malloc((size_t)cfg->dim * sizeof *wv);
    s = malloc((size_t)chunk * cfg->audio_in * sizeof *s);
    z = malloc((size_t)chunk * cfg->dim * sizeof *z);
    if (!wv || !s || !z) rc = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  }
  if (rc == CLAP_OK) {
    int j = 0;
    cJSON *it;
    cJSON_ArrayForEach(it, w) {
      if (rc != CLAP_OK) break;
      if (!cJSON_IsNumber(it) || !float_finite(it->valuedouble))
        rc = clap_error_set(err, CLAP_ERR_FORMAT, "baseline metadata: fc.w[%d] is not a finite number", j);
      else wv[j++] = (float)it->valuedouble;
    }
  }
  if (rc == CLAP_OK && !float_finite(b->valuedouble))
    rc = clap_error_set(err, CLAP_ERR_FORMAT, "baseline metadata: fc.b is not a finite number");
  if (rc == CLAP_OK && threshold && !(t->valuedouble >= 0 && t->valuedouble <= 1))
    rc = clap_error_set(err, CLAP_ERR_FORMAT, "baseline metadata: threshold %g is not in [0, 1]", t->valuedouble);
  for (int i0 = 0; rc == CLAP_OK && i0 < n; i0 += chunk) {
    int k = n - i0 < chunk ? n - i0 : chunk;
    baseline_project((clap_model *)m, x + (size_t)i0 * cfg->audio_in, k, s, z);
    for (int i = 0; rc == CLAP_OK && i < k; i++) {
      float logit = clap_bce_logit(z + (size_t)i * cfg->dim, wv, (float)b->valuedouble, cfg->dim);
      if (!isfinite(logit))
        rc = clap_error_set(err, CLAP_ERR_FORMAT,
                            "baseline: the score of row %d is not finite (weights out of range)", i0 + i);
      else p[i0 + i] = clap_bce_sigmoid(logit);
    }
  }
  if (rc == CLAP_OK && threshold) *threshold = t->valuedouble;
  free(wv);
  free(s);
  free(z);
  cJSON_Delete(meta);
  return rc;
}

/* ---------------------------------------------------------------- flags */

#define STR_(x) #x
#define STR(x) STR_(x)

const char fit_clap_flags_help[] =
    "  --text-encoder E     text encoder (default ngram)\n"
    "  --head linear|mlp    projection heads (default linear, as in the paper)\n"
    "  --hidden H           MLP hidden width (default " STR(FIT_DEFAULT_DIM) ")\n";

const char fit_flags_help[] =
    "  --encoder E          audio encoder (default acoustic)\n"
    "  --dim D              joint embedding dimension (default " STR(FIT_DEFAULT_DIM) ")\n"
    "  --epochs N           epochs (default " STR(FIT_DEFAULT_EPOCHS) "; the paper: 300)\n"
    "  --lr X               Adam learning rate (default " STR(FIT_DEFAULT_LR) "; the paper: 1e-6)\n"
    "  --batch N            batch size (default " STR(FIT_DEFAULT_BATCH) ", as in the paper)\n"
    "  --seed N             seed of initialisation, batches and draws (default " STR(FIT_DEFAULT_SEED) ")\n"
    "  --precision P        read the checkpoint encoders' features computed in P\n"
    "                       (f32, bf16, auto; default: the registered one), as\n"
    "                       `clap embed --precision P` cached them\n";

int fit_option(fit_options *o, const cli *c, int opt) {
  static const char *const heads[] = {"linear", "mlp", NULL};
  long x = 0;
  int h = 0, bad = 0;
  switch (opt) {
  case FIT_OPT_ENCODER: o->audio_encoder = optarg; break;
  case FIT_OPT_PRECISION: bad = cli_precision(c, &o->prec); break;
  case FIT_OPT_TEXT_ENCODER: o->text_encoder = optarg; break;
  case FIT_OPT_HEAD:
    bad = cli_choice(c, heads, &h);
    o->head = h ? MODEL_HEAD_MLP : MODEL_HEAD_LINEAR;
    break;
  case FIT_OPT_DIM: bad = cli_int(c, 1, MODEL_MAX_DIM, &x); o->dim = (int)x; break;
  case FIT_OPT_HIDDEN: bad = cli_int(c, 1, MODEL_MAX_DIM, &x); o->hidden = (int)x; break;
  case FIT_OPT_EPOCHS: bad = cli_int(c, 0, 1000000, &x); o->epochs = (int)x; break;
  case FIT_OPT_LR: bad = cli_number(c, DBL_MIN, INFINITY, &o->lr); break;
  case FIT_OPT_BATCH: bad = cli_int(c, 1, 1 << 20, &x); o->batch = (int)x; break;
  case FIT_OPT_SEED: {
    unsigned long long seed = 0;
    bad = cli_u64(c, &seed);
    o->seed = seed;
    break;
  }
  }
  return bad ? 2 : 0;
}

static const struct option train_opts[] = {
    CLI_HELP_OPTION, CLI_DB_OPTION, FIT_LONGOPTS, FIT_CLAP_LONGOPTS,
    {"name", required_argument, NULL, FIT_OPT_NAME},
    {"holdout-session", required_argument, NULL, FIT_OPT_HOLDOUT},
    {"replace", no_argument, NULL, FIT_OPT_REPLACE},
    {"augment", required_argument, NULL, FIT_OPT_AUGMENT},
    {0}};
static const struct option baseline_opts[] = {
    CLI_HELP_OPTION, CLI_DB_OPTION, FIT_LONGOPTS,
    {"name", required_argument, NULL, FIT_OPT_NAME},
    {"holdout-session", required_argument, NULL, FIT_OPT_HOLDOUT},
    {"replace", no_argument, NULL, FIT_OPT_REPLACE},
    {0}};

static void clap_flags_help(FILE *f) {
  fputs(fit_clap_flags_help, f);
  fputs(fit_flags_help, f);
}
static void baseline_flags_help(FILE *f) { fputs(fit_flags_help, f); }

/* One option of train/baseline into c; 0 or 2 after a usage error. */
static int command_option(fit_command *c, const cli *cl, int opt, const char **hold) {
  static const char *const augments[] = {"none", "paraphrase", NULL};
  switch (opt) {
  case FIT_OPT_NAME: c->name = optarg; return 0;
  case FIT_OPT_HOLDOUT: hold[c->o.nholdout++] = optarg; return 0;
  case FIT_OPT_REPLACE: c->replace = 1; return 0;
  case FIT_OPT_AUGMENT: return cli_choice(cl, augments, &c->o.augment);
  default: return fit_option(&c->o, cl, opt);
  }
}

int fit_parse_command(int argc, char **argv, const char *cmd, const char *usage,
                      int allow_augment, fit_command *c) {
  memset(c, 0, sizeof *c);
  fit_defaults(&c->o);
  const char **hold = calloc((size_t)argc + 1, sizeof *hold);
  if (!hold) return 1;
  c->o.holdout = hold;
  cli cl = {.cmd = cmd, .help = usage, .help_fn = allow_augment ? clap_flags_help : baseline_flags_help};
  int status = -1;
  for (int o; status < 0 && (o = cli_next(&cl, argc, argv, "", allow_augment ? train_opts
                                                                                 : baseline_opts)) != CLI_END;)
    status = o == CLI_EXIT ? cl.status : command_option(c, &cl, o, hold) ? 2 : -1;
  static const char *const operands[] = {"database", NULL};
  if (status < 0 && cli_operands(&cl, argc, argv, operands, 1, 1)) status = 2;
  if (status < 0 && (!c->name || !*c->name)) status = cli_usage(&cl, "--name is required");
  if (status >= 0) {
    fit_command_free(c);
    return status;
  }
  c->path = argv[optind];
  return -1;
}

void fit_command_free(fit_command *c) {
  free((void *)c->o.holdout);
  c->o.holdout = NULL;
  c->o.nholdout = 0;
}

typedef struct epoch_ctx {
  progress *p;
  double last;
} epoch_ctx;

static void on_epoch(void *ctx, int epoch, int epochs, double loss) {
  epoch_ctx *c = ctx;
  char note[64];
  snprintf(note, sizeof note, "loss %.4f", loss);
  c->last = loss;
  progress_update(c->p, epoch, note);
  (void)epochs;
}

static void print_stored(const fit_command *c, fit_arm arm, const clap_model *m, double loss) {
  if (arm == FIT_ARM_CLAP) {
    printf("train: model '%s' stored (%d epochs, final loss %.4f, augment %s)\n", c->name,
           c->o.epochs, loss, c->o.augment ? "paraphrase" : "none");
    return;
  }
  cJSON *meta = cJSON_Parse(model_metadata(m));
  printf("baseline: model '%s' stored (threshold %.6g, Youden's J %.3f, training AUC %.3f)\n",
         c->name, cJSON_GetObjectItem(meta, "threshold")->valuedouble,
         cJSON_GetObjectItem(meta, "youden_j")->valuedouble,
         cJSON_GetObjectItem(meta, "train_auc")->valuedouble);
  cJSON_Delete(meta);
}

/* Open, check the name, train, store; the message is the caller's to print. */
static clap_status run_parsed(fit_command *c, fit_arm arm, clap_model **m, double *loss,
                              clap_error *err) {
  sqlite3 *db;
  clap_status rc = db_open(c->path, 0, &db, err);
  if (rc != CLAP_OK) return rc;
  int exists = 0;
  if (!c->replace) rc = model_store_exists(db, c->name, &exists, err);
  if (rc == CLAP_OK && exists)
    rc = clap_error_set(err, CLAP_ERR_ARG, "a model named '%s' exists (use --replace)", c->name);
  if (rc == CLAP_OK) {
    char label[128];
    snprintf(label, sizeof label, "%s %s", arm == FIT_ARM_CLAP ? "train" : "baseline", c->name);
    epoch_ctx ec = {progress_create(label, c->o.epochs), 0};
    fit_options o = c->o;
    o.on_epoch = on_epoch;
    o.ctx = &ec;
    rc = arm == FIT_ARM_CLAP ? fit_clap(db, &o, m, err) : fit_baseline(db, &o, m, err);
    progress_finish(ec.p);
    *loss = ec.last;
  }
  if (rc == CLAP_OK) rc = model_store_put(db, c->name, *m, c->replace, NULL, err);
  db_close(db);
  return rc;
}

int fit_run_command(int argc, char **argv, const char *cmd, const char *usage, fit_arm arm) {
  fit_command c;
  int status = fit_parse_command(argc, argv, cmd, usage, arm == FIT_ARM_CLAP, &c);
  if (status >= 0) return status;
  clap_model *m = NULL;
  double loss = 0;
  clap_error err;
  if (run_parsed(&c, arm, &m, &loss, &err) == CLAP_OK) {
    print_stored(&c, arm, m, loss);
    status = 0;
  } else {
    fprintf(stderr, "%s: %s\n", cmd, err.msg);
    status = 1;
  }
  model_free(m);
  fit_command_free(&c);
  return status;
}
