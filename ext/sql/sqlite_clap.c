/*
** sqlite_clap — the SQL surface of sqlite-clap. Load with `.load ./build/clap0`
** (entry point sqlite3_clap_init); the clap CLI registers it on every
** connection it opens.
**
**   clap_version()                                  -> text
**   clap_debug()                                    -> text: version, compiler, build, the CPU
**                                                      kernels in use, library versions (debug.h)
**   cosine(a, b)                                    -> real in [-1, 1]
**   clap_encode_audio(audio, encoder)               -> vector (raw encoder features)
**   clap_encode_text(text, encoder)                 -> vector (raw encoder features)
**   clap_embed_audio(audio [, model])               -> unit vector in the joint space
**   clap_embed_text(text [, model])                 -> unit vector in the joint space
**   clap_zero_shot(audio_vec, neg_class, pos_class [, model]) -> P(positive)
**   clap_classify(audio_vec, json_array_of_classes [, model]) -> 0-based index of the class
**                                                   at the highest cosine
**   clap_classify_probs(audio_vec, json_array_of_classes [, model])
**                                                   -> JSON array of P(class): softmax over
**                                                      the model's scale x cosine
**   clap_model_from_file(path [, name])            -> name: registers the model file
**                                                      (`clap model export`) for this connection
**   clap_threads([n])                               -> OpenBLAS threads (sets them to n, 1..256)
**   clap_precision([p])                             -> this connection's precision for
**                                                      checkpoint encoders (sets it to p,
**                                                      returns the previous one; see below)
**   clap_audio_channel(audio, n [, start, end])     -> 16 kHz mono FLAC of channel n alone
**   clap_segments(audio [, channel [, options]])    -> table (start, end, channel, level_db)
**                                                      (these two: calls.h)
**
** Arguments:
**   vector  a BLOB of little-endian float32 (sqlite-vec's format) or JSON text
**           '[0.1, ...]'; every function parses vectors with arg_vector(), so
**           all accept and reject the same things (see ext/core/vec.h:
**           sqlite-vec's int8 blobs, subtype 225, are read as their values;
**           its bit blobs, subtype 224, are refused). Returned
**           vectors are BLOBs with subtype 223 and can go into a vec0 table.
**   audio   a BLOB holding the bytes of any file libsndfile reads (WAV, FLAC,
**           OGG, MP3, ...), any rate and channel count; it is decoded,
**           downmixed and resampled to 16 kHz mono. At most one hour.
**   text    UTF-8 text.
**   class   a sentence, or a JSON array of sentences naming one class (a
**           prompt ensemble: its embedding is the normalised mean of theirs);
**           text starting with '[' is read as the array (ext/model/prompt.h).
**           clap_classify's classes are a JSON array of such elements.
**           Errors name the argument and the element ("element 1[0] ...").
**   encoder the name of a built-in encoder ('acoustic', 'ngram') or of a row
**           in clap_encoders(name, kind, path), resolved by registry.h (the
**           resolver the CLI shares). A row's checkpoint is checked
**           against what `clap encoder add` recorded (hfckpt_verify_weights:
**           every file the encoder reads, or the weights alone for rows
**           added before schema version 3) when the connection first builds
**           it: a file changed, gone or appeared since is an error naming it.
**           A row of kind 'openai' is an embeddings server
**           (ext/encoders/openai_embed.h): a text already in features
**           (cached by `clap embed` under the encoder's identity now) is
**           read from there, not sent; anything else is one request, whose
**           failure (server down, stalled past the encoder's timeout, 401,
**           429 after the retries, 5xx, a bad reply, a model swapped under
**           the name) is an SQL error naming the encoder, the HTTP status
**           and the server's message; no row gets a partial result.
**           Precision: a checkpoint row (kind hubert or distilbert)
**           encodes at the precision `clap encoder add --precision`
**           recorded, unless clap_precision(p) asked this connection for
**           another: 'f32', 'bf16', or 'auto' (chosen when set: bf16 where
**           the CPU has AMX or AVX512-BF16, else f32; clap_precision()
**           then returns the choice); 'registered' or NULL goes back to
**           each row's own. The vectors are those `clap embed --precision
**           p` caches (same identity, bit for bit); a row is built once per
**           connection and precision. Built-in and remote encoders have
**           one precision and ignore it. Anything else is an error naming
**           the argument and the accepted values. Not from triggers or
**           views (it changes the connection).
**   model   default 'default': a model registered from a file by
**           clap_model_from_file, else 'SCHEMA.NAME' for the row NAME of an
**           attached database's clap_models ('aux.default'), else the row of
**           main.clap_models (ext/sql/models.h).
**
**           A model runs its checkpoint encoders at the precision of the
**           features it was trained on (metadata encoders.<side>.precision,
**           `clap train --precision`), whatever the registration says now,
**           so its scores are the ones `clap eval` measured. With
**           clap_precision() left at 'registered' that precision is used
**           silently; an explicit clap_precision() that differs from it is
**           an error naming the model, both precisions and the ways out
**           (clap_precision(NULL), or a model trained at that precision):
**           a model is never fed vectors of a precision it was not trained
**           on. A model that records no precision (built-in encoders, or
**           made before precisions were recorded) encodes at the
**           connection's precision and is checked by identity as before.
**
** NULL in any vector, audio or text argument gives NULL. Every misuse is an
** SQL error whose message names the function, the argument and the problem,
** in one form, "fn(): argument N: what is wrong" ("fn(): ..." when no one
** argument is at fault):
** wrong type, empty or non-finite vector, dimension mismatch (both sizes),
** zero vector, bytes that are not audio, unknown encoder or model, a corrupt
** model blob, a model whose encoder does not match. Nothing here crashes or
** prints.
**
** Caching: loaded models are cached per connection and reloaded when their
** row changes (rowid, size or checksum); checkpoint encoders are built,
** their files hashed and verified once per connection and clap_encoders row
** (a row re-added with other files is built and verified anew; a file
** changed under an open connection is noticed by the next connection);
** constant text arguments are embedded (clap_embed_text, clap_zero_shot,
** clap_classify) or encoded (clap_encode_text) once per statement
** (sqlite3_set_auxdata). Connections are independent, so
** several threads may each use their own connection at once.
*/
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT1

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "audio.h"
#include "calls.h"
#include "clap_error.h"
#include "clap_version.h"
#include "debug.h"
#include "encoder.h"
#include "model.h"
#include "models.h"
#include "nn.h"
#include "prompt.h"
#include "registry.h"
#include "sha256.h"
#include "sqlfn.h"
#include "vec.h"

