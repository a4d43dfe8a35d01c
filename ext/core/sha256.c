/* sha256 — see sha256.h. */
#include "sha256.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "fileio.h"

void sha256_init(sha256_ctx *c) {
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  if (md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
    EVP_MD_CTX_free(md);
    md = NULL;
  }
  c->md = md;
}

void sha256_update(sha256_ctx *c, const void *data, size_t n) {
  if (c->md && n && EVP_DigestUpdate(c->md, data, n) != 1) sha256_discard(c);
}

void sha256_discard(sha256_ctx *c) {
  EVP_MD_CTX_free(c->md);
  c->md = NULL;
}

int sha256_final(sha256_ctx *c, unsigned char digest[SHA256_DIGEST_SIZE]) {
  unsigned int len = 0;
  int ok = c->md && EVP_DigestFinal_ex(c->md, digest, &len) == 1 && len == SHA256_DIGEST_SIZE;
  sha256_discard(c);
  return ok ? 0 : -1;
}

static void to_hex(const unsigned char d[SHA256_DIGEST_SIZE], char hex[SHA256_HEX_SIZE]) {
  static const char digits[] = "0123456789abcdef";
  for (int i = 0; i < SHA256_DIGEST_SIZE; i++) {
    hex[2 * i] = digits[d[i] >> 4];
    hex[2 * i + 1] = digits[d[i] & 15];
  }
  hex[64] = 0;
}

int sha256_final_hex(sha256_ctx *c, char hex[SHA256_HEX_SIZE]) {
  unsigned char d[SHA256_DIGEST_SIZE];
  hex[0] = 0;
  if (sha256_final(c, d)) return -1;
  to_hex(d, hex);
  return 0;
}

int sha256_hex(const void *data, size_t n, char hex[SHA256_HEX_SIZE]) {
  unsigned char d[SHA256_DIGEST_SIZE];
  unsigned int len = 0;
  hex[0] = 0;
  if (EVP_Digest(n ? data : "", n, d, &len, EVP_sha256(), NULL) != 1 || len != SHA256_DIGEST_SIZE) return -1;
  to_hex(d, hex);
  return 0;
}

clap_status sha256_file(const char *path, char hex[SHA256_HEX_SIZE], clap_error *err) {
  struct stat sb;
  /* checked before fopen: opening a FIFO blocks, and a device never ends */
  if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode))
    return clap_error_set(err, CLAP_ERR_FORMAT, "%s: is %s, not a regular file", path,
                          fileio_kind(sb.st_mode));
  FILE *f = fopen(path, "rb");
  if (!f) return clap_error_set(err, CLAP_ERR_IO, "%s: %s", path, strerror(errno));
  unsigned char *buf = malloc(1 << 16);
  sha256_ctx c;
  sha256_init(&c);
  if (!buf || !c.md) {
    fclose(f);
    free(buf);
    sha256_discard(&c);
    return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory hashing %s", path);
  }
  size_t n;
  while ((n = fread(buf, 1, 1 << 16, f)) > 0) sha256_update(&c, buf, n);
  int bad = ferror(f);
  fclose(f);
  free(buf);
  if (bad) {
    sha256_discard(&c);
    return clap_error_set(err, CLAP_ERR_IO, "%s: read error", path);
  }
  if (sha256_final_hex(&c, hex)) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory hashing %s", path);
  return CLAP_OK;
}
