/* Unit tests for ext/train/clap_loss.c: values, gradients against central finite
** differences of a double-precision reference, masking, soft targets, errors. */
#include <stdlib.h>

#include "clap_loss.h"
#include "clap_rng.h"
#include "harness.h"

#define N 7
#define D 5
#define K 3

/* The loss of clap_loss.h, written out directly in double. */
static double ref_loss(const double *a, double *const t[K], const int lab[K][N],
                       const double *const tgt[K], double log_scale) {
  double s = exp(log_scale), total = 0;
  for (int k = 0; k < K; k++) {
    int rows[N], m = 0;
    for (int i = 0; i < N; i++)
      if (lab[k][i] >= 0) rows[m++] = i;
    if (!m) continue;
    double M[N][N], Q[N][N];
    for (int x = 0; x < m; x++)
      for (int y = 0; y < m; y++) {
        int i = rows[x], j = rows[y];
        double dot = 0;
        for (int c = 0; c < D; c++) dot += t[k][i * D + c] * a[j * D + c];
        M[x][y] = s * dot;
        Q[x][y] = tgt[k] ? tgt[k][i * N + j] : (double)(lab[k][i] == lab[k][j]);
      }
    double ce = 0;
    for (int dir = 0; dir < 2; dir++)
      for (int x = 0; x < m; x++) {
        double lse = 0, qs = 0;
        for (int y = 0; y < m; y++) {
          double v = dir ? M[y][x] : M[x][y];
          lse += exp(v);
          qs += dir ? Q[y][x] : Q[x][y];
        }
        lse = log(lse);
        for (int y = 0; y < m; y++) {
          double v = dir ? M[y][x] : M[x][y], q = dir ? Q[y][x] : Q[x][y];
          ce += q / qs * (lse - v);
        }
      }
    total += 0.5 * ce / m;
  }
  return total;
}

static void random_unit_rows(clap_rng *r, double *x, int n, int d) {
  for (int i = 0; i < n; i++) {
    double ss = 0;
    for (int c = 0; c < d; c++) {
      x[i * d + c] = 2 * clap_rng_uniform(r) - 1;
      ss += x[i * d + c] * x[i * d + c];
    }
    for (int c = 0; c < d; c++) x[i * d + c] /= sqrt(ss);
  }
}

static void to_float(const double *x, float *y, int n) {
  for (int i = 0; i < n; i++) y[i] = (float)x[i];
}

/* Task 0: hard target, rows 2 and 5 unlabeled; task 1: soft target with
** row 0 unlabeled; task 2: hard target, every row labeled. */
static const int labels[K][N] = {
    {0, 1, -1, 0, 2, -1, 1},
    {-1, 0, 1, 1, 0, 0, 1},
    {0, 0, 1, 1, 1, 0, 1},
};

