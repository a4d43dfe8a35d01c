/* model — see model.h. */
#include "model.h"

#include "clap_rng.h"

#include <cblas.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define BLOB_MAGIC "CLAPMDL\0"
#define BLOB_FIXED 16                   /* magic + version + header length */
#define BLOB_MIN (BLOB_FIXED + 4)       /* ... + CRC, with an empty header */
#define MAX_TENSORS 13
#define EMBED_CHUNK 256                 /* rows per sgemm: bounds scratch memory */

typedef struct tensor_slot {
  char name[16];
  int rows, cols;
  size_t off;                           /* in floats, into the arena */
} tensor_slot;

/* Where every tensor lives, derived from the config alone: the one source of
** the tensor order for create, load, save and describe. */
typedef struct model_plan {
  int n, per_side;
  tensor_slot t[MAX_TENSORS];
  size_t nfloats;
} model_plan;

struct clap_model {
  model_config cfg;
  model_plan plan;
  float *arena;
  char *metadata;                       /* canonical JSON object text, malloc'd */
};

/* ---------------------------------------------------------------- utils */

static int mul_ok(size_t a, size_t b, size_t *r) {
  if (a && b > SIZE_MAX / a) return 0;
  *r = a * b;
  return 1;
}

static int add_ok(size_t a, size_t b, size_t *r) {
  if (b > SIZE_MAX - a) return 0;
  *r = a + b;
  return 1;
}

static uint32_t rd32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)v;
  p[1] = (unsigned char)(v >> 8);
  p[2] = (unsigned char)(v >> 16);
  p[3] = (unsigned char)(v >> 24);
}

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

/* A const table rather than a lazily built one: no global mutable state. */
uint32_t model_crc32(const void *data, size_t n) {
  /* zlib's crc32 takes a uInt length: feed it in pieces below 4 GiB */
  uLong c = crc32(0L, Z_NULL, 0);
  const unsigned char *p = data;
  while (n > 0) {
    uInt k = n > 0x40000000u ? 0x40000000u : (uInt)n;
    c = crc32(c, p, k);
    p += k;
    n -= k;
  }
  return (uint32_t)c;
}

/* ------------------------------------------------------------ the PRNG */

/* u in [0, 1) from the top 24 bits of a clap_rng draw: exact in float and
** double alike. Not clap_rng_uniform (53 bits): the initial weights of every
** seed are pinned, so this stays as model_create has always drawn them. */
static double uniform24(clap_rng *r) {
  return (double)(clap_rng_next(r) >> 40) * (1.0 / 16777216.0);
}

/* --------------------------------------------------------------- config */

static clap_status check_name(const char *field, const char *s, clap_status code,
                              clap_error *err) {
  size_t n = strnlen(s, sizeof ((model_config *)0)->audio_encoder);
  if (n == 0) return clap_error_set(err, code, "config.%s is empty", field);
  if (n >= sizeof ((model_config *)0)->audio_encoder)
    return clap_error_set(err, code, "config.%s is not NUL-terminated within 64 bytes", field);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c > 0x7e)
      return clap_error_set(err, code,
                            "config.%s has a non-printable byte 0x%02x at offset %zu", field,
                            c, i);
  }
  return CLAP_OK;
}

static clap_status check_dim(const char *field, int v, clap_error *err) {
  if (v < 1 || v > MODEL_MAX_DIM)
    return clap_error_set(err, CLAP_ERR_RANGE, "config.%s = %d is outside 1..%d", field, v,
                          MODEL_MAX_DIM);
  return CLAP_OK;
}

/* name_code: ARG when the caller built the config, FORMAT when a blob did. */
static clap_status config_check(const model_config *c, clap_status name_code, clap_error *err) {
  clap_status rc;
  if ((rc = check_name("audio_encoder", c->audio_encoder, name_code, err))) return rc;
  if ((rc = check_name("text_encoder", c->text_encoder, name_code, err))) return rc;
  if ((rc = check_dim("audio_in", c->audio_in, err))) return rc;
  if ((rc = check_dim("text_in", c->text_in, err))) return rc;
  if ((rc = check_dim("dim", c->dim, err))) return rc;
  if (c->head == MODEL_HEAD_MLP) return check_dim("hidden", c->hidden, err);
  if (c->head != MODEL_HEAD_LINEAR)
    return clap_error_set(err, CLAP_ERR_RANGE, "config.head = %d is neither linear (0) nor mlp (1)",
                          (int)c->head);
  if (c->hidden != 0)
    return clap_error_set(err, CLAP_ERR_RANGE,
                          "config.hidden = %d but a linear head has no hidden layer (expected 0)",
                          c->hidden);
  return CLAP_OK;
}

