/*
** hubert — see hubert.h.
**
** Weights are pointers into the mapped safetensors file (F32) or into the
** st_file's widened copies (F16/BF16), except the ones this module lays out
** for its kernels at load: the conv stack's (tap-major, hubert_conv.h) and
** the positional conv's (weight norm folded, tap-major per group). Their
** sources are st_release'd afterwards, so the copies do not double RSS.
**
** Every forward works in ONE workspace sized from T up front (phases reuse
** it: conv stack, positional conv, encoder layers). The model keeps one
** cached workspace (up to HUBERT_WS_CACHE_BYTES) so repeated calls do not
** fault fresh pages in; a caller that finds it in use allocates its own.
*/
#include "hubert.h"

#include "hfckpt.h"
#include "hubert_conv.h"
#include "nn.h"
#include "safetensors.h"

#include <cblas.h>
#include <cjson/cJSON.h>
#include <math.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Output rows per positional-conv task: its window copy is rows·k·C/groups
** floats (3 MB for base), one per worker. */
#define POS_ROWS 128
#define HUBERT_WS_CACHE_BYTES (64u << 20)

/* A layer's linears, in the order of hubert_layer's weight pairs. */
enum { L_Q, L_K, L_V, L_O, L_FF1, L_FF2, L_DENSES };

typedef struct hubert_layer {
  const float *q_w, *q_b, *k_w, *k_b, *v_w, *v_b, *o_w, *o_b;
  const float *ln_w, *ln_b, *ff1_w, *ff1_b, *ff2_w, *ff2_b, *fln_w, *fln_b;
  nn_dense *d[L_DENSES]; /* owned: the linears at the model's precision; at bf16
                          ** q, k and v are NULL and qkv does all three */
  nn_dense *qkv;         /* owned, bf16 only: [q; k; v] as one [3H, H] linear */
  float *qkv_b;          /* owned, bf16 only: its bias */
} hubert_layer;

/* A 1-D tensor the forward reads on every call, copied out of the
** checkpoint so that its pages (and the neighbours the kernel maps around
** each fault, ~10 MB for base) need not stay resident (st_release_all). */
typedef struct vec_copy {
  char *name;
  float *v;
} vec_copy;

struct hubert {
  hubert_config cfg;
  st_file *st;
  char *weights_path;
  char prefix[16];
  hconv conv;
  const float *fp_ln_w, *fp_ln_b, *fp_w, *fp_b;
  nn_dense *fp; /* owned: the feature projection */
  nn_precision prec;
  int released; /* a bf16 setting handed the f32 linear weights back (st_release) */
  vec_copy *vecs; /* owned: copies of the 1-D tensors (biases, norms), by name */
  int nvecs, cap_vecs;
  float *pos_w; /* owned: weight-normed, per group [C/groups][k][C/groups] */
  nn_conv *pos_conv; /* owned: the positional conv on oneDNN at the precision, or
                     ** NULL (oneDNN has none: sgemm by groups, pos_embed) */
  const float *pos_b;
  const float *enc_ln_w, *enc_ln_b;
  hubert_layer *layer;
  pthread_mutex_t ws_mu; /* guards the cached workspace below */
  int ws_busy;
  float *ws;
  size_t ws_cap; /* floats */
};

/* ---- config ---- */

/* A string field that must equal `want` when present. */
static clap_status cfg_require(const cJSON *root, const char *key, const char *want,
                               const char *path, clap_error *err) {
  const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, key);
  if (!j) return CLAP_OK;
  if (!cJSON_IsString(j) || strcmp(j->valuestring, want) != 0)
    return clap_error_set(err, CLAP_ERR_UNSUPPORTED,
                          "%s: \"%s\" is %.60s; only \"%s\" is supported", path, key,
                          cJSON_IsString(j) ? j->valuestring : "not a string", want);
  return CLAP_OK;
}

static clap_status cfg_int_array(const cJSON *root, const char *key, const int *def, int *n,
                                 int *out, int lo, int hi, const char *path, clap_error *err) {
  const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, key);
  if (!j) {
    memcpy(out, def, sizeof(int) * 7);
    if (*n < 0) *n = 7;
    return *n == 7 ? CLAP_OK
                   : clap_error_set(err, CLAP_ERR_FORMAT, "%s: \"%s\" missing (other conv lists have %d entries)",
                                    path, key, *n);
  }
  int m = cJSON_IsArray(j) ? cJSON_GetArraySize(j) : -1;
  if (m < 1 || m > HUBERT_MAX_CONV)
    return clap_error_set(err, CLAP_ERR_FORMAT, "%s: \"%s\" must be an array of 1..%d integers",
                          path, key, HUBERT_MAX_CONV);
  if (*n >= 0 && m != *n)
    return clap_error_set(err, CLAP_ERR_FORMAT,
                          "%s: \"%s\" has %d entries; conv_dim, conv_kernel and conv_stride must "
                          "have the same length",
                          path, key, m);
  *n = m;
  int i = 0;
  for (const cJSON *e = j->child; e; e = e->next, i++) {
    double d = cJSON_IsNumber(e) ? e->valuedouble : NAN;
    if (!(d >= lo && d <= hi) || d != floor(d))
      return clap_error_set(err, CLAP_ERR_FORMAT, "%s: \"%s\"[%d] must be an integer in %d..%d",
                            path, key, i, lo, hi);
    out[i] = (int)d;
  }
  return CLAP_OK;
}

