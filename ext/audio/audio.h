/*
** audio — decode speech from any libsndfile format, in a file or in memory,
** to mono float PCM at a target rate, and encode PCM to FLAC in memory.
**
** What is accepted: anything libsndfile reads (WAV, FLAC, OGG/Vorbis, MP3 on
** libsndfile >= 1.1, AIFF, ...), 1..AUDIO_MAX_CHANNELS channels, rates in
** [AUDIO_MIN_RATE, AUDIO_MAX_RATE]. Channels are averaged to mono, or one
** channel is taken alone (audio_options.channel); the signal is resampled
** with libsoxr (high quality) when the rate differs.
** What is refused, with a message naming the source: bytes libsndfile does
** not recognise, zero samples, absurd rate or channel count, a file whose
** header promises more frames than it holds (truncated), a decoded duration
** over the caller's limit, a cut (start/end) outside the signal.
**
** The rules in detail. Every message starts with `name` (or the path):
**   "<name>: not an audio format libsndfile recognises: <libsndfile's reason>"
**   "<name>: empty (0 bytes)"                               (CLAP_ERR_FORMAT)
**   "<name>: contains no samples"                           (CLAP_ERR_FORMAT)
**   "<name>: damaged audio data: the header promises N frames, none could be decoded"
**   "<name>: damaged header: it declares a sample rate of 0 Hz or 0 channels"
**   "<name>: damaged or not audio: it starts like an audio stream (...) but no
**    valid audio follows"                                   (all CLAP_ERR_FORMAT)
**   "<name>: 100 channels, outside [1, 64]"                 (CLAP_ERR_RANGE)
**   "<name>: sample rate 5 Hz, outside [1000, 384000]"      (CLAP_ERR_RANGE)
**   "<name>: 12.0 s long, over the limit of 10 s"           (CLAP_ERR_RANGE)
**   "<name>: truncated: header promises N frames, read M"   (CLAP_ERR_FORMAT)
**   "<name>: sample K is not a finite number"  (float files; CLAP_ERR_FORMAT)
**   "<name>: cut [a s, b s) is outside the signal (D s long)" (CLAP_ERR_RANGE)
**   "<name>: cannot open: <strerror>"         (audio_decode_file; CLAP_ERR_IO)
**   "<name>: is a FIFO (named pipe), not a regular file" (audio_decode_file;
**                                             CLAP_ERR_IO; checked before a byte is read)
**   "<name>: channel 2 requested, but it has 2 channels (0..1)" (CLAP_ERR_RANGE)
** - Length: the header's frame count is checked against max_seconds before
**   anything is read; memory then grows only with frames actually decoded,
**   never from a header number, and decoding stops as soon as the limit is
**   passed ("<name>: longer than the limit of L s"; headers can lie low).
** - Truncation: an error when fewer than 99% of the frames the header
**   promises can be read (so a lost final block is tolerated). The promise is
**   the container's count: FLAC STREAMINFO, or for WAV/AIFF/AU/RF64 the data
**   chunk size (libsndfile silently shrinks an overlong data chunk, so this
**   is recovered from its parse log). MP3 is exempt: its frame count is an
**   estimate (VBR without a Xing/Info tag can be far off), and so is the
**   up-front length check; the running limit still applies. Ogg counts come
**   from the last page, so an Ogg cut at a page boundary decodes as shorter.
** - Cut: start/end are seconds of the source, rounded to the nearest source
**   sample and applied before resampling; end 0 = to the end. end <= start,
**   negative or non-finite values are CLAP_ERR_ARG; start at or past the end
**   of the signal, or end past it, is CLAP_ERR_RANGE. Seekable files with an
**   exact frame count (not MP3) are cut by seeking to the start, so a session
**   cut from one long recording costs each utterance its own length; the
**   truncation rule then applies to the cut's frames only ("<name>:
**   truncated: the cut [a s, b s) needs N frames, read M", or "cannot seek").
** - Channel: AUDIO_MIX (0, what a zeroed audio_options holds) averages every
**   channel, sample by sample; AUDIO_CHANNEL(i) takes 0-based channel i alone
**   (i >= the file's channel count is the CLAP_ERR_RANGE above, checked from
**   the header before anything is read; channel 0 of a mono file is the file).
** - Output: averaged (or the one selected) channels, resampled (soxr HQ, delay-compensated, so n is
**   round(source_frames * rate / source_rate); when that is 0 the input is
**   refused as "too short to resample"), then clipped to [-1, 1]
**   (float sources may exceed full scale; resampling overshoots slightly).
** - Memory: the mono signal is held at the source rate before resampling,
**   in a buffer that grows by doubling: peak memory is up to 8 bytes per
**   source frame plus 4 bytes per output sample (max_seconds bounds both).
** - Thread safety: no global state of ours; calls on different buffers may run
**   concurrently. libsndfile keeps the reason for a failed open in a process-
**   global, so under concurrent failures the <libsndfile's reason> text may
**   belong to another call (the code and the rest of the message are ours).
**   libmpg123 (inside libsndfile) may write "Note: ..." lines to stderr on
**   damaged MP3 data; libsndfile offers no way to silence it.
*/
#ifndef CLAP_AUDIO_H
#define CLAP_AUDIO_H