static void plan_add(model_plan *p, const char *prefix, const char *name, int rows, int cols) {
  tensor_slot *t = &p->t[p->n++];
  strcpy(t->name, prefix);
  strcat(t->name, name);
  t->rows = rows;
  t->cols = cols;
  t->off = p->nfloats;
  /* Dimensions are <= MODEL_MAX_DIM (checked first), so the total stays
  ** below 2^31 floats even for a 32-bit size_t; byte counts use mul_ok. */
  p->nfloats += (size_t)rows * (size_t)cols;
}

static void plan_side(model_plan *p, const model_config *c, const char *prefix, int in) {
  int mlp = c->head == MODEL_HEAD_MLP, out1 = mlp ? c->hidden : c->dim;
  plan_add(p, prefix, "mean", in, 1);
  plan_add(p, prefix, "std", in, 1);
  plan_add(p, prefix, "w1", out1, in);
  plan_add(p, prefix, "b1", out1, 1);
  if (mlp) {
    plan_add(p, prefix, "w2", c->dim, c->hidden);
    plan_add(p, prefix, "b2", c->dim, 1);
  }
}

static void plan_make(model_plan *p, const model_config *c) {
  memset(p, 0, sizeof *p);
  plan_side(p, c, "audio.", c->audio_in);
  p->per_side = p->n;
  plan_side(p, c, "text.", c->text_in);
  plan_add(p, "", "log_scale", 1, 1);
}

static float *slot_data(const clap_model *m, int i) { return m->arena + m->plan.t[i].off; }
static size_t slot_len(const tensor_slot *t) { return (size_t)t->rows * (size_t)t->cols; }

/* Tensor k of a side: 0 mean, 1 std, 2 w1, 3 b1, 4 w2, 5 b2. */
static float *side_tensor(const clap_model *m, model_side side, int k) {
  return slot_data(m, (side == MODEL_TEXT ? m->plan.per_side : 0) + k);
}

static float *log_scale_ptr(const clap_model *m) { return slot_data(m, m->plan.n - 1); }

/* ------------------------------------------------------ create and free */

static clap_status model_alloc(const model_config *cfg, clap_model **out, clap_error *err) {
  clap_model *m = calloc(1, sizeof *m);
  if (!m) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory allocating a model");
  m->cfg = *cfg;
  plan_make(&m->plan, cfg);
  size_t nfloats = m->plan.nfloats;
  if (!(m->arena = calloc(nfloats, sizeof(float)))) {
    free(m);
    return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory allocating %zu model parameters",
                          nfloats);
  }
  if (!(m->metadata = dup_str("{}"))) {
    model_free(m);
    return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory allocating a model");
  }
  *out = m;
  return CLAP_OK;
}

static void xavier_fill(float *w, int rows, int cols, clap_rng *r) {
  double a = sqrt(6.0 / ((double)rows + (double)cols));
  size_t n = (size_t)rows * (size_t)cols;
  for (size_t i = 0; i < n; i++) w[i] = (float)((2.0 * uniform24(r) - 1.0) * a);
}

clap_status model_create(const model_config *cfg, uint64_t seed, clap_model **out,
                         clap_error *err) {
  if (!out) return clap_error_set(err, CLAP_ERR_ARG, "model_create: out is NULL");
  *out = NULL;
  if (!cfg) return clap_error_set(err, CLAP_ERR_ARG, "model_create: config is NULL");
  model_config c = *cfg;
  if (c.head == MODEL_HEAD_LINEAR) c.hidden = 0;
  clap_status rc = config_check(&c, CLAP_ERR_ARG, err);
  if (rc) return rc;
  clap_model *m;
  if ((rc = model_alloc(&c, &m, err))) return rc;
  clap_rng r;
  clap_rng_seed(&r, seed);
  for (int i = 0; i < m->plan.n; i++) {
    tensor_slot *t = &m->plan.t[i];
    const char *leaf = strchr(t->name, '.');
    leaf = leaf ? leaf + 1 : t->name;
    float *d = slot_data(m, i);
    if (!strcmp(leaf, "std"))
      for (size_t k = 0; k < slot_len(t); k++) d[k] = 1.0f;
    else if (leaf[0] == 'w')
      xavier_fill(d, t->rows, t->cols, &r);
  }
  *log_scale_ptr(m) = (float)log(1.0 / 0.07);
  *out = m;
  return CLAP_OK;
}

void model_free(clap_model *m) {
  if (!m) return;
  free(m->arena);
  free(m->metadata);
  free(m);
}