static clap_status parse_config(const char *path, const cJSON *root, hubert_config *c,
                                clap_error *err) {
  static const int dims[7] = {512, 512, 512, 512, 512, 512, 512};
  static const int kern[7] = {10, 3, 3, 3, 3, 2, 2};
  static const int strd[7] = {5, 2, 2, 2, 2, 2, 2};
  int eps_ok = 1;
  const cJSON *eps = cJSON_GetObjectItemCaseSensitive(root, "layer_norm_eps");
  c->layer_norm_eps = 1e-5f;
  if (eps) {
    eps_ok = cJSON_IsNumber(eps) && eps->valuedouble > 0 && eps->valuedouble < 1;
    if (eps_ok) c->layer_norm_eps = (float)eps->valuedouble;
  }
  c->n_conv = -1;
  clap_status rc = CLAP_OK;
  if (!eps_ok) rc = clap_error_set(err, CLAP_ERR_FORMAT, "%s: \"layer_norm_eps\" must be in (0,1)", path);
  if (!rc) rc = hfckpt_int(root, "hidden_size", 768, 1, 16384, &c->hidden, path, err);
  if (!rc) rc = hfckpt_int(root, "num_hidden_layers", 12, 1, 256, &c->layers, path, err);
  if (!rc) rc = hfckpt_int(root, "num_attention_heads", 12, 1, 1024, &c->heads, path, err);
  if (!rc) rc = hfckpt_int(root, "intermediate_size", 3072, 1, 65536, &c->intermediate, path, err);
  if (!rc) rc = cfg_int_array(root, "conv_dim", dims, &c->n_conv, c->conv_dim, 1, 16384, path, err);
  if (!rc) rc = cfg_int_array(root, "conv_kernel", kern, &c->n_conv, c->conv_kernel, 1, 4096, path, err);
  if (!rc) rc = cfg_int_array(root, "conv_stride", strd, &c->n_conv, c->conv_stride, 1, 4096, path, err);
  if (!rc) rc = hfckpt_bool(root, "conv_bias", 0, &c->conv_bias, path, err);
  if (!rc) rc = hfckpt_int(root, "num_conv_pos_embeddings", 128, 1, 4096, &c->pos_kernel, path, err);
  if (!rc) rc = hfckpt_int(root, "num_conv_pos_embedding_groups", 16, 1, 16384, &c->pos_groups, path, err);
  if (!rc) rc = hfckpt_bool(root, "feat_proj_layer_norm", 1, &c->feat_proj_layer_norm, path, err);
  int stable = 0;
  if (!rc) rc = hfckpt_bool(root, "do_stable_layer_norm", 0, &stable, path, err);
  if (!rc && stable)
    rc = clap_error_set(err, CLAP_ERR_UNSUPPORTED,
                        "%s: \"do_stable_layer_norm\" true (pre-LN, HuBERT-large style) is not "
                        "supported; only the base post-LN layout",
                        path);
  if (!rc) rc = cfg_require(root, "feat_extract_norm", "group", path, err);
  if (!rc) rc = cfg_require(root, "feat_extract_activation", "gelu", path, err);
  if (!rc) rc = cfg_require(root, "hidden_act", "gelu", path, err);
  if (rc) return rc;
  if (c->hidden % c->heads)
    return clap_error_set(err, CLAP_ERR_FORMAT,
                          "%s: hidden_size %d is not a multiple of num_attention_heads %d", path,
                          c->hidden, c->heads);
  if (c->hidden % c->pos_groups)
    return clap_error_set(err, CLAP_ERR_FORMAT,
                          "%s: hidden_size %d is not a multiple of num_conv_pos_embedding_groups %d",
                          path, c->hidden, c->pos_groups);
  return CLAP_OK;
}

static clap_status parse_preprocessor(const char *dir, hubert_config *c, clap_error *err) {
  char path[4096];
  snprintf(path, sizeof path, "%s/preprocessor_config.json", dir);
  c->do_normalize = 0;
  clap_error e2;
  cJSON *root;
  clap_status rc = hfckpt_load_json(path, &root, &e2);
  if (rc == CLAP_ERR_NOTFOUND) return CLAP_OK; /* optional: the defaults stand */
  if (rc) {
    if (err) *err = e2;
    return rc;
  }
  rc = hfckpt_bool(root, "do_normalize", 0, &c->do_normalize, path, err);
  int sr = 16000;
  if (!rc) rc = hfckpt_int(root, "sampling_rate", 16000, 1, 1000000, &sr, path, err);
  if (!rc && sr != 16000)
    rc = clap_error_set(err, CLAP_ERR_UNSUPPORTED, "%s: sampling_rate %d; only 16000 is supported",
                        path, sr);
  cJSON_Delete(root);
  return rc;
}

/* ---- weights ---- */

static clap_status get(hubert *m, const char *name, int nd, int64_t a, int64_t b, int64_t c,
                       const float **out, clap_error *err) {
  char full[256];
  snprintf(full, sizeof full, "%s%s", m->prefix, name);
  const int64_t shape[3] = {a, b, c};
  return st_get_f32(m->st, full, nd, shape, out, err);
}

/* get for a 1-D tensor of n floats, as an owned copy (made once per name;
** a later call returns the same copy). */
static clap_status get_vec(hubert *m, const char *name, int64_t n, const float **out,
                           clap_error *err) {
  for (int i = 0; i < m->nvecs; i++)
    if (!strcmp(m->vecs[i].name, name)) {
      *out = m->vecs[i].v;
      return CLAP_OK;
    }
  const float *src;
  clap_status rc = get(m, name, 1, n, 0, 0, &src, err);
  if (rc) return rc;
  if (m->nvecs == m->cap_vecs) {
    int cap = m->cap_vecs ? 2 * m->cap_vecs : 64;
    vec_copy *grown = realloc(m->vecs, sizeof *grown * (size_t)cap);
    if (!grown) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory loading HuBERT");
    m->vecs = grown, m->cap_vecs = cap;
  }
  vec_copy c = {strdup(name), malloc(sizeof(float) * (size_t)n)};
  if (!c.name || !c.v) {
    free(c.name), free(c.v);
    return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory loading HuBERT");
  }
  memcpy(c.v, src, sizeof(float) * (size_t)n);
  m->vecs[m->nvecs++] = c;
  *out = c.v;
  return CLAP_OK;
}

static int has(const hubert *m, const char *name) {
  char full[256];
  snprintf(full, sizeof full, "%s%s", m->prefix, name);
  return st_find(m->st, full) != NULL;
}

