/*
** ngram — the built-in text encoder: NFKC-normalised (utf8proc), case-folded
** text; character 1-, 2- and 3-grams hashed with a sign into NGRAM_DIM
** buckets; L2-normalised. Needs no word splitter, so Japanese works as is.
** The exact recipe (markers, hash, seed) is documented in ngram.c; changing it
** changes every stored text feature.
**
** Errors: invalid UTF-8 -> CLAP_ERR_FORMAT naming the byte offset and the bad
** byte; empty text or only whitespace -> CLAP_ERR_ARG "empty text".
*/
#ifndef CLAP_NGRAM_H
#define CLAP_NGRAM_H

#include "encoder.h"

#define NGRAM_DIM 1024

extern const encoder_ops ngram_encoder_ops;

#endif
