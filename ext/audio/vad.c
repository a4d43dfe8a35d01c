/* vad — see vad.h. */
#include "vad.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <kiss_fftr.h>

#include "audio.h"

#define FRAME 400       /* 25 ms: the acoustic encoder's frame */
#define HOP 160         /* 10 ms */
#define VWIN 640        /* 40 ms for voicing */
#define DEC 4           /* voicing at 4 kHz */
#define VN (VWIN / DEC) /* 160 decimated samples */
#define LAG_MIN 10      /* 400 Hz at 4 kHz */
#define LAG_MAX 66      /* 60.6 Hz */
#define SMOOTH 5        /* es, vs: frames each side (110 ms in all) */
#define BIN_DB 0.25
#define SPREAD_MAX_DB 4.0
#define HIST_LO (-130.0)
#define NBINS 600       /* -130 .. +20 dB */
#define EPS 1e-13
#define STREAM_CHUNK 4096
#define GROW_HALF 10       /* the 210 ms window quiet segments grow on: frames each side */
#define GROW_DB 10.0       /* segments less than this over the floor grow */
#define GROW_NOISE 1.5     /* noise level: the floor plus this many spreads */
#define GROW_SHARE 0.3     /* grow while over this share of the way from noise to segment */
#define GROW_MAX 50        /* frames a segment may grow each way (0.5 s) */
#define GROW_BRIDGE 5      /* frames under that level a growth may cross (50 ms) */
#define CROSSTALK_DB 10.0  /* the default of crosstalk_db (vad.h, step 6) */
#define ECHO_LAG_MAX 30    /* step 6: the longest echo delay looked for (300 ms) */
#define ECHO_SLACK 1       /* step 6: frames each side of the lag compared (10 ms) */
#define ECHO_MIN_R 0.5     /* step 6: the correlation that makes a lag the echo's */
#define ECHO_R_STEP 0.02   /* step 6: how much better a longer lag must correlate */
#define TONE_NFFT 256      /* step 7: the decimated 40 ms, zero-padded (15.6 Hz bins) */
#define TONE_HALF 3        /* step 7: bins each side of a peak (the window's main lobe, 50 Hz) */
#define TONE_SHARE 0.95    /* step 7: share of the power in the two peaks that makes a tone */
#define TONE_HARMONIC 0.1  /* step 7: a second peak this strong may make two peaks a voice */
#define TONE_RATIO_BINS 2  /* step 7: how near 2:1 or 3:2 (in bins, 31 Hz) makes them harmonics */
#define TONE_VOICED 0.3    /* step 7: only frames this periodic pay for the FFT (a tone's v ~ 1) */
#define TONE_EDGE (VWIN / HOP) /* step 7: frames each side of a tone barred with it */
#define MIN_TONE 0.06      /* the default of min_tone (vad.h, step 7) */

struct vad {
  vad_options o;
  int channel;
  float pend[VWIN];
  int npend;
  long nsamples; /* fed so far */
  long nframes, cap;
  float *e, *v;    /* per frame: energy dB, voicing */
  unsigned char *tone; /* per frame: 1 when a tone (step 7) */
  kiss_fftr_cfg fft;   /* step 7's; kiss_fftr keeps scratch in it, so one per vad */
  float hann[VN];
  float *feat;  /* over the nfeat frames, n each: es, vs, floor, spread, el, lin (features) */
  long nfeat;
};

void vad_options_default(vad_options *o) {
  *o = (vad_options){.min_speech = 0.25,
                     .min_silence = 0.50,
                     .onset_db = 1.5,
                     .offset_db = 0.5,
                     .onset_spread = 3,
                     .offset_spread = 2.5,
                     .floor_window = 30,
                     .floor_percentile = 10,
                     .min_level_db = -55,
                     .voicing = 0.3,
                     .min_voiced = 0.05,
                     .crosstalk_db = CROSSTALK_DB,
                     .min_tone = MIN_TONE};
}

/* ---- options ------------------------------------------------------------- */

typedef struct opt_field {
  const char *key;
  size_t off;
  double lo, hi;
  int lo_open; /* (lo, hi] instead of [lo, hi] */
} opt_field;

static const opt_field fields[] = {
    {"min_speech", offsetof(vad_options, min_speech), 0, 60, 1},
    {"min_silence", offsetof(vad_options, min_silence), 0, 60, 1},
    {"onset_db", offsetof(vad_options, onset_db), 0, 60, 1},
    {"offset_db", offsetof(vad_options, offset_db), 0, 60, 1},
    {"onset_spread", offsetof(vad_options, onset_spread), 0, 20, 0},
    {"offset_spread", offsetof(vad_options, offset_spread), 0, 20, 0},
    {"floor_window", offsetof(vad_options, floor_window), 1, 600, 0},
    {"floor_percentile", offsetof(vad_options, floor_percentile), 1, 50, 0},
    {"min_level_db", offsetof(vad_options, min_level_db), -120, 0, 0},
    {"voicing", offsetof(vad_options, voicing), 0, 1, 0},
    {"min_voiced", offsetof(vad_options, min_voiced), 0, 10, 0},
    {"crosstalk_db", offsetof(vad_options, crosstalk_db), 0, 60, 0},
    {"min_tone", offsetof(vad_options, min_tone), 0, 10, 0},
};
#define NFIELDS (sizeof fields / sizeof fields[0])

