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
** shard whose encoder identity (features.encoder_id, feature_cache.h)
** differs from the identity DB's encoder of that name has now (`clap
** encoder add --replace` since, or another clap for a built-in; the message
** names the file and the encoder), a features table with other columns, a
** row of another encoder or identity than the shard records, a row whose
** values DB would never have written (vec not a BLOB of 4 x dim bytes, dim
** not the encoder's dimension here, an audio key with no utterance in DB, a
** text key that is not a SHA-256): refused, with the shard's file name, the
** table and the key ("S.db: table features, encoder 'hb', audio key 's1-u1':
** vec is 8 bytes, 50 dims need 200"). Then, in one transaction per shard, its feature
** rows are inserted by content key (the features primary key: encoder,
** modality, utterance id or text SHA-256). A key DB already has with the
** same encoder_id and the same bytes is counted as present; with the same
** encoder_id and any other bytes it is a conflict, which refuses the whole
** shard naming the first conflicting key. A key DB has with another
** encoder_id is a stale row in DB (the shard's identity is DB's current
** one, checked above): the shard's fresh row replaces it, counted as
** replaced, not a conflict. A shard is merged whole or not at all;
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
** Output: one line per shard, "SHARD: shard K/N: A new, P already present,
** S stale replaced (R rows)", and a total line. Every shard is tried even after one is refused; the exit status
** is then 1 and each refusal is on stderr. Exit 2 on usage errors.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "db.h"
#include "shard.h"

static const char merge_usage[] =
    "usage: clap merge DB SHARD.db [SHARD.db ...]\n"
    "\n"
    "Fold shard databases made by `clap embed DB --shard K/N` into DB, one\n"
    "transaction per shard. A shard made from another database, with other\n"
    "encoder weights or identity or another schema version is refused, as is\n"
    "one holding a vector that differs from DB's under the same key and encoder\n"
    "identity. DB's stale vectors (another encoder identity) are replaced by\n"
    "the shard's. Merging a shard again changes nothing.\n";

/* Fold each shard into db, printing its line (or its refusal) and the total;
** returns how many were refused. */
static int merge_shards(sqlite3 *db, const char **shards, int nshards) {
  int failed = 0;
  long added = 0, present = 0, replaced = 0;
  for (int i = 0; i < nshards; i++) {
    shard_merge_counts c;
    clap_error err;
    if (shard_merge(db, shards[i], &c, &err) != CLAP_OK) {
      fprintf(stderr, "clap merge: %s\n", err.msg);
      failed++;
      continue;
    }
    printf("%s: shard %d/%d: %ld new, %ld already present, %ld stale replaced (%ld rows)\n",
           shards[i], c.k, c.n, c.added, c.present, c.replaced, c.rows);
    replaced += c.replaced;
    added += c.added;
    present += c.present;
  }
  printf("merge: %d of %d shard%s merged: %ld new, %ld already present, %ld stale replaced%s\n",
         nshards - failed, nshards, nshards == 1 ? "" : "s", added, present, replaced,
         failed ? "; see the errors above" : "");
  return failed;
}

int cmd_merge(int argc, char **argv) {
  static const struct option opts[] = {CLI_HELP_OPTION, CLI_DB_OPTION, {0}};
  cli c = {.cmd = "clap merge", .help = merge_usage};
  for (int o; (o = cli_next(&c, argc, argv, "", opts)) != CLI_END;)
    if (o == CLI_EXIT) return c.status;
  static const char *const operands[] = {"database", "shard", NULL};
  if (cli_operands(&c, argc, argv, operands, 2, -1)) return 2;
  const char *path = argv[optind];
  sqlite3 *db;
  clap_error err;
  if (db_open(path, 0, &db, &err) != CLAP_OK) {
    fprintf(stderr, "clap merge: %s\n", err.msg);
    return 1;
  }
  int failed = merge_shards(db, (const char **)argv + optind + 1, argc - optind - 1);
  db_close(db);
  return failed ? 1 : 0;
}
