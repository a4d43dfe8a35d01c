/* SHA-256 against the FIPS 180-4 / NIST CSRC example vectors and block-boundary lengths. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "sha256.h"

static void check_hex(const void *data, size_t n, const char *want) {
  char hex[SHA256_HEX_SIZE];
  sha256_hex(data, n, hex);
  if (strcmp(hex, want) != 0) {
    harness_current_failed++;
    fprintf(stderr, "%s: %zu bytes: got %s, want %s\n", harness_current, n, hex, want);
  }
}

static void test_nist_vectors(void) {
  check_hex(NULL, 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  check_hex("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  check_hex(m448, strlen(m448), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  const char *m896 =
      "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmn"
      "opqrsmnopqrstnopqrstu";
  check_hex(m896, strlen(m896), "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

static void test_million_a(void) {
  char *a = malloc(1000000);
  CHECK(a != NULL);
  if (!a) return;
  memset(a, 'a', 1000000);
  check_hex(a, 1000000, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  free(a);
}

/* Lengths around the 55/56/64-byte padding boundaries (expected values from sha256sum). */
static void test_padding_boundaries(void) {
  static const struct { size_t n; const char *hex; } v[] = {
      {55, "d5e285683cd4efc02d021a5c62014694958901005d6f71e89e0989fac77e4072"},
      {56, "04c26261370ee7541549d16dee320c723e3fd14671e66a099afe0a377c16888e"},
      {63, "75220b47218278e656f2013bb8f0c455a25eaf01e86c64924e9d48d89776d6f2"},
      {64, "7ce100971f64e7001e8fe5a51973ecdfe1ced42befe7ee8d5fd6219506b5393c"},
      {65, "9537c5fdf120482f7d58d25e9ed583f52c02b4e304ea814db1633ad565aed7e9"},
      {119, "000b48d4edf0fa7bee3c6236ecd2785baa5db4eeb8bb54341b029e0d9fa5fb0c"},
      {120, "13f05a0b594787f5ecd315edc96141bd3243203d1b7d4f0836f37308b276ba98"},
  };
  char x[128];
  memset(x, 'x', sizeof x);
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) check_hex(x, v[i].n, v[i].hex);
}

/* Streaming in uneven pieces gives the same digest as one call. */
static void test_streaming_equals_one_shot(void) {
  unsigned char data[1000];
  for (int i = 0; i < 1000; i++) data[i] = (unsigned char)(i * 7 + 3);
  char one[SHA256_HEX_SIZE], streamed[SHA256_HEX_SIZE];
  sha256_hex(data, sizeof data, one);
  static const size_t pieces[] = {1, 63, 64, 65, 0, 7, 128, 300, 372};
  sha256_ctx c;
  sha256_init(&c);
  size_t off = 0;
  for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
    sha256_update(&c, data + off, pieces[i]);
    off += pieces[i];
  }
  CHECK_INT(off, sizeof data);
  CHECK_INT(sha256_final_hex(&c, streamed), 0);
  CHECK(c.md == NULL); /* released */
  /* a context abandoned half way is released by sha256_discard (ASan: no leak) */
  sha256_ctx d;
  sha256_init(&d);
  sha256_update(&d, data, 10);
  sha256_discard(&d);
  CHECK(d.md == NULL);
  CHECK_INT(sha256_hex(data, sizeof data, one), 0);
  CHECK(strcmp(one, streamed) == 0);
  CHECK_INT(strlen(streamed), 64);
}

/* A FIFO would block fopen forever, /dev/zero would never end: both are
** refused before anything is opened. A regular file still hashes. */
static void test_file_not_regular(void) {
  char dir[] = "/tmp/clap-sha-XXXXXX", fifo[64], plain[64], hex[SHA256_HEX_SIZE];
  clap_error e;
  CHECK(mkdtemp(dir) != NULL);
  snprintf(fifo, sizeof fifo, "%s/fifo", dir);
  snprintf(plain, sizeof plain, "%s/abc", dir);
  CHECK(mkfifo(fifo, 0600) == 0);
  CHECK_INT(sha256_file(fifo, hex, &e), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(e.msg, "fifo: is a FIFO (named pipe), not a regular file");
  CHECK_INT(sha256_file("/dev/zero", hex, &e), CLAP_ERR_FORMAT);
  FILE *f = fopen(plain, "wb");
  CHECK(f != NULL && fwrite("abc", 1, 3, f) == 3);
  if (f) fclose(f);
  CHECK_INT(sha256_file(plain, hex, &e), CLAP_OK);
  CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
  unlink(fifo), unlink(plain), rmdir(dir);
}

int main(void) {
  RUN(test_nist_vectors);
  RUN(test_million_a);
  RUN(test_padding_boundaries);
  RUN(test_streaming_equals_one_shot);
  RUN(test_file_not_regular);
  return harness_report();
}
