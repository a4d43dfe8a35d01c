/*
** clap eval — leave-one-session-out evaluation of purchase intention, the
** paper's Table III (§III).
**
**   clap eval DB [--run R] [--folds all|s1,s3] [--random-runs N] [--force]
**                [training flags of `clap train`: --epochs --lr --batch --seed ...]
**
** For every fold (a held-out session S) and in one transaction:
**   - trains the CLAP model on the other sessions without and with paraphrase
**     augmentation (models fold-S-none, fold-S-para) and the supervised
**     baseline (fold-S-base), stored in clap_models (names prefixed "R:" when
**     the run is not "default");
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
**     with the counts, the per-utterance ids/truth/scores/predictions and,
**     for zero-shot arms, the two-tailed exact sign test against the
**     baseline on per-utterance correctness.
** A fold that fails leaves nothing: no model, no row. A fold already
** evaluated in this run with the same settings is skipped (--force redoes it).
** Then the pooled rows (fold 'pooled') are recomputed from every fold row of
** the run: metrics over the concatenated utterances, sign tests on the pooled
** correctness. A recall of a class absent from a fold is NULL.
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
    "  --force            re-evaluate folds already done with these settings\n"
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
  char *config_key;
} eval_ctx;

/* One arm's per-utterance results on a fold (or pooled). */
typedef struct arm_result {
  const char *arm;    /* random | baseline | zero-shot */
  int prompt_set;     /* 0 = none */
  int augment;        /* -1 = not applicable */
  char model[160];
  double *score;      /* P(yes); NULL for random */
  int *pred;
  double threshold;
} arm_result;

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
  if (sqlite3_prepare_v2(c->db,
                         "SELECT prompt_set, pole, text FROM descriptions WHERE source='prompt' "
                         "AND dimension='purchase_intention' AND status='ok' AND prompt_set "
                         "BETWEEN 1 AND 3 ORDER BY prompt_set, pole, id",
                         -1, &st, NULL) != SQLITE_OK)
    return clap_error_set(err, CLAP_ERR_INTERNAL, "%s", sqlite3_errmsg(c->db));
  while (sqlite3_step(st) == SQLITE_ROW) {
    prompt_pair *p = &c->sets[sqlite3_column_int(st, 0) - 1];
    if (!p->label) p->label = strdup("");
    int pole = sqlite3_column_int(st, 1) ? 1 : 0;
    if (!p->text[pole]) p->text[pole] = strdup((const char *)sqlite3_column_text(st, 2));
  }
  sqlite3_finalize(st);
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
  if (sqlite3_prepare_v2(db,
                         "SELECT u.id, l.label FROM utterances u JOIN labels l ON "
                         "l.utterance_id=u.id WHERE u.session_id=? AND u.role='customer' AND "
                         "l.dimension='purchase_intention' AND l.label IS NOT NULL ORDER BY u.id",
                         -1, &st, NULL) != SQLITE_OK)
    return clap_error_set(err, CLAP_ERR_INTERNAL, "%s", sqlite3_errmsg(db));
  sqlite3_bind_text(st, 1, session, -1, SQLITE_STATIC);
  int cap = 0;
  clap_status rc = CLAP_OK;
  while (rc == CLAP_OK && sqlite3_step(st) == SQLITE_ROW) {
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
    (*ids)[*n] = strdup((const char *)sqlite3_column_text(st, 0));
    (*truth)[(*n)++] = sqlite3_column_int(st, 1) ? 1 : 0;
  }
  sqlite3_finalize(st);
  return rc;
}

/* --------------------------------------------------------------- metrics */

typedef struct summary {
  double wa, ua, recall[2];
  int n, correct, tn, fp, fn, tp;
} summary;

static clap_status summarise(const int *truth, const int *pred, int n, summary *s,
                             clap_error *err) {
  memset(s, 0, sizeof *s);
  s->n = n;
  for (int i = 0; i < n; i++) {
    if (truth[i]) pred[i] ? s->tp++ : s->fn++;
    else pred[i] ? s->fp++ : s->tn++;
  }
  s->correct = s->tp + s->tn;
  return metrics_classification(truth, pred, n, 2, &s->wa, &s->ua, s->recall, err);
}