static double *field_of(vad_options *o, const opt_field *f) {
  return (double *)((char *)o + f->off);
}

static int in_range(const opt_field *f, double x) {
  return isfinite(x) && (f->lo_open ? x > f->lo : x >= f->lo) && x <= f->hi;
}

static clap_status range_error(const opt_field *f, const char *got, clap_error *err) {
  return clap_error_set(err, CLAP_ERR_ARG, "options: %s: must be a number in %c%g, %g], got %s",
                        f->key, f->lo_open ? '(' : '[', f->lo, f->hi, got);
}

clap_status vad_options_check(const vad_options *o, clap_error *err) {
  if (!o) return clap_error_set(err, CLAP_ERR_ARG, "options: NULL");
  vad_options c = *o;
  for (size_t i = 0; i < NFIELDS; i++) {
    double x = *field_of(&c, &fields[i]);
    if (!in_range(&fields[i], x)) {
      char got[32];
      snprintf(got, sizeof got, "%g", x);
      return range_error(&fields[i], got, err);
    }
  }
  if (o->offset_db > o->onset_db || o->offset_spread > o->onset_spread)
    return clap_error_set(err, CLAP_ERR_ARG,
                          "options: the offset threshold (offset_db %g, offset_spread %g) must not "
                          "exceed the onset one (onset_db %g, onset_spread %g)",
                          o->offset_db, o->offset_spread, o->onset_db, o->onset_spread);
  return CLAP_OK;
}

static const opt_field *find_field(const char *key) {
  for (size_t i = 0; i < NFIELDS; i++)
    if (!strcmp(fields[i].key, key)) return &fields[i];
  return NULL;
}

/* "min_speech, min_silence, ...": every key of the table, in its order. */
static void known_keys(char *buf, size_t cap) {
  size_t k = 0;
  buf[0] = 0;
  for (size_t i = 0; i < NFIELDS && k < cap; i++)
    k += (size_t)snprintf(buf + k, cap - k, "%s%s", i ? ", " : "", fields[i].key);
}

clap_status vad_options_from_json(const char *json, size_t n, vad_options *o, clap_error *err) {
  if (!json || !o) return clap_error_set(err, CLAP_ERR_ARG, "options: NULL");
  cJSON *root = cJSON_ParseWithLength(json, n);
  if (!root || !cJSON_IsObject(root)) {
    cJSON_Delete(root);
    return clap_error_set(err, CLAP_ERR_ARG,
                          "options: not a JSON object (e.g. {\"min_silence\": 0.5})");
  }
  vad_options c = *o;
  clap_status rc = CLAP_OK;
  for (cJSON *it = root->child; it && !rc; it = it->next) {
    const opt_field *f = it->string ? find_field(it->string) : NULL;
    if (!f) {
      char known[256];
      known_keys(known, sizeof known);
      rc = clap_error_set(err, CLAP_ERR_ARG, "options: unknown key '%.64s' (known: %s)",
                          it->string ? it->string : "", known);
    } else if (!cJSON_IsNumber(it) || !in_range(f, it->valuedouble)) {
      char *got = cJSON_PrintUnformatted(it);
      if (got && strlen(got) > 40) strcpy(got + 37, "...");
      rc = range_error(f, got ? got : "?", err);
      cJSON_free(got);
    } else {
      *field_of(&c, f) = it->valuedouble;
    }
  }
  cJSON_Delete(root);
  if (!rc) rc = vad_options_check(&c, err);
  if (!rc) *o = c;
  return rc;
}

/* ---- features ------------------------------------------------------------ */

clap_status vad_create(const vad_options *o, int channel, vad **out, clap_error *err) {
  if (!out) return clap_error_set(err, CLAP_ERR_ARG, "vad_create: no output pointer");
  *out = NULL;
  vad_options d;
  if (!o) {
    vad_options_default(&d);
    o = &d;
  }
  clap_status rc = vad_options_check(o, err);
  if (rc) return rc;
  vad *v = calloc(1, sizeof *v);
  if (v) v->fft = kiss_fftr_alloc(TONE_NFFT, 0, NULL, NULL);
  if (!v || !v->fft) {
    free(v);
    return clap_error_set(err, CLAP_ERR_NOMEM, "vad: out of memory");
  }
  for (int i = 0; i < VN; i++) v->hann[i] = (float)(0.5 - 0.5 * cos(2 * M_PI * (i + 0.5) / VN));
  v->o = *o;
  v->channel = channel;
  *out = v;
  return CLAP_OK;
}

/* The 40 ms window x at 4 kHz (4-sample means), less its mean, into d. */
static void decimate(const float *x, float *d) {
  double mean = 0;
  for (int i = 0; i < VN; i++) {
    const float *p = x + i * DEC;
    d[i] = 0.25f * (p[0] + p[1] + p[2] + p[3]);
    mean += d[i];
  }
  mean /= VN;
  for (int i = 0; i < VN; i++) d[i] -= (float)mean;
}

