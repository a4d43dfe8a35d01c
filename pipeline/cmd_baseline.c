/*
** clap baseline — the paper's supervised baseline (§III-B): the audio
** encoder's features, a linear projection and one fully connected layer,
** trained with BCE on the purchase_intention labels of the customer
** utterances of the training sessions (Adam); the decision threshold is
** Youden's J on the training ROC.
**
**   clap baseline DB --name NAME [--holdout-session S]... [--dim D]
**                    [--epochs N] [--lr X] [--batch N] [--seed N] [--encoder E]
**                    [--replace]
**
** Stored in clap_models as a clap_model whose metadata holds the fully
** connected layer and the threshold (the representation is in
** pipeline/fit.h). Exit 0 ok, 1 failure, 2 usage.
*/
#include "commands.h"
#include "fit.h"

static const char baseline_usage[] =
    "usage: clap baseline DB --name NAME [--holdout-session S]... [--dim D] [--epochs N]\n"
    "                     [--lr X] [--batch N] [--seed N] [--encoder E] [--replace]\n"
    "\n"
    "Train the supervised purchase-intention baseline (linear projection + one\n"
    "fully connected layer, BCE, Adam, threshold by Youden's J on the training\n"
    "ROC) and store it as NAME in clap_models.\n"
    "  --name NAME          the model's name\n"
    "  --holdout-session S  leave session S out of training (repeatable)\n"
    "  --replace            overwrite an existing model of that name\n";

int cmd_baseline(int argc, char **argv) {
  return fit_run_command(argc, argv, "clap baseline", baseline_usage, FIT_ARM_BASELINE);
}
