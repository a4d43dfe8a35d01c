/*
** vad — voice-activity segmentation of long recordings, channel by channel.
**
** Why our own detector: WebRTC's VAD, in Debian 12's
** libwebrtc-audio-processing1 (0.3; its C entry points are exported though
** the -dev package installs no webrtc_vad.h), gives a 10 ms yes/no in four
** fixed modes, with no level and no parameters, and takes babble for speech:
** on the synthetic calls below its best mode scores a boundary F1 of 0.24
** with babble at 5 dB SNR against this detector's 0.78, and is behind it in
** every other condition too (make bench measures both: tests/bench/RESULTS.md).
** This detector uses the acoustic encoder's framing (16 kHz,
** 25 ms frames every 10 ms) and two features per frame:
**   energy   e(t) = 10 log10(mean of x^2 over the 25 ms frame), dBFS;
**   voicing  v(t) = the highest normalised autocorrelation over lags of
**            60..400 Hz, of the 40 ms from the frame's start decimated to
**            4 kHz (4-sample means), in [0, 1]; periodic speech is near 1,
**            white noise near 0.2.
**   tone     whether at least 95% of the power of those decimated 40 ms
**            (Hann window, 256-point FFT) lies within 50 Hz of its two
**            strongest peaks: one or two steady sinusoids (step 7).
** Decision, per channel, over the whole recording's frame features (9 bytes
** per 10 ms are kept while feeding and 33 once finishing, when what the
** decisions read is kept for step 6; never the audio, so an hour costs
** ~12 MB per channel):
**  1. es(t), vs(t): e and v smoothed over 11 frames (110 ms; e as the mean
**     of the linear energies). A window this long evens out enough of
**     babble's own ups and downs that the thresholds below keep it out
**     without cutting the quiet ends of turns; one much longer smears a
**     turn's edges outward by half its length;
**  2. floor(t): the floor_percentile-th percentile of es over floor_window
**     seconds centred on t (0.25 dB bins) — the local noise level — and
**     spread(t): the percentile three times as high minus the floor, capped
**     at 4 dB — how much the noise itself moves (~0.3 dB for white noise,
**     1-2 dB for babble; past 4 dB that percentile is speech, not noise).
**     In a call the other party's turns give every channel silence to
**     measure on; a channel that is speech for more than 90% of a window
**     sees its floor rise towards its quietest speech;
**  3. onset(t) = floor + onset_db + onset_spread * spread, offset(t) the
**     same with offset_db, offset_spread. A frame with es > onset,
**     es > min_level_db and vs >= voicing starts a run, which grows both
**     ways while es > offset (hysteresis: loud voiced parts find speech,
**     the lower threshold finds its edges);
**  4. runs closer than min_silence are joined; a run with less than
**     min_voiced seconds of frames with v >= voicing is dropped (noise
**     bursts, clicks), and so is one shorter than min_speech;
**  5. a kept segment less than 10 dB over its floor (speech in loud noise,
**     where the thresholds of 3 cut its quiet ends) grows each way, at most
**     0.5 s, while the mean energy over 210 ms stays over the level 30% of
**     the way, in power, from the noise (floor + 1.5 spreads) to the
**     segment's own mean level, crossing dips of up to 50 ms; then 4's
**     joining and limits apply again. Fixed constants (vad.c, GROW_*), not
**     options: on the synthetic calls they raised the 5 dB boundary F1 on
**     every held-out set (tests/bench/RESULTS.md) and left 20 dB unchanged.
**  6. across the channels of one recording (vad_finish_all; what
**     vad_segment_file and vad_segment_memory do): a frame t of channel c
**     is another party's echo when, on a first pass of 1-5, another channel
**     o held speech at t - lag and was louder there than c is at t by more
**     than crosstalk_db (smoothed energies; the loudest of o's frames within
**     10 ms of t - lag). lag is the echo path's delay, fixed within a call:
**     of 0..300 ms, the one at which o's energy correlates best (at least
**     0.5) with c's over the frames where o talks and c is more than
**     crosstalk_db quieter; 0 when none does. c is then detected again
**     with those frames barred (no run starts, continues or grows into
**     them; its noise floor still counts them). Stereo calls carry each
**     party faintly on the other's channel (line echo, a headset's pickup);
**     without this every turn louder than the noise by more than the
**     leak's attenuation was found on both channels. With the default
**     10 dB, a leak 20 dB under its talker, at any delay up to 300 ms,
**     leaves no segment on the wrong channel, and one 15 dB under leaves a
**     few (4 where 131 were found without this step); a leak 12 dB under
**     needs 6. In double talk the quieter party's overlapping speech is
**     barred only where it is more than crosstalk_db under the other's
**     (tests/unit/test_vad.c measures each of these).
**  7. in every pass, a run of tone frames lasting min_tone or more, and
**     the 40 ms each side of it, is barred like an echo, and counts as
**     unvoiced: the tones of a telephone line (dial, ringback, busy, a
**     1 kHz test tone, a fax's calling tone) and keypad digits (DTMF) are
**     voiced and loud, so 1-5 alone take them for speech. Only frames with
**     v >= 0.3 are looked at (fixed, whatever the voicing option: a tone's
**     v is near 1), and two peaks at 2:1 or 3:2 (a high steady vowel's
**     first harmonics) are a voice, not a tone. On the synthetic tones of
**     tests/unit/synth_call.h (ringback, busy, 425 Hz, 1 kHz, four DTMF
**     digits of 100 ms) with white noise 10 dB under them, no segment falls
**     on a tone; on each of the 249 bundled utterances of s1-s5 (198 with
**     segments when heard alone) the segments are the same with the step
**     off, and so is every boundary F1 of tests/bench/RESULTS.md. Music is
**     not a tone: hold music still reads as speech.
** A segment runs from half a hop before its first frame's centre to half a
** hop after its last one's, within the signal; level_db is 10 log10 of the mean energy of its
** frames (dBFS).
**
** Parameters (vad_options; vad_options_default gives the defaults, the JSON
** keys are the field names):
**   min_speech        0.25 s   shortest segment kept              (0, 60]
**   min_silence       0.50 s   shortest gap that splits two       (0, 60]
**   onset_db          1.5 dB   fixed rise over the floor to start (0, 60]
**   offset_db         0.5 dB   ... to continue               (0, onset_db]
**   onset_spread      3        spreads over the floor to start    [0, 20]
**   offset_spread     2.5      ... to continue          [0, onset_spread]
**   floor_window      30 s     window of the noise-floor percentile [1, 600]
**   floor_percentile  10       which percentile is the floor      [1, 50]
**   min_level_db      -55 dBFS quieter than this is never speech [-120, 0]
**   voicing           0.3      v at which a frame counts as voiced [0, 1]
**   min_voiced        0.05 s   voiced time a segment needs        [0, 10]
**   crosstalk_db      10 dB    step 6; 0 turns it off             [0, 60]
**   min_tone          0.06 s   step 7: shortest tone barred; 0 off [0, 10]
** The defaults and the 110 ms window were chosen on synthetic calls
** (tests/unit/synth_call.h, seeds 1..5); tests/unit/test_vad.c checks the
** boundary F1 on others (babble at 5 dB SNR falls short of its target, 0.78
** against 0.85; see there).
** Out-of-range values, a non-number, an unknown key or text that is not a
** JSON object are refused by vad_options_from_json with a message naming
** the key ("options: min_speech: must be a number in (0, 60], got -1"), and
** so is an offset threshold above the onset one.
**
** Thread safety: none shared; one vad per thread.
*/
#ifndef CLAP_VAD_H
#define CLAP_VAD_H

