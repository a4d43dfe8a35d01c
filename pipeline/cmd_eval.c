/*
** clap eval — leave-one-session-out evaluation of purchase intention, the
** paper's Table III (§III).
**
**   clap eval DB [--run R] [--folds all|s1,s3] [--random-runs N] [--force]
**                [training flags of `clap train`: --epochs --lr --batch --seed ...]
**
** For every fold (a held-out session S):
**   - trains the CLAP model on the other sessions without and with paraphrase
**     augmentation (models fold-S-none, fold-S-para) and the supervised
**     baseline (fold-S-base), named with the prefix "R:" when the run is not
**     "default". Training reads one snapshot and holds no write lock, so a
**     `clap train` or another eval meanwhile is not locked out;
**   - then, in one short write transaction: stores the three models in
**     clap_models and writes the fold's rows;
**   - test rows: the customer utterances of S with a purchase_intention label;
**   - zero-shot arms: each prompt pair x {none, para}: P(yes) =
**     clap_zero_shot(audio embedding, "no" text, "yes" text, model) - the SQL
**     function itself, on the audio embedding model_embed gives for the
**     cached features; yes when P >= 0.5. The pairs, by prompt_set: 1..3 the
**     pairs of Table III (descriptions with source 'prompt'), 4 their
**     ensemble (CLIP-style: "no" is the array of the three "no" sentences,
**     "yes" of the three "yes" ones), 5.. the pairs of --prompts FILE.json
**     (prompt_file.h, schemas/prompts.schema.json), in file order. Each
**     zero-shot row's details record the pair ("prompts": label, no, yes);
**     the file's pairs are part of the settings key, so other pairs redo the
**     folds;
**   - the baseline: P(yes) >= its Youden threshold from the training ROC;
**   - the random predictor: means over N seeded runs (metrics.h);
**   - one evaluations row per arm: WA, UA, recall No/Yes, and details JSON
**     with the counts, the per-utterance ids/truth/scores/predictions, the
**     settings (config_key), the inputs' digest (data_digest,
**     eval_data_digest: labels, descriptions, cached features) and, for
**     zero-shot arms, the two-tailed exact sign test against the baseline on
**     per-utterance correctness. A fold whose test rows have one class only
**     is marked (details.one_class "no"/"yes", and on its output line): its
**     UA is the recall of that class alone.
** --precision P (a training flag): the checkpoint encoders' features are
** read as `clap embed --precision P` cached them (fit.h), the models record
** P, and their zero-shot arms encode the prompts at P (the model's
** precision, sqlite_clap.c); P other than the registered one is part of the
** settings key.
** A fold that fails leaves nothing: no model, no row. A fold already
** evaluated in this run with the same settings on the same inputs is
** skipped (--force redoes it); changed labels, descriptions or cached
** vectors re-run it. Inputs that change while eval runs fail the fold.
** Then the pooled rows (fold 'pooled') are recomputed from every fold row of
** the run (evaluation.h): metrics over the concatenated utterances (a
** one-class fold's count like any other's), sign tests on the pooled
** correctness. Every fold must match this invocation's settings and inputs;
** otherwise eval fails naming the folds that differ and how, and the run's
** stale pooled rows are removed. A recall of a class absent from a fold is
** NULL.
** Exit 0 ok, 1 failure, 2 usage.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "commands.h"
#include "db.h"
#include "evaluation.h"
#include "feature_cache.h"
#include "fit.h"
#include "metrics.h"
#include "model_store.h"
#include "progress.h"
#include "prompt_file.h"

#define NTABLE 3   /* the Table III pairs, prompt_set 1..3 */
#define ENSEMBLE 4 /* their ensemble */
#define DEFAULT_RANDOM_RUNS 1000

static const char eval_usage[] =
    "usage: clap eval DB [--run R] [--folds all|S1,S2,...] [--random-runs N] [--force]\n"
    "                 [--epochs N] [--lr X] [--batch N] [--seed N] [--dim D]\n"
    "                 [--head linear|mlp] [--encoder E] [--text-encoder E]\n"
    "                 [--prompts FILE.json]\n"
    "\n"
    "Leave-one-session-out evaluation of purchase intention (paper Table III):\n"
    "per fold, CLAP without and with paraphrase augmentation, zero-shot with the\n"
    "three prompt pairs, the supervised baseline and the random predictor;\n"
    "rows in table evaluations, pooled rows over the folds. Run `clap labels`\n"
    "and `clap embed` first.\n"
    "  --run R            run name (default 'default')\n"
    "  --folds F          all (default) or a comma-separated list of sessions\n"
    "  --random-runs N    seeded runs of the random predictor (default 1000)\n"
    "  --force            re-evaluate folds already done with these settings and inputs\n"
    "  --prompts FILE     also evaluate these prompt pairs (schemas/prompts.schema.json);\n"
    "                     the Table III pairs and their ensemble are always evaluated\n";

