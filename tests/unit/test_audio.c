/* Unit tests for ext/audio/audio.c. Every signal is synthesised here and written
** with libsndfile, so no audio fixtures are committed. */
#include <math.h>
#include <pthread.h>
#include <sndfile.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audio.h"
#include "fixture.h"
#include "harness.h"

#define PI 3.14159265358979323846
#define FREQ 220.0
#define AMP 0.5

static void expect_fail(const void *p, size_t n, const char *name, const audio_options *o,
                        clap_status code, const char *msg);

/* One encoded test file: its bytes and a temp path holding the same bytes. */
typedef struct blob {
  unsigned char *p;
  size_t n;
  char path[64];
} blob;

static void blob_free(blob *b) {
  if (b->path[0]) unlink(b->path);
  free(b->p);
  memset(b, 0, sizeof *b);
}

static float *tone(int rate, long frames, double freq, double amp) {
  float *x = malloc(sizeof(float) * (size_t)frames);
  for (long i = 0; i < frames; i++) x[i] = (float)(amp * sin(2 * PI * freq * i / rate));
  return x;
}

/* Writes interleaved frames with libsndfile to a temp file, then reads its
** bytes back. Returns 0 when libsndfile cannot write the format. */
static int make_blob(blob *b, int format, int rate, int channels, const float *inter,
                     long frames) {
  memset(b, 0, sizeof *b);
  strcpy(b->path, "/tmp/test_audio_XXXXXX");
  int fd = mkstemp(b->path);
  if (fd < 0) return 0;
  SF_INFO info = {.samplerate = rate, .channels = channels, .format = format};
  SNDFILE *sf = sf_open_fd(fd, SFM_WRITE, &info, SF_TRUE);
  if (!sf) {
    close(fd);
    return 0;
  }
  if ((format & SF_FORMAT_SUBMASK) == SF_FORMAT_VORBIS) {
    double q = 0.6;
    sf_command(sf, SFC_SET_VBR_ENCODING_QUALITY, &q, sizeof q);
  }
  sf_writef_float(sf, inter, frames);
  sf_close(sf);
  b->p = (unsigned char *)fixture_read(b->path, &b->n);
  return b->p != NULL;
}

static int make_tone_blob(blob *b, int format, int rate, int channels, double seconds) {
  long frames = lround(seconds * rate);
  float *mono = tone(rate, frames, FREQ, AMP);
  float *inter = malloc(sizeof(float) * (size_t)(frames * channels));
  for (long i = 0; i < frames; i++)
    for (int c = 0; c < channels; c++) inter[i * channels + c] = mono[i];
  int ok = make_blob(b, format, rate, channels, inter, frames);
  free(mono);
  free(inter);
  return ok;
}

/* RMS difference against the ideal 16 kHz tone, skipping 20 ms at each edge
** where the resampler's filter sees the signal switch on and off. */
static double rms_vs_tone(const audio_pcm *p, long lag) {
  long edge = p->rate / 50;
  double s = 0;
  long k = 0;
  for (long i = edge; i < p->n - edge; i++) {
    double ideal = AMP * sin(2 * PI * FREQ * (i - lag) / p->rate);
    s += (p->samples[i] - ideal) * (p->samples[i] - ideal);
    k++;
  }
  return k ? sqrt(s / k) : 1e9;
}

/* Lossy codecs may delay the signal a little; find the best lag in +-5 ms. */
static double best_rms_vs_tone(const audio_pcm *p) {
  double best = 1e9;
  for (long lag = -p->rate / 200; lag <= p->rate / 200; lag++) {
    double r = rms_vs_tone(p, lag);
    if (r < best) best = r;
  }
  return best;
}

/* Frequency from upward zero crossings between the first and the last. */
static double zc_frequency(const audio_pcm *p) {
  long first = -1, last = -1, count = 0;
  for (long i = 1; i < p->n; i++)
    if (p->samples[i - 1] < 0 && p->samples[i] >= 0) {
      if (first < 0) first = i;
      last = i;
      count++;
    }
  if (count < 2) return 0;
  return (double)(count - 1) * p->rate / (double)(last - first);
}

