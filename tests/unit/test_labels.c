/*
** Unit tests of pipeline/labels against numbers worked out by hand (the
** derivations are in the comments; decimals to 6 places).
*/
#include <stdlib.h>

#include "harness.h"
#include "labels.h"

#define MAXU 10
#define MAXA 4
#define MAXN 32

typedef struct run {
  double norm[MAXN], value[MAXU], raw[MAXU], am[MAXA], asd[MAXA];
  int label[MAXU];
  labels_output out;
  clap_status st;
  clap_error err;
} run;

/* scores[a][u], 0 = annotator a did not score utterance u. */
static void compute(run *r, int na, int nu, const int scores[][MAXU], double grid) {
  static int uu[MAXN], aa[MAXN];
  static double ss[MAXN];
  size_t n = 0;
  for (int a = 0; a < na; a++)
    for (int u = 0; u < nu; u++)
      if (scores[a][u]) uu[n] = u, aa[n] = a, ss[n] = scores[a][u], n++;
  labels_input in = {n, uu, aa, ss, nu, na, grid};
  memset(r, 0, sizeof *r);
  r->out = (labels_output){.normalized = r->norm, .value = r->value, .raw_value = r->raw,
                           .label = r->label, .annotator_mean = r->am, .annotator_sd = r->asd};
  r->st = labels_compute(&in, &r->out, &r->err);
}

/* normalized[] is in (annotator, utterance) order for a full matrix. */
#define NORM(r, nu, a, u) ((r).norm[(a) * (nu) + (u)])

/*
** 3 annotators x 5 utterances, one dimension.
**   A: 5 2 2 2 4   m_A = 15/5 = 3, deviations 2 -1 -1 -1 1, SSD 8,  s_A = sqrt(1.6)
**   B: 7 7 2 1 3   m_B = 20/5 = 4, deviations 3 3 -2 -3 -1, SSD 32, s_B = sqrt(6.4)
**   C: 7 1 6 4 7   m_C = 25/5 = 5, deviations 2 -4 1 -1 2,  SSD 26, s_C = sqrt(5.2)
** Pooled (15 scores): M = 60/15 = 4. Squared deviations from 4:
**   A: 1 4 4 4 0 = 13, B: 9 9 4 9 1 = 32, C: 9 9 4 0 9 = 31; total 76,
**   S = sqrt(76/15) = 2.250926.
** n = M + S*dev/s_a; S/s_A = sqrt(19/6) = 1.779513, S/s_B = 0.889757,
** S/s_C = sqrt(38/39) = 0.987096:
**   A: 4+2*1.779513 = 7.559026, 4-1.779513 = 2.220487 (x3), 4+1.779513 = 5.779513
**   B: 4+3*0.889757 = 6.669270 (x2), 4-2*0.889757 = 2.220487,
**      4-3*0.889757 = 1.330730, 4-0.889757 = 3.110243
**   C: 4+2*0.987096 = 5.974192, 4-4*0.987096 = 0.051615, 4+0.987096 = 4.987096,
**      4-0.987096 = 3.012904, 5.974192
** Utterance means: u0 (7.559026+6.669270+5.974192)/3 = 6.734163 -> 7
**   u1 (2.220487+6.669270+0.051615)/3 = 2.980457 -> 3
**   u2 (2.220487+2.220487+4.987096)/3 = 3.142690 -> 3
**   u3 (2.220487+1.330730+3.012904)/3 = 2.188040 -> 2
**   u4 (5.779513+3.110243+5.974192)/3 = 4.954649 -> 5
** Rounded 7 3 3 2 5: the mode is 3 (twice) = threshold.
** Labels: u0 1, u1 excluded, u2 excluded, u3 0, u4 1.
** (The raw means 6.33 3.33 3.33 2.33 4.67 would round u0 to 6: normalising
** matters.)
*/
static const int hand[3][MAXU] = {{5, 2, 2, 2, 4}, {7, 7, 2, 1, 3}, {7, 1, 6, 4, 7}};