static void release(hubert *m, const char *name) {
  char full[256];
  snprintf(full, sizeof full, "%s%s", m->prefix, name);
  st_release(m->st, full);
}

static clap_status load_pos_conv(hubert *m, clap_error *err) {
  const hubert_config *c = &m->cfg;
  int H = c->hidden, K = c->pos_kernel, per = H / c->pos_groups;
  const char *gname = "encoder.pos_conv_embed.conv.weight_g";
  const char *vname = "encoder.pos_conv_embed.conv.weight_v";
  if (!has(m, gname) && has(m, "encoder.pos_conv_embed.conv.parametrizations.weight.original0")) {
    gname = "encoder.pos_conv_embed.conv.parametrizations.weight.original0";
    vname = "encoder.pos_conv_embed.conv.parametrizations.weight.original1";
  }
  const float *g, *v;
  clap_status rc = get(m, gname, 3, 1, 1, K, &g, err);
  if (!rc) rc = get(m, vname, 3, H, per, K, &v, err);
  if (!rc) rc = get_vec(m, "encoder.pos_conv_embed.conv.bias", H, &m->pos_b, err);
  if (rc) return rc;
  size_t nw = (size_t)H * per * K;
  double *norms = malloc(sizeof(double) * (size_t)K);
  m->pos_w = malloc(sizeof(float) * nw);
  int ok = norms && m->pos_w;
  if (ok) nn_weight_norm_dim2_tap_major(v, g, H, per, K, norms, m->pos_w);
  free(norms);
  if (!ok) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory loading HuBERT");
  release(m, vname);
  return CLAP_OK;
}

static clap_status load_layer(hubert *m, int l, clap_error *err) {
  hubert_layer *L = &m->layer[l];
  int H = m->cfg.hidden, F = m->cfg.intermediate;
  char n[128];
  clap_status rc = CLAP_OK;
#define W2(field, suffix, a, b)                                            \
  if (!rc) {                                                               \
    snprintf(n, sizeof n, "encoder.layers.%d.%s", l, suffix);              \
    rc = get(m, n, 2, a, b, 0, &L->field, err);                            \
  }
#define W1(field, suffix, a)                                               \
  if (!rc) {                                                               \
    snprintf(n, sizeof n, "encoder.layers.%d.%s", l, suffix);              \
    rc = get_vec(m, n, a, &L->field, err);                                 \
  }
  W2(q_w, "attention.q_proj.weight", H, H) W1(q_b, "attention.q_proj.bias", H)
  W2(k_w, "attention.k_proj.weight", H, H) W1(k_b, "attention.k_proj.bias", H)
  W2(v_w, "attention.v_proj.weight", H, H) W1(v_b, "attention.v_proj.bias", H)
  W2(o_w, "attention.out_proj.weight", H, H) W1(o_b, "attention.out_proj.bias", H)
  W1(ln_w, "layer_norm.weight", H) W1(ln_b, "layer_norm.bias", H)
  W2(ff1_w, "feed_forward.intermediate_dense.weight", F, H)
  W1(ff1_b, "feed_forward.intermediate_dense.bias", F)
  W2(ff2_w, "feed_forward.output_dense.weight", H, F)
  W1(ff2_b, "feed_forward.output_dense.bias", H)
  W1(fln_w, "final_layer_norm.weight", H) W1(fln_b, "final_layer_norm.bias", H)
#undef W1
#undef W2
  return rc;
}

/* The conv stack, re-laid tap-major; the checkpoint's copies are released. */
static clap_status load_conv(hubert *m, clap_error *err) {
  const hubert_config *c = &m->cfg;
  hconv *hc = &m->conv;
  hc->n = c->n_conv;
  hc->chunk = HCONV_DEFAULT_CHUNK;
  clap_status rc = CLAP_OK;
  char n[128];
  int cin = 1;
  for (int i = 0; i < c->n_conv && !rc; i++) {
    hc->dim[i] = c->conv_dim[i], hc->kernel[i] = c->conv_kernel[i];
    hc->stride[i] = c->conv_stride[i];
    const float *w;
    snprintf(n, sizeof n, "feature_extractor.conv_layers.%d.conv.weight", i);
    rc = get(m, n, 3, c->conv_dim[i], cin, c->conv_kernel[i], &w, err);
    if (!rc) rc = hconv_set_weight(hc, i, cin, w, err);
    if (!rc) release(m, n);
    if (!rc && c->conv_bias) {
      snprintf(n, sizeof n, "feature_extractor.conv_layers.%d.conv.bias", i);
      rc = get_vec(m, n, c->conv_dim[i], &hc->b[i], err);
    }
    cin = c->conv_dim[i];
  }
  if (!rc) rc = get_vec(m, "feature_extractor.conv_layers.0.layer_norm.weight", c->conv_dim[0], &hc->gn_w, err);
  if (!rc) rc = get_vec(m, "feature_extractor.conv_layers.0.layer_norm.bias", c->conv_dim[0], &hc->gn_b, err);
  return rc;
}

static clap_status load_weights(hubert *m, clap_error *err) {
  const hubert_config *c = &m->cfg;
  if (!st_find(m->st, "feature_extractor.conv_layers.0.conv.weight") &&
      st_find(m->st, "hubert.feature_extractor.conv_layers.0.conv.weight"))
    strcpy(m->prefix, "hubert.");
  clap_status rc = load_conv(m, err);
  int C = c->conv_dim[c->n_conv - 1], H = c->hidden;
  if (!rc && c->feat_proj_layer_norm) {
    rc = get_vec(m, "feature_projection.layer_norm.weight", C, &m->fp_ln_w, err);
    if (!rc) rc = get_vec(m, "feature_projection.layer_norm.bias", C, &m->fp_ln_b, err);
  }
  if (!rc) rc = get(m, "feature_projection.projection.weight", 2, H, C, 0, &m->fp_w, err);
  if (!rc) rc = get_vec(m, "feature_projection.projection.bias", H, &m->fp_b, err);
  if (!rc) rc = load_pos_conv(m, err);
  if (!rc) rc = get_vec(m, "encoder.layer_norm.weight", H, &m->enc_ln_w, err);
  if (!rc) rc = get_vec(m, "encoder.layer_norm.bias", H, &m->enc_ln_b, err);
  if (!rc) {
    m->layer = calloc((size_t)c->layers, sizeof *m->layer);
    if (!m->layer) rc = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory loading HuBERT");
  }
  for (int l = 0; l < c->layers && !rc; l++) rc = load_layer(m, l, err);
  return rc;
}

