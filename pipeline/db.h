/*
** db — open a clap database for the pipeline: create it if asked, foreign
** keys on, WAL, a busy timeout, the schema (sql/schema.sql, built into the
** binary) applied or migrated forward by PRAGMA user_version, and the SQL
** functions of the extension registered on the connection.
*/
#ifndef CLAP_DB_H
#define CLAP_DB_H

#include <sqlite3.h>

#include "clap_error.h"

#define DB_CREATE 1   /* create the file if it does not exist */

/* *out is owned by the caller: db_close it. On error *out is NULL. */
clap_status db_open(const char *path, int flags, sqlite3 **out, clap_error *err);
void db_close(sqlite3 *db);

/* Run a statement that returns no rows; error message names the SQL. */
clap_status db_exec(sqlite3 *db, const char *sql, clap_error *err);

#endif
