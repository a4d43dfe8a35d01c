/* shard — see shard.h. */
#include "shard.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clap_version.h"
#include "db.h"
#include "encoder.h"
#include "feature_cache.h"

#define SCHEMA "clap_merge_shard" /* the ATTACH name; not a name users pick */

/* Strict decimal in 0..SHARD_MAX_N; -1 when s is anything else. */
static long parse_count(const char *s, size_t len) {
  if (len == 0 || len > 7) return -1;
  long v = 0;
  for (size_t i = 0; i < len; i++) {
    if (!isdigit((unsigned char)s[i])) return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v <= SHARD_MAX_N ? v : -1;
}

clap_status shard_parse(const char *arg, int *k, int *n, clap_error *err) {
  *k = *n = 0;
  if (!arg) return clap_error_set(err, CLAP_ERR_ARG, "--shard wants K/N, got nothing");
  const char *slash = strchr(arg, '/');
  long kk = slash ? parse_count(arg, (size_t)(slash - arg)) : -1;
  long nn = slash ? parse_count(slash + 1, strlen(slash + 1)) : -1;
  if (kk < 0 || nn < 0)
    return clap_error_set(err, CLAP_ERR_ARG,
                          "--shard wants K/N (two whole numbers, e.g. 2/8), not '%.64s'", arg);
  if (nn < 1)
    return clap_error_set(err, CLAP_ERR_ARG, "--shard '%s': N must be at least 1", arg);
  if (kk < 1 || kk > nn)
    return clap_error_set(err, CLAP_ERR_ARG,
                          "--shard '%s': K must be 1..%ld (shards are numbered from 1)", arg, nn);
  *k = (int)kk;
  *n = (int)nn;
  return CLAP_OK;
}

int shard_of(const char *key, int n) {
  if (n < 1) return 0;
  unsigned char d[SHA256_DIGEST_SIZE];
  sha256_ctx c;
  sha256_init(&c);
  sha256_update(&c, key, strlen(key));
  if (sha256_final(&c, d)) return 0;
  uint64_t h = 0;
  for (int i = 0; i < 8; i++) h = h << 8 | d[i];
  return 1 + (int)(h % (uint64_t)n);
}

clap_status shard_default_path(const char *db_path, int k, int n, char *out, size_t cap,
                               clap_error *err) {
  size_t len = strlen(db_path);
  if (len > 3 && !strcmp(db_path + len - 3, ".db")) len -= 3;
  int w = snprintf(out, cap, "%.*s.shard-%d-of-%d.db", (int)len, db_path, k, n);
  if (w < 0 || (size_t)w >= cap)
    return clap_error_set(err, CLAP_ERR_ARG, "shard path for '%s' is too long (use --out)",
                          db_path);
  return CLAP_OK;
}

clap_status shard_fingerprint(sqlite3 *db, char hex[SHA256_HEX_SIZE], clap_error *err) {
  sqlite3_stmt *st;
  hex[0] = 0;
  if (sqlite3_prepare_v2(db,
                         "SELECT id, source_sha256, quote(start_seconds), quote(end_seconds) "
                         "FROM main.utterances ORDER BY id",
                         -1, &st, NULL) != SQLITE_OK)
    return clap_error_set(err, CLAP_ERR_INTERNAL, "reading utterances: %s", sqlite3_errmsg(db));
  sha256_ctx c;
  sha256_init(&c);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    /* Each field ends in a NUL, so no two rows hash alike by shifting text
    ** from one field to the next. */
    for (int i = 0; i < 4; i++) {
      const unsigned char *t = sqlite3_column_text(st, i);
      sha256_update(&c, t ? (const char *)t : "", t ? (size_t)sqlite3_column_bytes(st, i) : 0);
      sha256_update(&c, "", 1);
    }
  }
  clap_status s = CLAP_OK;
  if (rc != SQLITE_DONE) {
    sha256_discard(&c);
    s = clap_error_set(err, CLAP_ERR_IO, "reading utterances: %s", sqlite3_errmsg(db));
  } else if (sha256_final_hex(&c, hex)) {
    s = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory hashing the utterances");
  }
  sqlite3_finalize(st);
  return s;
}

/* ---------------------------------------------------------------- record */

static const char *col_text(sqlite3_stmt *st, int i) {
  const unsigned char *t = sqlite3_column_text(st, i);
  return t ? (const char *)t : "";
}

