/* llm — see llm.h. */
#include "llm.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>
#include <curl/curl.h>

#include "clap_version.h"

#define MAX_CONCURRENCY 64
#define MAX_ATTEMPTS 20
#define MAX_REPLY_BYTES ((size_t)16 << 20)
#define POLL_MS 200

struct llm_client {
  char *endpoint;
  char *key;               /* wiped on free */
  struct curl_slist *headers;
  CURLM *multi;
  llm_config cfg;
  unsigned rng;
  llm_usage usage;
};

/* ---- small helpers ------------------------------------------------------ */

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *dup_n(const char *s, size_t n) {
  char *d = malloc(n + 1);
  if (!d) return NULL;
  memcpy(d, s, n);
  d[n] = 0;
  return d;
}

static char *dup_str(const char *s) {
  return s ? dup_n(s, strlen(s)) : NULL;
}

/* Replace every occurrence of the key in msg by "***": a server may echo
** the key it refused, and the message goes to a terminal or a log. */
static void redact(char *msg, const char *key) {
  size_t k = key ? strlen(key) : 0;
  if (k < 4) return;
  char *p;
  while ((p = strstr(msg, key)) != NULL) {
    memcpy(p, "***", 3);
    memmove(p + 3, p + k, strlen(p + k) + 1);
  }
}

static void wipe_free(char *s) {
  if (!s) return;
  volatile char *v = s;
  while (*v) *v++ = 0;
  free(s);
}

/* ---- create / free ------------------------------------------------------ */

static int http_url(const char *u) {
  return !strncasecmp(u, "http://", 7) || !strncasecmp(u, "https://", 8);
}

static clap_status check_config(const llm_config *in, llm_config *c, clap_error *err) {
  *c = *in;
  if (!c->base_url || !*c->base_url) return clap_error_set(err, CLAP_ERR_ARG, "no base URL given");
  if (!http_url(c->base_url))
    return clap_error_set(err, CLAP_ERR_ARG, "base URL '%.200s' must start with http:// or https://", c->base_url);
  if (!c->concurrency) c->concurrency = 4;
  if (!c->connect_timeout_ms) c->connect_timeout_ms = 10000;
  if (!c->timeout_ms) c->timeout_ms = 120000;
  if (!c->max_attempts) c->max_attempts = 5;
  if (!c->max_wait_ms) c->max_wait_ms = 60000;
  if (!c->backoff_ms) c->backoff_ms = 500;
  if (c->concurrency < 1 || c->concurrency > MAX_CONCURRENCY)
    return clap_error_set(err, CLAP_ERR_ARG, "concurrency %d is outside 1..%d", c->concurrency, MAX_CONCURRENCY);
  if (c->max_attempts < 1 || c->max_attempts > MAX_ATTEMPTS)
    return clap_error_set(err, CLAP_ERR_ARG, "max attempts %d is outside 1..%d", c->max_attempts, MAX_ATTEMPTS);
  if (c->connect_timeout_ms < 0 || c->timeout_ms < 0 || c->max_wait_ms < 0 || c->backoff_ms < 0)
    return clap_error_set(err, CLAP_ERR_ARG, "timeouts and waits must not be negative");
  return CLAP_OK;
}

static const char *env_key(void) {
  const char *k = getenv("CLAP_API_KEY");
  if (!k || !*k) k = getenv("OPENAI_API_KEY");
  return k && *k ? k : NULL;
}

static clap_status build_headers(llm_client *c, clap_error *err) {
  static const char *fixed[] = {"Content-Type: application/json", "Accept: application/json",
                                "Expect:" /* no 100-continue stall on large bodies */};
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
    struct curl_slist *h = curl_slist_append(c->headers, fixed[i]);
    if (!h) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
    c->headers = h;
  }
  if (!c->key) return CLAP_OK;
  size_t n = strlen(c->key) + 32;
  char *line = malloc(n);
  if (!line) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  snprintf(line, n, "Authorization: Bearer %s", c->key);
  struct curl_slist *h = curl_slist_append(c->headers, line);
  wipe_free(line);
  if (!h) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  c->headers = h;
  return CLAP_OK;
}

