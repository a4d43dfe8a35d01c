/*
** The SQL binding exercised through the real SQLite API: model cache
** invalidation, auxdata for constant texts, and four threads on four
** connections producing the same bytes as one thread.
*/
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "audio.h"
#include "harness.h"
#include "model.h"

int sqlite3_clap_init(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi);

static char db_path[256];
static unsigned char *audio_bytes;
static size_t audio_n;

static void make_audio(void) {
  enum { N = 16000 };
  static float pcm[N];
  for (int i = 0; i < N; i++) {
    double t = i / 16000.0;
    pcm[i] = (float)(0.3 * sin(2 * M_PI * 180 * t) + 0.1 * sin(2 * M_PI * 360 * t));
  }
  clap_error err;
  if (audio_encode_flac(pcm, N, 16000, &audio_bytes, &audio_n, &err) != CLAP_OK)
    fprintf(stderr, "audio_encode_flac: %s\n", err.msg);
}

static int store_model(sqlite3 *db, const char *name, uint64_t seed) {
  model_config cfg = {.audio_encoder = "acoustic", .text_encoder = "ngram", .dim = 32};
  sqlite3_stmt *st;
  /* The encoders' dimensions, asked through SQL like any user would. */
  sqlite3_prepare_v2(db,
                     "select length(clap_encode_audio(?1,'acoustic'))/4, "
                     "length(clap_encode_text('x','ngram'))/4",
                     -1, &st, NULL);
  sqlite3_bind_blob(st, 1, audio_bytes, (int)audio_n, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW) {
    cfg.audio_in = sqlite3_column_int(st, 0);
    cfg.text_in = sqlite3_column_int(st, 1);
  }
  sqlite3_finalize(st);
  clap_model *m = NULL;
  unsigned char *blob = NULL;
  size_t n = 0;
  clap_error err;
  if (model_create(&cfg, seed, &m, &err) || model_save(m, &blob, &n, &err)) {
    fprintf(stderr, "model: %s\n", err.msg);
    model_free(m);
    return 0;
  }
  sqlite3_prepare_v2(db, "insert or replace into clap_models(name, model) values (?, ?)", -1, &st,
                     NULL);
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  sqlite3_bind_blob(st, 2, blob, (int)n, SQLITE_STATIC);
  int ok = sqlite3_step(st) == SQLITE_DONE;
  sqlite3_finalize(st);
  free(blob);
  model_free(m);
  return ok;
}

/* Runs the embedding query `reps` times; returns the bytes of the last
** result (audio embedding || text embedding), malloc'd, and its size. */
static unsigned char *embed_once(sqlite3 *db, int *n) {
  sqlite3_stmt *st;
  unsigned char *out = NULL;
  *n = 0;
  if (sqlite3_prepare_v2(db, "select clap_embed_audio(?1) || clap_embed_text('私は欲しいです')",
                         -1, &st, NULL) != SQLITE_OK)
    return NULL;
  sqlite3_bind_blob(st, 1, audio_bytes, (int)audio_n, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW) {
    *n = sqlite3_column_bytes(st, 0);
    out = malloc((size_t)*n);
    memcpy(out, sqlite3_column_blob(st, 0), (size_t)*n);
  } else {
    fprintf(stderr, "embed: %s\n", sqlite3_errmsg(db));
  }
  sqlite3_finalize(st);
  return out;
}

static unsigned char *reference;
static int reference_n;

static void *thread_main(void *arg) {
  sqlite3 *db;
  long mismatches = 0;
  if (sqlite3_open(db_path, &db) != SQLITE_OK) return (void *)1L;
  for (int i = 0; i < 8; i++) {
    int n;
    unsigned char *got = embed_once(db, &n);
    if (!got || n != reference_n || memcmp(got, reference, (size_t)n)) mismatches++;
    free(got);
  }
  sqlite3_close(db);
  return (void *)mismatches;
}

static void test_four_threads_same_bytes(void) {
  sqlite3 *db;
  CHECK(sqlite3_open(db_path, &db) == SQLITE_OK);
  reference = embed_once(db, &reference_n);
  CHECK(reference != NULL);
  CHECK_INT(reference_n, 2 * 32 * 4);
  sqlite3_close(db);
  pthread_t th[4];
  for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, thread_main, NULL);
  for (int i = 0; i < 4; i++) {
    void *r;
    pthread_join(th[i], &r);
    CHECK_INT((long)r, 0);
  }
}

