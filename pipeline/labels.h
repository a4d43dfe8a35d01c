/*
** labels — from annotator scores to binary labels (paper §III-A), one
** dimension at a time. Pure computation: no SQLite; `clap labels`
** (cmd_labels.c) reads the scores and stores what this returns.
**
** The procedure, exactly. For one dimension, with scores s(u,a) in 1..7 given
** by annotator a to utterance u:
**  1. Pooled statistics: M and S, the mean and the population standard
**     deviation (divide by n) of ALL scores of the dimension, every annotator
**     and every utterance together.
**  2. Per annotator a: m_a and s_a, the mean and population standard
**     deviation of a's scores on the dimension.
**  3. Normalised score: n(u,a) = M + S * (s(u,a) - m_a) / s_a, i.e. each
**     annotator's distribution is z-normalised and mapped onto the mean and
**     variance of the pooled distribution. An annotator whose scores are all
**     equal (s_a = 0) carries no information about relative intensity, so
**     every one of their scores maps to M (z taken as 0).
**  4. Utterance value: v(u) = the mean of n(u,a) over the annotators who
**     scored u (an annotator who skipped u does not count).
**  5. Rounding: r(u) = G * k(u), k(u) = v(u)/G rounded to the nearest
**     integer, halves away from zero (4.5 -> 5 with G = 1). The grid G
**     defaults to 1 scale point. A tolerance of 1e-9 grid steps absorbs
**     floating-point error, so a value that is a half-step in exact
**     arithmetic (e.g. the mean 4.5 of 4 and 5) rounds as a half-step.
**     r(u) is stored as the double nearest to G*k written with 12
**     significant digits (3.3, not 3.3000000000000003, for k = 33, G = 0.1).
**  6. Threshold: T = the most frequent rounded value among the utterances
**     (each utterance counts once). Ties go to the smaller value, so the
**     result does not depend on input order; document it with the labels.
**  7. Label: r(u) < T -> 0 (negative), r(u) > T -> 1 (positive), r(u) = T
**     -> excluded (NULL in the database). Values are compared as grid
**     indexes k, never as floating-point numbers.
** With one annotator, n(u,a) = s(u,a) (steps 1–3 are the identity).
**
** Input: n scores, each with an utterance index in 0..n_utterances-1, an
** annotator index in 0..n_annotators-1 and a score (any finite number; the
** importer guarantees 1..7). An utterance index with no score gets
** LABELS_NONE and NaN. Bad input (n = 0, an index out of range, a non-finite
** score, G not in [1e-6, 100], the same (utterance, annotator) pair twice)
** gets CLAP_ERR_ARG/CLAP_ERR_RANGE with a message naming the score's
** position; nothing is written to the outputs then.
*/
#ifndef CLAP_LABELS_H
#define CLAP_LABELS_H

#include <stddef.h>

#include "clap_error.h"

#define LABELS_NEGATIVE 0
#define LABELS_POSITIVE 1
#define LABELS_EXCLUDED (-1) /* equal to the threshold */
#define LABELS_NONE (-2)     /* the utterance has no score */

#define LABELS_DEFAULT_GRID 1.0

typedef struct labels_input {
  size_t n;              /* number of scores */
  const int *utterance;  /* [n] utterance index of each score */
  const int *annotator;  /* [n] annotator index of each score */
  const double *score;   /* [n] the raw scores */
  int n_utterances, n_annotators;
  double grid;           /* G, the rounding step */
} labels_input;

/* Arrays are the caller's, sized as noted; per-annotator arrays may be NULL. */
typedef struct labels_output {
  double *normalized;      /* [n] n(u,a) for each score */
  double *value;           /* [n_utterances] r(u), rounded to the grid */
  double *raw_value;       /* [n_utterances] v(u) before rounding, or NULL */
  int *label;              /* [n_utterances] LABELS_* */
  double *annotator_mean;  /* [n_annotators] m_a, or NULL */
  double *annotator_sd;    /* [n_annotators] s_a, or NULL */
  double pooled_mean, pooled_sd; /* M, S */
  double threshold;              /* T */
  int n_negative, n_positive, n_excluded;
} labels_output;

clap_status labels_compute(const labels_input *in, labels_output *out, clap_error *err);

/* Round x to the grid as in step 5; returns the grid index k. */
long labels_round_index(double x, double grid);

#endif
