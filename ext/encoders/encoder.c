/*
** encoder — see encoder.h.
**
** The registry is a constant table: kinds are known at build time, so lookups
** need no lock. The only shared mutable state is the process-wide built-in
** instances, each created under its own pthread_once and never freed (so a
** pointer handed out stays valid for the life of the process).
*/
#include "encoder.h"

#include "acoustic.h"
#include "distilbert.h"
#include "hubert.h"
#include "ngram.h"
#include "openai_embed.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct encoder {
  char *name;
  const encoder_ops *ops;
  void *state;
  int dim;
  nn_precision prec;
};

/* Every kind the engine knows, built-in and checkpoint kinds alike, one
** line each. */
static const encoder_ops *const encoder_kinds[] = {
    &acoustic_encoder_ops,
    &ngram_encoder_ops,
    &hubert_encoder_ops,
    &distilbert_encoder_ops,
    &openai_encoder_ops,
};
#define N_KINDS ((int)(sizeof encoder_kinds / sizeof encoder_kinds[0]))

const encoder_ops *encoder_find_kind(const char *kind) {
  if (!kind) return NULL;
  for (int i = 0; i < N_KINDS; i++)
    if (strcmp(encoder_kinds[i]->kind, kind) == 0) return encoder_kinds[i];
  return NULL;
}

/* "acoustic, ngram" — for error messages that list the alternatives. */
static void known_kinds(char *buf, size_t cap) {
  size_t used = 0;
  buf[0] = 0;
  for (int i = 0; i < N_KINDS && used < cap; i++) {
    int w = snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", encoder_kinds[i]->kind);
    if (w < 0) break;
    used += (size_t)w;
  }
}

static clap_status unknown_kind(const char *kind, clap_error *err) {
  char known[256];
  known_kinds(known, sizeof known);
  return clap_error_set(err, CLAP_ERR_NOTFOUND, "unknown encoder kind '%.100s' (known: %s)", kind,
                        known);
}

clap_status encoder_create(const char *name, const char *kind, const char *path, encoder **out,
                           clap_error *err) {
  return encoder_create_config(name, kind, path, NULL, out, err);
}

static clap_status create_state(encoder *e, const char *path, const char *config, clap_error *err) {
  if (!e->ops->create_config) return e->ops->create(path, &e->state, &e->dim, err);
  if (!config || !*config)
    return clap_error_set(err, CLAP_ERR_ARG,
                          "encoder '%s' of kind '%s' needs its clap_encoders configuration "
                          "(register it with `clap encoder add`)",
                          e->name, e->ops->kind);
  return e->ops->create_config(e->name, config, &e->state, &e->dim, err);
}

clap_status encoder_create_config(const char *name, const char *kind, const char *path,
                                  const char *config, encoder **out, clap_error *err) {
  if (!out) return clap_error_set(err, CLAP_ERR_ARG, "encoder_create: out is NULL");
  *out = NULL;
  if (!kind || !*kind) return clap_error_set(err, CLAP_ERR_ARG, "encoder kind is empty");
  const encoder_ops *ops = encoder_find_kind(kind);
  if (!ops) return unknown_kind(kind, err);
  encoder *e = calloc(1, sizeof *e);
  if (!e) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory creating encoder '%s'", kind);
  e->ops = ops;
  e->name = strdup(name && *name ? name : kind);
  if (!e->name) {
    free(e);
    return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory creating encoder '%s'", kind);
  }
  clap_status rc = create_state(e, path, config, err);
  if (rc == CLAP_OK && e->dim <= 0)
    rc = clap_error_set(err, CLAP_ERR_INTERNAL, "encoder kind '%s' reported dimension %d", kind,
                        e->dim);
  if (rc != CLAP_OK) {
    if (e->state) ops->destroy(e->state);
    free(e->name);
    free(e);
    return rc;
  }
  *out = e;
  return CLAP_OK;
}

void encoder_free(encoder *e) {
  if (!e) return;
  if (e->state) e->ops->destroy(e->state);
  free(e->name);
  free(e);
}

/* One slot per built-in kind. pthread_once needs a function without
** arguments, hence one tiny init function per slot. */
typedef struct builtin_slot {
  const char *kind;
  pthread_once_t once;
  encoder *enc;
  clap_error err; /* why creation failed, replayed to every later caller */
} builtin_slot;

static builtin_slot builtin_slots[] = {
    {"acoustic", PTHREAD_ONCE_INIT, NULL, {CLAP_OK, ""}},
    {"ngram", PTHREAD_ONCE_INIT, NULL, {CLAP_OK, ""}},
};

static void builtin_init(builtin_slot *s) {
  clap_error_clear(&s->err);
  if (encoder_create(s->kind, s->kind, NULL, &s->enc, &s->err) != CLAP_OK) s->enc = NULL;
}
static void builtin_init_acoustic(void) { builtin_init(&builtin_slots[0]); }
static void builtin_init_ngram(void) { builtin_init(&builtin_slots[1]); }
static void (*const builtin_inits[])(void) = {builtin_init_acoustic, builtin_init_ngram};