/* Decodes b from memory and from its temp file; both must agree. */
static void decode_both(const blob *b, const audio_options *o, audio_pcm **mem,
                        audio_pcm **file) {
  clap_error e = {0};
  CHECK_INT(audio_decode_memory(b->p, b->n, "mem", o, mem, &e), CLAP_OK);
  if (e.msg[0]) fprintf(stderr, "  %s\n", e.msg);
  CHECK_INT(audio_decode_file(b->path, o, file, &e), CLAP_OK);
  if (e.msg[0]) fprintf(stderr, "  %s\n", e.msg);
  if (*mem && *file) {
    CHECK_INT((*mem)->n, (*file)->n);
    CHECK((*mem)->n == (*file)->n &&
          memcmp((*mem)->samples, (*file)->samples, sizeof(float) * (size_t)(*mem)->n) == 0);
  }
}

static void check_tone(const audio_pcm *p, double tol, int exact_len) {
  if (!p) return;
  CHECK_INT(p->rate, 16000);
  if (exact_len) CHECK_INT(p->n, 16000);
  else CHECK_NEAR(p->n, 16000, 16000 * 0.1);
  double r = best_rms_vs_tone(p);
  if (r > tol) fprintf(stderr, "  rms error %g\n", r);
  CHECK(r < tol);
  CHECK_NEAR(zc_frequency(p), FREQ, 0.5);
  for (long i = 0; i < p->n; i++)
    if (!(p->samples[i] >= -1 && p->samples[i] <= 1)) {
      CHECK(!"sample outside [-1, 1]");
      break;
    }
}

