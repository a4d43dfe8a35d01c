/* fileio: whole files, the NUL after them, and one message per refusal the contract names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "harness.h"

static char path[64];

static void write_bytes(const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  CHECK(f != NULL);
  if (!f) return;
  CHECK(fwrite(p, 1, n, f) == n);
  fclose(f);
}

static void setup(void) {
  strcpy(path, "/tmp/clap-test-fileio-XXXXXX");
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  if (fd >= 0) close(fd);
}

static void test_whole_file(void) {
  write_bytes("ab\0cd", 5);
  unsigned char *b = (unsigned char *)1;
  size_t n = 99;
  clap_error e = {0};
  CHECK_INT(fileio_read(path, 5, &b, &n, &e), CLAP_OK);
  CHECK_INT((int)n, 5);
  CHECK(b && !memcmp(b, "ab\0cd", 6)); /* the NUL after the bytes included */
  free(b);
  /* n may be NULL; an empty file is an empty string. */
  write_bytes("", 0);
  CHECK_INT(fileio_read(path, 0, &b, NULL, &e), CLAP_OK);
  CHECK(b && b[0] == 0);
  free(b);
}

static void test_grows_past_first_buffer(void) {
  /* A device is never read: /dev/zero would never end. */
  unsigned char *b = NULL;
  size_t n = 7;
  clap_error e = {0};
  CHECK_INT(fileio_read("/dev/zero", 200000, &b, &n, &e), CLAP_ERR_IO);
  CHECK(b == NULL);
  CHECK_INT((int)n, 0);
  CHECK(!strcmp(e.msg, "/dev/zero: is a character device, not a regular file"));
  static char big[300000];
  for (size_t i = 0; i < sizeof big; i++) big[i] = (char)('a' + i % 26);
  write_bytes(big, sizeof big);
  CHECK_INT(fileio_read(path, sizeof big, &b, &n, &e), CLAP_OK);
  CHECK(n == sizeof big);
  CHECK(b && !memcmp(b, big, sizeof big) && b[n] == 0);
  free(b);
}

static void test_errors(void) {
  unsigned char *b = (unsigned char *)1;
  clap_error e = {0};
  CHECK_INT(fileio_read("/nonexistent/f.json", 10, &b, NULL, &e), CLAP_ERR_NOTFOUND);
  CHECK(b == NULL);
  CHECK(!strcmp(e.msg, "/nonexistent/f.json: cannot open: No such file or directory"));
  CHECK_INT(fileio_read("/tmp", 10, &b, NULL, &e), CLAP_ERR_IO);
  CHECK(!strcmp(e.msg, "/tmp: is a directory, not a regular file"));
  /* A FIFO with no writer: refused at once, never waited on. */
  char fifo[80];
  snprintf(fifo, sizeof fifo, "%s-fifo", path);
  unlink(fifo);
  CHECK(mkfifo(fifo, 0600) == 0);
  CHECK_INT(fileio_read(fifo, 10, &b, NULL, &e), CLAP_ERR_IO);
  CHECK_CONTAINS(e.msg, "-fifo: is a FIFO (named pipe), not a regular file");
  unlink(fifo);
  write_bytes("123456", 6);
  CHECK_INT(fileio_read(path, 5, &b, NULL, &e), CLAP_ERR_RANGE);
  CHECK_CONTAINS(e.msg, path);
  CHECK_CONTAINS(e.msg, ": larger than 5 bytes");
  /* Refused from the size alone: nothing of the (sparse) file is read. */
  CHECK(truncate(path, (1 << 20) + 1) == 0);
  CHECK_INT(fileio_read(path, 1 << 20, &b, NULL, &e), CLAP_ERR_RANGE);
  CHECK_CONTAINS(e.msg, ": larger than 1 MiB");
  CHECK(truncate(path, ((off_t)2 << 30) + 1) == 0);
  CHECK_INT(fileio_read(path, (size_t)2 << 30, &b, NULL, &e), CLAP_ERR_RANGE);
  CHECK_CONTAINS(e.msg, ": larger than 2 GiB");
  CHECK(b == NULL);
  /* Long paths are cut so the reason still fits in the message. */
  char longp[1200];
  memset(longp, 'x', sizeof longp - 1);
  longp[0] = '/';
  longp[sizeof longp - 1] = 0;
  CHECK(fileio_read(longp, 10, &b, NULL, &e) != CLAP_OK);
  CHECK_CONTAINS(e.msg, ": cannot open: ");
}

