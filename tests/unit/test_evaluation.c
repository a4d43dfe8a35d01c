/* evaluation: fold rows and the pooled rows recomputed from them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "evaluation.h"
#include "harness.h"

static int int_of(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  int v = -12345;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return v;
}

static char *text_of(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  char *v = NULL;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
      sqlite3_column_text(st, 0))
    v = strdup((const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  return v;
}

/* One fold's rows as `clap eval` writes them: random, baseline and a
** zero-shot arm, n utterances with alternating truth. */
static clap_status add_fold(sqlite3 *db, const char *run, const char *fold, int n, clap_error *e) {
  char **ids = calloc((size_t)n, sizeof *ids);
  int *truth = calloc((size_t)n, sizeof *truth), *pred = calloc((size_t)n, sizeof *pred);
  double *score = calloc((size_t)n, sizeof *score);
  for (int i = 0; i < n; i++) {
    char id[200];
    snprintf(id, sizeof id, "%s-u%d", fold, i);
    ids[i] = strdup(id);
    truth[i] = i % 2;
    pred[i] = i % 3 == 0;
    score[i] = pred[i] ? 0.75 : 0.25;
  }
  clap_status rc = CLAP_OK;
  const char *arms[3] = {"random", "baseline", "zero-shot"};
  for (int a = 0; a < 3 && rc == CLAP_OK; a++) {
    eval_summary s;
    rc = eval_summarise(truth, pred, n, &s, e);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddItemToObject(d, "utterances", cJSON_CreateStringArray((const char *const *)ids, n));
    cJSON_AddItemToObject(d, "truth", eval_int_array(truth, n));
    if (a > 0) {
      cJSON_AddItemToObject(d, "pred", eval_int_array(pred, n));
      cJSON_AddItemToObject(d, "score", cJSON_CreateDoubleArray(score, n));
    }
    if (rc == CLAP_OK)
      rc = eval_insert_row(db, run, fold, arms[a], NULL, a == 2 ? 1 : 0, a == 2 ? 0 : -1, n, s.wa, s.ua,
                           s.recall[0], s.recall[1], d, e);
    cJSON_Delete(d);
  }
  for (int i = 0; i < n; i++) free(ids[i]);
  free(ids);
  free(truth);
  free(pred);
  free(score);
  return rc;
}

/* More fold rows than any fixed table (1,500 folds x 3 arms) and a fold
** list far longer than 512 bytes: every utterance and every fold is pooled. */
static void test_pool_many_folds(void) {
  sqlite3 *db = NULL;
  clap_error e = {0};
  CHECK_INT(db_open(":memory:", DB_CREATE, &db, &e), CLAP_OK);
  if (!db) return;
  const int nfolds = 1500, n = 3;
  CHECK_INT(db_exec(db, "BEGIN", &e), CLAP_OK);
  for (int f = 0; f < nfolds; f++) {
    char fold[64];
    snprintf(fold, sizeof fold, "session-with-a-long-name-%04d", f);
    if (add_fold(db, "r", fold, n, &e) != CLAP_OK) {
      CHECK(0);
      fprintf(stderr, "add_fold: %s\n", e.msg);
      break;
    }
  }
  CHECK_INT(db_exec(db, "COMMIT", &e), CLAP_OK);
  eval_pool_info info;
  CHECK_INT(eval_pool(db, "r", NULL, 7, 20, &info, &e), CLAP_OK);
  CHECK_INT(info.nfolds, nfolds);
  CHECK(info.one_class == NULL);
  eval_pool_info_free(&info);
  CHECK_INT(int_of(db, "SELECT count(*) FROM evaluations WHERE fold='pooled'"), 3);
  CHECK_INT(int_of(db, "SELECT min(n) FROM evaluations WHERE fold='pooled'"), nfolds * n);
  CHECK_INT(int_of(db, "SELECT max(n) FROM evaluations WHERE fold='pooled'"), nfolds * n);
  CHECK_INT(int_of(db, "SELECT json_extract(details, '$.counts.n') FROM evaluations WHERE fold='pooled' "
                       "AND arm='zero-shot'"),
            nfolds * n);
  /* the fold list names every fold, the last one too */
  char *folds = text_of(db, "SELECT json_extract(details, '$.folds') FROM evaluations WHERE fold='pooled' "
                            "AND arm='baseline'");
  CHECK(folds && strlen(folds) > 512);
  CHECK_CONTAINS(folds, "session-with-a-long-name-0000,session-with-a-long-name-0001,");
  CHECK_CONTAINS(folds, ",session-with-a-long-name-1499");
  int commas = 0;
  for (const char *p = folds; p && *p; p++) commas += *p == ',';
  CHECK_INT(commas, nfolds - 1);
  free(folds);
  /* pooled WA = pooled correct / n */
  CHECK_INT(int_of(db, "SELECT abs(wa - 1.0 * json_extract(details, '$.counts.correct') / n) < 1e-12 "
                       "FROM evaluations WHERE fold='pooled' AND arm='baseline'"),
            1);
  /* recomputing replaces the pooled rows */
  CHECK_INT(eval_pool(db, "r", NULL, 7, 20, NULL, &e), CLAP_OK);
  CHECK_INT(int_of(db, "SELECT count(*) FROM evaluations WHERE fold='pooled'"), 3);
  db_close(db);
}

