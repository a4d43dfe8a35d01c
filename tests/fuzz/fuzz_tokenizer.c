/* Fuzz the tokenizer. The first byte picks the mode:
**   even: the rest is text for the fixture tokenizer (bit 1 picks the
**         keep_accents variant): ids are [CLS] ... [SEP], every id in the
**         vocabulary, at most max_length of them; or a clear error;
**   odd:  the rest is a .model file loaded through spm_wrap (the C++
**         wrapper must turn every exception into an error), then used.
** Never a crash. Run from the repository root (or with CLAP_ROOT set). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spm_wrap.h"
#include "tokenizer.h"

static tokenizer *tok[2];

static tokenizer *load(int keep) {
  if (tok[keep]) return tok[keep];
  const char *root = getenv("CLAP_ROOT") ? getenv("CLAP_ROOT") : ".";
  char sp[1024], cfg[1024];
  snprintf(sp, sizeof sp, "%s/tests/fixtures/distilbert/spiece.model", root);
  snprintf(cfg, sizeof cfg, "%s/tests/fixtures/distilbert/tokenizer_config.json", root);
  clap_error err;
  if (tokenizer_create(sp, keep ? NULL : cfg, &tok[keep], &err) != CLAP_OK) {
    fprintf(stderr, "fuzz_tokenizer: %s\n", err.msg);
    abort();
  }
  return tok[keep];
}

static void fuzz_text(int keep, const char *text, size_t n) {
  tokenizer *t = load(keep);
  int ids[512], count = -1;
  clap_error err;
  clap_status rc = tokenizer_encode(t, text, (int)n, ids, 512, &count, &err);
  if (rc != CLAP_OK) {
    if (!err.msg[0] || count != 0) abort();
    return;
  }
  if (count < 2 || count > tokenizer_max_length(t)) abort();
  if (ids[0] != tokenizer_cls_id(t) || ids[count - 1] != tokenizer_sep_id(t)) abort();
  for (int i = 0; i < count; i++)
    if (ids[i] < 0 || ids[i] >= tokenizer_vocab_size(t)) abort();
}

static void fuzz_model(const uint8_t *data, size_t n) {
  spm_model *m = NULL;
  clap_error err;
  if (spm_load_bytes(data, n, "fuzz.model", &m, &err) != CLAP_OK) {
    if (!err.msg[0] || m) abort();
    return;
  }
  static const char *texts[] = {"", "a", "Hello, world 1,000", "日本語のテキスト", "　ｶﾞ①\t x"};
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
    spm_pieces p;
    if (spm_encode(m, texts[i], strlen(texts[i]), &p, &err) == CLAP_OK) {
      for (int k = 0; k < p.n; k++)
        if (p.off[k] > p.off[k + 1]) abort();
      spm_pieces_free(&p);
    }
  }
  (void)spm_piece_id(m, "[CLS]", 5);
  (void)spm_piece_to_id(m, "a", 1);
  (void)spm_vocab_size(m);
  spm_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > (1 << 20)) return 0;
  if (data[0] & 1)
    fuzz_model(data + 1, size - 1);
  else
    fuzz_text((data[0] >> 1) & 1, (const char *)data + 1, size - 1);
  return 0;
}
