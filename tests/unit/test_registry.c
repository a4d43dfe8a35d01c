/* Unit tests for ext/sql/registry.c: the one encoder resolver (built-in ->
** clap_encoders row -> verify files -> create), its messages and its cache. */
#include <sqlite3.h>
#include <stdlib.h>

#include "harness.h"
#include "registry.h"

static sqlite3 *open_db(int with_table) {
  sqlite3 *db = NULL;
  sqlite3_open(":memory:", &db);
  if (with_table)
    sqlite3_exec(db,
                 "create table clap_encoders(name text primary key, kind text, path text, "
                 "sha256 text, dim integer, config text)",
                 0, 0, 0);
  return db;
}

static void put_row(sqlite3 *db, const char *name, const char *kind, const char *config) {
  char path[512];
  snprintf(path, sizeof path, "%s/tests/fixtures/distilbert",
           getenv("CLAP_ROOT") ? getenv("CLAP_ROOT") : ".");
  char *sql = sqlite3_mprintf(
      "insert or replace into clap_encoders(name, kind, path, sha256, dim, config) "
      "values (%Q, %Q, %Q, '', 0, %Q)",
      name, kind, path, config);
  CHECK(sqlite3_exec(db, sql, 0, 0, 0) == SQLITE_OK);
  sqlite3_free(sql);
}

static void test_builtin(void) {
  sqlite3 *db = open_db(0);
  const encoder *e = NULL;
  encoder *owned = (encoder *)1;
  char sha[SHA256_HEX_SIZE] = "x", id[SHA256_HEX_SIZE] = "x";
  clap_error err;
  CHECK_INT(registry_resolve(NULL, db, "ngram", REGISTRY_PREC_RECORDED, ENCODER_TEXT, &e, &owned, sha, id, &err), CLAP_OK);
  CHECK(e == encoder_builtin("ngram", NULL));
  CHECK(owned == NULL && !sha[0] && !id[0]);
  CHECK_INT(registry_resolve(NULL, db, "ngram", REGISTRY_PREC_RECORDED, ENCODER_AUDIO, &e, &owned, NULL, NULL, &err),
            CLAP_ERR_ARG);
  CHECK_CONTAINS(err.msg, "encoder 'ngram' encodes text, not audio");
  CHECK(e == NULL);
  sqlite3_close(db);
}

static void test_unknown(void) {
  sqlite3 *db = open_db(0);
  const encoder *e;
  encoder *owned;
  clap_error err;
  CHECK_INT(registry_resolve(NULL, db, "nope", REGISTRY_PREC_RECORDED, 0, &e, &owned, NULL, NULL, &err),
            CLAP_ERR_NOTFOUND);
  CHECK_CONTAINS(err.msg, "unknown encoder 'nope' (built in: acoustic, ngram; no clap_encoders table)");
  sqlite3_close(db);
  db = open_db(1);
  CHECK_INT(registry_resolve(NULL, db, "nope", REGISTRY_PREC_RECORDED, 0, &e, &owned, NULL, NULL, &err),
            CLAP_ERR_NOTFOUND);
  CHECK_CONTAINS(err.msg, "unknown encoder 'nope' (built in: acoustic, ngram; not in clap_encoders)");
  registry_row row;
  CHECK_INT(registry_row_read(db, "nope", &row, &err), CLAP_ERR_NOTFOUND);
  sqlite3_close(db);
}

/* A row: verified and created; cached while the row stays the same, built
** anew when it changes; without a cache the caller owns it. */
static void test_row_and_cache(void) {
  sqlite3 *db = open_db(1);
  put_row(db, "d", "distilbert", "{}");
  registry_cache *c = registry_cache_create();
  const encoder *e1 = NULL, *e2 = NULL, *e3 = NULL;
  encoder *owned = (encoder *)1;
  clap_error err;
  CHECK_INT(registry_resolve(c, db, "d", REGISTRY_PREC_RECORDED, ENCODER_TEXT, &e1, &owned, NULL, NULL, &err), CLAP_OK);
  CHECK(e1 != NULL && owned == NULL);
  CHECK_INT(registry_resolve(c, db, "d", REGISTRY_PREC_RECORDED, ENCODER_TEXT, &e2, NULL, NULL, NULL, &err), CLAP_OK);
  CHECK(e1 == e2);
  /* The modality is known from the kind, before any file is read. */
  CHECK_INT(registry_resolve(c, db, "d", REGISTRY_PREC_RECORDED, ENCODER_AUDIO, &e2, NULL, NULL, NULL, &err), CLAP_ERR_ARG);
  CHECK_CONTAINS(err.msg, "encoder 'd' encodes text, not audio");
  put_row(db, "d", "distilbert", "{\"note\": 1}");
  CHECK_INT(registry_resolve(c, db, "d", REGISTRY_PREC_RECORDED, ENCODER_TEXT, &e3, NULL, NULL, NULL, &err), CLAP_OK);
  CHECK(e3 != NULL && e3 != e1);
  CHECK_INT(registry_resolve(NULL, db, "d", REGISTRY_PREC_RECORDED, 0, &e3, &owned, NULL, NULL, &err), CLAP_OK);
  CHECK(owned != NULL && e3 == owned);
  encoder_free(owned);
  registry_cache_free(c);
  sqlite3_close(db);
}

/* Files other than those recorded (here the weights were not recorded and
** config.json no longer hashes to its digest): refused, naming the file,
** and nothing is cached (the next call verifies again). */
static void test_verify_failure(void) {
  sqlite3 *db = open_db(1);
  put_row(db, "d", "distilbert",
          "{\"files\": {\"config.json\": "
          "\"0000000000000000000000000000000000000000000000000000000000000000\"}}");
  registry_cache *c = registry_cache_create();
  const encoder *e;
  clap_error err;
  for (int i = 0; i < 2; i++) {
    CHECK_INT(registry_resolve(c, db, "d", REGISTRY_PREC_RECORDED, 0, &e, NULL, NULL, NULL, &err), CLAP_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "encoder 'd': ");
    CHECK_CONTAINS(err.msg, "since `clap encoder add`");
  }
  registry_cache_free(c);
  sqlite3_close(db);
}

static void test_unknown_kind(void) {
  sqlite3 *db = open_db(1);
  put_row(db, "w", "whisper", "{}");
  const encoder *e;
  encoder *owned;
  clap_error err;
  CHECK(registry_resolve(NULL, db, "w", REGISTRY_PREC_RECORDED, 0, &e, &owned, NULL, NULL, &err) == CLAP_ERR_NOTFOUND);
  CHECK_CONTAINS(err.msg, "whisper");
  sqlite3_close(db);
}

int main(void) {
  RUN(test_builtin);
  RUN(test_unknown);
  RUN(test_row_and_cache);
  RUN(test_verify_failure);
  RUN(test_unknown_kind);
  return harness_report();
}