/* Highest normalised autocorrelation of the decimated window d over the
** pitch lags; the energies of the two overlapping parts come from prefix
** sums. */
static float voicing_of(const float *d) {
  double pre[VN + 1];
  pre[0] = 0;
  for (int i = 0; i < VN; i++) pre[i + 1] = pre[i] + (double)d[i] * d[i];
  float best = 0;
  for (int lag = LAG_MIN; lag <= LAG_MAX; lag++) {
    int m = VN - lag, i = 0;
    /* Four partial sums: independent chains the compiler can keep in flight. */
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (; i + 4 <= m; i += 4) {
      s0 += d[i] * d[i + lag];
      s1 += d[i + 1] * d[i + 1 + lag];
      s2 += d[i + 2] * d[i + 2 + lag];
      s3 += d[i + 3] * d[i + 3 + lag];
    }
    for (; i < m; i++) s0 += d[i] * d[i + lag];
    float s = (s0 + s1) + (s2 + s3);
    double a = pre[m], b = pre[VN] - pre[lag];
    if (s > 0 && a > EPS && b > EPS) {
      float r = (float)(s / sqrt(a * b));
      if (r > best) best = r;
    }
  }
  return best > 1 ? 1 : best;
}

/* Step 7: 1 when at least TONE_SHARE of the decimated window's power lies
** within TONE_HALF bins of its two strongest peaks (one or two steady
** sinusoids: a call-progress tone or a DTMF digit), unless the two are a
** voice's neighbouring harmonics: both strong, at 2:1 or 3:2. A steady
** high vowel puts most of its power in its first two or three harmonics;
** no standard tone pair lies within 30 Hz of those ratios (the nearest,
** DTMF's 697 and 1336 Hz, is 58 Hz from 2:1). */
static int tone_of(vad *v, const float *d) {
  kiss_fft_scalar in[TONE_NFFT] = {0};
  kiss_fft_cpx out[TONE_NFFT / 2 + 1];
  float p[TONE_NFFT / 2 + 1];
  for (int i = 0; i < VN; i++) in[i] = d[i] * v->hann[i];
  kiss_fftr(v->fft, in, out);
  double total = 0, peaks = 0;
  for (int b = 0; b <= TONE_NFFT / 2; b++) total += p[b] = out[b].r * out[b].r + out[b].i * out[b].i;
  if (!(total > EPS)) return 0;
  int top[2];
  float height[2];
  for (int k = 0; k < 2; k++) {
    top[k] = 0;
    for (int b = 1; b <= TONE_NFFT / 2; b++)
      if (p[b] > p[top[k]]) top[k] = b;
    height[k] = p[top[k]];
    for (int b = top[k] - TONE_HALF; b <= top[k] + TONE_HALF; b++)
      if (b >= 0 && b <= TONE_NFFT / 2) peaks += p[b], p[b] = 0;
  }
  int lo = top[0] < top[1] ? top[0] : top[1], hi = top[0] + top[1] - lo;
  int harmonics = height[1] >= TONE_HARMONIC * height[0] &&
                  (abs(2 * lo - hi) <= TONE_RATIO_BINS || abs(3 * lo - 2 * hi) <= TONE_RATIO_BINS);
  return !harmonics && peaks >= TONE_SHARE * total;
}

static clap_status add_frame(vad *v, clap_error *err) {
  if (v->nframes == v->cap) {
    long cap = v->cap ? v->cap * 2 : 4096;
    float *e = realloc(v->e, sizeof(float) * (size_t)cap);
    if (e) v->e = e;
    float *vv = e ? realloc(v->v, sizeof(float) * (size_t)cap) : NULL;
    if (vv) v->v = vv;
    unsigned char *tone = vv ? realloc(v->tone, (size_t)cap) : NULL;
    if (!tone) return clap_error_set(err, CLAP_ERR_NOMEM, "vad: out of memory");
    v->tone = tone;
    v->cap = cap;
  }
  double s = 0;
  for (int i = 0; i < FRAME; i++) s += (double)v->pend[i] * v->pend[i];
  if (!isfinite(s))
    return clap_error_set(err, CLAP_ERR_ARG, "vad: channel %d: a sample near %.2f s is not finite",
                          v->channel, (double)v->nframes * HOP / VAD_RATE);
  float e = (float)(10 * log10(s / FRAME + EPS));
  v->e[v->nframes] = e;
  v->v[v->nframes] = 0;
  v->tone[v->nframes] = 0;
  if (e > v->o.min_level_db) {
    float d[VN];
    decimate(v->pend, d);
    float vo = voicing_of(d);
    v->v[v->nframes] = vo;
    /* A tone is periodic: only a voiced frame pays for the FFT. The gate is
    ** fixed, not the voicing option, so that option cannot turn step 7 off. */
    v->tone[v->nframes] = v->o.min_tone > 0 && vo >= TONE_VOICED && tone_of(v, d);
  }
  v->nframes++;
  return CLAP_OK;
}

