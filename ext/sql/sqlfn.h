/*
** sqlfn — what every SQL function of the extension shares: the names of
** SQLite's value types in messages, and the one form of an error result,
** "fn(): argument N: what is wrong" (sqlite_clap.c's contract).
**
** Compiled twice like sqlite_clap.c (sqlite3ext.h routines / SQLITE_CORE).
*/
#ifndef CLAP_SQLFN_H
#define CLAP_SQLFN_H

#include <sqlite3.h>

#include "clap_error.h"

/* The longest recording an audio argument is decoded from, in seconds. */
#define SQLFN_AUDIO_MAX_SECONDS 3600.0

/* "an integer", "a real", "text", "a blob" or "NULL" (a static string). */
const char *sqlfn_type_name(int type);

/* The one parser of a bytes argument (argument argi of fn, 1-based): audio
** file bytes (a blob), or text when want_text. Returns 0 with *p and *n set
** (SQLite owns the bytes, valid until the value changes), 1 when the value is
** NULL, -1 when it is of another type or empty, with *msg the message
** ("fn(): argument N: ..."), which the caller frees with sqlite3_free (NULL
** when out of memory). */
int sqlfn_arg_bytes(sqlite3_value *v, const char *fn, int argi, int want_text, const void **p,
                    int *n, char **msg);

/* Sets ctx's error to the printf-formatted message (out of memory when it
** cannot be formatted). */
void sqlfn_errorf(sqlite3_context *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Sets ctx's error to "fn(): <err's message>"; CLAP_ERR_NOMEM is SQLite's
** out-of-memory error. */
void sqlfn_clap_error(sqlite3_context *ctx, const char *fn, const clap_error *err);

#endif
