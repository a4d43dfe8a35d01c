/*
** prompt_file — the prompt pairs of `clap eval --prompts FILE.json`.
**
** The file (schemas/prompts.schema.json) is one JSON object:
**   {"pairs": [{"label": "want", "no": "私は欲しくないです", "yes": "私は欲しいです"},
**              {"no": ["…", "…"], "yes": ["…", "…"]}]}
** "pairs" holds 1..64 pairs; "no" and "yes" are each a sentence or an
** ensemble (a JSON array of sentences), with the rules of prompt.h
** (prompt_parse_class); "label" is optional text for the report. No other
** key is allowed, at either level.
**
** prompt_file_load reads and checks the whole file before anything is used.
** Each pair's "no" and "yes" come back as the text clap_zero_shot takes: the
** sentence itself, or the array as compact JSON (a sentence that starts with
** '[' is wrapped in a one-element array, so it is not read as JSON). A pair
** without a label is labelled "no / yes" from its texts. Errors
** (CLAP_ERR_FORMAT / CLAP_ERR_ARG / fileio's) name the file and the element:
**   "p.json: pairs[1].yes[0]: not a string"; bytes that are not UTF-8 name
** the line and byte offset (fileio_check_utf8).
** The caller frees the result with prompt_file_free.
*/
#ifndef CLAP_PROMPT_FILE_H
#define CLAP_PROMPT_FILE_H

#include "clap_error.h"

#define PROMPT_FILE_MAX_PAIRS 64

typedef struct prompt_file_pair {
  char *label;
  char *text[2]; /* 0 = no, 1 = yes */
} prompt_file_pair;

clap_status prompt_file_load(const char *path, prompt_file_pair **pairs, int *npairs,
                             clap_error *err);
void prompt_file_free(prompt_file_pair *pairs, int npairs);

#endif