clap_status vad_feed(vad *v, const float *x, long n, int stride, clap_error *err) {
  if (!v || (!x && n > 0) || stride < 1) return clap_error_set(err, CLAP_ERR_ARG, "vad_feed: bad arguments");
  v->nsamples += n;
  for (long i = 0; i < n; i++) {
    v->pend[v->npend++] = x[i * stride];
    if (v->npend == VWIN) {
      clap_status rc = add_frame(v, err);
      if (rc) return rc;
      memmove(v->pend, v->pend + HOP, sizeof(float) * (VWIN - HOP));
      v->npend = VWIN - HOP;
    }
  }
  return CLAP_OK;
}

/* ---- decision ------------------------------------------------------------ */

static int bin_of(float db) {
  double x = (db - HIST_LO) / BIN_DB;
  return !(x >= 0) ? 0 : x >= NBINS ? NBINS - 1 : (int)x;
}

/* floor[t]: the percentile of es over the centred window, by a sliding
** histogram; spread[t]: how far the percentile twice as high lies above it
** (a noise's own ups and downs: ~0.3 dB for white noise, several dB for
** babble). */
static float percentile_of(const int *hist, long count, double pct) {
  long rank = (long)ceil(count * pct / 100.0), seen = 0;
  if (rank < 1) rank = 1;
  int b = 0;
  for (; b < NBINS - 1; b++)
    if ((seen += hist[b]) >= rank) break;
  return (float)(HIST_LO + (b + 0.5) * BIN_DB);
}

static void noise_floor(const vad_options *o, const float *es, long n, float *floor_db,
                        float *spread) {
  int hist[NBINS] = {0};
  long half = (long)(o->floor_window * 100 / 2);
  long lo = 0, hi = 0, count = 0; /* the histogram holds es[lo, hi) */
  for (long t = 0; t < n; t++) {
    long want_hi = t + half + 1 < n ? t + half + 1 : n, want_lo = t - half > 0 ? t - half : 0;
    for (; hi < want_hi; hi++, count++) hist[bin_of(es[hi])]++;
    for (; lo < want_lo; lo++, count--) hist[bin_of(es[lo])]--;
    floor_db[t] = percentile_of(hist, count, o->floor_percentile);
    spread[t] = percentile_of(hist, count, 3 * o->floor_percentile) - floor_db[t];
    /* Past SPREAD_MAX_DB the higher percentile is speech, not noise (digital
    ** silence between turns, or a window that is mostly speech). */
    if (spread[t] > SPREAD_MAX_DB) spread[t] = SPREAD_MAX_DB;
  }
}

static void smooth_lin(const float *v, long n, float *vs) {
  for (long t = 0; t < n; t++) {
    double s = 0;
    int k = 0;
    for (long j = t - SMOOTH; j <= t + SMOOTH; j++)
      if (j >= 0 && j < n) s += v[j], k++;
    vs[t] = (float)(s / k);
  }
}

/* es: the mean of the linear energies lin over the window, in dB. */
static void smooth(const float *lin, long n, float *es) {
  smooth_lin(lin, n, es);
  for (long t = 0; t < n; t++) es[t] = (float)(10 * log10(es[t]));
}

/* Marks speech frames in `on` (0/1): a voiced frame above the onset
** threshold starts a run, which grows both ways while above the offset
** threshold. th holds the onset thresholds, then the offset ones. */
static void hysteresis(const vad_options *o, const float *es, const float *vs, const float *th,
                       long n, unsigned char *on) {
  const float *off = th + n;
  memset(on, 0, (size_t)n);
  for (long t = 0; t < n; t++) {
    if (on[t] || es[t] <= th[t] || es[t] <= o->min_level_db || vs[t] < o->voicing) continue;
    long a = t, b = t;
    while (a > 0 && !on[a - 1] && es[a - 1] > off[a - 1] && es[a - 1] > o->min_level_db) a--;
    while (b + 1 < n && es[b + 1] > off[b + 1] && es[b + 1] > o->min_level_db) b++;
    for (long k = a; k <= b; k++) on[k] = 1;
    t = b;
  }
}

/* Onset and offset thresholds: the floor, plus a fixed rise, plus a
** multiple of the noise's spread. */
static void thresholds(const vad_options *o, const float *fl, const float *spread, long n,
                       float *th) {
  for (long t = 0; t < n; t++) {
    th[t] = fl[t] + (float)(o->onset_db + o->onset_spread * spread[t]);
    th[n + t] = fl[t] + (float)(o->offset_db + o->offset_spread * spread[t]);
  }
}

/* Frame t's centre is t*HOP + FRAME/2 samples. */
static double frame_time(long t, int edge) {
  return ((double)t * HOP + FRAME / 2.0 + edge * HOP / 2.0) / VAD_RATE;
}

