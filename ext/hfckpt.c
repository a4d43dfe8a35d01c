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
  clap_status rc = fileio_read(path, HFCKPT_MAX_JSON_BYTES, &text, NULL, err);
  if (rc) return rc;
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

static int file_exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
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
    if ((size_t)snprintf(out, cap, "%s/%s", dir, names[i]) < cap && file_exists(out)) {
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

clap_status hfckpt_verify_weights(const char *name, const char *dir, const char *config_json,
                                  const char *sha, clap_error *err) {
  cJSON *cfg = config_json && sha ? cJSON_Parse(config_json) : NULL;
  cJSON *w = cJSON_GetObjectItemCaseSensitive(cfg, "weights");
  clap_status rc = CLAP_OK;
  if (cJSON_IsString(w)) {
    const char *f = w->valuestring;
    size_t need = strlen(f) + (dir ? strlen(dir) : 0) + 2;
    char *file = malloc(need), hex[SHA256_HEX_SIZE];
    if (!file) {
      rc = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
    } else {
      if (f[0] == '/' || !dir) snprintf(file, need, "%s", f);
      else snprintf(file, need, "%s/%s", dir, f);
      rc = sha256_file(file, hex, err);
      if (rc == CLAP_OK && strcmp(hex, sha))
        rc = clap_error_set(err, CLAP_ERR_FORMAT,
                            "encoder '%s': weights %s changed since `clap encoder add` (sha256 "
                            "%.12s… recorded, %.12s… now); re-add it with --replace and retrain",
                            name, file, sha, hex);
      free(file);
    }
  }
  cJSON_Delete(cfg);
  return rc;
}
