/*
** oracle_nn — plain reference implementations the unit tests compare the
** engine's kernels against (test_nn, test_hubert_conv). The engine itself
** uses the time-major, fused forms in ext/nn and ext/encoders.
*/
#ifndef CLAP_ORACLE_NN_H
#define CLAP_ORACLE_NN_H

#include <stddef.h>

/* 1-D convolution as PyTorch's Conv1d (zero padding `pad` on both sides).
**   x [cin, len] channel-major; w [cout, cin/groups, k]; b [cout] or NULL;
**   y [cout, lout], lout = oracle_conv1d_out_len(len, k, stride, pad).
** im2col + sgemm in blocks of output frames, so scratch is bounded:
** oracle_conv1d_scratch(cin/groups, k, lout) floats. */
void oracle_conv1d(const float *x, int cin, int len, const float *w, const float *b, int cout, int k,
                   int stride, int pad, int groups, float *scratch, float *y);
/* Output frames, or 0 if the (padded) input is shorter than the kernel. */
int oracle_conv1d_out_len(int len, int k, int stride, int pad);
size_t oracle_conv1d_scratch(int cin_per_group, int k, int lout);

/* Group norm, in place, on channel-major x[c,len]: channels split into
** `groups` equal groups (groups divides c), each normalised over its channels
** and all of time, then per-channel gamma/beta (NULL = 1/0). groups == c is
** HuBERT/wav2vec2's layer-0 norm: each channel over time. */
void oracle_group_norm(float *x, int c, int len, int groups, const float *gamma, const float *beta, float eps);

/* Weight norm over dim=2 (as HuBERT's positional conv): for v [o,i,k] and
** g [k], w[:,:,j] = g[j]·v[:,:,j]/‖v[:,:,j]‖₂, the norm over all o·i values
** at tap j. A zero slice gives zeros, not NaN. */
void oracle_weight_norm_dim2(const float *v, const float *g, int o, int i, int k, float *w);

#endif
