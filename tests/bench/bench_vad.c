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
**    from s4-s5, babble from s1-s3), with the segments each set puts on
**    the wrong channel.
** 4. On seeds 6..10, what it is measured against (vad_peers.h): WebRTC's
**    VAD at its best mode and join per condition (absent when Debian's
**    libwebrtc-audio-processing1 is not installed), the oracle at 0 and
**    -3 dB, and with babble at 5 dB the share of boundaries each finds by the
**    turn's own SNR.
** 5. With each party leaking into the other's channel (-20 and -15 dB, and
**    -20 dB 150 ms late), ours
**    with and without step 6 (crosstalk) and WebRTC's VAD.
** 6. A line's tones and keypad digits around two utterances
**    (synth_call.h's sc_build_tones): ours with and without step 7, and
**    WebRTC's VAD.
** Prints key=value lines for bench_vad.sh.
**
**   bench_vad --calls DIR TURNS BABBLE white|babble SNR FIRST LAST
**
** Writes the synthetic calls of seeds FIRST..LAST (turns from the files
** matching the glob TURNS, babble from BABBLE; run from the repository root)
** to DIR, which must exist, to be listened to or read by another detector
** (vad_learned.py): per seed, call-SEED.wav (16 kHz stereo, 32-bit float,
** the very samples scored here), call-SEED.truth.csv (start,end,channel,
** snr_db: the turns, with each turn's own SNR) and call-SEED.ours.csv
** (start,end,channel: this detector's segments).
*/
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sndfile.h>

#include "vad.h"
#include "vad_peers.h"

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

/* A segmenter under test: both channels of `noisy` (`clean` is the same
** call without noise, for the oracle) to at most cap segments, with their
** channels; -1 on error. */
typedef struct segmenter {
  int (*run)(const struct segmenter *g, const sc_call *noisy, const sc_call *clean, double *st,
             double *en, int *chn, int cap);
  const vp_webrtc *webrtc;
  int mode, join;      /* webrtc's */
  double theta_db;     /* the oracle's */
  double crosstalk_db; /* ours: vad_options.crosstalk_db, < 0 for the default */
  double min_tone;     /* ours: vad_options.min_tone, < 0 for the default */
} segmenter;

/* Ours as vad_segment_file runs it: both channels finished together. */
static int run_ours(const segmenter *g, const sc_call *c, const sc_call *clean, double *st,
                    double *en, int *chn, int cap) {
  vad_options o;
  vad_options_default(&o);
  if (g->crosstalk_db >= 0) o.crosstalk_db = g->crosstalk_db;
  if (g->min_tone >= 0) o.min_tone = g->min_tone;
  vad *v[2] = {NULL, NULL};
  vad_segment *s = NULL;
  long n = 0;
  clap_error e;
  int ok = 1;
  for (int ch = 0; ch < 2; ch++)
    ok = ok && !vad_create(&o, ch, &v[ch], &e) && !vad_feed(v[ch], c->x + ch, c->n, 2, &e);
  ok = ok && !vad_finish_all(v, 2, &s, &n, &e);
  vad_free(v[0]);
  vad_free(v[1]);
  if (!ok) return -1;
  int k = 0;
  for (long i = 0; i < n && k < cap; i++, k++) st[k] = s[i].start, en[k] = s[i].end, chn[k] = s[i].channel;
  free(s);
  return k;
}

/* Channel by channel, for the per-channel peers. */
static int per_channel(const segmenter *g, const sc_call *c, const sc_call *clean, double *st,
                       double *en, int *chn, int cap) {
  int k = 0;
  for (int ch = 0; ch < 2; ch++) {
    int n = g->webrtc ? vp_webrtc_segments(g->webrtc, g->mode, g->join, c, ch, st + k, en + k, cap - k)
                      : vp_oracle_segments(clean, c, ch, g->theta_db, st + k, en + k, cap - k);
    if (n < 0) return -1;
    for (int i = 0; i < n; i++) chn[k + i] = ch;
    k += n;
  }
  return k;
}

static const segmenter OURS = {run_ours, NULL, 0, 0, 0, -1, -1};

/* Boundaries found, by the turn's own SNR (babble 5 dB, seeds 6..10): a
** truth start or end counts when a found one lies within 100 ms of it. */
#define SNR_BINS 5
static const double bin_top[SNR_BINS] = {-6, -3, 0, 4, INFINITY};
typedef struct by_snr {
  long truth[SNR_BINS], found[SNR_BINS];
} by_snr;

static void count_by_snr(by_snr *b, const sc_call *clean, const sc_call *noisy, const double *st,
                         const double *en, const int *chn, int n) {
  for (int t = 0; t < clean->nturns; t++) {
    int ch = clean->turns[t].channel;
    double q = vp_turn_snr(clean, noisy, t);
    int k = 0, s = 0, e = 0;
    while (q >= bin_top[k]) k++;
    for (int i = 0; i < n; i++)
      if (chn[i] == ch)
        s |= fabs(st[i] - clean->turns[t].start) <= 0.1, e |= fabs(en[i] - clean->turns[t].end) <= 0.1;
    b->truth[k] += 2;
    b->found[k] += s + e;
  }
}

/* Pooled over seeds s0..s1, turns and babble from the pools given, each
** channel leaking into the other at leak_db (0: none): the F1 (-1 on
** error), and in *wrong (may be NULL) the found segments on the wrong
** channel (without a leak, each is noise taken for speech while the other
** party talks). by (may be NULL) gets the boundaries found by turn SNR. */
static double pooled_f1_of(const segmenter *g, const sc_pool *tp, const sc_pool *bp, uint64_t s0,
                           uint64_t s1, sc_noise noise, double snr, double leak_db, double delay,
                           long *wrong_out, by_snr *by) {
  long t = 0, f = 0, m = 0, wrong = 0;
  for (uint64_t seed = s0; seed <= s1; seed++) {
    sc_call c, clean = {0};
    int want_clean = (g->run == per_channel && !g->webrtc) || by;
    if (!sc_build(&c, tp, bp, 40, noise, snr, seed) ||
        (want_clean && !sc_build(&clean, tp, bp, 40, SC_CLEAN, 0, seed)))
      return -1;
    if (leak_db < 0 && !sc_add_crosstalk(&c, leak_db, delay)) return -1;
    double st[512], en[512];
    int chn[512];
    int k = g->run(g, &c, &clean, st, en, chn, 512);
    if (k < 0) return -1;
    if (by) count_by_snr(by, &clean, &c, st, en, chn, k);
    sc_score sc = sc_evaluate(&c, st, en, chn, k, 0.1);
    t += sc.truth, f += sc.found, m += sc.matched, wrong += sc.wrong_channel;
    sc_free(&c);
    if (want_clean) sc_free(&clean);
  }
  double p = f ? (double)m / f : 0, r = (double)m / t;
  if (wrong_out) *wrong_out = wrong;
  return p + r > 0 ? 2 * p * r / (p + r) : 0;
}

static const struct {
  const char *key;
  sc_noise noise;
  double snr;
} CONDITIONS[] = {{"clean", SC_CLEAN, 0}, {"white20", SC_WHITE, 20}, {"babble20", SC_BABBLE, 20},
                  {"white5", SC_WHITE, 5}, {"babble5", SC_BABBLE, 5}};
#define NCOND (int)(sizeof CONDITIONS / sizeof *CONDITIONS)

/* Ours on every condition: KEY_COND=F1 and KEY_COND_wrong=segments on the
** wrong channel. `first` skips the clean condition for the held-out sets. */
static int ours_on(const char *key, const sc_pool *tp, const sc_pool *bp, uint64_t s0, uint64_t s1,
                   int first) {
  for (int c = first; c < NCOND; c++) {
    long wrong = 0;
    double f1 = pooled_f1_of(&OURS, tp, bp, s0, s1, CONDITIONS[c].noise, CONDITIONS[c].snr, 0, 0, &wrong, NULL);
    if (f1 < 0) return 0;
    printf("%s_%s=%.3f\n%s_%s_wrong=%ld\n", key, CONDITIONS[c].key, f1, key, CONDITIONS[c].key, wrong);
  }
  return 1;
}

/* The peer at its best on each condition (seeds 6..10): every mode, and
** joins of 0.2, 0.3 and 0.5 s (its own hangover is short). */
static void webrtc_peer(void) {
  vp_webrtc w;
  if (!vp_webrtc_load(&w)) {
    printf("webrtc=absent\n");
    return;
  }
  printf("webrtc=libwebrtc_audio_processing.so.1\n");
  static const int joins[] = {20, 30, 50};
  for (int c = 0; c < NCOND; c++) {
    double best = -1;
    int bm = 0, bj = 0;
    for (int mode = 0; mode < 4; mode++)
      for (int j = 0; j < 3; j++) {
        segmenter g = {per_channel, &w, mode, joins[j], 0, 0};
        double f1 = pooled_f1_of(&g, &turns, &babble, 6, 10, CONDITIONS[c].noise, CONDITIONS[c].snr, 0, 0, NULL, NULL);
        if (f1 > best) best = f1, bm = mode, bj = joins[j];
      }
    printf("webrtc_%s=%.3f\nwebrtc_%s_mode=%d, join %.1f s\n", CONDITIONS[c].key, best, CONDITIONS[c].key,
           bm, bj / 100.0);
  }
  vp_webrtc_unload(&w);
}

/* Step 6 of vad.h: each party leaking into the other's channel at -20 and
** -15 dB, and at -20 dB 150 ms late, 20 dB SNR, seeds 6..10: ours, ours
** with step 6 off, and WebRTC's VAD (mode 3, join 0.5 s, its best at 20
** dB), F1 and segments on the wrong channel each. */
static void crosstalk(void) {
  vp_webrtc w;
  int have = vp_webrtc_load(&w);
  segmenter off = OURS, wr = {per_channel, &w, 3, 50, 0, 0};
  off.crosstalk_db = 0;
  static const struct {
    const char *key;
    double db, delay;
  } leaks[] = {{"xt20", -20, 0}, {"xt15", -15, 0}, {"xt20d150", -20, 0.15}};
  for (int l = 0; l < 3; l++)
    for (int c = 1; c <= 2; c++) {
      long w1 = 0, w2 = 0, w3 = 0;
      sc_noise nz = CONDITIONS[c].noise;
      double db = leaks[l].db, d = leaks[l].delay;
      double f1 = pooled_f1_of(&OURS, &turns, &babble, 6, 10, nz, 20, db, d, &w1, NULL);
      double f2 = pooled_f1_of(&off, &turns, &babble, 6, 10, nz, 20, db, d, &w2, NULL);
      double f3 = have ? pooled_f1_of(&wr, &turns, &babble, 6, 10, nz, 20, db, d, &w3, NULL) : -1;
      printf("%s_%s=%.3f|%ld|%.3f|%ld|%.3f|%ld\n", leaks[l].key, CONDITIONS[c].key, f1, w1, f2, w2, f3, w3);
    }
  if (have) vp_webrtc_unload(&w);
}

/* The oracle at 0 and -3 dB on the noisy conditions, and the boundaries
** found by turn SNR with babble at 5 dB: ours, the oracles, webrtc's mode 3. */
static void ceilings(void) {
  static const double thetas[] = {0, -3};
  for (int c = 1; c < NCOND; c++)
    for (int i = 0; i < 2; i++) {
      segmenter g = {per_channel, NULL, 0, 0, thetas[i], 0};
      printf("oracle%d_%s=%.3f\n", (int)-thetas[i], CONDITIONS[c].key,
             pooled_f1_of(&g, &turns, &babble, 6, 10, CONDITIONS[c].noise, CONDITIONS[c].snr, 0, 0, NULL, NULL));
    }
  by_snr b[3] = {{{0}}};
  segmenter o0 = {per_channel, NULL, 0, 0, 0, 0}, o3 = {per_channel, NULL, 0, 0, -3, 0};
  pooled_f1_of(&OURS, &turns, &babble, 6, 10, SC_BABBLE, 5, 0, 0, NULL, &b[0]);
  pooled_f1_of(&o0, &turns, &babble, 6, 10, SC_BABBLE, 5, 0, 0, NULL, &b[1]);
  pooled_f1_of(&o3, &turns, &babble, 6, 10, SC_BABBLE, 5, 0, 0, NULL, &b[2]);
  for (int k = 0; k < SNR_BINS; k++)
    printf("bin%d=%ld|%.2f|%.2f|%.2f\n", k, b[0].truth[k], (double)b[0].found[k] / b[0].truth[k],
           (double)b[1].found[k] / b[1].truth[k], (double)b[2].found[k] / b[2].truth[k]);
}

/* Step 7 of vad.h on sc_build_tones' call (a line's tones and keypad
** digits around two utterances), with the noise 40 and 10 dB under them:
** ours, ours with step 7 off, and WebRTC's VAD (mode 3, join 0.5 s), each
** as segments|tones a segment overlaps (of 11)|utterance boundaries found
** (of 4). */
static void tones(void) {
  vp_webrtc w;
  int have = vp_webrtc_load(&w);
  segmenter off = OURS, wr = {per_channel, &w, 3, 50, 0, 0, 0};
  off.min_tone = 0;
  const segmenter *gs[3] = {&OURS, &off, have ? &wr : NULL};
  static const double noise_db[] = {40, 10};
  for (int k = 0; k < 2; k++) {
    sc_call c;
    double tn[SC_TONES][2];
    int nt = 0;
    if (!sc_build_tones(&c, &turns, noise_db[k], tn, &nt)) {
      fprintf(stderr, "bench_vad: out of memory building the tones' call\n");
      sc_free(&c);
      break;
    }
    printf("tones%.0f=", noise_db[k]);
    for (int g = 0; g < 3; g++) {
      double st[512], en[512];
      int chn[512], n = gs[g] ? gs[g]->run(gs[g], &c, &c, st, en, chn, 512) : -1, on = 0;
      for (int i = 0; i < n; i++)
        for (int t = 0; t < nt; t++) on += st[i] < tn[t][1] && en[i] > tn[t][0];
      sc_score sc = n >= 0 ? sc_evaluate(&c, st, en, chn, n, 0.1) : (sc_score){0};
      printf("%s%d|%d|%d", g ? "|" : "", n, on, sc.matched);
    }
    printf("\n");
    sc_free(&c);
  }
  if (have) vp_webrtc_unload(&w);
}

/* One call's audio and segments, as --calls describes; 0 on failure. */
static int write_call(const char *dir, uint64_t seed, const sc_call *c, const sc_call *clean) {
  char path[4096];
  snprintf(path, sizeof path, "%s/call-%llu.wav", dir, (unsigned long long)seed);
  SF_INFO info = {.samplerate = SC_RATE, .channels = 2, .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT};
  SNDFILE *w = sf_open(path, SFM_WRITE, &info);
  if (!w) return 0;
  int wrote = sf_writef_float(w, c->x, c->n) == c->n;
  if (sf_close(w) != 0 || !wrote) return 0;
  double st[512], en[512];
  int chn[512], k = run_ours(&OURS, c, clean, st, en, chn, 512);
  snprintf(path, sizeof path, "%s/call-%llu.truth.csv", dir, (unsigned long long)seed);
  FILE *f = fopen(path, "w");
  if (!f || k < 0) return f ? (fclose(f), 0) : 0;
  fprintf(f, "start,end,channel,snr_db\n");
  for (int t = 0; t < c->nturns; t++)
    fprintf(f, "%.6f,%.6f,%d,%.2f\n", c->turns[t].start, c->turns[t].end, c->turns[t].channel,
            vp_turn_snr(clean, c, t));
  if (fclose(f) != 0) return 0;
  snprintf(path, sizeof path, "%s/call-%llu.ours.csv", dir, (unsigned long long)seed);
  if (!(f = fopen(path, "w"))) return 0;
  fprintf(f, "start,end,channel\n");
  for (int i = 0; i < k; i++) fprintf(f, "%.6f,%.6f,%d\n", st[i], en[i], chn[i]);
  return fclose(f) == 0;
}

static int calls(char **argv) {
  const char *dir = argv[0];
  sc_noise noise = !strcmp(argv[3], "white") ? SC_WHITE : !strcmp(argv[3], "babble") ? SC_BABBLE : SC_CLEAN;
  char *end;
  double snr = strtod(argv[4], &end);
  unsigned long long s0 = strtoull(argv[5], NULL, 10), s1 = strtoull(argv[6], NULL, 10);
  if (noise == SC_CLEAN || end == argv[4] || *end || s0 > s1) {
    fprintf(stderr, "bench_vad --calls: NOISE is white or babble, SNR a number, FIRST <= LAST\n");
    return 1;
  }
  sc_pool tp, bp;
  if (sc_pool_load(&tp, argv[1], 4000) < 1 || sc_pool_load(&bp, argv[2], 4000) < 1) {
    fprintf(stderr, "bench_vad --calls: no audio matches %s or %s\n", argv[1], argv[2]);
    return 1;
  }
  int ok = 1;
  for (unsigned long long seed = s0; ok && seed <= s1; seed++) {
    sc_call c = {0}, clean = {0};
    ok = sc_build(&c, &tp, &bp, 40, noise, snr, seed) && sc_build(&clean, &tp, &bp, 40, SC_CLEAN, 0, seed);
    ok = ok && write_call(dir, seed, &c, &clean);
    if (!ok) fprintf(stderr, "bench_vad --calls: cannot write call %llu to %s\n", seed, dir);
    sc_free(&c);
    sc_free(&clean);
  }
  sc_pool_free(&tp);
  sc_pool_free(&bp);
  return ok ? 0 : 1;
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "--calls")) {
    if (argc == 9) return calls(argv + 2);
    fprintf(stderr, "usage: bench_vad --calls DIR TURNS BABBLE white|babble SNR FIRST LAST\n");
    return 2;
  }
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
  if (!ours_on("f1", &turns, &babble, 6, 10, 0) || !ours_on("ho_seeds", &turns, &babble, 11, 30, 1))
    return 1;
  if (sc_pool_load(&turns_b, "samples/audio/s[45]/*.flac", 400) < 50 ||
      sc_pool_load(&babble_b, "samples/audio/s[1-3]/*.flac", 400) < 100)
    return 1;
  if (!ours_on("ho_swap", &turns_b, &babble_b, 1, 10, 1)) return 1;
  webrtc_peer();
  ceilings();
  crosstalk();
  tones();
  sc_pool_free(&turns);
  sc_pool_free(&babble);
  sc_pool_free(&turns_b);
  sc_pool_free(&babble_b);
  return 0;
}
