/*
** clap_loss — the multi-class multi-task CLAP loss (paper §II-B, eq. 7) and
** its gradients, for one batch.
**
** Inputs: n audio embeddings A (n x d, row-major, normally L2-normalised),
** and for each of K tasks k: n text embeddings T_k (n x d; row i is the text
** for row i's class in task k), a class id per row (>= 0, or -1 = unlabeled),
** and optionally a soft target. s = exp(log_scale).
**
** For task k let R_k be its labeled rows (class id >= 0), m = |R_k|, and for
** i, j in R_k:
**   M_ij   = s * <T_k,i , A_j>                  (text i against audio j)
**   Q_ij   = [class_i == class_j]                (hard target, the default)
**          | target_k[i*n + j]                   (soft target, caller-given)
**   P_ij   = Q_ij / sum_j' Q_ij'                 (rows of Q normalised: M̂_k)
**   P'_ij  = Q_ij / sum_i' Q_i'j                 (columns normalised: M̂_kᵀ)
**   L_k    = 1/2 * ( 1/m sum_i sum_j -P_ij  log softmax_j'(M_ij')
**                  + 1/m sum_j sum_i -P'_ij log softmax_i'(M_i'j) )
**   L      = sum_k L_k                           (a task with m = 0 adds 0)
** Unlabeled rows take no part in task k: not as text, not as audio. With the
** hard target Q is symmetric, so P' is exactly the transpose of P: every
** same-class pair is a positive, each row spread evenly over them.
**
** Gradients (exact, not approximated): with
**   G_ij = 1/(2m) * ( softmax_j'(M_ij') - P_ij + softmax_i'(M_i'j) - P'_ij )
**   dL/dT_k,i   = s * sum_j G_ij A_j
**   dL/dA_j     = s * sum_k sum_i G_ij T_k,i
**   dL/dlog_scale = sum_k sum_ij G_ij M_ij
** Rows of dL/dT_k that are unlabeled in task k are zero. The logits, softmax
** and loss are computed in double; the products with the embeddings are
** float32 oneDNN matmuls (nn_matmul, dense.h).
**
** Errors (nothing is written to the outputs' meaning then; they may be
** partly overwritten): n < 0, d < 1, k < 0, a NULL array that is needed,
** or a class id < -1 is CLAP_ERR_ARG naming the task and row; a non-finite
** log_scale, a negative or non-finite soft-target entry between labeled rows,
** a labeled row or column of Q that sums to 0, or a non-finite similarity
** (an embedding holding NaN/inf) is CLAP_ERR_RANGE naming task, row and
** column. n == 0 or k == 0 gives L = 0 and zero gradients.
*/
#ifndef CLAP_LOSS_H
#define CLAP_LOSS_H

#include "clap_error.h"

typedef struct clap_loss_task {
  const float *text;     /* n x d text embeddings (borrowed) */
  const int *labels;     /* n class ids, -1 = unlabeled (borrowed) */
  const float *target;   /* NULL for the hard target, else n x n Q (borrowed) */
  float *grad_text;      /* out: n x d dL/dT_k, or NULL when not wanted */
} clap_loss_task;

/* *loss receives L. grad_audio (n x d) and *grad_log_scale are written (not
** accumulated) when non-NULL, as is each task's grad_text. */
clap_status clap_loss(const float *audio, int n, int d, const clap_loss_task *tasks, int k,
                      float log_scale, double *loss, float *grad_audio, double *grad_log_scale,
                      clap_error *err);

#endif
