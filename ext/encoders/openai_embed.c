/* openai_embed — see openai_embed.h. */
#include "openai_embed.h"

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <utf8proc.h>

#include "httpc.h"
#include "vec.h"

#define DEFAULT_BATCH 64
#define DEFAULT_TIMEOUT_S 60.0
#define MAX_TIMEOUT_S 3600.0

typedef struct oa_state {
  char *name, *base_url, *model, *prefix, *probe;
  int dim, send_dim, batch;
  long timeout_ms;
  float *probe_vec;        /* what registration recorded, dim floats */
  char probe_sha[SHA256_HEX_SIZE];
  httpc_client *http;
  pthread_mutex_t mu;      /* guards http and verified */
  int verified;            /* the probe was checked by this instance */
} oa_state;

/* ---- bodies (pure) ------------------------------------------------------ */

/* CLAP_OK when text is valid, non-empty UTF-8; else CLAP_ERR_ARG (empty) or
** CLAP_ERR_FORMAT, why into buf. */
static clap_status text_check(const char *text, char *buf, size_t cap) {
  size_t n = strlen(text);
  if (n == 0) {
    snprintf(buf, cap, "is empty");
    return CLAP_ERR_ARG;
  }
  for (size_t at = 0; at < n;) {
    utf8proc_int32_t cp;
    utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)text + at, (utf8proc_ssize_t)(n - at), &cp);
    if (k < 1) {
      snprintf(buf, cap, "is not valid UTF-8 at byte %zu (0x%02x)", at, (unsigned char)text[at]);
      return CLAP_ERR_FORMAT;
    }
    at += (size_t)k;
  }
  return CLAP_OK;
}

char *openai_embed_request_json(const char *model, const char *prefix, const char *const *texts,
                                int n, int dimensions) {
  if (!model || n < 1 || !texts) return NULL;
  size_t plen = prefix ? strlen(prefix) : 0;
  cJSON *root = cJSON_CreateObject();
  cJSON *input = cJSON_AddArrayToObject(root, "input");
  int ok = root && input && cJSON_AddStringToObject(root, "model", model);
  for (int i = 0; ok && i < n; i++) {
    if (!texts[i]) {
      ok = 0;
      break;
    }
    size_t k = strlen(texts[i]);
    char *s = malloc(plen + k + 1);
    if (!s) {
      ok = 0;
      break;
    }
    if (plen) memcpy(s, prefix, plen);
    memcpy(s + plen, texts[i], k + 1);
    cJSON *item = cJSON_CreateString(s);
    free(s);
    ok = item && cJSON_AddItemToArray(input, item);
  }
  if (ok && dimensions > 0) ok = cJSON_AddNumberToObject(root, "dimensions", dimensions) != NULL;
  char *out = ok ? cJSON_PrintUnformatted(root) : NULL;
  cJSON_Delete(root);
  return out;
}

/* Position of data item k: its "index" when present, else k. */
static clap_status item_slot(const cJSON *item, int k, int count, unsigned char *seen, int *slot,
                             clap_error *err) {
  const cJSON *ix = cJSON_GetObjectItemCaseSensitive(item, "index");
  int at = k;
  if (ix) {
    double d = cJSON_IsNumber(ix) ? ix->valuedouble : -1;
    if (!(d >= 0 && d < count && d == floor(d)))
      return clap_error_set(err, CLAP_ERR_FORMAT, "data[%d].index is not one of 0..%d", k, count - 1);
    at = (int)d;
  }
  if (seen[at]) return clap_error_set(err, CLAP_ERR_FORMAT, "data[%d] repeats index %d", k, at);
  seen[at] = 1;
  *slot = at;
  return CLAP_OK;
}

static clap_status item_vector(const cJSON *item, int k, int dim, float *out, clap_error *err) {
  const cJSON *emb = cJSON_GetObjectItemCaseSensitive(item, "embedding");
  if (cJSON_IsString(emb))
    return clap_error_set(err, CLAP_ERR_FORMAT, "data[%d].embedding is a string (base64); floats are expected", k);
  if (!cJSON_IsArray(emb)) return clap_error_set(err, CLAP_ERR_FORMAT, "data[%d] has no embedding array", k);
  int len = cJSON_GetArraySize(emb);
  if (len != dim)
    return clap_error_set(err, CLAP_ERR_FORMAT, "data[%d].embedding has %d values, the encoder's dimension is %d",
                          k, len, dim);
  int j = 0;
  const cJSON *v;
  cJSON_ArrayForEach(v, emb) {
    double d = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    if (!isfinite(d) || fabs(d) > FLT_MAX)
      return clap_error_set(err, CLAP_ERR_FORMAT, "data[%d].embedding[%d] is not a finite number", k, j);
    out[j++] = (float)d;
  }
  return CLAP_OK;
}