clap_status hubert_load(const char *dir, hubert **out, clap_error *err) {
  if (!out) return clap_error_set(err, CLAP_ERR_ARG, "hubert_load: out is NULL");
  *out = NULL;
  if (!dir || !*dir)
    return clap_error_set(err, CLAP_ERR_ARG,
                          "hubert needs a checkpoint directory (config.json + model.safetensors)");
  hubert *m = calloc(1, sizeof *m);
  if (!m) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory loading HuBERT");
  pthread_mutex_init(&m->ws_mu, NULL);
  char path[4096];
  snprintf(path, sizeof path, "%s/config.json", dir);
  cJSON *root;
  clap_status rc = hfckpt_load_json(path, &root, err);
  if (!rc) rc = parse_config(path, root, &m->cfg, err);
  cJSON_Delete(root);
  if (!rc) rc = parse_preprocessor(dir, &m->cfg, err);
  if (!rc) rc = hfckpt_open_weights(dir, &m->st, &m->weights_path, err);
  if (!rc) rc = load_weights(m, err);
  if (!rc) st_release_all(m->st); /* what load read is copied; the linears fault in on use */
  if (!rc) rc = hubert_set_precision(m, NN_F32, err);
  if (rc) {
    hubert_free(m);
    return rc;
  }
  *out = m;
  return CLAP_OK;
}

static void free_denses(hubert *m) {
  nn_conv_free(m->pos_conv);
  m->pos_conv = NULL;
  hconv_free_prims(&m->conv);
  nn_dense_free(m->fp);
  m->fp = NULL;
  for (int l = 0; m->layer && l < m->cfg.layers; l++) {
    hubert_layer *L = &m->layer[l];
    for (int i = 0; i < L_DENSES; i++) {
      nn_dense_free(L->d[i]);
      L->d[i] = NULL;
    }
    nn_dense_free(L->qkv);
    free(L->qkv_b);
    L->qkv = NULL, L->qkv_b = NULL;
  }
}

