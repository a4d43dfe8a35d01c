/*
** nn — the dense kernels the checkpoint encoders (HuBERT, DistilBERT) are
** built from, on OpenBLAS.
**
** Conventions (the contract):
**   - Every array is row-major float32. Weights stay in PyTorch's layout:
**     a linear's W is [out, in], a conv's W is [out, in/groups, kernel], so a
**     checkpoint's tensors are used as loaded, never copied or transposed.
**   - Sequence activations are [T, D] (one row per frame/token). Convolution
**     activations are channel-major [C, L], as PyTorch's Conv1d sees them.
**   - The kernels are pure functions of their arguments: no global state, no
**     allocation, no failure. Callers supply scratch (sizes from the
**     nn_*_scratch helpers), so each encode call owns its memory and several
**     threads may run the same weights at once.
**   - Dimensions are positive and consistent; that is the caller's duty (the
**     encoders check shapes when loading, so bad input never reaches here).
**     Products of dimensions are computed in size_t.
**   - Output buffers must not alias inputs unless a function says so.
**
** Threads (nn_threads.h): nn_set_threads is the one global knob. The
** kernels read it, and with 2 or more run their work as regions of
** single-threaded pieces: nn_linear's few-row path (gemm.h) and its sgemm
** path by column parts, nn_gelu / nn_softmax_rows on at least 2^20 floats by
** halves, nn_attention by (head, row block). OpenBLAS's own pool is never
** used by them. The pieces are cut by the shapes alone, never by the thread
** count, and each computes as on one thread, so the bits do not depend on
** the count (tests/unit/test_nn.c and the HuBERT fixtures check it).
*/
#ifndef CLAP_NN_H
#define CLAP_NN_H

#include "nn_threads.h"

#include <stddef.h>

/* y[rows,out] = x[rows,in] · Wᵀ + b, W [out,in] (PyTorch), b [out] or NULL. */
void nn_linear(const float *x, int rows, int in, const float *w, const float *b, int out,
               float *y);

/* Per row of x[rows,d]: (x-mean)/sqrt(var+eps)·gamma+beta, population
** variance. y may equal x (in place). gamma/beta may be NULL (1 and 0). */
void nn_layer_norm(const float *x, int rows, int d, const float *gamma, const float *beta,
                   float eps, float *y);

/* Exact GELU, in place: 0.5·x·(1+erf(x/√2)) (PyTorch's default "gelu"). */
void nn_gelu(float *x, size_t n);

/* Row-wise softmax, in place, on x[rows,cols]; max-subtracted. */
void nn_softmax_rows(float *x, int rows, int cols);

/* Multi-head scaled dot-product attention.
**   q [t, heads·hd], k and v [s, heads·hd] (heads interleaved per row, as a
**   linear projection writes them); out [t, heads·hd].
**   logits = scale · q_h k_hᵀ; key_mask (s bytes, 0 = masked, NULL = none)
**   sets a masked key's logit to -FLT_MAX, as PyTorch's masked_fill with
**   finfo.min does, so an all-masked row becomes uniform, not NaN.
** Work is cut into tasks of one head by NN_ATTN_ROWS query rows, run on up
** to `workers` threads (nn_parallel); each worker's logits take
** min(t, NN_ATTN_ROWS)·s floats of scratch, so memory grows with s, not t·s.
** Size scratch with nn_attention_scratch(t, s, workers) for the same
** `workers` (fewer may run, never more). */
#define NN_ATTN_ROWS 128
void nn_attention(const float *q, const float *k, const float *v, int t, int s, int heads, int hd,
                  float scale, const unsigned char *key_mask, int workers, float *scratch,
                  float *out);
size_t nn_attention_scratch(int t, int s, int workers);

/* Attention in bfloat16 on oneDNN (dense.h's nn_mm_run): per head h,
** softmax(scale · q_h k_hᵀ) v_h, with q, k, v bfloat16 [t, heads·hd] rows
** ld elements apart (head h at column h·hd, so one fused QKV array serves),
** out bfloat16 [t, heads·hd] dense. Logits and softmax in float32 (the
** products accumulate in float32; vmath's softmax), the probabilities
** rounded to bfloat16 for the second product. Tasks are heads, run on up
** to `workers` threads (nn_parallel), each head's products on one thread:
** one parallel region per call, not one per product. Each worker holds
** the logits of NN_ATTN_ROWS query rows at a time and its head's q and k
** as dense matrices. scratch: nn_attention_bf16_scratch(t, hd, workers)
** floats for the same workers. 1 on success, 0 when oneDNN could
** not run a product (out is then unspecified). No key mask. */
int nn_attention_bf16(const unsigned short *q, const unsigned short *k, const unsigned short *v,
                      int ld, int t, int heads, int hd, float scale, int workers, float *scratch,
                      unsigned short *out);
size_t nn_attention_bf16_scratch(int t, int hd, int workers);

/* Every row of y [rows, cols] = v [cols] (a bias before a beta = 1 sgemm). */
void nn_fill_rows(float *y, long rows, int cols, const float *v);

/* y[i] += x[i] for i < n (a residual connection). */
void nn_add(float *y, const float *x, size_t n);

/* out[c,r] = in[r,c] for in [rows,cols]. */
void nn_transpose(const float *in, int rows, int cols, float *out);

/* Conv weight w [o, i, k] (PyTorch) -> out [o, k, i], tap-major: a
** time-major conv ([frames, channels] activations) then reads each output
** frame's window as one contiguous row of k·i floats against one weight row. */
void nn_conv_weight_tap_major(const float *w, int o, int i, int k, float *out);

/* Weight norm over dim=2 (as HuBERT's positional conv), written tap-major:
** for v [o,i,k] and g [k], w [o,k,i] with w[:,j,:] = g[j]·v[:,:,j]/‖v[:,:,j]‖₂,
** the norm over all o·i values at tap j (a zero slice gives zeros, not NaN).
** Two sequential passes over v (per-tap strided passes are slow on HuBERT's
** 19 MB). scratch holds k doubles. */
void nn_weight_norm_dim2_tap_major(const float *v, const float *g, int o, int i, int k,
                                   double *scratch, float *w);

#endif
