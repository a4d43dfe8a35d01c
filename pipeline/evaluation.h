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

/* Replace the run's pooled rows with ones recomputed from its fold rows,
** in one transaction (BEGIN IMMEDIATE .. COMMIT; on error nothing
** changes). seed and random_runs drive the random predictor. *nfolds (may
** be NULL) receives the number of folds pooled. A malformed fold row is
** CLAP_ERR_FORMAT naming the fold and arm. */
clap_status eval_pool(sqlite3 *db, const char *run, uint64_t seed, int random_runs, int *nfolds, clap_error *err);

#endif