static cJSON *int_array(const int *v, int n) {
  cJSON *a = cJSON_CreateArray();
  for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
  return a;
}

static cJSON *counts_json(const summary *s) {
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

static void bind_metric(sqlite3_stmt *st, int i, double v) {
  if (isfinite(v)) sqlite3_bind_double(st, i, v);
  else sqlite3_bind_null(st, i);
}

static clap_status insert_row(sqlite3 *db, const char *run, const char *fold, const char *arm,
                              const char *model, int prompt_set, int augment, int n,
                              double wa, double ua, double rno, double ryes, cJSON *details,
                              clap_error *err) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db,
                         "INSERT INTO evaluations(run, fold, arm, model, prompt_set, augment, n, "
                         "wa, ua, recall_no, recall_yes, details) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                         -1, &st, NULL) != SQLITE_OK)
    return clap_error_set(err, CLAP_ERR_INTERNAL, "%s", sqlite3_errmsg(db));
  char *d = cJSON_PrintUnformatted(details);
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
  sqlite3_bind_text(st, 12, d ? d : "{}", -1, SQLITE_STATIC);
  clap_status rc = CLAP_OK;
  if (sqlite3_step(st) != SQLITE_DONE)
    rc = clap_error_set(err, CLAP_ERR_IO, "writing evaluations (%s, %s, %s): %s", run, fold, arm,
                        sqlite3_errmsg(db));
  sqlite3_finalize(st);
  free(d);
  return rc;
}

/* Per-utterance correctness, for the sign test. */
static unsigned char *correctness(const int *truth, const int *pred, int n) {
  unsigned char *c = malloc((size_t)(n ? n : 1));
  for (int i = 0; c && i < n; i++) c[i] = truth[i] == pred[i];
  return c;
}

