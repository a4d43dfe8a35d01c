/* clap_train — see clap_train.h. */
#include "clap_train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clap_loss.h"
#include "dense.h"

#define MAX_TRAINABLE 16   /* a model has at most 9 */

/* ------------------------------------------------------ standardisation */

clap_status clap_train_standardise(clap_model *m, model_side side, const float *x, int n,
                                   clap_error *err) {
  if (!m || !x) return clap_error_set(err, CLAP_ERR_ARG, "clap_train_standardise: model or x is NULL");
  if (side != MODEL_AUDIO && side != MODEL_TEXT)
    return clap_error_set(err, CLAP_ERR_ARG, "clap_train_standardise: side %d is neither audio nor text",
                          (int)side);
  if (n < 1) return clap_error_set(err, CLAP_ERR_ARG, "clap_train_standardise: n = %d rows; need at least 1", n);
  const model_config *c = model_get_config(m);
  int in = side == MODEL_TEXT ? c->text_in : c->audio_in;
  double *sum = calloc((size_t)in, sizeof(double)), *ss = calloc((size_t)in, sizeof(double));
  float *mean = malloc(sizeof(float) * (size_t)in), *sd = malloc(sizeof(float) * (size_t)in);
  clap_status rc = CLAP_OK;
  if (!sum || !ss || !mean || !sd) {
    rc = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory for standardisation statistics");
    goto done;
  }
  for (int r = 0; r < n; r++)
    for (int j = 0; j < in; j++) {
      float v = x[(size_t)r * in + j];
      if (!isfinite(v)) {
        rc = clap_error_set(err, CLAP_ERR_RANGE, "row %d, column %d: feature is not finite", r, j);
        goto done;
      }
      sum[j] += v;
    }
  for (int j = 0; j < in; j++) sum[j] /= n;
  /* Second pass about the mean: no cancellation for large offsets. */
  for (int r = 0; r < n; r++)
    for (int j = 0; j < in; j++) {
      double dv = x[(size_t)r * in + j] - sum[j];
      ss[j] += dv * dv;
    }
  for (int j = 0; j < in; j++) {
    mean[j] = (float)sum[j];
    sd[j] = (float)sqrt(ss[j] / n); /* 0 for a constant feature: stored as 1 */
  }
  rc = model_set_standardisation(m, side, mean, sd, err);
done:
  free(sum);
  free(ss);
  free(mean);
  free(sd);
  return rc;
}

/* ------------------------------------------------------------ text pool */

struct clap_text_pool {
  const float *features;
  int n, dim;
  int *task, *cls;
  int *order;       /* rows sorted by (task, class, not original, row);
                    ** a row that is not an original is stored as -1 - row */
};

static int pool_key_cmp(const clap_text_pool *p, int a, int t, int c) {
  if (p->task[a] != t) return p->task[a] < t ? -1 : 1;
  if (p->cls[a] != c) return p->cls[a] < c ? -1 : 1;
  return 0;
}

/* rank 0 sorts a group's marked original first; ties fall back to the row. */
typedef struct pool_sort_item {
  int task, cls, rank, row;
} pool_sort_item;

static int pool_sort_cmp(const void *x, const void *y) {
  const pool_sort_item *a = x, *b = y;
  if (a->task != b->task) return a->task < b->task ? -1 : 1;
  if (a->cls != b->cls) return a->cls < b->cls ? -1 : 1;
  if (a->rank != b->rank) return a->rank < b->rank ? -1 : 1;
  return a->row < b->row ? -1 : a->row > b->row;
}

void clap_text_pool_free(clap_text_pool *p) {
  if (!p) return;
  free(p->task);
  free(p->cls);
  free(p->order);
  free(p);
}

clap_status clap_text_pool_create(const float *features, int n, int text_in, const int *task,
                                  const int *cls, const unsigned char *original,
                                  clap_text_pool **out, clap_error *err) {
  if (!out) return clap_error_set(err, CLAP_ERR_ARG, "clap_text_pool_create: out is NULL");
  *out = NULL;
  if (n < 1 || text_in < 1)
    return clap_error_set(err, CLAP_ERR_ARG, "clap_text_pool_create: n = %d, text_in = %d; both must be positive",
                          n, text_in);
  if (!features || !task || !cls)
    return clap_error_set(err, CLAP_ERR_ARG, "clap_text_pool_create: features, task or cls is NULL");
  for (int r = 0; r < n; r++)
    if (task[r] < 0 || cls[r] < 0)
      return clap_error_set(err, CLAP_ERR_ARG,
                            "clap_text_pool_create: row %d: task %d, class %d; both must be >= 0", r,
                            task[r], cls[r]);
  clap_text_pool *p = calloc(1, sizeof *p);
  pool_sort_item *items = malloc(sizeof *items * (size_t)n);
  if (p) {
    p->task = malloc(sizeof(int) * (size_t)n);
    p->cls = malloc(sizeof(int) * (size_t)n);
    p->order = malloc(sizeof(int) * (size_t)n);
  }
  if (!p || !items || !p->task || !p->cls || !p->order) {
    clap_text_pool_free(p);
    free(items);
    return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory for a %d-row text pool", n);
  }
  p->features = features;
  p->n = n;
  p->dim = text_in;
  memcpy(p->task, task, sizeof(int) * (size_t)n);
  memcpy(p->cls, cls, sizeof(int) * (size_t)n);
  for (int r = 0; r < n; r++) {
    /* Without flags every row counts as original, so the first one wins. */
    int rank = original ? !original[r] : 0;
    items[r] = (pool_sort_item){task[r], cls[r], rank, r};
  }
  qsort(items, (size_t)n, sizeof *items, pool_sort_cmp);
  for (int r = 0; r < n; r++) p->order[r] = items[r].rank ? -1 - items[r].row : items[r].row;
  free(items);
  *out = p;
  return CLAP_OK;
}

