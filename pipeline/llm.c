/* llm — see llm.h. */
#include "llm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "httpc.h"

struct llm_client {
  httpc_client *http;
  llm_usage usage;
};

static char *dup_str(const char *s) {
  return s ? strdup(s) : NULL;
}

/* ---- create / free ------------------------------------------------------ */

clap_status llm_client_create(const llm_config *config, llm_client **out, clap_error *err) {
  if (!out) return clap_error_set(err, CLAP_ERR_ARG, "llm_client_create: no output pointer");
  *out = NULL;
  if (!config) return clap_error_set(err, CLAP_ERR_ARG, "llm_client_create: no configuration");
  httpc_config h = *config;
  h.path = "chat/completions";
  h.deadline_ms = 0;
  llm_client *c = calloc(1, sizeof *c);
  if (!c) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  clap_status s = httpc_client_create(&h, &c->http, err);
  if (s != CLAP_OK) {
    free(c);
    return s;
  }
  *out = c;
  return CLAP_OK;
}

void llm_client_free(llm_client *c) {
  if (!c) return;
  httpc_client_free(c->http);
  free(c);
}

const char *llm_client_endpoint(const llm_client *c) {
  return c ? httpc_endpoint(c->http) : NULL;
}

int llm_client_has_key(const llm_client *c) {
  return c && httpc_has_key(c->http);
}

void llm_client_usage(const llm_client *c, llm_usage *out) {
  if (!out) return;
  if (c) *out = c->usage;
  else memset(out, 0, sizeof *out);
}

/* ---- request and reply bodies (pure) ------------------------------------ */

char *llm_request_json(const char *model, const char *prompt, double temperature) {
  if (!model || !prompt || !isfinite(temperature)) return NULL;
  cJSON *root = cJSON_CreateObject();
  cJSON *msgs = cJSON_CreateArray();
  cJSON *msg = cJSON_CreateObject();
  char *out = NULL;
  if (root && msgs && msg && cJSON_AddStringToObject(root, "model", model) &&
      cJSON_AddStringToObject(msg, "role", "user") && cJSON_AddStringToObject(msg, "content", prompt)) {
    cJSON_AddItemToArray(msgs, msg);
    msg = NULL;
    cJSON_AddItemToObject(root, "messages", msgs);
    msgs = NULL;
    if (cJSON_AddNumberToObject(root, "temperature", temperature) && cJSON_AddNumberToObject(root, "n", 1))
      out = cJSON_PrintUnformatted(root);
  }
  cJSON_Delete(msg);
  cJSON_Delete(msgs);
  cJSON_Delete(root);
  return out;
}

void llm_reply_clear(llm_reply *r) {
  if (!r) return;
  free(r->content);
  free(r->model);
  free(r->finish_reason);
  memset(r, 0, sizeof *r);
}

static long token_count(const cJSON *usage, const char *name) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(usage, name);
  if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble > 1e15) return 0;
  return (long)v->valuedouble;
}

/* message.content as a string, or the text parts of an array joined. */
static char *content_text(const cJSON *content) {
  if (cJSON_IsString(content)) return dup_str(content->valuestring);
  if (!cJSON_IsArray(content)) return NULL;
  size_t n = 0;
  const cJSON *part;
  cJSON_ArrayForEach(part, content) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(part, "text");
    if (cJSON_IsString(t)) n += strlen(t->valuestring);
  }
  char *s = malloc(n + 1);
  if (!s) return NULL;
  s[0] = 0;
  size_t at = 0;
  cJSON_ArrayForEach(part, content) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(part, "text");
    if (!cJSON_IsString(t)) continue;
    size_t k = strlen(t->valuestring);
    memcpy(s + at, t->valuestring, k);
    at += k;
  }
  s[at] = 0;
  return s;
}

static clap_status parse_choice(const cJSON *root, llm_reply *out, clap_error *err) {
  const cJSON *choices = cJSON_GetObjectItemCaseSensitive(root, "choices");
  const cJSON *first = cJSON_IsArray(choices) ? cJSON_GetArrayItem(choices, 0) : NULL;
  if (!cJSON_IsObject(first)) return clap_error_set(err, CLAP_ERR_FORMAT, "the reply has no choices[0]");
  const cJSON *msg = cJSON_GetObjectItemCaseSensitive(first, "message");
  if (!cJSON_IsObject(msg)) return clap_error_set(err, CLAP_ERR_FORMAT, "the reply has no choices[0].message");
  const cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
  if (!cJSON_IsString(content) && !cJSON_IsArray(content)) {
    const cJSON *refusal = cJSON_GetObjectItemCaseSensitive(msg, "refusal");
    if (cJSON_IsString(refusal))
      return clap_error_set(err, CLAP_ERR_FORMAT, "the model refused: %.300s", refusal->valuestring);
    return clap_error_set(err, CLAP_ERR_FORMAT, "the reply has no text in choices[0].message.content");
  }
  out->content = content_text(content);
  if (!out->content) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  const cJSON *fr = cJSON_GetObjectItemCaseSensitive(first, "finish_reason");
  if (cJSON_IsString(fr)) out->finish_reason = dup_str(fr->valuestring);
  return CLAP_OK;
}