static clap_status sign_test_json(const int *truth, const int *base, const int *pred, int n,
                                  cJSON *details, clap_error *err) {
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

/* ------------------------------------------------------------- one fold */

static void on_epoch(void *ctx, int epoch, int epochs, double loss) {
  char note[64];
  snprintf(note, sizeof note, "loss %.4f", loss);
  progress_update(ctx, epoch, note);
  (void)epochs;
}

static clap_status train_and_store(eval_ctx *c, const char *fold, const char *what, int kind,
                                   clap_model **out, clap_error *err) {
  fit_options o = c->o;
  const char *hold[1] = {fold};
  o.holdout = hold;
  o.nholdout = 1;
  o.augment = kind == 1;
  char name[160], label[200];
  model_name(c, fold, what, name, sizeof name);
  snprintf(label, sizeof label, "eval %s", name);
  progress *p = progress_create(label, o.epochs);
  o.on_epoch = on_epoch;
  o.ctx = p;
  clap_status rc = kind == 2 ? fit_baseline(c->db, &o, out, err) : fit_clap(c->db, &o, out, err);
  progress_finish(p);
  if (rc == CLAP_OK) rc = model_store_put(c->db, name, *out, 1, NULL, err);
  if (rc != CLAP_OK) clap_error_prefix(err, "model %s: ", name);
  return rc;
}

/* P(yes) for each test row through the SQL function clap_zero_shot. */
static clap_status zero_shot_scores(eval_ctx *c, const clap_model *m, const char *name,
                                    const float *x, int n, const prompt_pair *pp, double *p,
                                    clap_error *err) {
  int dim = model_get_config(m)->dim;
  float *emb = malloc((size_t)(n ? n : 1) * dim * sizeof(float));
  if (!emb) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  /* One row per call, exactly as clap_embed_audio does: BLAS may round a
  ** many-row product differently from a one-row one, and the scores must be
  ** the SQL function's bit for bit. */
  clap_status rc = CLAP_OK;
  int din = model_get_config(m)->audio_in;
  for (int i = 0; i < n && rc == CLAP_OK; i++)
    rc = model_embed(m, MODEL_AUDIO, x + (size_t)i * din, 1, emb + (size_t)i * dim, err);
  sqlite3_stmt *st = NULL;
  if (rc == CLAP_OK &&
      sqlite3_prepare_v2(c->db, "SELECT clap_zero_shot(?1, ?2, ?3, ?4)", -1, &st, NULL) !=
          SQLITE_OK)
    rc = clap_error_set(err, CLAP_ERR_INTERNAL, "%s (is the clap extension registered?)",
                        sqlite3_errmsg(c->db));
  for (int i = 0; i < n && rc == CLAP_OK; i++) {
    sqlite3_reset(st);
    sqlite3_bind_blob(st, 1, emb + (size_t)i * dim, dim * (int)sizeof(float), SQLITE_STATIC);
    sqlite3_bind_text(st, 2, pp->text[0], -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, pp->text[1], -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW || sqlite3_column_type(st, 0) != SQLITE_FLOAT)
      rc = clap_error_set(err, CLAP_ERR_INTERNAL, "clap_zero_shot: %s", sqlite3_errmsg(c->db));
    else p[i] = sqlite3_column_double(st, 0);
  }
  sqlite3_finalize(st);
  free(emb);
  return rc;
}

static cJSON *fold_details(const eval_ctx *c, char **ids, const int *truth, const double *score,
                           const int *pred, int n, const summary *s) {
  cJSON *d = cJSON_CreateObject();
  cJSON_AddStringToObject(d, "config_key", c->config_key);
  cJSON_AddItemToObject(d, "counts", counts_json(s));
  cJSON_AddItemToObject(d, "utterances", cJSON_CreateStringArray((const char *const *)ids, n));
  cJSON_AddItemToObject(d, "truth", int_array(truth, n));
  if (score) cJSON_AddItemToObject(d, "score", cJSON_CreateDoubleArray(score, n));
  if (pred) cJSON_AddItemToObject(d, "pred", int_array(pred, n));
  return d;
}

typedef struct fold_data {
  const char *fold;
  char **ids;
  int *truth;
  int n;
  float *x;
  double *score;
  int *pred, *base_pred;
} fold_data;

static clap_status write_arm(eval_ctx *c, fold_data *f, const char *arm, const char *model,
                             int prompt_set, int augment, double threshold, int with_sign,
                             clap_error *err) {
  for (int i = 0; i < f->n; i++) f->pred[i] = f->score[i] >= threshold;
  summary s;
  clap_status rc = summarise(f->truth, f->pred, f->n, &s, err);
  cJSON *d = fold_details(c, f->ids, f->truth, f->score, f->pred, f->n, &s);
  cJSON_AddNumberToObject(d, "threshold", threshold);
  if (prompt_set > 0) {
    const prompt_pair *pp = &c->sets[prompt_set - 1];
    cJSON *p = cJSON_AddObjectToObject(d, "prompts");
    cJSON_AddStringToObject(p, "label", pp->label);
    cJSON_AddStringToObject(p, "no", pp->text[0]);
    cJSON_AddStringToObject(p, "yes", pp->text[1]);
  }
  if (rc == CLAP_OK && with_sign)
    rc = sign_test_json(f->truth, f->base_pred, f->pred, f->n, d, err);
  if (rc == CLAP_OK)
    rc = insert_row(c->db, c->run, f->fold, arm, model, prompt_set, augment, f->n, s.wa, s.ua,
                    s.recall[0], s.recall[1], d, err);
  cJSON_Delete(d);
  return rc;
}

static clap_status fold_random(eval_ctx *c, fold_data *f, clap_error *err) {
  double wa, ua, rec[2];
  clap_status rc = metrics_random_predictor(f->truth, f->n, 2, c->o.seed, c->random_runs, &wa,
                                            &ua, rec, err);
  if (rc != CLAP_OK) return rc;
  summary s;
  memset(&s, 0, sizeof s);
  s.n = f->n;
  for (int i = 0; i < f->n; i++) f->truth[i] ? s.tp++ : s.tn++; /* class counts only */
  cJSON *d = cJSON_CreateObject();
  cJSON_AddStringToObject(d, "config_key", c->config_key);
  cJSON *cn = cJSON_AddObjectToObject(d, "counts");
  cJSON_AddNumberToObject(cn, "n", f->n);
  cJSON_AddNumberToObject(cn, "no", s.tn);
  cJSON_AddNumberToObject(cn, "yes", s.tp);
  cJSON_AddNumberToObject(d, "runs", c->random_runs);
  cJSON_AddNumberToObject(d, "seed", (double)c->o.seed);
  cJSON_AddItemToObject(d, "utterances", cJSON_CreateStringArray((const char *const *)f->ids, f->n));
  cJSON_AddItemToObject(d, "truth", int_array(f->truth, f->n));
  rc = insert_row(c->db, c->run, f->fold, "random", NULL, 0, -1, f->n, wa, ua, rec[0], rec[1], d,
                  err);
  cJSON_Delete(d);
  return rc;
}

/* Everything of one fold; the caller wraps it in a transaction. */
static clap_status fold_body(eval_ctx *c, fold_data *f, clap_error *err) {
  sqlite3_stmt *del;
  if (sqlite3_prepare_v2(c->db, "DELETE FROM evaluations WHERE run=? AND fold=?", -1, &del, NULL) !=
      SQLITE_OK)
    return clap_error_set(err, CLAP_ERR_INTERNAL, "%s", sqlite3_errmsg(c->db));
  sqlite3_bind_text(del, 1, c->run, -1, SQLITE_STATIC);
  sqlite3_bind_text(del, 2, f->fold, -1, SQLITE_STATIC);
  int drc = sqlite3_step(del);
  sqlite3_finalize(del);
  if (drc != SQLITE_DONE) return clap_error_set(err, CLAP_ERR_IO, "%s", sqlite3_errmsg(c->db));

  clap_model *none = NULL, *para = NULL, *base = NULL;
  char name[3][160];
  model_name(c, f->fold, "none", name[0], sizeof name[0]);
  model_name(c, f->fold, "para", name[1], sizeof name[1]);
  model_name(c, f->fold, "base", name[2], sizeof name[2]);
  clap_status rc = train_and_store(c, f->fold, "none", 0, &none, err);
  if (rc == CLAP_OK) rc = train_and_store(c, f->fold, "para", 1, &para, err);
  if (rc == CLAP_OK) rc = train_and_store(c, f->fold, "base", 2, &base, err);
  double thr = 0.5;
  if (rc == CLAP_OK) rc = fit_baseline_predict(base, f->x, f->n, f->score, &thr, err);
  if (rc == CLAP_OK) rc = write_arm(c, f, "baseline", name[2], 0, -1, thr, 0, err);
  if (rc == CLAP_OK) memcpy(f->base_pred, f->pred, (size_t)f->n * sizeof *f->pred);
  if (rc == CLAP_OK) rc = fold_random(c, f, err);
  for (int aug = 0; aug < 2 && rc == CLAP_OK; aug++)
    for (int s = 0; s < c->nsets && rc == CLAP_OK; s++) {
      rc = zero_shot_scores(c, aug ? para : none, name[aug], f->x, f->n, &c->sets[s], f->score,
                            err);
      if (rc == CLAP_OK) rc = write_arm(c, f, "zero-shot", name[aug], s + 1, aug, 0.5, 1, err);
    }
  model_free(none);
  model_free(para);
  model_free(base);
  return rc;
}

static int fold_done(eval_ctx *c, const char *fold) {
  sqlite3_stmt *st;
  int done = 0;
  if (sqlite3_prepare_v2(c->db,
                         "SELECT count(*) FROM evaluations WHERE run=? AND fold=? AND "
                         "json_extract(details, '$.config_key')=?",
                         -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, c->run, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, fold, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, c->config_key, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) done = sqlite3_column_int(st, 0) == 2 + 2 * c->nsets;
  }
  sqlite3_finalize(st);
  return done;
}

static void print_fold(eval_ctx *c, const char *fold) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(c->db,
                         "SELECT arm, prompt_set, augment, n, wa, ua FROM evaluations WHERE run=? "
                         "AND fold=? ORDER BY id",
                         -1, &st, NULL) != SQLITE_OK)
    return;
  sqlite3_bind_text(st, 1, c->run, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, fold, -1, SQLITE_STATIC);
  printf("fold %s:", fold);
  while (sqlite3_step(st) == SQLITE_ROW) {
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
}