static void test_hand_example(void) {
  run r;
  compute(&r, 3, 5, hand, 1.0);
  CHECK_INT(r.st, CLAP_OK);
  CHECK_NEAR(r.out.pooled_mean, 4.0, 1e-12);
  CHECK_NEAR(r.out.pooled_sd, 2.250926, 1e-6);
  CHECK_NEAR(r.am[0], 3.0, 1e-12);
  CHECK_NEAR(r.am[1], 4.0, 1e-12);
  CHECK_NEAR(r.am[2], 5.0, 1e-12);
  CHECK_NEAR(r.asd[0], 1.264911, 1e-6); /* sqrt(1.6) */
  CHECK_NEAR(r.asd[1], 2.529822, 1e-6); /* sqrt(6.4) */
  CHECK_NEAR(r.asd[2], 2.280351, 1e-6); /* sqrt(5.2) */
  const double want[3][5] = {{7.559026, 2.220487, 2.220487, 2.220487, 5.779513},
                             {6.669270, 6.669270, 2.220487, 1.330730, 3.110243},
                             {5.974192, 0.051615, 4.987096, 3.012904, 5.974192}};
  for (int a = 0; a < 3; a++)
    for (int u = 0; u < 5; u++) CHECK_NEAR(NORM(r, 5, a, u), want[a][u], 1e-6);
  const double raw[5] = {6.734163, 2.980457, 3.142690, 2.188040, 4.954649};
  const double rounded[5] = {7, 3, 3, 2, 5};
  const int label[5] = {1, LABELS_EXCLUDED, LABELS_EXCLUDED, 0, 1};
  for (int u = 0; u < 5; u++) {
    CHECK_NEAR(r.raw[u], raw[u], 1e-6);
    CHECK_NEAR(r.value[u], rounded[u], 1e-12);
    CHECK_INT(r.label[u], label[u]);
  }
  CHECK_NEAR(r.out.threshold, 3.0, 1e-12);
  CHECK_INT(r.out.n_negative, 1);
  CHECK_INT(r.out.n_positive, 2);
  CHECK_INT(r.out.n_excluded, 2);
}

/*
** The same scores on other grids (normalised values as above).
** G = 0.5: v/G = 13.468 5.961 6.285 4.376 9.909 -> k 13 6 6 4 10
**   -> values 6.5 3 3 2 5; mode 3 (u1, u2); labels 1 X X 0 1.
** G = 2: v/G = 3.367 1.490 1.571 1.094 2.477 -> k 3 1 2 1 2 -> values 6 2 4 2 4:
**   2 and 4 both occur twice; the tie goes to the smaller, T = 2;
**   labels u0 1, u1 X, u2 1, u3 X, u4 1.
*/
static void test_other_grids(void) {
  run r;
  compute(&r, 3, 5, hand, 0.5);
  CHECK_INT(r.st, CLAP_OK);
  const double v05[5] = {6.5, 3, 3, 2, 5};
  const int l05[5] = {1, LABELS_EXCLUDED, LABELS_EXCLUDED, 0, 1};
  for (int u = 0; u < 5; u++) {
    CHECK_NEAR(r.value[u], v05[u], 1e-12);
    CHECK_INT(r.label[u], l05[u]);
  }
  CHECK_NEAR(r.out.threshold, 3.0, 1e-12);

  compute(&r, 3, 5, hand, 2.0);
  CHECK_INT(r.st, CLAP_OK);
  const double v2[5] = {6, 2, 4, 2, 4};
  const int l2[5] = {1, LABELS_EXCLUDED, 1, LABELS_EXCLUDED, 1};
  for (int u = 0; u < 5; u++) {
    CHECK_NEAR(r.value[u], v2[u], 1e-12);
    CHECK_INT(r.label[u], l2[u]);
  }
  CHECK_NEAR(r.out.threshold, 2.0, 1e-12);
  CHECK_INT(r.out.n_negative, 0);
  CHECK_INT(r.out.n_positive, 3);
  CHECK_INT(r.out.n_excluded, 2);
}

