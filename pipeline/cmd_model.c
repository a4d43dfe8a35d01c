/*
** clap model — manage the CLAP models stored in a database's clap_models table.
**
**   clap model create DB --name NAME [--audio-encoder E] [--text-encoder E]
**                        [--dim D] [--head linear|mlp] [--hidden H] [--seed N] [--replace]
**                        [--create]
**       An untrained, randomly initialised model (deterministic for a seed).
**       Defaults: acoustic, ngram, 512, linear, hidden 512, seed 1.
**   clap model list DB                       name, encoders, dim, size, created
**   clap model show DB NAME                  the model card as JSON (schemas/model_card.schema.json)
**   clap model export DB NAME FILE           the blob, byte for byte, whole or not
**                                            at all (as ext/core/fileio.h writes)
**   clap model import DB NAME FILE [--replace] [--create]
**   clap model delete DB NAME
**
** DB is a database `clap init` made; create and import make a new one only
** with --create (a missing DB is refused otherwise, as by every command).
** Encoders are built-in names (acoustic, ngram) or rows of clap_encoders.
** Errors: an existing name without --replace, an unknown encoder or model, a
** file that is not a valid model blob (checked before anything is written),
** a dimension outside 1..16384. Exit 0 ok, 1 failure, 2 usage.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "commands.h"
#include "db.h"
#include "encoder.h"
#include "feature_cache.h"
#include "fileio.h"
#include "model.h"
#include "model_store.h"
#include "sha256.h"

/* A model file to import: SQLite refuses blobs over 1e9 bytes by default anyway. */
#define MODEL_FILE_MAX_BYTES ((size_t)1 << 30)

static const char model_usage[] =
    "usage: clap model create DB --name NAME [--audio-encoder E] [--text-encoder E]\n"
    "                         [--dim D] [--head linear|mlp] [--hidden H] [--seed N] [--replace]\n"
    "                         [--create]\n"
    "       clap model list DB\n"
    "       clap model show DB NAME\n"
    "       clap model export DB NAME FILE\n"
    "       clap model import DB NAME FILE [--replace] [--create]\n"
    "       clap model delete DB NAME\n"
    "\n"
    "  --create             create and import: create DB if it does not exist\n";

/* What the command line asks for (the usage above). */
typedef struct model_args {
  const char *verb, *path, *name, *file;
  const char *aenc, *tenc;
  int mlp, replace, create;
  long dim, hidden;
  unsigned long long seed;
} model_args;

static int fail(const clap_error *err) {
  fprintf(stderr, "clap model: %s\n", err->msg);
  return 1;
}

/* The output dimension of an encoder name and, for a clap_encoders row, its
** weights' sha256, files identity and precision (empty for built-ins; the
** identity empty for rows added before schema version 3), resolved and
** verified as `clap embed` resolves it at the registered precision, so the
** model can refuse other files later and runs at that precision. */
static clap_status encoder_dim_of(sqlite3 *db, const char *name, encoder_modality want, int *dim,
                                  char sha[SHA256_HEX_SIZE], char id[SHA256_HEX_SIZE],
                                  char prec[FEATURES_PREC_SIZE], clap_error *err) {
  const encoder *e = NULL;
  encoder *owned = NULL;
  registry_prec p = REGISTRY_PREC_RECORDED;
  clap_status rc = features_encoder(db, name, p, want, &e, &owned, sha, err);
  if (rc == CLAP_OK) rc = features_files_identity(db, name, p, id, err);
  if (rc == CLAP_OK) rc = features_precision(db, name, p, prec, err);
  if (rc == CLAP_OK) *dim = encoder_dim(e);
  encoder_free(owned);
  return rc;
}