static clap_status run_fold(eval_ctx *c, const char *fold, clap_error *err) {
  if (!c->force && fold_done(c, fold)) {
    printf("fold %s: already evaluated with these settings (use --force to redo)\n", fold);
    return CLAP_OK;
  }
  fold_data f;
  memset(&f, 0, sizeof f);
  f.fold = fold;
  clap_status rc = load_test_rows(c->db, fold, &f.ids, &f.truth, &f.n, err);
  if (rc == CLAP_OK && f.n == 0) {
    printf("fold %s: no customer utterance with a purchase_intention label; skipped\n", fold);
    fit_free_strings(f.ids, f.n);
    free(f.truth);
    return CLAP_OK;
  }
  int din = 0;
  char sha[SHA256_HEX_SIZE], id[SHA256_HEX_SIZE];
  if (rc == CLAP_OK)
    rc = features_encoder_info(c->db, c->o.audio_encoder, ENCODER_AUDIO, &din, sha, id, err);
  if (rc == CLAP_OK) {
    f.x = malloc((size_t)f.n * din * sizeof(float));
    f.score = malloc((size_t)f.n * sizeof *f.score);
    f.pred = malloc((size_t)f.n * sizeof *f.pred);
    f.base_pred = malloc((size_t)f.n * sizeof *f.base_pred);
    if (!f.x || !f.score || !f.pred || !f.base_pred)
      rc = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  }
  if (rc == CLAP_OK)
    rc = features_load(c->db, c->o.audio_encoder, ENCODER_AUDIO, (const char *const *)f.ids,
                       NULL, f.n, din, f.x, err);
  if (rc == CLAP_OK) rc = db_exec(c->db, "BEGIN IMMEDIATE", err);
  if (rc == CLAP_OK) {
    rc = fold_body(c, &f, err);
    if (rc == CLAP_OK) rc = db_exec(c->db, "COMMIT", err);
    if (rc != CLAP_OK) db_rollback(c->db);
  }
  if (rc == CLAP_OK) print_fold(c, fold);
  else clap_error_prefix(err, "fold %s (nothing of it kept): ", fold);
  fit_free_strings(f.ids, f.n);
  free(f.truth);
  free(f.x);
  free(f.score);
  free(f.pred);
  free(f.base_pred);
  return rc;
}

