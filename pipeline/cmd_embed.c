/*
** clap embed — fill the encoder output cache (table features).
**
**   clap embed DB [--encoder E] [--text-encoder E] [--workers N] [--threads T]
**                 [--concurrency C] [--offline] [--refuse-stale]
**                 [--precision registered|f32|bf16|auto]
**                 [--shard K/N [--out SHARD.db]]
**
** Audio: every utterance's stored FLAC is decoded and encoded by E (default
** acoustic), key = utterance id. Text: every description (any source or
** status) is encoded by the text encoder (default ngram), key = SHA-256 of
** the text. The computation is the one clap_encode_audio / clap_encode_text
** do (features.h), so a cached vector equals the SQL function's result bit
** for bit, at any thread count (ext/nn/nn.h). What is cached already is
** skipped: a re-run adds nothing.
**
** Staleness: every cached row records the identity of the encoder that
** computed it (features.encoder_id, feature_cache.h). A row whose identity
** differs from the encoder's now — `clap encoder add --replace` registered
** other files under the name, a new clap release changed a built-in, or the
** row was cached before schema version 3 (identity NULL) — is stale and is
** recomputed; with --refuse-stale the run fails instead (exit 1, nothing
** written) with the number of stale vectors in the message. The last line
** says how many vectors were added and how many stale ones recomputed:
**   embed: A audio vectors (E), T text vectors (E) added; SA audio, ST text stale vectors recomputed
** The encoders' files are verified first (hfckpt_verify_weights): a file
** changed since `clap encoder add` stops the run, naming the file.
**
** Precision: a checkpoint encoder (hubert, distilbert) computes in the
** precision its `clap encoder add --precision` recorded, or in the one
** --precision asks for (registered: as recorded, the default; auto: bf16
** where the CPU has AMX or AVX512-BF16, else f32). The vectors are cached
** under the identity of that precision (feature_cache.h), so the staleness
** rules above make vectors of the other precision stale: `clap embed
** --precision bf16` recomputes f32 vectors in place, and `clap train` /
** `clap eval` read them with the same --precision. Built-in and remote
** encoders have one precision and ignore it.
**
** Audio runs on N worker threads over chunks of utterances, each encode
** call on T threads of its own (OpenBLAS and ext/nn/gemm: nn_set_threads), so
** N·T should not exceed the cores. Defaults: neither given, N = the cores
** and T = 1 for audio (independent utterances parallelise best), T = the
** cores for text (one writer, one sentence at a time); --threads T alone
** gives N = max(1, cores / T); --workers N alone gives T = max(1, cores / N).
** Text always runs on the main thread with T threads (T = the cores unless
** --threads says otherwise). The main thread is the one writer and commits each chunk,
** so an interrupted run keeps the chunks done.
**
** A remote text encoder (kind openai, ext/encoders/openai_embed.h) gets the
** texts in chunks of TEXT_CHUNK, each one encode call (requests of the
** encoder's --batch inputs, at most C in flight: --concurrency, default 4,
** 1..64) and one transaction; a chunk that fails (the server down, 401, 429
** or 5xx after the retries, a bad reply) stops the run with the encoder's
** message and writes nothing of that chunk. What is cached is never sent
** again. --offline sends nothing: if anything is to be computed by a
** remote encoder the run fails (exit 1, nothing written) saying how many
** vectors are missing; local encoders run as usual. An utterance that fails to
** decode or encode stops the run with its id in the message (exit 1); so
** does a chunk (or the text pass, or a shard's record) whose COMMIT fails,
** rolled back, the message naming what was being committed.
** Both encoders are resolved before any work, so a bad name costs nothing.
**
** --shard K/N (past one machine: N workers, e.g. a Slurm array or a
** Kubernetes indexed Job, each with its own K): only the keys shard K owns
** are embedded — shard_of(key, N) == K, a pure function of the feature key
** (utterance id, text SHA-256; pipeline/shard.h), so shards never overlap, a
** re-run is idempotent and together they cover everything. DB gets no
** vectors (it is opened as by every command, so an older schema is still
** brought forward); the vectors go to the shard database SHARD.db (default: DB without ".db"
** + ".shard-K-of-N.db"), a clap database of the same schema whose
** clap_shard row records K/N, DB's path and utterance fingerprint and both
** encoders with their weight hashes and identities. A re-run with the same
** SHARD.db continues it; a SHARD.db made for another K/N, database or
** encoder name is refused (exit 1), as is --out naming DB itself. The
** staleness rules hold per shard: a key is skipped when DB or SHARD.db has
** a fresh row for it; a key with a stale row in either (and a fresh one in
** neither) is recomputed into SHARD.db and counted as stale; --refuse-stale
** counts the stale keys this shard owns and creates no SHARD.db. A re-run
** after the encoder's files changed records the new identity and
** recomputes the shard's own stale rows. Every shard row carries its
** encoder_id. The last line is
**   embed: shard K/N: A audio vectors (E), T text vectors (E) added to SHARD.db; SA audio, ST text stale vectors recomputed
** `clap merge DB SHARD.db...` folds the shards in (stale rows in DB are
** replaced by the shards' fresh ones).
** A copy of DB on each node works as well as DB (same fingerprint); DB's
** utterances must not change between the shards and the merge.
** K/N must be whole numbers with 1 <= K <= N: "0/3", "4/3", "1/0", "x" are
** usage errors (exit 2) naming --shard and the value.
*/
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "db.h"
#include "feature_cache.h"
#include "nn.h"
#include "progress.h"
#include "shard.h"

