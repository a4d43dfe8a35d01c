/*
** hfckpt — the files of a Hugging Face checkpoint directory that every
** encoder reads the same way: its JSON configs (config.json,
** preprocessor_config.json, tokenizer_config.json) and its weights.
**
** hfckpt_load_json reads at most HFCKPT_MAX_JSON_BYTES through fileio_read,
** so its errors are fileio's (a missing file -> CLAP_ERR_NOTFOUND "PATH:
** cannot open: ...", too large -> CLAP_ERR_RANGE, unreadable -> CLAP_ERR_IO);
** text that is not a JSON object -> CLAP_ERR_FORMAT "PATH: not a JSON
** object". On success *out is a cJSON tree the caller frees with
** cJSON_Delete.
**
** The field readers take typed fields with a default, the way transformers
** does: *out is def when the key is absent or null; a present value of the
** wrong type or outside lo..hi -> CLAP_ERR_FORMAT "PATH: "KEY" must be an
** integer in LO..HI" / "PATH: "KEY" must be true or false", and *out is
** then unspecified. path is only used in messages (cut to 300 bytes).
**
** A checkpoint's identity (hfckpt_file_hashes, hfckpt_identity) covers every
** file an encoder reads from its directory, so `clap encoder add` can record
** it and hfckpt_verify_weights can refuse a checkpoint whose tokenizer or
** config changed, not only its weights.
**
** hfckpt_open_weights opens DIR/model.safetensors, or else converts
** DIR/pytorch_model.bin (torchbin.h) in memory; neither ->
** CLAP_ERR_NOTFOUND "DIR: no model.safetensors or pytorch_model.bin in the
** checkpoint directory"; a bad file -> safetensors' or torchbin's error.
*/
#ifndef CLAP_HFCKPT_H
#define CLAP_HFCKPT_H

#include "clap_error.h"
#include "dense.h"
#include "safetensors.h"
#include "sha256.h"

#include <cjson/cJSON.h>

#define HFCKPT_MAX_JSON_BYTES ((size_t)1 << 20)

clap_status hfckpt_load_json(const char *path, cJSON **out, clap_error *err);

/* 1 if something is at path (a checkpoint's optional files): a FIFO or a
** directory there counts, so that opening it refuses it by name
** (fileio_open_regular) rather than the file being taken for absent. */
int hfckpt_file_exists(const char *path);

/* An integral JSON number in lo..hi (1.0 counts, 1.5 does not). */
clap_status hfckpt_int(const cJSON *root, const char *key, int def, int lo, int hi, int *out,
                         const char *path, clap_error *err);

/* true or false, stored as 1 or 0. */
clap_status hfckpt_bool(const cJSON *root, const char *key, int def, int *out, const char *path,
                          clap_error *err);

/* A registered checkpoint must still be what `clap encoder add` recorded.
** config_json is clap_encoders.config, sha clap_encoders.sha256, dir
** clap_encoders.path. The one check behind the SQL functions and the
** feature cache (`clap embed`, train, eval, model create):
**   - config with "files" (rows added since schema version 3): the files
**     the encoder would read now (see hfckpt_file_hashes) must be exactly
**     the recorded names, each with its recorded sha256. A changed file is
**     CLAP_ERR_FORMAT "encoder 'NAME': DIR/FILE changed since `clap encoder
**     add` (sha256 A… recorded, B… now); ..."; a recorded file that is
**     gone, or a file the encoder would read that was not recorded (say a
**     tokenizer_config.json put there later), is CLAP_ERR_FORMAT naming it
**     too. A missing weights file is hfckpt_weights_file's NOTFOUND.
**   - rows whose config has no "files" (written before schema version 3):
**     the weights file only ("weights" in config, absolute or relative to
**     dir, against sha); a row without either is taken as it is.
** It hashes every file it checks, so callers run it once per encoder they
** build (the SQL binding once per connection and row, see sqlite_clap.c). */
clap_status hfckpt_verify_weights(const char *name, const char *dir, const char *config_json,
                                  const char *sha, clap_error *err);

/* The files of checkpoint directory dir that an encoder may read, each with
** its sha256: the weights file hfckpt_weights_file picks (required:
** CLAP_ERR_NOTFOUND as there) and whichever of config.json,
** preprocessor_config.json, spiece.model, tokenizer_config.json are
** present (other files, e.g. a README, are not covered). On success *files
** is a JSON object {"config.json": "<64 hex>", ...} the caller frees with
** cJSON_Delete; an unreadable file is sha256_file's CLAP_ERR_IO naming it. */
clap_status hfckpt_file_hashes(const char *dir, cJSON **files, clap_error *err);

/* The identity of a set of files, {"NAME": "HEX", ...} as above: the sha256
** of the lines "HEX  NAME\n" in byte order of NAME, which is what
**   cd DIR && sha256sum NAME... | sha256sum
** prints when the names are given sorted (LC_ALL=C). Members that are not
** strings are skipped; no members gives the sha256 of nothing. out is ""
** when hashing ran out of memory (an identity no checkpoint has). */
void hfckpt_identity(const cJSON *files, char out[SHA256_HEX_SIZE]);

/* The identity a clap_encoders row records: hfckpt_identity of its config's
** "files" when present, else (rows added before schema version 3) its
** weights sha256, else "" (a row made by hand with neither). A config whose
** "precision" is not "f32" (dense.h) folds it in: the sha256 of that
** identity, one space and the precision's name ("HEX bf16"), so vectors
** and models of one precision are never taken for another's. */
/* The precision a clap_encoders row records in its config's "precision"
** ("f32" or "bf16"; absent: f32). Any other value -> CLAP_ERR_FORMAT naming
** the encoder. */
clap_status hfckpt_recorded_precision(const char *name, const char *config_json, nn_precision *p,
                                      clap_error *err);

void hfckpt_recorded_identity(const char *config_json, const char *sha,
                              char out[SHA256_HEX_SIZE]);

/* The weights file hfckpt_open_weights would open, written to out (cap
** bytes); CLAP_ERR_NOTFOUND as there when there is none. */
clap_status hfckpt_weights_file(const char *dir, char *out, size_t cap, clap_error *err);

/* On success *st (st_close) and *weights_path (free: the file actually
** read) belong to the caller; on failure both are NULL. */
clap_status hfckpt_open_weights(const char *dir, st_file **st, char **weights_path,
                                clap_error *err);

#endif
