/* Fuzz the ngram text encoder: any bytes are either encoded to a unit vector
** or rejected with a message; never a crash, never a NaN. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "encoder.h"
#include "ngram.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 1 << 16) return 0;
  encoder *e = encoder_builtin("ngram", NULL);
  if (!e) abort();
  float out[NGRAM_DIM];
  clap_error err;
  clap_status rc = encoder_encode_text(e, (const char *)data, (int)size, out, &err);
  if (rc == CLAP_OK) {
    double ss = 0;
    for (int i = 0; i < NGRAM_DIM; i++) {
      if (!isfinite(out[i])) abort();
      ss += (double)out[i] * out[i];
    }
    if (fabs(ss - 1.0) > 1e-4) abort();
  } else if (!err.msg[0]) {
    abort(); /* every failure explains itself */
  }
  return 0;
}
