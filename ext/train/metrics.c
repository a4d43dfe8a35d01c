/* metrics — see metrics.h. */
#include "metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clap_rng.h"

/* pred may be NULL only when need_pred is 0 (the random predictor). */
static clap_status check_classes(const int *truth, const int *pred, int need_pred, int n,
                                 int n_classes, const char *fn, clap_error *err) {
  if (!truth || (need_pred && !pred))
    return clap_error_set(err, CLAP_ERR_ARG, "%s: truth or pred is NULL", fn);
  if (n < 1) return clap_error_set(err, CLAP_ERR_ARG, "%s: n = %d; need at least one row", fn, n);
  if (n_classes < 1)
    return clap_error_set(err, CLAP_ERR_ARG, "%s: n_classes = %d is not positive", fn, n_classes);
  for (int i = 0; i < n; i++) {
    if (truth[i] < 0 || truth[i] >= n_classes)
      return clap_error_set(err, CLAP_ERR_ARG, "%s: truth[%d] = %d is outside 0..%d", fn, i,
                            truth[i], n_classes - 1);
    if (pred && (pred[i] < 0 || pred[i] >= n_classes))
      return clap_error_set(err, CLAP_ERR_ARG, "%s: pred[%d] = %d is outside 0..%d", fn, i,
                            pred[i], n_classes - 1);
  }
  return CLAP_OK;
}

/* Support and hits per class into cnt and right (caller-zeroed), then the metrics. */
static void tally(const int *truth, const int *pred, int n, int n_classes, long *cnt,
                  long *right, double *wa, double *ua, double *recall) {
  long hits = 0;
  for (int i = 0; i < n; i++) {
    cnt[truth[i]]++;
    if (pred[i] == truth[i]) right[truth[i]]++, hits++;
  }
  double sum = 0;
  int present = 0;
  for (int c = 0; c < n_classes; c++) {
    double r = cnt[c] ? (double)right[c] / cnt[c] : NAN;
    if (cnt[c]) sum += r, present++;
    if (recall) recall[c] = r;
  }
  if (wa) *wa = (double)hits / n;
  if (ua) *ua = sum / present; /* n >= 1, so some class is present */
}

clap_status metrics_classification(const int *truth, const int *pred, int n, int n_classes,
                                   double *wa, double *ua, double *recall, clap_error *err) {
  clap_status rc = check_classes(truth, pred, 1, n, n_classes, "metrics_classification", err);
  if (rc) return rc;
  long *cnt = calloc((size_t)n_classes * 2, sizeof(long));
  if (!cnt) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory for %d classes", n_classes);
  tally(truth, pred, n, n_classes, cnt, cnt + n_classes, wa, ua, recall);
  free(cnt);
  return CLAP_OK;
}

/* ------------------------------------------------------------------ ROC */

typedef struct scored {
  double s;
  int y;
} scored;

static int by_score_desc(const void *a, const void *b) {
  double x = ((const scored *)a)->s, y = ((const scored *)b)->s;
  return x > y ? -1 : x < y;
}

static clap_status check_binary(const double *score, const int *truth, int n, const char *fn,
                                long *pos, clap_error *err) {
  if (!score || !truth) return clap_error_set(err, CLAP_ERR_ARG, "%s: score or truth is NULL", fn);
  if (n < 1) return clap_error_set(err, CLAP_ERR_ARG, "%s: n = %d; need at least one row", fn, n);
  *pos = 0;
  for (int i = 0; i < n; i++) {
    if (truth[i] != 0 && truth[i] != 1)
      return clap_error_set(err, CLAP_ERR_ARG, "%s: truth[%d] = %d is neither 0 nor 1", fn, i,
                            truth[i]);
    if (!isfinite(score[i]))
      return clap_error_set(err, CLAP_ERR_RANGE, "%s: score[%d] is not finite", fn, i);
    *pos += truth[i];
  }
  if (*pos == 0 || *pos == n)
    return clap_error_set(err, CLAP_ERR_RANGE, "%s: a ROC needs both classes; the truth has %ld positives of %d",
                          fn, *pos, n);
  return CLAP_OK;
}

