/*
** The wiring of `clap embed` and `clap train` to the engine and the SQL
** surface: on a small synthetic database (tones made here, inserted with
** SQL), clap_embed_audio(audio, model) equals the engine's embedding of the
** cached features of the same utterance bit for bit; the feature cache and
** the baseline's errors name what is wrong; fit_clap and fit_baseline
** refuse bad options and encoders alike; the shared training flags reject
** bad values.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "audio.h"
#include "commands.h"
#include "db.h"
#include "feature_cache.h"
#include "fit.h"
#include "harness.h"
#include "model_store.h"

/* Encoders at the precision their rows record (registry.h). */
#define REC REGISTRY_PREC_RECORDED

int sqlite3_clap_init(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi);

static char dbpath[64];

static void exec(sqlite3 *db, const char *sql) {
  char *msg = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    fprintf(stderr, "%s: %s\n", sql, msg);
    harness_current_failed++;
  }
  sqlite3_free(msg);
}

/* Two sessions of six tones; labels follow pitch. */
static void make_db(void) {
  strcpy(dbpath, "/tmp/test_fit_XXXXXX");
  int fd = mkstemp(dbpath);
  CHECK(fd >= 0);
  close(fd);
  unlink(dbpath);
  sqlite3 *db;
  clap_error err;
  CHECK_INT(db_open(dbpath, DB_CREATE, &db, &err), CLAP_OK);
  exec(db, "INSERT INTO sessions(id) VALUES ('a'), ('b')");
  sqlite3_stmt *st;
  CHECK_INT(sqlite3_prepare_v2(db,
                               "INSERT INTO utterances(id, session_id, role, source_path, "
                               "source_sha256, source_rate, source_channels, duration, audio) "
                               "VALUES (?, ?, ?, 'gen', 'x', 16000, 1, 0.5, ?)",
                               -1, &st, NULL),
            SQLITE_OK);
  for (int i = 0; i < 12; i++) {
    float pcm[8000];
    double f = (i % 2 ? 400 : 150) + 10 * i, amp = i % 2 ? 0.8 : 0.3;
    for (int k = 0; k < 8000; k++) pcm[k] = (float)(amp * sin(2 * M_PI * f * k / 16000.0));
    unsigned char *flac;
    size_t n;
    CHECK_INT(audio_encode_flac(pcm, 8000, 16000, &flac, &n, &err), CLAP_OK);
    char id[16];
    snprintf(id, sizeof id, "%c-u%d", i < 6 ? 'a' : 'b', i);
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, i < 6 ? "a" : "b", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, i % 3 ? "customer" : "salesperson", -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, flac, (int)n, SQLITE_TRANSIENT);
    CHECK_INT(sqlite3_step(st), SQLITE_DONE);
    free(flac);
  }
  sqlite3_finalize(st);
  exec(db, "INSERT INTO labels(utterance_id, dimension, value, label) SELECT u.id, d.name, 0, "
           "CAST(substr(u.id, 4) AS INT) % 2 FROM utterances u, dimensions d");
  db_close(db);
}

static int run_cmd(int (*cmd)(int, char **), const char *a0, const char *a1, const char *a2,
                   const char *a3, const char *a4, const char *a5) {
  char *argv[8] = {(char *)a0, (char *)a1, (char *)a2, (char *)a3, (char *)a4, (char *)a5, NULL};
  int argc = 0;
  while (argv[argc]) argc++;
  fflush(stdout);
  return cmd(argc, argv);
}

