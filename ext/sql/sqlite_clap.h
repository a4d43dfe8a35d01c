/*
** sqlite_clap — the entry point of the SQL functions (cosine, clap_encode_*,
** clap_embed_*, clap_zero_shot, clap_classify, ...; README.md, "SQL").
**
** Loaded as an extension (clap0.so), SQLite calls it by name. Linked
** statically (libclap.a, `pkg-config --static --libs clap`), a program
** registers the functions on every connection it opens:
**
**   #include <sqlite3.h>
**   #include "sqlite_clap.h"
**   sqlite3_auto_extension((void (*)(void))sqlite3_clap_init);
**
** or on one connection: sqlite3_clap_init(db, &errmsg, NULL). Returns an
** SQLite result code; on failure *pzErrMsg (if not NULL) is a message from
** sqlite3_malloc for the caller to sqlite3_free.
*/
#ifndef CLAP_SQLITE_CLAP_H
#define CLAP_SQLITE_CLAP_H

#include <sqlite3.h>

int sqlite3_clap_init(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi);

#endif
