/*
** Fuzz the prompt parsers (ext/model/prompt.h): what clap_zero_shot takes
** for a class and clap_classify for its array. Byte 0 picks the parser
** (bit 0: prompt_parse_classes, else prompt_parse_class); the rest is the
** input, not NUL-terminated.
**
** Oracles (any violation aborts, which libFuzzer reports):
**   - failure: *out is NULL and the message is not empty;
**   - success: at least one class, each with at least one non-empty sentence
**     no longer than the input; parsing the same bytes again gives the same
**     classes and sentences.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prompt.h"

static void fail(const char *why) {
  fprintf(stderr, "fuzz_prompts: oracle violated: %s\n", why);
  abort();
}

static int same(const prompt_set *a, const prompt_set *b) {
  if (prompt_set_count(a) != prompt_set_count(b)) return 0;
  for (int k = 0; k < prompt_set_count(a); k++) {
    if (prompt_set_size(a, k) != prompt_set_size(b, k)) return 0;
    for (int i = 0; i < prompt_set_size(a, k); i++)
      if (strcmp(prompt_set_texts(a, k)[i], prompt_set_texts(b, k)[i])) return 0;
  }
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  int classes = data[0] & 1;
  const char *text = (const char *)data + 1;
  size_t n = size - 1;
  prompt_set *p = NULL, *q = NULL;
  clap_error err = {0};
  clap_status rc = classes ? prompt_parse_classes(text, n, &p, &err)
                           : prompt_parse_class(text, n, &p, &err);
  if (rc != CLAP_OK) {
    if (p) fail("failure with a set");
    if (!err.msg[0]) fail("failure without a message");
    return 0;
  }
  if (!p || prompt_set_count(p) < 1) fail("success without a class");
  for (int k = 0; k < prompt_set_count(p); k++) {
    if (prompt_set_size(p, k) < 1) fail("a class without a sentence");
    for (int i = 0; i < prompt_set_size(p, k); i++) {
      size_t len = strlen(prompt_set_texts(p, k)[i]);
      if (len == 0) fail("an empty sentence");
      if (len > n) fail("a sentence longer than the input");
    }
  }
  rc = classes ? prompt_parse_classes(text, n, &q, &err) : prompt_parse_class(text, n, &q, &err);
  if (rc != CLAP_OK || !same(p, q)) fail("a second parse differs");
  prompt_set_free(p);
  prompt_set_free(q);
  return 0;
}
