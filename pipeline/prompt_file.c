/*
** prompt_file — see prompt_file.h.
*/
#include "prompt_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fileio.h"
#include "prompt.h"

#define MAX_BYTES (1u << 20)

static clap_status bad(clap_error *err, clap_status code, const char *path, const char *where,
                       const char *what) {
  return clap_error_set(err, code, "%s: %s%s%s", path, where, *where ? ": " : "", what);
}

/* One pole's value as clap_zero_shot's text, checked by prompt.h's parser. */
static clap_status pole_text(const char *path, const char *where, const cJSON *v, char **out,
                             clap_error *err) {
  char *text = NULL;
  if (cJSON_IsString(v)) {
    const char *s = v->valuestring;
    size_t k = strspn(s, " \t\r\n");
    if (s[k] == '[') {
      cJSON *a = cJSON_CreateArray();
      cJSON_AddItemToArray(a, cJSON_CreateString(s));
      text = cJSON_PrintUnformatted(a);
      cJSON_Delete(a);
    } else {
      text = strdup(s);
    }
  } else if (cJSON_IsArray(v)) {
    text = cJSON_PrintUnformatted(v);
  } else {
    return bad(err, CLAP_ERR_ARG, path, where, "expected a sentence or an array of sentences");
  }
  if (!text) return clap_error_set(err, CLAP_ERR_NOMEM, "%s: out of memory", path);
  prompt_set *ps = NULL;
  clap_status rc = prompt_parse_class(text, strlen(text), &ps, err);
  prompt_set_free(ps);
  if (rc != CLAP_OK) {
    clap_error_prefix(err, "%s: %s: ", path, where);
    free(text);
    return rc;
  }
  *out = text;
  return CLAP_OK;
}

static clap_status one_pair(const char *path, int i, const cJSON *p, prompt_file_pair *out,
                            clap_error *err) {
  char where[64];
  snprintf(where, sizeof where, "pairs[%d]", i);
  if (!cJSON_IsObject(p)) return bad(err, CLAP_ERR_ARG, path, where, "expected an object");
  for (const cJSON *k = p->child; k; k = k->next)
    if (strcmp(k->string, "label") && strcmp(k->string, "no") && strcmp(k->string, "yes")) {
      char what[160];
      snprintf(what, sizeof what, "unknown key '%.100s' (expected label, no, yes)", k->string);
      return bad(err, CLAP_ERR_ARG, path, where, what);
    }
  static const char *const pole[2] = {"no", "yes"};
  for (int k = 0; k < 2; k++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, pole[k]);
    char w[80];
    snprintf(w, sizeof w, "%s.%s", where, pole[k]);
    if (!v) return bad(err, CLAP_ERR_ARG, path, w, "missing");
    clap_status rc = pole_text(path, w, v, &out->text[k], err);
    if (rc != CLAP_OK) return rc;
  }
  const cJSON *l = cJSON_GetObjectItemCaseSensitive(p, "label");
  if (l && (!cJSON_IsString(l) || !*l->valuestring)) {
    snprintf(where, sizeof where, "pairs[%d].label", i);
    return bad(err, CLAP_ERR_ARG, path, where, "expected a non-empty string");
  }
  if (l) {
    out->label = strdup(l->valuestring);
  } else {
    size_t n = strlen(out->text[0]) + strlen(out->text[1]) + 4;
    if ((out->label = malloc(n))) snprintf(out->label, n, "%s / %s", out->text[0], out->text[1]);
  }
  return out->label ? CLAP_OK : clap_error_set(err, CLAP_ERR_NOMEM, "%s: out of memory", path);
}

static clap_status parse(const char *path, const char *json, size_t n, prompt_file_pair **pairs,
                         int *npairs, clap_error *err) {
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(json, n, &end, 0);
  if (root && end && end[strspn(end, " \t\r\n")]) { /* text after the value */
    cJSON_Delete(root);
    root = NULL;
  }
  if (!root) {
    char what[96];
    snprintf(what, sizeof what, "not valid JSON (at byte %ld of %zu)",
             end ? (long)(end - json) : 0L, n);
    return bad(err, CLAP_ERR_FORMAT, path, "", what);
  }
  clap_status rc = CLAP_OK;
  const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "pairs");
  if (!cJSON_IsObject(root)) rc = bad(err, CLAP_ERR_ARG, path, "", "expected an object {\"pairs\": [...]}");
  else if (!cJSON_IsArray(arr)) rc = bad(err, CLAP_ERR_ARG, path, "pairs", "missing or not an array");
  for (const cJSON *k = root->child; rc == CLAP_OK && k; k = k->next)
    if (strcmp(k->string, "pairs")) {
      char what[160];
      snprintf(what, sizeof what, "unknown key '%.100s' (expected pairs)", k->string);
      rc = bad(err, CLAP_ERR_ARG, path, "", what);
    }
  int m = rc == CLAP_OK ? cJSON_GetArraySize(arr) : 0;
  if (rc == CLAP_OK && (m < 1 || m > PROMPT_FILE_MAX_PAIRS)) {
    char what[96];
    snprintf(what, sizeof what, "%d pairs (expected 1 to %d)", m, PROMPT_FILE_MAX_PAIRS);
    rc = bad(err, CLAP_ERR_ARG, path, "pairs", what);
  }
  prompt_file_pair *out = rc == CLAP_OK ? calloc((size_t)m, sizeof *out) : NULL;
  if (rc == CLAP_OK && !out) rc = clap_error_set(err, CLAP_ERR_NOMEM, "%s: out of memory", path);
  int i = 0;
  for (const cJSON *p = rc == CLAP_OK ? arr->child : NULL; p && rc == CLAP_OK; p = p->next, i++)
    rc = one_pair(path, i, p, &out[i], err);
  cJSON_Delete(root);
  if (rc != CLAP_OK) {
    prompt_file_free(out, m);
    return rc;
  }
  *pairs = out;
  *npairs = m;
  return CLAP_OK;
}

clap_status prompt_file_load(const char *path, prompt_file_pair **pairs, int *npairs,
                             clap_error *err) {
  *pairs = NULL;
  *npairs = 0;
  unsigned char *buf = NULL;
  size_t n = 0;
  clap_status rc = fileio_read(path, MAX_BYTES, &buf, &n, err);
  if (rc == CLAP_OK) rc = fileio_check_utf8(path, buf, n, err);
  if (rc == CLAP_OK) rc = parse(path, (const char *)buf, n, pairs, npairs, err);
  free(buf);
  return rc;
}

void prompt_file_free(prompt_file_pair *pairs, int npairs) {
  for (int i = 0; pairs && i < npairs; i++) {
    free(pairs[i].label);
    free(pairs[i].text[0]);
    free(pairs[i].text[1]);
  }
  free(pairs);
}