static void test_wav_44k_stereo(void) {
  blob b;
  CHECK(make_tone_blob(&b, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 2, 1.0));
  audio_pcm *m = NULL, *f = NULL;
  decode_both(&b, NULL, &m, &f);
  check_tone(m, 0.002, 1);
  if (m) {
    CHECK_INT(m->source_rate, 44100);
    CHECK_INT(m->source_channels, 2);
    CHECK_INT(m->source_format, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
    CHECK(rms_vs_tone(m, 0) < 0.002); /* soxr compensates its own delay */
  }
  audio_pcm_free(m);
  audio_pcm_free(f);
  blob_free(&b);
}

static void test_flac_16k_mono(void) {
  blob b;
  CHECK(make_tone_blob(&b, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 16000, 1, 1.0));
  audio_pcm *m = NULL, *f = NULL;
  decode_both(&b, NULL, &m, &f);
  check_tone(m, 0.0005, 1);
  if (m) {
    CHECK_INT(m->source_rate, 16000);
    CHECK_INT(m->source_format, SF_FORMAT_FLAC | SF_FORMAT_PCM_16);
  }
  audio_pcm_free(m);
  audio_pcm_free(f);
  blob_free(&b);
}

static void test_ogg_vorbis_44k(void) {
  blob b;
  CHECK(make_tone_blob(&b, SF_FORMAT_OGG | SF_FORMAT_VORBIS, 44100, 1, 1.0));
  audio_pcm *m = NULL, *f = NULL;
  decode_both(&b, NULL, &m, &f);
  check_tone(m, 0.02, 1);
  if (m) CHECK_INT(m->source_format, SF_FORMAT_OGG | SF_FORMAT_VORBIS);
  audio_pcm_free(m);
  audio_pcm_free(f);
  blob_free(&b);
}

/* MP3 frame counts are estimates: a valid MP3 must never read as truncated. */
static void test_mp3_not_truncated(void) {
  blob b;
  if (!make_tone_blob(&b, SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, 44100, 1, 1.0)) {
    fprintf(stderr, "  (libsndfile cannot write MP3 here; skipped)\n");
    CHECK(b.p == NULL);
    return;
  }
  audio_pcm *m = NULL, *f = NULL;
  decode_both(&b, NULL, &m, &f);
  check_tone(m, 0.05, 0);
  if (m) CHECK_INT(m->source_format & SF_FORMAT_TYPEMASK, SF_FORMAT_MPEG);
  /* No up-front length check on an estimate; the running limit catches it. */
  audio_options o = {.max_seconds = 0.5};
  expect_fail(b.p, b.n, "long.mp3", &o, CLAP_ERR_RANGE, "long.mp3: longer than the limit of 0.5 s");
  audio_pcm_free(m);
  audio_pcm_free(f);
  blob_free(&b);
}

static void test_stereo_average(void) {
  long frames = 8000;
  float *l = tone(16000, frames, 220, 0.6), *r = tone(16000, frames, 330, 0.2);
  float *inter = malloc(sizeof(float) * 2 * (size_t)frames);
  for (long i = 0; i < frames; i++) {
    inter[2 * i] = l[i];
    inter[2 * i + 1] = r[i];
  }
  blob b;
  CHECK(make_blob(&b, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 16000, 2, inter, frames));
  audio_pcm *m = NULL, *f = NULL;
  decode_both(&b, NULL, &m, &f);
  if (m) {
    CHECK_INT(m->n, frames);
    double maxd = 0;
    for (long i = 0; i < m->n && i < frames; i++) {
      double d = fabs(m->samples[i] - 0.5 * (l[i] + r[i]));
      if (d > maxd) maxd = d;
    }
    CHECK_NEAR(maxd, 0, 1e-6);
  }
  audio_pcm_free(m);
  audio_pcm_free(f);
  blob_free(&b);
  free(l);
  free(r);
  free(inter);
}

static void test_cut(void) {
  blob b;
  long frames = 32000;
  float *x = malloc(sizeof(float) * (size_t)frames);
  for (long i = 0; i < frames; i++) x[i] = (float)(i % 1000) / 1000.0f; /* a ramp: position visible */
  CHECK(make_blob(&b, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 16000, 1, x, frames));
  audio_options o = {.start_seconds = 0.5, .end_seconds = 1.25};
  audio_pcm *m = NULL, *f = NULL;
  decode_both(&b, &o, &m, &f);
  if (m) {
    CHECK_INT(m->n, 12000);
    CHECK_NEAR(m->samples[0], x[8000], 1e-7);
    CHECK_NEAR(m->samples[m->n - 1], x[19999], 1e-7);
  }
  audio_pcm_free(m);
  audio_pcm_free(f);
  /* Start only: to the end. */
  clap_error e = {0};
  o = (audio_options){.start_seconds = 1.5};
  CHECK_INT(audio_decode_memory(b.p, b.n, "ramp.wav", &o, &m, &e), CLAP_OK);
  if (m) CHECK_INT(m->n, 8000);
  audio_pcm_free(m);
  /* Cut outside the signal, and a backwards cut. */
  o = (audio_options){.start_seconds = 2.5};
  CHECK_INT(audio_decode_memory(b.p, b.n, "ramp.wav", &o, &m, &e), CLAP_ERR_RANGE);
  CHECK_CONTAINS(e.msg, "ramp.wav: cut [2.5 s, 2 s) is outside the signal (2.000 s long)");
  CHECK(m == NULL);
  o = (audio_options){.start_seconds = 1, .end_seconds = 2.5};
  CHECK_INT(audio_decode_memory(b.p, b.n, "ramp.wav", &o, &m, &e), CLAP_ERR_RANGE);
  CHECK_CONTAINS(e.msg, "ramp.wav: cut [1 s, 2.5 s) is outside the signal");
  o = (audio_options){.start_seconds = 1, .end_seconds = 0.5};
  CHECK_INT(audio_decode_memory(b.p, b.n, "ramp.wav", &o, &m, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "ramp.wav: cut end 0.5 s must be after start 1 s");
  o = (audio_options){.start_seconds = -1};
  CHECK_INT(audio_decode_memory(b.p, b.n, "ramp.wav", &o, &m, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "ramp.wav: cut start -1 s / end 0 s must be finite and >= 0");
  blob_free(&b);
  free(x);
}

/* A cut on a 44.1 kHz file: the cut is in seconds, so 0.75 s -> 12000 samples. */
static void test_cut_resampled(void) {
  blob b;
  CHECK(make_tone_blob(&b, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 44100, 1, 2.0));
  audio_options o = {.start_seconds = 0.5, .end_seconds = 1.25};
  audio_pcm *m = NULL;
  clap_error e = {0};
  CHECK_INT(audio_decode_memory(b.p, b.n, "t.wav", &o, &m, &e), CLAP_OK);
  if (m) {
    CHECK_INT(m->n, 12000);
    CHECK_NEAR(zc_frequency(m), FREQ, 0.5);
  }
  audio_pcm_free(m);
  blob_free(&b);
}

static void test_target_rate(void) {
  blob b;
  CHECK(make_tone_blob(&b, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, 1.0));
  audio_options o = {.target_rate = 8000};
  audio_pcm *m = NULL;
  clap_error e = {0};
  CHECK_INT(audio_decode_memory(b.p, b.n, "t.wav", &o, &m, &e), CLAP_OK);
  if (m) {
    CHECK_INT(m->n, 8000);
    CHECK_INT(m->rate, 8000);
    CHECK_NEAR(zc_frequency(m), FREQ, 0.5);
  }
  audio_pcm_free(m);
  o.target_rate = 999;
  CHECK_INT(audio_decode_memory(b.p, b.n, "t.wav", &o, &m, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "t.wav: target rate 999 Hz is outside [1000, 384000]");
  blob_free(&b);
}

static void test_flac_round_trip(void) {
  long n = 12345;
  float *x = malloc(sizeof(float) * (size_t)n);
  uint32_t s = 12345;
  for (long i = 0; i < n; i++) {
    s = s * 1664525u + 1013904223u;
    x[i] = (float)(0.4 * sin(i * 0.05) + 0.5 * ((double)(s >> 8) / (1 << 24) - 0.5));
  }
  x[10] = 1.7f; /* clipped to 1 */
  x[11] = -3.0f; /* clipped to -1 */
  unsigned char *flac = NULL;
  size_t nflac = 0;
  clap_error e = {0};
  CHECK_INT(audio_encode_flac(x, n, 16000, &flac, &nflac, &e), CLAP_OK);
  CHECK(nflac > 42 && flac && memcmp(flac, "fLaC", 4) == 0);
  audio_pcm *p = NULL;
  CHECK_INT(audio_decode_memory(flac, nflac, "rt.flac", NULL, &p, &e), CLAP_OK);
  if (p) {
    CHECK_INT(p->n, n);
    CHECK_INT(p->source_format, SF_FORMAT_FLAC | SF_FORMAT_PCM_16);
    double maxd = 0;
    for (long i = 0; i < n && i < p->n; i++) {
      double want = x[i] > 1 ? 1 : x[i] < -1 ? -1 : x[i];
      double d = fabs(p->samples[i] - want);
      if (d > maxd) maxd = d;
    }
    CHECK(maxd <= 1.5 / 32768.0); /* rounding plus the 32767/32768 scale */
    CHECK_NEAR(p->samples[10], 1.0, 1e-4);
    CHECK_NEAR(p->samples[11], -1.0, 1e-4);
  }
  audio_pcm_free(p);
  free(flac);

  /* A different rate survives the round trip too. */
  CHECK_INT(audio_encode_flac(x, 4410, 44100, &flac, &nflac, &e), CLAP_OK);
  audio_options keep = {.target_rate = 44100};
  CHECK_INT(audio_decode_memory(flac, nflac, "rt.flac", &keep, &p, &e), CLAP_OK);
  if (p) {
    CHECK_INT(p->source_rate, 44100);
    CHECK_INT(p->n, 4410);
  }
  audio_pcm_free(p);
  free(flac);

  flac = (unsigned char *)"x";
  CHECK_INT(audio_encode_flac(x, 0, 16000, &flac, &nflac, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "flac encode: no samples (n = 0)");
  CHECK(flac == NULL);
  CHECK_INT(audio_encode_flac(x, n, 500, &flac, &nflac, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "flac encode: rate 500 Hz outside [1000, 384000]");
  x[100] = NAN;
  CHECK_INT(audio_encode_flac(x, n, 16000, &flac, &nflac, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "flac encode: sample 100 is not finite");
  CHECK(flac == NULL);
  free(x);
}

static void test_resample_direct(void) {
  float *x = tone(48000, 48000, FREQ, AMP), *y = NULL;
  long ny = 0;
  clap_error e = {0};
  CHECK_INT(audio_resample(x, 48000, 48000, 16000, &y, &ny, &e), CLAP_OK);
  CHECK_INT(ny, 16000);
  free(y);
  CHECK_INT(audio_resample(x, 48000, 16000, 16000, &y, &ny, &e), CLAP_OK);
  CHECK_INT(ny, 48000);
  if (y) CHECK(memcmp(x, y, sizeof(float) * 48000) == 0);
  free(y);
  CHECK_INT(audio_resample(x, 0, 48000, 16000, &y, &ny, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "resample: no input samples");
  CHECK_INT(audio_resample(x, 10, 48000, 5, &y, &ny, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "resample: rates 48000 -> 5 Hz outside");
  free(x);
}

/* ---- bad input ----------------------------------------------------------- */

static void expect_fail(const void *p, size_t n, const char *name, const audio_options *o,
                        clap_status code, const char *msg) {
  audio_pcm *pcm = (audio_pcm *)1;
  clap_error e = {0};
  CHECK_INT(audio_decode_memory(p, n, name, o, &pcm, &e), code);
  CHECK_INT(e.code, code);
  CHECK(pcm == NULL);
  CHECK_CONTAINS(e.msg, msg);
  if (strncmp(e.msg, name, strlen(name)) != 0) CHECK(!"message does not start with the name");
}

static void test_random_bytes(void) {
  unsigned char junk[4096];
  uint32_t s = 7;
  for (size_t i = 0; i < sizeof junk; i++) {
    s = s * 1103515245u + 12345u;
    junk[i] = (unsigned char)(s >> 16);
  }
  expect_fail(junk, sizeof junk, "a.bin", NULL, CLAP_ERR_FORMAT,
              "a.bin: not an audio format libsndfile recognises: ");
}

static void test_empty(void) {
  expect_fail("", 0, "argument 1", NULL, CLAP_ERR_FORMAT, "argument 1: empty (0 bytes)");
  char path[] = "/tmp/test_audio_XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  audio_pcm *p = NULL;
  clap_error e = {0};
  CHECK_INT(audio_decode_file(path, NULL, &p, &e), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(e.msg, "empty (0 bytes)");
  CHECK(strncmp(e.msg, path, strlen(path)) == 0);
  unlink(path);
}

static void test_missing_file(void) {
  audio_pcm *p = (audio_pcm *)1;
  clap_error e = {0};
  CHECK_INT(audio_decode_file("/nonexistent/x.wav", NULL, &p, &e), CLAP_ERR_IO);
  CHECK_CONTAINS(e.msg, "/nonexistent/x.wav: cannot open: No such file or directory");
  CHECK(p == NULL);
  CHECK_INT(audio_decode_file("/tmp", NULL, &p, &e), CLAP_ERR_IO);
  CHECK_CONTAINS(e.msg, "/tmp: is a directory");
}

/* A canonical 44-byte WAV header (libsndfile writes exactly that for PCM_16
** mono without extra chunks): channels at 22, rate at 24, data size at 40. */
static void put_le16(unsigned char *p, unsigned v) {
  p[0] = (unsigned char)v;
  p[1] = (unsigned char)(v >> 8);
}
static void put_le32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void test_zero_frames(void) {
  blob b;
  CHECK(make_tone_blob(&b, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, 0.1));
  CHECK(b.n == 44 + 3200 && memcmp(b.p + 36, "data", 4) == 0);
  put_le32(b.p + 40, 0);
  put_le32(b.p + 4, 36);
  expect_fail(b.p, 44, "zero.wav", NULL, CLAP_ERR_FORMAT, "zero.wav: contains no samples");
  blob_free(&b);
}

static void test_bad_channels_and_rate(void) {
  blob b;
  CHECK(make_tone_blob(&b, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, 0.1));
  unsigned char *h = malloc(b.n);
  memcpy(h, b.p, b.n);
  put_le16(h + 22, 100);
  put_le32(h + 28, 16000 * 2 * 100); /* byte rate and block align consistent */
  put_le16(h + 32, 200);
  expect_fail(h, b.n, "many.wav", NULL, CLAP_ERR_RANGE, "many.wav: 100 channels, outside [1, 64]");
  memcpy(h, b.p, b.n);
  put_le32(h + 24, 5);
  put_le32(h + 28, 10);
  expect_fail(h, b.n, "slow.wav", NULL, CLAP_ERR_RANGE,
              "slow.wav: sample rate 5 Hz, outside [1000, 384000]");
  free(h);
  blob_free(&b);
}

static void test_truncated(void) {
  blob b;
  CHECK(make_tone_blob(&b, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, 1.0));
  size_t half = 44 + 16000; /* the header still promises 16000 frames */
  expect_fail(b.p, half, "half.wav", NULL, CLAP_ERR_FORMAT,
              "half.wav: truncated: header promises 16000 frames, read 8000");
  /* Losing under 1% is tolerated (the documented rule). */
  audio_pcm *p = NULL;
  clap_error e = {0};
  CHECK_INT(audio_decode_memory(b.p, b.n - 2 * 100, "short.wav", NULL, &p, &e), CLAP_OK);
  if (p) CHECK_INT(p->n, 15900);
  audio_pcm_free(p);
  blob_free(&b);

  /* The other containers libsndfile silently shrinks, and FLAC's STREAMINFO. */
  static const struct { int format; const char *name; } f[] = {
      {SF_FORMAT_FLAC | SF_FORMAT_PCM_16, "half.flac"},
      {SF_FORMAT_AIFF | SF_FORMAT_PCM_16, "half.aiff"},
      {SF_FORMAT_AU | SF_FORMAT_PCM_16, "half.au"},
      {SF_FORMAT_RF64 | SF_FORMAT_PCM_16, "half.rf64"},
      {SF_FORMAT_WAV | SF_FORMAT_FLOAT, "half-float.wav"},
  };
  for (size_t i = 0; i < sizeof f / sizeof *f; i++) {
    char want[128];
    CHECK(make_tone_blob(&b, f[i].format, 16000, 1, 1.0));
    snprintf(want, sizeof want, "%s: truncated: header promises 16000 frames, read ", f[i].name);
    expect_fail(b.p, b.n / 2, f[i].name, NULL, CLAP_ERR_FORMAT, want);
    blob_free(&b);
  }
}

/* A cut is read by seeking: a damaged file whose cut region is intact still
** gives that cut; a cut reaching into the missing part is an error. */
static void test_cut_of_truncated_file(void) {
  blob b;
  audio_options ok = {.start_seconds = 0.1, .end_seconds = 0.3};
  audio_options past = {.start_seconds = 0.6, .end_seconds = 0.9};
  audio_pcm *p = NULL;
  clap_error e = {0};
  /* A damaged FLAC may not even seek (libFLAC searches its frames): an error
  ** naming the file either way, never samples from past the damage. */
  CHECK(make_tone_blob(&b, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 16000, 1, 1.0));
  CHECK(audio_decode_memory(b.p, b.n / 2, "half.flac", &past, &p, &e) != CLAP_OK);
  CHECK(p == NULL);
  CHECK_CONTAINS(e.msg, "half.flac: ");
  blob_free(&b);
  /* libsndfile shrinks a WAV's frame count to what is there: outside the signal. */
  CHECK(make_tone_blob(&b, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, 1.0));
  CHECK_INT(audio_decode_memory(b.p, 44 + 16000, "half.wav", &ok, &p, &e), CLAP_OK);
  if (p) CHECK_INT(p->n, 3200);
  audio_pcm_free(p);
  p = NULL;
  CHECK(audio_decode_memory(b.p, 44 + 16000, "half.wav", &past, &p, &e) != CLAP_OK);
  CHECK_CONTAINS(e.msg, "half.wav: cut [0.6 s, 0.9 s) is outside the signal (0.500 s long)");
  blob_free(&b);
}

static void test_too_long(void) {
  blob b;
  CHECK(make_tone_blob(&b, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, 1.0));
  audio_options o = {.max_seconds = 0.5};
  expect_fail(b.p, b.n, "long.wav", &o, CLAP_ERR_RANGE,
              "long.wav: 1.0 s long, over the limit of 0.5 s");
  o.max_seconds = -1;
  expect_fail(b.p, b.n, "long.wav", &o, CLAP_ERR_ARG, "long.wav: max_seconds -1 must be");
  o.max_seconds = 1.0; /* exactly at the limit is fine */
  audio_pcm *p = NULL;
  clap_error e = {0};
  CHECK_INT(audio_decode_memory(b.p, b.n, "long.wav", &o, &p, &e), CLAP_OK);
  audio_pcm_free(p);
  blob_free(&b);
}

static void test_not_finite(void) {
  float x[1000];
  for (int i = 0; i < 1000; i++) x[i] = 0.1f;
  x[500] = NAN;
  blob b;
  CHECK(make_blob(&b, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 16000, 1, x, 1000));
  expect_fail(b.p, b.n, "nan.wav", NULL, CLAP_ERR_FORMAT,
              "nan.wav: sample 500 is not a finite number");
  blob_free(&b);
}

/* Float files may hold values beyond full scale; the contract is [-1, 1]. */
static void test_loud_float_clipped(void) {
  float x[1000];
  for (int i = 0; i < 1000; i++) x[i] = (i % 2) ? 4.0f : -4.0f;
  blob b;
  CHECK(make_blob(&b, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 16000, 1, x, 1000));
  audio_pcm *p = NULL;
  clap_error e = {0};
  CHECK_INT(audio_decode_memory(b.p, b.n, "loud.wav", NULL, &p, &e), CLAP_OK);
  if (p) {
    CHECK_NEAR(p->samples[0], -1, 0);
    CHECK_NEAR(p->samples[1], 1, 0);
  }
  audio_pcm_free(p);
  blob_free(&b);
}

/* Two samples at 96 kHz round to zero samples at 16 kHz. */
static void test_too_short_to_resample(void) {
  float x[2] = {0.1f, 0.2f};
  blob b;
  CHECK(make_blob(&b, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 96000, 1, x, 2));
  expect_fail(b.p, b.n, "tiny.wav", NULL, CLAP_ERR_RANGE,
              "tiny.wav: resample 96000 -> 16000 Hz: 2 samples is too short to resample");
  blob_free(&b);
}

/* Concurrent decodes and encodes share no state: each thread must get the
** same result as a lone call. */
typedef struct job {
  const blob *b;
  long n;
  double sum;
  int ok;
} job;

static void *run_job(void *arg) {
  job *j = arg;
  for (int r = 0; r < 5; r++) {
    audio_pcm *p = NULL;
    clap_error e = {0};
    unsigned char *flac = NULL;
    size_t nflac = 0;
    if (audio_decode_memory(j->b->p, j->b->n, "t", NULL, &p, &e) ||
        audio_encode_flac(p->samples, p->n, p->rate, &flac, &nflac, &e)) {
      audio_pcm_free(p);
      return NULL;
    }
    double s = 0;
    for (long i = 0; i < p->n; i++) s += fabs(p->samples[i]);
    j->n = p->n;
    j->sum = s;
    j->ok++;
    audio_pcm_free(p);
    free(flac);
  }
  return NULL;
}

static void test_threads(void) {
  blob b;
  CHECK(make_tone_blob(&b, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 44100, 2, 0.5));
  job ref = {&b, 0, 0, 0}, jobs[4];
  run_job(&ref);
  CHECK_INT(ref.ok, 5);
  pthread_t t[4];
  for (int i = 0; i < 4; i++) {
    jobs[i] = (job){&b, 0, 0, 0};
    pthread_create(&t[i], NULL, run_job, &jobs[i]);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(t[i], NULL);
    CHECK_INT(jobs[i].ok, 5);
    CHECK_INT(jobs[i].n, 8000);
    CHECK(jobs[i].sum == ref.sum);
  }
  blob_free(&b);
}

static void test_null_args(void) {
  clap_error e = {0};
  CHECK_INT(audio_decode_memory("abc", 3, "x", NULL, NULL, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "x: no output pointer");
  audio_pcm *p = NULL;
  CHECK_INT(audio_decode_memory(NULL, 3, "x", NULL, &p, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "x: NULL bytes");
  CHECK_INT(audio_decode_file(NULL, NULL, &p, &e), CLAP_ERR_ARG);
  audio_pcm_free(NULL);
}

int main(void) {
  RUN(test_wav_44k_stereo);
  RUN(test_flac_16k_mono);
  RUN(test_ogg_vorbis_44k);
  RUN(test_mp3_not_truncated);
  RUN(test_stereo_average);
  RUN(test_cut);
  RUN(test_cut_resampled);
  RUN(test_cut_of_truncated_file);
  RUN(test_target_rate);
  RUN(test_flac_round_trip);
  RUN(test_resample_direct);
  RUN(test_random_bytes);
  RUN(test_empty);
  RUN(test_missing_file);
  RUN(test_zero_frames);
  RUN(test_bad_channels_and_rate);
  RUN(test_truncated);
  RUN(test_too_long);
  RUN(test_not_finite);
  RUN(test_loud_float_clipped);
  RUN(test_too_short_to_resample);
  RUN(test_threads);
  RUN(test_null_args);
  return harness_report();
}