typedef prompt_file_pair prompt_pair; /* label, text[0] = no, text[1] = yes */

typedef struct eval_ctx {
  sqlite3 *db;
  const char *run;
  fit_options o;
  int random_runs, force;
  prompt_pair *sets; /* sets[k] is prompt_set k + 1 */
  int nsets;
  const char *prompts_path; /* --prompts, or NULL */
  char *config_key;              /* the settings, JSON */
  char digest[SHA256_HEX_SIZE];  /* eval_data_digest of the inputs when the run began */
} eval_ctx;

/* ----------------------------------------------------------------- setup */

/* sets[ENSEMBLE - 1]: JSON arrays of the Table III sentences, pole by pole. */
static clap_status make_ensemble(eval_ctx *c, clap_error *err) {
  prompt_pair *e = &c->sets[ENSEMBLE - 1];
  for (int pole = 0; pole < 2; pole++) {
    cJSON *a = cJSON_CreateArray();
    for (int s = 0; s < NTABLE; s++) cJSON_AddItemToArray(a, cJSON_CreateString(c->sets[s].text[pole]));
    e->text[pole] = cJSON_PrintUnformatted(a);
    cJSON_Delete(a);
  }
  e->label = strdup("ensemble of (1)-(3)");
  if (!e->text[0] || !e->text[1] || !e->label)
    return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  return CLAP_OK;
}

/* The Table III pairs, their ensemble, then the --prompts file's pairs. */
static clap_status load_prompts(eval_ctx *c, clap_error *err) {
  prompt_pair *extra = NULL;
  int nextra = 0;
  if (c->prompts_path) {
    clap_status rc = prompt_file_load(c->prompts_path, &extra, &nextra, err);
    if (rc != CLAP_OK) return clap_error_prefix(err, "--prompts: ");
  }
  c->sets = calloc((size_t)(ENSEMBLE + nextra), sizeof *c->sets);
  if (!c->sets) {
    prompt_file_free(extra, nextra);
    return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  }
  c->nsets = ENSEMBLE + nextra;
  if (nextra) memcpy(c->sets + ENSEMBLE, extra, (size_t)nextra * sizeof *extra);
  free(extra); /* the strings now belong to c->sets */
  sqlite3_stmt *st;
  clap_status rc = db_prepare(c->db,
                              "SELECT prompt_set, pole, text FROM descriptions WHERE source='prompt' "
                              "AND dimension='purchase_intention' AND status='ok' AND prompt_set "
                              "BETWEEN 1 AND 3 ORDER BY prompt_set, pole, id",
                              &st, err);
  if (rc != CLAP_OK) return rc;
  int r;
  while (rc == CLAP_OK && (r = db_step(st, err)) == DB_ROW) {
    prompt_pair *p = &c->sets[sqlite3_column_int(st, 0) - 1];
    if (!p->label) p->label = strdup("");
    int pole = sqlite3_column_int(st, 1) ? 1 : 0;
    if (!p->text[pole] && !(p->text[pole] = strdup((const char *)sqlite3_column_text(st, 2))))
      rc = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  }
  if (rc == CLAP_OK) rc = DB_STATUS(r);
  sqlite3_finalize(st);
  if (rc != CLAP_OK) return rc;
  for (int s = 0; s < NTABLE; s++) {
    for (int pole = 0; pole < 2; pole++)
      if (!c->sets[s].text[pole])
        return clap_error_set(err, CLAP_ERR_NOTFOUND,
                              "no purchase_intention prompt for prompt_set %d, pole %d "
                              "(descriptions with source 'prompt'; run `clap init`)",
                              s + 1, pole);
    free(c->sets[s].label);
    size_t n = strlen(c->sets[s].text[0]) + strlen(c->sets[s].text[1]) + 4;
    if (!(c->sets[s].label = malloc(n))) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
    snprintf(c->sets[s].label, n, "%s / %s", c->sets[s].text[0], c->sets[s].text[1]);
  }
  return make_ensemble(c, err);
}

/* The --prompts pairs as part of the settings key (NULL when none). */
static cJSON *extra_prompts_json(const eval_ctx *c) {
  if (c->nsets <= ENSEMBLE) return NULL;
  cJSON *a = cJSON_CreateArray();
  for (int s = ENSEMBLE; s < c->nsets; s++) {
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "label", c->sets[s].label);
    cJSON_AddStringToObject(p, "no", c->sets[s].text[0]);
    cJSON_AddStringToObject(p, "yes", c->sets[s].text[1]);
    cJSON_AddItemToArray(a, p);
  }
  return a;
}

