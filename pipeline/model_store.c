/* model_store — see model_store.h. */
#include "model_store.h"

#include <stdlib.h>
#include <string.h>

#include "db.h"

int model_store_exists(sqlite3 *db, const char *name) {
  sqlite3_stmt *st;
  int found = 0;
  if (sqlite3_prepare_v2(db, "SELECT 1 FROM clap_models WHERE name=?", -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    found = sqlite3_step(st) == SQLITE_ROW;
  }
  sqlite3_finalize(st);
  return found;
}

clap_status model_store_put(sqlite3 *db, const char *name, const clap_model *m, int replace,
                            const char *metrics_json, clap_error *err) {
  if (!replace && model_store_exists(db, name))
    return clap_error_set(err, CLAP_ERR_ARG, "a model named '%s' exists (use --replace)", name);
  unsigned char *blob = NULL;
  size_t n = 0;
  clap_status rc = model_save(m, &blob, &n, err);
  if (rc != CLAP_OK) return rc;
  const model_config *cfg = model_get_config(m);
  char *card = model_describe_json(m);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db,
                         "INSERT OR REPLACE INTO clap_models(name, model, audio_encoder, "
                         "text_encoder, dim, config, metrics) VALUES (?,?,?,?,?,?,?)",
                         -1, &st, NULL) != SQLITE_OK) {
    rc = clap_error_set(err, CLAP_ERR_INTERNAL, "%s", sqlite3_errmsg(db));
  } else {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_blob64(st, 2, blob, n, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, cfg->audio_encoder, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, cfg->text_encoder, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, cfg->dim);
    sqlite3_bind_text(st, 6, card ? card : "{}", -1, SQLITE_STATIC);
    if (metrics_json) sqlite3_bind_text(st, 7, metrics_json, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
      rc = clap_error_set(err, CLAP_ERR_IO, "storing model '%s': %s", name, db_errmsg(db));
  }
  sqlite3_finalize(st);
  free(card);
  free(blob);
  return rc;
}

clap_status model_store_get(sqlite3 *db, const char *name, clap_model **out, unsigned char **blob,
                            size_t *nbytes, clap_error *err) {
  *out = NULL;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT model FROM clap_models WHERE name=?", -1, &st, NULL) !=
      SQLITE_OK)
    return clap_error_set(err, CLAP_ERR_INTERNAL, "%s", sqlite3_errmsg(db));
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  clap_status rc;
  if (sqlite3_step(st) != SQLITE_ROW) {
    rc = clap_error_set(err, CLAP_ERR_NOTFOUND, "no model named '%s'", name);
  } else {
    const void *p = sqlite3_column_blob(st, 0);
    size_t len = (size_t)sqlite3_column_bytes(st, 0);
    rc = model_load(p, len, out, err);
    if (rc != CLAP_OK) clap_error_prefix(err, "model '%s': ", name);
    if (rc == CLAP_OK && blob) {
      *blob = malloc(len ? len : 1);
      if (!*blob) {
        rc = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
        model_free(*out);
        *out = NULL;
      } else {
        memcpy(*blob, p, len);
        *nbytes = len;
      }
    }
  }
  sqlite3_finalize(st);
  return rc;
}