clap_status llm_parse_reply(const char *body, size_t n, llm_reply *out, clap_error *err) {
  if (!out) return clap_error_set(err, CLAP_ERR_ARG, "llm_parse_reply: no output");
  memset(out, 0, sizeof *out);
  if (!body) return clap_error_set(err, CLAP_ERR_FORMAT, "empty reply");
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(body, n, &end, 0);
  if (!root) {
    size_t at = end && end >= body && end <= body + n ? (size_t)(end - body) : 0;
    return clap_error_set(err, CLAP_ERR_FORMAT, "the reply is not JSON (near byte %zu of %zu)", at, n);
  }
  clap_status s = cJSON_IsObject(root) ? parse_choice(root, out, err)
                                        : clap_error_set(err, CLAP_ERR_FORMAT, "the reply is not a JSON object");
  if (s == CLAP_OK) {
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (cJSON_IsString(model) && *model->valuestring) out->model = dup_str(model->valuestring);
    const cJSON *usage = cJSON_GetObjectItemCaseSensitive(root, "usage");
    out->prompt_tokens = token_count(usage, "prompt_tokens");
    out->completion_tokens = token_count(usage, "completion_tokens");
    out->total_tokens = token_count(usage, "total_tokens");
    if (!out->total_tokens) out->total_tokens = out->prompt_tokens + out->completion_tokens;
  }
  cJSON_Delete(root);
  if (s != CLAP_OK) llm_reply_clear(out);
  return s;
}

/* ---- calls ------------------------------------------------------------- */

/* A 2xx reply counts only when it is a chat completion (httpc_accept_fn). */
static clap_status chat_accept(httpc_call *call, const char *body, size_t n, clap_error *err) {
  llm_call *lc = call->user;
  return llm_parse_reply(body, n, &lc->reply, err);
}

void llm_call_clear(llm_call *call) {
  if (!call) return;
  free(call->response);
  llm_reply_clear(&call->reply);
  call->response = NULL;
  call->status = CLAP_OK;
  call->http_status = 0;
  call->attempts = 0;
  call->retryable = 0;
  clap_error_clear(&call->err);
}

/* What the engine learnt of call h, into the chat call. */
static void take_call(llm_client *c, llm_call *call, httpc_call *h) {
  call->status = h->status;
  call->err = h->err;
  call->http_status = h->http_status;
  call->attempts = h->attempts;
  call->retryable = h->retryable;
  call->response = h->response;
  h->response = NULL;
  if (call->status != CLAP_OK) {
    llm_reply_clear(&call->reply);
    return;
  }
  c->usage.prompt_tokens += call->reply.prompt_tokens;
  c->usage.completion_tokens += call->reply.completion_tokens;
  c->usage.total_tokens += call->reply.total_tokens;
}

clap_status llm_run(llm_client *c, llm_call *calls, int n, clap_error *err) {
  if (!c || n < 0 || (n > 0 && !calls)) return clap_error_set(err, CLAP_ERR_ARG, "llm_run: bad arguments");
  if (n == 0) return CLAP_OK;
  httpc_call *h = calloc((size_t)n, sizeof *h);
  if (!h) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  for (int i = 0; i < n; i++) {
    llm_call_clear(&calls[i]);
    h[i] = (httpc_call){.body = calls[i].body, .accept = chat_accept, .user = &calls[i]};
  }
  httpc_stats before, after;
  httpc_get_stats(c->http, &before);
  clap_status s = httpc_run(c->http, h, n, err);
  httpc_get_stats(c->http, &after);
  for (int i = 0; i < n; i++) {
    take_call(c, &calls[i], &h[i]);
    httpc_call_clear(&h[i]);
  }
  free(h);
  c->usage.calls += after.calls - before.calls;
  c->usage.attempts += after.attempts - before.attempts;
  c->usage.retries += after.retries - before.retries;
  c->usage.failed += after.failed - before.failed;
  return s;
}