#include <stddef.h>

#include "clap_error.h"

#define VAD_RATE 16000
#define VAD_ALL_CHANNELS (-1)

typedef struct vad_options {
  double min_speech, min_silence;
  double onset_db, offset_db;
  double onset_spread, offset_spread;
  double floor_window, floor_percentile;
  double min_level_db;
  double voicing, min_voiced;
  double crosstalk_db;
  double min_tone;
} vad_options;

typedef struct vad_segment {
  double start, end; /* seconds of the recording */
  int channel;       /* 0-based */
  double level_db;   /* mean energy of the segment, dBFS */
} vad_segment;

void vad_options_default(vad_options *o);
/* Overrides the fields of *o named in the JSON object (n bytes; NUL not
** needed). *o is left as it was on error. */
clap_status vad_options_from_json(const char *json, size_t n, vad_options *o, clap_error *err);
/* Checks every field against the ranges above. */
clap_status vad_options_check(const vad_options *o, clap_error *err);

/* One channel's detector at VAD_RATE. Feed samples (every stride-th float
** of x, n of them; a non-finite one is CLAP_ERR_ARG), then finish once to
** get its segments. */
typedef struct vad vad;
clap_status vad_create(const vad_options *o, int channel, vad **out, clap_error *err);
clap_status vad_feed(vad *v, const float *x, long n, int stride, clap_error *err);
/* *segs is malloc'd (caller frees; NULL when *nsegs == 0). */
clap_status vad_finish(vad *v, vad_segment **segs, long *nsegs, clap_error *err);
void vad_free(vad *v);

/* Finishes the detectors of one recording's channels together (v[0..n),
** fed the same samples): steps 1-5 on each, then step 6 across them; the
** segments of all, sorted by start, then channel. vad_finish(v) is
** vad_finish_all(&v, 1): no step 6. */
clap_status vad_finish_all(vad **v, int n, vad_segment **segs, long *nsegs, clap_error *err);

/* Segment a recording (any format audio.h reads, streamed through
** audio_stream at VAD_RATE): channel is a 0-based index or VAD_ALL_CHANNELS;
** either way every channel is detected when crosstalk_db > 0 (step 6 judges
** the requested one against the others), and only the requested one's
** segments are returned.
** Segments are sorted by start, then channel. *nchannels (may be NULL)
** gets the source's channel count. Errors name `name` (or the path): the
** audio's own (audio.h), "NAME: channel 2 requested, but it has 2 channels
** (0..1)". Finding no speech is not an error here (*nsegs = 0). */
clap_status vad_segment_memory(const void *bytes, size_t nbytes, const char *name, int channel,
                               const vad_options *o, double max_seconds, vad_segment **segs,
                               long *nsegs, int *nchannels, clap_error *err);
clap_status vad_segment_file(const char *path, int channel, const vad_options *o,
                             double max_seconds, vad_segment **segs, long *nsegs, int *nchannels,
                             clap_error *err);

#endif
