/* calls — see calls.h. */
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT3

#include "calls.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "audio.h"
#include "sqlfn.h"
#include "vad.h"

/* clap_segments streams, so it reads longer recordings than a decode does
** (SQLFN_AUDIO_MAX_SECONDS). */
#define CALLS_SEGMENTS_MAX_SECONDS (4 * 3600.0)

/* A channel argument: a non-negative integer (or integral real). -1 on error. */
static int arg_channel(sqlite3_value *v, const char *fn, int argi, char **msg) {
  int t = sqlite3_value_type(v);
  double d = sqlite3_value_double(v);
  if ((t == SQLITE_INTEGER || t == SQLITE_FLOAT) && d >= 0 && d < AUDIO_MAX_CHANNELS && d == floor(d))
    return (int)d;
  *msg = sqlite3_mprintf("%s(): argument %d: expected a channel index in [0, %d], got %s%s%s", fn,
                         argi, AUDIO_MAX_CHANNELS - 1,
                         t == SQLITE_TEXT ? "'" : "",
                         t == SQLITE_TEXT || t == SQLITE_INTEGER || t == SQLITE_FLOAT
                             ? (const char *)sqlite3_value_text(v)
                             : sqlfn_type_name(t),
                         t == SQLITE_TEXT ? "'" : "");
  return -1;
}

static void fn_audio_channel(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  const char *fn = "clap_audio_channel";
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL || sqlite3_value_type(argv[1]) == SQLITE_NULL) {
    sqlite3_result_null(ctx);
    return;
  }
  const void *bytes;
  int nbytes;
  char *msg = NULL;
  int ch = -1;
  if (sqlfn_arg_bytes(argv[0], fn, 1, 0, &bytes, &nbytes, &msg) == 0)
    ch = arg_channel(argv[1], fn, 2, &msg);
  if (ch < 0) {
    if (msg) sqlite3_result_error(ctx, msg, -1);
    else sqlite3_result_error_nomem(ctx);
    sqlite3_free(msg);
    return;
  }
  audio_options opts = {.max_seconds = SQLFN_AUDIO_MAX_SECONDS, .channel = AUDIO_CHANNEL(ch)};
  if (argc == 4) {
    for (int i = 2; i < 4; i++) {
      int t = sqlite3_value_type(argv[i]);
      if (t != SQLITE_INTEGER && t != SQLITE_FLOAT) {
        sqlfn_errorf(ctx, "%s(): argument %d: expected seconds (a number), got %s", fn, i + 1,
                      sqlfn_type_name(t));
        return;
      }
    }
    opts.start_seconds = sqlite3_value_double(argv[2]);
    opts.end_seconds = sqlite3_value_double(argv[3]);
    /* A cut is bounded by its own length, not the recording's. */
    opts.max_seconds = 0;
    if (opts.end_seconds - opts.start_seconds > SQLFN_AUDIO_MAX_SECONDS) {
      sqlfn_errorf(ctx, "%s(): the cut [%g s, %g s) is longer than %g s", fn, opts.start_seconds,
                    opts.end_seconds, SQLFN_AUDIO_MAX_SECONDS);
      return;
    }
  }
  audio_pcm *pcm = NULL;
  clap_error err;
  unsigned char *flac = NULL;
  size_t nflac = 0;
  clap_status rc = audio_decode_memory(bytes, (size_t)nbytes, "argument 1", &opts, &pcm, &err);
  if (rc == CLAP_OK) rc = audio_encode_flac(pcm->samples, pcm->n, pcm->rate, &flac, &nflac, &err);
  audio_pcm_free(pcm);
  if (rc != CLAP_OK) sqlfn_clap_error(ctx, fn, &err);
  else sqlite3_result_blob64(ctx, flac, nflac, free);
}

enum { SEG_START, SEG_END, SEG_CHANNEL, SEG_LEVEL, SEG_AUDIO, SEG_WANT, SEG_OPTIONS };

typedef struct seg_cursor {
  sqlite3_vtab_cursor base;
  vad_segment *segs;
  long n, i;
} seg_cursor;

static int seg_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                       sqlite3_vtab **out, char **err) {
  int rc = sqlite3_declare_vtab(db, "CREATE TABLE x(start REAL, \"end\" REAL, channel INTEGER, "
                                    "level_db REAL, audio HIDDEN, want_channel HIDDEN, "
                                    "options HIDDEN)");
  if (rc != SQLITE_OK) return rc;
  sqlite3_vtab *t = sqlite3_malloc(sizeof *t);
  if (!t) return SQLITE_NOMEM;
  memset(t, 0, sizeof *t);
  sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
  *out = t;
  return SQLITE_OK;
}

static int seg_disconnect(sqlite3_vtab *t) {
  sqlite3_free(t);
  return SQLITE_OK;
}

/* The hidden columns are the arguments: audio is required, the others
** optional; each equality constraint is passed to xFilter in column order
** (idxNum's bits say which are there). */
static int seg_best_index(sqlite3_vtab *t, sqlite3_index_info *info) {
  int where[3] = {-1, -1, -1};
  for (int i = 0; i < info->nConstraint; i++) {
    const struct sqlite3_index_constraint *c = &info->aConstraint[i];
    if (c->iColumn < SEG_AUDIO || c->op != SQLITE_INDEX_CONSTRAINT_EQ) continue;
    if (!c->usable) return SQLITE_CONSTRAINT;
    where[c->iColumn - SEG_AUDIO] = i;
  }
  if (where[0] < 0) {
    sqlite3_free(t->zErrMsg);
    t->zErrMsg = sqlite3_mprintf("clap_segments(): argument 1 (the audio) is required");
    return SQLITE_ERROR;
  }
  int argi = 0;
  for (int k = 0; k < 3; k++) {
    if (where[k] < 0) continue;
    info->aConstraintUsage[where[k]].argvIndex = ++argi;
    info->aConstraintUsage[where[k]].omit = 1;
    info->idxNum |= 1 << k;
  }
  info->estimatedCost = 1000;
  info->estimatedRows = 100;
  return SQLITE_OK;
}

