/* clap_bce: the baseline's logistic unit (loss and gradients against finite
** differences in double); clap_adam_vec: the same update clap_adam_step
** makes, and a non-finite gradient is an error that changes nothing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clap_bce.h"
#include "clap_train.h"
#include "harness.h"

static double loss_of(const float *z, int n, int dim, const float *w, float b, const int *y) {
  double s = 0;
  for (int i = 0; i < n; i++) {
    double a = clap_bce_logit(z + (size_t)i * dim, w, b, dim);
    double p = clap_bce_sigmoid(a);
    s += -(y[i] ? log(p) : log(1 - p));
  }
  return s;
}

static void test_grad_matches_finite_differences(void) {
  enum { N = 5, D = 4 };
  float z[N * D], w[D] = {0.3f, -0.2f, 0.5f, 0.1f}, b = -0.1f;
  int y[N] = {1, 0, 1, 1, 0};
  for (int i = 0; i < N * D; i++) z[i] = (float)sin(1.7 * i) * 0.8f;
  float gw[D], gb, dz[N * D];
  double loss = 0;
  clap_error e;
  CHECK_INT(clap_bce_grad(z, N, D, w, b, y, gw, &gb, dz, &loss, &e), CLAP_OK);
  CHECK_NEAR(loss, loss_of(z, N, D, w, b, y), 1e-9);
  const float h = 1e-3f;
  for (int j = 0; j < D; j++) {
    float wp[D], wm[D];
    memcpy(wp, w, sizeof w), memcpy(wm, w, sizeof w);
    wp[j] += h, wm[j] -= h;
    double fd = (loss_of(z, N, D, wp, b, y) - loss_of(z, N, D, wm, b, y)) / (2.0 * h) / N;
    CHECK_NEAR(gw[j], fd, 1e-4);
  }
  double fdb = (loss_of(z, N, D, w, b + h, y) - loss_of(z, N, D, w, b - h, y)) / (2.0 * h) / N;
  CHECK_NEAR(gb, fdb, 1e-4);
  for (int i = 0; i < N; i++) {
    float zp[N * D], zm[N * D];
    memcpy(zp, z, sizeof z), memcpy(zm, z, sizeof z);
    zp[i * D + 2] += h, zm[i * D + 2] -= h;
    double fd = (loss_of(zp, N, D, w, b, y) - loss_of(zm, N, D, w, b, y)) / (2.0 * h) / N;
    CHECK_NEAR(dz[i * D + 2], fd, 1e-4);
  }
  /* a huge logit is still a finite loss */
  float big[D] = {1e4f, 1e4f, 1e4f, 1e4f};
  loss = 0;
  CHECK_INT(clap_bce_grad(z, N, D, big, 0, y, gw, &gb, NULL, &loss, &e), CLAP_OK);
  CHECK(isfinite(loss));
}

static void test_bad_input(void) {
  float z[4] = {1, 2, 3, 4}, w[2] = {1, 1}, gw[2], gb;
  int y[2] = {0, 2};
  double loss = 0;
  clap_error e;
  CHECK_INT(clap_bce_grad(z, 2, 2, w, 0, y, gw, &gb, NULL, &loss, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "row 1: label 2");
  y[1] = 1;
  z[2] = INFINITY;
  CHECK_INT(clap_bce_grad(z, 2, 2, w, 0, y, gw, &gb, NULL, &loss, &e), CLAP_ERR_RANGE);
  CHECK_CONTAINS(e.msg, "row 1: the baseline's logit is not finite");
  CHECK(loss == 0);
}

/* clap_adam_vec_step makes the update clap_adam_step documents, in float. */
static void test_adam_vec(void) {
  clap_adam_vec *a = NULL;
  clap_error e;
  CHECK_INT(clap_adam_vec_create(3, 0.01, &a, &e), CLAP_OK);
  float p[3] = {1, -1, 0.5f}, g[3] = {0.2f, -0.4f, 0};
  float m[3] = {0}, v[3] = {0}, q[3] = {1, -1, 0.5f};
  for (int t = 1; t <= 3; t++) {
    CHECK_INT(clap_adam_vec_step(a, p, g, 3, "w", &e), CLAP_OK);
    float step = (float)(0.01 / (1 - pow(0.9, t))), inv = (float)(1 / (1 - pow(0.999, t)));
    for (int j = 0; j < 3; j++) {
      m[j] = 0.9f * m[j] + 0.1f * g[j];
      v[j] = 0.999f * v[j] + 0.001f * g[j] * g[j];
      q[j] -= step * m[j] / (sqrtf(v[j] * inv) + 1e-8f);
    }
  }
  for (int j = 0; j < 3; j++) CHECK(p[j] == q[j]);
  float before[3];
  memcpy(before, p, sizeof p);
  g[1] = NAN;
  CHECK_INT(clap_adam_vec_step(a, p, g, 3, "the output unit", &e), CLAP_ERR_RANGE);
  CHECK_CONTAINS(e.msg, "gradient of the output unit[1] is not finite");
  CHECK(memcmp(before, p, sizeof p) == 0);
  CHECK_INT(clap_adam_vec_step(a, p, g, 2, "w", &e), CLAP_ERR_ARG);
  CHECK_INT(clap_adam_vec_create(0, 0.01, NULL, &e), CLAP_ERR_ARG);
  clap_adam_vec *b = NULL;
  CHECK_INT(clap_adam_vec_create(2, INFINITY, &b, &e), CLAP_ERR_RANGE);
  clap_adam_vec_free(a);
}

int main(void) {
  RUN(test_grad_matches_finite_differences);
  RUN(test_bad_input);
  RUN(test_adam_vec);
  return harness_report();
}