/* ---------------------------------------------------------------- pooled */

typedef struct pool_arm {
  char arm[16];
  int prompt_set, augment;
  char **ids;
  int *truth, *pred, n, cap;
  double *score;
  char folds[512];
} pool_arm;

static pool_arm *find_arm(pool_arm *arms, int *narms, const char *arm, int ps, int aug) {
  for (int i = 0; i < *narms; i++)
    if (!strcmp(arms[i].arm, arm) && arms[i].prompt_set == ps && arms[i].augment == aug)
      return &arms[i];
  pool_arm *a = &arms[(*narms)++];
  memset(a, 0, sizeof *a);
  snprintf(a->arm, sizeof a->arm, "%s", arm);
  a->prompt_set = ps;
  a->augment = aug;
  return a;
}

static clap_status pool_add(pool_arm *a, const char *fold, cJSON *d, clap_error *err) {
  cJSON *ids = cJSON_GetObjectItem(d, "utterances"), *truth = cJSON_GetObjectItem(d, "truth");
  cJSON *pred = cJSON_GetObjectItem(d, "pred"), *score = cJSON_GetObjectItem(d, "score");
  int n = cJSON_GetArraySize(ids);
  if (!cJSON_IsArray(ids) || cJSON_GetArraySize(truth) != n ||
      (pred && cJSON_GetArraySize(pred) != n))
    return clap_error_set(err, CLAP_ERR_FORMAT, "evaluations row of fold %s, arm %s: details "
                          "lack per-utterance arrays", fold, a->arm);
  if (a->n + n > a->cap) {
    a->cap = 2 * (a->n + n);
    a->ids = realloc(a->ids, (size_t)a->cap * sizeof *a->ids);
    a->truth = realloc(a->truth, (size_t)a->cap * sizeof *a->truth);
    a->pred = realloc(a->pred, (size_t)a->cap * sizeof *a->pred);
    a->score = realloc(a->score, (size_t)a->cap * sizeof *a->score);
    if (!a->ids || !a->truth || !a->pred || !a->score)
      return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  }
  if (score && cJSON_GetArraySize(score) != n) score = NULL;
  for (int i = 0; i < n; i++) {
    cJSON *id = cJSON_GetArrayItem(ids, i), *t = cJSON_GetArrayItem(truth, i);
    cJSON *pr = pred ? cJSON_GetArrayItem(pred, i) : NULL;
    cJSON *sc = score ? cJSON_GetArrayItem(score, i) : NULL;
    if (!cJSON_IsString(id) || !cJSON_IsNumber(t) || (t->valueint != 0 && t->valueint != 1) ||
        (pred && (!cJSON_IsNumber(pr) || (pr->valueint != 0 && pr->valueint != 1))))
      return clap_error_set(err, CLAP_ERR_FORMAT, "evaluations row of fold %s, arm %s: details "
                            "entry %d is malformed", fold, a->arm, i);
    a->ids[a->n + i] = id->valuestring;
    a->truth[a->n + i] = t->valueint;
    a->pred[a->n + i] = pr ? pr->valueint : 0;
    a->score[a->n + i] = cJSON_IsNumber(sc) ? sc->valuedouble : NAN;
  }
  a->n += n;
  size_t len = strlen(a->folds);
  snprintf(a->folds + len, sizeof a->folds - len, "%s%s", len ? "," : "", fold);
  return CLAP_OK;
}

