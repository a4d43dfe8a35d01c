/*
** clap_rng — the seeded PRNG of training and evaluation: xoshiro256**
** (Blackman & Vigna) with its 256-bit state filled by four splitmix64 draws
** from the 64-bit seed, the same generator model_create uses. Integer-only,
** so a seed gives the same stream on every platform and compiler; any seed
** (0 included) gives a good state.
**
** A clap_rng is a plain value (four words) owned by the caller, like a
** clap_error: copy it to fork a stream, keep one per thread. Nothing here
** allocates or fails.
*/
#ifndef CLAP_RNG_H
#define CLAP_RNG_H

#include <stdint.h>

typedef struct clap_rng {
  uint64_t s[4];
} clap_rng;

void clap_rng_seed(clap_rng *r, uint64_t seed);
uint64_t clap_rng_next(clap_rng *r);
/* Uniform in 0..n-1 without modulo bias (Lemire's multiply-and-reject on
** the top 32 bits of each draw); n must be in 1..2^32-1, and 0 gives 0. */
uint32_t clap_rng_below(clap_rng *r, uint32_t n);
/* Uniform in [0, 1) with 53 random bits. */
double clap_rng_uniform(clap_rng *r);
/* Fisher-Yates shuffle of a[0..n-1] (from the end, j = below(i + 1)). */
void clap_rng_shuffle(clap_rng *r, int *a, int n);

#endif
