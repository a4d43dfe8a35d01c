/* labels — see labels.h for the procedure. */
#include "labels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

long labels_round_index(double x, double grid) {
  double q = x / grid;
  /* 1e-9 steps of slack: 4.499999999999 (a float-rounded 4.5) rounds up. */
  double k = floor(fabs(q) + 0.5 + 1e-9);
  return (long)(q < 0 ? -k : k);
}

/* G*k as the double nearest its 12-significant-digit decimal, so that
** 33 steps of 0.1 are stored as 3.3, not 3.3000000000000003. */
static double grid_value(long k, double grid) {
  char buf[32];
  snprintf(buf, sizeof buf, "%.12g", (double)k * grid);
  return strtod(buf, NULL);
}

static int cmp_ll(const void *a, const void *b) {
  long long x = *(const long long *)a, y = *(const long long *)b;
  return (x > y) - (x < y);
}

static clap_status check_input(const labels_input *in, clap_error *err) {
  if (!in || in->n == 0)
    return clap_error_set(err, CLAP_ERR_ARG, "labels: no scores");
  if (in->n_utterances <= 0 || in->n_annotators <= 0 || !in->utterance || !in->annotator ||
      !in->score)
    return clap_error_set(err, CLAP_ERR_ARG, "labels: missing utterances, annotators or scores");
  if (!(in->grid >= 1e-6 && in->grid <= 100))
    return clap_error_set(err, CLAP_ERR_RANGE, "labels: grid %g outside [1e-6, 100]", in->grid);
  for (size_t i = 0; i < in->n; i++) {
    if (in->utterance[i] < 0 || in->utterance[i] >= in->n_utterances)
      return clap_error_set(err, CLAP_ERR_ARG, "labels: score %zu: utterance index %d outside 0..%d",
                            i, in->utterance[i], in->n_utterances - 1);
    if (in->annotator[i] < 0 || in->annotator[i] >= in->n_annotators)
      return clap_error_set(err, CLAP_ERR_ARG, "labels: score %zu: annotator index %d outside 0..%d",
                            i, in->annotator[i], in->n_annotators - 1);
    if (!isfinite(in->score[i]))
      return clap_error_set(err, CLAP_ERR_RANGE, "labels: score %zu is not a finite number", i);
  }
  long long *key = malloc(in->n * sizeof *key);
  if (!key) return clap_error_set(err, CLAP_ERR_NOMEM, "labels: out of memory");
  for (size_t i = 0; i < in->n; i++)
    key[i] = (long long)in->utterance[i] * in->n_annotators + in->annotator[i];
  qsort(key, in->n, sizeof *key, cmp_ll);
  for (size_t i = 1; i < in->n; i++) {
    if (key[i] != key[i - 1]) continue;
    int u = (int)(key[i] / in->n_annotators), a = (int)(key[i] % in->n_annotators);
    free(key);
    return clap_error_set(err, CLAP_ERR_ARG,
                          "labels: utterance %d has two scores from annotator %d", u, a);
  }
  free(key);
  return CLAP_OK;
}