static clap_status update_encoders(sqlite3 *sdb, const char *sdb_path, const shard_info *info,
                                   clap_error *err) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(sdb,
                         "UPDATE clap_shard SET audio_encoder_sha256 = ?, text_encoder_sha256 = ?, "
                         "audio_encoder_id = ?, text_encoder_id = ?, clap_version = ? WHERE id = 1",
                         -1, &st, NULL) != SQLITE_OK)
    return clap_error_set(err, CLAP_ERR_IO, "%s: writing clap_shard: %s", sdb_path,
                          sqlite3_errmsg(sdb));
  sqlite3_bind_text(st, 1, info->audio_sha256, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, info->text_sha256, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, info->audio_id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, info->text_id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, CLAP_VERSION, -1, SQLITE_STATIC);
  clap_status s = CLAP_OK;
  if (sqlite3_step(st) != SQLITE_DONE)
    s = clap_error_set(err, CLAP_ERR_IO, "%s: writing clap_shard: %s", sdb_path,
                       sqlite3_errmsg(sdb));
  sqlite3_finalize(st);
  return s;
}

clap_status shard_record(sqlite3 *sdb, const char *sdb_path, const shard_info *given,
                         clap_error *err) {
  /* An identity left NULL by a caller is recorded as unknown (""), which no
  ** database's encoder has, so merge refuses such a shard. */
  shard_info copy = *given;
  if (!copy.audio_id) copy.audio_id = "";
  if (!copy.text_id) copy.text_id = "";
  const shard_info *info = &copy;
  clap_status s = CLAP_OK;
  char *e = NULL;
  if (sqlite3_exec(sdb, SHARD_TABLE_SQL, NULL, NULL, &e) != SQLITE_OK) {
    s = clap_error_set(err, CLAP_ERR_IO, "%s: creating clap_shard: %s", sdb_path,
                       e ? e : sqlite3_errmsg(sdb));
    sqlite3_free(e);
    return s;
  }
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(sdb,
                         "SELECT k, n, source, source_fingerprint, audio_encoder, "
                         "audio_encoder_sha256, text_encoder, text_encoder_sha256, "
                         "audio_encoder_id, text_encoder_id FROM clap_shard WHERE id = 1",
                         -1, &st, NULL) != SQLITE_OK)
    return clap_error_set(err, CLAP_ERR_IO, "%s: reading clap_shard: %s", sdb_path,
                          sqlite3_errmsg(sdb));
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    int same = sqlite3_column_int(st, 0) == info->k && sqlite3_column_int(st, 1) == info->n &&
               !strcmp(col_text(st, 3), info->fingerprint) &&
               !strcmp(col_text(st, 4), info->audio_encoder) &&
               !strcmp(col_text(st, 6), info->text_encoder);
    /* Same names, other files: the rows computed before are stale (their
    ** encoder_id says so) and this run recomputes them. */
    int changed = strcmp(col_text(st, 5), info->audio_sha256) ||
                  strcmp(col_text(st, 7), info->text_sha256) ||
                  strcmp(col_text(st, 8), info->audio_id) || strcmp(col_text(st, 9), info->text_id);
    if (!same)
      s = clap_error_set(err, CLAP_ERR_ARG,
                         "%s is shard %d/%d of %s (encoders %s, %s) as it was then; this run "
                         "is shard %d/%d of %s (encoders %s, %s)%s: remove the file or choose "
                         "another --out",
                         sdb_path, sqlite3_column_int(st, 0), sqlite3_column_int(st, 1),
                         col_text(st, 2), col_text(st, 4), col_text(st, 6), info->k, info->n,
                         info->source, info->audio_encoder, info->text_encoder,
                         strcmp(col_text(st, 3), info->fingerprint)
                             ? " and the utterances differ"
                             : "");
    sqlite3_finalize(st);
    if (s == CLAP_OK && changed) s = update_encoders(sdb, sdb_path, info, err);
    return s;
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE)
    return clap_error_set(err, CLAP_ERR_IO, "%s: reading clap_shard: %s", sdb_path,
                          sqlite3_errmsg(sdb));
  if (sqlite3_prepare_v2(sdb,
                         "INSERT INTO clap_shard(id, k, n, source, source_fingerprint, "
                         "audio_encoder, audio_encoder_sha256, text_encoder, "
                         "text_encoder_sha256, clap_version, audio_encoder_id, "
                         "text_encoder_id) VALUES (1,?,?,?,?,?,?,?,?,?,?,?)",
                         -1, &st, NULL) != SQLITE_OK)
    return clap_error_set(err, CLAP_ERR_IO, "%s: writing clap_shard: %s", sdb_path,
                          sqlite3_errmsg(sdb));
  sqlite3_bind_int(st, 1, info->k);
  sqlite3_bind_int(st, 2, info->n);
  sqlite3_bind_text(st, 3, info->source, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, info->fingerprint, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, info->audio_encoder, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 6, info->audio_sha256, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 7, info->text_encoder, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 8, info->text_sha256, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 9, CLAP_VERSION, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 10, info->audio_id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 11, info->text_id, -1, SQLITE_STATIC);
  if (sqlite3_step(st) != SQLITE_DONE)
    s = clap_error_set(err, CLAP_ERR_IO, "%s: writing clap_shard: %s", sdb_path,
                       sqlite3_errmsg(sdb));
  sqlite3_finalize(st);
  return s;
}