#ifndef SQLITE_SUBTYPE
#define SQLITE_SUBTYPE 0x000100000
#endif
#ifndef SQLITE_RESULT_SUBTYPE
#define SQLITE_RESULT_SUBTYPE 0x001000000
#endif

#define DEFAULT_MODEL "default"

/* ---------------------------------------------------------------- state */

/* Per-connection state; every function of one connection shares it. */
typedef struct clap_conn {
  int refs;  /* one per registered function, released by xDestroy */
  models *models;            /* from clap_models rows and from files */
  registry_cache *encoders; /* made from clap_encoders rows */
  registry_prec prec;        /* clap_precision(): checkpoint encoders' precision */
} clap_conn;

static void model_ref_release_void(void *p) { models_release(p); }

static void conn_release(void *p) {
  clap_conn *c = p;
  if (--c->refs > 0) return;
  models_free(c->models);
  registry_cache_free(c->encoders);
  sqlite3_free(c);
}

/* ---------------------------------------------------------------- arguments */

/* The one vector parser of the SQL surface. `what` names the argument in
** messages ("cosine(): argument 2"); it is a literal so that the hot path
** (cosine over many rows) formats nothing. Returns 0 on success, 1 when the
** argument is NULL (the caller returns NULL), -1 after setting an error. */
static int arg_vector(sqlite3_context *ctx, sqlite3_value *v, const char *what, vec_view *out) {
  int t = sqlite3_value_type(v);
  if (t == SQLITE_NULL) return 1;
  if (t != SQLITE_BLOB && t != SQLITE_TEXT) {
    sqlfn_errorf(ctx, "%s: expected a vector (float32 blob or JSON text), got %s", what,
                  sqlfn_type_name(t));
    return -1;
  }
  const void *p = t == SQLITE_BLOB ? sqlite3_value_blob(v) : (const void *)sqlite3_value_text(v);
  int n = sqlite3_value_bytes(v);
  clap_error err;
  if (vec_parse_subtype(p, (size_t)n, t == SQLITE_TEXT, sqlite3_value_subtype(v), what, out,
                        &err) != CLAP_OK) {
    sqlite3_result_error(ctx, err.msg, -1);
    return -1;
  }
  return 0;
}

/* sqlfn_arg_bytes with its message set as ctx's error: 0 ok, 1 NULL, -1 error set. */
static int arg_bytes(sqlite3_context *ctx, sqlite3_value *v, const char *fn, int argi,
                     int want_text, const void **p, int *n) {
  char *msg;
  int a = sqlfn_arg_bytes(v, fn, argi, want_text, p, n, &msg);
  if (a < 0) {
    if (msg) sqlite3_result_error(ctx, msg, -1);
    else sqlite3_result_error_nomem(ctx);
    sqlite3_free(msg);
  }
  return a;
}

/* A name argument (what: "model", "encoder", "file"): text, not empty. */
static const char *arg_name(sqlite3_context *ctx, sqlite3_value *v, const char *fn, int argi,
                            const char *what) {
  int t = sqlite3_value_type(v);
  if (t != SQLITE_TEXT) {
    sqlfn_errorf(ctx, "%s(): argument %d: expected %s %s name (text), got %s", fn, argi,
                  strchr("aeiou", what[0]) ? "an" : "a", what, sqlfn_type_name(t));
    return NULL;
  }
  if (sqlite3_value_bytes(v) == 0) {
    sqlfn_errorf(ctx, "%s(): argument %d: %s name is empty", fn, argi, what);
    return NULL;
  }
  return (const char *)sqlite3_value_text(v);
}

static void result_vector(sqlite3_context *ctx, float *v, int dim) {
  /* The engine's floats are little-endian on every platform we build for. */
  sqlite3_result_blob(ctx, v, dim * (int)sizeof(float), sqlite3_free);
  sqlite3_result_subtype(ctx, VEC_SUBTYPE);
}

/* ---------------------------------------------------------------- encoders */

/* An encoder by name at precision prec (registry.h: built-in, else a
** clap_encoders row, verified and built once per connection, row and
** precision). sha256 and identity receive what registry_resolve records of it. */
static const encoder *conn_encoder(clap_conn *c, sqlite3 *db, const char *name,
                                   registry_prec prec, encoder_modality want,
                                   char sha256[SHA256_HEX_SIZE], char identity[SHA256_HEX_SIZE],
                                   clap_error *err) {
  const encoder *enc = NULL;
  if (registry_resolve(c->encoders, db, name, prec, want, &enc, NULL, sha256, identity, err) !=
      CLAP_OK)
    return NULL;
  return enc;
}

/* Decode audio bytes and run an audio encoder; *out is sqlite3_malloc'd. */
static clap_status encode_audio_bytes(const encoder *enc, const void *p, int n, int argi,
                                      float **out, clap_error *err) {
  char name[32];
  snprintf(name, sizeof name, "argument %d", argi);
  /* An hour bounds what one SQL call may decode (about 230 MB of floats at
  ** 16 kHz); longer recordings belong in `clap ingest` with start/end cuts. */
  audio_options opts = {.max_seconds = SQLFN_AUDIO_MAX_SECONDS};
  audio_pcm *pcm = NULL;
  clap_status rc = audio_decode_memory(p, (size_t)n, name, &opts, &pcm, err);
  if (rc != CLAP_OK) return rc;
  float *v = sqlite3_malloc(encoder_dim(enc) * (int)sizeof(float));
  if (!v) rc = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  else if ((rc = encoder_encode_audio(enc, pcm->samples, pcm->n, v, err)) != CLAP_OK)
    clap_error_prefix(err, "%s: ", name);
  audio_pcm_free(pcm);
  if (rc != CLAP_OK) sqlite3_free(v);
  else *out = v;
  return rc;
}

