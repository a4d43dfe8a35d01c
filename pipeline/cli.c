/*
** cli — the command-line conventions of the clap subcommands (cli.h).
*/
#include "cli.h"

#include "db.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void cli_help(const cli *c, FILE *f) {
  if (c->help) fputs(c->help, f);
  if (c->help_fn) c->help_fn(f);
  for (const struct option *o = c->longopts; o && o->name; o++)
    if (o->val == CLI_BUSY_TIMEOUT)
      fprintf(f, "  --busy-timeout MS    wait up to MS milliseconds for another command's write\n"
                 "                       lock before giving up (default %d)\n",
              DB_DEFAULT_BUSY_TIMEOUT_MS);
}

int cli_usage(const cli *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "%s: ", c->cmd);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\nsee %s --help\n", c->cmd);
  va_end(ap);
  return 2;
}

/* The option argument as written, without "=value": "--workers". */
static const char *written(cli *c, const char *arg) {
  size_t n = strcspn(arg, "=");
  if (n >= sizeof c->optbuf) n = sizeof c->optbuf - 1;
  memcpy(c->optbuf, arg, n);
  c->optbuf[n] = 0;
  return c->optbuf;
}

static int exit_with(cli *c, int status) {
  c->status = status;
  return CLI_EXIT;
}

/* A '?' or ':' from getopt_long: say which option and what is wrong. */
static int bad_option(cli *c, int r, char **argv, const struct option *longopts) {
  const char *arg = argv[optind - 1];
  int is_long = arg && arg[0] == '-' && arg[1] == '-';
  const char *name = c->optbuf;
  if (is_long) written(c, arg);
  else snprintf(c->optbuf, sizeof c->optbuf, "-%c", optopt ? optopt : '?');
  if (r == ':') return exit_with(c, cli_usage(c, "%s needs a value", name));
  if (!is_long) return exit_with(c, cli_usage(c, "unknown option '%s'", name));
  int matches = 0;
  for (const struct option *o = longopts; o && o->name; o++) {
    /* "--flag=x" for a flag that takes none: getopt_long names it in optopt */
    if (optopt && o->val == optopt && o->has_arg == no_argument && strchr(arg, '='))
      return exit_with(c, cli_usage(c, "--%s takes no value", o->name));
    matches += !strncmp(o->name, name + 2, strlen(name + 2));
  }
  return exit_with(c, cli_usage(c, "%s option '%s'", matches > 1 ? "ambiguous" : "unknown", name));
}

static int next_option(cli *c, int argc, char **argv, const char *optstring,
                       const struct option *longopts);

int cli_next(cli *c, int argc, char **argv, const char *optstring, const struct option *longopts) {
  c->longopts = longopts;
  for (;;) {
    int r = next_option(c, argc, argv, optstring, longopts);
    if (r != CLI_BUSY_TIMEOUT) return r;
    long ms;
    if (cli_int(c, 0, 86400000, &ms)) return exit_with(c, 2);
    db_set_busy_timeout((int)ms);
  }
}

static int next_option(cli *c, int argc, char **argv, const char *optstring,
                       const struct option *longopts) {
  if (!c->opt) optind = 0; /* the first call: start over (GNU getopt) */
  opterr = 0;
  char shorts[64];
  /* ':' first makes a missing value ':' rather than '?' ('+', stop at the
  ** first operand, goes before it); 'h' is help. */
  int stop = optstring && optstring[0] == '+';
  snprintf(shorts, sizeof shorts, "%s:h%s", stop ? "+" : "", optstring ? optstring + stop : "");
  int idx = -1;
  optopt = 0;
  int r = getopt_long(argc, argv, shorts, longopts, &idx);
  if (r == -1) {
    c->opt = "";
    return CLI_END;
  }
  if (r == '?' || r == ':') return bad_option(c, r, argv, longopts);
  if (idx >= 0) {
    snprintf(c->optbuf, sizeof c->optbuf, "--%s", longopts[idx].name);
  } else {
    snprintf(c->optbuf, sizeof c->optbuf, "-%c", r);
  }
  c->opt = c->optbuf;
  if (r == 'h') { /* -h, --help (CLI_HELP_OPTION) */
    cli_help(c, stdout);
    return exit_with(c, 0);
  }
  return r;
}

static int bad_value(const cli *c, const char *expected) {
  return cli_usage(c, "%s: expected %s, got '%s'", c->opt, expected, optarg ? optarg : "");
}

int cli_int(const cli *c, long lo, long hi, long *out) {
  const char *v = optarg ? optarg : "";
  char *end;
  errno = 0;
  long x = strtol(v, &end, 10);
  if (*v && !*end && !errno && x >= lo && x <= hi) {
    *out = x;
    return 0;
  }
  char what[96];
  if (lo == 1 && hi == LONG_MAX) snprintf(what, sizeof what, "a positive integer");
  else if (lo == 0 && hi == LONG_MAX) snprintf(what, sizeof what, "a non-negative integer");
  else snprintf(what, sizeof what, "an integer from %ld to %ld", lo, hi);
  return bad_value(c, what);
}

int cli_u64(const cli *c, unsigned long long *out) {
  const char *v = optarg ? optarg : "";
  char *end;
  errno = 0;
  unsigned long long x = strtoull(v, &end, 10);
  if (*v >= '0' && *v <= '9' && !*end && !errno) {
    *out = x;
    return 0;
  }
  return bad_value(c, "a non-negative integer");
}

int cli_number(const cli *c, double lo, double hi, double *out) {
  const char *v = optarg ? optarg : "";
  char *end;
  errno = 0;
  double x = strtod(v, &end);
  if (*v && !*end && !errno && isfinite(x) && x >= lo && x <= hi) {
    *out = x;
    return 0;
  }
  char what[96];
  if (lo > 0 && isinf(hi)) snprintf(what, sizeof what, "a positive number");
  else snprintf(what, sizeof what, "a number from %g to %g", lo, hi);
  return bad_value(c, what);
}

int cli_precision(const cli *c, registry_prec *out) {
  clap_error err;
  if (registry_prec_parse(optarg, out, &err) == CLAP_OK) return 0;
  return cli_usage(c, "%s: %s", c->opt, err.msg);
}

int cli_choice(const cli *c, const char *const *names, int *out) {
  const char *v = optarg ? optarg : "";
  char what[256] = "";
  size_t n = 0;
  for (int i = 0; names[i]; i++) {
    if (!strcmp(v, names[i])) {
      *out = i;
      return 0;
    }
    const char *sep = !i ? "" : names[i + 1] ? ", " : " or ";
    int w = snprintf(what + n, sizeof what - n, "%s%s", sep, names[i]);
    if (w > 0 && (size_t)w < sizeof what - n) n += (size_t)w;
  }
  return bad_value(c, what);
}

int cli_operands(const cli *c, int argc, char **argv, const char *const *what, int min, int max) {
  int n = argc - optind;
  if (n < min) {
    int k = 0;
    while (k < n && what[k + 1]) k++;
    return cli_usage(c, "no %s given", what[k]);
  }
  if (max >= 0 && n > max) return cli_usage(c, "unexpected argument '%s'", argv[optind + max]);
  return 0;
}