static void test_write_replace(void) {
  clap_error e = {0};
  unsigned char *b = NULL;
  size_t n = 0;
  CHECK(chmod(path, 0604) == 0);
  CHECK_INT(fileio_write_replace(path, "hello", 5, &e), CLAP_OK);
  CHECK_INT(fileio_read(path, 100, &b, &n, &e), CLAP_OK);
  CHECK(n == 5 && b && !memcmp(b, "hello", 5));
  free(b);
  struct stat sb;
  CHECK(stat(path, &sb) == 0 && (sb.st_mode & 07777) == 0604);
  /* Through a symlink: the link stays. */
  char link[80];
  snprintf(link, sizeof link, "%s-link", path);
  unlink(link);
  CHECK(symlink(path, link) == 0);
  CHECK_INT(fileio_write_replace(link, "x", 1, &e), CLAP_OK);
  CHECK(lstat(link, &sb) == 0 && S_ISLNK(sb.st_mode));
  CHECK(stat(path, &sb) == 0 && sb.st_size == 1);
  unlink(link);
  /* A FIFO is refused, and stays. */
  CHECK(mkfifo(link, 0600) == 0);
  CHECK_INT(fileio_write_replace(link, "x", 1, &e), CLAP_ERR_IO);
  CHECK_CONTAINS(e.msg, ": is a FIFO (named pipe), not a regular file; not replaced");
  CHECK(lstat(link, &sb) == 0 && S_ISFIFO(sb.st_mode));
  unlink(link);
  CHECK_INT(fileio_write_replace("/nonexistent/dir/f", "x", 1, &e), CLAP_ERR_IO);
  CHECK(!strcmp(e.msg, "/nonexistent/dir/f: cannot write: No such file or directory"));
}

static void test_utf8(void) {
  size_t line = 0;
  CHECK_INT(fileio_utf8_invalid_at("a\nb\xc3\xa9\xe7\x94\xb0\xf0\x9f\x98\x80", 12, &line), 12);
  CHECK_INT((int)line, 2);
  static const struct { const char *s; size_t at; } bad[] = {
      {"ab\n\xe9t\xe9", 3},      /* Latin-1 */
      {"\x93\x63", 0},            /* Shift-JIS */
      {"x\xc0\xaf", 1},           /* overlong '/' */
      {"x\xed\xa0\x80", 1},       /* a surrogate */
      {"x\xf4\x90\x80\x80", 1},   /* above U+10FFFF */
      {"xy\xe7\x94", 2},          /* cut off at the end */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    CHECK_INT(fileio_utf8_invalid_at(bad[i].s, strlen(bad[i].s), NULL), bad[i].at);
  clap_error e = {0};
  CHECK_INT(fileio_check_utf8("f.csv", "a\nb\n\xe9", 5, &e), CLAP_ERR_FORMAT);
  CHECK(!strcmp(e.msg, "f.csv: line 3: invalid UTF-8 at byte offset 4 (byte 0xe9)"));
  CHECK_INT(fileio_check_utf8("f.csv", "", 0, &e), CLAP_OK);
}

int main(void) {
  setup();
  RUN(test_whole_file);
  RUN(test_grows_past_first_buffer);
  RUN(test_errors);
  RUN(test_write_replace);
  RUN(test_utf8);
  unlink(path);
  return harness_report();
}
