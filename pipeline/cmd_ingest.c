/*
** clap ingest — put session manifests and their audio into a clap database.
**
**   clap ingest DB MANIFEST... [--replace] [--keep-going] [--workers N]
**                              [--max-seconds S] [--create]
**   clap ingest DB --segment RECORDING... [segment options] [the options above]
**
** DB is a database `clap init` made; one that does not exist is refused
** (a typo must not leave a new file behind) unless --create, which creates
** it with the schema. Each MANIFEST is one
** session (DATA_SPEC.md; validated by pipeline/manifest.h: audio paths are
** relative to the manifest's directory, absolute ones are refused). For each
** utterance the source file is first checked from its header (a regular file
** holding audio libsndfile recognises: a FIFO, a device or a large file of
** something else is refused before its body is read), then its bytes are
** read once per session (several
** utterances may cut one long recording), hashed (utterances.source_sha256),
** decoded, cut to [start, end) when given, downmixed (or, with "channel",
** that channel taken alone) and resampled to 16 kHz mono and stored as FLAC
** with its duration, source rate, channel count and channel (NULL for the
** mix), and the audio path as written in the manifest. A channel index past
** the file's channels fails the session ("call.wav: channel 1 requested,
** but it has 1 channel (0..0)"). Speakers are upserted; the
** session row keeps the manifest's path and SHA-256.
**
** One transaction per session: a session is in the database whole or not at
** all, also after a crash or kill -9. Sessions are written in the order
** given. A session not yet in DB is streamed: its transaction opens when
** its turn comes and each utterance is inserted (and its FLAC freed) as soon
** as it is decoded, so memory does not grow with the session's length (a
** 20,000-utterance session: tests/bench/NOTES.md); the write lock is held
** while the rest of it decodes. A session DB already has is compared whole
** first (below). Re-running is safe:
**   - a session already in DB whose utterances are all there with the same
**     source SHA-256 and cut (and no others) is "skipped" — nothing is
**     written, even if only transcripts or speakers changed in the manifest;
**   - otherwise a session already in DB (a source file changed, a cut moved,
**     utterances added or removed) is an error naming the utterance, e.g.
**     "s1.json: s1-u0003: source changed (sha256 1f2e… -> 9a8b…); use
**     --replace", and the database is left as it was;
**   - with --replace such a session, and also one whose manifest bytes
**     changed, is replaced atomically: the old session row is deleted, which
**     deletes its utterances and their scores, normalized_scores and labels
**     (ON DELETE CASCADE), and the new one is written. Unchanged audio is
**     carried over without decoding again, its cached features with it; an
**     utterance whose audio or cut changed (or any utterance written with
**     newly decoded audio) loses its cached audio features (every encoder),
**     so `clap embed` computes them from the new audio and train/eval never
**     see the old vector;
**   - an utterance id that belongs to another session is always an error.
** A session fails, with a message naming the manifest and the audio file,
** when its manifest is invalid, a source file is missing, unreadable, empty,
** not audio or truncated, a cut lies outside the recording, or an utterance
** is longer than --max-seconds (default 600; for a cut, the cut's length).
** A cut's start and end are stored in start_seconds/end_seconds (NULL when
** not given; start alone runs to the end of the recording).
** Without --keep-going the run stops at the first failed session (sessions
** before it stay committed); with it the run goes on. The exit status is 1
** when any session failed, 2 on a usage error, 0 otherwise.
**
** With --segment the arguments are recordings, not manifests: each is
** segmented and turned into a session manifest exactly as `clap segment`
** does (pipeline/segment.h; it takes the same --channel, --min-speech,
** --min-silence, --roles and --options), then ingested as above; the
** session row's manifest_path is the recording's path. A recording with no
** speech fails its session ("no speech found"), and nothing is stored; a
** one-channel recording under the default role gets clap segment's warning.
**
** Decoding runs on N worker threads (--workers, default: the number of
** cores); the main thread does every SQLite write, in order. Progress is
** drawn on stderr when it is a terminal. The last line on stdout is the
** summary: "ingest: N sessions ingested, N skipped, N failed; N utterances,
** H hours of audio" (utterances and hours of the sessions written).
*/
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audio.h"
#include "cli.h"
#include "commands.h"
#include "db.h"
#include "fileio.h"
#include "manifest.h"
#include "progress.h"
#include "segment.h"
#include "sha256.h"

#define DEFAULT_MAX_SECONDS 600.0
#define MAX_WORKERS 256
#define MAX_SOURCE_BYTES ((size_t)4 << 30)
#define MAX_ERRORS_PER_SESSION 10

/* ---- the work: one job per session, one result per utterance ------------- */

typedef struct source {
  int state;               /* 0 unread, 1 being read, 2 read (or failed) */
  unsigned char *bytes;    /* freed when its last utterance is done */
  size_t n;
  char sha[SHA256_HEX_SIZE];
  int failed;
  char err[CLAP_ERROR_MSG_MAX];
  int users;               /* utterances not yet done */
} source;

typedef struct utt_job {
  /* What the database held before the run started (read by the main thread). */
  int known;               /* a row with this id exists */
  int same_session;
  char db_sha[SHA256_HEX_SIZE];
  int db_has_start, db_has_end;
  double db_start, db_end;
  int db_channel;          /* MANIFEST_MIX for NULL */
  /* The worker's result. */
  int done, unchanged, failed;
  char err[CLAP_ERROR_MSG_MAX];
  unsigned char *flac;
  size_t nflac;
  double duration;
  int rate, channels;
} utt_job;

typedef struct session_job {
  const char *path;
  manifest *m;             /* NULL when the manifest could not be loaded */
  char err[CLAP_ERROR_MSG_MAX];
  int dup_of;              /* index of an earlier job with the same session id, or -1 */
  source *sources;
  utt_job *utts;
  int left;                /* utterances not yet done */
} session_job;

