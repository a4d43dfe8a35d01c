/*
** The feature cache's identities: what features_identity says for a
** built-in, a clap_encoders row with its files recorded, one from before
** schema version 3 (weights digest only) and one made by hand, and what
** features_files_identity gives a model to record; features_put
** stores the identity; features_load refuses a row computed by another
** identity or by an unknown one; features_encoder_info answers from the
** registration without touching the checkpoint (its files need not exist),
** and creates the encoder only for a row that cannot tell its dim or kind;
** a version-2 database (the committed
** schema of that version) migrates to 3 keeping its rows, whose vectors
** then read as stale.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "clap_version.h"
#include "db.h"
#include "feature_cache.h"
#include "fixture.h"
#include "harness.h"
#include "sha256.h"

/* Encoders at the precision their rows record (registry.h). */
#define REC REGISTRY_PREC_RECORDED

#define SHA_W "fcb5f40df9be6bae66c1d77a6c15968866a9e6cbd7314ca432b019d17392f6f4"
#define SHA_C "6b23c0d5f35d1b11f9b683f0b0a617355deb11277d91ae091d399c655b87940d"
/* printf '%s  %s\n' SHA_C config.json SHA_W model.safetensors | sha256sum */
#define ID_CW "0fcf46ecaefea30da017dcd95709d57107ecf38cd11b35ad4d8e29c21bfe5a63"

static int exec(sqlite3 *db, const char *sql) {
  char *msg = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
  if (rc != SQLITE_OK) fprintf(stderr, "%s: %s\n", sql, msg);
  sqlite3_free(msg);
  return rc;
}

