/*
** acoustic — see acoustic.h.
**
** Input: 16 kHz mono PCM floats (full scale = ±1), n >= 1 samples, all
** finite (n <= 0 or a NaN/Inf sample -> CLAP_ERR_ARG naming it). Input
** shorter than one frame is zero-padded into a single frame.
**
** Framing: 25 ms frames (400 samples), 10 ms hop (160), Hann window, 512-point
** real FFT (KissFFT). T = 1 + (n - 400) / 160 frames (1 when n < 400); samples
** after the last full hop are not analysed.
**
** Per frame:
**   loudness  10·log10(mean square of the frame's samples + 1e-10), dBFS;
**             digital silence is -100 dB. A frame is "active" above -60 dBFS.
**             (Energy, not eGeMAPS's perceptual loudness: cheaper, and the
**             model standardises per feature, so only the ordering matters.)
**   F0        YIN (cumulative mean normalised difference, threshold 0.3) on the
**             signal low-passed (31-tap halfband FIR) and decimated to 8 kHz,
**             32 ms window starting with the frame, lags for 60–500 Hz,
**             difference function via FFT cross-correlation, parabolic
**             refinement. Only active frames can be voiced; unvoiced = 0 Hz.
**   spectral  centroid (Hz) of the power spectrum; slope (dB/kHz) of a linear
**             fit of the 26 mel-band log powers over the bands' centre
**             frequencies; flux = squared distance of consecutive
**             L2-normalised magnitude spectra (both frames active).
**   MFCC      26 triangular mel bands, 20–8000 Hz, natural log of band power
**             (+1e-10), orthonormal DCT-II, coefficients 1..13 (c0 dropped:
**             it duplicates loudness).
**
** Utterance-level layout (ACOUSTIC_DIM = 50). "sd" is the population standard
** deviation; percentiles interpolate linearly between sorted values.
**
** | index | feature                | over            | unit                      |
** |-------|------------------------|-----------------|---------------------------|
** |  0    | F0 mean                | voiced frames   | semitones re 27.5 Hz      |
** |  1    | F0 sd                  | voiced frames   | semitones                 |
** |  2-4  | F0 20th/50th/80th pct  | voiced frames   | semitones re 27.5 Hz      |
** |  5    | F0 range (80th - 20th) | voiced frames   | semitones                 |
** |  6    | F0 slope (linear fit)  | voiced frames   | semitones per second      |
** |  7    | loudness mean          | all frames      | dBFS                      |
** |  8    | loudness sd            | all frames      | dB                        |
** |  9-11 | loudness 20/50/80 pct  | all frames      | dBFS                      |
** | 12    | loudness range 80-20   | all frames      | dB                        |
** | 13,14 | spectral centroid mean, sd | active frames | Hz                      |
** | 15,16 | spectral slope mean, sd    | active frames | dB/kHz                  |
** | 17,18 | spectral flux mean, sd     | active pairs  | (unitless, 0..2)        |
** | 19-31 | MFCC 1..13 mean        | active frames   |                           |
** | 32-44 | MFCC 1..13 sd          | active frames   |                           |
** | 45    | voiced ratio           | all frames      | voiced / T                |
** | 46    | rate proxy             | whole input     | loudness peaks per second |
** | 47    | HNR proxy mean         | voiced frames   | dB, 10·log10((1-a)/a), a = YIN aperiodicity |
** | 48    | jitter proxy           | consecutive voiced pairs | mean abs period change / mean period |
** | 49    | shimmer proxy          | consecutive voiced pairs | mean abs loudness change, dB |
**
** Defined values when a feature has nothing to summarise (silence, no voiced
** frame, fewer than two values): the feature is 0 (sd/slope of one value is
** 0). Output is never NaN or Inf: a feature that overflows (samples far
** beyond full scale, e.g. 1e30) is reported as 0.
**
** Jitter and shimmer here are frame-to-frame proxies (10 ms apart), not the
** cycle-to-cycle measures of eGeMAPS, which would need period marking.
**
** Rate proxy: the loudness contour smoothed over 5 frames; a peak is a frame
** that is the maximum within ±50 ms, active, and at least 3 dB above the
** minimum within ±150 ms; count / (n / 16000 s).
**
** Threads: the state (window, mel matrix, DCT table, filter) is read-only
** after create. KissFFT configs carry scratch memory (kiss_fftr writes its
** tmpbuf), so each call allocates its own; that costs microseconds.
** Deterministic: same input, same bits, on any thread.
*/
#include "acoustic.h"

