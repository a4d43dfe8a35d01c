/*
** Fuzz torchbin (ZIP reader + pickle subset). The first byte picks the mode:
**   even: the rest is a whole archive;
**   odd:  the rest is a data.pkl, wrapped here in a stored ZIP together
**         with storages archive/data/0 (96 bytes) and archive/data/1 (8),
**         so mutations reach the pickle machine rather than the ZIP checks.
** Whatever converts must be a valid safetensors image.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"
#include "torchbin.h"

static void put(uint8_t **p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; i++) *(*p)++ = (uint8_t)(v >> (8 * i));
}

/* A minimal stored ZIP of the given entries (CRCs left zero: not checked). */
static uint8_t *make_zip(const char **names, const uint8_t **bodies, const size_t *lens, int n,
                         size_t *out_len) {
  size_t cap = 22;
  for (int i = 0; i < n; i++) cap += 30 + 46 + 2 * strlen(names[i]) + lens[i];
  uint8_t *z = malloc(cap), *p = z;
  uint32_t offs[8];
  for (int i = 0; i < n; i++) {
    offs[i] = (uint32_t)(p - z);
    size_t nl = strlen(names[i]);
    put(&p, 0x04034b50, 4), put(&p, 20, 2), put(&p, 0, 2), put(&p, 0, 2), put(&p, 0, 4);
    put(&p, 0, 4), put(&p, lens[i], 4), put(&p, lens[i], 4), put(&p, nl, 2), put(&p, 0, 2);
    memcpy(p, names[i], nl), p += nl;
    if (lens[i]) memcpy(p, bodies[i], lens[i]);
    p += lens[i];
  }
  uint32_t cd = (uint32_t)(p - z);
  for (int i = 0; i < n; i++) {
    size_t nl = strlen(names[i]);
    put(&p, 0x02014b50, 4), put(&p, 20, 2), put(&p, 20, 2), put(&p, 0, 2), put(&p, 0, 2);
    put(&p, 0, 4), put(&p, 0, 4), put(&p, lens[i], 4), put(&p, lens[i], 4), put(&p, nl, 2);
    put(&p, 0, 2), put(&p, 0, 2), put(&p, 0, 2), put(&p, 0, 2), put(&p, 0, 4), put(&p, offs[i], 4);
    memcpy(p, names[i], nl), p += nl;
  }
  uint32_t cdlen = (uint32_t)(p - z) - cd;
  put(&p, 0x06054b50, 4), put(&p, 0, 2), put(&p, 0, 2), put(&p, (uint64_t)n, 2), put(&p, (uint64_t)n, 2);
  put(&p, cdlen, 4), put(&p, cd, 4), put(&p, 0, 2);
  *out_len = (size_t)(p - z);
  return z;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  uint8_t *zip = NULL;
  const uint8_t *in = data + 1;
  size_t n = size - 1;
  if (data[0] & 1) {
    static uint8_t s0[96], s1[8];
    for (int i = 0; i < 96; i++) s0[i] = (uint8_t)(i * 7);
    const char *names[] = {"archive/data.pkl", "archive/data/0", "archive/data/1"};
    const uint8_t *bodies[] = {in, s0, s1};
    size_t lens[] = {n, sizeof s0, sizeof s1};
    zip = make_zip(names, bodies, lens, 3, &n);
    in = zip;
  }
  void *out = NULL;
  size_t len = 0;
  clap_error err;
  clap_status rc = torchbin_convert_memory(in, n, "fuzz", &out, &len, &err);
  if (rc == CLAP_OK) {
    st_file *f;
    if (st_open_memory(out, len, 1, "converted", &f, &err) != CLAP_OK) __builtin_trap();
    st_close(f);
  } else if (!err.msg[0]) {
    __builtin_trap();
  }
  free(zip);
  return 0;
}
