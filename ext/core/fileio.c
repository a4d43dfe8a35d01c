/* fileio — see fileio.h. */
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utf8proc.h>

static clap_status too_large(const char *path, size_t max, clap_error *err) {
  if (max >= ((size_t)1 << 30) && max % ((size_t)1 << 30) == 0)
    return clap_error_set(err, CLAP_ERR_RANGE, "%.300s: larger than %zu GiB", path, max >> 30);
  if (max >= ((size_t)1 << 20) && max % ((size_t)1 << 20) == 0)
    return clap_error_set(err, CLAP_ERR_RANGE, "%.300s: larger than %zu MiB", path, max >> 20);
  return clap_error_set(err, CLAP_ERR_RANGE, "%.300s: larger than %zu bytes", path, max);
}

size_t fileio_utf8_invalid_at(const void *bytes, size_t n, size_t *line) {
  const utf8proc_uint8_t *s = bytes;
  size_t ln = 1, i = 0;
  while (i < n) {
    if (s[i] < 0x80) { /* ASCII: the common case, one byte at a time */
      ln += s[i++] == '\n';
      continue;
    }
    utf8proc_int32_t cp;
    size_t left = n - i > 4 ? 4 : n - i;
    utf8proc_ssize_t k = utf8proc_iterate(s + i, (utf8proc_ssize_t)left, &cp);
    if (k <= 0) break;
    i += (size_t)k;
  }
  if (line) *line = ln;
  return i;
}

clap_status fileio_check_utf8(const char *name, const void *bytes, size_t n, clap_error *err) {
  size_t line, at = fileio_utf8_invalid_at(bytes, n, &line);
  if (at == n) return CLAP_OK;
  return clap_error_set(err, CLAP_ERR_FORMAT,
                        "%.300s: line %zu: invalid UTF-8 at byte offset %zu (byte 0x%02x)", name,
                        line, at, ((const unsigned char *)bytes)[at]);
}

clap_status fileio_open_regular(const char *path, int *fd, struct stat *sb, clap_error *err) {
  struct stat own;
  if (!sb) sb = &own;
  *fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (*fd < 0)
    return clap_error_set(err, errno == ENOENT ? CLAP_ERR_NOTFOUND : CLAP_ERR_IO,
                          "%.300s: cannot open: %s", path, strerror(errno));
  int flags = -1, stat_rc = fstat(*fd, sb);
  if (stat_rc == 0 && !S_ISREG(sb->st_mode)) {
    close(*fd);
    *fd = -1;
    return clap_error_set(err, CLAP_ERR_IO, "%.300s: is %s, not a regular file", path,
                          fileio_kind(sb->st_mode));
  }
  if (stat_rc != 0 || (flags = fcntl(*fd, F_GETFL)) < 0 ||
      fcntl(*fd, F_SETFL, flags & ~O_NONBLOCK) < 0) {
    int saved = errno;
    close(*fd);
    *fd = -1;
    return clap_error_set(err, CLAP_ERR_IO, "%.300s: cannot open: %s", path, strerror(saved));
  }
  return CLAP_OK;
}

clap_status fileio_read(const char *path, size_t max_bytes, unsigned char **out, size_t *n,
                        clap_error *err) {
  *out = NULL;
  if (n) *n = 0;
  if (max_bytes > SIZE_MAX / 2) max_bytes = SIZE_MAX / 2;
  int fd;
  struct stat sb;
  clap_status rc = fileio_open_regular(path, &fd, &sb, err);
  if (rc) return rc;
  if ((uintmax_t)sb.st_size > (uintmax_t)max_bytes) {
    close(fd);
    return too_large(path, max_bytes, err);
  }
  /* The size plus one byte: the NUL, and the read that proves the end (a
  ** file may grow while we read it; then it is too large or read again). */
  size_t cap = (size_t)sb.st_size + 1, len = 0;
  unsigned char *buf = malloc(cap);
  int read_errno = 0;
  while (buf) {
    ssize_t got = read(fd, buf + len, cap - len);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      read_errno = errno;
      break;
    }
    len += (size_t)got;
    if (got == 0) break;
    if (len < cap) continue;
    if (len > max_bytes) {
      close(fd);
      free(buf);
      return too_large(path, max_bytes, err);
    }
    size_t grown = cap > max_bytes / 2 ? max_bytes + 1 : cap * 2;
    unsigned char *nb = realloc(buf, grown);
    if (!nb) free(buf);
    buf = nb;
    cap = grown;
  }
  close(fd);
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

/* ---- writing ------------------------------------------------------------ */