typedef struct ingest {
  /* options */
  int replace, keep_going, workers, create;
  double max_seconds;
  int segment;             /* --segment: the arguments are recordings */
  segment_request seg;
  /* jobs */
  session_job *jobs;
  int njobs;
  /* shared state, under mu */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int next_job, next_utt;  /* the next utterance a worker takes */
  int written;             /* jobs the writer has finished */
  int window;              /* how far workers may run ahead of the writer */
  int stop;
} ingest;

/* ---- options ----------------------------------------------------------- */

static void ingest_usage(FILE *f) {
  fprintf(f,
          "usage: clap ingest DB MANIFEST... [--replace] [--keep-going] [--workers N]\n"
          "                                  [--max-seconds S] [--create]\n"
          "       clap ingest DB --segment RECORDING... [--channel N|all] [--min-speech S]\n"
          "                  [--min-silence S] [--roles 0=salesperson,1=customer] [--options JSON]\n"
          "                  [same options as above]\n"
          "\n"
          "Ingest session manifests and their audio (16 kHz mono FLAC, one transaction\n"
          "per session). Sessions already ingested with the same audio are skipped.\n"
          "  --replace        replace a session whose audio or manifest changed\n"
          "                   (its scores and labels are deleted with it)\n"
          "  --keep-going     go on after a failed session (exit status stays 1)\n"
          "  --workers N      decoding threads (default: the number of cores)\n"
          "  --max-seconds S  longest utterance accepted (default %g)\n"
          "  --create         create DB if it does not exist (else `clap init DB` first)\n"
          "  --segment        the arguments are recordings: each is segmented as by\n"
          "                   `clap segment` (whose options it takes) and ingested\n",
          DEFAULT_MAX_SECONDS);
}

static int default_workers(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > MAX_WORKERS ? MAX_WORKERS : (int)n;
}

enum { OPT_REPLACE = CLI_OPT, OPT_KEEP_GOING, OPT_WORKERS, OPT_MAX_SECONDS, OPT_SEGMENT, OPT_CREATE };
static const struct option ingest_opts[] = {
    CLI_HELP_OPTION, CLI_DB_OPTION,
    {"replace", no_argument, NULL, OPT_REPLACE},
    {"keep-going", no_argument, NULL, OPT_KEEP_GOING},
    {"workers", required_argument, NULL, OPT_WORKERS},
    {"max-seconds", required_argument, NULL, OPT_MAX_SECONDS},
    {"segment", no_argument, NULL, OPT_SEGMENT},
    {"create", no_argument, NULL, OPT_CREATE},
    SEGMENT_LONG_OPTIONS,
    {0}};

/* One option into g; 0, or 2 after a usage error. */
static int ingest_option(ingest *g, const cli *c, int opt) {
  long w;
  switch (opt) {
  case OPT_REPLACE: g->replace = 1; return 0;
  case OPT_KEEP_GOING: g->keep_going = 1; return 0;
  case OPT_CREATE: g->create = 1; return 0;
  case OPT_WORKERS:
    if (cli_int(c, 1, MAX_WORKERS, &w)) return 2;
    g->workers = (int)w;
    return 0;
  case OPT_MAX_SECONDS: return cli_number(c, 0.001, 14400, &g->max_seconds);
  case OPT_SEGMENT: g->segment = 1; return 0;
  }
  return segment_option(c, opt, &g->seg);
}

/* Fills g's options, *db and the manifests; returns -1 to go on, else an exit status. */
static int parse_args(int argc, char **argv, ingest *g, const char **db, const char ***paths,
                      int *npaths) {
  cli c = {.cmd = "clap ingest", .help_fn = ingest_usage};
  for (int o; (o = cli_next(&c, argc, argv, "", ingest_opts)) != CLI_END;)
    if (o == CLI_EXIT) return c.status;
    else if (ingest_option(g, &c, o)) return 2;
  static const char *const operands[] = {"database", "manifest", NULL};
  static const char *const recordings[] = {"database", "recording", NULL};
  if (cli_operands(&c, argc, argv, g->segment ? recordings : operands, 2, -1)) return 2;
  *db = argv[optind];
  *paths = (const char **)argv + optind + 1;
  *npaths = argc - optind - 1;
  return -1;
}

/* ---- reading and decoding (worker threads) ------------------------------ */

/* The header first: a file that is not audio is refused before its body is
** read into memory (a 3 GB file of something else costs nothing). */
static void read_source(const char *path, source *s) {
  clap_error e;
  if (audio_probe_file(path, &e) != CLAP_OK ||
      fileio_read(path, MAX_SOURCE_BYTES, &s->bytes, &s->n, &e) != CLAP_OK) {
    memcpy(s->err, e.msg, sizeof s->err);
    s->failed = 1;
    return;
  }
  if (sha256_hex(s->bytes, s->n, s->sha)) {
    snprintf(s->err, sizeof s->err, "%s: out of memory hashing it", path);
    s->failed = 1;
  }
}

/* The same span of the same channel of the source. */
static int same_cut(const utt_job *r, const manifest_utterance *u) {
  return r->db_has_start == u->has_start && r->db_has_end == u->has_end &&
         (!u->has_start || r->db_start == u->start) && (!u->has_end || r->db_end == u->end) &&
         r->db_channel == u->channel;
}