#include <kiss_fftr.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SR 16000
#define FRAME 400
#define HOP 160
#define NFFT 512
#define NBIN (NFFT / 2 + 1)
#define QBLK 80 /* energy block: divides both HOP and FRAME */
#define NMEL 26
#define NMFCC 13
#define SILENCE_EPS 1e-10
#define ACTIVE_DB (-60.0f)

/* Pitch: at 8 kHz, window W, lags up to TAU_MAX + 1 (for the parabola). */
#define PSR 8000
#define PHOP (HOP / 2)
#define PW 256
#define TAU_MIN 16  /* 500 Hz */
#define TAU_MAX 134 /* 59.7 Hz */
#define PSEG (PW + TAU_MAX + 2)
#define YIN_THRESHOLD 0.3f
#define F0_MIN 60.0f
#define F0_MAX 500.0f
#define LP_TAPS 31

/* Maximum input: one day of audio; beyond that the caller has a bug. */
#define MAX_SAMPLES (86400L * SR)

typedef struct mel_band {
  int lo, hi;  /* bins lo..hi-1 */
  int woff;    /* offset of the band's weights in melw */
} mel_band;

typedef struct acoustic_state {
  float win[FRAME];
  float win_power; /* sum of win^2, to scale the spectrum */
  mel_band bands[NMEL];
  float melw[NMEL * NBIN];
  float dct[NMFCC][NMEL];
  float slope_x[NMEL]; /* centred band frequency / its sum of squares */
  float lp[LP_TAPS];
} acoustic_state;

/* Per-call results of the frame loop. */
typedef struct analysis {
  long T;
  float *loud; /* T, dBFS */
  float *f0;   /* T, Hz, 0 = unvoiced */
  float *aper; /* T, YIN aperiodicity at the chosen lag (voiced frames) */
  /* Spectral accumulators over active frames (double, summed in order). */
  long n_active, n_flux;
  double cen_s, cen_ss, slo_s, slo_ss, flux_s, flux_ss;
  double mfcc_s[NMFCC], mfcc_ss[NMFCC];
} analysis;

static double hz_to_mel(double f) { return 2595.0 * log10(1.0 + f / 700.0); }
static double mel_to_hz(double m) { return 700.0 * (pow(10.0, m / 2595.0) - 1.0); }

static void init_mel(acoustic_state *s) {
  double lo = hz_to_mel(20.0), hi = hz_to_mel(SR / 2.0);
  double edge[NMEL + 2];
  for (int i = 0; i < NMEL + 2; i++) edge[i] = mel_to_hz(lo + (hi - lo) * i / (NMEL + 1));
  double xm = 0, xx = 0;
  for (int b = 0; b < NMEL; b++) {
    mel_band *mb = &s->bands[b];
    mb->woff = b * NBIN;
    mb->lo = NBIN;
    mb->hi = 0;
    for (int k = 0; k < NBIN; k++) {
      double f = (double)k * SR / NFFT, w = 0;
      if (f > edge[b] && f < edge[b + 1]) w = (f - edge[b]) / (edge[b + 1] - edge[b]);
      else if (f >= edge[b + 1] && f < edge[b + 2]) w = (edge[b + 2] - f) / (edge[b + 2] - edge[b + 1]);
      s->melw[b * NBIN + k] = (float)w;
      if (w > 0) {
        if (k < mb->lo) mb->lo = k;
        mb->hi = k + 1;
      }
    }
    if (mb->hi <= mb->lo) mb->lo = mb->hi = 0; /* empty band (cannot happen at 512) */
    s->slope_x[b] = (float)(edge[b + 1] / 1000.0);
    xm += edge[b + 1] / 1000.0;
  }
  xm /= NMEL;
  for (int b = 0; b < NMEL; b++) xx += (s->slope_x[b] - xm) * (s->slope_x[b] - xm);
  for (int b = 0; b < NMEL; b++) s->slope_x[b] = (float)((s->slope_x[b] - xm) / xx);
}

