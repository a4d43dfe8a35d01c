/* models — see models.h. */
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT3

#include "models.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fileio.h"
#include "registry.h"

struct models {
  model_ref *rows;  /* from clap_models tables */
  model_ref *files; /* registered from files */
};

models *models_create(void) {
  models *c = sqlite3_malloc(sizeof *c);
  if (c) memset(c, 0, sizeof *c);
  return c;
}

void models_release(model_ref *r) {
  if (!r || --r->refs > 0) return;
  model_free(r->model);
  sqlite3_free(r->name);
  sqlite3_free(r->schema);
  sqlite3_free(r->row);
  sqlite3_free(r);
}

static void release_list(model_ref *r) {
  while (r) {
    model_ref *next = r->next;
    models_release(r);
    r = next;
  }
}

void models_free(models *c) {
  if (!c) return;
  release_list(c->rows);
  release_list(c->files);
  sqlite3_free(c);
}

static uint32_t blob_tail(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* What proves a cached model is still what its row holds, without reading
** the row: the database's data version (changes on every commit, by this
** connection or another) together with this connection's change counter
** (changes at once, inside an open transaction too). An in-memory database
** has no data version, but only this connection can change it. */
static sqlite3_uint64 change_stamp(sqlite3 *db, const char *schema) {
  unsigned int v = 0;
  if (sqlite3_file_control(db, schema, SQLITE_FCNTL_DATA_VERSION, &v) != SQLITE_OK) v = 0;
  return (sqlite3_uint64)v << 40 ^ (sqlite3_uint64)sqlite3_total_changes64(db);
}

/* "clap_models" for main, "aux.clap_models" otherwise: for messages. */
static const char *table_label(const char *schema, char *buf, size_t cap) {
  if (!strcmp(schema, "main")) return "clap_models";
  snprintf(buf, cap, "%.200s.clap_models", schema);
  return buf;
}

/* 1 when schema has a clap_models table, 0 when not, -1 when SQLite could
** not say (out of memory, I/O): reported as such, not as absence; -2 when
** our own allocation failed. */
static int has_models_table(sqlite3 *db, const char *schema) {
  char *sql = sqlite3_mprintf(
      "SELECT 1 FROM \"%w\".sqlite_schema WHERE type='table' AND name='clap_models'", schema);
  if (!sql) return -2;
  sqlite3_stmt *st = NULL;
  int step = sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK ? sqlite3_step(st)
                                                                    : SQLITE_ERROR;
  sqlite3_finalize(st);
  sqlite3_free(sql);
  return step == SQLITE_ROW ? 1 : step == SQLITE_DONE ? 0 : -1;
}

static clap_status no_row(const model_ref *r, clap_error *err) {
  char buf[256];
  return clap_error_set(err, CLAP_ERR_NOTFOUND, "no model named '%s' in %s", r->row,
                        table_label(r->schema, buf, sizeof buf));
}

/* Prepare a statement on schema.clap_models ("%w" is the schema). */
static clap_status prepare_models(sqlite3 *db, const model_ref *r, const char *fmt,
                                  sqlite3_stmt **st, clap_error *err) {
  *st = NULL;
  int have = has_models_table(db, r->schema);
  if (have == -2) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  if (have < 0) return registry_lookup_failed(db, "clap_models", err);
  if (!have) {
    if (!strcmp(r->schema, "main"))
      return clap_error_set(err, CLAP_ERR_NOTFOUND,
                            "no model '%s': this database has no clap_models table "
                            "(create one with `clap model create`)",
                            r->name);
    return clap_error_set(err, CLAP_ERR_NOTFOUND,
                          "no model '%s': database '%s' has no clap_models table", r->name,
                          r->schema);
  }
  char *sql = sqlite3_mprintf(fmt, r->schema);
  if (!sql) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  int rc = sqlite3_prepare_v2(db, sql, -1, st, NULL);
  sqlite3_free(sql);
  if (rc != SQLITE_OK) return registry_lookup_failed(db, "clap_models", err);
  sqlite3_bind_text(*st, 1, r->row, -1, SQLITE_STATIC);
  return CLAP_OK;
}

