/*
** Fuzz the safetensors reader. Any input must open cleanly or fail with a
** message; a file that opens must give every F32/F16/BF16 tensor as floats
** (reading all of them, and the same again after st_release dropped the
** first copy) and must survive a write -> reopen round trip with
** the same tensors.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  st_file *f = NULL;
  clap_error err;
  if (st_open_memory(data, size, 0, "fuzz", &f, &err) != CLAP_OK) {
    if (!err.msg[0]) __builtin_trap();
    return 0;
  }
  int n = st_count(f);
  st_write_tensor *w = calloc((size_t)n + 1, sizeof *w);
  volatile float sink = 0;
  for (int i = 0; i < n; i++) {
    const st_tensor_info *t = st_tensor_at(f, i);
    const float *p;
    if (st_get_f32(f, t->name, t->ndim, t->shape, &p, &err) == CLAP_OK) {
      size_t count = t->nbytes / (size_t)st_dtype_size(t->dtype);
      float first = count ? p[count - 1] : 0;
      for (size_t j = 0; j < count; j++) sink += p[j];
      st_release(f, t->name);
      if (st_get_f32(f, t->name, t->ndim, t->shape, &p, &err) != CLAP_OK) __builtin_trap();
      if (count && memcmp(&first, &p[count - 1], sizeof first)) __builtin_trap();
    } else if (err.code != CLAP_ERR_UNSUPPORTED) {
      __builtin_trap();
    }
    w[i] = (st_write_tensor){t->name, t->dtype, t->ndim, {0}, t->data};
    memcpy(w[i].shape, t->shape, sizeof t->shape);
  }
  void *buf;
  size_t len;
  if (st_write_memory(w, n, &buf, &len, &err) == CLAP_OK) {
    st_file *g;
    if (st_open_memory(buf, len, 1, "again", &g, &err) != CLAP_OK || st_count(g) != n)
      __builtin_trap();
    st_close(g);
  } else if (err.code != CLAP_ERR_ARG) {
    __builtin_trap();
  }
  free(w);
  st_close(f);
  return 0;
}