static void test_cache_notices_changed_row(void) {
  sqlite3 *db;
  CHECK(sqlite3_open(db_path, &db) == SQLITE_OK);
  int n1, n2, n3;
  unsigned char *a = embed_once(db, &n1);
  CHECK(store_model(db, "default", 99));
  unsigned char *b = embed_once(db, &n2);
  CHECK(store_model(db, "default", 1));
  unsigned char *c = embed_once(db, &n3);
  CHECK(a && b && c && n1 == n2 && n2 == n3);
  if (a && b && c) {
    CHECK(memcmp(a, b, (size_t)n1) != 0);  /* new weights, new embedding */
    CHECK(memcmp(a, c, (size_t)n1) == 0);  /* the original weights again */
  }
  free(a);
  free(b);
  free(c);
  sqlite3_close(db);
}

/* zero-shot is a probability whose two orders sum to one, and classify
** picks the class zero-shot favours. */
static void test_zero_shot_is_a_probability(void) {
  sqlite3 *db;
  sqlite3_stmt *st;
  CHECK(sqlite3_open(db_path, &db) == SQLITE_OK);
  CHECK(sqlite3_prepare_v2(db,
                           "with a(v) as (select clap_embed_audio(?1)) "
                           "select clap_zero_shot(v, '私は欲しくないです', '私は欲しいです'), "
                           "clap_zero_shot(v, '私は欲しいです', '私は欲しくないです'), "
                           "clap_classify(v, '[\"私は欲しくないです\", \"私は欲しいです\"]') from a",
                           -1, &st, NULL) == SQLITE_OK);
  sqlite3_bind_blob(st, 1, audio_bytes, (int)audio_n, SQLITE_STATIC);
  CHECK(sqlite3_step(st) == SQLITE_ROW);
  double p = sqlite3_column_double(st, 0), q = sqlite3_column_double(st, 1);
  int k = sqlite3_column_int(st, 2);
  CHECK(p > 0 && p < 1);
  CHECK_NEAR(p + q, 1.0, 1e-9);
  CHECK_INT(k, p > 0.5 ? 1 : 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
}

/* One vector as floats from a query's first column (dim floats). */
static int query_vec(sqlite3 *db, const char *sql, float *out, int dim) {
  sqlite3_stmt *st;
  int ok = sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK;
  if (ok) sqlite3_bind_blob(st, 1, audio_bytes, (int)audio_n, SQLITE_STATIC);
  ok = ok && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == dim * 4;
  if (ok) memcpy(out, sqlite3_column_blob(st, 0), (size_t)dim * 4);
  sqlite3_finalize(st);
  return ok;
}

static double cos_d(const float *a, const double *b, int dim) {
  double ab = 0, aa = 0, bb = 0;
  for (int d = 0; d < dim; d++) ab += a[d] * b[d], aa += (double)a[d] * a[d], bb += b[d] * b[d];
  return ab / sqrt(aa * bb);
}

/* clap_zero_shot with prompt ensembles against the same probability computed
** here from clap_embed_text of each sentence: the class vector is the
** normalised mean, P = 1 / (1 + exp(s (cos_neg - cos_pos))), s = 1/0.07 for a
** fresh model. */
static void test_zero_shot_ensemble_by_hand(void) {
  enum { D = 32 };
  static const char *neg[] = {"欲しくないです", "要りません", "結構です"}, *pos[] = {"欲しいです", "買います"};
  sqlite3 *db;
  CHECK(sqlite3_open(db_path, &db) == SQLITE_OK);
  float a[D], e[D];
  double mn[D] = {0}, mp[D] = {0};
  CHECK(query_vec(db, "select clap_embed_audio(?1)", a, D));
  for (int j = 0; j < 3; j++) {
    char *q = sqlite3_mprintf("select clap_embed_text(%Q)", neg[j]);
    CHECK(query_vec(db, q, e, D));
    for (int d = 0; d < D; d++) mn[d] += e[d];
    sqlite3_free(q);
  }
  for (int j = 0; j < 2; j++) {
    char *q = sqlite3_mprintf("select clap_embed_text(%Q)", pos[j]);
    CHECK(query_vec(db, q, e, D));
    for (int d = 0; d < D; d++) mp[d] += e[d];
    sqlite3_free(q);
  }
  double want = 1.0 / (1.0 + exp((cos_d(a, mn, D) - cos_d(a, mp, D)) / 0.07));
  sqlite3_stmt *st;
  CHECK(sqlite3_prepare_v2(db,
                           "select clap_zero_shot(clap_embed_audio(?1), "
                           "'[\"欲しくないです\", \"要りません\", \"結構です\"]', "
                           "'[\"欲しいです\", \"買います\"]')",
                           -1, &st, NULL) == SQLITE_OK);
  sqlite3_bind_blob(st, 1, audio_bytes, (int)audio_n, SQLITE_STATIC);
  CHECK(sqlite3_step(st) == SQLITE_ROW);
  CHECK_NEAR(sqlite3_column_double(st, 0), want, 1e-5);
  sqlite3_finalize(st);
  sqlite3_close(db);
}

/* A vector as a blob parameter and one int/double/error result. */
static int classify_scaled(sqlite3 *db, const float *e, int dim, float scale, double *p,
                           char *msg, size_t cap) {
  float v[64];
  for (int d = 0; d < dim; d++) v[d] = scale * e[d];
  sqlite3_stmt *st;
  int k = -1;
  sqlite3_prepare_v2(db,
                     "select clap_classify(?1, '[\"あ\", \"ああい\"]'), clap_zero_shot(?1, 'あ', 'ああい')",
                     -1, &st, NULL);
  sqlite3_bind_blob(st, 1, v, dim * 4, SQLITE_TRANSIENT);
  if (sqlite3_step(st) == SQLITE_ROW) {
    k = sqlite3_column_int(st, 0);
    *p = sqlite3_column_double(st, 1);
  } else {
    snprintf(msg, cap, "%s", sqlite3_errmsg(db));
  }
  sqlite3_finalize(st);
  return k;
}

/* clap_classify compares cosines: scaling the vector, by a negative factor
** too, picks the class clap_zero_shot favours; a zero vector is an error. */
static void test_classify_by_cosine(void) {
  enum { D = 32 };
  sqlite3 *db;
  CHECK(sqlite3_open(db_path, &db) == SQLITE_OK);
  float e[D], f[D];
  CHECK(query_vec(db, "select clap_embed_text('あ')", e, D));
  /* Classes at a positive cosine: raw dot products of a vector scaled by
  ** -10 are then both below -2, where a search starting at -2 finds none. */
  CHECK(query_vec(db, "select clap_embed_text('ああい')", f, D));
  double ef = 0;
  for (int d = 0; d < D; d++) ef += (double)e[d] * f[d];
  CHECK(ef > 0.2);
  static const float scales[] = {1, 0.1f, 10, 1e6f, -1, -0.1f, -10, -1e6f};
  for (size_t i = 0; i < sizeof scales / sizeof scales[0]; i++) {
    double p = -1;
    char msg[256] = "";
    int k = classify_scaled(db, e, D, scales[i], &p, msg, sizeof msg);
    CHECK_INT(k, scales[i] > 0 ? 0 : 1);
    CHECK_INT(k, p > 0.5);
  }
  double p;
  char msg[256] = "";
  CHECK_INT(classify_scaled(db, e, D, 0, &p, msg, sizeof msg), -1);
  CHECK_CONTAINS(msg, "clap_classify(): argument 1: zero vector has no direction");
  sqlite3_close(db);
}

/* The work cJSON_GetArrayItem does, counted: this definition takes the
** place of libcjson's for the engine linked into this test, with the same
** result. Finding element i walks i list links, so a loop over it is
** quadratic in the array's length. */
static long long array_item_steps;
cJSON *cJSON_GetArrayItem(const cJSON *array, int index) {
  cJSON *c = array && index >= 0 ? array->child : NULL;
  for (; c && index > 0; index--, array_item_steps++) c = c->next;
  return c;
}

/* 50,000 classes in one call: the class picked for a sentence's own
** embedding is that sentence, and the JSON array is walked once (no
** element is found by counting from the start). */
static void test_classify_many_classes(void) {
  enum { K = 50000 };
  sqlite3 *db;
  CHECK(sqlite3_open(db_path, &db) == SQLITE_OK);
  size_t cap = (size_t)K * 12 + 16, len = 0;
  char *json = malloc(cap);
  json[len++] = '[';
  for (int i = 0; i < K; i++) len += (size_t)snprintf(json + len, cap - len, "%s\"t%d\"", i ? "," : "", i);
  json[len++] = ']';
  sqlite3_stmt *st;
  CHECK(sqlite3_prepare_v2(db, "select clap_classify(clap_embed_text('t31337'), ?1)", -1, &st,
                           NULL) == SQLITE_OK);
  sqlite3_bind_text(st, 1, json, (int)len, SQLITE_STATIC);
  array_item_steps = 0;
  CHECK(sqlite3_step(st) == SQLITE_ROW);
  CHECK_INT(sqlite3_column_int(st, 0), 31337);
  CHECK(array_item_steps <= 2 * K);
  sqlite3_finalize(st);
  free(json);
  sqlite3_close(db);
}

/* with_subtype(blob, n): the blob tagged with SQL subtype n, as sqlite-vec's
** vec_int8 (225) and vec_bit (224) tag theirs. */
static void fn_with_subtype(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  sqlite3_result_value(ctx, argv[0]);
  sqlite3_result_subtype(ctx, (unsigned)sqlite3_value_int(argv[1]));
}

static double query_double(sqlite3 *db, const char *sql, char *msg, size_t cap) {
  sqlite3_stmt *st;
  double r = NAN;
  msg[0] = 0;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
    snprintf(msg, cap, "%s", sqlite3_errmsg(db));
    return r;
  }
  if (sqlite3_step(st) == SQLITE_ROW) r = sqlite3_column_double(st, 0);
  else snprintf(msg, cap, "%s", sqlite3_errmsg(db));
  sqlite3_finalize(st);
  return r;
}