/* The identity of a row without reading the (possibly megabytes of) blob:
** rowid, length and the trailing CRC through incremental blob I/O. */
static clap_status row_identity(sqlite3 *db, const model_ref *r, sqlite3_int64 *rowid, int *n,
                                uint32_t *tail, clap_error *err) {
  sqlite3_stmt *st;
  clap_status rc = prepare_models(
      db, r, "SELECT rowid, length(model) FROM \"%w\".clap_models WHERE name=?", &st, err);
  if (rc != CLAP_OK) return rc;
  int s = sqlite3_step(st);
  if (s == SQLITE_ROW) {
    *rowid = sqlite3_column_int64(st, 0);
    *n = sqlite3_column_int(st, 1);
    *tail = 0;
    sqlite3_blob *b;
    unsigned char t[4];
    if (*n >= 4 &&
        sqlite3_blob_open(db, r->schema, "clap_models", "model", *rowid, 0, &b) == SQLITE_OK) {
      if (sqlite3_blob_read(b, t, 4, *n - 4) == SQLITE_OK) *tail = blob_tail(t);
      sqlite3_blob_close(b);
    }
  } else if (s == SQLITE_DONE) {
    rc = no_row(r, err);
  } else {
    rc = registry_lookup_failed(db, "clap_models", err);
  }
  sqlite3_finalize(st);
  return rc;
}

/* metadata.encoders.<side>.<key> of the parsed metadata into out[size]; ""
** when absent. A value too long for out is never cut to a prefix (which
** could equal a real identity or precision): it reads "(too long)", which
** matches none and shows in the mismatch message. */
static void recorded_value(const cJSON *encoders, const char *side, const char *key, char *out,
                           size_t size) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(encoders, side), key);
  const char *s = cJSON_IsString(v) ? v->valuestring : "";
  snprintf(out, size, "%s", strlen(s) < size ? s : "(too long)");
}

static void recorded_string(const cJSON *encoders, const char *side, const char *key,
                            char out[SHA256_HEX_SIZE]) {
  recorded_value(encoders, side, key, out, SHA256_HEX_SIZE);
}

static void recorded_prec(const cJSON *encoders, const char *side, char out[16]) {
  recorded_value(encoders, side, "precision", out, 16);
}

/* What the model records of the encoders it was built on, as `clap model
** create` and `clap train` write it for checkpoint encoders:
** metadata.encoders.<side>.sha256 (the weights) and .identity (all files,
** since schema version 3), .precision (f32 or bf16, for checkpoint
** encoders since precisions are recorded), and whether it is a supervised baseline
** (`clap baseline`). The metadata is parsed once per load. */
static clap_status recorded_encoders(model_ref *r, clap_error *err) {
  /* model_load checked the metadata, so only memory can fail here; a
  ** record lost that way would skip the encoder checks. */
  cJSON *meta = cJSON_Parse(model_metadata(r->model));
  if (!meta) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  const cJSON *encoders = cJSON_GetObjectItemCaseSensitive(meta, "encoders");
  recorded_string(encoders, "audio", "sha256", r->audio_sha);
  recorded_string(encoders, "text", "sha256", r->text_sha);
  recorded_string(encoders, "audio", "identity", r->audio_id);
  recorded_string(encoders, "text", "identity", r->text_id);
  recorded_prec(encoders, "audio", r->audio_prec);
  recorded_prec(encoders, "text", r->text_prec);
  const cJSON *kind = cJSON_GetObjectItemCaseSensitive(meta, "kind");
  r->baseline = (cJSON_IsString(kind) && !strcmp(kind->valuestring, "baseline")) ||
                !strcmp(model_get_config(r->model)->text_encoder, "none");
  cJSON_Delete(meta);
  return CLAP_OK;
}

/* Load a blob into r (whose name, schema and row are set); a message is
** prefixed with `what` (the model's name or the file's path). */
static clap_status load_blob(model_ref *r, const void *blob, int n, const char *what,
                             clap_error *err) {
  if (model_load(blob, (size_t)n, &r->model, err) != CLAP_OK) {
    clap_error_prefix(err, "%s: ", what);
    return err ? err->code : CLAP_ERR_FORMAT;
  }
  r->nbytes = n;
  r->tail = n >= 4 ? blob_tail((const unsigned char *)blob + n - 4) : 0;
  return recorded_encoders(r, err);
}

static model_ref *ref_new(const char *name, const char *schema, const char *row) {
  model_ref *r = sqlite3_malloc(sizeof *r);
  if (!r) return NULL;
  memset(r, 0, sizeof *r);
  r->refs = 1;
  r->name = sqlite3_mprintf("%s", name);
  r->schema = schema ? sqlite3_mprintf("%s", schema) : NULL;
  r->row = sqlite3_mprintf("%s", row);
  if (!r->name || !r->row || (schema && !r->schema)) {
    models_release(r);
    return NULL;
  }
  return r;
}