static void init_tables(acoustic_state *s) {
  const double pi = 3.14159265358979323846;
  s->win_power = 0;
  for (int i = 0; i < FRAME; i++) {
    s->win[i] = (float)(0.5 - 0.5 * cos(2 * pi * i / FRAME)); /* periodic Hann */
    s->win_power += s->win[i] * s->win[i];
  }
  init_mel(s);
  for (int c = 0; c < NMFCC; c++)
    for (int b = 0; b < NMEL; b++)
      s->dct[c][b] = (float)(sqrt(2.0 / NMEL) * cos(pi * (c + 1) * (b + 0.5) / NMEL));
  /* Halfband low-pass for 2:1 decimation (cutoff 4 kHz, Hamming-windowed
  ** sinc, unit DC gain): even offsets from the centre are exactly zero. */
  double sum = 0;
  for (int i = 0; i < LP_TAPS; i++) {
    int m = i - LP_TAPS / 2;
    double h = m == 0 ? 0.5 : m % 2 == 0 ? 0.0 : sin(pi * m / 2) / (pi * m);
    h *= 0.54 - 0.46 * cos(2 * pi * i / (LP_TAPS - 1));
    s->lp[i] = (float)h;
    sum += h;
  }
  for (int i = 0; i < LP_TAPS; i++) s->lp[i] = (float)(s->lp[i] / sum);
}

static clap_status check_input(const float *pcm, long n, clap_error *err) {
  if (!pcm) return clap_error_set(err, CLAP_ERR_ARG, "acoustic: audio is NULL");
  if (n <= 0) return clap_error_set(err, CLAP_ERR_ARG, "acoustic: audio is empty (%ld samples)", n);
  if (n > MAX_SAMPLES)
    return clap_error_set(err, CLAP_ERR_RANGE, "acoustic: audio too long (%ld samples > %ld)", n,
                          MAX_SAMPLES);
  for (long i = 0; i < n; i++)
    if (!isfinite(pcm[i]))
      return clap_error_set(err, CLAP_ERR_ARG, "acoustic: sample %ld is not finite (%g)", i,
                            (double)pcm[i]);
  return CLAP_OK;
}

/* 2:1 decimation of the whole input (zero outside it). The filter is a
** halfband (every other tap is zero), taken tap by tap over blocks of outputs
** so the inner loop has no dependency chain and the compiler can vectorise it;
** the summation order is fixed, so results stay deterministic. */
static void decimate(const acoustic_state *s, const float *x, long n, float *y, long ny) {
  const long half = LP_TAPS / 2;
  enum { BLOCK = 512 };
  for (long m0 = 0; m0 < ny; m0 += BLOCK) {
    long m1 = m0 + BLOCK < ny ? m0 + BLOCK : ny;
    for (long m = m0; m < m1; m++) y[m] = 0;
    for (long k = 0; k < LP_TAPS; k++) {
      float h = s->lp[k];
      if (h == 0) continue;
      /* Outputs whose input index 2m + k - half falls inside [0, n). */
      long lo = m0, hi = m1;
      while (lo < hi && 2 * lo + k - half < 0) lo++;
      while (hi > lo && 2 * (hi - 1) + k - half >= n) hi--;
      for (long m = lo; m < hi; m++) y[m] += h * x[2 * m + k - half];
    }
  }
}

/* Scratch for one call; FFT configs are per call because kiss_fftr is not
** reentrant on a shared config. */
typedef struct scratch {
  kiss_fftr_cfg fwd, inv;
  float buf[NFFT], buf2[NFFT];
  kiss_fft_cpx spec[NBIN], spec2[NBIN];
  float mag[NBIN], prev_mag[NBIN];
  float dprime[TAU_MAX + 2];
} scratch;

static scratch *scratch_new(void) {
  scratch *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  w->fwd = kiss_fftr_alloc(NFFT, 0, NULL, NULL);
  w->inv = kiss_fftr_alloc(NFFT, 1, NULL, NULL);
  if (!w->fwd || !w->inv) {
    kiss_fftr_free(w->fwd);
    kiss_fftr_free(w->inv);
    free(w);
    return NULL;
  }
  return w;
}

