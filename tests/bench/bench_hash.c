/*
** bench_hash — SHA-256 (sha256_hex) and CRC-32 (model_crc32) throughput
** over one buffer of N MiB (default 256) of pseudo-random bytes, best of 3,
** in MB/s (10^6 bytes per second). The digest is printed so a run against
** another build can be compared byte for byte.
**
**   build/bench/bench_hash [N]
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "model.h"
#include "sha256.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  size_t mib = argc > 1 ? (size_t)atol(argv[1]) : 256;
  size_t n = mib << 20;
  unsigned char *b = malloc(n ? n : 1);
  if (!b) return 1;
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    b[i] = (unsigned char)(x >> 32);
  }
  char hex[SHA256_HEX_SIZE];
  uint32_t crc = 0;
  double best_sha = 1e30, best_crc = 1e30;
  for (int r = 0; r < 3; r++) {
    double t = now_s();
    sha256_hex(b, n, hex);
    t = now_s() - t;
    if (t < best_sha) best_sha = t;
    t = now_s();
    crc = model_crc32(b, n);
    t = now_s() - t;
    if (t < best_crc) best_crc = t;
  }
  printf("sha256 %.0f MB/s (%s)\ncrc32 %.0f MB/s (%08x)\n", n / best_sha / 1e6, hex, n / best_crc / 1e6, crc);
  free(b);
  return 0;
}
