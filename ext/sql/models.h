/*
** models — the models the SQL functions run, by name, cached per connection.
**
** A model name resolves, in this order, to:
**   1. a model registered on this connection from a file
**      (models_add_file, the SQL function clap_model_from_file): the blob
**      `clap model export` writes, under the whole name as given;
**   2. 'SCHEMA.NAME' where SCHEMA is a database of the connection (main,
**      temp or an ATTACH name): the row NAME of SCHEMA.clap_models;
**   3. otherwise the row of main.clap_models with the whole name (so a name
**      with a dot whose prefix is not a database, 'v1.2', is a name).
** A model from a file shadows rows of the same name for the connection.
**
** Caching: a row's model is loaded once and reloaded when its row changes:
** a change is noticed from the database's data version and the
** connection's change counter, and then the row's rowid, length and
** trailing CRC (read without reading the blob). A file's model stays what
** the file held when registered; registering the name again replaces it.
**
** Every model is checked by model_load (model.h: CRC, header, every value);
** its metadata's record of the encoders it was trained on is kept
** (audio_sha, ...), for the caller to compare with the encoders it resolves.
**
** Messages (CLAP_ERR_NOTFOUND):
**   no model 'x': this database has no clap_models table (create one with `clap model create`)
**   no model 'x': database 'aux' has no clap_models table
**   no model named 'x' in clap_models           (or "in aux.clap_models")
** and a blob that does not load: "model 'x': <model_load's message>".
**
** Compiled twice like sqlite_clap.c (sqlite3ext.h routines / SQLITE_CORE).
** Not thread-safe: one cache per connection.
*/
#ifndef CLAP_MODELS_H
#define CLAP_MODELS_H

#include <stdint.h>

#include <sqlite3.h>

#include "clap_error.h"
#include "model.h"
#include "sha256.h"

/* A loaded model, shared by the cache and by statements that hold it;
** freed when the last reference goes (models_release). */
typedef struct model_ref {
  int refs;
  char *name;                      /* as the functions were given it */
  char *schema;                    /* the database of its row; NULL: from a file */
  char *row;                       /* the row's name in schema.clap_models */
  sqlite3_int64 rowid;
  int nbytes;
  uint32_t tail;                   /* the blob's trailing CRC: changes when any byte does */
  sqlite3_uint64 stamp;            /* the change stamp when last validated */
  char audio_sha[SHA256_HEX_SIZE]; /* the encoders' weights it was built on, */
  char text_sha[SHA256_HEX_SIZE];  /* from its metadata; "" = not recorded */
  char audio_id[SHA256_HEX_SIZE];  /* the encoders' files identity, likewise */
  char text_id[SHA256_HEX_SIZE];   /* (models made since schema version 3) */
  char audio_prec[16];             /* the precision of the encoders' vectors it was */
  char text_prec[16];              /* trained on, "f32" or "bf16"; "" when not recorded */
  int baseline;                    /* a supervised baseline (metadata kind "baseline",
                                   ** or text encoder "none"): no text side */
  clap_model *model;
  struct model_ref *next;
} model_ref;

void models_release(model_ref *r);

typedef struct models models;
models *models_create(void); /* NULL when out of memory */
void models_free(models *c); /* drops the cache's references */

/* The model called name (resolved as above), loaded or reloaded as needed.
** On success *out is a new reference the caller releases. */
clap_status models_get(models *c, sqlite3 *db, const char *name, model_ref **out,
                       clap_error *err);

/* Register the model blob in file path under name for this connection,
** replacing a model registered under that name before. The file is read
** (at most MODELS_FILE_MAX bytes) and checked by model_load now; errors
** name the path. */
#define MODELS_FILE_MAX ((size_t)1 << 30)
clap_status models_add_file(models *c, const char *name, const char *path, clap_error *err);

#endif