/* A remote encoder's vector for text as `clap embed` cached it: 1 when
** features holds one computed by the encoder's identity now (of its
** dimension), copied to out; 0 otherwise (also when there is no features
** table). What a server was already asked is not asked again. */
static int cached_text(clap_conn *c, sqlite3 *db, const encoder *enc, const char *p, int n,
                       float *out) {
  const char *id = registry_cache_id(c->encoders, enc);
  sqlite3_stmt *st;
  if (!id || !id[0] ||
      sqlite3_prepare_v2(db,
                         "SELECT vec FROM features WHERE encoder=? AND modality='text' AND key=? "
                         "AND encoder_id=? AND dim=?",
                         -1, &st, NULL) != SQLITE_OK)
    return 0;
  char key[SHA256_HEX_SIZE];
  sha256_hex(p, (size_t)n, key);
  int dim = encoder_dim(enc), found = 0;
  sqlite3_bind_text(st, 1, encoder_name(enc), -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 4, dim);
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == dim * (int)sizeof(float)) {
    memcpy(out, sqlite3_column_blob(st, 0), (size_t)dim * sizeof(float));
    found = 1;
  }
  sqlite3_finalize(st);
  return found;
}

static clap_status encode_text_bytes(clap_conn *c, sqlite3 *db, const encoder *enc, const char *p,
                                     int n, float **out, clap_error *err) {
  float *v = sqlite3_malloc(encoder_dim(enc) * (int)sizeof(float));
  if (!v) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  if (encoder_is_remote(enc) && cached_text(c, db, enc, p, n, v)) {
    *out = v;
    return CLAP_OK;
  }
  clap_status rc = encoder_encode_text(enc, p, n, v, err);
  if (rc != CLAP_OK) sqlite3_free(v);
  else *out = v;
  return rc;
}

/* ---------------------------------------------------------------- models */

/* The model named by argument argi (or 'default' when argc <= argi), kept in
** that argument's auxdata for the rest of the statement. Returns a borrowed
** pointer valid until *hold is released (models_release(*hold)). */
static const clap_model *arg_model(sqlite3_context *ctx, int argc, sqlite3_value **argv, int argi,
                                   const char *fn, model_ref **hold) {
  clap_conn *c = sqlite3_user_data(ctx);
  const char *name = DEFAULT_MODEL;
  *hold = NULL;
  if (argc > argi) {
    model_ref *aux = sqlite3_get_auxdata(ctx, argi);
    name = arg_name(ctx, argv[argi], fn, argi + 1, "model");
    if (!name) return NULL;
    if (aux && !strcmp(aux->name, name)) {
      aux->refs++;
      *hold = aux;
      return aux->model;
    }
  }
  clap_error err;
  model_ref *r;
  if (models_get(c->models, sqlite3_context_db_handle(ctx), name, &r, &err) != CLAP_OK) {
    sqlfn_clap_error(ctx, fn, &err);
    return NULL;
  }
  *hold = r;
  if (argc > argi) {
    r->refs++; /* one for the auxdata; set last, it may release at once */
    sqlite3_set_auxdata(ctx, argi, r, model_ref_release_void);
  }
  return r->model;
}

/* arg_model for the functions that embed text: a supervised baseline has no
** text side and is refused before the other arguments are looked at. */
static const clap_model *arg_text_model(sqlite3_context *ctx, int argc, sqlite3_value **argv,
                                        int argi, const char *fn, model_ref **hold) {
  const clap_model *m = arg_model(ctx, argc, argv, argi, fn, hold);
  if (m && (*hold)->baseline) {
    sqlfn_errorf(ctx, "%s(): model '%s' is a supervised baseline; it has no text side", fn,
                  (*hold)->name);
    models_release(*hold);
    *hold = NULL;
    return NULL;
  }
  return m;
}

/* Raw features -> joint space for one side of a model; *out sqlite3_malloc'd. */
static clap_status model_embed_features(const clap_model *m, model_side side, const float *x,
                                        int xdim, const char *encname, float **out,
                                        clap_error *err) {
  const model_config *cfg = model_get_config(m);
  int want = side == MODEL_AUDIO ? cfg->audio_in : cfg->text_in;
  if (xdim != want)
    return clap_error_set(err, CLAP_ERR_RANGE,
                          "the model expects %d %s features but encoder '%s' produces %d", want,
                          side == MODEL_AUDIO ? "audio" : "text", encname, xdim);
  float *v = sqlite3_malloc(cfg->dim * (int)sizeof(float));
  if (!v) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  clap_status rc = model_embed(m, side, x, 1, v, err);
  if (rc != CLAP_OK) sqlite3_free(v);
  else *out = v;
  return rc;
}

/* The precision one side of model r encodes at: the one the model
** records it was trained on (metadata encoders.<side>.precision), which an
** explicit clap_precision() must not contradict; for a model that records
** none (a built-in or remote encoder, or a model made before precisions
** were recorded), the connection's. */
static clap_status model_prec(const clap_conn *c, const model_ref *r, model_side side,
                              const char *encname, registry_prec *p, clap_error *err) {
  const char *rec = side == MODEL_AUDIO ? r->audio_prec : r->text_prec;
  *p = c->prec;
  if (!rec[0]) return CLAP_OK;
  registry_prec want;
  if (registry_prec_parse(rec, &want, err) != CLAP_OK || want == REGISTRY_PREC_RECORDED)
    return clap_error_set(err, CLAP_ERR_FORMAT,
                          "model '%s' records precision '%.16s' for encoder '%s' (not f32 or bf16)",
                          r->name, rec, encname);
  if (c->prec != REGISTRY_PREC_RECORDED && c->prec != want)
    return clap_error_set(err, CLAP_ERR_FORMAT,
                          "model '%s' was trained on %s features of encoder '%s', but this "
                          "connection encodes at %s (clap_precision()); call clap_precision(NULL) "
                          "to run each model at the precision it was trained on, or train one on "
                          "%s features (`clap train --precision %s`)",
                          r->name, rec, encname, registry_prec_name(c->prec),
                          registry_prec_name(c->prec), registry_prec_name(c->prec));
  *p = want;
  return CLAP_OK;
}