/* ----------------------------------------------------------------- merge */

/* One integer (or text, into buf) from a query; NOTFOUND when no row. */
static clap_status query_one(sqlite3 *db, const char *sql, long *v, char *buf, size_t cap) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return CLAP_ERR_FORMAT;
  int rc = sqlite3_step(st);
  clap_status s = rc == SQLITE_ROW ? CLAP_OK : rc == SQLITE_DONE ? CLAP_ERR_NOTFOUND : CLAP_ERR_FORMAT;
  if (s == CLAP_OK && v) *v = sqlite3_column_int64(st, 0);
  if (s == CLAP_OK && buf) snprintf(buf, cap, "%s", col_text(st, 0));
  sqlite3_finalize(st);
  return s;
}

/* The columns of schema.features: names (sqlite3_malloc'd, in order) and
** whether each is part of the primary key. */
typedef struct columns {
  int n;
  char **name;
  int *pk;
} columns;

static void columns_free(columns *c) {
  for (int i = 0; i < c->n; i++) sqlite3_free(c->name[i]);
  free(c->name);
  free(c->pk);
  memset(c, 0, sizeof *c);
}

static clap_status read_columns(sqlite3 *db, const char *schema, columns *c, clap_error *err) {
  memset(c, 0, sizeof *c);
  char *sql = sqlite3_mprintf("PRAGMA \"%w\".table_info(features)", schema);
  sqlite3_stmt *st = NULL;
  clap_status s = CLAP_OK;
  if (!sql) s = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  else if ((s = db_prepare(db, sql, &st, err)) != CLAP_OK)
    clap_error_prefix(err, "reading the features columns: ");
  sqlite3_free(sql);
  int r = DB_DONE;
  while (s == CLAP_OK && (r = db_step(st, err)) == DB_ROW) {
    char **nm = realloc(c->name, (size_t)(c->n + 1) * sizeof *nm);
    if (nm) c->name = nm;
    int *pk = realloc(c->pk, (size_t)(c->n + 1) * sizeof *pk);
    if (pk) c->pk = pk;
    char *copy = sqlite3_mprintf("%s", col_text(st, 1));
    if (!nm || !pk || !copy) {
      sqlite3_free(copy);
      s = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
      break;
    }
    c->name[c->n] = copy;
    c->pk[c->n++] = sqlite3_column_int(st, 5) > 0;
  }
  if (s == CLAP_OK && (s = DB_STATUS(r)) != CLAP_OK) clap_error_prefix(err, "reading the features columns: ");
  sqlite3_finalize(st);
  if (s == CLAP_OK && c->n == 0)
    s = clap_error_set(err, CLAP_ERR_FORMAT, "no features table");
  if (s != CLAP_OK) columns_free(c);
  return s;
}

static int has_column(const columns *c, const char *name) {
  for (int i = 0; i < c->n; i++)
    if (!sqlite3_stricmp(c->name[i], name)) return 1;
  return 0;
}

