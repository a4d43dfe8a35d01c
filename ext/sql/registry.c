/* registry — see registry.h. */
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT3

#include "registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hfckpt.h"

typedef struct entry {
  registry_row row; /* what the encoder was made from */
  char *name;
  char identity[SHA256_HEX_SIZE];
  char cache_id[SHA256_HEX_SIZE]; /* what features.encoder_id holds for its vectors */
  encoder *enc;
  struct entry *next;
} entry;

struct registry_cache {
  entry *head;
};

static char *dup_or_empty(const unsigned char *s) {
  const char *t = s ? (const char *)s : "";
  size_t n = strlen(t) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, t, n);
  return d;
}

void registry_row_clear(registry_row *row) {
  if (!row) return;
  free(row->kind);
  free(row->path);
  free(row->config);
  free(row->sha256);
  memset(row, 0, sizeof *row);
}

/* 1 when the table exists, 0 when not, -1 when SQLite could not say (out
** of memory, I/O): reported by registry_lookup_failed, not as absence. */
static int table_exists(sqlite3 *db, const char *name) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_schema WHERE type='table' AND name=?", -1, &st,
                         NULL) != SQLITE_OK)
    return -1;
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  int step = sqlite3_step(st);
  sqlite3_finalize(st);
  return step == SQLITE_ROW ? 1 : step == SQLITE_DONE ? 0 : -1;
}

clap_status registry_lookup_failed(sqlite3 *db, const char *table, clap_error *err) {
  if ((sqlite3_errcode(db) & 0xff) == SQLITE_NOMEM)
    return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  return clap_error_set(err, CLAP_ERR_IO, "reading %s: %s", table, sqlite3_errmsg(db));
}

clap_status registry_row_read(sqlite3 *db, const char *name, registry_row *row, clap_error *err) {
  memset(row, 0, sizeof *row);
  int have = table_exists(db, "clap_encoders");
  if (have < 0) return registry_lookup_failed(db, "clap_encoders", err);
  if (!have)
    return clap_error_set(err, CLAP_ERR_NOTFOUND,
                          "unknown encoder '%s' (built in: acoustic, ngram; no clap_encoders table)",
                          name);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT kind, path, config, sha256, dim FROM clap_encoders WHERE name=?",
                         -1, &st, NULL) != SQLITE_OK)
    return registry_lookup_failed(db, "clap_encoders", err);
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  clap_status rc = CLAP_OK;
  int s = sqlite3_step(st);
  if (s == SQLITE_ROW) {
    row->kind = dup_or_empty(sqlite3_column_text(st, 0));
    row->path = dup_or_empty(sqlite3_column_text(st, 1));
    row->config = dup_or_empty(sqlite3_column_text(st, 2));
    row->sha256 = dup_or_empty(sqlite3_column_text(st, 3));
    row->dim = sqlite3_column_type(st, 4) == SQLITE_INTEGER ? sqlite3_column_int(st, 4) : 0;
    if (!row->kind || !row->path || !row->config || !row->sha256) {
      registry_row_clear(row);
      rc = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
    }
  } else if (s == SQLITE_DONE) {
    rc = clap_error_set(err, CLAP_ERR_NOTFOUND,
                        "unknown encoder '%s' (built in: acoustic, ngram; not in clap_encoders)",
                        name);
  } else {
    rc = registry_lookup_failed(db, "clap_encoders", err);
  }
  sqlite3_finalize(st);
  return rc;
}

clap_status registry_prec_parse(const char *text, registry_prec *out, clap_error *err) {
  if (text && !strcmp(text, "registered")) *out = REGISTRY_PREC_RECORDED;
  else if (text && !strcmp(text, "f32")) *out = REGISTRY_PREC_F32;
  else if (text && !strcmp(text, "bf16")) *out = REGISTRY_PREC_BF16;
  else if (text && !strcmp(text, "auto")) *out = (registry_prec)nn_precision_auto();
  else
    return clap_error_set(err, CLAP_ERR_ARG, "expected f32, bf16, auto or registered, got '%.64s'",
                          text ? text : "(null)");
  return CLAP_OK;
}

const char *registry_prec_name(registry_prec p) {
  return p == REGISTRY_PREC_RECORDED ? "registered" : nn_precision_name((nn_precision)p);
}

int registry_row_has_precision(const registry_row *row) {
  const encoder_ops *ops = encoder_find_kind(row->kind);
  return ops && ops->set_precision;
}

clap_status registry_row_at(registry_row *row, registry_prec prec, clap_error *err) {
  if (prec == REGISTRY_PREC_RECORDED || !registry_row_has_precision(row)) return CLAP_OK;
  const char *want = nn_precision_name((nn_precision)prec);
  cJSON *cfg = cJSON_Parse(row->config);
  const cJSON *was = cJSON_GetObjectItemCaseSensitive(cfg, "precision");
  /* Absent means f32 (hfckpt_recorded_precision). */
  if (cJSON_IsObject(cfg) && (was ? cJSON_IsString(was) && !strcmp(was->valuestring, want)
                                  : prec == REGISTRY_PREC_F32)) {
    cJSON_Delete(cfg);
    return CLAP_OK;
  }
  if (!cJSON_IsObject(cfg)) {
    cJSON_Delete(cfg);
    cfg = cJSON_CreateObject();
  }
  cJSON *v = cfg ? cJSON_CreateString(want) : NULL;
  int put = v && (cJSON_GetObjectItemCaseSensitive(cfg, "precision")
                      ? cJSON_ReplaceItemInObjectCaseSensitive(cfg, "precision", v)
                      : cJSON_AddItemToObject(cfg, "precision", v));
  if (!put) cJSON_Delete(v); /* else cfg owns it */
  char *text = put ? cJSON_PrintUnformatted(cfg) : NULL;
  cJSON_Delete(cfg);
  if (!text) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  free(row->config);
  row->config = text;
  return CLAP_OK;
}

