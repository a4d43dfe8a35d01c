/* audio — see audio.h. */
#include "audio.h"

#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <sndfile.h>
#include <soxr.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_MAX_SECONDS (4.0 * 3600.0)
#define READ_CHUNK_FRAMES 4096
/* The first allocation is sized from the (already range-checked) header but
** never above this; the buffer then grows only as decoded frames arrive. */
#define INITIAL_CAP_LIMIT (1L << 20)

/* ---- virtual I/O over a read-only byte buffer ---------------------------- */

typedef struct mem_reader {
  const unsigned char *p;
  sf_count_t n, pos;
} mem_reader;

static sf_count_t mr_len(void *u) { return ((mem_reader *)u)->n; }

static sf_count_t mr_seek(sf_count_t off, int whence, void *u) {
  mem_reader *m = u;
  sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? m->pos : m->n;
  if (whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END) return -1;
  /* Refuse seeks that would overflow or land before the start; a seek past
  ** the end is allowed (reads there return 0), as with a real file. */
  if ((off > 0 && base > INT64_MAX - off) || base + off < 0) return -1;
  m->pos = base + off;
  return m->pos;
}

static sf_count_t mr_read(void *dst, sf_count_t count, void *u) {
  mem_reader *m = u;
  if (count <= 0 || m->pos >= m->n) return 0;
  sf_count_t k = m->n - m->pos < count ? m->n - m->pos : count;
  memcpy(dst, m->p + m->pos, (size_t)k);
  m->pos += k;
  return k;
}

static sf_count_t mr_write(const void *src, sf_count_t count, void *u) { return 0; }

static sf_count_t mr_tell(void *u) { return ((mem_reader *)u)->pos; }

/* ---- virtual I/O over a growing write buffer (FLAC encoder) -------------- */

typedef struct mem_writer {
  unsigned char *p;
  size_t len, cap, pos;
  int oom;
} mem_writer;

static sf_count_t mw_len(void *u) { return (sf_count_t)((mem_writer *)u)->len; }

static sf_count_t mw_seek(sf_count_t off, int whence, void *u) {
  mem_writer *m = u;
  sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? (sf_count_t)m->pos
                                                                 : (sf_count_t)m->len;
  if (whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END) return -1;
  if ((off > 0 && base > INT64_MAX - off) || base + off < 0) return -1;
  m->pos = (size_t)(base + off);
  return (sf_count_t)m->pos;
}

static sf_count_t mw_read(void *dst, sf_count_t count, void *u) {
  mem_writer *m = u;
  if (count <= 0 || m->pos >= m->len) return 0;
  size_t k = m->len - m->pos < (size_t)count ? m->len - m->pos : (size_t)count;
  memcpy(dst, m->p + m->pos, k);
  m->pos += k;
  return (sf_count_t)k;
}

static sf_count_t mw_write(const void *src, sf_count_t count, void *u) {
  mem_writer *m = u;
  if (count <= 0) return 0;
  size_t need = m->pos + (size_t)count;
  if (need < m->pos) return 0;
  if (need > m->cap) {
    size_t cap = m->cap ? m->cap : 4096;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    unsigned char *p = realloc(m->p, cap);
    if (!p) {
      m->oom = 1;
      return 0;
    }
    m->p = p;
    m->cap = cap;
  }
  /* A seek past the end followed by a write leaves a hole; zero it. */
  if (m->pos > m->len) memset(m->p + m->len, 0, m->pos - m->len);
  memcpy(m->p + m->pos, src, (size_t)count);
  m->pos = need;
  if (need > m->len) m->len = need;
  return count;
}

static sf_count_t mw_tell(void *u) { return (sf_count_t)((mem_writer *)u)->pos; }

/* ---- decoding ------------------------------------------------------------ */

typedef struct decode_limits {
  int target_rate;
  double start, end, max_seconds;
  int channel; /* -1 = mix, else the 0-based channel */
} decode_limits;

