/*
** segment — a recording's speech as a session manifest (`clap segment`,
** `clap ingest --segment`).
**
** The recording is segmented by ext/audio/vad.h (streamed; any format
** audio.h reads) on one channel or all, and the manifest
** (schemas/session.schema.json) gets:
**   "session"    the file's name without its extension, characters outside
**                [A-Za-z0-9_.-] replaced by '_', at most 48 of them;
**   "speakers"   one per channel found, id "<session>-ch<N>";
**   "utterances" one per segment, in order of start time: id
**                "<session>-c<N>-<nnnn>" (numbered per channel from 1),
**                "audio" as the caller gives it, "channel" N, "start" and
**                "end" in seconds (rounded to the millisecond), "speaker"
**                and "role" as mapped for its channel.
** Roles per channel: segment_parse_roles reads "0=salesperson,1=customer"
** (the default when none is given: channel 0 the salesperson, 1 the
** customer); a channel with speech and no role is an error naming it.
** A recording in which no speech is found is an error ("PATH: no speech
** found on channel 1" / "... on any of its 2 channels"), so no empty
** session is ever written.
*/
#ifndef CLAP_SEGMENT_H
#define CLAP_SEGMENT_H

#include "clap_error.h"
#include "cli.h"
#include "manifest.h"
#include "vad.h"

typedef struct segment_request {
  int channel;                            /* 0-based or VAD_ALL_CHANNELS */
  vad_options vad;
  const char *roles[MANIFEST_MAX_CHANNELS]; /* NULL = the default */
  double max_seconds;                     /* longest recording; 0 = 4 hours */
} segment_request;

/* Defaults: every channel, vad_options_default, default roles. */
void segment_request_init(segment_request *r);

/* "N=role,N=role": roles are "salesperson" or "customer", N in [0, 63].
** The strings point into `spec` (keep it alive). */
clap_status segment_parse_roles(const char *spec, segment_request *r, clap_error *err);

/* Segments the file at `path` and returns the manifest as JSON text
** (malloc'd, *json). audio_ref is the "audio" every utterance gets (a path
** relative to where the manifest will live). *mono_default (may be NULL)
** is set to 1 when the recording has one channel and its role is the
** default one, not one the caller gave: a mono call holds both parties
** under that role, which the commands warn about. */
clap_status segment_manifest(const char *path, const char *audio_ref, const segment_request *r,
                             char **json, int *mono_default, clap_error *err);

/* Prints to stderr the warning for a mono recording under the default role
** (segment_manifest's *mono_default), prefixed with cmd ("clap segment"). */
void segment_warn_mono(const char *cmd, const char *path);

/* The session id segment_manifest derives from path, into out (>= 49 bytes). */
void segment_session_id(const char *path, char *out);

/* The command-line options `clap segment` and `clap ingest --segment`
** share, for their getopt_long tables (pipeline/cli.h):
**   --channel N|all  --min-speech S  --min-silence S  --roles SPEC
**   --options JSON (vad.h's parameters by name)
** segment_option parses the current one (opt, optarg) into r: 0, or 2
** after printing the usage error ("clap segment: --roles: channel 1: role
** must be salesperson or customer, got 'buyer'"); any other opt is left
** alone (0). */
enum {
  SEGMENT_OPT_CHANNEL = CLI_OPT + 0x80,
  SEGMENT_OPT_MIN_SPEECH,
  SEGMENT_OPT_MIN_SILENCE,
  SEGMENT_OPT_ROLES,
  SEGMENT_OPT_OPTIONS
};
#define SEGMENT_LONG_OPTIONS                                              \
  {"channel", required_argument, NULL, SEGMENT_OPT_CHANNEL},             \
      {"min-speech", required_argument, NULL, SEGMENT_OPT_MIN_SPEECH},   \
      {"min-silence", required_argument, NULL, SEGMENT_OPT_MIN_SILENCE}, \
      {"roles", required_argument, NULL, SEGMENT_OPT_ROLES},             \
      {"options", required_argument, NULL, SEGMENT_OPT_OPTIONS}
int segment_option(const cli *c, int opt, segment_request *r);

#endif