clap_status llm_client_create(const llm_config *config, llm_client **out, clap_error *err) {
  if (!out) return clap_error_set(err, CLAP_ERR_ARG, "llm_client_create: no output pointer");
  *out = NULL;
  if (!config) return clap_error_set(err, CLAP_ERR_ARG, "llm_client_create: no configuration");
  llm_config cfg;
  clap_status s = check_config(config, &cfg, err);
  if (s != CLAP_OK) return s;
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return clap_error_set(err, CLAP_ERR_INTERNAL, "libcurl failed to initialise");
  llm_client *c = calloc(1, sizeof *c);
  if (!c) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  c->cfg = cfg;
  c->cfg.api_key = NULL; /* the caller's pointer is not kept */
  size_t n = strlen(cfg.base_url);
  while (n > 0 && cfg.base_url[n - 1] == '/') n--;
  c->endpoint = malloc(n + sizeof "/chat/completions");
  const char *key = config->api_key ? config->api_key : env_key();
  if (key && *key) c->key = dup_str(key);
  c->multi = curl_multi_init();
  c->rng = (unsigned)time(NULL) ^ ((unsigned)getpid() << 16);
  if (!c->endpoint || (key && *key && !c->key) || !c->multi) {
    llm_client_free(c);
    return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory starting the HTTP client");
  }
  memcpy(c->endpoint, cfg.base_url, n);
  strcpy(c->endpoint + n, "/chat/completions");
  s = build_headers(c, err);
  if (s != CLAP_OK) {
    llm_client_free(c);
    return s;
  }
  *out = c;
  return CLAP_OK;
}

void llm_client_free(llm_client *c) {
  if (!c) return;
  if (c->multi) curl_multi_cleanup(c->multi);
  /* The slist holds a copy of the bearer line. */
  for (struct curl_slist *h = c->headers; h; h = h->next) {
    volatile char *v = h->data;
    while (v && *v) *v++ = 0;
  }
  curl_slist_free_all(c->headers);
  wipe_free(c->key);
  free(c->endpoint);
  free(c);
  curl_global_cleanup();
}

const char *llm_client_endpoint(const llm_client *c) {
  return c ? c->endpoint : NULL;
}

int llm_client_has_key(const llm_client *c) {
  return c && c->key != NULL;
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

/* The start of a body on one line, printable ASCII and UTF-8 kept. */
static void snippet(const char *body, size_t n, char *buf, size_t cap) {
  size_t k = 0;
  for (size_t i = 0; i < n && k + 4 < cap; i++) {
    unsigned char ch = (unsigned char)body[i];
    buf[k++] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
  }
  while (k > 0 && ((unsigned char)buf[k - 1] & 0xC0) == 0x80) k--; /* no cut code point */
  if (k > 0 && ((unsigned char)buf[k - 1] & 0x80)) k--;
  if (k < n) {
    memcpy(buf + k, "...", 3);
    k += 3;
  }
  buf[k] = 0;
}

static const char *string_or_number(const cJSON *v, char *tmp, size_t cap) {
  if (cJSON_IsString(v) && *v->valuestring) return v->valuestring;
  if (cJSON_IsNumber(v)) {
    snprintf(tmp, cap, "%.15g", v->valuedouble);
    return tmp;
  }
  return NULL;
}

void llm_parse_error(const char *body, size_t n, char *buf, size_t cap, int *quota) {
  if (quota) *quota = 0;
  if (!buf || cap == 0) return;
  buf[0] = 0;
  if (!body || n == 0) {
    snprintf(buf, cap, "(empty body)");
    return;
  }
  cJSON *root = cJSON_ParseWithLength(body, n);
  const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
  const cJSON *holder = cJSON_IsObject(e) ? e : root;
  const cJSON *m = cJSON_IsString(e) ? e : cJSON_GetObjectItemCaseSensitive(holder, "message");
  if (!cJSON_IsString(m)) m = cJSON_GetObjectItemCaseSensitive(holder, "detail");
  char tc[64], tt[64];
  const cJSON *holder2 = cJSON_IsObject(holder) ? holder : NULL;
  const char *code = string_or_number(cJSON_GetObjectItemCaseSensitive(holder2, "code"), tc, sizeof tc);
  const char *type = string_or_number(cJSON_GetObjectItemCaseSensitive(holder2, "type"), tt, sizeof tt);
  if (quota)
    *quota = (code && !strcmp(code, "insufficient_quota")) || (type && !strcmp(type, "insufficient_quota"));
  if (cJSON_IsString(m) && *m->valuestring) {
    char text[320];
    snippet(m->valuestring, strlen(m->valuestring), text, sizeof text);
    if (code) snprintf(buf, cap, "%s (code %s)", text, code);
    else if (type) snprintf(buf, cap, "%s (type %s)", text, type);
    else snprintf(buf, cap, "%s", text);
  } else if (code || type) {
    snprintf(buf, cap, "%s %s", code ? "code" : "type", code ? code : type);
  } else {
    snippet(body, n, buf, cap < 200 ? cap : 200);
  }
  cJSON_Delete(root);
}

double llm_retry_after_seconds(const char *value, long now) {
  if (!value) return -1;
  while (*value == ' ' || *value == '\t') value++;
  if (!*value) return -1;
  char *end = NULL;
  double v = strtod(value, &end);
  if (end != value && isfinite(v)) {
    while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n') end++;
    if (!*end) return v < 0 ? -1 : v;
  }
  if (!isalpha((unsigned char)*value)) return -1; /* an HTTP date starts with the weekday */
  time_t t = curl_getdate(value, NULL);
  if (t == (time_t)-1) return -1;
  double d = difftime(t, (time_t)now);
  return d < 0 ? 0 : d;
}

/* ---- the transfer loop -------------------------------------------------- */

enum { CALL_WAITING, CALL_ACTIVE, CALL_DONE };

typedef struct call_state {
  int state;
  long not_before;        /* monotonic ms */
} call_state;

typedef struct slot {
  CURL *easy;
  int call;               /* -1: free */
  char *buf;
  size_t len, cap;
  int too_big;
  double retry_after_ms;  /* -1 unless the reply said */
  char errbuf[CURL_ERROR_SIZE];
} slot;

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg) {
  slot *s = arg;
  size_t n = size * nmemb;
  if (s->len + n + 1 > MAX_REPLY_BYTES) {
    s->too_big = 1;
    return 0;
  }
  if (s->len + n + 1 > s->cap) {
    size_t cap = s->cap ? s->cap : 4096;
    while (cap < s->len + n + 1) cap *= 2;
    char *b = realloc(s->buf, cap);
    if (!b) return 0;
    s->buf = b;
    s->cap = cap;
  }
  memcpy(s->buf + s->len, data, n);
  s->len += n;
  s->buf[s->len] = 0;
  return n;
}

