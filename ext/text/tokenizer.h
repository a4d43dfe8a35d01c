/*
** tokenizer — text to token ids the way Hugging Face's AlbertTokenizer does
** it for a SentencePiece unigram model (laboro-ai/distilbert-base-japanese).
**
** tokenizer_create(spiece_path, config_path) loads the .model file (through
** spm_wrap, i.e. Debian's libsentencepiece) and the tokenizer_config.json
** next to it. config_path NULL means AlbertTokenizer's defaults; so does a
** key the file does not have. Keys read (others are ignored):
**   do_lower_case (default true), remove_space (true), keep_accents (false):
**     JSON booleans;
**   model_max_length: an integer >= 2 (default 512; a value above INT_MAX,
**     which transformers writes to mean "no limit", also means 512);
**   cls_token, sep_token: a string or {"content": string}
**     (default "[CLS]", "[SEP]"); their ids are the model's piece ids.
**
** tokenizer_encode(text) -> [CLS] pieces [SEP], where the pieces are
**   1. if remove_space: " ".join(text.strip().split()) with Python's notion
**      of whitespace (U+3000, U+00A0 ... included);
**   2. `` and '' -> ";
**   3. if !keep_accents: NFKD, then every character with a non-zero
**      canonical combining class is dropped (so が becomes か, é becomes e);
**   4. if do_lower_case: Python's str.lower() (full mapping: İ -> i̇, and a
**      final Σ -> ς; the final-sigma context is approximated from utf8proc's
**      properties);
**   5. SentencePiece encode; a piece that ends in digit + "," is re-encoded
**      without the "," and its U+2581s, and the "," becomes its own piece
**      (AlbertTokenizer._tokenize);
**   6. piece -> id (an absent piece gets the unknown id);
**   7. truncation: at most min(model_max_length, cap) ids in all, so the
**      pieces are cut to that minus 2, as transformers truncates.
** Literal special-token strings in the text ("[MASK]") are tokenized as
** text; transformers would map them to their special ids.
**
** Errors (clap_error, never a crash): a missing spiece.model or config ->
** CLAP_ERR_IO naming the file; bytes that are not a model, or a config that
** is not a JSON object / has a key of the wrong type -> CLAP_ERR_FORMAT
** naming file and key; a cls/sep token the model does not have ->
** CLAP_ERR_FORMAT; text that is not UTF-8 -> CLAP_ERR_FORMAT "text is not
** valid UTF-8 at byte N"; cap < 2 -> CLAP_ERR_ARG.
**
** A tokenizer is immutable after creation: encode from many threads at once.
*/
#ifndef CLAP_TOKENIZER_H
#define CLAP_TOKENIZER_H

#include <stddef.h>

#include "clap_error.h"

typedef struct tokenizer tokenizer;

/* *out is the caller's; free with tokenizer_free. */
clap_status tokenizer_create(const char *spiece_path, const char *config_path, tokenizer **out,
                             clap_error *err);
void tokenizer_free(tokenizer *t);

/* nbytes < 0: text is NUL-terminated. Writes at most min(cap,
** tokenizer_max_length) ids to ids and their count to *n. */
clap_status tokenizer_encode(const tokenizer *t, const char *text, int nbytes, int *ids, int cap,
                             int *n, clap_error *err);

/* Steps 1-4 alone: the text SentencePiece sees, malloc'd and NUL-terminated
** (*out, *outlen; the caller frees). For tests and debugging. */
clap_status tokenizer_preprocess(const tokenizer *t, const char *text, int nbytes, char **out,
                                 size_t *outlen, clap_error *err);

int tokenizer_max_length(const tokenizer *t);
int tokenizer_vocab_size(const tokenizer *t);
int tokenizer_cls_id(const tokenizer *t);
int tokenizer_sep_id(const tokenizer *t);

#endif
