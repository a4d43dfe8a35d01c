/* httpc — see httpc.h. */
#include "httpc.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "clap_version.h"

#define MAX_CONCURRENCY 64
#define MAX_ATTEMPTS 20
#define MAX_REPLY_BYTES ((size_t)64 << 20)
#define POLL_MS 200

struct httpc_client {
  char *endpoint;          /* the URL without user:password@: messages and callers see this */
  char *url;               /* what is contacted, credentials of the base URL kept; wiped */
  char *key;               /* wiped on free */
  char *password;          /* the base URL's password (or lone user name); wiped on free */
  struct curl_slist *headers;
  CURLM *multi;
  httpc_config cfg;
  unsigned rng;
  httpc_stats stats;
};

/* ---- small helpers ------------------------------------------------------ */

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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

/* redact over n bytes that may hold NULs (a reply body); *n shrinks. */
static void redact_n(char *buf, size_t *n, const char *key) {
  size_t k = key ? strlen(key) : 0;
  if (k < 4 || !buf) return;
  char *p = buf;
  while ((p = memmem(p, *n - (size_t)(p - buf), key, k)) != NULL) {
    memcpy(p, "***", 3);
    memmove(p + 3, p + k, *n - (size_t)(p + k - buf) + 1); /* the NUL after the bytes too */
    *n -= k - 3;
    p += 3;
  }
}

