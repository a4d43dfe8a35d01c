/* db — see db.h. */
#include "db.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* sql/schema.sql, NUL-terminated (pipeline/schema_sql.S). */
extern const char clap_schema_sql[];

/* The schema's history after the base (version 1, sql/schema.sql as first
** released). To change the schema: edit sql/schema.sql to the new full
** schema with the new user_version, append the step here, bump
** DB_SCHEMA_VERSION in db.h. New databases get schema.sql directly; old
** ones replay the steps. */
static const db_migration builtin_migrations[] = {
    {2, "CREATE TABLE IF NOT EXISTS llm_cache (key TEXT PRIMARY KEY, endpoint TEXT NOT NULL, model TEXT NOT NULL,"
        " request TEXT NOT NULL, response TEXT NOT NULL,"
        " created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')));"},
    /* Cached vectors record what computed them; rows cached before get
    ** NULL, which `clap embed` treats as stale (sql/schema.sql). */
    {3, "ALTER TABLE features ADD COLUMN encoder_id TEXT;"},
    /* Utterances record their channel (NULL: mixed, as every row before);
    ** per-call timelines (sql/schema.sql). */
    {4, "ALTER TABLE utterances ADD COLUMN channel INTEGER CHECK (channel IS NULL OR channel >= 0);"
        "CREATE TABLE IF NOT EXISTS timelines (name TEXT PRIMARY KEY, model TEXT NOT NULL DEFAULT 'default',"
        " negative_text TEXT NOT NULL, positive_text TEXT NOT NULL);"
        "CREATE VIEW IF NOT EXISTS call_timeline AS SELECT t.name AS timeline, u.session_id AS session_id,"
        " u.channel AS channel, u.role AS role, u.id AS utterance_id,"
        " coalesce(u.start_seconds, 0) AS start_seconds, coalesce(u.start_seconds, 0) + u.duration AS end_seconds,"
        " clap_zero_shot(clap_embed_audio(u.audio, t.model), t.negative_text, t.positive_text, t.model) AS p_positive"
        " FROM timelines t CROSS JOIN utterances u;"
        "INSERT OR IGNORE INTO timelines (name, model, negative_text, positive_text) VALUES"
        " ('purchase_intention', 'default', '私は欲しくないです', '私は欲しいです');"},
    {0, NULL} /* end */
};
#define N_BUILTIN_MIGRATIONS ((int)(sizeof builtin_migrations / sizeof builtin_migrations[0]) - 1)
_Static_assert(sizeof builtin_migrations / sizeof builtin_migrations[0] == DB_SCHEMA_VERSION,
               "DB_SCHEMA_VERSION must be 1 + the number of migrations");

/* How long a connection waits for another one's write lock (db_open). */
static int busy_timeout_ms = DB_DEFAULT_BUSY_TIMEOUT_MS;

void db_set_busy_timeout(int ms) { busy_timeout_ms = ms < 0 ? 0 : ms; }
int db_busy_timeout(void) { return busy_timeout_ms; }

const char *db_errmsg(sqlite3 *db) {
  static _Thread_local char buf[320];
  if (db && (sqlite3_extended_errcode(db) & 0xff) == SQLITE_BUSY) {
    snprintf(buf, sizeof buf,
             "the database is locked: another connection was writing to it for longer than "
             "the busy timeout (%d ms); run this again when the other command has finished, "
             "or wait longer with --busy-timeout MS",
             busy_timeout_ms);
    return buf;
  }
  return db ? sqlite3_errmsg(db) : "no database";
}

static clap_status status_of(int rc) {
  switch (rc & 0xff) {
    case SQLITE_NOMEM: return CLAP_ERR_NOMEM;
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_PERM: return CLAP_ERR_IO;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT: return CLAP_ERR_FORMAT;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
    case SQLITE_TOOBIG: return CLAP_ERR_ARG;
    default: return CLAP_ERR_INTERNAL;
  }
}

