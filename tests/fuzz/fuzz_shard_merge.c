/*
** Fuzz shard_merge: any bytes as a shard file are merged into a fresh clap
** database (in memory) or refused with a message that starts with the
** file's path; a refusal adds no row and leaves nothing attached, and a
** merge's counts add up (new + already present + stale replaced = the
** shard's rows).
*/
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "shard.h"

static long count(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  long v = -1;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    v = (long)sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static sqlite3 *db;
  clap_error e = {0};
  if (!db && db_open(":memory:", DB_CREATE, &db, &e) != CLAP_OK) __builtin_trap();
  char path[64], side[80];
  snprintf(path, sizeof path, "/tmp/clap-fuzz-shard-%d.db", (int)getpid());
  FILE *f = fopen(path, "wb");
  if (!f) return 0;
  if (size) fwrite(data, 1, size, f);
  fclose(f);

  shard_merge_counts c;
  if (shard_merge(db, path, &c, &e) == CLAP_OK) {
    if (c.added + c.present + c.replaced != c.rows || count(db, "SELECT count(*) FROM features") != c.added)
      __builtin_trap();
  } else {
    if (strncmp(e.msg, path, strlen(path)) != 0) __builtin_trap();
    if (count(db, "SELECT count(*) FROM features") != 0) __builtin_trap();
  }
  if (count(db, "SELECT count(*) FROM pragma_database_list WHERE name NOT IN ('main', 'temp')") != 0 ||
      !sqlite3_get_autocommit(db))
    __builtin_trap();
  sqlite3_exec(db, "DELETE FROM features", NULL, NULL, NULL);
  unlink(path);
  snprintf(side, sizeof side, "%s-wal", path);
  unlink(side);
  snprintf(side, sizeof side, "%s-shm", path);
  unlink(side);
  return 0;
}