static clap_status check_options(const char *name, const audio_options *o, decode_limits *l,
                                 clap_error *err) {
  l->target_rate = o && o->target_rate ? o->target_rate : AUDIO_TARGET_RATE;
  l->start = o ? o->start_seconds : 0;
  l->end = o ? o->end_seconds : 0;
  l->max_seconds = o && o->max_seconds != 0 ? o->max_seconds : DEFAULT_MAX_SECONDS;
  l->channel = o ? o->channel - 1 : -1;
  if (l->channel < -1 || l->channel >= AUDIO_MAX_CHANNELS)
    return clap_error_set(err, CLAP_ERR_ARG, "%s: channel %d is outside [0, %d]", name,
                          l->channel, AUDIO_MAX_CHANNELS - 1);
  if (l->target_rate < AUDIO_MIN_RATE || l->target_rate > AUDIO_MAX_RATE)
    return clap_error_set(err, CLAP_ERR_ARG, "%s: target rate %d Hz is outside [%d, %d]", name,
                          l->target_rate, AUDIO_MIN_RATE, AUDIO_MAX_RATE);
  if (!isfinite(l->max_seconds) || l->max_seconds < 0)
    return clap_error_set(err, CLAP_ERR_ARG, "%s: max_seconds %g must be a positive number",
                          name, l->max_seconds);
  if (!isfinite(l->start) || !isfinite(l->end) || l->start < 0 || l->end < 0)
    return clap_error_set(err, CLAP_ERR_ARG,
                          "%s: cut start %g s / end %g s must be finite and >= 0", name,
                          l->start, l->end);
  if (l->end != 0 && l->end <= l->start)
    return clap_error_set(err, CLAP_ERR_ARG, "%s: cut end %g s must be after start %g s", name,
                          l->end, l->start);
  return CLAP_OK;
}

/* MPEG frame counts come from mpg123's length estimate, which for VBR
** streams without a Xing/Info tag can be far off either way. */
static int frames_are_estimates(const SF_INFO *info) {
  return (info->format & SF_FORMAT_TYPEMASK) == SF_FORMAT_MPEG;
}

static clap_status check_channel(const char *name, const SF_INFO *info, int channel,
                                 clap_error *err) {
  if (channel < info->channels) return CLAP_OK;
  return clap_error_set(err, CLAP_ERR_RANGE, "%s: channel %d requested, but it has %d channel%s (0..%d)",
                        name, channel, info->channels, info->channels == 1 ? "" : "s",
                        info->channels - 1);
}

static clap_status check_header(const char *name, const SF_INFO *info, double max_seconds,
                                clap_error *err) {
  if (info->channels < 1 || info->channels > AUDIO_MAX_CHANNELS)
    return clap_error_set(err, CLAP_ERR_RANGE, "%s: %d channels, outside [1, %d]", name,
                          info->channels, AUDIO_MAX_CHANNELS);
  if (info->samplerate < AUDIO_MIN_RATE || info->samplerate > AUDIO_MAX_RATE)
    return clap_error_set(err, CLAP_ERR_RANGE, "%s: sample rate %d Hz, outside [%d, %d]", name,
                          info->samplerate, AUDIO_MIN_RATE, AUDIO_MAX_RATE);
  if (info->frames <= 0)
    return clap_error_set(err, CLAP_ERR_FORMAT, "%s: contains no samples", name);
  if (!frames_are_estimates(info) && info->frames != SF_COUNT_MAX &&
      (double)info->frames > max_seconds * info->samplerate)
    return clap_error_set(err, CLAP_ERR_RANGE, "%s: %.1f s long, over the limit of %g s", name,
                          (double)info->frames / info->samplerate, max_seconds);
  return CLAP_OK;
}

/* Reads every frame, averaging channels into a mono buffer that grows as
** frames actually arrive, so a lying header cannot make us allocate. */
static clap_status read_mono(SNDFILE *sf, const SF_INFO *info, const char *name,
                             double max_seconds, int channel, long want, float **out, long *nout,
                             clap_error *err) {
  int ch = info->channels;
  double lim = floor(max_seconds * info->samplerate);
  long limit = lim >= (double)LONG_MAX ? LONG_MAX : (long)lim;
  long cap = info->frames < INITIAL_CAP_LIMIT ? (long)info->frames : INITIAL_CAP_LIMIT;
  if (want >= 0 && want < cap) cap = want; /* want: frames to read, -1 = all */
  if (cap > limit) cap = limit;
  if (cap < READ_CHUNK_FRAMES) cap = READ_CHUNK_FRAMES;
  float *chunk = malloc(sizeof(float) * READ_CHUNK_FRAMES * (size_t)ch);
  float *mono = malloc(sizeof(float) * (size_t)cap);
  long n = 0;
  if (!chunk || !mono) goto nomem;
  for (;;) {
    sf_count_t ask = READ_CHUNK_FRAMES;
    if (want >= 0 && want - n < ask) ask = want - n;
    if (ask <= 0) break;
    sf_count_t got = sf_readf_float(sf, chunk, ask);
    if (got <= 0) break;
    if (got > limit - n) {
      free(chunk);
      free(mono);
      return clap_error_set(err, CLAP_ERR_RANGE, "%s: longer than the limit of %g s", name,
                            max_seconds);
    }
    if (n + got > cap) {
      long ncap = cap > LONG_MAX / 2 ? LONG_MAX : cap * 2;
      if (ncap > limit) ncap = limit;
      if (ncap < n + (long)got) ncap = n + (long)got;
      float *p = realloc(mono, sizeof(float) * (size_t)ncap);
      if (!p) goto nomem;
      mono = p;
      cap = ncap;
    }
    if (channel >= 0) {
      for (sf_count_t i = 0; i < got; i++) mono[n + i] = chunk[i * ch + channel];
    } else {
      for (sf_count_t i = 0; i < got; i++) {
        double s = 0;
        for (int c = 0; c < ch; c++) s += chunk[i * ch + c];
        mono[n + i] = (float)(s / ch);
      }
    }
    n += (long)got;
  }
  free(chunk);
  *out = mono;
  *nout = n;
  return CLAP_OK;
nomem:
  free(chunk);
  free(mono);
  return clap_error_set(err, CLAP_ERR_NOMEM, "%s: out of memory decoding %d channels", name, ch);
}