/* The next segment from frame *t on: a run of `on` frames with the runs
** closer than min_silence joined, [*a, *b]; 0 when none is left. */
static int next_run(const vad *v, const unsigned char *on, long *t, long *a, long *b) {
  long n = v->nframes, gap = (long)ceil(v->o.min_silence * 100);
  while (*t < n && !on[*t]) (*t)++;
  if (*t >= n) return 0;
  *a = *b = *t;
  for (;;) {
    while (*b + 1 < n && on[*b + 1]) (*b)++;
    long c = *b + 1;
    while (c < n && !on[c]) c++;
    if (c < n && c - *b - 1 < gap) *b = c;
    else break;
  }
  *t = *b + 1;
  return 1;
}

/* The segment of frames [a, b], within the signal; 0 when it is too short
** or has too little voiced time to be kept. */
static int segment_of(const vad *v, long a, long b, vad_segment *seg) {
  const vad_options *o = &v->o;
  double voiced = 0, energy = 0;
  for (long j = a; j <= b; j++) {
    voiced += v->v[j] >= o->voicing ? 0.01 : 0;
    energy += pow(10, v->e[j] / 10);
  }
  /* Within the signal: its last sample starts at (nsamples - 1) / rate. */
  double start = frame_time(a, -1), end = frame_time(b, 1), last = (v->nsamples - 1.0) / VAD_RATE;
  if (start < 0) start = 0;
  if (end > last) end = last;
  *seg = (vad_segment){start, end, v->channel, 10 * log10(energy / (double)(b - a + 1) + EPS)};
  return end - start >= o->min_speech && voiced >= o->min_voiced - 1e-9;
}

/* Keeps in `on` only the segments that would be kept, whole (the joined
** gaps included), so that growing never turns a noise blip into one. */
static void keep_segments(const vad *v, unsigned char *on) {
  long t = 0, a, b;
  vad_segment seg;
  while (next_run(v, on, &t, &a, &b))
    memset(on + a, segment_of(v, a, b, &seg), (size_t)(b - a + 1));
}

/* Grows a quiet segment [a, b] (step -1: its start, +1: its end) while el,
** the 210 ms mean energy, stays over the level GROW_SHARE of the way (in
** power) from the noise to the segment's own mean level, crossing dips of
** up to GROW_BRIDGE frames, at most GROW_MAX frames; marks the frames in
** out. */
static void grow_side(const float *el, const unsigned char *block, long n, long from, int step,
                      double mid, unsigned char *out) {
  long far = from, dip = 0;
  for (long k = from + step, i = 1; k >= 0 && k < n && i <= GROW_MAX && !(block && block[k]); k += step, i++) {
    if (el[k] > mid) far = k, dip = 0;
    else if (++dip > GROW_BRIDGE) break;
  }
  for (long k = far; k != from; k -= step) out[k] = 1;
}

/* el[t]: the mean of the linear energies lin of frames
** t-GROW_HALF..t+GROW_HALF (within the signal), in dB, by a running sum. */
static void grow_window(const float *lin, long n, float *el) {
  double sum = 0;
  long lo = 0, hi = 0; /* the sum holds frames [lo, hi) */
  for (long t = 0; t < n; t++) {
    long want_hi = t + GROW_HALF + 1 < n ? t + GROW_HALF + 1 : n;
    long want_lo = t - GROW_HALF > 0 ? t - GROW_HALF : 0;
    for (; hi < want_hi; hi++) sum += lin[hi];
    for (; lo < want_lo; lo++) sum -= lin[lo];
    el[t] = (float)(10 * log10((sum > 0 ? sum : 0) / (double)(hi - lo) + EPS));
  }
}

/* Every kept segment less than GROW_DB over the floor grows both ways (into
** out, a copy of on), never into a blocked frame (block may be NULL); el
** and lin as features() keeps them. */
static void grow(const vad *v, const float *fl, const float *spread, const float *el,
                 const float *lin, const unsigned char *on, const unsigned char *block,
                 unsigned char *out) {
  long n = v->nframes;
  memcpy(out, on, (size_t)n);
  for (long t = 0; t < n; t++) {
    if (!on[t]) continue;
    long a = t, b = t;
    double energy = 0;
    while (b + 1 < n && on[b + 1]) b++;
    for (long k = a; k <= b; k++) energy += lin[k];
    t = b;
    double level = 10 * log10(energy / (double)(b - a + 1) + EPS);
    if (level - fl[a] >= GROW_DB) continue;
    double noise = pow(10, (fl[a] + GROW_NOISE * spread[a]) / 10);
    double mid = 10 * log10(GROW_SHARE * pow(10, level / 10) + (1 - GROW_SHARE) * noise);
    grow_side(el, block, n, a, -1, mid, out);
    grow_side(el, block, n, b, +1, mid, out);
  }
}

/* Appends the kept segments of `on` to *out (*k used of *cap). */
static clap_status collect(const vad *v, const unsigned char *on, vad_segment **out, long *k,
                           long *cap, clap_error *err) {
  long t = 0, a, b;
  vad_segment seg;
  while (next_run(v, on, &t, &a, &b)) {
    if (!segment_of(v, a, b, &seg)) continue;
    if (*k == *cap) {
      long c2 = *cap ? *cap * 2 : 64;
      vad_segment *p = realloc(*out, sizeof *p * (size_t)c2);
      if (!p) return clap_error_set(err, CLAP_ERR_NOMEM, "vad: out of memory");
      *out = p;
      *cap = c2;
    }
    (*out)[(*k)++] = seg;
  }
  return CLAP_OK;
}

