/*
** Fuzz model_load. The first byte picks the mode; the rest is the blob.
**   even: the blob as given - exercises size, magic, version and CRC checks.
**   odd:  the CRC is recomputed first, so mutations reach the header JSON,
**         config, tensor table and float checks instead of all failing at the
**         checksum.
** A blob that loads must save back bitwise identical, and embed one row on
** each side to either a unit vector or a clean CLAP_ERR_RANGE.
*/
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

static void check_embed(const clap_model *m, model_side side) {
  const model_config *c = model_get_config(m);
  int in = side == MODEL_TEXT ? c->text_in : c->audio_in;
  float *x = malloc(sizeof(float) * (size_t)in), *y = malloc(sizeof(float) * (size_t)c->dim);
  if (!x || !y) __builtin_trap();
  for (int i = 0; i < in; i++) x[i] = (float)((i % 7) - 3) * 0.5f;
  clap_error e;
  clap_status rc = model_embed(m, side, x, 1, y, &e);
  if (rc == CLAP_OK) {
    double ss = 0;
    for (int j = 0; j < c->dim; j++) ss += (double)y[j] * y[j];
    if (!(fabs(ss - 1.0) < 1e-3)) __builtin_trap();
  } else if (rc != CLAP_ERR_RANGE || e.msg[0] == 0) {
    __builtin_trap();
  }
  free(x);
  free(y);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  int fix_crc = data[0] & 1;
  size_t n = size - 1;
  /* An exact-size copy: any read past the blob is an ASan report. */
  unsigned char *b = malloc(n ? n : 1);
  if (!b) return 0;
  memcpy(b, data + 1, n);
  if (fix_crc && n >= 4) {
    uint32_t crc = model_crc32(b, n - 4);
    for (int i = 0; i < 4; i++) b[n - 4 + i] = (unsigned char)(crc >> (8 * i));
  }
  clap_model *m = NULL;
  clap_error e;
  e.msg[0] = 0;
  if (model_load(b, n, &m, &e) != CLAP_OK) {
    if (m || e.msg[0] == 0) __builtin_trap(); /* errors always explain themselves */
    free(b);
    return 0;
  }
  unsigned char *out = NULL;
  size_t on = 0;
  if (model_save(m, &out, &on, &e) != CLAP_OK) __builtin_trap();
  if (on != n || memcmp(out, b, n) != 0) __builtin_trap();
  check_embed(m, MODEL_AUDIO);
  check_embed(m, MODEL_TEXT);
  char *d = model_describe_json(m);
  if (!d) __builtin_trap();
  free(d);
  free(out);
  model_free(m);
  free(b);
  return 0;
}