#include <stddef.h>

#include "clap_error.h"

#define AUDIO_TARGET_RATE 16000
#define AUDIO_MIN_RATE 1000
#define AUDIO_MAX_RATE 384000
#define AUDIO_MAX_CHANNELS 64

/* Decoded mono PCM. Owned by whoever received it; release with audio_pcm_free. */
typedef struct audio_pcm {
  float *samples;     /* n mono samples in [-1, 1] at `rate` */
  long n;
  int rate;           /* rate of `samples` (the target rate) */
  int source_rate;    /* rate of the input */
  int source_channels;
  int source_format;  /* libsndfile SF_FORMAT_* of the input */
} audio_pcm;

/* audio_options.channel: every channel averaged, or 0-based channel i alone. */
#define AUDIO_MIX 0
#define AUDIO_CHANNEL(i) ((i) + 1)

typedef struct audio_options {
  int target_rate;       /* 0 = AUDIO_TARGET_RATE */
  double start_seconds;  /* cut start, 0 = from the beginning */
  double end_seconds;    /* cut end, 0 = to the end */
  double max_seconds;    /* refuse longer input; 0 = 4 hours */
  int channel;           /* AUDIO_MIX (default) or AUDIO_CHANNEL(i) */
} audio_options;

/* opts may be NULL for the defaults. `name` labels the source in messages
** (a file name, "argument 1"). */
clap_status audio_decode_memory(const void *bytes, size_t nbytes, const char *name,
                                const audio_options *opts, audio_pcm **out, clap_error *err);
clap_status audio_decode_file(const char *path, const audio_options *opts, audio_pcm **out,
                              clap_error *err);
void audio_pcm_free(audio_pcm *pcm);

/* Whether path holds audio we would decode, from its header alone: a regular
** file (fileio_open_regular), a format libsndfile recognises, a channel count
** and rate in range, at least one frame. Reads only what libsndfile needs to
** parse the header, so a caller that must have every byte in memory (to hash
** it) can refuse a 3 GB file of something else before reading it. Errors as
** audio_decode_file's. */
clap_status audio_probe_file(const char *path, clap_error *err);

/* ---- streaming: long recordings in bounded memory ----------------------
** An audio_stream reads a source chunk by chunk and hands out every channel,
** interleaved, resampled to `rate` (libsoxr streaming, HQ; exactly the
** samples audio_decode would give for one channel, within the resampler's
** filter settling at the ends), so an hour-long file costs a few buffers,
** not the hour. The same refusals as audio_decode_* apply, with the same
** messages: format, channel count, rate, max_seconds (from the header, then
** while reading), non-finite samples, and truncation (< 99% of the promised
** frames) when the end is reached. Samples are clipped to [-1, 1].
** The memory variant borrows `bytes`: keep them alive until the stream is
** freed. */
typedef struct audio_stream audio_stream;

clap_status audio_stream_open_memory(const void *bytes, size_t nbytes, const char *name,
                                     int rate, double max_seconds, audio_stream **out,
                                     clap_error *err);
clap_status audio_stream_open_file(const char *path, int rate, double max_seconds,
                                   audio_stream **out, clap_error *err);
int audio_stream_channels(const audio_stream *s);
int audio_stream_source_rate(const audio_stream *s);
/* Up to max_frames frames of audio_stream_channels() interleaved samples
** into buf; *got = 0 at the end of the stream (then and only then the
** truncation rule is checked). */
clap_status audio_stream_read(audio_stream *s, float *buf, long max_frames, long *got,
                              clap_error *err);
void audio_stream_free(audio_stream *s);

/* Resample n samples from rate_in to rate_out (libsoxr, HQ). *out is malloc'd
** (a copy when the rates are equal); *nout = round(n * rate_out / rate_in).
** n <= 0 or a rate outside [AUDIO_MIN_RATE, AUDIO_MAX_RATE] is CLAP_ERR_ARG. */
clap_status audio_resample(const float *in, long n, int rate_in, int rate_out, float **out,
                           long *nout, clap_error *err);

/* Encode mono PCM as 16-bit FLAC into a malloc'd buffer the caller frees.
** Samples are clipped to [-1, 1]; a NaN/Inf sample is CLAP_ERR_ARG. Decoding
** the result gives the input within 16-bit quantisation (<= 1.5/32768). */
clap_status audio_encode_flac(const float *samples, long n, int rate, unsigned char **out,
                              size_t *nout, clap_error *err);

#endif
