/*
** clap — the command-line pipeline of sqlite-clap.
**
**   clap <command> [options]    clap help [COMMAND]    clap --version (-V)
**
** Commands (each documented in its own pipeline/cmd_*.c and by
** `clap <command> --help`). Exit status: 0 success, 1 a failure reported on
** stderr, 2 a usage error. The SQL functions of the extension are registered
** on every connection the CLI opens, so pipeline steps use the same engine
** as SQL users.
*/
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "cli.h"
#include "clap_version.h"
#include "commands.h"
#include "sqlite_clap.h"


typedef struct command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} command;

static const command commands[] = {
    {"init", cmd_init, "create or upgrade a clap database"},
    {"segment", cmd_segment, "find the speech in call recordings and write session manifests"},
    {"ingest", cmd_ingest, "ingest session manifests and their audio"},
    {"import-annotations", cmd_import_annotations, "import annotator scores (CSV, TSV, JSON)"},
    {"labels", cmd_labels, "normalise annotator scores and binarise labels"},
    {"paraphrase", cmd_paraphrase, "paraphrase class descriptions with an LLM (OpenAI-compatible)"},
    {"embed", cmd_embed, "fill the encoder feature cache for utterances and descriptions"},
    {"merge", cmd_merge, "fold shard databases of `clap embed --shard K/N` into one"},
    {"train", cmd_train, "train a multi-class multi-task CLAP model"},
    {"baseline", cmd_baseline, "train the supervised purchase-intention baseline"},
    {"eval", cmd_eval, "leave-one-session-out evaluation (paper Table III)"},
    {"report", cmd_report, "Table III as Markdown and an HTML page with charts"},
    {"model", cmd_model, "create, list, show, export, import and delete CLAP models"},
    {"encoder", cmd_encoder, "register checkpoint (hubert, distilbert) and server (openai) encoders, list them"},
    {"convert-checkpoint", cmd_convert_checkpoint, "convert a PyTorch .bin to safetensors"},
    {NULL, NULL, NULL},
};

static void usage(FILE *f) {
  fprintf(f, "usage: clap <command> [options]\n       clap help [COMMAND]\n       clap --version\n\ncommands:\n");
  for (const command *c = commands; c->name; c++) fprintf(f, "  %-20s %s\n", c->name, c->summary);
  fprintf(f, "\n`clap help COMMAND` or `clap COMMAND --help` describes a command.\n"
             "Exit status: 0 success, 1 a failure reported on stderr, 2 a usage error.\n");
}

static const command *find(const char *name) {
  for (const command *c = commands; c->name; c++)
    if (!strcmp(name, c->name)) return c;
  return NULL;
}

int main(int argc, char **argv) {
  static const struct option opts[] = {
      CLI_HELP_OPTION, {"version", no_argument, NULL, 'V'}, {0}};
  cli c = {.cmd = "clap", .help_fn = usage};
  for (int o; (o = cli_next(&c, argc, argv, "+V", opts)) != CLI_END;) {
    if (o == CLI_EXIT) return c.status;
    printf("clap %s (sqlite %s)\n", CLAP_VERSION, sqlite3_libversion());
    return 0;
  }
  if (optind >= argc) {
    usage(stderr);
    return 2;
  }
  const char *name = argv[optind];
  if (!strcmp(name, "version")) {
    printf("clap %s (sqlite %s)\n", CLAP_VERSION, sqlite3_libversion());
    return 0;
  }
  if (!strcmp(name, "help")) {
    /* `clap help CMD` is `clap CMD --help`: the same text, from the command. */
    if (optind + 1 >= argc) return usage(stdout), 0;
    const command *h = find(argv[optind + 1]);
    if (!h) return cli_usage(&c, "unknown command '%s'", argv[optind + 1]);
    char *help_argv[] = {argv[optind + 1], "--help", NULL};
    return h->run(2, help_argv);
  }
  const command *cmd = find(name);
  if (!cmd) return cli_usage(&c, "unknown command '%s'", name);
  sqlite3_auto_extension((void (*)(void))sqlite3_clap_init);
  return cmd->run(argc - optind, argv + optind);
}