/* The cut columns of a row at column i (start), i + 1 (end), i + 2 (channel). */
static void read_cut(sqlite3_stmt *st, int i, utt_job *r) {
  r->db_has_start = sqlite3_column_type(st, i) != SQLITE_NULL;
  r->db_has_end = sqlite3_column_type(st, i + 1) != SQLITE_NULL;
  r->db_start = sqlite3_column_double(st, i);
  r->db_end = sqlite3_column_double(st, i + 1);
  r->db_channel = sqlite3_column_type(st, i + 2) == SQLITE_NULL ? MANIFEST_MIX
                                                                 : sqlite3_column_int(st, i + 2);
}

static void decode_utterance(const ingest *g, const manifest_utterance *u, const source *s,
                             utt_job *r) {
  clap_error err;
  clap_error_clear(&err);
  audio_options o = {AUDIO_TARGET_RATE, u->start, u->has_end ? u->end : 0, g->max_seconds,
                     u->channel == MANIFEST_MIX ? AUDIO_MIX : AUDIO_CHANNEL(u->channel)};
  if (u->has_start || u->has_end) {
    /* The limit is per utterance, and audio.h applies it to the whole
    ** recording: a long one may hold many short cuts. Checked below. */
    o.max_seconds = 0;
    if (u->has_start && u->has_end && u->end - u->start > g->max_seconds) {
      /* %g: a manifest may say 1e300, and %f would print every digit. */
      snprintf(r->err, sizeof r->err, "%s: cut [%g s, %g s) is %.6g s long, over the limit of %g s",
               u->path, u->start, u->end, u->end - u->start, g->max_seconds);
      r->failed = 1;
      return;
    }
  }
  audio_pcm *pcm = NULL;
  clap_status rc = audio_decode_memory(s->bytes, s->n, u->path, &o, &pcm, &err);
  if (rc == CLAP_OK && (double)pcm->n / pcm->rate > g->max_seconds)
    rc = clap_error_set(&err, CLAP_ERR_RANGE, "%s: cut is %.6g s long, over the limit of %g s",
                        u->path, (double)pcm->n / pcm->rate, g->max_seconds);
  if (rc == CLAP_OK) {
    r->duration = (double)pcm->n / pcm->rate;
    r->rate = pcm->source_rate;
    r->channels = pcm->source_channels;
    rc = audio_encode_flac(pcm->samples, pcm->n, pcm->rate, &r->flac, &r->nflac, &err);
    if (rc) clap_error_prefix(&err, "%s: ", u->path);
  }
  audio_pcm_free(pcm);
  if (rc) {
    snprintf(r->err, sizeof r->err, "%s", err.msg);
    r->failed = 1;
  }
}

/* Under g->mu: the first source's reader loads it, others wait for it. */
static source *acquire_source(ingest *g, session_job *j, const manifest_utterance *u) {
  source *s = &j->sources[u->source];
  if (s->state == 0) {
    s->state = 1;
    pthread_mutex_unlock(&g->mu);
    read_source(u->path, s);
    pthread_mutex_lock(&g->mu);
    s->state = 2;
    pthread_cond_broadcast(&g->cv);
  }
  while (s->state != 2) pthread_cond_wait(&g->cv, &g->mu);
  return s;
}

static void process_utterance(ingest *g, session_job *j, int k) {
  const manifest_utterance *u = manifest_utterance_at(j->m, k);
  utt_job *r = &j->utts[k];
  source *s = acquire_source(g, j, u);
  pthread_mutex_unlock(&g->mu);
  if (s->failed) {
    r->failed = 1;  /* reported once per source by the writer */
  } else if (r->known && (!r->same_session || !g->replace || !strcmp(r->db_sha, s->sha))) {
    /* Already there, or a conflict the writer will report: nothing to decode.
    ** With --replace, an unchanged row is carried over by the writer. */
    r->unchanged = r->same_session && !strcmp(r->db_sha, s->sha) && same_cut(r, u);
    if (!r->unchanged && r->same_session && g->replace) decode_utterance(g, u, s, r);
  } else {
    decode_utterance(g, u, s, r);
  }
  pthread_mutex_lock(&g->mu);
  r->done = 1;
  if (--s->users == 0) {
    free(s->bytes);
    s->bytes = NULL;
  }
  --j->left;
  pthread_cond_broadcast(&g->cv); /* the writer streams a new session utterance by utterance */
}

/* Under g->mu: the next utterance within the window, or 0 when there is none yet. */
static int take_work(ingest *g, int *job, int *utt) {
  while (g->next_job < g->njobs) {
    session_job *j = &g->jobs[g->next_job];
    int n = j->m && j->dup_of < 0 ? manifest_n_utterances(j->m) : 0;
    if (g->next_utt < n) {
      if (g->next_job >= g->written + g->window) return 0;
      *job = g->next_job;
      *utt = g->next_utt++;
      return 1;
    }
    g->next_job++;
    g->next_utt = 0;
  }
  return 0;
}

static void *worker_main(void *arg) {
  ingest *g = arg;
  pthread_mutex_lock(&g->mu);
  for (;;) {
    int job, utt;
    if (g->stop) break;
    if (take_work(g, &job, &utt)) {
      process_utterance(g, &g->jobs[job], utt);
      continue;
    }
    if (g->next_job >= g->njobs) break;
    pthread_cond_wait(&g->cv, &g->mu);
  }
  pthread_mutex_unlock(&g->mu);
  return NULL;
}

/* ---- setup (main thread, before the workers start) ---------------------- */