/* "col1", "col2", ... with prefix p ("s." or "") before each; sep between. */
static void append_cols(sqlite3_str *q, const columns *c, int which, const char *p,
                        const char *sep) {
  int first = 1;
  for (int i = 0; i < c->n; i++) {
    if (which >= 0 && c->pk[i] != which) continue;
    sqlite3_str_appendf(q, "%s%s\"%w\"", first ? "" : sep, p, c->name[i]);
    first = 0;
  }
}

/* The join of a shard row with the database row of the same key. */
static void append_join(sqlite3_str *q, const columns *c) {
  sqlite3_str_appendf(q, " FROM \"%w\".features s JOIN main.features m ON ", SCHEMA);
  int first = 1;
  for (int i = 0; i < c->n; i++) {
    if (!c->pk[i]) continue;
    sqlite3_str_appendf(q, "%sm.\"%w\" = s.\"%w\"", first ? "" : " AND ", c->name[i], c->name[i]);
    first = 0;
  }
}

/* Shard rows whose key is in db with another value in some column: how
** many, and the first one's key for the message. */
static clap_status find_conflicts(sqlite3 *db, const columns *c, long *n, char *key, size_t cap,
                                  clap_error *err) {
  int has_value = 0;
  for (int i = 0; i < c->n; i++) has_value |= !c->pk[i];
  *n = 0;
  key[0] = 0;
  if (!has_value) return CLAP_OK;
  sqlite3_str *q = sqlite3_str_new(db);
  sqlite3_str_appendall(q, "SELECT count(*) OVER (), ");
  int first = 1;
  for (int i = 0; i < c->n; i++) {
    if (!c->pk[i]) continue;
    sqlite3_str_appendf(q, "%s'%q ' || quote(s.\"%w\")", first ? "" : " || ', ' || ", c->name[i],
                        c->name[i]);
    first = 0;
  }
  append_join(q, c);
  /* Another encoder_id is a stale row in db, replaced, not a conflict. */
  sqlite3_str_appendall(q, " WHERE s.encoder_id IS m.encoder_id AND (");
  first = 1;
  for (int i = 0; i < c->n; i++) {
    if (c->pk[i]) continue;
    sqlite3_str_appendf(q, "%ss.\"%w\" IS NOT m.\"%w\"", first ? "" : " OR ", c->name[i], c->name[i]);
    first = 0;
  }
  sqlite3_str_appendall(q, ") LIMIT 1");
  char *sql = sqlite3_str_finish(q);
  if (!sql) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  sqlite3_stmt *st;
  clap_status s = CLAP_OK;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
    s = clap_error_set(err, CLAP_ERR_INTERNAL, "comparing features: %s", sqlite3_errmsg(db));
  } else {
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
      *n = sqlite3_column_int64(st, 0);
      snprintf(key, cap, "%s", col_text(st, 1));
    } else if (rc != SQLITE_DONE) {
      s = clap_error_set(err, CLAP_ERR_FORMAT, "comparing features: %s", sqlite3_errmsg(db));
    }
    sqlite3_finalize(st);
  }
  sqlite3_free(sql);
  return s;
}

static clap_status exec_counted(sqlite3 *db, sqlite3_str *q, long *changes, clap_error *err) {
  char *sql = sqlite3_str_finish(q);
  if (!sql) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  char *e = NULL;
  clap_status s = CLAP_OK;
  if (sqlite3_exec(db, sql, NULL, NULL, &e) != SQLITE_OK)
    s = clap_error_set(err, CLAP_ERR_FORMAT, "%s", e ? e : sqlite3_errmsg(db));
  else if (changes)
    *changes = sqlite3_changes(db);
  sqlite3_free(e);
  sqlite3_free(sql);
  return s;
}

static clap_status count_query(sqlite3 *db, sqlite3_str *q, long *v, clap_error *err) {
  char *sql = sqlite3_str_finish(q);
  if (!sql) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  clap_status s = query_one(db, sql, v, NULL, 0);
  if (s != CLAP_OK) s = clap_error_set(err, CLAP_ERR_FORMAT, "counting features: %s", sqlite3_errmsg(db));
  sqlite3_free(sql);
  return s;
}