static void scratch_free(scratch *w) {
  if (!w) return;
  kiss_fftr_free(w->fwd);
  kiss_fftr_free(w->inv);
  free(w);
}

/* YIN on the 8 kHz segment seg[0..PSEG). Returns F0 in Hz (0 = unvoiced) and
** the aperiodicity d'(tau) in *aper. */
static float yin(scratch *w, const float *seg, float *aper) {
  memset(w->buf, 0, sizeof w->buf);
  memset(w->buf2, 0, sizeof w->buf2);
  memcpy(w->buf, seg, PW * sizeof *seg);
  memcpy(w->buf2, seg, PSEG * sizeof *seg);
  kiss_fftr(w->fwd, w->buf, w->spec);
  kiss_fftr(w->fwd, w->buf2, w->spec2);
  for (int k = 0; k < NBIN; k++) { /* conj(A) * B: cross-correlation */
    kiss_fft_cpx a = w->spec[k], b = w->spec2[k];
    w->spec[k].r = a.r * b.r + a.i * b.i;
    w->spec[k].i = a.r * b.i - a.i * b.r;
  }
  kiss_fftri(w->inv, w->spec, w->buf); /* buf[tau] = NFFT * sum_j a_j b_{j+tau} */

  /* Energy of the lagged window, slid one sample at a time; four partial
  ** sums for the first so the additions do not form one long chain. */
  double p4[4] = {0, 0, 0, 0};
  for (int j = 0; j < PW; j += 4)
    for (int q = 0; q < 4; q++) p4[q] += (double)seg[j + q] * seg[j + q];
  double e0 = (p4[0] + p4[1]) + (p4[2] + p4[3]), et = e0;
  if (e0 <= 0) return 0;
  double running = 0;
  w->dprime[0] = 1;
  for (int tau = 1; tau <= TAU_MAX + 1; tau++) {
    et += (double)seg[tau + PW - 1] * seg[tau + PW - 1] - (double)seg[tau - 1] * seg[tau - 1];
    double d = e0 + (et > 0 ? et : 0) - 2.0 * w->buf[tau] / NFFT;
    if (d < 0) d = 0;
    running += d;
    w->dprime[tau] = running > 0 ? (float)(d * tau / running) : 1.0f;
  }
  int tau = 0;
  for (int t = TAU_MIN; t <= TAU_MAX; t++)
    if (w->dprime[t] < YIN_THRESHOLD) {
      tau = t;
      break;
    }
  if (!tau) return 0;
  while (tau < TAU_MAX && w->dprime[tau + 1] < w->dprime[tau]) tau++;
  float a = w->dprime[tau - 1], b = w->dprime[tau], c = w->dprime[tau + 1];
  float denom = a - 2 * b + c, shift = 0;
  if (denom > 0) {
    shift = 0.5f * (a - c) / denom;
    if (shift > 1) shift = 1;
    if (shift < -1) shift = -1;
  }
  float f0 = PSR / ((float)tau + shift);
  if (f0 < F0_MIN || f0 > F0_MAX) return 0;
  *aper = b;
  return f0;
}

/* Spectral features of one windowed frame already in w->spec. */
static void frame_spectral(const acoustic_state *s, scratch *w, analysis *a, int have_prev) {
  float *P = w->buf2; /* reuse as power spectrum */
  double total = 0, cen = 0;
  for (int k = 0; k < NBIN; k++) {
    P[k] = (w->spec[k].r * w->spec[k].r + w->spec[k].i * w->spec[k].i) / s->win_power;
    total += P[k];
    cen += (double)P[k] * k;
  }
  float centroid = total > 0 ? (float)(cen / total * SR / NFFT) : 0;
  float logE[NMEL], slope = 0;
  for (int b = 0; b < NMEL; b++) {
    const mel_band *mb = &s->bands[b];
    const float *wt = s->melw + mb->woff;
    double e = 0;
    for (int k = mb->lo; k < mb->hi; k++) e += (double)wt[k] * P[k];
    logE[b] = (float)log(e + SILENCE_EPS);
    slope += s->slope_x[b] * logE[b];
  }
  slope *= (float)(10.0 / log(10.0)); /* natural log -> dB */
  a->cen_s += centroid, a->cen_ss += (double)centroid * centroid;
  a->slo_s += slope, a->slo_ss += (double)slope * slope;
  for (int c = 0; c < NMFCC; c++) {
    float v = 0;
    for (int b = 0; b < NMEL; b++) v += s->dct[c][b] * logE[b];
    a->mfcc_s[c] += v, a->mfcc_ss[c] += (double)v * v;
  }
  float norm = total > 0 ? (float)(1.0 / sqrt(total)) : 0;
  double flux = 0;
  for (int k = 0; k < NBIN; k++) {
    w->mag[k] = sqrtf(P[k]) * norm;
    double d = w->mag[k] - w->prev_mag[k];
    flux += d * d;
  }
  if (have_prev) a->flux_s += flux, a->flux_ss += flux * flux, a->n_flux++;
  memcpy(w->prev_mag, w->mag, sizeof w->mag);
  a->n_active++;
}

