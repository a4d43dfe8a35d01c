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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "db.h"
#include "fit.h"
#include "model_store.h"
#include "progress.h"

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

typedef struct epoch_ctx {
  progress *p;
  double last;
} epoch_ctx;

static void on_epoch(void *ctx, int epoch, int epochs, double loss) {
  epoch_ctx *c = ctx;
  char note[64];
  snprintf(note, sizeof note, "loss %.4f", loss);
  c->last = loss;
  progress_update(c->p, epoch, note);
  (void)epochs;
}

int cmd_train(int argc, char **argv) {
  fit_command fc;
  int status = fit_parse_command(argc, argv, "clap train", train_usage, 1, &fc);
  if (status >= 0) return status;
  fit_options o = fc.o;
  const char *path = fc.path, *name = fc.name;
  int replace = fc.replace;
  sqlite3 *db;
  clap_error err;
  if (db_open(path, 0, &db, &err) != CLAP_OK) {
    fprintf(stderr, "clap train: %s\n", err.msg);
    fit_command_free(&fc);
    return 1;
  }
  clap_model *m = NULL;
  clap_status rc = CLAP_OK;
  if (!replace && model_store_exists(db, name))
    rc = clap_error_set(&err, CLAP_ERR_ARG, "a model named '%s' exists (use --replace)", name);
  epoch_ctx ec = {NULL, 0};
  if (rc == CLAP_OK) {
    char label[128];
    snprintf(label, sizeof label, "train %s", name);
    ec.p = progress_create(label, o.epochs);
    o.on_epoch = on_epoch;
    o.ctx = &ec;
    rc = fit_clap(db, &o, &m, &err);
    progress_finish(ec.p);
  }
  if (rc == CLAP_OK) rc = model_store_put(db, name, m, replace, NULL, &err);
  if (rc == CLAP_OK)
    printf("train: model '%s' stored (%d epochs, final loss %.4f, augment %s)\n", name, o.epochs,
           ec.last, o.augment ? "paraphrase" : "none");
  else
    fprintf(stderr, "clap train: %s\n", err.msg);
  model_free(m);
  db_close(db);
  fit_command_free(&fc);
  return rc == CLAP_OK ? 0 : 1;
}
