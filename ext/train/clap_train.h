/*
** clap_train — training the heads and temperature of a clap_model with the
** multi-class multi-task CLAP loss (clap_loss.h; paper §II-B).
**
** Pieces, smallest first; clap_train_epoch strings them together:
**   clap_train_standardise  per-feature mean and std from training rows,
**                           set in the model (frozen afterwards).
**   clap_text_pool          the text feature rows (descriptions and their
**                           paraphrases), each tagged (task, class); draws
**                           the text for a labeled row.
**   clap_grads              one gradient buffer per trainable tensor.
**   clap_train_grad         forward and backward over one batch: raw
**                           features -> standardise -> head (linear, or
**                           linear-GELU-linear with exact erf GELU) ->
**                           L2-normalise -> clap_loss; exact gradients of L
**                           for every head weight and bias and log_scale.
**   clap_adam               Adam (beta1 0.9, beta2 0.999, eps 1e-8, bias
**                           correction, no weight decay) over those tensors;
**                           log_scale is clamped to [0, log 100] after every
**                           step, as LAION-CLAP does.
**   clap_sampler            seeded mini-batches over n rows, reshuffled each
**                           epoch.
**
** Determinism: every random choice (shuffles, paraphrase draws) comes from
** clap_rng (xoshiro256**, clap_rng.h) seeded by the caller, and the maths
** is a fixed sequence of float/double operations and oneDNN float32 matmuls
** (nn_matmul, dense.h: they beat OpenBLAS at the heads' and the loss's
** shapes, tests/bench/RESULTS.md "float32 products"), so a seed and the data
** fix the trained model bit for bit. The products are below nn_matmul's
** threading size, so they run on one thread and the thread count does not
** change the model either (a product above it would make the count part of
** the promise).
**
** mean/std are frozen: they have no gradient and Adam never touches them.
** Tensor names are model_tensor's ("audio.w1", ..., "log_scale").
**
** Errors: a NULL or malformed argument is CLAP_ERR_ARG naming it; a feature
** that is not finite, a head output that is zero or overflows (it cannot be
** L2-normalised) or a non-finite gradient is CLAP_ERR_RANGE naming the row
** (a batch row, or a pool row for text); a labeled (task, class) with no text
** in the pool is CLAP_ERR_NOTFOUND naming both. Nothing here prints.
**
** Thread safety: none of these objects may be used by two threads at once;
** separate models, optimisers and samplers are independent.
*/
#ifndef CLAP_TRAIN_H
#define CLAP_TRAIN_H

#include <stdint.h>

#include "clap_error.h"
#include "clap_rng.h"
#include "model.h"

#define CLAP_TRAIN_BATCH 64              /* the paper's batch size */
#define CLAP_LOG_SCALE_MAX MODEL_LOG_SCALE_MAX /* log(100), what a model may hold */

/* ------------------------------------------------------ standardisation */

/* Mean and population standard deviation (divide by n) of each of the side's
** input features over n rows of x (n x audio_in or n x text_in), computed in
** double with two passes, then model_set_standardisation (a constant feature
** gets std 1). n < 1 or NULL is CLAP_ERR_ARG; a non-finite value is
** CLAP_ERR_RANGE "row R, column C: feature is not finite". On error the model
** is unchanged. */
clap_status clap_train_standardise(clap_model *m, model_side side, const float *x, int n,
                                   clap_error *err);

/* ------------------------------------------------------------ text pool */

typedef struct clap_text_pool clap_text_pool;

/* n rows of text features (n x text_in, borrowed: must outlive the pool),
** row r describing class cls[r] (>= 0) of task task[r] (>= 0). original[r]
** != 0 marks the original description of its (task, class); with
** original == NULL the first row of each (task, class) is its original. When
** several rows are marked, the first one counts. A (task, class) with rows
** but no original is allowed (only augmented draws can use it). */
clap_status clap_text_pool_create(const float *features, int n, int text_in, const int *task,
                                  const int *cls, const unsigned char *original,
                                  clap_text_pool **out, clap_error *err);
void clap_text_pool_free(clap_text_pool *p);
const float *clap_text_pool_row(const clap_text_pool *p, int row); /* NULL out of range */
/* How many rows describe (task, cls) - 0 when none. */
int clap_text_pool_count(const clap_text_pool *p, int task, int cls);

/* The pool row for a row labeled cls in task: with augment == 0 its original
** description (no draw is made); otherwise one of all rows of (task, cls),
** the original included, uniformly with clap_rng_below(r, count) - exactly
** one draw. No such row is CLAP_ERR_NOTFOUND "no text for task T, class C"
** (or "no original text ..."). */
clap_status clap_text_pool_draw(const clap_text_pool *p, int task, int cls, int augment,
                                clap_rng *r, int *row, clap_error *err);

/* ------------------------------------------------------------ gradients */

typedef struct clap_grads clap_grads;

/* Zeroed buffers shaped like every trainable tensor of m (all but mean/std). */
clap_status clap_grads_create(clap_model *m, clap_grads **out, clap_error *err);
void clap_grads_free(clap_grads *g);
/* The live gradient buffer of a tensor (model_tensor's names and shapes), or
** NULL with rows = cols = 0 for mean/std or an unknown name. */
float *clap_grads_tensor(clap_grads *g, const char *name, int *rows, int *cols);
void clap_grads_zero(clap_grads *g);

