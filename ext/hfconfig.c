/* hfconfig — see hfconfig.h. */
#include "hfconfig.h"

#include "fileio.h"

#include <math.h>
#include <stdlib.h>

clap_status hfconfig_load(const char *path, cJSON **out, clap_error *err) {
  *out = NULL;
  unsigned char *text;
  clap_status rc = fileio_read(path, HFCONFIG_MAX_BYTES, &text, NULL, err);
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

clap_status hfconfig_int(const cJSON *root, const char *key, int def, int lo, int hi, int *out,
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

clap_status hfconfig_bool(const cJSON *root, const char *key, int def, int *out, const char *path,
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
