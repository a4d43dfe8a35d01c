/*
** clap merge — fold shard databases made by `clap embed DB --shard K/N`
** back into DB.
**
**   clap merge DB SHARD.db [SHARD.db ...]
**
** Each shard is ATTACHed (and never written) and checked before anything
** is copied: a missing file, a directory, a file that is not SQLite or is
** corrupt (PRAGMA quick_check), another schema version, a database that is
** not a shard, a shard made from another database (its utterance
** fingerprint differs: other, more or re-ingested utterances), a shard whose
** checkpoint encoder has other weights here (or is not registered here), a
** features table with other columns: refused, with the shard's file name.
** Then, in one transaction per shard, its feature rows are inserted by
** content key (the features primary key: encoder, modality, utterance id or
** text SHA-256); a key DB already has with the same bytes is counted as
** present, with any other bytes as a conflict, which refuses the whole shard
** naming the first conflicting key. A shard is merged whole or not at all;
** merging one twice changes nothing. Every column of DB's features table is
** copied, whatever it is (pipeline/shard.h).
**
** K/N is recorded and reported but not required to agree between shards:
** shards of two splits of the same database hold the same vectors under the
** same keys, so merging both is safe (the overlap counts as present). What
** would mix results (another database, other encoder weights, other bytes
** under one key) is what is refused. Shards may come in any order and in
** several calls; a gap left by a missing shard is filled by a plain
** `clap embed DB`.
**
** Output: one line per shard, "SHARD: shard K/N: A new, P already present
** (R rows)". Every shard is tried even after one is refused; the exit status
** is then 1 and each refusal is on stderr. Exit 2 on usage errors.
*/
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "db.h"
#include "shard.h"

static const char merge_usage[] =
    "usage: clap merge DB SHARD.db [SHARD.db ...]\n"
    "\n"
    "Fold shard databases made by `clap embed DB --shard K/N` into DB, one\n"
    "transaction per shard. A shard made from another database, with other\n"
    "encoder weights or another schema version is refused, as is one holding\n"
    "a vector that differs from DB's under the same key. Merging a shard again\n"
    "changes nothing.\n";

int cmd_merge(int argc, char **argv) {
  const char *path = NULL;
  int nshards = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      fputs(merge_usage, stdout);
      return 0;
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "clap merge: unknown option '%s'\n%s", a, merge_usage);
      return 2;
    } else if (!path) {
      path = a;
    } else {
      nshards++;
    }
  }
  if (!path || !nshards) {
    fprintf(stderr, "clap merge: %s\n%s", !path ? "no database given" : "no shard given",
            merge_usage);
    return 2;
  }
  sqlite3 *db;
  clap_error err;
  if (db_open(path, 0, &db, &err) != CLAP_OK) {
    fprintf(stderr, "clap merge: %s\n", err.msg);
    return 1;
  }
  int failed = 0, seen_db = 0;
  long added = 0, present = 0;
  for (int i = 1; i < argc; i++) {
    /* The same skip as above: the first operand is DB. */
    if (argv[i][0] == '-' && argv[i][1]) continue;
    if (!seen_db) {
      seen_db = 1;
      continue;
    }
    shard_merge_counts c;
    if (shard_merge(db, argv[i], &c, &err) != CLAP_OK) {
      fprintf(stderr, "clap merge: %s\n", err.msg);
      failed++;
      continue;
    }
    printf("%s: shard %d/%d: %ld new, %ld already present (%ld rows)\n", argv[i], c.k, c.n,
           c.added, c.present, c.rows);
    added += c.added;
    present += c.present;
  }
  db_close(db);
  printf("merge: %d of %d shard%s merged: %ld new, %ld already present%s\n", nshards - failed,
         nshards, nshards == 1 ? "" : "s", added, present, failed ? "; see the errors above" : "");
  return failed ? 1 : 0;
}