/* "<label> : <declared> (should be <available>)": the byte count of a data
** chunk that runs past the end of the file, as libsndfile logs it. */
static double logged_overrun(const char *line, sf_count_t frames) {
  static const char *const labels[] = {"data", "SSND", "Data Size"};
  while (*line == ' ') line++;
  const char *colon = strchr(line, ':');
  const char *should = strstr(line, "(should be ");
  if (!colon || !should || should < colon) return 0;
  size_t len = (size_t)(colon - line);
  while (len && line[len - 1] == ' ') len--;
  int known = 0;
  for (size_t i = 0; i < sizeof labels / sizeof *labels; i++)
    known |= strlen(labels[i]) == len && memcmp(labels[i], line, len) == 0;
  if (!known) return 0;
  double declared = strtod(colon + 1, NULL), available = strtod(should + 11, NULL);
  if (!(available > 0) || !(declared > available)) return 0;
  return (double)frames * (declared / available);
}

static double logged_count(const char *line, const char *marker) {
  const char *p = strstr(line, marker);
  return p ? strtod(p + strlen(marker), NULL) : 0;
}

/* libsndfile shrinks a data chunk that runs past the end of the file to what
** is there, so SF_INFO.frames cannot show truncation; the header's claim
** survives only in its parse log (WAV/RIFX, AIFF, AU, RF64 wording). */
static double promised_frames(SNDFILE *sf, const SF_INFO *info) {
  char log[4096];
  memset(log, 0, sizeof log);
  sf_command(sf, SFC_GET_LOG_INFO, log, (int)sizeof log - 1);
  double best = (double)info->frames;
  for (char *line = log; line && *line;) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = 0;
    double c[3] = {logged_overrun(line, info->frames),
                   logged_count(line, "Frame count read from 'COMM' chunk ("),
                   logged_count(line, "does not match value from 'ds64' chunk of ")};
    for (int i = 0; i < 3; i++)
      if (isfinite(c[i]) && c[i] > best) best = c[i];
    line = nl ? nl + 1 : NULL;
  }
  return best;
}

/* The truncation rule (see audio.h): fewer than 99% of the frames the header
** promises is an error; MPEG counts are estimates and exempt. */
static clap_status check_complete(SNDFILE *sf, const char *name, const SF_INFO *info, long n,
                                  clap_error *err) {
  if (n == 0 && (frames_are_estimates(info) || info->frames == SF_COUNT_MAX))
    return clap_error_set(err, CLAP_ERR_FORMAT,
                          "%s: no audio frame could be decoded (the audio data is damaged)", name);
  if (n == 0)
    return clap_error_set(err, CLAP_ERR_FORMAT,
                          "%s: damaged audio data: the header promises %lld frames, none could "
                          "be decoded",
                          name, (long long)info->frames);
  if (frames_are_estimates(info) || info->frames == SF_COUNT_MAX) return CLAP_OK;
  double promised = promised_frames(sf, info);
  if ((double)n < 0.99 * promised)
    return clap_error_set(err, CLAP_ERR_FORMAT,
                          "%s: truncated: header promises %.0f frames, read %ld", name,
                          promised, n);
  return CLAP_OK;
}

static clap_status check_finite(const char *name, const float *x, long n, clap_error *err) {
  for (long i = 0; i < n; i++)
    if (!isfinite(x[i]))
      return clap_error_set(err, CLAP_ERR_FORMAT, "%s: sample %ld is not a finite number", name,
                            i);
  return CLAP_OK;
}

