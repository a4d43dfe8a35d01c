/*
** hubert_conv — HuBERT's conv feature encoder (feat_extract_norm "group":
** conv, then group norm in layer 0 only, then GELU, per layer), as hubert.c
** runs it. Internal to the hubert module; the contract users see is hubert.h.
**
** Layout: activations are time-major [frames, channels], so the last layer's
** output is already the [T, C] the feature projection reads. Output frame t
** of a conv (kernel k, stride s, C_in channels) reads the k·C_in contiguous
** floats at x + s·t·C_in. In float32 each layer >= 1 is one oneDNN
** convolution on those frames (nn_conv, bias and GELU fused; a 10 s
** HuBERT-base forward at one thread took 1.16 s against 1.23-1.26 s with
** the sgemm path below, Xeon with AMX, 2026-12-07); in bf16 one oneDNN product over the windows
** written as bfloat16 rows. Where oneDNN has no float32 convolution, BLAS,
** which refuses overlapping rows (lda < K), runs each conv as ceil(k/s)
** sgemms over blocks of at most s taps (lda = s·C_in >= K), accumulated
** with beta = 1: no im2col copy. The weights are permuted once at load
** from PyTorch's [C_out][C_in][k] to [C_out][k][C_in].
**
** Streaming: output frames are produced `chunk` at a time; each chunk
** recomputes the few frames its receptive field shares with the previous one
** (400 samples of field at a hop of 320 for base), so scratch depends on the
** chunk, not on the audio length. Layer 0's group norm (per channel, over all
** time) needs statistics of the whole input before the first chunk: they are
** exact functions of the input windows' mean vector mu and covariance S
** (mean_c = w_c·mu + b_c, var_c = w_cᵀ S w_c), accumulated in double,
** centered, in one pass over the samples; the conv bias cancels out.
*/
#ifndef CLAP_HUBERT_CONV_H
#define CLAP_HUBERT_CONV_H

#include <stddef.h>

#include "clap_error.h"
#include "dense.h"
#include "hubert.h"

/* 8 frames: at 16 the per-worker buffers (2.4 MB more per worker at bf16)
** set HuBERT-base's peak RSS at 2 threads, and 8 measured as fast (10 s at
** one thread: f32 1.01 s against 1.05 s, bf16 0.32 s both; 2026-12-07). */
#define HCONV_DEFAULT_CHUNK 8

typedef struct hconv {
  int n;     /* layers */
  int chunk; /* output frames per chunk, >= 1 */
  int dim[HUBERT_MAX_CONV], kernel[HUBERT_MAX_CONV], stride[HUBERT_MAX_CONV];
  float *w[HUBERT_MAX_CONV];       /* owned: [dim][kernel][C_in] */
  const float *b[HUBERT_MAX_CONV]; /* conv bias, or NULL */
  const float *gn_w, *gn_b;        /* layer-0 group norm, [dim[0]] */
  nn_dense *d[HUBERT_MAX_CONV];    /* owned: layers >= 1 in bf16, or NULL */
  nn_conv *cv[HUBERT_MAX_CONV];    /* owned: layers >= 1 in float32 on oneDNN, or NULL */
} hconv;

/* Permute layer i's PyTorch weight [dim[i]][cin][kernel[i]] into c->w[i]. */
clap_status hconv_set_weight(hconv *c, int i, int cin, const float *w_pt, clap_error *err);
void hconv_free(hconv *c); /* the owned weights and primitives; c itself is the caller's */
void hconv_free_prims(hconv *c); /* only the oneDNN layers (d, cv): sgemm runs until set again */

/* NN_BF16: layers >= 1 multiply bfloat16 windows by bfloat16 weights
** (float32 sums) on oneDNN; NN_F32 (the default): oneDNN's float32
** convolution (sgemm where it has none). Layer 0 (one input channel, its
** group norm folded per call) stays float32. Both keep copies of the
** weights: c->w[i] of a layer with d[i] or cv[i] may be freed afterwards.
** Call after every hconv_set_weight; the weights must outlive c. */
clap_status hconv_set_precision(hconv *c, nn_precision p, clap_error *err);

/* Output frames for n samples (0 if too short). */
long hconv_frames(const hconv *c, long n);

/* Floats of scratch hconv_forward needs for up to `workers` threads
** (independent of the audio length; a chunk's buffers per worker). */
size_t hconv_scratch(const hconv *c, int workers);

/* x [n] samples, each used as (float)((x-mean)·inv) (mean 0, inv 1 keep them
** as they are) -> feat [hconv_frames(n), dim[n-1]]. n >= one frame's worth.
** Chunks run as tasks of one region (nn_threads.h) on up to `workers`
** threads, each chunk's products single-threaded, so the result does not
** depend on the thread count. scratch: hconv_scratch(c, workers) floats.
** 1 on success; 0 when a oneDNN product could not run (out of memory). */
int hconv_forward(const hconv *c, const float *x, long n, double mean, double inv, int workers,
                   float *scratch, float *feat);

#endif
