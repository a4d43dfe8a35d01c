/* prompt — see prompt.h. */
#include "prompt.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct prompt_set {
  int classes;
  int *first;            /* classes + 1 offsets into texts: class k is first[k]..first[k+1]-1 */
  char **texts;          /* NUL-terminated copies, in arena */
  char *arena;           /* every sentence, back to back */
  size_t used;
  int *lens;             /* their byte counts */
  unsigned char *array;  /* class k was written as an array of sentences */
  int classes_form;      /* parsed by prompt_parse_classes */
};

/* ------------------------------------------------------------- embedding */

static clap_status check_encoder(const clap_model *m, const encoder *enc, clap_error *err) {
  if (!m || !enc) return clap_error_set(err, CLAP_ERR_ARG, "prompt: model or encoder is NULL");
  clap_status rc = encoder_check_modality(encoder_name(enc), encoder_modality_of(enc),
                                          ENCODER_TEXT, err);
  if (rc) return rc;
  int want = model_get_config(m)->text_in;
  if (encoder_dim(enc) != want)
    return clap_error_set(err, CLAP_ERR_RANGE,
                          "the model expects %d text features but encoder '%s' produces %d", want,
                          encoder_name(enc), encoder_dim(enc));
  return CLAP_OK;
}

/* The mean of n unit embeddings, normalised; *bad is the sentence that
** failed (-1 when the failure is not one sentence's). */
/* Where a sentence's encoder features come from: the encoder, or rows
** computed before (feats: n rows of the model's text_in floats). */
typedef struct feature_source {
  const encoder *enc;
  const float *feats;
} feature_source;

static clap_status check_source(const clap_model *m, const feature_source *src, clap_error *err) {
  if (!src->feats) return check_encoder(m, src->enc, err);
  return m ? CLAP_OK : clap_error_set(err, CLAP_ERR_ARG, "prompt: model is NULL");
}

static clap_status ensemble(const clap_model *m, const feature_source *src, const char *const *texts,
                            const int *lens, int n, float *out, int *bad, clap_error *err) {
  *bad = -1;
  if (n < 1 || (!texts && !src->feats) || !out)
    return clap_error_set(err, CLAP_ERR_ARG, "prompt_embed: no sentences or no output");
  clap_status rc = check_source(m, src, err);
  if (rc) return rc;
  int in = src->feats ? model_get_config(m)->text_in : encoder_dim(src->enc);
  int dim = model_get_config(m)->dim;
  float *x = malloc(sizeof(float) * (size_t)in);
  float *e = malloc(sizeof(float) * (size_t)dim);
  double *sum = calloc((size_t)dim, sizeof(double));
  if (!x || !e || !sum) {
    rc = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory embedding %d sentences", n);
    goto done;
  }
  for (int j = 0; j < n; j++) {
    *bad = j;
    const float *xj = src->feats ? src->feats + (size_t)j * (size_t)in : x;
    if ((!src->feats && (rc = encoder_encode_text(src->enc, texts[j], lens ? lens[j] : -1, x, err))) ||
        (rc = model_embed(m, MODEL_TEXT, xj, 1, e, err)))
      goto done;
    for (int d = 0; d < dim; d++) sum[d] += e[d];
  }
  *bad = -1;
  if (n == 1) { /* one sentence is its own embedding, bit for bit */
    memcpy(out, e, sizeof(float) * (size_t)dim);
    goto done;
  }
  double norm = 0;
  for (int d = 0; d < dim; d++) norm += sum[d] * sum[d];
  norm = sqrt(norm);
  if (!(norm > 0) || !isfinite(norm)) {
    rc = clap_error_set(err, CLAP_ERR_RANGE,
                        "the embeddings of the %d sentences cancel out (their mean is zero)", n);
    goto done;
  }
  for (int d = 0; d < dim; d++) out[d] = (float)(sum[d] / norm);
done:
  free(x);
  free(e);
  free(sum);
  return rc;
}