static clap_status roc_build(const double *score, const int *truth, int n, const char *fn,
                             metrics_roc_point **points, int *npoints, clap_error *err) {
  long pos = 0;
  clap_status rc = check_binary(score, truth, n, fn, &pos, err);
  if (rc) return rc;
  long neg = n - pos;
  scored *v = malloc(sizeof *v * (size_t)n);
  metrics_roc_point *pt = malloc(sizeof *pt * ((size_t)n + 1));
  if (!v || !pt) {
    free(v);
    free(pt);
    return clap_error_set(err, CLAP_ERR_NOMEM, "%s: out of memory for %d scores", fn, n);
  }
  for (int i = 0; i < n; i++) v[i] = (scored){score[i], truth[i]};
  qsort(v, (size_t)n, sizeof *v, by_score_desc);
  int k = 0;
  long tp = 0, fp = 0;
  pt[k++] = (metrics_roc_point){INFINITY, 0, 0};
  for (int i = 0; i < n;) {
    double s = v[i].s;
    for (; i < n && v[i].s == s; i++) v[i].y ? tp++ : fp++;
    pt[k++] = (metrics_roc_point){s, (double)fp / neg, (double)tp / pos};
  }
  free(v);
  *points = pt;
  *npoints = k;
  return CLAP_OK;
}

clap_status metrics_roc(const double *score, const int *truth, int n, metrics_roc_point **points,
                        int *npoints, clap_error *err) {
  if (!points || !npoints)
    return clap_error_set(err, CLAP_ERR_ARG, "metrics_roc: points or npoints is NULL");
  return roc_build(score, truth, n, "metrics_roc", points, npoints, err);
}

clap_status metrics_auc(const double *score, const int *truth, int n, double *auc,
                        clap_error *err) {
  if (!auc) return clap_error_set(err, CLAP_ERR_ARG, "metrics_auc: auc is NULL");
  metrics_roc_point *pt;
  int k;
  clap_status rc = roc_build(score, truth, n, "metrics_auc", &pt, &k, err);
  if (rc) return rc;
  double a = 0;
  for (int i = 1; i < k; i++) a += (pt[i].fpr - pt[i - 1].fpr) * (pt[i].tpr + pt[i - 1].tpr) / 2;
  free(pt);
  *auc = a;
  return CLAP_OK;
}

clap_status metrics_youden(const double *score, const int *truth, int n, double *threshold,
                           double *j, clap_error *err) {
  if (!threshold) return clap_error_set(err, CLAP_ERR_ARG, "metrics_youden: threshold is NULL");
  metrics_roc_point *pt;
  int k;
  clap_status rc = roc_build(score, truth, n, "metrics_youden", &pt, &k, err);
  if (rc) return rc;
  /* Compare J exactly as tp*neg - fp*pos in integers: equal J values must
  ** tie, whatever rounding tpr - fpr would do. The counts are recovered
  ** exactly from the correctly rounded ratios. */
  long long pos = 0, neg;
  for (int i = 0; i < n; i++) pos += truth[i];
  neg = n - pos;
  long long best_key = 0;
  int best = 0;
  for (int i = 1; i < k; i++) {
    long long tp = llround(pt[i].tpr * (double)pos), fp = llround(pt[i].fpr * (double)neg);
    long long key = tp * neg - fp * pos;
    if (best == 0 || key > best_key) best = i, best_key = key;
  }
  *threshold = pt[best].threshold;
  if (j) *j = pt[best].tpr - pt[best].fpr;
  free(pt);
  return CLAP_OK;
}

/* ------------------------------------------------------------ sign test */

