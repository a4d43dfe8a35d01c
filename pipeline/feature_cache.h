/*
** feature_cache — the encoder output cache (table features): keys, the encoder
** lookup shared with the SQL functions' rules, encoding one input exactly as
** clap_encode_audio / clap_encode_text do, and bulk reads for training.
**
** Keys: audio rows are keyed by utterance id, text rows by the SHA-256 (64
** lowercase hex digits) of the text's UTF-8 bytes. A vector is dim float32
** little-endian, as the SQL functions return them.
**
** features_encoder: the encoder called name, resolved as the SQL functions
** resolve it (registry_resolve, ext/sql/registry.h: a built-in kind, else a
** clap_encoders row whose files are verified, then created from its kind and
** path, or for a configured kind such as "openai" from its config, which
** contacts no server; the messages
** are registry.h's). *owned receives an encoder made from a row, which the
** caller frees with encoder_free (NULL for built-ins). sha (may be NULL)
** receives the row's weights sha256 ("" for built-ins), which models record
** so the SQL functions can refuse other weights.
**
** features_encode_audio: decodes the bytes with audio_decode_memory (any
** format libsndfile reads, resampled to 16 kHz mono, at most an hour - the
** SQL functions' limit) and runs the encoder; out holds encoder_dim floats.
** Errors are the decoder's or the encoder's, prefixed with `what`.
**
** Identity: every cached row records in features.encoder_id what computed
** it (sql/schema.sql). features_identity gives an encoder name's identity
** now: "builtin:KIND:clap-VERSION" for a built-in (CLAP_VERSION, so a new
** release recomputes), else the clap_encoders row's
** hfckpt_recorded_identity (the sha256 over all its files; its weights
** sha256 for rows added before schema version 3; "unrecorded" for a row
** made by hand with neither, whose changes cannot be told). It reads the
** row without verifying the files: features_encoder does that. An unknown
** name is CLAP_ERR_NOTFOUND as in features_encoder.
**
** Precision: every function that takes an encoder name takes prec too
** (registry.h's registry_prec: REGISTRY_PREC_RECORDED, or what `--precision`
** asked for). A checkpoint encoder is then the row as if registered at
** that precision (registry_row_at): it computes in it, and its identity
** (so the features it reads and writes, and what a model records) is that
** precision's. Vectors of one precision are stale for the other, as are
** vectors of changed files. Built-ins and remote kinds ignore prec.
**
** features_load: n rows (keys[i]) into out (n x dim, row-major). A missing
** row is CLAP_ERR_NOTFOUND "no <encoder> <modality> features for <what>
** '<key>' (run `clap embed`)"; a row computed by another identity (or by
** an unknown one: cached before schema version 3) is CLAP_ERR_FORMAT
** "stale <encoder> <modality> features for <what> '<key>': ... (run `clap
** embed` to recompute)"; a stored row of another size CLAP_ERR_FORMAT
** naming the key and both sizes.
*/
#ifndef CLAP_FEATURE_CACHE_H
#define CLAP_FEATURE_CACHE_H

#include <stddef.h>

#include <sqlite3.h>

#include "clap_error.h"
#include "encoder.h"
#include "registry.h"
#include "sha256.h"

#define FEATURES_AUDIO_MAX_SECONDS 3600.0
#define FEATURES_ID_SIZE 96 /* an identity and its NUL */
#define FEATURES_PREC_SIZE 8 /* "bf16" and its NUL */

clap_status features_text_key(const char *text, char key[SHA256_HEX_SIZE], clap_error *err);

clap_status features_encoder(sqlite3 *db, const char *name, registry_prec prec,
                             encoder_modality want, const encoder **enc, encoder **owned,
                             char sha[SHA256_HEX_SIZE], clap_error *err);

clap_status features_encode_audio(const encoder *enc, const void *bytes, size_t n,
                                  const char *what, float *out, clap_error *err);

clap_status features_load(sqlite3 *db, const char *encoder_name, registry_prec prec,
                          encoder_modality modality, const char *const *keys,
                          const char *const *what, int n, int dim, float *out, clap_error *err);

clap_status features_identity(sqlite3 *db, const char *name, registry_prec prec,
                              char id[FEATURES_ID_SIZE], clap_error *err);

/* What a model records as the precision of encoder name's vectors at prec
** (metadata encoders.<side>.precision): "f32" or "bf16" for a kind with a
** precision setting, "" for the others (built-ins, remote kinds). A
** recorded value other than f32 or bf16 (a row edited by hand) with prec
** REGISTRY_PREC_RECORDED is hfckpt_recorded_precision's CLAP_ERR_FORMAT;
** an unknown name CLAP_ERR_NOTFOUND. */
clap_status features_precision(sqlite3 *db, const char *name, registry_prec prec,
                               char out[FEATURES_PREC_SIZE], clap_error *err);

/* What a model records next to the weights' sha256 (metadata
** encoders.<side>.identity) so the SQL functions refuse the encoder when
** its name was registered again with other files: the row's files
** identity, or "" for a built-in and for a row added before schema version
** 3 (for which a model records the weights' sha256 only). Unknown
** name: CLAP_ERR_NOTFOUND. */
clap_status features_files_identity(sqlite3 *db, const char *name, registry_prec prec,
                                    char id[SHA256_HEX_SIZE], clap_error *err);

/* What training needs of an encoder name without creating it (no file is
** read, hashed or mapped): its output dimension and what a model records,
** the weights' sha256 as features_encoder gives it and the files identity as
** features_files_identity does (sha and id both "" for a built-in). A
** built-in answers from its process-wide instance; a clap_encoders row from
** its kind (the modality) and its dim column, so its files are NOT verified
** here: a checkpoint changed on disk since `clap encoder add` goes unnoticed
** until something encodes with it, whereas features_load still refuses rows
** computed by another identity. A row that cannot tell (dim NULL or < 1, an
** unknown kind: only rows made by hand) is answered by features_encoder,
** verifying and loading it. Errors: unknown name and wrong
** modality as features_encoder. */
clap_status features_encoder_info(sqlite3 *db, const char *name, registry_prec prec,
                                  encoder_modality want, int *dim, char sha[SHA256_HEX_SIZE],
                                  char id[SHA256_HEX_SIZE], clap_error *err);

/* Store one vector (INSERT OR REPLACE) computed by identity id
** (features_identity; NULL or "" stores NULL, which reads as stale). */
clap_status features_put(sqlite3 *db, const char *encoder_name, encoder_modality modality,
                         const char *key, const float *v, int dim, const char *id,
                         clap_error *err);

#endif
