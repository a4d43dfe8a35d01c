/*
** Fuzz target for pipeline/annotations: the first byte picks the format
** (auto by name, CSV, TSV, JSON) and whether a column mapping is used; the
** rest is the file. Every record must satisfy the contract (score 1..7,
** non-empty ids, positive line) and every error must carry the file name.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "annotations.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  static const char *names[4] = {"f.data", "f.csv", "f.tsv", "f.json"};
  int fmt = data[0] & 3;
  ann_columns map = {.utterance = "utt", .score = "value"};
  const ann_columns *cols = (data[0] & 4) ? &map : NULL;
  ann_file *f = NULL;
  clap_error err = {0};
  if (ann_parse(names[fmt], (const char *)data + 1, size - 1, (ann_format)(fmt ? fmt : ANN_AUTO),
                cols, &f, &err) != CLAP_OK)
    return 0;
  for (size_t i = 0; i < ann_count(f); i++) {
    const ann_record *r = ann_record_at(f, i);
    if (r->score < 1 || r->score > 7 || !*r->utterance || !*r->annotator || !*r->dimension ||
        r->line < 1)
      abort();
  }
  for (size_t i = 0; i < ann_error_kept(f); i++)
    if (strncmp(ann_error_at(f, i, NULL), names[fmt], strlen(names[fmt]))) abort();
  ann_free(f);
  return 0;
}
