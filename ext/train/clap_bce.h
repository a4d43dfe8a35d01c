/*
** clap_bce — the supervised baseline's output unit (paper §III-B): one
** logistic unit on D-dim inputs, p = sigmoid(w·z + b), trained with binary
** cross-entropy. Forward, loss and gradients of one batch; the update is
** clap_train's Adam (clap_adam_vec for w and b, clap_adam for the layers
** below), so the baseline and the CLAP model share one optimiser.
**
** Arithmetic: the logit w·z + b is summed in double, the per-row loss
** log(1 + e^-|a|) + max(a, 0) - a·y is exact for any a, the gradients are
** float (those of the batch mean). Nothing allocates.
*/
#ifndef CLAP_BCE_H
#define CLAP_BCE_H

#include "clap_error.h"

/* w·z + b over dim values, in double. */
double clap_bce_logit(const float *z, const float *w, float b, int dim);
/* 1 / (1 + e^-a), without overflow for any a. */
double clap_bce_sigmoid(double a);

/* One batch of n rows z [n x dim] with labels y (0 or 1):
**   *loss_sum += Σ BCE(sigmoid(a_i), y_i)
**   gw [dim], *gb : gradient of the mean loss w.r.t. w and b
**   dz [n x dim]  : gradient of the mean loss w.r.t. each z_i (for the
**                   layers below; may be NULL)
** A label other than 0 or 1 is CLAP_ERR_ARG naming the row; a logit that is
** not finite is CLAP_ERR_RANGE naming the row (nothing is written then). */
clap_status clap_bce_grad(const float *z, int n, int dim, const float *w, float b, const int *y, float *gw,
                          float *gb, float *dz, double *loss_sum, clap_error *err);

#endif
