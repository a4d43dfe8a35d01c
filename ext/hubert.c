/*
** hubert — see hubert.h.
**
** Weights are pointers into the mapped safetensors file (F32) or into the
** st_file's widened copies (F16/BF16); the only weight this module computes
** is the positional conv's, folded from weight norm once at load. Every
** forward call allocates its own activations, so the model is read-only
** after hubert_load returns.
*/
#include "hubert.h"

#include "hfckpt.h"
#include "nn.h"
#include "safetensors.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct hubert_layer {
  const float *q_w, *q_b, *k_w, *k_b, *v_w, *v_b, *o_w, *o_b;
  const float *ln_w, *ln_b, *ff1_w, *ff1_b, *ff2_w, *ff2_b, *fln_w, *fln_b;
} hubert_layer;

struct hubert {
  hubert_config cfg;
  st_file *st;
  char *weights_path;
  char prefix[16];
  const float *conv_w[HUBERT_MAX_CONV], *conv_b[HUBERT_MAX_CONV];
  const float *gn_w, *gn_b;
  const float *fp_ln_w, *fp_ln_b, *fp_w, *fp_b;
  float *pos_w; /* owned: weight-normed [hidden, hidden/groups, k] */
  const float *pos_b;
  const float *enc_ln_w, *enc_ln_b;
  hubert_layer *layer;
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

static int has(const hubert *m, const char *name) {
  char full[256];
  snprintf(full, sizeof full, "%s%s", m->prefix, name);
  return st_find(m->st, full) != NULL;
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
  if (!rc) rc = get(m, "encoder.pos_conv_embed.conv.bias", 1, H, 0, 0, &m->pos_b, err);
  if (rc) return rc;
  m->pos_w = malloc(sizeof(float) * (size_t)H * per * K);
  if (!m->pos_w) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory loading HuBERT");
  nn_weight_norm_dim2(v, g, H, per, K, m->pos_w);
  return CLAP_OK;
}

static clap_status load_layer(hubert *m, int l, clap_error *err) {
  hubert_layer *L = &m->layer[l];
  int H = m->cfg.hidden, I = m->cfg.intermediate;
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
    rc = get(m, n, 1, a, 0, 0, &L->field, err);                            \
  }
  W2(q_w, "attention.q_proj.weight", H, H) W1(q_b, "attention.q_proj.bias", H)
  W2(k_w, "attention.k_proj.weight", H, H) W1(k_b, "attention.k_proj.bias", H)
  W2(v_w, "attention.v_proj.weight", H, H) W1(v_b, "attention.v_proj.bias", H)
  W2(o_w, "attention.out_proj.weight", H, H) W1(o_b, "attention.out_proj.bias", H)
  W1(ln_w, "layer_norm.weight", H) W1(ln_b, "layer_norm.bias", H)
  W2(ff1_w, "feed_forward.intermediate_dense.weight", I, H)
  W1(ff1_b, "feed_forward.intermediate_dense.bias", I)
  W2(ff2_w, "feed_forward.output_dense.weight", H, I)
  W1(ff2_b, "feed_forward.output_dense.bias", H)
  W1(fln_w, "final_layer_norm.weight", H) W1(fln_b, "final_layer_norm.bias", H)
#undef W1
#undef W2
  return rc;
}