/* Freed float32 copies and load-time temporaries sit in the heap between
** live blocks (glibc keeps them): hand their pages back. */
static void trim_heap(void) {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

/* The conv layers >= 1 and the positional conv that oneDNN runs have its
** copies of their weights (bfloat16, or float32 in its layout): our own
** layouts go, so they do not count twice in RSS (hubert_set_precision
** rebuilds them when it needs them). */
static void drop_conv_copies(hubert *m) {
  hconv *hc = &m->conv;
  for (int i = 1; i < hc->n; i++)
    if (hc->d[i] || hc->cv[i]) free(hc->w[i]), hc->w[i] = NULL;
  if (m->pos_conv) free(m->pos_w), m->pos_w = NULL;
  trim_heap();
}

static void release_linear(hubert *m, int l, int i) {
  static const char *names[L_DENSES] = {
      "attention.q_proj.weight", "attention.k_proj.weight", "attention.v_proj.weight",
      "attention.out_proj.weight", "feed_forward.intermediate_dense.weight",
      "feed_forward.output_dense.weight"};
  char n[160];
  snprintf(n, sizeof n, "encoder.layers.%d.%s", l, names[i]);
  release(m, n);
}

/* bf16: q, k and v as one linear, so one product (and one pass converting
** h) serves the three, and attention reads its heads from one array. */
static clap_status make_qkv(hubert *m, int l, clap_error *err) {
  hubert_layer *L = &m->layer[l];
  int H = m->cfg.hidden;
  size_t hh = (size_t)H * H;
  float *w = malloc(sizeof(float) * 3 * hh);
  L->qkv_b = malloc(sizeof(float) * 3 * (size_t)H);
  if (!w || !L->qkv_b) {
    free(w);
    return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory loading HuBERT");
  }
  const float *ws[3] = {L->q_w, L->k_w, L->v_w}, *bs[3] = {L->q_b, L->k_b, L->v_b};
  for (int i = 0; i < 3; i++) {
    memcpy(w + i * hh, ws[i], sizeof(float) * hh);
    memcpy(L->qkv_b + (size_t)i * H, bs[i], sizeof(float) * (size_t)H);
    release_linear(m, l, L_Q + i); /* copied: its pages can go before the reorder */
  }
  clap_status rc = nn_dense_create(w, L->qkv_b, H, 3 * H, NN_BF16, &L->qkv, err);
  free(w);
  trim_heap(); /* its pages, before the layer's other tensors come in */
  return rc;
}

/* Rebuilds every linear and conv at precision p. At bf16 each checkpoint
** tensor's pages are handed back as soon as its copy exists, so the float32
** weights and the bf16 copies are never resident together. */
clap_status hubert_set_precision(hubert *m, nn_precision p, clap_error *err) {
  if (!m) return clap_error_set(err, CLAP_ERR_ARG, "hubert_set_precision: NULL model");
  free_denses(m);
  int H = m->cfg.hidden, F = m->cfg.intermediate, C = m->cfg.conv_dim[m->cfg.n_conv - 1];
  /* the linears read the checkpoint's tensors: fetch them again when a
  ** bf16 setting before released them (load fetched them once already) */
  clap_status rc = CLAP_OK;
  if (m->released) {
    rc = get(m, "feature_projection.projection.weight", 2, H, C, 0, &m->fp_w, err);
    for (int l = 0; l < m->cfg.layers && !rc; l++) rc = load_layer(m, l, err);
    if (!rc) m->released = 0;
  }
  /* and the conv layouts an earlier setting dropped (drop_conv_copies) */
  if (!rc && m->cfg.n_conv > 1 && !m->conv.w[1]) {
    int chunk = m->conv.chunk;
    rc = load_conv(m, err);
    m->conv.chunk = chunk;
  }
  if (!rc && !m->pos_w) rc = load_pos_conv(m, err);
  if (!rc) rc = hconv_set_precision(&m->conv, p, err);
  if (!rc) {
    int H = m->cfg.hidden, K = m->cfg.pos_kernel;
    rc = nn_conv_create(m->pos_w, m->pos_b, H, H, K, m->cfg.pos_groups, 1, K / 2, K / 2, 1, p,
                        &m->pos_conv, err);
    if (rc == CLAP_ERR_UNSUPPORTED) rc = CLAP_OK; /* no oneDNN kernel: pos_embed's sgemm runs */
    /* its length is the clip's: a corpus's lengths share a primitive per 32 frames */
    if (m->pos_conv) nn_conv_set_bucket(m->pos_conv, 32);
  }
  if (!rc) drop_conv_copies(m); /* before the linears bring their pages in */
  if (!rc) rc = nn_dense_create(m->fp_w, m->fp_b, C, H, p, &m->fp, err);
  for (int l = 0; l < m->cfg.layers && !rc; l++) {
    hubert_layer *L = &m->layer[l];
    const float *w[L_DENSES] = {L->q_w, L->k_w, L->v_w, L->o_w, L->ff1_w, L->ff2_w};
    const float *b[L_DENSES] = {L->q_b, L->k_b, L->v_b, L->o_b, L->ff1_b, L->ff2_b};
    int in[L_DENSES] = {H, H, H, H, H, F}, out[L_DENSES] = {H, H, H, H, F, H};
    /* at bf16 each float32 tensor's pages go as soon as its copy exists,
    ** so at most one layer's tensor is resident beside the copies */
    if (p == NN_BF16) {
      rc = make_qkv(m, l, err);
    }
    for (int i = p == NN_BF16 ? L_O : 0; i < L_DENSES && !rc; i++) {
      rc = nn_dense_create(w[i], b[i], in[i], out[i], p, &L->d[i], err);
      if (!rc && p == NN_BF16) release_linear(m, l, i);
    }
    if (!rc) nn_dense_fuse_gelu(L->d[L_FF1]);
    if (p == NN_BF16) {
      m->released = 1;
      trim_heap(); /* the qkv temporary's pages, before the next layer's copies */
    }
  }
  if (rc) {
    free_denses(m);
    return rc;
  }
  if (p == NN_BF16) {
    release(m, "feature_projection.projection.weight");
    m->released = 1;
    st_release_all(m->st); /* nothing reads the checkpoint now: the 1-D tensors are copies */
  }
  trim_heap();
  nn_weights_settle(); /* the chunks' last huge pages hold only what is used */
  m->prec = p;
  return CLAP_OK;
}

nn_precision hubert_precision(const hubert *m) { return m->prec; }

void hubert_free(hubert *m) {
  if (!m) return;
  free_denses(m);
  st_close(m->st);
  hconv_free(&m->conv);
  pthread_mutex_destroy(&m->ws_mu);
  free(m->ws);
  free(m->pos_w);
  free(m->layer);
  for (int i = 0; i < m->nvecs; i++) free(m->vecs[i].name), free(m->vecs[i].v);
  free(m->vecs);
  free(m->weights_path);
  free(m);
}

const hubert_config *hubert_get_config(const hubert *m) { return m ? &m->cfg : NULL; }
const char *hubert_weights_path(const hubert *m) { return m ? m->weights_path : NULL; }

void hubert_set_conv_chunk(hubert *m, int frames) {
  if (m) m->conv.chunk = frames < 1 ? 1 : frames;
}

long hubert_frames(const hubert *m, long n) { return hconv_frames(&m->conv, n); }

/* ---- forward ---- */

/* Workspace regions, in floats: h [T,H] for hubert_encode, then one region
** the three phases take turns in. */
typedef struct ws_plan {
  size_t h, phase, total;
} ws_plan;

/* The conv phase: the conv stack's scratch, which afterwards holds the
** features in bfloat16 for a bf16 projection, then feat [T, C]. */
static size_t feat_offset(const hubert *m, int T, int W) {
  const hubert_config *c = &m->cfg;
  size_t sc = hconv_scratch(&m->conv, W), xb = ((size_t)T * c->conv_dim[c->n_conv - 1] + 1) / 2;
  return sc > xb ? sc : xb;
}

static size_t conv_phase(const hubert *m, int T, int W) {
  const hubert_config *c = &m->cfg;
  return feat_offset(m, T, W) + (size_t)T * c->conv_dim[c->n_conv - 1];
}

static size_t pos_phase(const hubert *m, int T, int W) {
  const hubert_config *c = &m->cfg;
  size_t H = (size_t)c->hidden, K = (size_t)c->pos_kernel, per = H / (size_t)c->pos_groups;
  size_t rows = T < POS_ROWS ? (size_t)T : POS_ROWS;
  if (m->pos_conv) { /* pos_embed_onednn: out, then its input extended */
    size_t tr = (size_t)nn_conv_frames(m->pos_conv, T);
    return H * (tr + 1) + (m->prec == NN_BF16 ? (H * tr + 1) / 2 : H * tr);
  }
  return H * ((size_t)T + 2 * (K / 2)) + (size_t)W * rows * K * per + (size_t)T * H;
}

/* float32: q, k, v, a [T, H] and f [T, F] plus the attention's scratch;
** bf16 (encoder_layers_bf16): y [T, H] float32, then qkv [T, 3H] and the
** context [T, H] in bfloat16, or f [T, F] in their place, plus its
** attention's. */
static size_t layers_phase(const hubert *m, int T, int W) {
  const hubert_config *c = &m->cfg;
  size_t th = (size_t)T * c->hidden, tf = (size_t)T * c->intermediate;
  size_t mid = 4 * th > tf ? 4 * th : tf;
  if (m->prec == NN_BF16)
    return ((th + (mid + 1) / 2 + 15) & ~(size_t)15) +
           nn_attention_bf16_scratch(T, c->hidden / c->heads, W);
  return 4 * th + tf + nn_attention_scratch(T, T, W);
}

/* W: the workers the parallel parts may use (nn_threads.h), fixed per call
** so the plan and the forward agree even if the thread count changes. */
static ws_plan plan_ws(const hubert *m, int T, int W) {
  ws_plan p;
  size_t a = conv_phase(m, T, W), b = pos_phase(m, T, W), c = layers_phase(m, T, W);
  p.h = 0;
  /* the phases start 64-byte aligned: the conv stack keeps doubles there */
  p.phase = ((size_t)T * m->cfg.hidden + 15) & ~(size_t)15;
  p.total = p.phase + (a > b ? (a > c ? a : c) : (b > c ? b : c));
  return p;
}

/* The cached workspace if free and big enough to keep, else a fresh one.
** *cached says which, for ws_put. */
static float *ws_get(const hubert *cm, size_t need, int *cached) {
  hubert *m = (hubert *)cm; /* the cache is the one mutable part, under ws_mu */
  *cached = 0;
  if (need * sizeof(float) <= HUBERT_WS_CACHE_BYTES) {
    pthread_mutex_lock(&m->ws_mu);
    if (!m->ws_busy) {
      if (m->ws_cap < need) {
        free(m->ws);
        m->ws = malloc(sizeof(float) * need);
        m->ws_cap = m->ws ? need : 0;
      }
      *cached = m->ws != NULL;
      m->ws_busy = *cached;
    }
    pthread_mutex_unlock(&m->ws_mu);
    if (*cached) return m->ws;
  }
  return malloc(sizeof(float) * need);
}

static void ws_put(const hubert *cm, float *ws, int cached) {
  hubert *m = (hubert *)cm;
  if (!cached) {
    free(ws);
    return;
  }
  pthread_mutex_lock(&m->ws_mu);
  m->ws_busy = 0;
  pthread_mutex_unlock(&m->ws_mu);
}

typedef struct pos_job {
  const hubert *m;
  const float *padded; /* [groups][T + 2·pad][per] */
  float *col;          /* per worker: POS_ROWS·k·per floats */
  float *out;          /* [T, H], the bias already in */
  int T, blocks;
} pos_job;

/* Task = group g, output rows [t0, t0 + POS_ROWS) into out[:, g·per ..)
** (ldc = H): each row's window is `k·per` contiguous floats of the padded
** copy, copied into rows of the worker's `col` since BLAS refuses
** overlapping rows. */
static void pos_task(void *arg, int task, int worker) {
  const pos_job *j = arg;
  const hubert_config *c = &j->m->cfg;
  int H = c->hidden, per = H / c->pos_groups, kk = c->pos_kernel * per;
  int g = task / j->blocks, t0 = task % j->blocks * POS_ROWS;
  int rows = j->T - t0 < POS_ROWS ? j->T - t0 : POS_ROWS;
  const float *w = j->m->pos_w + (size_t)g * per * kk;
  const float *pg = j->padded + (size_t)g * (j->T + 2 * (c->pos_kernel / 2)) * per;
  float *col = j->col + (size_t)worker * (j->T < POS_ROWS ? j->T : POS_ROWS) * kk;
  for (int r = 0; r < rows; r++)
    memcpy(col + (size_t)r * kk, pg + (size_t)(t0 + r) * per, sizeof(float) * (size_t)kk);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, per, kk, 1.0f, col, kk, w, kk, 1.0f,
              j->out + (size_t)t0 * H + (size_t)g * per, H);
}