/* ------------------------------------------------------------ accessors */

const model_config *model_get_config(const clap_model *m) { return m ? &m->cfg : NULL; }

float model_log_scale(const clap_model *m) { return m ? *log_scale_ptr(m) : 0.0f; }

void model_set_log_scale(clap_model *m, float v) {
  if (m) *log_scale_ptr(m) = v;
}

const char *model_metadata(const clap_model *m) { return m ? m->metadata : NULL; }

clap_status model_set_metadata(clap_model *m, const char *json, clap_error *err) {
  if (!m) return clap_error_set(err, CLAP_ERR_ARG, "model_set_metadata: model is NULL");
  if (!json) json = "{}";
  const char *end = NULL;
  cJSON *j = cJSON_ParseWithOpts(json, &end, 1);
  if (!j) {
    size_t at = end && end >= json ? (size_t)(end - json) : 0;
    return clap_error_set(err, CLAP_ERR_FORMAT, "metadata is not valid JSON (at byte %zu)", at);
  }
  if (!cJSON_IsObject(j)) {
    cJSON_Delete(j);
    return clap_error_set(err, CLAP_ERR_ARG, "metadata must be a JSON object");
  }
  char *printed = cJSON_PrintUnformatted(j);
  cJSON_Delete(j);
  char *copy = printed ? dup_str(printed) : NULL;
  cJSON_free(printed);
  if (!copy) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory copying metadata");
  free(m->metadata);
  m->metadata = copy;
  return CLAP_OK;
}

static clap_status check_side(const clap_model *m, model_side side, const char *fn,
                              clap_error *err) {
  if (!m) return clap_error_set(err, CLAP_ERR_ARG, "%s: model is NULL", fn);
  if (side != MODEL_AUDIO && side != MODEL_TEXT)
    return clap_error_set(err, CLAP_ERR_ARG, "%s: side %d is neither audio (0) nor text (1)", fn,
                          (int)side);
  return CLAP_OK;
}

clap_status model_set_standardisation(clap_model *m, model_side side, const float *mean,
                                      const float *std, clap_error *err) {
  clap_status rc = check_side(m, side, "model_set_standardisation", err);
  if (rc) return rc;
  if (!mean || !std)
    return clap_error_set(err, CLAP_ERR_ARG, "model_set_standardisation: mean or std is NULL");
  int in = side == MODEL_TEXT ? m->cfg.text_in : m->cfg.audio_in;
  const char *name = side == MODEL_TEXT ? "text" : "audio";
  /* Check everything first so a bad call leaves the model unchanged. */
  for (int i = 0; i < in; i++) {
    if (!isfinite(mean[i]))
      return clap_error_set(err, CLAP_ERR_RANGE, "%s mean[%d] is not finite", name, i);
    if (!isfinite(std[i]))
      return clap_error_set(err, CLAP_ERR_RANGE, "%s std[%d] is not finite", name, i);
  }
  float *mu = side_tensor(m, side, 0), *sd = side_tensor(m, side, 1);
  for (int i = 0; i < in; i++) {
    mu[i] = mean[i];
    sd[i] = std[i] > 0 ? std[i] : 1.0f;
  }
  return CLAP_OK;
}

float *model_tensor(clap_model *m, const char *name, int *rows, int *cols) {
  if (rows) *rows = 0;
  if (cols) *cols = 0;
  if (!m || !name) return NULL;
  for (int i = 0; i < m->plan.n; i++) {
    if (strcmp(m->plan.t[i].name, name)) continue;
    if (rows) *rows = m->plan.t[i].rows;
    if (cols) *cols = m->plan.t[i].cols;
    return slot_data(m, i);
  }
  return NULL;
}

int model_tensor_count(const clap_model *m) { return m ? m->plan.n : 0; }

const char *model_tensor_name(const clap_model *m, int i) {
  return m && i >= 0 && i < m->plan.n ? m->plan.t[i].name : NULL;
}

/* ------------------------------------------------------------ embedding */

/* y[rows x out] = x[rows x in] . w[out x in]^T + b, w in PyTorch layout. */
static void affine(const float *x, int rows, int in, const float *w, const float *b, int out,
                   float *y) {
  for (int r = 0; r < rows; r++) memcpy(y + (size_t)r * out, b, sizeof(float) * (size_t)out);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, out, in, 1.0f, x, in, w, in, 1.0f,
              y, out);
}

static void gelu(float *v, size_t n) {
  for (size_t i = 0; i < n; i++) {
    double x = v[i];
    v[i] = (float)(0.5 * x * (1.0 + erf(x * 0.70710678118654752440)));
  }
}

