/*
** llm — a small client for OpenAI-compatible chat-completions APIs (OpenAI,
** llama.cpp server, Ollama, vLLM), over libcurl with cJSON.
**
** What it sends: POST {base_url}/chat/completions with
**   {"model": M, "messages": [{"role": "user", "content": PROMPT}],
**    "temperature": T, "n": 1}
** (n is always 1: several local servers reject anything else). Transport,
** key, retries, backoff, timeouts and error messages are the engine's
** request engine's (ext/net/httpc.h), shared with the embeddings client of
** encoder kind "openai": the headers, the key (config.api_key, else
** CLAP_API_KEY, else OPENAI_API_KEY; never stored, printed or in an error,
** and "***" in a reply that echoes it, as is a base URL's password),
** http(s) base URLs only, no redirects, retries on network errors and HTTP
** 408/409/429/5xx honouring Retry-After, and "HTTP 401 from URL: server's
** message" errors are described there. A 2xx reply that is not a chat
** completion fails its call without a retry.
** Token usage of every successful reply is summed (llm_client_usage).
*/
#ifndef CLAP_LLM_H
#define CLAP_LLM_H

#include <stddef.h>

#include "clap_error.h"
#include "httpc.h"

typedef struct llm_client llm_client;

/* The HTTP client's configuration (httpc.h; zero in any field means its
** default). `path` and `deadline_ms` are ignored: the client posts to
** {base_url}/chat/completions and bounds each attempt by timeout_ms. */
typedef httpc_config llm_config;

/* What was spent, summed over every llm_run of a client. */
typedef struct llm_usage {
  long calls;             /* llm_call's run */
  long attempts;          /* HTTP requests sent (retries included) */
  long retries;           /* attempts - first tries */
  long failed;            /* calls that ended in an error */
  long prompt_tokens;     /* from the replies' "usage" (0 when a server omits it) */
  long completion_tokens;
  long total_tokens;
} llm_usage;

/* A parsed chat-completion reply. Strings owned by the struct: llm_reply_clear. */
typedef struct llm_reply {
  char *content;          /* choices[0].message.content (text parts joined) */
  char *model;            /* the "model" the server reports, or NULL */
  char *finish_reason;    /* or NULL */
  long prompt_tokens, completion_tokens, total_tokens;   /* 0 when absent */
} llm_reply;

/* One request for llm_run. The caller sets body (llm_request_json) and
** keeps it alive during the run; llm_run fills the rest. */
typedef struct llm_call {
  const char *body;
  clap_status status;     /* CLAP_OK: reply and response are set */
  clap_error err;
  long http_status;       /* of the last attempt; 0 when no HTTP reply */
  int attempts;
  int retryable;          /* the last failure was of a kind retried (network, 408/409/429/5xx) */
  char *response;         /* raw body of the successful reply (for a cache), NUL-terminated */
  llm_reply reply;
} llm_call;

/* *out owned by the caller: llm_client_free. Errors: CLAP_ERR_ARG (no or a
** non-http(s) base URL, a config value out of range), CLAP_ERR_INTERNAL
** (libcurl could not start). */
clap_status llm_client_create(const llm_config *config, llm_client **out, clap_error *err);
void llm_client_free(llm_client *c);

/* "{base_url}/chat/completions" (one slash between); valid until free. */
const char *llm_client_endpoint(const llm_client *c);
/* Whether a key was found (never the key itself). */
int llm_client_has_key(const llm_client *c);
void llm_client_usage(const llm_client *c, llm_usage *out);

/* Run n calls to completion (each ends in success or its own error); at most
** config.concurrency in flight. Returns CLAP_OK when every call was run, an
** error only if the machinery itself failed (then calls not run carry that
** error too). Calls already holding results are cleared first. */
clap_status llm_run(llm_client *c, llm_call *calls, int n, clap_error *err);
/* Free what llm_run put in a call (not body); the call can be run again. */
void llm_call_clear(llm_call *call);

/* The request body above, malloc'd (caller frees); NULL on out of memory or
** a NULL model/prompt. temperature must be finite (0..2 for OpenAI). */
char *llm_request_json(const char *model, const char *prompt, double temperature);

/* Parse a chat-completion reply body (n bytes, need not be NUL-terminated).
** Accepts message.content as a string or an array of {"type":"text","text"}
** parts. Errors (CLAP_ERR_FORMAT, *out left empty): not JSON, no choices, no
** message content (a "refusal" is quoted in the message). */
clap_status llm_parse_reply(const char *body, size_t n, llm_reply *out, clap_error *err);
void llm_reply_clear(llm_reply *r);

#endif