/* h [T,H] += GELU(posconv(h)) with SamePad, then the encoder layer norm.
** The conv reads a group-major zero-padded copy [groups][T+2·pad][per]. */
static void pos_embed(const hubert *m, float *h, int T, int W, float *ws) {
  const hubert_config *c = &m->cfg;
  int H = c->hidden, K = c->pos_kernel, pad = K / 2, G = c->pos_groups, per = H / G;
  size_t plen = (size_t)(T + 2 * pad) * per;
  int rows = T < POS_ROWS ? T : POS_ROWS;
  float *padded = ws, *col = padded + (size_t)G * plen, *out = col + (size_t)W * rows * K * per;
  for (int g = 0; g < G; g++) {
    float *pg = padded + (size_t)g * plen;
    memset(pg, 0, sizeof(float) * (size_t)pad * per);
    for (int t = 0; t < T; t++)
      memcpy(pg + (size_t)(pad + t) * per, h + (size_t)t * H + (size_t)g * per,
             sizeof(float) * (size_t)per);
    memset(pg + (size_t)(pad + T) * per, 0, sizeof(float) * (size_t)pad * per);
  }
  nn_fill_rows(out, T, H, m->pos_b);
  pos_job j = {m, padded, col, out, T, (T + POS_ROWS - 1) / POS_ROWS};
  nn_parallel(G * j.blocks, W, pos_task, &j);
  nn_gelu(out, (size_t)T * H);
  nn_add(h, out, (size_t)T * H);
  nn_layer_norm(h, T, H, m->enc_ln_w, m->enc_ln_b, c->layer_norm_eps, h);
}