/* The start of a statement on one line, for messages: whitespace runs and
** comments are folded so a multi-line schema statement reads as its head.
** cap >= 8; the result always fits, "..." marking a cut. */
static void sql_snippet(const char *sql, char *buf, size_t cap) {
  size_t n = 0;
  int space = 0;
  const char *p = sql;
  /* Each step writes at most 2 bytes (a pending space and a character) and
  ** must leave room for "..." and the NUL. */
  while (*p && n + 2 + 4 <= cap) {
    if (p[0] == '-' && p[1] == '-') {
      while (*p && *p != '\n') p++;
      continue;
    }
    if (isspace((unsigned char)*p)) {
      space = n > 0;
      p++;
      continue;
    }
    if (space) buf[n++] = ' ';
    space = 0;
    buf[n++] = *p++;
  }
  if (*p) {
    /* Drop a possibly incomplete UTF-8 character before the ellipsis. */
    while (n > 0 && ((unsigned char)buf[n - 1] & 0xC0) == 0x80) n--;
    if (n > 0 && ((unsigned char)buf[n - 1] & 0x80)) n--;
    memcpy(buf + n, "...", 3);
    n += 3;
  }
  buf[n] = 0;
}

clap_status db_exec(sqlite3 *db, const char *sql, clap_error *err) {
  if (!db || !sql) return clap_error_set(err, CLAP_ERR_ARG, "db_exec: no database or no SQL");
  const char *p = sql;
  while (*p) {
    sqlite3_stmt *st = NULL;
    const char *tail = NULL;
    int rc = sqlite3_prepare_v2(db, p, -1, &st, &tail);
    if (rc == SQLITE_OK && st) {
      while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      }
      if (rc == SQLITE_DONE) rc = SQLITE_OK;
    }
    if (rc != SQLITE_OK) {
      char head[120];
      sql_snippet(p, head, sizeof head);
      clap_status s = clap_error_set(err, status_of(rc), "%s (in SQL: %s)", db_errmsg(db), head);
      sqlite3_finalize(st);
      return s;
    }
    sqlite3_finalize(st);
    if (!tail || tail == p) break;
    p = tail;
  }
  return CLAP_OK;
}

clap_status db_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, clap_error *err) {
  *st = NULL;
  if (!db || !sql) return clap_error_set(err, CLAP_ERR_ARG, "db_prepare: no database or no SQL");
  int rc = sqlite3_prepare_v2(db, sql, -1, st, NULL);
  if (rc == SQLITE_OK && *st) return CLAP_OK;
  char head[120];
  sql_snippet(sql, head, sizeof head);
  clap_status s = status_of(rc == SQLITE_OK ? SQLITE_MISUSE : rc);
  if (s == CLAP_ERR_ARG) s = CLAP_ERR_INTERNAL;
  clap_error_set(err, s, "%s (in SQL: %s)", rc == SQLITE_OK ? "empty statement" : db_errmsg(db), head);
  sqlite3_finalize(*st);
  *st = NULL;
  return s;
}

/* err from a failed step of st (rc is neither ROW nor DONE). */
static clap_status step_error(sqlite3_stmt *st, int rc, clap_error *err) {
  char head[120];
  const char *sql = sqlite3_sql(st);
  sql_snippet(sql ? sql : "?", head, sizeof head);
  if (rc == SQLITE_ROW)
    return clap_error_set(err, CLAP_ERR_INTERNAL, "statement returned a row where none was expected (in SQL: %s)",
                          head);
  return clap_error_set(err, status_of(rc), "%s (in SQL: %s)", db_errmsg(sqlite3_db_handle(st)), head);
}

int db_step(sqlite3_stmt *st, clap_error *err) {
  if (!st) {
    return -(int)clap_error_set(err, CLAP_ERR_ARG, "db_step: no statement");
  }
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) return DB_ROW;
  if (rc == SQLITE_DONE) return DB_DONE;
  return -(int)step_error(st, rc, err);
}

clap_status db_step_done(sqlite3_stmt *st, clap_error *err) {
  if (!st) return clap_error_set(err, CLAP_ERR_ARG, "db_step: no statement");
  int rc = sqlite3_step(st);
  clap_status s = rc == SQLITE_DONE ? CLAP_OK : step_error(st, rc, err);
  sqlite3_reset(st);
  return s;
}

