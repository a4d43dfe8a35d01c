/*
** shard — embedding past one machine: which shard owns a feature key, the
** shard database's record of where it came from, and folding a shard back
** into its database (`clap embed --shard K/N`, `clap merge`).
**
** Ownership. Shard K of N (1 <= K <= N) owns the feature keys k with
** shard_of(k, N) == K, where shard_of is 1 + (the first 8 bytes of
** SHA-256(k), big-endian) mod N. Keys are features.key: the utterance id for
** audio, the SHA-256 hex of the sentence for text. So ownership depends on
** nothing but the key and N: shards never overlap, their union is every
** key, a re-run of shard K picks the same keys, and adding utterances never
** moves an old one to another shard.
**
** shard_parse: "K/N", decimal, 1 <= K <= N <= SHARD_MAX_N. Anything else
** ("0/3", "4/3", "1/0", "x", "1/3x", "", NULL) is CLAP_ERR_ARG with a
** message that quotes the argument and says what is wanted.
**
** The source fingerprint (shard_fingerprint) is the SHA-256 of every
** utterance's id, source_sha256, start_seconds and end_seconds, in id order:
** what an utterance id means. A copy of a database (one per node) has the
** same fingerprint; a database with other, more or re-ingested utterances
** has another.
**
** A shard database is a clap database (same schema, same user_version)
** whose features table holds only shard K's vectors, plus one row in
** table clap_shard (SHARD_TABLE_SQL): K, N, the source path (for messages),
** its fingerprint, both encoders' names, weight hashes ("" for the
** built-ins) and identities (features_identity, feature_cache.h: what
** features.encoder_id holds for rows they compute) and the clap version.
** shard_record writes that row into a new shard database, or checks that
** an existing one was made by the same K/N, source fingerprint and encoder
** names (CLAP_ERR_ARG naming both otherwise, so a re-run continues a shard
** and never mixes two). A re-run after an encoder's files changed (`clap
** encoder add --replace`, a new clap for a built-in) updates the recorded
** hashes and identities: its rows computed before are stale and the run
** recomputes them.
**
** shard_merge(db, path): ATTACHes the shard read-only in spirit (nothing is
** written to it) and refuses, naming path: a missing file, a directory, a
** file that is not SQLite or fails PRAGMA quick_check, another schema
** version, no clap_shard row, another source fingerprint, an encoder whose
** weight hash differs from (or is not registered in) db's clap_encoders, an
** encoder whose identity differs from db's identity for that name now
** ("made with encoder 'E' of identity A..., here 'E' is identity B..."), a
** features table whose columns differ from db's, a feature row of an
** encoder the shard does not record or whose encoder_id is not the one
** recorded for it (a stale row left by an interrupted re-run: run the shard
** again). The columns copied are db's own (PRAGMA table_info), so a column
** added to features later is carried without a change here. Then, in one
** transaction, each row is inserted when db lacks its key (the table's
** primary key); when db has the key with the same encoder_id, every other
** column must be equal (counted present), else it is a conflict,
** CLAP_ERR_FORMAT naming the first key and the number of conflicts, and
** nothing of that shard is kept; when db has the key with another
** encoder_id, db's row is stale (the shard's identity is db's identity now,
** checked above) and the shard's row replaces it (counted replaced). A row
** the table's constraints reject refuses the shard too. Merging a shard
** twice adds nothing. The counts say what happened.
*/
#ifndef CLAP_SHARD_H
#define CLAP_SHARD_H

#include <stddef.h>

#include <sqlite3.h>

#include "clap_error.h"
#include "sha256.h"

#define SHARD_MAX_N 1000000

/* The table a shard database records its origin in (idempotent SQL). */
#define SHARD_TABLE_SQL                                                               \
  "CREATE TABLE IF NOT EXISTS clap_shard ("                                           \
  " id INTEGER PRIMARY KEY CHECK (id = 1), k INTEGER NOT NULL, n INTEGER NOT NULL,"   \
  " source TEXT NOT NULL, source_fingerprint TEXT NOT NULL,"                          \
  " audio_encoder TEXT NOT NULL, audio_encoder_sha256 TEXT NOT NULL,"                 \
  " text_encoder TEXT NOT NULL, text_encoder_sha256 TEXT NOT NULL,"                   \
  " audio_encoder_id TEXT NOT NULL, text_encoder_id TEXT NOT NULL,"                   \
  " clap_version TEXT NOT NULL,"                                                      \
  " created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')))"

clap_status shard_parse(const char *arg, int *k, int *n, clap_error *err);

/* 1..n for n >= 1; 0 when n < 1 or when hashing ran out of memory. */
int shard_of(const char *key, int n);

/* The default --out: DB without a trailing ".db", then ".shard-K-of-N.db".
** CLAP_ERR_ARG when it does not fit in cap. */
clap_status shard_default_path(const char *db_path, int k, int n, char *out, size_t cap,
                               clap_error *err);

clap_status shard_fingerprint(sqlite3 *db, char hex[SHA256_HEX_SIZE], clap_error *err);

typedef struct shard_info {
  int k, n;
  const char *source;
  char fingerprint[SHA256_HEX_SIZE];
  const char *audio_encoder, *audio_sha256; /* sha "" for built-ins */
  const char *text_encoder, *text_sha256;
  const char *audio_id, *text_id;           /* features_identity, never NULL */
} shard_info;

/* Record info in the shard database sdb (a clap database opened by
** db_open), or check the record already there (see above). */
clap_status shard_record(sqlite3 *sdb, const char *sdb_path, const shard_info *info,
                         clap_error *err);

typedef struct shard_merge_counts {
  int k, n;          /* the shard's K/N */
  long rows;         /* feature rows in the shard */
  long added;        /* new in db */
  long present;      /* already in db, same bytes */
  long replaced;     /* stale in db (other encoder_id), replaced by the shard's */
  long conflicts;    /* set when the shard is refused for conflicts */
} shard_merge_counts;

clap_status shard_merge(sqlite3 *db, const char *path, shard_merge_counts *c, clap_error *err);

#endif
