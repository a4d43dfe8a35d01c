/*
** hfconfig — the JSON files of a Hugging Face checkpoint (config.json,
** preprocessor_config.json, tokenizer_config.json): read one, and take typed
** fields from it with a default, the way transformers does (an absent key or
** a null takes the default).
**
** hfconfig_load reads at most HFCONFIG_MAX_BYTES through fileio_read, so
** its errors are fileio's (a missing file -> CLAP_ERR_NOTFOUND "PATH: cannot
** open: ...", too large -> CLAP_ERR_RANGE, unreadable -> CLAP_ERR_IO); text
** that is not a JSON object -> CLAP_ERR_FORMAT "PATH: not a JSON object".
** On success *out is a cJSON tree the caller frees with cJSON_Delete.
**
** The field readers leave *out at def when the key is absent or null; a
** present value of the wrong type or outside lo..hi -> CLAP_ERR_FORMAT
** "PATH: "KEY" must be an integer in LO..HI" / "... must be true or false",
** and *out is then unspecified. path is only used in messages (cut to 300
** bytes).
*/
#ifndef CLAP_HFCONFIG_H
#define CLAP_HFCONFIG_H

#include "clap_error.h"

#include <cjson/cJSON.h>

#define HFCONFIG_MAX_BYTES ((size_t)1 << 20)

clap_status hfconfig_load(const char *path, cJSON **out, clap_error *err);

/* An integral JSON number in lo..hi (1.0 counts, 1.5 does not). */
clap_status hfconfig_int(const cJSON *root, const char *key, int def, int lo, int hi, int *out,
                         const char *path, clap_error *err);

/* true or false, stored as 1 or 0. */
clap_status hfconfig_bool(const cJSON *root, const char *key, int def, int *out, const char *path,
                          clap_error *err);

#endif
