/*
** clap encoder — register checkpoint encoders in a database's clap_encoders.
**
**   clap encoder add DB --name NAME --kind hubert|distilbert --path DIR
**                   [--precision f32|bf16|auto] [--replace] [--create]
**       Loads the checkpoint once (so a broken or mismatched one is refused
**       here, not at the first embed), scans its weights once (a NaN or an
**       infinity is refused, naming the tensor and element), learns its
**       output dimension and
**       stores (name, kind, absolute path, sha256 of the weights file, dim,
**       config). The weights file is DIR/model.safetensors, else
**       DIR/pytorch_model.bin. config is JSON: {"weights": FILE,
**       "files": {"config.json": SHA256, ...}, "identity": SHA256,
**       "model_config": <DIR/config.json>}: "files" are every file the
**       encoder reads (hfckpt_file_hashes: the weights, and whichever of
**       config.json, preprocessor_config.json, spiece.model,
**       tokenizer_config.json are there), "identity" their hfckpt_identity
**       (what the feature cache records per vector). A later change to any
**       of them is refused by hfckpt_verify_weights, naming the file. NAME
**       must not be a built-in encoder (acoustic, ngram); an existing NAME
**       needs --replace (cached features of the old files then become
**       stale: `clap embed` recomputes them). --precision (ext/nn/dense.h):
**       f32 (default) multiplies in float32; bf16 rounds weights and
**       activations of the linears (and HuBERT's conv layers 1-6) to
**       bfloat16 with float32 sums, on AMX or AVX512-BF16 hardware; auto
**       is bf16 where the CPU has that hardware and a timed encode of a
**       short input ran faster in bf16, else f32. The chosen precision is
**       stored in config ("precision") and folded into the identity
**       (hfckpt_recorded_identity), so vectors and models of another
**       precision are stale for this registration. It is the default of
**       every run: `clap embed/train/baseline/eval --precision` and the SQL
**       function clap_precision() compute one run or connection at another
**       (registry.h's registry_row_at).
**   clap encoder add DB --name NAME --kind openai --base-url URL --model M
**                   [--dim D] [--batch N] [--input-prefix P] [--timeout S] [--replace]
**       An OpenAI-compatible embeddings server (OpenAI, llama.cpp
**       `llama-server --embeddings`, Ollama, vLLM) as a text encoder
**       (ext/encoders/openai_embed.h). One request embeds the probe
**       sentence: it learns the dimension (with --dim D, D is sent as
**       "dimensions" and the reply must have it) and the probe vector, so a
**       server that is down, refuses the key or answers badly is refused
**       here. Stored: (name, "openai", URL as path, identity as sha256, dim,
**       config JSON with the options, probe vector and identity). The
**       identity covers URL, model, prefix, dimension and the probe vector's
**       digest. --batch N: inputs per request (default 64, 1..2048);
**       --input-prefix P: put in front of every text (e.g. 'query: ' for E5
**       models); --timeout S: one request with its retries (default 60, at
**       most 3600 s). The key is read from CLAP_API_KEY or OPENAI_API_KEY
**       whenever a request is made, never stored.
**   clap encoder list DB
**       name, kind, dim, the first 12 hex digits of sha256 (weights) and of
**       the identity (all files; "-" for rows added before schema version
**       3, which record the weights only), path.
**
** DB is a database `clap init` made; add makes a new one only with --create.
** The SQL functions and `clap model create --audio-encoder NAME` find the
** row by name. Exit 0 ok, 1 failure (message names the checkpoint), 2 usage.
*/
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "commands.h"
#include "db.h"
#include "encoder.h"
#include "hfckpt.h"
#include "openai_embed.h"
#include "sha256.h"

static const char encoder_usage[] =
    "usage: clap encoder add DB --name NAME --kind hubert|distilbert --path DIR\n"
    "                       [--precision f32|bf16|auto] [--replace]\n"
    "       clap encoder add DB --name NAME --kind openai --base-url URL --model M [--dim D]\n"
    "                       [--batch N] [--input-prefix P] [--timeout S] [--replace]\n"
    "       clap encoder list DB\n"
    "\n"
    "  --create             add: create DB if it does not exist (else `clap init DB` first)\n";