clap_status prompt_embed(const clap_model *m, const encoder *text_enc, const char *const *texts,
                         const int *lens, int n, float *out, clap_error *err) {
  int bad;
  feature_source src = {.enc = text_enc};
  clap_status rc = ensemble(m, &src, texts, lens, n, out, &bad, err);
  if (rc && bad >= 0 && n > 1) clap_error_prefix(err, "sentence %d: ", bad);
  return rc;
}

/* Every class of p from src, in order (src->feats advanced per class). */
static clap_status set_embed(const prompt_set *p, const clap_model *m, feature_source src, float *out,
                             clap_error *err) {
  if (!p || !m) return clap_error_set(err, CLAP_ERR_ARG, "prompt_set_embed: set or model is NULL");
  int dim = model_get_config(m)->dim, in = model_get_config(m)->text_in;
  for (int k = 0; k < p->classes; k++) {
    int bad, first = p->first[k];
    feature_source at = src;
    if (src.feats) at.feats = src.feats + (size_t)first * (size_t)in;
    clap_status rc = ensemble(m, &at, (const char *const *)p->texts + first, p->lens + first,
                              p->first[k + 1] - first, out + (size_t)k * dim, &bad, err);
    if (!rc) continue;
    if (p->classes_form && p->array[k]) clap_error_prefix(err, "element %d[%d]: ", k, bad < 0 ? 0 : bad);
    else if (p->classes_form) clap_error_prefix(err, "element %d: ", k);
    else if (p->array[k] && bad >= 0) clap_error_prefix(err, "element %d: ", bad);
    return rc;
  }
  return CLAP_OK;
}

clap_status prompt_set_embed(const prompt_set *p, const clap_model *m, const encoder *text_enc,
                             float *out, clap_error *err) {
  return set_embed(p, m, (feature_source){.enc = text_enc}, out, err);
}

clap_status prompt_set_embed_features(const prompt_set *p, const clap_model *m, const float *x,
                                      int xdim, float *out, clap_error *err) {
  if (!x) return clap_error_set(err, CLAP_ERR_ARG, "prompt_set_embed_features: no features");
  if (m && xdim != model_get_config(m)->text_in)
    return clap_error_set(err, CLAP_ERR_RANGE, "the model expects %d text features, not %d",
                          model_get_config(m)->text_in, xdim);
  return set_embed(p, m, (feature_source){.feats = x}, out, err);
}

int prompt_set_sentences(const prompt_set *p) { return p ? p->first[p->classes] : 0; }

/* ------------------------------------------------------------- parsing */

static const char *json_kind(const cJSON *v) {
  if (cJSON_IsString(v)) return "a string";
  if (cJSON_IsNumber(v)) return "a number";
  if (cJSON_IsBool(v)) return "a boolean";
  if (cJSON_IsNull(v)) return "null";
  if (cJSON_IsArray(v)) return "an array";
  if (cJSON_IsObject(v)) return "an object";
  return "not a JSON value";
}

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static cJSON *parse_json(const char *s, size_t n, clap_error *err) {
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(s, n, &end, 0);
  size_t at = end && end >= s && end <= s + n ? (size_t)(end - s) : 0;
  if (!root) {
    clap_error_set(err, CLAP_ERR_FORMAT, "not valid JSON (at byte %zu of %zu)", at, n);
    return NULL;
  }
  while (at < n && is_blank(s[at])) at++;
  if (at < n) {
    cJSON_Delete(root);
    clap_error_set(err, CLAP_ERR_FORMAT, "not valid JSON: text after the array at byte %zu of %zu",
                   at, n);
    return NULL;
  }
  return root;
}

/* Sizes counted by the check pass, so the set is allocated once. */
typedef struct set_size {
  int classes, sentences;
  size_t bytes; /* of the sentences, NULs included */
} set_size;

static prompt_set *set_alloc(const set_size *z, int classes_form) {
  prompt_set *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->classes = z->classes;
  p->classes_form = classes_form;
  p->first = calloc((size_t)z->classes + 1, sizeof *p->first);
  p->texts = malloc((size_t)z->sentences * sizeof *p->texts);
  p->lens = malloc((size_t)z->sentences * sizeof *p->lens);
  p->array = calloc((size_t)z->classes, 1);
  p->arena = malloc(z->bytes);
  if (!p->first || !p->texts || !p->lens || !p->array || !p->arena) {
    prompt_set_free(p);
    return NULL;
  }
  return p;
}

