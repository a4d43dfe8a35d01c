/* Fuzz what an embeddings server sends back and what clap_encoders.config
** holds for encoder kind openai: the reply parser (openai_embed_parse, with
** the expected count and dimension taken from the first two bytes, 0 = the
** dimension learnt), the error-body parser (httpc_parse_error) and the
** configuration parser (creating an "openai" encoder contacts no server).
** A parse either gives count x dim finite floats or an error with a
** message and no output. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "encoder.h"
#include "httpc.h"
#include "openai_embed.h"

static void reply(const uint8_t *data, size_t size) {
  if (size < 2) return;
  int count = 1 + data[0] % 8, want = data[1] % 5;
  int dim = want;
  float *v = NULL;
  clap_error err;
  clap_error_clear(&err);
  clap_status rc = openai_embed_parse((const char *)data + 2, size - 2, count, &dim, &v, &err);
  if (rc == CLAP_OK) {
    if (!v || dim < 1 || (want && dim != want)) abort();
    for (long i = 0; i < (long)count * dim; i++)
      if (!isfinite(v[i])) abort();
  } else if (v || dim != want || !err.msg[0]) {
    abort();
  }
  free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  reply(data, size);
  char msg[256];
  int quota = 0;
  httpc_parse_error((const char *)data, size, msg, sizeof msg, &quota);
  if (strlen(msg) >= sizeof msg) abort();
  char *cfg = malloc(size + 1);
  if (!cfg) return 0;
  memcpy(cfg, data, size);
  cfg[size] = 0;
  encoder *e = NULL;
  clap_error err;
  clap_error_clear(&err);
  clap_status rc = encoder_create_config("fz", "openai", NULL, cfg, &e, &err);
  if (rc == CLAP_OK && (!e || encoder_dim(e) < 1)) abort();
  if (rc != CLAP_OK && (e || !err.msg[0])) abort();
  encoder_free(e);
  free(cfg);
  return 0;
}
