/*
** Synthetic stereo calls from the bundled utterances, with their truth, for
** the segmentation test (test_vad.c) and bench (bench_vad.c). Header-only.
**
** A call alternates turns between channel 0 (the agent) and channel 1 (the
** customer): each turn is one bundled utterance (samples/audio/s1..s3, the
** 16 kHz FLAC ones), placed after a silence drawn uniformly from
** [0.2 s, 2 s] (1 s before the first). The truth of a turn is its speech:
** the utterance trimmed to its first and last 10 ms frame within 40 dB of
** its loudest frame. Noise is added to each channel at a given SNR (speech
** power over the channel's truth segments / noise power): white Gaussian
** noise, or babble — 8 talkers summed, each a continuous stream of trimmed
** utterances at equal RMS drawn from a pool disjoint from the turns' (s4, s5).
** Everything is drawn from one seeded clap_rng: the same seed gives the
** same call. sc_add_crosstalk then leaks each channel into the other;
** sc_build_tones makes a call whose line rings and whose keypad is pressed.
*/
#ifndef CLAP_SYNTH_CALL_H
#define CLAP_SYNTH_CALL_H

#include <glob.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "audio.h"
#include "clap_rng.h"

#define SC_RATE 16000

typedef struct sc_turn {
  double start, end; /* truth, seconds */
  int channel;
} sc_turn;

typedef struct sc_call {
  float *x; /* n frames, 2 channels interleaved */
  long n;
  sc_turn *turns;
  int nturns;
} sc_call;

typedef enum { SC_CLEAN, SC_WHITE, SC_BABBLE } sc_noise;

typedef struct sc_pool {
  audio_pcm **u;
  int n;
} sc_pool;

/* Every file matching pattern, decoded at 16 kHz mono (0 on failure). */
static int sc_pool_load(sc_pool *p, const char *pattern, int max) {
  glob_t g;
  memset(p, 0, sizeof *p);
  if (glob(pattern, 0, NULL, &g) != 0) return 0;
  p->u = calloc(g.gl_pathc, sizeof *p->u);
  for (size_t i = 0; p->u && i < g.gl_pathc && p->n < max; i++) {
    clap_error e;
    if (audio_decode_file(g.gl_pathv[i], NULL, &p->u[p->n], &e) == CLAP_OK) p->n++;
  }
  globfree(&g);
  return p->n;
}

static void sc_pool_free(sc_pool *p) {
  for (int i = 0; i < p->n; i++) audio_pcm_free(p->u[i]);
  free(p->u);
}

/* The utterance's speech: first and last 10 ms frame within 40 dB of its peak frame. */
static void sc_trim(const audio_pcm *u, long *a, long *b) {
  long nf = u->n / 160;
  double peak = 0;
  for (long f = 0; f < nf; f++) {
    double s = 0;
    for (int i = 0; i < 160; i++) s += (double)u->samples[f * 160 + i] * u->samples[f * 160 + i];
    if (s > peak) peak = s;
  }
  *a = 0;
  *b = u->n;
  int found = 0;
  for (long f = 0; f < nf; f++) {
    double s = 0;
    for (int i = 0; i < 160; i++) s += (double)u->samples[f * 160 + i] * u->samples[f * 160 + i];
    if (s >= peak * 1e-4) {
      if (!found) *a = f * 160;
      found = 1;
      *b = (f + 1) * 160;
    }
  }
}

static double sc_gauss(clap_rng *r) {
  double u1 = clap_rng_uniform(r), u2 = clap_rng_uniform(r);
  if (u1 < 1e-300) u1 = 1e-300;
  return sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
}