const char *fileio_kind(unsigned mode) {
  switch (mode & S_IFMT) {
    case S_IFREG: return "a regular file";
    case S_IFDIR: return "a directory";
    case S_IFCHR: return "a character device";
    case S_IFBLK: return "a block device";
    case S_IFIFO: return "a FIFO (named pipe)";
    case S_IFSOCK: return "a socket";
    case S_IFLNK: return "a symbolic link";
    default: return "not a regular file";
  }
}

/* dir of `from` (up to and including its last '/') followed by rel; malloc'd. */
static char *beside(const char *from, const char *rel) {
  const char *slash = strrchr(from, '/');
  size_t dl = slash ? (size_t)(slash - from) + 1 : 0, rl = strlen(rel);
  char *p = malloc(dl + rl + 1);
  if (!p) return NULL;
  memcpy(p, from, dl);
  memcpy(p + dl, rel, rl + 1);
  return p;
}

/* The path a write to `path` lands on: path itself, or the end of its chain of
** symlinks. *exists says whether something is there; *sb is its lstat. */
static char *resolve_target(const char *path, struct stat *sb, int *exists, clap_error *err) {
  char *p = strdup(path);
  for (int hops = 0; p; hops++) {
    if (lstat(p, sb) != 0) {
      if (errno != ENOENT) break;
      *exists = 0;
      return p;
    }
    if (!S_ISLNK(sb->st_mode)) {
      *exists = 1;
      return p;
    }
    if (hops == 40) {
      errno = ELOOP;
      break;
    }
    char link[PATH_MAX];
    ssize_t k = readlink(p, link, sizeof link - 1);
    if (k < 0) break;
    link[k] = 0;
    char *next = link[0] == '/' ? strdup(link) : beside(p, link);
    free(p);
    p = next;
  }
  if (!p) {
    clap_error_set(err, CLAP_ERR_NOMEM, "%.300s: out of memory", path);
  } else {
    clap_error_set(err, CLAP_ERR_IO, "%.300s: cannot write: %s", path, strerror(errno));
    free(p);
  }
  return NULL;
}

/* A new file beside target, opened for writing; its name in *tmp (malloc'd). */
static int create_temp(const char *target, char **tmp) {
  static int counter;
  size_t n = strlen(target) + 40;
  *tmp = malloc(n);
  if (!*tmp) return -1;
  for (int tries = 0; tries < 100; tries++) {
    int k = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
    snprintf(*tmp, n, "%s.tmp%ld-%d", target, (long)getpid(), k);
    int fd = open(*tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  return -1;
}

static int write_fully(int fd, const unsigned char *p, size_t n) {
  while (n > 0) {
    ssize_t k = write(fd, p, n > ((size_t)1 << 30) ? (size_t)1 << 30 : n);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) {
      if (k == 0) errno = EIO;
      return -1;
    }
    p += k;
    n -= (size_t)k;
  }
  return 0;
}

clap_status fileio_write_replace(const char *path, const void *buf, size_t n, clap_error *err) {
  if (!path || (!buf && n))
    return clap_error_set(err, CLAP_ERR_ARG, "fileio_write_replace: NULL argument");
  struct stat sb;
  int exists = 0;
  char *target = resolve_target(path, &sb, &exists, err);
  if (!target) return err ? err->code : CLAP_ERR_IO;
  if (exists && !S_ISREG(sb.st_mode)) {
    free(target);
    return clap_error_set(err, CLAP_ERR_IO, "%.300s: is %s, not a regular file; not replaced", path,
                          fileio_kind(sb.st_mode));
  }
  char *tmp = NULL;
  int fd = create_temp(target, &tmp);
  int ok = fd >= 0;
  if (ok && exists) {
    /* Keep who may read the file: a 0600 secret stays 0600. */
    ok = fchmod(fd, sb.st_mode & 07777) == 0;
    /* Only root may give a file away; for anyone else the owner is already theirs. */
    if (ok && geteuid() == 0) ok = fchown(fd, sb.st_uid, sb.st_gid) == 0;
  }
  ok = ok && write_fully(fd, buf, n) == 0 && fsync(fd) == 0;
  int saved = errno;
  if (fd >= 0 && close(fd) != 0 && ok) ok = 0, saved = errno;
  if (ok && rename(tmp, target) != 0) ok = 0, saved = errno;
  if (!ok && fd >= 0) unlink(tmp);
  int nomem = !tmp;
  free(tmp);
  free(target);
  if (nomem) return clap_error_set(err, CLAP_ERR_NOMEM, "%.300s: out of memory", path);
  if (!ok) return clap_error_set(err, CLAP_ERR_IO, "%.300s: cannot write: %s", path, strerror(saved));
  return CLAP_OK;
}