/*
** One annotator: pooled and own statistics coincide, so n = s exactly.
** Scores 2 2 5 5 6: 2 and 5 both twice -> tie -> T = 2 (the smaller);
** labels X X 1 1 1.
*/
static void test_single_annotator_and_tie(void) {
  static const int one[1][MAXU] = {{2, 2, 5, 5, 6}};
  run r;
  compute(&r, 1, 5, one, 1.0);
  CHECK_INT(r.st, CLAP_OK);
  for (int u = 0; u < 5; u++) {
    CHECK_NEAR(r.norm[u], one[0][u], 1e-12);
    CHECK_NEAR(r.value[u], one[0][u], 1e-12);
  }
  CHECK_NEAR(r.out.threshold, 2.0, 1e-12);
  const int l[5] = {LABELS_EXCLUDED, LABELS_EXCLUDED, 1, 1, 1};
  for (int u = 0; u < 5; u++) CHECK_INT(r.label[u], l[u]);
  /* The tie rule does not depend on order: 5 5 2 2 6 gives the same T. */
  static const int rev[1][MAXU] = {{5, 5, 2, 2, 6}};
  compute(&r, 1, 5, rev, 1.0);
  CHECK_NEAR(r.out.threshold, 2.0, 1e-12);
}

/*
** A (sd 0): 4 4 4 on u0..u2, nothing on u3. B: 1 4 7 4 on u0..u3.
** Pooled 4 4 4 1 4 7 4: M = 28/7 = 4, SSD 18, S = sqrt(18/7).
** A maps every score to M = 4. B: m = 4, s = sqrt(18/4), S/s = sqrt(4/7),
** n = 4 + 3*sqrt(4/7)*(-1, 0, 1, 0) = 1.732213, 4, 6.267787, 4.
** Means: u0 (4+1.732213)/2 = 2.866107 -> 3, u1 4, u2 5.133893 -> 5,
** u3 4 (B alone). Mode 4 (u1, u3): labels 0 X 1 X.
*/
static void test_sd_zero_annotator(void) {
  static const int s[2][MAXU] = {{4, 4, 4, 0}, {1, 4, 7, 4}};
  run r;
  compute(&r, 2, 4, s, 1.0);
  CHECK_INT(r.st, CLAP_OK);
  CHECK_NEAR(r.out.pooled_sd, 1.603567, 1e-6);
  CHECK_NEAR(r.asd[0], 0.0, 1e-12);
  /* normalized[] order: A's three scores, then B's four. */
  for (int i = 0; i < 3; i++) CHECK_NEAR(r.norm[i], 4.0, 1e-12);
  CHECK_NEAR(r.norm[3], 1.732213, 1e-6);
  CHECK_NEAR(r.norm[4], 4.0, 1e-12);
  CHECK_NEAR(r.norm[5], 6.267787, 1e-6);
  CHECK_NEAR(r.norm[6], 4.0, 1e-12);
  CHECK_NEAR(r.raw[0], 2.866107, 1e-6);
  CHECK_NEAR(r.raw[2], 5.133893, 1e-6);
  const double v[4] = {3, 4, 5, 4};
  const int l[4] = {0, LABELS_EXCLUDED, 1, LABELS_EXCLUDED};
  for (int u = 0; u < 4; u++) {
    CHECK_NEAR(r.value[u], v[u], 1e-12);
    CHECK_INT(r.label[u], l[u]);
  }
  CHECK_NEAR(r.out.threshold, 4.0, 1e-12);
}

