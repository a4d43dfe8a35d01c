/*
** clap segment — find the speech in recordings and write session manifests.
**
**   clap segment FILE... [--channel N|all] [--min-speech S] [--min-silence S]
**                        [--roles 0=salesperson,1=customer] [--options JSON]
**                        [--out MANIFEST.json | --out DIR]
**
** Each FILE (any format libsndfile reads; streamed, so hour-long calls are
** fine) is segmented by the voice-activity detector of ext/audio/vad.h on
** channel N or on every channel (the default), and becomes one session
** manifest (pipeline/segment.h: session = the file's name, one speaker per
** channel, one utterance per segment with its channel, start and end)
** that `clap ingest` reads as it reads any other. --min-speech and
** --min-silence set the detector's shortest segment and shortest splitting
** gap in seconds (defaults 0.25 and 0.5); --options sets any of its
** parameters as JSON ('{"onset_db": 3}', vad.h). With --channel N the
** other channels are still read, so that the other party's echo on N is
** not taken for speech (vad.h step 6). --roles maps channels to
** roles (default 0=salesperson,1=customer); a one-channel FILE under the
** default role gets a warning on stderr, since a call recorded in mono
** gives both parties that role.
** Output: with one FILE, the manifest goes to --out (written to a temporary
** file and renamed, so a failure leaves no partial file) or to stdout;
** with several FILEs --out must be a directory, which gets
** <session>.json per FILE. Audio paths in a manifest are relative to the
** manifest's directory (stdout: to the current directory).
** A FILE that cannot be read or holds no speech fails with a message naming
** it, and no manifest is written for it; the others are still written.
** On a terminal (or with CLAP_PROGRESS=1) a progress line on stderr counts
** the FILEs done. Exit status 0, 1 when any FILE failed, 2 on a usage error.
*/
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "progress.h"
#include "segment.h"
#include "vad.h"

static void segment_usage(FILE *f) {
  fprintf(f,
          "usage: clap segment FILE... [--channel N|all] [--min-speech S] [--min-silence S]\n"
          "                            [--roles 0=salesperson,1=customer] [--options JSON]\n"
          "                            [--out MANIFEST.json | --out DIR]\n"
          "\n"
          "Find the speech in recordings (voice-activity detection per channel) and\n"
          "write one session manifest per FILE for `clap ingest`.\n"
          "  --channel N|all  segment channel N only, or every channel (default all)\n"
          "  --min-speech S   shortest segment kept, seconds (default 0.25)\n"
          "  --min-silence S  shortest pause that splits two segments (default 0.5)\n"
          "  --roles SPEC     role of each channel (default 0=salesperson,1=customer)\n"
          "  --options JSON   any detector parameter (see ext/audio/vad.h)\n"
          "  --out PATH       the manifest file (one FILE) or a directory (default stdout)\n");
}

/* path relative to dir (both resolved first); malloc'd, NULL on error. */
static char *relative_to(const char *dir, const char *path) {
  char d[PATH_MAX], p[PATH_MAX];
  if (!realpath(dir, d) || !realpath(path, p)) return NULL;
  /* The longest common run of whole directories. */
  size_t common = 0;
  for (size_t i = 0; d[i] && d[i] == p[i]; i++)
    if (d[i] == '/') common = i + 1;
  size_t dl = strlen(d);
  if (!strncmp(d, p, dl) && p[dl] == '/') common = dl + 1;
  int ups = 0;
  for (size_t i = common; i < dl; i++) ups += d[i] == '/';
  if (common < dl) ups++;
  char *out = malloc((size_t)ups * 3 + strlen(p) + 1);
  if (!out) return NULL;
  out[0] = 0;
  for (int k = 0; k < ups; k++) strcat(out, "../");
  strcat(out, p + common);
  return out;
}

static char *dir_of(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash) return strdup(".");
  if (slash == path) return strdup("/");
  return strndup(path, (size_t)(slash - path));
}

/* Writes text to path through a temporary file in the same directory. */
static int write_file(const char *path, const char *text) {
  size_t n = strlen(path) + 32;
  char *tmp = malloc(n);
  if (!tmp) return 0;
  snprintf(tmp, n, "%s.tmp-%d", path, (int)getpid());
  FILE *f = fopen(tmp, "w");
  int ok = f && fputs(text, f) >= 0 && fputc('\n', f) != EOF;
  if (f && fclose(f) != 0) ok = 0;
  if (ok && rename(tmp, path) != 0) ok = 0;
  if (!ok) {
    fprintf(stderr, "clap segment: %s: cannot write: %s\n", path, strerror(errno));
    unlink(tmp);
  }
  free(tmp);
  return ok;
}

/* One FILE: its manifest to out (a file), into outdir, or to stdout. */
static int segment_one(const char *file, const char *out, const char *outdir,
                       const segment_request *r) {
  char session[64], *target = NULL;
  segment_session_id(file, session);
  if (outdir) {
    size_t n = strlen(outdir) + strlen(session) + 8;
    target = malloc(n);
    if (target) snprintf(target, n, "%s/%s.json", outdir, session);
  } else if (out) {
    target = strdup(out);
  }
  char *mdir = target ? dir_of(target) : strdup(".");
  char *ref = mdir ? relative_to(mdir, file) : NULL;
  int ok = 0;
  if (!ref) {
    fprintf(stderr, "clap segment: %s: cannot open: %s\n", file, strerror(errno));
  } else {
    char *json = NULL;
    clap_error err;
    int mono = 0;
    if (segment_manifest(file, ref, r, &json, &mono, &err) != CLAP_OK) {
      fprintf(stderr, "clap segment: %s\n", err.msg);
    } else {
      if (mono) segment_warn_mono("clap segment", file);
      ok = target ? write_file(target, json) : printf("%s\n", json) >= 0;
    }
    free(json);
  }
  free(ref);
  free(mdir);
  free(target);
  return ok;
}

enum { OPT_OUT = CLI_OPT };
static const struct option segment_opts[] = {
    CLI_HELP_OPTION, {"out", required_argument, NULL, OPT_OUT}, SEGMENT_LONG_OPTIONS, {0}};

int cmd_segment(int argc, char **argv) {
  segment_request r;
  segment_request_init(&r);
  const char *out = NULL;
  cli c = {.cmd = "clap segment", .help_fn = segment_usage};
  for (int o; (o = cli_next(&c, argc, argv, "", segment_opts)) != CLI_END;) {
    if (o == CLI_EXIT) return c.status;
    if (o == OPT_OUT) out = optarg;
    else if (segment_option(&c, o, &r)) return 2;
  }
  static const char *const operands[] = {"audio file", NULL};
  if (cli_operands(&c, argc, argv, operands, 1, -1)) return 2;
  int nfiles = argc - optind;
  struct stat st;
  int out_is_dir = out && stat(out, &st) == 0 && S_ISDIR(st.st_mode);
  if (nfiles > 1 && !out_is_dir)
    return cli_usage(&c, "several files need --out DIR (an existing directory)");
  int failed = 0;
  progress *p = progress_create("segment", nfiles);
  for (int i = optind; i < argc; i++) {
    failed += !segment_one(argv[i], out_is_dir ? NULL : out, out_is_dir ? out : NULL, &r);
    progress_update(p, i - optind + 1, argv[i]);
  }
  progress_finish(p);
  return failed ? 1 : 0;
}