/* A single-integer query (PRAGMA, count). */
static clap_status query_int(sqlite3 *db, const char *sql, int *value, clap_error *err) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *value = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return CLAP_OK;
  }
  clap_status s = clap_error_set(err, status_of(rc == SQLITE_DONE ? SQLITE_INTERNAL : rc), "%s (in SQL: %s)",
                                 db_errmsg(db), sql);
  sqlite3_finalize(st);
  return s;
}

clap_status db_user_version(sqlite3 *db, int *version, clap_error *err) {
  return query_int(db, "PRAGMA user_version", version, err);
}

static clap_status check_steps(const db_migration *steps, int n, int from, clap_error *err) {
  for (int i = 0; i < n; i++) {
    if (!steps[i].sql)
      return clap_error_set(err, CLAP_ERR_ARG, "migration %d (to version %d) has no SQL", i, steps[i].version);
    if (i > 0 && steps[i].version != steps[i - 1].version + 1)
      return clap_error_set(err, CLAP_ERR_ARG, "migrations out of order: version %d follows %d", steps[i].version,
                            steps[i - 1].version);
  }
  if (from < 1)
    return clap_error_set(err, CLAP_ERR_ARG, "cannot migrate a database at version %d: it has no clap schema yet",
                          from);
  int last = n > 0 ? steps[n - 1].version : from;
  if (from > last)
    return clap_error_set(err, CLAP_ERR_UNSUPPORTED, "database is at version %d, newer than the last migration (%d)",
                          from, last);
  if (n > 0 && from < steps[0].version - 1)
    return clap_error_set(err, CLAP_ERR_UNSUPPORTED, "no migration from version %d (the first step goes to %d)", from,
                          steps[0].version);
  return CLAP_OK;
}

/* Inside the caller's transaction. */
static clap_status run_steps(sqlite3 *db, const db_migration *steps, int n, int from, clap_error *err) {
  clap_status s = check_steps(steps, n, from, err);
  for (int i = 0; s == CLAP_OK && i < n; i++) {
    if (steps[i].version <= from) continue;
    s = db_exec(db, steps[i].sql, err);
    if (s != CLAP_OK) {
      clap_error_prefix(err, "migration to version %d: ", steps[i].version);
      break;
    }
    char pragma[48];
    snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", steps[i].version);
    s = db_exec(db, pragma, err);
  }
  return s;
}

