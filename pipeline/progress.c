/* progress — see progress.h. */
#define _POSIX_C_SOURCE 200809L
#include "progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct progress {
  char label[64];
  long total, done;
  int enabled;
  double started, last_draw;
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

static void progress_draw(progress *p, const char *note, int final) {
  double t = now_seconds() - p->started;
  double rate = t > 0 ? p->done / t : 0;
  if (p->total > 0) {
    double frac = (double)p->done / (double)p->total;
    double eta = rate > 0 ? (p->total - p->done) / rate : 0;
    fprintf(stderr, "\r%s %ld/%ld %5.1f%% %.1f/s eta %.0fs %-30.30s", p->label, p->done,
            p->total, 100.0 * frac, rate, eta, note ? note : "");
  } else {
    fprintf(stderr, "\r%s %ld %.1f/s %-30.30s", p->label, p->done, rate, note ? note : "");
  }
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
