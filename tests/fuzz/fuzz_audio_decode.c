/*
** libFuzzer target for audio_decode_memory: any bytes must decode or be
** refused with a message naming the source. On success the output must be
** non-empty, finite, in [-1, 1] and at 16 kHz; short outputs also go through
** audio_encode_flac and back, which must reproduce them within 16-bit
** quantisation. A violated invariant aborts so the fuzzer keeps the input.
*/
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audio.h"

#define NAME "fuzz"

static void round_trip(const audio_pcm *p) {
  unsigned char *flac = NULL;
  size_t nflac = 0;
  clap_error e = {0};
  if (audio_encode_flac(p->samples, p->n, p->rate, &flac, &nflac, &e) != CLAP_OK) abort();
  audio_pcm *q = NULL;
  if (audio_decode_memory(flac, nflac, "flac", NULL, &q, &e) != CLAP_OK) abort();
  if (q->n != p->n || q->rate != p->rate) abort();
  for (long i = 0; i < p->n; i++)
    if (fabsf(q->samples[i] - p->samples[i]) > 2.0f / 32768.0f) abort();
  audio_pcm_free(q);
  free(flac);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* A short limit keeps one input's memory and time bounded; the limit
  ** logic itself is part of what is exercised. */
  audio_options o = {.max_seconds = 20};
  audio_pcm *p = NULL;
  clap_error e = {0};
  clap_status rc = audio_decode_memory(data, size, NAME, &o, &p, &e);
  if (rc != CLAP_OK) {
    if (p || e.code != rc || strncmp(e.msg, NAME ": ", strlen(NAME) + 2) != 0) abort();
    return 0;
  }
  if (!p || p->n <= 0 || p->rate != AUDIO_TARGET_RATE || !p->samples) abort();
  if (p->source_channels < 1 || p->source_channels > AUDIO_MAX_CHANNELS) abort();
  if (p->source_rate < AUDIO_MIN_RATE || p->source_rate > AUDIO_MAX_RATE) abort();
  for (long i = 0; i < p->n; i++)
    if (!isfinite(p->samples[i]) || p->samples[i] < -1.0f || p->samples[i] > 1.0f) abort();
  if (p->n <= 32000) round_trip(p);
  audio_pcm_free(p);
  return 0;
}
