/*
** clap model — manage the CLAP models stored in a database's clap_models table.
**
**   clap model create DB --name NAME [--audio-encoder E] [--text-encoder E]
**                        [--dim D] [--head linear|mlp] [--hidden H] [--seed N] [--replace]
**       An untrained, randomly initialised model (deterministic for a seed).
**       Defaults: acoustic, ngram, 512, linear, hidden 512, seed 1.
**   clap model list DB                       name, encoders, dim, size, created
**   clap model show DB NAME                  the model card as JSON (schemas/model_card.schema.json)
**   clap model export DB NAME FILE           the blob, byte for byte
**   clap model import DB NAME FILE [--replace]
**   clap model delete DB NAME
**
** Encoders are built-in names (acoustic, ngram) or rows of clap_encoders.
** Errors: an existing name without --replace, an unknown encoder or model, a
** file that is not a valid model blob (checked before anything is written),
** a dimension outside 1..16384. Exit 0 ok, 1 failure, 2 usage.
*/
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

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
    "       clap model list DB\n"
    "       clap model show DB NAME\n"
    "       clap model export DB NAME FILE\n"
    "       clap model import DB NAME FILE [--replace]\n"
    "       clap model delete DB NAME\n";

static int usage_error(const char *msg) {
  if (msg) fprintf(stderr, "clap model: %s\n", msg);
  fputs(model_usage, stderr);
  return 2;
}

static int fail(const clap_error *err) {
  fprintf(stderr, "clap model: %s\n", err->msg);
  return 1;
}

/* The output dimension of an encoder name and, for a clap_encoders row, its
** weights' sha256 and files identity (empty for built-ins; the identity
** empty for rows added before schema version 3), resolved and verified as
** `clap embed` resolves it, so the model can refuse other files later. */
static clap_status encoder_dim_of(sqlite3 *db, const char *name, encoder_modality want, int *dim,
                                  char sha[SHA256_HEX_SIZE], char id[SHA256_HEX_SIZE],
                                  clap_error *err) {
  const encoder *e = NULL;
  encoder *owned = NULL;
  clap_status rc = features_encoder(db, name, want, &e, &owned, sha, err);
  if (rc == CLAP_OK) rc = features_files_identity(db, name, id, err);
  if (rc == CLAP_OK) *dim = encoder_dim(e);
  encoder_free(owned);
  return rc;
}

/* metadata: {"encoders": {"audio": {"name", "sha256", "identity"}, "text":
** {...}}, "trained": false, "seed": N} — the binding checks the sha256 and
** identity values. ids[0] audio, ids[1] text. */
static clap_status record_encoders(clap_model *m, const model_config *cfg, const char *asha,
                                   const char *tsha, char ids[2][SHA256_HEX_SIZE],
                                   unsigned long long seed, clap_error *err) {
  cJSON *meta = cJSON_CreateObject(), *encs = cJSON_AddObjectToObject(meta, "encoders");
  cJSON *a = cJSON_AddObjectToObject(encs, "audio"), *t = cJSON_AddObjectToObject(encs, "text");
  cJSON_AddStringToObject(a, "name", cfg->audio_encoder);
  if (asha[0]) cJSON_AddStringToObject(a, "sha256", asha);
  if (ids[0][0]) cJSON_AddStringToObject(a, "identity", ids[0]);
  cJSON_AddStringToObject(t, "name", cfg->text_encoder);
  if (tsha[0]) cJSON_AddStringToObject(t, "sha256", tsha);
  if (ids[1][0]) cJSON_AddStringToObject(t, "identity", ids[1]);
  cJSON_AddFalseToObject(meta, "trained");
  cJSON_AddNumberToObject(meta, "seed", (double)seed);
  char *json = cJSON_PrintUnformatted(meta);
  cJSON_Delete(meta);
  clap_status rc = json ? model_set_metadata(m, json, err)
                        : clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  free(json);
  return rc;
}

