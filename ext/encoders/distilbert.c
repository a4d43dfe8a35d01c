/*
** distilbert — see distilbert.h.
**
** Weights are pointers into the mapped safetensors file (F32) or into the
** st_file's widened copies (F16/BF16). In f32 nothing is transposed or
** copied: the linears multiply PyTorch's [out, in] matrices as they are
** (nn_linear, which hands a sentence's few rows to gemm.h's unpacked
** kernel). In bf16 each linear is a dense.h layer with its own converted
** copy, q, k and v joined into one. Every forward call allocates its own
** activations (one block), so the model is read-only once distilbert_load
** (or distilbert_set_precision) returns.
*/
#include "distilbert.h"

#include "gemm.h"
#include "hfckpt.h"
#include "nn.h"
#include "safetensors.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DB_LN_EPS 1e-12f
#define DB_PATH_MAX 4096

/* A layer's linears, in the order of db_layer's weight pairs. */
enum { L_Q, L_K, L_V, L_O, L_FF1, L_FF2, L_DENSES };

typedef struct db_layer {
  const float *q_w, *q_b, *k_w, *k_b, *v_w, *v_b, *o_w, *o_b;
  const float *sa_ln_w, *sa_ln_b, *ff1_w, *ff1_b, *ff2_w, *ff2_b, *out_ln_w, *out_ln_b;
  nn_dense *d[L_DENSES]; /* owned: the linears at the model's precision (bf16: no q, k, v) */
  nn_dense *qkv;         /* owned, bf16 only: q, k, v as one [3·dim, dim] linear */
  float *qkv_b;          /* owned, bf16 only: its bias, q's part scaled like q's rows */
} db_layer;

struct distilbert {
  distilbert_config cfg;
  tokenizer *tok;
  st_file *st;
  char *weights_path;
  const char *prefix;
  const float *word, *pos, *emb_ln_w, *emb_ln_b;
  db_layer *layer;
  int max_tokens;
  nn_precision prec;
};

/* ---- files ---- */

/* ---- config.json ---- */

static clap_status cfg_activation(const cJSON *root, int *relu, const char *path,
                                  clap_error *err) {
  const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, "activation");
  *relu = 0;
  if (!j || cJSON_IsNull(j)) return CLAP_OK;
  if (cJSON_IsString(j) && strcmp(j->valuestring, "gelu") == 0) return CLAP_OK;
  if (cJSON_IsString(j) && strcmp(j->valuestring, "relu") == 0) {
    *relu = 1;
    return CLAP_OK;
  }
  return clap_error_set(err, CLAP_ERR_UNSUPPORTED,
                        "%.300s: \"activation\" is %.60s; only \"gelu\" and \"relu\" are supported",
                        path, cJSON_IsString(j) ? j->valuestring : "not a string");
}

static clap_status parse_config(const char *path, const cJSON *root, distilbert_config *c,
                                clap_error *err) {
  clap_status rc = hfckpt_int(root, "vocab_size", 30522, 1, 1 << 24, &c->vocab_size, path, err);
  if (!rc) rc = hfckpt_int(root, "dim", 768, 1, 1 << 16, &c->dim, path, err);
  if (!rc) rc = hfckpt_int(root, "n_layers", 6, 1, 256, &c->layers, path, err);
  if (!rc) rc = hfckpt_int(root, "n_heads", 12, 1, 1 << 16, &c->heads, path, err);
  if (!rc) rc = hfckpt_int(root, "hidden_dim", 4 * c->dim, 1, 1 << 18, &c->hidden_dim, path, err);
  if (!rc)
    rc = hfckpt_int(root, "max_position_embeddings", 512, 2, 1 << 16, &c->max_positions, path, err);
  if (!rc) rc = cfg_activation(root, &c->relu, path, err);
  if (!rc && c->dim % c->heads != 0)
    rc = clap_error_set(err, CLAP_ERR_FORMAT, "%.300s: \"n_heads\" (%d) does not divide \"dim\" (%d)",
                        path, c->heads, c->dim);
  return rc;
}

/* ---- weights ---- */