static clap_status load_weights(hubert *m, clap_error *err) {
  const hubert_config *c = &m->cfg;
  if (!st_find(m->st, "feature_extractor.conv_layers.0.conv.weight") &&
      st_find(m->st, "hubert.feature_extractor.conv_layers.0.conv.weight"))
    strcpy(m->prefix, "hubert.");
  clap_status rc = CLAP_OK;
  char n[128];
  int cin = 1;
  for (int i = 0; i < c->n_conv && !rc; i++) {
    snprintf(n, sizeof n, "feature_extractor.conv_layers.%d.conv.weight", i);
    rc = get(m, n, 3, c->conv_dim[i], cin, c->conv_kernel[i], &m->conv_w[i], err);
    if (!rc && c->conv_bias) {
      snprintf(n, sizeof n, "feature_extractor.conv_layers.%d.conv.bias", i);
      rc = get(m, n, 1, c->conv_dim[i], 0, 0, &m->conv_b[i], err);
    }
    cin = c->conv_dim[i];
  }
  int C = c->conv_dim[c->n_conv - 1], H = c->hidden;
  if (!rc) rc = get(m, "feature_extractor.conv_layers.0.layer_norm.weight", 1, c->conv_dim[0], 0, 0, &m->gn_w, err);
  if (!rc) rc = get(m, "feature_extractor.conv_layers.0.layer_norm.bias", 1, c->conv_dim[0], 0, 0, &m->gn_b, err);
  if (!rc && c->feat_proj_layer_norm) {
    rc = get(m, "feature_projection.layer_norm.weight", 1, C, 0, 0, &m->fp_ln_w, err);
    if (!rc) rc = get(m, "feature_projection.layer_norm.bias", 1, C, 0, 0, &m->fp_ln_b, err);
  }
  if (!rc) rc = get(m, "feature_projection.projection.weight", 2, H, C, 0, &m->fp_w, err);
  if (!rc) rc = get(m, "feature_projection.projection.bias", 1, H, 0, 0, &m->fp_b, err);
  if (!rc) rc = load_pos_conv(m, err);
  if (!rc) rc = get(m, "encoder.layer_norm.weight", 1, H, 0, 0, &m->enc_ln_w, err);
  if (!rc) rc = get(m, "encoder.layer_norm.bias", 1, H, 0, 0, &m->enc_ln_b, err);
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
  char path[4096];
  snprintf(path, sizeof path, "%s/config.json", dir);
  cJSON *root;
  clap_status rc = hfckpt_load_json(path, &root, err);
  if (!rc) rc = parse_config(path, root, &m->cfg, err);
  cJSON_Delete(root);
  if (!rc) rc = parse_preprocessor(dir, &m->cfg, err);
  if (!rc) rc = hfckpt_open_weights(dir, &m->st, &m->weights_path, err);
  if (!rc) rc = load_weights(m, err);
  if (rc) {
    hubert_free(m);
    return rc;
  }
  *out = m;
  return CLAP_OK;
}

void hubert_free(hubert *m) {
  if (!m) return;
  st_close(m->st);
  free(m->pos_w);
  free(m->layer);
  free(m->weights_path);
  free(m);
}

const hubert_config *hubert_get_config(const hubert *m) { return m ? &m->cfg : NULL; }
const char *hubert_weights_path(const hubert *m) { return m ? m->weights_path : NULL; }

long hubert_frames(const hubert *m, long n) {
  long len = n;
  for (int i = 0; i < m->cfg.n_conv; i++) {
    if (len < m->cfg.conv_kernel[i]) return 0;
    len = (len - m->cfg.conv_kernel[i]) / m->cfg.conv_stride[i] + 1;
  }
  return len;
}

/* ---- forward ---- */

/* Conv feature encoder: pcm [n] -> features [T, C_last] (malloc'd). */
static clap_status conv_stack(const hubert *m, const float *x0, long n, float **feat, int *T,
                              clap_error *err) {
  const hubert_config *c = &m->cfg;
  size_t max_act = 0, max_scratch = 0;
  long len = n;
  int cin = 1;
  for (int i = 0; i < c->n_conv; i++) {
    int lout = nn_conv1d_out_len((int)len, c->conv_kernel[i], c->conv_stride[i], 0);
    size_t act = (size_t)c->conv_dim[i] * (size_t)lout;
    size_t sc = nn_conv1d_scratch(cin, c->conv_kernel[i], lout);
    if (act > max_act) max_act = act;
    if (sc > max_scratch) max_scratch = sc;
    len = lout;
    cin = c->conv_dim[i];
  }
  float *a = malloc(sizeof(float) * max_act), *b = malloc(sizeof(float) * max_act);
  float *sc = malloc(sizeof(float) * max_scratch);
  if (!a || !b || !sc) {
    free(a), free(b), free(sc);
    return clap_error_set(err, CLAP_ERR_NOMEM, "hubert: out of memory for %ld samples", n);
  }
  const float *in = x0;
  len = n;
  cin = 1;
  for (int i = 0; i < c->n_conv; i++) {
    int lout = nn_conv1d_out_len((int)len, c->conv_kernel[i], c->conv_stride[i], 0);
    float *o = (i % 2 == 0) ? a : b;
    nn_conv1d(in, cin, (int)len, m->conv_w[i], m->conv_b[i], c->conv_dim[i], c->conv_kernel[i],
              c->conv_stride[i], 0, 1, sc, o);
    if (i == 0) nn_group_norm(o, c->conv_dim[0], lout, c->conv_dim[0], m->gn_w, m->gn_b, 1e-5f);
    nn_gelu(o, (size_t)c->conv_dim[i] * lout);
    in = o;
    len = lout;
    cin = c->conv_dim[i];
  }
  free(sc);
  /* Channel-major [C, T] -> frames [T, C] into the other buffer. */
  float *dst = (in == a) ? b : a;
  nn_transpose(in, cin, (int)len, dst);
  free(in == a ? a : b);
  *feat = dst;
  *T = (int)len;
  return CLAP_OK;
}