/* int8 blobs (subtype 225) are read as their values, bit blobs (224)
** refused; without the tag the same bytes are float32 (4 per element). */
static void test_vector_subtypes(void) {
  sqlite3 *db;
  CHECK(sqlite3_open(db_path, &db) == SQLITE_OK);
  CHECK(sqlite3_create_function(db, "with_subtype", 2, SQLITE_UTF8, NULL, fn_with_subtype, NULL,
                                NULL) == SQLITE_OK);
  char msg[512];
  /* x'01FF0203' as int8 is [1, -1, 2, 3]. */
  CHECK_NEAR(query_double(db, "select cosine(with_subtype(x'01FF0203', 225), '[1, -1, 2, 3]')",
                          msg, sizeof msg),
             1.0, 1e-12);
  CHECK_NEAR(query_double(db, "select cosine(with_subtype(x'01FF0203', 225), '[-1, 1, -2, -3]')",
                          msg, sizeof msg),
             -1.0, 1e-12);
  /* untagged, the 4 bytes are one float32 */
  query_double(db, "select cosine(x'01FF0203', '[1, -1, 2, 3]')", msg, sizeof msg);
  CHECK_CONTAINS(msg, "dimension mismatch: 1 vs 4");
  query_double(db, "select cosine('[1]', with_subtype(x'0F', 224))", msg, sizeof msg);
  CHECK_CONTAINS(msg, "cosine(): argument 2: a sqlite-vec bit vector (subtype 224)");
  /* 32 int8 values for the 32-d model: accepted, and 128 are 128 dims. */
  char sql[600];
  snprintf(sql, sizeof sql, "select clap_zero_shot(with_subtype(randomblob(%d), 225), 'a', 'b')", 32);
  double p = query_double(db, sql, msg, sizeof msg);
  CHECK(p > 0 && p < 1);
  snprintf(sql, sizeof sql, "select clap_classify(with_subtype(randomblob(%d), 225), '[\"a\"]')", 128);
  query_double(db, sql, msg, sizeof msg);
  CHECK_CONTAINS(msg, "argument 1: a 128-dimensional vector, but model 'default' embeds in 32 dimensions");
  sqlite3_close(db);
}

