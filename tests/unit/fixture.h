/*
** Fixture files for unit tests: fixture_dir names a directory under
** $CLAP_ROOT (default: the current directory, where tests/run.sh runs), fx()
** joins a path under it, and fixture_read() reads a whole file with the
** engine's own reader (fileio.h). fixture_read returns a malloc'd,
** NUL-terminated buffer (n, if given, its size), or NULL when the file
** cannot be read, so a test CHECKs it rather than crashing.
*/
#ifndef CLAP_TEST_FIXTURE_H
#define CLAP_TEST_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

#include "fileio.h"

static char fixture_root[1024];

static inline void fixture_dir(const char *sub) {
  const char *root = getenv("CLAP_ROOT");
  snprintf(fixture_root, sizeof fixture_root, "%s/%s", root ? root : ".", sub);
}

/* Four results may be live at once (fx(a), fx(b) in one call). */
static inline const char *fx(const char *rel) {
  static char buf[4][1200];
  static int slot;
  char *b = buf[slot++ % 4];
  snprintf(b, sizeof buf[0], "%s/%s", fixture_root, rel);
  return b;
}

static inline char *fixture_read(const char *path, size_t *n) {
  unsigned char *b;
  return fileio_read(path, (size_t)1 << 30, &b, n, NULL) == CLAP_OK ? (char *)b : NULL;
}

#endif