static void test_embed_audio_matches_sql(void) {
  CHECK_INT(run_cmd(cmd_embed, "embed", dbpath, "--workers", "3", NULL, NULL), 0);
  CHECK_INT(run_cmd(cmd_train, "train", dbpath, "--name", "m", "--epochs", "3"), 0);
  sqlite3 *db;
  clap_error err;
  CHECK_INT(db_open(dbpath, 0, &db, &err), CLAP_OK);
  clap_model *m = NULL;
  CHECK_INT(model_store_get(db, "m", &m, NULL, NULL, &err), CLAP_OK);
  if (!m) return;
  int dim = model_get_config(m)->dim, din = model_get_config(m)->audio_in;
  sqlite3_stmt *st;
  CHECK_INT(sqlite3_prepare_v2(db, "SELECT id, clap_embed_audio(audio, 'm') FROM utterances "
                                   "ORDER BY id", -1, &st, NULL),
            SQLITE_OK);
  int rows = 0, same = 0;
  float *x = malloc((size_t)din * sizeof *x), *e = malloc((size_t)dim * sizeof *e);
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *id = (const char *)sqlite3_column_text(st, 0);
    const char *keys[1] = {id};
    CHECK_INT(features_load(db, "acoustic", REC, ENCODER_AUDIO, keys, NULL, 1, din, x, &err), CLAP_OK);
    CHECK_INT(model_embed(m, MODEL_AUDIO, x, 1, e, &err), CLAP_OK);
    CHECK_INT(sqlite3_column_bytes(st, 1), dim * 4);
    rows++;
    same += sqlite3_column_bytes(st, 1) == dim * 4 &&
            memcmp(sqlite3_column_blob(st, 1), e, (size_t)dim * 4) == 0;
  }
  sqlite3_finalize(st);
  CHECK_INT(rows, 12);
  CHECK_INT(same, 12);
  free(x);
  free(e);
  model_free(m);
  db_close(db);
}

static void test_feature_errors(void) {
  sqlite3 *db;
  clap_error err;
  CHECK_INT(db_open(dbpath, 0, &db, &err), CLAP_OK);
  float x[50];
  const char *keys[1] = {"nope"};
  CHECK_INT(features_load(db, "acoustic", REC, ENCODER_AUDIO, keys, NULL, 1, 50, x, &err),
            CLAP_ERR_NOTFOUND);
  CHECK_CONTAINS(err.msg, "no acoustic audio features for utterance 'nope' (run `clap embed`");
  const char *k2[1] = {"a-u0"};
  CHECK_INT(features_load(db, "acoustic", REC, ENCODER_AUDIO, k2, NULL, 1, 49, x, &err),
            CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "have 50 values, the encoder gives 49");
  const encoder *e;
  encoder *owned;
  CHECK_INT(features_encoder(db, "ngram", REC, ENCODER_AUDIO, &e, &owned, NULL, &err), CLAP_ERR_ARG);
  CHECK_CONTAINS(err.msg, "encoder 'ngram' encodes text, not audio");
  CHECK_INT(features_encoder(db, "zzz", REC, ENCODER_TEXT, &e, &owned, NULL, &err), CLAP_ERR_NOTFOUND);
  CHECK_CONTAINS(err.msg, "unknown encoder 'zzz'");
  CHECK_INT(features_encode_audio(encoder_builtin("acoustic", NULL), "junk", 4, "utterance 'q'", x,
                                  &err) != CLAP_OK, 1);
  CHECK_CONTAINS(err.msg, "utterance 'q'");
  db_close(db);
}