static char *make_config_key(const eval_ctx *c) {
  cJSON *k = cJSON_CreateObject();
  cJSON_AddStringToObject(k, "audio_encoder", c->o.audio_encoder);
  cJSON_AddStringToObject(k, "text_encoder", c->o.text_encoder);
  cJSON_AddStringToObject(k, "head", c->o.head == MODEL_HEAD_MLP ? "mlp" : "linear");
  cJSON_AddNumberToObject(k, "dim", c->o.dim);
  cJSON_AddNumberToObject(k, "hidden", c->o.head == MODEL_HEAD_MLP ? c->o.hidden : 0);
  cJSON_AddNumberToObject(k, "epochs", c->o.epochs);
  cJSON_AddNumberToObject(k, "lr", c->o.lr);
  cJSON_AddNumberToObject(k, "batch", c->o.batch);
  cJSON_AddNumberToObject(k, "seed", (double)c->o.seed);
  cJSON_AddNumberToObject(k, "random_runs", c->random_runs);
  /* Absent for the registered precision, so runs keyed before keep their key. */
  if (c->o.prec != REGISTRY_PREC_RECORDED)
    cJSON_AddStringToObject(k, "precision", registry_prec_name(c->o.prec));
  cJSON *extra = extra_prompts_json(c);
  if (extra) cJSON_AddItemToObject(k, "prompts", extra);
  char *s = cJSON_PrintUnformatted(k);
  cJSON_Delete(k);
  return s;
}

static void model_name(const eval_ctx *c, const char *fold, const char *what, char *out,
                       size_t cap) {
  if (!strcmp(c->run, "default")) snprintf(out, cap, "fold-%s-%s", fold, what);
  else snprintf(out, cap, "%s:fold-%s-%s", c->run, fold, what);
}

/* Customer utterances of the session with a purchase_intention label. */
static clap_status load_test_rows(sqlite3 *db, const char *session, char ***ids, int **truth,
                                  int *n, clap_error *err) {
  sqlite3_stmt *st;
  *ids = NULL;
  *truth = NULL;
  *n = 0;
  clap_status rc = db_prepare(db,
                              "SELECT u.id, l.label FROM utterances u JOIN labels l ON "
                              "l.utterance_id=u.id WHERE u.session_id=? AND u.role='customer' AND "
                              "l.dimension='purchase_intention' AND l.label IS NOT NULL ORDER BY u.id",
                              &st, err);
  if (rc != CLAP_OK) return rc;
  sqlite3_bind_text(st, 1, session, -1, SQLITE_STATIC);
  int cap = 0, r = DB_DONE;
  while (rc == CLAP_OK && (r = db_step(st, err)) == DB_ROW) {
    if (*n == cap) {
      cap = cap ? 2 * cap : 64;
      char **a = realloc(*ids, (size_t)cap * sizeof *a);
      if (a) *ids = a;
      int *b = realloc(*truth, (size_t)cap * sizeof *b);
      if (b) *truth = b;
      if (!a || !b) {
        rc = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
        break;
      }
    }
    if (!((*ids)[*n] = strdup((const char *)sqlite3_column_text(st, 0)))) {
      rc = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
      break;
    }
    (*truth)[(*n)++] = sqlite3_column_int(st, 1) ? 1 : 0;
  }
  if (rc == CLAP_OK) rc = DB_STATUS(r);
  sqlite3_finalize(st);
  return rc;
}

/* ------------------------------------------------------------- one fold */

static void on_epoch(void *ctx, int epoch, int epochs, double loss) {
  char note[64];
  snprintf(note, sizeof note, "loss %.4f", loss);
  progress_update(ctx, epoch, note);
  (void)epochs;
}

enum { M_NONE, M_PARA, M_BASE, NMODELS };
static const char *const model_what[NMODELS] = {"none", "para", "base"};

/* A fold's test rows and what is computed for them before anything is
** written: the three models, the audio embeddings of the two CLAP models,
** the baseline's scores and threshold. */
typedef struct fold_data {
  const char *fold;
  char **ids;
  int *truth;
  int n;
  const char *one_class; /* "no" / "yes" when the test rows have one class, else NULL */
  float *x;              /* n x audio_in cached features */
  float *emb[2];         /* n x dim audio embeddings of fold-S-none / fold-S-para */
  double *score, base_score_thr;
  double *base_score;
  int *pred, *base_pred;
  clap_model *m[NMODELS];
  char name[NMODELS][160];
} fold_data;