/* Tensor prefix + name with the given shape (2-D: a, b; 1-D: b == 0). */
static clap_status get(distilbert *m, const char *name, int64_t a, int64_t b, const float **out,
                       clap_error *err) {
  char full[256];
  snprintf(full, sizeof full, "%s%s", m->prefix, name);
  int64_t shape[2] = {a, b};
  return st_get_f32(m->st, full, b ? 2 : 1, shape, out, err);
}

static clap_status load_layer(distilbert *m, int i, clap_error *err) {
  const distilbert_config *c = &m->cfg;
  db_layer *L = &m->layer[i];
  char p[96];
  char n[160];
  int D = c->dim, H = c->hidden_dim;
  struct {
    const char *suffix;
    int64_t a, b;
    const float **dst;
  } t[] = {
      {"attention.q_lin.weight", D, D, &L->q_w},     {"attention.q_lin.bias", D, 0, &L->q_b},
      {"attention.k_lin.weight", D, D, &L->k_w},     {"attention.k_lin.bias", D, 0, &L->k_b},
      {"attention.v_lin.weight", D, D, &L->v_w},     {"attention.v_lin.bias", D, 0, &L->v_b},
      {"attention.out_lin.weight", D, D, &L->o_w},   {"attention.out_lin.bias", D, 0, &L->o_b},
      {"sa_layer_norm.weight", D, 0, &L->sa_ln_w},   {"sa_layer_norm.bias", D, 0, &L->sa_ln_b},
      {"ffn.lin1.weight", H, D, &L->ff1_w},          {"ffn.lin1.bias", H, 0, &L->ff1_b},
      {"ffn.lin2.weight", D, H, &L->ff2_w},          {"ffn.lin2.bias", D, 0, &L->ff2_b},
      {"output_layer_norm.weight", D, 0, &L->out_ln_w}, {"output_layer_norm.bias", D, 0, &L->out_ln_b},
  };
  snprintf(p, sizeof p, "transformer.layer.%d.", i);
  for (size_t k = 0; k < sizeof t / sizeof t[0]; k++) {
    snprintf(n, sizeof n, "%s%s", p, t[k].suffix);
    clap_status rc = get(m, n, t[k].a, t[k].b, t[k].dst, err);
    if (rc) return rc;
  }
  return CLAP_OK;
}

static clap_status load_weights(distilbert *m, clap_error *err) {
  const distilbert_config *c = &m->cfg;
  m->prefix = st_find(m->st, "distilbert.embeddings.word_embeddings.weight") ? "distilbert." : "";
  clap_status rc = get(m, "embeddings.word_embeddings.weight", c->vocab_size, c->dim, &m->word, err);
  if (!rc)
    rc = get(m, "embeddings.position_embeddings.weight", c->max_positions, c->dim, &m->pos, err);
  if (!rc) rc = get(m, "embeddings.LayerNorm.weight", c->dim, 0, &m->emb_ln_w, err);
  if (!rc) rc = get(m, "embeddings.LayerNorm.bias", c->dim, 0, &m->emb_ln_b, err);
  if (rc) return rc;
  m->layer = calloc((size_t)c->layers, sizeof *m->layer);
  if (!m->layer) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory loading DistilBERT");
  for (int i = 0; i < c->layers && !rc; i++) rc = load_layer(m, i, err);
  return rc;
}

static clap_status load_tokenizer(distilbert *m, const char *dir, clap_error *err) {
  char sp[DB_PATH_MAX], cfg[DB_PATH_MAX];
  snprintf(sp, sizeof sp, "%s/spiece.model", dir);
  snprintf(cfg, sizeof cfg, "%s/tokenizer_config.json", dir);
  if (!hfckpt_file_exists(sp))
    return clap_error_set(err, CLAP_ERR_NOTFOUND,
                          "%.300s: missing (the SentencePiece model the text encoder needs)", sp);
  clap_status rc = tokenizer_create(sp, hfckpt_file_exists(cfg) ? cfg : NULL, &m->tok, err);
  if (rc) return rc;
  if (tokenizer_vocab_size(m->tok) > m->cfg.vocab_size)
    return clap_error_set(err, CLAP_ERR_FORMAT,
                          "%.300s has %d pieces but config.json's vocab_size is %d", sp,
                          tokenizer_vocab_size(m->tok), m->cfg.vocab_size);
  int tmax = tokenizer_max_length(m->tok);
  m->max_tokens = tmax < m->cfg.max_positions ? tmax : m->cfg.max_positions;
  return CLAP_OK;
}

