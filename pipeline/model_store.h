/*
** model_store — the one path by which the pipeline writes and reads the
** clap_models table (`clap model`, `clap train`, `clap baseline`, `clap eval`
** all go through it, so a stored model always has the same columns).
**
** model_store_put: saves m (model_save) under name; an existing name is
** CLAP_ERR_ARG "a model named 'X' exists (use --replace)" unless replace.
** Columns written: model (the blob), audio_encoder, text_encoder, dim,
** config (the model card, model_describe_json) and metrics (metrics_json or
** NULL). A model that model_save rejects is its error; nothing is written.
**
** model_store_get: loads the named model; no row is CLAP_ERR_NOTFOUND "no
** model named 'X'", a corrupt blob model_load's error prefixed with the name.
** *out is the caller's (model_free); when blob is non-NULL *blob receives a
** malloc'd copy of the stored bytes (*nbytes its size), the caller frees.
*/
#ifndef CLAP_MODEL_STORE_H
#define CLAP_MODEL_STORE_H

#include <stddef.h>

#include <sqlite3.h>

#include "clap_error.h"
#include "model.h"

clap_status model_store_put(sqlite3 *db, const char *name, const clap_model *m, int replace,
                            const char *metrics_json, clap_error *err);
clap_status model_store_get(sqlite3 *db, const char *name, clap_model **out, unsigned char **blob,
                            size_t *nbytes, clap_error *err);
/* *exists: 1 when a model of that name is stored; a failed read is an error. */
clap_status model_store_exists(sqlite3 *db, const char *name, int *exists, clap_error *err);

#endif