static int model_create_cmd(sqlite3 *db, int argc, char **argv) {
  static const struct option opts[] = {
      {"name", required_argument, 0, 'n'},     {"audio-encoder", required_argument, 0, 'a'},
      {"text-encoder", required_argument, 0, 't'}, {"dim", required_argument, 0, 'd'},
      {"head", required_argument, 0, 'H'},     {"hidden", required_argument, 0, 'h'},
      {"seed", required_argument, 0, 's'},     {"replace", no_argument, 0, 'r'},
      {0, 0, 0, 0}};
  const char *name = NULL, *aenc = "acoustic", *tenc = "ngram", *head = "linear";
  long dim = 512, hidden = 512;
  unsigned long long seed = 1;
  int replace = 0, c;
  char *end;
  optind = 1;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
      case 'n': name = optarg; break;
      case 'a': aenc = optarg; break;
      case 't': tenc = optarg; break;
      case 'H': head = optarg; break;
      case 'r': replace = 1; break;
      case 'd':
        dim = strtol(optarg, &end, 10);
        if (*end || dim < 1 || dim > MODEL_MAX_DIM) return usage_error("--dim: expected 1..16384");
        break;
      case 'h':
        hidden = strtol(optarg, &end, 10);
        if (*end || hidden < 1 || hidden > MODEL_MAX_DIM)
          return usage_error("--hidden: expected 1..16384");
        break;
      case 's':
        seed = strtoull(optarg, &end, 10);
        if (*end || !*optarg) return usage_error("--seed: expected a non-negative integer");
        break;
      default: return usage_error(NULL);
    }
  }
  if (!name || !*name) return usage_error("create needs --name");
  if (strcmp(head, "linear") && strcmp(head, "mlp"))
    return usage_error("--head: expected linear or mlp");
  model_config cfg = {.dim = (int)dim, .hidden = (int)hidden,
                      .head = strcmp(head, "mlp") ? MODEL_HEAD_LINEAR : MODEL_HEAD_MLP};
  snprintf(cfg.audio_encoder, sizeof cfg.audio_encoder, "%s", aenc);
  snprintf(cfg.text_encoder, sizeof cfg.text_encoder, "%s", tenc);
  clap_error err;
  clap_model *m = NULL;
  char asha[SHA256_HEX_SIZE], tsha[SHA256_HEX_SIZE], ids[2][SHA256_HEX_SIZE];
  if (encoder_dim_of(db, aenc, ENCODER_AUDIO, &cfg.audio_in, asha, ids[0], &err) ||
      encoder_dim_of(db, tenc, ENCODER_TEXT, &cfg.text_in, tsha, ids[1], &err) ||
      model_create(&cfg, seed, &m, &err) ||
      record_encoders(m, &cfg, asha, tsha, ids, seed, &err) ||
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
  if (sqlite3_prepare_v2(db,
                         "SELECT name, audio_encoder, text_encoder, dim, length(model), created_at "
                         "FROM clap_models ORDER BY name",
                         -1, &st, NULL) != SQLITE_OK) {
    fprintf(stderr, "clap model: %s\n", sqlite3_errmsg(db));
    return 1;
  }
  printf("%-20s %-14s %-14s %5s %10s %s\n", "name", "audio_encoder", "text_encoder", "dim",
         "bytes", "created");
  while (sqlite3_step(st) == SQLITE_ROW)
    printf("%-20s %-14s %-14s %5d %10d %s\n", sqlite3_column_text(st, 0),
           sqlite3_column_text(st, 1), sqlite3_column_text(st, 2), sqlite3_column_int(st, 3),
           sqlite3_column_int(st, 4), sqlite3_column_text(st, 5));
  sqlite3_finalize(st);
  return 0;
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
  FILE *f = fopen(path, "wb");
  int ok = f && fwrite(blob, 1, n, f) == n;
  if (f && fclose(f) != 0) ok = 0;
  free(blob);
  if (!ok) {
    fprintf(stderr, "clap model: cannot write %s\n", path);
    return 1;
  }
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
  if (sqlite3_prepare_v2(db, "DELETE FROM clap_models WHERE name=?", -1, &st, NULL) != SQLITE_OK) {
    fprintf(stderr, "clap model: %s\n", sqlite3_errmsg(db));
    return 1;
  }
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  int ok = sqlite3_step(st) == SQLITE_DONE;
  sqlite3_finalize(st);
  if (!ok || sqlite3_changes(db) == 0) {
    fprintf(stderr, "clap model: no model named '%s'\n", name);
    return 1;
  }
  printf("deleted model '%s'\n", name);
  return 0;
}

static int model_dispatch(sqlite3 *db, const char *verb, int argc, char **argv) {
  int replace = argc > 0 && !strcmp(argv[argc - 1], "--replace");
  int nargs = argc - replace;
  if (!strcmp(verb, "create")) return model_create_cmd(db, argc + 1, argv - 1);
  if (!strcmp(verb, "list") && nargs == 0) return model_list_cmd(db);
  if (!strcmp(verb, "show") && nargs == 1) return model_show_cmd(db, argv[0]);
  if (!strcmp(verb, "export") && nargs == 2) return model_export_cmd(db, argv[0], argv[1]);
  if (!strcmp(verb, "import") && nargs == 2)
    return model_import_cmd(db, argv[0], argv[1], replace);
  if (!strcmp(verb, "delete") && nargs == 1) return model_delete_cmd(db, argv[0]);
  return usage_error("unknown verb or wrong number of arguments");
}

int cmd_model(int argc, char **argv) {
  if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    fputs(model_usage, stdout);
    return 0;
  }
  if (argc < 3) return usage_error(NULL);
  const char *verb = argv[1], *path = argv[2];
  int create = !strcmp(verb, "create") || !strcmp(verb, "import");
  clap_error err;
  sqlite3 *db = NULL;
  if (db_open(path, create ? DB_CREATE : 0, &db, &err) != CLAP_OK) return fail(&err);
  /* argv[3..] are the verb's own arguments; create parses options with getopt. */
  int rc = model_dispatch(db, verb, argc - 3, argv + 3);
  db_close(db);
  return rc;
}
