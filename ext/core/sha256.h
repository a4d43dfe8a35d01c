/*
** sha256 — SHA-256 (FIPS 180-4) of bytes in memory, in one call or streamed,
** and of a whole file: a thin layer over OpenSSL's libcrypto (EVP), whose
** assembly kernels run several times faster than portable C.
**
** Accepts any bytes, any length (including zero). Used for the content
** hashes the database keys on (utterances.source_sha256,
** sessions.manifest_sha256, clap_encoders.sha256 of weights files, feature
** keys of texts), always as 64 lowercase hex digits.
**
** The context is a value the caller owns (usually on the stack) holding an
** OpenSSL digest context: sha256_init, any number of sha256_update, then
** sha256_final or sha256_final_hex, which release it; after that the
** context is spent. The one way to fail is OpenSSL running out of memory
** (in sha256_init): then the final call returns -1 and writes no digest
** (the hex form is ""), so an empty key matches nothing rather than a
** wrong digest matching something. A context abandoned between init and
** final must be released with sha256_discard.
*/
#ifndef CLAP_SHA256_H
#define CLAP_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "clap_error.h"

#define SHA256_DIGEST_SIZE 32
#define SHA256_HEX_SIZE 65 /* 64 hex digits and the terminating NUL */

typedef struct sha256_ctx {
  void *md; /* EVP_MD_CTX, NULL when OpenSSL could not allocate it */
} sha256_ctx;

void sha256_init(sha256_ctx *c);
void sha256_update(sha256_ctx *c, const void *data, size_t n);
/* 0, or -1 when OpenSSL failed (digest untouched, hex ""). */
int sha256_final(sha256_ctx *c, unsigned char digest[SHA256_DIGEST_SIZE]);
int sha256_final_hex(sha256_ctx *c, char hex[SHA256_HEX_SIZE]);
void sha256_discard(sha256_ctx *c);

/* Hex digest of a whole file, read in 64 KiB pieces: CLAP_ERR_IO naming the
** path; a path that is not a regular file (a FIFO would block, a device
** never end) -> CLAP_ERR_FORMAT "PATH: is a FIFO (named pipe), not a
** regular file", before anything is opened; CLAP_ERR_NOMEM. */
clap_status sha256_file(const char *path, char hex[SHA256_HEX_SIZE], clap_error *err);

/* One call: hex digest of n bytes at data (data may be NULL when n is 0);
** 0, or -1 with hex "" when OpenSSL ran out of memory. */
int sha256_hex(const void *data, size_t n, char hex[SHA256_HEX_SIZE]);

#endif
