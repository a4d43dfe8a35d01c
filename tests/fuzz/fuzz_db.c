/*
** Fuzz db_open: any bytes as an existing database file must be opened or
** refused with a message, never crash. Inputs that open (user_version 1, or
** an empty file that gets the schema) are queried like the pipeline would.
*/
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "db.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char path[64], side[80];
  snprintf(path, sizeof path, "/tmp/clap-fuzz-db-%d.db", (int)getpid());
  FILE *f = fopen(path, "wb");
  if (!f) return 0;
  if (size) fwrite(data, 1, size, f);
  fclose(f);

  sqlite3 *db = NULL;
  clap_error e = {0};
  if (db_open(path, 0, &db, &e) == CLAP_OK) {
    db_exec(db, "SELECT count(*) FROM dimensions; SELECT * FROM utterance_labels; SELECT * FROM label_balance", &e);
    db_close(db);
  } else if (db != NULL || e.msg[0] == 0) {
    __builtin_trap(); /* the contract: NULL handle and a message on error */
  }
  unlink(path);
  snprintf(side, sizeof side, "%s-wal", path);
  unlink(side);
  snprintf(side, sizeof side, "%s-shm", path);
  unlink(side);
  return 0;
}