static void test_gradients_match_finite_differences(void) {
  clap_rng r;
  clap_rng_seed(&r, 42);
  double a[N * D], tbuf[K][N * D], soft[N * N];
  double *t[K] = {tbuf[0], tbuf[1], tbuf[2]};
  random_unit_rows(&r, a, N, D);
  for (int k = 0; k < K; k++) random_unit_rows(&r, t[k], N, D);
  for (int i = 0; i < N * N; i++) soft[i] = 0.05 + clap_rng_uniform(&r);
  const double *tgt[K] = {NULL, soft, NULL};
  double ls = log(5.0);
  /* Evaluate at float-rounded points so both sides see the same input. */
  float af[N * D], tf[K][N * D], softf[N * N], ga[N * D], gt[K][N * D];
  to_float(a, af, N * D);
  for (int i = 0; i < N * D; i++) a[i] = af[i];
  for (int k = 0; k < K; k++) {
    to_float(t[k], tf[k], N * D);
    for (int i = 0; i < N * D; i++) t[k][i] = tf[k][i];
  }
  to_float(soft, softf, N * N);
  for (int i = 0; i < N * N; i++) soft[i] = softf[i];
  clap_loss_task tasks[K];
  for (int k = 0; k < K; k++) {
    tasks[k].text = tf[k];
    tasks[k].labels = labels[k];
    tasks[k].target = k == 1 ? softf : NULL;
    tasks[k].grad_text = gt[k];
  }
  double loss = -1, gls = 0;
  clap_error e;
  CHECK_INT(clap_loss(af, N, D, tasks, K, (float)ls, &loss, ga, &gls, &e), CLAP_OK);
  double ref = ref_loss(a, t, labels, tgt, (float)ls);
  CHECK_NEAR(loss, ref, 1e-5 * fabs(ref));
  CHECK(loss > 0.5);
  const double h = 1e-6;
  double worst = 0;
  for (int i = 0; i < N * D; i++) {
    double keep = a[i];
    a[i] = keep + h;
    double up = ref_loss(a, t, labels, tgt, (float)ls);
    a[i] = keep - h;
    double dn = ref_loss(a, t, labels, tgt, (float)ls);
    a[i] = keep;
    double fd = (up - dn) / (2 * h);
    CHECK_NEAR(ga[i], fd, 1e-4 + 1e-4 * fabs(fd));
    if (fabs(fd) > worst) worst = fabs(fd);
  }
  CHECK(worst > 0.05); /* the gradient is not trivially zero */
  for (int k = 0; k < K; k++)
    for (int i = 0; i < N * D; i++) {
      double keep = t[k][i];
      t[k][i] = keep + h;
      double up = ref_loss(a, t, labels, tgt, (float)ls);
      t[k][i] = keep - h;
      double dn = ref_loss(a, t, labels, tgt, (float)ls);
      t[k][i] = keep;
      double fd = (up - dn) / (2 * h);
      CHECK_NEAR(gt[k][i], fd, 1e-4 + 1e-4 * fabs(fd));
      if (labels[k][i / D] < 0) CHECK(gt[k][i] == 0.0f);
    }
  double up = ref_loss(a, t, labels, tgt, (double)(float)ls + h);
  double dn = ref_loss(a, t, labels, tgt, (double)(float)ls - h);
  CHECK_NEAR(gls, (up - dn) / (2 * h), 1e-5);
  CHECK(fabs(gls) > 1e-3);
}

/* Two orthogonal unit vectors, s = 1: M = I. Distinct classes give
** L = log(1 + e^-1); one shared class gives L = log(1 + e) - 1/2. */
static void test_hand_computed_values(void) {
  float a[4] = {1, 0, 0, 1}, t[4] = {1, 0, 0, 1};
  int distinct[2] = {0, 1}, same[2] = {3, 3};
  clap_loss_task task = {t, distinct, NULL, NULL};
  double loss = 0, gls = 0;
  float ga[4];
  clap_error e;
  CHECK_INT(clap_loss(a, 2, 2, &task, 1, 0.0f, &loss, ga, &gls, &e), CLAP_OK);
  CHECK_NEAR(loss, log(1 + exp(-1.0)), 1e-7);
  /* dL/dM_00 = 1/(2*2) * 2 * (sigmoid(1) - 1): two directions of two rows. */
  double g00 = 0.5 * (1 / (1 + exp(-1.0)) - 1);
  CHECK_NEAR(ga[0], g00, 1e-6);
  CHECK_NEAR(gls, 2 * g00, 1e-6); /* only the diagonal has M != 0 */
  task.labels = same;
  CHECK_INT(clap_loss(a, 2, 2, &task, 1, 0.0f, &loss, NULL, NULL, &e), CLAP_OK);
  CHECK_NEAR(loss, log(1 + exp(1.0)) - 0.5, 1e-7);
}

/* The hard target is the soft target Q = same-class indicator. */
static void test_soft_indicator_equals_hard(void) {
  clap_rng r;
  clap_rng_seed(&r, 7);
  double a[N * D], t[N * D];
  random_unit_rows(&r, a, N, D);
  random_unit_rows(&r, t, N, D);
  float af[N * D], tf[N * D], q[N * N], g1[N * D], g2[N * D];
  to_float(a, af, N * D);
  to_float(t, tf, N * D);
  for (int i = 0; i < N; i++)
    for (int j = 0; j < N; j++)
      q[i * N + j] = labels[0][i] == labels[0][j] ? 2.5f : 0.0f; /* scale is irrelevant */
  clap_loss_task hard = {tf, labels[0], NULL, g1}, soft = {tf, labels[0], q, g2};
  double l1, l2;
  clap_error e;
  CHECK_INT(clap_loss(af, N, D, &hard, 1, 2.0f, &l1, NULL, NULL, &e), CLAP_OK);
  CHECK_INT(clap_loss(af, N, D, &soft, 1, 2.0f, &l2, NULL, NULL, &e), CLAP_OK);
  CHECK_NEAR(l1, l2, 1e-12);
  for (int i = 0; i < N * D; i++) CHECK_NEAR(g1[i], g2[i], 1e-7);
}

