/*
** distilbert — Hugging Face DistilBertModel forward pass in C, from a local
** checkpoint directory (e.g. laboro-ai/distilbert-base-japanese); registered
** as encoder kind "distilbert". Text in, the last layer's [CLS] vector out.
**
** The directory holds:
**   config.json            DistilBertConfig: vocab_size, dim, n_layers,
**                          n_heads, hidden_dim, max_position_embeddings,
**                          activation ("gelu" = exact erf, or "relu");
**                          absent keys take DistilBertConfig's defaults
**                          (30522, 768, 6, 12, 3072, 512, "gelu");
**   model.safetensors      F32/F16/BF16 weights, HF key names bare
**                          (DistilBertModel) or with the "distilbert." prefix
**                          (*ForMaskedLM etc.; other heads are ignored);
**                          or instead pytorch_model.bin, converted in memory
**                          (torchbin.h; `clap convert-checkpoint` does it
**                          once, ahead of time);
**   spiece.model           the SentencePiece model (tokenizer.h);
**   tokenizer_config.json  optional: AlbertTokenizer settings (tokenizer.h).
** Stored position embeddings are used even when sinusoidal_pos_embds is
** true (transformers writes the sinusoids into that tensor).
**
** Model: x = LN(word[id] + pos[i]); per layer, post-LN:
** sa = LN(out_lin(attention(x)) + x), x = LN(lin2(act(lin1(sa))) + sa);
** attention softmax((q/√dh)·kᵀ)·v per head, no mask (one unpadded
** sentence); every LN eps 1e-12. Output: x[0] ([CLS]), dim floats.
** Text is cut to min(model_max_length, max_position_embeddings) tokens,
** [CLS] and [SEP] included.
**
** Errors (never a crash): no directory or no spiece.model / config.json ->
** CLAP_ERR_NOTFOUND naming the file; no weights -> CLAP_ERR_NOTFOUND naming
** the directory; config.json not an object or a field out of range (n_heads
** not dividing dim, ...) -> CLAP_ERR_FORMAT naming the field; an activation
** other than gelu/relu -> CLAP_ERR_UNSUPPORTED; a missing tensor ->
** CLAP_ERR_NOTFOUND "tensor X not found in FILE"; a wrong shape ->
** CLAP_ERR_FORMAT "tensor X: shape [..], expected [..]"; a tokenizer with more
** pieces than vocab_size -> CLAP_ERR_FORMAT; a config file over 1 MiB ->
** CLAP_ERR_RANGE (hfckpt.h). Text errors are the tokenizer's.
**
** Memory per call: one block of about (7·dim + hidden_dim + T)·T floats for
** T tokens (T = 512: ~18 MB for base; T = 32: ~1 MB), freed before
** returning except the states distilbert_forward hands back.
** Thread safety: a loaded model is read-only; forward/encode may run
** concurrently on one model. The OpenBLAS thread count is the caller's (nn.h).
*/
#ifndef CLAP_DISTILBERT_H
#define CLAP_DISTILBERT_H

#include "clap_error.h"
#include "dense.h"
#include "encoder.h"
#include "tokenizer.h"

typedef struct distilbert_config {
  int vocab_size, dim, layers, heads, hidden_dim, max_positions;
  int relu; /* activation: 0 = exact GELU, 1 = ReLU */
} distilbert_config;

typedef struct distilbert distilbert;

/* Load the checkpoint directory `dir`. *out is the caller's: distilbert_free it. */
clap_status distilbert_load(const char *dir, distilbert **out, clap_error *err);
void distilbert_free(distilbert *m);

/* The precision of the linear layers (dense.h): NN_F32 after load. Rebuilds
** every linear; on failure the model has no linears and must not encode
** until a call succeeds. Set it before the model is shared between threads.
** Attention's small products stay float32 (in bf16 two batched oneDNN
** products per layer, all heads at once). */
clap_status distilbert_set_precision(distilbert *m, nn_precision p, clap_error *err);
nn_precision distilbert_precision(const distilbert *m);

const distilbert_config *distilbert_get_config(const distilbert *m);
/* The weights file actually read (model.safetensors or pytorch_model.bin). */
const char *distilbert_weights_path(const distilbert *m);
/* Most tokens one sentence becomes ([CLS] and [SEP] included). */
int distilbert_max_tokens(const distilbert *m);

/* Last-layer states for ids[0..n) (1 <= n <= max_positions, each id in
** [0, vocab_size), else CLAP_ERR_RANGE): states holds n·dim floats. */
clap_status distilbert_forward_ids(const distilbert *m, const int *ids, int n, float *states,
                                   clap_error *err);

/* Tokenize text (nbytes < 0: NUL-terminated) and run the model: *states is
** malloc'd [*ntokens, dim], the caller frees it. */
clap_status distilbert_forward(const distilbert *m, const char *text, int nbytes, float **states,
                               int *ntokens, clap_error *err);

/* The [CLS] vector of the last layer: out holds dim floats. */
clap_status distilbert_encode(const distilbert *m, const char *text, int nbytes, float *out,
                              clap_error *err);

extern const encoder_ops distilbert_encoder_ops;

#endif
