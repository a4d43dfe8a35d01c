/*
** libFuzzer target for the segmenter behind clap_segments: an input is
**   one byte: the channel (0xff = every channel, else byte % 4),
**   options JSON up to the first NUL byte (vad_options_from_json; nothing
**   before the NUL = the defaults),
**   then the audio bytes (vad_segment_memory, streamed).
** Without a NUL the rest is all audio with the default options. Any input
** must be refused with a message naming its source ("fuzz: ...",
** "options: ...") or give segments that are sorted, within the signal,
** start < end, on an existing channel, with a finite level. A violated
** invariant aborts so the fuzzer keeps the input.
*/
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vad.h"

#define NAME "fuzz"

static void check_segments(const vad_segment *s, long n, int channel, int nch) {
  for (long i = 0; i < n; i++) {
    if (!(s[i].start >= 0) || !(s[i].end > s[i].start) || !isfinite(s[i].level_db)) abort();
    if (s[i].channel < 0 || s[i].channel >= nch) abort();
    if (channel != VAD_ALL_CHANNELS && s[i].channel != channel) abort();
    if (i && s[i].start < s[i - 1].start) abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  int channel = data[0] == 0xff ? VAD_ALL_CHANNELS : data[0] % 4;
  const uint8_t *rest = data + 1, *nul = memchr(rest, 0, size - 1);
  size_t nrest = size - 1;
  vad_options o;
  vad_options_default(&o);
  clap_error e = {0};
  if (nul && nul > rest) {
    if (vad_options_from_json((const char *)rest, (size_t)(nul - rest), &o, &e) != CLAP_OK) {
      if (strncmp(e.msg, "options: ", 9) != 0) abort();
      return 0;
    }
  }
  if (nul) {
    nrest -= (size_t)(nul - rest) + 1;
    rest = nul + 1;
  }
  vad_segment *s = NULL;
  long n = -1;
  int nch = 0;
  clap_status rc = vad_segment_memory(rest, nrest, NAME, channel, &o, 20, &s, &n, &nch, &e);
  if (rc != CLAP_OK) {
    if (s || e.code != rc || strncmp(e.msg, NAME ": ", strlen(NAME) + 2) != 0) abort();
    return 0;
  }
  if (n < 0 || (n > 0 && !s) || nch < 1) abort();
  check_segments(s, n, channel, nch);
  free(s);
  return 0;
}
