/* Unit tests for ext/train/clap_train.c: gradients of every trainable tensor
** against central finite differences of a double-precision reference (linear
** and MLP heads, masking, soft targets, shared text rows), Adam against hand
** numbers, the sampler, the text pool, standardisation, training on a
** separable synthetic set, bitwise reproducibility, and the error paths. */
#include <stdlib.h>

#include "clap_rng.h"
#include "clap_train.h"
#include "harness.h"
#include "nn_threads.h"

/* ------------------------------------------------ a double reference */

#define DA 4
#define DT 5
#define DIM 3
#define HID 4
#define NB 6
#define KT 2
#define NP 5

typedef struct ref_params {
  int mlp;
  double amu[DA], asd[DA], aw1[HID * DA], ab1[HID], aw2[DIM * HID], ab2[DIM];
  double tmu[DT], tsd[DT], tw1[HID * DT], tb1[HID], tw2[DIM * HID], tb2[DIM];
  double log_scale;
} ref_params;

/* The tensors the reference perturbs, by model_tensor name. */
static double *ref_tensor(ref_params *p, const char *name) {
  static const char *names[] = {"audio.w1", "audio.b1", "audio.w2", "audio.b2", "text.w1",
                                "text.b1",  "text.w2",  "text.b2",  "log_scale"};
  double *ptrs[] = {p->aw1, p->ab1, p->aw2, p->ab2, p->tw1, p->tb1, p->tw2, p->tb2, &p->log_scale};
  for (int i = 0; i < 9; i++)
    if (!strcmp(names[i], name)) return ptrs[i];
  return NULL;
}

static void ref_from_model(clap_model *m, ref_params *p) {
  memset(p, 0, sizeof *p);
  p->mlp = model_get_config(m)->head == MODEL_HEAD_MLP;
  const char *names[] = {"audio.mean", "audio.std", "audio.w1", "audio.b1", "audio.w2",
                         "audio.b2",   "text.mean", "text.std", "text.w1",  "text.b1",
                         "text.w2",    "text.b2"};
  double *dst[] = {p->amu, p->asd, p->aw1, p->ab1, p->aw2, p->ab2,
                   p->tmu, p->tsd, p->tw1, p->tb1, p->tw2, p->tb2};
  for (int i = 0; i < 12; i++) {
    int r, c;
    const float *src = model_tensor(m, names[i], &r, &c);
    for (int j = 0; src && j < r * c; j++) dst[i][j] = src[j];
  }
  p->log_scale = model_log_scale(m);
}

/* x -> (x - mu) / sd -> head -> L2-normalise, in double. */
static void ref_embed(const ref_params *p, int text, const float *x, double *y) {
  int in = text ? DT : DA;
  const double *mu = text ? p->tmu : p->amu, *sd = text ? p->tsd : p->asd;
  const double *w1 = text ? p->tw1 : p->aw1, *b1 = text ? p->tb1 : p->ab1;
  const double *w2 = text ? p->tw2 : p->aw2, *b2 = text ? p->tb2 : p->ab2;
  double z[DT], h[HID];
  for (int j = 0; j < in; j++) z[j] = (x[j] - mu[j]) / sd[j];
  int out1 = p->mlp ? HID : DIM;
  for (int o = 0; o < out1; o++) {
    h[o] = b1[o];
    for (int j = 0; j < in; j++) h[o] += w1[o * in + j] * z[j];
  }
  if (p->mlp) {
    for (int o = 0; o < HID; o++) h[o] = 0.5 * h[o] * (1 + erf(h[o] / sqrt(2.0)));
    for (int o = 0; o < DIM; o++) {
      y[o] = b2[o];
      for (int j = 0; j < HID; j++) y[o] += w2[o * HID + j] * h[j];
    }
  } else {
    for (int o = 0; o < DIM; o++) y[o] = h[o];
  }
  double ss = 0;
  for (int o = 0; o < DIM; o++) ss += y[o] * y[o];
  for (int o = 0; o < DIM; o++) y[o] /= sqrt(ss);
}