static clap_status pooled_rows(eval_ctx *c, clap_error *err) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(c->db,
                         "SELECT fold, arm, coalesce(prompt_set,0), coalesce(augment,-1), details "
                         "FROM evaluations WHERE run=? AND fold<>'pooled' ORDER BY fold, id",
                         -1, &st, NULL) != SQLITE_OK)
    return clap_error_set(err, CLAP_ERR_INTERNAL, "%s", sqlite3_errmsg(c->db));
  sqlite3_bind_text(st, 1, c->run, -1, SQLITE_STATIC);
  pool_arm arms[2 + 2 * (ENSEMBLE + PROMPT_FILE_MAX_PAIRS) + 4];
  int narms = 0;
  cJSON *docs[4096];
  int ndocs = 0;
  clap_status rc = CLAP_OK;
  while (rc == CLAP_OK && sqlite3_step(st) == SQLITE_ROW && ndocs < 4096) {
    const char *arm = (const char *)sqlite3_column_text(st, 1);
    if (narms >= (int)(sizeof arms / sizeof *arms)) {
      rc = clap_error_set(err, CLAP_ERR_FORMAT, "evaluations: too many arms in run '%s'", c->run);
      break;
    }
    cJSON *d = cJSON_Parse((const char *)sqlite3_column_text(st, 4));
    if (!d) {
      rc = clap_error_set(err, CLAP_ERR_FORMAT, "evaluations: details of fold %s are not JSON",
                          sqlite3_column_text(st, 0));
      break;
    }
    docs[ndocs++] = d;
    pool_arm *a = find_arm(arms, &narms, arm, sqlite3_column_int(st, 2), sqlite3_column_int(st, 3));
    rc = pool_add(a, (const char *)sqlite3_column_text(st, 0), d, err);
  }
  sqlite3_finalize(st);
  pool_arm *base = NULL;
  for (int i = 0; i < narms; i++)
    if (!strcmp(arms[i].arm, "baseline")) base = &arms[i];
  if (rc == CLAP_OK) rc = db_exec(c->db, "BEGIN IMMEDIATE", err);
  if (rc == CLAP_OK) {
    sqlite3_stmt *del;
    if (sqlite3_prepare_v2(c->db, "DELETE FROM evaluations WHERE run=? AND fold='pooled'", -1,
                           &del, NULL) == SQLITE_OK) {
      sqlite3_bind_text(del, 1, c->run, -1, SQLITE_STATIC);
      sqlite3_step(del);
    }
    sqlite3_finalize(del);
  }
  for (int i = 0; i < narms && rc == CLAP_OK; i++) {
    pool_arm *a = &arms[i];
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "folds", a->folds);
    double wa, ua, rec[2];
    if (!strcmp(a->arm, "random")) {
      rc = metrics_random_predictor(a->truth, a->n, 2, c->o.seed, c->random_runs, &wa, &ua, rec,
                                    err);
      int yes = 0;
      for (int j = 0; j < a->n; j++) yes += a->truth[j];
      cJSON *cn = cJSON_AddObjectToObject(d, "counts");
      cJSON_AddNumberToObject(cn, "n", a->n);
      cJSON_AddNumberToObject(cn, "no", a->n - yes);
      cJSON_AddNumberToObject(cn, "yes", yes);
      cJSON_AddNumberToObject(d, "runs", c->random_runs);
    } else {
      summary s;
      rc = summarise(a->truth, a->pred, a->n, &s, err);
      wa = s.wa, ua = s.ua, rec[0] = s.recall[0], rec[1] = s.recall[1];
      cJSON_AddItemToObject(d, "counts", counts_json(&s));
      if (rc == CLAP_OK && !strcmp(a->arm, "baseline")) {
        double auc;
        if (metrics_auc(a->score, a->truth, a->n, &auc, NULL) == CLAP_OK)
          cJSON_AddNumberToObject(d, "auc", auc);
        cJSON_AddItemToObject(d, "score", cJSON_CreateDoubleArray(a->score, a->n));
        cJSON_AddItemToObject(d, "truth", int_array(a->truth, a->n));
      }
      if (rc == CLAP_OK && !strcmp(a->arm, "zero-shot") && base) {
        for (int j = 0; j < a->n && rc == CLAP_OK; j++)
          if (j >= base->n || strcmp(a->ids[j], base->ids[j]))
            rc = clap_error_set(err, CLAP_ERR_FORMAT,
                                "pooled rows: zero-shot and baseline utterances differ at %d", j);
        if (rc == CLAP_OK) rc = sign_test_json(a->truth, base->pred, a->pred, a->n, d, err);
      }
    }
    if (rc == CLAP_OK)
      rc = insert_row(c->db, c->run, "pooled", a->arm, NULL, a->prompt_set, a->augment, a->n, wa,
                      ua, rec[0], rec[1], d, err);
    cJSON_Delete(d);
  }
  if (rc == CLAP_OK) rc = db_exec(c->db, "COMMIT", err);
  else db_rollback(c->db);
  for (int i = 0; i < narms; i++) {
    free(arms[i].ids);
    free(arms[i].truth);
    free(arms[i].pred);
    free(arms[i].score);
  }
  for (int i = 0; i < ndocs; i++) cJSON_Delete(docs[i]);
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

