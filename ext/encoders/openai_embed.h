/*
** openai_embed — encoder kind "openai": text embeddings from any
** OpenAI-compatible embeddings server (OpenAI text-embedding-3-*, llama.cpp
** `llama-server --embeddings`, Ollama, vLLM), all speaking
**   POST {base_url}/embeddings  {"model": M, "input": ["...", ...]
**                                [, "dimensions": D]}
**   -> {"data": [{"index": i, "embedding": [floats]}, ...], ...}
** Requests go through the engine's HTTP client (ext/net/httpc.h): the key
** comes from CLAP_API_KEY / OPENAI_API_KEY only and is never stored, printed
** or put in a message; only {base_url}/embeddings is contacted; retries,
** backoff and Retry-After are httpc's.
**
** Registration (openai_embed_register, run by `clap encoder add --kind
** openai`): one request embeds the probe sentence (OPENAI_PROBE), which
** tells the dimension (or checks --dim against the reply) and gives the
** probe vector. The configuration JSON recorded in clap_encoders.config is
**   {"base_url", "model", "input_prefix", "dim", "dimensions" (whether
**    "dimensions" is sent), "batch", "timeout", "probe", "probe_vector",
**    "probe_sha256", "identity"}
** and the identity is the sha256 of the lines
**   "openai\n" BASE_URL "\n" MODEL "\n" PREFIX "\n" DIM "\n" PROBE_SHA256 "\n"
** (BASE_URL without trailing slashes), so another server, model, prefix or
** dimension is another identity, and so is the same name serving another
** model at registration. `clap encoder add` stores the identity in the
** row's sha256 column too: cached vectors carry it as their encoder_id, and
** models record it, as for checkpoints.
**
** Model swaps under the same name: every encoder instance (one per SQL
** connection and clap_encoders row; one per CLI run) re-embeds the probe
** once, in front of the inputs of its first request (so it costs no extra
** request), and compares it with the recorded vector by cosine: below
** OPENAI_PROBE_MIN_COSINE the instance refuses to encode, naming the
** encoder and both digests, until the encoder is registered again (`clap
** encoder add --replace`, which gives it a new identity: cached vectors
** become stale and models trained on the old one refuse to run). Not the
** digest itself: servers' vectors for one sentence differ in the last bits
** between calls and batch compositions (GPU kernels, llama.cpp batching),
** while another model's vector for it is a different direction altogether.
**
** Encoding: texts are sent as given, after input_prefix (e.g. "query: " for
** E5 models), in requests of at most `batch` inputs (the first request of an
** instance carries the probe as well), `concurrency` requests in flight.
** One request, all attempts and waits together, ends within `timeout`
** seconds. A call is all or nothing: any request failing fails it and no
** vector is given. Errors name the encoder, the HTTP status, the URL and the
** server's message ("encoder 'e5': HTTP 429 from URL: slow down (after 5
** attempts)"); a reply that is not JSON, has no or an empty `data`, another
** number of vectors than inputs, a vector of another dimension, a value that
** is not a finite number, or indexes that are not 0..n-1 each once, is
** CLAP_ERR_FORMAT "encoder 'e5': HTTP 200 from URL but <what>: <body start>".
** Texts must be non-empty valid UTF-8 (CLAP_ERR_ARG / CLAP_ERR_FORMAT naming
** the byte).
**
** Threads: an encoder serialises its requests with a mutex (one HTTP client
** per encoder), so concurrent encode calls on one instance are safe.
*/
#ifndef CLAP_OPENAI_EMBED_H
#define CLAP_OPENAI_EMBED_H

#include <stddef.h>

#include "encoder.h"
#include "sha256.h"

#define OPENAI_PROBE "CLAP probe: 私は欲しいです。I would like to buy this."
#define OPENAI_PROBE_MIN_COSINE 0.99
#define OPENAI_MAX_BATCH 2048
#define OPENAI_MAX_DIM 65536

extern const encoder_ops openai_encoder_ops;

/* What `clap encoder add --kind openai` is given. */
typedef struct openai_embed_options {
  const char *base_url;     /* required: http(s)://... up to, not including, /embeddings */
  const char *model;        /* required */
  const char *input_prefix; /* NULL or "": none */
  int dim;                  /* 0: the server's; else sent as "dimensions", 1..OPENAI_MAX_DIM */
  int batch;                /* inputs per request, 1..OPENAI_MAX_BATCH; 0: 64 */
  double timeout_s;         /* one request with its retries, (0, 3600]; 0: 60 */
} openai_embed_options;

/* Ask the server once (the probe sentence) and build the configuration to
** record: *config_json (caller frees with free), *dim, identity. Errors:
** CLAP_ERR_ARG for options out of range, the server's errors as above. */
clap_status openai_embed_register(const openai_embed_options *o, char **config_json, int *dim,
                                  char identity[SHA256_HEX_SIZE], clap_error *err);

/* The request body for texts[0..n) (NUL-terminated, prefix put in front of
** each), with "dimensions" when dimensions > 0. malloc'd; NULL on out of
** memory or bad arguments. */
char *openai_embed_request_json(const char *model, const char *prefix, const char *const *texts,
                                int n, int dimensions);

/* Parse an embeddings reply (n bytes, need not be NUL-terminated) expected
** to hold count vectors: with *dim > 0 each must have *dim values, with
** *dim == 0 the first one's length is learnt (all must agree). *out is
** malloc'd count x *dim floats in input order (by "index" when given),
** freed by the caller; on error *out is NULL and *dim unchanged. */
clap_status openai_embed_parse(const char *body, size_t n, int count, int *dim, float **out,
                               clap_error *err);

#endif