static clap_status load_row(sqlite3 *db, model_ref *r, clap_error *err) {
  sqlite3_stmt *st;
  clap_status rc = prepare_models(
      db, r, "SELECT rowid, model FROM \"%w\".clap_models WHERE name=?", &st, err);
  if (rc != CLAP_OK) return rc;
  int s = sqlite3_step(st);
  if (s == SQLITE_ROW) {
    r->rowid = sqlite3_column_int64(st, 0);
    char *what = sqlite3_mprintf("model '%s'", r->name);
    rc = what ? load_blob(r, sqlite3_column_blob(st, 1), sqlite3_column_bytes(st, 1), what, err)
              : clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
    sqlite3_free(what);
  } else if (s == SQLITE_DONE) {
    rc = no_row(r, err);
  } else {
    rc = registry_lookup_failed(db, "clap_models", err);
  }
  sqlite3_finalize(st);
  return rc;
}

/* Split name into schema and row (models.h, 2 and 3); sqlite3_malloc'd,
** NULL when out of memory. */
static char *schema_of(sqlite3 *db, const char *name, const char **row) {
  const char *dot = strchr(name, '.');
  *row = name;
  if (dot && dot > name && dot[1]) {
    char *schema = sqlite3_mprintf("%.*s", (int)(dot - name), name);
    if (!schema) return NULL; /* out of memory, not a name without a schema */
    if (sqlite3_db_filename(db, schema)) {
      *row = dot + 1;
      return schema;
    }
    sqlite3_free(schema);
  }
  return sqlite3_mprintf("main");
}

static model_ref **find(model_ref **pp, const char *name) {
  while (*pp && strcmp((*pp)->name, name)) pp = &(*pp)->next;
  return pp;
}

clap_status models_get(models *c, sqlite3 *db, const char *name, model_ref **out,
                       clap_error *err) {
  *out = NULL;
  model_ref *f = *find(&c->files, name);
  if (f) {
    f->refs++;
    *out = f;
    return CLAP_OK;
  }
  const char *rowname;
  char *schema = schema_of(db, name, &rowname);
  if (!schema) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  sqlite3_uint64 stamp = change_stamp(db, schema);
  model_ref **pp = find(&c->rows, name), *r = *pp;
  clap_status rc = CLAP_OK;
  if (r && (r->stamp != stamp || strcmp(r->schema, schema))) {
    sqlite3_int64 rowid = 0;
    int n = 0;
    uint32_t tail = 0;
    model_ref probe = {.name = (char *)name, .schema = schema, .row = (char *)rowname};
    rc = row_identity(db, &probe, &rowid, &n, &tail, err);
    if (rc == CLAP_OK && (strcmp(r->schema, schema) || r->rowid != rowid || r->nbytes != n ||
                          r->tail != tail)) {
      *pp = r->next; /* the row changed: drop the cache's reference */
      models_release(r);
      r = NULL;
    }
  }
  if (rc == CLAP_OK && !r) {
    r = ref_new(name, schema, rowname);
    if (!r) rc = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
    else if ((rc = load_row(db, r, err)) != CLAP_OK) {
      models_release(r);
      r = NULL;
    } else {
      r->next = c->rows;
      c->rows = r;
    }
  }
  sqlite3_free(schema);
  if (rc != CLAP_OK) return rc;
  r->stamp = stamp;
  r->refs++; /* the caller's; the cache keeps its own */
  *out = r;
  return CLAP_OK;
}

clap_status models_add_file(models *c, const char *name, const char *path, clap_error *err) {
  unsigned char *blob = NULL;
  size_t n = 0;
  clap_status rc = fileio_read(path, MODELS_FILE_MAX, &blob, &n, err);
  if (rc != CLAP_OK) return rc;
  model_ref *r = ref_new(name, NULL, name);
  if (!r) rc = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  else rc = load_blob(r, blob, (int)n, path, err);
  free(blob);
  if (rc != CLAP_OK) {
    models_release(r);
    return rc;
  }
  model_ref **pp = find(&c->files, name);
  if (*pp) {
    model_ref *old = *pp;
    *pp = old->next;
    models_release(old);
  }
  r->next = c->files;
  c->files = r;
  return CLAP_OK;
}