clap_status distilbert_load(const char *dir, distilbert **out, clap_error *err) {
  if (!out) return clap_error_set(err, CLAP_ERR_ARG, "distilbert_load: out is NULL");
  *out = NULL;
  if (!dir || !*dir)
    return clap_error_set(err, CLAP_ERR_ARG,
                          "distilbert needs a checkpoint directory (config.json, "
                          "model.safetensors, spiece.model)");
  struct stat sb;
  if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
    return clap_error_set(err, CLAP_ERR_NOTFOUND, "%.300s: not a checkpoint directory", dir);
  distilbert *m = calloc(1, sizeof *m);
  if (!m) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory loading DistilBERT");
  char path[DB_PATH_MAX];
  snprintf(path, sizeof path, "%s/config.json", dir);
  cJSON *root;
  clap_status rc = hfckpt_load_json(path, &root, err);
  if (!rc) rc = parse_config(path, root, &m->cfg, err);
  cJSON_Delete(root);
  if (!rc) rc = load_tokenizer(m, dir, err);
  if (!rc) rc = hfckpt_open_weights(dir, &m->st, &m->weights_path, err);
  if (!rc) rc = load_weights(m, err);
  if (!rc) rc = distilbert_set_precision(m, NN_F32, err);
  if (rc) {
    distilbert_free(m);
    return rc;
  }
  *out = m;
  return CLAP_OK;
}

static void free_denses(distilbert *m) {
  for (int l = 0; m->layer && l < m->cfg.layers; l++) {
    db_layer *L = &m->layer[l];
    for (int i = 0; i < L_DENSES; i++) {
      nn_dense_free(L->d[i]);
      L->d[i] = NULL;
    }
    nn_dense_free(L->qkv);
    free(L->qkv_b);
    L->qkv = NULL;
    L->qkv_b = NULL;
  }
}

/* bf16: q, k and v as one linear [3D, D] (one product per block: x
** converted once, one primitive run instead of three), with attention's
** 1/√hd folded into q's weights and bias (exact for a power-of-two hd,
** as DistilBERT-base's 64; otherwise one float32 rounding before bf16's). */
static clap_status make_qkv(const distilbert *m, db_layer *L, clap_error *err) {
  size_t D = (size_t)m->cfg.dim;
  float scale = 1.0f / sqrtf((float)(m->cfg.dim / m->cfg.heads));
  float *w = malloc(3 * D * D * sizeof *w);
  L->qkv_b = malloc(3 * D * sizeof *L->qkv_b);
  if (!w || !L->qkv_b) {
    free(w);
    return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory joining DistilBERT's q, k, v");
  }
  const float *src_w[3] = {L->q_w, L->k_w, L->v_w}, *src_b[3] = {L->q_b, L->k_b, L->v_b};
  for (int p = 0; p < 3; p++) {
    float f = p == 0 ? scale : 1.0f;
    for (size_t i = 0; i < D * D; i++) w[p * D * D + i] = src_w[p][i] * f;
    for (size_t i = 0; i < D; i++) L->qkv_b[p * D + i] = src_b[p][i] * f;
  }
  clap_status rc = nn_dense_create(w, L->qkv_b, (int)D, 3 * (int)D, NN_BF16, &L->qkv, err);
  free(w); /* bf16 keeps its own converted copy (dense.h) */
  return rc;
}