static void test_baseline(void) {
  sqlite3 *db;
  clap_error err;
  CHECK_INT(db_open(dbpath, 0, &db, &err), CLAP_OK);
  fit_options o;
  fit_defaults(&o);
  o.epochs = 20;
  o.dim = 8;
  o.lr = 0.01;
  clap_model *b = NULL, *m = NULL;
  CHECK_INT(fit_baseline(db, &o, &b, &err), CLAP_OK);
  CHECK_INT(model_store_get(db, "m", &m, NULL, NULL, &err), CLAP_OK);
  float x[50];
  double p, thr;
  const char *k[1] = {"a-u1"};
  CHECK_INT(features_load(db, "acoustic", REC, ENCODER_AUDIO, k, NULL, 1, 50, x, &err), CLAP_OK);
  if (b) {
    CHECK_INT(fit_baseline_predict(b, x, 1, &p, &thr, &err), CLAP_OK);
    CHECK(p >= 0 && p <= 1 && thr >= 0 && thr <= 1);
    /* stored and loaded, it predicts the same bits (metadata numbers round-trip) */
    CHECK_INT(model_store_put(db, "bl", b, 1, NULL, &err), CLAP_OK);
    clap_model *b2 = NULL;
    double p2 = -1, thr2 = -1;
    CHECK_INT(model_store_get(db, "bl", &b2, NULL, NULL, &err), CLAP_OK);
    if (b2) CHECK_INT(fit_baseline_predict(b2, x, 1, &p2, &thr2, &err), CLAP_OK);
    CHECK(p == p2 && thr == thr2);
    model_free(b2);
  }
  if (m) {
    CHECK_INT(fit_baseline_predict(m, x, 1, &p, &thr, &err), CLAP_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, "not a baseline model");
  }
  /* only one class among the training labels */
  const char *hold[1] = {"b"};
  exec(db, "UPDATE labels SET label=0 WHERE dimension='purchase_intention' AND utterance_id LIKE 'a-%'");
  o.holdout = hold;
  o.nholdout = 1;
  clap_model *none = NULL;
  CHECK_INT(fit_baseline(db, &o, &none, &err), CLAP_ERR_RANGE);
  CHECK_CONTAINS(err.msg, "0 'yes' purchase_intention labels");
  CHECK(none == NULL);
  model_free(b);
  model_free(m);
  db_close(db);
}

/* fit_clap and fit_baseline check their options and the audio encoder
** the same way, before reading anything. */
static void test_bad_options(void) {
  sqlite3 *db;
  clap_error err;
  CHECK_INT(db_open(":memory:", 0, &db, &err), CLAP_OK);
  clap_status (*fits[2])(sqlite3 *, const fit_options *, clap_model **, clap_error *) = {
      fit_clap, fit_baseline};
  for (int f = 0; f < 2; f++) {
    for (int bad = 0; bad < 4; bad++) {
      fit_options o;
      fit_defaults(&o);
      if (bad == 0) o.epochs = -1;
      if (bad == 1) o.batch = 0;
      if (bad == 2) o.lr = 0;
      if (bad == 3) o.epochs = 0; /* would store the initial weights as trained */
      clap_model *m = NULL;
      CHECK_INT(fits[f](db, &o, &m, &err), CLAP_ERR_RANGE);
      CHECK_CONTAINS(err.msg, bad == 0 || bad == 3 ? "at least 1 epoch is needed"
                                                   : "batch >= 1 and lr > 0 are needed");
      CHECK(m == NULL);
    }
    fit_options o;
    fit_defaults(&o);
    o.audio_encoder = "ngram";
    clap_model *m = NULL;
    CHECK_INT(fits[f](db, &o, &m, &err), CLAP_ERR_ARG);
    CHECK_CONTAINS(err.msg, "encoder 'ngram' encodes text, not audio");
    o.audio_encoder = "zzz";
    CHECK_INT(fits[f](db, &o, &m, &err), CLAP_ERR_NOTFOUND);
    CHECK_CONTAINS(err.msg, "unknown encoder 'zzz'");
    CHECK(m == NULL);
  }
  db_close(db);
}

