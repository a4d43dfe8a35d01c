#include "harness.h"
#include "acoustic.h"
#include "encoder.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#define SR 16000
#define PI 3.14159265358979323846

/* Deterministic uniform noise in [-1, 1). */
static float noise(uint32_t *st) {
  *st = *st * 1664525u + 1013904223u;
  return (float)((*st >> 8) / 8388608.0 - 1.0);
}

/* Harmonic-rich voiced tone: harmonics up to 4 kHz at 1/k, a little noise. */
static float *voiced_tone(double f0, double seconds, double amp, long *n) {
  *n = (long)(seconds * SR);
  float *x = malloc((size_t)*n * sizeof *x);
  uint32_t st = 12345;
  int nh = (int)(4000 / f0);
  for (long i = 0; i < *n; i++) {
    double t = (double)i / SR, v = 0;
    for (int k = 1; k <= nh; k++) v += sin(2 * PI * k * f0 * t) / k;
    x[i] = (float)(amp * (0.5 * v + 0.02 * noise(&st)));
  }
  return x;
}

static double hz_from_semitones(double st) { return 27.5 * pow(2.0, st / 12.0); }

static int cmpf(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

static void check_f0(double f0) {
  long n;
  float *x = voiced_tone(f0, 1.0, 0.3, &n);
  float *track = NULL;
  int nf = 0;
  clap_error err;
  CHECK_INT(acoustic_f0_track(x, n, SR, &track, &nf, &err), CLAP_OK);
  CHECK_INT(nf, 1 + (n - 400) / 160);
  int nv = 0;
  for (int i = 0; i < nf; i++)
    if (track[i] > 0) track[nv++] = track[i];
  CHECK(nv > nf * 9 / 10);
  qsort(track, (size_t)nv, sizeof *track, cmpf);
  CHECK_NEAR(track[nv / 2], f0, 0.03 * f0);

  encoder *e = encoder_builtin("acoustic", &err);
  float out[ACOUSTIC_DIM];
  CHECK_INT(encoder_encode_audio(e, x, n, out, &err), CLAP_OK);
  CHECK_NEAR(hz_from_semitones(out[3]), f0, 0.03 * f0); /* F0 median */
  CHECK_NEAR(hz_from_semitones(out[0]), f0, 0.03 * f0); /* F0 mean */
  CHECK(out[1] < 0.5f);                                  /* steady tone: sd < half a semitone */
  CHECK(out[45] > 0.9f);                                 /* voiced ratio */
  CHECK(out[47] > 5.0f);                                 /* periodic: HNR proxy clearly positive */
  free(track);
  free(x);
}

static void test_f0_150(void) { check_f0(150); }
static void test_f0_220(void) { check_f0(220); }

static void test_pulse_train_f0(void) {
  /* A glottal-like pulse train (every period, a decaying impulse). */
  long n = SR;
  float *x = calloc((size_t)n, sizeof *x);
  double f0 = 120, period = SR / f0;
  for (int p = 0; p * period < n; p++) {
    long s = (long)(p * period);
    for (long i = 0; i < 80 && s + i < n; i++) x[s + i] += (float)(0.5 * exp(-i / 12.0) * cos(i * 0.6));
  }
  float *track;
  int nf;
  clap_error err;
  CHECK_INT(acoustic_f0_track(x, n, SR, &track, &nf, &err), CLAP_OK);
  int nv = 0;
  for (int i = 0; i < nf; i++)
    if (track[i] > 0) track[nv++] = track[i];
  CHECK(nv > nf * 9 / 10);
  qsort(track, (size_t)nv, sizeof *track, cmpf);
  CHECK_NEAR(track[nv / 2], f0, 0.03 * f0);
  free(track);
  free(x);
}

static void test_f0_glide_slope(void) {
  /* F0 rises exponentially from 150 to 200 Hz over 1 s: a straight line in
  ** semitones, slope 12*log2(200/150) = 4.98 st/s. */
  long n = SR;
  float *x = malloc((size_t)n * sizeof *x);
  double phase = 0, rise = log(200.0 / 150.0);
  for (long i = 0; i < n; i++) {
    double f0 = 150 * exp(rise * i / n), v = 0;
    phase += 2 * PI * f0 / SR;
    for (int k = 1; k * f0 < 4000; k++) v += sin(k * phase) / k;
    x[i] = (float)(0.15 * v);
  }
  float out[ACOUSTIC_DIM];
  CHECK_INT(encoder_encode_audio(encoder_builtin("acoustic", NULL), x, n, out, NULL), CLAP_OK);
  CHECK_NEAR(out[6], 12 * log2(200.0 / 150.0), 0.25);
  CHECK_NEAR(out[5], 0.6 * 12 * log2(200.0 / 150.0), 0.3); /* p80 - p20 of a linear ramp */
  free(x);
}

static void test_louder_is_louder(void) {
  long n;
  float *q = voiced_tone(180, 0.5, 0.05, &n), *l = voiced_tone(180, 0.5, 0.2, &n);
  encoder *e = encoder_builtin("acoustic", NULL);
  float oq[ACOUSTIC_DIM], ol[ACOUSTIC_DIM];
  CHECK_INT(encoder_encode_audio(e, q, n, oq, NULL), CLAP_OK);
  CHECK_INT(encoder_encode_audio(e, l, n, ol, NULL), CLAP_OK);
  CHECK_NEAR(ol[7] - oq[7], 20 * log10(4.0), 0.1); /* x4 amplitude = +12 dB */
  CHECK_NEAR(ol[10] - oq[10], 20 * log10(4.0), 0.1);
  CHECK(ol[7] > -30 && ol[7] < 0);
  free(q);
  free(l);
}

static int all_finite(const float *v, int n) {
  for (int i = 0; i < n; i++)
    if (!isfinite(v[i])) return 0;
  return 1;
}

static void test_silence(void) {
  long n = SR;
  float *x = calloc((size_t)n, sizeof *x);
  encoder *e = encoder_builtin("acoustic", NULL);
  float out[ACOUSTIC_DIM];
  CHECK_INT(encoder_encode_audio(e, x, n, out, NULL), CLAP_OK);
  CHECK(all_finite(out, ACOUSTIC_DIM));
  CHECK_NEAR(out[45], 0, 0);     /* voiced ratio */
  CHECK_NEAR(out[3], 0, 0);      /* F0 median: defined as 0 */
  CHECK_NEAR(out[7], -100, 1e-3); /* loudness floor */
  CHECK_NEAR(out[19], 0, 0);     /* no active frame: MFCC 0 */
  CHECK_NEAR(out[46], 0, 0);     /* no peaks */
  free(x);
}

static void test_short_input(void) {
  float x[100];
  for (int i = 0; i < 100; i++) x[i] = (float)(0.3 * sin(2 * PI * 1000 * i / SR));
  encoder *e = encoder_builtin("acoustic", NULL);
  float out[ACOUSTIC_DIM];
  CHECK_INT(encoder_encode_audio(e, x, 100, out, NULL), CLAP_OK);
  CHECK(all_finite(out, ACOUSTIC_DIM));
  CHECK(out[7] > -20 && out[7] < -10); /* 0.3 sine = -13.5 dBFS over the samples present */
  CHECK_INT(encoder_encode_audio(e, x, 1, out, NULL), CLAP_OK);
  CHECK(all_finite(out, ACOUSTIC_DIM));
}

static void test_sine_centroid(void) {
  long n = SR / 2;
  float *x = malloc((size_t)n * sizeof *x);
  for (long i = 0; i < n; i++) x[i] = (float)(0.3 * sin(2 * PI * 1000 * i / SR));
  encoder *e = encoder_builtin("acoustic", NULL);
  float out[ACOUSTIC_DIM];
  CHECK_INT(encoder_encode_audio(e, x, n, out, NULL), CLAP_OK);
  CHECK_NEAR(out[13], 1000, 50);
  CHECK(out[14] < 10); /* steady */
  CHECK(out[17] < 1e-3); /* no flux on a steady tone */
  free(x);
}

static void test_noise_unvoiced(void) {
  long n = SR;
  float *x = malloc((size_t)n * sizeof *x);
  uint32_t st = 99;
  for (long i = 0; i < n; i++) x[i] = 0.2f * noise(&st);
  encoder *e = encoder_builtin("acoustic", NULL);
  float out[ACOUSTIC_DIM];
  CHECK_INT(encoder_encode_audio(e, x, n, out, NULL), CLAP_OK);
  CHECK(out[45] < 0.1f);
  CHECK(out[13] > 3000); /* white noise: centroid near 4 kHz */
  free(x);
}

static void test_rate_proxy(void) {
  /* Four "syllables" a second: a 180 Hz tone with a 4 Hz raised-cosine envelope. */
  long n;
  float *x = voiced_tone(180, 3.0, 0.3, &n);
  for (long i = 0; i < n; i++) {
    double env = 0.5 - 0.5 * cos(2 * PI * 4 * i / SR);
    x[i] *= (float)(env * env);
  }
  encoder *e = encoder_builtin("acoustic", NULL);
  float out[ACOUSTIC_DIM];
  CHECK_INT(encoder_encode_audio(e, x, n, out, NULL), CLAP_OK);
  CHECK_NEAR(out[46], 4.0, 0.5);
  free(x);
}

static void test_errors(void) {
  encoder *e = encoder_builtin("acoustic", NULL);
  float out[ACOUSTIC_DIM], x[10] = {0};
  clap_error err;
  CHECK_INT(encoder_encode_audio(e, x, 0, out, &err), CLAP_ERR_ARG);
  CHECK_CONTAINS(err.msg, "empty");
  CHECK_INT(encoder_encode_audio(e, x, -3, out, &err), CLAP_ERR_ARG);
  CHECK_CONTAINS(err.msg, "-3 samples");
  x[5] = NAN;
  CHECK_INT(encoder_encode_audio(e, x, 10, out, &err), CLAP_ERR_ARG);
  CHECK_CONTAINS(err.msg, "sample 5 is not finite");
  x[5] = INFINITY;
  CHECK_INT(encoder_encode_audio(e, x, 10, out, &err), CLAP_ERR_ARG);
  CHECK_CONTAINS(err.msg, "sample 5 is not finite");
  x[5] = 0;
  float *track = (float *)1;
  int nf = -1;
  CHECK_INT(acoustic_f0_track(x, 10, 8000, &track, &nf, &err), CLAP_ERR_RANGE);
  CHECK_CONTAINS(err.msg, "8000");
  CHECK(track == NULL);
  CHECK_INT(acoustic_f0_track(x, 0, SR, &track, &nf, &err), CLAP_ERR_ARG);
  CHECK_CONTAINS(err.msg, "empty");
  encoder *p;
  CHECK_INT(encoder_create("a", "acoustic", "/some/file", &p, &err), CLAP_ERR_ARG);
  CHECK_CONTAINS(err.msg, "takes no path");
}

typedef struct job {
  const float *x;
  long n;
  float out[ACOUSTIC_DIM];
  clap_status rc;
} job;

static void *encode_job(void *arg) {
  job *j = arg;
  j->rc = encoder_encode_audio(encoder_builtin("acoustic", NULL), j->x, j->n, j->out, NULL);
  return NULL;
}

static void test_determinism(void) {
  long n;
  float *x = voiced_tone(200, 1.0, 0.3, &n);
  for (long i = 0; i < n; i++) x[i] *= (float)(0.6 + 0.4 * sin(2 * PI * 3 * i / SR));
  encoder *e;
  clap_error err;
  CHECK_INT(encoder_create("mine", "acoustic", NULL, &e, &err), CLAP_OK);
  float a[ACOUSTIC_DIM], b[ACOUSTIC_DIM];
  CHECK_INT(encoder_encode_audio(e, x, n, a, NULL), CLAP_OK);
  CHECK_INT(encoder_encode_audio(e, x, n, b, NULL), CLAP_OK);
  CHECK(memcmp(a, b, sizeof a) == 0);
  job j[2] = {{x, n, {0}, CLAP_ERR_INTERNAL}, {x, n, {0}, CLAP_ERR_INTERNAL}};
  pthread_t th[2];
  for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, encode_job, &j[i]);
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  CHECK_INT(j[0].rc, CLAP_OK);
  CHECK_INT(j[1].rc, CLAP_OK);
  CHECK(memcmp(j[0].out, a, sizeof a) == 0);
  CHECK(memcmp(j[1].out, a, sizeof a) == 0);
  CHECK(all_finite(a, ACOUSTIC_DIM));
  encoder_free(e);
  free(x);
}

int main(void) {
  RUN(test_f0_150);
  RUN(test_f0_220);
  RUN(test_pulse_train_f0);
  RUN(test_f0_glide_slope);
  RUN(test_louder_is_louder);
  RUN(test_silence);
  RUN(test_short_input);
  RUN(test_sine_centroid);
  RUN(test_noise_unvoiced);
  RUN(test_rate_proxy);
  RUN(test_errors);
  RUN(test_determinism);
  return harness_report();
}
