/*
** The command-line conventions (pipeline/cli.h): getopt_long's forms, the
** one wording of value and usage errors, help, operands.
*/
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "harness.h"

enum { OPT_WORKERS = CLI_OPT, OPT_FORCE, OPT_MODE, OPT_RATE };
static const struct option opts[] = {
    CLI_HELP_OPTION,
    {"workers", required_argument, NULL, OPT_WORKERS},
    {"force", no_argument, NULL, OPT_FORCE},
    {"mode", required_argument, NULL, OPT_MODE},
    {"rate", required_argument, NULL, OPT_RATE},
    {0}};

typedef struct parsed {
  long workers;
  int force, mode;
  double rate;
  int status;           /* -1 parsed, else the exit status */
  char err[1024];       /* what went to stderr */
  char out[1024];       /* what went to stdout */
  int first_operand;    /* optind after the options */
} parsed;

/* Capture fd (1 or 2) into a temp file while fn runs. */
static int capture_start(int fd, FILE **tmp) {
  fflush(fd == 1 ? stdout : stderr);
  *tmp = tmpfile();
  int saved = dup(fd);
  dup2(fileno(*tmp), fd);
  return saved;
}
static void capture_end(int fd, int saved, FILE *tmp, char *buf, size_t cap) {
  fflush(fd == 1 ? stdout : stderr);
  dup2(saved, fd);
  close(saved);
  rewind(tmp);
  size_t n = fread(buf, 1, cap - 1, tmp);
  buf[n] = 0;
  fclose(tmp);
}

static void parse(int argc, char **argv, parsed *p) {
  static const char *const modes[] = {"fast", "slow", "exact", NULL};
  static const char *const operands[] = {"database", "file", NULL};
  memset(p, 0, sizeof *p);
  FILE *te, *to;
  int se = capture_start(2, &te), so = capture_start(1, &to);
  cli c = {.cmd = "clap t", .help = "usage: clap t DB FILE...\n"};
  p->status = -1;
  for (int o; p->status < 0 && (o = cli_next(&c, argc, argv, "w:", opts)) != CLI_END;) {
    if (o == CLI_EXIT) p->status = c.status;
    else if (o == OPT_WORKERS || o == 'w') p->status = cli_int(&c, 1, 256, &p->workers) ? 2 : -1;
    else if (o == OPT_FORCE) p->force = 1;
    else if (o == OPT_MODE) p->status = cli_choice(&c, modes, &p->mode) ? 2 : -1;
    else if (o == OPT_RATE) p->status = cli_number(&c, 0.5, 2, &p->rate) ? 2 : -1;
  }
  if (p->status < 0 && cli_operands(&c, argc, argv, operands, 2, 3)) p->status = 2;
  p->first_operand = optind;
  capture_end(1, so, to, p->out, sizeof p->out);
  capture_end(2, se, te, p->err, sizeof p->err);
}

static void test_forms(void) {
  parsed p;
  char *a1[] = {"t", "--workers=2", "db", "f", NULL};
  parse(4, a1, &p);
  CHECK_INT(p.status, -1);
  CHECK_INT(p.workers, 2);
  char *a2[] = {"t", "db", "--workers", "3", "f", "--force", NULL};
  parse(6, a2, &p);
  CHECK_INT(p.status, -1);
  CHECK_INT(p.workers, 3);
  CHECK_INT(p.force, 1);
  /* operands are gathered after the options, in their order */
  CHECK(!strcmp(a2[p.first_operand], "db") && !strcmp(a2[p.first_operand + 1], "f"));
  char *a3[] = {"t", "-w4", "--wor", "5", "--mode=exact", "db", "--", "--force", NULL};
  parse(8, a3, &p);
  CHECK_INT(p.status, -1);
  CHECK_INT(p.workers, 5); /* a unique prefix is the option */
  CHECK_INT(p.mode, 2);
  CHECK_INT(p.force, 0); /* after --, an operand */
  CHECK(!strcmp(a3[p.first_operand + 1], "--force"));
}

static void test_errors(void) {
  parsed p;
  char *a1[] = {"t", "--workers=-1", "db", "f", NULL};
  parse(4, a1, &p);
  CHECK_INT(p.status, 2);
  CHECK(!strcmp(p.err, "clap t: --workers: expected an integer from 1 to 256, got '-1'\n"
                       "see clap t --help\n"));
  char *a2[] = {"t", "--mode", "quick", "db", "f", NULL};
  parse(5, a2, &p);
  CHECK(!strcmp(p.err, "clap t: --mode: expected fast, slow or exact, got 'quick'\nsee clap t --help\n"));
  char *a3[] = {"t", "--rate", "nan", "db", "f", NULL};
  parse(5, a3, &p);
  CHECK_CONTAINS(p.err, "clap t: --rate: expected a number from 0.5 to 2, got 'nan'\n");
  char *a4[] = {"t", "db", "f", "--workers", NULL};
  parse(4, a4, &p);
  CHECK_INT(p.status, 2);
  CHECK(!strcmp(p.err, "clap t: --workers needs a value\nsee clap t --help\n"));
  char *a5[] = {"t", "db", "--fast", NULL};
  parse(3, a5, &p);
  CHECK(!strcmp(p.err, "clap t: unknown option '--fast'\nsee clap t --help\n"));
  char *a6[] = {"t", "db", "f", "--force=yes", NULL};
  parse(4, a6, &p);
  CHECK(!strcmp(p.err, "clap t: --force takes no value\nsee clap t --help\n"));
  char *a7[] = {"t", "db", NULL};
  parse(2, a7, &p);
  CHECK(!strcmp(p.err, "clap t: no file given\nsee clap t --help\n"));
  char *a8[] = {"t", NULL};
  parse(1, a8, &p);
  CHECK(!strcmp(p.err, "clap t: no database given\nsee clap t --help\n"));
  char *a9[] = {"t", "a", "b", "c", "d", NULL};
  parse(5, a9, &p);
  CHECK(!strcmp(p.err, "clap t: unexpected argument 'd'\nsee clap t --help\n"));
  char *a10[] = {"t", "-x", "a", "b", NULL};
  parse(4, a10, &p);
  CHECK(!strcmp(p.err, "clap t: unknown option '-x'\nsee clap t --help\n"));
  char *a11[] = {"t", "db", "f", "-w", NULL};
  parse(4, a11, &p);
  CHECK(!strcmp(p.err, "clap t: -w needs a value\nsee clap t --help\n"));
}

static void test_help(void) {
  parsed p;
  char *a1[] = {"t", "--help", NULL};
  parse(2, a1, &p);
  CHECK_INT(p.status, 0);
  CHECK(!strcmp(p.out, "usage: clap t DB FILE...\n"));
  CHECK(!strcmp(p.err, ""));
  char *a2[] = {"t", "db", "-h", "--workers", "x", NULL};
  parse(5, a2, &p);
  CHECK_INT(p.status, 0);
}

int main(void) {
  RUN(test_forms);
  RUN(test_errors);
  RUN(test_help);
  return harness_report();
}