/* The training options through the command line of `clap train`. */
static void test_flags(void) {
  fit_command c;
  char *ok[] = {"train", "db",     "--name", "n",    "--epochs", "300", "--lr=1e-6",
                "--batch", "64",   "--head=mlp", "--seed", "18446744073709551615", NULL};
  CHECK_INT(fit_parse_command(12, ok, "clap train", "U\n", 1, &c), -1);
  CHECK_INT(c.o.epochs, 300);
  CHECK(c.o.lr == 1e-6);
  CHECK_INT(c.o.batch, 64);
  CHECK_INT(c.o.head, MODEL_HEAD_MLP);
  CHECK(c.o.seed == UINT64_MAX);
  fit_command_free(&c);
  const char *bad[][2] = {{"--epochs", "-1"}, {"--lr", "0"},  {"--lr", "x"},   {"--batch", "0"},
                          {"--head", "rnn"},  {"--dim", "0"}, {"--seed", "-3"}, {"--lr", "inf"}};
  for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
    char *argv[] = {"train", "db", "--name", "n", (char *)bad[k][0], (char *)bad[k][1], NULL};
    CHECK_INT(fit_parse_command(6, argv, "clap train", "U\n", 1, &c), 2);
  }
  char *missing[] = {"train", "db", "--name", "n", "--epochs", NULL};
  CHECK_INT(fit_parse_command(5, missing, "clap train", "U\n", 1, &c), 2);
}

/* The one command-line loop of `clap train` and `clap baseline`. */
static void test_command(void) {
  fit_command c;
  char *ok[] = {"train", "db", "--name", "m", "--holdout-session", "s1", "--epochs", "3",
                "--holdout-session", "s2", "--augment", "paraphrase", "--replace", NULL};
  CHECK_INT(fit_parse_command(13, ok, "clap train", "U\n", 1, &c), -1);
  CHECK(c.path && !strcmp(c.path, "db"));
  CHECK(c.name && !strcmp(c.name, "m"));
  CHECK_INT(c.replace, 1);
  CHECK_INT(c.o.augment, 1);
  CHECK_INT(c.o.epochs, 3);
  CHECK_INT(c.o.nholdout, 2);
  CHECK(c.o.nholdout == 2 && !strcmp(c.o.holdout[0], "s1") && !strcmp(c.o.holdout[1], "s2"));
  fit_command_free(&c);
  CHECK(c.o.holdout == NULL);
  /* without allow_augment (baseline), --augment and the CLAP model's own
  ** options are unknown */
  CHECK_INT(fit_parse_command(13, ok, "clap baseline", "U\n", 0, &c), 2);
  const char *clap_only[][2] = {{"--head", "mlp"}, {"--hidden", "64"}, {"--text-encoder", "ngram"}};
  for (size_t k = 0; k < 3; k++) {
    char *argv[] = {"baseline", "db", "--name", "b", (char *)clap_only[k][0], (char *)clap_only[k][1], NULL};
    CHECK_INT(fit_parse_command(6, argv, "clap baseline", "U\n", 0, &c), 2);
    CHECK_INT(fit_parse_command(6, argv, "clap train", "U\n", 1, &c), -1);
    fit_command_free(&c);
  }
  char *noname[] = {"train", "db", NULL};
  CHECK_INT(fit_parse_command(2, noname, "clap train", "U\n", 1, &c), 2);
  char *two[] = {"train", "db", "db2", "--name", "m", NULL};
  CHECK_INT(fit_parse_command(5, two, "clap train", "U\n", 1, &c), 2);
  char *badaug[] = {"train", "db", "--name", "m", "--augment", "all", NULL};
  CHECK_INT(fit_parse_command(6, badaug, "clap train", "U\n", 1, &c), 2);
  char *badflag[] = {"train", "db", "--name", "m", "--lr", "0", NULL};
  CHECK_INT(fit_parse_command(6, badflag, "clap train", "U\n", 1, &c), 2);
}

int main(void) {
  sqlite3_auto_extension((void (*)(void))sqlite3_clap_init);
  setenv("CLAP_PROGRESS", "0", 1);
  make_db();
  RUN(test_embed_audio_matches_sql);
  RUN(test_feature_errors);
  RUN(test_baseline);
  RUN(test_bad_options);
  RUN(test_flags);
  RUN(test_command);
  char p[128];
  unlink(dbpath);
  snprintf(p, sizeof p, "%s-wal", dbpath);
  unlink(p);
  snprintf(p, sizeof p, "%s-shm", dbpath);
  unlink(p);
  return harness_report();
}
