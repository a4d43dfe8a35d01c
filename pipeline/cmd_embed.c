/*
** clap embed — fill the encoder output cache (table features).
**
**   clap embed DB [--encoder E] [--text-encoder E] [--workers N]
**                 [--shard K/N [--out SHARD.db]]
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
** encoders with their weight hashes. A re-run with the same SHARD.db
** continues it; a SHARD.db made for another K/N, database or encoder is
** refused (exit 1), as is --out naming DB itself. Keys DB or SHARD.db have
** already are skipped. `clap merge DB SHARD.db...` folds the shards in.
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

#include "commands.h"
#include "db.h"
#include "feature_cache.h"
#include "progress.h"
#include "shard.h"

static const char embed_usage[] =
    "usage: clap embed DB [--encoder E] [--text-encoder E] [--workers N]\n"
    "                     [--shard K/N [--out SHARD.db]]\n"
    "\n"
    "Fill the features cache: every utterance through the audio encoder\n"
    "(default acoustic), every description through the text encoder (default\n"
    "ngram). Cached vectors are skipped.\n"
    "  --encoder E        audio encoder: built in (acoustic) or a clap_encoders row\n"
    "  --text-encoder E   text encoder: built in (ngram) or a clap_encoders row\n"
    "  --workers N        audio encoding threads (default: the number of cores)\n"
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

/* Is there a cached vector for key in db? */
static int have_key(sqlite3_stmt *have, const char *name, const char *key) {
  sqlite3_reset(have);
  sqlite3_bind_text(have, 1, name, -1, SQLITE_STATIC);
  sqlite3_bind_text(have, 2, key, -1, SQLITE_STATIC);
  return sqlite3_step(have) == SQLITE_ROW;
}

/* Statements asking t's databases whether a key is cached already. */
static clap_status prepare_have(const target *t, const char *modality, sqlite3_stmt *have[2],
                                clap_error *err) {
  char sql[128];
  snprintf(sql, sizeof sql, "SELECT 1 FROM features WHERE encoder=? AND modality='%s' AND key=?",
           modality);
  have[0] = have[1] = NULL;
  if (sqlite3_prepare_v2(t->dst, sql, -1, &have[0], NULL) != SQLITE_OK ||
      (t->src != t->dst && sqlite3_prepare_v2(t->src, sql, -1, &have[1], NULL) != SQLITE_OK))
    return clap_error_set(err, CLAP_ERR_INTERNAL, "%s",
                          sqlite3_errmsg(have[0] ? t->src : t->dst));
  return CLAP_OK;
}

/* Wanted: owned by this shard and cached in neither database. */
static int wanted(const target *t, sqlite3_stmt *have[2], const char *name, const char *key) {
  if (t->n > 1 && shard_of(key, t->n) != t->k) return 0;
  if (have_key(have[0], name, key)) return 0;
  return !(have[1] && have_key(have[1], name, key));
}