/* Masked rows are invisible: changing them does not change L. */
static void test_masked_rows_do_not_matter(void) {
  clap_rng r;
  clap_rng_seed(&r, 9);
  double a[N * D], t[N * D];
  random_unit_rows(&r, a, N, D);
  random_unit_rows(&r, t, N, D);
  float af[N * D], tf[N * D], ga[N * D];
  to_float(a, af, N * D);
  to_float(t, tf, N * D);
  clap_loss_task task = {tf, labels[0], NULL, NULL};
  double l1, l2;
  clap_error e;
  CHECK_INT(clap_loss(af, N, D, &task, 1, 1.0f, &l1, ga, NULL, &e), CLAP_OK);
  for (int c = 0; c < D; c++) {
    CHECK(ga[2 * D + c] == 0.0f && ga[5 * D + c] == 0.0f);
    af[2 * D + c] = -af[2 * D + c];
    tf[5 * D + c] = 0.3f;
  }
  CHECK_INT(clap_loss(af, N, D, &task, 1, 1.0f, &l2, NULL, NULL, &e), CLAP_OK);
  CHECK(l1 == l2);
  int none[N] = {-1, -1, -1, -1, -1, -1, -1};
  task.labels = none;
  double gls = 5;
  CHECK_INT(clap_loss(af, N, D, &task, 1, 1.0f, &l1, ga, &gls, &e), CLAP_OK);
  CHECK(l1 == 0 && gls == 0 && ga[0] == 0.0f);
}

static void test_errors(void) {
  float a[4] = {1, 0, 0, 1}, t[4] = {1, 0, 0, 1}, q[4] = {1, 0, 0, 1};
  int lab[2] = {0, -2};
  clap_loss_task task = {t, lab, NULL, NULL};
  double loss;
  clap_error e;
  CHECK_INT(clap_loss(a, 2, 2, &task, 1, 0.0f, &loss, NULL, NULL, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "task 0, row 1: class id -2 is invalid");
  lab[1] = 1;
  CHECK_INT(clap_loss(a, -1, 2, &task, 1, 0.0f, &loss, NULL, NULL, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "n = -1 is negative");
  CHECK_INT(clap_loss(a, 2, 0, &task, 1, 0.0f, &loss, NULL, NULL, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "d = 0");
  CHECK_INT(clap_loss(a, 2, 2, &task, 1, NAN, &loss, NULL, NULL, &e), CLAP_ERR_RANGE);
  CHECK_CONTAINS(e.msg, "log_scale is not finite");
  CHECK_INT(clap_loss(NULL, 2, 2, &task, 1, 0.0f, &loss, NULL, NULL, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "audio is NULL");
  task.text = NULL;
  CHECK_INT(clap_loss(a, 2, 2, &task, 1, 0.0f, &loss, NULL, NULL, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "task 0: text or labels is NULL");
  task.text = t;
  task.target = q;
  q[1] = -1;
  CHECK_INT(clap_loss(a, 2, 2, &task, 1, 0.0f, &loss, NULL, NULL, &e), CLAP_ERR_RANGE);
  CHECK_CONTAINS(e.msg, "target (0, 1) = -1");
  q[1] = 0;
  q[3] = 0;
  CHECK_INT(clap_loss(a, 2, 2, &task, 1, 0.0f, &loss, NULL, NULL, &e), CLAP_ERR_RANGE);
  CHECK_CONTAINS(e.msg, "task 0: target row 1 has no weight");
  q[2] = 1; /* row 1 has weight now, column 1 still none */
  CHECK_INT(clap_loss(a, 2, 2, &task, 1, 0.0f, &loss, NULL, NULL, &e), CLAP_ERR_RANGE);
  CHECK_CONTAINS(e.msg, "target column 1 has no weight");
  task.target = NULL;
  a[3] = INFINITY;
  CHECK_INT(clap_loss(a, 2, 2, &task, 1, 0.0f, &loss, NULL, NULL, &e), CLAP_ERR_RANGE);
  CHECK_CONTAINS(e.msg, "audio row 1 is not finite");
  CHECK_INT(clap_loss(a, 0, 2, &task, 1, 0.0f, &loss, NULL, NULL, &e), CLAP_OK);
  CHECK(loss == 0);
}

int main(void) {
  RUN(test_gradients_match_finite_differences);
  RUN(test_hand_computed_values);
  RUN(test_soft_indicator_equals_hard);
  RUN(test_masked_rows_do_not_matter);
  RUN(test_errors);
  return harness_report();
}
