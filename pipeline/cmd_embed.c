/*
** clap embed — fill the encoder output cache (table features).
**
**   clap embed DB [--encoder E] [--text-encoder E] [--workers N] [--refuse-stale]
**
** Audio: every utterance's stored FLAC is decoded and encoded by E (default
** acoustic), key = utterance id. Text: every description (any source or
** status) is encoded by the text encoder (default ngram), key = SHA-256 of
** the text. The computation is the one clap_encode_audio / clap_encode_text
** do (features.h), so a cached vector equals the SQL function's result bit
** for bit. What is cached already is skipped: a re-run adds nothing.
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
** Audio runs on N worker threads (default: the number of cores) over chunks
** of utterances; the main thread is the one writer and commits each chunk,
** so an interrupted run keeps the chunks done. An utterance that fails to
** decode or encode stops the run with its id in the message (exit 1).
*/
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "db.h"
#include "feature_cache.h"
#include "progress.h"

static const char embed_usage[] =
    "usage: clap embed DB [--encoder E] [--text-encoder E] [--workers N] [--refuse-stale]\n"
    "\n"
    "Fill the features cache: every utterance through the audio encoder\n"
    "(default acoustic), every description through the text encoder (default\n"
    "ngram). Cached vectors are skipped; stale ones (computed by other encoder\n"
    "files or another clap version) are recomputed.\n"
    "  --encoder E        audio encoder: built in (acoustic) or a clap_encoders row\n"
    "  --text-encoder E   text encoder: built in (ngram) or a clap_encoders row\n"
    "  --workers N        audio encoding threads (default: the number of cores)\n"
    "  --refuse-stale     fail, writing nothing, if any cached vector is stale\n";

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

/* Utterances without cached audio features for encoder name, or whose
** cached row was computed by another identity than id (stale). */
static clap_status plan_audio(sqlite3 *db, const char *name, const char *id, todo *t,
                              clap_error *err) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db,
                         "SELECT u.id, f.key IS NOT NULL FROM utterances u LEFT JOIN features f "
                         "ON f.encoder=?1 AND f.modality='audio' AND f.key=u.id "
                         "WHERE f.key IS NULL OR f.encoder_id IS NOT ?2 ORDER BY u.id",
                         -1, &st, NULL) != SQLITE_OK)
    return clap_error_set(err, CLAP_ERR_INTERNAL, "%s", sqlite3_errmsg(db));
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
  clap_status rc = CLAP_OK;
  while (rc == CLAP_OK && sqlite3_step(st) == SQLITE_ROW)
    rc = todo_add(t, (const char *)sqlite3_column_text(st, 0), sqlite3_column_int(st, 1), err);
  sqlite3_finalize(st);
  return rc;
}

