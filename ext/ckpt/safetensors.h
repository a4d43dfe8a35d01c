/*
** safetensors — read (mmap) and write Hugging Face .safetensors files.
**
** Format: u64 little-endian header length N, N bytes of UTF-8 JSON
** {"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
**  "__metadata__": {str: str}}, then the data buffer (offsets relative to its
** start, little-endian, C order).
**
** What st_open accepts, and what anything else gets (CLAP_ERR_FORMAT unless
** noted, the message naming the file and the tensor):
**   - a file shorter than 8 bytes, N > 100 MB, or N past the end of the file;
**   - a header that is not a JSON object, an entry that is not an object with
**     a string "dtype", an integer array "shape" (each >= 0, at most 8 dims)
**     and a two-integer "data_offsets" with begin <= end;
**   - a dtype outside the safetensors list (F64 F32 F16 BF16 I64 I32 I16 I8
**     U64 U32 U16 U8 BOOL F8_E4M3 F8_E5M2): "unknown dtype";
**   - element size x shape != end - begin; a range past the data buffer; two
**     ranges that overlap; the same name twice.
** Trailing whitespace in the header (the writer's 8-byte padding) is fine.
** A missing/unreadable file is CLAP_ERR_IO.
**
** Reading tensors: st_get_f32 returns float32 for F32, F16 and BF16 tensors
** (other dtypes: CLAP_ERR_UNSUPPORTED). F32 data aligned to 4 bytes is
** returned in place (zero copy from the mapping); F16/BF16 (and misaligned
** F32) are converted once into a buffer the st_file owns. The choice to
** widen at load rather than per matmul: OpenBLAS has no half-precision GEMM
** in Debian's build, and converting 95M weights takes well under a second
** (tests/bench measures it) while doubling memory only for half files.
** Pointers stay valid until st_close. An st_file is not thread-safe for
** st_get_f32 (it may convert and cache); share the returned pointers instead.
*/
#ifndef CLAP_SAFETENSORS_H
#define CLAP_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "clap_error.h"

#define ST_MAX_DIMS 8
#define ST_MAX_HEADER (100u * 1024u * 1024u)

typedef struct st_file st_file;

typedef struct st_tensor_info {
  const char *name;  /* owned by the st_file */
  const char *dtype; /* "F32", "BF16", ... (static string) */
  int ndim;
  int64_t shape[ST_MAX_DIMS];
  size_t nbytes;
  const void *data; /* raw bytes in the file */
} st_tensor_info;

/* Map and validate `path`. *out is the caller's; st_close it. */
clap_status st_open(const char *path, st_file **out, clap_error *err);

/* Validate a file held in memory. `label` names it in messages. If `owned`
** is non-zero the st_file takes `data` (malloc'd) and frees it on close,
** even when validation fails; otherwise the caller keeps it alive until
** st_close. */
clap_status st_open_memory(const void *data, size_t n, int owned, const char *label,
                           st_file **out, clap_error *err);
void st_close(st_file *f);

int st_count(const st_file *f);
/* Tensors in header order; i in [0, st_count). */
const st_tensor_info *st_tensor_at(const st_file *f, int i);
/* NULL if absent. */
const st_tensor_info *st_find(const st_file *f, const char *name);

/* The tensor `name` as float32, checking its shape against shape[0..ndim)
** (ndim < 0: any shape). Missing -> CLAP_ERR_NOTFOUND "tensor NAME not
** found in FILE"; other shape -> CLAP_ERR_FORMAT "tensor NAME: shape [32,16],
** expected [32,32]"; dtype not F32/F16/BF16 -> CLAP_ERR_UNSUPPORTED. */
clap_status st_get_f32(st_file *f, const char *name, int ndim, const int64_t *shape,
                       const float **out, clap_error *err);

/* Drop the memory behind `name` once the caller has made its own copy (a
** permuted or folded weight), so the copy does not double the resident
** size. A widened F16/BF16 (or misaligned F32) copy is freed; an in-place
** F32 tensor of a mapped file has the pages wholly inside its byte range
** handed back to the kernel (madvise MADV_DONTNEED: they are re-read from
** the file if touched again, the contents never change). Files opened from
** memory keep their bytes. Any pointer st_get_f32 returned for `name` must
** not be used afterwards; a later st_get_f32 returns a valid one. Unknown
** names are ignored. Not thread-safe, like st_get_f32. */
void st_release(st_file *f, const char *name);

/* Every resident page of a mapped file handed back to the kernel at once
** (madvise MADV_DONTNEED over the whole mapping), for a caller that has
** copied all it reads often: pages of small tensors (biases, norms) stay
** resident otherwise, with the neighbours the kernel maps around each
** fault. Pointers st_get_f32 returned stay valid (a page touched again is
** re-read from the file, whose contents never change); widened copies are
** kept. Files opened from memory keep their bytes. */
void st_release_all(st_file *f);

/* One pass over every floating-point tensor (F64, F32, F16, BF16; the F8
** kinds and integers have nothing to check): the first element that is NaN or
** infinite is CLAP_ERR_FORMAT "FILE: tensor NAME: element K is NaN" (or
** "infinite"). Reads the data as it lies in the file (bit patterns, no
** conversion), so a checkpoint is refused before anything computes with it. */
clap_status st_check_finite(const st_file *f, clap_error *err);

/* Element size of a safetensors dtype name, 0 if unknown. */
int st_dtype_size(const char *dtype);

/* Writer. Tensors are written in the order given; the header is padded with
** spaces to a multiple of 8 bytes, as the reference writer does. */
typedef struct st_write_tensor {
  const char *name;
  const char *dtype;
  int ndim;
  int64_t shape[ST_MAX_DIMS];
  const void *data; /* nbytes = dtype size x shape, little-endian */
} st_write_tensor;

/* To a malloc'd buffer (*out, *n; the caller frees). Duplicate names,
** unknown dtypes or bad shapes -> CLAP_ERR_ARG. */
clap_status st_write_memory(const st_write_tensor *t, int n, void **out, size_t *outlen,
                            clap_error *err);
/* To `path`, whole or not at all, by fileio_write_replace (ext/core/fileio.h). */
clap_status st_write_file(const char *path, const st_write_tensor *t, int n, clap_error *err);

/* Half-precision widening, exposed for tests and the benchmark. */
float st_f16_to_f32(uint16_t h);
float st_bf16_to_f32(uint16_t h);

#endif