/* What the command line asks for (the usage above). */
typedef struct encoder_args {
  const char *verb, *db, *name, *kind, *path;
  const char *precision; /* --precision as given, NULL = f32 */
  int replace, create;
  openai_embed_options oa; /* --kind openai */
  int server_opts;         /* how many of its options were given */
} encoder_args;

static int fail(const clap_error *err) {
  fprintf(stderr, "clap encoder: %s\n", err->msg);
  return 1;
}

static int is_file(const char *p) {
  struct stat sb;
  return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* The checkpoint's weights file: DIR itself if a file, else the known names. */
static clap_status weights_file(const char *dir, char *out, size_t cap, clap_error *err) {
  if (is_file(dir)) {
    snprintf(out, cap, "%s", dir);
    return CLAP_OK;
  }
  return hfckpt_weights_file(dir, out, cap, err);
}

/* {"weights": "model.safetensors", "files": {...}, "identity": HEX,
** "model_config": {...}} (config.json if any). Takes files. */
static char *config_json(const char *dir, const char *weights, cJSON *files,
                         const char identity[SHA256_HEX_SIZE], nn_precision prec) {
  cJSON *root = cJSON_CreateObject();
  const char *base = strrchr(weights, '/');
  cJSON_AddStringToObject(root, "weights", base ? base + 1 : weights);
  cJSON_AddItemToObject(root, "files", files);
  cJSON_AddStringToObject(root, "identity", identity);
  cJSON_AddStringToObject(root, "precision", nn_precision_name(prec));
  char p[PATH_MAX + 32];
  snprintf(p, sizeof p, "%s/config.json", dir);
  cJSON *cfg; /* optional: a missing or unreadable config.json is left out */
  if (hfckpt_load_json(p, &cfg, NULL) == CLAP_OK) cJSON_AddItemToObject(root, "model_config", cfg);
  char *s = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  return s;
}

/* Insert (or with replace, replace) one clap_encoders row and say so. */
static int store_row(sqlite3 *db, const char *name, const char *kind, const char *path,
                     const char *hex, int dim, const char *cfg, int replace, const char *what) {
  sqlite3_stmt *st = NULL;
  const char *sql = replace ? "INSERT OR REPLACE INTO clap_encoders(name, kind, path, sha256, dim, "
                              "config) VALUES (?,?,?,?,?,?)"
                            : "INSERT INTO clap_encoders(name, kind, path, sha256, dim, config) "
                              "VALUES (?,?,?,?,?,?)";
  int rc = 1;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, path, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, hex, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, dim);
    sqlite3_bind_text(st, 6, cfg ? cfg : "{}", -1, SQLITE_STATIC);
    int s = sqlite3_step(st);
    if (s == SQLITE_DONE) {
      printf("encoder %s: %s, %d dims, %s\n", name, kind, dim, what);
      rc = 0;
    } else if ((s & 0xff) == SQLITE_CONSTRAINT) {
      fprintf(stderr, "clap encoder: an encoder named '%s' exists (use --replace)\n", name);
    } else {
      fprintf(stderr, "clap encoder: storing '%s': %s\n", name, sqlite3_errmsg(db));
    }
  } else {
    fprintf(stderr, "clap encoder: %s\n", sqlite3_errmsg(db));
  }
  sqlite3_finalize(st);
  return rc;
}

/* One pass over the weights before anything computes with them: a NaN or an
** infinity would make every vector NaN. */
static clap_status check_weights_finite(const char *dir, clap_error *err) {
  st_file *st = NULL;
  char *wpath = NULL;
  clap_status rc = hfckpt_open_weights(dir, &st, &wpath, err);
  if (rc == CLAP_OK) rc = st_check_finite(st, err);
  st_close(st);
  free(wpath);
  return rc;
}

