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
** hfckpt_open_weights opens DIR/model.safetensors, or else converts
** DIR/pytorch_model.bin (torchbin.h) in memory; neither ->
** CLAP_ERR_NOTFOUND "DIR: no model.safetensors or pytorch_model.bin in the
** checkpoint directory"; a bad file -> safetensors' or torchbin's error.
*/
#ifndef CLAP_HFCKPT_H
#define CLAP_HFCKPT_H

#include "clap_error.h"
#include "safetensors.h"

#include <cjson/cJSON.h>

#define HFCKPT_MAX_JSON_BYTES ((size_t)1 << 20)

clap_status hfckpt_load_json(const char *path, cJSON **out, clap_error *err);

/* An integral JSON number in lo..hi (1.0 counts, 1.5 does not). */
clap_status hfckpt_int(const cJSON *root, const char *key, int def, int lo, int hi, int *out,
                         const char *path, clap_error *err);

/* true or false, stored as 1 or 0. */
clap_status hfckpt_bool(const cJSON *root, const char *key, int def, int *out, const char *path,
                          clap_error *err);

/* The weights file hfckpt_open_weights would open, written to out (cap
** bytes); CLAP_ERR_NOTFOUND as there when there is none. */
/* A registered checkpoint must still be the file `clap encoder add` hashed:
** config_json (clap_encoders.config) names it as "weights" (absolute, or
** relative to dir), sha is clap_encoders.sha256. A row without either is
** taken as it is. A mismatch is CLAP_ERR_FORMAT naming the encoder, the file
** and both digests. */
clap_status hfckpt_verify_weights(const char *name, const char *dir, const char *config_json,
                                  const char *sha, clap_error *err);

clap_status hfckpt_weights_file(const char *dir, char *out, size_t cap, clap_error *err);

/* On success *st (st_close) and *weights_path (free: the file actually
** read) belong to the caller; on failure both are NULL. */
clap_status hfckpt_open_weights(const char *dir, st_file **st, char **weights_path,
                                clap_error *err);

#endif