clap_status distilbert_set_precision(distilbert *m, nn_precision p, clap_error *err) {
  if (!m) return clap_error_set(err, CLAP_ERR_ARG, "distilbert_set_precision: NULL model");
  free_denses(m);
  int D = m->cfg.dim, H = m->cfg.hidden_dim;
  clap_status rc = CLAP_OK;
  for (int l = 0; l < m->cfg.layers && !rc; l++) {
    db_layer *L = &m->layer[l];
    const float *w[L_DENSES] = {L->q_w, L->k_w, L->v_w, L->o_w, L->ff1_w, L->ff2_w};
    const float *b[L_DENSES] = {L->q_b, L->k_b, L->v_b, L->o_b, L->ff1_b, L->ff2_b};
    int in[L_DENSES] = {D, D, D, D, D, H}, out[L_DENSES] = {D, D, D, D, H, D};
    if (p == NN_BF16) rc = make_qkv(m, L, err);
    for (int i = p == NN_BF16 ? L_O : 0; i < L_DENSES && !rc; i++)
      rc = nn_dense_create(w[i], b[i], in[i], out[i], p, &L->d[i], err);
    /* GELU on lin1's output: in bf16 oneDNN's post-op on the accumulator
    ** (no second pass over T·hidden floats); in f32 nn_gelu after the
    ** product, the same bits as calling it here. */
    if (!rc && !m->cfg.relu) nn_dense_fuse_gelu(L->d[L_FF1]);
  }
  if (rc) {
    free_denses(m);
    return rc;
  }
  nn_weights_settle(); /* the chunks' last huge pages hold only what is used */
  m->prec = p;
  return CLAP_OK;
}

nn_precision distilbert_precision(const distilbert *m) { return m->prec; }

void distilbert_free(distilbert *m) {
  if (!m) return;
  free_denses(m);
  tokenizer_free(m->tok);
  st_close(m->st);
  free(m->layer);
  free(m->weights_path);
  free(m);
}

const distilbert_config *distilbert_get_config(const distilbert *m) { return m ? &m->cfg : NULL; }
const char *distilbert_weights_path(const distilbert *m) { return m ? m->weights_path : NULL; }
int distilbert_max_tokens(const distilbert *m) { return m ? m->max_tokens : 0; }

/* ---- forward ---- */

static void relu(float *x, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!(x[i] > 0)) x[i] = 0;
}

/* Self-attention of one short sentence: per head, logits = q_h·k_hᵀ and
** ctx_h = softmax(logits)·v_h, each a strided small-row gemm (gemm.h) —
** 32x32x64 products, where sgemm's call, packing and thread wake-up cost
** more than the arithmetic. q, k, v rows are ld floats apart (D apart as
** separate projections, 3·D as bf16's joint one). Unless `scaled` (bf16's
** joint projection folds it into q's weights), q is scaled by 1/√hd in
** place first, as PyTorch's DistilBERT scales q before the product. vt
** holds vᵀ [D, T], so v_h's columns are rows of W for the second product. */
static void attention(float *q, const float *k, const float *v, int ld, int scaled, int T,
                      int heads, int hd, float *att, float *vt, float *ctx) {
  int D = heads * hd;
  float scale = 1.0f / sqrtf((float)hd);
  for (int t = 0; t < T; t++)
    for (int j = 0; j < D; j++) {
      if (!scaled) q[(size_t)t * ld + j] *= scale;
      vt[(size_t)j * T + t] = v[(size_t)t * ld + j];
    }
  for (int h = 0; h < heads; h++) {
    gemm_linear_ld(q + (size_t)h * hd, ld, T, hd, k + (size_t)h * hd, ld, NULL, T, att, T, 1,
                   GEMM_AUTO);
    nn_softmax_rows(att, T, T);
    gemm_linear_ld(att, T, T, T, vt + (size_t)h * hd * T, T, NULL, hd, ctx + (size_t)h * hd, D,
                   1, GEMM_AUTO);
  }
}

/* bf16's attention: all heads' q·kᵀ in one batched float32 product on
** oneDNN, the softmax over heads·T rows at once, all heads' p·v in another
** product (nn_matmul_batched reads q, k, v in place through strides, so no
** transpose); q is scaled already. Two primitive runs per block instead of
** 2·heads small-row gemm calls. 0 when oneDNN could not run a product. */
static int attention_batched(const float *q, const float *k, const float *v, int ld, int T,
                             int heads, int hd, float *att, float *ctx) {
  long qs[3] = {hd, ld, 1}, kts[3] = {hd, 1, ld}, as[3] = {(long)T * T, T, 1};
  long cs[3] = {hd, (long)heads * hd, 1};
  if (!nn_matmul_batched(heads, T, hd, T, q, qs, k, kts, att, as)) return 0;
  nn_softmax_rows(att, heads * T, T);
  return nn_matmul_batched(heads, T, T, hd, att, as, v, qs, ctx, cs);
}

