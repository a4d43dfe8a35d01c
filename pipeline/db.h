/*
** db — open a clap database for the pipeline: create it if asked, foreign
** keys on, WAL, a busy timeout, the schema (sql/schema.sql, built into the
** binary) applied or migrated forward by PRAGMA user_version, and the SQL
** functions of the extension registered on the connection (the CLI's main()
** does that for every connection with sqlite3_auto_extension; a program
** linking only the pipeline library gets plain SQLite).
**
** What db_open accepts and what bad input gets:
**   - a missing file without DB_CREATE: CLAP_ERR_NOTFOUND,
**     "no such database: PATH (run `clap init PATH` first)" (with
**     DB_CREATE_HINT: "... first, or give --create)");
**   - a directory, a file that is not SQLite, an unreadable or read-only
**     file: an error naming PATH, the file left as it was;
**   - user_version 0 and an empty schema (a new or empty file): the schema is
**     applied in one transaction; a file this call created is removed again
**     (with its -wal and -shm) when that fails (a full disk), so no 0-byte
**     file is left behind;
**   - user_version 0 but tables already there (somebody else's database):
**     refused (CLAP_ERR_FORMAT), nothing added;
**   - 1 <= user_version < DB_SCHEMA_VERSION: migrated forward, all steps in
**     one transaction;
**   - user_version > DB_SCHEMA_VERSION (written by a newer clap): refused
**     with CLAP_ERR_UNSUPPORTED before anything is written — not even the
**     journal mode changes.
** ":memory:" is accepted (no WAL there), for tests.
*/
#ifndef CLAP_DB_H
#define CLAP_DB_H

#include <sqlite3.h>

#include "clap_error.h"

#define DB_CREATE 1      /* create the file if it does not exist */
#define DB_CREATE_HINT 2 /* a missing file's message adds ", or give --create" */

/* The user_version this build writes: sql/schema.sql's, which must equal
** the last migration's. */
#define DB_SCHEMA_VERSION 4

/* How long db_open's connections wait for another connection's write lock
** before SQLITE_BUSY: DB_DEFAULT_BUSY_TIMEOUT_MS unless set (every command's
** --busy-timeout MS). Process-wide; set it before opening. */
#define DB_DEFAULT_BUSY_TIMEOUT_MS 5000
void db_set_busy_timeout(int ms);
int db_busy_timeout(void);

/* sqlite3_errmsg(db), except when the last error is SQLITE_BUSY: then a
** message that says the database is locked by another connection, how long
** this one waited, and what to do (run again later, or --busy-timeout MS).
** The text is valid until the next call on the same thread. */
const char *db_errmsg(sqlite3 *db);

/* *out is owned by the caller: db_close it. On error *out is NULL. */
clap_status db_open(const char *path, int flags, sqlite3 **out, clap_error *err);
/* db_open that also reports the user_version found before opening (0 for a
** new or empty file), so `clap init` can say what it did. old may be NULL. */
clap_status db_open_ex(const char *path, int flags, sqlite3 **out, int *old, clap_error *err);
void db_close(sqlite3 *db);

/* Run a statement that returns no rows; error message names the SQL. */
clap_status db_exec(sqlite3 *db, const char *sql, clap_error *err);

/* Prepare one statement. On failure *st is NULL and err holds SQLite's
** message and the head of the SQL; the status is CLAP_ERR_INTERNAL for a
** statement that does not compile (a bug), CLAP_ERR_NOMEM, or CLAP_ERR_IO
** for a locked or unreadable database. *st is the caller's: finalize it. */
clap_status db_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, clap_error *err);

/* One sqlite3_step, every result checked: DB_ROW (a row is ready), DB_DONE,
** or on failure minus its clap_status (< 0; DB_STATUS turns it back) with
** err filled: SQLite's message and the head of the statement's SQL
** ("database is locked (in SQL: INSERT INTO ...)"). SQLITE_BUSY, an I/O
** error, a constraint or a function's error are failures, never the end of
** the rows. A loop reads
**   int r = DB_DONE;
**   while (rc == CLAP_OK && (r = db_step(st, err)) == DB_ROW) ...;
**   if (rc == CLAP_OK) rc = DB_STATUS(r); */
#define DB_ROW 1
#define DB_DONE 0
#define DB_STATUS(r) ((r) < 0 ? (clap_status)(-(r)) : CLAP_OK)
int db_step(sqlite3_stmt *st, clap_error *err);

/* db_step of a statement that returns no row (INSERT, UPDATE, DELETE):
** CLAP_OK at SQLITE_DONE, a row is an error too. Resets st afterwards so a
** cached statement can be bound again. */
clap_status db_step_done(sqlite3_stmt *st, clap_error *err);

/* Discard the open transaction, if any (none: nothing happens). For the
** failure paths of a unit of work: the error being reported is the one that
** made it fail, so a ROLLBACK's own failure is not reported (SQLite then
** rolls back when the connection closes). */
void db_rollback(sqlite3 *db);

/* PRAGMA user_version into *version. */
clap_status db_user_version(sqlite3 *db, int *version, clap_error *err);

/* One step of the schema's history: the SQL that turns version-1 into
** version. Steps are listed in increasing version order. */
typedef struct db_migration {
  int version;
  const char *sql;
} db_migration;

/* Run, in one transaction, every step whose version is above the database's
** user_version, setting user_version after each; on any error nothing is
** kept. A list out of order, or a database newer than the last step, is an
** error. db_open uses the built-in list; this is public for tests. */
clap_status db_migrate(sqlite3 *db, const db_migration *steps, int n, clap_error *err);

#endif