/* h [T,H] += GELU(posconv(h)) with SamePad, then the encoder layer norm. */
static clap_status pos_embed(const hubert *m, float *h, int T, clap_error *err) {
  const hubert_config *c = &m->cfg;
  int H = c->hidden, K = c->pos_kernel, pad = K / 2;
  int lout = nn_conv1d_out_len(T, K, 1, pad); /* T+1 for even K: SamePad drops the last */
  int per = H / c->pos_groups;
  float *hT = malloc(sizeof(float) * (size_t)H * T);
  float *p = malloc(sizeof(float) * (size_t)H * lout);
  float *pT = malloc(sizeof(float) * (size_t)H * lout);
  float *sc = malloc(sizeof(float) * nn_conv1d_scratch(per, K, lout));
  if (!hT || !p || !pT || !sc) {
    free(hT), free(p), free(pT), free(sc);
    return clap_error_set(err, CLAP_ERR_NOMEM, "hubert: out of memory (%d frames)", T);
  }
  nn_transpose(h, T, H, hT);
  nn_conv1d(hT, H, T, m->pos_w, m->pos_b, H, K, 1, pad, c->pos_groups, sc, p);
  nn_transpose(p, H, lout, pT); /* [lout, H]; rows T.. are the dropped frames */
  nn_gelu(pT, (size_t)T * H);
  for (size_t i = 0; i < (size_t)T * H; i++) h[i] += pT[i];
  nn_layer_norm(h, T, H, m->enc_ln_w, m->enc_ln_b, c->layer_norm_eps, h);
  free(hT), free(p), free(pT), free(sc);
  return CLAP_OK;
}

static clap_status encoder_layers(const hubert *m, float *h, int T, clap_error *err) {
  const hubert_config *c = &m->cfg;
  int H = c->hidden, I = c->intermediate, hd = H / c->heads;
  size_t th = (size_t)T * H;
  float *q = malloc(sizeof(float) * th), *k = malloc(sizeof(float) * th);
  float *v = malloc(sizeof(float) * th), *a = malloc(sizeof(float) * th);
  float *f = malloc(sizeof(float) * (size_t)T * I);
  float *sc = malloc(sizeof(float) * nn_attention_scratch(T, T));
  clap_status rc = CLAP_OK;
  if (!q || !k || !v || !a || !f || !sc)
    rc = clap_error_set(err, CLAP_ERR_NOMEM,
                        "hubert: out of memory for %d frames (attention needs %zu MB per head)", T,
                        nn_attention_scratch(T, T) * sizeof(float) >> 20);
  float scale = 1.0f / sqrtf((float)hd);
  for (int l = 0; l < c->layers && !rc; l++) {
    const hubert_layer *L = &m->layer[l];
    nn_linear(h, T, H, L->q_w, L->q_b, H, q);
    nn_linear(h, T, H, L->k_w, L->k_b, H, k);
    nn_linear(h, T, H, L->v_w, L->v_b, H, v);
    nn_attention(q, k, v, T, T, c->heads, hd, scale, NULL, sc, a);
    nn_linear(a, T, H, L->o_w, L->o_b, H, q);
    for (size_t i = 0; i < th; i++) h[i] += q[i];
    nn_layer_norm(h, T, H, L->ln_w, L->ln_b, c->layer_norm_eps, h);
    nn_linear(h, T, H, L->ff1_w, L->ff1_b, I, f);
    nn_gelu(f, (size_t)T * I);
    nn_linear(f, T, I, L->ff2_w, L->ff2_b, H, q);
    for (size_t i = 0; i < th; i++) h[i] += q[i];
    nn_layer_norm(h, T, H, L->fln_w, L->fln_b, c->layer_norm_eps, h);
  }
  free(q), free(k), free(v), free(a), free(f), free(sc);
  return rc;
}