/* One text result (or the error message) of a query. */
static void query_text(sqlite3 *db, const char *sql, char *out, size_t cap) {
  sqlite3_stmt *st;
  out[0] = 0;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
    snprintf(out, cap, "error: %s", sqlite3_errmsg(db));
    return;
  }
  int s = sqlite3_step(st);
  if (s == SQLITE_ROW) snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 0));
  else snprintf(out, cap, "error: %s", sqlite3_errmsg(db));
  sqlite3_finalize(st);
}

/* A model blob of dimension dim (fresh, seeded) as clap model export writes it. */
static unsigned char *model_blob(sqlite3 *db, int dim, uint64_t seed, size_t *n) {
  model_config cfg = {.audio_encoder = "acoustic", .text_encoder = "ngram", .dim = dim};
  sqlite3_stmt *st;
  sqlite3_prepare_v2(db,
                     "select length(clap_encode_audio(?1,'acoustic'))/4, "
                     "length(clap_encode_text('x','ngram'))/4",
                     -1, &st, NULL);
  sqlite3_bind_blob(st, 1, audio_bytes, (int)audio_n, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW) {
    cfg.audio_in = sqlite3_column_int(st, 0);
    cfg.text_in = sqlite3_column_int(st, 1);
  }
  sqlite3_finalize(st);
  clap_model *m = NULL;
  unsigned char *blob = NULL;
  clap_error err;
  if (model_create(&cfg, seed, &m, &err) || model_save(m, &blob, n, &err)) blob = NULL;
  model_free(m);
  return blob;
}

