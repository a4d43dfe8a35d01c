/*
** fit — training from a clap database: the multi-class multi-task CLAP
** model (paper §II-B, engine in ext/train/clap_train.h) and the supervised
** purchase-intention baseline (§III-B). Shared by `clap train`,
** `clap baseline` and `clap eval`.
**
** Training rows (CLAP): utterances of every session not held out that have
** at least one of the emotion labels. Tasks = the dimensions with
** training = 1 and customer_only = 0, in seed order (pleasant, aroused,
** dominant, credible, interested, positive); purchase_intention is never a
** task, whatever its flags say. A NULL label (equal to the threshold) is
** -1: that row takes no part in that task. Texts: the 'original'
** descriptions (status 'ok'); with augment also status-'ok' rows of source
** paraphrase, bundled or manual, drawn uniformly per row per batch
** (clap_text_pool_draw). Standardisation: audio from the training rows,
** text from the texts of the pool. Features come from the cache (`clap
** embed`); a missing vector is an error that says to run it.
**
** Baseline rows: customer utterances of the sessions not held out with a
** purchase_intention label. Model: standardisation -> linear projection
** (D) -> one fully connected unit -> sigmoid, BCE (ext/train/clap_bce.h),
** the one Adam of ext/train (clap_adam for the projection, clap_adam_vec for
** the unit; same epochs, lr, batch, seed as given), threshold = Youden's J
** on the training ROC. A non-finite logit or gradient fails training,
** naming the epoch and the row or parameter.
**
** Baseline representation: a clap_model (blob format of model.h, stored in
** clap_models like any model) whose audio side holds the standardisation
** and the projection (audio.w1 [D x in], audio.b1 [D]); its text side is a
** placeholder (text_encoder "none", text_in 1) and its log_scale unused.
** The fully connected layer and the operating point live in the metadata:
**   {"kind":"baseline","fc":{"w":[D numbers],"b":number},"threshold":t,
**    "youden_j":j,"train_auc":a,"loss":[...],"training":{...},
**    "provenance":{...}}
** Numbers are printed round-trip exact, so a loaded baseline predicts bit
** for bit what the trained one did. The SQL functions refuse it (its text
** encoder "none" is unknown), which is right: it is not a CLAP model.
**
** Encoders: the input dimensions and what the model records of each encoder
** (metadata encoders.<side>: name, weights sha256, files identity, and
** for a checkpoint encoder the precision of its features) come
** from the registration at o->prec (the registered precision, or
** --precision's: registry_row_at; the features read are those cached at
** that precision, vectors of another one are stale) (features_encoder_info, feature_cache.h): a
** built-in's instance, or a clap_encoders row's kind, dim, sha256 and
** config. The encoder is not created, so no checkpoint is hashed, mapped or
** loaded, however many fits (`clap eval`: three per fold) run. Checked at
** training time: the name is known and encodes the right modality; every
** cached vector was computed by the identity the row records now (a stale
** one is refused: run `clap embed`) and has the registered size. Not
** checked: the checkpoint's files. One changed or removed on disk since
** `clap encoder add` still trains from its cached vectors; the model
** records the registered identity, and the SQL functions hash the files
** when the model runs and refuse it then. (A row made by
** hand without a dim, or of an unknown kind, is created, its files verified.)
**
** Errors: no training rows, a task or class with no text, a missing
** feature vector, a baseline with only one class among its training
** labels: an error naming what is missing (CLAP_ERR_NOTFOUND / RANGE).
** Deterministic: the seed and the data fix the result bit for bit (the
** training products run on one thread each, clap_train.h).
*/
#ifndef CLAP_FIT_H
#define CLAP_FIT_H

#include <stdint.h>

#include <sqlite3.h>

#include "clap_error.h"
#include "cli.h"
#include "model.h"

/* Defaults: chosen so the demo corpus (a few hundred utterances, built-in
** encoders) learns in seconds. The paper's values are one flag away:
** --epochs 300 --lr 1e-6 --batch 64. */
#define FIT_DEFAULT_EPOCHS 40
#define FIT_DEFAULT_LR 1e-3
#define FIT_DEFAULT_BATCH 64
#define FIT_DEFAULT_DIM 512
#define FIT_DEFAULT_SEED 1

typedef struct fit_options {
  const char *audio_encoder;        /* default "acoustic" */
  const char *text_encoder;         /* default "ngram" */
  const char *const *holdout;       /* session ids left out of training */
  int nholdout;
  int augment;                      /* 0 originals only, 1 + paraphrases */
  model_head_kind head;
  int dim, hidden;
  int epochs, batch;
  double lr;
  uint64_t seed;
  registry_prec prec;               /* --precision; default REGISTRY_PREC_RECORDED */
  /* called after every epoch (may be NULL) */
  void (*on_epoch)(void *ctx, int epoch, int epochs, double loss);
  void *ctx;
} fit_options;

void fit_defaults(fit_options *o);

/* The trained CLAP model, metadata filled; *out is the caller's. */
clap_status fit_clap(sqlite3 *db, const fit_options *o, clap_model **out, clap_error *err);