/* Header value of `name` in one raw header line, or NULL. */
static const char *header_value(const char *line, size_t n, const char *name, char *tmp, size_t cap) {
  size_t k = strlen(name);
  if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':') return NULL;
  size_t v = k + 1;
  while (v < n && (line[v] == ' ' || line[v] == '\t')) v++;
  size_t e = n;
  while (e > v && (line[e - 1] == '\r' || line[e - 1] == '\n' || line[e - 1] == ' ')) e--;
  if (e - v >= cap) return NULL;
  memcpy(tmp, line + v, e - v);
  tmp[e - v] = 0;
  return tmp;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *arg) {
  slot *s = arg;
  size_t n = size * nmemb;
  char tmp[128];
  const char *v;
  if (n >= 5 && !strncmp(data, "HTTP/", 5)) s->retry_after_ms = -1; /* a new response begins */
  if ((v = header_value(data, n, "retry-after-ms", tmp, sizeof tmp)) != NULL) {
    char *end = NULL;
    double ms = strtod(v, &end);
    if (end != v && !*end && isfinite(ms) && ms >= 0) s->retry_after_ms = ms;
  } else if ((v = header_value(data, n, "retry-after", tmp, sizeof tmp)) != NULL && s->retry_after_ms < 0) {
    double sec = llm_retry_after_seconds(v, (long)time(NULL));
    if (sec >= 0) s->retry_after_ms = sec * 1000.0;
  }
  return n;
}

static clap_status start_attempt(llm_client *c, slot *s, llm_call *call, clap_error *err) {
  s->len = 0;
  s->too_big = 0;
  s->retry_after_ms = -1;
  s->errbuf[0] = 0;
  CURL *e = s->easy;
  curl_easy_reset(e);
  curl_easy_setopt(e, CURLOPT_URL, c->endpoint);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, call->body);
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(call->body));
  curl_easy_setopt(e, CURLOPT_USERAGENT, "sqlite-clap/" CLAP_VERSION);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, c->cfg.connect_timeout_ms);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, c->cfg.timeout_ms);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, s);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->errbuf);
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  if (curl_multi_add_handle(c->multi, e) != CURLM_OK)
    return clap_error_set(err, CLAP_ERR_INTERNAL, "libcurl refused a transfer");
  call->attempts++;
  c->usage.attempts++;
  if (call->attempts > 1) c->usage.retries++;
  return CLAP_OK;
}

