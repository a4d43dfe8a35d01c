/* hfckpt — see hfckpt.h. */
#include "hfckpt.h"

#include "fileio.h"
#include "sha256.h"
#include "torchbin.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

clap_status hfckpt_load_json(const char *path, cJSON **out, clap_error *err) {
  *out = NULL;
  unsigned char *text;
  size_t n;
  clap_status rc = fileio_read(path, HFCKPT_MAX_JSON_BYTES, &text, &n, err);
  if (rc == CLAP_OK) rc = fileio_check_utf8(path, text, n, err);
  if (rc) {
    free(text);
    return rc;
  }
  cJSON *root = cJSON_Parse((const char *)text);
  free(text);
  if (!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    return clap_error_set(err, CLAP_ERR_FORMAT, "%.300s: not a JSON object", path);
  }
  *out = root;
  return CLAP_OK;
}

/* The value of key, or NULL when it is absent or null (both mean "default"). */
static const cJSON *field(const cJSON *root, const char *key) {
  const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, key);
  return cJSON_IsNull(j) ? NULL : j;
}

clap_status hfckpt_int(const cJSON *root, const char *key, int def, int lo, int hi, int *out,
                         const char *path, clap_error *err) {
  const cJSON *j = field(root, key);
  if (!j) {
    *out = def;
    return CLAP_OK;
  }
  double d = cJSON_IsNumber(j) ? j->valuedouble : NAN;
  if (!(d >= lo && d <= hi) || d != floor(d))
    return clap_error_set(err, CLAP_ERR_FORMAT, "%.300s: \"%s\" must be an integer in %d..%d",
                          path, key, lo, hi);
  *out = (int)d;
  return CLAP_OK;
}

clap_status hfckpt_bool(const cJSON *root, const char *key, int def, int *out, const char *path,
                          clap_error *err) {
  const cJSON *j = field(root, key);
  if (!j) {
    *out = def;
    return CLAP_OK;
  }
  if (!cJSON_IsBool(j))
    return clap_error_set(err, CLAP_ERR_FORMAT, "%.300s: \"%s\" must be true or false", path, key);
  *out = cJSON_IsTrue(j);
  return CLAP_OK;
}

int hfckpt_file_exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

static clap_status open_named(const char *path, int safetensors, st_file **st,
                              char **weights_path, clap_error *err) {
  *weights_path = strdup(path);
  if (!*weights_path) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  if (safetensors) return st_open(path, st, err);
  void *buf;
  size_t len;
  clap_status rc = torchbin_convert_file(path, &buf, &len, err);
  if (rc) return rc;
  return st_open_memory(buf, len, 1, path, st, err);
}

/* 0 with the path in out when DIR holds one of the known weights files
** (the first wins), -1 when it holds neither. */
static int find_weights(const char *dir, char *out, size_t cap, int *safetensors) {
  static const char *const names[] = {"model.safetensors", "pytorch_model.bin"};
  for (int i = 0; i < 2; i++) {
    if ((size_t)snprintf(out, cap, "%s/%s", dir, names[i]) < cap && hfckpt_file_exists(out)) {
      *safetensors = i == 0;
      return 0;
    }
  }
  return -1;
}

static clap_status no_weights(const char *dir, clap_error *err) {
  return clap_error_set(err, CLAP_ERR_NOTFOUND,
                        "%.300s: no model.safetensors or pytorch_model.bin in the checkpoint "
                        "directory",
                        dir);
}

clap_status hfckpt_weights_file(const char *dir, char *out, size_t cap, clap_error *err) {
  int safetensors;
  return find_weights(dir, out, cap, &safetensors) ? no_weights(dir, err) : CLAP_OK;
}

clap_status hfckpt_open_weights(const char *dir, st_file **st, char **weights_path,
                                clap_error *err) {
  *st = NULL;
  *weights_path = NULL;
  char path[4096];
  int safetensors;
  if (find_weights(dir, path, sizeof path, &safetensors)) return no_weights(dir, err);
  clap_status rc = open_named(path, safetensors, st, weights_path, err);
  if (rc) {
    if (*st) st_close(*st);
    *st = NULL;
    free(*weights_path);
    *weights_path = NULL;
  }
  return rc;
}

/* ------------------------------------------------------------ identity */

/* What an encoder may read from a checkpoint directory besides its weights;
** sorted, as the identity wants them. */
static const char *const aux_files[] = {"config.json", "preprocessor_config.json", "spiece.model",
                                        "tokenizer_config.json"};
#define N_AUX ((int)(sizeof aux_files / sizeof aux_files[0]))
#define MAX_FILES (N_AUX + 1)

