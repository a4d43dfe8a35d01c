/*
** sha256 — SHA-256 (FIPS 180-4) of bytes in memory, in one call or streamed.
**
** Accepts any bytes, any length (including zero); hashing memory cannot fail. Used for the
** content hashes the database keys on (utterances.source_sha256,
** sessions.manifest_sha256, clap_encoders.sha256 of weights files), always as 64 lowercase hex digits.
**
** The context is a plain value the caller owns (usually on the stack), so
** there is no create/free pair: sha256_init, any number of sha256_update,
** then sha256_final or sha256_final_hex, after which the context is spent.
*/
#ifndef CLAP_SHA256_H
#define CLAP_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_SIZE 32
#define SHA256_HEX_SIZE 65 /* 64 hex digits and the terminating NUL */

typedef struct sha256_ctx {
  uint32_t h[8];
  uint64_t nbytes;        /* message length so far */
  unsigned char buf[64];  /* a partial block */
  size_t nbuf;
} sha256_ctx;

void sha256_init(sha256_ctx *c);
void sha256_update(sha256_ctx *c, const void *data, size_t n);
void sha256_final(sha256_ctx *c, unsigned char digest[SHA256_DIGEST_SIZE]);
void sha256_final_hex(sha256_ctx *c, char hex[SHA256_HEX_SIZE]);

/* Hex digest of a whole file, read in 64 KiB pieces. The only function here
** that can fail: CLAP_ERR_IO naming the path; a path that is not a regular
** file (a FIFO would block, a device never end) -> CLAP_ERR_FORMAT
** "PATH: is a FIFO (named pipe), not a regular file", before anything is
** opened. */
#include "clap_error.h"
clap_status sha256_file(const char *path, char hex[SHA256_HEX_SIZE], clap_error *err);

/* One call: hex digest of n bytes at data (data may be NULL when n is 0). */
void sha256_hex(const void *data, size_t n, char hex[SHA256_HEX_SIZE]);

#endif