clap_status metrics_sign_test(int b, int c, double *p, clap_error *err) {
  if (!p) return clap_error_set(err, CLAP_ERR_ARG, "metrics_sign_test: p is NULL");
  if (b < 0 || c < 0)
    return clap_error_set(err, CLAP_ERR_ARG, "metrics_sign_test: b = %d, c = %d; counts must be >= 0", b, c);
  double n = (double)b + c;
  int k = b < c ? b : c;
  /* log C(n, i) by the ratio C(n, i+1) = C(n, i) (n - i) / (i + 1); terms
  ** grow with i up to n/2, so the last is the largest: scale by it. */
  double lc = 0, *terms = malloc(sizeof(double) * ((size_t)k + 1));
  if (!terms) return clap_error_set(err, CLAP_ERR_NOMEM, "metrics_sign_test: out of memory");
  for (int i = 0; i <= k; i++) {
    terms[i] = lc;
    lc += log((n - i) / (i + 1.0));
  }
  double mx = terms[k], sum = 0;
  for (int i = 0; i <= k; i++) sum += exp(terms[i] - mx);
  free(terms);
  double log_tail = mx + log(sum) - n * log(2.0);
  double v = 2 * exp(log_tail);
  *p = v < 1 ? v : 1;
  return CLAP_OK;
}

clap_status metrics_sign_test_paired(const unsigned char *correct_a, const unsigned char *correct_b,
                                     int n, int *b, int *c, double *p, clap_error *err) {
  if (!correct_a || !correct_b)
    return clap_error_set(err, CLAP_ERR_ARG, "metrics_sign_test_paired: correct_a or correct_b is NULL");
  if (n < 0) return clap_error_set(err, CLAP_ERR_ARG, "metrics_sign_test_paired: n = %d is negative", n);
  int nb = 0, nc = 0;
  for (int i = 0; i < n; i++) {
    int a = correct_a[i] != 0, bb = correct_b[i] != 0;
    nb += a && !bb;
    nc += !a && bb;
  }
  clap_status rc = metrics_sign_test(nb, nc, p, err);
  if (rc) return rc;
  if (b) *b = nb;
  if (c) *c = nc;
  return CLAP_OK;
}

/* ----------------------------------------------------- random predictor */

clap_status metrics_random_predictor(const int *truth, int n, int n_classes, uint64_t seed,
                                     int runs, double *wa, double *ua, double *recall,
                                     clap_error *err) {
  clap_status rc = check_classes(truth, NULL, 0, n, n_classes, "metrics_random_predictor", err);
  if (rc) return rc;
  if (runs < 1)
    return clap_error_set(err, CLAP_ERR_ARG, "metrics_random_predictor: runs = %d is not positive", runs);
  int *pred = malloc(sizeof(int) * (size_t)n);
  long *cnt = malloc(sizeof(long) * (size_t)n_classes * 2);
  double *rec = malloc(sizeof(double) * (size_t)n_classes), *acc = calloc((size_t)n_classes, sizeof(double));
  if (!pred || !cnt || !rec || !acc) {
    free(pred);
    free(cnt);
    free(rec);
    free(acc);
    return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory for the random predictor");
  }
  double swa = 0, sua = 0;
  for (int r = 0; r < runs; r++) {
    clap_rng g;
    clap_rng_seed(&g, seed + (uint64_t)r);
    for (int i = 0; i < n; i++) pred[i] = (int)clap_rng_below(&g, (uint32_t)n_classes);
    memset(cnt, 0, sizeof(long) * (size_t)n_classes * 2);
    double w, u;
    tally(truth, pred, n, n_classes, cnt, cnt + n_classes, &w, &u, rec);
    swa += w;
    sua += u;
    for (int c = 0; c < n_classes; c++) acc[c] += rec[c]; /* NaN stays NaN: absent class */
  }
  if (wa) *wa = swa / runs;
  if (ua) *ua = sua / runs;
  for (int c = 0; recall && c < n_classes; c++) recall[c] = acc[c] / runs;
  free(pred);
  free(cnt);
  free(rec);
  free(acc);
  return CLAP_OK;
}
