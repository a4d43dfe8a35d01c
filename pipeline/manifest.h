/*
** manifest — parse and validate one session manifest (DATA_SPEC.md,
** schemas/session.schema.json) into a read-only struct.
**
** Accepted: a JSON object (UTF-8) with
**   "session"    required, [A-Za-z0-9_.-]{1,64}
**   "scenario"   optional string
**   "channel"    optional: the channel every utterance decodes, a 0-based
**                index in [0, 63] or "mix" (the default: channels averaged)
**   "speakers"   optional array of {"id" (same pattern, unique), "gender", "name"}
**                (gender and name optional strings)
**   "utterances" required, non-empty array of
**       {"id"      required, same pattern, unique within the manifest
**        "audio"   required, a RELATIVE path, resolved against the manifest's
**                  directory ("../x.wav" is allowed; "/abs/x.wav" is refused so
**                  a manifest and its audio can be moved together)
**        "speaker" optional; when "speakers" is given it must be listed there
**        "role"    required, "salesperson" or "customer"
**        "start", "end"  optional seconds (a cut of a longer recording):
**                  start >= 0, end > 0, start < end when both are given;
**                  start alone = to the end, end alone = from the beginning
**        "text"    optional string
**        "channel" optional, as the session's, which it overrides}
** A channel past the audio file's channels is found at ingest, where the
** file is read.
** Keys starting with "x-" are the user's own notes and are ignored anywhere
** (as in the schema); null is not a valid value for any member (as in the
** schema). Refused, with a message
** "NAME: JSON.PATH: what is wrong" (e.g. "s1.json: utterances[3].role: must be
** \"salesperson\" or \"customer\", got \"buyer\""): invalid JSON (with line
** and column), a wrong type, a missing required member, an unknown member
** (a typo such as "stat" must not silently drop a cut), a duplicate key,
** invalid UTF-8 or a NUL in a string, a bad id, a duplicate utterance or
** speaker id, a bad cut.
**
** Several utterances may name the same audio file; they share one "source"
** (deduplicated on the resolved path) so the file is read and hashed once.
*/
#ifndef CLAP_MANIFEST_H
#define CLAP_MANIFEST_H

#include <stddef.h>

#include "clap_error.h"

#define MANIFEST_ID_MAX 64
#define MANIFEST_MIX (-1)          /* manifest_utterance.channel: channels averaged */
#define MANIFEST_MAX_CHANNELS 64

typedef struct manifest manifest;

/* Views into the manifest; valid until manifest_free. Absent optional
** strings are NULL. */
typedef struct manifest_speaker {
  const char *id;
  const char *gender;
  const char *name;
} manifest_speaker;

typedef struct manifest_utterance {
  const char *id;
  const char *audio;      /* as written in the manifest (stored as source_path) */
  const char *path;       /* resolved against the manifest's directory */
  int source;             /* index of the shared source file, 0..manifest_n_sources-1 */
  const char *speaker;
  const char *role;       /* "salesperson" or "customer" */
  int has_start, has_end; /* which of start/end were given */
  double start, end;      /* seconds; 0 when not given */
  const char *text;
  int channel;            /* 0-based, or MANIFEST_MIX */
} manifest_utterance;

/* Parse n bytes of JSON. name labels messages (usually the manifest path);
** base_dir is the directory audio paths are relative to (NULL or "" = as
** written). On success *out is owned by the caller (manifest_free); on error
** *out is NULL and err says what and where. */
clap_status manifest_parse(const char *json, size_t n, const char *name, const char *base_dir,
                           manifest **out, clap_error *err);

/* Read and parse the file at path; audio is resolved against its directory
** and the SHA-256 of its bytes is kept (manifest_sha256). A file that cannot
** be opened or read -> CLAP_ERR_IO "PATH: cannot open: ..." / "PATH: cannot
** read: ..."; one that is not a regular file (a FIFO, a directory) -> CLAP_ERR_IO
** "PATH: is a FIFO (named pipe), not a regular file"; one over 64 MiB ->
** CLAP_ERR_RANGE (fileio.h). */
clap_status manifest_load(const char *path, manifest **out, clap_error *err);

void manifest_free(manifest *m);

const char *manifest_name(const manifest *m);
const char *manifest_session(const manifest *m);
const char *manifest_scenario(const manifest *m);   /* NULL when absent */
const char *manifest_sha256(const manifest *m);     /* hex of the file bytes (also for parse) */
int manifest_n_speakers(const manifest *m);
const manifest_speaker *manifest_speaker_at(const manifest *m, int i);
int manifest_n_utterances(const manifest *m);
const manifest_utterance *manifest_utterance_at(const manifest *m, int i);
int manifest_n_sources(const manifest *m);
const char *manifest_source_path(const manifest *m, int i);  /* resolved */

#endif
