/*
** httpc — the one HTTP request engine of sqlite-clap: JSON POSTs to an
** OpenAI-compatible server (OpenAI, llama.cpp server, Ollama, vLLM) over
** libcurl, with concurrency, retries and backoff. It lives in the engine
** because the SQL functions need it (encoder kind "openai",
** ext/encoders/openai_embed.h); the CLI's chat client (pipeline/llm.h) is
** built on it too. What is specific to an API (the request body, what a
** good reply looks like) stays with the caller: the body is given, and an
** optional accept callback judges each 2xx reply. The engine never prints.
**
** What it sends: POST {base_url}/{path} (one slash between) with the
** caller's body, the headers Content-Type/Accept application/json and, when
** a key is known, "Authorization: Bearer KEY". The key is config.api_key,
** else the environment's CLAP_API_KEY, else OPENAI_API_KEY, else none
** (local servers need none). It lives only in this client's memory (wiped
** on free): it is never written anywhere, and replaced by "***" in every
** error message and in every reply body (before the accept callback sees
** it, so nothing a caller stores holds it) even if a server echoes it back.
** Credentials in the base URL (http://user:password@host/v1) are used for
** the request and treated like the key: httpc_endpoint is the URL without
** them, and the password is redacted from errors and replies.
**
** What is contacted: the endpoint above only. Base URLs must start with
** http:// or https:// (anything else, including other curl schemes such as
** file:// or ftp://, is CLAP_ERR_ARG at create); redirects are not followed,
** so neither the key nor a request goes to another host.
**
** How calls behave (httpc_run): up to config.concurrency requests are in
** flight at once (one curl multi handle, one easy handle per request). Each
** attempt has a connect timeout and a total timeout; with config.deadline_ms
** a call, all its attempts and waits together, also ends within that many
** milliseconds of its first attempt's start (an attempt gets what is left; a retry
** that could only begin after the deadline is not made). A call is tried
** again, at most config.max_attempts times in all, on a network error
** (refused, reset, timed out) and on HTTP 408, 409, 429 and 5xx; the wait
** honours the server's `retry-after-ms` or `Retry-After` (seconds or an HTTP
** date), capped at config.max_wait_ms, and is otherwise an exponential
** backoff from config.backoff_ms with jitter (also capped). No retry on any
** other status (400, 401, 403, 404, ...), on a quota error (429 whose
** error.code or error.type is "insufficient_quota"), on a 2xx reply the
** accept callback refuses, nor on a TLS certificate that cannot be verified
** (its message says "the server's TLS certificate could not be verified"). A failed call's message names the HTTP status,
** the URL and the server's own message, parsed leniently from
** {"error": {"message": ..., "code": string-or-number, "type": ...}} or
** {"error": "text"} or {"message": ...} or {"detail": ...}, else the start
** of the body, e.g.
**   "HTTP 401 from http://127.0.0.1:8080/v1/embeddings: Incorrect API key
**    provided (code invalid_api_key)"
** Status codes: 401/403 -> CLAP_ERR_ARG, 404 -> CLAP_ERR_NOTFOUND, other
** HTTP and network failures CLAP_ERR_IO, a refused 2xx reply the callback's
** code (message "HTTP 200 from URL but <callback's message>: <body start>").
**
** Threads: a client is used by one thread at a time (callers that share one
** hold a lock); libcurl's global initialisation is done once per process.
*/
#ifndef CLAP_HTTPC_H
#define CLAP_HTTPC_H

#include <stddef.h>

#include "clap_error.h"

typedef struct httpc_client httpc_client;

/* Zero in any field means its default. */
typedef struct httpc_config {
  const char *base_url;    /* required, e.g. "https://api.openai.com/v1" */
  const char *path;        /* required, e.g. "embeddings" */
  const char *api_key;     /* NULL: CLAP_API_KEY, else OPENAI_API_KEY */
  int concurrency;         /* requests in flight, 1..64; default 4 */
  long connect_timeout_ms; /* default 10000 */
  long timeout_ms;         /* one attempt, connect to last byte; default 120000 */
  int max_attempts;        /* 1..20 in all, first try included; default 5 */
  long max_wait_ms;        /* cap on any wait between attempts; default 60000 */
  long backoff_ms;         /* first backoff wait, doubled each time; default 500 */
  long deadline_ms;        /* one call, all attempts and waits; default none */
} httpc_config;

/* What was spent, summed over every httpc_run of a client. */
typedef struct httpc_stats {
  long calls;             /* calls run */
  long attempts;          /* HTTP requests sent (retries included) */
  long retries;           /* attempts - first tries */
  long failed;            /* calls that ended in an error */
} httpc_stats;

typedef struct httpc_call httpc_call;

/* Judges a 2xx reply (body: n bytes, NUL-terminated): CLAP_OK keeps it;
** anything else fails the call with err, without a retry. It may keep
** what it parsed through call->user. */
typedef clap_status (*httpc_accept_fn)(httpc_call *call, const char *body, size_t n,
                                       clap_error *err);

/* One request for httpc_run. The caller sets body (kept alive during the
** run), accept and user; httpc_run fills the rest. */
struct httpc_call {
  const char *body;
  httpc_accept_fn accept; /* NULL: any 2xx reply is kept */
  void *user;
  clap_status status;     /* CLAP_OK: response is set */
  clap_error err;
  long http_status;       /* of the last attempt; 0 when no HTTP reply */
  int attempts;
  int retryable;          /* the last failure was of a kind retried (network, 408/409/429/5xx) */
  char *response;         /* the accepted reply's body, NUL-terminated */
  size_t response_len;
};

/* *out owned by the caller: httpc_client_free. Errors: CLAP_ERR_ARG (no or a
** non-http(s) base URL, no path, a config value out of range),
** CLAP_ERR_INTERNAL (libcurl could not start). */
clap_status httpc_client_create(const httpc_config *config, httpc_client **out, clap_error *err);
void httpc_client_free(httpc_client *c);

/* "{base_url}/{path}" without the base URL's user:password@; valid until free. */
const char *httpc_endpoint(const httpc_client *c);
/* Whether a key was found (never the key itself). */
int httpc_has_key(const httpc_client *c);
void httpc_get_stats(const httpc_client *c, httpc_stats *out);
/* Requests in flight from the next run on (1..64; others are ignored). */
void httpc_set_concurrency(httpc_client *c, int concurrency);

/* Run n calls to completion (each ends in success or its own error). Returns
** CLAP_OK when every call was run, an error only if the machinery itself
** failed (then calls not run carry that error too). Calls holding results
** are cleared first. */
clap_status httpc_run(httpc_client *c, httpc_call *calls, int n, clap_error *err);
/* Free what httpc_run put in a call (not body, accept, user). */
void httpc_call_clear(httpc_call *call);

/* The server's explanation in an error body, leniently (see above), into
** buf; "code"/"type" appended in parentheses when present. *quota is set to 1
** for an insufficient_quota error. Always NUL-terminates buf (cap > 0). */
void httpc_parse_error(const char *body, size_t n, char *buf, size_t cap, int *quota);

/* The start of a body on one line (control bytes as spaces, no code point
** cut, "..." when shortened) into buf; always NUL-terminated (cap > 4). */
void httpc_snippet(const char *body, size_t n, char *buf, size_t cap);

/* Seconds to wait from a Retry-After value: delta-seconds (decimals
** accepted) or an HTTP date relative to now (unix seconds). -1 when the
** value is neither. */
double httpc_retry_after_seconds(const char *value, long now);

#endif