static double seconds_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* Best of three encodes of a short input (2 s of a chirp, or a sentence)
** at precision p, in seconds; 1e30 when it fails. */
static double timed_encode(encoder *e, nn_precision p) {
  clap_error err;
  if (encoder_set_precision(e, p, &err) != CLAP_OK) return 1e30;
  enum { N = 32000 };
  static float pcm[N];
  for (int i = 0; i < N; i++) pcm[i] = 0.3f * sinf(0.001f * (float)i * (float)i / N * 400.0f);
  int dim = encoder_dim(e);
  float *out = malloc(sizeof *out * (size_t)dim);
  double best = 1e30;
  for (int r = 0; out && r < 4; r++) {
    double t = seconds_now();
    clap_status rc = encoder_modality_of(e) == ENCODER_AUDIO
                         ? encoder_encode_audio(e, pcm, N, out, &err)
                         : encoder_encode_text(e, "私は欲しいです。とても興味があります。", -1, out, &err);
    t = seconds_now() - t;
    if (rc != CLAP_OK) break;
    if (r > 0 && t < best) best = t; /* the first run makes the primitives */
  }
  free(out);
  return best;
}

/* --precision into p: f32 / bf16 as given; auto is bf16 only where the CPU
** has bf16 hardware and the encoder measured faster in bf16. */
static clap_status choose_precision(encoder *e, const char *given, nn_precision *p,
                                    clap_error *err) {
  *p = NN_F32;
  if (!given) return CLAP_OK;
  if (strcmp(given, "auto")) return nn_precision_parse(given, p, err);
  if (nn_bf16_native() && timed_encode(e, NN_BF16) < timed_encode(e, NN_F32)) *p = NN_BF16;
  return CLAP_OK;
}

static int add_checkpoint(sqlite3 *db, const char *name, const char *kind, const char *path,
                          const char *precision, int replace) {
  clap_error err;
  char abs[PATH_MAX];
  if (!realpath(path, abs)) {
    clap_error_set(&err, CLAP_ERR_IO, "%s: %s", path, strerror(errno));
    return fail(&err);
  }
  encoder *e = NULL;
  nn_precision prec = NN_F32;
  if (encoder_create(name, kind, abs, &e, &err) != CLAP_OK ||
      check_weights_finite(abs, &err) != CLAP_OK ||
      choose_precision(e, precision, &prec, &err) != CLAP_OK ||
      encoder_set_precision(e, prec, &err) != CLAP_OK) {
    encoder_free(e);
    return fail(&err);
  }
  int dim = encoder_dim(e);
  encoder_free(e);
  char weights[PATH_MAX + 32], hex[SHA256_HEX_SIZE], id[SHA256_HEX_SIZE];
  cJSON *files = NULL;
  if (weights_file(abs, weights, sizeof weights, &err) != CLAP_OK ||
      hfckpt_file_hashes(abs, &files, &err) != CLAP_OK)
    return fail(&err);
  const char *base = strrchr(weights, '/');
  const cJSON *wsha = cJSON_GetObjectItemCaseSensitive(files, base ? base + 1 : weights);
  if (!cJSON_IsString(wsha)) {
    cJSON_Delete(files);
    clap_error_set(&err, CLAP_ERR_INTERNAL, "%s: weights file not among the hashed files", abs);
    return fail(&err);
  }
  snprintf(hex, sizeof hex, "%s", wsha->valuestring);
  hfckpt_identity(files, id);
  if (!id[0]) {
    cJSON_Delete(files);
    clap_error_set(&err, CLAP_ERR_NOMEM, "%s: out of memory hashing the checkpoint's files", abs);
    return fail(&err);
  }
  int nfiles = cJSON_GetArraySize(files);
  char *cfg = config_json(abs, weights, files, id, prec);
  hfckpt_recorded_identity(cfg, hex, id);
  char what[PATH_MAX + 160];
  snprintf(what, sizeof what, "%s, sha256 %.12s, identity %.12s (%d files), %s",
           nn_precision_name(prec), hex, id, nfiles, abs);
  int rc = store_row(db, name, kind, abs, hex, dim, cfg, replace, what);
  cJSON_free(cfg);
  return rc;
}

/* The server is asked once (openai_embed_register); the identity goes in
** the sha256 column, which models and the feature cache record. */
static int add_openai(sqlite3 *db, const char *name, const openai_embed_options *o, int replace) {
  clap_error err;
  char *cfg = NULL, id[SHA256_HEX_SIZE];
  int dim = 0;
  if (openai_embed_register(o, &cfg, &dim, id, &err) != CLAP_OK) {
    clap_error_prefix(&err, "encoder '%s': ", name);
    return fail(&err);
  }
  char what[600];
  snprintf(what, sizeof what, "identity %.12s, model %.200s at %.300s", id, o->model, o->base_url);
  int rc = store_row(db, name, "openai", o->base_url, id, dim, cfg, replace, what);
  free(cfg);
  return rc;
}