static void fold_data_free(fold_data *f) {
  fit_free_strings(f->ids, f->n);
  free(f->truth);
  free(f->x);
  free(f->emb[0]);
  free(f->emb[1]);
  free(f->score);
  free(f->base_score);
  free(f->pred);
  free(f->base_pred);
  for (int k = 0; k < NMODELS; k++) model_free(f->m[k]);
  memset(f, 0, sizeof *f);
}

static clap_status train_model(eval_ctx *c, fold_data *f, int k, clap_error *err) {
  fit_options o = c->o;
  const char *hold[1] = {f->fold};
  o.holdout = hold;
  o.nholdout = 1;
  o.augment = k == M_PARA;
  char label[200];
  snprintf(label, sizeof label, "eval %s", f->name[k]);
  progress *p = progress_create(label, o.epochs);
  o.on_epoch = on_epoch;
  o.ctx = p;
  clap_status rc = k == M_BASE ? fit_baseline(c->db, &o, &f->m[k], err) : fit_clap(c->db, &o, &f->m[k], err);
  progress_finish(p);
  if (rc != CLAP_OK) clap_error_prefix(err, "model %s: ", f->name[k]);
  return rc;
}

/* Audio embeddings one row per call, exactly as clap_embed_audio does: BLAS
** may round a many-row product differently from a one-row one, and the
** scores must be the SQL function's bit for bit. */
static clap_status embed_rows(const clap_model *m, const float *x, int n, float **out, clap_error *err) {
  const model_config *cfg = model_get_config(m);
  *out = malloc((size_t)(n ? n : 1) * cfg->dim * sizeof(float));
  if (!*out) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  clap_status rc = CLAP_OK;
  for (int i = 0; i < n && rc == CLAP_OK; i++)
    rc = model_embed(m, MODEL_AUDIO, x + (size_t)i * cfg->audio_in, 1, *out + (size_t)i * cfg->dim, err);
  return rc;
}

/* P(yes) for each test row through the SQL function clap_zero_shot, on the
** model stored under name (inside the fold's write transaction). */
static clap_status zero_shot_scores(eval_ctx *c, const char *name, const float *emb, int dim, int n,
                                    const prompt_pair *pp, double *p, clap_error *err) {
  sqlite3_stmt *st = NULL;
  clap_status rc = db_prepare(c->db, "SELECT clap_zero_shot(?1, ?2, ?3, ?4)", &st, err);
  if (rc != CLAP_OK) clap_error_prefix(err, "is the clap extension registered? ");
  for (int i = 0; i < n && rc == CLAP_OK; i++) {
    sqlite3_reset(st);
    sqlite3_bind_blob(st, 1, emb + (size_t)i * dim, dim * (int)sizeof(float), SQLITE_STATIC);
    sqlite3_bind_text(st, 2, pp->text[0], -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, pp->text[1], -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, name, -1, SQLITE_STATIC);
    int r = db_step(st, err);
    if (r < 0)
      rc = DB_STATUS(r);
    else if (r != DB_ROW || sqlite3_column_type(st, 0) != SQLITE_FLOAT)
      rc = clap_error_set(err, CLAP_ERR_INTERNAL, "clap_zero_shot returned no probability (test row %d)", i + 1);
    else
      p[i] = sqlite3_column_double(st, 0);
  }
  sqlite3_finalize(st);
  return rc;
}

/* The keys every row of the fold carries: settings, inputs, one class. */
static cJSON *row_details(const eval_ctx *c, const fold_data *f) {
  cJSON *d = cJSON_CreateObject();
  cJSON_AddStringToObject(d, "config_key", c->config_key);
  cJSON_AddStringToObject(d, "data_digest", c->digest);
  if (f->one_class) cJSON_AddStringToObject(d, "one_class", f->one_class);
  return d;
}

static clap_status write_arm(eval_ctx *c, fold_data *f, const char *arm, const char *model, int prompt_set,
                             int augment, const double *score, double threshold, int with_sign, clap_error *err) {
  for (int i = 0; i < f->n; i++) f->pred[i] = score[i] >= threshold;
  eval_summary s;
  clap_status rc = eval_summarise(f->truth, f->pred, f->n, &s, err);
  cJSON *d = row_details(c, f);
  cJSON_AddItemToObject(d, "counts", eval_counts_json(&s));
  cJSON_AddItemToObject(d, "utterances", cJSON_CreateStringArray((const char *const *)f->ids, f->n));
  cJSON_AddItemToObject(d, "truth", eval_int_array(f->truth, f->n));
  cJSON_AddItemToObject(d, "score", cJSON_CreateDoubleArray(score, f->n));
  cJSON_AddItemToObject(d, "pred", eval_int_array(f->pred, f->n));
  cJSON_AddNumberToObject(d, "threshold", threshold);
  if (prompt_set > 0) {
    const prompt_pair *pp = &c->sets[prompt_set - 1];
    cJSON *p = cJSON_AddObjectToObject(d, "prompts");
    cJSON_AddStringToObject(p, "label", pp->label);
    cJSON_AddStringToObject(p, "no", pp->text[0]);
    cJSON_AddStringToObject(p, "yes", pp->text[1]);
  }
  if (rc == CLAP_OK && with_sign) rc = eval_sign_test_json(f->truth, f->base_pred, f->pred, f->n, d, err);
  if (rc == CLAP_OK)
    rc = eval_insert_row(c->db, c->run, f->fold, arm, model, prompt_set, augment, f->n, s.wa, s.ua, s.recall[0],
                         s.recall[1], d, err);
  cJSON_Delete(d);
  return rc;
}

