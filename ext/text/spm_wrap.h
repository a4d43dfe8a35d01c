/*
** spm_wrap — a C interface to SentencePiece. Debian's libsentencepiece is
** C++ only (no C API), so this header is all the C side ever sees; the C++
** lives in spm_wrap.cc and no exception crosses it: every C++ exception
** (std::bad_alloc, anything the library throws) becomes a clap_error.
**
** Contract:
**   - spm_load_file / spm_load_bytes accept a serialized SentencePiece
**     ModelProto (a .model file). A missing file -> CLAP_ERR_IO; bytes the
**     library rejects -> CLAP_ERR_FORMAT with the library's reason, naming
**     the file (or the label given for bytes).
**   - An spm_model is immutable after loading: spm_encode, spm_piece_id and
**     the getters may be called from several threads at once.
**   - spm_encode takes text as is (no preprocessing beyond the model's own
**     normalizer) and returns the pieces as UTF-8 strings in one malloc'd
**     block the caller frees with spm_pieces_free.
*/
#ifndef CLAP_SPM_WRAP_H
#define CLAP_SPM_WRAP_H

#include <stddef.h>

#include "clap_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct spm_model spm_model;

/* Pieces of one encode: piece i is text[off[i] .. off[i+1]) (not
** NUL-terminated individually); n pieces, off has n+1 entries. */
typedef struct spm_pieces {
  char *text;
  size_t *off;
  int n;
} spm_pieces;

/* *out is the caller's; free with spm_free. */
clap_status spm_load_file(const char *path, spm_model **out, clap_error *err);
clap_status spm_load_bytes(const void *data, size_t n, const char *label, spm_model **out,
                           clap_error *err);
void spm_free(spm_model *m);

int spm_vocab_size(const spm_model *m);
/* The id of `piece` (n bytes), or -1 when the vocabulary has no such piece. */
int spm_piece_id(const spm_model *m, const char *piece, size_t n);
/* As SentencePieceProcessor::PieceToId: the unknown id when absent. */
int spm_piece_to_id(const spm_model *m, const char *piece, size_t n);
int spm_unk_id(const spm_model *m);

/* Encode n bytes of text (UTF-8; the caller validates) into pieces. On
** success out is filled and owned by the caller (spm_pieces_free); on error
** out is empty. */
clap_status spm_encode(const spm_model *m, const char *text, size_t n, spm_pieces *out,
                       clap_error *err);
void spm_pieces_free(spm_pieces *p);

#ifdef __cplusplus
}
#endif

#endif