/* The length of "user:password@" after "scheme://" (0 if none): the
** authority ends at the first '/', '?' or '#'. */
static size_t userinfo_len(const char *url) {
  const char *a = strstr(url, "://");
  if (!a) return 0;
  a += 3;
  size_t end = strcspn(a, "/?#");
  const char *at = NULL;
  for (size_t i = 0; i < end; i++)
    if (a[i] == '@') at = a + i;
  return at ? (size_t)(at - a) + 1 : 0;
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

/* Given an http(s) URL: whether a host follows the scheme and any user
** information ("http://", "http:///x" and "http://user@/" have none). */
static int url_has_host(const char *u) {
  const char *a = strstr(u, "://") + 3;
  size_t end = strcspn(a, "/?#");
  size_t ui = userinfo_len(u);
  return end > ui;
}

static clap_status check_config(const httpc_config *in, httpc_config *c, clap_error *err) {
  *c = *in;
  if (!c->base_url || !*c->base_url) return clap_error_set(err, CLAP_ERR_ARG, "no base URL given");
  if (!http_url(c->base_url))
    return clap_error_set(err, CLAP_ERR_ARG, "base URL '%.200s' must start with http:// or https://", c->base_url);
  if (!url_has_host(c->base_url))
    return clap_error_set(err, CLAP_ERR_ARG, "base URL '%.200s' names no host", c->base_url);
  if (!c->path || !*c->path) return clap_error_set(err, CLAP_ERR_ARG, "no endpoint path given");
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
  if (c->connect_timeout_ms < 0 || c->timeout_ms < 0 || c->max_wait_ms < 0 || c->backoff_ms < 0 ||
      c->deadline_ms < 0)
    return clap_error_set(err, CLAP_ERR_ARG, "timeouts and waits must not be negative");
  return CLAP_OK;
}

static const char *env_key(void) {
  const char *k = getenv("CLAP_API_KEY");
  if (!k || !*k) k = getenv("OPENAI_API_KEY");
  return k && *k ? k : NULL;
}

static clap_status build_headers(httpc_client *c, clap_error *err) {
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

/* libcurl's global state, set up once per process and kept: the SQL
** extension may create clients from several connections' threads, and
** curl_global_init is not safe to race (nor to undo while another client
** lives). */
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;
static void curl_init_once(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

static char *make_endpoint(const char *base, const char *path) {
  size_t n = strlen(base);
  while (n > 0 && base[n - 1] == '/') n--;
  while (*path == '/') path++;
  char *e = malloc(n + strlen(path) + 2);
  if (!e) return NULL;
  memcpy(e, base, n);
  e[n] = '/';
  strcpy(e + n + 1, path);
  return e;
}

clap_status httpc_client_create(const httpc_config *config, httpc_client **out, clap_error *err) {
  if (!out) return clap_error_set(err, CLAP_ERR_ARG, "httpc_client_create: no output pointer");
  *out = NULL;
  if (!config) return clap_error_set(err, CLAP_ERR_ARG, "httpc_client_create: no configuration");
  httpc_config cfg;
  clap_status s = check_config(config, &cfg, err);
  if (s != CLAP_OK) return s;
  if (pthread_once(&curl_once, curl_init_once) != 0 || curl_init_rc != CURLE_OK)
    return clap_error_set(err, CLAP_ERR_INTERNAL, "libcurl failed to initialise");
  httpc_client *c = calloc(1, sizeof *c);
  if (!c) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  c->cfg = cfg;
  c->cfg.api_key = NULL; /* the caller's pointers are not kept */
  c->cfg.base_url = c->cfg.path = NULL;
  c->url = make_endpoint(cfg.base_url, cfg.path);
  /* Credentials in the base URL are for the request only: the endpoint,
  ** which messages and caches (llm_cache.endpoint) show, goes without. */
  size_t ui = c->url ? userinfo_len(c->url) : 0;
  size_t scheme = c->url ? (size_t)(strstr(c->url, "://") - c->url) + 3 : 0; /* checked: http(s) */
  c->endpoint = c->url ? malloc(strlen(c->url) + 1) : NULL;
  if (c->endpoint) {
    memcpy(c->endpoint, c->url, scheme);
    strcpy(c->endpoint + scheme, c->url + scheme + ui);
  }
  if (c->url && ui > 1) { /* the password, or a lone user name (often a token itself) */
    const char *info = c->url + scheme, *colon = memchr(info, ':', ui - 1);
    size_t off = colon ? (size_t)(colon + 1 - info) : 0;
    c->password = strndup(info + off, ui - 1 - off);
  }
  const char *key = config->api_key ? config->api_key : env_key();
  if (key && *key) c->key = strdup(key);
  c->multi = curl_multi_init();
  c->rng = (unsigned)time(NULL) ^ ((unsigned)getpid() << 16) ^ (unsigned)(uintptr_t)c;
  if (!c->endpoint || (ui > 1 && !c->password) || (key && *key && !c->key) || !c->multi) {
    httpc_client_free(c);
    return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory starting the HTTP client");
  }
  s = build_headers(c, err);
  if (s != CLAP_OK) {
    httpc_client_free(c);
    return s;
  }
  *out = c;
  return CLAP_OK;
}

void httpc_client_free(httpc_client *c) {
  if (!c) return;
  if (c->multi) curl_multi_cleanup(c->multi);
  /* The slist holds a copy of the bearer line. */
  for (struct curl_slist *h = c->headers; h; h = h->next) {
    volatile char *v = h->data;
    while (v && *v) *v++ = 0;
  }
  curl_slist_free_all(c->headers);
  wipe_free(c->key);
  wipe_free(c->password);
  wipe_free(c->url);
  free(c->endpoint);
  free(c);
}

const char *httpc_endpoint(const httpc_client *c) { return c ? c->endpoint : NULL; }

int httpc_has_key(const httpc_client *c) { return c && c->key != NULL; }

void httpc_get_stats(const httpc_client *c, httpc_stats *out) {
  if (!out) return;
  if (c) *out = c->stats;
  else memset(out, 0, sizeof *out);
}

void httpc_set_concurrency(httpc_client *c, int concurrency) {
  if (c && concurrency >= 1 && concurrency <= MAX_CONCURRENCY) c->cfg.concurrency = concurrency;
}

/* ---- error bodies (pure) ------------------------------------------------ */

void httpc_snippet(const char *body, size_t n, char *buf, size_t cap) {
  size_t k = 0;
  if (!buf || cap < 5) {
    if (buf && cap) buf[0] = 0;
    return;
  }
  for (size_t i = 0; body && i < n && k + 4 < cap; i++) {
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

void httpc_parse_error(const char *body, size_t n, char *buf, size_t cap, int *quota) {
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
    httpc_snippet(m->valuestring, strlen(m->valuestring), text, sizeof text);
    if (code) snprintf(buf, cap, "%s (code %s)", text, code);
    else if (type) snprintf(buf, cap, "%s (type %s)", text, type);
    else snprintf(buf, cap, "%s", text);
  } else if (code || type) {
    snprintf(buf, cap, "%s %s", code ? "code" : "type", code ? code : type);
  } else {
    httpc_snippet(body, n, buf, cap < 200 ? cap : 200);
  }
  cJSON_Delete(root);
}

double httpc_retry_after_seconds(const char *value, long now) {
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
  long deadline;          /* monotonic ms, from the first attempt's start; 0: none */
} call_state;

typedef struct slot {
  CURL *easy;
  int call;               /* -1: free */
  char *buf;
  size_t len, cap;
  int too_big;
  double retry_after_ms;  /* -1 unless the reply said */
  long attempt_ms;        /* the total timeout this attempt was given */
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
    double sec = httpc_retry_after_seconds(v, (long)time(NULL));
    if (sec >= 0) s->retry_after_ms = sec * 1000.0;
  }
  return n;
}

static clap_status start_attempt(httpc_client *c, slot *s, httpc_call *call, call_state *st,
                                 clap_error *err) {
  s->len = 0;
  s->too_big = 0;
  s->retry_after_ms = -1;
  s->errbuf[0] = 0;
  s->attempt_ms = c->cfg.timeout_ms;
  if (c->cfg.deadline_ms && !st->deadline) st->deadline = now_ms() + c->cfg.deadline_ms;
  if (st->deadline) {
    long left = st->deadline - now_ms();
    if (left < s->attempt_ms) s->attempt_ms = left < 1 ? 1 : left;
  }
  long connect_ms = c->cfg.connect_timeout_ms < s->attempt_ms ? c->cfg.connect_timeout_ms : s->attempt_ms;
  CURL *e = s->easy;
  curl_easy_reset(e);
  curl_easy_setopt(e, CURLOPT_URL, c->url);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, call->body);
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(call->body));
  curl_easy_setopt(e, CURLOPT_USERAGENT, "sqlite-clap/" CLAP_VERSION);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, s->attempt_ms);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, s);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->errbuf);
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  if (curl_multi_add_handle(c->multi, e) != CURLM_OK)
    return clap_error_set(err, CLAP_ERR_INTERNAL, "libcurl refused a transfer");
  call->attempts++;
  c->stats.attempts++;
  if (call->attempts > 1) c->stats.retries++;
  return CLAP_OK;
}

