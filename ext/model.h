/*
** model — a CLAP model: per-feature standardisation of the frozen encoders'
** outputs, an audio head and a text head (linear, as in the paper, or a
** 2-layer MLP), and the learned log-temperature; plus the names of the
** encoders it was built on and free-form JSON metadata (training config,
** loss curve, provenance).
**
** Embedding: x -> (x - mean) / std -> head -> L2-normalise. Heads keep
** PyTorch's [out, in] weight layout and multiply with CblasTrans.
**
** The blob (model_save / model_load) is versioned and checksummed:
**   "CLAPMDL\0" | u32 version | u32 header bytes | header JSON |
**   f32 tensors (LE, in header order) | u32 CRC-32 of everything before it.
** Loading a truncated, corrupt or future-version blob is an error naming
** what is wrong; it never reads outside the blob.
*/
#ifndef CLAP_MODEL_H
#define CLAP_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "clap_error.h"

#define MODEL_BLOB_VERSION 1
#define MODEL_MAX_DIM 16384

typedef enum model_head_kind { MODEL_HEAD_LINEAR = 0, MODEL_HEAD_MLP = 1 } model_head_kind;

typedef struct model_config {
  char audio_encoder[64];  /* encoder name, e.g. "acoustic" */
  char text_encoder[64];   /* e.g. "ngram" */
  int audio_in;            /* the audio encoder's output dimension */
  int text_in;             /* the text encoder's output dimension */
  int dim;                 /* joint embedding dimension D */
  model_head_kind head;
  int hidden;              /* MLP hidden width (ignored for linear) */
} model_config;

typedef struct clap_model clap_model;

/* A randomly initialised model (deterministic for a seed): identity
** standardisation, Xavier-uniform heads, log-temperature log(1/0.07). */
clap_status model_create(const model_config *cfg, uint64_t seed, clap_model **out,
                         clap_error *err);
void model_free(clap_model *m);

clap_status model_load(const void *blob, size_t nbytes, clap_model **out, clap_error *err);
/* *blob is malloc'd, the caller frees. */
clap_status model_save(const clap_model *m, unsigned char **blob, size_t *nbytes,
                       clap_error *err);

const model_config *model_get_config(const clap_model *m);
float model_log_scale(const clap_model *m);   /* log of the similarity scale 1/tau */
void model_set_log_scale(clap_model *m, float v);

/* Metadata: a JSON object as text, "{}" when unset. The model keeps a copy. */
const char *model_metadata(const clap_model *m);
clap_status model_set_metadata(clap_model *m, const char *json, clap_error *err);

/* Standardisation statistics for one side: mean and std of length audio_in /
** text_in. A std <= 0 is stored as 1. */
typedef enum model_side { MODEL_AUDIO = 0, MODEL_TEXT = 1 } model_side;
clap_status model_set_standardisation(clap_model *m, model_side side, const float *mean,
                                      const float *std, clap_error *err);

/* Embed n rows of raw encoder features (row-major, n x in) into n x dim,
** each row L2-normalised. A zero projection is CLAP_ERR_RANGE naming the row. */
clap_status model_embed(const clap_model *m, model_side side, const float *x, int n, float *out,
                        clap_error *err);

/* Named parameter tensors, for training and inspection. Names:
** "audio.mean" "audio.std" "audio.w1" "audio.b1" ["audio.w2" "audio.b2"],
** the same with "text.", and "log_scale" ([1]). Returns the live buffer. */
float *model_tensor(clap_model *m, const char *name, int *rows, int *cols);
int model_tensor_count(const clap_model *m);
const char *model_tensor_name(const clap_model *m, int i);

#endif