/* The dimension of the first vector, when it is to be learnt. */
static clap_status first_dim(const cJSON *data, int *dim, clap_error *err) {
  const cJSON *emb = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(data, 0), "embedding");
  int len = cJSON_IsArray(emb) ? cJSON_GetArraySize(emb) : 0;
  if (!cJSON_IsArray(emb)) return item_vector(cJSON_GetArrayItem(data, 0), 0, 0, NULL, err);
  if (len < 1 || len > OPENAI_MAX_DIM)
    return clap_error_set(err, CLAP_ERR_FORMAT, "data[0].embedding has %d values (1..%d expected)", len,
                          OPENAI_MAX_DIM);
  *dim = len;
  return CLAP_OK;
}

static clap_status parse_data(const cJSON *root, int count, int *dim, float **out, clap_error *err) {
  const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
  if (!cJSON_IsArray(data)) return clap_error_set(err, CLAP_ERR_FORMAT, "the reply has no \"data\" array");
  int n = cJSON_GetArraySize(data);
  if (n == 0) return clap_error_set(err, CLAP_ERR_FORMAT, "the reply's \"data\" is empty");
  if (n != count)
    return clap_error_set(err, CLAP_ERR_FORMAT, "the reply has %d vectors for %d inputs", n, count);
  int d = *dim;
  clap_status rc = d > 0 ? CLAP_OK : first_dim(data, &d, err);
  if (rc != CLAP_OK) return rc;
  float *v = malloc((size_t)count * (size_t)d * sizeof(float));
  unsigned char *seen = calloc((size_t)count, 1);
  if (!v || !seen) rc = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  int k = 0, slot = 0;
  const cJSON *item;
  cJSON_ArrayForEach(item, data) {
    if (rc != CLAP_OK) break;
    rc = item_slot(item, k, count, seen, &slot, err);
    if (rc == CLAP_OK) rc = item_vector(item, k, d, v + (size_t)slot * (size_t)d, err);
    k++;
  }
  free(seen);
  if (rc != CLAP_OK) {
    free(v);
    return rc;
  }
  *dim = d;
  *out = v;
  return CLAP_OK;
}

clap_status openai_embed_parse(const char *body, size_t n, int count, int *dim, float **out,
                               clap_error *err) {
  if (!out || !dim) return clap_error_set(err, CLAP_ERR_ARG, "openai_embed_parse: no output");
  *out = NULL;
  if (count < 1 || *dim < 0 || *dim > OPENAI_MAX_DIM)
    return clap_error_set(err, CLAP_ERR_ARG, "openai_embed_parse: bad count or dimension");
  if (!body || n == 0) return clap_error_set(err, CLAP_ERR_FORMAT, "the reply is empty");
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(body, n, &end, 0);
  if (!root) {
    size_t at = end && end >= body && end <= body + n ? (size_t)(end - body) : 0;
    return clap_error_set(err, CLAP_ERR_FORMAT, "the reply is not JSON (near byte %zu of %zu)", at, n);
  }
  clap_status rc = cJSON_IsObject(root) ? parse_data(root, count, dim, out, err)
                                         : clap_error_set(err, CLAP_ERR_FORMAT, "the reply is not a JSON object");
  cJSON_Delete(root);
  return rc;
}

/* ---- configuration ------------------------------------------------------ */

static void state_free(oa_state *st) {
  if (!st) return;
  httpc_client_free(st->http);
  if (st->name) pthread_mutex_destroy(&st->mu);
  free(st->name);
  free(st->base_url);
  free(st->model);
  free(st->prefix);
  free(st->probe);
  free(st->probe_vec);
  free(st);
}

static long timeout_ms_of(double s) { return (long)(s * 1000.0 + 0.5); }