/* Cuts [start, end) seconds in place; the cut is in source-rate samples. */
static clap_status apply_cut(const char *name, const decode_limits *l, int rate, float *x,
                             long *n, clap_error *err) {
  if (l->start == 0 && l->end == 0) return CLAP_OK;
  double dur = (double)*n / rate;
  double s0 = floor(l->start * rate + 0.5);
  double s1 = l->end == 0 ? (double)*n : floor(l->end * rate + 0.5);
  if (s0 >= (double)*n || s1 > (double)*n)
    return clap_error_set(err, CLAP_ERR_RANGE,
                          "%s: cut [%g s, %g s) is outside the signal (%.3f s long)", name,
                          l->start, l->end == 0 ? dur : l->end, dur);
  if (s1 <= s0)
    return clap_error_set(err, CLAP_ERR_RANGE, "%s: cut [%g s, %g s) holds no samples", name,
                          l->start, l->end);
  memmove(x, x + (long)s0, sizeof(float) * (size_t)((long)s1 - (long)s0));
  *n = (long)s1 - (long)s0;
  return CLAP_OK;
}

/* A cut of a seekable file whose frame count is exact is read by seeking to
** its first frame, so a session cut from one long recording costs each
** utterance its own length rather than the recording's. Only the cut's
** frames are checked for truncation then. */
static int cut_by_seeking(const SF_INFO *info, const decode_limits *l) {
  return (l->start != 0 || l->end != 0) && info->seekable && !frames_are_estimates(info) &&
         info->frames != SF_COUNT_MAX;
}

static clap_status read_cut(SNDFILE *sf, const SF_INFO *info, const char *name,
                            const decode_limits *l, float **out, long *n, clap_error *err) {
  int rate = info->samplerate;
  double total = (double)info->frames, dur = total / rate;
  double s0 = floor(l->start * rate + 0.5);
  double s1 = l->end == 0 ? total : floor(l->end * rate + 0.5);
  if (s0 >= total || s1 > total)
    return clap_error_set(err, CLAP_ERR_RANGE,
                          "%s: cut [%g s, %g s) is outside the signal (%.3f s long)", name,
                          l->start, l->end == 0 ? dur : l->end, dur);
  if (s1 <= s0)
    return clap_error_set(err, CLAP_ERR_RANGE, "%s: cut [%g s, %g s) holds no samples", name,
                          l->start, l->end);
  if (sf_seek(sf, (sf_count_t)s0, SEEK_SET) < 0)
    return clap_error_set(err, CLAP_ERR_FORMAT, "%s: cannot seek to %g s: %s", name, l->start,
                          sf_strerror(sf));
  long want = (long)(s1 - s0);
  clap_status rc = read_mono(sf, info, name, l->max_seconds, l->channel, want, out, n, err);
  if (rc == CLAP_OK && *n < want) {
    free(*out);
    *out = NULL;
    return clap_error_set(err, CLAP_ERR_FORMAT,
                          "%s: truncated: the cut [%g s, %g s) needs %ld frames, read %ld", name,
                          l->start, l->end == 0 ? dur : l->end, want, *n);
  }
  return rc;
}

static void clip(float *x, long n) {
  for (long i = 0; i < n; i++) x[i] = x[i] > 1.0f ? 1.0f : x[i] < -1.0f ? -1.0f : x[i];
}

/* Why sf_open failed, said of the file: libsndfile's own wording for a broken
** header names its internals ("SF_INFO struct incomplete") or blames the
** caller ("not a regular file (possibly a pipe?)"). */
static clap_status open_failed(const char *name, clap_error *err) {
  const char *why = sf_strerror(NULL);
  if (sf_error(NULL) == SF_ERR_UNRECOGNISED_FORMAT || strstr(why, "ormat not recognised"))
    return clap_error_set(err, CLAP_ERR_FORMAT,
                          "%s: not an audio format libsndfile recognises: %s", name, why);
  if (strstr(why, "SF_INFO struct incomplete"))
    return clap_error_set(err, CLAP_ERR_FORMAT,
                          "%s: damaged header: it declares a sample rate of 0 Hz or 0 channels",
                          name);
  if (strstr(why, "possibly a pipe"))
    return clap_error_set(err, CLAP_ERR_FORMAT,
                          "%s: damaged or not audio: it starts like an audio stream (an MPEG "
                          "frame or a container header) but no valid audio follows",
                          name);
  return clap_error_set(err, CLAP_ERR_FORMAT, "%s: damaged audio header: %s", name, why);
}