static int put_blob(sqlite3 *db, const char *table, const char *name, const unsigned char *b,
                    size_t n) {
  char *sql = sqlite3_mprintf("insert or replace into %s(name, model) values (?, ?)", table);
  sqlite3_stmt *st;
  int ok = sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK;
  if (ok) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, b, (int)n, SQLITE_STATIC);
    ok = sqlite3_step(st) == SQLITE_DONE;
  }
  sqlite3_finalize(st);
  sqlite3_free(sql);
  return ok;
}

/* 'aux.default' reads aux.clap_models; a prefix that is no database is part
** of the name; the cache notices a changed row in the attached database. */
static void test_models_from_attached(void) {
  sqlite3 *db;
  CHECK(sqlite3_open(db_path, &db) == SQLITE_OK);
  char aux_path[300], sql[700], out[512];
  snprintf(aux_path, sizeof aux_path, "%s-aux", db_path);
  unlink(aux_path);
  snprintf(sql, sizeof sql, "attach '%s' as aux; attach ':memory:' as empty", aux_path);
  CHECK(sqlite3_exec(db, sql, 0, 0, 0) == SQLITE_OK);
  CHECK(sqlite3_exec(db, "create table aux.clap_models(name text primary key, model blob not null)",
                     0, 0, 0) == SQLITE_OK);
  size_t n;
  unsigned char *b16 = model_blob(db, 16, 5, &n);
  CHECK(b16 && put_blob(db, "aux.clap_models", "default", b16, n));
  free(b16);
  query_text(db, "select length(clap_embed_text('x', 'aux.default')) / 4", out, sizeof out);
  CHECK(!strcmp(out, "16"));
  query_text(db, "select length(clap_embed_text('x', 'main.default')) / 4", out, sizeof out);
  CHECK(!strcmp(out, "32"));
  query_text(db, "select length(clap_embed_text('x')) / 4", out, sizeof out);
  CHECK(!strcmp(out, "32"));
  unsigned char *b8 = model_blob(db, 8, 6, &n);
  CHECK(b8 && put_blob(db, "aux.clap_models", "default", b8, n));
  free(b8);
  query_text(db, "select length(clap_embed_text('x', 'aux.default')) / 4", out, sizeof out);
  CHECK(!strcmp(out, "8"));
  query_text(db, "select clap_embed_text('x', 'aux.nope')", out, sizeof out);
  CHECK_CONTAINS(out, "clap_embed_text(): no model named 'nope' in aux.clap_models");
  query_text(db, "select clap_embed_text('x', 'empty.default')", out, sizeof out);
  CHECK_CONTAINS(out, "no model 'empty.default': database 'empty' has no clap_models table");
  query_text(db, "select clap_embed_text('x', 'v1.2')", out, sizeof out);
  CHECK_CONTAINS(out, "no model named 'v1.2' in clap_models");
  sqlite3_close(db);
  unlink(aux_path);
}