static clap_status make_client(oa_state *st, clap_error *err) {
  long t = st->timeout_ms;
  httpc_config h = {.base_url = st->base_url, .path = "embeddings", .timeout_ms = t, .deadline_ms = t,
                    .connect_timeout_ms = t < 10000 ? t : 10000, .max_wait_ms = t < 60000 ? t : 60000};
  return httpc_client_create(&h, &st->http, err);
}

static const char *json_string(const cJSON *cfg, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double json_number(const cJSON *cfg, const char *key, double dflt) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
  return cJSON_IsNumber(v) ? v->valuedouble : v ? NAN : dflt;
}

/* The recorded probe vector: dim finite numbers. */
static clap_status config_probe(oa_state *st, const cJSON *cfg, clap_error *err) {
  const cJSON *pv = cJSON_GetObjectItemCaseSensitive(cfg, "probe_vector");
  const char *probe = json_string(cfg, "probe");
  if (!probe || !*probe || !cJSON_IsArray(pv) || cJSON_GetArraySize(pv) != st->dim)
    return clap_error_set(err, CLAP_ERR_FORMAT, "no probe sentence and %d-value probe_vector recorded", st->dim);
  st->probe = strdup(probe);
  st->probe_vec = malloc((size_t)st->dim * sizeof(float));
  if (!st->probe || !st->probe_vec) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  int j = 0;
  const cJSON *v;
  cJSON_ArrayForEach(v, pv) {
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || fabs(v->valuedouble) > FLT_MAX)
      return clap_error_set(err, CLAP_ERR_FORMAT, "probe_vector[%d] is not a finite number", j);
    st->probe_vec[j++] = (float)v->valuedouble;
  }
  if (sha256_hex(st->probe_vec, (size_t)st->dim * sizeof(float), st->probe_sha))
    return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  return CLAP_OK;
}

static clap_status config_fields(oa_state *st, const cJSON *cfg, clap_error *err) {
  const char *url = json_string(cfg, "base_url"), *model = json_string(cfg, "model");
  const char *prefix = json_string(cfg, "input_prefix");
  double dim = json_number(cfg, "dim", NAN), batch = json_number(cfg, "batch", DEFAULT_BATCH);
  double timeout = json_number(cfg, "timeout", DEFAULT_TIMEOUT_S);
  if (!url || !*url) return clap_error_set(err, CLAP_ERR_FORMAT, "no base_url");
  if (!model || !*model) return clap_error_set(err, CLAP_ERR_FORMAT, "no model");
  if (!(dim >= 1 && dim <= OPENAI_MAX_DIM && dim == floor(dim)))
    return clap_error_set(err, CLAP_ERR_FORMAT, "dim is not a whole number in 1..%d", OPENAI_MAX_DIM);
  if (!(batch >= 1 && batch <= OPENAI_MAX_BATCH && batch == floor(batch)))
    return clap_error_set(err, CLAP_ERR_FORMAT, "batch is not a whole number in 1..%d", OPENAI_MAX_BATCH);
  if (!(timeout > 0 && timeout <= MAX_TIMEOUT_S))
    return clap_error_set(err, CLAP_ERR_FORMAT, "timeout is not in (0, %g] seconds", MAX_TIMEOUT_S);
  st->base_url = strdup(url);
  st->model = strdup(model);
  st->prefix = strdup(prefix ? prefix : "");
  if (!st->base_url || !st->model || !st->prefix) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  st->dim = (int)dim;
  st->batch = (int)batch;
  st->timeout_ms = timeout_ms_of(timeout);
  st->send_dim = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cfg, "dimensions"));
  return CLAP_OK;
}

static clap_status oa_create(const char *name, const char *config, void **state, int *dim,
                             clap_error *err) {
  oa_state *st = calloc(1, sizeof *st);
  if (!st) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  st->name = strdup(name ? name : "openai");
  if (!st->name || pthread_mutex_init(&st->mu, NULL) != 0) {
    free(st->name);
    free(st);
    return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  }
  cJSON *cfg = cJSON_Parse(config);
  clap_status rc = cJSON_IsObject(cfg) ? config_fields(st, cfg, err)
                                       : clap_error_set(err, CLAP_ERR_FORMAT, "not a JSON object");
  if (rc == CLAP_OK) rc = config_probe(st, cfg, err);
  cJSON_Delete(cfg);
  if (rc == CLAP_OK) rc = make_client(st, err);
  if (rc != CLAP_OK) {
    if (rc != CLAP_ERR_NOMEM)
      clap_error_prefix(err, "encoder '%s': clap_encoders.config: ", st->name);
    state_free(st);
    return rc;
  }
  *state = st;
  *dim = st->dim;
  return CLAP_OK;
}

