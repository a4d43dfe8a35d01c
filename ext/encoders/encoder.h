/*
** encoder — one interface for the frozen audio and text encoders (f_a, f_t of
** the paper) and the registry that finds them by kind.
**
** An encoder maps one input (16 kHz mono PCM, or UTF-8 text) to a fixed
** number of floats. Built-in kinds: "acoustic" (audio) and "ngram" (text);
** checkpoint kinds ("hubert", "distilbert") take a path; a server kind
** ("openai", openai_embed.h) takes the configuration JSON that `clap encoder
** add` recorded in clap_encoders.config and is "remote": each encode is a
** request to a server, so callers read cached vectors first and batch what
** they send. Once created, an encoder's results do not change: encode may be
** called from several threads at once (a remote kind serialises its own
** requests).
**
** Errors: an unknown kind -> CLAP_ERR_NOTFOUND naming it and listing the known
** kinds; audio to a text encoder (or text to an audio one) -> CLAP_ERR_ARG
** "encoder 'ngram' encodes text, not audio"; NULL encoder/input/output ->
** CLAP_ERR_ARG. Input errors are the kind's (see acoustic.h, ngram.h, openai_embed.h).
*/
#ifndef CLAP_ENCODER_H
#define CLAP_ENCODER_H

#include "clap_error.h"
#include "dense.h"

typedef enum encoder_modality { ENCODER_AUDIO = 1, ENCODER_TEXT = 2 } encoder_modality;

/* What a kind of encoder provides. `create` builds the state from an optional
** path (NULL for built-ins) and reports the output dimension; a kind that
** is configured by JSON instead has create_config (name: for its messages).
** encode_text_batch (optional; else encode_text per text) encodes n
** NUL-terminated texts into n rows of out, with at most `concurrency`
** requests in flight for a remote kind. */
typedef struct encoder_ops {
  const char *kind;
  encoder_modality modality;
  clap_status (*create)(const char *path, void **state, int *dim, clap_error *err);
  clap_status (*encode_audio)(void *state, const float *pcm, long n, float *out, clap_error *err);
  clap_status (*encode_text)(void *state, const char *text, int nbytes, float *out,
                             clap_error *err);
  void (*destroy)(void *state);
  clap_status (*create_config)(const char *name, const char *config, void **state, int *dim,
                               clap_error *err);
  clap_status (*encode_text_batch)(void *state, const char *const *texts, int n, int concurrency,
                                   float *out, clap_error *err);
  int remote;
  /* Checkpoint kinds only (NULL for the built-ins, which compute in float
  ** and double throughout): the precision of their products (dense.h). */
  clap_status (*set_precision)(void *state, nn_precision p, clap_error *err);
} encoder_ops;

typedef struct encoder encoder;

/* The ops for a kind, or NULL. */
const encoder_ops *encoder_find_kind(const char *kind);

/* Create an encoder of `kind` named `name` (path may be NULL for built-ins,
** which reject a non-empty path; name NULL or "" = the kind). The caller owns
** *out and frees it with encoder_free. */
clap_status encoder_create(const char *name, const char *kind, const char *path, encoder **out,
                           clap_error *err);
/* The same from a clap_encoders row: path for path kinds, config (its JSON)
** for kinds with create_config (NULL there is CLAP_ERR_ARG "encoder 'NAME'
** of kind 'openai' needs its clap_encoders configuration"). */
clap_status encoder_create_config(const char *name, const char *kind, const char *path,
                                  const char *config, encoder **out, clap_error *err);
void encoder_free(encoder *e);

/* The process-wide instance of a built-in kind ("acoustic", "ngram"), created
** once on first use (thread-safe) and never freed; NULL if kind is not built in. */
encoder *encoder_builtin(const char *kind, clap_error *err);

const char *encoder_name(const encoder *e);
const char *encoder_kind(const encoder *e);
encoder_modality encoder_modality_of(const encoder *e);
int encoder_dim(const encoder *e);

/* CLAP_OK when an encoder called name that encodes `have` may serve `want`
** (0 = either); else CLAP_ERR_ARG "encoder 'ngram' encodes text, not audio". */
clap_status encoder_check_modality(const char *name, encoder_modality have,
                                   encoder_modality want, clap_error *err);

/* The precision of a checkpoint encoder's products (dense.h): NN_F32 when
** created. Setting it is part of making the encoder (before it is shared
** between threads). A built-in kind accepts NN_F32 and refuses NN_BF16 with
** CLAP_ERR_UNSUPPORTED ("encoder 'acoustic' has no bf16 mode"). */
clap_status encoder_set_precision(encoder *e, nn_precision p, clap_error *err);
nn_precision encoder_precision(const encoder *e);

/* out must hold encoder_dim(e) floats. Wrong modality -> CLAP_ERR_ARG.
** nbytes < 0: text is NUL-terminated. A result with a NaN or an infinity in
** it is CLAP_ERR_FORMAT "encoder 'NAME' computed a non-finite vector
** (element K is NaN) for this input; ..." (callers prefix the input). */
clap_status encoder_encode_audio(const encoder *e, const float *pcm16k, long n, float *out,
                                 clap_error *err);
clap_status encoder_encode_text(const encoder *e, const char *text, int nbytes, float *out,
                                clap_error *err);
/* n NUL-terminated texts into out (n rows of encoder_dim floats), all or
** nothing: on error out's contents are unspecified. concurrency (< 1: 1)
** bounds a remote kind's requests in flight; local kinds ignore it. */
clap_status encoder_encode_text_batch(const encoder *e, const char *const *texts, int n,
                                      int concurrency, float *out, clap_error *err);
/* Whether encoding sends requests to a server (encoder_ops.remote). */
int encoder_is_remote(const encoder *e);

#endif