/* Everything after a successful open; closes nothing (the caller owns sf). */
static clap_status decode_open(SNDFILE *sf, const SF_INFO *info, const char *name,
                               const decode_limits *l, audio_pcm **out, clap_error *err) {
  clap_status rc = check_header(name, info, l->max_seconds, err);
  if (!rc) rc = check_channel(name, info, l->channel, err);
  if (rc) return rc;
  float *mono = NULL;
  long n = 0;
  if (cut_by_seeking(info, l)) {
    if ((rc = read_cut(sf, info, name, l, &mono, &n, err))) return rc;
    if ((rc = check_finite(name, mono, n, err))) {
      free(mono);
      return rc;
    }
  } else {
    if ((rc = read_mono(sf, info, name, l->max_seconds, l->channel, -1, &mono, &n, err))) return rc;
    if ((rc = check_complete(sf, name, info, n, err)) ||
        (rc = check_finite(name, mono, n, err)) ||
        (rc = apply_cut(name, l, info->samplerate, mono, &n, err))) {
      free(mono);
      return rc;
    }
  }
  audio_pcm *pcm = calloc(1, sizeof *pcm);
  if (!pcm) {
    free(mono);
    return clap_error_set(err, CLAP_ERR_NOMEM, "%s: out of memory", name);
  }
  if (info->samplerate != l->target_rate) {
    float *res = NULL;
    long nres = 0;
    rc = audio_resample(mono, n, info->samplerate, l->target_rate, &res, &nres, err);
    free(mono);
    if (rc) {
      free(pcm);
      clap_error_prefix(err, "%s: ", name);
      return rc;
    }
    mono = res;
    n = nres;
  }
  clip(mono, n);
  pcm->samples = mono;
  pcm->n = n;
  pcm->rate = l->target_rate;
  pcm->source_rate = info->samplerate;
  pcm->source_channels = info->channels;
  pcm->source_format = info->format;
  *out = pcm;
  return CLAP_OK;
}

clap_status audio_decode_memory(const void *bytes, size_t nbytes, const char *name,
                                const audio_options *opts, audio_pcm **out, clap_error *err) {
  if (!name) name = "audio";
  if (!out) return clap_error_set(err, CLAP_ERR_ARG, "%s: no output pointer", name);
  *out = NULL;
  if (!bytes && nbytes) return clap_error_set(err, CLAP_ERR_ARG, "%s: NULL bytes", name);
  decode_limits l;
  clap_status rc = check_options(name, opts, &l, err);
  if (rc) return rc;
  if (nbytes == 0) return clap_error_set(err, CLAP_ERR_FORMAT, "%s: empty (0 bytes)", name);
  if (nbytes > (size_t)INT64_MAX)
    return clap_error_set(err, CLAP_ERR_RANGE, "%s: too large", name);
  mem_reader m = {bytes, (sf_count_t)nbytes, 0};
  SF_VIRTUAL_IO vio = {mr_len, mr_seek, mr_read, mr_write, mr_tell};
  SF_INFO info;
  memset(&info, 0, sizeof info);
  SNDFILE *sf = sf_open_virtual(&vio, SFM_READ, &info, &m);
  if (!sf) return open_failed(name, err);
  rc = decode_open(sf, &info, name, &l, out, err);
  sf_close(sf);
  return rc;
}

/* Opens path for libsndfile: a regular, non-empty file (a missing one is an
** I/O error, not a misleading "unrecognised format"). On success *fd and
** *sf are the caller's to close (sf_close, then close). */
static clap_status open_sound(const char *path, int *fd, SNDFILE **sf, SF_INFO *info,
                              clap_error *err) {
  struct stat st;
  clap_status rc = fileio_open_regular(path, fd, &st, err);
  if (rc == CLAP_ERR_NOTFOUND) rc = err ? (err->code = CLAP_ERR_IO) : CLAP_ERR_IO;
  if (rc) return rc;
  if (st.st_size == 0) {
    close(*fd);
    return clap_error_set(err, CLAP_ERR_FORMAT, "%s: empty (0 bytes)", path);
  }
  memset(info, 0, sizeof *info);
  *sf = sf_open_fd(*fd, SFM_READ, info, SF_FALSE);
  if (!*sf) {
    close(*fd);
    return open_failed(path, err);
  }
  return CLAP_OK;
}

clap_status audio_decode_file(const char *path, const audio_options *opts, audio_pcm **out,
                              clap_error *err) {
  if (!path) return clap_error_set(err, CLAP_ERR_ARG, "audio_decode_file: NULL path");
  if (!out) return clap_error_set(err, CLAP_ERR_ARG, "%s: no output pointer", path);
  *out = NULL;
  decode_limits l;
  clap_status rc = check_options(path, opts, &l, err);
  if (rc) return rc;
  int fd;
  SNDFILE *sf;
  SF_INFO info;
  rc = open_sound(path, &fd, &sf, &info, err);
  if (rc) return rc;
  rc = decode_open(sf, &info, path, &l, out, err);
  sf_close(sf);
  close(fd);
  return rc;
}