/* clap_loss.h's formula over the batch, in double. */
static double ref_loss(const ref_params *p, const clap_batch *b, const float *pool) {
  double a[NB][DIM], t[KT][NB][DIM], s = exp(p->log_scale), total = 0;
  for (int i = 0; i < b->n; i++) {
    ref_embed(p, 0, b->audio + i * DA, a[i]);
    for (int k = 0; k < b->k; k++)
      if (b->labels[i * b->k + k] >= 0) ref_embed(p, 1, pool + b->text_rows[i * b->k + k] * DT, t[k][i]);
  }
  for (int k = 0; k < b->k; k++) {
    int rows[NB], m = 0;
    for (int i = 0; i < b->n; i++)
      if (b->labels[i * b->k + k] >= 0) rows[m++] = i;
    double M[NB][NB], Q[NB][NB], ce = 0;
    for (int x = 0; x < m; x++)
      for (int y = 0; y < m; y++) {
        int i = rows[x], j = rows[y];
        double dot = 0;
        for (int c = 0; c < DIM; c++) dot += t[k][i][c] * a[j][c];
        M[x][y] = s * dot;
        const float *tg = b->targets ? b->targets[k] : NULL;
        Q[x][y] = tg ? tg[i * b->n + j] : (double)(b->labels[i * b->k + k] == b->labels[j * b->k + k]);
      }
    for (int dir = 0; dir < 2; dir++)
      for (int x = 0; x < m; x++) {
        double lse = 0, qs = 0;
        for (int y = 0; y < m; y++) {
          lse += exp(dir ? M[y][x] : M[x][y]);
          qs += dir ? Q[y][x] : Q[x][y];
        }
        lse = log(lse);
        for (int y = 0; y < m; y++)
          ce += (dir ? Q[y][x] : Q[x][y]) / qs * (lse - (dir ? M[y][x] : M[x][y]));
      }
    if (m) total += 0.5 * ce / m;
  }
  return total;
}

static clap_model *tiny_model(model_head_kind head, uint64_t seed) {
  model_config c;
  memset(&c, 0, sizeof c);
  strcpy(c.audio_encoder, "acoustic");
  strcpy(c.text_encoder, "ngram");
  c.audio_in = DA;
  c.text_in = DT;
  c.dim = DIM;
  c.head = head;
  c.hidden = HID;
  clap_model *m = NULL;
  clap_error e;
  CHECK_INT(model_create(&c, seed, &m, &e), CLAP_OK);
  return m;
}

static void fill_uniform(clap_rng *r, float *x, int n, double lo, double hi) {
  for (int i = 0; i < n; i++) x[i] = (float)(lo + (hi - lo) * clap_rng_uniform(r));
}

