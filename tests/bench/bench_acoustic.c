/*
** bench_acoustic — real-time factor of the acoustic encoder, one thread.
**
** The input is 60 s of synthetic speech-like signal (voiced "syllables" with
** moving F0 at about 4 per second, noise bursts for fricatives, pauses), made
** here so the figure needs no corpus. Prints key=value lines:
**   audio_seconds, encode_seconds (best of 5, wall clock), rtf (audio / encode
**   time), and the same on the thread's CPU clock (encode_cpu_seconds,
**   rtf_cpu), which a busy machine disturbs less.
** With a path argument, also writes the signal as a 16-bit WAV there, so the
** shell driver can time a peer (sox stat) on the same audio.
*/
#include "acoustic.h"
#include "encoder.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define SR 16000
#define SECONDS 60
#define PI 3.14159265358979323846

static uint32_t rng = 2024;
static double urand(void) {
  rng = rng * 1664525u + 1013904223u;
  return (rng >> 8) / 16777216.0;
}

static void synth(float *x, long n) {
  double phase = 0;
  long i = 0;
  while (i < n) {
    /* A syllable: 120-300 ms voiced with a rising or falling F0, then maybe a
    ** fricative (noise) or a pause. */
    long len = (long)((0.12 + 0.18 * urand()) * SR);
    double f_start = 90 + 160 * urand(), f_end = f_start * (0.8 + 0.4 * urand());
    for (long k = 0; k < len && i < n; k++, i++) {
      double u = (double)k / len, f0 = f_start + (f_end - f_start) * u;
      phase += 2 * PI * f0 / SR;
      double v = 0;
      for (int h = 1; h * f0 < 4000; h++) v += sin(h * phase) / h;
      x[i] = (float)(0.2 * sin(PI * u) * v + 0.005 * (urand() - 0.5));
    }
    long gap = (long)((urand() < 0.3 ? 0.08 : 0.03) * SR);
    int fric = urand() < 0.4;
    for (long k = 0; k < gap && i < n; k++, i++)
      x[i] = (float)((fric ? 0.08 : 0.002) * (urand() - 0.5));
  }
}

static void write_wav(const char *path, const float *x, long n) {
  FILE *f = fopen(path, "wb");
  if (!f) return;
  uint32_t data = (uint32_t)n * 2, riff = 36 + data, sr = SR, br = SR * 2, fmt = 16;
  uint16_t pcm = 1, ch = 1, align = 2, bits = 16;
  fwrite("RIFF", 1, 4, f), fwrite(&riff, 4, 1, f), fwrite("WAVEfmt ", 1, 8, f);
  fwrite(&fmt, 4, 1, f), fwrite(&pcm, 2, 1, f), fwrite(&ch, 2, 1, f), fwrite(&sr, 4, 1, f);
  fwrite(&br, 4, 1, f), fwrite(&align, 2, 1, f), fwrite(&bits, 2, 1, f);
  fwrite("data", 1, 4, f), fwrite(&data, 4, 1, f);
  for (long i = 0; i < n; i++) {
    double v = x[i] * 32767.0;
    int16_t s = (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : v);
    fwrite(&s, 2, 1, f);
  }
  fclose(f);
}

static double now(clockid_t which) {
  struct timespec ts;
  clock_gettime(which, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  long n = (long)SECONDS * SR;
  float *x = malloc((size_t)n * sizeof *x);
  if (!x) return 1;
  synth(x, n);
  if (argc > 1) write_wav(argv[1], x, n);
  clap_error err;
  encoder *e = encoder_builtin("acoustic", &err);
  if (!e) {
    fprintf(stderr, "bench_acoustic: %s\n", err.msg);
    return 1;
  }
  float out[ACOUSTIC_DIM];
  double best = 1e30, best_cpu = 1e30;
  for (int r = 0; r < 5; r++) {
    double t0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_THREAD_CPUTIME_ID);
    if (encoder_encode_audio(e, x, n, out, &err) != CLAP_OK) {
      fprintf(stderr, "bench_acoustic: %s\n", err.msg);
      return 1;
    }
    double dt = now(CLOCK_MONOTONIC) - t0, dc = now(CLOCK_THREAD_CPUTIME_ID) - c0;
    if (dt < best) best = dt;
    if (dc < best_cpu) best_cpu = dc;
  }
  printf("audio_seconds=%d\nencode_seconds=%.4f\nrtf=%.0f\n", SECONDS, best, SECONDS / best);
  printf("encode_cpu_seconds=%.4f\nrtf_cpu=%.0f\n", best_cpu, SECONDS / best_cpu);
  printf("voiced_ratio=%.3f\nrate_per_s=%.2f\nf0_median_hz=%.1f\n", out[45], out[46],
         27.5 * pow(2.0, out[3] / 12.0));
  free(x);
  return 0;
}
