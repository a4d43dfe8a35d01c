/*
** What bench_vad measures the call segmenter (ext/audio/vad.h) against, on
** the synthetic calls of tests/unit/synth_call.h. Header-only, bench only.
**
** 1. WebRTC's VAD, the detector issue 14 named first: Debian 12's
**    libwebrtc-audio-processing1 (0.3) exports its C entry points
**    (WebRtcVad_Create, _Init, _set_mode, _Process, _Free) although the -dev
**    package installs no webrtc_vad.h, so they are declared here as the
**    library defines them and reached with dlopen: the bench builds, and
**    reports the peer absent, where the library is not installed. It gives a
**    yes/no per 10 ms frame (16-bit samples at 16 kHz) in one of four modes
**    (0 least, 3 most aggressive in calling frames non-speech).
** 2. An oracle that knows the clean speech and the noise apart: a 10 ms frame
**    is speech when, over the 110 ms around it (the detector's own
**    smoothing), the speech's power is at least theta dB over the noise's.
**    Its F1 says how far under the noise a detector must find speech to reach
**    a given figure; no detector sees the two apart.
** Both turn their per-frame decisions into segments with the detector's own
** default rules: runs closer than min_silence (0.5 s) joined, segments
** shorter than min_speech (0.25 s) dropped.
*/
#ifndef CLAP_VAD_PEERS_H
#define CLAP_VAD_PEERS_H

#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "../unit/synth_call.h"

#define VP_HOP 160 /* 10 ms at 16 kHz */

/* Frames on[0..nf) (10 ms each) to segments in seconds; at most cap of them.
** join: the longest gap, in frames, that two runs are joined over;
** min_len: the fewest frames a segment keeps. Returns the count. */
static int vp_runs_to_segments(const unsigned char *on, long nf, int join, int min_len, double *st,
                               double *en, int cap) {
  int k = 0;
  long a = -1, b = -1;
  for (long f = 0; f <= nf; f++) {
    if (f < nf && !on[f]) continue;
    if (f < nf && a >= 0 && f - b <= join) {
      b = f;
      continue;
    }
    if (a >= 0 && b - a + 1 >= min_len && k < cap) st[k] = a * 0.01, en[k++] = (b + 1) * 0.01;
    a = b = f;
  }
  return k;
}

typedef struct vp_webrtc {
  void *lib;
  void *(*create)(void);
  int (*init)(void *);
  int (*set_mode)(void *, int);
  int (*process)(void *, int, const int16_t *, size_t);
  void (*free_)(void *);
} vp_webrtc;

/* 1 when the library and its five entry points were found. */
static int vp_webrtc_load(vp_webrtc *w) {
  memset(w, 0, sizeof *w);
  w->lib = dlopen("libwebrtc_audio_processing.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!w->lib) return 0;
  *(void **)&w->create = dlsym(w->lib, "WebRtcVad_Create");
  *(void **)&w->init = dlsym(w->lib, "WebRtcVad_Init");
  *(void **)&w->set_mode = dlsym(w->lib, "WebRtcVad_set_mode");
  *(void **)&w->process = dlsym(w->lib, "WebRtcVad_Process");
  *(void **)&w->free_ = dlsym(w->lib, "WebRtcVad_Free");
  return w->create && w->init && w->set_mode && w->process && w->free_;
}

static void vp_webrtc_unload(vp_webrtc *w) {
  if (w->lib) dlclose(w->lib);
  memset(w, 0, sizeof *w);
}

/* WebRTC's decisions on channel ch of the call, as segments. -1 on error. */
static int vp_webrtc_segments(const vp_webrtc *w, int mode, int join, const sc_call *c, int ch,
                              double *st, double *en, int cap) {
  long nf = c->n / VP_HOP;
  unsigned char *on = calloc((size_t)nf + 1, 1);
  void *v = w->create();
  if (!on || !v || w->init(v) || w->set_mode(v, mode)) {
    free(on);
    if (v) w->free_(v);
    return -1;
  }
  int16_t frame[VP_HOP];
  for (long f = 0; f < nf; f++) {
    for (int i = 0; i < VP_HOP; i++) frame[i] = (int16_t)lrint(32767.0 * c->x[(f * VP_HOP + i) * 2 + ch]);
    on[f] = w->process(v, SC_RATE, frame, VP_HOP) == 1;
  }
  w->free_(v);
  int k = vp_runs_to_segments(on, nf, join, 25, st, en, cap);
  free(on);
  return k;
}

/* The oracle's segments on channel ch: `clean` is the call without noise,
** `noisy` the same seed with it (their difference is the noise). */
static int vp_oracle_segments(const sc_call *clean, const sc_call *noisy, int ch, double theta_db,
                              double *st, double *en, int cap) {
  long nf = clean->n / VP_HOP;
  double *s = calloc((size_t)nf + 1, sizeof *s), *z = calloc((size_t)nf + 1, sizeof *z);
  unsigned char *on = calloc((size_t)nf + 1, 1);
  if (!s || !z || !on) {
    free(s), free(z), free(on);
    return -1;
  }
  for (long f = 0; f < nf; f++)
    for (int i = 0; i < VP_HOP; i++) {
      long j = (f * VP_HOP + i) * 2 + ch;
      double x = clean->x[j], y = noisy->x[j] - x;
      s[f] += x * x, z[f] += y * y;
    }
  double ratio = pow(10, theta_db / 10);
  for (long f = 0; f < nf; f++) {
    double ps = 0, pz = 0;
    for (long g = f - 5; g <= f + 5; g++)
      if (g >= 0 && g < nf) ps += s[g], pz += z[g];
    on[f] = ps > 0 && ps >= ratio * pz;
  }
  int k = vp_runs_to_segments(on, nf, 50, 25, st, en, cap);
  free(s), free(z), free(on);
  return k;
}

/* A turn's own SNR in the noisy call, dB (speech power over its truth span
** against the noise's over the same span). */
static double vp_turn_snr(const sc_call *clean, const sc_call *noisy, int t) {
  const sc_turn *u = &clean->turns[t];
  double ps = 0, pz = 0;
  for (long i = (long)(u->start * SC_RATE); i < (long)(u->end * SC_RATE); i++) {
    double x = clean->x[i * 2 + u->channel], y = noisy->x[i * 2 + u->channel] - x;
    ps += x * x, pz += y * y;
  }
  return 10 * log10((ps + 1e-30) / (pz + 1e-30));
}

#endif
