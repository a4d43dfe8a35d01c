/*
** audio — decode speech from any libsndfile format, in a file or in memory,
** to mono float PCM at a target rate, and encode PCM to FLAC in memory.
**
** What is accepted: anything libsndfile reads (WAV, FLAC, OGG/Vorbis, MP3 on
** libsndfile >= 1.1, AIFF, ...), 1..AUDIO_MAX_CHANNELS channels, rates in
** [AUDIO_MIN_RATE, AUDIO_MAX_RATE]. Channels are averaged to mono; the
** signal is resampled with libsoxr (high quality) when the rate differs.
** What is refused, with a message naming the source: bytes libsndfile does
** not recognise, zero samples, absurd rate or channel count, a file whose
** header promises more frames than it holds (truncated), a decoded duration
** over the caller's limit, a cut (start/end) outside the signal.
*/
#ifndef CLAP_AUDIO_H
#define CLAP_AUDIO_H

#include <stddef.h>

#include "clap_error.h"

#define AUDIO_TARGET_RATE 16000
#define AUDIO_MIN_RATE 1000
#define AUDIO_MAX_RATE 384000
#define AUDIO_MAX_CHANNELS 64

/* Decoded mono PCM. Owned by whoever received it; release with audio_pcm_free. */
typedef struct audio_pcm {
  float *samples;     /* n mono samples in [-1, 1] at `rate` */
  long n;
  int rate;           /* rate of `samples` (the target rate) */
  int source_rate;    /* rate of the input */
  int source_channels;
  int source_format;  /* libsndfile SF_FORMAT_* of the input */
} audio_pcm;

typedef struct audio_options {
  int target_rate;       /* 0 = AUDIO_TARGET_RATE */
  double start_seconds;  /* cut start, 0 = from the beginning */
  double end_seconds;    /* cut end, 0 = to the end */
  double max_seconds;    /* refuse longer input; 0 = 4 hours */
} audio_options;

/* opts may be NULL for the defaults. `name` labels the source in messages
** (a file name, "argument 1"). */
clap_status audio_decode_memory(const void *bytes, size_t nbytes, const char *name,
                                const audio_options *opts, audio_pcm **out, clap_error *err);
clap_status audio_decode_file(const char *path, const audio_options *opts, audio_pcm **out,
                              clap_error *err);
void audio_pcm_free(audio_pcm *pcm);

/* Resample n samples from rate_in to rate_out (libsoxr, HQ). *out is malloc'd. */
clap_status audio_resample(const float *in, long n, int rate_in, int rate_out, float **out,
                           long *nout, clap_error *err);

/* Encode mono PCM as 16-bit FLAC into a malloc'd buffer the caller frees. */
clap_status audio_encode_flac(const float *samples, long n, int rate, unsigned char **out,
                              size_t *nout, clap_error *err);

#endif