static void check_gradients(model_head_kind head) {
  clap_model *m = tiny_model(head, 3);
  clap_rng r;
  clap_rng_seed(&r, 11);
  /* Non-trivial standardisation and biases, so every term is exercised. */
  float amu[DA], asd[DA], tmu[DT], tsd[DT];
  fill_uniform(&r, amu, DA, -0.5, 0.5);
  fill_uniform(&r, asd, DA, 0.5, 2.0);
  fill_uniform(&r, tmu, DT, -0.5, 0.5);
  fill_uniform(&r, tsd, DT, 0.5, 2.0);
  clap_error e;
  CHECK_INT(model_set_standardisation(m, MODEL_AUDIO, amu, asd, &e), CLAP_OK);
  CHECK_INT(model_set_standardisation(m, MODEL_TEXT, tmu, tsd, &e), CLAP_OK);
  const char *biases[] = {"audio.b1", "audio.b2", "text.b1", "text.b2"};
  for (int i = 0; i < 4; i++) {
    int rows, cols;
    float *bias = model_tensor(m, biases[i], &rows, &cols);
    if (bias) fill_uniform(&r, bias, rows * cols, -0.3, 0.3);
  }
  model_set_log_scale(m, 1.5f);
  float audio[NB * DA], pool[NP * DT], soft[NB * NB];
  fill_uniform(&r, audio, NB * DA, -2, 2);
  fill_uniform(&r, pool, NP * DT, -2, 2);
  fill_uniform(&r, soft, NB * NB, 0.1, 1.0);
  /* Task 0: hard target, rows 1 and 4 unlabeled, pool rows shared by
  ** several batch rows; task 1: soft target, row 0 unlabeled. */
  int labels[NB * KT] = {0, -1, -1, 1, 1, 0, 0, 2, -1, 1, 1, 2};
  int text_rows[NB * KT] = {0, -1, 9, 3, 1, 2, 0, 4, 7, 3, 1, 4};
  const float *targets[KT] = {NULL, soft};
  clap_batch b = {audio, NB, KT, labels, text_rows, targets};
  /* Pool row 9 is out of range but unlabeled: ignored. */
  int trows_ok[NB * KT];
  memcpy(trows_ok, text_rows, sizeof trows_ok);
  trows_ok[2] = -1;
  b.text_rows = trows_ok;
  clap_text_pool *tp = NULL;
  int ptask[NP] = {0, 0, 1, 1, 1}, pcls[NP] = {0, 1, 0, 1, 2};
  CHECK_INT(clap_text_pool_create(pool, NP, DT, ptask, pcls, NULL, &tp, &e), CLAP_OK);
  clap_grads *g = NULL;
  CHECK_INT(clap_grads_create(m, &g, &e), CLAP_OK);
  double loss = -1;
  CHECK_INT(clap_train_grad(m, tp, &b, g, &loss, &e), CLAP_OK);
  ref_params p;
  ref_from_model(m, &p);
  double ref = ref_loss(&p, &b, pool);
  CHECK_NEAR(loss, ref, 1e-5 * ref);
  CHECK(loss > 0.1);
  /* The reference embedding is model_embed's. */
  float emb[DIM];
  double yref[DIM];
  CHECK_INT(model_embed(m, MODEL_TEXT, pool + 2 * DT, 1, emb, &e), CLAP_OK);
  ref_embed(&p, 1, pool + 2 * DT, yref);
  for (int j = 0; j < DIM; j++) CHECK_NEAR(emb[j], yref[j], 1e-5);
  int checked = 0;
  for (int ti = 0; ti < model_tensor_count(m); ti++) {
    const char *name = model_tensor_name(m, ti);
    int rows, cols;
    float *gt = clap_grads_tensor(g, name, &rows, &cols);
    double *pt = ref_tensor(&p, name);
    if (strstr(name, ".mean") || strstr(name, ".std")) {
      CHECK(gt == NULL && rows == 0);
      continue;
    }
    CHECK(gt != NULL && pt != NULL);
    if (!gt || !pt) continue;
    double biggest = 0;
    for (int j = 0; j < rows * cols; j++) {
      const double h = 1e-6;
      double keep = pt[j];
      pt[j] = keep + h;
      double up = ref_loss(&p, &b, pool);
      pt[j] = keep - h;
      double dn = ref_loss(&p, &b, pool);
      pt[j] = keep;
      double fd = (up - dn) / (2 * h);
      CHECK_NEAR(gt[j], fd, 2e-5 + 1e-3 * fabs(fd));
      if (fabs(fd) > biggest) biggest = fabs(fd);
      checked++;
    }
    CHECK(biggest > 1e-3); /* every tensor gets a real gradient */
  }
  CHECK_INT(checked, head == MODEL_HEAD_MLP ? 2 * (HID * DA + HID + DIM * HID + DIM) -
                                                  HID * DA + HID * DT + 1
                                            : DIM * DA + DIM + DIM * DT + DIM + 1);
  CHECK(clap_grads_tensor(g, "nope", NULL, NULL) == NULL);
  /* The same buffers for a batch with no labels: every gradient is 0, none
  ** is left over from the batch before (gradients are written, not added). */
  int none[NB * KT];
  for (int i = 0; i < NB * KT; i++) none[i] = -1;
  clap_batch nb = {audio, NB, KT, none, trows_ok, NULL};
  CHECK_INT(clap_train_grad(m, tp, &nb, g, &loss, &e), CLAP_OK);
  int zero = 1;
  for (int ti = 0; ti < model_tensor_count(m); ti++) {
    int rows, cols;
    const float *gt = clap_grads_tensor(g, model_tensor_name(m, ti), &rows, &cols);
    for (int j = 0; gt && j < rows * cols; j++) zero &= gt[j] == 0.0f;
  }
  CHECK(zero);
  clap_grads_free(g);
  clap_text_pool_free(tp);
  model_free(m);
}

static void test_gradients_linear(void) { check_gradients(MODEL_HEAD_LINEAR); }
static void test_gradients_mlp(void) { check_gradients(MODEL_HEAD_MLP); }

/* --------------------------------------------------------------- Adam */

static void test_adam_hand_computed(void) {
  clap_model *m = tiny_model(MODEL_HEAD_LINEAR, 1);
  clap_adam *a = NULL;
  clap_grads *g = NULL;
  clap_error e;
  CHECK_INT(clap_adam_create(m, 0.01, &a, &e), CLAP_OK);
  CHECK_INT(clap_grads_create(m, &g, &e), CLAP_OK);
  float *w = model_tensor(m, "audio.w1", NULL, NULL), *gw = clap_grads_tensor(g, "audio.w1", NULL, NULL);
  float before_tb = model_tensor(m, "text.b1", NULL, NULL)[0];
  w[0] = 0.25f;
  gw[0] = 0.5f;
  model_set_log_scale(m, 2.0f);
  CHECK_INT(clap_adam_step(a, m, g, &e), CLAP_OK);
  /* t = 1: m = 0.05, v = 0.00025, update lr * 0.5 / (0.5 + 1e-8). */
  CHECK_NEAR(w[0], 0.2400000002, 1e-7);
  CHECK(model_tensor(m, "text.b1", NULL, NULL)[0] == before_tb); /* zero gradient: no move */
  gw[0] = -1.0f;
  CHECK_INT(clap_adam_step(a, m, g, &e), CLAP_OK);
  /* t = 2: m = -0.055, v = 0.00124975, m^ = -0.28947368, sqrt(v^) = 0.79068805. */
  CHECK_NEAR(w[0], 0.243661035, 1e-6);
  CHECK_INT(clap_adam_steps(a), 2);
  CHECK(model_log_scale(m) == 2.0f);
  clap_adam_free(a);
  model_free(m);
  clap_grads_free(g);
}

