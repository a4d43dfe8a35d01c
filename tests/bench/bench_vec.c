/*
** bench_vec — vec_cosine over N rows of D-dim float32 (default 100000 x 512)
** against a naive double loop and a single-accumulator float loop (the shape
** of a plain C cosine such as sqlite-vec's). Prints ns/vector (best of 3) and
** the largest deviation from the double loop.
**
**   build/bench/bench_vec [N [D]]
*/
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vec.h"

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static float frand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (float)((double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static double cos_double(const float *a, const float *b, int d) {
  double ab = 0, aa = 0, bb = 0;
  for (int i = 0; i < d; i++) {
    ab += (double)a[i] * b[i];
    aa += (double)a[i] * a[i];
    bb += (double)b[i] * b[i];
  }
  return ab / (sqrt(aa) * sqrt(bb));
}

static double cos_float1(const float *a, const float *b, int d) {
  float ab = 0, aa = 0, bb = 0;
  for (int i = 0; i < d; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / (sqrtf(aa) * sqrtf(bb));
}

enum { K_VEC, K_DOUBLE, K_FLOAT1, K_PARSE_ALIGNED, K_PARSE_UNALIGNED };
static const char *const names[] = {"vec_cosine", "naive double loop", "naive float loop (1 accumulator)",
                                    "vec_parse (aligned view) + vec_cosine",
                                    "vec_parse (unaligned copy) + vec_cosine"};

static double run(int kind, const float *q, const float *rows, const unsigned char *unaligned, int n, int d,
                  double *out) {
  double t0 = now_ns();
  for (int r = 0; r < n; r++) {
    const float *row = rows + (size_t)r * d;
    double c = 0;
    vec_view v;
    switch (kind) {
      case K_VEC: vec_cosine(q, row, d, &c, NULL); break;
      case K_DOUBLE: c = cos_double(q, row, d); break;
      case K_FLOAT1: c = cos_float1(q, row, d); break;
      case K_PARSE_ALIGNED:
        if (vec_parse(row, (size_t)d * 4, 0, "bench", &v, NULL) == CLAP_OK) vec_cosine(q, v.data, d, &c, NULL);
        vec_clear(&v);
        break;
      case K_PARSE_UNALIGNED:
        if (vec_parse(unaligned + (size_t)r * d * 4, (size_t)d * 4, 0, "bench", &v, NULL) == CLAP_OK)
          vec_cosine(q, v.data, d, &c, NULL);
        vec_clear(&v);
        break;
    }
    out[r] = c;
  }
  return (now_ns() - t0) / n;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 100000;
  int d = argc > 2 ? atoi(argv[2]) : 512;
  if (n <= 0 || d <= 0 || d > VEC_MAX_DIM) {
    fprintf(stderr, "usage: bench_vec [N [D]]\n");
    return 2;
  }
  size_t total = (size_t)n * d;
  float *rows = malloc(total * sizeof *rows);
  unsigned char *ubuf = malloc(total * 4 + 1);
  float *q = malloc((size_t)d * sizeof *q);
  double *ref = malloc((size_t)n * sizeof *ref), *got = malloc((size_t)n * sizeof *got);
  if (!rows || !ubuf || !q || !ref || !got) {
    fprintf(stderr, "bench_vec: out of memory\n");
    return 1;
  }
  for (size_t i = 0; i < total; i++) rows[i] = frand();
  for (int i = 0; i < d; i++) q[i] = frand();
  memcpy(ubuf + 1, rows, total * 4);
  run(K_DOUBLE, q, rows, ubuf + 1, n, d, ref);

  printf("cosine of a %d-d query against %d rows (ns per row, best of 3)\n", d, n);
  double base = 0, vec_best = 0;
  for (int k = 0; k <= K_PARSE_UNALIGNED; k++) {
    double best = 1e300;
    for (int rep = 0; rep < 3; rep++) {
      double t = run(k, q, rows, ubuf + 1, n, d, got);
      if (t < best) best = t;
    }
    double dev = 0;
    for (int r = 0; r < n; r++) dev = fmax(dev, fabs(got[r] - ref[r]));
    if (k == K_DOUBLE) base = best;
    if (k == K_VEC) vec_best = best;
    printf("  %-42s %8.1f ns   max |err| vs double %.2e\n", names[k], best, dev);
  }
  printf("  vec_cosine / naive double = %.2f\n", vec_best / base);
  free(rows);
  free(ubuf);
  free(q);
  free(ref);
  free(got);
  return 0;
}