static void oa_destroy(void *state) { state_free(state); }

/* ---- requests ----------------------------------------------------------- */

/* One request: texts[first .. first+count) behind the probe when probe. */
typedef struct part {
  const oa_state *st;
  const char *const *texts;
  int first, count, probe;
  float *out;              /* the caller's rows for these texts */
  float *probe_out;        /* dim floats, when probe */
  char *body;
} part;

static clap_status part_accept(httpc_call *call, const char *body, size_t n, clap_error *err) {
  part *p = call->user;
  int dim = p->st->dim;
  float *v = NULL;
  clap_status rc = openai_embed_parse(body, n, p->count + p->probe, &dim, &v, err);
  if (rc != CLAP_OK) return rc;
  size_t row = (size_t)dim;
  if (p->probe) memcpy(p->probe_out, v, row * sizeof(float));
  memcpy(p->out, v + (p->probe ? row : 0), (size_t)p->count * row * sizeof(float));
  free(v);
  return CLAP_OK;
}

static char *part_body(const oa_state *st, const part *p) {
  const char **in = malloc((size_t)(p->count + 1) * sizeof *in);
  if (!in) return NULL;
  int k = 0;
  if (p->probe) in[k++] = st->probe;
  for (int i = 0; i < p->count; i++) in[k++] = p->texts[p->first + i];
  char *b = openai_embed_request_json(st->model, st->prefix, in, k, st->send_dim ? st->dim : 0);
  free(in);
  return b;
}

static clap_status check_texts(const oa_state *st, const char *const *texts, int n, clap_error *err) {
  char why[96];
  for (int i = 0; i < n; i++) {
    clap_status rc = text_check(texts[i], why, sizeof why);
    if (rc == CLAP_OK) continue;
    char start[48];
    httpc_snippet(texts[i], strlen(texts[i]), start, sizeof start);
    return clap_error_set(err, rc, "encoder '%s': text %d ('%s') %s", st->name, i, start, why);
  }
  return CLAP_OK;
}

/* The probe's vector now against the recorded one. */
static clap_status check_probe(oa_state *st, const float *now, clap_error *err) {
  double c = 0;
  clap_status rc = vec_cosine(now, st->probe_vec, st->dim, &c, err);
  if (rc == CLAP_OK && c >= OPENAI_PROBE_MIN_COSINE) {
    st->verified = 1;
    return CLAP_OK;
  }
  char hex[SHA256_HEX_SIZE];
  sha256_hex(now, (size_t)st->dim * sizeof(float), hex);
  return clap_error_set(err, CLAP_ERR_FORMAT,
                        "encoder '%s': %s no longer answers the probe sentence as when it was registered "
                        "(model '%s', probe vector sha256 %.12s… recorded, %.12s… now, cosine %.4f < %.2f): "
                        "the server serves another model under that name; register it again with `clap "
                        "encoder add --replace` (cached vectors then become stale and models trained on it "
                        "refuse to run)",
                        st->name, httpc_endpoint(st->http), st->model, st->probe_sha, hex, c,
                        OPENAI_PROBE_MIN_COSINE);
}

/* Split into requests of at most batch texts, run them, check the probe. */
static clap_status run_parts(oa_state *st, part *parts, int np, float *probe_now, clap_error *err) {
  httpc_call *calls = calloc((size_t)np, sizeof *calls);
  if (!calls) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  clap_status rc = CLAP_OK;
  for (int i = 0; i < np && rc == CLAP_OK; i++) {
    parts[i].body = part_body(st, &parts[i]);
    if (!parts[i].body) rc = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
    calls[i] = (httpc_call){.body = parts[i].body, .accept = part_accept, .user = &parts[i]};
  }
  if (rc == CLAP_OK) rc = httpc_run(st->http, calls, np, err);
  for (int i = 0; i < np && rc == CLAP_OK; i++)
    if (calls[i].status != CLAP_OK) {
      *err = calls[i].err;
      rc = calls[i].status;
    }
  if (rc != CLAP_OK && rc != CLAP_ERR_NOMEM) clap_error_prefix(err, "encoder '%s': ", st->name);
  if (rc == CLAP_OK && probe_now) rc = check_probe(st, probe_now, err);
  for (int i = 0; i < np; i++) {
    httpc_call_clear(&calls[i]);
    free(parts[i].body);
  }
  free(calls);
  return rc;
}