/* Scratch floats one forward pass over n tokens needs (block's layout). */
static size_t scratch_floats(const distilbert_config *c, int n) {
  return 6 * (size_t)n * c->dim + (size_t)n * c->hidden_dim + (size_t)c->heads * n * n;
}

/* q, k, v = x·Wᵀ + b into s's first 3·T·D floats; *ld is their row
** stride. bf16: one joint product, rows [q k v] of 3·D. float32: [T, D]
** each, one after another; with few rows one gemm_linear_multi call (x is
** prepared once and the threads share the three projections' columns, each
** alone too small to be worth a thread), the same bits as nn_dense_run,
** which takes nn_linear's path there. */
static int qkv(const distilbert *m, const float *x, int T, int D, const db_layer *L, float *s,
               int *ld) {
  size_t td = (size_t)T * D;
  float *q = s, *k = s + td, *v = k + td;
  *ld = D;
  if (m->prec == NN_BF16) {
    *ld = 3 * D;
    return nn_dense_run(L->qkv, x, T, s);
  }
  if (T > gemm_small_rows())
    return nn_dense_run(L->d[L_Q], x, T, q) && nn_dense_run(L->d[L_K], x, T, k) &&
           nn_dense_run(L->d[L_V], x, T, v);
  const gemm_out o[3] = {{L->q_w, L->q_b, D, q}, {L->k_w, L->k_b, D, k}, {L->v_w, L->v_b, D, v}};
  gemm_linear_multi(x, T, D, o, 3, nn_get_threads(), GEMM_AUTO);
  return 1;
}

/* One post-LN block on x [T, D], in place. s: scratch_floats(T) floats.
** 0 when a bf16 linear could not run (dense.h). */
static int block(const distilbert *m, const db_layer *L, float *x, int T, float *s) {
  const distilbert_config *c = &m->cfg;
  int D = c->dim, H = c->hidden_dim, hd = D / c->heads;
  size_t td = (size_t)T * D;
  float *ctx = s + 3 * td, *sa = ctx + td, *vt = sa + td;
  float *ff = vt + td, *att = ff + (size_t)T * H; /* att: heads·T·T floats */
  int ld;
  if (!qkv(m, x, T, D, L, s, &ld)) return 0;
  float *q = s, *k = s + (ld == D ? td : (size_t)D), *v = k + (ld == D ? td : (size_t)D);
  if (m->prec != NN_BF16 || !attention_batched(q, k, v, ld, T, c->heads, hd, att, ctx))
    attention(q, k, v, ld, m->prec == NN_BF16, T, c->heads, hd, att, vt, ctx);
  if (!nn_dense_run(L->d[L_O], ctx, T, sa)) return 0;
  nn_add(sa, x, td);
  nn_layer_norm(sa, T, D, L->sa_ln_w, L->sa_ln_b, DB_LN_EPS, sa);
  if (!nn_dense_run(L->d[L_FF1], sa, T, ff)) return 0; /* GELU fused (set_precision) */
  if (c->relu) relu(ff, (size_t)T * H);
  if (!nn_dense_run(L->d[L_FF2], ff, T, x)) return 0;
  nn_add(x, sa, td);
  nn_layer_norm(x, T, D, L->out_ln_w, L->out_ln_b, DB_LN_EPS, x);
  return 1;
}

static clap_status check_ids(const distilbert_config *c, const int *ids, int n, clap_error *err) {
  if (n < 1 || n > c->max_positions)
    return clap_error_set(err, CLAP_ERR_RANGE, "%d tokens; the model takes 1..%d", n,
                          c->max_positions);
  for (int i = 0; i < n; i++)
    if (ids[i] < 0 || ids[i] >= c->vocab_size)
      return clap_error_set(err, CLAP_ERR_RANGE, "token %d: id %d outside the vocabulary (0..%d)",
                            i, ids[i], c->vocab_size - 1);
  return CLAP_OK;
}