static long frame_count(long n) { return n < FRAME ? 1 : 1 + (n - FRAME) / HOP; }

static void analysis_free(analysis *a) {
  free(a->loud), free(a->f0), free(a->aper);
  memset(a, 0, sizeof *a);
}

/* The frame loop. `spectral` = 0 skips spectral features (F0 track only). */
static clap_status analyse(const acoustic_state *s, const float *pcm, long n, int spectral,
                           analysis *a, clap_error *err) {
  memset(a, 0, sizeof *a);
  long T = frame_count(n), ny = (n + 1) / 2;
  a->T = T;
  a->loud = malloc((size_t)T * sizeof *a->loud);
  a->f0 = calloc((size_t)T, sizeof *a->f0);
  a->aper = calloc((size_t)T, sizeof *a->aper);
  long nb = (n + QBLK - 1) / QBLK;
  float *y = malloc((size_t)ny * sizeof *y);
  double *bs = malloc((size_t)nb * sizeof *bs);
  scratch *w = scratch_new();
  if (!a->loud || !a->f0 || !a->aper || !y || !bs || !w) {
    free(y), free(bs), scratch_free(w), analysis_free(a);
    return clap_error_set(err, CLAP_ERR_NOMEM, "acoustic: out of memory for %ld samples", n);
  }
  decimate(s, pcm, n, y, ny);
  /* Frame energies from sums over 5 ms blocks: frames overlap, blocks do not,
  ** so each sample is squared once. */
  for (long b = 0; b < nb; b++) {
    double e = 0;
    for (long i = b * QBLK; i < (b + 1) * QBLK && i < n; i++) e += (double)pcm[i] * pcm[i];
    bs[b] = e;
  }
  float seg[PSEG];
  int prev_active = 0;
  for (long t = 0; t < T; t++) {
    long start = t * HOP, avail = n - start < FRAME ? n - start : FRAME;
    double ms = 0;
    for (long b = t * (HOP / QBLK); b < t * (HOP / QBLK) + FRAME / QBLK && b < nb; b++) ms += bs[b];
    a->loud[t] = (float)(10.0 * log10(ms / (double)avail + SILENCE_EPS));
    int active = a->loud[t] > ACTIVE_DB;
    if (active) {
      long ps = t * PHOP, pav = ny - ps < PSEG ? ny - ps : PSEG;
      memcpy(seg, y + ps, (size_t)(pav > 0 ? pav : 0) * sizeof *seg);
      for (long i = pav > 0 ? pav : 0; i < PSEG; i++) seg[i] = 0;
      a->f0[t] = yin(w, seg, &a->aper[t]);
    }
    if (spectral && active) {
      for (long i = 0; i < FRAME; i++) w->buf[i] = i < avail ? pcm[start + i] * s->win[i] : 0;
      for (int i = FRAME; i < NFFT; i++) w->buf[i] = 0;
      kiss_fftr(w->fwd, w->buf, w->spec);
      frame_spectral(s, w, a, prev_active);
    }
    prev_active = active;
  }
  free(y);
  free(bs);
  scratch_free(w);
  return CLAP_OK;
}

static int cmp_float(const void *p, const void *q) {
  float a = *(const float *)p, b = *(const float *)q;
  return (a > b) - (a < b);
}