/* metadata: {"encoders": {"audio": {"name", "sha256", "identity",
** "precision"}, "text": {...}}, "trained": false, "seed": N} — the binding
** checks the sha256 and identity values and encodes at the precision.
** ids[0], precs[0] audio, ids[1], precs[1] text. */
static clap_status record_encoders(clap_model *m, const model_config *cfg, const char *asha,
                                   const char *tsha, char ids[2][SHA256_HEX_SIZE],
                                   char precs[2][FEATURES_PREC_SIZE], unsigned long long seed,
                                   clap_error *err) {
  cJSON *meta = cJSON_CreateObject(), *encs = cJSON_AddObjectToObject(meta, "encoders");
  cJSON *a = cJSON_AddObjectToObject(encs, "audio"), *t = cJSON_AddObjectToObject(encs, "text");
  cJSON_AddStringToObject(a, "name", cfg->audio_encoder);
  if (asha[0]) cJSON_AddStringToObject(a, "sha256", asha);
  if (ids[0][0]) cJSON_AddStringToObject(a, "identity", ids[0]);
  if (precs[0][0]) cJSON_AddStringToObject(a, "precision", precs[0]);
  cJSON_AddStringToObject(t, "name", cfg->text_encoder);
  if (tsha[0]) cJSON_AddStringToObject(t, "sha256", tsha);
  if (ids[1][0]) cJSON_AddStringToObject(t, "identity", ids[1]);
  if (precs[1][0]) cJSON_AddStringToObject(t, "precision", precs[1]);
  cJSON_AddFalseToObject(meta, "trained");
  cJSON_AddNumberToObject(meta, "seed", (double)seed);
  char *json = cJSON_PrintUnformatted(meta);
  cJSON_Delete(meta);
  clap_status rc = json ? model_set_metadata(m, json, err)
                        : clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  free(json);
  return rc;
}

static int model_create_cmd(sqlite3 *db, const model_args *a) {
  const char *name = a->name, *aenc = a->aenc, *tenc = a->tenc, *head = a->mlp ? "mlp" : "linear";
  long dim = a->dim, hidden = a->hidden;
  unsigned long long seed = a->seed;
  int replace = a->replace;
  model_config cfg = {.dim = (int)dim, .hidden = (int)hidden,
                      .head = strcmp(head, "mlp") ? MODEL_HEAD_LINEAR : MODEL_HEAD_MLP};
  snprintf(cfg.audio_encoder, sizeof cfg.audio_encoder, "%s", aenc);
  snprintf(cfg.text_encoder, sizeof cfg.text_encoder, "%s", tenc);
  clap_error err;
  clap_model *m = NULL;
  char asha[SHA256_HEX_SIZE], tsha[SHA256_HEX_SIZE], ids[2][SHA256_HEX_SIZE];
  char precs[2][FEATURES_PREC_SIZE];
  if (encoder_dim_of(db, aenc, ENCODER_AUDIO, &cfg.audio_in, asha, ids[0], precs[0], &err) ||
      encoder_dim_of(db, tenc, ENCODER_TEXT, &cfg.text_in, tsha, ids[1], precs[1], &err) ||
      model_create(&cfg, seed, &m, &err) ||
      record_encoders(m, &cfg, asha, tsha, ids, precs, seed, &err) ||
      model_store_put(db, name, m, replace, NULL, &err)) {
    model_free(m);
    return fail(&err);
  }
  model_free(m);
  printf("created model '%s': %s (%d) + %s (%d) -> %d, %s head, seed %llu, untrained\n", name,
         aenc, cfg.audio_in, tenc, cfg.text_in, cfg.dim, head, seed);
  return 0;
}

static int model_list_cmd(sqlite3 *db) {
  sqlite3_stmt *st;
  clap_error err;
  if (db_prepare(db,
                 "SELECT name, audio_encoder, text_encoder, dim, length(model), created_at "
                 "FROM clap_models ORDER BY name",
                 &st, &err) != CLAP_OK) {
    fprintf(stderr, "clap model: %s\n", err.msg);
    return 1;
  }
  printf("%-20s %-14s %-14s %5s %10s %s\n", "name", "audio_encoder", "text_encoder", "dim",
         "bytes", "created");
  int r;
  while ((r = db_step(st, &err)) == DB_ROW)
    printf("%-20s %-14s %-14s %5d %10d %s\n", sqlite3_column_text(st, 0),
           sqlite3_column_text(st, 1), sqlite3_column_text(st, 2), sqlite3_column_int(st, 3),
           sqlite3_column_int(st, 4), sqlite3_column_text(st, 5));
  sqlite3_finalize(st);
  if (r < 0) fprintf(stderr, "clap model: listing models: %s\n", err.msg);
  return r < 0;
}

