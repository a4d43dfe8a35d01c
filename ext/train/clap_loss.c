/* clap_loss — see clap_loss.h. */
#include "clap_loss.h"
#include "dense.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Per-call scratch, sized for the whole batch once. */
typedef struct loss_work {
  float *sim;      /* n x n: <T_i, A_j> */
  float *g;        /* n x n: dL/dM, zero outside the labeled rows */
  double *q;       /* m x m: the target weights of the labeled rows */
  double *logit;   /* m x m */
  double *gd;      /* m x m: dL/dM in double, before it is scattered into g */
  int *rows;       /* the labeled rows of the current task */
} loss_work;

static void work_free(loss_work *w) {
  free(w->sim);
  free(w->g);
  free(w->q);
  free(w->logit);
  free(w->gd);
  free(w->rows);
}

static clap_status work_alloc(loss_work *w, int n, clap_error *err) {
  size_t nn = (size_t)n * (size_t)n;
  memset(w, 0, sizeof *w);
  w->sim = malloc(sizeof(float) * nn);
  w->g = malloc(sizeof(float) * nn);
  w->q = malloc(sizeof(double) * nn);
  w->logit = malloc(sizeof(double) * nn);
  w->gd = malloc(sizeof(double) * nn);
  w->rows = malloc(sizeof(int) * (size_t)n);
  if (!w->sim || !w->g || !w->q || !w->logit || !w->gd || !w->rows) {
    work_free(w);
    return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory for a %d-row loss", n);
  }
  return CLAP_OK;
}

static clap_status check_args(const float *audio, int n, int d, const clap_loss_task *tasks,
                              int k, float log_scale, const double *loss, clap_error *err) {
  if (n < 0) return clap_error_set(err, CLAP_ERR_ARG, "clap_loss: n = %d is negative", n);
  if (d < 1) return clap_error_set(err, CLAP_ERR_ARG, "clap_loss: d = %d is not positive", d);
  if (k < 0) return clap_error_set(err, CLAP_ERR_ARG, "clap_loss: k = %d is negative", k);
  if (!loss) return clap_error_set(err, CLAP_ERR_ARG, "clap_loss: loss is NULL");
  if (!isfinite(log_scale))
    return clap_error_set(err, CLAP_ERR_RANGE, "clap_loss: log_scale is not finite");
  if (n == 0 || k == 0) return CLAP_OK;
  if (!audio) return clap_error_set(err, CLAP_ERR_ARG, "clap_loss: audio is NULL");
  if (!tasks) return clap_error_set(err, CLAP_ERR_ARG, "clap_loss: tasks is NULL");
  for (int t = 0; t < k; t++) {
    if (!tasks[t].text || !tasks[t].labels)
      return clap_error_set(err, CLAP_ERR_ARG, "clap_loss: task %d: text or labels is NULL", t);
    for (int i = 0; i < n; i++)
      if (tasks[t].labels[i] < -1)
        return clap_error_set(err, CLAP_ERR_ARG,
                              "clap_loss: task %d, row %d: class id %d is invalid "
                              "(use -1 for unlabeled)",
                              t, i, tasks[t].labels[i]);
  }
  return CLAP_OK;
}

/* Q of the labeled rows (m x m), checked so that every row and column of it
** can be normalised into a distribution. */
static clap_status fill_target(const clap_loss_task *tk, int n, int t, loss_work *w, int m,
                               clap_error *err) {
  for (int a = 0; a < m; a++) {
    int i = w->rows[a];
    for (int b = 0; b < m; b++) {
      int j = w->rows[b];
      double q;
      if (!tk->target) {
        q = tk->labels[i] == tk->labels[j];
      } else {
        q = tk->target[(size_t)i * n + j];
        if (!isfinite(q) || q < 0)
          return clap_error_set(err, CLAP_ERR_RANGE,
                                "clap_loss: task %d: target (%d, %d) = %g is not a finite "
                                "non-negative weight",
                                t, i, j, q);
      }
      w->q[(size_t)a * m + b] = q;
    }
  }
  for (int a = 0; a < m; a++) {
    double rs = 0, cs = 0;
    for (int b = 0; b < m; b++) {
      rs += w->q[(size_t)a * m + b];
      cs += w->q[(size_t)b * m + a];
    }
    if (!(rs > 0))
      return clap_error_set(err, CLAP_ERR_RANGE,
                            "clap_loss: task %d: target row %d has no weight on a labeled column",
                            t, w->rows[a]);
    if (!(cs > 0))
      return clap_error_set(err, CLAP_ERR_RANGE,
                            "clap_loss: task %d: target column %d has no weight on a labeled row",
                            t, w->rows[a]);
  }
  return CLAP_OK;
}