/* The encoder one side of a model runs on, at the model's precision
** (model_prec). A model built on a checkpoint encoder refuses to run when
** that encoder's weights are not the file it was trained with, or (models
** that record it) when its files' identity at that precision differs: the
** name was registered again with, say, another spiece.model, or (a model
** that records no precision) at another precision. Models from before
** record the weights only and are checked on those. */
static const encoder *model_encoder(clap_conn *c, sqlite3 *db, const model_ref *r,
                                    model_side side, clap_error *err) {
  const model_config *cfg = model_get_config(r->model);
  const char *encname = side == MODEL_AUDIO ? cfg->audio_encoder : cfg->text_encoder;
  const char *want = side == MODEL_AUDIO ? r->audio_sha : r->text_sha;
  const char *want_id = side == MODEL_AUDIO ? r->audio_id : r->text_id;
  const char *rec_prec = side == MODEL_AUDIO ? r->audio_prec : r->text_prec;
  char have[SHA256_HEX_SIZE], have_id[SHA256_HEX_SIZE];
  registry_prec prec;
  if (model_prec(c, r, side, encname, &prec, err) != CLAP_OK) return NULL;
  const encoder *enc = conn_encoder(c, db, encname, prec,
                                    side == MODEL_AUDIO ? ENCODER_AUDIO : ENCODER_TEXT, have,
                                    have_id, err);
  if (enc && want[0] && strcmp(want, have)) {
    clap_error_set(err, CLAP_ERR_FORMAT,
                   "model '%s' was trained on encoder '%s' with weights sha256 %.12s…, but "
                   "'%s' now has %.12s…; retrain the model or register the original weights",
                   r->name, encname, want, encname, have[0] ? have : "(built in)");
    return NULL;
  }
  if (enc && want_id[0] && strcmp(want_id, have_id)) {
    clap_error_set(err, CLAP_ERR_FORMAT,
                   "model '%s' was trained on encoder '%s' with files identity %.12s…, but "
                   "'%s' now has %.12s… (same weights, other config or tokenizer files%s); "
                   "retrain the model or register the original files",
                   r->name, encname, want_id, encname, have_id[0] ? have_id : "(not recorded)",
                   rec_prec[0] || c->prec == REGISTRY_PREC_RECORDED
                       ? ""
                       : ", or another precision than clap_precision() asks for");
    return NULL;
  }
  return enc;
}

/* A remote text encoder's features for every sentence of p: read from
** features where `clap embed` cached them, the rest sent in one batch (one
** request for up to the encoder's batch size), then through the model. */
static clap_status embed_prompts_remote(clap_conn *c, sqlite3 *db, const encoder *enc,
                                        const clap_model *m, const prompt_set *p, float *out,
                                        clap_error *err) {
  int n = prompt_set_sentences(p), in = encoder_dim(enc), k = 0, i = 0;
  float *x = sqlite3_malloc64((size_t)n * (size_t)in * sizeof(float));
  float *y = sqlite3_malloc64((size_t)n * (size_t)in * sizeof(float));
  const char **todo = sqlite3_malloc64((size_t)n * sizeof *todo);
  int *row = sqlite3_malloc64((size_t)n * sizeof *row);
  clap_status rc = x && y && todo && row ? CLAP_OK : clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  for (int cls = 0; rc == CLAP_OK && cls < prompt_set_count(p); cls++) {
    const char *const *texts = prompt_set_texts(p, cls);
    for (int j = 0; j < prompt_set_size(p, cls); j++, i++) {
      if (cached_text(c, db, enc, texts[j], (int)strlen(texts[j]), x + (size_t)i * in)) continue;
      todo[k] = texts[j];
      row[k++] = i;
    }
  }
  if (rc == CLAP_OK && k) rc = encoder_encode_text_batch(enc, todo, k, 1, y, err);
  for (int t = 0; rc == CLAP_OK && t < k; t++)
    memcpy(x + (size_t)row[t] * in, y + (size_t)t * in, (size_t)in * sizeof(float));
  if (rc == CLAP_OK) rc = prompt_set_embed_features(p, m, x, in, out, err);
  sqlite3_free(x);
  sqlite3_free(y);
  sqlite3_free(todo);
  sqlite3_free(row);
  return rc;
}

/* The embeddings of a prompt set's classes through model r (its text
** encoder checked against the model first): out holds count x dim floats. */
static clap_status embed_prompts(clap_conn *c, sqlite3 *db, const model_ref *r,
                                 const prompt_set *p, float *out, clap_error *err) {
  const encoder *enc = model_encoder(c, db, r, MODEL_TEXT, err);
  if (!enc) return err->code;
  if (encoder_is_remote(enc)) return embed_prompts_remote(c, db, enc, r->model, p, out, err);
  return prompt_set_embed(p, r->model, enc, out, err);
}

/* A text embedding cached in the text argument's auxdata, so a constant
** sentence is embedded once per statement. It remembers which model made
** it, and at which connection precision. */
typedef struct text_aux {
  const clap_model *model;
  registry_prec prec;
  int dim;
  float v[];
} text_aux;