/* Texts per encode call (and transaction) for a remote text encoder. */
#define TEXT_CHUNK 1024

static const char embed_usage[] =
    "usage: clap embed DB [--encoder E] [--text-encoder E] [--workers N] [--threads T]\n"
    "                     [--concurrency C] [--offline] [--refuse-stale]\n"
    "                     [--precision registered|f32|bf16|auto]\n"
    "                     [--shard K/N [--out SHARD.db]]\n"
    "\n"
    "Fill the features cache: every utterance through the audio encoder\n"
    "(default acoustic), every description through the text encoder (default\n"
    "ngram). Cached vectors are skipped; stale ones (computed by other encoder\n"
    "files or another clap version) are recomputed.\n"
    "  --encoder E        audio encoder: built in (acoustic) or a clap_encoders row\n"
    "  --text-encoder E   text encoder: built in (ngram) or a clap_encoders row\n"
    "  --workers N        utterances encoded at once (default: cores, or cores/T)\n"
    "  --threads T        threads inside one encode call, for the checkpoint\n"
    "                     encoders (default: 1 for audio with several workers,\n"
    "                     cores/N with --workers N; the cores for text)\n"
    "  --concurrency C    requests in flight to a remote text encoder (default 4)\n"
    "  --offline          send nothing to a remote encoder; fail if one is needed\n"
    "  --refuse-stale     fail, writing nothing, if any cached vector is stale\n"
    "  --precision P      checkpoint encoders compute in P (f32, bf16, auto = bf16\n"
    "                     where the CPU has it) instead of their registered one;\n"
    "                     vectors of another precision are stale\n"
    "  --shard K/N        embed only shard K of N (1 <= K <= N) into a shard\n"
    "                     database; DB is only read (`clap merge` folds it in)\n"
    "  --out SHARD.db     the shard database (default DB.shard-K-of-N.db)\n";

/* Where vectors are read from and written to: src == dst unless sharded. */
typedef struct target {
  sqlite3 *src, *dst;
  int k, n;
} target;

typedef struct job {
  char *id;
  void *audio;
  int nbytes;
  float *out;
  clap_status rc;
  clap_error err;
} job;

typedef struct pool {
  const encoder *enc;
  job *jobs;
  int n;
  int next;
  pthread_mutex_t mu;
} pool;

static void *worker_main(void *arg) {
  pool *p = arg;
  for (;;) {
    pthread_mutex_lock(&p->mu);
    int i = p->next++;
    pthread_mutex_unlock(&p->mu);
    if (i >= p->n) return NULL;
    job *j = &p->jobs[i];
    char what[160];
    snprintf(what, sizeof what, "utterance '%s'", j->id);
    j->rc = features_encode_audio(p->enc, j->audio, (size_t)j->nbytes, what, j->out, &j->err);
  }
}