/*
** Half-points round away from zero even after floating-point arithmetic.
** A: 4 5 2 6 and B: 5 4 2 6 have the same mean (4.25) and sd, equal to the
** pooled ones, so normalising is the identity up to rounding error; the
** means are 4.5 4.5 2 6 -> 5 5 2 6, T = 5, labels X X 0 1.
*/
static void test_half_rounds_away(void) {
  static const int s[2][MAXU] = {{4, 5, 2, 6}, {5, 4, 2, 6}};
  run r;
  compute(&r, 2, 4, s, 1.0);
  CHECK_INT(r.st, CLAP_OK);
  CHECK_NEAR(r.raw[0], 4.5, 1e-12);
  CHECK_NEAR(r.value[0], 5.0, 1e-12);
  CHECK_NEAR(r.value[1], 5.0, 1e-12);
  CHECK_NEAR(r.out.threshold, 5.0, 1e-12);
  CHECK_INT(r.label[2], 0);
  CHECK_INT(r.label[3], 1);
  CHECK_INT(labels_round_index(2.5, 1), 3);
  CHECK_INT(labels_round_index(-2.5, 1), -3);
  CHECK_INT(labels_round_index(2.4999, 1), 2);
  CHECK_INT(labels_round_index(0.25, 0.5), 1);
  CHECK_INT(labels_round_index(0.35, 0.1), 4); /* 0.35/0.1 = 3.4999999999999996 */
  CHECK_INT(labels_round_index(3.75, 0.5), 8);
}

/*
** Grid values are stored as clean decimals: A gives 3 to u0..u6, B gives 4
** to u7..u9; both have sd 0, so every score maps to M = (21+12)/10 = 3.3;
** on the grid 0.1 that is k = 33 and the value is exactly the double 3.3.
*/
static void test_grid_value_is_clean_decimal(void) {
  static const int s[2][MAXU] = {{3, 3, 3, 3, 3, 3, 3, 0, 0, 0}, {0, 0, 0, 0, 0, 0, 0, 4, 4, 4}};
  run r;
  compute(&r, 2, 10, s, 0.1);
  CHECK_INT(r.st, CLAP_OK);
  CHECK(r.value[0] == 3.3);
  CHECK(r.value[9] == 3.3);
  CHECK(r.out.threshold == 3.3);
  CHECK_INT(r.out.n_excluded, 10);
}

static void test_unscored_utterance(void) {
  static const int s[1][MAXU] = {{3, 0, 3, 5}};
  run r;
  compute(&r, 1, 4, s, 1.0);
  CHECK_INT(r.st, CLAP_OK);
  CHECK_INT(r.label[1], LABELS_NONE);
  CHECK(isnan(r.value[1]));
  CHECK_NEAR(r.out.threshold, 3.0, 1e-12);
  CHECK_INT(r.out.n_excluded + r.out.n_negative + r.out.n_positive, 3);
}

static void test_bad_input(void) {
  int uu[2] = {0, 0}, aa[2] = {0, 0};
  double ss[2] = {3, 4}, norm[2], val[1];
  int lab[1];
  labels_output out = {.normalized = norm, .value = val, .label = lab};
  clap_error e = {0};
  labels_input in = {2, uu, aa, ss, 1, 1, 1.0};
  CHECK_INT(labels_compute(&in, &out, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "utterance 0 has two scores from annotator 0");
  in.n = 0;
  CHECK_INT(labels_compute(&in, &out, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "labels: no scores");
  in.n = 1;
  in.grid = 0;
  CHECK_INT(labels_compute(&in, &out, &e), CLAP_ERR_RANGE);
  CHECK_CONTAINS(e.msg, "grid 0 outside [1e-6, 100]");
  in.grid = 1;
  uu[0] = 5;
  CHECK_INT(labels_compute(&in, &out, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "score 0: utterance index 5 outside 0..0");
  uu[0] = 0;
  ss[0] = NAN;
  CHECK_INT(labels_compute(&in, &out, &e), CLAP_ERR_RANGE);
  CHECK_CONTAINS(e.msg, "score 0 is not a finite number");
}

int main(void) {
  RUN(test_hand_example);
  RUN(test_other_grids);
  RUN(test_single_annotator_and_tie);
  RUN(test_sd_zero_annotator);
  RUN(test_half_rounds_away);
  RUN(test_grid_value_is_clean_decimal);
  RUN(test_unscored_utterance);
  RUN(test_bad_input);
  return harness_report();
}