static unsigned next_rand(llm_client *c) {
  c->rng = c->rng * 1103515245u + 12345u;
  return (c->rng >> 8) & 0xffffff;
}

/* How long to wait before attempt call->attempts + 1. */
static long wait_ms(llm_client *c, const slot *s, int attempts) {
  double cap = (double)c->cfg.max_wait_ms;
  if (s->retry_after_ms >= 0) return (long)(s->retry_after_ms < cap ? s->retry_after_ms : cap);
  double d = (double)c->cfg.backoff_ms * pow(2.0, attempts - 1);
  if (d > cap) d = cap;
  /* Jitter in [0.75, 1] of the step, so parallel callers spread out. */
  d *= 0.75 + 0.25 * (double)next_rand(c) / (double)0xffffff;
  return (long)d;
}

static int retryable_status(long code) {
  return code == 408 || code == 409 || code == 429 || code >= 500;
}

/* The error of a failed attempt, into call->err; returns whether to retry. */
static int judge_failure(llm_client *c, slot *s, llm_call *call, CURLcode rc) {
  if (rc != CURLE_OK) {
    const char *why = s->too_big ? "the reply is larger than 16 MiB" : s->errbuf[0] ? s->errbuf : curl_easy_strerror(rc);
    if (rc == CURLE_OPERATION_TIMEDOUT)
      clap_error_set(&call->err, CLAP_ERR_IO, "%s: no complete reply within %.3g s (%s)", c->endpoint,
                     c->cfg.timeout_ms / 1000.0, why);
    else
      clap_error_set(&call->err, CLAP_ERR_IO, "%s: %s", c->endpoint, why);
    call->status = CLAP_ERR_IO;
    return !s->too_big;
  }
  char msg[400];
  int quota = 0;
  llm_parse_error(s->buf, s->len, msg, sizeof msg, &quota);
  call->status = call->http_status == 401 || call->http_status == 403 ? CLAP_ERR_ARG
                 : call->http_status == 404                           ? CLAP_ERR_NOTFOUND
                                                                      : CLAP_ERR_IO;
  clap_error_set(&call->err, call->status, "HTTP %ld from %s: %s", call->http_status, c->endpoint, msg);
  return retryable_status(call->http_status) && !quota;
}

static void finish_attempt(llm_client *c, slot *s, llm_call *call, call_state *st, CURLcode rc) {
  long code = 0;
  curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
  call->http_status = code;
  if (rc == CURLE_OK && code >= 200 && code < 300) {
    call->status = llm_parse_reply(s->buf, s->len, &call->reply, &call->err);
    if (call->status == CLAP_OK) call->response = dup_n(s->buf ? s->buf : "", s->len);
    if (call->status == CLAP_OK && !call->response) {
      llm_reply_clear(&call->reply);
      call->status = clap_error_set(&call->err, CLAP_ERR_NOMEM, "out of memory");
    }
    if (call->status != CLAP_OK && call->status != CLAP_ERR_NOMEM) {
      char body[160];
      snippet(s->buf ? s->buf : "", s->len, body, sizeof body);
      clap_error_prefix(&call->err, "HTTP %ld from %s but ", code, c->endpoint);
      size_t k = strlen(call->err.msg);
      snprintf(call->err.msg + k, sizeof call->err.msg - k, ": %s", body);
    }
    if (call->status == CLAP_OK) {
      c->usage.prompt_tokens += call->reply.prompt_tokens;
      c->usage.completion_tokens += call->reply.completion_tokens;
      c->usage.total_tokens += call->reply.total_tokens;
    }
    st->state = CALL_DONE;
  } else if ((call->retryable = judge_failure(c, s, call, rc)) && call->attempts < c->cfg.max_attempts) {
    st->state = CALL_WAITING;
    st->not_before = now_ms() + wait_ms(c, s, call->attempts);
  } else {
    if (call->attempts > 1) {
      size_t k = strlen(call->err.msg);
      snprintf(call->err.msg + k, sizeof call->err.msg - k, " (after %d attempts)", call->attempts);
    }
    st->state = CALL_DONE;
  }
  if (st->state == CALL_DONE) {
    redact(call->err.msg, c->key);
    if (call->status != CLAP_OK) c->usage.failed++;
  }
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

/* Free slots take the waiting call that is due, lowest index first. */
static clap_status fill_slots(llm_client *c, slot *slots, int nslots, llm_call *calls, call_state *st, int n,
                              clap_error *err) {
  long t = now_ms();
  for (int k = 0; k < nslots; k++) {
    if (slots[k].call >= 0) continue;
    for (int i = 0; i < n; i++) {
      if (st[i].state != CALL_WAITING || st[i].not_before > t) continue;
      clap_status s = start_attempt(c, &slots[k], &calls[i], err);
      if (s != CLAP_OK) return s;
      st[i].state = CALL_ACTIVE;
      slots[k].call = i;
      break;
    }
  }
  return CLAP_OK;
}

static long poll_timeout(const slot *slots, int nslots, const call_state *st, int n) {
  long t = now_ms(), best = POLL_MS;
  int active = 0;
  for (int k = 0; k < nslots; k++) active |= slots[k].call >= 0;
  for (int i = 0; i < n; i++)
    if (st[i].state == CALL_WAITING) {
      long d = st[i].not_before - t;
      if (d < best) best = d < 0 ? 0 : d;
    }
  return active || best < POLL_MS ? best : POLL_MS;
}

static void drain_messages(llm_client *c, slot *slots, int nslots, llm_call *calls, call_state *st) {
  CURLMsg *m;
  int left = 0;
  while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
    if (m->msg != CURLMSG_DONE) continue;
    for (int k = 0; k < nslots; k++) {
      if (slots[k].easy != m->easy_handle || slots[k].call < 0) continue;
      CURLcode rc = m->data.result;
      curl_multi_remove_handle(c->multi, slots[k].easy);
      int i = slots[k].call;
      slots[k].call = -1;
      finish_attempt(c, &slots[k], &calls[i], &st[i], rc);
      break;
    }
  }
}

