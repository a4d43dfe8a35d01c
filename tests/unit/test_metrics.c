/* Unit tests for ext/train/metrics.c against hand-computed examples. */
#include <stdlib.h>

#include "harness.h"
#include "metrics.h"

static void test_wa_ua_recall(void) {
  /* Class 0: 3 of 4 right; class 1: 1 of 2; class 2: 2 of 4. */
  int truth[10] = {0, 0, 0, 0, 1, 1, 2, 2, 2, 2};
  int pred[10] = {0, 0, 0, 1, 1, 0, 2, 2, 1, 0};
  double wa = -1, ua = -1, rec[4];
  clap_error e;
  CHECK_INT(metrics_classification(truth, pred, 10, 3, &wa, &ua, rec, &e), CLAP_OK);
  CHECK_NEAR(wa, 0.6, 1e-15);
  CHECK_NEAR(rec[0], 0.75, 1e-15);
  CHECK_NEAR(rec[1], 0.5, 1e-15);
  CHECK_NEAR(rec[2], 0.5, 1e-15);
  CHECK_NEAR(ua, (0.75 + 0.5 + 0.5) / 3, 1e-15);
  /* Class 3 has no true rows: NaN recall, left out of UA. */
  CHECK_INT(metrics_classification(truth, pred, 10, 4, &wa, &ua, rec, &e), CLAP_OK);
  CHECK(isnan(rec[3]));
  CHECK_NEAR(ua, 1.75 / 3, 1e-15);
  pred[4] = 3;
  CHECK_INT(metrics_classification(truth, pred, 10, 3, &wa, &ua, rec, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "pred[4] = 3 is outside 0..2");
  truth[9] = -1;
  CHECK_INT(metrics_classification(truth, pred, 10, 4, &wa, &ua, NULL, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "truth[9] = -1 is outside 0..3");
  CHECK_INT(metrics_classification(truth, pred, 0, 4, &wa, &ua, NULL, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "n = 0");
}

static void test_roc_auc_youden(void) {
  double s[6] = {0.9, 0.8, 0.7, 0.6, 0.55, 0.4};
  int y[6] = {1, 1, 0, 1, 0, 0};
  metrics_roc_point *pt = NULL;
  int k = 0;
  clap_error e;
  CHECK_INT(metrics_roc(s, y, 6, &pt, &k, &e), CLAP_OK);
  CHECK_INT(k, 7);
  double fpr[7] = {0, 0, 0, 1.0 / 3, 1.0 / 3, 2.0 / 3, 1};
  double tpr[7] = {0, 1.0 / 3, 2.0 / 3, 2.0 / 3, 1, 1, 1};
  for (int i = 0; i < k && i < 7; i++) {
    CHECK_NEAR(pt[i].fpr, fpr[i], 1e-15);
    CHECK_NEAR(pt[i].tpr, tpr[i], 1e-15);
  }
  CHECK(isinf(pt[0].threshold) && pt[6].threshold == 0.4);
  free(pt);
  double auc = 0, thr = 0, j = 0;
  CHECK_INT(metrics_auc(s, y, 6, &auc, &e), CLAP_OK);
  CHECK_NEAR(auc, 8.0 / 9, 1e-15); /* 8 of 9 positive-negative pairs in order */
  /* J = 2/3 at 0.8 and at 0.6: the higher threshold wins. */
  CHECK_INT(metrics_youden(s, y, 6, &thr, &j, &e), CLAP_OK);
  CHECK(thr == 0.8);
  CHECK_NEAR(j, 2.0 / 3, 1e-15);
  s[3] = 0.85; /* now 0.8 reaches tpr 1 at fpr 0: J = 1 */
  CHECK_INT(metrics_youden(s, y, 6, &thr, &j, &e), CLAP_OK);
  CHECK(thr == 0.8);
  CHECK_NEAR(j, 1, 1e-15);
  /* Ties move together and count 1/2 in the AUC: 3.5 of 4 pairs. */
  double t[4] = {0.9, 0.5, 0.5, 0.2};
  int ty[4] = {1, 1, 0, 0};
  CHECK_INT(metrics_auc(t, ty, 4, &auc, &e), CLAP_OK);
  CHECK_NEAR(auc, 0.875, 1e-15);
  CHECK_INT(metrics_roc(t, ty, 4, &pt, &k, &e), CLAP_OK);
  CHECK_INT(k, 4);
  CHECK(pt[2].threshold == 0.5 && pt[2].fpr == 0.5 && pt[2].tpr == 1);
  free(pt);
  int allpos[4] = {1, 1, 1, 1};
  CHECK_INT(metrics_auc(t, allpos, 4, &auc, &e), CLAP_ERR_RANGE);
  CHECK_CONTAINS(e.msg, "needs both classes; the truth has 4 positives of 4");
  ty[1] = 2;
  CHECK_INT(metrics_youden(t, ty, 4, &thr, &j, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "truth[1] = 2 is neither 0 nor 1");
  ty[1] = 1;
  t[2] = NAN;
  CHECK_INT(metrics_roc(t, ty, 4, &pt, &k, &e), CLAP_ERR_RANGE);
  CHECK_CONTAINS(e.msg, "score[2] is not finite");
}

static void test_sign_test(void) {
  double p = -1;
  clap_error e;
  /* n = 10, P(X <= 2) = (1 + 10 + 45) / 1024, doubled. */
  CHECK_INT(metrics_sign_test(8, 2, &p, &e), CLAP_OK);
  CHECK_NEAR(p, 0.109375, 1e-12);
  CHECK_INT(metrics_sign_test(2, 8, &p, &e), CLAP_OK);
  CHECK_NEAR(p, 0.109375, 1e-12);
  CHECK_INT(metrics_sign_test(3, 0, &p, &e), CLAP_OK);
  CHECK_NEAR(p, 0.25, 1e-15);
  CHECK_INT(metrics_sign_test(5, 5, &p, &e), CLAP_OK);
  CHECK(p == 1);
  CHECK_INT(metrics_sign_test(0, 0, &p, &e), CLAP_OK);
  CHECK(p == 1);
  /* Exact values from rational arithmetic (Python fractions). */
  CHECK_INT(metrics_sign_test(30, 12, &p, &e), CLAP_OK);
  CHECK_NEAR(p, 0.007915897334896727, 1e-12);
  CHECK_INT(metrics_sign_test(600, 400, &p, &e), CLAP_OK);
  CHECK_NEAR(p / 2.7284641560660184e-10, 1, 1e-9);
  CHECK_INT(metrics_sign_test(5000, 4800, &p, &e), CLAP_OK);
  CHECK_NEAR(p, 0.04440414879984629, 1e-10);
  /* Far beyond double's range for 2^n: still finite, tiny, positive. */
  CHECK_INT(metrics_sign_test(100000, 1000, &p, &e), CLAP_OK);
  CHECK(p >= 0 && p < 1e-300);
  CHECK_INT(metrics_sign_test(-1, 3, &p, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "b = -1, c = 3");
  unsigned char a[6] = {1, 1, 0, 1, 0, 1}, b[6] = {0, 1, 1, 0, 0, 0};
  int nb = -1, nc = -1;
  CHECK_INT(metrics_sign_test_paired(a, b, 6, &nb, &nc, &p, &e), CLAP_OK);
  CHECK_INT(nb, 3);
  CHECK_INT(nc, 1);
  CHECK_NEAR(p, 2 * 5.0 / 16, 1e-15); /* n = 4, P(X <= 1) = 5/16 */
}

static void test_random_predictor(void) {
  int truth[8] = {0, 0, 0, 0, 0, 0, 1, 1};
  double wa, ua, rec[3], wa2, ua2;
  clap_error e;
  CHECK_INT(metrics_random_predictor(truth, 8, 2, 7, 4000, &wa, &ua, rec, &e), CLAP_OK);
  CHECK_NEAR(wa, 0.5, 0.02);
  CHECK_NEAR(ua, 0.5, 0.02);
  CHECK_NEAR(rec[0], 0.5, 0.02);
  CHECK_NEAR(rec[1], 0.5, 0.02);
  CHECK(wa != 0.5); /* a real mean of random runs, not a formula */
  CHECK_INT(metrics_random_predictor(truth, 8, 2, 7, 4000, &wa2, &ua2, NULL, &e), CLAP_OK);
  CHECK(wa == wa2 && ua == ua2);
  CHECK_INT(metrics_random_predictor(truth, 8, 2, 8, 4000, &wa2, &ua2, NULL, &e), CLAP_OK);
  CHECK(wa != wa2);
  /* Three classes, one absent from the truth: chance is 1/3 per class. */
  CHECK_INT(metrics_random_predictor(truth, 8, 3, 1, 4000, &wa, &ua, rec, &e), CLAP_OK);
  CHECK_NEAR(wa, 1.0 / 3, 0.02);
  CHECK_NEAR(ua, 1.0 / 3, 0.02);
  CHECK(isnan(rec[2]));
  CHECK_INT(metrics_random_predictor(truth, 8, 2, 1, 0, &wa, &ua, rec, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "runs = 0");
}

int main(void) {
  RUN(test_wa_ua_recall);
  RUN(test_roc_auc_youden);
  RUN(test_sign_test);
  RUN(test_random_predictor);
  return harness_report();
}
