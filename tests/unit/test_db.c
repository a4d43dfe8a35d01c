/* db: the open/create/migrate contract of pipeline/db.h, error paths first. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db.h"
#include "fixture.h"
#include "harness.h"

extern const char clap_schema_sql[];

static char dir[256];

static const char *tmp_path(const char *name) {
  static char buf[4][512];
  static int k;
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
  return buf[k];
}

static void write_file(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f) return;
  fwrite(data, 1, n, f);
  fclose(f);
}

/* A plain sqlite3 file made with the given SQL (not through db_open). */
static void make_sqlite(const char *path, const char *sql) {
  sqlite3 *db = NULL;
  sqlite3_open(path, &db);
  sqlite3_exec(db, sql, NULL, NULL, NULL);
  sqlite3_close(db);
}

static int int_of(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  int v = -12345;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  return v;
}

static void test_missing_without_create(void) {
  const char *p = tmp_path("missing.db");
  sqlite3 *db = (sqlite3 *)1;
  clap_error e = {0};
  CHECK_INT(db_open(p, 0, &db, &e), CLAP_ERR_NOTFOUND);
  CHECK(db == NULL);
  char want[700];
  snprintf(want, sizeof want, "no such database: %s (run `clap init %s` first)", p, p);
  CHECK(strcmp(e.msg, want) == 0);
  CHECK(access(p, F_OK) != 0); /* not created as a side effect */
}

static void test_directory(void) {
  sqlite3 *db = NULL;
  clap_error e = {0};
  CHECK_INT(db_open(dir, DB_CREATE, &db, &e), CLAP_ERR_ARG);
  CHECK(db == NULL);
  CHECK_CONTAINS(e.msg, dir);
  CHECK_CONTAINS(e.msg, "is a directory");
}

static void test_missing_parent(void) {
  const char *p = tmp_path("no/such/dir.db");
  sqlite3 *db = NULL;
  clap_error e = {0};
  CHECK(db_open(p, DB_CREATE, &db, &e) != CLAP_OK);
  CHECK(db == NULL);
  CHECK_CONTAINS(e.msg, "cannot open database");
  CHECK_CONTAINS(e.msg, p);
}

static void test_not_a_database(void) {
  const char *p = tmp_path("notes.txt");
  const char text[] = "utterance,annotator,dimension,score\ns1-u1,a1,aroused,5\n";
  write_file(p, text, sizeof text - 1);
  sqlite3 *db = NULL;
  clap_error e = {0};
  CHECK_INT(db_open(p, DB_CREATE, &db, &e), CLAP_ERR_FORMAT);
  CHECK(db == NULL);
  CHECK_CONTAINS(e.msg, p);
  CHECK_CONTAINS(e.msg, "not a SQLite database");
  size_t n = 0;
  char *after = fixture_read(p, &n);
  CHECK(after && n == sizeof text - 1 && memcmp(after, text, n) == 0);
  free(after);
}

/* A file whose header is fine but whose pages are not (found by fuzz_db). */
static void test_malformed(void) {
  size_t n = 0;
  char *bytes = fixture_read("tests/fuzz/corpus/fuzz_db/crash-snippet-overflow", &n);
  CHECK(bytes != NULL);
  if (!bytes) return;
  const char *p = tmp_path("malformed.db");
  write_file(p, bytes, n);
  free(bytes);
  sqlite3 *db = NULL;
  clap_error e = {0};
  CHECK_INT(db_open(p, 0, &db, &e), CLAP_ERR_FORMAT);
  CHECK(db == NULL);
  CHECK_CONTAINS(e.msg, p);
  CHECK_CONTAINS(e.msg, "malformed");
}