static clap_status snapshot(sqlite3 *db, session_job *j, clap_error *err) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db,
                              "SELECT session_id, source_sha256, start_seconds, end_seconds, channel "
                              "FROM utterances WHERE id = ?1",
                              -1, &st, NULL);
  for (int k = 0; rc == SQLITE_OK && k < manifest_n_utterances(j->m); k++) {
    utt_job *r = &j->utts[k];
    sqlite3_bind_text(st, 1, manifest_utterance_at(j->m, k)->id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
      const char *sid = (const char *)sqlite3_column_text(st, 0);
      const char *sha = (const char *)sqlite3_column_text(st, 1);
      r->known = 1;
      r->same_session = sid && !strcmp(sid, manifest_session(j->m));
      snprintf(r->db_sha, sizeof r->db_sha, "%s", sha ? sha : "");
      read_cut(st, 2, r);
    }
    rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
    sqlite3_reset(st);
  }
  if (rc != SQLITE_OK) clap_error_set(err, CLAP_ERR_IO, "reading utterances: %s", sqlite3_errmsg(db));
  sqlite3_finalize(st);
  return rc == SQLITE_OK ? CLAP_OK : CLAP_ERR_IO;
}

/* --segment: the recording's manifest (segment.h), its audio beside it. */
static clap_status load_segmented(const ingest *g, const char *path, manifest **m, clap_error *err) {
  const char *slash = strrchr(path, '/');
  char *dir = slash ? strndup(path, (size_t)(slash - path + 1)) : strdup("");
  char *json = NULL;
  int mono = 0;
  clap_status rc = dir ? segment_manifest(path, slash ? slash + 1 : path, &g->seg, &json, &mono, err)
                       : clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  if (!rc && mono) segment_warn_mono("clap ingest", path);
  if (!rc) rc = manifest_parse(json, strlen(json), path, dir, m, err);
  free(json);
  free(dir);
  return rc;
}

static clap_status setup_job(sqlite3 *db, ingest *g, int i, const char *path, clap_error *err) {
  session_job *j = &g->jobs[i];
  clap_error e;
  j->path = path;
  j->dup_of = -1;
  if ((g->segment ? load_segmented(g, path, &j->m, &e) : manifest_load(path, &j->m, &e)) != CLAP_OK) {
    snprintf(j->err, sizeof j->err, "%s", e.msg);
    return CLAP_OK;  /* the session fails when its turn comes */
  }
  for (int p = 0; p < i && j->dup_of < 0; p++)
    if (g->jobs[p].m && !strcmp(manifest_session(g->jobs[p].m), manifest_session(j->m))) j->dup_of = p;
  int n = manifest_n_utterances(j->m), ns = manifest_n_sources(j->m);
  j->utts = calloc((size_t)n, sizeof *j->utts);
  j->sources = calloc((size_t)ns, sizeof *j->sources);
  if (!j->utts || !j->sources) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  for (int k = 0; k < n; k++) j->sources[manifest_utterance_at(j->m, k)->source].users++;
  j->left = j->dup_of < 0 ? n : 0;
  return snapshot(db, j, err);
}

static void free_job_results(session_job *j) {
  if (j->m)
    for (int k = 0; j->utts && k < manifest_n_utterances(j->m); k++) free(j->utts[k].flac);
  if (j->m)
    for (int s = 0; j->sources && s < manifest_n_sources(j->m); s++) free(j->sources[s].bytes);
  free(j->utts);
  free(j->sources);
  j->utts = NULL;
  j->sources = NULL;
  manifest_free(j->m);
  j->m = NULL;
}

/* ---- writing (main thread) ---------------------------------------------- */

typedef struct writer {
  sqlite3 *db;
  sqlite3_stmt *q_session, *q_utt, *q_ids, *keep, *del, *ins_session, *ins_speaker, *ins_utt,
      *ins_kept, *clear_keep, *q_hours, *drop_features;
  long sessions_ok, skipped, failed, utterances;
  double seconds;
} writer;

