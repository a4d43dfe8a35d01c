/*
** registry — encoders by name for a database: the one resolver that the SQL
** functions (sqlite_clap.c) and the CLI (pipeline/feature_cache.c) share.
**
** A name is, in this order:
**   1. a built-in kind ("acoustic", "ngram"): the process-wide instance;
**   2. a row of clap_encoders(name, kind, path, config, sha256, dim): its
**      files are verified against what `clap encoder add` recorded
**      (hfckpt_verify_weights: every file the encoder reads, or the weights
**      alone for rows added before schema version 3; a file changed, gone or
**      appeared since is an error naming it), then the encoder is created
**      from its kind and path, or for a configured kind ("openai") from its
**      config (which contacts no server).
** Messages:
**   CLAP_ERR_NOTFOUND "unknown encoder 'x' (built in: acoustic, ngram; not in clap_encoders)"
**   CLAP_ERR_NOTFOUND "unknown encoder 'x' (built in: acoustic, ngram; no clap_encoders table)"
**   CLAP_ERR_ARG      "encoder 'ngram' encodes text, not audio" (encoder_check_modality)
**   a lookup SQLite could not finish: CLAP_ERR_NOMEM "out of memory", or
**   CLAP_ERR_IO "reading clap_encoders: <SQLite's message>" (never taken
**   for a missing row or table)
**
** A cache keeps the encoders made from rows, keyed by the row's name, kind,
** path, config and sha256: a row re-added with other files (another digest
** or config) is verified and built anew; an unchanged row is not hashed
** again. Without a cache every call verifies and builds, and the caller
** owns the encoder.
**
** Precision: a checkpoint kind (one with a precision setting: hubert,
** distilbert; encoder.h) computes in the precision its row records
** (config "precision", `clap encoder add --precision`), or in the one a
** caller asks for instead (registry_prec: `clap embed --precision`,
** clap_precision() in SQL). registry_row_at gives the row as if it had been
** registered at that precision, so everything made from the row follows it:
** the identity vectors and models are recorded under
** (hfckpt_recorded_identity folds the precision in), the cache key (two
** precisions of one row are two entries) and the encoder's setting. Other
** kinds have one precision and are not affected by the request.
**
** Like sqlite_clap.c this file is compiled twice, through sqlite3ext.h's
** routines for clap0.so and with SQLITE_CORE for the CLI, so it runs on the
** SQLite the host process uses. A cache is not thread-safe: one per
** connection (the SQL binding) or per command (the CLI).
*/
#ifndef CLAP_REGISTRY_H
#define CLAP_REGISTRY_H

#include <sqlite3.h>

#include "clap_error.h"
#include "encoder.h"
#include "sha256.h"

/* A clap_encoders row: malloc'd copies ("" for NULL columns); dim is the
** recorded output dimension, 0 when not recorded. */
typedef struct registry_row {
  char *kind, *path, *config, *sha256;
  int dim;
} registry_row;

/* The precision a caller asks checkpoint encoders to compute in: as the
** row records it, or one of dense.h's. */
typedef enum registry_prec {
  REGISTRY_PREC_RECORDED = -1,
  REGISTRY_PREC_F32 = NN_F32,
  REGISTRY_PREC_BF16 = NN_BF16
} registry_prec;

/* The one parser of a precision request: "registered" (as recorded),
** "f32", "bf16" or "auto" (nn_precision_auto(): bf16 where the CPU has
** AMX or AVX512-BF16, else f32). Anything else (NULL too) -> CLAP_ERR_ARG
** "expected f32, bf16, auto or registered, got 'X'" (callers prefix the
** argument's name). */
clap_status registry_prec_parse(const char *text, registry_prec *out, clap_error *err);
/* "registered", "f32" or "bf16" (static text). */
const char *registry_prec_name(registry_prec p);

/* Read the row called name (the messages above when there is none). On
** success the caller releases *row with registry_row_clear. */
clap_status registry_row_read(sqlite3 *db, const char *name, registry_row *row, clap_error *err);
void registry_row_clear(registry_row *row);

/* registry_row_read, then registry_row_at(prec): the row every caller that
** takes a precision reads. */
clap_status registry_row_read_at(sqlite3 *db, const char *name, registry_prec prec,
                                 registry_row *row, clap_error *err);

/* The row as if registered at prec: for a kind with a precision setting,
** config's "precision" becomes prec's name (the config rewritten only when
** that changes it; a config that is not a JSON object is taken as {}).
** REGISTRY_PREC_RECORDED and other kinds leave the row as it is.
** CLAP_ERR_NOMEM leaves it as it was. */
clap_status registry_row_at(registry_row *row, registry_prec prec, clap_error *err);

/* 1 when the row's kind has a precision setting (encoder_ops.set_precision),
** else 0: its vectors and models then have a precision to record. */
int registry_row_has_precision(const registry_row *row);

/* The error for a lookup in `table` that SQLite could not complete (its
** last error on db): CLAP_ERR_NOMEM, else CLAP_ERR_IO naming the table.
** Shared with the model lookups (models.c). */
clap_status registry_lookup_failed(sqlite3 *db, const char *table, clap_error *err);

typedef struct registry_cache registry_cache;
registry_cache *registry_cache_create(void); /* NULL when out of memory */
void registry_cache_free(registry_cache *c); /* frees every encoder it made */

/* The identity the feature cache records for vectors of an encoder this
** cache made (features.encoder_id: hfckpt_recorded_identity of the row's
** config at the precision it was made at, and sha256), or NULL for an encoder it did not make. */
const char *registry_cache_id(const registry_cache *c, const encoder *enc);

/* Resolve name (1, 2 above) at precision prec (registry_row_at) for
** modality want (0 = either). *enc is borrowed: a built-in lives for the
** process, a cached encoder until registry_cache_free. With cache NULL,
** *owned receives an encoder made from a row, which the caller frees with
** encoder_free (NULL for a built-in); with a cache, *owned is NULL. sha256
** receives the row's recorded weights digest and identity its files'
** identity at prec (hfckpt_recorded_identity of the config registry_row_at
** gives), each "" for a built-in or when not recorded; either may be NULL. */
clap_status registry_resolve(registry_cache *cache, sqlite3 *db, const char *name,
                             registry_prec prec, encoder_modality want, const encoder **enc,
                             encoder **owned, char sha256[SHA256_HEX_SIZE],
                             char identity[SHA256_HEX_SIZE], clap_error *err);

#endif