static clap_status fold_random(eval_ctx *c, fold_data *f, clap_error *err) {
  double wa, ua, rec[2];
  clap_status rc = metrics_random_predictor(f->truth, f->n, 2, c->o.seed, c->random_runs, &wa, &ua, rec, err);
  if (rc != CLAP_OK) return rc;
  int yes = 0;
  for (int i = 0; i < f->n; i++) yes += f->truth[i];
  cJSON *d = row_details(c, f);
  cJSON *cn = cJSON_AddObjectToObject(d, "counts");
  cJSON_AddNumberToObject(cn, "n", f->n);
  cJSON_AddNumberToObject(cn, "no", f->n - yes);
  cJSON_AddNumberToObject(cn, "yes", yes);
  cJSON_AddNumberToObject(d, "runs", c->random_runs);
  cJSON_AddNumberToObject(d, "seed", (double)c->o.seed);
  cJSON_AddItemToObject(d, "utterances", cJSON_CreateStringArray((const char *const *)f->ids, f->n));
  cJSON_AddItemToObject(d, "truth", eval_int_array(f->truth, f->n));
  rc = eval_insert_row(c->db, c->run, f->fold, "random", NULL, 0, -1, f->n, wa, ua, rec[0], rec[1], d, err);
  cJSON_Delete(d);
  return rc;
}

/* The inputs are the ones this run started from: a fold trained or written
** on other data would be keyed by a digest it was not computed on. */
static clap_status same_inputs(eval_ctx *c, clap_error *err) {
  char now[SHA256_HEX_SIZE];
  clap_status rc = eval_data_digest(c->db, c->o.audio_encoder, c->o.text_encoder, now, err);
  if (rc == CLAP_OK && strcmp(now, c->digest))
    rc = clap_error_set(err, CLAP_ERR_ARG,
                        "labels, descriptions or cached features changed while `clap eval` ran; run it again");
  return rc;
}

/* *done: the fold has all its rows in this run, computed with these
** settings on these inputs. */
static clap_status fold_done(eval_ctx *c, const char *fold, int *done, clap_error *err) {
  sqlite3_stmt *st;
  *done = 0;
  clap_status rc = db_prepare(c->db,
                              "SELECT count(*) FROM evaluations WHERE run=? AND fold=? AND "
                              "json_extract(details, '$.config_key')=? AND json_extract(details, '$.data_digest')=?",
                              &st, err);
  if (rc != CLAP_OK) return rc;
  sqlite3_bind_text(st, 1, c->run, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, fold, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, c->config_key, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, c->digest, -1, SQLITE_STATIC);
  int r = db_step(st, err);
  if (r == DB_ROW) *done = sqlite3_column_int(st, 0) == 2 + 2 * c->nsets;
  sqlite3_finalize(st);
  return DB_STATUS(r);
}

/* Test rows, features and everything computed from them (read only). */
static clap_status fold_compute(eval_ctx *c, fold_data *f, clap_error *err) {
  int din = 0;
  char sha[SHA256_HEX_SIZE], id[SHA256_HEX_SIZE];
  clap_status rc = features_encoder_info(c->db, c->o.audio_encoder, c->o.prec, ENCODER_AUDIO, &din,
                                         sha, id, err);
  if (rc == CLAP_OK) {
    f->x = malloc((size_t)f->n * din * sizeof(float));
    f->score = malloc((size_t)f->n * sizeof *f->score);
    f->base_score = malloc((size_t)f->n * sizeof *f->base_score);
    f->pred = malloc((size_t)f->n * sizeof *f->pred);
    f->base_pred = malloc((size_t)f->n * sizeof *f->base_pred);
    if (!f->x || !f->score || !f->base_score || !f->pred || !f->base_pred)
      rc = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  }
  if (rc == CLAP_OK)
    rc = features_load(c->db, c->o.audio_encoder, c->o.prec, ENCODER_AUDIO,
                       (const char *const *)f->ids, NULL, f->n, din, f->x, err);
  for (int k = 0; k < NMODELS && rc == CLAP_OK; k++) rc = train_model(c, f, k, err);
  for (int k = M_NONE; k <= M_PARA && rc == CLAP_OK; k++) rc = embed_rows(f->m[k], f->x, f->n, &f->emb[k], err);
  if (rc == CLAP_OK) rc = fit_baseline_predict(f->m[M_BASE], f->x, f->n, f->base_score, &f->base_score_thr, err);
  return rc;
}