/* Noise for one channel, n samples, unit power. */
static void sc_make_noise(float *out, long n, sc_noise kind, const sc_pool *babble, clap_rng *r) {
  memset(out, 0, sizeof(float) * (size_t)n);
  if (kind == SC_WHITE || babble->n == 0) {
    for (long i = 0; i < n; i++) out[i] = (float)sc_gauss(r);
    return;
  }
  /* 8 talkers, each a continuous stream of trimmed utterances. */
  for (int k = 0; k < 8; k++) {
    long i = 0;
    while (i < n) {
      const audio_pcm *u = babble->u[clap_rng_below(r, (uint32_t)babble->n)];
      long a, b;
      sc_trim(u, &a, &b);
      double p = 0;
      for (long j = a; j < b; j++) p += (double)u->samples[j] * u->samples[j];
      double g = p > 0 ? 1 / sqrt(p / (double)(b - a)) : 0; /* talkers at equal level */
      for (long j = a; j < b && i < n; j++) out[i++] += (float)(g * u->samples[j]);
    }
  }
  double p = 0;
  for (long i = 0; i < n; i++) p += (double)out[i] * out[i];
  p = sqrt(p / n);
  for (long i = 0; i < n; i++) out[i] = (float)(out[i] / (p > 0 ? p : 1));
}

/* A call of `nturns` turns; level: peak speech amplitude scale (0.5 is fine). */
static int sc_build(sc_call *c, const sc_pool *turns, const sc_pool *babble, int nturns,
                    sc_noise noise, double snr_db, uint64_t seed) {
  memset(c, 0, sizeof *c);
  clap_rng r;
  clap_rng_seed(&r, seed);
  int *pick = malloc(sizeof(int) * (size_t)nturns);
  long *gap = malloc(sizeof(long) * (size_t)nturns), total = 0;
  c->turns = calloc((size_t)nturns, sizeof *c->turns);
  if (!pick || !gap || !c->turns || turns->n == 0) return 0;
  for (int t = 0; t < nturns; t++) {
    pick[t] = (int)clap_rng_below(&r, (uint32_t)turns->n);
    gap[t] = t == 0 ? SC_RATE : (long)((0.2 + 1.8 * clap_rng_uniform(&r)) * SC_RATE);
    long a, b;
    sc_trim(turns->u[pick[t]], &a, &b);
    total += gap[t] + (b - a);
  }
  total += SC_RATE;
  c->n = total;
  c->x = calloc((size_t)total * 2, sizeof(float));
  if (!c->x) return 0;
  long pos = 0;
  for (int t = 0; t < nturns; t++) {
    const audio_pcm *u = turns->u[pick[t]];
    long a, b;
    sc_trim(u, &a, &b);
    pos += gap[t];
    int ch = t % 2;
    for (long i = a; i < b; i++) c->x[(pos + i - a) * 2 + ch] = 0.5f * u->samples[i];
    c->turns[c->nturns++] = (sc_turn){(double)pos / SC_RATE, (double)(pos + b - a) / SC_RATE, ch};
    pos += b - a;
  }
  free(pick);
  free(gap);
  if (noise == SC_CLEAN) return 1;
  float *nz = malloc(sizeof(float) * (size_t)total);
  if (!nz) return 0;
  for (int ch = 0; ch < 2; ch++) {
    double ps = 0;
    long ns = 0;
    for (int t = 0; t < c->nturns; t++) {
      if (c->turns[t].channel != ch) continue;
      for (long i = (long)(c->turns[t].start * SC_RATE); i < (long)(c->turns[t].end * SC_RATE); i++)
        ps += (double)c->x[i * 2 + ch] * c->x[i * 2 + ch], ns++;
    }
    double gain = sqrt(ps / (ns ? ns : 1) / pow(10, snr_db / 10));
    sc_make_noise(nz, total, noise, babble, &r);
    for (long i = 0; i < total; i++) c->x[i * 2 + ch] += (float)(gain * nz[i]);
  }
  free(nz);
  for (long i = 0; i < total * 2; i++) c->x[i] = c->x[i] > 1 ? 1 : c->x[i] < -1 ? -1 : c->x[i];
  return 1;
}

