/*
** bench_vad: the segmenter on an hour-long stereo call, and its boundary F1.
**
**   bench_vad [MINUTES]      (default 60)
**
** 1. Builds a 16 kHz stereo 16-bit WAV of MINUTES minutes in /tmp: synthetic
**    calls (tests/unit/synth_call.h, white noise at 20 dB) of 40 turns,
**    written call after call, so writing it holds one call in memory.
** 2. In a fresh process (so its peak RSS is its own), vad_segment_file on
**    every channel (streamed: decode + resample-free 16 kHz + detector):
**    CPU seconds (user + system) and peak RSS; the same for decoding alone
**    (audio_stream_read to the end), the floor under any segmenter; and the
**    peak RSS of decoding one channel whole (audio_decode_file), what a
**    segmenter that did not stream would need at least.
** 3. Boundary F1 (100 ms) pooled over 5 calls x 40 turns per condition,
**    seeds 6..10 as in test_vad.c; and on calls the defaults were never
**    tuned on: seeds 11..30, and seeds 1..10 with the pools swapped (turns
**    from s4-s5, babble from s1-s3).
** Prints key=value lines for bench_vad.sh.
*/
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sndfile.h>

#include "../unit/synth_call.h"
#include "vad.h"

static sc_pool turns, babble, turns_b, babble_b;

static int write_long(const char *path, double minutes, long *frames) {
  SF_INFO info = {.samplerate = SC_RATE, .channels = 2, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
  SNDFILE *f = sf_open(path, SFM_WRITE, &info);
  if (!f) return 0;
  long want = (long)(minutes * 60 * SC_RATE), n = 0;
  for (uint64_t seed = 100; n < want; seed++) {
    sc_call c;
    if (!sc_build(&c, &turns, &babble, 40, SC_WHITE, 20, seed)) return 0;
    long k = c.n < want - n ? c.n : want - n;
    if (sf_writef_float(f, c.x, k) != k) return 0;
    n += k;
    sc_free(&c);
  }
  *frames = n;
  return sf_close(f) == 0;
}

/* Runs `bench_vad --job JOB PATH` (a fresh process, so its peak RSS is the
** job's alone); CPU seconds and peak RSS (KiB) of that child. */
static int in_child(const char *job, const char *path, double *cpu, long *rss_kb) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) return 0;
  if (pid == 0) {
    execl("/proc/self/exe", "bench_vad", "--job", job, path, (char *)NULL);
    _exit(127);
  }
  int status = 0;
  struct rusage ru;
  if (wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) return 0;
  *cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  *rss_kb = ru.ru_maxrss;
  return 1;
}

static int job_segment(const char *path) {
  vad_segment *s = NULL;
  long n = 0;
  clap_error e;
  if (vad_segment_file(path, VAD_ALL_CHANNELS, NULL, 0, &s, &n, NULL, &e) != CLAP_OK) {
    fprintf(stderr, "bench_vad: %s\n", e.msg);
    return 0;
  }
  printf("segments=%ld\n", n);
  fflush(stdout);
  free(s);
  return n > 0;
}

static int job_decode(const char *path) {
  audio_stream *s = NULL;
  clap_error e;
  if (audio_stream_open_file(path, SC_RATE, 0, &s, &e) != CLAP_OK) return 0;
  static float buf[2 * 4096];
  long got;
  double sum = 0;
  while (audio_stream_read(s, buf, 4096, &got, &e) == CLAP_OK && got > 0) sum += buf[0];
  audio_stream_free(s);
  return sum == sum;
}

/* What not streaming would cost: one channel decoded whole (audio.h). */
static int job_whole(const char *path) {
  audio_options o = {.channel = AUDIO_CHANNEL(0)};
  audio_pcm *p = NULL;
  clap_error e;
  if (audio_decode_file(path, &o, &p, &e) != CLAP_OK) return 0;
  audio_pcm_free(p);
  return 1;
}

/* Pooled over seeds s0..s1, turns and babble from the pools given. */
static double pooled_f1_on(const sc_pool *tp, const sc_pool *bp, uint64_t s0, uint64_t s1,
                           sc_noise noise, double snr) {
  long t = 0, f = 0, m = 0, wrong = 0;
  for (uint64_t seed = s0; seed <= s1; seed++) {
    sc_call c;
    if (!sc_build(&c, tp, bp, 40, noise, snr, seed)) return -1;
    double st[512], en[512];
    int chn[512], k = 0;
    for (int ch = 0; ch < 2; ch++) {
      vad *v = NULL;
      vad_segment *s = NULL;
      long n = 0;
      clap_error e;
      if (vad_create(NULL, ch, &v, &e) || vad_feed(v, c.x + ch, c.n, 2, &e) || vad_finish(v, &s, &n, &e)) return -1;
      for (long i = 0; i < n && k < 512; i++, k++) st[k] = s[i].start, en[k] = s[i].end, chn[k] = ch;
      free(s);
      vad_free(v);
    }
    sc_score sc = sc_evaluate(&c, st, en, chn, k, 0.1);
    t += sc.truth, f += sc.found, m += sc.matched, wrong += sc.wrong_channel;
    sc_free(&c);
  }
  double p = (double)m / f, r = (double)m / t;
  if (wrong) printf("wrong_channel=%ld\n", wrong);
  return 2 * p * r / (p + r);
}