/* The forward pass proper on checked ids, with the caller's scratch; 0 when
** a bf16 linear could not run. */
static int forward(const distilbert *m, const int *ids, int n, float *states, float *s) {
  const distilbert_config *c = &m->cfg;
  size_t D = (size_t)c->dim;
  for (int i = 0; i < n; i++) {
    float *row = states + (size_t)i * D;
    const float *w = m->word + (size_t)ids[i] * D, *p = m->pos + (size_t)i * D;
    for (size_t j = 0; j < D; j++) row[j] = w[j] + p[j];
  }
  nn_layer_norm(states, n, c->dim, m->emb_ln_w, m->emb_ln_b, DB_LN_EPS, states);
  for (int l = 0; l < c->layers; l++)
    if (!block(m, &m->layer[l], states, n, s)) return 0;
  return 1;
}

static clap_status oom(const distilbert *m, int n, clap_error *err) {
  return clap_error_set(err, CLAP_ERR_NOMEM,
                        "distilbert: out of memory for the %s layers' products on %d tokens",
                        nn_precision_name(m->prec), n);
}

clap_status distilbert_forward_ids(const distilbert *m, const int *ids, int n, float *states,
                                   clap_error *err) {
  if (!m || !ids || !states) return clap_error_set(err, CLAP_ERR_ARG, "distilbert_forward_ids: NULL argument");
  clap_status rc = check_ids(&m->cfg, ids, n, err);
  if (rc) return rc;
  float *s = malloc(scratch_floats(&m->cfg, n) * sizeof *s);
  if (!s) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory running DistilBERT on %d tokens", n);
  int ok = forward(m, ids, n, states, s);
  free(s);
  return ok ? CLAP_OK : oom(m, n, err);
}

clap_status distilbert_forward(const distilbert *m, const char *text, int nbytes, float **states,
                               int *ntokens, clap_error *err) {
  if (!states || !ntokens) return clap_error_set(err, CLAP_ERR_ARG, "distilbert_forward: NULL output");
  *states = NULL;
  *ntokens = 0;
  if (!m) return clap_error_set(err, CLAP_ERR_ARG, "distilbert_forward: model is NULL");
  int *ids = malloc((size_t)m->max_tokens * sizeof *ids);
  if (!ids) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory tokenizing text");
  int n = 0;
  clap_status rc = tokenizer_encode(m->tok, text, nbytes, ids, m->max_tokens, &n, err);
  if (!rc) rc = check_ids(&m->cfg, ids, n, err);
  /* One block per call: the states the caller gets, then the scratch. */
  size_t nd = (size_t)n * (size_t)m->cfg.dim;
  float *h = NULL;
  if (!rc) {
    h = malloc((nd + scratch_floats(&m->cfg, n)) * sizeof *h);
    if (h && !forward(m, ids, n, h, h + nd))
      rc = oom(m, n, err);
    else if (!h)
      rc = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory running DistilBERT on %d tokens", n);
  }
  free(ids);
  if (rc) {
    free(h);
    return rc;
  }
  *states = h;
  *ntokens = n;
  return CLAP_OK;
}

clap_status distilbert_encode(const distilbert *m, const char *text, int nbytes, float *out,
                              clap_error *err) {
  if (!out) return clap_error_set(err, CLAP_ERR_ARG, "distilbert_encode: out is NULL");
  float *h;
  int n;
  clap_status rc = distilbert_forward(m, text, nbytes, &h, &n, err);
  if (rc) return rc;
  memcpy(out, h, (size_t)m->cfg.dim * sizeof *out); /* [CLS] = hidden[0] */
  free(h);
  return CLAP_OK;
}

/* ---- encoder registry glue ---- */

static clap_status enc_create(const char *path, void **state, int *dim, clap_error *err) {
  distilbert *m;
  clap_status rc = distilbert_load(path, &m, err);
  if (rc) return rc;
  *state = m;
  *dim = m->cfg.dim;
  return CLAP_OK;
}

static clap_status enc_text(void *state, const char *text, int nbytes, float *out,
                            clap_error *err) {
  return distilbert_encode(state, text, nbytes, out, err);
}

static void enc_destroy(void *state) { distilbert_free(state); }

static clap_status enc_precision(void *state, nn_precision p, clap_error *err) {
  return distilbert_set_precision(state, p, err);
}

const encoder_ops distilbert_encoder_ops = {
    .kind = "distilbert",
    .modality = ENCODER_TEXT,
    .create = enc_create,
    .encode_audio = NULL,
    .encode_text = enc_text,
    .destroy = enc_destroy,
    .set_precision = enc_precision,
};
