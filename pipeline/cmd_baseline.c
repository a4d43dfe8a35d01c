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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "commands.h"
#include "db.h"
#include "fit.h"
#include "model_store.h"
#include "progress.h"

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

static void on_epoch(void *ctx, int epoch, int epochs, double loss) {
  char note[64];
  snprintf(note, sizeof note, "loss %.4f", loss);
  progress_update(ctx, epoch, note);
  (void)epochs;
}

int cmd_baseline(int argc, char **argv) {
  fit_command fc;
  int status = fit_parse_command(argc, argv, "clap baseline", baseline_usage, 0, &fc);
  if (status >= 0) return status;
  fit_options o = fc.o;
  const char *path = fc.path, *name = fc.name;
  int replace = fc.replace;
  sqlite3 *db;
  clap_error err;
  if (db_open(path, 0, &db, &err) != CLAP_OK) {
    fprintf(stderr, "clap baseline: %s\n", err.msg);
    fit_command_free(&fc);
    return 1;
  }
  clap_model *m = NULL;
  clap_status rc = CLAP_OK;
  if (!replace && model_store_exists(db, name))
    rc = clap_error_set(&err, CLAP_ERR_ARG, "a model named '%s' exists (use --replace)", name);
  if (rc == CLAP_OK) {
    char label[128];
    snprintf(label, sizeof label, "baseline %s", name);
    progress *p = progress_create(label, o.epochs);
    o.on_epoch = on_epoch;
    o.ctx = p;
    rc = fit_baseline(db, &o, &m, &err);
    progress_finish(p);
  }
  if (rc == CLAP_OK) rc = model_store_put(db, name, m, replace, NULL, &err);
  if (rc == CLAP_OK) {
    cJSON *meta = cJSON_Parse(model_metadata(m));
    printf("baseline: model '%s' stored (threshold %.6g, Youden's J %.3f, training AUC %.3f)\n",
           name, cJSON_GetObjectItem(meta, "threshold")->valuedouble,
           cJSON_GetObjectItem(meta, "youden_j")->valuedouble,
           cJSON_GetObjectItem(meta, "train_auc")->valuedouble);
    cJSON_Delete(meta);
  } else {
    fprintf(stderr, "clap baseline: %s\n", err.msg);
  }
  model_free(m);
  db_close(db);
  fit_command_free(&fc);
  return rc == CLAP_OK ? 0 : 1;
}