static clap_status oa_encode_batch(void *state, const char *const *texts, int n, int concurrency,
                                   float *out, clap_error *err) {
  oa_state *st = state;
  clap_status rc = check_texts(st, texts, n, err);
  if (rc != CLAP_OK) return rc;
  int np = (n + st->batch - 1) / st->batch;
  part *parts = calloc((size_t)np, sizeof *parts);
  float *probe_now = malloc((size_t)st->dim * sizeof(float));
  if (!parts || !probe_now) {
    free(parts);
    free(probe_now);
    return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  }
  pthread_mutex_lock(&st->mu);
  int probe = !st->verified;
  for (int i = 0; i < np; i++) {
    int first = i * st->batch, count = n - first < st->batch ? n - first : st->batch;
    parts[i] = (part){.st = st, .texts = texts, .first = first, .count = count, .probe = probe && i == 0,
                      .out = out + (size_t)first * (size_t)st->dim, .probe_out = probe_now};
  }
  httpc_set_concurrency(st->http, concurrency);
  rc = run_parts(st, parts, np, probe ? probe_now : NULL, err);
  pthread_mutex_unlock(&st->mu);
  free(parts);
  free(probe_now);
  return rc;
}

static clap_status oa_encode_text(void *state, const char *text, int nbytes, float *out,
                                  clap_error *err) {
  if (nbytes < 0) return oa_encode_batch(state, &text, 1, 1, out, err);
  char *copy = malloc((size_t)nbytes + 1);
  if (!copy) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  memcpy(copy, text, (size_t)nbytes);
  copy[nbytes] = 0;
  clap_status rc = strlen(copy) == (size_t)nbytes
                       ? oa_encode_batch(state, (const char *const *)&copy, 1, 1, out, err)
                       : clap_error_set(err, CLAP_ERR_FORMAT, "encoder '%s': the text holds a NUL byte",
                                        ((oa_state *)state)->name);
  free(copy);
  return rc;
}

const encoder_ops openai_encoder_ops = {
    .kind = "openai",
    .modality = ENCODER_TEXT,
    .create = NULL,
    .encode_text = oa_encode_text,
    .destroy = oa_destroy,
    .create_config = oa_create,
    .encode_text_batch = oa_encode_batch,
    .remote = 1,
};

/* ---- registration ------------------------------------------------------- */

static clap_status check_options(const openai_embed_options *o, clap_error *err) {
  if (!o->base_url || !*o->base_url) return clap_error_set(err, CLAP_ERR_ARG, "--base-url is required");
  if (!o->model || !*o->model) return clap_error_set(err, CLAP_ERR_ARG, "--model is required");
  if (o->dim < 0 || o->dim > OPENAI_MAX_DIM)
    return clap_error_set(err, CLAP_ERR_ARG, "--dim %d is outside 1..%d", o->dim, OPENAI_MAX_DIM);
  if (o->batch < 0 || o->batch > OPENAI_MAX_BATCH)
    return clap_error_set(err, CLAP_ERR_ARG, "--batch %d is outside 1..%d", o->batch, OPENAI_MAX_BATCH);
  if (!(o->timeout_s >= 0 && o->timeout_s <= MAX_TIMEOUT_S))
    return clap_error_set(err, CLAP_ERR_ARG, "--timeout %g is outside (0, %g] seconds", o->timeout_s, MAX_TIMEOUT_S);
  char why[96];
  if (o->input_prefix && *o->input_prefix && text_check(o->input_prefix, why, sizeof why) != CLAP_OK)
    return clap_error_set(err, CLAP_ERR_ARG, "--input-prefix %s", why);
  return CLAP_OK;
}

/* The base URL as the identity spells it: without trailing slashes. */
static char *trimmed_url(const char *u) {
  size_t n = strlen(u);
  while (n > 0 && u[n - 1] == '/') n--;
  char *s = malloc(n + 1);
  if (s) {
    memcpy(s, u, n);
    s[n] = 0;
  }
  return s;
}