/* clap_model_from_file registers an exported blob for the connection,
** shadowing the row of the same name; errors name the file. */
static void test_model_from_file(void) {
  sqlite3 *db;
  CHECK(sqlite3_open(db_path, &db) == SQLITE_OK);
  char path[300], sql[700], out[512];
  snprintf(path, sizeof path, "%s-model", db_path);
  size_t n;
  unsigned char *b = model_blob(db, 8, 9, &n);
  FILE *f = fopen(path, "wb");
  CHECK(f && b && fwrite(b, 1, n, f) == n);
  if (f) fclose(f);
  snprintf(sql, sizeof sql, "select clap_model_from_file('%s', 'f')", path);
  query_text(db, sql, out, sizeof out);
  CHECK(!strcmp(out, "f"));
  query_text(db, "select length(clap_embed_text('x', 'f')) / 4", out, sizeof out);
  CHECK(!strcmp(out, "8"));
  query_text(db, "select length(clap_embed_text('x')) / 4", out, sizeof out);
  CHECK(!strcmp(out, "32"));
  snprintf(sql, sizeof sql, "select clap_model_from_file('%s')", path);
  query_text(db, sql, out, sizeof out);
  CHECK(!strcmp(out, "default"));
  query_text(db, "select length(clap_embed_text('x')) / 4", out, sizeof out);
  CHECK(!strcmp(out, "8"));
  /* another connection does not see it */
  sqlite3 *db2;
  CHECK(sqlite3_open(db_path, &db2) == SQLITE_OK);
  query_text(db2, "select length(clap_embed_text('x', 'f')) / 4", out, sizeof out);
  CHECK_CONTAINS(out, "no model named 'f' in clap_models");
  sqlite3_close(db2);
  /* a corrupt file: refused, naming it; the registered model stays */
  b[n - 1] ^= 1;
  f = fopen(path, "wb");
  CHECK(f && fwrite(b, 1, n, f) == n);
  if (f) fclose(f);
  snprintf(sql, sizeof sql, "select clap_model_from_file('%s', 'f')", path);
  query_text(db, sql, out, sizeof out);
  CHECK_CONTAINS(out, "clap_model_from_file(): argument 1: ");
  CHECK_CONTAINS(out, "-model: checksum mismatch: blob is corrupt");
  query_text(db, "select length(clap_embed_text('x', 'f')) / 4", out, sizeof out);
  CHECK(!strcmp(out, "8"));
  query_text(db, "select clap_model_from_file('/nonexistent/m.clap')", out, sizeof out);
  CHECK_CONTAINS(out, "clap_model_from_file(): argument 1: /nonexistent/m.clap: cannot open");
  query_text(db, "select clap_model_from_file('x', '')", out, sizeof out);
  CHECK_CONTAINS(out, "clap_model_from_file(): argument 2: model name is empty");
  /* not from a view of the database: it reads a file */
  snprintf(sql, sizeof sql, "create view v as select clap_model_from_file('%s', 'g')", path);
  CHECK(sqlite3_exec(db, sql, 0, 0, 0) == SQLITE_OK);
  query_text(db, "select * from v", out, sizeof out);
  CHECK_CONTAINS(out, "unsafe use of clap_model_from_file()");
  sqlite3_exec(db, "drop view v", 0, 0, 0);
  free(b);
  unlink(path);
  sqlite3_close(db);
}