static int default_workers(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

/* A growable list of strings with one flag each (stale: a cached row
** exists but was computed by another encoder identity). */
typedef struct todo {
  char **v;
  unsigned char *stale;
  int n, cap, nstale;
} todo;

static clap_status todo_add(todo *t, const char *s, int stale, clap_error *err) {
  if (t->n == t->cap) {
    int cap = t->cap ? 2 * t->cap : 256;
    char **v = realloc(t->v, (size_t)cap * sizeof *v);
    if (v) t->v = v;
    unsigned char *f = v ? realloc(t->stale, (size_t)cap) : NULL;
    if (f) t->stale = f;
    if (!v || !f) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
    t->cap = cap;
  }
  if (!(t->v[t->n] = strdup(s))) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  t->stale[t->n++] = (unsigned char)(stale != 0);
  t->nstale += stale != 0;
  return CLAP_OK;
}

static void todo_free(todo *t) {
  for (int i = 0; i < t->n; i++) free(t->v[i]);
  free(t->v);
  free(t->stale);
  *t = (todo){0};
}

enum { CACHE_NONE, CACHE_FRESH, CACHE_STALE };

/* What one database holds for a key: nothing, a row computed by the
** encoder's identity now, or a row computed by another (stale); a failed
** read is an error. */
static clap_status cached(sqlite3_stmt *have, const char *name, const char *key, const char *id, int *state,
                          clap_error *err) {
  sqlite3_reset(have);
  sqlite3_bind_text(have, 1, name, -1, SQLITE_STATIC);
  sqlite3_bind_text(have, 2, key, -1, SQLITE_STATIC);
  sqlite3_bind_text(have, 3, id, -1, SQLITE_STATIC);
  int r = db_step(have, err);
  *state = r != DB_ROW ? CACHE_NONE : sqlite3_column_int(have, 0) ? CACHE_FRESH : CACHE_STALE;
  return DB_STATUS(r);
}

/* The keys a run must compute: the ones this shard owns (all of them
** unsharded) without a fresh row in either database. A key with a stale
** row in either one (and a fresh row in neither) is flagged stale. */
typedef struct planner {
  const target *t;
  const char *name, *id;
  sqlite3_stmt *have[2];
} planner;

static clap_status planner_open(planner *p, const target *t, const char *name, const char *id,
                                const char *modality, clap_error *err) {
  static const char sql[] =
      "SELECT encoder_id IS ?3 FROM features WHERE encoder=?1 AND modality=?4 AND key=?2";
  *p = (planner){.t = t, .name = name, .id = id};
  /* No shard database yet (a first run) has nothing cached. */
  sqlite3 *db[2] = {t->src, t->dst && t->dst != t->src ? t->dst : NULL};
  for (int i = 0; i < 2 && db[i]; i++) {
    clap_status rc = db_prepare(db[i], sql, &p->have[i], err);
    if (rc != CLAP_OK) return rc;
    /* cached() rebinds the others per key; a binding outlives sqlite3_reset. */
    sqlite3_bind_text(p->have[i], 4, modality, -1, SQLITE_STATIC);
  }
  return CLAP_OK;
}

static void planner_close(planner *p) {
  sqlite3_finalize(p->have[0]);
  sqlite3_finalize(p->have[1]);
  p->have[0] = p->have[1] = NULL;
}

/* Queue item (an utterance id or a text) if its key needs computing. */
static clap_status planner_consider(planner *p, const char *key, const char *item, todo *w,
                                    clap_error *err) {
  if (p->t->n > 1) {
    int owner = shard_of(key, p->t->n);
    if (owner == 0) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory hashing a feature key");
    if (owner != p->t->k) return CLAP_OK;
  }
  int in_src = CACHE_NONE, in_dst = CACHE_NONE;
  clap_status rc = cached(p->have[0], p->name, key, p->id, &in_src, err);
  if (rc != CLAP_OK || in_src == CACHE_FRESH) return rc;
  if (p->have[1] && (rc = cached(p->have[1], p->name, key, p->id, &in_dst, err)) != CLAP_OK) return rc;
  if (in_dst == CACHE_FRESH) return CLAP_OK;
  return todo_add(w, item, in_src == CACHE_STALE || in_dst == CACHE_STALE, err);
}

/* Utterances (of this shard) without a fresh cached audio vector. */
static clap_status plan_audio(const target *t, const char *name, const char *id, todo *w,
                              clap_error *err) {
  planner p;
  sqlite3_stmt *st = NULL;
  clap_status rc = planner_open(&p, t, name, id, "audio", err);
  if (rc == CLAP_OK) rc = db_prepare(t->src, "SELECT id FROM utterances ORDER BY id", &st, err);
  int r = DB_DONE;
  while (rc == CLAP_OK && (r = db_step(st, err)) == DB_ROW) {
    const char *uid = (const char *)sqlite3_column_text(st, 0);
    rc = planner_consider(&p, uid, uid, w, err);
  }
  if (rc == CLAP_OK) rc = DB_STATUS(r);
  sqlite3_finalize(st);
  planner_close(&p);
  return rc;
}

/* Distinct description texts (of this shard) without a fresh vector. */
static clap_status plan_text(const target *t, const char *name, const char *id, todo *w,
                             clap_error *err) {
  planner p;
  sqlite3_stmt *st = NULL;
  clap_status rc = planner_open(&p, t, name, id, "text", err);
  if (rc == CLAP_OK) rc = db_prepare(t->src, "SELECT DISTINCT text FROM descriptions ORDER BY text", &st, err);
  int r = DB_DONE;
  while (rc == CLAP_OK && (r = db_step(st, err)) == DB_ROW) {
    const char *text = (const char *)sqlite3_column_text(st, 0);
    char key[SHA256_HEX_SIZE];
    rc = features_text_key(text, key, err);
    if (rc == CLAP_OK) rc = planner_consider(&p, key, text, w, err);
  }
  if (rc == CLAP_OK) rc = DB_STATUS(r);
  sqlite3_finalize(st);
  planner_close(&p);
  return rc;
}

/* End a unit of work begun with BEGIN IMMEDIATE: commit it if rc is OK (a
** failing COMMIT names what it was committing: `what`); whatever failed, a
** transaction still open is rolled back here rather than left for the
** connection's close. An open transaction is asked of SQLite, since some
** errors (SQLITE_FULL, an I/O error) have rolled it back already. */
static clap_status unit_end(sqlite3 *db, clap_status rc, const char *what, clap_error *err) {
  if (rc == CLAP_OK && (rc = db_exec(db, "COMMIT", err)) != CLAP_OK)
    clap_error_prefix(err, "committing %s: ", what);
  if (rc != CLAP_OK) db_rollback(db);
  return rc;
}

static clap_status read_audio(sqlite3 *db, job *j, clap_error *err) {
  sqlite3_stmt *st;
  clap_status rc = db_prepare(db, "SELECT audio FROM utterances WHERE id=?", &st, err);
  if (rc != CLAP_OK) return rc;
  sqlite3_bind_text(st, 1, j->id, -1, SQLITE_STATIC);
  int r = db_step(st, err);
  if (r < 0) {
    rc = DB_STATUS(r);
  } else if (r == DB_DONE) {
    rc = clap_error_set(err, CLAP_ERR_NOTFOUND, "utterance '%s' vanished", j->id);
  } else {
    j->nbytes = sqlite3_column_bytes(st, 0);
    j->audio = malloc(j->nbytes ? (size_t)j->nbytes : 1);
    if (!j->audio) rc = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
    else memcpy(j->audio, sqlite3_column_blob(st, 0), (size_t)j->nbytes);
  }
  sqlite3_finalize(st);
  return rc;
}

/* One chunk: read (main thread), encode (workers), write (main thread, one
** transaction). */
static clap_status embed_chunk(const target *t, const char *name, const char *id,
                               const encoder *enc, char **ids, int n, int workers,
                               clap_error *err) {
  int dim = encoder_dim(enc);
  job *jobs = calloc((size_t)n, sizeof *jobs);
  float *out = malloc((size_t)n * (size_t)dim * sizeof(float));
  clap_status rc = jobs && out ? CLAP_OK : clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  for (int i = 0; i < n && rc == CLAP_OK; i++) {
    jobs[i].id = ids[i];
    jobs[i].out = out + (size_t)i * dim;
    rc = read_audio(t->src, &jobs[i], err);
  }
  if (rc == CLAP_OK) {
    pool p = {.enc = enc, .jobs = jobs, .n = n};
    pthread_mutex_init(&p.mu, NULL);
    int nt = workers < n ? workers : n;
    pthread_t *tid = calloc((size_t)nt, sizeof *tid);
    int started = 0;
    for (; tid && started < nt; started++)
      if (pthread_create(&tid[started], NULL, worker_main, &p) != 0) break;
    if (started == 0) worker_main(&p); /* no threads: do it here */
    for (int i = 0; i < started; i++) pthread_join(tid[i], NULL);
    free(tid);
    pthread_mutex_destroy(&p.mu);
    for (int i = 0; i < n && rc == CLAP_OK; i++)
      if (jobs[i].rc != CLAP_OK) *err = jobs[i].err, rc = jobs[i].rc;
  }
  if (rc == CLAP_OK) rc = db_exec(t->dst, "BEGIN IMMEDIATE", err);
  for (int i = 0; i < n && rc == CLAP_OK; i++)
    rc = features_put(t->dst, name, ENCODER_AUDIO, ids[i], jobs[i].out, dim, id, err);
  char what[200];
  snprintf(what, sizeof what, "%d audio vectors of encoder '%s' (utterances '%.40s'..'%.40s')", n,
           name, ids[0], ids[n - 1]);
  rc = unit_end(t->dst, rc, what, err);
  for (int i = 0; jobs && i < n; i++) free(jobs[i].audio);
  free(jobs);
  free(out);
  return rc;
}

/* One side of a run: the encoder (its files verified), its identity and
** what is missing or stale. */
typedef struct side {
  const char *name;
  encoder_modality modality;
  registry_prec prec;
  const encoder *enc;
  encoder *owned;
  char sha[SHA256_HEX_SIZE];
  char id[FEATURES_ID_SIZE];
  todo work;
} side;

/* Resolve (and verify) the encoder and learn its identity; no planning yet,
** so the shard database can be opened in between. */
static clap_status side_resolve(sqlite3 *db, side *sd, clap_error *err) {
  clap_status rc =
      features_encoder(db, sd->name, sd->prec, sd->modality, &sd->enc, &sd->owned, sd->sha, err);
  if (rc == CLAP_OK) rc = features_identity(db, sd->name, sd->prec, sd->id, err);
  return rc;
}

static clap_status side_plan(const target *t, side *sd, clap_error *err) {
  return sd->modality == ENCODER_AUDIO ? plan_audio(t, sd->name, sd->id, &sd->work, err)
                                       : plan_text(t, sd->name, sd->id, &sd->work, err);
}

static void side_free(side *sd) {
  encoder_free(sd->owned);
  sd->owned = NULL;
  todo_free(&sd->work);
}

static clap_status embed_audio(const target *t, side *sd, int workers, int *done,
                               clap_error *err) {
  int n = sd->work.n;
  char **ids = sd->work.v;
  char label[96];
  if (t->n > 1) snprintf(label, sizeof label, "embed %s (shard %d/%d)", sd->name, t->k, t->n);
  else snprintf(label, sizeof label, "embed %s", sd->name);
  progress *pg = n ? progress_create(label, n) : NULL;
  int chunk = 16 * workers;
  clap_status rc = CLAP_OK;
  for (int i = 0; i < n && rc == CLAP_OK; i += chunk) {
    int m = n - i < chunk ? n - i : chunk;
    rc = embed_chunk(t, sd->name, sd->id, sd->enc, ids + i, m, workers, err);
    if (rc == CLAP_OK) *done += m;
    progress_update(pg, i + m, ids[i + m - 1]);
  }
  progress_finish(pg);
  return rc;
}

/* Texts of a local encoder are cheap to encode: one pass on the main
** thread, one transaction. */
static clap_status embed_text_local(const target *t, side *sd, clap_error *err) {
  int dim = encoder_dim(sd->enc);
  float *v = malloc((size_t)dim * sizeof(float));
  clap_status rc = v ? CLAP_OK : clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  if (rc == CLAP_OK) rc = db_exec(t->dst, "BEGIN IMMEDIATE", err);
  for (int i = 0; rc == CLAP_OK && i < sd->work.n; i++) {
    const char *text = sd->work.v[i];
    char key[SHA256_HEX_SIZE];
    rc = features_text_key(text, key, err);
    if (rc == CLAP_OK) rc = encoder_encode_text(sd->enc, text, -1, v, err);
    if (rc != CLAP_OK) clap_error_prefix(err, "description '%s': ", text);
    if (rc == CLAP_OK) rc = features_put(t->dst, sd->name, ENCODER_TEXT, key, v, dim, sd->id, err);
  }
  char what[160];
  snprintf(what, sizeof what, "%d text vectors of encoder '%s'", sd->work.n, sd->name);
  rc = unit_end(t->dst, rc, what, err);
  free(v);
  return rc;
}

/* One chunk of a remote encoder's texts: one batched encode call, one
** transaction. */
static clap_status text_chunk(const target *t, side *sd, int first, int n, int concurrency,
                              float *v, clap_error *err) {
  int dim = encoder_dim(sd->enc);
  char **texts = sd->work.v + first;
  clap_status rc = encoder_encode_text_batch(sd->enc, (const char *const *)texts, n, concurrency, v, err);
  if (rc == CLAP_OK) rc = db_exec(t->dst, "BEGIN IMMEDIATE", err);
  for (int i = 0; rc == CLAP_OK && i < n; i++) {
    char key[SHA256_HEX_SIZE];
    rc = features_text_key(texts[i], key, err);
    if (rc == CLAP_OK) rc = features_put(t->dst, sd->name, ENCODER_TEXT, key, v + (size_t)i * dim, dim, sd->id, err);
  }
  char what[160];
  snprintf(what, sizeof what, "%d text vectors of encoder '%s'", n, sd->name);
  return unit_end(t->dst, rc, what, err);
}

static clap_status embed_text(const target *t, side *sd, int concurrency, int *done,
                              clap_error *err) {
  *done = 0;
  if (!encoder_is_remote(sd->enc)) {
    clap_status rc = embed_text_local(t, sd, err);
    if (rc == CLAP_OK) *done = sd->work.n;
    return rc;
  }
  int n = sd->work.n, dim = encoder_dim(sd->enc);
  float *v = n ? malloc((size_t)(n < TEXT_CHUNK ? n : TEXT_CHUNK) * (size_t)dim * sizeof(float)) : NULL;
  if (n && !v) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  char label[96];
  snprintf(label, sizeof label, "embed %s", sd->name);
  progress *pg = n ? progress_create(label, n) : NULL;
  clap_status rc = CLAP_OK;
  for (int i = 0; i < n && rc == CLAP_OK; i += TEXT_CHUNK) {
    int m = n - i < TEXT_CHUNK ? n - i : TEXT_CHUNK;
    rc = text_chunk(t, sd, i, m, concurrency, v, err);
    if (rc == CLAP_OK) *done += m;
    progress_update(pg, i + m, NULL);
  }
  progress_finish(pg);
  free(v);
  return rc;
}

/* --offline: what a remote encoder would have to compute is an error. */
static clap_status refuse_offline(const side *sd, clap_error *err) {
  return clap_error_set(err, CLAP_ERR_NOTFOUND,
                        "%d %s vectors of encoder '%s' are not cached (or are stale) and --offline "
                        "sends nothing; nothing written",
                        sd->work.n, sd->modality == ENCODER_AUDIO ? "audio" : "text", sd->name);
}

static clap_status refuse_stale(const target *t, const side *sd, clap_error *err) {
  char where[64] = "";
  if (t->n > 1) snprintf(where, sizeof where, " (among the keys of shard %d/%d)", t->k, t->n);
  return clap_error_set(err, CLAP_ERR_FORMAT,
                        "%d cached %s vectors of encoder '%s' are stale%s (computed by another "
                        "encoder identity than its current %.20s); nothing written; run without "
                        "--refuse-stale to recompute them",
                        sd->work.nstale, sd->modality == ENCODER_AUDIO ? "audio" : "text",
                        sd->name, where, sd->id);
}

/* Both files exist and are one file (a hard link or another spelling). */
static int same_file(const char *a, const char *b) {
  struct stat sa, sb;
  return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* An existing shard database is opened before planning (its fresh rows are
** skipped, its stale ones recomputed); a new one is only created once the
** run is sure to write, so --refuse-stale leaves no file behind. */
static clap_status open_existing_shard(const char *src_path, const char *out, sqlite3 **sdb,
                                       clap_error *err) {
  *sdb = NULL;
  if (same_file(src_path, out))
    return clap_error_set(err, CLAP_ERR_ARG, "--out %s is the database itself; a shard goes to a file of its own", out);
  struct stat sb;
  if (stat(out, &sb) != 0) return CLAP_OK;
  return db_open(out, 0, sdb, err);
}

/* Create the shard database if need be and record (or check) where it
** comes from. */
static clap_status record_shard(sqlite3 *src, const char *src_path, const char *out, int k,
                                int n, const side *a, const side *t, sqlite3 **sdb,
                                clap_error *err) {
  shard_info info = {.k = k, .n = n, .source = src_path, .audio_encoder = a->name,
                     .audio_sha256 = a->sha, .audio_id = a->id, .text_encoder = t->name,
                     .text_sha256 = t->sha, .text_id = t->id};
  clap_status rc = shard_fingerprint(src, info.fingerprint, err);
  if (rc != CLAP_OK) {
    clap_error_prefix(err, "%s: ", src_path);
    return rc;
  }
  if (!*sdb) rc = db_open(out, DB_CREATE, sdb, err);
  if (rc == CLAP_OK) rc = db_exec(*sdb, "BEGIN IMMEDIATE", err);
  if (rc == CLAP_OK) rc = shard_record(*sdb, out, &info, err);
  if (!*sdb) return rc;
  char what[512];
  snprintf(what, sizeof what, "the clap_shard row of %.480s", out);
  return unit_end(*sdb, rc, what, err);
}

/* How many utterances at once and how many threads inside each encode call
** (the contract at the top): workers·threads within the cores by default. */
typedef struct threads {
  int workers, audio, text;
} threads;

static threads plan_threads(int workers, int nthreads) {
  int cores = default_workers();
  threads th;
  th.workers = workers ? workers : nthreads ? (cores / nthreads > 1 ? cores / nthreads : 1) : cores;
  th.audio = nthreads ? nthreads : workers ? (cores / workers > 1 ? cores / workers : 1) : 1;
  th.text = nthreads ? nthreads : cores;
  return th;
}

/* Resolve both encoders, plan both sides (so --refuse-stale writes nothing
** and a broken encoder stops the run before any work), then embed. */
static clap_status embed_run(target *t, const char *path, const char *out, side *a, side *x,
                             const threads *th, int refuse, int offline, int concurrency, int *na,
                             int *nt, clap_error *err) {
  clap_status rc = side_resolve(t->src, a, err);
  if (rc == CLAP_OK) rc = side_resolve(t->src, x, err);
  if (rc == CLAP_OK && out) rc = open_existing_shard(path, out, &t->dst, err);
  if (rc == CLAP_OK) rc = side_plan(t, a, err);
  if (rc == CLAP_OK) rc = side_plan(t, x, err);
  if (rc == CLAP_OK && refuse && a->work.nstale) rc = refuse_stale(t, a, err);
  if (rc == CLAP_OK && refuse && x->work.nstale) rc = refuse_stale(t, x, err);
  if (rc == CLAP_OK && offline && a->work.n && encoder_is_remote(a->enc)) rc = refuse_offline(a, err);
  if (rc == CLAP_OK && offline && x->work.n && encoder_is_remote(x->enc)) rc = refuse_offline(x, err);
  if (rc == CLAP_OK && out) rc = record_shard(t->src, path, out, t->k, t->n, a, x, &t->dst, err);
  if (rc == CLAP_OK) {
    nn_set_threads(th->audio);
    rc = embed_audio(t, a, th->workers, na, err);
  }
  if (rc == CLAP_OK) {
    nn_set_threads(th->text);
    rc = embed_text(t, x, concurrency, nt, err);
  }
  return rc;
}

/* What the command line asks for (the usage above). */
typedef struct embed_args {
  const char *path, *audio_enc, *text_enc, *out;
  int workers, nthreads, refuse, k, n, sharded, concurrency, offline;
  registry_prec prec;
  char outbuf[4096]; /* the default SHARD.db path, when out points here */
} embed_args;

enum { OPT_ENCODER = CLI_OPT, OPT_TEXT_ENCODER, OPT_WORKERS, OPT_THREADS, OPT_REFUSE_STALE,
       OPT_SHARD, OPT_OUT, OPT_CONCURRENCY, OPT_OFFLINE, OPT_PRECISION };
static const struct option embed_opts[] = {
    CLI_HELP_OPTION, CLI_DB_OPTION,
    {"encoder", required_argument, NULL, OPT_ENCODER},
    {"text-encoder", required_argument, NULL, OPT_TEXT_ENCODER},
    {"workers", required_argument, NULL, OPT_WORKERS},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"refuse-stale", no_argument, NULL, OPT_REFUSE_STALE},
    {"shard", required_argument, NULL, OPT_SHARD},
    {"out", required_argument, NULL, OPT_OUT},
    {"concurrency", required_argument, NULL, OPT_CONCURRENCY},
    {"offline", no_argument, NULL, OPT_OFFLINE},
    {"precision", required_argument, NULL, OPT_PRECISION},
    {0}};

/* One option into o; 0, or 2 after a usage error. */
static int embed_option(embed_args *o, const cli *c, int opt) {
  clap_error err;
  long w;
  switch (opt) {
  case OPT_ENCODER: o->audio_enc = optarg; return 0;
  case OPT_TEXT_ENCODER: o->text_enc = optarg; return 0;
  case OPT_OUT: o->out = optarg; return 0;
  case OPT_REFUSE_STALE: o->refuse = 1; return 0;
  case OPT_OFFLINE: o->offline = 1; return 0;
  case OPT_PRECISION: return cli_precision(c, &o->prec);
  case OPT_CONCURRENCY:
    if (cli_int(c, 1, 64, &w)) return 2;
    o->concurrency = (int)w;
    return 0;
  case OPT_SHARD:
    if (shard_parse(optarg, &o->k, &o->n, &err) != CLAP_OK) return cli_usage(c, "%s", err.msg);
    o->sharded = 1;
    return 0;
  case OPT_WORKERS:
  case OPT_THREADS:
    if (cli_int(c, 1, 256, &w)) return 2;
    *(opt == OPT_WORKERS ? &o->workers : &o->nthreads) = (int)w;
    return 0;
  }
  return 0;
}

/* Parse argv into *o (defaults first). Returns -1 to go on, or the exit
** status: 0 after --help, 2 after a usage error (printed). */
static int embed_parse(int argc, char **argv, embed_args *o) {
  *o = (embed_args){.audio_enc = "acoustic", .text_enc = "ngram", .k = 1, .n = 1, .concurrency = 4,
                     .prec = REGISTRY_PREC_RECORDED};
  cli c = {.cmd = "clap embed", .help = embed_usage};
  for (int opt; (opt = cli_next(&c, argc, argv, "", embed_opts)) != CLI_END;)
    if (opt == CLI_EXIT) return c.status;
    else if (embed_option(o, &c, opt)) return 2;
  static const char *const operands[] = {"database", NULL};
  if (cli_operands(&c, argc, argv, operands, 1, 1)) return 2;
  o->path = argv[optind];
  if (o->out && !o->sharded) return cli_usage(&c, "--out goes with --shard K/N");
  if (o->out && !*o->out) return cli_usage(&c, "--out is empty");
  clap_error err;
  if (o->sharded && !o->out) {
    if (shard_default_path(o->path, o->k, o->n, o->outbuf, sizeof o->outbuf, &err) != CLAP_OK)
      return cli_usage(&c, "%s", err.msg);
    o->out = o->outbuf;
  }
  return -1;
}

int cmd_embed(int argc, char **argv) {
  embed_args o;
  int status = embed_parse(argc, argv, &o);
  if (status >= 0) return status;
  clap_error err;
  sqlite3 *db;
  if (db_open(o.path, 0, &db, &err) != CLAP_OK) {
    fprintf(stderr, "clap embed: %s\n", err.msg);
    return 1;
  }
  /* Unsharded, DB is both ends; sharded, dst stays NULL until a shard
  ** database exists (embed_run). */
  target t = {.src = db, .dst = o.sharded ? NULL : db, .k = o.k, .n = o.n};
  side a = {.name = o.audio_enc, .modality = ENCODER_AUDIO, .prec = o.prec};
  side x = {.name = o.text_enc, .modality = ENCODER_TEXT, .prec = o.prec};
  int na = 0, nt = 0;
  threads th = plan_threads(o.workers, o.nthreads);
  clap_status rc = embed_run(&t, o.path, o.sharded ? o.out : NULL, &a, &x, &th, o.refuse, o.offline,
                             o.concurrency, &na, &nt, &err);
  if (t.dst && t.dst != db) db_close(t.dst);
  db_close(db);
  /* Audio commits per chunk, in order of id; text all at once, or per chunk
  ** for a remote encoder. The summary is for a run that finished: after a
  ** failure the error says what failed and what was committed before it. */
  int sa = 0, st = 0;
  for (int i = 0; i < na; i++) sa += a.work.stale[i];
  for (int i = 0; i < nt; i++) st += x.work.stale[i];
  if (rc == CLAP_OK) {
    if (o.sharded)
      printf("embed: shard %d/%d: %d audio vectors (%s), %d text vectors (%s) added to %s; %d "
             "audio, %d text stale vectors recomputed\n",
             o.k, o.n, na - sa, o.audio_enc, nt - st, o.text_enc, o.out, sa, st);
    else
      printf("embed: %d audio vectors (%s), %d text vectors (%s) added; %d audio, %d text stale "
             "vectors recomputed\n",
             na - sa, o.audio_enc, nt - st, o.text_enc, sa, st);
  } else {
    fprintf(stderr, "clap embed: %s\n", err.msg);
    if (na > 0 || nt > 0)
      fprintf(stderr, "clap embed: %d audio and %d text vectors committed before the failure are "
                      "kept; run it again to go on\n", na, nt);
  }
  side_free(&a);
  side_free(&x);
  return rc == CLAP_OK ? 0 : 1;
}