static int clap_text_pool_size(const clap_text_pool *p) { return p ? p->n : 0; }
static int clap_text_pool_dim(const clap_text_pool *p) { return p ? p->dim : 0; }

const float *clap_text_pool_row(const clap_text_pool *p, int row) {
  if (!p || row < 0 || row >= p->n) return NULL;
  return p->features + (size_t)row * p->dim;
}

static int order_row(const clap_text_pool *p, int i) {
  int v = p->order[i];
  return v < 0 ? -1 - v : v;
}

/* First index in order[] of (t, c) and the group size. */
static int pool_group(const clap_text_pool *p, int t, int c, int *count) {
  int lo = 0, hi = p->n;
  while (lo < hi) {
    int mid = lo + (hi - lo) / 2;
    if (pool_key_cmp(p, order_row(p, mid), t, c) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  int end = lo;
  while (end < p->n && pool_key_cmp(p, order_row(p, end), t, c) == 0) end++;
  *count = end - lo;
  return lo;
}

int clap_text_pool_count(const clap_text_pool *p, int task, int cls) {
  if (!p) return 0;
  int count;
  pool_group(p, task, cls, &count);
  return count;
}

clap_status clap_text_pool_draw(const clap_text_pool *p, int task, int cls, int augment,
                                clap_rng *r, int *row, clap_error *err) {
  if (!p || !row || (augment && !r))
    return clap_error_set(err, CLAP_ERR_ARG, "clap_text_pool_draw: pool, rng or row is NULL");
  int count, first = pool_group(p, task, cls, &count);
  if (count == 0)
    return clap_error_set(err, CLAP_ERR_NOTFOUND, "no text for task %d, class %d", task, cls);
  if (augment) {
    *row = order_row(p, first + (int)clap_rng_below(r, (uint32_t)count));
    return CLAP_OK;
  }
  if (p->order[first] < 0)
    return clap_error_set(err, CLAP_ERR_NOTFOUND, "no original text for task %d, class %d", task,
                          cls);
  *row = p->order[first];
  return CLAP_OK;
}

/* ------------------------------------------------------------ gradients */

/* The trainable tensors of a model, in model order: shared by the gradient
** buffers and Adam's moments, so index i means the same tensor in both. */
typedef struct train_plan {
  int n;
  char name[MAX_TRAINABLE][16];
  int rows[MAX_TRAINABLE], cols[MAX_TRAINABLE];
  size_t off[MAX_TRAINABLE];
  size_t total;
} train_plan;

static int is_frozen(const char *name) {
  const char *leaf = strchr(name, '.');
  return leaf && (!strcmp(leaf, ".mean") || !strcmp(leaf, ".std"));
}

static void plan_of(clap_model *m, train_plan *p) {
  memset(p, 0, sizeof *p);
  for (int i = 0; i < model_tensor_count(m) && p->n < MAX_TRAINABLE; i++) {
    const char *name = model_tensor_name(m, i);
    if (is_frozen(name)) continue;
    int k = p->n++;
    snprintf(p->name[k], sizeof p->name[k], "%s", name);
    model_tensor(m, name, &p->rows[k], &p->cols[k]);
    p->off[k] = p->total;
    p->total += (size_t)p->rows[k] * (size_t)p->cols[k];
  }
}

static int plan_find(const train_plan *p, const char *name) {
  for (int i = 0; name && i < p->n; i++)
    if (!strcmp(p->name[i], name)) return i;
  return -1;
}

struct clap_grads {
  train_plan plan;
  float *data;
};

clap_status clap_grads_create(clap_model *m, clap_grads **out, clap_error *err) {
  if (!out) return clap_error_set(err, CLAP_ERR_ARG, "clap_grads_create: out is NULL");
  *out = NULL;
  if (!m) return clap_error_set(err, CLAP_ERR_ARG, "clap_grads_create: model is NULL");
  clap_grads *g = calloc(1, sizeof *g);
  if (g) {
    plan_of(m, &g->plan);
    g->data = calloc(g->plan.total, sizeof(float));
  }
  if (!g || !g->data) {
    clap_grads_free(g);
    return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory for gradients");
  }
  *out = g;
  return CLAP_OK;
}

void clap_grads_free(clap_grads *g) {
  if (!g) return;
  free(g->data);
  free(g);
}

float *clap_grads_tensor(clap_grads *g, const char *name, int *rows, int *cols) {
  if (rows) *rows = 0;
  if (cols) *cols = 0;
  if (!g) return NULL;
  int i = plan_find(&g->plan, name);
  if (i < 0) return NULL;
  if (rows) *rows = g->plan.rows[i];
  if (cols) *cols = g->plan.cols[i];
  return g->data + g->plan.off[i];
}

void clap_grads_zero(clap_grads *g) {
  if (g) memset(g->data, 0, sizeof(float) * g->plan.total);
}

/* Same tensors, same shapes: gradients (or moments) made for another config
** must not be applied. */
static int plan_matches(const train_plan *a, clap_model *m) {
  train_plan b;
  plan_of(m, &b);
  if (a->n != b.n) return 0;
  for (int i = 0; i < a->n; i++)
    if (strcmp(a->name[i], b.name[i]) || a->rows[i] != b.rows[i] || a->cols[i] != b.cols[i])
      return 0;
  return 1;
}

/* ------------------------------------------------- forward and backward */

/* One side's pass over `rows` rows, keeping what backward needs. */
typedef struct side_pass {
  model_side side;
  int rows, in, hidden, dim, mlp;
  const float *mu, *sd, *w1, *b1, *w2, *b2;
  float *z;        /* rows x in: standardised input */
  float *h;        /* rows x hidden: pre-activation (MLP) */
  float *a;        /* rows x hidden: GELU(h) (MLP) */
  float *y;        /* rows x dim: the L2-normalised embedding */
  double *inv;     /* rows: 1 / ||u|| */
} side_pass;

static void pass_free(side_pass *s) {
  free(s->z);
  free(s->h);
  free(s->a);
  free(s->y);
  free(s->inv);
}

static float *side_param(clap_model *m, const char *prefix, const char *leaf) {
  char name[16];
  snprintf(name, sizeof name, "%s%s", prefix, leaf);
  return model_tensor(m, name, NULL, NULL);
}

static float *side_grad(clap_grads *g, const char *prefix, const char *leaf) {
  char name[16];
  snprintf(name, sizeof name, "%s%s", prefix, leaf);
  return clap_grads_tensor(g, name, NULL, NULL);
}

static clap_status pass_init(side_pass *s, clap_model *m, model_side side, int rows,
                             clap_error *err) {
  const model_config *c = model_get_config(m);
  const char *pre = side == MODEL_TEXT ? "text." : "audio.";
  memset(s, 0, sizeof *s);
  s->side = side;
  s->rows = rows;
  s->in = side == MODEL_TEXT ? c->text_in : c->audio_in;
  s->mlp = c->head == MODEL_HEAD_MLP;
  s->hidden = s->mlp ? c->hidden : 0;
  s->dim = c->dim;
  s->mu = side_param(m, pre, "mean");
  s->sd = side_param(m, pre, "std");
  s->w1 = side_param(m, pre, "w1");
  s->b1 = side_param(m, pre, "b1");
  if (s->mlp) {
    s->w2 = side_param(m, pre, "w2");
    s->b2 = side_param(m, pre, "b2");
  }
  size_t r = rows > 0 ? (size_t)rows : 1;
  s->z = malloc(sizeof(float) * r * (size_t)s->in);
  s->y = malloc(sizeof(float) * r * (size_t)s->dim);
  s->inv = malloc(sizeof(double) * r);
  if (s->mlp) {
    s->h = malloc(sizeof(float) * r * (size_t)s->hidden);
    s->a = malloc(sizeof(float) * r * (size_t)s->hidden);
  }
  if (!s->z || !s->y || !s->inv || (s->mlp && (!s->h || !s->a))) {
    pass_free(s);
    return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory for a %d-row training pass", rows);
  }
  return CLAP_OK;
}

/* y[rows x out] = x[rows x in] . w[out x in]^T + b, as model_embed does. */
static void affine(const float *x, int rows, int in, const float *w, const float *b, int out,
                   float *y) {
  for (int r = 0; r < rows; r++) memcpy(y + (size_t)r * out, b, sizeof(float) * (size_t)out);
  nn_matmul(0, 1, rows, out, in, 1.0f, x, in, w, in, 1.0f, y, out);
}

static double gelu(double x) { return 0.5 * x * (1.0 + erf(x * 0.70710678118654752440)); }

static double gelu_grad(double x) {
  return 0.5 * (1.0 + erf(x * 0.70710678118654752440)) +
         x * exp(-0.5 * x * x) * 0.39894228040143267794;
}

static int have_avx512(void);

/* z[j] = (x[j] - mu[j]) / sd[j] for j < n; the first j whose x is not
** finite, or -1. */
static int standardise_scalar(const float *x, const float *mu, const float *sd, int n, float *z) {
  for (int j = 0; j < n; j++) {
    if (!isfinite(x[j])) return j;
    z[j] = (x[j] - mu[j]) / sd[j];
  }
  return -1;
}

/* Every distinct text row of a batch is standardised (~125 k values a
** batch at the paper's scale: 5% of an epoch as a scalar loop). The same
** subtraction and division, 16 at a time: the scalar loop's bits. */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
__attribute__((target("avx512f"))) static int standardise_avx512(const float *x, const float *mu,
                                                                  const float *sd, int n, float *z) {
  const __m512i expo = _mm512_set1_epi32(0x7f800000);
  int j = 0;
  for (; j + 16 <= n; j += 16) {
    __m512 v = _mm512_loadu_ps(x + j);
    if (_mm512_cmpeq_epi32_mask(_mm512_and_si512(_mm512_castps_si512(v), expo), expo)) break;
    _mm512_storeu_ps(z + j, _mm512_div_ps(_mm512_sub_ps(v, _mm512_loadu_ps(mu + j)),
                                          _mm512_loadu_ps(sd + j)));
  }
  int bad = standardise_scalar(x + j, mu + j, sd + j, n - j, z + j);
  return bad < 0 ? -1 : j + bad;
}
#else
static int standardise_avx512(const float *x, const float *mu, const float *sd, int n, float *z) {
  return standardise_scalar(x, mu, sd, n, z);
}
#endif

/* xrows[r] is input row r; messages name it ids[r] (r itself when ids is NULL). */
static clap_status pass_forward(side_pass *s, const float *const *xrows, const int *ids,
                                const char *what, clap_error *err) {
  int simd = have_avx512();
  for (int r = 0; r < s->rows; r++) {
    float *z = s->z + (size_t)r * s->in;
    int bad = simd ? standardise_avx512(xrows[r], s->mu, s->sd, s->in, z)
                   : standardise_scalar(xrows[r], s->mu, s->sd, s->in, z);
    if (bad >= 0)
      return clap_error_set(err, CLAP_ERR_RANGE, "%s row %d, column %d: feature is not finite",
                            what, ids ? ids[r] : r, bad);
  }
  if (s->mlp) {
    affine(s->z, s->rows, s->in, s->w1, s->b1, s->hidden, s->h);
    size_t nh = (size_t)s->rows * s->hidden;
    for (size_t i = 0; i < nh; i++) s->a[i] = (float)gelu(s->h[i]);
    affine(s->a, s->rows, s->hidden, s->w2, s->b2, s->dim, s->y);
  } else {
    affine(s->z, s->rows, s->in, s->w1, s->b1, s->dim, s->y);
  }
  for (int r = 0; r < s->rows; r++) {
    float *y = s->y + (size_t)r * s->dim;
    double ss = 0;
    for (int j = 0; j < s->dim; j++) ss += (double)y[j] * y[j];
    if (!isfinite(ss) || ss == 0)
      return clap_error_set(err, CLAP_ERR_RANGE,
                            "%s row %d: the head's output is %s and cannot be L2-normalised", what,
                            ids ? ids[r] : r, ss == 0 ? "zero" : "not finite");
    s->inv[r] = 1.0 / sqrt(ss);
    for (int j = 0; j < s->dim; j++) y[j] = (float)(y[j] * s->inv[r]);
  }
  return CLAP_OK;
}

/* db = the column sums of g (rows x n), overwritten. */
static void bias_grad(const float *g, int rows, int n, float *db) {
  memset(db, 0, sizeof(float) * (size_t)n);
  for (int r = 0; r < rows; r++)
    for (int j = 0; j < n; j++) db[j] += g[(size_t)r * n + j];
}

/* gy (rows x dim, dL/dy) is overwritten with dL/du; the side's weight and
** bias gradients in g are overwritten (no zeroing pass over g needed). */
static clap_status pass_backward(side_pass *s, float *gy, clap_grads *g, clap_error *err) {
  const char *pre = s->side == MODEL_TEXT ? "text." : "audio.";
  for (int r = 0; r < s->rows; r++) {
    /* d(u/|u|)/du = (I - y y^T) / |u| */
    float *gr = gy + (size_t)r * s->dim;
    const float *y = s->y + (size_t)r * s->dim;
    double dot = 0;
    for (int j = 0; j < s->dim; j++) dot += (double)gr[j] * y[j];
    for (int j = 0; j < s->dim; j++) gr[j] = (float)((gr[j] - dot * y[j]) * s->inv[r]);
  }
  float *dw1 = side_grad(g, pre, "w1"), *db1 = side_grad(g, pre, "b1");
  if (!s->mlp) {
    nn_matmul(1, 0, s->dim, s->in, s->rows, 1.0f, gy, s->dim, s->z, s->in, 0.0f, dw1, s->in);
    bias_grad(gy, s->rows, s->dim, db1);
    return CLAP_OK;
  }
  float *dw2 = side_grad(g, pre, "w2"), *db2 = side_grad(g, pre, "b2");
  nn_matmul(1, 0, s->dim, s->hidden, s->rows, 1.0f, gy, s->dim, s->a, s->hidden, 0.0f, dw2,
            s->hidden);
  bias_grad(gy, s->rows, s->dim, db2);
  size_t nh = (size_t)s->rows * s->hidden;
  float *gh = malloc(sizeof(float) * (nh ? nh : 1));
  if (!gh) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory for the hidden gradient");
  nn_matmul(0, 0, s->rows, s->hidden, s->dim, 1.0f, gy, s->dim, s->w2, s->hidden, 0.0f, gh,
            s->hidden);
  for (size_t i = 0; i < nh; i++) gh[i] = (float)(gh[i] * gelu_grad(s->h[i]));
  nn_matmul(1, 0, s->hidden, s->in, s->rows, 1.0f, gh, s->hidden, s->z, s->in, 0.0f, dw1, s->in);
  bias_grad(gh, s->rows, s->hidden, db1);
  free(gh);
  return CLAP_OK;
}

/* Scratch of one clap_train_grad call. */
typedef struct grad_work {
  side_pass audio, text;
  const float **arows, **trows;
  int *uniq;             /* distinct pool rows, in order of first use */
  int *slot;             /* n x k: index into uniq, -1 where unlabeled */
  int *seen;             /* pool row -> index into uniq, or -1 */
  int *tlabels;          /* k x n: the labels, task-major for clap_loss */
  float *temb, *gtext;   /* k x n x dim: text embeddings and their gradients */
  float *gaudio;         /* n x dim */
  float *gy;             /* u x dim: gradient of each distinct text embedding */
  clap_loss_task *tasks;
} grad_work;

static void work_free(grad_work *w) {
  pass_free(&w->audio);
  pass_free(&w->text);
  free(w->arows);
  free(w->trows);
  free(w->uniq);
  free(w->slot);
  free(w->seen);
  free(w->tlabels);
  free(w->temb);
  free(w->gtext);
  free(w->gaudio);
  free(w->gy);
  free(w->tasks);
}

static clap_status work_alloc(grad_work *w, int n, int k, int pool_n, int dim, clap_error *err) {
  size_t nk = (size_t)n * k, nkd = nk * dim;
  memset(w, 0, sizeof *w);
  w->arows = malloc(sizeof(float *) * n);
  w->trows = malloc(sizeof(float *) * (nk ? nk : 1));
  w->uniq = malloc(sizeof(int) * (nk ? nk : 1));
  w->slot = malloc(sizeof(int) * (nk ? nk : 1));
  w->seen = malloc(sizeof(int) * pool_n);
  w->tlabels = malloc(sizeof(int) * (nk ? nk : 1));
  w->temb = calloc(nkd ? nkd : 1, sizeof(float));
  w->gtext = malloc(sizeof(float) * (nkd ? nkd : 1));
  w->gaudio = malloc(sizeof(float) * (size_t)n * dim);
  w->gy = calloc(nkd ? nkd : 1, sizeof(float));
  w->tasks = malloc(sizeof(clap_loss_task) * (k ? k : 1));
  if (!w->arows || !w->trows || !w->uniq || !w->slot || !w->seen || !w->tlabels || !w->temb ||
      !w->gtext || !w->gaudio || !w->gy || !w->tasks) {
    work_free(w);
    return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory for a %d-row batch", n);
  }
  return CLAP_OK;
}

static clap_status check_batch(clap_model *m, const clap_text_pool *pool, const clap_batch *b,
                               clap_grads *g, const double *loss, clap_error *err) {
  if (!m || !pool || !b || !g || !loss)
    return clap_error_set(err, CLAP_ERR_ARG, "clap_train_grad: model, pool, batch, grads or loss is NULL");
  if (b->n < 1 || b->k < 1)
    return clap_error_set(err, CLAP_ERR_ARG, "clap_train_grad: batch has n = %d rows, k = %d tasks; both must be positive",
                          b->n, b->k);
  if (!b->audio || !b->labels || !b->text_rows)
    return clap_error_set(err, CLAP_ERR_ARG, "clap_train_grad: batch audio, labels or text_rows is NULL");
  if (clap_text_pool_dim(pool) != model_get_config(m)->text_in)
    return clap_error_set(err, CLAP_ERR_ARG, "clap_train_grad: text pool rows have %d features; the model's text_in is %d",
                          clap_text_pool_dim(pool), model_get_config(m)->text_in);
  if (!plan_matches(&g->plan, m))
    return clap_error_set(err, CLAP_ERR_ARG, "clap_train_grad: gradients were made for a model of another shape");
  for (int i = 0; i < b->n; i++)
    for (int t = 0; t < b->k; t++) {
      int lab = b->labels[(size_t)i * b->k + t], row = b->text_rows[(size_t)i * b->k + t];
      if (lab < -1)
        return clap_error_set(err, CLAP_ERR_ARG, "clap_train_grad: row %d, task %d: class id %d is invalid (use -1 for unlabeled)",
                              i, t, lab);
      if (lab >= 0 && (row < 0 || row >= clap_text_pool_size(pool)))
        return clap_error_set(err, CLAP_ERR_ARG, "clap_train_grad: row %d, task %d: text row %d is outside the pool (0..%d)",
                              i, t, row, clap_text_pool_size(pool) - 1);
    }
  return CLAP_OK;
}

/* Distinct pool rows of the batch, and where each labeled (row, task) finds its text. */
static int gather_text(const clap_text_pool *pool, const clap_batch *b, grad_work *w) {
  int u = 0, pn = clap_text_pool_size(pool);
  for (int r = 0; r < pn; r++) w->seen[r] = -1;
  for (int i = 0; i < b->n; i++)
    for (int t = 0; t < b->k; t++) {
      size_t o = (size_t)i * b->k + t;
      w->tlabels[(size_t)t * b->n + i] = b->labels[o];
      w->slot[o] = -1;
      if (b->labels[o] < 0) continue;
      int r = b->text_rows[o];
      if (w->seen[r] < 0) {
        w->seen[r] = u;
        w->uniq[u] = r;
        w->trows[u] = clap_text_pool_row(pool, r);
        u++;
      }
      w->slot[o] = w->seen[r];
    }
  return u;
}

static clap_status grad_run(clap_model *m, const clap_text_pool *pool, const clap_batch *b,
                            clap_grads *g, double *loss, grad_work *w, clap_error *err) {
  int n = b->n, k = b->k, dim = model_get_config(m)->dim;
  int u = gather_text(pool, b, w);
  clap_status rc;
  if ((rc = pass_init(&w->audio, m, MODEL_AUDIO, n, err)) ||
      (rc = pass_init(&w->text, m, MODEL_TEXT, u, err)))
    return rc;
  for (int i = 0; i < n; i++) w->arows[i] = b->audio + (size_t)i * w->audio.in;
  if ((rc = pass_forward(&w->audio, w->arows, NULL, "batch audio", err)) ||
      (u && (rc = pass_forward(&w->text, w->trows, w->uniq, "text pool", err))))
    return rc;
  for (int t = 0; t < k; t++) {
    float *te = w->temb + (size_t)t * n * dim;
    for (int i = 0; i < n; i++) {
      int sl = w->slot[(size_t)i * k + t];
      if (sl >= 0) memcpy(te + (size_t)i * dim, w->text.y + (size_t)sl * dim, sizeof(float) * dim);
    }
    const float *target = b->targets ? b->targets[t] : NULL;
    w->tasks[t] = (clap_loss_task){te, w->tlabels + (size_t)t * n, target,
                                   w->gtext + (size_t)t * n * dim};
  }
  double gls;
  float log_scale = model_log_scale(m);
  if ((rc = clap_loss(w->audio.y, n, dim, w->tasks, k, log_scale, loss, w->gaudio, &gls, err)))
    return rc;
  *clap_grads_tensor(g, "log_scale", NULL, NULL) = (float)gls;
  for (int i = 0; i < n; i++)
    for (int t = 0; t < k; t++) {
      int sl = w->slot[(size_t)i * k + t];
      if (sl < 0) continue;
      const float *src = w->gtext + ((size_t)t * n + i) * dim;
      float *dst = w->gy + (size_t)sl * dim;
      for (int j = 0; j < dim; j++) dst[j] += src[j];
    }
  if ((rc = pass_backward(&w->audio, w->gaudio, g, err))) return rc;
  if (u) return pass_backward(&w->text, w->gy, g, err);
  static const char *const leaf[] = {"text.w1", "text.b1", "text.w2", "text.b2"};
  for (int i = 0; i < 4; i++) { /* no text in the batch: no gradient */
    int rows = 0, cols = 0;
    float *t = clap_grads_tensor(g, leaf[i], &rows, &cols);
    if (t) memset(t, 0, sizeof(float) * (size_t)rows * cols);
  }
  return CLAP_OK;
}

clap_status clap_train_grad(clap_model *m, const clap_text_pool *pool, const clap_batch *b,
                            clap_grads *g, double *loss, clap_error *err) {
  clap_status rc = check_batch(m, pool, b, g, loss, err);
  if (rc) return rc;
  grad_work w;
  if ((rc = work_alloc(&w, b->n, b->k, clap_text_pool_size(pool), model_get_config(m)->dim, err)))
    return rc;
  /* every gradient is written, not added to: no zeroing pass first */
  rc = grad_run(m, pool, b, g, loss, &w, err);
  if (rc) clap_grads_zero(g); /* no half-computed gradient on error */
  work_free(&w);
  return rc;
}

/* ----------------------------------------------------------------- Adam */

struct clap_adam {
  train_plan plan;
  float *m1, *m2;   /* first and second moments, laid out as the gradients */
  long t;
  double lr;
};

clap_status clap_adam_create(clap_model *m, double lr, clap_adam **out, clap_error *err) {
  if (!out) return clap_error_set(err, CLAP_ERR_ARG, "clap_adam_create: out is NULL");
  *out = NULL;
  if (!m) return clap_error_set(err, CLAP_ERR_ARG, "clap_adam_create: model is NULL");
  if (!isfinite(lr) || !(lr > 0))
    return clap_error_set(err, CLAP_ERR_RANGE, "clap_adam_create: learning rate %g is not a positive finite number", lr);
  clap_adam *a = calloc(1, sizeof *a);
  if (a) {
    plan_of(m, &a->plan);
    a->m1 = calloc(a->plan.total, sizeof(float));
    a->m2 = calloc(a->plan.total, sizeof(float));
  }
  if (!a || !a->m1 || !a->m2) {
    clap_adam_free(a);
    return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory for the optimiser state");
  }
  a->lr = lr;
  *out = a;
  return CLAP_OK;
}

void clap_adam_free(clap_adam *a) {
  if (!a) return;
  free(a->m1);
  free(a->m2);
  free(a);
}

long clap_adam_steps(const clap_adam *a) { return a ? a->t : 0; }

static void adam_update_scalar(float *restrict p, const float *restrict g, float *restrict m1,
                               float *restrict m2, size_t len, float step, float inv_bc2) {
  for (size_t j = 0; j < len; j++) {
    float gj = g[j];
    m1[j] = 0.9f * m1[j] + 0.1f * gj;
    m2[j] = 0.999f * m2[j] + 0.001f * gj * gj;
    p[j] -= step * m1[j] / (sqrtf(m2[j] * inv_bc2) + 1e-8f);
  }
}

static int finite_scalar(const float *g, size_t n, size_t *bad) {
  for (size_t j = 0; j < n; j++)
    if (!isfinite(g[j])) return *bad = j, 0;
  return 1;
}

/* Adam touches every parameter each step (~0.5 M for the paper's heads), and
** the scalar loop cannot be vectorised by the compiler (sqrtf sets errno, the
** build targets baseline x86-64): it took a quarter of an epoch. The AVX-512
** variants do the same operations in the same order, one IEEE-rounded
** multiply, add, divide or square root at a time, no fused multiply-add (the
** scalar code is built without contraction, -std=c11), so the bits are the
** scalar loop's (tests/unit/test_clap_train.c checks). */
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f"))) static void adam_update_avx512(
    float *restrict p, const float *restrict g, float *restrict m1, float *restrict m2,
    size_t len, float step, float inv_bc2) {
  const __m512 b1 = _mm512_set1_ps(0.9f), c1 = _mm512_set1_ps(0.1f);
  const __m512 b2 = _mm512_set1_ps(0.999f), c2 = _mm512_set1_ps(0.001f);
  const __m512 st = _mm512_set1_ps(step), ib = _mm512_set1_ps(inv_bc2), eps = _mm512_set1_ps(1e-8f);
  size_t j = 0;
  for (; j + 16 <= len; j += 16) {
    __m512 gj = _mm512_loadu_ps(g + j);
    __m512 a = _mm512_add_ps(_mm512_mul_ps(b1, _mm512_loadu_ps(m1 + j)), _mm512_mul_ps(c1, gj));
    __m512 v = _mm512_add_ps(_mm512_mul_ps(b2, _mm512_loadu_ps(m2 + j)),
                             _mm512_mul_ps(_mm512_mul_ps(c2, gj), gj));
    __m512 den = _mm512_add_ps(_mm512_sqrt_ps(_mm512_mul_ps(v, ib)), eps);
    _mm512_storeu_ps(m1 + j, a);
    _mm512_storeu_ps(m2 + j, v);
    _mm512_storeu_ps(p + j, _mm512_sub_ps(_mm512_loadu_ps(p + j), _mm512_div_ps(_mm512_mul_ps(st, a), den)));
  }
  adam_update_scalar(p + j, g + j, m1 + j, m2 + j, len - j, step, inv_bc2);
}

/* 1 if every g[j] is finite, else 0 with *bad the first that is not. */
__attribute__((target("avx512f"))) static int finite_avx512(const float *g, size_t n, size_t *bad) {
  const __m512i expo = _mm512_set1_epi32(0x7f800000);
  size_t j = 0;
  for (; j + 16 <= n; j += 16) {
    __m512i e = _mm512_and_si512(_mm512_loadu_si512((const void *)(g + j)), expo);
    if (_mm512_cmpeq_epi32_mask(e, expo)) break; /* the scalar loop names which */
  }
  if (finite_scalar(g + j, n - j, bad)) return 1;
  *bad += j;
  return 0;
}

static int have_avx512(void) {
  static int v = -1; /* a benign race: every thread computes the same value */
  if (v < 0) v = __builtin_cpu_supports("avx512f");
  return v;
}
#else
static void adam_update_avx512(float *restrict p, const float *restrict g, float *restrict m1,
                               float *restrict m2, size_t len, float step, float inv_bc2) {
  adam_update_scalar(p, g, m1, m2, len, step, inv_bc2);
}
static int finite_avx512(const float *g, size_t n, size_t *bad) { return finite_scalar(g, n, bad); }
static int have_avx512(void) { return 0; }
#endif

static void adam_update(float *restrict p, const float *restrict g, float *restrict m1,
                        float *restrict m2, size_t len, float step, float inv_bc2) {
  if (have_avx512())
    adam_update_avx512(p, g, m1, m2, len, step, inv_bc2);
  else
    adam_update_scalar(p, g, m1, m2, len, step, inv_bc2);
}

/* The per-step constants of step t: lr / (1 - 0.9^t) and 1 / (1 - 0.999^t),
** computed in double and rounded to float, so the element loop is plain
** float arithmetic (same order of operations on every run). */
static void adam_constants(long t, double lr, float *step, float *inv_bc2) {
  double bc1 = 1.0 - pow(0.9, (double)t), bc2 = 1.0 - pow(0.999, (double)t);
  *step = (float)(lr / bc1);
  *inv_bc2 = (float)(1.0 / bc2);
}

static clap_status check_finite(const float *g, size_t n, const char *what, clap_error *err) {
  size_t j = 0;
  if (have_avx512() ? finite_avx512(g, n, &j) : finite_scalar(g, n, &j)) return CLAP_OK;
  return clap_error_set(err, CLAP_ERR_RANGE, "gradient of %s[%zu] is not finite", what, j);
}

clap_status clap_adam_step(clap_adam *a, clap_model *m, clap_grads *g, clap_error *err) {
  if (!a || !m || !g) return clap_error_set(err, CLAP_ERR_ARG, "clap_adam_step: optimiser, model or gradients is NULL");
  if (!plan_matches(&a->plan, m) || !plan_matches(&g->plan, m))
    return clap_error_set(err, CLAP_ERR_ARG, "clap_adam_step: the model's tensors differ from those the optimiser or gradients were made for");
  for (int i = 0; i < a->plan.n; i++) {
    clap_status rc = check_finite(g->data + a->plan.off[i], (size_t)a->plan.rows[i] * a->plan.cols[i],
                                  a->plan.name[i], err);
    if (rc != CLAP_OK) return rc;
  }
  a->t++;
  float step, inv_bc2;
  adam_constants(a->t, a->lr, &step, &inv_bc2);
  for (int i = 0; i < a->plan.n; i++)
    adam_update(model_tensor(m, a->plan.name[i], NULL, NULL), g->data + a->plan.off[i],
                a->m1 + a->plan.off[i], a->m2 + a->plan.off[i],
                (size_t)a->plan.rows[i] * a->plan.cols[i], step, inv_bc2);
  float ls = model_log_scale(m);
  if (ls < 0) ls = 0;
  if (ls > (float)CLAP_LOG_SCALE_MAX) ls = (float)CLAP_LOG_SCALE_MAX;
  model_set_log_scale(m, ls);
  return CLAP_OK;
}

struct clap_adam_vec {
  int n;
  float *m1, *m2;
  long t;
  double lr;
};

clap_status clap_adam_vec_create(int n, double lr, clap_adam_vec **out, clap_error *err) {
  if (!out) return clap_error_set(err, CLAP_ERR_ARG, "clap_adam_vec_create: out is NULL");
  *out = NULL;
  if (n < 1) return clap_error_set(err, CLAP_ERR_ARG, "clap_adam_vec_create: n = %d is not positive", n);
  if (!isfinite(lr) || !(lr > 0))
    return clap_error_set(err, CLAP_ERR_RANGE, "clap_adam_vec_create: learning rate %g is not a positive finite number", lr);
  clap_adam_vec *a = calloc(1, sizeof *a);
  if (a) {
    a->m1 = calloc((size_t)n, sizeof(float));
    a->m2 = calloc((size_t)n, sizeof(float));
  }
  if (!a || !a->m1 || !a->m2) {
    clap_adam_vec_free(a);
    return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory for the optimiser state");
  }
  a->n = n;
  a->lr = lr;
  *out = a;
  return CLAP_OK;
}

void clap_adam_vec_free(clap_adam_vec *a) {
  if (!a) return;
  free(a->m1);
  free(a->m2);
  free(a);
}

clap_status clap_adam_vec_step(clap_adam_vec *a, float *p, const float *g, int n, const char *what,
                               clap_error *err) {
  if (!a || !p || !g) return clap_error_set(err, CLAP_ERR_ARG, "clap_adam_vec_step: optimiser, parameters or gradient is NULL");
  if (n != a->n) return clap_error_set(err, CLAP_ERR_ARG, "clap_adam_vec_step: %d parameters, the state has %d", n, a->n);
  clap_status rc = check_finite(g, (size_t)n, what ? what : "parameters", err);
  if (rc != CLAP_OK) return rc;
  a->t++;
  float step, inv_bc2;
  adam_constants(a->t, a->lr, &step, &inv_bc2);
  adam_update(p, g, a->m1, a->m2, (size_t)n, step, inv_bc2);
  return CLAP_OK;
}

/* -------------------------------------------------------------- sampler */

struct clap_sampler {
  int n, batch, pos, epoch, open;
  int *perm;
  clap_rng rng;
};

clap_status clap_sampler_create(int n, int batch, uint64_t seed, clap_sampler **out,
                                clap_error *err) {
  if (!out) return clap_error_set(err, CLAP_ERR_ARG, "clap_sampler_create: out is NULL");
  *out = NULL;
  if (n < 1 || batch < 1)
    return clap_error_set(err, CLAP_ERR_ARG, "clap_sampler_create: n = %d, batch = %d; both must be positive", n, batch);
  clap_sampler *s = calloc(1, sizeof *s);
  if (s) s->perm = malloc(sizeof(int) * (size_t)n);
  if (!s || !s->perm) {
    clap_sampler_free(s);
    return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory for a %d-row sampler", n);
  }
  s->n = n;
  s->batch = batch;
  clap_rng_seed(&s->rng, seed);
  *out = s;
  return CLAP_OK;
}

void clap_sampler_free(clap_sampler *s) {
  if (!s) return;
  free(s->perm);
  free(s);
}

int clap_sampler_next(clap_sampler *s, const int **idx, int *count) {
  if (count) *count = 0;
  if (!s || !idx || !count) return 0;
  if (!s->open) {
    for (int i = 0; i < s->n; i++) s->perm[i] = i;
    clap_rng_shuffle(&s->rng, s->perm, s->n);
    s->pos = 0;
    s->open = 1;
    s->epoch++;
  }
  if (s->pos >= s->n) {
    s->open = 0;
    return 0;
  }
  *idx = s->perm + s->pos;
  *count = s->n - s->pos < s->batch ? s->n - s->pos : s->batch;
  s->pos += *count;
  return 1;
}

static int clap_sampler_size(const clap_sampler *s) { return s ? s->n : 0; }
int clap_sampler_epoch(const clap_sampler *s) { return s ? s->epoch : 0; }

/* ---------------------------------------------------------------- epoch */

clap_status clap_train_check(clap_model *m, const clap_train_set *d, int augment,
                             clap_error *err) {
  if (!m || !d) return clap_error_set(err, CLAP_ERR_ARG, "clap_train_check: model or data is NULL");
  if (d->n < 1 || d->k < 1)
    return clap_error_set(err, CLAP_ERR_ARG, "training set has n = %d rows, k = %d tasks; both must be positive", d->n, d->k);
  if (!d->audio || !d->labels || !d->pool)
    return clap_error_set(err, CLAP_ERR_ARG, "training set audio, labels or pool is NULL");
  const model_config *c = model_get_config(m);
  if (clap_text_pool_dim(d->pool) != c->text_in)
    return clap_error_set(err, CLAP_ERR_ARG, "text pool rows have %d features; the model's text_in is %d",
                          clap_text_pool_dim(d->pool), c->text_in);
  for (int i = 0; i < d->n; i++) {
    for (int j = 0; j < c->audio_in; j++)
      if (!isfinite(d->audio[(size_t)i * c->audio_in + j]))
        return clap_error_set(err, CLAP_ERR_RANGE, "training row %d, audio feature %d is not finite", i, j);
    for (int t = 0; t < d->k; t++) {
      int lab = d->labels[(size_t)i * d->k + t], row;
      if (lab < -1)
        return clap_error_set(err, CLAP_ERR_ARG, "training row %d, task %d: class id %d is invalid (use -1 for unlabeled)", i, t, lab);
      if (lab < 0) continue;
      clap_status rc = clap_text_pool_draw(d->pool, t, lab, 0, NULL, &row, err);
      if (rc == CLAP_ERR_NOTFOUND && augment && clap_text_pool_count(d->pool, t, lab) > 0) rc = CLAP_OK;
      if (rc) {
        clap_error_prefix(err, "training row %d: ", i);
        return rc;
      }
    }
  }
  for (int r = 0; r < clap_text_pool_size(d->pool); r++) {
    const float *x = clap_text_pool_row(d->pool, r);
    for (int j = 0; j < c->text_in; j++)
      if (!isfinite(x[j]))
        return clap_error_set(err, CLAP_ERR_RANGE, "text pool row %d, feature %d is not finite", r, j);
  }
  return CLAP_OK;
}

typedef struct epoch_buf {
  float *audio;
  int *labels, *text_rows;
} epoch_buf;

static clap_status epoch_batch(clap_model *m, clap_adam *opt, const clap_train_set *d,
                               const int *idx, int count, int augment, clap_rng *r, epoch_buf *eb,
                               clap_grads *g, double *loss, clap_error *err) {
  int da = model_get_config(m)->audio_in, k = d->k;
  for (int i = 0; i < count; i++) {
    memcpy(eb->audio + (size_t)i * da, d->audio + (size_t)idx[i] * da, sizeof(float) * da);
    for (int t = 0; t < k; t++) {
      int lab = d->labels[(size_t)idx[i] * k + t], row = -1;
      if (lab >= 0) {
        clap_status rc = clap_text_pool_draw(d->pool, t, lab, augment, r, &row, err);
        if (rc) {
          clap_error_prefix(err, "training row %d: ", idx[i]);
          return rc;
        }
      }
      eb->labels[(size_t)i * k + t] = lab;
      eb->text_rows[(size_t)i * k + t] = row;
    }
  }
  clap_batch b = {eb->audio, count, k, eb->labels, eb->text_rows, NULL};
  clap_status rc = clap_train_grad(m, d->pool, &b, g, loss, err);
  if (!rc) rc = clap_adam_step(opt, m, g, err);
  return rc;
}

clap_status clap_train_epoch(clap_model *m, clap_adam *opt, clap_sampler *s,
                             const clap_train_set *d, int augment, clap_rng *r,
                             double *mean_loss, clap_error *err) {
  if (!opt || !s || !mean_loss || (augment && !r))
    return clap_error_set(err, CLAP_ERR_ARG, "clap_train_epoch: optimiser, sampler, rng or mean_loss is NULL");
  clap_status rc = clap_train_check(m, d, augment, err);
  if (rc) return rc;
  if (clap_sampler_size(s) != d->n)
    return clap_error_set(err, CLAP_ERR_ARG, "clap_train_epoch: the sampler is over %d rows; the training set has %d",
                          clap_sampler_size(s), d->n);
  int bmax = s->batch, da = model_get_config(m)->audio_in;
  epoch_buf eb = {malloc(sizeof(float) * (size_t)bmax * da), malloc(sizeof(int) * (size_t)bmax * d->k),
                  malloc(sizeof(int) * (size_t)bmax * d->k)};
  clap_grads *g = NULL;
  if (!eb.audio || !eb.labels || !eb.text_rows)
    rc = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory for a training batch");
  if (!rc) rc = clap_grads_create(m, &g, err);
  double total = 0;
  long rows = 0;
  const int *idx;
  int count, nb = 0;
  while (!rc && clap_sampler_next(s, &idx, &count)) {
    double loss;
    rc = epoch_batch(m, opt, d, idx, count, augment, r, &eb, g, &loss, err);
    if (rc) {
      clap_error_prefix(err, "epoch %d, batch %d: ", clap_sampler_epoch(s), nb);
      break;
    }
    total += loss * count;
    rows += count;
    nb++;
  }
  clap_grads_free(g);
  free(eb.audio);
  free(eb.labels);
  free(eb.text_rows);
  if (!rc) *mean_loss = rows ? total / rows : 0;
  return rc;
}