void prompt_set_free(prompt_set *p) {
  if (!p) return;
  free(p->first);
  free(p->texts);
  free(p->lens);
  free(p->array);
  free(p->arena);
  free(p);
}

/* Copy sentence i (n bytes) into the arena, which the check pass sized. */
static void add_text(prompt_set *p, int i, const char *s, size_t n) {
  char *c = p->arena + p->used;
  memcpy(c, s, n);
  c[n] = 0;
  p->used += n + 1;
  p->texts[i] = c;
  p->lens[i] = (int)n;
}

/* An element's address in messages: "element 2" (j < 0) or "element 2[0]". */
static const char *where(int k, int j, char buf[48]) {
  if (j < 0) snprintf(buf, 48, "element %d", k);
  else snprintf(buf, 48, "element %d[%d]", k, j);
  return buf;
}

/* A sentence element: a non-empty string, its size added to *z. Element k
** (j < 0) or k[j]; the message says what the element is instead. */
static clap_status check_sentence(const cJSON *v, int k, int j, int in_ensemble, set_size *z,
                                  clap_error *err) {
  char at[48];
  if (cJSON_IsString(v) && v->valuestring && v->valuestring[0]) {
    size_t n = strlen(v->valuestring);
    if (n > INT_MAX || z->sentences == INT_MAX || z->bytes > SIZE_MAX - n - 1)
      return clap_error_set(err, CLAP_ERR_RANGE, "%s: too long", where(k, j, at));
    z->sentences++;
    z->bytes += n + 1;
    return CLAP_OK;
  }
  if (cJSON_IsString(v))
    return clap_error_set(err, CLAP_ERR_ARG, "%s is an empty string", where(k, j, at));
  if (cJSON_IsArray(v) && in_ensemble)
    return clap_error_set(err, CLAP_ERR_ARG, "%s is an array; ensembles do not nest",
                          where(k, j, at));
  return clap_error_set(err, CLAP_ERR_ARG, "%s is %s; expected a sentence (a string)%s",
                        where(k, j, at), json_kind(v),
                        in_ensemble ? "" : " or an array of sentences");
}

/* The sentences of an ensemble array, each checked. k < 0: the array is the
** whole class (its sentences are "element j"); otherwise element k. */
static clap_status check_ensemble(const cJSON *a, int k, set_size *z, clap_error *err) {
  int j = 0;
  for (const cJSON *v = a->child; v; v = v->next, j++) {
    clap_status rc = k < 0 ? check_sentence(v, j, -1, 1, z, err) : check_sentence(v, k, j, 1, z, err);
    if (rc) return rc;
  }
  if (j > 0) return CLAP_OK;
  char at[48];
  if (k >= 0) return clap_error_set(err, CLAP_ERR_ARG, "%s is an empty array", where(k, -1, at));
  return clap_error_set(err, CLAP_ERR_ARG, "an empty array: expected at least one sentence");
}

clap_status prompt_parse_sentence(const char *text, size_t nbytes, prompt_set **out,
                                  clap_error *err) {
  if (!out) return clap_error_set(err, CLAP_ERR_ARG, "prompt_parse_sentence: out is NULL");
  *out = NULL;
  if (!text || nbytes == 0) return clap_error_set(err, CLAP_ERR_ARG, "empty text");
  if (nbytes > INT_MAX) return clap_error_set(err, CLAP_ERR_RANGE, "text too long");
  const char *nul = memchr(text, '\0', nbytes); /* a sentence is kept as a C string */
  if (nul)
    return clap_error_set(err, CLAP_ERR_ARG, "the text has a NUL byte at byte %zu",
                          (size_t)(nul - text));
  set_size z = {1, 1, nbytes + 1};
  prompt_set *p = set_alloc(&z, 0);
  if (!p) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  add_text(p, 0, text, nbytes);
  p->first[1] = 1;
  *out = p;
  return CLAP_OK;
}

