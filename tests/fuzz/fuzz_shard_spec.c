/*
** Fuzz shard_parse (the K/N of `clap embed --shard`) and the functions fed
** by what it accepts: any text is either accepted with 1 <= K <= N <=
** SHARD_MAX_N or refused with a message naming --shard; shard_of lands in
** 1..N; the default shard path is built or refused, never overrun.
*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (!s) return 0;
  memcpy(s, data, size);
  s[size] = 0;
  clap_error e = {0};
  int k = -1, n = -1;
  if (shard_parse(s, &k, &n, &e) == CLAP_OK) {
    if (k < 1 || k > n || n > SHARD_MAX_N) __builtin_trap();
    int o = shard_of(s, n);
    if (o < 1 || o > n) __builtin_trap();
    char out[48];
    if (shard_default_path(s, k, n, out, sizeof out, &e) == CLAP_OK && strlen(out) >= sizeof out)
      __builtin_trap();
  } else if (!strstr(e.msg, "--shard") || k != 0 || n != 0) {
    __builtin_trap();
  }
  free(s);
  return 0;
}
