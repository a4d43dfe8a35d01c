/*
** prompt — the classes of zero-shot classification as text: a class is one
** sentence or an ensemble of sentences that name it (CLIP-style prompt
** ensembling), and its embedding is the L2-normalised mean of the unit
** embeddings of its sentences.
**
** Two textual forms are parsed, each by one function:
**   a class    (prompt_parse_class)   a sentence, used as it is, or a JSON
**              array of sentences: '["欲しいです", "買いたいです"]'. Text
**              whose first byte after blanks (space, tab, CR, LF) is '[' is
**              read as JSON, so a sentence that itself starts with '[' is
**              written as a one-element array: '["[笑] 欲しいです"]'.
**   classes    (prompt_parse_classes) a JSON array whose elements are each a
**              sentence (a string) or an array of sentences.
** Rules: every array holds at least one element; every sentence is a
** non-empty string; an array inside an ensemble is an error (ensembles do
** not nest); anything after the JSON value but blanks is an error. Errors
** are CLAP_ERR_FORMAT (malformed JSON, with the byte offset) or
** CLAP_ERR_ARG, and name the element by its 0-based index:
**   "not valid JSON (at byte 7 of 12)"
**   "an empty array: expected at least one sentence"
**   "element 2 is a number; expected a sentence (a string) or an array of sentences"
**   "element 1[0] is an array; ensembles do not nest"
**   "element 0[2] is an empty string"
** (Malformed JSON in the class form adds how a sentence starting with '['
** is written. In the class form an element is addressed as "element 1"; in the
** classes form the sentences of element 1 as "element 1[0]", ...) The
** caller prefixes the argument ("clap_classify() argument 2: ").
**
** Embedding (prompt_embed, prompt_set_embed) runs each sentence through the
** text encoder and the model's text head (model_embed, one row at a time),
** so a class of one sentence is bitwise that sentence's embedding; the mean
** of several is summed and normalised in double. Sentences whose embeddings
** cancel out (a zero mean) are CLAP_ERR_RANGE. The encoder must be a text
** encoder producing the model's text_in features (CLAP_ERR_ARG /
** CLAP_ERR_RANGE naming both), and is the caller's to choose: the SQL
** binding checks it against what the model was trained on first.
**
** Ownership: a prompt_set owns copies of its sentences; free it with
** prompt_set_free. Thread safety: a prompt_set is read-only after parsing;
** embedding reads the model and encoder only, so threads may share them.
*/
#ifndef CLAP_PROMPT_H
#define CLAP_PROMPT_H

#include <stddef.h>

#include "clap_error.h"
#include "encoder.h"
#include "model.h"

/* The ensemble embedding of n >= 1 sentences: out (model dim floats) is the
** L2-normalised mean of their unit text embeddings under model m. lens may
** be NULL (every text NUL-terminated) or give each text's byte count.
** Errors of one of several sentences name it: "sentence 2: <message>". */
clap_status prompt_embed(const clap_model *m, const encoder *text_enc, const char *const *texts,
                         const int *lens, int n, float *out, clap_error *err);

typedef struct prompt_set prompt_set;

/* One class of one sentence, the nbytes of text as they are ("[" included);
** a NUL byte among them is CLAP_ERR_ARG naming its offset (a sentence is
** kept as a C string, so it would otherwise be cut there). */
clap_status prompt_parse_sentence(const char *text, size_t nbytes, prompt_set **out,
                                  clap_error *err);
/* Parse nbytes of UTF-8 text (need not be NUL-terminated) as one class or as
** a JSON array of classes. On success *out is a new set the caller frees;
** on error *out is NULL and err says which element is wrong and why. */
clap_status prompt_parse_class(const char *text, size_t nbytes, prompt_set **out,
                               clap_error *err);
clap_status prompt_parse_classes(const char *json, size_t nbytes, prompt_set **out,
                                 clap_error *err);
void prompt_set_free(prompt_set *p);

int prompt_set_count(const prompt_set *p);           /* classes, >= 1 */
int prompt_set_size(const prompt_set *p, int k);     /* sentences of class k, >= 1 */
/* The NUL-terminated sentences of class k, owned by the set. */
const char *const *prompt_set_texts(const prompt_set *p, int k);

/* Embed every class: out holds prompt_set_count(p) x dim floats, row k the
** ensemble embedding of class k. Errors name the class and sentence in the
** form the set was parsed from ("element 3: ...", "element 3[1]: ..."). */
clap_status prompt_set_embed(const prompt_set *p, const clap_model *m, const encoder *text_enc,
                             float *out, clap_error *err);
/* The same from encoder features computed beforehand (e.g. read from a
** cache, or sent to a server in one batch): x holds prompt_set_sentences(p)
** rows of xdim (= the model's text_in, else CLAP_ERR_RANGE) floats, the
** sentences of class 0 first, each class's in order. Bitwise what
** prompt_set_embed gives when the rows are the encoder's outputs. */
clap_status prompt_set_embed_features(const prompt_set *p, const clap_model *m, const float *x,
                                      int xdim, float *out, clap_error *err);
/* Sentences in all classes, the rows prompt_set_embed_features reads. */
int prompt_set_sentences(const prompt_set *p);

#endif
