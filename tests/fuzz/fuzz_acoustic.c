/* Fuzz the acoustic encoder: the bytes are read as float samples (so NaN,
** Inf, denormals and huge values all occur). Output must be finite whenever
** encoding succeeds; failures must carry a message. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acoustic.h"
#include "encoder.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  long n = (long)(size / sizeof(float));
  if (n > 48000) return 0;
  float *pcm = malloc((size_t)(n > 0 ? n : 1) * sizeof *pcm);
  if (!pcm) return 0;
  memcpy(pcm, data, (size_t)n * sizeof *pcm);
  encoder *e = encoder_builtin("acoustic", NULL);
  if (!e) abort();
  float out[ACOUSTIC_DIM];
  clap_error err;
  clap_status rc = encoder_encode_audio(e, pcm, n, out, &err);
  if (rc == CLAP_OK) {
    for (int i = 0; i < ACOUSTIC_DIM; i++)
      if (!isfinite(out[i])) abort();
  } else if (!err.msg[0]) {
    abort();
  }
  free(pcm);
  return 0;
}
