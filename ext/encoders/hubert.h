/*
** hubert — HuBERT-base (Hugging Face HubertModel) forward pass in C, from a
** local checkpoint directory; registered as encoder kind "hubert".
**
** The directory holds config.json and model.safetensors (F32, F16 or BF16;
** half weights are widened to float32 at load), or instead
** pytorch_model.bin, converted in memory (see torchbin.h). An optional
** preprocessor_config.json's "do_normalize" (absent -> false) makes each
** utterance zero-mean unit-variance first: (x-mean)/sqrt(var+1e-7).
** Tensor names are HF's, bare or with the "hubert." prefix (*ForCTC etc.;
** other heads are ignored). The positional conv's weight norm is read as
** weight_g/weight_v or parametrizations.weight.original0/original1.
**
** Supported config (else CLAP_ERR_UNSUPPORTED naming the field):
** feat_extract_norm "group" (group norm in conv layer 0), activations "gelu",
** do_stable_layer_norm false (post-LN), any sizes; conv_bias either way.
** Missing tensors -> CLAP_ERR_NOTFOUND "tensor X not found in FILE"; wrong
** shapes -> CLAP_ERR_FORMAT "tensor X: shape [..], expected [..]"; bad
** config values -> CLAP_ERR_FORMAT naming config.json and the field; a
** missing config.json -> CLAP_ERR_NOTFOUND, one over 1 MiB -> CLAP_ERR_RANGE
** (hfckpt.h).
**
** Encoding: 16 kHz mono float PCM -> the last layer's states [T, hidden],
** T = floor((n-400)/320)+1 for the base conv stack; the encoder output is
** their mean over time (hidden floats). Fewer samples than one frame needs
** (400 for base) -> CLAP_ERR_RANGE. Non-finite samples -> CLAP_ERR_RANGE.
**
** Memory per call, in one workspace sized from the frame count T (50 per
** second) before anything runs: the conv feature encoder streams chunks of
** output frames (hubert_set_conv_chunk), so it needs a constant ~13 MB per
** worker thread for base whatever the length; the rest is linear in T
** (about 28 KB per frame for base: the states, Q/K/V, the 3072-wide
** feed-forward) plus, per worker thread (nn_threads.h), attention logits
** for 128 query rows of one head (128·T floats: 12 MB at 10 min) and a
** positional-conv window block (3 MB). Compute is what grows faster:
** attention is T² per head per layer, against the linear cost of
** everything else, which it overtakes past ~90 s (a minute of audio takes
** about 5 s on two cores here). Audio longer than HUBERT_MAX_SECONDS
** (20 min: about 2 GB of workspace, and several minutes of compute) is
** refused with CLAP_ERR_RANGE; split longer recordings. A
** workspace of up to 64 MB (about 30 s of audio for base) stays cached in
** the model between calls, so a stream of utterances does not page-fault a
** fresh one each time; bigger ones are freed after the call.
**
** Thread safety: a loaded model is read-only but for that cached workspace
** (under a mutex); hubert_forward/encode may run concurrently on one model:
** a call that finds the cached workspace in use allocates its own. Nothing
** global is recorded; the thread count is the caller's (nn_threads.h).
*/
#ifndef CLAP_HUBERT_H
#define CLAP_HUBERT_H

#include "clap_error.h"
#include "dense.h"
#include "encoder.h"

#define HUBERT_MAX_CONV 16
#define HUBERT_MAX_SECONDS 1200

typedef struct hubert_config {
  int hidden, layers, heads, intermediate;
  int n_conv;
  int conv_dim[HUBERT_MAX_CONV], conv_kernel[HUBERT_MAX_CONV], conv_stride[HUBERT_MAX_CONV];
  int conv_bias;
  int pos_kernel, pos_groups;
  int feat_proj_layer_norm;
  float layer_norm_eps;
  int do_normalize;
} hubert_config;

typedef struct hubert hubert;

/* Load the checkpoint directory `dir`. *out is the caller's: hubert_free it. */
clap_status hubert_load(const char *dir, hubert **out, clap_error *err);
void hubert_free(hubert *m);

const hubert_config *hubert_get_config(const hubert *m);
/* The weights file actually read (model.safetensors or pytorch_model.bin). */
const char *hubert_weights_path(const hubert *m);

/* Frames the model gives for n samples (0 if too short). */
long hubert_frames(const hubert *m, long n);

/* Output frames the conv feature encoder computes at a time, per worker
** (default HCONV_DEFAULT_CHUNK, 8; frames < 1 means 1). Its scratch is
** about 200 KB (f32) to 300 KB (bf16) per frame of chunk per worker for
** base, whatever the audio length; the result moves with it only within
** float32 rounding. A tuning and testing knob: set it before the model is
** shared between threads. */
void hubert_set_conv_chunk(hubert *m, int frames);

/* Last-layer states for pcm[0..n): *states is malloc'd [*frames, hidden],
** the caller frees it. */
clap_status hubert_forward(const hubert *m, const float *pcm, long n, float **states, int *frames,
                           clap_error *err);

/* The precision of the linear layers, conv layers >= 1 and the positional
** conv (dense.h, hubert_conv.h): NN_F32 after hubert_load. Rebuilds each of
** them on oneDNN (the convolutions and the bf16 linears with reordered
** copies of their weights; our own layouts of the convolutions' weights
** are then freed, and rebuilt from the checkpoint by a later setting that
** needs them). A convolution oneDNN has no kernel for at the precision
** runs on float32 sgemm. On failure the model is left with no linears and
** must not encode until a call succeeds. Set it before the model is shared
** between threads. At bf16 the attention products run in bfloat16 too;
** conv layer 0, softmax and the norms stay float32. At f32 the output's
** bits do not depend on the thread count (tests/unit/test_hubert.c,
** bench_hubert). */
clap_status hubert_set_precision(hubert *m, nn_precision p, clap_error *err);
nn_precision hubert_precision(const hubert *m);

/* Mean over time of the last layer: out holds hidden floats. */
clap_status hubert_encode(const hubert *m, const float *pcm, long n, float *out, clap_error *err);

extern const encoder_ops hubert_encoder_ops;

#endif
