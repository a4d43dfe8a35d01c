/* sqlfn — see sqlfn.h. */
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT3

#include "sqlfn.h"

#include <stdarg.h>

const char *sqlfn_type_name(int type) {
  switch (type) {
    case SQLITE_INTEGER: return "an integer";
    case SQLITE_FLOAT: return "a real";
    case SQLITE_TEXT: return "text";
    case SQLITE_BLOB: return "a blob";
    default: return "NULL";
  }
}

void sqlfn_errorf(sqlite3_context *ctx, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *msg = sqlite3_vmprintf(fmt, ap);
  va_end(ap);
  if (!msg) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  sqlite3_result_error(ctx, msg, -1);
  sqlite3_free(msg);
}

void sqlfn_clap_error(sqlite3_context *ctx, const char *fn, const clap_error *err) {
  char *msg = sqlite3_mprintf("%s(): %s", fn, err->msg);
  if (!msg) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  if (err->code == CLAP_ERR_NOMEM) sqlite3_result_error_nomem(ctx);
  else sqlite3_result_error(ctx, msg, -1);
  sqlite3_free(msg);
}
