/* feature_cache — see feature_cache.h. */
#include "feature_cache.h"

#include <stdio.h>
#include <string.h>

#include "audio.h"
#include "clap_version.h"
#include "db.h"
#include "hfckpt.h"
#include "registry.h"

clap_status features_text_key(const char *text, char key[SHA256_HEX_SIZE], clap_error *err) {
  if (sha256_hex(text, strlen(text), key)) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory hashing a text");
  return CLAP_OK;
}

clap_status features_precision(sqlite3 *db, const char *name, registry_prec prec,
                               char out[FEATURES_PREC_SIZE], clap_error *err) {
  out[0] = 0;
  if (encoder_builtin(name, NULL)) return CLAP_OK;
  registry_row row;
  clap_status rc = registry_row_read_at(db, name, prec, &row, err);
  if (rc != CLAP_OK) return rc;
  nn_precision p;
  if (registry_row_has_precision(&row) &&
      (rc = hfckpt_recorded_precision(name, row.config, &p, err)) == CLAP_OK)
    snprintf(out, FEATURES_PREC_SIZE, "%s", nn_precision_name(p));
  registry_row_clear(&row);
  return rc;
}

static const char *modality_name(encoder_modality m) { return m == ENCODER_AUDIO ? "audio" : "text"; }

clap_status features_encoder(sqlite3 *db, const char *name, registry_prec prec,
                             encoder_modality want, const encoder **enc, encoder **owned,
                             char sha[SHA256_HEX_SIZE], clap_error *err) {
  return registry_resolve(NULL, db, name, prec, want, enc, owned, sha, NULL, err);
}

/* For a row that cannot tell its dim or modality: create the encoder
** (verifying its files) and ask it. */
static clap_status info_by_creating(sqlite3 *db, const char *name, registry_prec prec,
                                    encoder_modality want, int *dim, char sha[SHA256_HEX_SIZE],
                                    clap_error *err) {
  const encoder *e;
  encoder *owned;
  clap_status rc = features_encoder(db, name, prec, want, &e, &owned, sha, err);
  if (rc == CLAP_OK) *dim = encoder_dim(e);
  encoder_free(owned);
  return rc;
}

clap_status features_encoder_info(sqlite3 *db, const char *name, registry_prec prec,
                                  encoder_modality want, int *dim, char sha[SHA256_HEX_SIZE],
                                  char id[SHA256_HEX_SIZE], clap_error *err) {
  *dim = 0;
  sha[0] = id[0] = 0;
  const encoder *b = encoder_builtin(name, NULL);
  if (b) {
    clap_status rc = encoder_check_modality(name, encoder_modality_of(b), want, err);
    if (rc == CLAP_OK) *dim = encoder_dim(b);
    return rc;
  }
  registry_row row;
  clap_status rc = registry_row_read_at(db, name, prec, &row, err);
  if (rc != CLAP_OK) return rc;
  const encoder_ops *ops = encoder_find_kind(row.kind);
  if (ops) rc = encoder_check_modality(name, ops->modality, want, err);
  if (rc == CLAP_OK && ops && row.dim > 0) *dim = row.dim;
  snprintf(sha, SHA256_HEX_SIZE, "%s", row.sha256);
  hfckpt_recorded_identity(row.config, NULL, id);
  registry_row_clear(&row);
  if (rc == CLAP_OK && *dim == 0) rc = info_by_creating(db, name, prec, want, dim, sha, err);
  return rc;
}

clap_status features_identity(sqlite3 *db, const char *name, registry_prec prec,
                              char id[FEATURES_ID_SIZE], clap_error *err) {
  id[0] = 0;
  if (encoder_builtin(name, NULL)) {
    snprintf(id, FEATURES_ID_SIZE, "builtin:%.32s:clap-%s", name, CLAP_VERSION);
    return CLAP_OK;
  }
  registry_row row;
  clap_status rc = registry_row_read_at(db, name, prec, &row, err);
  if (rc != CLAP_OK) return rc;
  char hex[SHA256_HEX_SIZE];
  hfckpt_recorded_identity(row.config, row.sha256, hex);
  snprintf(id, FEATURES_ID_SIZE, "%s", hex[0] ? hex : "unrecorded");
  registry_row_clear(&row);
  return CLAP_OK;
}

clap_status features_files_identity(sqlite3 *db, const char *name, registry_prec prec,
                                    char id[SHA256_HEX_SIZE], clap_error *err) {
  id[0] = 0;
  if (encoder_builtin(name, NULL)) return CLAP_OK;
  registry_row row;
  clap_status rc = registry_row_read_at(db, name, prec, &row, err);
  if (rc != CLAP_OK) return rc;
  hfckpt_recorded_identity(row.config, NULL, id);
  registry_row_clear(&row);
  return CLAP_OK;
}

