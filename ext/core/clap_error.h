/*
** clap_error — the one error convention of the engine.
**
** Every engine function that can fail returns a clap_status and, when given a
** non-NULL clap_error, fills it with a message that says what was wrong and
** where (argument, file, byte offset, row). The engine never prints and never
** exits: the SQL binding turns the message into sqlite3_result_error, the CLI
** prints it. A clap_error is a plain value owned by the caller (usually on the
** stack); no allocation is involved, so it can be filled on out-of-memory.
*/
#ifndef CLAP_ERROR_H
#define CLAP_ERROR_H

typedef enum clap_status {
  CLAP_OK = 0,
  CLAP_ERR_ARG,         /* a caller-supplied argument is invalid */
  CLAP_ERR_NOMEM,       /* allocation failed */
  CLAP_ERR_IO,          /* a file could not be read or written */
  CLAP_ERR_FORMAT,      /* bytes are not in the expected format (corrupt, truncated) */
  CLAP_ERR_RANGE,       /* a value is outside what we accept (dimension, rate, length) */
  CLAP_ERR_UNSUPPORTED, /* well-formed but not something we handle (future version) */
  CLAP_ERR_NOTFOUND,    /* a named thing (model, encoder, tensor) does not exist */
  CLAP_ERR_INTERNAL     /* a library we call failed in a way we did not expect */
} clap_status;

#define CLAP_ERROR_MSG_MAX 512

typedef struct clap_error {
  clap_status code;
  char msg[CLAP_ERROR_MSG_MAX];
} clap_error;

/* Record code and a printf-style message in e (which may be NULL); returns
** code so callers can write `return clap_error_set(e, CLAP_ERR_ARG, ...)`. */
clap_status clap_error_set(clap_error *e, clap_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Prefix the existing message with context ("file.wav: " + old message).
** Returns e->code; with e NULL there is no code to return, so callers keep
** their own status rather than returning this one. */
clap_status clap_error_prefix(clap_error *e, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

void clap_error_clear(clap_error *e);

#endif