static clap_status delete_fold_rows(eval_ctx *c, const char *fold, clap_error *err) {
  sqlite3_stmt *del;
  clap_status rc = db_prepare(c->db, "DELETE FROM evaluations WHERE run=? AND fold=?", &del, err);
  if (rc != CLAP_OK) return rc;
  sqlite3_bind_text(del, 1, c->run, -1, SQLITE_STATIC);
  sqlite3_bind_text(del, 2, fold, -1, SQLITE_STATIC);
  rc = db_step_done(del, err);
  sqlite3_finalize(del);
  return rc;
}

/* Everything the fold writes; the caller wraps it in a transaction. */
static clap_status fold_write(eval_ctx *c, fold_data *f, clap_error *err) {
  clap_status rc = same_inputs(c, err);
  if (rc == CLAP_OK) rc = delete_fold_rows(c, f->fold, err);
  for (int k = 0; k < NMODELS && rc == CLAP_OK; k++)
    if ((rc = model_store_put(c->db, f->name[k], f->m[k], 1, NULL, err)) != CLAP_OK)
      clap_error_prefix(err, "model %s: ", f->name[k]);
  if (rc == CLAP_OK)
    rc = write_arm(c, f, "baseline", f->name[M_BASE], 0, -1, f->base_score, f->base_score_thr, 0, err);
  if (rc == CLAP_OK) memcpy(f->base_pred, f->pred, (size_t)f->n * sizeof *f->pred);
  if (rc == CLAP_OK) rc = fold_random(c, f, err);
  for (int aug = 0; aug < 2 && rc == CLAP_OK; aug++)
    for (int s = 0; s < c->nsets && rc == CLAP_OK; s++) {
      int dim = model_get_config(f->m[aug])->dim;
      rc = zero_shot_scores(c, f->name[aug], f->emb[aug], dim, f->n, &c->sets[s], f->score, err);
      if (rc == CLAP_OK) rc = write_arm(c, f, "zero-shot", f->name[aug], s + 1, aug, f->score, 0.5, 1, err);
    }
  return rc;
}

/* fn inside BEGIN kind .. COMMIT; on failure the transaction is discarded. */
static clap_status in_transaction(eval_ctx *c, const char *begin, clap_status (*fn)(eval_ctx *, fold_data *, clap_error *),
                                  fold_data *f, clap_error *err) {
  clap_status rc = db_exec(c->db, begin, err);
  if (rc != CLAP_OK) return rc;
  rc = fn(c, f, err);
  if (rc == CLAP_OK) rc = db_exec(c->db, "COMMIT", err);
  if (rc != CLAP_OK) db_rollback(c->db);
  return rc;
}

static clap_status print_fold(eval_ctx *c, const fold_data *f, clap_error *err) {
  sqlite3_stmt *st;
  clap_status rc = db_prepare(c->db,
                              "SELECT arm, prompt_set, augment, n, wa, ua FROM evaluations WHERE run=? "
                              "AND fold=? ORDER BY id",
                              &st, err);
  if (rc != CLAP_OK) return rc;
  sqlite3_bind_text(st, 1, c->run, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, f->fold, -1, SQLITE_STATIC);
  printf("fold %s:", f->fold);
  if (f->one_class)
    printf(" [one class: all %d held-out utterances are '%s'; each UA here is that class's recall]", f->n,
           f->one_class);
  int r;
  while ((r = db_step(st, err)) == DB_ROW) {
    const char *arm = (const char *)sqlite3_column_text(st, 0);
    if (!strcmp(arm, "zero-shot"))
      printf(" zs%d%s", sqlite3_column_int(st, 1), sqlite3_column_int(st, 2) ? "+para" : "");
    else
      printf(" %s", arm);
    printf(" UA %.3f", sqlite3_column_double(st, 5));
    printf(";");
  }
  printf("\n");
  sqlite3_finalize(st);
  return DB_STATUS(r);
}

