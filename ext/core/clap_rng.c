/* clap_rng — see clap_rng.h. */
#include "clap_rng.h"

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static uint64_t rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void clap_rng_seed(clap_rng *r, uint64_t seed) {
  for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

uint64_t clap_rng_next(clap_rng *r) {
  uint64_t *s = r->s;
  uint64_t out = rotl64(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl64(s[3], 45);
  return out;
}

uint32_t clap_rng_below(clap_rng *r, uint32_t n) {
  if (n == 0) return 0;
  uint64_t m = (clap_rng_next(r) >> 32) * n;
  uint32_t low = (uint32_t)m;
  if (low < n) {
    /* Reject the few low words that would over-represent small results. */
    uint32_t floor = (uint32_t)(-n) % n;
    while (low < floor) {
      m = (clap_rng_next(r) >> 32) * n;
      low = (uint32_t)m;
    }
  }
  return (uint32_t)(m >> 32);
}

double clap_rng_uniform(clap_rng *r) { return (double)(clap_rng_next(r) >> 11) * 0x1.0p-53; }

void clap_rng_shuffle(clap_rng *r, int *a, int n) {
  for (int i = n - 1; i > 0; i--) {
    int j = (int)clap_rng_below(r, (uint32_t)i + 1);
    int t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}