/* The bf16 layers: the activations between linears that only feed the
** next product stay bfloat16 (qkv, the attention context, the FF middle);
** h and the residual sums stay float32. 0 when a product could not run. */
static int encoder_layers_bf16(const hubert *m, float *h, int T, int W, float *ws) {
  const hubert_config *c = &m->cfg;
  int H = c->hidden, F = c->intermediate, hd = H / c->heads;
  size_t th = (size_t)T * H;
  float *y = ws;
  /* the FF middle reuses qkv's and the context's room: they are dead by then */
  unsigned short *qkv = (unsigned short *)(y + th), *ctx = qkv + 3 * th, *f = qkv;
  size_t mid = 4 * th > (size_t)T * F ? 4 * th : (size_t)T * F;
  float *sc = y + ((th + (mid + 1) / 2 + 15) & ~(size_t)15);
  float scale = 1.0f / sqrtf((float)hd);
  /* h in bfloat16 for the products that read it goes where y is dead (y
  ** is float32 [T, H]: room for twice as many halves) */
  unsigned short *hb = (unsigned short *)y;
  for (int l = 0; l < c->layers; l++) {
    const hubert_layer *L = &m->layer[l];
    nn_to_bf16(h, hb, (long)th);
    if (!nn_dense_run_io(L->qkv, hb, 1, T, qkv, 1) ||
        !nn_attention_bf16(qkv, qkv + H, qkv + 2 * H, 3 * H, T, c->heads, hd, scale, W, sc, ctx) ||
        !nn_dense_run_io(L->d[L_O], ctx, 1, T, y, 0))
      return 0;
    nn_add(h, y, th);
    nn_layer_norm(h, T, H, L->ln_w, L->ln_b, c->layer_norm_eps, h);
    nn_to_bf16(h, hb, (long)th);
    if (!nn_dense_run_io(L->d[L_FF1], hb, 1, T, f, 1) || /* GELU fused */
        !nn_dense_run_io(L->d[L_FF2], f, 1, T, y, 0))
      return 0;
    nn_add(h, y, th);
    nn_layer_norm(h, T, H, L->fln_w, L->fln_b, c->layer_norm_eps, h);
  }
  return 1;
}

/* pos_embed on oneDNN: one convolution over h at the model's precision
** (h converted to bfloat16 at bf16; zero padding K/2 each side, bias and
** GELU fused); SamePad's dropped last frame (even K) is simply not added.
** The input goes into the workspace zero-extended to the frames the conv
** runs over (nn_conv_frames), so the conv makes no copy of its own and the
** first T output frames are the same. 0 when it could not run. */
static int pos_embed_onednn(const hubert *m, float *h, int T, float *ws) {
  const hubert_config *c = &m->cfg;
  int H = c->hidden, tr = nn_conv_frames(m->pos_conv, T);
  float *out = ws; /* [tr + 1, H] */
  void *in = h;
  size_t th = (size_t)T * H, pad = (size_t)(tr - T) * H;
  if (m->prec == NN_BF16) {
    unsigned short *hb = (unsigned short *)(out + (size_t)(tr + 1) * H);
    nn_to_bf16(h, hb, (long)th);
    memset(hb + th, 0, sizeof *hb * pad);
    in = hb;
  } else if (tr > T) {
    float *hx = out + (size_t)(tr + 1) * H;
    memcpy(hx, h, sizeof *hx * th);
    memset(hx + th, 0, sizeof *hx * pad);
    in = hx;
  }
  if (!nn_conv_run(m->pos_conv, in, tr, out)) return 0;
  nn_add(h, out, th);
  nn_layer_norm(h, T, H, m->enc_ln_w, m->enc_ln_b, c->layer_norm_eps, h);
  return 1;
}

/* 0 when a bf16 linear could not run (dense.h). */
static int encoder_layers(const hubert *m, float *h, int T, int W, float *ws) {
  const hubert_config *c = &m->cfg;
  int H = c->hidden, F = c->intermediate, hd = H / c->heads;
  size_t th = (size_t)T * H;
  float *q = ws, *k = q + th, *v = k + th, *a = v + th, *f = a + th;
  float *sc = f + (size_t)T * F;
  float scale = 1.0f / sqrtf((float)hd);
  for (int l = 0; l < c->layers; l++) {
    const hubert_layer *L = &m->layer[l];
    if (!nn_dense_run(L->d[L_Q], h, T, q) || !nn_dense_run(L->d[L_K], h, T, k) ||
        !nn_dense_run(L->d[L_V], h, T, v))
      return 0;
    nn_attention(q, k, v, T, T, c->heads, hd, scale, NULL, W, sc, a);
    if (!nn_dense_run(L->d[L_O], a, T, q)) return 0;
    nn_add(h, q, th);
    nn_layer_norm(h, T, H, L->ln_w, L->ln_b, c->layer_norm_eps, h);
    if (!nn_dense_run(L->d[L_FF1], h, T, f)) return 0; /* GELU fused */
    if (!nn_dense_run(L->d[L_FF2], f, T, q)) return 0;
    nn_add(h, q, th);
    nn_layer_norm(h, T, H, L->fln_w, L->fln_b, c->layer_norm_eps, h);
  }
  return 1;
}

/* Too short for one frame, or too long for the attention scratch. */
static clap_status check_length(const hubert *m, long n, clap_error *err) {
  /* Samples one output frame needs: walk the conv stack backwards. */
  double need = 1;
  for (int i = m->cfg.n_conv - 1; i >= 0; i--)
    need = (need - 1) * m->cfg.conv_stride[i] + m->cfg.conv_kernel[i];
  if ((double)n < need)
    return clap_error_set(err, CLAP_ERR_RANGE,
                          "hubert: audio too short: %ld samples, at least %.0f (%.1f ms at 16 kHz) "
                          "needed for one frame",
                          n, need, need / 16.0);
  if (n > (long)HUBERT_MAX_SECONDS * 16000L)
    return clap_error_set(err, CLAP_ERR_RANGE,
                          "hubert: audio too long: %.0f s (at most %d s; attention memory grows "
                          "with the square of the length — split the recording)",
                          n / 16000.0, HUBERT_MAX_SECONDS);
  return CLAP_OK;
}