/* Read phase (one snapshot, no lock held against writers): the digest
** check, the done check, the test rows, training. *done and f filled. */
static clap_status fold_read(eval_ctx *c, fold_data *f, int *done, clap_error *err) {
  clap_status rc = same_inputs(c, err);
  if (rc == CLAP_OK && !c->force) rc = fold_done(c, f->fold, done, err);
  if (rc != CLAP_OK || *done) return rc;
  rc = load_test_rows(c->db, f->fold, &f->ids, &f->truth, &f->n, err);
  if (rc != CLAP_OK || f->n == 0) return rc;
  int yes = 0;
  for (int i = 0; i < f->n; i++) yes += f->truth[i];
  f->one_class = yes == 0 ? "no" : yes == f->n ? "yes" : NULL;
  return fold_compute(c, f, err);
}

static clap_status drop_fold(eval_ctx *c, fold_data *f, clap_error *err) {
  return delete_fold_rows(c, f->fold, err);
}

/* Train outside any write transaction (a `clap train` meanwhile is not
** locked out), then write the fold's models and rows in one short one. */
static clap_status run_fold(eval_ctx *c, const char *fold, clap_error *err) {
  fold_data f;
  memset(&f, 0, sizeof f);
  f.fold = fold;
  for (int k = 0; k < NMODELS; k++) model_name(c, fold, model_what[k], f.name[k], sizeof f.name[k]);
  int done = 0;
  clap_status rc = db_exec(c->db, "BEGIN", err);
  if (rc == CLAP_OK) {
    rc = fold_read(c, &f, &done, err);
    db_rollback(c->db); /* the read transaction wrote nothing */
  }
  if (rc == CLAP_OK && done) {
    printf("fold %s: already evaluated with these settings and inputs (use --force to redo)\n", fold);
  } else if (rc == CLAP_OK && f.n == 0) {
    /* rows an earlier evaluation left for it no longer describe any data */
    rc = in_transaction(c, "BEGIN IMMEDIATE", drop_fold, &f, err);
    if (rc == CLAP_OK)
      printf("fold %s: no customer utterance with a purchase_intention label; skipped%s\n", fold,
             sqlite3_changes(c->db) ? " (its earlier rows in this run removed)" : "");
  } else if (rc == CLAP_OK) {
    rc = in_transaction(c, "BEGIN IMMEDIATE", fold_write, &f, err);
    if (rc == CLAP_OK) rc = print_fold(c, &f, err);
    else clap_error_prefix(err, "fold %s (nothing of it kept): ", fold);
  } else {
    clap_error_prefix(err, "fold %s (nothing of it kept): ", fold);
  }
  fold_data_free(&f);
  return rc;
}

/* ------------------------------------------------------------------ main */

static int split_folds(const char *spec, char ***out, int *n) {
  *out = NULL;
  *n = 0;
  char *copy = strdup(spec);
  if (!copy) return -1;
  int cap = 1;
  for (const char *p = spec; *p; p++) cap += *p == ',';
  *out = calloc((size_t)cap, sizeof **out);
  for (char *tok = strtok(copy, ","); tok && *out; tok = strtok(NULL, ","))
    if (*tok) (*out)[(*n)++] = strdup(tok);
  free(copy);
  return *out ? 0 : -1;
}

enum { OPT_RUN = CLI_OPT, OPT_FOLDS, OPT_RANDOM_RUNS, OPT_FORCE, OPT_PROMPTS };
static const struct option eval_opts[] = {
    CLI_HELP_OPTION, CLI_DB_OPTION, FIT_LONGOPTS, FIT_CLAP_LONGOPTS,
    {"run", required_argument, NULL, OPT_RUN},
    {"folds", required_argument, NULL, OPT_FOLDS},
    {"random-runs", required_argument, NULL, OPT_RANDOM_RUNS},
    {"force", no_argument, NULL, OPT_FORCE},
    {"prompts", required_argument, NULL, OPT_PROMPTS},
    {0}};

static void flags_help(FILE *f) {
  fputs(fit_clap_flags_help, f);
  fputs(fit_flags_help, f);
}

/* One option into c / *folds; 0, or 2 after a usage error. */
static int eval_option(eval_ctx *c, const cli *cl, int opt, const char **folds) {
  long x;
  switch (opt) {
  case OPT_RUN: c->run = optarg; return 0;
  case OPT_FOLDS: *folds = optarg; return 0;
  case OPT_FORCE: c->force = 1; return 0;
  case OPT_PROMPTS: c->prompts_path = optarg; return 0;
  case OPT_RANDOM_RUNS:
    if (cli_int(cl, 1, 1000000, &x)) return 2;
    c->random_runs = (int)x;
    return 0;
  default: return fit_option(&c->o, cl, opt);
  }
}

