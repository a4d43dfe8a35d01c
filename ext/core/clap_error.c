/* clap_error — see clap_error.h. */
#include "clap_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

clap_status clap_error_set(clap_error *e, clap_status code, const char *fmt, ...) {
  if (e) {
    va_list ap;
    va_start(ap, fmt);
    e->code = code;
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
  }
  return code;
}

clap_status clap_error_prefix(clap_error *e, const char *fmt, ...) {
  if (!e) return CLAP_OK;
  char head[CLAP_ERROR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  int h = vsnprintf(head, sizeof head, fmt, ap);
  va_end(ap);
  if (h <= 0) return e->code;
  size_t hl = (size_t)h < sizeof head ? (size_t)h : sizeof head - 1;
  size_t ol = strnlen(e->msg, sizeof e->msg - 1);
  /* Keep as much of the old message as fits after the new head. */
  if (hl + ol > sizeof e->msg - 1) ol = hl < sizeof e->msg - 1 ? sizeof e->msg - 1 - hl : 0;
  memmove(e->msg + hl, e->msg, ol);
  memcpy(e->msg, head, hl);
  e->msg[hl + ol] = 0;
  return e->code;
}

void clap_error_clear(clap_error *e) {
  if (!e) return;
  e->code = CLAP_OK;
  e->msg[0] = 0;
}
