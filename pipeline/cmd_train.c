/*
** clap train — train a multi-class multi-task CLAP model (paper §II-B) and
** store it in clap_models.
**
**   clap train DB --name NAME [--holdout-session S]... [--augment none|paraphrase]
**                 [--head linear|mlp] [--dim 512] [--epochs N] [--lr X]
**                 [--batch 64] [--seed N] [--encoder E] [--text-encoder E] [--replace]
**
** What is trained on, the defaults and the model's metadata: pipeline/fit.h.
** Needs `clap labels` and `clap embed` first. Deterministic for a seed.
** Progress per epoch on a terminal. Exit 0 ok, 1 failure, 2 usage.
*/
#include "commands.h"
#include "fit.h"

static const char train_usage[] =
    "usage: clap train DB --name NAME [--holdout-session S]... [--augment none|paraphrase]\n"
    "                  [--head linear|mlp] [--dim D] [--epochs N] [--lr X] [--batch N]\n"
    "                  [--seed N] [--encoder E] [--text-encoder E] [--replace]\n"
    "\n"
    "Train the CLAP heads and temperature on the six emotion labels of every\n"
    "session not held out (purchase intention is never a training label) and\n"
    "store the model as NAME in clap_models. Run `clap labels` and `clap embed`\n"
    "first.\n"
    "  --name NAME          the model's name\n"
    "  --holdout-session S  leave session S out of training (repeatable)\n"
    "  --augment A          none: the original descriptions (default);\n"
    "                       paraphrase: originals + paraphrases, drawn at random\n"
    "  --replace            overwrite an existing model of that name\n";

int cmd_train(int argc, char **argv) {
  return fit_run_command(argc, argv, "clap train", train_usage, FIT_ARM_CLAP);
}