static void identity_of(const char *url, const openai_embed_options *o, int dim, const char *probe_sha,
                        char out[SHA256_HEX_SIZE]) {
  sha256_ctx c;
  char num[32];
  snprintf(num, sizeof num, "%d", dim);
  const char *parts[] = {"openai", url, o->model, o->input_prefix ? o->input_prefix : "", num, probe_sha};
  sha256_init(&c);
  for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
    sha256_update(&c, parts[i], strlen(parts[i]));
    sha256_update(&c, "\n", 1);
  }
  sha256_final_hex(&c, out);
}

static char *config_json(const char *url, const openai_embed_options *o, int dim, const float *probe,
                         const char *probe_sha, const char *id) {
  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "base_url", url);
  cJSON_AddStringToObject(root, "model", o->model);
  cJSON_AddStringToObject(root, "input_prefix", o->input_prefix ? o->input_prefix : "");
  cJSON_AddNumberToObject(root, "dim", dim);
  cJSON_AddBoolToObject(root, "dimensions", o->dim > 0);
  cJSON_AddNumberToObject(root, "batch", o->batch ? o->batch : DEFAULT_BATCH);
  cJSON_AddNumberToObject(root, "timeout", o->timeout_s > 0 ? o->timeout_s : DEFAULT_TIMEOUT_S);
  cJSON_AddStringToObject(root, "probe", OPENAI_PROBE);
  cJSON *pv = cJSON_AddArrayToObject(root, "probe_vector");
  for (int i = 0; pv && i < dim; i++) cJSON_AddItemToArray(pv, cJSON_CreateNumber(probe[i]));
  cJSON_AddStringToObject(root, "probe_sha256", probe_sha);
  cJSON_AddStringToObject(root, "identity", id);
  char *s = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  return s;
}

/* One request for the probe alone; *vec malloc'd, *dim learnt or checked. */
static clap_status ask_probe(const openai_embed_options *o, double timeout_s, int *dim, float **vec,
                             clap_error *err) {
  long t = timeout_ms_of(timeout_s);
  httpc_config h = {.base_url = o->base_url, .path = "embeddings", .timeout_ms = t, .deadline_ms = t,
                    .connect_timeout_ms = t < 10000 ? t : 10000, .max_wait_ms = t < 60000 ? t : 60000};
  httpc_client *http = NULL;
  clap_status rc = httpc_client_create(&h, &http, err);
  if (rc != CLAP_OK) return rc;
  const char *probe = OPENAI_PROBE;
  httpc_call call = {.body = openai_embed_request_json(o->model, o->input_prefix, &probe, 1, o->dim)};
  if (!call.body) rc = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  if (rc == CLAP_OK) rc = httpc_run(http, &call, 1, err);
  if (rc == CLAP_OK && call.status != CLAP_OK) *err = call.err, rc = call.status;
  if (rc == CLAP_OK) {
    *dim = o->dim;
    rc = openai_embed_parse(call.response, call.response_len, 1, dim, vec, err);
    if (rc != CLAP_OK)
      clap_error_prefix(err, "HTTP %ld from %s but ", call.http_status, httpc_endpoint(http));
  }
  free((char *)call.body);
  httpc_call_clear(&call);
  httpc_client_free(http);
  return rc;
}

clap_status openai_embed_register(const openai_embed_options *o, char **config_json_out, int *dim,
                                  char identity[SHA256_HEX_SIZE], clap_error *err) {
  if (!o || !config_json_out || !dim || !identity)
    return clap_error_set(err, CLAP_ERR_ARG, "openai_embed_register: bad arguments");
  *config_json_out = NULL;
  clap_status rc = check_options(o, err);
  if (rc != CLAP_OK) return rc;
  float *vec = NULL;
  int d = 0;
  rc = ask_probe(o, o->timeout_s > 0 ? o->timeout_s : DEFAULT_TIMEOUT_S, &d, &vec, err);
  if (rc != CLAP_OK) return rc;
  char *url = trimmed_url(o->base_url);
  char probe_sha[SHA256_HEX_SIZE];
  int hashed = !sha256_hex(vec, (size_t)d * sizeof(float), probe_sha);
  if (url && hashed) identity_of(url, o, d, probe_sha, identity);
  char *cfg = url && hashed && identity[0] ? config_json(url, o, d, vec, probe_sha, identity) : NULL;
  free(url);
  free(vec);
  if (!cfg) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  *config_json_out = cfg;
  *dim = d;
  return CLAP_OK;
}