static clap_status normalise_rows(float *y, int rows, int dim, int row0, clap_error *err) {
  for (int r = 0; r < rows; r++) {
    float *v = y + (size_t)r * dim;
    double ss = 0;
    for (int j = 0; j < dim; j++) ss += (double)v[j] * v[j];
    if (!isfinite(ss))
      return clap_error_set(err, CLAP_ERR_RANGE,
                            "row %d: the embedding is not finite (overflow in the head)",
                            row0 + r);
    if (ss == 0)
      return clap_error_set(err, CLAP_ERR_RANGE,
                            "row %d: the projection is zero and cannot be L2-normalised",
                            row0 + r);
    double inv = 1.0 / sqrt(ss);
    for (int j = 0; j < dim; j++) v[j] = (float)(v[j] * inv);
  }
  return CLAP_OK;
}

static clap_status standardise(const clap_model *m, model_side side, const float *x, int rows,
                               int in, int row0, float *z, clap_error *err) {
  const float *mu = side_tensor(m, side, 0), *sd = side_tensor(m, side, 1);
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * in;
    float *zr = z + (size_t)r * in;
    for (int j = 0; j < in; j++) {
      if (!isfinite(xr[j]))
        return clap_error_set(err, CLAP_ERR_RANGE, "row %d, column %d: feature is not finite",
                              row0 + r, j);
      zr[j] = (xr[j] - mu[j]) / sd[j];
    }
  }
  return CLAP_OK;
}

clap_status model_embed(const clap_model *m, model_side side, const float *x, int n, float *out,
                        clap_error *err) {
  clap_status rc = check_side(m, side, "model_embed", err);
  if (rc) return rc;
  if (n < 0) return clap_error_set(err, CLAP_ERR_ARG, "model_embed: n = %d is negative", n);
  if (n == 0) return CLAP_OK;
  if (!x || !out) return clap_error_set(err, CLAP_ERR_ARG, "model_embed: x or out is NULL");
  const model_config *c = &m->cfg;
  int in = side == MODEL_TEXT ? c->text_in : c->audio_in, dim = c->dim;
  int mlp = c->head == MODEL_HEAD_MLP;
  int chunk = n < EMBED_CHUNK ? n : EMBED_CHUNK;
  float *z = malloc(sizeof(float) * (size_t)chunk * (size_t)in);
  float *h = mlp ? malloc(sizeof(float) * (size_t)chunk * (size_t)c->hidden) : NULL;
  if (!z || (mlp && !h)) {
    rc = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory embedding %d rows", n);
    goto done;
  }
  const float *w1 = side_tensor(m, side, 2), *b1 = side_tensor(m, side, 3);
  for (int r0 = 0; r0 < n; r0 += chunk) {
    int rows = n - r0 < chunk ? n - r0 : chunk;
    float *y = out + (size_t)r0 * dim;
    if ((rc = standardise(m, side, x + (size_t)r0 * in, rows, in, r0, z, err))) goto done;
    if (mlp) {
      affine(z, rows, in, w1, b1, c->hidden, h);
      gelu(h, (size_t)rows * c->hidden);
      affine(h, rows, c->hidden, side_tensor(m, side, 4), side_tensor(m, side, 5), dim, y);
    } else {
      affine(z, rows, in, w1, b1, dim, y);
    }
    if ((rc = normalise_rows(y, rows, dim, r0, err))) goto done;
  }
done:
  free(z);
  free(h);
  return rc;
}

/* ---------------------------------------------------------- header JSON */

static cJSON *config_json(const model_config *c) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  int ok = cJSON_AddStringToObject(o, "audio_encoder", c->audio_encoder) &&
           cJSON_AddStringToObject(o, "text_encoder", c->text_encoder) &&
           cJSON_AddNumberToObject(o, "audio_in", c->audio_in) &&
           cJSON_AddNumberToObject(o, "text_in", c->text_in) &&
           cJSON_AddNumberToObject(o, "dim", c->dim) &&
           cJSON_AddStringToObject(o, "head", c->head == MODEL_HEAD_MLP ? "mlp" : "linear") &&
           cJSON_AddNumberToObject(o, "hidden", c->hidden);
  if (!ok) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