void db_rollback(sqlite3 *db) {
  if (db && !sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

clap_status db_migrate(sqlite3 *db, const db_migration *steps, int n, clap_error *err) {
  if (!db || (n > 0 && !steps) || n < 0) return clap_error_set(err, CLAP_ERR_ARG, "db_migrate: bad arguments");
  clap_status s = db_exec(db, "BEGIN IMMEDIATE", err);
  if (s != CLAP_OK) return s;
  int from = 0;
  s = db_user_version(db, &from, err);
  if (s == CLAP_OK) s = run_steps(db, steps, n, from, err);
  if (s == CLAP_OK) s = db_exec(db, "COMMIT", err);
  if (s != CLAP_OK) db_rollback(db);
  return s;
}

/* Objects in the schema other than SQLite's own: a version-0 database with
** any is somebody else's, and we do not add tables to it. */
static clap_status count_objects(sqlite3 *db, int *n, clap_error *err) {
  return query_int(db, "SELECT count(*) FROM sqlite_schema WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\'", n, err);
}

static clap_status refuse_foreign(const char *path, int objects, clap_error *err) {
  return clap_error_set(err, CLAP_ERR_FORMAT,
                        "%s: not a clap database (user_version 0 but it already holds %d tables, indexes or views); "
                        "refusing to add the clap schema to it",
                        path, objects);
}

/* Bring a database below DB_SCHEMA_VERSION to the current schema in one
** transaction. The version is read again under the write lock:
** another process may have initialised the file meanwhile. */
static clap_status upgrade(sqlite3 *db, const char *path, clap_error *err) {
  clap_status s = db_exec(db, "BEGIN IMMEDIATE", err);
  if (s != CLAP_OK) {
    clap_error_prefix(err, "%s: ", path);
    return s;
  }
  int v = 0, objects = 0;
  s = db_user_version(db, &v, err);
  if (s != CLAP_OK) {
    clap_error_prefix(err, "%s: ", path);
  } else if (v == 0) {
    s = count_objects(db, &objects, err);
    if (s != CLAP_OK)
      clap_error_prefix(err, "%s: ", path);
    else if (objects > 0)
      s = refuse_foreign(path, objects, err);
    else if ((s = db_exec(db, clap_schema_sql, err)) != CLAP_OK)
      clap_error_prefix(err, "%s: applying the schema: ", path);
  } else if (v < DB_SCHEMA_VERSION) {
    s = run_steps(db, builtin_migrations, N_BUILTIN_MIGRATIONS, v, err);
    if (s != CLAP_OK) clap_error_prefix(err, "%s: ", path);
  }
  if (s == CLAP_OK) {
    s = db_user_version(db, &v, err);
    if (s == CLAP_OK && v != DB_SCHEMA_VERSION)
      s = clap_error_set(err, CLAP_ERR_INTERNAL, "%s: schema left at version %d, this build expects %d", path, v,
                         DB_SCHEMA_VERSION);
  }
  if (s == CLAP_OK && (s = db_exec(db, "COMMIT", err)) != CLAP_OK) clap_error_prefix(err, "%s: ", path);
  if (s != CLAP_OK) db_rollback(db);
  return s;
}

/* Messages a user can act on before SQLite gets to say "unable to open". */
static clap_status check_path(const char *path, int flags, clap_error *err) {
  struct stat sb;
  if (stat(path, &sb) != 0) {
    if (errno == ENOENT && !(flags & DB_CREATE))
      return clap_error_set(err, CLAP_ERR_NOTFOUND, "no such database: %s (run `clap init %s` first%s)",
                            path, path, (flags & DB_CREATE_HINT) ? ", or give --create" : "");
    if (errno == ENOENT) return CLAP_OK;
    return clap_error_set(err, CLAP_ERR_IO, "%s: %s", path, strerror(errno));
  }
  if (S_ISDIR(sb.st_mode)) return clap_error_set(err, CLAP_ERR_ARG, "%s: is a directory, not a database", path);
  return CLAP_OK;
}

/* Everything that only reads: a file we must refuse stays byte-identical. */
static clap_status inspect_reads(sqlite3 *db, const char *path, int *version, clap_error *err) {
  clap_status s = db_user_version(db, version, err);
  if (s == CLAP_ERR_FORMAT)
    return clap_error_set(err, s, "%s: not a SQLite database (%s)", path, sqlite3_errmsg(db));
  if (s != CLAP_OK) {
    clap_error_prefix(err, "%s: ", path);
    return s;
  }
  if (*version > DB_SCHEMA_VERSION)
    return clap_error_set(err, CLAP_ERR_UNSUPPORTED,
                          "%s: schema version %d is newer than this clap understands (%d); "
                          "use a newer clap (the file was not modified)",
                          path, *version, DB_SCHEMA_VERSION);
  if (*version < 0)
    return clap_error_set(err, CLAP_ERR_FORMAT, "%s: not a clap database (user_version %d)", path, *version);
  if (*version == 0) {
    int objects = 0;
    s = count_objects(db, &objects, err);
    if (s != CLAP_OK) {
      clap_error_prefix(err, "%s: ", path);
      return s;
    }
    if (objects > 0) return refuse_foreign(path, objects, err);
  }
  return CLAP_OK;
}

/* The version and the object count from one snapshot: read in two
** autocommit statements, another process's `clap init` could commit in
** between, and its fresh schema would look like a foreign database
** (version 0 with tables) — a race two concurrent inits hit. */
static clap_status inspect(sqlite3 *db, const char *path, int *version, clap_error *err) {
  clap_status s = db_exec(db, "BEGIN", err);
  if (s != CLAP_OK) {
    clap_error_prefix(err, "%s: ", path);
    return s;
  }
  s = inspect_reads(db, path, version, err);
  db_rollback(db); /* nothing was written: ending the read transaction is all */
  return s;
}

static clap_status set_wal(sqlite3 *db, const char *path, clap_error *err) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_step(st);
  /* Switching to WAL takes an exclusive lock without calling the busy
  ** handler, so a second process opening the same new file at that moment
  ** gets SQLITE_BUSY: wait and retry, as long as the busy timeout. */
  for (int tries = 0; rc == SQLITE_BUSY && tries < busy_timeout_ms / 50; tries++) {
    sqlite3_reset(st);
    sqlite3_sleep(50);
    rc = sqlite3_step(st);
  }
  if (rc != SQLITE_ROW) {
    clap_status s = clap_error_set(err, status_of(rc), "%s: cannot switch to WAL: %s", path, db_errmsg(db));
    sqlite3_finalize(st);
    return s;
  }
  const char *mode = (const char *)sqlite3_column_text(st, 0);
  clap_status s = CLAP_OK;
  if (!mode || strcmp(mode, "wal") != 0)
    s = clap_error_set(err, CLAP_ERR_IO, "%s: cannot switch to WAL (journal mode stays '%s')", path,
                       mode ? mode : "?");
  sqlite3_finalize(st);
  return s;
}

/* A database this call created and could not finish (a full disk, say) is
** removed with its WAL and shared-memory files: no 0-byte or schema-less
** file is left for the next command to mistake for a database. */
static void remove_created(const char *path) {
  static const char *const ext[] = {"-wal", "-shm", "-journal"};
  size_t n = strlen(path);
  char *p = malloc(n + 9);
  for (int i = 0; p && i < 3; i++) {
    memcpy(p, path, n);
    strcpy(p + n, ext[i]);
    unlink(p);
  }
  free(p);
  unlink(path);
}

clap_status db_open_ex(const char *path, int flags, sqlite3 **out, int *old, clap_error *err) {
  if (out) *out = NULL;
  if (old) *old = 0;
  if (!out) return clap_error_set(err, CLAP_ERR_ARG, "db_open: no output pointer");
  if (!path || !*path) return clap_error_set(err, CLAP_ERR_ARG, "database path is empty");
  int memory = strcmp(path, ":memory:") == 0;
  clap_status s = memory ? CLAP_OK : check_path(path, flags, err);
  if (s != CLAP_OK) return s;

  sqlite3 *db = NULL;
  struct stat before;
  int created = !memory && (flags & DB_CREATE) && lstat(path, &before) != 0 && errno == ENOENT;
  int oflags = SQLITE_OPEN_READWRITE | ((flags & DB_CREATE) ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path, &db, oflags, NULL);
  if (rc != SQLITE_OK) {
    s = clap_error_set(err, status_of(rc), "cannot open database %s: %s", path,
                       db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close_v2(db);
    if (created) remove_created(path);
    return s;
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, busy_timeout_ms);

  int version = 0;
  if (!memory && sqlite3_db_readonly(db, "main") == 1)
    s = clap_error_set(err, CLAP_ERR_IO, "%s: database is read-only (the pipeline needs write access)", path);
  if (s == CLAP_OK) s = inspect(db, path, &version, err);
  if (s == CLAP_OK) s = db_exec(db, "PRAGMA foreign_keys = ON", err);
  if (s == CLAP_OK && !memory) s = set_wal(db, path, err);
  if (s == CLAP_OK && version < DB_SCHEMA_VERSION) s = upgrade(db, path, err);
  if (s != CLAP_OK) {
    sqlite3_close_v2(db);
    if (created) remove_created(path);
    return s;
  }
  if (old) *old = version;
  *out = db;
  return CLAP_OK;
}

clap_status db_open(const char *path, int flags, sqlite3 **out, clap_error *err) {
  return db_open_ex(path, flags, out, NULL, err);
}

void db_close(sqlite3 *db) {
  sqlite3_close_v2(db);
}