/* The copy itself, inside the caller's transaction. */
static clap_status copy_rows(sqlite3 *db, const columns *c, shard_merge_counts *out,
                             clap_error *err) {
  sqlite3_str *q = sqlite3_str_new(db);
  sqlite3_str_appendf(q, "SELECT count(*) FROM \"%w\".features", SCHEMA);
  clap_status s = count_query(db, q, &out->rows, err);
  if (s == CLAP_OK) {
    q = sqlite3_str_new(db);
    sqlite3_str_appendall(q, "SELECT count(*)");
    append_join(q, c);
    sqlite3_str_appendall(q, " WHERE s.encoder_id IS m.encoder_id");
    s = count_query(db, q, &out->present, err);
  }
  char key[256];
  if (s == CLAP_OK) s = find_conflicts(db, c, &out->conflicts, key, sizeof key, err);
  if (s == CLAP_OK && out->conflicts)
    return clap_error_set(err, CLAP_ERR_FORMAT,
                          "%ld feature row%s conflict with the database's (same key, other "
                          "bytes), the first: %s; nothing of this shard was merged",
                          out->conflicts, out->conflicts == 1 ? "" : "s", key);
  if (s == CLAP_OK) {
    q = sqlite3_str_new(db);
    sqlite3_str_appendall(q, "INSERT OR REPLACE INTO main.features(");
    append_cols(q, c, -1, "", ", ");
    sqlite3_str_appendall(q, ") SELECT ");
    append_cols(q, c, -1, "s.", ", ");
    append_join(q, c);
    sqlite3_str_appendall(q, " WHERE s.encoder_id IS NOT m.encoder_id");
    s = exec_counted(db, q, &out->replaced, err);
    if (s != CLAP_OK) clap_error_prefix(err, "replacing stale features: ");
  }
  if (s == CLAP_OK) {
    q = sqlite3_str_new(db);
    sqlite3_str_appendall(q, "INSERT OR IGNORE INTO main.features(");
    append_cols(q, c, -1, "", ", ");
    sqlite3_str_appendall(q, ") SELECT ");
    append_cols(q, c, -1, "", ", ");
    sqlite3_str_appendf(q, " FROM \"%w\".features", SCHEMA);
    s = exec_counted(db, q, &out->added, err);
    if (s != CLAP_OK) clap_error_prefix(err, "copying features: ");
  }
  /* OR IGNORE also skips rows that break a NOT NULL or CHECK constraint. */
  if (s == CLAP_OK && out->added + out->present + out->replaced != out->rows)
    s = clap_error_set(err, CLAP_ERR_FORMAT,
                       "%ld of its %ld feature rows break the features table's constraints; "
                       "nothing of this shard was merged",
                       out->rows - out->added - out->present - out->replaced, out->rows);
  return s;
}

/* The shard's encoder must mean the same weights here, at the registered
** precision or at the other one (a shard of `clap embed --precision`):
** its rows keep their encoder_id, so they are fresh for readers of that
** precision and stale for the others, as if embedded here. */
static clap_status check_identity(sqlite3 *db, const char *name, const char *id,
                                  clap_error *err) {
  static const registry_prec precs[] = {REGISTRY_PREC_RECORDED, REGISTRY_PREC_F32,
                                        REGISTRY_PREC_BF16};
  char now[FEATURES_ID_SIZE], at[FEATURES_ID_SIZE];
  clap_status s = features_identity(db, name, REGISTRY_PREC_RECORDED, now, err);
  int same = s == CLAP_OK && !strcmp(id, now);
  for (size_t i = 1; s == CLAP_OK && !same && i < sizeof precs / sizeof *precs; i++)
    if ((s = features_identity(db, name, precs[i], at, err)) == CLAP_OK) same = !strcmp(id, at);
  if (s == CLAP_OK && !same)
    s = clap_error_set(err, CLAP_ERR_FORMAT,
                       "made with encoder '%s' of identity %.40s, here '%s' is identity %.40s "
                       "(registered with other files, or another clap: make the shard again)",
                       name, *id ? id : "(none)", name, now);
  return s;
}