static int seg_open(sqlite3_vtab *t, sqlite3_vtab_cursor **out) {
  seg_cursor *c = sqlite3_malloc(sizeof *c);
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof *c);
  *out = &c->base;
  return SQLITE_OK;
}

static int seg_close(sqlite3_vtab_cursor *cur) {
  seg_cursor *c = (seg_cursor *)cur;
  free(c->segs);
  sqlite3_free(c);
  return SQLITE_OK;
}

static int seg_fail(sqlite3_vtab_cursor *cur, int code, char *msg) {
  sqlite3_free(cur->pVtab->zErrMsg);
  cur->pVtab->zErrMsg = msg;
  return msg ? code : SQLITE_NOMEM;
}

/* Channel argument of clap_segments: an index, or 'all' / NULL. */
static int seg_channel(sqlite3_value *v, int *ch, char **msg) {
  int t = sqlite3_value_type(v);
  if (t == SQLITE_NULL ||
      (t == SQLITE_TEXT && !sqlite3_stricmp((const char *)sqlite3_value_text(v), "all"))) {
    *ch = VAD_ALL_CHANNELS;
    return 1;
  }
  *ch = arg_channel(v, "clap_segments", 2, msg);
  if (*ch < 0 && *msg) {
    char *m = sqlite3_mprintf("%s or 'all'", *msg);
    sqlite3_free(*msg);
    *msg = m;
  }
  return *ch >= 0;
}

static int seg_filter(sqlite3_vtab_cursor *cur, int idxNum, const char *idxStr, int argc,
                      sqlite3_value **argv) {
  seg_cursor *c = (seg_cursor *)cur;
  free(c->segs);
  c->segs = NULL;
  c->n = c->i = 0;
  sqlite3_value *audio = argv[0], *want = idxNum & 2 ? argv[1] : NULL;
  sqlite3_value *options = idxNum & 4 ? argv[argc - 1] : NULL;
  const void *bytes;
  int nbytes;
  char *msg = NULL;
  int a = sqlfn_arg_bytes(audio, "clap_segments", 1, 0, &bytes, &nbytes, &msg);
  if (a) return a == 1 ? SQLITE_OK : seg_fail(cur, SQLITE_ERROR, msg);
  int ch = VAD_ALL_CHANNELS;
  if (want && !seg_channel(want, &ch, &msg)) return seg_fail(cur, SQLITE_ERROR, msg);
  vad_options o;
  vad_options_default(&o);
  clap_error err;
  if (options && sqlite3_value_type(options) != SQLITE_NULL) {
    const char *j = (const char *)sqlite3_value_text(options);
    if (!j || vad_options_from_json(j, (size_t)sqlite3_value_bytes(options), &o, &err) != CLAP_OK)
      return seg_fail(cur, SQLITE_ERROR,
                      sqlite3_mprintf("clap_segments(): argument 3: %s", j ? err.msg : "out of memory"));
  }
  clap_status rc = vad_segment_memory(bytes, (size_t)nbytes, "argument 1", ch, &o,
                                      CALLS_SEGMENTS_MAX_SECONDS, &c->segs, &c->n, NULL, &err);
  if (rc == CLAP_ERR_NOMEM) return SQLITE_NOMEM;
  if (rc != CLAP_OK)
    return seg_fail(cur, SQLITE_ERROR, sqlite3_mprintf("clap_segments(): %s", err.msg));
  return SQLITE_OK;
}

static int seg_next(sqlite3_vtab_cursor *cur) {
  ((seg_cursor *)cur)->i++;
  return SQLITE_OK;
}

static int seg_eof(sqlite3_vtab_cursor *cur) {
  seg_cursor *c = (seg_cursor *)cur;
  return c->i >= c->n;
}

static int seg_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col) {
  seg_cursor *c = (seg_cursor *)cur;
  const vad_segment *s = &c->segs[c->i];
  switch (col) {
    case SEG_START: sqlite3_result_double(ctx, s->start); break;
    case SEG_END: sqlite3_result_double(ctx, s->end); break;
    case SEG_CHANNEL: sqlite3_result_int(ctx, s->channel); break;
    case SEG_LEVEL: sqlite3_result_double(ctx, s->level_db); break;
    default: sqlite3_result_null(ctx); break;
  }
  return SQLITE_OK;
}

static int seg_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid) {
  *rowid = ((seg_cursor *)cur)->i + 1;
  return SQLITE_OK;
}

static const sqlite3_module segments_module = {
    .iVersion = 0,
    .xCreate = NULL, /* eponymous only: no CREATE VIRTUAL TABLE */
    .xConnect = seg_connect,
    .xBestIndex = seg_best_index,
    .xDisconnect = seg_disconnect,
    .xOpen = seg_open,
    .xClose = seg_close,
    .xFilter = seg_filter,
    .xNext = seg_next,
    .xEof = seg_eof,
    .xColumn = seg_column,
    .xRowid = seg_rowid,
};

int calls_register(sqlite3 *db) {
  int rc = SQLITE_OK;
  for (int nargs = 2; nargs <= 4 && rc == SQLITE_OK; nargs += 2)
    rc = sqlite3_create_function_v2(db, "clap_audio_channel", nargs,
                                    SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
                                    fn_audio_channel, NULL, NULL, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_create_module(db, "clap_segments", &segments_module, NULL);
  return rc;
}