static int all_done(const call_state *st, int n) {
  for (int i = 0; i < n; i++)
    if (st[i].state != CALL_DONE) return 0;
  return 1;
}

static clap_status transfer_loop(llm_client *c, slot *slots, int nslots, llm_call *calls, call_state *st, int n,
                                 clap_error *err) {
  while (!all_done(st, n)) {
    clap_status s = fill_slots(c, slots, nslots, calls, st, n, err);
    if (s != CLAP_OK) return s;
    int running = 0;
    if (curl_multi_perform(c->multi, &running) != CURLM_OK)
      return clap_error_set(err, CLAP_ERR_INTERNAL, "libcurl multi transfer failed");
    drain_messages(c, slots, nslots, calls, st);
    if (all_done(st, n)) break;
    if (curl_multi_poll(c->multi, NULL, 0, (int)poll_timeout(slots, nslots, st, n), NULL) != CURLM_OK)
      return clap_error_set(err, CLAP_ERR_INTERNAL, "libcurl poll failed");
  }
  return CLAP_OK;
}

clap_status llm_run(llm_client *c, llm_call *calls, int n, clap_error *err) {
  if (!c || n < 0 || (n > 0 && !calls)) return clap_error_set(err, CLAP_ERR_ARG, "llm_run: bad arguments");
  if (n == 0) return CLAP_OK;
  int nslots = c->cfg.concurrency < n ? c->cfg.concurrency : n;
  slot *slots = calloc((size_t)nslots, sizeof *slots);
  call_state *st = calloc((size_t)n, sizeof *st);
  clap_status s = slots && st ? CLAP_OK : clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  for (int k = 0; s == CLAP_OK && k < nslots; k++) {
    slots[k].call = -1;
    slots[k].easy = curl_easy_init();
    if (!slots[k].easy) s = clap_error_set(err, CLAP_ERR_INTERNAL, "libcurl could not create a transfer");
  }
  for (int i = 0; s == CLAP_OK && i < n; i++) {
    llm_call_clear(&calls[i]);
    c->usage.calls++;
    if (!calls[i].body) {
      calls[i].status = clap_error_set(&calls[i].err, CLAP_ERR_ARG, "llm_run: call %d has no body", i);
      st[i].state = CALL_DONE;
      c->usage.failed++;
    }
  }
  if (s == CLAP_OK) s = transfer_loop(c, slots, nslots, calls, st, n, err);
  for (int i = 0; st && i < n; i++)
    if (s != CLAP_OK && st[i].state != CALL_DONE) {
      calls[i].status = s;
      calls[i].err = *err;
    }
  for (int k = 0; slots && k < nslots; k++) {
    if (!slots[k].easy) continue;
    if (slots[k].call >= 0) curl_multi_remove_handle(c->multi, slots[k].easy);
    curl_easy_cleanup(slots[k].easy);
    free(slots[k].buf);
  }
  free(slots);
  free(st);
  return s;
}
