/*
** The subcommands of the clap CLI. Each lives in its own pipeline/cmd_*.c,
** takes the arguments after its name (argv[0] is the subcommand name) and
** returns the process exit status: 0 success, 1 a failure it reported on
** stderr, 2 a usage error.
*/
#ifndef CLAP_COMMANDS_H
#define CLAP_COMMANDS_H

int cmd_model(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_ingest(int argc, char **argv);
int cmd_paraphrase(int argc, char **argv);
int cmd_import_annotations(int argc, char **argv);
int cmd_labels(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_baseline(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_convert_checkpoint(int argc, char **argv);
int cmd_encoder(int argc, char **argv);
int cmd_segment(int argc, char **argv);

#endif
