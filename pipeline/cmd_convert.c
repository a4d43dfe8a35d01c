/*
** clap convert-checkpoint — turn a PyTorch checkpoint into safetensors.
**
**   clap convert-checkpoint IN.bin OUT.safetensors
**
** IN is what torch.save writes (a ZIP of a pickle and raw storages; e.g. a
** Hugging Face pytorch_model.bin). Only tensors in a dict are read; a pickle
** that names anything else (os.system, a class) is refused without running
** anything (see ext/ckpt/torchbin.h). OUT gets every tensor under its name, same
** dtype, C order, bit for bit; it is written beside OUT and renamed over it
** (ext/core/fileio.h), so a failure leaves no partial file; a symlink at OUT
** is followed, a replaced file keeps its mode, and an OUT that is not a
** regular file (/dev/full, a FIFO) is refused. Prints "OUT: N tensors, B bytes".
** Exit 0 ok, 1 failure, 2 usage.
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "fileio.h"
#include "safetensors.h"
#include "torchbin.h"

static const char convert_usage[] = "usage: clap convert-checkpoint IN.bin OUT.safetensors\n";

int cmd_convert_checkpoint(int argc, char **argv) {
  static const struct option opts[] = {CLI_HELP_OPTION, {0}};
  cli c = {.cmd = "clap convert-checkpoint", .help = convert_usage};
  for (int o; (o = cli_next(&c, argc, argv, "", opts)) != CLI_END;)
    if (o == CLI_EXIT) return c.status;
  static const char *const operands[] = {"input checkpoint", "output file", NULL};
  if (cli_operands(&c, argc, argv, operands, 2, 2)) return 2;
  argv += optind - 1; /* IN is argv[1], OUT argv[2] below */
  void *buf = NULL;
  size_t n = 0;
  clap_error err;
  clap_status rc = torchbin_convert_file(argv[1], &buf, &n, &err);
  st_file *check = NULL;
  /* Re-read what we made with the same validator every loader uses. */
  if (rc == CLAP_OK) rc = st_open_memory(buf, n, 0, argv[2], &check, &err);
  int count = st_count(check);
  st_close(check);
  if (rc == CLAP_OK) rc = fileio_write_replace(argv[2], buf, n, &err);
  free(buf);
  if (rc != CLAP_OK) {
    fprintf(stderr, "clap convert-checkpoint: %s\n", err.msg);
    return 1;
  }
  printf("%s: %d tensors, %zu bytes\n", argv[2], count, n);
  return 0;
}
