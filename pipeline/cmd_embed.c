/*
** clap embed — fill the encoder output cache (table features).
**
**   clap embed DB [--encoder E] [--text-encoder E] [--workers N]
**
** Audio: every utterance's stored FLAC is decoded and encoded by E (default
** acoustic), key = utterance id. Text: every description (any source or
** status) is encoded by the text encoder (default ngram), key = SHA-256 of
** the text. The computation is the one clap_encode_audio / clap_encode_text
** do (features.h), so a cached vector equals the SQL function's result bit
** for bit. What is cached already is skipped: a re-run adds nothing.
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
    "usage: clap embed DB [--encoder E] [--text-encoder E] [--workers N]\n"
    "\n"
    "Fill the features cache: every utterance through the audio encoder\n"
    "(default acoustic), every description through the text encoder (default\n"
    "ngram). Cached vectors are skipped.\n"
    "  --encoder E        audio encoder: built in (acoustic) or a clap_encoders row\n"
    "  --text-encoder E   text encoder: built in (ngram) or a clap_encoders row\n"
    "  --workers N        audio encoding threads (default: the number of cores)\n";

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

/* Ids of utterances without cached audio features for encoder name. */
static clap_status missing_audio(sqlite3 *db, const char *name, char ***ids, int *n,
                                 clap_error *err) {
  sqlite3_stmt *st;
  *ids = NULL;
  *n = 0;
  if (sqlite3_prepare_v2(db,
                         "SELECT id FROM utterances u WHERE NOT EXISTS (SELECT 1 FROM features f "
                         "WHERE f.encoder=?1 AND f.modality='audio' AND f.key=u.id) ORDER BY id",
                         -1, &st, NULL) != SQLITE_OK)
    return clap_error_set(err, CLAP_ERR_INTERNAL, "%s", sqlite3_errmsg(db));
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  int cap = 0;
  clap_status rc = CLAP_OK;
  while (rc == CLAP_OK && sqlite3_step(st) == SQLITE_ROW) {
    if (*n == cap) {
      cap = cap ? 2 * cap : 256;
      char **grown = realloc(*ids, (size_t)cap * sizeof **ids);
      if (!grown) {
        rc = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
        break;
      }
      *ids = grown;
    }
    (*ids)[(*n)++] = strdup((const char *)sqlite3_column_text(st, 0));
  }
  sqlite3_finalize(st);
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
static clap_status embed_chunk(sqlite3 *db, const char *name, const encoder *enc, char **ids,
                               int n, int workers, clap_error *err) {
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
      rc = features_put(db, name, ENCODER_AUDIO, ids[i], jobs[i].out, dim, err);
    if (rc == CLAP_OK) rc = db_exec(db, "COMMIT", err);
    else sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  }
  for (int i = 0; jobs && i < n; i++) free(jobs[i].audio);
  free(jobs);
  free(out);
  return rc;
}

static clap_status embed_audio(sqlite3 *db, const char *name, int workers, int *added,
                               clap_error *err) {
  const encoder *enc;
  encoder *owned;
  clap_status rc = features_encoder(db, name, ENCODER_AUDIO, &enc, &owned, NULL, err);
  if (rc != CLAP_OK) return rc;
  char **ids;
  int n;
  rc = missing_audio(db, name, &ids, &n, err);
  char label[96];
  snprintf(label, sizeof label, "embed %s", name);
  progress *pg = n ? progress_create(label, n) : NULL;
  int chunk = 16 * workers;
  for (int i = 0; i < n && rc == CLAP_OK; i += chunk) {
    int m = n - i < chunk ? n - i : chunk;
    rc = embed_chunk(db, name, enc, ids + i, m, workers, err);
    if (rc == CLAP_OK) *added += m;
    progress_update(pg, i + m, ids[i + m - 1]);
  }
  progress_finish(pg);
  for (int i = 0; i < n; i++) free(ids[i]);
  free(ids);
  encoder_free(owned);
  return rc;
}

/* Texts are cheap to encode: one pass on the main thread, one transaction. */
static clap_status embed_text(sqlite3 *db, const char *name, int *added, clap_error *err) {
  const encoder *enc;
  encoder *owned;
  clap_status rc = features_encoder(db, name, ENCODER_TEXT, &enc, &owned, NULL, err);
  if (rc != CLAP_OK) return rc;
  int dim = encoder_dim(enc);
  float *v = malloc((size_t)dim * sizeof(float));
  sqlite3_stmt *st = NULL, *have = NULL;
  if (!v) rc = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  if (rc == CLAP_OK) rc = db_exec(db, "BEGIN IMMEDIATE", err);
  if (rc == CLAP_OK &&
      (sqlite3_prepare_v2(db, "SELECT DISTINCT text FROM descriptions ORDER BY text", -1, &st,
                          NULL) != SQLITE_OK ||
       sqlite3_prepare_v2(db,
                          "SELECT 1 FROM features WHERE encoder=? AND modality='text' AND key=?",
                          -1, &have, NULL) != SQLITE_OK))
    rc = clap_error_set(err, CLAP_ERR_INTERNAL, "%s", sqlite3_errmsg(db));
  while (rc == CLAP_OK && sqlite3_step(st) == SQLITE_ROW) {
    const char *text = (const char *)sqlite3_column_text(st, 0);
    char key[SHA256_HEX_SIZE];
    features_text_key(text, key);
    sqlite3_reset(have);
    sqlite3_bind_text(have, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(have, 2, key, -1, SQLITE_STATIC);
    if (sqlite3_step(have) == SQLITE_ROW) continue;
    rc = encoder_encode_text(enc, text, -1, v, err);
    if (rc != CLAP_OK) clap_error_prefix(err, "description '%s': ", text);
    if (rc == CLAP_OK) rc = features_put(db, name, ENCODER_TEXT, key, v, dim, err);
    if (rc == CLAP_OK) ++*added;
  }
  sqlite3_finalize(st);
  sqlite3_finalize(have);
  if (rc == CLAP_OK) rc = db_exec(db, "COMMIT", err);
  else sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  free(v);
  encoder_free(owned);
  return rc;
}

int cmd_embed(int argc, char **argv) {
  const char *path = NULL, *audio_enc = "acoustic", *text_enc = "ngram";
  int workers = default_workers();
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      fputs(embed_usage, stdout);
      return 0;
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
  int na = 0, nt = 0;
  clap_status rc = embed_audio(db, audio_enc, workers, &na, &err);
  if (rc == CLAP_OK) rc = embed_text(db, text_enc, &nt, &err);
  db_close(db);
  printf("embed: %d audio vectors (%s), %d text vectors (%s) added\n", na, audio_enc, nt,
         text_enc);
  if (rc != CLAP_OK) {
    fprintf(stderr, "clap embed: %s\n", err.msg);
    return 1;
  }
  return 0;
}
