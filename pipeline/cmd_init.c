/*
** clap init — create a clap database, or bring an existing one up to date.
**
**   clap init DB
**
** DB is the path of the database file. If it does not exist it is created;
** if it is empty it gets the schema (sql/schema.sql, built into clap: every
** table, index and view, the 7 dimensions, the 12 original descriptions of
** the paper's Table II and the 3 purchase-intention prompt pairs of
** Table III), in WAL mode; if it is a clap database of an older schema
** version it is migrated forward. Running it again on an up-to-date
** database changes nothing and says so. One line on stdout tells which of
** these happened, with the schema version and the seeded counts.
**
** Errors (exit status 1, one message on stderr naming DB): DB is a
** directory, not a SQLite file, somebody else's SQLite database (tables but
** no clap user_version), written by a newer clap (a higher schema version:
** the file is left exactly as it was), read-only, or in a directory that
** does not exist. Usage errors (no DB, extra arguments, unknown option)
** exit with status 2.
*/
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "commands.h"
#include "db.h"

static void init_usage(FILE *f) {
  fprintf(f,
          "usage: clap init DB\n"
          "\n"
          "Create the clap database DB (schema version %d: tables, views, the seven\n"
          "dimensions, the paper's original descriptions and purchase-intention\n"
          "prompts), or migrate an older one forward. Safe to run again.\n",
          DB_SCHEMA_VERSION);
}

static clap_status count_rows(sqlite3 *db, const char *sql, int *n, clap_error *err) {
  sqlite3_stmt *st = NULL;
  clap_status rc = db_prepare(db, sql, &st, err);
  int r = rc == CLAP_OK ? db_step(st, err) : DB_DONE;
  if (rc == CLAP_OK) rc = DB_STATUS(r);
  *n = r == DB_ROW ? sqlite3_column_int(st, 0) : 0;
  sqlite3_finalize(st);
  return rc;
}

int cmd_init(int argc, char **argv) {
  static const struct option opts[] = {CLI_HELP_OPTION, CLI_DB_OPTION, {0}};
  cli c = {.cmd = "clap init", .help_fn = init_usage};
  for (int o; (o = cli_next(&c, argc, argv, "", opts)) != CLI_END;)
    if (o == CLI_EXIT) return c.status;
  static const char *const operands[] = {"database", NULL};
  if (cli_operands(&c, argc, argv, operands, 1, 1)) return 2;
  const char *path = argv[optind];

  struct stat sb;
  int existed = stat(path, &sb) == 0;
  sqlite3 *db = NULL;
  int old = 0;
  clap_error err = {0};
  if (db_open_ex(path, DB_CREATE, &db, &old, &err) != CLAP_OK) {
    fprintf(stderr, "clap init: %s\n", err.msg);
    return 1;
  }
  int dims = 0, descs = 0;
  if (count_rows(db, "SELECT count(*) FROM dimensions", &dims, &err) != CLAP_OK ||
      count_rows(db, "SELECT count(*) FROM descriptions", &descs, &err) != CLAP_OK) {
    fprintf(stderr, "clap init: %s: %s\n", path, err.msg);
    db_close(db);
    return 1;
  }
  db_close(db);

  const char *what = old == DB_SCHEMA_VERSION ? "already initialised, nothing to do"
                     : old > 0                ? "upgraded"
                     : existed                ? "initialised"
                                              : "created";
  if (old > 0 && old < DB_SCHEMA_VERSION)
    printf("%s: upgraded from schema version %d to %d (%d dimensions, %d descriptions)\n", path, old,
           DB_SCHEMA_VERSION, dims, descs);
  else
    printf("%s: %s (schema version %d, %d dimensions, %d descriptions)\n", path, what, DB_SCHEMA_VERSION, dims,
           descs);
  return 0;
}