encoder *encoder_builtin(const char *kind, clap_error *err) {
  int n = (int)(sizeof builtin_slots / sizeof builtin_slots[0]);
  for (int i = 0; kind && i < n; i++) {
    builtin_slot *s = &builtin_slots[i];
    if (strcmp(s->kind, kind) != 0) continue;
    if (pthread_once(&s->once, builtin_inits[i]) != 0) {
      clap_error_set(err, CLAP_ERR_INTERNAL, "pthread_once failed for encoder '%s'", kind);
      return NULL;
    }
    if (!s->enc && err) *err = s->err;
    return s->enc;
  }
  clap_error_set(err, CLAP_ERR_NOTFOUND, "'%.100s' is not a built-in encoder (built in: acoustic, ngram)",
                 kind ? kind : "(null)");
  return NULL;
}

const char *encoder_name(const encoder *e) { return e ? e->name : NULL; }
clap_status encoder_set_precision(encoder *e, nn_precision p, clap_error *err) {
  if (!e) return clap_error_set(err, CLAP_ERR_ARG, "encoder_set_precision: encoder is NULL");
  if (!e->ops->set_precision) {
    if (p == NN_F32) return CLAP_OK;
    return clap_error_set(err, CLAP_ERR_UNSUPPORTED, "encoder '%s' has no %s mode", e->name,
                          nn_precision_name(p));
  }
  clap_status rc = e->ops->set_precision(e->state, p, err);
  if (!rc) e->prec = p;
  return rc;
}

nn_precision encoder_precision(const encoder *e) { return e ? e->prec : NN_F32; }

const char *encoder_kind(const encoder *e) { return e ? e->ops->kind : NULL; }
encoder_modality encoder_modality_of(const encoder *e) { return e ? e->ops->modality : 0; }
int encoder_dim(const encoder *e) { return e ? e->dim : 0; }

static const char *modality_word(encoder_modality m) {
  return m == ENCODER_AUDIO ? "audio" : m == ENCODER_TEXT ? "text" : "nothing";
}

clap_status encoder_check_modality(const char *name, encoder_modality have,
                                   encoder_modality want, clap_error *err) {
  if (!want || have == want) return CLAP_OK;
  return clap_error_set(err, CLAP_ERR_ARG, "encoder '%s' encodes %s, not %s", name,
                        modality_word(have), modality_word(want));
}

static clap_status check_modality(const encoder *e, encoder_modality want, const void *in,
                                  const float *out, clap_error *err) {
  if (!e) return clap_error_set(err, CLAP_ERR_ARG, "encoder is NULL");
  clap_status rc = encoder_check_modality(e->name, e->ops->modality, want, err);
  if (rc) return rc;
  if (!in) return clap_error_set(err, CLAP_ERR_ARG, "encoder '%s': input is NULL", e->name);
  if (!out) return clap_error_set(err, CLAP_ERR_ARG, "encoder '%s': output is NULL", e->name);
  return CLAP_OK;
}

/* A vector with a NaN or an infinity is never returned: it would be cached,
** compared and trained on as if it meant something. */
static clap_status check_output(const encoder *e, const float *out, clap_error *err) {
  for (int i = 0; i < e->dim; i++)
    if (!isfinite(out[i]))
      return clap_error_set(err, CLAP_ERR_FORMAT,
                            "encoder '%s' computed a non-finite vector (element %d is %s) for "
                            "this input; its weights or the input overflow",
                            e->name, i, isnan(out[i]) ? "NaN" : "infinite");
  return CLAP_OK;
}

clap_status encoder_encode_audio(const encoder *e, const float *pcm16k, long n, float *out,
                                 clap_error *err) {
  clap_status rc = check_modality(e, ENCODER_AUDIO, pcm16k, out, err);
  if (rc == CLAP_OK) rc = e->ops->encode_audio(e->state, pcm16k, n, out, err);
  return rc == CLAP_OK ? check_output(e, out, err) : rc;
}

clap_status encoder_encode_text(const encoder *e, const char *text, int nbytes, float *out,
                                clap_error *err) {
  clap_status rc = check_modality(e, ENCODER_TEXT, text, out, err);
  if (rc == CLAP_OK) rc = e->ops->encode_text(e->state, text, nbytes, out, err);
  return rc == CLAP_OK ? check_output(e, out, err) : rc;
}

clap_status encoder_encode_text_batch(const encoder *e, const char *const *texts, int n,
                                      int concurrency, float *out, clap_error *err) {
  if (n < 0 || (n > 0 && !texts)) return clap_error_set(err, CLAP_ERR_ARG, "encoder: bad batch");
  if (n == 0) return CLAP_OK;
  clap_status rc = check_modality(e, ENCODER_TEXT, texts, out, err);
  if (rc != CLAP_OK) return rc;
  for (int i = 0; i < n; i++)
    if (!texts[i]) return clap_error_set(err, CLAP_ERR_ARG, "encoder '%s': text %d is NULL", e->name, i);
  if (e->ops->encode_text_batch)
    return e->ops->encode_text_batch(e->state, texts, n, concurrency < 1 ? 1 : concurrency, out, err);
  for (int i = 0; i < n && rc == CLAP_OK; i++)
    rc = e->ops->encode_text(e->state, texts[i], -1, out + (size_t)i * (size_t)e->dim, err);
  return rc;
}

int encoder_is_remote(const encoder *e) { return e && e->ops->remote; }