static cJSON *tensors_json(const model_plan *p) {
  cJSON *a = cJSON_CreateArray();
  for (int i = 0; a && i < p->n; i++) {
    cJSON *t = cJSON_CreateObject();
    if (!t || !cJSON_AddItemToArray(a, t) || !cJSON_AddStringToObject(t, "name", p->t[i].name) ||
        !cJSON_AddNumberToObject(t, "rows", p->t[i].rows) ||
        !cJSON_AddNumberToObject(t, "cols", p->t[i].cols)) {
      if (t && cJSON_GetArraySize(a) <= i) cJSON_Delete(t);
      cJSON_Delete(a);
      return NULL;
    }
  }
  return a;
}

/* Add item under key, or delete it: cJSON_AddItemToObject copies the key and,
** when that allocation fails, returns false and leaves the item unowned. */
static int add_or_drop(cJSON *obj, const char *key, cJSON *item) {
  if (cJSON_AddItemToObject(obj, key, item)) return 1;
  cJSON_Delete(item);
  return 0;
}

/* The header as a cJSON tree: config, metadata, tensors - in that order;
** NULL when out of memory. */
static cJSON *header_tree(const clap_model *m) {
  cJSON *root = cJSON_CreateObject(), *meta = cJSON_Parse(m->metadata);
  cJSON *cfg = config_json(&m->cfg), *ts = tensors_json(&m->plan);
  if (!root || !meta || !cfg || !ts) {
    cJSON_Delete(root);
    cJSON_Delete(meta);
    cJSON_Delete(cfg);
    cJSON_Delete(ts);
    return NULL;
  }
  int ok = add_or_drop(root, "config", cfg);
  ok = add_or_drop(root, "metadata", meta) && ok;
  ok = add_or_drop(root, "tensors", ts) && ok;
  if (!ok) {
    cJSON_Delete(root);
    return NULL;
  }
  return root;
}

/* malloc'd canonical header text, or NULL when out of memory. */
static char *header_text(const clap_model *m, size_t *len) {
  cJSON *root = header_tree(m);
  char *p = root ? cJSON_PrintUnformatted(root) : NULL;
  cJSON_Delete(root);
  char *s = p ? dup_str(p) : NULL;
  cJSON_free(p);
  if (s) *len = strlen(s);
  return s;
}

char *model_describe_json(const clap_model *m) {
  if (!m) return NULL;
  cJSON *root = cJSON_CreateObject();
  if (!root) return NULL;
  int ok = cJSON_AddNumberToObject(root, "blob_version", MODEL_BLOB_VERSION) != NULL;
  cJSON *tree = header_tree(m);
  if (!tree) {
    cJSON_Delete(root);
    return NULL;
  }
  /* Move config, metadata and tensors over, keeping their order. */
  while (tree->child) {
    cJSON *item = cJSON_DetachItemViaPointer(tree, tree->child);
    ok = add_or_drop(root, item->string, item) && ok;
  }
  cJSON_Delete(tree);
  size_t trainable = 1, total = m->plan.nfloats;
  for (int i = 0; i < m->plan.n - 1; i++) {
    const char *leaf = strchr(m->plan.t[i].name, '.') + 1;
    if (leaf[0] == 'w' || leaf[0] == 'b') trainable += slot_len(&m->plan.t[i]);
  }
  ok = ok && cJSON_AddNumberToObject(root, "parameters", (double)trainable) &&
       cJSON_AddNumberToObject(root, "stored_values", (double)total);
  char *p = ok ? cJSON_Print(root) : NULL; /* never a card missing a field */
  cJSON_Delete(root);
  char *s = p ? dup_str(p) : NULL;
  cJSON_free(p);
  return s;
}

/* ----------------------------------------------------------------- save */

/* Every value a blob may hold: finite, std > 0 so standardising is defined,
** and log_scale in 0..MODEL_LOG_SCALE_MAX (compared as the float the trainer
** clamps to), so the similarity scale stays finite and meaningful. */
static clap_status tensors_check(const clap_model *m, clap_error *err) {
  for (int i = 0; i < m->plan.n; i++) {
    const tensor_slot *t = &m->plan.t[i];
    const float *d = slot_data(m, i);
    int is_std = strstr(t->name, ".std") != NULL;
    int is_scale = !strcmp(t->name, "log_scale");
    for (size_t k = 0; k < slot_len(t); k++) {
      if (!isfinite(d[k]))
        return clap_error_set(err, CLAP_ERR_RANGE, "tensor %s[%zu] is not finite", t->name, k);
      if (is_scale && !(d[k] >= 0 && d[k] <= (float)MODEL_LOG_SCALE_MAX))
        return clap_error_set(err, CLAP_ERR_RANGE,
                              "tensor log_scale = %g is outside 0..%.6g (the similarity scale "
                              "exp(log_scale) is at most 100)",
                              (double)d[k], MODEL_LOG_SCALE_MAX);
      if (is_std && !(d[k] > 0))
        return clap_error_set(err, CLAP_ERR_RANGE, "tensor %s[%zu] = %g is not positive",
                              t->name, k, (double)d[k]);
    }
  }
  return CLAP_OK;
}