static clap_status check_encoder(sqlite3 *db, const char *name, const char *sha, const char *id,
                                 clap_error *err) {
  if (encoder_builtin(name, NULL)) {
    if (*sha)
      return clap_error_set(err, CLAP_ERR_FORMAT,
                            "made with encoder '%s' of weights %.12s..., here '%s' is the "
                            "built-in encoder",
                            name, sha, name);
    return check_identity(db, name, id, err);
  }
  sqlite3_stmt *st;
  clap_status s = db_prepare(db, "SELECT sha256 FROM main.clap_encoders WHERE name = ?", &st, err);
  if (s != CLAP_OK) return s;
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  int r = db_step(st, err);
  if (r < 0)
    s = DB_STATUS(r);
  else if (r == DB_DONE)
    s = clap_error_set(err, CLAP_ERR_FORMAT,
                       "made with encoder '%s', which this database does not register "
                       "(`clap encoder add` it with the same weights first)",
                       name);
  else if (strcmp(col_text(st, 0), sha))
    s = clap_error_set(err, CLAP_ERR_FORMAT,
                       "made with encoder '%s' of weights %.12s..., here '%s' has weights "
                       "%.12s...",
                       name, sha, name, col_text(st, 0));
  sqlite3_finalize(st);
  if (s == CLAP_OK) s = check_identity(db, name, id, err);
  return s;
}

/* quick_check's first finding on one line, without the "*** in database
** <attach name> ***" header that names our alias, not the user's file. */
static const char *check_message(char *buf) {
  char *p = buf;
  if (!strncmp(p, "*** in database ", 16)) {
    char *nl = strchr(p, '\n');
    p = nl ? nl + 1 : p;
  }
  for (char *q = p; *q; q++)
    if (*q == '\n' || *q == '\r') *q = ' ';
  return p;
}

/* Every row must be one of the shard's two encoders, computed by the
** identity recorded for it (so, checked above, db's identity now). */
static clap_status check_rows(sqlite3 *db, clap_error *err) {
  long bad = 0;
  if (query_one(db,
                "SELECT count(*) FROM " SCHEMA ".features f, " SCHEMA ".clap_shard c "
                "WHERE c.id = 1 AND NOT ("
                "(f.encoder = c.audio_encoder AND f.modality = 'audio' "
                " AND f.encoder_id IS c.audio_encoder_id) OR "
                "(f.encoder = c.text_encoder AND f.modality = 'text' "
                " AND f.encoder_id IS c.text_encoder_id))",
                &bad, NULL, 0) != CLAP_OK)
    return clap_error_set(err, CLAP_ERR_FORMAT, "reading its features: %s", sqlite3_errmsg(db));
  if (bad)
    return clap_error_set(err, CLAP_ERR_FORMAT,
                          "%ld feature row%s of another encoder or encoder identity than the "
                          "shard records (stale rows of an interrupted re-run: run the shard "
                          "again); nothing of this shard was merged",
                          bad, bad == 1 ? "" : "s");
  return CLAP_OK;
}

/* Every row's value as the database would have written it: a BLOB of 4 x dim
** bytes, dim (an integer) the encoder's dimension here, an audio key naming
** one of DB's utterances, a text key a lowercase SHA-256. The first row that
** is not is named by its key. */
static const char *const BAD_ROW_SQL =
    "SELECT f.encoder, f.modality, CAST(f.key AS TEXT), typeof(f.dim), f.dim, typeof(f.vec), "
    "length(CAST(f.vec AS BLOB)), "
    "f.modality = 'audio' AND NOT EXISTS (SELECT 1 FROM main.utterances u WHERE u.id = f.key) "
    "FROM " SCHEMA ".features f WHERE typeof(f.key) != 'text' OR typeof(f.vec) != 'blob' "
    "OR typeof(f.dim) != 'integer' OR f.dim != iif(f.modality = 'audio', ?1, ?2) "
    "OR length(f.vec) != 4 * f.dim "
    "OR (f.modality = 'audio' AND NOT EXISTS (SELECT 1 FROM main.utterances u WHERE u.id = f.key)) "
    "OR (f.modality = 'text' AND (length(f.key) != 64 OR f.key GLOB '*[^0-9a-f]*')) "
    "ORDER BY f.modality, f.key LIMIT 1";