/* Distinct description texts without a cached vector, or with a stale one. */
static clap_status plan_text(sqlite3 *db, const char *name, const char *id, todo *t,
                             clap_error *err) {
  sqlite3_stmt *st = NULL, *have = NULL;
  clap_status rc = CLAP_OK;
  if (sqlite3_prepare_v2(db, "SELECT DISTINCT text FROM descriptions ORDER BY text", -1, &st,
                         NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(db,
                         "SELECT encoder_id IS ?3 FROM features "
                         "WHERE encoder=?1 AND modality='text' AND key=?2",
                         -1, &have, NULL) != SQLITE_OK)
    rc = clap_error_set(err, CLAP_ERR_INTERNAL, "%s", sqlite3_errmsg(db));
  while (rc == CLAP_OK && sqlite3_step(st) == SQLITE_ROW) {
    const char *text = (const char *)sqlite3_column_text(st, 0);
    char key[SHA256_HEX_SIZE];
    features_text_key(text, key);
    sqlite3_reset(have);
    sqlite3_bind_text(have, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(have, 2, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(have, 3, id, -1, SQLITE_STATIC);
    int cached = sqlite3_step(have) == SQLITE_ROW;
    if (cached && sqlite3_column_int(have, 0)) continue;
    rc = todo_add(t, text, cached, err);
  }
  sqlite3_finalize(st);
  sqlite3_finalize(have);
  return rc;
}

static clap_status read_audio(sqlite3 *db, job *j, clap_error *err) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT audio FROM utterances WHERE id=?", -1, &st, NULL) != SQLITE_OK)
    return clap_error_set(err, CLAP_ERR_INTERNAL, "%s", sqlite3_errmsg(db));
  sqlite3_bind_text(st, 1, j->id, -1, SQLITE_STATIC);
  clap_status rc = CLAP_OK;
  if (sqlite3_step(st) != SQLITE_ROW) {
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
static clap_status embed_chunk(sqlite3 *db, const char *name, const char *id,
                               const encoder *enc, char **ids, int n, int workers,
                               clap_error *err) {
  int dim = encoder_dim(enc);
  job *jobs = calloc((size_t)n, sizeof *jobs);
  float *out = malloc((size_t)n * (size_t)dim * sizeof(float));
  clap_status rc = jobs && out ? CLAP_OK : clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  for (int i = 0; i < n && rc == CLAP_OK; i++) {
    jobs[i].id = ids[i];
    jobs[i].out = out + (size_t)i * dim;
    rc = read_audio(db, &jobs[i], err);
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
    for (int t = 0; t < started; t++) pthread_join(tid[t], NULL);
    free(tid);
    pthread_mutex_destroy(&p.mu);
    for (int i = 0; i < n && rc == CLAP_OK; i++)
      if (jobs[i].rc != CLAP_OK) *err = jobs[i].err, rc = jobs[i].rc;
  }
  if (rc == CLAP_OK) rc = db_exec(db, "BEGIN IMMEDIATE", err);
  if (rc == CLAP_OK) {
    for (int i = 0; i < n && rc == CLAP_OK; i++)
      rc = features_put(db, name, ENCODER_AUDIO, ids[i], jobs[i].out, dim, id, err);
    if (rc == CLAP_OK) rc = db_exec(db, "COMMIT", err);
    else sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  }
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
  const encoder *enc;
  encoder *owned;
  char id[FEATURES_ID_SIZE];
  todo work;
} side;

static clap_status side_plan(sqlite3 *db, side *sd, clap_error *err) {
  clap_status rc = features_encoder(db, sd->name, sd->modality, &sd->enc, &sd->owned, NULL, err);
  if (rc == CLAP_OK) rc = features_identity(db, sd->name, sd->id, err);
  if (rc == CLAP_OK)
    rc = sd->modality == ENCODER_AUDIO ? plan_audio(db, sd->name, sd->id, &sd->work, err)
                                       : plan_text(db, sd->name, sd->id, &sd->work, err);
  return rc;
}

static void side_free(side *sd) {
  encoder_free(sd->owned);
  sd->owned = NULL;
  todo_free(&sd->work);
}

static clap_status embed_audio(sqlite3 *db, side *sd, int workers, int *done, clap_error *err) {
  int n = sd->work.n;
  char **ids = sd->work.v;
  char label[96];
  snprintf(label, sizeof label, "embed %s", sd->name);
  progress *pg = n ? progress_create(label, n) : NULL;
  int chunk = 16 * workers;
  clap_status rc = CLAP_OK;
  for (int i = 0; i < n && rc == CLAP_OK; i += chunk) {
    int m = n - i < chunk ? n - i : chunk;
    rc = embed_chunk(db, sd->name, sd->id, sd->enc, ids + i, m, workers, err);
    if (rc == CLAP_OK) *done += m;
    progress_update(pg, i + m, ids[i + m - 1]);
  }
  progress_finish(pg);
  return rc;
}

/* Texts are cheap to encode: one pass on the main thread, one transaction. */
static clap_status embed_text(sqlite3 *db, side *sd, clap_error *err) {
  int dim = encoder_dim(sd->enc);
  float *v = malloc((size_t)dim * sizeof(float));
  clap_status rc = v ? CLAP_OK : clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  if (rc == CLAP_OK) rc = db_exec(db, "BEGIN IMMEDIATE", err);
  for (int i = 0; rc == CLAP_OK && i < sd->work.n; i++) {
    const char *text = sd->work.v[i];
    char key[SHA256_HEX_SIZE];
    features_text_key(text, key);
    rc = encoder_encode_text(sd->enc, text, -1, v, err);
    if (rc != CLAP_OK) clap_error_prefix(err, "description '%s': ", text);
    if (rc == CLAP_OK) rc = features_put(db, sd->name, ENCODER_TEXT, key, v, dim, sd->id, err);
  }
  if (rc == CLAP_OK) rc = db_exec(db, "COMMIT", err);
  else if (v) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  free(v);
  return rc;
}

static clap_status refuse_stale(const side *sd, clap_error *err) {
  return clap_error_set(err, CLAP_ERR_FORMAT,
                        "%d cached %s vectors of encoder '%s' are stale (computed by another "
                        "encoder identity than its current %.20s); nothing written; run without "
                        "--refuse-stale to recompute them",
                        sd->work.nstale, sd->modality == ENCODER_AUDIO ? "audio" : "text",
                        sd->name, sd->id);
}

/* Plan both sides first, so --refuse-stale writes nothing and a broken
** encoder stops the run before any work. */
static clap_status embed_run(sqlite3 *db, side *a, side *t, int workers, int refuse,
                             int *na, clap_error *err) {
  clap_status rc = side_plan(db, a, err);
  if (rc == CLAP_OK) rc = side_plan(db, t, err);
  if (rc == CLAP_OK && refuse && a->work.nstale) rc = refuse_stale(a, err);
  if (rc == CLAP_OK && refuse && t->work.nstale) rc = refuse_stale(t, err);
  if (rc == CLAP_OK) rc = embed_audio(db, a, workers, na, err);
  if (rc == CLAP_OK) rc = embed_text(db, t, err);
  return rc;
}

int cmd_embed(int argc, char **argv) {
  const char *path = NULL, *audio_enc = "acoustic", *text_enc = "ngram";
  int workers = default_workers(), refuse = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      fputs(embed_usage, stdout);
      return 0;
    } else if (!strcmp(a, "--refuse-stale")) {
      refuse = 1;
    } else if ((!strcmp(a, "--encoder") || !strcmp(a, "--text-encoder") ||
                !strcmp(a, "--workers")) && i + 1 < argc) {
      const char *v = argv[++i];
      if (!strcmp(a, "--encoder")) audio_enc = v;
      else if (!strcmp(a, "--text-encoder")) text_enc = v;
      else {
        char *end;
        long w = strtol(v, &end, 10);
        if (*end || w < 1 || w > 256) {
          fprintf(stderr, "clap embed: --workers wants 1..256, not '%s'\n%s", v, embed_usage);
          return 2;
        }
        workers = (int)w;
      }
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "clap embed: unknown or incomplete option '%s'\n%s", a, embed_usage);
      return 2;
    } else if (!path) {
      path = a;
    } else {
      fprintf(stderr, "clap embed: unexpected argument '%s'\n%s", a, embed_usage);
      return 2;
    }
  }
  if (!path) {
    fprintf(stderr, "clap embed: no database given\n%s", embed_usage);
    return 2;
  }
  sqlite3 *db;
  clap_error err;
  if (db_open(path, 0, &db, &err) != CLAP_OK) {
    fprintf(stderr, "clap embed: %s\n", err.msg);
    return 1;
  }
  side a = {.name = audio_enc, .modality = ENCODER_AUDIO};
  side t = {.name = text_enc, .modality = ENCODER_TEXT};
  int na = 0;
  clap_status rc = embed_run(db, &a, &t, workers, refuse, &na, &err);
  db_close(db);
  /* Audio commits per chunk, in order of id; text all at once. */
  int nt = rc == CLAP_OK ? t.work.n : 0, sa = 0, st = rc == CLAP_OK ? t.work.nstale : 0;
  for (int i = 0; i < na; i++) sa += a.work.stale[i];
  printf("embed: %d audio vectors (%s), %d text vectors (%s) added; %d audio, %d text stale "
         "vectors recomputed\n",
         na - sa, audio_enc, nt - st, text_enc, sa, st);
  side_free(&a);
  side_free(&t);
  if (rc != CLAP_OK) {
    fprintf(stderr, "clap embed: %s\n", err.msg);
    return 1;
  }
  return 0;
}