/* A tail shorter than a voicing window still counts as one frame, once:
** the tail is consumed, so a second pass (step 6) sees the same frames. */
static clap_status flush_tail(vad *v, clap_error *err) {
  if (v->npend < FRAME && !(v->nframes == 0 && v->npend > 0)) return CLAP_OK;
  for (int i = v->npend; i < VWIN; i++) v->pend[i] = 0;
  v->npend = 0;
  return add_frame(v, err);
}

/* Step 7: turns v->tone from each frame's flag into the frames barred as
** tones: runs of flagged frames lasting at least min_tone, and TONE_EDGE
** frames each side of them (their windows reach into the tone, whose
** cut-off edges spread its spectrum). A barred frame has no voicing, so its
** neighbours' smoothed voicing (step 1) is their own and a run of speech
** cannot start beside a tone on the tone's strength. */
static void bar_tones(vad *v) {
  long n = v->nframes, min = (long)ceil(v->o.min_tone * 100 - 1e-9); /* >= 1 */
  unsigned char *tone = v->tone;
  for (long t = 0; t < n;) {
    long b = t;
    while (b < n && (tone[b] & 1)) b++;
    if (b - t >= min) {
      long a = t - TONE_EDGE > 0 ? t - TONE_EDGE : 0, z = b + TONE_EDGE < n ? b + TONE_EDGE : n;
      for (long k = a; k < z; k++) tone[k] |= 2;
    }
    t = b + 1;
  }
  for (long t = 0; t < n; t++) {
    tone[t] = (tone[t] & 2) != 0;
    if (tone[t]) v->v[t] = 0;
  }
}

/* What the decisions read, into v->feat, kept for step 6's second pass
** (which changes only the decisions), n floats each: steps 1-2's smoothed
** energy es, voicing vs, noise floor and spread; step 5's 210 ms energy el;
** each frame's linear energy lin (pow once per frame, for es, el and
** step 5's segment levels). First, step 7's barred frames into v->tone,
** before vs is smoothed from the voicing they zero. */
static clap_status features(vad *v, clap_error *err) {
  clap_status rc = flush_tail(v, err);
  long n = v->nframes;
  if (rc || n <= 0 || v->nfeat == n) return rc;
  free(v->feat);
  v->nfeat = 0;
  v->feat = malloc(sizeof(float) * (size_t)n * 6);
  if (!v->feat) return clap_error_set(err, CLAP_ERR_NOMEM, "vad: out of memory");
  float *es = v->feat, *vs = es + n, *fl = es + 2 * n, *spread = es + 3 * n;
  float *el = es + 4 * n, *lin = es + 5 * n;
  if (v->o.min_tone > 0) bar_tones(v);
  for (long t = 0; t < n; t++) lin[t] = (float)pow(10, v->e[t] / 10);
  smooth(lin, n, es);
  smooth_lin(v->v, n, vs);
  noise_floor(&v->o, es, n, fl, spread);
  grow_window(lin, n, el);
  v->nfeat = n;
  return CLAP_OK;
}

/* Steps 3-5 and 7 of vad.h on one channel's features: *on (n bytes, 1 =
** speech), malloc'd; NULL when n is 0. Frames with block[t] set (may be
** NULL), and tones, are never speech: no run starts, continues or grows
** into them. */
static clap_status detect(vad *v, const unsigned char *block, unsigned char **on_out,
                          clap_error *err) {
  *on_out = NULL;
  clap_status rc = features(v, err);
  long n = v->nframes;
  if (rc || n <= 0) return rc;
  float *th = malloc(sizeof(float) * (size_t)n * 2);
  unsigned char *on = malloc((size_t)n * 3);
  if (!th || !on) {
    free(th), free(on);
    return clap_error_set(err, CLAP_ERR_NOMEM, "vad: out of memory");
  }
  if (v->o.min_tone > 0) { /* step 7's frames, marked by features() */
    for (long t = 0; t < n; t++) on[2 * n + t] = v->tone[t] | (block ? block[t] : 0);
    block = on + 2 * n;
  }
  const float *es = v->feat, *vs = es + n, *fl = es + 2 * n, *spread = es + 3 * n;
  const float *el = es + 4 * n, *lin = es + 5 * n;
  thresholds(&v->o, fl, spread, n, th);
  if (block) /* the floor is measured on every frame; the decisions skip these */
    for (long t = 0; t < n; t++)
      if (block[t]) th[t] = th[n + t] = INFINITY;
  hysteresis(&v->o, es, vs, th, n, on);
  keep_segments(v, on);
  grow(v, fl, spread, el, lin, on, block, on + n);
  for (long t = 0; t < n; t++) on[t] = on[n + t] && !(block && block[t]);
  free(th);
  *on_out = on;
  return CLAP_OK;
}