static clap_status bad_row(sqlite3_stmt *st, int want, clap_error *err) {
  const char *enc = col_text(st, 0), *mod = col_text(st, 1), *key = col_text(st, 2);
  const char *dim_type = col_text(st, 3), *vec_type = col_text(st, 5);
  long long dim = sqlite3_column_int64(st, 4), bytes = sqlite3_column_int64(st, 6);
  char what[200];
  snprintf(what, sizeof what, "table features, encoder '%.40s', %s key '%.80s'", enc, mod, key);
  if (strcmp(vec_type, "blob"))
    return clap_error_set(err, CLAP_ERR_FORMAT, "%s: vec is %s, not a BLOB", what, vec_type);
  if (strcmp(dim_type, "integer") || dim != want)
    return clap_error_set(err, CLAP_ERR_FORMAT, "%s: dim is %s %lld, encoder '%s' has %d dims",
                          what, dim_type, dim, enc, want);
  if (bytes != 4 * dim)
    return clap_error_set(err, CLAP_ERR_FORMAT,
                          "%s: vec is %lld bytes, %lld dims need %lld", what, bytes, dim, 4 * dim);
  if (sqlite3_column_int(st, 7))
    return clap_error_set(err, CLAP_ERR_FORMAT, "%s: no such utterance in the database", what);
  return clap_error_set(err, CLAP_ERR_FORMAT, "%s: not a text key (64 lowercase hex digits)", what);
}

static clap_status check_values(sqlite3 *db, const char *audio, const char *text, clap_error *err) {
  int adim = 0, tdim = 0;
  char sha[SHA256_HEX_SIZE], id[SHA256_HEX_SIZE];
  /* The dimension does not depend on the precision. */
  registry_prec p = REGISTRY_PREC_RECORDED;
  clap_status s = features_encoder_info(db, audio, p, ENCODER_AUDIO, &adim, sha, id, err);
  if (s == CLAP_OK) s = features_encoder_info(db, text, p, ENCODER_TEXT, &tdim, sha, id, err);
  if (s != CLAP_OK) return s;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, BAD_ROW_SQL, -1, &st, NULL) != SQLITE_OK)
    return clap_error_set(err, CLAP_ERR_INTERNAL, "checking its features: %s", sqlite3_errmsg(db));
  sqlite3_bind_int(st, 1, adim);
  sqlite3_bind_int(st, 2, tdim);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    s = bad_row(st, strcmp(col_text(st, 1), "audio") ? tdim : adim, err);
  else if (rc != SQLITE_DONE)
    s = clap_error_set(err, CLAP_ERR_FORMAT, "reading its features: %s", sqlite3_errmsg(db));
  sqlite3_finalize(st);
  return s;
}

