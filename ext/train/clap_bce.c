/* clap_bce — see clap_bce.h. */
#include "clap_bce.h"

#include <math.h>
#include <string.h>

double clap_bce_logit(const float *z, const float *w, float b, int dim) {
  double a = b;
  for (int j = 0; j < dim; j++) a += (double)z[j] * w[j];
  return a;
}

double clap_bce_sigmoid(double a) { return a >= 0 ? 1 / (1 + exp(-a)) : exp(a) / (1 + exp(a)); }

clap_status clap_bce_grad(const float *z, int n, int dim, const float *w, float b, const int *y, float *gw,
                          float *gb, float *dz, double *loss_sum, clap_error *err) {
  if (!z || !w || !y || !gw || !gb || !loss_sum || n < 1 || dim < 1)
    return clap_error_set(err, CLAP_ERR_ARG, "clap_bce_grad: missing argument or n = %d, dim = %d", n, dim);
  for (int i = 0; i < n; i++) {
    if (y[i] != 0 && y[i] != 1) return clap_error_set(err, CLAP_ERR_ARG, "row %d: label %d is not 0 or 1", i, y[i]);
    double a = clap_bce_logit(z + (size_t)i * dim, w, b, dim);
    if (!isfinite(a)) return clap_error_set(err, CLAP_ERR_RANGE, "row %d: the baseline's logit is not finite", i);
  }
  memset(gw, 0, (size_t)dim * sizeof *gw);
  float gbias = 0;
  double loss = 0;
  for (int i = 0; i < n; i++) {
    const float *zi = z + (size_t)i * dim;
    double a = clap_bce_logit(zi, w, b, dim);
    loss += (a > 0 ? a : 0) - a * y[i] + log1p(exp(-fabs(a)));
    float gi = (float)((clap_bce_sigmoid(a) - y[i]) / n);
    for (int j = 0; j < dim; j++) gw[j] += gi * zi[j];
    if (dz)
      for (int j = 0; j < dim; j++) dz[(size_t)i * dim + j] = gi * w[j];
    gbias += gi;
  }
  *gb = gbias;
  *loss_sum += loss;
  return CLAP_OK;
}