clap_status audio_probe_file(const char *path, clap_error *err) {
  if (!path) return clap_error_set(err, CLAP_ERR_ARG, "audio_probe_file: NULL path");
  int fd;
  SNDFILE *sf;
  SF_INFO info;
  clap_status rc = open_sound(path, &fd, &sf, &info, err);
  if (rc) return rc;
  rc = check_header(path, &info, INFINITY, err);
  sf_close(sf);
  close(fd);
  return rc;
}

void audio_pcm_free(audio_pcm *pcm) {
  if (!pcm) return;
  free(pcm->samples);
  free(pcm);
}

/* ---- resampling ---------------------------------------------------------- */

clap_status audio_resample(const float *in, long n, int rate_in, int rate_out, float **out,
                           long *nout, clap_error *err) {
  if (!out || !nout) return clap_error_set(err, CLAP_ERR_ARG, "resample: NULL output");
  *out = NULL;
  *nout = 0;
  if (!in || n <= 0)
    return clap_error_set(err, CLAP_ERR_ARG, "resample: no input samples (n = %ld)", n);
  if (rate_in < AUDIO_MIN_RATE || rate_in > AUDIO_MAX_RATE || rate_out < AUDIO_MIN_RATE ||
      rate_out > AUDIO_MAX_RATE)
    return clap_error_set(err, CLAP_ERR_ARG, "resample: rates %d -> %d Hz outside [%d, %d]",
                          rate_in, rate_out, AUDIO_MIN_RATE, AUDIO_MAX_RATE);
  /* soxr emits round(n * ratio) samples; a little slack costs nothing. */
  double want = ceil((double)n * rate_out / rate_in) + 16;
  if (want > (double)LONG_MAX || want > (double)(SIZE_MAX / sizeof(float)))
    return clap_error_set(err, CLAP_ERR_RANGE, "resample: %ld samples is too many", n);
  size_t olen = (size_t)want;
  float *o = malloc(sizeof(float) * olen);
  if (!o) return clap_error_set(err, CLAP_ERR_NOMEM, "resample: out of memory");
  if (rate_in == rate_out) {
    memcpy(o, in, sizeof(float) * (size_t)n);
    *out = o;
    *nout = n;
    return CLAP_OK;
  }
  soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
  soxr_runtime_spec_t rt = soxr_runtime_spec(1);
  size_t done = 0;
  soxr_error_t e =
      soxr_oneshot(rate_in, rate_out, 1, in, (size_t)n, NULL, o, olen, &done, &io, &q, &rt);
  if (e) {
    free(o);
    return clap_error_set(err, CLAP_ERR_INTERNAL, "resample %d -> %d Hz: libsoxr: %s", rate_in,
                          rate_out, e);
  }
  if (done == 0) {
    free(o);
    return clap_error_set(err, CLAP_ERR_RANGE,
                          "resample %d -> %d Hz: %ld samples is too short to resample", rate_in,
                          rate_out, n);
  }
  *out = o;
  *nout = (long)done;
  return CLAP_OK;
}

/* ---- FLAC encoding ------------------------------------------------------- */

static clap_status write_clipped(SNDFILE *sf, const float *x, long n, clap_error *err) {
  float buf[READ_CHUNK_FRAMES];
  for (long i = 0; i < n; i += READ_CHUNK_FRAMES) {
    long k = n - i < READ_CHUNK_FRAMES ? n - i : READ_CHUNK_FRAMES;
    for (long j = 0; j < k; j++) {
      float s = x[i + j];
      if (!isfinite(s))
        return clap_error_set(err, CLAP_ERR_ARG, "flac encode: sample %ld is not finite", i + j);
      buf[j] = s > 1.0f ? 1.0f : s < -1.0f ? -1.0f : s;
    }
    if (sf_writef_float(sf, buf, k) != k)
      return clap_error_set(err, CLAP_ERR_INTERNAL, "flac encode: libsndfile: %s",
                            sf_strerror(sf));
  }
  return CLAP_OK;
}