/* One batch. Row i (0..n-1) has raw audio features audio[i*audio_in ..], a
** class id labels[i*k + t] per task t (-1 = unlabeled), and, where labeled,
** text pool row text_rows[i*k + t] as its text for task t (ignored where
** unlabeled). targets is NULL (hard targets) or k pointers, each NULL or an
** n x n soft target for that task (clap_loss.h). */
typedef struct clap_batch {
  const float *audio;
  int n;
  int k;
  const int *labels;
  const int *text_rows;
  const float *const *targets;
} clap_batch;

/* L of the batch in *loss and dL/d(every trainable tensor) in g (overwritten).
** The model is not modified. Each distinct pool row is embedded once per
** batch however many rows use it; its gradient is the sum over its uses. */
clap_status clap_train_grad(clap_model *m, const clap_text_pool *pool, const clap_batch *b,
                            clap_grads *g, double *loss, clap_error *err);

/* ----------------------------------------------------------------- Adam */

typedef struct clap_adam clap_adam;

/* Optimiser state (first and second moments, step count) for m's trainable
** tensors; lr must be finite and > 0 (CLAP_ERR_RANGE). */
clap_status clap_adam_create(clap_model *m, double lr, clap_adam **out, clap_error *err);
void clap_adam_free(clap_adam *a);
/* One step, for each parameter p with gradient g, at step t = 1, 2, ...:
**   m = 0.9 m + 0.1 g;  v = 0.999 v + 0.001 g^2
**   p -= lr * (m / (1 - 0.9^t)) / (sqrt(v / (1 - 0.999^t)) + 1e-8)
** in float, with lr / (1 - 0.9^t) and 1 / (1 - 0.999^t) computed once per
** step in double and rounded to float; then log_scale is
** clamped to [0, CLAP_LOG_SCALE_MAX]. A non-finite gradient is
** CLAP_ERR_RANGE naming the tensor and index, with model and state
** unchanged; a model whose tensor shapes differ from the one the state was
** created for is CLAP_ERR_ARG. */
clap_status clap_adam_step(clap_adam *a, clap_model *m, clap_grads *g, clap_error *err);
long clap_adam_steps(const clap_adam *a);

/* The same Adam, the same update, for n parameters outside a model (the
** baseline's output unit, clap_bce.h): clap_adam_vec_step updates p [n] from
** g [n]. A non-finite gradient is CLAP_ERR_RANGE "gradient of WHAT[j] is not
** finite" with p and the state unchanged; n other than the state's is
** CLAP_ERR_ARG. */
typedef struct clap_adam_vec clap_adam_vec;
clap_status clap_adam_vec_create(int n, double lr, clap_adam_vec **out, clap_error *err);
void clap_adam_vec_free(clap_adam_vec *a);
clap_status clap_adam_vec_step(clap_adam_vec *a, float *p, const float *g, int n, const char *what,
                               clap_error *err);

/* -------------------------------------------------------------- sampler */

typedef struct clap_sampler clap_sampler;

/* Mini-batches of `batch` rows (the last one of an epoch may be smaller)
** over rows 0..n-1. Each epoch starts from the identity permutation and
** shuffles it with clap_rng_shuffle on a stream seeded once with `seed`, so
** epoch e's order depends only on seed and e. n < 1 or batch < 1 is
** CLAP_ERR_ARG. */
clap_status clap_sampler_create(int n, int batch, uint64_t seed, clap_sampler **out,
                                clap_error *err);
void clap_sampler_free(clap_sampler *s);
/* The next batch of the current epoch: *idx (owned by the sampler, valid
** until the next call) holds *count row indices; returns 1. At the end of an
** epoch returns 0 (count 0); the call after that begins the next epoch. */
int clap_sampler_next(clap_sampler *s, const int **idx, int *count);
int clap_sampler_epoch(const clap_sampler *s);   /* epochs begun so far */

/* ---------------------------------------------------------------- epoch */

/* In-memory training data: n rows of raw audio features (n x audio_in) with
** labels (n x k, -1 = unlabeled), and the text pool all texts come from. */
typedef struct clap_train_set {
  const float *audio;
  const int *labels;
  int n, k;
  const clap_text_pool *pool;
} clap_train_set;

/* Every labeled (task, class) of the set has text in the pool (an original
** one unless augment), labels are >= -1, shapes agree with the model. */
clap_status clap_train_check(clap_model *m, const clap_train_set *d, int augment,
                             clap_error *err);

/* One epoch: checks the set (clap_train_check), then for every batch the
** sampler gives until its epoch ends - text rows drawn with
** clap_text_pool_draw (row-major over rows then tasks, from r), clap_train_grad,
** clap_adam_step. The sampler must be over d->n rows. *mean_loss is the mean
** of the batch losses weighted by batch size. On error the model holds the
** updates of the batches before the failing one. */
clap_status clap_train_epoch(clap_model *m, clap_adam *opt, clap_sampler *s,
                             const clap_train_set *d, int augment, clap_rng *r,
                             double *mean_loss, clap_error *err);

#endif
