/* sqlfn — see sqlfn.h. */
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT3

#include "sqlfn.h"

#include <stdarg.h>
#include <stddef.h>

const char *sqlfn_type_name(int type) {
  switch (type) {
    case SQLITE_INTEGER: return "an integer";
    case SQLITE_FLOAT: return "a real";
    case SQLITE_TEXT: return "text";
    case SQLITE_BLOB: return "a blob";
    default: return "NULL";
  }
}

int sqlfn_arg_bytes(sqlite3_value *v, const char *fn, int argi, int want_text, const void **p,
                    int *n, char **msg) {
  int t = sqlite3_value_type(v);
  *msg = NULL;
  if (t == SQLITE_NULL) return 1;
  if (want_text ? t != SQLITE_TEXT : t != SQLITE_BLOB) {
    *msg = sqlite3_mprintf("%s(): argument %d: expected %s, got %s", fn, argi,
                           want_text ? "text" : "audio file bytes (a blob)", sqlfn_type_name(t));
    return -1;
  }
  *p = want_text ? (const void *)sqlite3_value_text(v) : sqlite3_value_blob(v);
  *n = sqlite3_value_bytes(v);
  if (*n == 0) {
    *msg = sqlite3_mprintf("%s(): argument %d: empty %s", fn, argi, want_text ? "text" : "audio");
    return -1;
  }
  return 0;
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