static unsigned next_rand(httpc_client *c) {
  c->rng = c->rng * 1103515245u + 12345u;
  return (c->rng >> 8) & 0xffffff;
}

/* How long to wait before attempt call->attempts + 1. */
static long wait_ms(httpc_client *c, const slot *s, int attempts) {
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

/* A certificate the client cannot verify (unknown issuer, self-signed,
** expired, wrong host, a bad CA file, a pinned key that differs) is final:
** trying again meets the same certificate. */
static int tls_verification_failure(CURLcode rc) {
  switch (rc) {
    case CURLE_PEER_FAILED_VERIFICATION: /* includes the former CURLE_SSL_CACERT */
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
      return 1;
    default:
      return 0;
  }
}

/* The error of a failed attempt, into call->err; returns whether to retry. */
static int judge_failure(httpc_client *c, slot *s, httpc_call *call, CURLcode rc) {
  if (rc != CURLE_OK) {
    const char *why = s->too_big ? "the reply is larger than 64 MiB" : s->errbuf[0] ? s->errbuf : curl_easy_strerror(rc);
    if (tls_verification_failure(rc)) {
      clap_error_set(&call->err, CLAP_ERR_IO,
                     "%s: the server's TLS certificate could not be verified (%s); not retried: check the URL's "
                     "host, or the certificate authorities the system trusts",
                     c->endpoint, why);
      call->status = CLAP_ERR_IO;
      return 0;
    }
    if (rc == CURLE_OPERATION_TIMEDOUT)
      clap_error_set(&call->err, CLAP_ERR_IO, "%s: no complete reply within %.3g s (%s)", c->endpoint,
                     s->attempt_ms / 1000.0, why);
    else
      clap_error_set(&call->err, CLAP_ERR_IO, "%s: %s", c->endpoint, why);
    call->status = CLAP_ERR_IO;
    return !s->too_big;
  }
  char msg[400];
  int quota = 0;
  httpc_parse_error(s->buf, s->len, msg, sizeof msg, &quota);
  call->status = call->http_status == 401 || call->http_status == 403 ? CLAP_ERR_ARG
                 : call->http_status == 404                           ? CLAP_ERR_NOTFOUND
                                                                      : CLAP_ERR_IO;
  clap_error_set(&call->err, call->status, "HTTP %ld from %s: %s", call->http_status, c->endpoint, msg);
  return retryable_status(call->http_status) && !quota;
}

/* A 2xx reply: kept when the caller's accept callback takes it. */
static void take_reply(httpc_client *c, slot *s, httpc_call *call) {
  /* A reply that quotes a secret is taken (and stored by callers: the
  ** paraphrases, llm_cache) without it, as errors are shown without it. */
  redact_n(s->buf, &s->len, c->key);
  redact_n(s->buf, &s->len, c->password);
  const char *body = s->buf ? s->buf : "";
  call->status = call->accept ? call->accept(call, body, s->len, &call->err) : CLAP_OK;
  if (call->status == CLAP_OK) {
    call->response = malloc(s->len + 1);
    if (!call->response) {
      call->status = clap_error_set(&call->err, CLAP_ERR_NOMEM, "out of memory");
      return;
    }
    memcpy(call->response, body, s->len);
    call->response[s->len] = 0;
    call->response_len = s->len;
  } else if (call->status != CLAP_ERR_NOMEM) {
    char snip[160];
    httpc_snippet(body, s->len, snip, sizeof snip);
    clap_error_prefix(&call->err, "HTTP %ld from %s but ", call->http_status, c->endpoint);
    size_t k = strlen(call->err.msg);
    snprintf(call->err.msg + k, sizeof call->err.msg - k, ": %s", snip);
  }
}

static void finish_attempt(httpc_client *c, slot *s, httpc_call *call, call_state *st, CURLcode rc) {
  long code = 0;
  curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
  call->http_status = code;
  if (rc == CURLE_OK && code >= 200 && code < 300) {
    take_reply(c, s, call);
    st->state = CALL_DONE;
  } else if ((call->retryable = judge_failure(c, s, call, rc)) && call->attempts < c->cfg.max_attempts) {
    long at = now_ms() + wait_ms(c, s, call->attempts);
    if (st->deadline && at >= st->deadline) {
      size_t k = strlen(call->err.msg);
      snprintf(call->err.msg + k, sizeof call->err.msg - k,
               " (after %d attempt%s; no time is left for another within the %.3g s limit)",
               call->attempts, call->attempts > 1 ? "s" : "", c->cfg.deadline_ms / 1000.0);
      st->state = CALL_DONE;
    } else {
      st->state = CALL_WAITING;
      st->not_before = at;
    }
  } else {
    if (call->attempts > 1) {
      size_t k = strlen(call->err.msg);
      snprintf(call->err.msg + k, sizeof call->err.msg - k, " (after %d attempts)", call->attempts);
    }
    st->state = CALL_DONE;
  }
  if (st->state == CALL_DONE) {
    redact(call->err.msg, c->key);
    redact(call->err.msg, c->password);
    if (call->status != CLAP_OK) c->stats.failed++;
  }
}

void httpc_call_clear(httpc_call *call) {
  if (!call) return;
  free(call->response);
  call->response = NULL;
  call->response_len = 0;
  call->status = CLAP_OK;
  call->http_status = 0;
  call->attempts = 0;
  call->retryable = 0;
  clap_error_clear(&call->err);
}

/* Free slots take the waiting call that is due, lowest index first. */
static clap_status fill_slots(httpc_client *c, slot *slots, int nslots, httpc_call *calls, call_state *st, int n,
                              clap_error *err) {
  long t = now_ms();
  for (int k = 0; k < nslots; k++) {
    if (slots[k].call >= 0) continue;
    for (int i = 0; i < n; i++) {
      if (st[i].state != CALL_WAITING || st[i].not_before > t) continue;
      clap_status s = start_attempt(c, &slots[k], &calls[i], &st[i], err);
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

static void drain_messages(httpc_client *c, slot *slots, int nslots, httpc_call *calls, call_state *st) {
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

static clap_status transfer_loop(httpc_client *c, slot *slots, int nslots, httpc_call *calls, call_state *st,
                                 int n, clap_error *err) {
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

clap_status httpc_run(httpc_client *c, httpc_call *calls, int n, clap_error *err) {
  if (!c || n < 0 || (n > 0 && !calls)) return clap_error_set(err, CLAP_ERR_ARG, "httpc_run: bad arguments");
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
    httpc_call_clear(&calls[i]);
    c->stats.calls++;
    if (!calls[i].body) {
      calls[i].status = clap_error_set(&calls[i].err, CLAP_ERR_ARG, "httpc_run: call %d has no body", i);
      st[i].state = CALL_DONE;
      c->stats.failed++;
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