/* A call whose channel 0 carries a telephone line's tones and keypad
** digits (DTMF) around two utterances at the utterances' level, both
** channels over white noise noise_db under that level (channel 1 holds only
** the noise): ringback 440+480 Hz 1 s on 1 s off twice, DTMF 1, 5, 9 and D
** 100 ms each 100 ms apart, an utterance, busy 480+620 Hz 0.5 s on 0.5 s
** off three times, 425 Hz and 1 kHz for 1 s each, an utterance; 1 s of
** noise between the parts. The turns are the two utterances (turns->u[3]
** and [17]); tones[] gets each tone's [start, end) in seconds, *ntones of
** them (11; tones has room for SC_TONES). 0 when out of memory. */
#define SC_TONES 16
static int sc_build_tones(sc_call *c, const sc_pool *turns, double noise_db, double (*tones)[2],
                          int *ntones) {
  static const struct {
    double f1, f2, on, off;
    int repeat;
  } parts[] = {{440, 480, 1.0, 1.0, 2}, {697, 1209, 0.1, 0.1, 1}, {770, 1336, 0.1, 0.1, 1},
               {852, 1477, 0.1, 0.1, 1}, {941, 1633, 0.1, 1.0, 1}, {-1, 0, 0, 1.0, 1},
               {480, 620, 0.5, 0.5, 3},  {425, 0, 1.0, 1.0, 1},    {1000, 0, 1.0, 1.0, 1},
               {-1, 0, 0, 1.0, 1}};
  memset(c, 0, sizeof *c);
  if (turns->n < 18) return 0;
  const audio_pcm *u[2] = {turns->u[3], turns->u[17]};
  long a[2], b[2], total = 2 * SC_RATE;
  double level = 0;
  for (int k = 0; k < 2; k++) {
    sc_trim(u[k], &a[k], &b[k]);
    for (long i = a[k]; i < b[k]; i++) level += 0.25 * u[k]->samples[i] * u[k]->samples[i];
    total += b[k] - a[k];
  }
  level = sqrt(level / (double)(b[0] - a[0] + b[1] - a[1]));
  for (size_t p = 0; p < sizeof parts / sizeof *parts; p++)
    total += (long)(parts[p].repeat * (parts[p].on + parts[p].off) * SC_RATE);
  c->x = calloc(2 * (size_t)total, sizeof *c->x);
  c->turns = calloc(2, sizeof *c->turns);
  if (!c->x || !c->turns) return 0;
  c->n = total;
  clap_rng r;
  clap_rng_seed(&r, 5);
  double noise = level * pow(10, -noise_db / 20);
  for (long i = 0; i < 2 * total; i++) c->x[i] = (float)(noise * sc_gauss(&r));
  long pos = SC_RATE;
  *ntones = 0;
  for (size_t p = 0; p < sizeof parts / sizeof *parts; p++)
    for (int k = 0; k < parts[p].repeat; k++) {
      if (parts[p].f1 < 0) { /* an utterance, as sc_build places one */
        int t = c->nturns;
        for (long i = a[t]; i < b[t]; i++) c->x[2 * (pos + i - a[t])] += 0.5f * u[t]->samples[i];
        double start = (double)pos / SC_RATE, end = (double)(pos + b[t] - a[t]) / SC_RATE;
        c->turns[c->nturns++] = (sc_turn){start, end, 0};
        pos += b[t] - a[t];
      } else { /* a tone pair at the speech's level (one tone alone at the same) */
        long len = (long)(parts[p].on * SC_RATE);
        double g = level * (parts[p].f2 > 0 ? 1 : sqrt(2));
        for (long i = 0; i < len; i++) {
          double t = (double)i / SC_RATE, y = sin(2 * M_PI * parts[p].f1 * t);
          if (parts[p].f2 > 0) y += sin(2 * M_PI * parts[p].f2 * t + 1);
          c->x[2 * (pos + i)] += (float)(g * y);
        }
        if (*ntones < SC_TONES) {
          tones[*ntones][0] = (double)pos / SC_RATE;
          tones[*ntones][1] = (double)(pos + len) / SC_RATE;
          (*ntones)++;
        }
        pos += len;
      }
      pos += (long)(parts[p].off * SC_RATE);
    }
  return 1;
}