clap_status vad_finish(vad *v, vad_segment **segs, long *nsegs, clap_error *err) {
  return vad_finish_all(&v, 1, segs, nsegs, err);
}

/* The lag, in frames (0..ECHO_LAG_MAX), at which channel o's smoothed
** energy best explains c's, when it explains it at all: the correlation of
** es_c[u + lag] with es_o[u] over the frames u where o held speech and was
** more than crosstalk_db louder than c (o talking, c at most its echo), if
** the best one reaches ECHO_MIN_R; else 0. An echo path's delay is fixed
** within a call, so one lag serves the recording. */
static long echo_lag(const float *ec, const float *eo, const unsigned char *on_o, long n, double x) {
  long best = 0;
  double best_r = ECHO_MIN_R;
  for (long lag = 0; lag <= ECHO_LAG_MAX && lag < n; lag++) {
    double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
    long k = 0;
    for (long u = 0; u + lag < n; u++) {
      if (!on_o[u] || eo[u] < ec[u] + x) continue;
      double a = eo[u], b = ec[u + lag];
      sx += a, sy += b, sxx += a * a, syy += b * b, sxy += a * b, k++;
    }
    if (k < 2) continue;
    double va = sxx - sx * sx / k, vb = syy - sy * sy / k;
    double r = va > 0 && vb > 0 ? (sxy - sx * sy / k) / sqrt(va * vb) : 0;
    if (r > best_r + (best_r > ECHO_MIN_R ? ECHO_R_STEP : 0)) best_r = r, best = lag;
  }
  return best;
}

/* Step 6 of vad.h: block[t] for channel c, when another channel o held
** speech at t - lag (on[o], its first pass; lag from echo_lag) and c's
** smoothed energy is more than crosstalk_db under o's there (the loudest
** of the frames within ECHO_SLACK of it). 1 when any frame is blocked. */
static int crosstalk_of(vad **v, int nv, int c, unsigned char **on, unsigned char *block) {
  long n = v[c]->nframes;
  const float *ec = v[c]->feat; /* es, features() */
  int any = 0;
  memset(block, 0, (size_t)n);
  for (int o = 0; o < nv; o++) {
    if (o == c || !on[o]) continue;
    const float *eo = v[o]->feat;
    long m = n < v[o]->nframes ? n : v[o]->nframes;
    long lag = echo_lag(ec, eo, on[o], m, v[c]->o.crosstalk_db);
    for (long t = lag; t < m; t++) {
      long u = t - lag;
      if (!on[o][u]) continue;
      float loud = eo[u];
      for (long w = u - ECHO_SLACK; w <= u + ECHO_SLACK; w++)
        if (w >= 0 && w < m && eo[w] > loud) loud = eo[w];
      if (ec[t] < loud - v[c]->o.crosstalk_db) block[t] = 1, any = 1;
    }
  }
  return any;
}

/* Each channel's second pass, with the frames another channel dominates
** blocked; replaces on[c]. */
static clap_status drop_crosstalk(vad **v, int nv, unsigned char **on, clap_error *err) {
  unsigned char **again = calloc((size_t)nv, sizeof *again);
  clap_status rc = again ? CLAP_OK : clap_error_set(err, CLAP_ERR_NOMEM, "vad: out of memory");
  for (int c = 0; !rc && c < nv; c++) {
    if (!on[c] || v[c]->o.crosstalk_db <= 0) continue;
    unsigned char *block = malloc((size_t)v[c]->nframes);
    if (!block) rc = clap_error_set(err, CLAP_ERR_NOMEM, "vad: out of memory");
    else if (crosstalk_of(v, nv, c, on, block)) rc = detect(v[c], block, &again[c], err);
    free(block);
  }
  for (int c = 0; again && c < nv; c++)
    if (again[c]) free(on[c]), on[c] = again[c];
  free(again);
  return rc;
}

static int by_start(const void *a, const void *b) {
  const vad_segment *x = a, *y = b;
  if (x->start != y->start) return x->start < y->start ? -1 : 1;
  return (x->channel > y->channel) - (x->channel < y->channel);
}

clap_status vad_finish_all(vad **v, int nv, vad_segment **segs, long *nsegs, clap_error *err) {
  if (!v || nv < 1 || !segs || !nsegs) return clap_error_set(err, CLAP_ERR_ARG, "vad_finish: bad arguments");
  *segs = NULL;
  *nsegs = 0;
  for (int c = 0; c < nv; c++)
    if (!v[c]) return clap_error_set(err, CLAP_ERR_ARG, "vad_finish: bad arguments");
  unsigned char **on = calloc((size_t)nv, sizeof *on);
  clap_status rc = on ? CLAP_OK : clap_error_set(err, CLAP_ERR_NOMEM, "vad: out of memory");
  for (int c = 0; !rc && c < nv; c++) rc = detect(v[c], NULL, &on[c], err);
  if (!rc && nv > 1) rc = drop_crosstalk(v, nv, on, err);
  vad_segment *all = NULL;
  long nall = 0, cap = 0;
  for (int c = 0; !rc && c < nv; c++)
    if (on[c]) rc = collect(v[c], on[c], &all, &nall, &cap, err);
  for (int c = 0; c < nv && on; c++) free(on[c]);
  free(on);
  if (rc) {
    free(all);
    return rc;
  }
  if (nall > 1) qsort(all, (size_t)nall, sizeof *all, by_start);
  *segs = all;
  *nsegs = nall;
  return CLAP_OK;
}

