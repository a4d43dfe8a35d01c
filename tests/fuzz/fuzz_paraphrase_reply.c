/* Fuzz what comes back from a server and from a user's file: the chat
** completion JSON (llm_parse_reply), error bodies (httpc_parse_error), the
** sentence splitter and filters on the reply's content and on raw bytes,
** and the descriptions file parser. Every sentence must be non-empty, on
** one line and no longer than its input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "httpc.h"
#include "llm.h"
#include "paraphrase.h"

static void sentences(const char *text, size_t n) {
  char **v = NULL;
  int count = 0;
  clap_error err;
  if (paraphrase_split(text, n, &v, &count, &err) != CLAP_OK) return;
  if (count < 0 || count > PARAPHRASE_MAX_SENTENCES) abort();
  for (int i = 0; i < count; i++) {
    size_t k = strlen(v[i]);
    if (k == 0 || k > n || strchr(v[i], '\n') || strchr(v[i], '\r')) abort();
    char why[200];
    paraphrase_verdict pv = paraphrase_check(v[i], "覚醒", why, sizeof why);
    if (pv != PARAPHRASE_OK && why[0] == 0) abort();
    free(paraphrase_dedup_key(v[i]));
  }
  paraphrase_list_free(v, count);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;
  llm_reply r;
  clap_error err;
  clap_error_clear(&err);
  if (llm_parse_reply(s, size, &r, &err) == CLAP_OK) {
    if (!r.content) abort();
    sentences(r.content, strlen(r.content));
    llm_reply_clear(&r);
  } else if (r.content || err.msg[0] == 0) {
    abort();
  }
  char msg[256];
  int quota = 0;
  httpc_parse_error(s, size, msg, sizeof msg, &quota);
  if (strlen(msg) >= sizeof msg) abort();
  sentences(s, size);
  paraphrase_entry *e = NULL;
  int n = 0;
  clap_status st = paraphrase_file_parse(s, size, "fuzz.json", &e, &n, &err);
  if (st != CLAP_OK && (e || n || err.msg[0] == 0)) abort();
  for (int i = 0; i < n; i++)
    if (!e[i].dimension || !e[i].text || (e[i].pole != 0 && e[i].pole != 1)) abort();
  paraphrase_entries_free(e, n);
  return 0;
}