static char *text_of(sqlite3 *db, const char *sql) {
  static char buf[256];
  sqlite3_stmt *st;
  buf[0] = 0;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    snprintf(buf, sizeof buf, "%s",
             sqlite3_column_type(st, 0) == SQLITE_NULL ? "NULL"
                                                       : (const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  return buf;
}

static void test_identity(void) {
  sqlite3 *db;
  clap_error err;
  CHECK_INT(db_open(":memory:", 0, &db, &err), CLAP_OK);
  char id[FEATURES_ID_SIZE];
  CHECK_INT(features_identity(db, "acoustic", REC, id, &err), CLAP_OK);
  CHECK(!strcmp(id, "builtin:acoustic:clap-" CLAP_VERSION));
  CHECK_INT(features_identity(db, "ngram", REC, id, &err), CLAP_OK);
  CHECK(!strcmp(id, "builtin:ngram:clap-" CLAP_VERSION));
  CHECK_INT(features_identity(db, "nope", REC, id, &err), CLAP_ERR_NOTFOUND);
  CHECK_CONTAINS(err.msg, "unknown encoder 'nope'");
  CHECK_INT(exec(db, "INSERT INTO clap_encoders(name, kind, path, sha256, config) VALUES "
                     "('new', 'hubert', '/x', '" SHA_W "', '{\"weights\": \"model.safetensors\", "
                     "\"files\": {\"model.safetensors\": \"" SHA_W "\", \"config.json\": \"" SHA_C
                     "\"}}'),"
                     "('old', 'hubert', '/x', '" SHA_W "', '{\"weights\": \"model.safetensors\"}'),"
                     "('hand', 'hubert', '/x', NULL, NULL)"),
            SQLITE_OK);
  CHECK_INT(features_identity(db, "new", REC, id, &err), CLAP_OK);
  CHECK(!strcmp(id, ID_CW));
  CHECK_INT(features_identity(db, "old", REC, id, &err), CLAP_OK);
  CHECK(!strcmp(id, SHA_W));
  CHECK_INT(features_identity(db, "hand", REC, id, &err), CLAP_OK);
  CHECK(!strcmp(id, "unrecorded"));
  /* What a model records: the files identity, nothing for built-ins and
  ** for rows from before version 3. */
  char fid[SHA256_HEX_SIZE] = "x";
  CHECK_INT(features_files_identity(db, "new", REC, fid, &err), CLAP_OK);
  CHECK(!strcmp(fid, ID_CW));
  CHECK_INT(features_files_identity(db, "old", REC, fid, &err), CLAP_OK);
  CHECK(!strcmp(fid, ""));
  CHECK_INT(features_files_identity(db, "acoustic", REC, fid, &err), CLAP_OK);
  CHECK(!strcmp(fid, ""));
  CHECK_INT(features_files_identity(db, "nope", REC, fid, &err), CLAP_ERR_NOTFOUND);
  CHECK_CONTAINS(err.msg, "unknown encoder 'nope'");
  db_close(db);
}

static void test_put_load(void) {
  sqlite3 *db;
  clap_error err;
  CHECK_INT(db_open(":memory:", 0, &db, &err), CLAP_OK);
  char id[FEATURES_ID_SIZE];
  CHECK_INT(features_identity(db, "acoustic", REC, id, &err), CLAP_OK);
  float v[2] = {1.5f, -2.0f}, out[2] = {0};
  CHECK_INT(features_put(db, "acoustic", ENCODER_AUDIO, "u1", v, 2, id, &err), CLAP_OK);
  CHECK(!strcmp(text_of(db, "SELECT encoder_id FROM features WHERE key='u1'"), id));
  const char *k1[1] = {"u1"};
  CHECK_INT(features_load(db, "acoustic", REC, ENCODER_AUDIO, k1, NULL, 1, 2, out, &err), CLAP_OK);
  CHECK(out[0] == 1.5f && out[1] == -2.0f);
  /* Another identity: stale, and the message says what to run. */
  CHECK_INT(features_put(db, "acoustic", ENCODER_AUDIO, "u2", v, 2, "builtin:acoustic:clap-0.0.1",
                         &err),
            CLAP_OK);
  const char *k2[1] = {"u2"};
  CHECK_INT(features_load(db, "acoustic", REC, ENCODER_AUDIO, k2, NULL, 1, 2, out, &err),
            CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "stale acoustic audio features for utterance 'u2': computed by encoder "
                          "identity builtin:acoustic:cl");
  CHECK_CONTAINS(err.msg, "(run `clap embed` to recompute)");
  /* No identity (NULL): unknown, so stale too. */
  CHECK_INT(features_put(db, "acoustic", ENCODER_AUDIO, "u3", v, 2, NULL, &err), CLAP_OK);
  CHECK(!strcmp(text_of(db, "SELECT encoder_id FROM features WHERE key='u3'"), "NULL"));
  const char *k3[1] = {"u3"};
  CHECK_INT(features_load(db, "acoustic", REC, ENCODER_AUDIO, k3, NULL, 1, 2, out, &err),
            CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "computed by an unknown encoder (cached before schema version 3), but");
  /* Replacing the row with the current identity makes it fresh. */
  CHECK_INT(features_put(db, "acoustic", ENCODER_AUDIO, "u3", v, 2, id, &err), CLAP_OK);
  CHECK_INT(features_load(db, "acoustic", REC, ENCODER_AUDIO, k3, NULL, 1, 2, out, &err), CLAP_OK);
  /* An unknown encoder name is the lookup's error. */
  CHECK_INT(features_load(db, "zzz", REC, ENCODER_AUDIO, k3, NULL, 1, 2, out, &err), CLAP_ERR_NOTFOUND);
  CHECK_CONTAINS(err.msg, "unknown encoder 'zzz'");
  db_close(db);
}

/* The rows point at a directory that does not exist: nothing is read. */
static void test_encoder_info(void) {
  sqlite3 *db;
  clap_error err;
  CHECK_INT(db_open(":memory:", 0, &db, &err), CLAP_OK);
  CHECK_INT(exec(db, "INSERT INTO clap_encoders(name, kind, path, sha256, dim, config) VALUES "
                     "('new', 'hubert', '/nonexistent', '" SHA_W "', 768, '{\"weights\": "
                     "\"model.safetensors\", \"files\": {\"model.safetensors\": \"" SHA_W
                     "\", \"config.json\": \"" SHA_C "\"}}'),"
                     "('old', 'distilbert', '/nonexistent', '" SHA_W "', 32, "
                     "'{\"weights\": \"model.safetensors\"}'),"
                     "('nodim', 'hubert', '/nonexistent', '" SHA_W "', NULL, '{}'),"
                     "('nokind', 'wav2vec', '/nonexistent', NULL, 16, NULL)"),
            SQLITE_OK);
  int dim = -1;
  char sha[SHA256_HEX_SIZE] = "x", id[SHA256_HEX_SIZE] = "x";
  CHECK_INT(features_encoder_info(db, "new", REC, ENCODER_AUDIO, &dim, sha, id, &err), CLAP_OK);
  CHECK_INT(dim, 768);
  CHECK(!strcmp(sha, SHA_W) && !strcmp(id, ID_CW));
  /* before version 3: the weights digest, no files identity (as models record it) */
  CHECK_INT(features_encoder_info(db, "old", REC, ENCODER_TEXT, &dim, sha, id, &err), CLAP_OK);
  CHECK_INT(dim, 32);
  CHECK(!strcmp(sha, SHA_W) && !strcmp(id, ""));
  CHECK_INT(features_encoder_info(db, "acoustic", REC, ENCODER_AUDIO, &dim, sha, id, &err), CLAP_OK);
  CHECK_INT(dim, encoder_dim(encoder_builtin("acoustic", NULL)));
  CHECK(!strcmp(sha, "") && !strcmp(id, ""));
  CHECK_INT(features_encoder_info(db, "ngram", REC, ENCODER_TEXT, &dim, sha, id, &err), CLAP_OK);
  CHECK_INT(dim, encoder_dim(encoder_builtin("ngram", NULL)));
  /* the modality comes from the kind, the message from features_encoder */
  CHECK_INT(features_encoder_info(db, "new", REC, ENCODER_TEXT, &dim, sha, id, &err), CLAP_ERR_ARG);
  CHECK_CONTAINS(err.msg, "encoder 'new' encodes audio, not text");
  CHECK_INT(features_encoder_info(db, "ngram", REC, ENCODER_AUDIO, &dim, sha, id, &err), CLAP_ERR_ARG);
  CHECK_CONTAINS(err.msg, "encoder 'ngram' encodes text, not audio");
  CHECK_INT(features_encoder_info(db, "nope", REC, ENCODER_AUDIO, &dim, sha, id, &err),
            CLAP_ERR_NOTFOUND);
  CHECK_CONTAINS(err.msg, "unknown encoder 'nope'");
  /* rows that cannot tell: the encoder is created, so its files are needed */
  CHECK_INT(features_encoder_info(db, "nodim", REC, ENCODER_AUDIO, &dim, sha, id, &err),
            CLAP_ERR_NOTFOUND);
  CHECK_CONTAINS(err.msg, "/nonexistent");
  CHECK_INT(features_encoder_info(db, "nokind", REC, ENCODER_AUDIO, &dim, sha, id, &err),
            CLAP_ERR_NOTFOUND);
  CHECK_CONTAINS(err.msg, "wav2vec");
  db_close(db);
}

static void test_migrate_v2(void) {
  char path[] = "/tmp/test_feature_cache_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  close(fd);
  char *v2 = fixture_read(fx("tests/fixtures/schema_v2.sql"), NULL);
  CHECK(v2 != NULL);
  if (!v2) return;
  sqlite3 *raw;
  CHECK_INT(sqlite3_open(path, &raw), SQLITE_OK);
  CHECK_INT(exec(raw, v2), SQLITE_OK);
  CHECK_INT(exec(raw, "INSERT INTO features(encoder, modality, key, dim, vec) VALUES "
                      "('acoustic', 'audio', 'u1', 1, x'0000803f');"
                      "INSERT INTO llm_cache(key, endpoint, model, request, response) "
                      "VALUES ('k', 'e', 'm', '{}', '{}')"),
            SQLITE_OK);
  CHECK(!strcmp(text_of(raw, "PRAGMA user_version"), "2"));
  sqlite3_close(raw);
  free(v2);
  sqlite3 *db;
  clap_error err;
  int old = -1;
  CHECK_INT(db_open_ex(path, 0, &db, &old, &err), CLAP_OK);
  CHECK_INT(old, 2);
  CHECK_INT(atoi(text_of(db, "PRAGMA user_version")), DB_SCHEMA_VERSION);
  CHECK(!strcmp(text_of(db, "SELECT count(*) FROM llm_cache"), "1"));
  CHECK(!strcmp(text_of(db, "SELECT hex(vec) || ' ' || quote(encoder_id) FROM features"),
                "0000803F NULL"));
  float out[1];
  const char *k[1] = {"u1"};
  CHECK_INT(features_load(db, "acoustic", REC, ENCODER_AUDIO, k, NULL, 1, 1, out, &err),
            CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "stale acoustic audio features for utterance 'u1'");
  db_close(db);
  unlink(path);
  char side[64];
  snprintf(side, sizeof side, "%s-wal", path);
  unlink(side);
  snprintf(side, sizeof side, "%s-shm", path);
  unlink(side);
}

/* --precision: a checkpoint row's identity at another precision is the
** bf16 fold of its files identity (hfckpt_recorded_identity), so vectors
** cached at one precision are stale at the other; built-ins ignore it. */
static void test_precision(void) {
  sqlite3 *db;
  clap_error err;
  CHECK_INT(db_open(":memory:", 0, &db, &err), CLAP_OK);
  CHECK_INT(exec(db, "INSERT INTO clap_encoders(name, kind, path, sha256, dim, config) VALUES "
                     "('new', 'hubert', '/x', '" SHA_W "', 2, '{\"weights\": \"model.safetensors\", "
                     "\"files\": {\"model.safetensors\": \"" SHA_W "\", \"config.json\": \"" SHA_C
                     "\"}}'),"
                     "('b16', 'hubert', '/x', '" SHA_W "', 2, '{\"weights\": \"model.safetensors\", "
                     "\"precision\": \"bf16\", \"files\": {\"model.safetensors\": \"" SHA_W
                     "\", \"config.json\": \"" SHA_C "\"}}')"),
            SQLITE_OK);
  char id32[FEATURES_ID_SIZE], id16[FEATURES_ID_SIZE], id[FEATURES_ID_SIZE];
  char fold[SHA256_HEX_SIZE], line[128];
  snprintf(line, sizeof line, "%s bf16", ID_CW);
  sha256_hex(line, strlen(line), fold);
  CHECK_INT(features_identity(db, "new", REC, id32, &err), CLAP_OK);
  CHECK_INT(features_identity(db, "new", REGISTRY_PREC_F32, id, &err), CLAP_OK);
  CHECK(!strcmp(id32, ID_CW) && !strcmp(id, ID_CW));
  CHECK_INT(features_identity(db, "new", REGISTRY_PREC_BF16, id16, &err), CLAP_OK);
  CHECK(!strcmp(id16, fold));
  /* A bf16 registration read at f32 is the f32 identity, and back. */
  CHECK_INT(features_identity(db, "b16", REC, id, &err), CLAP_OK);
  CHECK(!strcmp(id, fold));
  CHECK_INT(features_identity(db, "b16", REGISTRY_PREC_F32, id, &err), CLAP_OK);
  CHECK(!strcmp(id, ID_CW));
  char fid[SHA256_HEX_SIZE];
  CHECK_INT(features_files_identity(db, "new", REGISTRY_PREC_BF16, fid, &err), CLAP_OK);
  CHECK(!strcmp(fid, fold));
  int dim = 0;
  char sha[SHA256_HEX_SIZE];
  CHECK_INT(features_encoder_info(db, "new", REGISTRY_PREC_BF16, ENCODER_AUDIO, &dim, sha, fid,
                                  &err),
            CLAP_OK);
  CHECK(dim == 2 && !strcmp(fid, fold));
  /* What a model records as the precision. */
  char prec[FEATURES_PREC_SIZE];
  CHECK_INT(features_precision(db, "new", REC, prec, &err), CLAP_OK);
  CHECK(!strcmp(prec, "f32"));
  CHECK_INT(features_precision(db, "b16", REC, prec, &err), CLAP_OK);
  CHECK(!strcmp(prec, "bf16"));
  CHECK_INT(features_precision(db, "new", REGISTRY_PREC_BF16, prec, &err), CLAP_OK);
  CHECK(!strcmp(prec, "bf16"));
  CHECK_INT(features_precision(db, "acoustic", REGISTRY_PREC_BF16, prec, &err), CLAP_OK);
  CHECK(!strcmp(prec, ""));
  CHECK_INT(features_precision(db, "nope", REC, prec, &err), CLAP_ERR_NOTFOUND);
  /* Built-ins have one precision: the same identity whatever is asked. */
  CHECK_INT(features_identity(db, "acoustic", REGISTRY_PREC_BF16, id, &err), CLAP_OK);
  CHECK(!strcmp(id, "builtin:acoustic:clap-" CLAP_VERSION));
  /* f32 vectors are stale for a bf16 reader, fresh for an f32 one. */
  float v[2] = {1.5f, -2.0f}, out[2];
  CHECK_INT(features_put(db, "new", ENCODER_AUDIO, "u1", v, 2, id32, &err), CLAP_OK);
  const char *k[1] = {"u1"};
  CHECK_INT(features_load(db, "new", REGISTRY_PREC_F32, ENCODER_AUDIO, k, NULL, 1, 2, out, &err),
            CLAP_OK);
  CHECK_INT(features_load(db, "new", REGISTRY_PREC_BF16, ENCODER_AUDIO, k, NULL, 1, 2, out, &err),
            CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "stale new audio features for utterance 'u1'");
  CHECK_INT(features_load(db, "b16", REC, ENCODER_AUDIO, k, NULL, 1, 2, out, &err),
            CLAP_ERR_NOTFOUND);
  db_close(db);
}

int main(void) {
  fixture_dir(".");
  RUN(test_precision);
  RUN(test_identity);
  RUN(test_put_load);
  RUN(test_encoder_info);
  RUN(test_migrate_v2);
  return harness_report();
}