static int model_show_cmd(sqlite3 *db, const char *name) {
  clap_error err;
  clap_model *m = NULL;
  if (model_store_get(db, name, &m, NULL, NULL, &err)) return fail(&err);
  char *json = model_describe_json(m);
  cJSON *card = json ? cJSON_Parse(json) : NULL;
  char *out = NULL;
  if (card) {
    /* The card (schemas/model_card.schema.json) lifts the config's main
    ** fields to the top level next to the name; the rest stays as is. */
    const model_config *cfg = model_get_config(m);
    cJSON_AddStringToObject(card, "name", name);
    cJSON_AddStringToObject(card, "audio_encoder", cfg->audio_encoder);
    cJSON_AddStringToObject(card, "text_encoder", cfg->text_encoder);
    cJSON_AddNumberToObject(card, "dim", cfg->dim);
    cJSON_AddStringToObject(card, "head", cfg->head == MODEL_HEAD_MLP ? "mlp" : "linear");
    if (cfg->head == MODEL_HEAD_MLP) cJSON_AddNumberToObject(card, "hidden", cfg->hidden);
    out = cJSON_Print(card);
  }
  printf("%s\n", out ? out : "{}");
  cJSON_Delete(card);
  free(out);
  free(json);
  model_free(m);
  return 0;
}

static int model_export_cmd(sqlite3 *db, const char *name, const char *path) {
  clap_error err;
  clap_model *m = NULL;
  unsigned char *blob = NULL;
  size_t n = 0;
  if (model_store_get(db, name, &m, &blob, &n, &err)) return fail(&err);
  model_free(m);
  clap_status rc = fileio_write_replace(path, blob, n, &err);
  free(blob);
  if (rc != CLAP_OK) return fail(&err);
  printf("exported model '%s' to %s (%zu bytes)\n", name, path, n);
  return 0;
}

static int model_import_cmd(sqlite3 *db, const char *name, const char *path, int replace) {
  clap_error err;
  unsigned char *blob = NULL;
  size_t n = 0;
  clap_model *m = NULL;
  if (fileio_read(path, MODEL_FILE_MAX_BYTES, &blob, &n, &err)) return fail(&err);
  clap_status rc = model_load(blob, n, &m, &err);
  free(blob);
  if (rc != CLAP_OK) {
    clap_error_prefix(&err, "%s: ", path);
    return fail(&err);
  }
  rc = model_store_put(db, name, m, replace, NULL, &err);
  model_free(m);
  if (rc != CLAP_OK) return fail(&err);
  printf("imported model '%s' from %s\n", name, path);
  return 0;
}

static int model_delete_cmd(sqlite3 *db, const char *name) {
  sqlite3_stmt *st;
  clap_error err;
  if (db_prepare(db, "DELETE FROM clap_models WHERE name=?", &st, &err) != CLAP_OK) {
    fprintf(stderr, "clap model: %s\n", err.msg);
    return 1;
  }
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  clap_status rc = db_step_done(st, &err);
  int changed = sqlite3_changes(db);
  sqlite3_finalize(st);
  if (rc != CLAP_OK) {
    fprintf(stderr, "clap model: deleting '%s': %s\n", name, err.msg);
    return 1;
  }
  if (changed == 0) {
    fprintf(stderr, "clap model: no model named '%s'\n", name);
    return 1;
  }
  printf("deleted model '%s'\n", name);
  return 0;
}

enum { OPT_NAME = CLI_OPT, OPT_AUDIO_ENCODER, OPT_TEXT_ENCODER, OPT_DIM, OPT_HEAD, OPT_HIDDEN,
       OPT_SEED, OPT_REPLACE, OPT_CREATE };
static const struct option create_opts[] = {
    CLI_HELP_OPTION, CLI_DB_OPTION,
    {"name", required_argument, NULL, OPT_NAME},
    {"audio-encoder", required_argument, NULL, OPT_AUDIO_ENCODER},
    {"text-encoder", required_argument, NULL, OPT_TEXT_ENCODER},
    {"dim", required_argument, NULL, OPT_DIM},
    {"head", required_argument, NULL, OPT_HEAD},
    {"hidden", required_argument, NULL, OPT_HIDDEN},
    {"seed", required_argument, NULL, OPT_SEED},
    {"replace", no_argument, NULL, OPT_REPLACE},
    {"create", no_argument, NULL, OPT_CREATE},
    {0}};
static const struct option import_opts[] = {
    CLI_HELP_OPTION, CLI_DB_OPTION,
    {"replace", no_argument, NULL, OPT_REPLACE},
    {"create", no_argument, NULL, OPT_CREATE},
    {0}};