static void test_newer_version_untouched(void) {
  const char *p = tmp_path("newer.db");
  make_sqlite(p, "CREATE TABLE t(x); PRAGMA user_version = 99;");
  size_t n0 = 0, n1 = 0;
  char *before = fixture_read(p, &n0);
  sqlite3 *db = NULL;
  clap_error e = {0};
  CHECK_INT(db_open(p, DB_CREATE, &db, &e), CLAP_ERR_UNSUPPORTED);
  CHECK(db == NULL);
  CHECK_CONTAINS(e.msg, p);
  CHECK_CONTAINS(e.msg, "schema version 99 is newer");
  CHECK_CONTAINS(e.msg, "not modified");
  char *after = fixture_read(p, &n1);
  CHECK(before && after && n0 == n1 && memcmp(before, after, n0) == 0);
  CHECK(access(tmp_path("newer.db-wal"), F_OK) != 0);
  free(before);
  free(after);
}

static void test_negative_version(void) {
  const char *p = tmp_path("negative.db");
  make_sqlite(p, "PRAGMA user_version = -3;");
  sqlite3 *db = NULL;
  clap_error e = {0};
  CHECK_INT(db_open(p, 0, &db, &e), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(e.msg, "user_version -3");
}

static void test_foreign_database(void) {
  const char *p = tmp_path("theirs.db");
  make_sqlite(p, "CREATE TABLE orders(id); CREATE INDEX orders_id ON orders(id);");
  sqlite3 *db = NULL;
  clap_error e = {0};
  CHECK_INT(db_open(p, DB_CREATE, &db, &e), CLAP_ERR_FORMAT);
  CHECK(db == NULL);
  CHECK_CONTAINS(e.msg, p);
  CHECK_CONTAINS(e.msg, "not a clap database");
  CHECK_CONTAINS(e.msg, "holds 2 tables");
  sqlite3 *raw = NULL;
  sqlite3_open(p, &raw);
  CHECK_INT(int_of(raw, "SELECT count(*) FROM sqlite_schema"), 2);
  CHECK_INT(int_of(raw, "PRAGMA user_version"), 0);
  sqlite3_close(raw);
}

static void test_read_only(void) {
  const char *p = tmp_path("ro.db");
  sqlite3 *db = NULL;
  clap_error e = {0};
  CHECK_INT(db_open(p, DB_CREATE, &db, &e), CLAP_OK);
  db_close(db);
  db = NULL;
  chmod(p, 0444);
  CHECK_INT(db_open(p, 0, &db, &e), CLAP_ERR_IO);
  CHECK(db == NULL);
  CHECK_CONTAINS(e.msg, "read-only");
  CHECK_CONTAINS(e.msg, p);
  chmod(p, 0644);
}

static void test_bad_arguments(void) {
  sqlite3 *db = NULL;
  clap_error e = {0};
  CHECK_INT(db_open("", DB_CREATE, &db, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "path is empty");
  CHECK_INT(db_open(NULL, DB_CREATE, &db, &e), CLAP_ERR_ARG);
  CHECK_INT(db_open(tmp_path("x.db"), DB_CREATE, NULL, &e), CLAP_ERR_ARG);
  CHECK_INT(db_exec(NULL, "SELECT 1", &e), CLAP_ERR_ARG);
}

static void test_create_and_reopen(void) {
  const char *p = tmp_path("new.db");
  sqlite3 *db = NULL;
  clap_error e = {0};
  int old = -1;
  CHECK_INT(db_open(p, 0, &db, &e), CLAP_ERR_NOTFOUND);
  CHECK_INT(db_open_ex(p, DB_CREATE, &db, &old, &e), CLAP_OK);
  CHECK(db != NULL);
  CHECK_INT(old, 0);
  CHECK_INT(int_of(db, "PRAGMA user_version"), DB_SCHEMA_VERSION);
  CHECK_INT(int_of(db, "PRAGMA foreign_keys"), 1);
  CHECK_INT(int_of(db, "PRAGMA busy_timeout"), 5000);
  CHECK_INT(int_of(db, "SELECT journal_mode = 'wal' FROM pragma_journal_mode"), 1);
  CHECK_INT(int_of(db, "SELECT count(*) FROM dimensions"), 7);
  CHECK_INT(int_of(db, "SELECT count(*) FROM descriptions WHERE source = 'original'"), 12);
  CHECK_INT(int_of(db, "SELECT count(*) FROM descriptions WHERE source = 'prompt'"), 6);
  /* Foreign keys are enforced on the connection db_open returns. */
  CHECK_INT(db_exec(db, "INSERT INTO labels(utterance_id, dimension, value, label) VALUES ('nope', 'aroused', 0, 1)",
                    &e),
            CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "FOREIGN KEY constraint failed");
  db_close(db);

  db = NULL;
  old = -1;
  CHECK_INT(db_open_ex(p, 0, &db, &old, &e), CLAP_OK);
  CHECK_INT(old, DB_SCHEMA_VERSION);
  CHECK_INT(int_of(db, "SELECT count(*) FROM descriptions"), 18);
  db_close(db);
}

static void test_memory(void) {
  sqlite3 *db = NULL;
  clap_error e = {0};
  CHECK_INT(db_open(":memory:", 0, &db, &e), CLAP_OK);
  CHECK_INT(int_of(db, "SELECT count(*) FROM dimensions WHERE training = 1"), 6);
  db_close(db);
}

static void test_exec_names_sql(void) {
  sqlite3 *db = NULL;
  clap_error e = {0};
  sqlite3_open(":memory:", &db);
  CHECK_INT(db_exec(db, "CREATE TABLE a(x); INSERT INTO a VALUES (1); SELECT * FROM a", &e), CLAP_OK);
  CHECK_INT(db_exec(db, "INSERT INTO a VALUES (2);\n  -- a comment\n  SELECT *\n    FROM nosuch", &e),
            CLAP_ERR_INTERNAL);
  CHECK_CONTAINS(e.msg, "no such table: nosuch");
  CHECK_CONTAINS(e.msg, "(in SQL: SELECT * FROM nosuch)");
  CHECK_INT(int_of(db, "SELECT count(*) FROM a"), 2); /* no implicit transaction */
  /* Long statements are cut, on a character boundary. */
  char longsql[400];
  snprintf(longsql, sizeof longsql, "SELECT '%s' FROM nosuch_table_at_all", "日本語日本語日本語日本語日本語日本語日本語日本語日本語日本語日本語日本語");
  CHECK(db_exec(db, longsql, &e) != CLAP_OK);
  CHECK_CONTAINS(e.msg, "...)");
  sqlite3_close(db);
}

/* Every cut position, with a folded space right at the edge of the buffer
** (the fuzzer found an overflow there; the sanitizer run checks this). */
static void test_exec_snippet_lengths(void) {
  sqlite3 *db = NULL;
  clap_error e = {0};
  sqlite3_open(":memory:", &db);
  char sql[400];
  for (int len = 1; len < 300; len++) {
    int n = snprintf(sql, sizeof sql, "SELECT * FROM nosuch");
    for (int i = 0; i < len && n + 3 < (int)sizeof sql; i++) sql[n++] = i % 2 ? ' ' : 'x';
    sql[n] = 0;
    clap_error_clear(&e);
    CHECK(db_exec(db, sql, &e) != CLAP_OK);
    CHECK_CONTAINS(e.msg, "(in SQL: SELECT * FROM nosuch");
    size_t m = strlen(e.msg);
    CHECK(m > 0 && e.msg[m - 1] == ')');
  }
  sqlite3_close(db);
}

static const db_migration steps[] = {
    {2, "CREATE TABLE m2(x);"},
    {3, "ALTER TABLE m2 ADD COLUMN y; INSERT INTO m2 VALUES (1, 2);"},
};

static sqlite3 *db_at_version(int v) {
  sqlite3 *db = NULL;
  sqlite3_open(":memory:", &db);
  char sql[64];
  snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v);
  sqlite3_exec(db, sql, NULL, NULL, NULL);
  return db;
}

/* db_prepare names the SQL; a statement that does not compile is a bug. */
static void test_prepare_errors(void) {
  sqlite3 *db = NULL;
  clap_error e = {0};
  CHECK_INT(db_open(":memory:", DB_CREATE, &db, &e), CLAP_OK);
  sqlite3_stmt *st = (sqlite3_stmt *)1;
  CHECK_INT(db_prepare(db, "SELEKT 1 FROM utterances", &st, &e), CLAP_ERR_INTERNAL);
  CHECK(st == NULL);
  CHECK_CONTAINS(e.msg, "syntax error");
  CHECK_CONTAINS(e.msg, "(in SQL: SELEKT 1 FROM utterances)");
  CHECK_INT(db_prepare(db, "SELECT nope FROM utterances", &st, &e), CLAP_ERR_INTERNAL);
  CHECK_CONTAINS(e.msg, "no such column: nope");
  CHECK_INT(db_prepare(db, "  -- nothing", &st, &e), CLAP_ERR_INTERNAL);
  CHECK(st == NULL);
  db_close(db);
}

/* An error after some rows is an error, never the end of the rows. */
static void test_step_error_after_rows(void) {
  sqlite3 *db = NULL;
  clap_error e = {0};
  CHECK_INT(db_open(":memory:", DB_CREATE, &db, &e), CLAP_OK);
  sqlite3_stmt *st = NULL;
  CHECK_INT(db_prepare(db,
                       "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<5) "
                       "SELECT CASE WHEN x<3 THEN x ELSE json('{') END FROM c",
                       &st, &e),
            CLAP_OK);
  CHECK_INT(db_step(st, &e), DB_ROW);
  CHECK_INT(db_step(st, &e), DB_ROW);
  int r = db_step(st, &e);
  CHECK(r < 0);
  CHECK_INT(DB_STATUS(r), CLAP_ERR_INTERNAL);
  CHECK_CONTAINS(e.msg, "malformed JSON");
  CHECK_CONTAINS(e.msg, "(in SQL: WITH RECURSIVE");
  sqlite3_finalize(st);
  /* a row from a statement that should return none */
  CHECK_INT(db_prepare(db, "SELECT 1", &st, &e), CLAP_OK);
  CHECK_INT(db_step_done(st, &e), CLAP_ERR_INTERNAL);
  CHECK_CONTAINS(e.msg, "returned a row");
  sqlite3_finalize(st);
  CHECK_INT(DB_STATUS(db_step(NULL, &e)), CLAP_ERR_ARG);
  CHECK_INT(DB_STATUS(DB_ROW), CLAP_OK);
  db_close(db);
}

/* SQLITE_BUSY is an I/O error naming the statement; the statement can be
** stepped again once the lock is gone (db_step_done resets it). */
static void test_step_busy(void) {
  const char *p = tmp_path("busy.db");
  sqlite3 *a = NULL, *b = NULL;
  clap_error e = {0};
  CHECK_INT(db_open(p, DB_CREATE, &a, &e), CLAP_OK);
  CHECK_INT(db_open(p, 0, &b, &e), CLAP_OK);
  if (!a || !b) return;
  sqlite3_busy_timeout(b, 0);
  CHECK_INT(db_exec(a, "BEGIN IMMEDIATE", &e), CLAP_OK);
  sqlite3_stmt *st = NULL;
  CHECK_INT(db_prepare(b, "INSERT INTO sessions(id) VALUES ('s')", &st, &e),
            CLAP_OK);
  clap_error busy = {0};
  CHECK_INT(db_step_done(st, &busy), CLAP_ERR_IO);
  CHECK_CONTAINS(busy.msg, "database is locked");
  CHECK_CONTAINS(busy.msg, "(in SQL: INSERT INTO sessions");
  sqlite3_stmt *q = NULL;
  CHECK_INT(db_prepare(b, "SELECT count(*) FROM sessions", &q, &e), CLAP_OK);
  CHECK_INT(db_step(q, &e), DB_ROW); /* WAL: readers go on */
  sqlite3_finalize(q);
  CHECK_INT(db_exec(a, "COMMIT", &e), CLAP_OK);
  CHECK_INT(db_step_done(st, &e), CLAP_OK);
  sqlite3_finalize(st);
  CHECK_INT(int_of(a, "SELECT count(*) FROM sessions"), 1);
  db_close(a);
  db_close(b);
}

static void test_migrate_forward(void) {
  clap_error e = {0};
  sqlite3 *db = db_at_version(1);
  CHECK_INT(db_migrate(db, steps, 2, &e), CLAP_OK);
  CHECK_INT(int_of(db, "PRAGMA user_version"), 3);
  CHECK_INT(int_of(db, "SELECT y FROM m2"), 2);
  /* Again: nothing to do. */
  CHECK_INT(db_migrate(db, steps, 2, &e), CLAP_OK);
  CHECK_INT(int_of(db, "SELECT count(*) FROM m2"), 1);
  sqlite3_close(db);

  db = db_at_version(2); /* only step 3 runs */
  sqlite3_exec(db, "CREATE TABLE m2(x)", NULL, NULL, NULL);
  CHECK_INT(db_migrate(db, steps, 2, &e), CLAP_OK);
  CHECK_INT(int_of(db, "PRAGMA user_version"), 3);
  sqlite3_close(db);
}

static void test_migrate_failure_rolls_back(void) {
  static const db_migration bad[] = {{2, "CREATE TABLE m2(x);"}, {3, "ALTER TABLE nosuch ADD COLUMN y;"}};
  clap_error e = {0};
  sqlite3 *db = db_at_version(1);
  CHECK(db_migrate(db, bad, 2, &e) != CLAP_OK);
  CHECK_CONTAINS(e.msg, "migration to version 3: ");
  CHECK_CONTAINS(e.msg, "no such table: nosuch");
  CHECK_INT(int_of(db, "PRAGMA user_version"), 1);
  CHECK_INT(int_of(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'm2'"), 0);
  CHECK(sqlite3_get_autocommit(db)); /* no transaction left open */
  sqlite3_close(db);
}

static void test_migrate_refusals(void) {
  static const db_migration unordered[] = {{2, "SELECT 1;"}, {4, "SELECT 1;"}};
  static const db_migration from3[] = {{3, "SELECT 1;"}};
  clap_error e = {0};
  sqlite3 *db = db_at_version(1);
  CHECK_INT(db_migrate(db, unordered, 2, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "version 4 follows 2");
  CHECK_INT(db_migrate(db, from3, 1, &e), CLAP_ERR_UNSUPPORTED);
  CHECK_CONTAINS(e.msg, "no migration from version 1");
  sqlite3_close(db);

  db = db_at_version(7);
  CHECK_INT(db_migrate(db, steps, 2, &e), CLAP_ERR_UNSUPPORTED);
  CHECK_CONTAINS(e.msg, "version 7, newer than the last migration (3)");
  sqlite3_close(db);

  db = db_at_version(0);
  CHECK_INT(db_migrate(db, steps, 2, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "no clap schema yet");
  CHECK_INT(int_of(db, "PRAGMA user_version"), 0);
  sqlite3_close(db);
}

/* The schema inside the binary is today's sql/schema.sql, byte for byte. */
static void test_embedded_schema_current(void) {
  size_t n = 0;
  char *file = fixture_read("sql/schema.sql", &n);
  CHECK(file != NULL);
  if (!file) return;
  CHECK_INT(strlen(clap_schema_sql), n);
  CHECK(strcmp(clap_schema_sql, file) == 0);
  char want[64];
  snprintf(want, sizeof want, "PRAGMA user_version = %d;", DB_SCHEMA_VERSION);
  CHECK_CONTAINS(clap_schema_sql, want);
  free(file);
}

int main(void) {
  snprintf(dir, sizeof dir, "%s/clap-test-db.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  RUN(test_missing_without_create);
  RUN(test_directory);
  RUN(test_missing_parent);
  RUN(test_not_a_database);
  RUN(test_malformed);
  RUN(test_newer_version_untouched);
  RUN(test_negative_version);
  RUN(test_foreign_database);
  if (geteuid() != 0) RUN(test_read_only); /* root writes through 0444 */
  RUN(test_bad_arguments);
  RUN(test_create_and_reopen);
  RUN(test_memory);
  RUN(test_exec_names_sql);
  RUN(test_exec_snippet_lengths);
  RUN(test_prepare_errors);
  RUN(test_step_error_after_rows);
  RUN(test_step_busy);
  RUN(test_migrate_forward);
  RUN(test_migrate_failure_rolls_back);
  RUN(test_migrate_refusals);
  RUN(test_embedded_schema_current);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  return harness_report();
}