clap_status audio_encode_flac(const float *samples, long n, int rate, unsigned char **out,
                              size_t *nout, clap_error *err) {
  if (!out || !nout) return clap_error_set(err, CLAP_ERR_ARG, "flac encode: NULL output");
  *out = NULL;
  *nout = 0;
  if (!samples || n <= 0)
    return clap_error_set(err, CLAP_ERR_ARG, "flac encode: no samples (n = %ld)", n);
  if (rate < AUDIO_MIN_RATE || rate > AUDIO_MAX_RATE)
    return clap_error_set(err, CLAP_ERR_ARG, "flac encode: rate %d Hz outside [%d, %d]", rate,
                          AUDIO_MIN_RATE, AUDIO_MAX_RATE);
  mem_writer m = {0};
  SF_VIRTUAL_IO vio = {mw_len, mw_seek, mw_read, mw_write, mw_tell};
  SF_INFO info = {.samplerate = rate, .channels = 1, .format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16};
  SNDFILE *sf = sf_open_virtual(&vio, SFM_WRITE, &info, &m);
  if (!sf) {
    free(m.p);
    return clap_error_set(err, CLAP_ERR_INTERNAL, "flac encode: libsndfile: %s",
                          sf_strerror(NULL));
  }
  sf_command(sf, SFC_SET_CLIPPING, NULL, SF_TRUE);
  clap_status rc = write_clipped(sf, samples, n, err);
  /* sf_close flushes the last FLAC frame and rewrites STREAMINFO. */
  int cerr = sf_close(sf);
  if (!rc && (m.oom || cerr))
    rc = m.oom ? clap_error_set(err, CLAP_ERR_NOMEM, "flac encode: out of memory")
               : clap_error_set(err, CLAP_ERR_INTERNAL, "flac encode: libsndfile: %s",
                                sf_error_number(cerr));
  if (rc) {
    free(m.p);
    return rc;
  }
  *out = m.p;
  *nout = m.len;
  return CLAP_OK;
}

/* ---- streaming ----------------------------------------------------------- */

struct audio_stream {
  char *name;
  mem_reader mem;
  int fd; /* -1 for memory */
  SNDFILE *sf;
  SF_INFO info;
  int rate;
  double max_seconds;
  long limit;          /* source frames allowed */
  long frames;         /* source frames read */
  soxr_t soxr;         /* NULL when the source is at `rate` */
  float *in;           /* READ_CHUNK_FRAMES frames of input */
  long in_n, in_pos;   /* frames in `in`, frames soxr has taken */
  int eof, done;
};

static clap_status stream_start(audio_stream *s, clap_error *err) {
  clap_status rc = check_header(s->name, &s->info, s->max_seconds, err);
  if (rc) return rc;
  double lim = floor(s->max_seconds * s->info.samplerate);
  s->limit = lim >= (double)LONG_MAX ? LONG_MAX : (long)lim;
  s->in = malloc(sizeof(float) * READ_CHUNK_FRAMES * (size_t)s->info.channels);
  if (!s->in) return clap_error_set(err, CLAP_ERR_NOMEM, "%s: out of memory", s->name);
  if (s->info.samplerate == s->rate) return CLAP_OK;
  soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
  soxr_runtime_spec_t rt = soxr_runtime_spec(1);
  soxr_error_t e = NULL;
  s->soxr = soxr_create(s->info.samplerate, s->rate, (unsigned)s->info.channels, &e, &io, &q, &rt);
  if (!s->soxr)
    return clap_error_set(err, CLAP_ERR_INTERNAL, "%s: resample %d -> %d Hz: libsoxr: %s", s->name,
                          s->info.samplerate, s->rate, e ? e : "cannot start");
  return CLAP_OK;
}

static clap_status stream_open(audio_stream *s, const char *name, int rate, double max_seconds,
                               clap_error *err) {
  decode_limits l;
  audio_options o = {.target_rate = rate, .max_seconds = max_seconds};
  clap_status rc = check_options(name, &o, &l, err);
  if (rc) return rc;
  s->rate = l.target_rate;
  s->max_seconds = l.max_seconds;
  s->name = strdup(name);
  if (!s->name) return clap_error_set(err, CLAP_ERR_NOMEM, "%s: out of memory", name);
  return CLAP_OK;
}

clap_status audio_stream_open_memory(const void *bytes, size_t nbytes, const char *name,
                                     int rate, double max_seconds, audio_stream **out,
                                     clap_error *err) {
  if (!name) name = "audio";
  if (!out) return clap_error_set(err, CLAP_ERR_ARG, "%s: no output pointer", name);
  *out = NULL;
  if (!bytes && nbytes) return clap_error_set(err, CLAP_ERR_ARG, "%s: NULL bytes", name);
  if (nbytes == 0) return clap_error_set(err, CLAP_ERR_FORMAT, "%s: empty (0 bytes)", name);
  if (nbytes > (size_t)INT64_MAX) return clap_error_set(err, CLAP_ERR_RANGE, "%s: too large", name);
  audio_stream *s = calloc(1, sizeof *s);
  if (!s) return clap_error_set(err, CLAP_ERR_NOMEM, "%s: out of memory", name);
  s->fd = -1;
  clap_status rc = stream_open(s, name, rate, max_seconds, err);
  if (!rc) {
    s->mem = (mem_reader){bytes, (sf_count_t)nbytes, 0};
    SF_VIRTUAL_IO vio = {mr_len, mr_seek, mr_read, mr_write, mr_tell};
    s->sf = sf_open_virtual(&vio, SFM_READ, &s->info, &s->mem);
    if (!s->sf) rc = open_failed(name, err);
  }
  if (!rc) rc = stream_start(s, err);
  if (rc) {
    audio_stream_free(s);
    return rc;
  }
  *out = s;
  return CLAP_OK;
}

