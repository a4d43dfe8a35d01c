/* openai_embed (request body, reply parser, configuration) and the httpc
** engine's per-call deadline; the server side is tests/cli/test_openai.sh. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "encoder.h"
#include "harness.h"
#include "httpc.h"
#include "openai_embed.h"

static void test_request_json(void) {
  const char *texts[] = {"私は欲しいです", "two \"quoted\"\n"};
  char *b = openai_embed_request_json("e5", "query: ", texts, 2, 0);
  CHECK(b != NULL);
  cJSON *j = cJSON_Parse(b);
  CHECK(!strcmp(cJSON_GetObjectItem(j, "model")->valuestring, "e5"));
  cJSON *in = cJSON_GetObjectItem(j, "input");
  CHECK_INT(cJSON_GetArraySize(in), 2);
  CHECK(!strcmp(cJSON_GetArrayItem(in, 0)->valuestring, "query: 私は欲しいです"));
  CHECK(!strcmp(cJSON_GetArrayItem(in, 1)->valuestring, "query: two \"quoted\"\n"));
  CHECK(cJSON_GetObjectItem(j, "dimensions") == NULL);
  cJSON_Delete(j);
  cJSON_free(b);
  b = openai_embed_request_json("e5", NULL, texts, 1, 256);
  j = cJSON_Parse(b);
  CHECK_INT((int)cJSON_GetObjectItem(j, "dimensions")->valuedouble, 256);
  CHECK(!strcmp(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "input"), 0)->valuestring, "私は欲しいです"));
  cJSON_Delete(j);
  cJSON_free(b);
  CHECK(openai_embed_request_json(NULL, NULL, texts, 1, 0) == NULL);
  CHECK(openai_embed_request_json("m", NULL, texts, 0, 0) == NULL);
}

/* Parse body expecting count vectors of *dim; the error message, or "" on success. */
static clap_status parse(const char *body, int count, int *dim, float **v, clap_error *e) {
  clap_error_clear(e);
  return openai_embed_parse(body, strlen(body), count, dim, v, e);
}

static void test_parse_good(void) {
  clap_error e;
  float *v = NULL;
  int dim = 2;
  CHECK_INT(parse("{\"data\":[{\"index\":1,\"embedding\":[3,4]},{\"index\":0,\"embedding\":[1,-2.5]}]}", 2, &dim,
                  &v, &e),
            CLAP_OK);
  CHECK(v && v[0] == 1 && v[1] == -2.5f && v[2] == 3 && v[3] == 4); /* by index */
  free(v);
  dim = 0; /* learnt */
  CHECK_INT(parse("{\"object\":\"list\",\"data\":[{\"embedding\":[0.5,0.25,1e-3]}],\"model\":\"x\"}", 1, &dim, &v, &e),
            CLAP_OK);
  CHECK_INT(dim, 3);
  CHECK(v && v[1] == 0.25f);
  free(v);
}

