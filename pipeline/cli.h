/*
** cli — the command-line conventions every clap subcommand follows.
**
** Options are parsed by getopt_long: `--workers=2` and `--workers 2` are the
** same, a unique prefix of a long option is that option, options and
** operands may come in any order, and `--` ends the options. `-h` and
** `--help` print the command's help on stdout (exit 0). The help text is the
** one `clap help CMD` prints and the one the man page is generated from.
**
** Every usage error is two lines on stderr and exit status 2:
**   clap CMD: WHAT
**   see clap CMD --help
** where WHAT is "unknown option '--x'", "--name needs a value", "no database
** given", or, for a value the option cannot take,
**   --epochs: expected an integer from 0 to 1000000, got '-1'
** Each kind of value is parsed by one function here (cli_int, cli_number,
** cli_choice), so the wording is the same in every command.
**
** Typical use:
**   cli c = {"clap embed", embed_help, NULL};
**   for (int o; (o = cli_next(&c, argc, argv, "h", opts)) != CLI_END;)
**     switch (o) {
**     case CLI_EXIT: return c.status;
**     case OPT_WORKERS: if (cli_int(&c, 1, 256, &w)) return 2; break;
**     }
**   operands: argv[optind .. argc)
** argv[0] is the subcommand's name; getopt_long may reorder argv.
*/
#ifndef CLAP_CLI_H
#define CLAP_CLI_H

#include <getopt.h>
#include <stdio.h>

#include "registry.h"

#define CLI_END (-1)  /* no more options: the operands start at optind */
#define CLI_EXIT (-2) /* stop with exit status c->status (help printed, or a usage error) */

/* Long-only options of a command take values from CLI_OPT up, so they never
** collide with a short option's character. */
#define CLI_OPT 0x100

/* The entry every command's longopts has: --help. */
#define CLI_HELP_OPTION {"help", no_argument, NULL, 'h'}

/* The entry of every command that opens a database: --busy-timeout MS, how
** long to wait for another connection's write lock (db_set_busy_timeout;
** default DB_DEFAULT_BUSY_TIMEOUT_MS). cli_next applies it itself and
** cli_help adds its line to the help. */
#define CLI_BUSY_TIMEOUT 0xff
#define CLI_DB_OPTION {"busy-timeout", required_argument, NULL, CLI_BUSY_TIMEOUT}

typedef struct cli {
  const char *cmd;          /* "clap embed": the prefix of every message */
  const char *help;         /* the help text, or NULL when help_fn prints it */
  void (*help_fn)(FILE *f); /* prints the help text */
  int status;               /* after CLI_EXIT: 0 or 2 */
  const char *opt;          /* the option cli_next returned, as written ("--workers") */
  const struct option *longopts; /* the table of the last cli_next */
  char optbuf[64];
} cli;

/* The next option of argv (getopt_long with optstring and longopts; the
** first call starts over at argv[1]). Returns the option's val with optarg
** set, CLI_END, or CLI_EXIT after printing the help (status 0) or a usage
** error (status 2). optstring need not list 'h'; a leading '+' stops at
** the first operand (a verb: `clap model create ...`). */
int cli_next(cli *c, int argc, char **argv, const char *optstring, const struct option *longopts);

/* Print "CMD: MESSAGE" and "see CMD --help" on stderr; returns 2. */
int cli_usage(const cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print the help text to f. */
void cli_help(const cli *c, FILE *f);

/* The current option's value (optarg) as a whole number in [lo, hi] /
** a finite number in [lo, hi] / one of names (NULL-terminated, *out its
** index). 0 on success; otherwise the usage error is printed and the result
** is 2. */
int cli_int(const cli *c, long lo, long hi, long *out);
int cli_u64(const cli *c, unsigned long long *out); /* any non-negative 64-bit integer */
int cli_number(const cli *c, double lo, double hi, double *out);
int cli_choice(const cli *c, const char *const *names, int *out);
/* --precision of `clap embed`, `clap train`, ...: registry_prec_parse's
** values (registered, f32, bf16, auto), its message after the option's name. */
int cli_precision(const cli *c, registry_prec *out);

/* The operands after the options: the exit status 2 (after a usage error)
** when there are fewer than min or more than max (max < 0: no limit), else
** 0. what[i] names operand i in "no WHAT given" (the last name stands for
** the rest): {"database", "manifest", NULL}. */
int cli_operands(const cli *c, int argc, char **argv, const char *const *what, int min, int max);

#endif