void vad_free(vad *v) {
  if (!v) return;
  free(v->e);
  free(v->v);
  free(v->tone);
  free(v->feat);
  kiss_fftr_free(v->fft);
  free(v);
}

/* ---- whole recordings ---------------------------------------------------- */

/* Keeps the segments of `channel` (all when VAD_ALL_CHANNELS), in order. */
static void keep_channel(vad_segment *s, long *n, int channel) {
  if (channel == VAD_ALL_CHANNELS) return;
  long k = 0;
  for (long i = 0; i < *n; i++)
    if (s[i].channel == channel) s[k++] = s[i];
  *n = k;
}

/* Runs the detectors over the stream, then finishes them together. Every
** channel is detected when crosstalk is judged (the requested one's echoes
** are cut against the others), else only the requested one. */
static clap_status segment_stream(audio_stream *s, const char *name, int channel,
                                  const vad_options *o, vad_segment **segs, long *nsegs,
                                  clap_error *err) {
  int ch = audio_stream_channels(s);
  if (channel != VAD_ALL_CHANNELS && (channel < 0 || channel >= ch))
    return clap_error_set(err, CLAP_ERR_RANGE,
                          "%s: channel %d requested, but it has %d channel%s (0..%d)", name,
                          channel, ch, ch == 1 ? "" : "s", ch - 1);
  vad_options d;
  if (!o) vad_options_default(&d), o = &d;
  int every = channel == VAD_ALL_CHANNELS || o->crosstalk_db > 0;
  int first = every ? 0 : channel, nv = every ? ch : 1;
  vad **det = calloc((size_t)nv, sizeof *det);
  float *buf = malloc(sizeof(float) * STREAM_CHUNK * (size_t)ch);
  clap_status rc = det && buf ? CLAP_OK : clap_error_set(err, CLAP_ERR_NOMEM, "%s: out of memory", name);
  for (int i = 0; !rc && i < nv; i++) rc = vad_create(o, first + i, &det[i], err);
  for (long got = 1; !rc && got > 0;) {
    rc = audio_stream_read(s, buf, STREAM_CHUNK, &got, err);
    for (int i = 0; !rc && i < nv; i++) rc = vad_feed(det[i], buf + first + i, got, ch, err);
  }
  if (!rc) rc = vad_finish_all(det, nv, segs, nsegs, err);
  if (!rc) keep_channel(*segs, nsegs, channel);
  if (!rc && *nsegs == 0) free(*segs), *segs = NULL;
  for (int i = 0; det && i < nv; i++) vad_free(det[i]);
  free(det);
  free(buf);
  return rc;
}

static clap_status segment_checked(audio_stream *s, const char *name, int channel,
                                   const vad_options *o, vad_segment **segs, long *nsegs,
                                   int *nchannels, clap_error *err) {
  if (nchannels) *nchannels = audio_stream_channels(s);
  clap_status rc = segment_stream(s, name, channel, o, segs, nsegs, err);
  audio_stream_free(s);
  return rc;
}

static clap_status check_args(const char *name, const vad_options *o, vad_segment **segs,
                              long *nsegs, clap_error *err) {
  if (!segs || !nsegs) return clap_error_set(err, CLAP_ERR_ARG, "%s: no output pointer", name);
  *segs = NULL;
  *nsegs = 0;
  return o ? vad_options_check(o, err) : CLAP_OK;
}

clap_status vad_segment_memory(const void *bytes, size_t nbytes, const char *name, int channel,
                               const vad_options *o, double max_seconds, vad_segment **segs,
                               long *nsegs, int *nchannels, clap_error *err) {
  if (!name) name = "audio";
  clap_status rc = check_args(name, o, segs, nsegs, err);
  audio_stream *s = NULL;
  if (!rc) rc = audio_stream_open_memory(bytes, nbytes, name, VAD_RATE, max_seconds, &s, err);
  return rc ? rc : segment_checked(s, name, channel, o, segs, nsegs, nchannels, err);
}

clap_status vad_segment_file(const char *path, int channel, const vad_options *o,
                             double max_seconds, vad_segment **segs, long *nsegs, int *nchannels,
                             clap_error *err) {
  if (!path) return clap_error_set(err, CLAP_ERR_ARG, "vad_segment_file: NULL path");
  clap_status rc = check_args(path, o, segs, nsegs, err);
  audio_stream *s = NULL;
  if (!rc) rc = audio_stream_open_file(path, VAD_RATE, max_seconds, &s, err);
  return rc ? rc : segment_checked(s, path, channel, o, segs, nsegs, nchannels, err);
}