/* The trained baseline (see above); *out is the caller's. */
clap_status fit_baseline(sqlite3 *db, const fit_options *o, clap_model **out, clap_error *err);

/* P(yes) of n rows of raw audio features (n x audio_in) under a baseline,
** and its threshold (may be NULL). A model that is not a baseline, or whose
** metadata is malformed, is CLAP_ERR_FORMAT. */
clap_status fit_baseline_predict(const clap_model *m, const float *x, int n, double *p,
                                 double *threshold, clap_error *err);

/* The session ids in the database, sorted; *ids and each id malloc'd. */
clap_status fit_sessions(sqlite3 *db, char ***ids, int *n, clap_error *err);
void fit_free_strings(char **s, int n);

/* The training options of `clap train`, `clap baseline` and `clap eval` as
** getopt_long entries for a command's option table (cli.h). FIT_LONGOPTS,
** what both arms use: --encoder E --dim D --epochs N --lr X --batch N
** --seed N --precision P. FIT_CLAP_LONGOPTS, the CLAP model's own (train and eval, not
** baseline, whose one head is linear and has no text side): --text-encoder E
** --head linear|mlp --hidden H. */
enum {
  FIT_OPT_ENCODER = CLI_OPT + 0x40, FIT_OPT_TEXT_ENCODER, FIT_OPT_HEAD, FIT_OPT_DIM,
  FIT_OPT_HIDDEN, FIT_OPT_EPOCHS, FIT_OPT_LR, FIT_OPT_BATCH, FIT_OPT_SEED,
  FIT_OPT_NAME, FIT_OPT_HOLDOUT, FIT_OPT_REPLACE, FIT_OPT_AUGMENT, FIT_OPT_PRECISION
};
#define FIT_LONGOPTS                                                                             \
  {"encoder", required_argument, NULL, FIT_OPT_ENCODER},                                         \
      {"dim", required_argument, NULL, FIT_OPT_DIM},                                             \
      {"epochs", required_argument, NULL, FIT_OPT_EPOCHS},                                       \
      {"lr", required_argument, NULL, FIT_OPT_LR},                                               \
      {"batch", required_argument, NULL, FIT_OPT_BATCH},                                         \
      {"seed", required_argument, NULL, FIT_OPT_SEED},                                           \
      {"precision", required_argument, NULL, FIT_OPT_PRECISION}
#define FIT_CLAP_LONGOPTS                                                                        \
  {"text-encoder", required_argument, NULL, FIT_OPT_TEXT_ENCODER},                               \
      {"head", required_argument, NULL, FIT_OPT_HEAD},                                           \
      {"hidden", required_argument, NULL, FIT_OPT_HIDDEN}
/* Apply option opt (a cli_next result; optarg its value) to o if it is one
** of FIT_LONGOPTS; any other opt is left alone. Returns 0, or 2 after a
** usage error about the value (printed, cli.h). */
int fit_option(fit_options *o, const cli *c, int opt);
/* The help text of those options, with the defaults: FIT_CLAP_LONGOPTS's
** and FIT_LONGOPTS's. */
extern const char fit_clap_flags_help[];
extern const char fit_flags_help[];

/* The command line of `clap train` and `clap baseline`, one loop for both:
**   DB --name NAME [--holdout-session S]... [--replace] [FIT_LONGOPTS]
**   and, with allow_augment (train), [FIT_CLAP_LONGOPTS] [--augment none|paraphrase];
**   without (baseline) those are unknown options
** and --help / -h. o starts from fit_defaults; o.holdout points at an array
** the struct owns. */
typedef struct fit_command {
  fit_options o;
  const char *path; /* the DB operand */
  const char *name; /* --name (required, not empty) */
  int replace;      /* --replace */
} fit_command;

/* -1: parsed, the command runs (fit_command_free afterwards). Otherwise the
** exit status to return at once, nothing left to free: 0 after --help
** (usage, then fit_flags_help, on stdout); 1 out of memory; 2 a usage error
** (cli.h: an unknown option, a missing value, an unexpected argument, no
** database, no --name, a bad value). */
int fit_parse_command(int argc, char **argv, const char *cmd, const char *usage,
                      int allow_augment, fit_command *c);
void fit_command_free(fit_command *c);

typedef enum fit_arm { FIT_ARM_CLAP, FIT_ARM_BASELINE } fit_arm;

/* The whole of `clap train` (FIT_ARM_CLAP, --augment allowed) and `clap
** baseline`: fit_parse_command, then open the database, refuse an existing
** --name without --replace ("a model named 'X' exists (use --replace)"),
** train (fit_clap / fit_baseline) with a progress bar "train NAME" /
** "baseline NAME" on a terminal, store the model and print one line on
** stdout: "train: model 'X' stored (N epochs, final loss L, augment A)" or
** "baseline: model 'X' stored (threshold T, Youden's J J, training AUC A)".
** Returns the exit status: fit_parse_command's, else 0 stored, 1 failure
** ("<cmd>: <message>" on stderr, nothing stored). */
int fit_run_command(int argc, char **argv, const char *cmd, const char *usage, fit_arm arm);

#endif
