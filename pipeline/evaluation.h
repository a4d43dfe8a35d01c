/*
** evaluation — rows of table evaluations (sql/schema.sql) as `clap eval`
** writes them, and the pooled rows recomputed from a run's fold rows.
**
** A fold row's details JSON holds, per held-out utterance, the id
** ("utterances"), the truth, the prediction ("pred", absent for the random
** arm) and the score when there is one; "counts" the confusion counts. The
** pooled rows (fold 'pooled') are the metrics over the concatenation of
** every fold's utterances, arm by arm, in fold order: any number of folds
** and utterances (nothing is dropped; memory grows with the run), the
** random predictor recomputed on the pooled truth, the baseline's AUC, and
** each zero-shot arm's sign test against the baseline on the pooled
** per-utterance correctness.
**
** Ownership: cJSON values returned are the caller's (cJSON_Delete).
*/
#ifndef CLAP_EVALUATION_H
#define CLAP_EVALUATION_H

#include <stdint.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "clap_error.h"
#include "sha256.h"

/* Confusion counts and metrics of binary predictions (1 = yes). */
typedef struct eval_summary {
  double wa, ua, recall[2]; /* recall of a class absent from the truth: NaN */
  int n, correct, tn, fp, fn, tp;
} eval_summary;

clap_status eval_summarise(const int *truth, const int *pred, int n, eval_summary *s, clap_error *err);

/* {"n","no","yes","correct","tn","fp","fn","tp"} */
cJSON *eval_counts_json(const eval_summary *s);
cJSON *eval_int_array(const int *v, int n);

/* details.sign_test: two-tailed exact sign test of pred against base on
** the per-utterance correctness. */
clap_status eval_sign_test_json(const int *truth, const int *base, const int *pred, int n, cJSON *details,
                                clap_error *err);

/* One evaluations row. model may be NULL, prompt_set 0 and augment -1 mean
** not applicable (NULL), a non-finite metric is stored as NULL. */
clap_status eval_insert_row(sqlite3 *db, const char *run, const char *fold, const char *arm, const char *model,
                            int prompt_set, int augment, int n, double wa, double ua, double rno, double ryes,
                            const cJSON *details, clap_error *err);

/* A digest of everything a fold's result depends on besides the settings:
** the utterances' sessions and roles, the dimensions, every label, every
** description, and the cached vectors (with their encoder identities) of
** the two encoders named. Equal digests mean equal inputs: `clap eval`
** keys "already evaluated" on it, and pools only folds that share it. */
clap_status eval_data_digest(sqlite3 *db, const char *audio_encoder, const char *text_encoder,
                             char hex[SHA256_HEX_SIZE], clap_error *err);

/* What every fold row of a pooled run must have been computed with: its
** details' config_key (the settings, JSON) and data_digest. */
typedef struct eval_config {
  const char *config_key;
  const char *data_digest;
} eval_config;

/* What eval_pool pooled. one_class: "s4 (no), s5 (yes)", the folds whose
** held-out utterances have one class only (malloc'd, NULL when none). */
typedef struct eval_pool_info {
  int nfolds;
  char *one_class;
} eval_pool_info;
void eval_pool_info_free(eval_pool_info *info);

/* Replace the run's pooled rows with ones recomputed from its fold rows,
** in one transaction (BEGIN IMMEDIATE .. COMMIT). With want, every fold
** must match it: a fold evaluated with other settings or on other data
** makes it refuse (CLAP_ERR_ARG naming those folds and the settings that
** differ), and the run's old pooled rows, which no longer describe its
** folds, are removed. A fold with one class is pooled like any other: its
** utterances count in the pooled metrics (the pooled details list it under
** "one_class_folds"). seed and random_runs drive the random predictor.
** info may be NULL. A malformed fold row is CLAP_ERR_FORMAT naming the fold
** and arm; then nothing changes. */
clap_status eval_pool(sqlite3 *db, const char *run, const eval_config *want, uint64_t seed, int random_runs,
                      eval_pool_info *info, clap_error *err);

#endif
