/*
** vec — float32 vectors in the sqlite-vec format.
**
** A vector is D little-endian IEEE float32 values (a BLOB of 4·D bytes, SQL
** subtype VEC_SUBTYPE when we return one) or JSON text "[0.1, -2, 3e-4]".
** Every SQL function that takes a vector parses it with vec_parse(), so they
** all accept and reject the same things:
**   - empty blob / "[]"                 -> error "empty vector"
**   - blob length not a multiple of 4   -> error naming the length
**   - more than VEC_MAX_DIM elements    -> error naming both numbers
**   - NaN or ±Inf element               -> error naming the index (0-based)
**   - JSON that is not a flat array of finite numbers -> error naming the offset
**     (numbers that overflow float32 are rejected; underflow rounds to 0)
** Dimension mismatches are reported by the caller with both sizes
** (vec_check_same_dim).
**
** A blob may carry an SQL subtype, sqlite-vec's tag of its element type
** (vec_parse_subtype): 0 (none) or VEC_SUBTYPE is float32 as above;
** VEC_SUBTYPE_INT8 (vec_int8) is D signed bytes, each converted to the float
** of the same value; VEC_SUBTYPE_BIT (vec_bit) is refused with
** CLAP_ERR_UNSUPPORTED naming the subtype, since one bit per element keeps
** no magnitudes to compare. Other subtypes are read as float32 (the JSON
** functions' subtype 'J' applies to text, which is parsed as JSON).
*/
#ifndef CLAP_VEC_H
#define CLAP_VEC_H

#include <stddef.h>

#include "clap_error.h"

#define VEC_SUBTYPE 223      /* sqlite-vec float32 */
#define VEC_SUBTYPE_BIT 224  /* sqlite-vec bit (vec_bit) */
#define VEC_SUBTYPE_INT8 225 /* sqlite-vec int8 (vec_int8) */
#define VEC_MAX_DIM 65536

/* A parsed vector. data points either into the caller's blob (when it was
** float-aligned, so no copy is made) or into `owned`, which vec_clear frees.
** The view is only valid while the source bytes are. */
typedef struct vec_view {
  const float *data;
  int dim;
  float *owned;
} vec_view;

/* Parse a vector from a blob (is_text == 0) or JSON text (is_text != 0) of
** nbytes bytes. On success *out is filled and must be released with
** vec_clear. `what` names the argument in messages ("cosine() argument 2"). */
clap_status vec_parse(const void *bytes, size_t nbytes, int is_text, const char *what,
                      vec_view *out, clap_error *err);
/* vec_parse for a value that carries an SQL subtype (sqlite3_value_subtype):
** the one rule for sqlite-vec's element types, above. */
clap_status vec_parse_subtype(const void *bytes, size_t nbytes, int is_text, unsigned subtype,
                              const char *what, vec_view *out, clap_error *err);
void vec_clear(vec_view *v);

/* Error (naming `what` and both sizes) unless a and b have the same dimension. */
clap_status vec_check_same_dim(int da, int db, const char *what, clap_error *err);

/* Cosine similarity in [-1, 1]: float partial sums of at most 32 terms,
** combined in double (within 1e-6 of a double-precision reference; values
** whose squares would overflow or underflow float take an all-double path).
** A zero vector has no direction: CLAP_ERR_RANGE, never a silent NaN; the
** message says which ("... (first vector)"), the caller prefixes the function. */
clap_status vec_cosine(const float *a, const float *b, int dim, double *out, clap_error *err);

float vec_dot(const float *a, const float *b, int dim);

/* Scale v to unit L2 norm in place; CLAP_ERR_RANGE for a zero vector. */
clap_status vec_normalize(float *v, int dim, clap_error *err);

/* The instruction set the hot kernels (cosine, dot, the non-finite scan)
** run with on this CPU: "avx2" or "sse2" where gcc builds an AVX2 clone
** chosen at load time, else "portable". For clap_debug(). */
const char *vec_kernel_name(void);

/* JSON text "[...]" with the fewest digits that round-trip float32 bitwise
** ("[0.5,-1,0.1]"); a non-finite element is written as null. malloc'd, the
** caller frees. NULL on out-of-memory. */
char *vec_to_json(const float *v, int dim);

#endif