static double pooled_f1(sc_noise noise, double snr) {
  return pooled_f1_on(&turns, &babble, 6, 10, noise, snr);
}

/* Calls the defaults were never tuned on: seeds 11..30 (the test's pools),
** and the pools swapped (turns from s4-s5, babble from s1-s3), seeds 1..10. */
static void held_out(const char *key, const sc_pool *tp, const sc_pool *bp, uint64_t s0, uint64_t s1) {
  printf("%s_white20=%.3f\n%s_babble20=%.3f\n%s_white5=%.3f\n%s_babble5=%.3f\n", key,
         pooled_f1_on(tp, bp, s0, s1, SC_WHITE, 20), key, pooled_f1_on(tp, bp, s0, s1, SC_BABBLE, 20), key,
         pooled_f1_on(tp, bp, s0, s1, SC_WHITE, 5), key, pooled_f1_on(tp, bp, s0, s1, SC_BABBLE, 5));
}

int main(int argc, char **argv) {
  if (argc == 4 && !strcmp(argv[1], "--job"))
    return (!strcmp(argv[2], "segment") ? job_segment(argv[3])
            : !strcmp(argv[2], "whole") ? job_whole(argv[3])
                                        : job_decode(argv[3]))
               ? 0
               : 1;
  double minutes = argc > 1 ? atof(argv[1]) : 60;
  if (sc_pool_load(&turns, "samples/audio/s[1-3]/*.flac", 400) < 100 ||
      sc_pool_load(&babble, "samples/audio/s[45]/*.flac", 400) < 50) {
    fprintf(stderr, "bench_vad: cannot load samples/ (run from the repository root)\n");
    return 1;
  }
  char path[64];
  snprintf(path, sizeof path, "/tmp/clap-bench-vad-%d.wav", (int)getpid());
  long frames = 0;
  if (!write_long(path, minutes, &frames)) {
    fprintf(stderr, "bench_vad: cannot write %s\n", path);
    return 1;
  }
  double seconds = (double)frames / SC_RATE, cpu_seg = 0, cpu_dec = 0, cpu_whole = 0;
  long rss_seg = 0, rss_dec = 0, rss_whole = 0;
  fflush(stdout);
  int ok = in_child("segment", path, &cpu_seg, &rss_seg) && in_child("decode", path, &cpu_dec, &rss_dec) &&
           in_child("whole", path, &cpu_whole, &rss_whole);
  unlink(path);
  if (!ok) return 1;
  printf("audio_seconds=%.0f\nchannels=2\n", seconds);
  printf("segment_cpu=%.3f\nsegment_rtf=%.0f\nsegment_rss_mb=%.1f\n", cpu_seg, seconds / cpu_seg, rss_seg / 1024.0);
  printf("decode_cpu=%.3f\ndecode_rtf=%.0f\ndecode_rss_mb=%.1f\n", cpu_dec, seconds / cpu_dec, rss_dec / 1024.0);
  printf("whole_rss_mb=%.1f\n", rss_whole / 1024.0);
  printf("f1_clean=%.3f\nf1_white20=%.3f\nf1_babble20=%.3f\nf1_white5=%.3f\nf1_babble5=%.3f\n",
         pooled_f1(SC_CLEAN, 0), pooled_f1(SC_WHITE, 20), pooled_f1(SC_BABBLE, 20),
         pooled_f1(SC_WHITE, 5), pooled_f1(SC_BABBLE, 5));
  held_out("ho_seeds", &turns, &babble, 11, 30);
  if (sc_pool_load(&turns_b, "samples/audio/s[45]/*.flac", 400) < 50 ||
      sc_pool_load(&babble_b, "samples/audio/s[1-3]/*.flac", 400) < 100)
    return 1;
  held_out("ho_swap", &turns_b, &babble_b, 1, 10);
  sc_pool_free(&turns);
  sc_pool_free(&babble);
  sc_pool_free(&turns_b);
  sc_pool_free(&babble_b);
  return 0;
}