static int encoder_add(sqlite3 *db, const encoder_args *a) {
  if (encoder_builtin(a->name, NULL)) {
    fprintf(stderr, "clap encoder: '%s' is a built-in encoder name; choose another\n", a->name);
    return 1;
  }
  return !strcmp(a->kind, "openai") ? add_openai(db, a->name, &a->oa, a->replace)
                                    : add_checkpoint(db, a->name, a->kind, a->path, a->precision,
                                                     a->replace);
}

static int encoder_list(sqlite3 *db) {
  sqlite3_stmt *st;
  clap_error err;
  if (db_prepare(db,
                 "SELECT name, kind, dim, sha256, path, config, "
                 "coalesce(json_extract(config, '$.precision'), 'f32') "
                 "FROM clap_encoders ORDER BY name",
                 &st, &err) != CLAP_OK) {
    fprintf(stderr, "clap encoder: %s\n", err.msg);
    return 1;
  }
  printf("%-16s %-10s %5s %-4s %-12s %-12s %s\n", "name", "kind", "dim", "prec", "sha256",
         "identity", "path");
  int r;
  while ((r = db_step(st, &err)) == DB_ROW) {
    const char *sha = (const char *)sqlite3_column_text(st, 3);
    const char *cfg = (const char *)sqlite3_column_text(st, 5);
    char id[SHA256_HEX_SIZE] = "";
    /* the identity vectors are recorded under: "-" for rows before schema 3 */
    if (cfg && strstr(cfg, "\"files\"")) hfckpt_recorded_identity(cfg, NULL, id);
    printf("%-16s %-10s %5d %-4s %-12.12s %-12.12s %s\n", (const char *)sqlite3_column_text(st, 0),
           (const char *)sqlite3_column_text(st, 1), sqlite3_column_int(st, 2),
           (const char *)sqlite3_column_text(st, 6), sha ? sha : "-", *id ? id : "-",
           sqlite3_column_text(st, 4) ? (const char *)sqlite3_column_text(st, 4) : "-");
  }
  sqlite3_finalize(st);
  if (r < 0) fprintf(stderr, "clap encoder: listing encoders: %s\n", err.msg);
  return r < 0;
}

enum { OPT_NAME = CLI_OPT, OPT_KIND, OPT_PATH, OPT_REPLACE, OPT_BASE_URL, OPT_MODEL, OPT_DIM,
       OPT_BATCH, OPT_INPUT_PREFIX, OPT_TIMEOUT, OPT_PRECISION, OPT_CREATE };
static const struct option add_opts[] = {
    CLI_HELP_OPTION, CLI_DB_OPTION,
    {"name", required_argument, NULL, OPT_NAME},
    {"kind", required_argument, NULL, OPT_KIND},
    {"path", required_argument, NULL, OPT_PATH},
    {"replace", no_argument, NULL, OPT_REPLACE},
    {"base-url", required_argument, NULL, OPT_BASE_URL},
    {"model", required_argument, NULL, OPT_MODEL},
    {"dim", required_argument, NULL, OPT_DIM},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"input-prefix", required_argument, NULL, OPT_INPUT_PREFIX},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"precision", required_argument, NULL, OPT_PRECISION},
    {"create", no_argument, NULL, OPT_CREATE},
    {0}};
static const struct option plain_opts[] = {CLI_HELP_OPTION, CLI_DB_OPTION, {0}};

