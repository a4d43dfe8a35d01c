/*
** Fuzz fit_baseline_predict on arbitrary model metadata: a baseline's fully
** connected layer and threshold live in the metadata JSON (pipeline/fit.h),
** and a blob can come from anywhere (`clap model import`). The input is the
** metadata text; a linear model with dim 4 and audio_in 3 carries it. The
** result is a probability in [0, 1] or an error with a message - never a
** crash or a read outside the JSON.
*/
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fit.h"
#include "model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static clap_model *m;
  clap_error e;
  if (!m) {
    model_config c;
    memset(&c, 0, sizeof c);
    strcpy(c.audio_encoder, "acoustic");
    strcpy(c.text_encoder, "none");
    c.audio_in = 3;
    c.text_in = 1;
    c.dim = 4;
    if (model_create(&c, 1, &m, &e) != CLAP_OK) __builtin_trap();
  }
  char *json = malloc(size + 1);
  if (!json) return 0;
  memcpy(json, data, size);
  json[size] = 0;
  if (model_set_metadata(m, json, &e) == CLAP_OK) {
    float x[6] = {0.5f, -1, 2, 0, 0.25f, -0.5f};
    double p[2] = {-1, -1}, thr = -1;
    clap_status rc = fit_baseline_predict(m, x, 2, p, &thr, &e);
    if (rc == CLAP_OK) {
      for (int i = 0; i < 2; i++)
        if (!(p[i] >= 0 && p[i] <= 1)) __builtin_trap();
    } else if (e.msg[0] == 0) {
      __builtin_trap();
    }
  }
  free(json);
  return 0;
}