static const struct option plain_opts[] = {CLI_HELP_OPTION, CLI_DB_OPTION, {0}};

/* The verbs, their option tables and operands after DB. */
static const struct verb {
  const char *name;
  const struct option *opts;
  int nargs; /* operands after DB: NAME, then FILE */
} verbs[] = {{"create", create_opts, 0}, {"list", plain_opts, 0},  {"show", plain_opts, 1},
             {"export", plain_opts, 2},  {"import", import_opts, 2}, {"delete", plain_opts, 1},
             {NULL, NULL, 0}};

/* One option into a; 0, or 2 after a usage error. */
static int model_option(model_args *a, const cli *c, int opt) {
  static const char *const heads[] = {"linear", "mlp", NULL};
  switch (opt) {
  case OPT_NAME: a->name = optarg; return 0;
  case OPT_AUDIO_ENCODER: a->aenc = optarg; return 0;
  case OPT_TEXT_ENCODER: a->tenc = optarg; return 0;
  case OPT_REPLACE: a->replace = 1; return 0;
  case OPT_CREATE: a->create = 1; return 0;
  case OPT_HEAD: return cli_choice(c, heads, &a->mlp);
  case OPT_DIM: return cli_int(c, 1, MODEL_MAX_DIM, &a->dim);
  case OPT_HIDDEN: return cli_int(c, 1, MODEL_MAX_DIM, &a->hidden);
  case OPT_SEED: return cli_u64(c, &a->seed);
  }
  return 0;
}

/* The verb, its options and operands into a. Returns -1 to go on, or the
** exit status: 0 after --help, 2 after a usage error (printed). */
static int model_parse(int argc, char **argv, model_args *a) {
  static const char *const operands[] = {"database", "model name", "file", NULL};
  *a = (model_args){.aenc = "acoustic", .tenc = "ngram", .dim = 512, .hidden = 512, .seed = 1};
  cli c = {.cmd = "clap model", .help = model_usage};
  for (int o; (o = cli_next(&c, argc, argv, "+", plain_opts)) != CLI_END;)
    if (o == CLI_EXIT) return c.status;
  if (optind >= argc) return cli_usage(&c, "no verb given (create, list, show, export, import, delete)");
  const struct verb *v = verbs;
  while (v->name && strcmp(v->name, argv[optind])) v++;
  if (!v->name) return cli_usage(&c, "unknown verb '%s'", argv[optind]);
  a->verb = v->name;
  argc -= optind;
  argv += optind; /* argv[0] is the verb */
  cli vc = {.cmd = "clap model", .help = model_usage};
  for (int o; (o = cli_next(&vc, argc, argv, "", v->opts)) != CLI_END;)
    if (o == CLI_EXIT) return vc.status;
    else if (model_option(a, &vc, o)) return 2;
  if (cli_operands(&vc, argc, argv, operands, 1 + v->nargs, 1 + v->nargs)) return 2;
  a->path = argv[optind];
  a->name = v->nargs ? argv[optind + 1] : a->name;
  a->file = v->nargs > 1 ? argv[optind + 2] : NULL;
  if (!strcmp(a->verb, "create") && (!a->name || !*a->name))
    return cli_usage(&vc, "create needs --name");
  return -1;
}

static int model_dispatch(sqlite3 *db, const model_args *a) {
  const char *v = a->verb;
  if (!strcmp(v, "create")) return model_create_cmd(db, a);
  if (!strcmp(v, "list")) return model_list_cmd(db);
  if (!strcmp(v, "show")) return model_show_cmd(db, a->name);
  if (!strcmp(v, "export")) return model_export_cmd(db, a->name, a->file);
  if (!strcmp(v, "import")) return model_import_cmd(db, a->name, a->file, a->replace);
  return model_delete_cmd(db, a->name);
}

int cmd_model(int argc, char **argv) {
  model_args a;
  int status = model_parse(argc, argv, &a);
  if (status >= 0) return status;
  int creates = !strcmp(a.verb, "create") || !strcmp(a.verb, "import");
  clap_error err;
  sqlite3 *db = NULL;
  int flags = a.create ? DB_CREATE : creates ? DB_CREATE_HINT : 0;
  if (db_open(a.path, flags, &db, &err) != CLAP_OK) return fail(&err);
  int rc = model_dispatch(db, &a);
  db_close(db);
  return rc;
}