static void test_parse_bad(void) {
  static const struct {
    const char *body;
    int count, dim;
    const char *msg;
  } cases[] = {
      {"", 1, 2, "empty"},
      {"{\"data\":[{\"embedding\":[NaN,1]}]}", 1, 2, "not JSON"},
      {"[1,2]", 1, 2, "not a JSON object"},
      {"{\"error\":\"x\"}", 1, 2, "no \"data\" array"},
      {"{\"data\":[]}", 1, 2, "\"data\" is empty"},
      {"{\"data\":[{\"embedding\":[1,2]}]}", 2, 2, "1 vectors for 2 inputs"},
      {"{\"data\":[{\"embedding\":[1,2,3]}]}", 1, 2, "has 3 values, the encoder's dimension is 2"},
      {"{\"data\":[{\"embedding\":[1,null]}]}", 1, 2, "data[0].embedding[1] is not a finite number"},
      {"{\"data\":[{\"embedding\":[1,1e999]}]}", 1, 2, "is not a finite number"},
      {"{\"data\":[{\"embedding\":[1,1e39]}]}", 1, 2, "is not a finite number"},
      {"{\"data\":[{\"embedding\":\"AAAA\"}]}", 1, 2, "base64"},
      {"{\"data\":[{\"index\":0}]}", 1, 2, "no embedding array"},
      {"{\"data\":[{\"index\":2,\"embedding\":[1,2]},{\"embedding\":[1,2]}]}", 2, 2, "index is not one of 0..1"},
      {"{\"data\":[{\"index\":0.5,\"embedding\":[1,2]}]}", 1, 2, "index is not one of"},
      {"{\"data\":[{\"index\":0,\"embedding\":[1,2]},{\"index\":0,\"embedding\":[1,2]}]}", 2, 2, "repeats index 0"},
      {"{\"data\":[{\"embedding\":[]}]}", 1, 0, "has 0 values"},
      {"{\"data\":[{\"embedding\":[1]},{\"embedding\":[1,2]}]}", 2, 0, "data[1].embedding has 2 values"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    clap_error e;
    float *v = (float *)&e;
    int dim = cases[i].dim;
    CHECK_INT(parse(cases[i].body, cases[i].count, &dim, &v, &e), CLAP_ERR_FORMAT);
    CHECK_CONTAINS(e.msg, cases[i].msg);
    CHECK(v == NULL);
    CHECK_INT(dim, cases[i].dim);
  }
}

/* A configuration as `clap encoder add` records it, with fields replaced. */
static char *config(const char *field, cJSON *value) {
  cJSON *c = cJSON_CreateObject();
  cJSON_AddStringToObject(c, "base_url", "http://127.0.0.1:1/v1");
  cJSON_AddStringToObject(c, "model", "m");
  cJSON_AddStringToObject(c, "input_prefix", "");
  cJSON_AddNumberToObject(c, "dim", 3);
  cJSON_AddNumberToObject(c, "batch", 4);
  cJSON_AddNumberToObject(c, "timeout", 0.5);
  cJSON_AddStringToObject(c, "probe", OPENAI_PROBE);
  float pv[3] = {1, 0, 0};
  cJSON_AddItemToObject(c, "probe_vector", cJSON_CreateFloatArray(pv, 3));
  if (field) cJSON_ReplaceItemInObject(c, field, value);
  char *s = cJSON_PrintUnformatted(c);
  cJSON_Delete(c);
  return s;
}

static void test_config(void) {
  clap_error e;
  encoder *enc = NULL;
  char *good = config(NULL, NULL);
  CHECK_INT(encoder_create_config("e5", "openai", NULL, good, &enc, &e), CLAP_OK);
  CHECK_INT(encoder_dim(enc), 3);
  CHECK_INT(encoder_is_remote(enc), 1);
  CHECK_INT(encoder_modality_of(enc), ENCODER_TEXT);
  float out[3];
  CHECK_INT(encoder_encode_text(enc, "", -1, out, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "encoder 'e5': text 0 ('') is empty");
  CHECK_INT(encoder_encode_text(enc, "a\xff", -1, out, &e), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(e.msg, "is not valid UTF-8 at byte 1");
  CHECK_INT(encoder_encode_text(enc, "a\0b", 3, out, &e), CLAP_ERR_FORMAT);
  /* Port 1 refuses: a network error naming the encoder and the endpoint,
  ** within the 0.5 s timeout. */
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  CHECK_INT(encoder_encode_text(enc, "hello", -1, out, &e), CLAP_ERR_IO);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  CHECK_CONTAINS(e.msg, "encoder 'e5': http://127.0.0.1:1/v1/embeddings: ");
  CHECK((t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9 < 1.5);
  encoder_free(enc);
  free(good);
  CHECK_INT(encoder_create("e5", "openai", NULL, &enc, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "needs its clap_encoders configuration");
  static const struct {
    const char *field;
    const char *json;
    const char *msg;
  } bad[] = {
      {"base_url", "null", "no base_url"},
      {"base_url", "\"ftp://x\"", "must start with http:// or https://"},
      {"base_url", "\"http://\"", "names no host"},
      {"base_url", "\"http:///v1\"", "names no host"},
      {"base_url", "\"https://user:pw@/v1\"", "names no host"},
      {"model", "\"\"", "no model"},
      {"dim", "0", "dim is not a whole number"},
      {"dim", "2.5", "dim is not a whole number"},
      {"batch", "0", "batch is not a whole number"},
      {"batch", "\"8\"", "batch is not a whole number"},
      {"timeout", "-1", "timeout is not in"},
      {"probe_vector", "[1,2]", "3-value probe_vector"},
      {"probe_vector", "[1,2,\"x\"]", "probe_vector[2] is not a finite number"},
      {"probe", "\"\"", "no probe sentence"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char *c = config(bad[i].field, cJSON_Parse(bad[i].json));
    enc = NULL;
    CHECK(encoder_create_config("e5", "openai", NULL, c, &enc, &e) != CLAP_OK);
    CHECK(enc == NULL);
    CHECK_CONTAINS(e.msg, bad[i].msg);
    free(c);
  }
  CHECK_INT(encoder_create_config("e5", "openai", NULL, "[]", &enc, &e), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(e.msg, "encoder 'e5': clap_encoders.config: not a JSON object");
}

/* Registration checks its options before any request. */
static void test_register_options(void) {
  clap_error e;
  char *cfg = NULL, id[SHA256_HEX_SIZE];
  int dim = 0;
  openai_embed_options o = {.base_url = "http://127.0.0.1:1/v1", .model = "m", .batch = 5000};
  CHECK_INT(openai_embed_register(&o, &cfg, &dim, id, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "--batch 5000");
  o.batch = 0;
  o.input_prefix = "\xc3";
  CHECK_INT(openai_embed_register(&o, &cfg, &dim, id, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "--input-prefix is not valid UTF-8");
  o.input_prefix = NULL;
  o.model = NULL;
  CHECK_INT(openai_embed_register(&o, &cfg, &dim, id, &e), CLAP_ERR_ARG);
  o.model = "m";
  o.timeout_s = 0.3;
  CHECK_INT(openai_embed_register(&o, &cfg, &dim, id, &e), CLAP_ERR_IO);
  CHECK_CONTAINS(e.msg, "http://127.0.0.1:1/v1/embeddings: ");
  CHECK(cfg == NULL);
}

/* A local kind's batch is its single encodes. */
static void test_batch_fallback(void) {
  clap_error e;
  encoder *ng = encoder_builtin("ngram", &e);
  const char *texts[] = {"abc", "私は欲しいです", "xyz"};
  int d = encoder_dim(ng);
  float *all = malloc(3 * (size_t)d * sizeof(float)), *one = malloc((size_t)d * sizeof(float));
  CHECK_INT(encoder_encode_text_batch(ng, texts, 3, 1, all, &e), CLAP_OK);
  for (int i = 0; i < 3; i++) {
    CHECK_INT(encoder_encode_text(ng, texts[i], -1, one, &e), CLAP_OK);
    CHECK(!memcmp(one, all + (size_t)i * d, (size_t)d * sizeof(float)));
  }
  const char *withnull[] = {"a", NULL};
  CHECK_INT(encoder_encode_text_batch(ng, withnull, 2, 1, all, &e), CLAP_ERR_ARG);
  CHECK_INT(encoder_encode_text_batch(encoder_builtin("acoustic", &e), texts, 1, 1, all, &e), CLAP_ERR_ARG);
  CHECK_INT(encoder_is_remote(ng), 0);
  free(all);
  free(one);
}

/* httpc: a call with a deadline makes no attempt that could only begin
** after it, and says so. */
static void test_deadline(void) {
  clap_error e;
  httpc_client *c = NULL;
  httpc_config cfg = {.base_url = "http://127.0.0.1:1", .path = "embeddings", .backoff_ms = 300,
                      .deadline_ms = 500, .max_attempts = 10};
  CHECK_INT(httpc_client_create(&cfg, &c, &e), CLAP_OK);
  if (!c) return;
  CHECK(!strcmp(httpc_endpoint(c), "http://127.0.0.1:1/embeddings"));
  httpc_call call = {.body = "{}"};
  CHECK_INT(httpc_run(c, &call, 1, &e), CLAP_OK);
  CHECK_INT(call.status, CLAP_ERR_IO);
  CHECK_INT(call.attempts, 2); /* at 0 and ~0.3 s; the next would be at ~0.9 s */
  CHECK_CONTAINS(call.err.msg, "no time is left for another within the 0.5 s limit");
  httpc_stats st;
  httpc_get_stats(c, &st);
  CHECK_INT(st.attempts, 2);
  CHECK_INT(st.failed, 1);
  httpc_call_clear(&call);
  httpc_client_free(c);
  cfg.path = NULL;
  CHECK_INT(httpc_client_create(&cfg, &c, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "no endpoint path");
}

int main(void) {
  RUN(test_request_json);
  RUN(test_parse_good);
  RUN(test_parse_bad);
  RUN(test_config);
  RUN(test_register_options);
  RUN(test_batch_fallback);
  RUN(test_deadline);
  return harness_report();
}