clap_status registry_row_read_at(sqlite3 *db, const char *name, registry_prec prec,
                                 registry_row *row, clap_error *err) {
  clap_status rc = registry_row_read(db, name, row, err);
  if (rc == CLAP_OK && (rc = registry_row_at(row, prec, err)) != CLAP_OK) registry_row_clear(row);
  return rc;
}

registry_cache *registry_cache_create(void) { return calloc(1, sizeof(registry_cache)); }

static void entry_free(entry *e) {
  if (!e) return;
  encoder_free(e->enc);
  registry_row_clear(&e->row);
  free(e->name);
  free(e);
}

void registry_cache_free(registry_cache *c) {
  if (!c) return;
  while (c->head) {
    entry *e = c->head;
    c->head = e->next;
    entry_free(e);
  }
  free(c);
}

const char *registry_cache_id(const registry_cache *c, const encoder *enc) {
  for (const entry *e = c ? c->head : NULL; e; e = e->next)
    if (e->enc == enc) return e->cache_id;
  return NULL;
}

static int same_row(const registry_row *a, const registry_row *b) {
  return !strcmp(a->kind, b->kind) && !strcmp(a->path, b->path) &&
         !strcmp(a->config, b->config) && !strcmp(a->sha256, b->sha256);
}

/* Verify a row's files and create its encoder. */
static clap_status create_from_row(const char *name, const registry_row *row, encoder **out,
                                   clap_error *err) {
  nn_precision p;
  clap_status rc = hfckpt_recorded_precision(name, row->config, &p, err);
  if (rc == CLAP_OK) rc = hfckpt_verify_weights(name, row->path, row->config, row->sha256, err);
  if (rc == CLAP_OK) rc = encoder_create_config(name, row->kind, row->path, row->config, out, err);
  if (rc == CLAP_OK && p != NN_F32 && (rc = encoder_set_precision(*out, p, err)) != CLAP_OK) {
    clap_error_prefix(err, "encoder '%s': ", name);
    encoder_free(*out);
    *out = NULL;
  }
  return rc;
}

static void copy_hex(char dst[SHA256_HEX_SIZE], const char *src) {
  if (dst) snprintf(dst, SHA256_HEX_SIZE, "%s", src ? src : "");
}

/* The cache's entry for name and row, made (and verified) when missing.
** Takes the row's strings over in either case. */
static entry *cached(registry_cache *c, const char *name, registry_row *row, clap_error *err) {
  for (entry *e = c->head; e; e = e->next)
    if (!strcmp(e->name, name) && same_row(&e->row, row)) {
      registry_row_clear(row);
      return e;
    }
  entry *e = calloc(1, sizeof *e);
  if (e) e->name = dup_or_empty((const unsigned char *)name);
  if (!e || !e->name) {
    free(e);
    registry_row_clear(row);
    clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
    return NULL;
  }
  e->row = *row;
  memset(row, 0, sizeof *row);
  if (create_from_row(name, &e->row, &e->enc, err) != CLAP_OK) {
    entry_free(e);
    return NULL;
  }
  hfckpt_recorded_identity(e->row.config, NULL, e->identity);
  hfckpt_recorded_identity(e->row.config, e->row.sha256, e->cache_id);
  e->next = c->head;
  c->head = e;
  return e;
}

/* A row's encoder, from the cache or made for the caller (*owned); takes
** the row's strings over. */
static clap_status from_row(registry_cache *cache, const char *name, registry_row *row,
                            const encoder **enc, encoder **owned, clap_error *err) {
  if (cache) {
    entry *e = cached(cache, name, row, err);
    if (!e) return err ? err->code : CLAP_ERR_INTERNAL;
    *enc = e->enc;
    return CLAP_OK;
  }
  clap_status rc = owned ? create_from_row(name, row, owned, err)
                         : clap_error_set(err, CLAP_ERR_ARG, "registry_resolve: no cache, no owned");
  registry_row_clear(row);
  if (rc == CLAP_OK) *enc = *owned;
  return rc;
}

clap_status registry_resolve(registry_cache *cache, sqlite3 *db, const char *name,
                             registry_prec prec, encoder_modality want, const encoder **enc,
                             encoder **owned, char sha256[SHA256_HEX_SIZE],
                             char identity[SHA256_HEX_SIZE], clap_error *err) {
  *enc = NULL;
  if (owned) *owned = NULL;
  copy_hex(sha256, "");
  copy_hex(identity, "");
  const encoder *b = encoder_builtin(name, NULL);
  if (b) {
    clap_status rc = encoder_check_modality(name, encoder_modality_of(b), want, err);
    if (rc == CLAP_OK) *enc = b;
    return rc;
  }
  registry_row row;
  clap_status rc = registry_row_read_at(db, name, prec, &row, err);
  if (rc != CLAP_OK) return rc;
  /* The recorded modality is known from the kind before anything is hashed. */
  const encoder_ops *ops = encoder_find_kind(row.kind);
  if (ops && (rc = encoder_check_modality(name, ops->modality, want, err))) {
    registry_row_clear(&row);
    return rc;
  }
  copy_hex(sha256, row.sha256);
  if (identity) hfckpt_recorded_identity(row.config, NULL, identity);
  rc = from_row(cache, name, &row, enc, owned, err);
  if (rc == CLAP_OK) rc = encoder_check_modality(name, encoder_modality_of(*enc), want, err);
  if (rc != CLAP_OK) {
    if (owned) {
      encoder_free(*owned);
      *owned = NULL;
    }
    *enc = NULL;
  }
  return rc;
}