/* The names (borrowed: aux_files or weights_name) an encoder would read from
** dir now; the weights file must be there. */
static clap_status current_files(const char *dir, const char *names[MAX_FILES], int *n,
                                 char weights_name[32], clap_error *err) {
  char path[4096];
  int safetensors;
  *n = 0;
  if (find_weights(dir, path, sizeof path, &safetensors)) return no_weights(dir, err);
  snprintf(weights_name, 32, "%s", safetensors ? "model.safetensors" : "pytorch_model.bin");
  names[(*n)++] = weights_name;
  for (int i = 0; i < N_AUX; i++)
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, aux_files[i]) < sizeof path &&
        hfckpt_file_exists(path))
      names[(*n)++] = aux_files[i];
  return CLAP_OK;
}

static clap_status hash_in(const char *dir, const char *name, char hex[SHA256_HEX_SIZE],
                           clap_error *err) {
  char path[4096];
  if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
    return clap_error_set(err, CLAP_ERR_RANGE, "%.300s: path too long", dir);
  return sha256_file(path, hex, err);
}

clap_status hfckpt_file_hashes(const char *dir, cJSON **files, clap_error *err) {
  *files = NULL;
  if (!dir) return clap_error_set(err, CLAP_ERR_ARG, "hfckpt_file_hashes: no directory");
  const char *names[MAX_FILES];
  char wname[32], hex[SHA256_HEX_SIZE];
  int n;
  clap_status rc = current_files(dir, names, &n, wname, err);
  if (rc) return rc;
  cJSON *obj = cJSON_CreateObject();
  if (!obj) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  for (int i = 0; i < n && rc == CLAP_OK; i++) {
    rc = hash_in(dir, names[i], hex, err);
    if (rc == CLAP_OK && !cJSON_AddStringToObject(obj, names[i], hex))
      rc = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  }
  if (rc) cJSON_Delete(obj);
  else *files = obj;
  return rc;
}

static int is_file_entry(const cJSON *it) { return cJSON_IsString(it) && it->string; }

/* Selection in name order rather than a sorted copy: no allocation that
** could fail, and `clap encoder add` records at most five files. Members
** with the same name (JSON allows it) are hashed together, in order. */
void hfckpt_identity(const cJSON *files, char out[SHA256_HEX_SIZE]) {
  sha256_ctx c;
  sha256_init(&c);
  const char *prev = NULL;
  for (;;) {
    const char *next = NULL;
    const cJSON *it;
    cJSON_ArrayForEach(it, files) {
      if (is_file_entry(it) && (!prev || strcmp(it->string, prev) > 0) &&
          (!next || strcmp(it->string, next) < 0))
        next = it->string;
    }
    if (!next) break;
    cJSON_ArrayForEach(it, files) {
      if (!is_file_entry(it) || strcmp(it->string, next)) continue;
      sha256_update(&c, it->valuestring, strlen(it->valuestring));
      sha256_update(&c, "  ", 2);
      sha256_update(&c, it->string, strlen(it->string));
      sha256_update(&c, "\n", 1);
    }
    prev = next;
  }
  sha256_final_hex(&c, out);
}

static const cJSON *recorded_files(const cJSON *cfg) {
  const cJSON *f = cJSON_GetObjectItemCaseSensitive(cfg, "files");
  return cJSON_IsObject(f) ? f : NULL;
}

clap_status hfckpt_recorded_precision(const char *name, const char *config_json, nn_precision *p,
                                      clap_error *err) {
  *p = NN_F32;
  cJSON *cfg = config_json ? cJSON_Parse(config_json) : NULL;
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, "precision");
  clap_status rc = CLAP_OK;
  if (v && !(cJSON_IsString(v) && (!strcmp(v->valuestring, "f32") || !strcmp(v->valuestring, "bf16"))))
    rc = clap_error_set(err, CLAP_ERR_FORMAT,
                        "encoder '%s': recorded precision is not \"f32\" or \"bf16\"", name);
  else if (v && !strcmp(v->valuestring, "bf16"))
    *p = NN_BF16;
  cJSON_Delete(cfg);
  return rc;
}

void hfckpt_recorded_identity(const char *config_json, const char *sha,
                              char out[SHA256_HEX_SIZE]) {
  cJSON *cfg = config_json ? cJSON_Parse(config_json) : NULL;
  const cJSON *files = recorded_files(cfg);
  if (files) hfckpt_identity(files, out);
  else snprintf(out, SHA256_HEX_SIZE, "%s", sha ? sha : "");
  const cJSON *prec = cJSON_GetObjectItemCaseSensitive(cfg, "precision");
  if (*out && cJSON_IsString(prec) && strcmp(prec->valuestring, "f32") != 0) {
    char line[SHA256_HEX_SIZE + 32];
    int n = snprintf(line, sizeof line, "%s %.16s", out, prec->valuestring);
    sha256_hex(line, (size_t)n, out);
  }
  cJSON_Delete(cfg);
}