/* The embedding of text argument argi under model r: borrowed from auxdata
** or freshly computed (then *fresh must be sqlite3_free'd). With `ensemble`
** the text is a class (prompt.h: a sentence or a JSON array of sentences,
** whose embedding is the ensemble's); without, a sentence as it is. NULL on
** error (set) or when the argument is NULL (*is_null = 1). */
static const float *arg_text_embedding(sqlite3_context *ctx, sqlite3_value **argv, int argi,
                                       const model_ref *r, const char *fn, int ensemble,
                                       float **fresh, int *is_null) {
  const clap_model *m = r->model;
  *fresh = NULL;
  *is_null = 0;
  text_aux *aux = sqlite3_get_auxdata(ctx, argi);
  registry_prec prec = ((const clap_conn *)sqlite3_user_data(ctx))->prec;
  if (aux && aux->model == m && aux->prec == prec) return aux->v;
  const void *p;
  int n;
  int a = arg_bytes(ctx, argv[argi], fn, argi + 1, 1, &p, &n);
  if (a) {
    *is_null = a == 1;
    return NULL;
  }
  int dim = model_get_config(m)->dim;
  clap_error err;
  prompt_set *set = NULL;
  float *v = sqlite3_malloc(dim * (int)sizeof(float));
  if (!v) {
    sqlite3_result_error_nomem(ctx);
    return NULL;
  }
  clap_status rc = ensemble ? prompt_parse_class(p, (size_t)n, &set, &err)
                            : prompt_parse_sentence(p, (size_t)n, &set, &err);
  if (rc) {
    sqlfn_errorf(ctx, "%s(): argument %d: %s", fn, argi + 1, err.msg);
  } else if (embed_prompts(sqlite3_user_data(ctx), sqlite3_context_db_handle(ctx), r, set, v,
                           &err)) {
    clap_error_prefix(&err, "argument %d: ", argi + 1);
    sqlfn_clap_error(ctx, fn, &err);
    rc = err.code;
  }
  prompt_set_free(set);
  if (rc) {
    sqlite3_free(v);
    return NULL;
  }
  text_aux *fresh_aux = sqlite3_malloc(sizeof *fresh_aux + (size_t)dim * sizeof(float));
  if (fresh_aux) {
    fresh_aux->model = m;
    fresh_aux->prec = prec;
    fresh_aux->dim = dim;
    memcpy(fresh_aux->v, v, (size_t)dim * sizeof(float));
    sqlite3_set_auxdata(ctx, argi, fresh_aux, sqlite3_free);
  }
  *fresh = v;
  return v;
}

/* ---------------------------------------------------------------- functions */

static void fn_version(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  sqlite3_result_text(ctx, CLAP_VERSION, -1, SQLITE_STATIC);
}

/* clap_debug(): the build and the libraries it runs with (debug.h). */
static void fn_debug(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  char *s = debug_report();
  if (!s) sqlite3_result_error_nomem(ctx);
  else sqlite3_result_text(ctx, s, -1, sqlite3_free);
}

/* clap_threads() reports, clap_threads(n) sets the size of OpenBLAS's
** process-wide pool, which the checkpoint encoders use; 1..256. */
static void fn_threads(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  if (argc == 1) {
    if (sqlite3_value_type(argv[0]) != SQLITE_INTEGER || sqlite3_value_int64(argv[0]) < 1 ||
        sqlite3_value_int64(argv[0]) > 256) {
      sqlfn_errorf(ctx, "clap_threads(): argument 1: expected an integer in 1..256");
      return;
    }
    nn_set_threads(sqlite3_value_int(argv[0]));
  }
  sqlite3_result_int(ctx, nn_get_threads());
}

static void fn_cosine(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  vec_view a = {0}, b = {0};
  int ra = arg_vector(ctx, argv[0], "cosine(): argument 1", &a);
  if (ra < 0) return;
  int rb = arg_vector(ctx, argv[1], "cosine(): argument 2", &b);
  if (rb >= 0 && (ra == 1 || rb == 1)) {
    sqlite3_result_null(ctx);
  } else if (rb == 0) {
    clap_error err;
    double s;
    if (vec_check_same_dim(a.dim, b.dim, "cosine()", &err) != CLAP_OK)
      sqlite3_result_error(ctx, err.msg, -1);
    else if (vec_cosine(a.data, b.data, a.dim, &s, &err) != CLAP_OK)
      sqlfn_clap_error(ctx, "cosine", &err);
    else
      sqlite3_result_double(ctx, s);
  }
  vec_clear(&a);
  vec_clear(&b);
}

/* clap_encode_text's result for a constant text argument, kept in its
** auxdata so that a statement asks the encoder (a server, for a remote
** one) once; it remembers which encoder made it. */
typedef struct encoded_aux {
  const encoder *enc;
  int dim;
  float v[];
} encoded_aux;

static void keep_encoded(sqlite3_context *ctx, const encoder *enc, const float *v) {
  int dim = encoder_dim(enc);
  encoded_aux *aux = sqlite3_malloc64(sizeof *aux + (size_t)dim * sizeof(float));
  if (!aux) return;
  aux->enc = enc;
  aux->dim = dim;
  memcpy(aux->v, v, (size_t)dim * sizeof(float));
  sqlite3_set_auxdata(ctx, 0, aux, sqlite3_free);
}

static void encode_common(sqlite3_context *ctx, sqlite3_value **argv, int is_text) {
  const char *fn = is_text ? "clap_encode_text" : "clap_encode_audio";
  const void *p;
  int n;
  int a = arg_bytes(ctx, argv[0], fn, 1, is_text, &p, &n);
  if (a) {
    if (a == 1) sqlite3_result_null(ctx);
    return;
  }
  const char *name = arg_name(ctx, argv[1], fn, 2, "encoder");
  if (!name) return;
  clap_error err;
  clap_conn *c = sqlite3_user_data(ctx);
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  const encoder *enc =
      conn_encoder(c, db, name, c->prec, is_text ? ENCODER_TEXT : ENCODER_AUDIO, NULL, NULL, &err);
  encoded_aux *aux = enc && is_text ? sqlite3_get_auxdata(ctx, 0) : NULL;
  if (aux && aux->enc == enc) {
    sqlite3_result_blob(ctx, aux->v, aux->dim * (int)sizeof(float), SQLITE_TRANSIENT);
    sqlite3_result_subtype(ctx, VEC_SUBTYPE);
    return;
  }
  float *v = NULL;
  if (enc) {
    if ((is_text ? encode_text_bytes(c, db, enc, p, n, &v, &err)
                 : encode_audio_bytes(enc, p, n, 1, &v, &err)) == CLAP_OK) {
      if (is_text) keep_encoded(ctx, enc, v);
      result_vector(ctx, v, encoder_dim(enc));
      return;
    }
  }
  sqlfn_clap_error(ctx, fn, &err);
}

static void fn_encode_audio(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  encode_common(ctx, argv, 0);
}

static void fn_encode_text(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  encode_common(ctx, argv, 1);
}

