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
**
** model_load checks, in this order, and stops at the first failure:
**   size >= 20 bytes (CLAP_ERR_FORMAT), the magic (FORMAT), the version
**   (0 is FORMAT; newer than MODEL_BLOB_VERSION is CLAP_ERR_UNSUPPORTED "model
**   blob version 2 is newer than this build supports (1)"), the CRC-32 (FORMAT
**   "checksum mismatch: blob is corrupt"), the header length, the header JSON,
**   every config field (present, integral, in range; names as for
**   model_create), the tensor table (every tensor, in order, with the shape
**   the config implies), tensor bytes == the bytes left, every float finite,
**   every std > 0 and log_scale in 0..MODEL_LOG_SCALE_MAX (CLAP_ERR_RANGE),
**   and finally that the header is byte
**   for byte the one model_save writes for that model (FORMAT). Hence a blob
**   that loads saves back bitwise identical.
**
** The header JSON (cJSON, no whitespace):
**   {"config":{"audio_encoder":"acoustic","text_encoder":"ngram","audio_in":88,
**    "text_in":4096,"dim":256,"head":"linear"|"mlp","hidden":0},
**    "metadata":{...},"tensors":[{"name":"audio.mean","rows":88,"cols":1},...]}
**
** Config rules (model_create and model_load): audio_in, text_in, dim in
** 1..MODEL_MAX_DIM; hidden in 1..MODEL_MAX_DIM for an MLP head and 0 for a
** linear one (model_create stores 0 for a linear head whatever was passed);
** encoder names non-empty, printable ASCII (0x20..0x7e), shorter than 64
** bytes. Anything else is CLAP_ERR_RANGE (numbers) or CLAP_ERR_ARG (names;
** CLAP_ERR_FORMAT when read from a blob, as is a missing or mistyped field),
** naming the field.
**
** Thread safety: a model is read-only during model_embed / model_save /
** model_describe_json, so several threads may share one; the setters and
** model_tensor's live buffers need the caller's exclusion.
*/
#ifndef CLAP_MODEL_H
#define CLAP_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "clap_error.h"

#define MODEL_BLOB_VERSION 1
#define MODEL_MAX_DIM 16384
#define MODEL_LOG_SCALE_MAX 4.605170185988091 /* log(100): CLIP's cap on the scale */

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
** standardisation, zero biases, log-temperature log(1/0.07), Xavier-uniform
** weights U(-a, a), a = sqrt(6 / (fan_in + fan_out)). The PRNG is xoshiro256**
** seeded through splitmix64; each weight is (2u - 1) * a in double with u the
** top 24 bits of one draw / 2^24, drawn in tensor order (audio.w1, audio.w2,
** text.w1, text.w2), row-major - identical on every IEEE-754 platform. */
clap_status model_create(const model_config *cfg, uint64_t seed, clap_model **out,
                         clap_error *err);
void model_free(clap_model *m);

/* On success *out is a new model the caller frees with model_free; on error
** *out is NULL. The blob is only read and may be freed afterwards. */
clap_status model_load(const void *blob, size_t nbytes, clap_model **out, clap_error *err);
/* *blob is malloc'd, the caller frees. A model holding a non-finite value, a
** std <= 0 or a log_scale outside 0..MODEL_LOG_SCALE_MAX (reachable through
** model_tensor or model_set_log_scale) is CLAP_ERR_RANGE naming the tensor
** and index: model_load would reject it. */
clap_status model_save(const clap_model *m, unsigned char **blob, size_t *nbytes,
                       clap_error *err);

const model_config *model_get_config(const clap_model *m);
float model_log_scale(const clap_model *m);   /* log of the similarity scale 1/tau */
void model_set_log_scale(clap_model *m, float v);

/* Metadata: a JSON object as text, "{}" when unset. The model keeps a copy,
** re-printed by cJSON without whitespace (so model_metadata returns that
** canonical form, not the caller's text). NULL json resets it to "{}";
** invalid JSON is CLAP_ERR_FORMAT with the byte offset, a non-object
** CLAP_ERR_ARG. */
const char *model_metadata(const clap_model *m);
clap_status model_set_metadata(clap_model *m, const char *json, clap_error *err);

/* Standardisation statistics for one side: mean and std of length audio_in /
** text_in. A std <= 0 is stored as 1; a non-finite mean or std is
** CLAP_ERR_RANGE naming the index. */
typedef enum model_side { MODEL_AUDIO = 0, MODEL_TEXT = 1 } model_side;
clap_status model_set_standardisation(clap_model *m, model_side side, const float *mean,
                                      const float *std, clap_error *err);

/* Embed n rows of raw encoder features (row-major, n x in) into n x dim,
** each row L2-normalised. A zero projection is CLAP_ERR_RANGE naming the row;
** so is a non-finite input feature (row and column) or a non-finite result.
** n == 0 does nothing; n < 0 or a NULL x/out is CLAP_ERR_ARG. Rows are
** processed in chunks, so scratch memory does not grow with n. On error the
** contents of out are unspecified. */
clap_status model_embed(const clap_model *m, model_side side, const float *x, int n, float *out,
                        clap_error *err);

/* Named parameter tensors, for training and inspection. Names:
** "audio.mean" "audio.std" "audio.w1" "audio.b1" ["audio.w2" "audio.b2"],
** the same with "text.", and "log_scale" ([1]). Returns the live buffer
** (row-major, owned by the model), or NULL for an unknown name (rows and
** cols are then 0). Shapes: w1 [out1 x in] with out1 = dim (linear) or
** hidden (MLP), w2 [dim x hidden]; a vector of length k is k rows x 1 col.
** Tensor order (also the blob's): audio.*, then text.*, then log_scale. */
float *model_tensor(clap_model *m, const char *name, int *rows, int *cols);
int model_tensor_count(const clap_model *m);
const char *model_tensor_name(const clap_model *m, int i);  /* NULL when out of range */

/* Everything about a model as pretty-printed JSON text, for `clap model show`:
**   {"blob_version":1,"config":{...},"metadata":{...},
**    "tensors":[{"name":..,"rows":..,"cols":..},...],
**    "parameters":N,        trainable: head weights, biases and log_scale
**    "stored_values":N}     every float in the blob (adds mean and std)
** malloc'd, the caller frees; NULL only when out of memory. */
char *model_describe_json(const clap_model *m);

/* CRC-32 (IEEE 802.3, reflected: zlib's crc32) of n bytes - the blob's
** trailing checksum covers every byte before it. */
uint32_t model_crc32(const void *data, size_t n);

#endif