clap_status prompt_parse_class(const char *text, size_t nbytes, prompt_set **out,
                               clap_error *err) {
  if (!out) return clap_error_set(err, CLAP_ERR_ARG, "prompt_parse_class: out is NULL");
  *out = NULL;
  size_t i = 0;
  while (text && i < nbytes && is_blank(text[i])) i++;
  if (!text || i == nbytes || text[i] != '[') return prompt_parse_sentence(text, nbytes, out, err);
  cJSON *root = parse_json(text, nbytes, err);
  if (!root) {
    if (err)
      strncat(err->msg, "; a sentence that starts with '[' is written as a JSON array: [\"...\"]",
              sizeof err->msg - strlen(err->msg) - 1);
    return err ? err->code : CLAP_ERR_FORMAT;
  }
  set_size z = {1, 0, 0};
  clap_status rc = check_ensemble(root, -1, &z, err);
  prompt_set *p = rc ? NULL : set_alloc(&z, 0);
  if (!rc && !p) rc = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  int j = 0;
  for (const cJSON *v = rc ? NULL : root->child; v; v = v->next)
    add_text(p, j++, v->valuestring, strlen(v->valuestring));
  cJSON_Delete(root);
  if (rc) return rc;
  p->first[1] = z.sentences;
  p->array[0] = 1;
  *out = p;
  return CLAP_OK;
}

/* Check every element of a classes array and size the set. */
static clap_status check_classes(const cJSON *root, set_size *z, clap_error *err) {
  if (!cJSON_IsArray(root))
    return clap_error_set(err, CLAP_ERR_ARG,
                          "expected a JSON array of classes (sentences or arrays of sentences), "
                          "got %s",
                          json_kind(root));
  *z = (set_size){0, 0, 0};
  for (const cJSON *v = root->child; v; v = v->next, z->classes++) {
    clap_status rc = cJSON_IsArray(v) ? check_ensemble(v, z->classes, z, err)
                                      : check_sentence(v, z->classes, -1, 0, z, err);
    if (rc) return rc;
  }
  if (z->classes == 0)
    return clap_error_set(err, CLAP_ERR_ARG, "an empty array: expected at least one class");
  return CLAP_OK;
}

clap_status prompt_parse_classes(const char *json, size_t nbytes, prompt_set **out,
                                 clap_error *err) {
  if (!out) return clap_error_set(err, CLAP_ERR_ARG, "prompt_parse_classes: out is NULL");
  *out = NULL;
  if (!json || nbytes == 0) return clap_error_set(err, CLAP_ERR_ARG, "empty text");
  cJSON *root = parse_json(json, nbytes, err);
  if (!root) return err ? err->code : CLAP_ERR_FORMAT;
  set_size z;
  clap_status rc = check_classes(root, &z, err);
  prompt_set *p = rc ? NULL : set_alloc(&z, 1);
  if (!rc && !p) rc = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  int k = 0, i = 0;
  /* One walk over the array (cJSON_GetArrayItem would make it quadratic). */
  for (const cJSON *v = rc ? NULL : root->child; v; v = v->next, k++) {
    p->first[k] = i;
    p->array[k] = cJSON_IsArray(v);
    for (const cJSON *s = p->array[k] ? v->child : v; s; s = p->array[k] ? s->next : NULL)
      add_text(p, i++, s->valuestring, strlen(s->valuestring));
  }
  cJSON_Delete(root);
  if (rc) return rc;
  p->first[z.classes] = z.sentences;
  *out = p;
  return CLAP_OK;
}

int prompt_set_count(const prompt_set *p) { return p ? p->classes : 0; }

int prompt_set_size(const prompt_set *p, int k) {
  return p && k >= 0 && k < p->classes ? p->first[k + 1] - p->first[k] : 0;
}

const char *const *prompt_set_texts(const prompt_set *p, int k) {
  return p && k >= 0 && k < p->classes ? (const char *const *)p->texts + p->first[k] : NULL;
}