static void fn_embed_audio(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  const char *fn = "clap_embed_audio";
  const void *p;
  int n;
  int a = arg_bytes(ctx, argv[0], fn, 1, 0, &p, &n);
  if (a) {
    if (a == 1) sqlite3_result_null(ctx);
    return;
  }
  model_ref *hold;
  const clap_model *m = arg_model(ctx, argc, argv, 1, fn, &hold);
  if (!m) return;
  clap_error err;
  const char *encname = model_get_config(m)->audio_encoder;
  const encoder *enc =
      model_encoder(sqlite3_user_data(ctx), sqlite3_context_db_handle(ctx), hold, MODEL_AUDIO, &err);
  float *x = NULL, *v = NULL;
  if (enc && encode_audio_bytes(enc, p, n, 1, &x, &err) == CLAP_OK &&
      model_embed_features(m, MODEL_AUDIO, x, encoder_dim(enc), encname, &v, &err) == CLAP_OK)
    result_vector(ctx, v, model_get_config(m)->dim);
  else
    sqlfn_clap_error(ctx, fn, &err);
  sqlite3_free(x);
  models_release(hold);
}

static void fn_embed_text(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  const char *fn = "clap_embed_text";
  if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
    sqlite3_result_null(ctx);
    return;
  }
  /* A constant sentence already embedded in this statement under the default
  ** model: the statement sees one model throughout, so the per-row model
  ** lookup is skipped too. (With a model argument, that argument's own
  ** auxdata makes the lookup cheap.) */
  text_aux *aux = argc == 1 ? sqlite3_get_auxdata(ctx, 0) : NULL;
  if (aux) {
    sqlite3_result_blob(ctx, aux->v, aux->dim * (int)sizeof(float), SQLITE_TRANSIENT);
    sqlite3_result_subtype(ctx, VEC_SUBTYPE);
    return;
  }
  model_ref *hold;
  const clap_model *m = arg_text_model(ctx, argc, argv, 1, fn, &hold);
  if (!m) return;
  float *fresh;
  int is_null;
  const float *v = arg_text_embedding(ctx, argv, 0, hold, fn, 0, &fresh, &is_null);
  if (v) {
    int dim = model_get_config(m)->dim;
    if (fresh) {
      result_vector(ctx, fresh, dim);
    } else {
      sqlite3_result_blob(ctx, v, dim * (int)sizeof(float), SQLITE_TRANSIENT);
      sqlite3_result_subtype(ctx, VEC_SUBTYPE);
    }
  }
  models_release(hold);
}

/* An audio embedding argument (argument 1) checked against model r. A
** vector carries no tag of the model that made it, so only its dimension
** can be compared. */
static int arg_model_vector(sqlite3_context *ctx, sqlite3_value *v, const char *fn,
                            const model_ref *r, vec_view *out) {
  char what[64];
  snprintf(what, sizeof what, "%s(): argument 1", fn);
  int rc = arg_vector(ctx, v, what, out);
  if (rc) return rc;
  int dim = model_get_config(r->model)->dim;
  if (out->dim != dim) {
    sqlfn_errorf(ctx,
                  "%s: a %d-dimensional vector, but model '%s' embeds in %d dimensions "
                  "(vectors carry no model tag, only the dimension is checked: make it with "
                  "clap_embed_audio(audio, '%s'))",
                  what, out->dim, r->name, dim, r->name);
    vec_clear(out);
    return -1;
  }
  return 0;
}

static void fn_zero_shot(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  const char *fn = "clap_zero_shot";
  model_ref *hold;
  const clap_model *m = arg_text_model(ctx, argc, argv, 3, fn, &hold);
  if (!m) return;
  vec_view a = {0};
  float *fresh[2] = {NULL, NULL};
  const float *t[2] = {NULL, NULL};
  int is_null = 0, r = arg_model_vector(ctx, argv[0], fn, hold, &a);
  for (int i = 0; i < 2 && r == 0; i++) {
    t[i] = arg_text_embedding(ctx, argv, i + 1, hold, fn, 1, &fresh[i], &is_null);
    if (!t[i]) r = is_null ? 1 : -1;
  }
  if (r == 1) sqlite3_result_null(ctx);
  if (r == 0) {
    clap_error err;
    double cn, cp;
    if (vec_cosine(a.data, t[0], a.dim, &cn, &err) || vec_cosine(a.data, t[1], a.dim, &cp, &err)) {
      sqlfn_clap_error(ctx, fn, &err);
    } else {
      /* softmax over the two scaled similarities, written to avoid overflow;
      ** model_load bounds the scale, so p is a number (NULL means NULL in). */
      double s = exp(model_log_scale(m)), p = 1.0 / (1.0 + exp(s * (cn - cp)));
      if (isnan(p)) sqlfn_errorf(ctx, "%s(): model '%s' gives no probability (scale %g)", fn,
                                  hold->name, s);
      else sqlite3_result_double(ctx, p);
    }
  }
  vec_clear(&a);
  sqlite3_free(fresh[0]);
  sqlite3_free(fresh[1]);
  models_release(hold);
}

/* The embeddings of a JSON array of class texts, cached per statement. */
typedef struct classes_aux {
  const clap_model *model;
  int k, dim;
  float v[];
} classes_aux;

static classes_aux *embed_classes(sqlite3_context *ctx, sqlite3_value *arg, const model_ref *r,
                                  const char *fn) {
  const clap_model *m = r->model;
  int t = sqlite3_value_type(arg);
  if (t != SQLITE_TEXT) {
    sqlfn_errorf(ctx, "%s(): argument 2: expected a JSON array of classes (text), got %s", fn,
                  sqlfn_type_name(t));
    return NULL;
  }
  clap_error err;
  prompt_set *set = NULL;
  if (prompt_parse_classes((const char *)sqlite3_value_text(arg),
                           (size_t)sqlite3_value_bytes(arg), &set, &err)) {
    sqlfn_errorf(ctx, "%s(): argument 2: %s", fn, err.msg);
    return NULL;
  }
  int k = prompt_set_count(set), dim = model_get_config(m)->dim;
  classes_aux *aux = sqlite3_malloc64(sizeof *aux + (size_t)k * (size_t)dim * sizeof(float));
  if (!aux) {
    sqlite3_result_error_nomem(ctx);
  } else {
    *aux = (classes_aux){.model = m, .k = k, .dim = dim};
    if (embed_prompts(sqlite3_user_data(ctx), sqlite3_context_db_handle(ctx), r, set, aux->v,
                      &err)) {
      clap_error_prefix(&err, "argument 2: ");
      sqlfn_clap_error(ctx, fn, &err);
      sqlite3_free(aux);
      aux = NULL;
    }
  }
  prompt_set_free(set);
  return aux;
}