/* Sorted in place; p in [0, 1]. */
static float percentile(const float *sorted, long m, double p) {
  if (m <= 0) return 0;
  double pos = p * (double)(m - 1);
  long i = (long)pos;
  if (i >= m - 1) return sorted[m - 1];
  double f = pos - (double)i;
  return (float)(sorted[i] + f * (sorted[i + 1] - sorted[i]));
}

static void mean_sd(const float *v, long m, float *mean, float *sd) {
  *mean = *sd = 0;
  if (m <= 0) return;
  double s = 0, ss = 0;
  for (long i = 0; i < m; i++) s += v[i];
  double mu = s / (double)m;
  for (long i = 0; i < m; i++) ss += (v[i] - mu) * (v[i] - mu);
  *mean = (float)mu;
  *sd = (float)sqrt(ss / (double)m);
}

static void acc_mean_sd(double s, double ss, long m, float *mean, float *sd) {
  *mean = *sd = 0;
  if (m <= 0) return;
  double mu = s / (double)m, var = ss / (double)m - mu * mu;
  *mean = (float)mu;
  *sd = (float)sqrt(var > 0 ? var : 0);
}

/* Distribution block: mean, sd, p20, p50, p80, range. `tmp` is scratch of m. */
static void distribution(const float *v, long m, float *tmp, float *out6) {
  mean_sd(v, m, &out6[0], &out6[1]);
  memcpy(tmp, v, (size_t)m * sizeof *tmp);
  qsort(tmp, (size_t)m, sizeof *tmp, cmp_float);
  out6[2] = percentile(tmp, m, 0.2);
  out6[3] = percentile(tmp, m, 0.5);
  out6[4] = percentile(tmp, m, 0.8);
  out6[5] = out6[4] - out6[2];
}

static float semitones(float hz) { return (float)(12.0 * log2(hz / 27.5)); }

/* F0 block (indices 0-6) and the voice-quality proxies (45, 47-49). */
static void summarise_voice(const analysis *a, float *st, float *tmp, float *out) {
  long m = 0;
  double sx = 0, sy = 0, sxx = 0, sxy = 0, hnr = 0, jit = 0, shim = 0, per = 0;
  long pairs = 0;
  for (long t = 0; t < a->T; t++) {
    if (a->f0[t] <= 0) continue;
    float y = semitones(a->f0[t]);
    double x = (double)t * HOP / SR;
    st[m++] = y;
    sx += x, sy += y, sxx += x * x, sxy += x * y;
    double ap = a->aper[t] < 1e-3f ? 1e-3 : a->aper[t] > 0.999f ? 0.999 : a->aper[t];
    hnr += 10.0 * log10((1.0 - ap) / ap);
    per += 1.0 / a->f0[t];
    if (t > 0 && a->f0[t - 1] > 0) {
      jit += fabs(1.0 / a->f0[t] - 1.0 / a->f0[t - 1]);
      shim += fabs((double)a->loud[t] - a->loud[t - 1]);
      pairs++;
    }
  }
  distribution(st, m, tmp, out);
  double vx = m > 0 ? sxx - sx * sx / (double)m : 0;
  out[6] = vx > 1e-12 ? (float)((sxy - sx * sy / (double)m) / vx) : 0;
  out[45] = (float)m / (float)a->T;
  out[47] = m > 0 ? (float)(hnr / (double)m) : 0;
  out[48] = pairs > 0 ? (float)((jit / (double)pairs) / (per / (double)m)) : 0;
  out[49] = pairs > 0 ? (float)(shim / (double)pairs) : 0;
}

/* Loudness peaks per second on the 5-frame smoothed contour. */
static float rate_proxy(const float *loud, long T, long n, float *sm) {
  for (long t = 0; t < T; t++) {
    long lo = t - 2 < 0 ? 0 : t - 2, hi = t + 2 >= T ? T - 1 : t + 2;
    double s = 0;
    for (long i = lo; i <= hi; i++) s += loud[i];
    sm[t] = (float)(s / (double)(hi - lo + 1));
  }
  long peaks = 0;
  for (long t = 0; t < T; t++) {
    if (sm[t] <= ACTIVE_DB) continue;
    int is_peak = 1;
    float lowest = sm[t];
    for (long i = t - 15; i <= t + 15 && is_peak; i++) {
      if (i < 0 || i >= T || i == t) continue;
      if (i >= t - 5 && i <= t + 5 && (i < t ? sm[i] >= sm[t] : sm[i] > sm[t])) is_peak = 0;
      if (sm[i] < lowest) lowest = sm[i];
    }
    if (is_peak && sm[t] - lowest >= 3.0f) peaks++;
  }
  return (float)((double)peaks / ((double)n / SR));
}

