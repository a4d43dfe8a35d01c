/*
** sqlite_clap — the SQL binding (entry point sqlite3_clap_init). Being
** written; see DESIGN.md for the surface.
*/
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT1

#include "clap_version.h"

static void fn_version(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  sqlite3_result_text(ctx, CLAP_VERSION, -1, SQLITE_STATIC);
}

#ifdef _WIN32
__declspec(dllexport)
#endif
int sqlite3_clap_init(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi) {
  SQLITE_EXTENSION_INIT2(pApi);
  return sqlite3_create_function(db, "clap_version", 0, SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS,
                                 0, fn_version, 0, 0);
}