/* A unit-length copy of an audio vector argument (argument 1), for
** similarities by cosine; sqlite3_malloc'd. A zero vector has no direction:
** NULL with the error set. */
static float *arg_unit(sqlite3_context *ctx, const char *fn, const vec_view *a) {
  float *u = sqlite3_malloc64((sqlite3_uint64)a->dim * sizeof(float));
  if (!u) {
    sqlite3_result_error_nomem(ctx);
    return NULL;
  }
  memcpy(u, a->data, (size_t)a->dim * sizeof(float));
  clap_error err;
  if (vec_normalize(u, a->dim, &err) != CLAP_OK) {
    clap_error_prefix(&err, "argument 1: ");
    sqlfn_clap_error(ctx, fn, &err);
    sqlite3_free(u);
    return NULL;
  }
  return u;
}

/* clap_model_from_file(path [, name]): registers the model blob in file
** path (what `clap model export` writes) for this connection under name
** (default 'default'), shadowing a clap_models row of that name; returns
** the name. */
static void fn_model_from_file(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  const char *fn = "clap_model_from_file";
  const char *path = arg_name(ctx, argv[0], fn, 1, "file");
  if (!path) return;
  const char *name = argc > 1 ? arg_name(ctx, argv[1], fn, 2, "model") : DEFAULT_MODEL;
  if (!name) return;
  clap_conn *c = sqlite3_user_data(ctx);
  clap_error err;
  if (models_add_file(c->models, name, path, &err) != CLAP_OK) {
    clap_error_prefix(&err, "argument 1: ");
    sqlfn_clap_error(ctx, fn, &err);
    return;
  }
  sqlite3_result_text(ctx, name, -1, SQLITE_TRANSIENT);
}

/* What clap_classify and clap_classify_probs share: the model (argument 3
** or 'default'), the classes of argument 2 (auxdata, or embedded now and
** kept for the statement) and the audio vector of argument 1, normalised.
** Returns the cosine of the vector with each class (*k entries,
** sqlite3_malloc'd) and the model's similarity scale; NULL when the result
** is set (an error, or NULL for a NULL argument). */
static double *class_cosines(sqlite3_context *ctx, int argc, sqlite3_value **argv,
                             const char *fn, int *k, double *scale) {
  model_ref *hold;
  const clap_model *m = arg_text_model(ctx, argc, argv, 2, fn, &hold);
  if (!m) return NULL;
  double *cos = NULL;
  vec_view a = {0};
  int r = arg_model_vector(ctx, argv[0], fn, hold, &a);
  if (r == 0 && sqlite3_value_type(argv[1]) == SQLITE_NULL) r = 1;
  if (r == 1) sqlite3_result_null(ctx);
  if (r == 0) {
    classes_aux *aux = sqlite3_get_auxdata(ctx, 1);
    int owned = 0;
    if (!aux || aux->model != m) {
      aux = embed_classes(ctx, argv[1], hold, fn);
      owned = 1;
    }
    float *u = aux ? arg_unit(ctx, fn, &a) : NULL;
    if (u && !(cos = sqlite3_malloc64((sqlite3_uint64)aux->k * sizeof *cos)))
      sqlite3_result_error_nomem(ctx);
    /* The classes are unit vectors, so the dot product with the unit
    ** argument is the cosine, whatever the argument's length. */
    for (int i = 0; cos && i < aux->k; i++)
      cos[i] = vec_dot(u, aux->v + (size_t)i * aux->dim, aux->dim);
    if (cos) {
      *k = aux->k;
      *scale = exp(model_log_scale(m));
    }
    sqlite3_free(u);
    if (aux && owned) sqlite3_set_auxdata(ctx, 1, aux, sqlite3_free);
  }
  vec_clear(&a);
  models_release(hold);
  return cos;
}

static void fn_classify(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  int k;
  double scale;
  double *cos = class_cosines(ctx, argc, argv, "clap_classify", &k, &scale);
  if (!cos) return;
  int best = 0;
  double best_s = -INFINITY;
  for (int i = 0; i < k; i++)
    if (cos[i] > best_s) best_s = cos[i], best = i;
  sqlite3_free(cos);
  sqlite3_result_int(ctx, best);
}

/* softmax over scale x cosine, as clap_zero_shot's two-class case, written
** as a JSON array of probabilities summing to 1. */
static void fn_classify_probs(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  int k;
  double scale;
  double *cos = class_cosines(ctx, argc, argv, "clap_classify_probs", &k, &scale);
  if (!cos) return;
  double top = -INFINITY, sum = 0;
  for (int i = 0; i < k; i++)
    if (cos[i] > top) top = cos[i];
  for (int i = 0; i < k; i++) sum += cos[i] = exp(scale * (cos[i] - top));
  /* SQLite's printf writes '.' whatever the process locale. */
  sqlite3_str *out = sqlite3_str_new(sqlite3_context_db_handle(ctx));
  sqlite3_str_appendchar(out, 1, '[');
  for (int i = 0; i < k; i++) sqlite3_str_appendf(out, i ? ",%!.17g" : "%!.17g", cos[i] / sum);
  sqlite3_str_appendchar(out, 1, ']');
  sqlite3_free(cos);
  int rc = sqlite3_str_errcode(out), n = sqlite3_str_length(out);
  char *json = sqlite3_str_finish(out);
  if (rc != SQLITE_OK || !json) {
    sqlite3_free(json);
    if (rc == SQLITE_TOOBIG) sqlite3_result_error_toobig(ctx);
    else sqlite3_result_error_nomem(ctx);
    return;
  }
  sqlite3_result_text(ctx, json, n, sqlite3_free);
  sqlite3_result_subtype(ctx, 'J'); /* JSON, as SQLite's own json functions mark it */
}

/* ---------------------------------------------------------------- registration */

