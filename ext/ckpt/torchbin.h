/*
** torchbin — convert a PyTorch checkpoint written by torch.save (e.g. a
** Hugging Face pytorch_model.bin) to safetensors, without Python and without
** executing anything.
**
** Accepted: a ZIP archive (zip64 too) whose entries are STORED, as torch.save
** writes them, holding PREFIX/data.pkl and PREFIX/data/KEY storages. The
** pickle (protocols 2-4) may build only a dict (plain or
** collections.OrderedDict, its _metadata state ignored) of name -> tensor,
** each tensor torch._utils._rebuild_tensor_v2(storage, offset, size, stride,
** ...) over a persistent storage ('storage', torch.<Type>Storage, key,
** location, numel). Views (offset, strides) are gathered into C order.
** Storage types: Float, Half, BFloat16, Double, Long, Int, Short, Char, Byte,
** Bool -> F32 F16 BF16 F64 I64 I32 I16 I8 U8 BOOL.
**
** Refused (CLAP_ERR_FORMAT / CLAP_ERR_UNSUPPORTED, message naming the entry
** or opcode and byte offset):
**   - not a ZIP, a truncated one, a compressed entry ("entry X is
**     compressed (method 8)"), no data.pkl, a storage entry missing or too
**     small for its tensors, byteorder "big";
**   - any GLOBAL other than collections.OrderedDict,
**     torch._utils._rebuild_tensor_v2 and torch.*Storage: "pickle global
**     os.system is not allowed" — nothing is ever called;
**   - any opcode outside the subset torch.save emits, a non-tensor value in
**     the dict, a view reaching outside its storage, a malformed pickle.
** ZIP CRCs are not verified (clap encoder add records the file's sha256).
*/
#ifndef CLAP_TORCHBIN_H
#define CLAP_TORCHBIN_H

#include <stddef.h>

#include "clap_error.h"

/* Convert the archive in zip[0..n) to a safetensors image: *out is malloc'd
** (*outlen bytes), the caller frees it. `label` names the input in errors. */
clap_status torchbin_convert_memory(const void *zip, size_t n, const char *label, void **out,
                                    size_t *outlen, clap_error *err);

/* The same for a file (mapped read-only while converting). */
clap_status torchbin_convert_file(const char *path, void **out, size_t *outlen, clap_error *err);

#endif
