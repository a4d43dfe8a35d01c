/*
** acoustic — the built-in audio encoder: utterance-level prosodic and spectral
** statistics in the spirit of eGeMAPS, on 16 kHz mono PCM. The layout of the
** ACOUSTIC_DIM outputs is fixed and documented in acoustic.c; the values are
** raw (not standardised: the model standardises per feature).
**
** Input: 16 kHz mono floats, nominally in [-1, 1]; any n >= 1 (shorter than
** one 25 ms frame is zero-padded). n <= 0 or a NaN/Inf sample -> CLAP_ERR_ARG
** naming it. Silence gives defined values (0 for what cannot be measured,
** -100 dBFS loudness); the output never contains NaN or Inf.
*/
#ifndef CLAP_ACOUSTIC_H
#define CLAP_ACOUSTIC_H

#include "encoder.h"

/* Number of outputs; the layout table is at the top of acoustic.c. */
#define ACOUSTIC_DIM 50

extern const encoder_ops acoustic_encoder_ops;

/* Exposed for tests: the F0 track (Hz, 0 = unvoiced) of pcm, one value per
** 10 ms hop; *track is malloc'd, the caller frees. rate must be 16000
** (else CLAP_ERR_RANGE); n <= 0 or a non-finite sample -> CLAP_ERR_ARG. */
clap_status acoustic_f0_track(const float *pcm, long n, int rate, float **track, int *nframes,
                              clap_error *err);

#endif