static void summarise(const analysis *a, long n, float *work, float *out) {
  float *tmp = work + a->T;
  memset(out, 0, ACOUSTIC_DIM * sizeof *out);
  summarise_voice(a, work, tmp, out);
  distribution(a->loud, a->T, tmp, out + 7);
  acc_mean_sd(a->cen_s, a->cen_ss, a->n_active, &out[13], &out[14]);
  acc_mean_sd(a->slo_s, a->slo_ss, a->n_active, &out[15], &out[16]);
  acc_mean_sd(a->flux_s, a->flux_ss, a->n_flux, &out[17], &out[18]);
  for (int c = 0; c < NMFCC; c++)
    acc_mean_sd(a->mfcc_s[c], a->mfcc_ss[c], a->n_active, &out[19 + c], &out[32 + c]);
  out[46] = rate_proxy(a->loud, a->T, n, work);
  for (int i = 0; i < ACOUSTIC_DIM; i++) /* belt and braces: never hand out NaN */
    if (!isfinite(out[i])) out[i] = 0;
}

static clap_status acoustic_create(const char *path, void **state, int *dim, clap_error *err) {
  if (path && *path)
    return clap_error_set(err, CLAP_ERR_ARG,
                          "encoder kind 'acoustic' is built in and takes no path (got '%.200s')",
                          path);
  acoustic_state *s = calloc(1, sizeof *s);
  if (!s) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory creating acoustic encoder");
  init_tables(s);
  *state = s;
  *dim = ACOUSTIC_DIM;
  return CLAP_OK;
}

static void acoustic_destroy(void *state) { free(state); }

static clap_status acoustic_encode(void *state, const float *pcm, long n, float *out,
                                   clap_error *err) {
  clap_status rc = check_input(pcm, n, err);
  if (rc != CLAP_OK) return rc;
  analysis a;
  rc = analyse(state, pcm, n, 1, &a, err);
  if (rc != CLAP_OK) return rc;
  float *work = malloc(2 * (size_t)a.T * sizeof *work);
  if (!work) {
    analysis_free(&a);
    return clap_error_set(err, CLAP_ERR_NOMEM, "acoustic: out of memory for %ld frames", a.T);
  }
  summarise(&a, n, work, out);
  free(work);
  analysis_free(&a);
  return CLAP_OK;
}

clap_status acoustic_f0_track(const float *pcm, long n, int rate, float **track, int *nframes,
                              clap_error *err) {
  if (!track || !nframes) return clap_error_set(err, CLAP_ERR_ARG, "acoustic_f0_track: NULL output");
  *track = NULL;
  *nframes = 0;
  if (rate != SR)
    return clap_error_set(err, CLAP_ERR_RANGE, "acoustic: sample rate %d Hz, expected %d", rate, SR);
  clap_status rc = check_input(pcm, n, err);
  if (rc != CLAP_OK) return rc;
  if (frame_count(n) > 0x7fffffff)
    return clap_error_set(err, CLAP_ERR_RANGE, "acoustic: too many frames");
  acoustic_state *s = malloc(sizeof *s);
  if (!s) return clap_error_set(err, CLAP_ERR_NOMEM, "acoustic: out of memory");
  init_tables(s);
  analysis a;
  rc = analyse(s, pcm, n, 0, &a, err);
  free(s);
  if (rc != CLAP_OK) return rc;
  *track = a.f0;
  *nframes = (int)a.T;
  a.f0 = NULL;
  analysis_free(&a);
  return CLAP_OK;
}

const encoder_ops acoustic_encoder_ops = {
    .kind = "acoustic",
    .modality = ENCODER_AUDIO,
    .create = acoustic_create,
    .encode_audio = acoustic_encode,
    .encode_text = NULL,
    .destroy = acoustic_destroy,
};