clap_status audio_stream_open_file(const char *path, int rate, double max_seconds,
                                   audio_stream **out, clap_error *err) {
  if (!path) return clap_error_set(err, CLAP_ERR_ARG, "audio_stream_open_file: NULL path");
  if (!out) return clap_error_set(err, CLAP_ERR_ARG, "%s: no output pointer", path);
  *out = NULL;
  audio_stream *s = calloc(1, sizeof *s);
  if (!s) return clap_error_set(err, CLAP_ERR_NOMEM, "%s: out of memory", path);
  s->fd = -1;
  clap_status rc = stream_open(s, path, rate, max_seconds, err);
  struct stat st;
  /* As audio_decode_file: a regular file only (a FIFO never blocks). */
  if (!rc) {
    rc = fileio_open_regular(path, &s->fd, &st, err);
    if (rc == CLAP_ERR_NOTFOUND) rc = err ? (err->code = CLAP_ERR_IO) : CLAP_ERR_IO;
    if (rc) s->fd = -1;
  }
  if (!rc && st.st_size == 0) rc = clap_error_set(err, CLAP_ERR_FORMAT, "%s: empty (0 bytes)", path);
  if (!rc && !(s->sf = sf_open_fd(s->fd, SFM_READ, &s->info, SF_FALSE))) rc = open_failed(path, err);
  if (!rc) rc = stream_start(s, err);
  if (rc) {
    audio_stream_free(s);
    return rc;
  }
  *out = s;
  return CLAP_OK;
}

int audio_stream_channels(const audio_stream *s) { return s ? s->info.channels : 0; }
int audio_stream_source_rate(const audio_stream *s) { return s ? s->info.samplerate : 0; }

/* Source frames into dst (up to max); 0 at the end, after the truncation check. */
static clap_status stream_source(audio_stream *s, float *dst, long max, long *got,
                                 clap_error *err) {
  sf_count_t k = sf_readf_float(s->sf, dst, max);
  *got = k > 0 ? (long)k : 0;
  if (*got == 0) return check_complete(s->sf, s->name, &s->info, s->frames, err);
  if (*got > s->limit - s->frames)
    return clap_error_set(err, CLAP_ERR_RANGE, "%s: longer than the limit of %g s", s->name,
                          s->max_seconds);
  long ns = *got * s->info.channels;
  for (long i = 0; i < ns; i++)
    if (!isfinite(dst[i]))
      return clap_error_set(err, CLAP_ERR_FORMAT, "%s: sample %ld is not a finite number", s->name,
                            s->frames * s->info.channels + i);
  s->frames += *got;
  return CLAP_OK;
}

clap_status audio_stream_read(audio_stream *s, float *buf, long max_frames, long *got,
                              clap_error *err) {
  if (!s || !buf || !got || max_frames <= 0)
    return clap_error_set(err, CLAP_ERR_ARG, "audio_stream_read: bad arguments");
  *got = 0;
  if (s->done) return CLAP_OK;
  int ch = s->info.channels;
  clap_status rc = CLAP_OK;
  if (!s->soxr) {
    rc = stream_source(s, buf, max_frames, got, err);
    s->done = rc == CLAP_OK && *got == 0;
  }
  while (s->soxr && *got == 0 && !s->done && rc == CLAP_OK) {
    if (s->in_pos == s->in_n && !s->eof) {
      rc = stream_source(s, s->in, READ_CHUNK_FRAMES, &s->in_n, err);
      s->in_pos = 0;
      s->eof = s->in_n == 0;
      if (rc) break;
    }
    size_t idone = 0, odone = 0;
    soxr_error_t e = soxr_process(s->soxr, s->eof ? NULL : s->in + s->in_pos * ch,
                                  s->eof ? 0 : (size_t)(s->in_n - s->in_pos), &idone, buf,
                                  (size_t)max_frames, &odone);
    if (e)
      return clap_error_set(err, CLAP_ERR_INTERNAL, "%s: resample: libsoxr: %s", s->name, e);
    s->in_pos += (long)idone;
    *got = (long)odone;
    s->done = s->eof && odone == 0;
  }
  if (rc) {
    *got = 0;
    return rc;
  }
  clip(buf, *got * ch);
  return CLAP_OK;
}

void audio_stream_free(audio_stream *s) {
  if (!s) return;
  if (s->soxr) soxr_delete(s->soxr);
  if (s->sf) sf_close(s->sf);
  if (s->fd >= 0) close(s->fd);
  free(s->in);
  free(s->name);
  free(s);
}
