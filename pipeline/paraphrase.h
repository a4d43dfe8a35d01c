/*
** paraphrase — the pure parts of `clap paraphrase` (paper §II-C, Table I):
** the prompt, the reply's sentences, the filters, and the descriptions file
** (DATA_SPEC.md, schemas/descriptions.schema.json). No I/O, no database.
**
** The prompt is Table I verbatim with the description, its English gloss,
** the prohibited word and its gloss filled in; only the count word changes
** when fewer than ten sentences are still missing ("please generate three
** paraphrase sentences in Japanese.").
**
** A reply is split into sentences one per line whatever the numbering or
** bullets: "1.", "1)", "(1)", "１．", "①", "- ", "* ", "• ", "・"; surrounding
** quotes ("", '', 「」, 『』, “”) are removed, whitespace (also U+3000)
** trimmed; empty lines, headings ending in ':' and code fences are skipped.
** A reply that is a JSON array of strings is taken as those strings.
**
** A sentence is accepted (paraphrase_check) when it is valid UTF-8, not
** empty, at most PARAPHRASE_MAX_BYTES, contains kana or kanji, and its NFKC
** form does not contain the NFKC form of the prohibited word. Otherwise the
** reason says which, e.g. "contains the prohibited word 覚醒".
*/
#ifndef CLAP_PARAPHRASE_H
#define CLAP_PARAPHRASE_H

#include <stddef.h>

#include "clap_error.h"

#define PARAPHRASE_MAX_BYTES 1000  /* a sentence, not an essay */
#define PARAPHRASE_MAX_SENTENCES 200

/* The prompt for `count` (1..99) sentences. gloss and prohibited_gloss may
** be NULL (then no parenthesis). malloc'd, caller frees; NULL on bad
** arguments or out of memory. */
char *paraphrase_prompt(const char *text, const char *gloss, const char *prohibited, const char *prohibited_gloss,
                        int count);

/* "one".."ten", then digits; into buf. */
const char *paraphrase_count_word(int n, char *buf, size_t cap);

/* The sentences of a reply (n bytes, need not be NUL-terminated), at most
** PARAPHRASE_MAX_SENTENCES. *out is a malloc'd array of malloc'd strings:
** paraphrase_list_free. Only fails on out of memory. */
clap_status paraphrase_split(const char *reply, size_t n, char ***out, int *count, clap_error *err);
void paraphrase_list_free(char **list, int count);

typedef enum paraphrase_verdict {
  PARAPHRASE_OK = 0,
  PARAPHRASE_EMPTY,
  PARAPHRASE_BAD_UTF8,
  PARAPHRASE_TOO_LONG,
  PARAPHRASE_NOT_JAPANESE,
  PARAPHRASE_PROHIBITED
} paraphrase_verdict;

/* Judge one sentence; reason (may be NULL) gets the why when not OK.
** prohibited may be NULL or empty (no word to avoid). */
paraphrase_verdict paraphrase_check(const char *text, const char *prohibited, char *reason, size_t cap);

/* The key sentences are de-duplicated on: NFKC, whitespace (also U+3000)
** removed at both ends, and trailing "。" / "." dropped. malloc'd; NULL on
** invalid UTF-8 or out of memory. */
char *paraphrase_dedup_key(const char *text);

/* One entry of a descriptions file. Strings are NULL when absent. */
typedef struct paraphrase_entry {
  char *dimension;
  int pole;
  char *text;
  char *gloss;
  char *source;          /* NULL: the importer decides (manual) */
  char *prohibited;
  int prompt_set;        /* 0: absent */
  char *status;
  char *reason;
  char *model;
  char *prompt_sha256;
} paraphrase_entry;

/* Parse and validate a descriptions file (n bytes) against the schema: an
** object with "descriptions": [...] (and "x-..." extras); each entry an
** object with dimension (one of the seven), pole 0/1, text (non-blank) and
** the optional members of the schema with their types and enums; a
** prompt_set needs source "prompt" and the other way round; an entry whose
** status is not "rejected" and whose source is not original/prompt must not
** contain its prohibited word. Errors (CLAP_ERR_FORMAT) read
** "NAME: descriptions[3].pole: must be 0 or 1"; bytes that are not UTF-8:
** "NAME: line 2: invalid UTF-8 at byte offset 67 (byte 0xe9)" (fileio_check_utf8).
** *out: paraphrase_entries_free. */
clap_status paraphrase_file_parse(const char *json, size_t n, const char *name, paraphrase_entry **out, int *count,
                                  clap_error *err);
void paraphrase_entries_free(paraphrase_entry *e, int count);

#endif