/* The command line into c, *path and *folds. Returns -1 to go on, or the
** exit status: 0 after --help, 2 after a usage error (printed). */
static int eval_parse(int argc, char **argv, eval_ctx *c, const char **path, const char **folds) {
  cli cl = {.cmd = "clap eval", .help = eval_usage, .help_fn = flags_help};
  for (int o; (o = cli_next(&cl, argc, argv, "", eval_opts)) != CLI_END;)
    if (o == CLI_EXIT) return cl.status;
    else if (eval_option(c, &cl, o, folds)) return 2;
  static const char *const operands[] = {"database", NULL};
  if (cli_operands(&cl, argc, argv, operands, 1, 1)) return 2;
  if (!*c->run) return cli_usage(&cl, "--run must not be empty");
  *path = argv[optind];
  return -1;
}

/* Pool the run's folds (every fold committed so far, even after a failure)
** and say what was pooled. */
static clap_status pool_and_report(eval_ctx *c, clap_error *err) {
  eval_config want = {c->config_key, c->digest};
  eval_pool_info info;
  clap_status rc = eval_pool(c->db, c->run, &want, c->o.seed, c->random_runs, &info, err);
  if (rc != CLAP_OK) return rc;
  printf("eval: run '%s' pooled over %d folds", c->run, info.nfolds);
  if (info.one_class)
    printf("; with one class only: %s - such a fold's UA is the recall of that class alone, "
           "and the pooled rows count its utterances like any other fold's",
           info.one_class);
  printf("\n");
  eval_pool_info_free(&info);
  return CLAP_OK;
}

static int eval_main(eval_ctx *c, const char *path, const char *folds) {
  clap_error err;
  if (db_open(path, 0, &c->db, &err) != CLAP_OK) {
    fprintf(stderr, "clap eval: %s\n", err.msg);
    return 1;
  }
  char **sessions = NULL, **want = NULL;
  int nsessions = 0, nwant = 0;
  clap_status rc = fit_sessions(c->db, &sessions, &nsessions, &err);
  if (rc == CLAP_OK && nsessions < 2)
    rc = clap_error_set(&err, CLAP_ERR_NOTFOUND, "leave-one-session-out needs at least 2 sessions, the database has %d",
                        nsessions);
  if (rc == CLAP_OK && strcmp(folds, "all")) {
    if (split_folds(folds, &want, &nwant) || nwant == 0)
      rc = clap_error_set(&err, CLAP_ERR_ARG, "--folds: no session in '%s'", folds);
    for (int i = 0; i < nwant && rc == CLAP_OK; i++) {
      int found = 0;
      for (int j = 0; j < nsessions; j++) found |= !strcmp(want[i], sessions[j]);
      if (!found) rc = clap_error_set(&err, CLAP_ERR_NOTFOUND, "--folds: no session '%s'", want[i]);
    }
  }
  if (rc == CLAP_OK) rc = load_prompts(c, &err);
  if (rc == CLAP_OK && !(c->config_key = make_config_key(c)))
    rc = clap_error_set(&err, CLAP_ERR_NOMEM, "out of memory");
  if (rc == CLAP_OK) rc = eval_data_digest(c->db, c->o.audio_encoder, c->o.text_encoder, c->digest, &err);
  int started = rc == CLAP_OK;
  char **list = want ? want : sessions;
  int nlist = want ? nwant : nsessions;
  for (int i = 0; i < nlist && rc == CLAP_OK; i++) rc = run_fold(c, list[i], &err);
  clap_error perr;
  clap_status prc = started ? pool_and_report(c, &perr) : CLAP_OK;
  if (rc == CLAP_OK && prc != CLAP_OK) rc = prc, err = perr;
  else if (prc != CLAP_OK) fprintf(stderr, "clap eval: %s\n", perr.msg);
  if (rc == CLAP_OK) printf("eval: run '%s' stored in table evaluations (`clap report %s`)\n", c->run, path);
  else fprintf(stderr, "clap eval: %s\n", err.msg);
  fit_free_strings(sessions, nsessions);
  fit_free_strings(want, nwant);
  prompt_file_free(c->sets, c->nsets);
  free(c->config_key);
  db_close(c->db);
  return rc == CLAP_OK ? 0 : 1;
}

int cmd_eval(int argc, char **argv) {
  eval_ctx c;
  memset(&c, 0, sizeof c);
  fit_defaults(&c.o);
  c.run = "default";
  c.random_runs = DEFAULT_RANDOM_RUNS;
  const char *path = NULL, *folds = "all";
  int status = eval_parse(argc, argv, &c, &path, &folds);
  if (status >= 0) return status;
  return eval_main(&c, path, folds);
}