/* Steps 1-3: pooled and per-annotator statistics, then n(u,a). */
static clap_status normalise(const labels_input *in, labels_output *out, clap_error *err) {
  int na = in->n_annotators;
  double *sum = calloc((size_t)na * 3, sizeof *sum);
  if (!sum) return clap_error_set(err, CLAP_ERR_NOMEM, "labels: out of memory");
  double *cnt = sum + na, *ss = sum + 2 * na;
  double total = 0;
  for (size_t i = 0; i < in->n; i++) {
    sum[in->annotator[i]] += in->score[i];
    cnt[in->annotator[i]] += 1;
    total += in->score[i];
  }
  double M = total / (double)in->n, var = 0;
  for (size_t i = 0; i < in->n; i++) {
    double d = in->score[i] - M;
    var += d * d;
    int a = in->annotator[i];
    double e = in->score[i] - sum[a] / cnt[a];
    ss[a] += e * e;
  }
  double S = sqrt(var / (double)in->n);
  for (size_t i = 0; i < in->n; i++) {
    int a = in->annotator[i];
    double m = sum[a] / cnt[a], s = sqrt(ss[a] / cnt[a]);
    double z = s > 0 ? (in->score[i] - m) / s : 0;
    out->normalized[i] = M + S * z;
  }
  for (int a = 0; a < na; a++) {
    double m = cnt[a] > 0 ? sum[a] / cnt[a] : NAN, s = cnt[a] > 0 ? sqrt(ss[a] / cnt[a]) : NAN;
    if (out->annotator_mean) out->annotator_mean[a] = m;
    if (out->annotator_sd) out->annotator_sd[a] = s;
  }
  out->pooled_mean = M;
  out->pooled_sd = S;
  free(sum);
  return CLAP_OK;
}

/* Steps 4-7. */
static clap_status binarise(const labels_input *in, labels_output *out, clap_error *err) {
  int nu = in->n_utterances;
  double *acc = calloc((size_t)nu * 2, sizeof *acc);
  long *k = malloc((size_t)nu * sizeof *k);
  if (!acc || !k) {
    free(acc), free(k);
    return clap_error_set(err, CLAP_ERR_NOMEM, "labels: out of memory");
  }
  double *cnt = acc + nu;
  for (size_t i = 0; i < in->n; i++) {
    acc[in->utterance[i]] += out->normalized[i];
    cnt[in->utterance[i]] += 1;
  }
  long kmin = 0, kmax = 0;
  int first = 1;
  for (int u = 0; u < nu; u++) {
    if (cnt[u] == 0) continue;
    k[u] = labels_round_index(acc[u] / cnt[u], in->grid);
    if (first || k[u] < kmin) kmin = k[u];
    if (first || k[u] > kmax) kmax = k[u];
    first = 0;
  }
  /* Scores are bounded, so the grid indexes span a small range: count them
  ** in an array; scanning upwards with `>` keeps the smallest of tied modes. */
  size_t span = (size_t)(kmax - kmin) + 1;
  int *freq = calloc(span, sizeof *freq);
  if (!freq) {
    free(acc), free(k);
    return clap_error_set(err, CLAP_ERR_NOMEM, "labels: %zu grid steps: out of memory", span);
  }
  for (int u = 0; u < nu; u++)
    if (cnt[u] > 0) freq[k[u] - kmin]++;
  size_t best = 0;
  for (size_t j = 1; j < span; j++)
    if (freq[j] > freq[best]) best = j;
  long kt = kmin + (long)best;
  out->threshold = grid_value(kt, in->grid);
  out->n_negative = out->n_positive = out->n_excluded = 0;
  for (int u = 0; u < nu; u++) {
    if (cnt[u] == 0) {
      out->value[u] = NAN;
      if (out->raw_value) out->raw_value[u] = NAN;
      out->label[u] = LABELS_NONE;
      continue;
    }
    out->value[u] = grid_value(k[u], in->grid);
    if (out->raw_value) out->raw_value[u] = acc[u] / cnt[u];
    if (k[u] < kt) out->label[u] = LABELS_NEGATIVE, out->n_negative++;
    else if (k[u] > kt) out->label[u] = LABELS_POSITIVE, out->n_positive++;
    else out->label[u] = LABELS_EXCLUDED, out->n_excluded++;
  }
  free(freq);
  free(acc);
  free(k);
  return CLAP_OK;
}

clap_status labels_compute(const labels_input *in, labels_output *out, clap_error *err) {
  clap_status st = check_input(in, err);
  if (st) return st;
  if (!out || !out->normalized || !out->value || !out->label)
    return clap_error_set(err, CLAP_ERR_ARG, "labels: missing output arrays");
  st = normalise(in, out, err);
  if (st) return st;
  return binarise(in, out, err);
}