/* One direction of the symmetric CE: softmax along rows (stride_in = 1,
** stride_out = m) or along columns (stride_in = m, stride_out = 1) of the
** logits. Adds its gradient, scaled by `scale`, into gd (m x m, double) and
** returns the summed cross-entropy. */
static double ce_direction(const double *logit, const double *q, int m, size_t step, size_t lane,
                           double scale, double *gd) {
  double total = 0;
  for (int a = 0; a < m; a++) {
    size_t base = (size_t)a * lane;
    double mx = -INFINITY, qs = 0;
    for (int b = 0; b < m; b++) {
      size_t o = base + (size_t)b * step;
      if (logit[o] > mx) mx = logit[o];
      qs += q[o];
    }
    double se = 0;
    for (int b = 0; b < m; b++) se += exp(logit[base + (size_t)b * step] - mx);
    double lse = mx + log(se);
    for (int b = 0; b < m; b++) {
      size_t o = base + (size_t)b * step;
      double p = q[o] / qs;
      if (p > 0) total += p * (lse - logit[o]);
      gd[o] += scale * (exp(logit[o] - lse) - p);
    }
  }
  return total;
}

/* Task t's loss; its dL/dM goes into w->g (n x n), its dL/dlog_scale into *gls. */
static clap_status task_loss(const float *audio, int n, int d, const clap_loss_task *tk, int t,
                             double s, loss_work *w, double *loss, double *gls,
                             clap_error *err) {
  int m = 0;
  for (int i = 0; i < n; i++)
    if (tk->labels[i] >= 0) w->rows[m++] = i;
  memset(w->g, 0, sizeof(float) * (size_t)n * n);
  *loss = 0;
  *gls = 0;
  if (m == 0) return CLAP_OK;
  clap_status rc = fill_target(tk, n, t, w, m, err);
  if (rc) return rc;
  nn_matmul(0, 1, n, n, d, 1.0f, tk->text, d, audio, d, 0.0f, w->sim, n);
  for (int a = 0; a < m; a++)
    for (int b = 0; b < m; b++) {
      double v = s * w->sim[(size_t)w->rows[a] * n + w->rows[b]];
      if (!isfinite(v))
        return clap_error_set(err, CLAP_ERR_RANGE,
                              "clap_loss: task %d: similarity of text row %d and audio row %d "
                              "is not finite",
                              t, w->rows[a], w->rows[b]);
      w->logit[(size_t)a * m + b] = v;
    }
  double *gd = w->gd;
  memset(gd, 0, sizeof(double) * (size_t)m * m);
  double half = 0.5 / m;
  double rows = ce_direction(w->logit, w->q, m, 1, (size_t)m, half, gd);
  double cols = ce_direction(w->logit, w->q, m, (size_t)m, 1, half, gd);
  *loss = half * (rows + cols);
  double g_ls = 0;
  for (int a = 0; a < m; a++)
    for (int b = 0; b < m; b++) {
      double g = gd[(size_t)a * m + b];
      g_ls += g * w->logit[(size_t)a * m + b];
      w->g[(size_t)w->rows[a] * n + w->rows[b]] = (float)g;
    }
  *gls = g_ls;
  return CLAP_OK;
}

clap_status clap_loss(const float *audio, int n, int d, const clap_loss_task *tasks, int k,
                      float log_scale, double *loss, float *grad_audio, double *grad_log_scale,
                      clap_error *err) {
  clap_status rc = check_args(audio, n, d, tasks, k, log_scale, loss, err);
  if (rc) return rc;
  *loss = 0;
  if (grad_log_scale) *grad_log_scale = 0;
  size_t nd = (size_t)n * (size_t)d;
  if (grad_audio) memset(grad_audio, 0, sizeof(float) * nd);
  for (int t = 0; t < k && n > 0; t++)
    if (tasks[t].grad_text) memset(tasks[t].grad_text, 0, sizeof(float) * nd);
  if (n == 0 || k == 0) return CLAP_OK;
  loss_work w;
  if ((rc = work_alloc(&w, n, err))) return rc;
  double s = exp((double)log_scale), total = 0, gls_total = 0;
  for (int t = 0; t < k; t++) {
    double lt, gls;
    if ((rc = task_loss(audio, n, d, &tasks[t], t, s, &w, &lt, &gls, err))) break;
    total += lt;
    gls_total += gls;
    if (tasks[t].grad_text)
      nn_matmul(0, 0, n, d, n, (float)s, w.g, n, audio, d, 0.0f, tasks[t].grad_text, d);
    if (grad_audio)
      nn_matmul(1, 0, n, d, n, (float)s, w.g, n, tasks[t].text, d, 1.0f, grad_audio, d);
  }
  work_free(&w);
  if (rc) return rc;
  *loss = total;
  if (grad_log_scale) *grad_log_scale = gls_total;
  return CLAP_OK;
}