/* Check and (if configured) normalise the input into a fresh buffer. */
static clap_status prepare_input(const hubert *m, const float *pcm, long n, float **out,
                                 clap_error *err) {
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
  double sum = 0, sq = 0;
  for (long i = 0; i < n; i++) {
    if (!isfinite(pcm[i]))
      return clap_error_set(err, CLAP_ERR_RANGE, "hubert: sample %ld is not finite", i);
    sum += pcm[i];
  }
  float *x = malloc(sizeof(float) * (size_t)n);
  if (!x) return clap_error_set(err, CLAP_ERR_NOMEM, "hubert: out of memory for %ld samples", n);
  if (!m->cfg.do_normalize) {
    memcpy(x, pcm, sizeof(float) * (size_t)n);
  } else {
    double mean = sum / n;
    for (long i = 0; i < n; i++) sq += (pcm[i] - mean) * (pcm[i] - mean);
    double inv = 1.0 / sqrt(sq / n + 1e-7);
    for (long i = 0; i < n; i++) x[i] = (float)((pcm[i] - mean) * inv);
  }
  *out = x;
  return CLAP_OK;
}

clap_status hubert_forward(const hubert *m, const float *pcm, long n, float **states, int *frames,
                           clap_error *err) {
  if (!m || !pcm || !states || !frames)
    return clap_error_set(err, CLAP_ERR_ARG, "hubert_forward: NULL argument");
  *states = NULL;
  *frames = 0;
  float *x = NULL, *feat = NULL;
  int T = 0;
  clap_status rc = prepare_input(m, pcm, n, &x, err);
  if (rc) return rc;
  rc = conv_stack(m, x, n, &feat, &T, err);
  free(x);
  if (rc) return rc;
  const hubert_config *c = &m->cfg;
  int C = c->conv_dim[c->n_conv - 1], H = c->hidden;
  float *h = malloc(sizeof(float) * (size_t)T * H);
  if (!h) {
    free(feat);
    return clap_error_set(err, CLAP_ERR_NOMEM, "hubert: out of memory (%d frames)", T);
  }
  if (c->feat_proj_layer_norm)
    nn_layer_norm(feat, T, C, m->fp_ln_w, m->fp_ln_b, c->layer_norm_eps, feat);
  nn_linear(feat, T, C, m->fp_w, m->fp_b, H, h);
  free(feat);
  rc = pos_embed(m, h, T, err);
  if (!rc) rc = encoder_layers(m, h, T, err);
  if (rc) {
    free(h);
    return rc;
  }
  *states = h;
  *frames = T;
  return CLAP_OK;
}

clap_status hubert_encode(const hubert *m, const float *pcm, long n, float *out, clap_error *err) {
  if (!out) return clap_error_set(err, CLAP_ERR_ARG, "hubert_encode: out is NULL");
  float *h = NULL;
  int T = 0;
  clap_status rc = hubert_forward(m, pcm, n, &h, &T, err);
  if (rc) return rc;
  int H = m->cfg.hidden;
  for (int j = 0; j < H; j++) {
    double s = 0;
    for (int t = 0; t < T; t++) s += h[(size_t)t * H + j];
    out[j] = (float)(s / T);
  }
  free(h);
  return CLAP_OK;
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

const encoder_ops hubert_encoder_ops = {
    "hubert", ENCODER_AUDIO, enc_create, enc_audio, NULL, enc_destroy,
};
