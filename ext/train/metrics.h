/*
** metrics — evaluation numbers of the paper (§III-B): weighted accuracy
** (WA: correct / all), unweighted accuracy (UA: the mean of the per-class
** recalls), recall per class, the ROC curve with its AUC and Youden's J
** threshold (the baseline's operating point), a two-tailed exact sign test
** between two systems, and the expected metrics of a seeded random predictor.
**
** Conventions: class ids are 0..n_classes-1; a binary truth is 0 or 1 with 1
** the positive class; a score predicts positive when score >= threshold.
** A class absent from the truth has no recall: its recall is NaN and UA is
** the mean over the classes present. Everything is computed in double.
**
** Errors: n < 1, n_classes < 1, a NULL array, a class id or binary label out
** of range is CLAP_ERR_ARG naming the argument and index; a non-finite
** score, or a ROC over a truth with no positives or no negatives, is
** CLAP_ERR_RANGE. Outputs are untouched on error. Nothing here allocates
** except metrics_roc, whose points the caller frees with free().
*/
#ifndef CLAP_METRICS_H
#define CLAP_METRICS_H

#include <stdint.h>

#include "clap_error.h"

/* WA and UA of predictions; recall (n_classes values, NULL when not wanted)
** gets each class's recall, NaN for a class with no true rows. Any of wa, ua
** may be NULL. */
clap_status metrics_classification(const int *truth, const int *pred, int n, int n_classes,
                                   double *wa, double *ua, double *recall, clap_error *err);

typedef struct metrics_roc_point {
  double threshold;   /* predict positive when score >= threshold */
  double fpr, tpr;
} metrics_roc_point;

/* The ROC curve of scores against a binary truth: the point (+inf, 0, 0),
** then one point per distinct score in decreasing order (tied scores move
** together), ending at (min score, 1, 1). *points is malloc'd (the caller
** frees), *npoints = distinct scores + 1. */
clap_status metrics_roc(const double *score, const int *truth, int n, metrics_roc_point **points,
                        int *npoints, clap_error *err);

/* Area under that curve by the trapezoid rule - equal to the probability
** that a random positive outscores a random negative, ties counting 1/2. */
clap_status metrics_auc(const double *score, const int *truth, int n, double *auc,
                        clap_error *err);

/* Youden's J = tpr - fpr, maximised over the curve's finite thresholds; of
** tied maxima the highest threshold wins. *threshold is a score of the data
** (use it with >=); j may be NULL. */
clap_status metrics_youden(const double *score, const int *truth, int n, double *threshold,
                           double *j, clap_error *err);

/* Two-tailed exact sign test on discordant pairs: b = cases system A got
** right and B wrong, c = the reverse. p = min(1, 2 P(X <= min(b, c))) with
** X ~ Binomial(b + c, 1/2), summed in log space (no overflow for any int
** counts); b = c = 0 gives p = 1. b or c < 0 is CLAP_ERR_ARG. */
clap_status metrics_sign_test(int b, int c, double *p, clap_error *err);

/* The same from per-row correctness (non-zero = correct) of two systems on
** the same n rows; *b and *c (either may be NULL) receive the counts. */
clap_status metrics_sign_test_paired(const unsigned char *correct_a, const unsigned char *correct_b,
                                     int n, int *b, int *c, double *p, clap_error *err);

/* A random predictor drawing each row's class uniformly from 0..n_classes-1
** with clap_rng_below; run r (0..runs-1) uses clap_rng seeded with seed + r.
** wa, ua and recall (as metrics_classification) receive the means over the
** runs. runs < 1 is CLAP_ERR_ARG. */
clap_status metrics_random_predictor(const int *truth, int n, int n_classes, uint64_t seed,
                                     int runs, double *wa, double *ua, double *recall,
                                     clap_error *err);

#endif