clap_status model_save(const clap_model *m, unsigned char **blob, size_t *nbytes,
                       clap_error *err) {
  if (!m || !blob || !nbytes)
    return clap_error_set(err, CLAP_ERR_ARG, "model_save: model, blob or nbytes is NULL");
  *blob = NULL;
  *nbytes = 0;
  /* Refuse to write what model_load would reject. */
  clap_status rc = tensors_check(m, err);
  if (rc) {
    clap_error_prefix(err, "cannot save the model: ");
    return rc;
  }
  size_t hlen, tbytes, total;
  char *header = header_text(m, &hlen);
  if (!header) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory writing the header");
  if (hlen > UINT32_MAX || !mul_ok(m->plan.nfloats, 4, &tbytes) ||
      !add_ok(BLOB_MIN, hlen, &total) || !add_ok(total, tbytes, &total)) {
    free(header);
    return clap_error_set(err, CLAP_ERR_RANGE, "model is too large for a blob");
  }
  unsigned char *b = malloc(total);
  if (!b) {
    free(header);
    return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory for a %zu-byte model blob", total);
  }
  memcpy(b, BLOB_MAGIC, 8);
  wr32(b + 8, MODEL_BLOB_VERSION);
  wr32(b + 12, (uint32_t)hlen);
  memcpy(b + BLOB_FIXED, header, hlen);
  free(header);
  unsigned char *p = b + BLOB_FIXED + hlen;
  for (size_t i = 0; i < m->plan.nfloats; i++, p += 4) {
    uint32_t u;
    memcpy(&u, &m->arena[i], 4);
    wr32(p, u);
  }
  wr32(p, model_crc32(b, total - 4));
  *blob = b;
  *nbytes = total;
  return CLAP_OK;
}

/* ----------------------------------------------------------------- load */

/* A blob's string echoed in a message: at most 40 bytes, non-printable
** bytes as '?', so a corrupt blob cannot put control bytes or invalid UTF-8
** into the text a terminal or sqlite3_result_error shows. */
static const char *echo(const char *s, char buf[41]) {
  size_t i = 0;
  for (; s[i] && i < 40; i++) buf[i] = s[i] >= 0x20 && s[i] <= 0x7e ? s[i] : '?';
  buf[i] = 0;
  return buf;
}

static clap_status json_int(const cJSON *obj, const char *key, const char *where, int lo, int hi,
                            int *out, clap_error *err) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!v) return clap_error_set(err, CLAP_ERR_FORMAT, "model header: %s%s is missing", where, key);
  if (!cJSON_IsNumber(v))
    return clap_error_set(err, CLAP_ERR_FORMAT, "model header: %s%s is not a number", where, key);
  double d = v->valuedouble;
  if (!(d >= lo && d <= hi) || d != floor(d))
    return clap_error_set(err, CLAP_ERR_RANGE, "model header: %s%s = %g is not an integer in %d..%d",
                          where, key, d, lo, hi);
  *out = (int)d;
  return CLAP_OK;
}

static clap_status json_name(const cJSON *obj, const char *key, char *dst, size_t cap,
                             clap_error *err) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!v) return clap_error_set(err, CLAP_ERR_FORMAT, "model header: config.%s is missing", key);
  if (!cJSON_IsString(v) || !v->valuestring)
    return clap_error_set(err, CLAP_ERR_FORMAT, "model header: config.%s is not a string", key);
  size_t n = strlen(v->valuestring);
  if (n >= cap)
    return clap_error_set(err, CLAP_ERR_FORMAT,
                          "model header: config.%s is %zu bytes; names must be shorter than %zu",
                          key, n, cap);
  memcpy(dst, v->valuestring, n + 1);
  return CLAP_OK;
}