int cmd_eval(int argc, char **argv) {
  eval_ctx c;
  memset(&c, 0, sizeof c);
  fit_defaults(&c.o);
  c.run = "default";
  c.random_runs = DEFAULT_RANDOM_RUNS;
  const char *path = NULL, *folds = "all";
  int status = eval_parse(argc, argv, &c, &path, &folds);
  if (status >= 0) return status;
  clap_error err;
  if (db_open(path, 0, &c.db, &err) != CLAP_OK) {
    fprintf(stderr, "clap eval: %s\n", err.msg);
    return 1;
  }
  char **sessions = NULL, **want = NULL;
  int nsessions = 0, nwant = 0;
  clap_status rc = fit_sessions(c.db, &sessions, &nsessions, &err);
  if (rc == CLAP_OK && nsessions < 2)
    rc = clap_error_set(&err, CLAP_ERR_NOTFOUND,
                        "leave-one-session-out needs at least 2 sessions, the database has %d",
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
  if (rc == CLAP_OK) rc = load_prompts(&c, &err);
  if (rc == CLAP_OK && !(c.config_key = make_config_key(&c)))
    rc = clap_error_set(&err, CLAP_ERR_NOMEM, "out of memory");
  char **list = want ? want : sessions;
  int nlist = want ? nwant : nsessions;
  for (int i = 0; i < nlist && rc == CLAP_OK; i++) rc = run_fold(&c, list[i], &err);
  /* pooled rows reflect every fold committed so far, even after a failure */
  clap_error perr;
  clap_status prc = pooled_rows(&c, &perr);
  if (rc == CLAP_OK && prc != CLAP_OK) rc = prc, err = perr;
  if (rc == CLAP_OK) printf("eval: run '%s' stored in table evaluations (`clap report %s`)\n", c.run, path);
  else fprintf(stderr, "clap eval: %s\n", err.msg);
  fit_free_strings(sessions, nsessions);
  fit_free_strings(want, nwant);
  prompt_file_free(c.sets, c.nsets);
  free(c.config_key);
  db_close(c.db);
  return rc == CLAP_OK ? 0 : 1;
}
