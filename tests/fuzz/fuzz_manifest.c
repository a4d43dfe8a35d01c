/* Fuzz the manifest parser: any bytes either parse into a consistent manifest or fail with a message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  manifest *m = NULL;
  clap_error err;
  clap_error_clear(&err);
  clap_status rc = manifest_parse((const char *)data, size, "fuzz.json", "base", &m, &err);
  if (rc != CLAP_OK) {
    if (m || err.msg[0] == 0) abort();  /* a failure must explain itself and return nothing */
    return 0;
  }
  if (!m) abort();
  /* Touch every view so the sanitizers see any dangling pointer. */
  size_t sum = strlen(manifest_session(m)) + strlen(manifest_sha256(m));
  for (int i = 0; i < manifest_n_speakers(m); i++) sum += strlen(manifest_speaker_at(m, i)->id);
  for (int i = 0; i < manifest_n_utterances(m); i++) {
    const manifest_utterance *u = manifest_utterance_at(m, i);
    if (u->source < 0 || u->source >= manifest_n_sources(m)) abort();
    if (strcmp(manifest_source_path(m, u->source), u->path) != 0) abort();
    if (u->has_start && !(u->start >= 0)) abort();
    if (u->has_end && !(u->end > u->start && u->end > 0)) abort();
    sum += strlen(u->id) + strlen(u->audio) + strlen(u->role);
  }
  manifest_free(m);
  return sum == 0;
}