static int listed(const char *const *names, int n, const char *name) {
  for (int i = 0; i < n; i++)
    if (!strcmp(names[i], name)) return 1;
  return 0;
}

#define READD "re-add it with `clap encoder add --replace`, re-run `clap embed` and retrain"

/* Every file the encoder would read now must be one `clap encoder add`
** recorded, with the same digest. Cheap checks (which names) come first. */
static clap_status verify_files(const char *name, const char *dir, const cJSON *files,
                                clap_error *err) {
  const char *names[MAX_FILES];
  char wname[32], hex[SHA256_HEX_SIZE];
  int n;
  if (!dir) return clap_error_set(err, CLAP_ERR_ARG, "encoder '%s': no checkpoint path", name);
  clap_status rc = current_files(dir, names, &n, wname, err);
  if (rc) {
    clap_error_prefix(err, "encoder '%s': ", name);
    return rc;
  }
  for (int i = 0; i < n; i++)
    if (!cJSON_GetObjectItemCaseSensitive(files, names[i]))
      return clap_error_set(err, CLAP_ERR_FORMAT,
                            "encoder '%s': %.300s/%s appeared since `clap encoder add` (the "
                            "encoder would read it; it was not recorded); " READD,
                            name, dir, names[i]);
  const cJSON *it;
  cJSON_ArrayForEach(it, files) {
    if (!it->string || !listed(names, n, it->string))
      return clap_error_set(err, CLAP_ERR_FORMAT,
                            "encoder '%s': %.300s/%s, recorded by `clap encoder add`, is gone; " READD,
                            name, dir, it->string ? it->string : "?");
    if (!cJSON_IsString(it))
      return clap_error_set(err, CLAP_ERR_FORMAT,
                            "encoder '%s': the recorded sha256 of %s is not text", name, it->string);
    if ((rc = hash_in(dir, it->string, hex, err)) != CLAP_OK) return rc;
    if (strcmp(hex, it->valuestring))
      return clap_error_set(err, CLAP_ERR_FORMAT,
                            "encoder '%s': %.300s/%s changed since `clap encoder add` (sha256 "
                            "%.12s… recorded, %.12s… now); " READD,
                            name, dir, it->string, it->valuestring, hex);
  }
  return CLAP_OK;
}

/* Rows made before the files were recorded: the weights file only. */
static clap_status verify_weights_only(const char *name, const char *dir, const cJSON *w,
                                       const char *sha, clap_error *err) {
  const char *f = w->valuestring;
  size_t need = strlen(f) + (dir ? strlen(dir) : 0) + 2;
  char *file = malloc(need), hex[SHA256_HEX_SIZE];
  if (!file) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  if (f[0] == '/' || !dir) snprintf(file, need, "%s", f);
  else snprintf(file, need, "%s/%s", dir, f);
  struct stat sb;
  /* a device or a FIFO would be hashed forever */
  clap_status rc = stat(file, &sb) == 0 && !S_ISREG(sb.st_mode)
                       ? clap_error_set(err, CLAP_ERR_FORMAT,
                                        "encoder '%s': weights %.300s is not a regular file", name,
                                        file)
                       : sha256_file(file, hex, err);
  if (rc == CLAP_OK && strcmp(hex, sha))
    rc = clap_error_set(err, CLAP_ERR_FORMAT,
                        "encoder '%s': weights %s changed since `clap encoder add` (sha256 "
                        "%.12s… recorded, %.12s… now); re-add it with --replace and retrain",
                        name, file, sha, hex);
  free(file);
  return rc;
}

clap_status hfckpt_verify_weights(const char *name, const char *dir, const char *config_json,
                                  const char *sha, clap_error *err) {
  cJSON *cfg = config_json ? cJSON_Parse(config_json) : NULL;
  const cJSON *files = recorded_files(cfg);
  const cJSON *w = cJSON_GetObjectItemCaseSensitive(cfg, "weights");
  clap_status rc = CLAP_OK;
  if (files) rc = verify_files(name ? name : "?", dir, files, err);
  else if (sha && cJSON_IsString(w)) rc = verify_weights_only(name ? name : "?", dir, w, sha, err);
  cJSON_Delete(cfg);
  return rc;
}