/* Ids of the utterances to embed (see wanted). */
static clap_status missing_audio(const target *t, const char *name, char ***ids, int *n,
                                 clap_error *err) {
  sqlite3_stmt *st = NULL, *have[2];
  *ids = NULL;
  *n = 0;
  clap_status rc = prepare_have(t, "audio", have, err);
  if (rc == CLAP_OK &&
      sqlite3_prepare_v2(t->src, "SELECT id FROM utterances ORDER BY id", -1, &st, NULL) != SQLITE_OK)
    rc = clap_error_set(err, CLAP_ERR_INTERNAL, "%s", sqlite3_errmsg(t->src));
  int cap = 0;
  while (rc == CLAP_OK && sqlite3_step(st) == SQLITE_ROW) {
    const char *id = (const char *)sqlite3_column_text(st, 0);
    if (!wanted(t, have, name, id)) continue;
    if (*n == cap) {
      cap = cap ? 2 * cap : 256;
      char **grown = realloc(*ids, (size_t)cap * sizeof **ids);
      if (!grown) {
        rc = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
        break;
      }
      *ids = grown;
    }
    if (!((*ids)[*n] = strdup(id))) rc = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
    else ++*n;
  }
  sqlite3_finalize(st);
  sqlite3_finalize(have[0]);
  sqlite3_finalize(have[1]);
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
static clap_status embed_chunk(const target *t, const char *name, const encoder *enc, char **ids,
                               int n, int workers, clap_error *err) {
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
  if (rc == CLAP_OK) {
    for (int i = 0; i < n && rc == CLAP_OK; i++)
      rc = features_put(t->dst, name, ENCODER_AUDIO, ids[i], jobs[i].out, dim, err);
    if (rc == CLAP_OK) rc = db_exec(t->dst, "COMMIT", err);
    else sqlite3_exec(t->dst, "ROLLBACK", NULL, NULL, NULL);
  }
  for (int i = 0; jobs && i < n; i++) free(jobs[i].audio);
  free(jobs);
  free(out);
  return rc;
}

static clap_status embed_audio(const target *t, const char *name, const encoder *enc,
                               int workers, int *added, clap_error *err) {
  char **ids;
  int n;
  clap_status rc = missing_audio(t, name, &ids, &n, err);
  char label[96];
  if (t->n > 1) snprintf(label, sizeof label, "embed %s (shard %d/%d)", name, t->k, t->n);
  else snprintf(label, sizeof label, "embed %s", name);
  progress *pg = n && rc == CLAP_OK ? progress_create(label, n) : NULL;
  int chunk = 16 * workers;
  for (int i = 0; i < n && rc == CLAP_OK; i += chunk) {
    int m = n - i < chunk ? n - i : chunk;
    rc = embed_chunk(t, name, enc, ids + i, m, workers, err);
    if (rc == CLAP_OK) *added += m;
    progress_update(pg, i + m, ids[i + m - 1]);
  }
  progress_finish(pg);
  for (int i = 0; i < n; i++) free(ids[i]);
  free(ids);
  return rc;
}

/* Texts are cheap to encode: one pass on the main thread, one transaction. */
static clap_status embed_text(const target *t, const char *name, const encoder *enc, int *added,
                              clap_error *err) {
  int dim = encoder_dim(enc);
  float *v = malloc((size_t)dim * sizeof(float));
  sqlite3_stmt *st = NULL, *have[2] = {NULL, NULL};
  clap_status rc = v ? CLAP_OK : clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  if (rc == CLAP_OK) rc = prepare_have(t, "text", have, err);
  if (rc == CLAP_OK && sqlite3_prepare_v2(t->src, "SELECT DISTINCT text FROM descriptions ORDER BY text",
                                          -1, &st, NULL) != SQLITE_OK)
    rc = clap_error_set(err, CLAP_ERR_INTERNAL, "%s", sqlite3_errmsg(t->src));
  if (rc == CLAP_OK) rc = db_exec(t->dst, "BEGIN IMMEDIATE", err);
  int open = rc == CLAP_OK;
  while (rc == CLAP_OK && sqlite3_step(st) == SQLITE_ROW) {
    const char *text = (const char *)sqlite3_column_text(st, 0);
    char key[SHA256_HEX_SIZE];
    features_text_key(text, key);
    if (!wanted(t, have, name, key)) continue;
    rc = encoder_encode_text(enc, text, -1, v, err);
    if (rc != CLAP_OK) clap_error_prefix(err, "description '%s': ", text);
    if (rc == CLAP_OK) rc = features_put(t->dst, name, ENCODER_TEXT, key, v, dim, err);
    if (rc == CLAP_OK) ++*added;
  }
  sqlite3_finalize(st);
  sqlite3_finalize(have[0]);
  sqlite3_finalize(have[1]);
  if (rc == CLAP_OK) rc = db_exec(t->dst, "COMMIT", err);
  else if (open) sqlite3_exec(t->dst, "ROLLBACK", NULL, NULL, NULL);
  free(v);
  return rc;
}

/* Both files exist and are one file (a hard link or another spelling). */
static int same_file(const char *a, const char *b) {
  struct stat sa, sb;
  return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Open the shard database and record (or check) where it comes from. */
static clap_status open_shard(sqlite3 *src, const char *src_path, const char *out, int k, int n,
                              const char *aenc, const char *asha, const char *tenc,
                              const char *tsha, sqlite3 **sdb, clap_error *err) {
  *sdb = NULL;
  if (same_file(src_path, out))
    return clap_error_set(err, CLAP_ERR_ARG, "--out %s is the database itself; a shard goes to a file of its own", out);
  shard_info info = {.k = k, .n = n, .source = src_path, .audio_encoder = aenc,
                     .audio_sha256 = asha, .text_encoder = tenc, .text_sha256 = tsha};
  clap_status rc = shard_fingerprint(src, info.fingerprint, err);
  if (rc != CLAP_OK) {
    clap_error_prefix(err, "%s: ", src_path);
    return rc;
  }
  rc = db_open(out, DB_CREATE, sdb, err);
  if (rc == CLAP_OK) rc = db_exec(*sdb, "BEGIN IMMEDIATE", err);
  if (rc == CLAP_OK) {
    rc = shard_record(*sdb, out, &info, err);
    if (rc == CLAP_OK) rc = db_exec(*sdb, "COMMIT", err);
    else sqlite3_exec(*sdb, "ROLLBACK", NULL, NULL, NULL);
  }
  if (rc != CLAP_OK) {
    db_close(*sdb);
    *sdb = NULL;
  }
  return rc;
}

static int usage_error(const char *fmt, const char *arg) {
  fputs("clap embed: ", stderr);
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n%s", embed_usage);
  return 2;
}

int cmd_embed(int argc, char **argv) {
  const char *path = NULL, *audio_enc = "acoustic", *text_enc = "ngram", *out = NULL;
  int workers = default_workers(), k = 1, n = 1, sharded = 0;
  clap_error err;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      fputs(embed_usage, stdout);
      return 0;
    } else if ((!strcmp(a, "--encoder") || !strcmp(a, "--text-encoder") ||
                !strcmp(a, "--workers") || !strcmp(a, "--shard") || !strcmp(a, "--out")) &&
               i + 1 < argc) {
      const char *v = argv[++i];
      if (!strcmp(a, "--encoder")) audio_enc = v;
      else if (!strcmp(a, "--text-encoder")) text_enc = v;
      else if (!strcmp(a, "--out")) out = v;
      else if (!strcmp(a, "--shard")) {
        if (shard_parse(v, &k, &n, &err) != CLAP_OK) return usage_error("%s", err.msg);
        sharded = 1;
      } else {
        char *end;
        long w = strtol(v, &end, 10);
        if (*end || w < 1 || w > 256) return usage_error("--workers wants 1..256, not '%s'", v);
        workers = (int)w;
      }
    } else if (a[0] == '-' && a[1]) {
      return usage_error("unknown or incomplete option '%s'", a);
    } else if (!path) {
      path = a;
    } else {
      return usage_error("unexpected argument '%s'", a);
    }
  }
  if (!path) return usage_error("%s", "no database given");
  if (out && !sharded) return usage_error("%s", "--out goes with --shard K/N");
  if (out && !*out) return usage_error("%s", "--out is empty");
  char outbuf[4096];
  if (sharded && !out) {
    if (shard_default_path(path, k, n, outbuf, sizeof outbuf, &err) != CLAP_OK)
      return usage_error("%s", err.msg);
    out = outbuf;
  }
  sqlite3 *db;
  if (db_open(path, 0, &db, &err) != CLAP_OK) {
    fprintf(stderr, "clap embed: %s\n", err.msg);
    return 1;
  }
  const encoder *aenc = NULL, *tenc = NULL;
  encoder *aown = NULL, *town = NULL;
  char asha[SHA256_HEX_SIZE] = "", tsha[SHA256_HEX_SIZE] = "";
  target t = {.src = db, .dst = db, .k = k, .n = n};
  int na = 0, nt = 0;
  clap_status rc = features_encoder(db, audio_enc, ENCODER_AUDIO, &aenc, &aown, asha, &err);
  if (rc == CLAP_OK) rc = features_encoder(db, text_enc, ENCODER_TEXT, &tenc, &town, tsha, &err);
  if (rc == CLAP_OK && sharded)
    rc = open_shard(db, path, out, k, n, audio_enc, asha, text_enc, tsha, &t.dst, &err);
  if (rc == CLAP_OK) rc = embed_audio(&t, audio_enc, aenc, workers, &na, &err);
  if (rc == CLAP_OK) rc = embed_text(&t, text_enc, tenc, &nt, &err);
  if (t.dst != db) db_close(t.dst);
  db_close(db);
  encoder_free(aown);
  encoder_free(town);
  if (sharded)
    printf("embed: shard %d/%d: %d audio vectors (%s), %d text vectors (%s) added to %s\n", k, n,
           na, audio_enc, nt, text_enc, out);
  else
    printf("embed: %d audio vectors (%s), %d text vectors (%s) added\n", na, audio_enc, nt,
           text_enc);
  if (rc != CLAP_OK) {
    fprintf(stderr, "clap embed: %s\n", err.msg);
    return 1;
  }
  return 0;
}