static clap_status parse_config(const cJSON *root, model_config *c, clap_error *err) {
  const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, "config");
  if (!cJSON_IsObject(o))
    return clap_error_set(err, CLAP_ERR_FORMAT, "model header: config is missing or not an object");
  memset(c, 0, sizeof *c);
  clap_status rc;
  if ((rc = json_name(o, "audio_encoder", c->audio_encoder, sizeof c->audio_encoder, err)) ||
      (rc = json_name(o, "text_encoder", c->text_encoder, sizeof c->text_encoder, err)) ||
      (rc = json_int(o, "audio_in", "config.", 1, MODEL_MAX_DIM, &c->audio_in, err)) ||
      (rc = json_int(o, "text_in", "config.", 1, MODEL_MAX_DIM, &c->text_in, err)) ||
      (rc = json_int(o, "dim", "config.", 1, MODEL_MAX_DIM, &c->dim, err)))
    return rc;
  const cJSON *h = cJSON_GetObjectItemCaseSensitive(o, "head");
  if (!h) return clap_error_set(err, CLAP_ERR_FORMAT, "model header: config.head is missing");
  if (!cJSON_IsString(h) || !h->valuestring)
    return clap_error_set(err, CLAP_ERR_FORMAT, "model header: config.head is not a string");
  if (!strcmp(h->valuestring, "linear"))
    c->head = MODEL_HEAD_LINEAR;
  else if (!strcmp(h->valuestring, "mlp"))
    c->head = MODEL_HEAD_MLP;
  else
    return clap_error_set(err, CLAP_ERR_RANGE,
                          "model header: config.head = \"%s\" is neither \"linear\" nor \"mlp\"",
                          echo(h->valuestring, (char[41]){0}));
  if ((rc = json_int(o, "hidden", "config.", 0, MODEL_MAX_DIM, &c->hidden, err))) return rc;
  if ((rc = config_check(c, CLAP_ERR_FORMAT, err))) {
    clap_error_prefix(err, "model header: ");
    return rc;
  }
  return CLAP_OK;
}

static clap_status parse_table(const cJSON *root, const model_plan *p, clap_error *err) {
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, "tensors");
  if (!cJSON_IsArray(a))
    return clap_error_set(err, CLAP_ERR_FORMAT, "model header: tensors is missing or not an array");
  int n = cJSON_GetArraySize(a);
  if (n != p->n)
    return clap_error_set(err, CLAP_ERR_FORMAT,
                          "model header lists %d tensors; the config implies %d", n, p->n);
  int i = 0;
  for (const cJSON *t = a->child; t; t = t->next, i++) {
    const tensor_slot *want = &p->t[i];
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(t, "name");
    if (!cJSON_IsString(name) || !name->valuestring)
      return clap_error_set(err, CLAP_ERR_FORMAT, "model header: tensor %d has no name", i);
    if (strcmp(name->valuestring, want->name))
      return clap_error_set(err, CLAP_ERR_FORMAT,
                            "model header: tensor %d is \"%s\", expected \"%s\"", i,
                            echo(name->valuestring, (char[41]){0}), want->name);
    int rows, cols;
    char where[32];
    snprintf(where, sizeof where, "%s.", want->name);
    clap_status rc;
    if ((rc = json_int(t, "rows", where, 0, MODEL_MAX_DIM, &rows, err)) ||
        (rc = json_int(t, "cols", where, 0, MODEL_MAX_DIM, &cols, err)))
      return rc;
    if (rows != want->rows || cols != want->cols)
      return clap_error_set(err, CLAP_ERR_FORMAT,
                            "model header: tensor %s is %dx%d; the config implies %dx%d",
                            want->name, rows, cols, want->rows, want->cols);
  }
  return CLAP_OK;
}

static clap_status parse_metadata(const cJSON *root, clap_model *m, clap_error *err) {
  const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "metadata");
  if (!cJSON_IsObject(meta))
    return clap_error_set(err, CLAP_ERR_FORMAT, "model header: metadata is missing or not an object");
  char *p = cJSON_PrintUnformatted(meta);
  char *s = p ? dup_str(p) : NULL;
  cJSON_free(p);
  if (!s) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory copying metadata");
  free(m->metadata);
  m->metadata = s;
  return CLAP_OK;
}

/* The checks that need no JSON: size, magic, version, CRC, header length. */
static clap_status check_frame(const unsigned char *b, size_t n, uint32_t *hlen, clap_error *err) {
  if (n < BLOB_MIN)
    return clap_error_set(err, CLAP_ERR_FORMAT,
                          "model blob is %zu bytes, shorter than the %d-byte minimum", n, BLOB_MIN);
  if (memcmp(b, BLOB_MAGIC, 8))
    return clap_error_set(err, CLAP_ERR_FORMAT, "not a model blob: the magic is not \"CLAPMDL\\0\"");
  uint32_t v = rd32(b + 8);
  if (v == 0) return clap_error_set(err, CLAP_ERR_FORMAT, "model blob version 0 is invalid");
  if (v > MODEL_BLOB_VERSION)
    return clap_error_set(err, CLAP_ERR_UNSUPPORTED,
                          "model blob version %u is newer than this build supports (%d)",
                          (unsigned)v, MODEL_BLOB_VERSION);
  if (rd32(b + n - 4) != model_crc32(b, n - 4))
    return clap_error_set(err, CLAP_ERR_FORMAT, "checksum mismatch: blob is corrupt");
  *hlen = rd32(b + 12);
  if (*hlen > n - BLOB_MIN)
    return clap_error_set(err, CLAP_ERR_FORMAT,
                          "model header length %u runs past the end of the blob (%zu bytes left)",
                          (unsigned)*hlen, n - BLOB_MIN);
  return CLAP_OK;
}

