/*
** bench_sql — the SQL surface against its peer, in one process:
**   1. select sum(cosine(v, :q)) from t      vs  select sum(vec_distance_cosine(v, :q)) from t
**   2. ... where cosine(v, clap_embed_text('…')) > x  vs  the same with a precomputed vector
** over ROWS rows of 512-d float32 vectors in an in-memory database.
**
**   bench_sql VEC0_PATH [ROWS] [REPS]
** Prints a Markdown section: best-of-REPS seconds for each query and the ratios.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "model.h"

int sqlite3_clap_init(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi);

enum { DIM = 512 };

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static float rng_float(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (float)((rng_state >> 40) / (double)(1 << 24)) * 2.0f - 1.0f;
}

static void die(sqlite3 *db, const char *what) {
  fprintf(stderr, "bench_sql: %s: %s\n", what, db ? sqlite3_errmsg(db) : "");
  exit(1);
}

static void fill(sqlite3 *db, int rows) {
  sqlite3_stmt *st;
  float v[DIM];
  sqlite3_exec(db, "create table t(id integer primary key, v blob); begin", 0, 0, 0);
  if (sqlite3_prepare_v2(db, "insert into t(v) values (?)", -1, &st, NULL)) die(db, "insert");
  for (int i = 0; i < rows; i++) {
    for (int d = 0; d < DIM; d++) v[d] = rng_float();
    sqlite3_bind_blob(st, 1, v, sizeof v, SQLITE_STATIC);
    sqlite3_step(st);
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  sqlite3_exec(db, "commit", 0, 0, 0);
}

/* A random model of dimension DIM on the built-in encoders, as 'default'. */
static void add_model(sqlite3 *db) {
  model_config cfg = {.audio_encoder = "acoustic", .text_encoder = "ngram", .audio_in = 50,
                      .text_in = 1024, .dim = DIM};
  clap_model *m;
  clap_error err;
  unsigned char *blob;
  size_t n;
  if (model_create(&cfg, 1, &m, &err) || model_save(m, &blob, &n, &err)) {
    fprintf(stderr, "bench_sql: %s\n", err.msg);
    exit(1);
  }
  sqlite3_stmt *st;
  sqlite3_exec(db, "create table clap_models(name text primary key, model blob)", 0, 0, 0);
  sqlite3_prepare_v2(db, "insert into clap_models values ('default', ?)", -1, &st, NULL);
  sqlite3_bind_blob(st, 1, blob, (int)n, SQLITE_STATIC);
  if (sqlite3_step(st) != SQLITE_DONE) die(db, "model");
  sqlite3_finalize(st);
  free(blob);
  model_free(m);
}

/* Best-of-reps time of sql with the query vector bound to ?1 (when q). */
static double time_query(sqlite3 *db, const char *sql, const void *q, int qn, int reps,
                         double *result) {
  double best = 1e30;
  for (int r = 0; r < reps; r++) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL)) die(db, sql);
    if (q) sqlite3_bind_blob(st, 1, q, qn, SQLITE_STATIC);
    double t0 = now();
    if (sqlite3_step(st) != SQLITE_ROW) die(db, sql);
    double t = now() - t0;
    *result = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    if (t < best) best = t;
  }
  return best;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: bench_sql VEC0_PATH [ROWS] [REPS]\n");
    return 2;
  }
  int rows = argc > 2 ? atoi(argv[2]) : 100000;
  int reps = argc > 3 ? atoi(argv[3]) : 5;
  sqlite3 *db;
  sqlite3_open(":memory:", &db);
  sqlite3_clap_init(db, NULL, NULL);
  sqlite3_enable_load_extension(db, 1);
  char *err = NULL;
  if (sqlite3_load_extension(db, argv[1], NULL, &err)) {
    fprintf(stderr, "bench_sql: loading %s: %s\n", argv[1], err);
    return 1;
  }
  fill(db, rows);
  add_model(db);
  float q[DIM];
  for (int d = 0; d < DIM; d++) q[d] = rng_float();

  double r_ours, r_peer, r_const, r_pre;
  double ours = time_query(db, "select sum(cosine(v, ?1)) from t", q, sizeof q, reps, &r_ours);
  double peer =
      time_query(db, "select sum(vec_distance_cosine(v, ?1)) from t", q, sizeof q, reps, &r_peer);

  /* The constant-text case: the sentence's embedding, precomputed once. */
  sqlite3_stmt *st;
  sqlite3_prepare_v2(db, "select clap_embed_text('私は欲しいです')", -1, &st, NULL);
  if (sqlite3_step(st) != SQLITE_ROW) die(db, "embed");
  float qt[DIM];
  memcpy(qt, sqlite3_column_blob(st, 0), sizeof qt);
  sqlite3_finalize(st);
  double cons = time_query(
      db, "select count(*) from t where cosine(v, clap_embed_text('私は欲しいです')) > 0.05", NULL,
      0, reps, &r_const);
  double pre = time_query(db, "select count(*) from t where cosine(v, ?1) > 0.05", qt, sizeof qt,
                          reps, &r_pre);
  if (r_const != r_pre) {
    fprintf(stderr, "bench_sql: constant-text count %g != precomputed %g\n", r_const, r_pre);
    return 1;
  }
  printf("## SQL: cosine vs sqlite-vec, constant text vs precomputed\n\n");
  printf("%d rows × %d-d float32 in an in-memory table, best of %d, one process.\n\n", rows, DIM,
         reps);
  printf("| query | seconds | ratio | target |\n|---|---|---|---|\n");
  printf("| `select sum(cosine(v, :q)) from t` | %.4f | %.2f × sqlite-vec | ≤ 0.8 |\n", ours,
         ours / peer);
  printf("| `select sum(vec_distance_cosine(v, :q)) from t` (sqlite-vec) | %.4f | 1.00 | |\n",
         peer);
  printf("| `where cosine(v, clap_embed_text('…')) > 0.05` | %.4f | %.2f × precomputed | ≤ 1.2 |\n",
         cons, cons / pre);
  printf("| `where cosine(v, :precomputed) > 0.05` | %.4f | 1.00 | |\n\n", pre);
  printf("Check: sum(cosine) + sum(distance) = %.3f for %d rows.\n", r_ours + r_peer, rows);
  sqlite3_close(db);
  return 0;
}
