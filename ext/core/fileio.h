/*
** fileio — read a whole file into memory, with a size cap; write one whole or
** not at all.
**
** fileio_read(path, max_bytes, &buf, &n, err) reads every byte of path into
** one malloc'd buffer that the caller frees. The buffer holds n bytes plus a
** NUL after them (not counted in n), so text callers can use it as a C
** string; a file with NUL bytes in it still comes back whole, n says where it
** ends. n may be NULL when only the string is wanted.
**
** Errors (clap_error, message starting with the path, cut to 300 bytes):
**   no such file                  -> CLAP_ERR_NOTFOUND "PATH: cannot open: <strerror>"
**   any other open failure        -> CLAP_ERR_IO       "PATH: cannot open: <strerror>"
**   not a regular file            -> CLAP_ERR_IO       "PATH: is a FIFO (named pipe), not a
**                                    regular file" (a directory, a character device, ...)
**   a read failure                -> CLAP_ERR_IO       "PATH: cannot read: <strerror>"
**   more than max_bytes bytes     -> CLAP_ERR_RANGE    "PATH: larger than N MiB" (or GiB,
**                                    or bytes when the cap is not a whole MiB)
**   allocation failure            -> CLAP_ERR_NOMEM    "PATH: out of memory"
** On any error *out is NULL and n (if given) is 0. The file is opened by
** fileio_open_regular, so a FIFO never blocks and a device is never read; a
** file larger than the cap is refused from its size, before anything is
** allocated. max_bytes is clamped to SIZE_MAX / 2.
*/
#ifndef CLAP_FILEIO_H
#define CLAP_FILEIO_H

#include "clap_error.h"

#include <stddef.h>

struct stat;

clap_status fileio_read(const char *path, size_t max_bytes, unsigned char **out, size_t *n,
                        clap_error *err);

/*
** fileio_check_utf8(name, bytes, n, err): the one check every reader of a
** text file (manifests, annotation CSV/TSV/JSON, paraphrase imports,
** checkpoint JSON) makes before parsing: n bytes of well-formed UTF-8 (no
** overlong forms, no surrogates, nothing above U+10FFFF), else CLAP_ERR_FORMAT
** "NAME: line L: invalid UTF-8 at byte offset B (byte 0xNN)" with L counted
** from 1 and B from 0, so a Latin-1 or Shift-JIS file is named, not stored.
*/
clap_status fileio_check_utf8(const char *name, const void *bytes, size_t n, clap_error *err);

/* The validator under fileio_check_utf8, for readers that word their own
** messages ("FILE:LINE: ..."): the byte offset of the first byte that does not
** start a valid UTF-8 sequence, or n when all is valid; *line (may be NULL)
** gets its line, counted from 1. */
size_t fileio_utf8_invalid_at(const void *bytes, size_t n, size_t *line);

/*
** fileio_open_regular(path, &fd, &sb, err) opens path for reading only when
** it is a regular file (after symlinks): it is opened with O_NONBLOCK, so a
** FIFO without a writer cannot block, and checked with fstat before a byte is
** read; the descriptor returned is blocking again. The caller closes *fd; sb
** (may be NULL) gets the fstat. Every reader of a user's path opens it here.
** Errors as fileio_read's: NOTFOUND/IO "cannot open", IO "is a ..., not a
** regular file". On error *fd is -1.
*/
clap_status fileio_open_regular(const char *path, int *fd, struct stat *sb, clap_error *err);

/*
** fileio_write_replace(path, buf, n, err) puts exactly the n bytes of buf at
** path, whole or not at all: they go to a new file beside the destination
** (DEST.tmpPID-K), which is flushed to disk and renamed over it; on any
** failure that file is removed and the destination is as it was.
**   - a symlink at path is followed (to the end of its chain, even when the
**     last link dangles): the link stays, its target gets the bytes;
**   - a destination that exists and is not a regular file (a character
**     device such as /dev/full, a FIFO, a directory, a socket) is refused
**     before anything is written: CLAP_ERR_IO "PATH: is a character device,
**     not a regular file; not replaced";
**   - a regular file replaced keeps its permission bits (and, when we may,
**     its owner); a new file gets 0666 less the umask, as fopen would.
** Other errors: CLAP_ERR_IO "PATH: cannot write: <strerror>" (a full disk, a
** read-only or missing directory), CLAP_ERR_NOMEM. Messages are cut to 300
** bytes of path.
*/
clap_status fileio_write_replace(const char *path, const void *buf, size_t n, clap_error *err);

/* What kind of file a st_mode is, for messages: "a FIFO", "a directory", ... */
const char *fileio_kind(unsigned mode);

#endif