/* A malformed fold row is an error naming the fold; the pooled rows stay
** as they were. */
static void test_pool_malformed(void) {
  sqlite3 *db = NULL;
  clap_error e = {0};
  CHECK_INT(db_open(":memory:", DB_CREATE, &db, &e), CLAP_OK);
  if (!db) return;
  CHECK_INT(add_fold(db, "r", "s1", 4, &e), CLAP_OK);
  CHECK_INT(eval_pool(db, "r", NULL, 1, 10, NULL, &e), CLAP_OK);
  CHECK_INT(db_exec(db, "INSERT INTO evaluations(run, fold, arm, details) VALUES ('r', 's2', 'baseline', "
                        "'{\"utterances\":[\"a\"],\"truth\":[2]}')",
                    &e),
            CLAP_OK);
  CHECK_INT(eval_pool(db, "r", NULL, 1, 10, NULL, &e), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(e.msg, "fold s2, arm baseline");
  CHECK_INT(int_of(db, "SELECT count(*) FROM evaluations WHERE fold='pooled'"), 3);
  CHECK_INT(db_exec(db, "UPDATE evaluations SET details='not json' WHERE fold='s2'", &e), CLAP_OK);
  CHECK_INT(eval_pool(db, "r", NULL, 1, 10, NULL, &e), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(e.msg, "are not JSON");
  db_close(db);
}

/* The DELETE of stale pooled rows and the inserts are checked: a locked
** database is an error, not a silent half-update. */
static void test_pool_locked(void) {
  char path[] = "/tmp/clap-test-evaluation-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return;
  close(fd);
  unlink(path);
  sqlite3 *a = NULL, *b = NULL;
  clap_error e = {0};
  CHECK_INT(db_open(path, DB_CREATE, &a, &e), CLAP_OK);
  CHECK_INT(db_open(path, 0, &b, &e), CLAP_OK);
  if (a && b) {
    sqlite3_busy_timeout(b, 0);
    CHECK_INT(add_fold(a, "r", "s1", 4, &e), CLAP_OK);
    CHECK_INT(db_exec(a, "BEGIN IMMEDIATE", &e), CLAP_OK);
    clap_error le = {0};
    CHECK_INT(eval_pool(b, "r", NULL, 1, 10, NULL, &le), CLAP_ERR_IO);
    CHECK_CONTAINS(le.msg, "database is locked");
    CHECK_INT(db_exec(a, "COMMIT", &e), CLAP_OK);
    CHECK_INT(eval_pool(b, "r", NULL, 1, 10, NULL, &e), CLAP_OK);
  }
  db_close(a);
  db_close(b);
  char side[600];
  unlink(path);
  snprintf(side, sizeof side, "%s-wal", path);
  unlink(side);
  snprintf(side, sizeof side, "%s-shm", path);
  unlink(side);
}

static void set_config(sqlite3 *db, const char *fold, const char *key, const char *digest) {
  char *sql = sqlite3_mprintf("UPDATE evaluations SET details = json_set(details, '$.config_key', %Q, "
                              "'$.data_digest', %Q) WHERE fold = %Q",
                              key, digest, fold);
  clap_error e;
  CHECK_INT(db_exec(db, sql, &e), CLAP_OK);
  sqlite3_free(sql);
}

/* A run's pooled rows come from one configuration: folds evaluated with
** other settings or on other data are named, with the settings that
** differ, and the run's stale pooled rows go. */
static void test_pool_one_configuration(void) {
  sqlite3 *db = NULL;
  clap_error e = {0};
  CHECK_INT(db_open(":memory:", DB_CREATE, &db, &e), CLAP_OK);
  if (!db) return;
  const char *k40 = "{\"epochs\":40,\"lr\":0.001,\"seed\":1}";
  const char *k200 = "{\"epochs\":200,\"lr\":0.001,\"seed\":1}";
  for (int i = 1; i <= 4; i++) {
    char fold[8];
    snprintf(fold, sizeof fold, "s%d", i);
    CHECK_INT(add_fold(db, "r", fold, 4, &e), CLAP_OK);
    set_config(db, fold, k40, "d1");
  }
  eval_config want = {k40, "d1"};
  eval_pool_info info;
  CHECK_INT(eval_pool(db, "r", &want, 1, 10, &info, &e), CLAP_OK);
  CHECK_INT(info.nfolds, 4);
  eval_pool_info_free(&info);
  CHECK_INT(int_of(db, "SELECT count(*) FROM evaluations WHERE fold='pooled' AND "
                       "json_extract(details, '$.config.epochs') = 40 AND json_extract(details, '$.data_digest') = 'd1'"),
            3);
  set_config(db, "s2", k200, "d1");
  set_config(db, "s4", k40, "d2");
  CHECK_INT(eval_pool(db, "r", &want, 1, 10, NULL, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "run 'r' mixes configurations");
  CHECK_CONTAINS(e.msg, "fold s2 evaluated with epochs 200 (this run 40)");
  CHECK_CONTAINS(e.msg, "fold s4 evaluated on other labels, descriptions or cached features");
  CHECK(strstr(e.msg, "s1") == NULL && strstr(e.msg, "s3") == NULL);
  CHECK_INT(int_of(db, "SELECT count(*) FROM evaluations WHERE fold='pooled'"), 0);
  CHECK_INT(int_of(db, "SELECT count(*) FROM evaluations WHERE fold<>'pooled'"), 12);
  /* many folds: the message stays readable */
  for (int i = 5; i <= 30; i++) {
    char fold[8];
    snprintf(fold, sizeof fold, "s%d", i);
    CHECK_INT(add_fold(db, "r", fold, 2, &e), CLAP_OK);
    set_config(db, fold, k200, "d1");
  }
  CHECK_INT(eval_pool(db, "r", &want, 1, 10, NULL, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "and 19 more evaluated with epochs 200");
  db_close(db);
}

/* A fold whose held-out utterances have one class is pooled like any
** other and listed. */
static void test_pool_one_class(void) {
  sqlite3 *db = NULL;
  clap_error e = {0};
  CHECK_INT(db_open(":memory:", DB_CREATE, &db, &e), CLAP_OK);
  if (!db) return;
  CHECK_INT(add_fold(db, "r", "s1", 4, &e), CLAP_OK);
  CHECK_INT(add_fold(db, "r", "s2", 1, &e), CLAP_OK); /* truth [0] */
  CHECK_INT(db_exec(db, "UPDATE evaluations SET details = json_set(details, '$.one_class', 'no') WHERE fold='s2'",
                    &e),
            CLAP_OK);
  eval_pool_info info;
  CHECK_INT(eval_pool(db, "r", NULL, 1, 10, &info, &e), CLAP_OK);
  CHECK(info.one_class && !strcmp(info.one_class, "s2 (no)"));
  eval_pool_info_free(&info);
  CHECK_INT(int_of(db, "SELECT count(*) FROM evaluations WHERE fold='pooled' AND n = 5 AND "
                       "json_extract(details, '$.one_class_folds') = 's2 (no)'"),
            3);
  db_close(db);
}

int main(void) {
  RUN(test_pool_many_folds);
  RUN(test_pool_malformed);
  RUN(test_pool_locked);
  RUN(test_pool_one_configuration);
  RUN(test_pool_one_class);
  return harness_report();
}