static const char *const writer_sql[] = {
    "SELECT manifest_sha256 FROM sessions WHERE id = ?1",
    "SELECT session_id, source_sha256, start_seconds, end_seconds, channel FROM utterances WHERE id = ?1",
    "SELECT id FROM utterances WHERE session_id = ?1 ORDER BY id",
    "INSERT INTO temp.ingest_keep SELECT id, source_sha256, start_seconds, end_seconds, "
    "source_rate, source_channels, duration, audio, channel FROM utterances WHERE session_id = ?1",
    "DELETE FROM sessions WHERE id = ?1",
    "INSERT INTO sessions(id, scenario, manifest_path, manifest_sha256) VALUES (?1, ?2, ?3, ?4)",
    "INSERT INTO speakers(id, gender, name) VALUES (?1, ?2, ?3) ON CONFLICT(id) DO UPDATE SET "
    "gender = coalesce(excluded.gender, gender), name = coalesce(excluded.name, name)",
    "INSERT INTO utterances(id, session_id, speaker_id, role, source_path, source_sha256, "
    "start_seconds, end_seconds, text, source_rate, source_channels, duration, audio, channel) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    "INSERT INTO utterances(id, session_id, speaker_id, role, source_path, source_sha256, "
    "start_seconds, end_seconds, text, source_rate, source_channels, duration, audio, channel) "
    "SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, source_rate, source_channels, duration, audio, ?14 "
    "FROM temp.ingest_keep WHERE id = ?1 AND sha = ?6 AND start_seconds IS ?7 AND end_seconds IS ?8 "
    "AND channel IS ?14",
    "DELETE FROM temp.ingest_keep",
    "SELECT count(*), total(duration) FROM utterances WHERE session_id = ?1",
    "DELETE FROM features WHERE modality = 'audio' AND key = ?1",
};

static clap_status writer_open(writer *w, sqlite3 *db, clap_error *err) {
  memset(w, 0, sizeof *w);
  w->db = db;
  clap_status rc = db_exec(db,
                           "CREATE TEMP TABLE IF NOT EXISTS ingest_keep(id TEXT PRIMARY KEY, sha TEXT, "
                           "start_seconds REAL, end_seconds REAL, source_rate INTEGER, "
                           "source_channels INTEGER, duration REAL, audio BLOB, channel INTEGER)",
                           err);
  sqlite3_stmt **st[] = {&w->q_session, &w->q_utt,       &w->q_ids,   &w->keep,
                         &w->del,       &w->ins_session, &w->ins_speaker, &w->ins_utt,
                         &w->ins_kept,  &w->clear_keep,  &w->q_hours, &w->drop_features};
  for (size_t i = 0; rc == CLAP_OK && i < sizeof st / sizeof st[0]; i++)
    if (sqlite3_prepare_v2(db, writer_sql[i], -1, st[i], NULL) != SQLITE_OK)
      rc = clap_error_set(err, CLAP_ERR_INTERNAL, "%s (in SQL: %.60s)", sqlite3_errmsg(db),
                          writer_sql[i]);
  return rc;
}

static void writer_close(writer *w) {
  sqlite3_stmt *st[] = {w->q_session, w->q_utt,       w->q_ids,   w->keep,
                        w->del,       w->ins_session, w->ins_speaker, w->ins_utt,
                        w->ins_kept,  w->clear_keep,  w->q_hours, w->drop_features};
  for (size_t i = 0; i < sizeof st / sizeof st[0]; i++) sqlite3_finalize(st[i]);
}

/* Step a statement that returns no rows (or whose rows we skip), then reset it. */
static int run(sqlite3_stmt *st) {
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static void bind_opt_text(sqlite3_stmt *st, int i, const char *s) {
  if (s) sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
  else sqlite3_bind_null(st, i);
}

/* Print the session's decode/read errors; returns how many utterances failed. */
static int report_utterance_errors(const session_job *j) {
  int nfail = 0, shown = 0;
  for (int k = 0; k < manifest_n_utterances(j->m); k++) {
    const manifest_utterance *u = manifest_utterance_at(j->m, k);
    const utt_job *r = &j->utts[k];
    const source *s = &j->sources[u->source];
    if (!r->failed) continue;
    nfail++;
    /* A source error is shown once, at its first utterance. */
    int first_of_source = 1;
    for (int p = 0; p < k && s->failed; p++)
      if (manifest_utterance_at(j->m, p)->source == u->source) first_of_source = 0;
    if (s->failed && !first_of_source) continue;
    if (shown++ < MAX_ERRORS_PER_SESSION)
      fprintf(stderr, "clap ingest: %s: %s: %s\n", j->path, u->id, s->failed ? s->err : r->err);
  }
  if (shown > MAX_ERRORS_PER_SESSION)
    fprintf(stderr, "clap ingest: %s: ... and %d more errors\n", j->path, shown - MAX_ERRORS_PER_SESSION);
  return nfail;
}

typedef enum { OUT_INGESTED, OUT_SKIPPED, OUT_FAILED } outcome;

/* What the database holds for the session, compared with the manifest. */
typedef struct compare {
  int exists, same_manifest;
  int n_same, n_in_session;
  char msg[CLAP_ERROR_MSG_MAX];  /* the first difference or conflict */
  int conflict;                  /* an utterance of another session: never replaceable */
} compare;

static void short_sha(char *out, const char *sha) {
  size_t n = strnlen(sha, 12);
  memcpy(out, sha, n);
  out[n] = 0;
}

static int compare_utterance(writer *w, session_job *j, int k, compare *c) {
  const manifest_utterance *u = manifest_utterance_at(j->m, k);
  const source *s = &j->sources[u->source];
  sqlite3_stmt *q = w->q_utt;
  sqlite3_bind_text(q, 1, u->id, -1, SQLITE_STATIC);
  int rc = sqlite3_step(q);
  if (rc == SQLITE_ROW) {
    const char *sid = (const char *)sqlite3_column_text(q, 0);
    const char *sha = (const char *)sqlite3_column_text(q, 1);
    utt_job r = {0};
    read_cut(q, 2, &r);
    char a[16], b[16];
    short_sha(a, sha ? sha : "");
    short_sha(b, s->sha);
    if (!sid || strcmp(sid, manifest_session(j->m))) {
      c->conflict = 1;
      snprintf(c->msg, sizeof c->msg, "%s: utterance id already belongs to session %s", u->id,
               sid ? sid : "?");
    } else if (!sha || strcmp(sha, s->sha)) {
      if (!c->msg[0])
        snprintf(c->msg, sizeof c->msg, "%s: source changed (sha256 %s... -> %s...); use --replace",
                 u->id, a, b);
    } else if (!same_cut(&r, u)) {
      if (!c->msg[0])
        snprintf(c->msg, sizeof c->msg, "%s: %s changed; use --replace", u->id,
                 r.db_channel != u->channel ? "channel" : "cut");
    } else {
      c->n_same++;
    }
    rc = SQLITE_DONE;
  } else if (rc == SQLITE_DONE && c->exists && !c->msg[0]) {
    snprintf(c->msg, sizeof c->msg, "%s: new utterance in a session already ingested; use --replace",
             u->id);
  }
  sqlite3_reset(q);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int compare_session(writer *w, session_job *j, compare *c) {
  memset(c, 0, sizeof *c);
  const char *sid = manifest_session(j->m);
  sqlite3_bind_text(w->q_session, 1, sid, -1, SQLITE_STATIC);
  int rc = sqlite3_step(w->q_session);
  if (rc == SQLITE_ROW) {
    const char *sha = (const char *)sqlite3_column_text(w->q_session, 0);
    c->exists = 1;
    c->same_manifest = sha && !strcmp(sha, manifest_sha256(j->m));
    rc = SQLITE_DONE;
  }
  sqlite3_reset(w->q_session);
  for (int k = 0; rc == SQLITE_DONE && k < manifest_n_utterances(j->m); k++)
    rc = compare_utterance(w, j, k, c) == SQLITE_OK ? SQLITE_DONE : SQLITE_ERROR;
  /* Rows of the session the manifest no longer lists. */
  sqlite3_bind_text(w->q_ids, 1, sid, -1, SQLITE_STATIC);
  if (rc == SQLITE_DONE) rc = SQLITE_ROW;
  while (rc == SQLITE_ROW && (rc = sqlite3_step(w->q_ids)) == SQLITE_ROW) {
    const char *id = (const char *)sqlite3_column_text(w->q_ids, 0);
    int listed = 0;
    c->n_in_session++;
    for (int k = 0; id && !listed && k < manifest_n_utterances(j->m); k++)
      listed = !strcmp(manifest_utterance_at(j->m, k)->id, id);
    if (!listed && !c->msg[0])
      snprintf(c->msg, sizeof c->msg,
               "%s: in the database but no longer in the manifest; use --replace", id ? id : "?");
  }
  sqlite3_reset(w->q_ids);
  return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int insert_utterance(writer *w, session_job *j, int k, int *missing) {
  const manifest_utterance *u = manifest_utterance_at(j->m, k);
  const utt_job *r = &j->utts[k];
  int kept = !r->flac;
  sqlite3_stmt *st = kept ? w->ins_kept : w->ins_utt;
  sqlite3_bind_text(st, 1, u->id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, manifest_session(j->m), -1, SQLITE_STATIC);
  bind_opt_text(st, 3, u->speaker);
  sqlite3_bind_text(st, 4, u->role, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, u->audio, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 6, j->sources[u->source].sha, -1, SQLITE_STATIC);
  if (u->has_start) sqlite3_bind_double(st, 7, u->start);
  if (u->has_end) sqlite3_bind_double(st, 8, u->end);
  bind_opt_text(st, 9, u->text);
  if (u->channel != MANIFEST_MIX) sqlite3_bind_int(st, 14, u->channel);
  if (!kept) {
    sqlite3_bind_int(st, 10, r->rate);
    sqlite3_bind_int(st, 11, r->channels);
    sqlite3_bind_double(st, 12, r->duration);
    sqlite3_bind_blob64(st, 13, r->flac, r->nflac, SQLITE_STATIC);
  }
  int rc = run(st);
  if (rc == SQLITE_OK && kept && sqlite3_changes(w->db) != 1) *missing = 1;
  /* New audio under this id: a cached vector of the old audio (any encoder)
  ** would be taken for it, so it goes in the same transaction. */
  if (rc == SQLITE_OK && !kept) {
    sqlite3_bind_text(w->drop_features, 1, u->id, -1, SQLITE_STATIC);
    rc = run(w->drop_features);
  }
  return rc;
}

static int insert_speakers(writer *w, session_job *j) {
  int rc = SQLITE_OK;
  for (int i = 0; rc == SQLITE_OK && i < manifest_n_speakers(j->m); i++) {
    const manifest_speaker *s = manifest_speaker_at(j->m, i);
    sqlite3_bind_text(w->ins_speaker, 1, s->id, -1, SQLITE_STATIC);
    bind_opt_text(w->ins_speaker, 2, s->gender);
    bind_opt_text(w->ins_speaker, 3, s->name);
    rc = run(w->ins_speaker);
  }
  for (int k = 0; rc == SQLITE_OK && k < manifest_n_utterances(j->m); k++) {
    const char *id = manifest_utterance_at(j->m, k)->speaker;
    if (!id) continue;
    sqlite3_bind_text(w->ins_speaker, 1, id, -1, SQLITE_STATIC);
    rc = run(w->ins_speaker);
  }
  return rc;
}

/* The session row and its speakers, inside the open transaction. */
static int insert_session_row(writer *w, session_job *j) {
  sqlite3_stmt *st = w->ins_session;
  sqlite3_bind_text(st, 1, manifest_session(j->m), -1, SQLITE_STATIC);
  bind_opt_text(st, 2, manifest_scenario(j->m));
  sqlite3_bind_text(st, 3, j->path, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, manifest_sha256(j->m), -1, SQLITE_STATIC);
  int rc = run(st);
  return rc == SQLITE_OK ? insert_speakers(w, j) : rc;
}

/* The session's rows, inside the open transaction. */
static int write_session(writer *w, session_job *j, int exists, int *missing) {
  const char *sid = manifest_session(j->m);
  int rc = SQLITE_OK;
  if (exists) {
    sqlite3_bind_text(w->keep, 1, sid, -1, SQLITE_STATIC);
    rc = run(w->keep);
    sqlite3_bind_text(w->del, 1, sid, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = run(w->del);
  }
  if (rc == SQLITE_OK) rc = insert_session_row(w, j);
  for (int k = 0; rc == SQLITE_OK && !*missing && k < manifest_n_utterances(j->m); k++)
    rc = insert_utterance(w, j, k, missing);
  if (rc == SQLITE_OK) rc = run(w->clear_keep);
  return rc;
}

/* The session's utterances and seconds as written, read inside its
** transaction (added to the totals once it commits). */
static int count_written(writer *w, const char *sid, long long *utterances, double *seconds) {
  sqlite3_bind_text(w->q_hours, 1, sid, -1, SQLITE_STATIC);
  int rc = sqlite3_step(w->q_hours);
  if (rc == SQLITE_ROW) {
    *utterances = sqlite3_column_int64(w->q_hours, 0);
    *seconds = sqlite3_column_double(w->q_hours, 1);
  }
  sqlite3_reset(w->q_hours);
  return rc == SQLITE_ROW ? SQLITE_OK : rc == SQLITE_DONE ? SQLITE_INTERNAL : rc;
}

static outcome fail_session(session_job *j, const char *msg) {
  fprintf(stderr, "clap ingest: %s: %s\n", j->path, msg);
  return OUT_FAILED;
}

static outcome sql_failure(writer *w, session_job *j) {
  char msg[CLAP_ERROR_MSG_MAX];
  snprintf(msg, sizeof msg, "session %s: database error: %s", manifest_session(j->m),
           db_errmsg(w->db));
  db_rollback(w->db);
  sqlite3_reset(w->clear_keep);
  if (sqlite3_step(w->clear_keep) != SQLITE_DONE) {
    size_t len = strlen(msg);
    snprintf(msg + len, sizeof msg - len, "; clearing temp.ingest_keep failed too: %s", sqlite3_errmsg(w->db));
  }
  sqlite3_reset(w->clear_keep);
  return fail_session(j, msg);
}

static outcome rollback_with(writer *w, session_job *j, const char *msg) {
  db_rollback(w->db);
  return fail_session(j, msg);
}

static outcome commit_session(writer *w, ingest *g, session_job *j) {
  if (sqlite3_exec(w->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) return sql_failure(w, j);
  compare c;
  if (compare_session(w, j, &c) != SQLITE_OK) return sql_failure(w, j);
  if (c.conflict) return rollback_with(w, j, c.msg);
  int n = manifest_n_utterances(j->m);
  int unchanged = c.exists && c.n_same == n && c.n_in_session == n;
  if (unchanged && (!g->replace || c.same_manifest)) {
    db_rollback(w->db);
    return OUT_SKIPPED;
  }
  if (c.exists && !g->replace && c.msg[0]) return rollback_with(w, j, c.msg);
  int missing = 0;
  if (write_session(w, j, c.exists, &missing) != SQLITE_OK) return sql_failure(w, j);
  if (missing) {
    db_rollback(w->db);
    sqlite3_exec(w->db, "DELETE FROM temp.ingest_keep", NULL, NULL, NULL);
    return fail_session(j, "the database changed while ingesting; run again");
  }
  long long utterances = 0;
  double seconds = 0;
  if (count_written(w, manifest_session(j->m), &utterances, &seconds) != SQLITE_OK) return sql_failure(w, j);
  if (sqlite3_exec(w->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) return sql_failure(w, j);
  w->utterances += utterances;
  w->seconds += seconds;
  return OUT_INGESTED;
}

static void wait_done(ingest *g, const utt_job *r) {
  pthread_mutex_lock(&g->mu);
  while (!r->done) pthread_cond_wait(&g->cv, &g->mu);
  pthread_mutex_unlock(&g->mu);
}

static void wait_all(ingest *g, const session_job *j) {
  pthread_mutex_lock(&g->mu);
  while (j->left > 0) pthread_cond_wait(&g->cv, &g->mu);
  pthread_mutex_unlock(&g->mu);
}

/* "ID: utterance id already belongs to session S", S read from DB. */
static void owner_conflict(writer *w, const char *id, char *msg, size_t cap) {
  sqlite3_bind_text(w->q_utt, 1, id, -1, SQLITE_STATIC);
  int step = sqlite3_step(w->q_utt);
  const char *sid = step == SQLITE_ROW ? (const char *)sqlite3_column_text(w->q_utt, 0) : NULL;
  if (step == SQLITE_ROW || step == SQLITE_DONE)
    snprintf(msg, cap, "%s: utterance id already belongs to session %s", id, sid ? sid : "?");
  else
    snprintf(msg, cap, "%s: utterance id already belongs to another session (reading it: %s)", id,
             sqlite3_errmsg(w->db));
  sqlite3_reset(w->q_utt);
}

/* Whether session j has a row in DB, inside the open transaction. */
static int session_exists(writer *w, session_job *j, int *exists) {
  sqlite3_bind_text(w->q_session, 1, manifest_session(j->m), -1, SQLITE_STATIC);
  int rc = sqlite3_step(w->q_session);
  *exists = rc == SQLITE_ROW;
  sqlite3_reset(w->q_session);
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* A session not in DB yet, written as its utterances finish decoding, each
** one's FLAC freed once inserted: memory stays at what the workers have in
** flight, not the whole session. The transaction is the session's one; any
** failed utterance (or one whose id another session holds) rolls it all
** back. Returns -1 when the session turned out to exist (nothing done, the
** transaction closed): the caller compares it whole. */
static int stream_session(writer *w, ingest *g, session_job *j, outcome *o) {
  if (sqlite3_exec(w->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
    wait_all(g, j);
    return *o = sql_failure(w, j), 0;
  }
  int exists = 0, rc = session_exists(w, j, &exists);
  if (rc == SQLITE_OK && exists) {
    db_rollback(w->db);
    return -1;
  }
  int missing = 0, nfail = 0;
  char conflict[CLAP_ERROR_MSG_MAX] = "";
  if (rc == SQLITE_OK) rc = insert_session_row(w, j);
  for (int k = 0; k < manifest_n_utterances(j->m); k++) {
    utt_job *r = &j->utts[k];
    wait_done(g, r);
    if (r->failed) nfail++;
    else if (r->known && !conflict[0])
      owner_conflict(w, manifest_utterance_at(j->m, k)->id, conflict, sizeof conflict);
    if (rc == SQLITE_OK && !nfail && !conflict[0]) rc = insert_utterance(w, j, k, &missing);
    free(r->flac);
    r->flac = NULL;
  }
  if (nfail) report_utterance_errors(j);
  long long utterances = 0;
  double seconds = 0;
  if (rc == SQLITE_OK && !nfail && !conflict[0])
    rc = count_written(w, manifest_session(j->m), &utterances, &seconds);
  if (rc != SQLITE_OK) *o = sql_failure(w, j);
  else if (nfail) db_rollback(w->db), *o = OUT_FAILED;
  else if (conflict[0]) *o = rollback_with(w, j, conflict);
  else if (sqlite3_exec(w->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) *o = sql_failure(w, j);
  else w->utterances += utterances, w->seconds += seconds, *o = OUT_INGESTED;
  return 0;
}

static outcome write_job(writer *w, ingest *g, session_job *j) {
  if (!j->m) {
    fprintf(stderr, "clap ingest: %s\n", j->err);
    return OUT_FAILED;
  }
  if (j->dup_of >= 0) {
    char msg[CLAP_ERROR_MSG_MAX];
    snprintf(msg, sizeof msg, "session %s is also in %s", manifest_session(j->m),
             g->jobs[j->dup_of].path);
    return fail_session(j, msg);
  }
  outcome o;
  if (stream_session(w, g, j, &o) == 0) return o;
  /* A session DB already has: compared whole, so every utterance is done. */
  wait_all(g, j);
  if (report_utterance_errors(j) > 0) return OUT_FAILED;
  return commit_session(w, g, j);
}

/* ---- the command -------------------------------------------------------- */

static long total_utterances(const ingest *g) {
  long n = 0;
  for (int i = 0; i < g->njobs; i++)
    if (g->jobs[i].m) n += manifest_n_utterances(g->jobs[i].m);
  return n;
}

/* The writer loop: sessions in order as their utterances finish. */
static void write_all(ingest *g, writer *w) {
  progress *p = progress_create("ingest", total_utterances(g));
  long done = 0;
  for (int i = 0; i < g->njobs; i++) {
    session_job *j = &g->jobs[i];
    outcome o = write_job(w, g, j);
    wait_all(g, j); /* a failed session may return before its last utterances */
    if (o == OUT_INGESTED) w->sessions_ok++;
    else if (o == OUT_SKIPPED) w->skipped++;
    else w->failed++;
    done += j->m ? manifest_n_utterances(j->m) : 0;
    progress_update(p, done, j->m ? manifest_session(j->m) : NULL);
    free_job_results(j);
    pthread_mutex_lock(&g->mu);
    g->written = i + 1;
    if (o == OUT_FAILED && !g->keep_going) g->stop = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    if (g->stop) break;
  }
  progress_finish(p);
}

static int run_ingest(ingest *g, sqlite3 *db, const char **paths) {
  clap_error err;
  clap_error_clear(&err);
  /* --segment reads every recording here, before any utterance is ingested. */
  progress *p = g->segment ? progress_create("segment", g->njobs) : NULL;
  for (int i = 0; i < g->njobs; i++) {
    if (setup_job(db, g, i, paths[i], &err) != CLAP_OK) {
      progress_finish(p);
      fprintf(stderr, "clap ingest: %s\n", err.msg);
      return 1;
    }
    progress_update(p, i + 1, paths[i]);
  }
  progress_finish(p);
  writer w;
  if (writer_open(&w, db, &err) != CLAP_OK) {
    writer_close(&w);
    fprintf(stderr, "clap ingest: %s\n", err.msg);
    return 1;
  }
  pthread_t *tid = calloc((size_t)g->workers, sizeof *tid);
  int started = 0;
  for (; tid && started < g->workers; started++)
    if (pthread_create(&tid[started], NULL, worker_main, g) != 0) break;
  if (started == 0) {
    writer_close(&w);
    free(tid);
    fprintf(stderr, "clap ingest: cannot start worker threads\n");
    return 1;
  }
  write_all(g, &w);
  pthread_mutex_lock(&g->mu);
  g->stop = 1;
  pthread_cond_broadcast(&g->cv);
  pthread_mutex_unlock(&g->mu);
  for (int i = 0; i < started; i++) pthread_join(tid[i], NULL);
  free(tid);
  writer_close(&w);
  printf("ingest: %ld sessions ingested, %ld skipped, %ld failed; %ld utterances, %.3f hours of audio\n",
         w.sessions_ok, w.skipped, w.failed, w.utterances, w.seconds / 3600.0);
  return w.failed ? 1 : 0;
}

int cmd_ingest(int argc, char **argv) {
  ingest g;
  memset(&g, 0, sizeof g);
  g.workers = default_workers();
  g.max_seconds = DEFAULT_MAX_SECONDS;
  segment_request_init(&g.seg);
  const char *dbpath = NULL, **paths = NULL;
  int npaths = 0;
  int status = parse_args(argc, argv, &g, &dbpath, &paths, &npaths);
  if (status >= 0) return status;
  clap_error err;
  sqlite3 *db = NULL;
  if (db_open(dbpath, g.create ? DB_CREATE : DB_CREATE_HINT, &db, &err) != CLAP_OK) {
    fprintf(stderr, "clap ingest: %s\n", err.msg);
    return 1;
  }
  /* WAL + NORMAL: a commit survives a crash of this process (kill -9) and
  ** the file is never corrupted; only a power loss may roll back the last
  ** sessions, which a re-run then ingests. FULL costs an fsync per session. */
  sqlite3_exec(db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL);
  g.njobs = npaths;
  g.jobs = calloc((size_t)npaths, sizeof *g.jobs);
  g.window = 2 * g.workers + 2;
  pthread_mutex_init(&g.mu, NULL);
  pthread_cond_init(&g.cv, NULL);
  if (!g.jobs) {
    fprintf(stderr, "clap ingest: out of memory\n");
    status = 1;
  } else {
    status = run_ingest(&g, db, paths);
  }
  for (int i = 0; g.jobs && i < g.njobs; i++) free_job_results(&g.jobs[i]);
  free(g.jobs);
  pthread_cond_destroy(&g.cv);
  pthread_mutex_destroy(&g.mu);
  db_close(db);
  return status;
}