/* Leaks each channel into the other at db (< 0) under its own level and
** delay_s seconds late, as a stereo call's line echo or headset pickup
** does; the truth is unchanged. 0 when out of memory. */
static int sc_add_crosstalk(sc_call *c, double db, double delay_s) {
  float g = (float)pow(10, db / 20);
  long d = (long)(delay_s * SC_RATE);
  float *y = malloc(sizeof(float) * 2 * (size_t)c->n);
  if (!y) return 0;
  memcpy(y, c->x, sizeof(float) * 2 * (size_t)c->n);
  for (long i = d; i < c->n; i++) {
    c->x[2 * i] += g * y[2 * (i - d) + 1];
    c->x[2 * i + 1] += g * y[2 * (i - d)];
  }
  free(y);
  return 1;
}

static void sc_free(sc_call *c) {
  free(c->x);
  free(c->turns);
  memset(c, 0, sizeof *c);
}

/* Boundary F1: starts match starts and ends match ends, on the same channel,
** one to one, within tol seconds (greedy, nearest first). Also counts found
** segments on the wrong channel (overlapping another channel's speech but
** none of their own) and false alarms (overlapping no speech). */
typedef struct sc_score {
  int truth, found, matched;
  int wrong_channel; /* overlaps speech of another channel only */
  int false_alarm;   /* overlaps no speech at all */
  double precision, recall, f1;
} sc_score;

static int sc_match(const double *t, int nt, const double *f, int nf, double tol) {
  char *used = calloc((size_t)nt + 1, 1);
  int m = 0;
  for (int i = 0; i < nf; i++) {
    int best = -1;
    double bd = tol;
    for (int j = 0; j < nt; j++)
      if (!used[j] && fabs(t[j] - f[i]) <= bd) bd = fabs(t[j] - f[i]), best = j;
    if (best >= 0) used[best] = 1, m++;
  }
  free(used);
  return m;
}

static sc_score sc_evaluate(const sc_call *c, const double *start, const double *end,
                            const int *channel, int nfound, double tol) {
  sc_score s = {0};
  double *ts = malloc(sizeof(double) * (size_t)(c->nturns + 1));
  double *te = malloc(sizeof(double) * (size_t)(c->nturns + 1));
  double *fs = malloc(sizeof(double) * (size_t)(nfound + 1));
  double *fe = malloc(sizeof(double) * (size_t)(nfound + 1));
  for (int ch = 0; ch < 2; ch++) {
    int nt = 0, nf = 0;
    for (int t = 0; t < c->nturns; t++)
      if (c->turns[t].channel == ch) ts[nt] = c->turns[t].start, te[nt++] = c->turns[t].end;
    for (int i = 0; i < nfound; i++)
      if (channel[i] == ch) fs[nf] = start[i], fe[nf++] = end[i];
    s.truth += 2 * nt;
    s.found += 2 * nf;
    s.matched += sc_match(ts, nt, fs, nf, tol) + sc_match(te, nt, fe, nf, tol);
  }
  for (int i = 0; i < nfound; i++) {
    int own = 0, other = 0;
    for (int t = 0; t < c->nturns; t++) {
      int overlap = start[i] < c->turns[t].end && end[i] > c->turns[t].start;
      if (c->turns[t].channel == channel[i]) own |= overlap;
      else other |= overlap;
    }
    s.wrong_channel += !own && other;
    s.false_alarm += !own && !other;
  }
  s.precision = s.found ? (double)s.matched / s.found : 0;
  s.recall = s.truth ? (double)s.matched / s.truth : 0;
  s.f1 = s.precision + s.recall > 0 ? 2 * s.precision * s.recall / (s.precision + s.recall) : 0;
  free(ts);
  free(te);
  free(fs);
  free(fe);
  return s;
}

#endif