/* Everything that decides whether the attached shard may be merged. */
static clap_status check_shard(sqlite3 *db, columns *cols, shard_merge_counts *c,
                               clap_error *err) {
  long mine = 0, theirs = 0;
  char buf[256];
  if (query_one(db, "PRAGMA main.user_version", &mine, NULL, 0) != CLAP_OK ||
      query_one(db, "PRAGMA " SCHEMA ".user_version", &theirs, NULL, 0) != CLAP_OK)
    return clap_error_set(err, CLAP_ERR_FORMAT, "not a SQLite database (%s)", sqlite3_errmsg(db));
  if (query_one(db, "PRAGMA " SCHEMA ".quick_check(1)", NULL, buf, sizeof buf) != CLAP_OK)
    return clap_error_set(err, CLAP_ERR_FORMAT, "not a SQLite database (%s)", sqlite3_errmsg(db));
  if (strcmp(buf, "ok"))
    return clap_error_set(err, CLAP_ERR_FORMAT, "fails PRAGMA quick_check: %s", check_message(buf));
  if (mine != theirs)
    return clap_error_set(err, CLAP_ERR_FORMAT,
                          "schema version %ld, the database is at %ld (make the shard again "
                          "with this clap)",
                          theirs, mine);
  long has = 0;
  query_one(db, "SELECT count(*) FROM " SCHEMA ".sqlite_schema WHERE name = 'clap_shard'", &has,
            NULL, 0);
  if (!has)
    return clap_error_set(err, CLAP_ERR_FORMAT,
                          "not a shard database (no clap_shard table: shards are made by "
                          "`clap embed DB --shard K/N`)");
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db,
                         "SELECT k, n, source, source_fingerprint, audio_encoder, "
                         "audio_encoder_sha256, text_encoder, text_encoder_sha256, "
                         "audio_encoder_id, text_encoder_id FROM " SCHEMA ".clap_shard WHERE id = 1",
                         -1, &st, NULL) != SQLITE_OK)
    return clap_error_set(err, CLAP_ERR_FORMAT, "reading clap_shard: %s", sqlite3_errmsg(db));
  char fp[SHA256_HEX_SIZE];
  clap_status s = shard_fingerprint(db, fp, err);
  int r = s == CLAP_OK ? db_step(st, err) : DB_DONE;
  if (s == CLAP_OK && r < 0)
    s = DB_STATUS(r);
  else if (s == CLAP_OK && r == DB_DONE)
    s = clap_error_set(err, CLAP_ERR_FORMAT, "clap_shard has no row");
  if (s == CLAP_OK) {
    c->k = sqlite3_column_int(st, 0);
    c->n = sqlite3_column_int(st, 1);
    if (strcmp(col_text(st, 3), fp))
      s = clap_error_set(err, CLAP_ERR_FORMAT,
                         "shard %d/%d was made from another database (%s: its utterances "
                         "differ from this one's)",
                         c->k, c->n, col_text(st, 2));
  }
  if (s == CLAP_OK) s = check_encoder(db, col_text(st, 4), col_text(st, 5), col_text(st, 8), err);
  if (s == CLAP_OK) s = check_encoder(db, col_text(st, 6), col_text(st, 7), col_text(st, 9), err);
  char *audio = s == CLAP_OK ? strdup(col_text(st, 4)) : NULL;
  char *text = s == CLAP_OK ? strdup(col_text(st, 6)) : NULL;
  if (s == CLAP_OK && (!audio || !text)) s = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  sqlite3_finalize(st);
  columns other = {0};
  if (s == CLAP_OK) s = read_columns(db, "main", cols, err);
  if (s == CLAP_OK) s = read_columns(db, SCHEMA, &other, err);
  for (int i = 0; s == CLAP_OK && i < cols->n; i++)
    if (!has_column(&other, cols->name[i]))
      s = clap_error_set(err, CLAP_ERR_FORMAT, "its features table has no column '%s'",
                         cols->name[i]);
  for (int i = 0; s == CLAP_OK && i < other.n; i++)
    if (!has_column(cols, other.name[i]))
      s = clap_error_set(err, CLAP_ERR_FORMAT,
                         "its features table has a column '%s' the database lacks",
                         other.name[i]);
  columns_free(&other);
  if (s == CLAP_OK) s = check_rows(db, err);
  if (s == CLAP_OK) s = check_values(db, audio, text, err);
  free(audio);
  free(text);
  return s;
}

static clap_status check_path(const char *path, clap_error *err) {
  struct stat sb;
  if (stat(path, &sb) != 0)
    return clap_error_set(err, errno == ENOENT ? CLAP_ERR_NOTFOUND : CLAP_ERR_IO, "%s: %s", path,
                          errno == ENOENT ? "no such file" : strerror(errno));
  if (S_ISDIR(sb.st_mode))
    return clap_error_set(err, CLAP_ERR_ARG, "%s: is a directory, not a shard database", path);
  return CLAP_OK;
}

clap_status shard_merge(sqlite3 *db, const char *path, shard_merge_counts *c, clap_error *err) {
  memset(c, 0, sizeof *c);
  /* ATTACH would create a missing file. */
  clap_status s = check_path(path, err);
  if (s != CLAP_OK) return s;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "ATTACH ? AS " SCHEMA, -1, &st, NULL) != SQLITE_OK)
    return clap_error_set(err, CLAP_ERR_INTERNAL, "%s: %s", path, sqlite3_errmsg(db));
  sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE)
    return clap_error_set(err, CLAP_ERR_FORMAT, "%s: not a SQLite database, or a damaged one (%s)", path,
                          sqlite3_errmsg(db));
  columns cols = {0};
  /* The checks run under the write lock too: a `clap encoder add --replace`
  ** by another process cannot land between checking the shard's encoders
  ** and copying its rows. */
  s = db_exec(db, "BEGIN IMMEDIATE", err);
  if (s == CLAP_OK) s = check_shard(db, &cols, c, err);
  if (s == CLAP_OK) s = copy_rows(db, &cols, c, err);
  if (s == CLAP_OK) s = db_exec(db, "COMMIT", err);
  if (s != CLAP_OK) {
    db_rollback(db);
    c->added = 0;
  }
  columns_free(&cols);
  sqlite3_exec(db, "DETACH " SCHEMA, NULL, NULL, NULL);
  if (s != CLAP_OK) clap_error_prefix(err, "%s: ", path);
  return s;
}