/* An option of --kind openai into a->oa; 0, or 2 after a usage error. */
static int server_option(encoder_args *a, const cli *c, int opt) {
  long v;
  double t;
  a->server_opts++;
  switch (opt) {
  case OPT_BASE_URL: a->oa.base_url = optarg; return 0;
  case OPT_MODEL: a->oa.model = optarg; return 0;
  case OPT_INPUT_PREFIX: a->oa.input_prefix = optarg; return 0;
  case OPT_DIM:
  case OPT_BATCH:
    if (cli_int(c, 1, opt == OPT_DIM ? OPENAI_MAX_DIM : OPENAI_MAX_BATCH, &v)) return 2;
    *(opt == OPT_DIM ? &a->oa.dim : &a->oa.batch) = (int)v;
    return 0;
  case OPT_TIMEOUT:
    if (cli_number(c, 0.001, 3600, &t)) return 2;
    a->oa.timeout_s = t;
    return 0;
  }
  return 0;
}

/* One option of `encoder add` into a; 0, or 2 after a usage error. */
static int encoder_option(encoder_args *a, const cli *c, int opt) {
  switch (opt) {
  case OPT_NAME: a->name = optarg; return 0;
  case OPT_KIND:
    if (!strcmp(optarg, "acoustic") || !strcmp(optarg, "ngram"))
      return cli_usage(c, "--kind: built-in kinds need no registration; use hubert, distilbert or openai");
    a->kind = optarg;
    return 0;
  case OPT_PATH: a->path = optarg; return 0;
  case OPT_REPLACE: a->replace = 1; return 0;
  case OPT_PRECISION:
    if (strcmp(optarg, "f32") && strcmp(optarg, "bf16") && strcmp(optarg, "auto"))
      return cli_usage(c, "--precision: expected f32, bf16 or auto, got '%s'", optarg);
    a->precision = optarg;
    return 0;
  case OPT_CREATE: a->create = 1; return 0;
  }
  return server_option(a, c, opt);
}

/* What each kind needs: --path, or the server's options. */
static int check_add(const encoder_args *a, const cli *c) {
  if (!a->name || !*a->name || !a->kind) return cli_usage(c, "add needs --name and --kind");
  if (!strcmp(a->kind, "openai")) {
    if (!a->oa.base_url || !a->oa.model || a->path || a->precision)
      return cli_usage(c, "--kind openai needs --base-url and --model, and no --path or --precision");
    return 0;
  }
  if (!a->path || a->server_opts)
    return cli_usage(c, "--kind %s needs --path (--base-url, --model, --dim, --batch, --input-prefix "
                        "and --timeout go with --kind openai)", a->kind);
  return 0;
}

/* The verb, its options and DB into a. Returns -1 to go on, or the exit
** status: 0 after --help, 2 after a usage error (printed). */
static int encoder_parse(int argc, char **argv, encoder_args *a) {
  static const char *const operands[] = {"database", NULL};
  *a = (encoder_args){0};
  cli c = {.cmd = "clap encoder", .help = encoder_usage};
  for (int o; (o = cli_next(&c, argc, argv, "+", plain_opts)) != CLI_END;)
    if (o == CLI_EXIT) return c.status;
  if (optind >= argc) return cli_usage(&c, "no verb given (add, list)");
  a->verb = argv[optind];
  int add = !strcmp(a->verb, "add");
  if (!add && strcmp(a->verb, "list")) return cli_usage(&c, "unknown verb '%s'", a->verb);
  argc -= optind;
  argv += optind; /* argv[0] is the verb */
  cli vc = {.cmd = "clap encoder", .help = encoder_usage};
  for (int o; (o = cli_next(&vc, argc, argv, "", add ? add_opts : plain_opts)) != CLI_END;)
    if (o == CLI_EXIT) return vc.status;
    else if (encoder_option(a, &vc, o)) return 2;
  if (cli_operands(&vc, argc, argv, operands, 1, 1)) return 2;
  a->db = argv[optind];
  if (add && check_add(a, &vc)) return 2;
  return -1;
}

int cmd_encoder(int argc, char **argv) {
  encoder_args a;
  int status = encoder_parse(argc, argv, &a);
  if (status >= 0) return status;
  int add = !strcmp(a.verb, "add");
  sqlite3 *db;
  clap_error err;
  int flags = a.create ? DB_CREATE : add ? DB_CREATE_HINT : 0;
  if (db_open(a.db, flags, &db, &err) != CLAP_OK) return fail(&err);
  int rc = add ? encoder_add(db, &a) : encoder_list(db);
  db_close(db);
  return rc;
}
