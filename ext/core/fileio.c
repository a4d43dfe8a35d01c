/* fileio — see fileio.h. */
#include "fileio.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static clap_status too_large(const char *path, size_t max, clap_error *err) {
  if (max >= ((size_t)1 << 30) && max % ((size_t)1 << 30) == 0)
    return clap_error_set(err, CLAP_ERR_RANGE, "%.300s: larger than %zu GiB", path, max >> 30);
  if (max >= ((size_t)1 << 20) && max % ((size_t)1 << 20) == 0)
    return clap_error_set(err, CLAP_ERR_RANGE, "%.300s: larger than %zu MiB", path, max >> 20);
  return clap_error_set(err, CLAP_ERR_RANGE, "%.300s: larger than %zu bytes", path, max);
}

/* The first buffer: the whole file plus one byte for the NUL (and the read
** that finds EOF) when its size is known, else 64 KiB; never more than the
** cap plus one, the byte that proves a stream is too long. */
static size_t first_capacity(FILE *f, size_t max, int *too_big) {
  struct stat sb;
  size_t cap = (size_t)1 << 16;
  *too_big = 0;
  if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode)) {
    if ((uintmax_t)sb.st_size > (uintmax_t)max) *too_big = 1;
    cap = (size_t)sb.st_size + 1;
  }
  return cap > max + 1 ? max + 1 : cap;
}

clap_status fileio_read(const char *path, size_t max_bytes, unsigned char **out, size_t *n,
                        clap_error *err) {
  *out = NULL;
  if (n) *n = 0;
  if (max_bytes > SIZE_MAX / 2) max_bytes = SIZE_MAX / 2;
  FILE *f = fopen(path, "rb");
  if (!f)
    return clap_error_set(err, errno == ENOENT ? CLAP_ERR_NOTFOUND : CLAP_ERR_IO,
                          "%.300s: cannot open: %s", path, strerror(errno));
  int too_big;
  size_t cap = first_capacity(f, max_bytes, &too_big), len = 0;
  if (too_big) {
    fclose(f);
    return too_large(path, max_bytes, err);
  }
  unsigned char *buf = malloc(cap);
  int read_errno = 0;
  while (buf) {
    errno = 0;
    size_t got = fread(buf + len, 1, cap - len, f);
    len += got;
    if (len < cap) {
      if (ferror(f)) read_errno = errno ? errno : EIO;
      break;
    }
    if (len > max_bytes) {
      fclose(f);
      free(buf);
      return too_large(path, max_bytes, err);
    }
    size_t grown = cap > max_bytes / 2 ? max_bytes + 1 : cap * 2;
    unsigned char *nb = realloc(buf, grown);
    if (!nb) free(buf);
    buf = nb;
    cap = grown;
  }
  fclose(f);
  if (!buf) return clap_error_set(err, CLAP_ERR_NOMEM, "%.300s: out of memory", path);
  if (read_errno) {
    free(buf);
    return clap_error_set(err, CLAP_ERR_IO, "%.300s: cannot read: %s", path, strerror(read_errno));
  }
  buf[len] = 0;
  *out = buf;
  if (n) *n = len;
  return CLAP_OK;
}
