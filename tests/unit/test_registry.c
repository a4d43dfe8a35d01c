/* Unit tests for ext/sql/registry.c: the one encoder resolver (built-in ->
** clap_encoders row -> verify files -> create), its messages and its cache. */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "registry.h"

/* Encoders at the precision their rows record (registry.h). */
#define REC REGISTRY_PREC_RECORDED

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
  CHECK_INT(registry_resolve(NULL, db, "ngram", REC, ENCODER_TEXT, &e, &owned, sha, id, &err), CLAP_OK);
  CHECK(e == encoder_builtin("ngram", NULL));
  CHECK(owned == NULL && !sha[0] && !id[0]);
  CHECK_INT(registry_resolve(NULL, db, "ngram", REC, ENCODER_AUDIO, &e, &owned, NULL, NULL, &err),
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
  CHECK_INT(registry_resolve(NULL, db, "nope", REC, 0, &e, &owned, NULL, NULL, &err),
            CLAP_ERR_NOTFOUND);
  CHECK_CONTAINS(err.msg, "unknown encoder 'nope' (built in: acoustic, ngram; no clap_encoders table)");
  sqlite3_close(db);
  db = open_db(1);
  CHECK_INT(registry_resolve(NULL, db, "nope", REC, 0, &e, &owned, NULL, NULL, &err),
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
  CHECK_INT(registry_resolve(c, db, "d", REC, ENCODER_TEXT, &e1, &owned, NULL, NULL, &err), CLAP_OK);
  CHECK(e1 != NULL && owned == NULL);
  CHECK_INT(registry_resolve(c, db, "d", REC, ENCODER_TEXT, &e2, NULL, NULL, NULL, &err), CLAP_OK);
  CHECK(e1 == e2);
  /* The modality is known from the kind, before any file is read. */
  CHECK_INT(registry_resolve(c, db, "d", REC, ENCODER_AUDIO, &e2, NULL, NULL, NULL, &err), CLAP_ERR_ARG);
  CHECK_CONTAINS(err.msg, "encoder 'd' encodes text, not audio");
  put_row(db, "d", "distilbert", "{\"note\": 1}");
  CHECK_INT(registry_resolve(c, db, "d", REC, ENCODER_TEXT, &e3, NULL, NULL, NULL, &err), CLAP_OK);
  CHECK(e3 != NULL && e3 != e1);
  CHECK_INT(registry_resolve(NULL, db, "d", REC, 0, &e3, &owned, NULL, NULL, &err), CLAP_OK);
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
    CHECK_INT(registry_resolve(c, db, "d", REC, 0, &e, NULL, NULL, NULL, &err), CLAP_ERR_FORMAT);
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
  CHECK(registry_resolve(NULL, db, "w", REC, 0, &e, &owned, NULL, NULL, &err) == CLAP_ERR_NOTFOUND);
  CHECK_CONTAINS(err.msg, "whisper");
  sqlite3_close(db);
}

static void test_prec_parse(void) {
  registry_prec p = REGISTRY_PREC_F32;
  clap_error err;
  CHECK_INT(registry_prec_parse("registered", &p, &err), CLAP_OK);
  CHECK(p == REGISTRY_PREC_RECORDED);
  CHECK_INT(registry_prec_parse("f32", &p, &err), CLAP_OK);
  CHECK(p == REGISTRY_PREC_F32);
  CHECK_INT(registry_prec_parse("bf16", &p, &err), CLAP_OK);
  CHECK(p == REGISTRY_PREC_BF16);
  /* auto: bf16 only where the CPU has bf16 matmul hardware. */
  CHECK_INT(registry_prec_parse("auto", &p, &err), CLAP_OK);
  CHECK(p == (nn_bf16_native() ? REGISTRY_PREC_BF16 : REGISTRY_PREC_F32));
  CHECK_INT(registry_prec_parse("fp16", &p, &err), CLAP_ERR_ARG);
  CHECK_CONTAINS(err.msg, "expected f32, bf16, auto or registered, got 'fp16'");
  CHECK_INT(registry_prec_parse("BF16", &p, &err), CLAP_ERR_ARG);
  CHECK_INT(registry_prec_parse(NULL, &p, &err), CLAP_ERR_ARG);
  CHECK(!strcmp(registry_prec_name(REGISTRY_PREC_RECORDED), "registered"));
  CHECK(!strcmp(registry_prec_name(REGISTRY_PREC_F32), "f32"));
  CHECK(!strcmp(registry_prec_name(REGISTRY_PREC_BF16), "bf16"));
}

/* Exact text: a and b equal, else both printed. */
#define CHECK_STR(a, b)                                                              \
  do {                                                                               \
    const char *sa_ = (a), *sb_ = (b);                                               \
    CHECK(!strcmp(sa_, sb_));                                                        \
    if (strcmp(sa_, sb_)) fprintf(stderr, "  got '%s', expected '%s'\n", sa_, sb_); \
  } while (0)

/* The config a row_at gives, for a row of kind and config. */
static char *row_at(const char *kind, const char *config, registry_prec p) {
  static char buf[512];
  registry_row row = {strdup(kind), strdup("/x"), strdup(config), strdup("")};
  clap_error err;
  CHECK_INT(registry_row_at(&row, p, &err), CLAP_OK);
  snprintf(buf, sizeof buf, "%s", row.config);
  registry_row_clear(&row);
  return buf;
}

static void test_row_at(void) {
  /* Rewritten only when the precision changes (absent means f32). */
  CHECK_STR(row_at("hubert", "{\"a\": 1}", REGISTRY_PREC_F32), "{\"a\": 1}");
  CHECK_STR(row_at("hubert", "{\"a\": 1}", REGISTRY_PREC_BF16), "{\"a\":1,\"precision\":\"bf16\"}");
  CHECK_STR(row_at("hubert", "{\"precision\": \"bf16\"}", REGISTRY_PREC_BF16),
            "{\"precision\": \"bf16\"}");
  CHECK_STR(row_at("distilbert", "{\"precision\":\"bf16\",\"b\":2}", REGISTRY_PREC_F32),
            "{\"precision\":\"f32\",\"b\":2}");
  CHECK_STR(row_at("hubert", "{\"precision\": \"bf16\"}", REGISTRY_PREC_RECORDED),
            "{\"precision\": \"bf16\"}");
  /* A hand-made row without a JSON config. */
  CHECK_STR(row_at("hubert", "", REGISTRY_PREC_BF16), "{\"precision\":\"bf16\"}");
  /* Kinds without a precision setting are left alone. */
  CHECK_STR(row_at("openai", "{\"model\": \"m\"}", REGISTRY_PREC_BF16), "{\"model\": \"m\"}");
  CHECK_STR(row_at("whisper", "{}", REGISTRY_PREC_BF16), "{}");
  registry_row row = {strdup("hubert"), strdup("/x"), strdup("{}"), strdup("")};
  CHECK(registry_row_has_precision(&row));
  registry_row_clear(&row);
  row = (registry_row){strdup("openai"), strdup("/x"), strdup("{}"), strdup("")};
  CHECK(!registry_row_has_precision(&row));
  registry_row_clear(&row);
}

/* One row at two precisions: two encoders in one cache, each at its
** precision with its identity; asked again, the cached one. */
static void test_cache_by_precision(void) {
  sqlite3 *db = open_db(1);
  put_row(db, "d", "distilbert", "{}");
  /* A recorded digest, so the identities are not "" (nothing is verified
  ** against it: the config names no weights file). */
  CHECK(sqlite3_exec(db, "update clap_encoders set sha256 = '0123'", 0, 0, 0) == SQLITE_OK);
  registry_cache *c = registry_cache_create();
  const encoder *e32 = NULL, *e16 = NULL, *again = NULL;
  clap_error err;
  CHECK_INT(registry_resolve(c, db, "d", REC, ENCODER_TEXT, &e32, NULL, NULL, NULL, &err), CLAP_OK);
  /* bf16 needs oneDNN's bf16 matmul (AVX-512 or better): an AVX2-only CPU
  ** refuses it, naming the shape, and caches nothing. */
  if (registry_resolve(c, db, "d", REGISTRY_PREC_BF16, ENCODER_TEXT, &e16, NULL, NULL, NULL,
                       &err) != CLAP_OK) {
    CHECK_CONTAINS(err.msg, "encoder 'd': oneDNN has no bf16 matmul for");
    CHECK(!nn_bf16_native());
    registry_cache_free(c);
    sqlite3_close(db);
    return;
  }
  CHECK(e32 && e16 && e32 != e16);
  CHECK(encoder_precision(e32) == NN_F32 && encoder_precision(e16) == NN_BF16);
  /* Vectors are cached under the digest, and at bf16 under its fold. */
  char fold[SHA256_HEX_SIZE];
  sha256_hex("0123 bf16", 9, fold);
  CHECK_STR(registry_cache_id(c, e32), "0123");
  CHECK_STR(registry_cache_id(c, e16), fold);
  CHECK_INT(registry_resolve(c, db, "d", REGISTRY_PREC_F32, ENCODER_TEXT, &again, NULL, NULL, NULL,
                             &err),
            CLAP_OK);
  CHECK(again == e32);
  CHECK_INT(registry_resolve(c, db, "d", REGISTRY_PREC_BF16, ENCODER_TEXT, &again, NULL, NULL,
                             NULL, &err),
            CLAP_OK);
  CHECK(again == e16);
  /* A built-in is the same instance at any precision. */
  CHECK_INT(registry_resolve(c, db, "ngram", REGISTRY_PREC_BF16, ENCODER_TEXT, &again, NULL, NULL,
                             NULL, &err),
            CLAP_OK);
  CHECK(again == encoder_builtin("ngram", NULL));
  registry_cache_free(c);
  sqlite3_close(db);
}

int main(void) {
  RUN(test_prec_parse);
  RUN(test_row_at);
  RUN(test_cache_by_precision);
  RUN(test_builtin);
  RUN(test_unknown);
  RUN(test_row_and_cache);
  RUN(test_verify_failure);
  RUN(test_unknown_kind);
  return harness_report();
}