/* A supervised baseline (what `clap baseline` stores: text encoder "none",
** metadata kind "baseline") embeds audio but refuses every text function
** by name, before looking at the vector. */
static void test_baseline_has_no_text_side(void) {
  sqlite3 *db;
  CHECK(sqlite3_open(db_path, &db) == SQLITE_OK);
  char out[512];
  model_config cfg = {.audio_encoder = "acoustic", .text_encoder = "none", .text_in = 1, .dim = 1};
  sqlite3_stmt *st;
  sqlite3_prepare_v2(db, "select length(clap_encode_audio(?1,'acoustic'))/4", -1, &st, NULL);
  sqlite3_bind_blob(st, 1, audio_bytes, (int)audio_n, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW) cfg.audio_in = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  clap_model *m = NULL;
  unsigned char *blob = NULL;
  size_t n = 0;
  clap_error err;
  CHECK(model_create(&cfg, 3, &m, &err) == CLAP_OK &&
        model_set_metadata(m, "{\"kind\":\"baseline\"}", &err) == CLAP_OK &&
        model_save(m, &blob, &n, &err) == CLAP_OK);
  model_free(m);
  CHECK(blob && put_blob(db, "clap_models", "base", blob, n));
  free(blob);
  static const char *queries[] = {
      "select clap_embed_text('x', 'base')",
      "select clap_zero_shot('[1,2,3]', 'a', 'b', 'base')",
      "select clap_classify('[1]', '[\"a\"]', 'base')",
      "select clap_classify_probs('[1]', '[\"a\"]', 'base')",
  };
  for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
    query_text(db, queries[i], out, sizeof out);
    CHECK_CONTAINS(out, "(): model 'base' is a supervised baseline; it has no text side");
  }
  sqlite3_prepare_v2(db, "select length(clap_embed_audio(?1, 'base')) / 4", -1, &st, NULL);
  sqlite3_bind_blob(st, 1, audio_bytes, (int)audio_n, SQLITE_STATIC);
  CHECK(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 1);
  sqlite3_finalize(st);
  sqlite3_exec(db, "delete from clap_models where name = 'base'", 0, 0, 0);
  sqlite3_close(db);
}

/* A model row whose log_scale is 1e30 with a valid CRC: every function
** refuses it naming the value, never a NULL probability. */
static void test_log_scale_out_of_range(void) {
  sqlite3 *db;
  CHECK(sqlite3_open(db_path, &db) == SQLITE_OK);
  size_t n;
  unsigned char *b = model_blob(db, 32, 4, &n);
  CHECK(b != NULL);
  if (!b) return;
  float big = 1e30f;
  memcpy(b + n - 8, &big, 4); /* log_scale: the last float before the CRC */
  uint32_t crc = model_crc32(b, n - 4);
  for (int i = 0; i < 4; i++) b[n - 4 + i] = (unsigned char)(crc >> (8 * i));
  CHECK(put_blob(db, "clap_models", "hot", b, n));
  free(b);
  char out[512];
  query_text(db, "select clap_zero_shot(clap_embed_text('あ'), 'あ', 'い', 'hot')", out, sizeof out);
  CHECK_CONTAINS(out, "clap_zero_shot(): model 'hot': tensor log_scale = 1e+30 is outside 0..4.60517");
  query_text(db, "select clap_embed_text('x', '')", out, sizeof out);
  CHECK_CONTAINS(out, "clap_embed_text(): argument 2: model name is empty");
  sqlite3_exec(db, "delete from clap_models where name = 'hot'", 0, 0, 0);
  sqlite3_close(db);
}

int main(void) {
  snprintf(db_path, sizeof db_path, "/tmp/clap-test-sql-%d.db", (int)getpid());
  unlink(db_path);
  sqlite3_auto_extension((void (*)(void))sqlite3_clap_init);
  make_audio();
  sqlite3 *db;
  sqlite3_open(db_path, &db);
  sqlite3_exec(db, "create table clap_models(name text primary key, model blob not null)", 0, 0, 0);
  int stored = store_model(db, "default", 1);
  sqlite3_close(db);
  if (!stored || !audio_bytes) {
    printf("0 passed, 1 failed\n");
    return 1;
  }
  RUN(test_four_threads_same_bytes);
  RUN(test_cache_notices_changed_row);
  RUN(test_zero_shot_is_a_probability);
  RUN(test_zero_shot_ensemble_by_hand);
  RUN(test_classify_by_cosine);
  RUN(test_classify_many_classes);
  RUN(test_vector_subtypes);
  RUN(test_models_from_attached);
  RUN(test_model_from_file);
  RUN(test_baseline_has_no_text_side);
  RUN(test_log_scale_out_of_range);
  free(reference);
  free(audio_bytes);
  unlink(db_path);
  sqlite3_shutdown();
  return harness_report();
}