typedef struct fn_spec {
  const char *name;
  int nargs;
  int flags;
  void (*fn)(sqlite3_context *, int, sqlite3_value **);
} fn_spec;
/* clap_precision() reports, clap_precision(p) sets the precision this
** connection's checkpoint encoders compute in and returns the previous
** one: 'registered' (as each clap_encoders row records it; also NULL),
** 'f32', 'bf16' or 'auto' (resolved when set: bf16 where the CPU has AMX or
** AVX512-BF16, else f32; the name returned is the one chosen). */
static void fn_precision(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  clap_conn *c = sqlite3_user_data(ctx);
  registry_prec was = c->prec, p = REGISTRY_PREC_RECORDED;
  int t = argc == 1 ? sqlite3_value_type(argv[0]) : SQLITE_NULL;
  clap_error err;
  if (t == SQLITE_TEXT &&
      registry_prec_parse((const char *)sqlite3_value_text(argv[0]), &p, &err) != CLAP_OK) {
    sqlfn_errorf(ctx, "clap_precision(): argument 1: expected f32, bf16, auto, registered or "
                       "NULL, got '%.64s'", (const char *)sqlite3_value_text(argv[0]));
    return;
  }
  if (t != SQLITE_TEXT && t != SQLITE_NULL) {
    sqlfn_errorf(ctx, "clap_precision(): argument 1: expected f32, bf16, auto, registered or "
                       "NULL, got %s", sqlfn_type_name(t));
    return;
  }
  if (argc == 1) c->prec = p;
  sqlite3_result_text(ctx, registry_prec_name(was), -1, SQLITE_STATIC);
}

/* cosine and the built-in vector math are pure; the clap_* functions read
** clap_models / clap_encoders, so they are neither DETERMINISTIC (a model
** row may change) nor INNOCUOUS. */
#define PURE (SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS)
#define READS (SQLITE_UTF8)
#define SUBTYPE_OUT SQLITE_RESULT_SUBTYPE
/* Functions that read a vector argument's subtype (sqlite-vec's int8 and bit
** tags, vec.h) say so, or SQLite may not keep it for them. */
#define SUBTYPE_IN SQLITE_SUBTYPE

static const fn_spec functions[] = {
    {"clap_version", 0, PURE, fn_version},
    {"clap_debug", 0, SQLITE_UTF8, fn_debug},
    {"cosine", 2, PURE | SUBTYPE_IN, fn_cosine},
    {"clap_threads", 0, SQLITE_UTF8, fn_threads},
    {"clap_threads", 1, SQLITE_UTF8 | SQLITE_DIRECTONLY, fn_threads},
    {"clap_precision", 0, SQLITE_UTF8, fn_precision},
    {"clap_precision", 1, SQLITE_UTF8 | SQLITE_DIRECTONLY, fn_precision},
    {"clap_encode_audio", 2, READS | SUBTYPE_OUT, fn_encode_audio},
    {"clap_encode_text", 2, READS | SUBTYPE_OUT, fn_encode_text},
    {"clap_embed_audio", 1, READS | SUBTYPE_OUT, fn_embed_audio},
    {"clap_embed_audio", 2, READS | SUBTYPE_OUT, fn_embed_audio},
    {"clap_embed_text", 1, READS | SUBTYPE_OUT, fn_embed_text},
    {"clap_embed_text", 2, READS | SUBTYPE_OUT, fn_embed_text},
    {"clap_zero_shot", 3, READS | SUBTYPE_IN, fn_zero_shot},
    {"clap_zero_shot", 4, READS | SUBTYPE_IN, fn_zero_shot},
    {"clap_classify", 2, READS | SUBTYPE_IN, fn_classify},
    {"clap_classify", 3, READS | SUBTYPE_IN, fn_classify},
    /* Reads a file the statement names: not from triggers, views or schema. */
    {"clap_model_from_file", 1, SQLITE_UTF8 | SQLITE_DIRECTONLY, fn_model_from_file},
    {"clap_model_from_file", 2, SQLITE_UTF8 | SQLITE_DIRECTONLY, fn_model_from_file},
    {"clap_classify_probs", 2, READS | SUBTYPE_IN | SUBTYPE_OUT, fn_classify_probs},
    {"clap_classify_probs", 3, READS | SUBTYPE_IN | SUBTYPE_OUT, fn_classify_probs},
};

/* The one symbol clap0.so exports: everything else is built with
** -fvisibility=hidden, so a host defining a function of the same name as
** one of ours (model_load, vec_parse, ...) keeps its own. */
#ifdef _WIN32
__declspec(dllexport)
#else
__attribute__((visibility("default")))
#endif
int sqlite3_clap_init(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi) {
  SQLITE_EXTENSION_INIT2(pApi);
  /* CLAP_THREADS sizes OpenBLAS's pool for the checkpoint encoders; unset,
  ** OpenBLAS uses every core. */
  const char *threads = getenv("CLAP_THREADS");
  if (threads && atoi(threads) >= 1 && atoi(threads) <= 256) nn_set_threads(atoi(threads));
  clap_conn *c = sqlite3_malloc(sizeof *c);
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof *c);
  c->prec = REGISTRY_PREC_RECORDED;
  c->encoders = registry_cache_create();
  c->models = models_create();
  if (!c->encoders || !c->models) {
    registry_cache_free(c->encoders);
    models_free(c->models);
    sqlite3_free(c);
    return SQLITE_NOMEM;
  }
  c->refs = 1; /* held until every function is registered */
  int rc = SQLITE_OK;
  for (size_t i = 0; i < sizeof functions / sizeof functions[0] && rc == SQLITE_OK; i++) {
    const fn_spec *f = &functions[i];
    /* Older SQLite rejects flag bits it does not know; retry without them. */
    c->refs++;
    rc = sqlite3_create_function_v2(db, f->name, f->nargs, f->flags, c, f->fn, NULL, NULL,
                                    conn_release);
    if (rc != SQLITE_OK && (f->flags & SUBTYPE_OUT)) {
      c->refs++; /* the failed call released its reference */
      rc = sqlite3_create_function_v2(db, f->name, f->nargs, f->flags & ~SUBTYPE_OUT, c, f->fn, NULL,
                                      NULL, conn_release);
    }
  }
  conn_release(c);
  if (rc == SQLITE_OK) rc = calls_register(db);
  if (rc != SQLITE_OK && pzErrMsg)
    *pzErrMsg = sqlite3_mprintf("clap: registering SQL functions: %s", sqlite3_errmsg(db));
  return rc;
}