static void test_adam_clamps_log_scale(void) {
  clap_model *m = tiny_model(MODEL_HEAD_LINEAR, 1);
  clap_adam *a = NULL;
  clap_grads *g = NULL;
  clap_error e;
  CHECK_INT(clap_adam_create(m, 0.1, &a, &e), CLAP_OK);
  CHECK_INT(clap_grads_create(m, &g, &e), CLAP_OK);
  float *gls = clap_grads_tensor(g, "log_scale", NULL, NULL);
  model_set_log_scale(m, 4.6f);
  *gls = -1; /* pushes the scale up, past 100 */
  CHECK_INT(clap_adam_step(a, m, g, &e), CLAP_OK);
  CHECK(model_log_scale(m) == (float)log(100.0));
  model_set_log_scale(m, 0.05f);
  *gls = 1;
  for (int i = 0; i < 3; i++) CHECK_INT(clap_adam_step(a, m, g, &e), CLAP_OK);
  CHECK(model_log_scale(m) == 0.0f);
  /* A non-finite gradient changes nothing. */
  float w0 = model_tensor(m, "text.w1", NULL, NULL)[0];
  clap_grads_tensor(g, "text.w1", NULL, NULL)[3] = NAN;
  CHECK_INT(clap_adam_step(a, m, g, &e), CLAP_ERR_RANGE);
  CHECK_CONTAINS(e.msg, "gradient of text.w1[3] is not finite");
  CHECK(model_tensor(m, "text.w1", NULL, NULL)[0] == w0);
  CHECK_INT(clap_adam_steps(a), 4);
  CHECK_INT(clap_adam_create(m, 0.0, &(clap_adam *){NULL}, &e), CLAP_ERR_RANGE);
  CHECK_CONTAINS(e.msg, "learning rate 0");
  clap_model *other = tiny_model(MODEL_HEAD_MLP, 1);
  CHECK_INT(clap_adam_step(a, other, g, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "differ");
  model_free(other);
  clap_adam_free(a);
  clap_grads_free(g);
  model_free(m);
}

/* ------------------------------------------------ sampler, pool, stats */

static void test_sampler(void) {
  clap_sampler *s = NULL, *s2 = NULL;
  clap_error e;
  CHECK_INT(clap_sampler_create(10, 4, 99, &s, &e), CLAP_OK);
  CHECK_INT(clap_sampler_create(10, 4, 99, &s2, &e), CLAP_OK);
  int first[10], second[10], seen[10] = {0}, sizes[4], nb = 0, pos = 0;
  const int *idx;
  int count;
  while (clap_sampler_next(s, &idx, &count)) {
    sizes[nb++] = count;
    for (int i = 0; i < count; i++) {
      first[pos++] = idx[i];
      seen[idx[i]]++;
    }
  }
  CHECK_INT(nb, 3);
  CHECK(sizes[0] == 4 && sizes[1] == 4 && sizes[2] == 2 && count == 0);
  for (int i = 0; i < 10; i++) CHECK_INT(seen[i], 1);
  CHECK_INT(clap_sampler_epoch(s), 1);
  pos = 0;
  while (clap_sampler_next(s, &idx, &count))
    for (int i = 0; i < count; i++) second[pos++] = idx[i];
  CHECK_INT(pos, 10);
  CHECK_INT(clap_sampler_epoch(s), 2);
  CHECK(memcmp(first, second, sizeof first) != 0); /* reshuffled */
  pos = 0;
  while (clap_sampler_next(s2, &idx, &count))
    for (int i = 0; i < count; i++) CHECK_INT(idx[i], first[pos++]);
  clap_sampler_free(s2);
  CHECK_INT(clap_sampler_create(0, 4, 1, &s2, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "n = 0");
  CHECK(s2 == NULL);
  clap_sampler_free(s);
}

static void test_text_pool(void) {
  float feats[6 * 2] = {0};
  int task[6] = {1, 0, 1, 1, 0, 1}, cls[6] = {0, 0, 0, 0, 1, 1};
  unsigned char orig[6] = {0, 1, 0, 1, 0, 1};
  clap_text_pool *p = NULL;
  clap_error e;
  CHECK_INT(clap_text_pool_create(feats, 6, 2, task, cls, orig, &p, &e), CLAP_OK);
  CHECK_INT(clap_text_pool_count(p, 1, 0), 3);
  CHECK_INT(clap_text_pool_count(p, 2, 0), 0);
  int row = -1;
  CHECK_INT(clap_text_pool_draw(p, 1, 0, 0, NULL, &row, &e), CLAP_OK);
  CHECK_INT(row, 3);
  CHECK_INT(clap_text_pool_draw(p, 0, 1, 0, NULL, &row, &e), CLAP_ERR_NOTFOUND);
  CHECK_CONTAINS(e.msg, "no original text for task 0, class 1");
  CHECK_INT(clap_text_pool_draw(p, 5, 0, 1, NULL, &row, &e), CLAP_ERR_ARG);
  clap_rng r;
  clap_rng_seed(&r, 5);
  CHECK_INT(clap_text_pool_draw(p, 0, 1, 1, &r, &row, &e), CLAP_OK);
  CHECK_INT(row, 4);
  CHECK_INT(clap_text_pool_draw(p, 5, 0, 1, &r, &row, &e), CLAP_ERR_NOTFOUND);
  CHECK_CONTAINS(e.msg, "no text for task 5, class 0");
  int hits[6] = {0};
  for (int i = 0; i < 3000; i++) {
    CHECK_INT(clap_text_pool_draw(p, 1, 0, 1, &r, &row, &e), CLAP_OK);
    hits[row]++;
  }
  CHECK(hits[0] > 900 && hits[2] > 900 && hits[3] > 900);
  CHECK_INT(hits[0] + hits[2] + hits[3], 3000);
  clap_text_pool_free(p);
  /* Without flags the first row of a group is its original. */
  CHECK_INT(clap_text_pool_create(feats, 6, 2, task, cls, NULL, &p, &e), CLAP_OK);
  CHECK_INT(clap_text_pool_draw(p, 1, 0, 0, NULL, &row, &e), CLAP_OK);
  CHECK_INT(row, 0);
  CHECK(clap_text_pool_row(p, 6) == NULL && clap_text_pool_row(p, 5) == feats + 10);
  clap_text_pool_free(p);
  cls[2] = -1;
  CHECK_INT(clap_text_pool_create(feats, 6, 2, task, cls, NULL, &p, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "row 2: task 1, class -1");
}

static void test_standardise(void) {
  clap_model *m = tiny_model(MODEL_HEAD_LINEAR, 1);
  float x[3 * DA] = {1, 10, 0, -1, 3, 10, 0, 1, 2, 10, 0, 3};
  clap_error e;
  CHECK_INT(clap_train_standardise(m, MODEL_AUDIO, x, 3, &e), CLAP_OK);
  const float *mu = model_tensor(m, "audio.mean", NULL, NULL), *sd = model_tensor(m, "audio.std", NULL, NULL);
  CHECK_NEAR(mu[0], 2, 1e-7);
  CHECK_NEAR(sd[0], sqrt(2.0 / 3.0), 1e-7);
  CHECK(mu[1] == 10 && sd[1] == 1); /* constant: std stored as 1 */
  CHECK(mu[2] == 0 && sd[2] == 1);
  CHECK_NEAR(mu[3], 1, 1e-7);
  CHECK_NEAR(sd[3], sqrt(8.0 / 3.0), 1e-6);
  x[7] = INFINITY;
  CHECK_INT(clap_train_standardise(m, MODEL_AUDIO, x, 3, &e), CLAP_ERR_RANGE);
  CHECK_CONTAINS(e.msg, "row 1, column 3: feature is not finite");
  CHECK_NEAR(mu[0], 2, 1e-7); /* unchanged */
  CHECK_INT(clap_train_standardise(m, MODEL_TEXT, x, 0, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "n = 0");
  model_free(m);
}

/* --------------------------------------------- training on a toy set */

#define SA 8        /* audio features */
#define ST 16       /* text features */
#define SK 3        /* tasks */
#define SPARA 4     /* paraphrases per (task, class) */
static const int ncls[SK] = {2, 3, 2};

typedef struct toy {
  float audio[400 * SA];
  int labels[400 * SK], truth[400 * SK];
  float text[SK * 3 * (1 + SPARA) * ST];
  int ptask[SK * 3 * (1 + SPARA)], pcls[SK * 3 * (1 + SPARA)];
  unsigned char porig[SK * 3 * (1 + SPARA)];
  int npool;
} toy;

/* Audio: the sum of one random centre per (task, class) plus noise. Text:
** one random vector per (task, class); paraphrases add a little noise. Every
** tenth label is withheld from training (-1) but kept as truth. */
static void make_toy(toy *t, int n, uint64_t seed) {
  clap_rng r;
  clap_rng_seed(&r, 1234); /* centres and texts are fixed; only rows vary */
  float centre[SK][3][SA];
  for (int k = 0; k < SK; k++) fill_uniform(&r, &centre[k][0][0], 3 * SA, -1.5, 1.5);
  t->npool = 0;
  for (int k = 0; k < SK; k++)
    for (int c = 0; c < ncls[k]; c++) {
      float base[ST];
      fill_uniform(&r, base, ST, -1, 1);
      for (int p = 0; p <= SPARA; p++) {
        float *row = t->text + t->npool * ST;
        for (int j = 0; j < ST; j++) row[j] = base[j] + (p ? (float)(0.2 * (clap_rng_uniform(&r) - 0.5)) : 0);
        t->ptask[t->npool] = k;
        t->pcls[t->npool] = c;
        t->porig[t->npool] = p == 0;
        t->npool++;
      }
    }
  clap_rng_seed(&r, seed);
  for (int i = 0; i < n; i++) {
    float *a = t->audio + i * SA;
    for (int j = 0; j < SA; j++) a[j] = (float)(0.4 * (clap_rng_uniform(&r) - 0.5));
    for (int k = 0; k < SK; k++) {
      int c = (int)clap_rng_below(&r, (uint32_t)ncls[k]);
      for (int j = 0; j < SA; j++) a[j] += centre[k][c][j];
      t->truth[i * SK + k] = c;
      t->labels[i * SK + k] = (i + k) % 10 == 0 ? -1 : c;
    }
  }
}

static clap_model *toy_model(model_head_kind head, uint64_t seed) {
  model_config c;
  memset(&c, 0, sizeof c);
  strcpy(c.audio_encoder, "acoustic");
  strcpy(c.text_encoder, "ngram");
  c.audio_in = SA;
  c.text_in = ST;
  c.dim = 8;
  c.head = head;
  c.hidden = 16;
  clap_model *m = NULL;
  clap_error e;
  CHECK_INT(model_create(&c, seed, &m, &e), CLAP_OK);
  return m;
}

/* Zero-shot accuracy of task k: argmax cosine against its original texts. */
static double zero_shot_accuracy(clap_model *m, const toy *t, int n, int k) {
  float emb[400 * 8], temb[3 * 8];
  clap_error e;
  CHECK_INT(model_embed(m, MODEL_AUDIO, t->audio, n, emb, &e), CLAP_OK);
  for (int c = 0; c < ncls[k]; c++) {
    int row = -1;
    for (int p = 0; p < t->npool; p++)
      if (t->ptask[p] == k && t->pcls[p] == c && t->porig[p]) row = p;
    CHECK_INT(model_embed(m, MODEL_TEXT, t->text + row * ST, 1, temb + c * 8, &e), CLAP_OK);
  }
  int right = 0;
  for (int i = 0; i < n; i++) {
    int best = 0;
    double bs = -2;
    for (int c = 0; c < ncls[k]; c++) {
      double dot = 0;
      for (int j = 0; j < 8; j++) dot += emb[i * 8 + j] * temb[c * 8 + j];
      if (dot > bs) bs = dot, best = c;
    }
    right += best == t->truth[i * SK + k];
  }
  return (double)right / n;
}

/* Standardise, then `epochs` epochs; returns the model, first and last loss. */
static clap_model *train_toy(const toy *t, int n, model_head_kind head, int augment,
                             uint64_t seed, int epochs, double *first, double *last) {
  *first = *last = 0;
  clap_model *m = toy_model(head, seed);
  clap_error e;
  clap_text_pool *pool = NULL;
  clap_adam *opt = NULL;
  clap_sampler *s = NULL;
  CHECK_INT(clap_text_pool_create(t->text, t->npool, ST, t->ptask, t->pcls, t->porig, &pool, &e), CLAP_OK);
  CHECK_INT(clap_train_standardise(m, MODEL_AUDIO, t->audio, n, &e), CLAP_OK);
  CHECK_INT(clap_train_standardise(m, MODEL_TEXT, t->text, t->npool, &e), CLAP_OK);
  CHECK_INT(clap_adam_create(m, 0.01, &opt, &e), CLAP_OK);
  CHECK_INT(clap_sampler_create(n, CLAP_TRAIN_BATCH, seed + 1, &s, &e), CLAP_OK);
  clap_rng r;
  clap_rng_seed(&r, seed + 2);
  clap_train_set d = {t->audio, t->labels, n, SK, pool};
  for (int ep = 0; ep < epochs; ep++) {
    double loss = -1;
    CHECK_INT(clap_train_epoch(m, opt, s, &d, augment, &r, &loss, &e), CLAP_OK);
    if (ep == 0) *first = loss;
    *last = loss;
  }
  CHECK_INT(clap_adam_steps(opt), (long)epochs * ((n + 63) / 64));
  clap_adam_free(opt);
  clap_sampler_free(s);
  clap_text_pool_free(pool);
  return m;
}

static toy train_set, test_set;

static void check_training(model_head_kind head) {
  double first, last, before = 0;
  clap_model *m = train_toy(&train_set, 320, head, 1, 77, 0, &first, &last);
  for (int k = 0; k < SK; k++) before += zero_shot_accuracy(m, &test_set, 200, k) / SK;
  CHECK(before < 0.75); /* untrained: near chance, so training is what helps */
  printf("%s head: untrained mean zero-shot accuracy %.3f\n",
         head == MODEL_HEAD_MLP ? "mlp" : "linear", before);
  model_free(m);
  m = train_toy(&train_set, 320, head, 1, 77, 40, &first, &last);
  CHECK(last < 0.6 * first);
  for (int k = 0; k < SK; k++) {
    double acc = zero_shot_accuracy(m, &test_set, 200, k);
    CHECK(acc >= 0.9);
    printf("%s head, task %d: loss %.3f -> %.3f, held-out zero-shot accuracy %.3f\n",
           head == MODEL_HEAD_MLP ? "mlp" : "linear", k, first, last, acc);
  }
  model_free(m);
}

static void test_training_linear(void) { check_training(MODEL_HEAD_LINEAR); }
static void test_training_mlp(void) { check_training(MODEL_HEAD_MLP); }

static unsigned char *blob_of(clap_model *m, size_t *n) {
  unsigned char *b = NULL;
  clap_error e;
  CHECK_INT(model_save(m, &b, n, &e), CLAP_OK);
  return b;
}

static void test_reproducible(void) {
  double f, l;
  size_t n1, n2, n3;
  clap_model *m1 = train_toy(&train_set, 320, MODEL_HEAD_MLP, 1, 5, 4, &f, &l);
  clap_model *m2 = train_toy(&train_set, 320, MODEL_HEAD_MLP, 1, 5, 4, &f, &l);
  clap_model *m3 = train_toy(&train_set, 320, MODEL_HEAD_MLP, 1, 6, 4, &f, &l);
  unsigned char *b1 = blob_of(m1, &n1), *b2 = blob_of(m2, &n2), *b3 = blob_of(m3, &n3);
  CHECK(b1 && b2 && n1 == n2 && !memcmp(b1, b2, n1));
  CHECK(b3 && n3 == n1 && memcmp(b1, b3, n1) != 0);
  /* the thread count does not change the model (clap_train.h) */
  int before = nn_get_threads();
  nn_set_threads(before == 1 ? 2 : 1);
  size_t n4;
  clap_model *m4 = train_toy(&train_set, 320, MODEL_HEAD_MLP, 1, 5, 4, &f, &l);
  nn_set_threads(before);
  unsigned char *b4 = blob_of(m4, &n4);
  CHECK(b4 && n4 == n1 && !memcmp(b1, b4, n1));
  free(b4);
  model_free(m4);
  free(b1);
  free(b2);
  free(b3);
  model_free(m1);
  model_free(m2);
  model_free(m3);
}

/* --------------------------------------------------------------- errors */

static void test_errors(void) {
  clap_model *m = toy_model(MODEL_HEAD_LINEAR, 1);
  clap_error e;
  clap_text_pool *pool = NULL;
  clap_adam *opt = NULL;
  clap_sampler *s = NULL;
  clap_grads *g = NULL;
  toy *t = &train_set;
  CHECK_INT(clap_text_pool_create(t->text, t->npool, ST, t->ptask, t->pcls, t->porig, &pool, &e), CLAP_OK);
  CHECK_INT(clap_adam_create(m, 0.01, &opt, &e), CLAP_OK);
  CHECK_INT(clap_sampler_create(100, 64, 1, &s, &e), CLAP_OK);
  CHECK_INT(clap_grads_create(m, &g, &e), CLAP_OK);
  clap_rng r;
  clap_rng_seed(&r, 1);
  double loss;
  int labels[100 * SK];
  memcpy(labels, t->labels, sizeof labels);
  clap_train_set d = {t->audio, labels, 100, SK, pool};
  labels[5 * SK + 1] = 3; /* task 1 has classes 0..2 only */
  CHECK_INT(clap_train_epoch(m, opt, s, &d, 1, &r, &loss, &e), CLAP_ERR_NOTFOUND);
  CHECK_CONTAINS(e.msg, "training row 5: no text for task 1, class 3");
  labels[5 * SK + 1] = -4;
  CHECK_INT(clap_train_epoch(m, opt, s, &d, 1, &r, &loss, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "training row 5, task 1: class id -4 is invalid");
  labels[5 * SK + 1] = 0;
  d.n = 99;
  CHECK_INT(clap_train_epoch(m, opt, s, &d, 1, &r, &loss, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "the sampler is over 100 rows; the training set has 99");
  d.n = 100;
  float audio[100 * SA];
  memcpy(audio, t->audio, sizeof audio);
  audio[7 * SA + 2] = NAN;
  d.audio = audio;
  CHECK_INT(clap_train_epoch(m, opt, s, &d, 1, &r, &loss, &e), CLAP_ERR_RANGE);
  CHECK_CONTAINS(e.msg, "training row 7, audio feature 2 is not finite");
  CHECK_INT(clap_adam_steps(opt), 0); /* nothing ran */
  /* A batch naming a pool row that does not exist. */
  int bl[2 * SK] = {0, 0, 0, 1, 1, 1}, br[2 * SK] = {0, 5, 10, 1, 6, 99};
  clap_batch b = {t->audio, 2, SK, bl, br, NULL};
  CHECK_INT(clap_train_grad(m, pool, &b, g, &loss, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "row 1, task 2: text row 99 is outside the pool");
  /* A head whose output is zero cannot be normalised. */
  br[5] = 11;
  int rows, cols;
  float *w = model_tensor(m, "audio.w1", &rows, &cols);
  memset(w, 0, sizeof(float) * rows * cols);
  CHECK_INT(clap_train_grad(m, pool, &b, g, &loss, &e), CLAP_ERR_RANGE);
  CHECK_CONTAINS(e.msg, "batch audio row 0: the head's output is zero");
  clap_model *mlp = toy_model(MODEL_HEAD_MLP, 1);
  CHECK_INT(clap_train_grad(mlp, pool, &b, g, &loss, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "gradients were made for a model of another shape");
  model_free(mlp);
  clap_grads_free(g);
  clap_sampler_free(s);
  clap_adam_free(opt);
  clap_text_pool_free(pool);
  model_free(m);
}

/* Adam's vectorised update gives the documented float formula's bits, for
** every element (lengths that leave a tail after whole vectors), over several
** steps; a non-finite gradient past the first vectors is named by index. */
static void test_adam_bits(void) {
  enum { N = 16 * 37 + 11 };
  float p[N], g[N], rp[N], m1[N] = {0}, m2[N] = {0};
  unsigned s = 7;
  for (int j = 0; j < N; j++) {
    s = s * 1664525u + 1013904223u;
    p[j] = rp[j] = (float)((s >> 8) & 0xffff) / 32768.0f - 1.0f;
  }
  clap_adam_vec *a = NULL;
  clap_error e;
  CHECK_INT(clap_adam_vec_create(N, 3e-3, &a, &e), CLAP_OK);
  if (!a) return;
  int same = 1;
  for (long t = 1; t <= 5; t++) {
    for (int j = 0; j < N; j++) {
      s = s * 1664525u + 1013904223u;
      g[j] = ((float)((s >> 8) & 0xffff) / 32768.0f - 1.0f) * (j % 3 ? 1e-3f : 10.0f);
    }
    CHECK_INT(clap_adam_vec_step(a, p, g, N, "p", &e), CLAP_OK);
    float step = (float)(3e-3 / (1.0 - pow(0.9, (double)t)));
    float inv_bc2 = (float)(1.0 / (1.0 - pow(0.999, (double)t)));
    for (int j = 0; j < N; j++) {
      volatile float gj = g[j]; /* one rounding per operation, as documented */
      m1[j] = 0.9f * m1[j] + 0.1f * gj;
      m2[j] = 0.999f * m2[j] + 0.001f * gj * gj;
      rp[j] -= step * m1[j] / (sqrtf(m2[j] * inv_bc2) + 1e-8f);
    }
    same &= !memcmp(p, rp, sizeof p);
  }
  CHECK(same);
  g[16 * 20 + 3] = NAN;
  CHECK_INT(clap_adam_vec_step(a, p, g, N, "p", &e), CLAP_ERR_RANGE);
  CHECK(strstr(e.msg, "p[323]") != NULL);
  CHECK(!memcmp(p, rp, sizeof p)); /* nothing moved */
  clap_adam_vec_free(a);
}

int main(void) {
  make_toy(&train_set, 320, 1);
  make_toy(&test_set, 200, 2);
  RUN(test_gradients_linear);
  RUN(test_gradients_mlp);
  RUN(test_adam_hand_computed);
  RUN(test_adam_clamps_log_scale);
  RUN(test_adam_bits);
  RUN(test_sampler);
  RUN(test_text_pool);
  RUN(test_standardise);
  RUN(test_training_linear);
  RUN(test_training_mlp);
  RUN(test_reproducible);
  RUN(test_errors);
  return harness_report();
}