clap_status features_encode_audio(const encoder *enc, const void *bytes, size_t n,
                                  const char *what, float *out, clap_error *err) {
  audio_options opts = {.max_seconds = FEATURES_AUDIO_MAX_SECONDS};
  audio_pcm *pcm = NULL;
  clap_status rc = audio_decode_memory(bytes, n, what, &opts, &pcm, err);
  if (rc == CLAP_OK) {
    rc = encoder_encode_audio(enc, pcm->samples, pcm->n, out, err);
    if (rc != CLAP_OK) clap_error_prefix(err, "%s: ", what);
  }
  audio_pcm_free(pcm);
  return rc;
}

/* The precision ("f32", "bf16") at which encoder name's files have identity
** id, or NULL: vectors a run at another --precision cannot read. */
static const char *precision_of(sqlite3 *db, const char *name, const char *id) {
  static const registry_prec precs[] = {REGISTRY_PREC_F32, REGISTRY_PREC_BF16};
  char at[FEATURES_ID_SIZE];
  for (size_t i = 0; !encoder_builtin(name, NULL) && i < sizeof precs / sizeof *precs; i++)
    if (features_identity(db, name, precs[i], at, NULL) == CLAP_OK && !strcmp(at, id))
      return registry_prec_name(precs[i]);
  return NULL;
}

clap_status features_load(sqlite3 *db, const char *encoder_name, registry_prec prec,
                          encoder_modality modality, const char *const *keys,
                          const char *const *what, int n, int dim, float *out, clap_error *err) {
  char id[FEATURES_ID_SIZE];
  clap_status rc = features_identity(db, encoder_name, prec, id, err);
  if (rc != CLAP_OK) return rc;
  sqlite3_stmt *st;
  rc = db_prepare(db,
                  "SELECT dim, vec, encoder_id IS ?4, encoder_id FROM features "
                  "WHERE encoder=?1 AND modality=?2 AND key=?3",
                  &st, err);
  if (rc != CLAP_OK) return rc;
  const char *mod = modality_name(modality);
  for (int i = 0; i < n && rc == CLAP_OK; i++) {
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, encoder_name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, mod, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, keys[i], -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, id, -1, SQLITE_STATIC);
    const char *w = what ? what[i] : keys[i];
    int r = db_step(st, err);
    if (r < 0) {
      rc = DB_STATUS(r);
    } else if (r == DB_DONE) {
      rc = clap_error_set(err, CLAP_ERR_NOTFOUND,
                          "no %s %s features for %s '%s' (run `clap embed` first)", encoder_name,
                          mod, modality == ENCODER_AUDIO ? "utterance" : "text", w);
    } else if (!sqlite3_column_int(st, 2)) {
      const char *was = (const char *)sqlite3_column_text(st, 3);
      const char *at = was ? precision_of(db, encoder_name, was) : NULL;
      char hint[96] = "";
      if (at)
        snprintf(hint, sizeof hint, "; they are its %s vectors: pass --precision %s to use them",
                 at, at);
      rc = clap_error_set(err, CLAP_ERR_FORMAT,
                          "stale %s %s features for %s '%s': computed by %s%.80s, but '%s' is "
                          "now %.80s (run `clap embed` to recompute%s)",
                          encoder_name, mod, modality == ENCODER_AUDIO ? "utterance" : "text", w,
                          was ? "encoder identity " : "an unknown encoder",
                          was ? was : " (cached before schema version 3)", encoder_name, id, hint);
    } else if (sqlite3_column_int(st, 0) != dim ||
               sqlite3_column_bytes(st, 1) != dim * (int)sizeof(float)) {
      rc = clap_error_set(err, CLAP_ERR_FORMAT,
                          "%s %s features for '%s' have %d values, the encoder gives %d",
                          encoder_name, mod, w, sqlite3_column_bytes(st, 1) / 4, dim);
    } else {
      memcpy(out + (size_t)i * dim, sqlite3_column_blob(st, 1), (size_t)dim * sizeof(float));
    }
  }
  sqlite3_finalize(st);
  return rc;
}

clap_status features_put(sqlite3 *db, const char *encoder_name, encoder_modality modality,
                         const char *key, const float *v, int dim, const char *id,
                         clap_error *err) {
  sqlite3_stmt *st;
  clap_status rc = db_prepare(db,
                              "INSERT OR REPLACE INTO features(encoder, modality, key, dim, vec, "
                              "encoder_id) VALUES (?,?,?,?,?,?)",
                              &st, err);
  if (rc != CLAP_OK) return rc;
  sqlite3_bind_text(st, 1, encoder_name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, modality_name(modality), -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, key, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 4, dim);
  sqlite3_bind_blob(st, 5, v, dim * (int)sizeof(float), SQLITE_STATIC);
  if (id && id[0]) sqlite3_bind_text(st, 6, id, -1, SQLITE_STATIC);
  rc = db_step_done(st, err);
  if (rc != CLAP_OK) clap_error_prefix(err, "writing features for '%s': ", key);
  sqlite3_finalize(st);
  return rc;
}