/* Parses a NUL-terminated copy, so the parser cannot run past the header
** even if it ignored the length it is given. */
static cJSON *parse_header(const unsigned char *h, uint32_t hlen, clap_error *err) {
  char *copy = malloc((size_t)hlen + 1);
  if (!copy) {
    clap_error_set(err, CLAP_ERR_NOMEM, "out of memory reading the model header");
    return NULL;
  }
  memcpy(copy, h, hlen);
  copy[hlen] = 0;
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(copy, hlen, &end, 0);
  size_t at = end && end >= copy ? (size_t)(end - copy) : 0;
  free(copy);
  if (!root) {
    clap_error_set(err, CLAP_ERR_FORMAT, "model header is not valid JSON (at byte %zu of %u)", at,
                   (unsigned)hlen);
    return NULL;
  }
  if (!cJSON_IsObject(root) || at != hlen) {
    cJSON_Delete(root);
    clap_error_set(err, CLAP_ERR_FORMAT, "model header is not a single JSON object");
    return NULL;
  }
  return root;
}

/* The byte count was checked against the table before allocating. */
static clap_status read_tensors(clap_model *m, const unsigned char *p, clap_error *err) {
  for (size_t i = 0; i < m->plan.nfloats; i++, p += 4) {
    uint32_t u = rd32(p);
    memcpy(&m->arena[i], &u, 4);
  }
  return tensors_check(m, err);
}

static clap_status check_canonical(const clap_model *m, const unsigned char *h, uint32_t hlen,
                                   clap_error *err) {
  size_t len;
  char *want = header_text(m, &len);
  if (!want) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory checking the header");
  int same = len == hlen && !memcmp(want, h, len);
  free(want);
  if (!same)
    return clap_error_set(err, CLAP_ERR_FORMAT,
                          "model header is not in the canonical form model_save writes "
                          "(extra keys, whitespace or key order)");
  return CLAP_OK;
}

/* Everything after the frame; the model is freed by the caller on error. */
static clap_status load_body(const unsigned char *b, size_t n, uint32_t hlen, clap_model **out,
                             clap_error *err) {
  const unsigned char *h = b + BLOB_FIXED;
  cJSON *root = parse_header(h, hlen, err);
  if (!root) return err ? err->code : CLAP_ERR_FORMAT;
  model_config cfg;
  model_plan plan;
  clap_status rc = parse_config(root, &cfg, err);
  if (!rc) {
    plan_make(&plan, &cfg);
    rc = parse_table(root, &plan, err);
  }
  /* Only now is the size known to match the blob; allocate after checking. */
  size_t avail = n - BLOB_MIN - hlen, need;
  if (!rc && (!mul_ok(plan.nfloats, 4, &need) || need != avail))
    rc = clap_error_set(err, CLAP_ERR_FORMAT,
                        "tensor data is %zu bytes; the tensor table needs %zu floats",
                        avail, plan.nfloats);
  if (!rc) rc = model_alloc(&cfg, out, err);
  if (!rc) rc = parse_metadata(root, *out, err);
  cJSON_Delete(root);
  if (!rc) rc = read_tensors(*out, h + hlen, err);
  if (!rc) rc = check_canonical(*out, h, hlen, err);
  return rc;
}

clap_status model_load(const void *blob, size_t nbytes, clap_model **out, clap_error *err) {
  if (!out) return clap_error_set(err, CLAP_ERR_ARG, "model_load: out is NULL");
  *out = NULL;
  if (!blob && nbytes) return clap_error_set(err, CLAP_ERR_ARG, "model_load: blob is NULL");
  const unsigned char *b = blob;
  uint32_t hlen = 0;
  clap_status rc = check_frame(b, nbytes, &hlen, err);
  if (rc) return rc;
  clap_model *m = NULL;
  rc = load_body(b, nbytes, hlen, &m, err);
  if (rc) {
    model_free(m);
    return rc;
  }
  *out = m;
  return CLAP_OK;
}