/* Check the input; the do_normalize statistics go to *mean, *inv (else 0, 1):
** the conv stack applies them as it reads samples, so nothing is copied. */
static clap_status check_input(const hubert *m, const float *pcm, long n, double *mean,
                               double *inv, clap_error *err) {
  clap_status rc = check_length(m, n, err);
  if (rc) return rc;
  double sum = 0, sq = 0;
  for (long i = 0; i < n; i++) {
    if (!isfinite(pcm[i]))
      return clap_error_set(err, CLAP_ERR_RANGE, "hubert: sample %ld is not finite", i);
    sum += pcm[i];
  }
  *mean = 0, *inv = 1;
  if (m->cfg.do_normalize) {
    *mean = sum / n;
    for (long i = 0; i < n; i++) sq += (pcm[i] - *mean) * (pcm[i] - *mean);
    *inv = 1.0 / sqrt(sq / n + 1e-7);
  }
  return CLAP_OK;
}

/* The whole forward into h [T, hidden]; h may be the workspace's region.
** phase: the workspace's scratch part (plan_ws), shared by the three phases. */
static int forward(const hubert *m, const float *pcm, long n, double mean, double inv, int T,
                   int W, float *phase, float *h) {
  const hubert_config *c = &m->cfg;
  int C = c->conv_dim[c->n_conv - 1];
  float *feat = phase + feat_offset(m, T, W);
  if (!hconv_forward(&m->conv, pcm, n, mean, inv, W, phase, feat)) return 0;
  if (c->feat_proj_layer_norm)
    nn_layer_norm(feat, T, C, m->fp_ln_w, m->fp_ln_b, c->layer_norm_eps, feat);
  if (m->prec == NN_BF16) { /* converted into the conv scratch, dead now */
    nn_to_bf16(feat, (unsigned short *)phase, (long)T * C);
    if (!nn_dense_run_io(m->fp, phase, 1, T, h, 0)) return 0;
  } else if (!nn_dense_run(m->fp, feat, T, h)) {
    return 0;
  }
  if (m->pos_conv) {
    if (!pos_embed_onednn(m, h, T, phase)) return 0;
  } else {
    pos_embed(m, h, T, W, phase);
  }
  if (m->prec == NN_BF16) return encoder_layers_bf16(m, h, T, W, phase);
  return encoder_layers(m, h, T, W, phase);
}

/* Checks, workspace, forward; h NULL means into the workspace's own region
** for the states (plan_ws's p.h), handed to `use` before it is released. */
static clap_status run(const hubert *m, const float *pcm, long n, float *h, int *T,
                       void (*use)(const float *h, int T, int H, void *arg), void *arg,
                       clap_error *err) {
  double mean = 0, inv = 1;
  clap_status rc = check_input(m, pcm, n, &mean, &inv, err);
  if (rc) return rc;
  *T = (int)hubert_frames(m, n);
  int W = nn_get_threads();
  ws_plan p = plan_ws(m, *T, W);
  int cached;
  float *ws = ws_get(m, p.total, &cached);
  if (!ws)
    return clap_error_set(err, CLAP_ERR_NOMEM,
                          "hubert: out of memory for %d frames (%zu MB of workspace)", *T,
                          p.total * sizeof(float) >> 20);
  float *out = h ? h : ws + p.h;
  int ok = forward(m, pcm, n, mean, inv, *T, W, ws + p.phase, out);
  if (ok && use) use(out, *T, m->cfg.hidden, arg);
  ws_put(m, ws, cached);
  if (!ok)
    return clap_error_set(err, CLAP_ERR_NOMEM,
                          "hubert: out of memory for the %s layers' products on %d frames",
                          nn_precision_name(m->prec), *T);
  return CLAP_OK;
}

clap_status hubert_forward(const hubert *m, const float *pcm, long n, float **states, int *frames,
                           clap_error *err) {
  if (!m || !pcm || !states || !frames)
    return clap_error_set(err, CLAP_ERR_ARG, "hubert_forward: NULL argument");
  *states = NULL;
  *frames = 0;
  clap_status rc = check_length(m, n, err); /* before sizing the states */
  if (rc) return rc;
  long T = hubert_frames(m, n);
  float *h = malloc(sizeof(float) * (size_t)(T > 0 ? T : 1) * m->cfg.hidden);
  if (!h) return clap_error_set(err, CLAP_ERR_NOMEM, "hubert: out of memory (%ld frames)", T);
  int t = 0;
  rc = run(m, pcm, n, h, &t, NULL, NULL, err);
  if (rc) {
    free(h);
    return rc;
  }
  *states = h;
  *frames = t;
  return CLAP_OK;
}

static void mean_pool(const float *h, int T, int H, void *arg) {
  float *out = arg;
  for (int j = 0; j < H; j++) {
    double s = 0;
    for (int t = 0; t < T; t++) s += h[(size_t)t * H + j];
    out[j] = (float)(s / T);
  }
}

clap_status hubert_encode(const hubert *m, const float *pcm, long n, float *out, clap_error *err) {
  if (!out) return clap_error_set(err, CLAP_ERR_ARG, "hubert_encode: out is NULL");
  if (!m || !pcm) return clap_error_set(err, CLAP_ERR_ARG, "hubert_encode: NULL argument");
  int T;
  return run(m, pcm, n, NULL, &T, mean_pool, out, err);
}

/* ---- encoder registry glue ---- */

static clap_status enc_create(const char *path, void **state, int *dim, clap_error *err) {
  hubert *m;
  clap_status rc = hubert_load(path, &m, err);
  if (rc) return rc;
  *state = m;
  *dim = m->cfg.hidden;
  return CLAP_OK;
}

static clap_status enc_audio(void *state, const float *pcm, long n, float *out, clap_error *err) {
  return hubert_encode(state, pcm, n, out, err);
}

static void enc_destroy(void *state) { hubert_free(state); }

static clap_status enc_precision(void *state, nn_precision p, clap_error *err) {
  return hubert_set_precision(state, p, err);
}

const encoder_ops hubert_encoder_ops = {
    .kind = "hubert",
    .modality = ENCODER_AUDIO,
    .create = enc_create,
    .encode_audio = enc_audio,
    .destroy = enc_destroy,
    .set_precision = enc_precision,
};
