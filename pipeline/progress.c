/* progress — see progress.h. */
#define _POSIX_C_SOURCE 200809L
#include "progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

struct progress {
  char label[64];
  long total, done;
  int enabled;
  double started, last_draw;
  size_t drawn; /* length of the line on screen, to blank what a shorter one leaves */
};

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

progress *progress_create(const char *label, long total) {
  progress *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  snprintf(p->label, sizeof p->label, "%s", label);
  p->total = total;
  const char *force = getenv("CLAP_PROGRESS");
  p->enabled = force ? strcmp(force, "0") != 0 : isatty(STDERR_FILENO);
  p->started = now_seconds();
  return p;
}

/* The terminal's width: stderr's, else $COLUMNS, else 80. */
static size_t term_width(void) {
  struct winsize ws;
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  const char *c = getenv("COLUMNS");
  long n = c ? strtol(c, NULL, 10) : 0;
  return n > 0 && n < 10000 ? (size_t)n : 80;
}

/* The longest prefix of s of at most max bytes that ends on a UTF-8
** character boundary (a character of two columns takes three bytes or more,
** so max bytes never take more than max columns). */
static size_t utf8_cut(const char *s, size_t max) {
  size_t n = strlen(s);
  if (n <= max) return n;
  while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80) max--;
  return max;
}

static void progress_draw(progress *p, const char *note, int final) {
  double t = now_seconds() - p->started;
  double rate = t > 0 ? p->done / t : 0;
  char line[512];
  if (p->total > 0) {
    double frac = (double)p->done / (double)p->total;
    double eta = rate > 0 ? (p->total - p->done) / rate : 0;
    snprintf(line, sizeof line, "%s %ld/%ld %5.1f%% %.1f/s eta %.0fs", p->label, p->done,
             p->total, 100.0 * frac, rate, eta);
  } else {
    snprintf(line, sizeof line, "%s %ld %.1f/s", p->label, p->done, rate);
  }
  /* One column short of the width, so the cursor never wraps; the note
  ** gives way first, then the line is cut. */
  size_t width = term_width() - 1, len = strlen(line);
  if (note && *note && len + 2 <= width)
    snprintf(line + len, sizeof line - len, " %.*s", (int)utf8_cut(note, width - len - 1), note);
  size_t n = utf8_cut(line, width);
  fprintf(stderr, "\r%.*s", (int)n, line);
  for (size_t i = n; i < p->drawn && i < width; i++) fputc(' ', stderr);
  p->drawn = n;
  if (final) fputc('\n', stderr);
  fflush(stderr);
}

void progress_update(progress *p, long done, const char *note) {
  if (!p) return;
  p->done = done;
  if (!p->enabled) return;
  double t = now_seconds();
  if (t - p->last_draw < 0.1 && done != p->total) return;
  p->last_draw = t;
  progress_draw(p, note, 0);
}

void progress_finish(progress *p) {
  if (!p) return;
  if (p->enabled) progress_draw(p, NULL, 1);
  free(p);
}
