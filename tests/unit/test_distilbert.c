/* distilbert: the C forward pass against the PyTorch reference built by
** tests/fixtures/make_distilbert.py (torch.nn modules following
** DistilBertModel), max abs diff <= 1e-4 on every hidden state; prefixed keys;
** the encoder registry; every bad-checkpoint error the header names. */
#include "fixture.h"
#include "harness.h"

#include "distilbert.h"
#include "encoder.h"
#include "safetensors.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIX "tests/fixtures/distilbert"

static char tmpdir[256];

typedef struct ref_sentence {
  char *text;
  int *ids, n;
  float *hidden, *cls;
} ref_sentence;

static ref_sentence refs[16];
static int n_refs, ref_dim;

static void spit(const char *dir, const char *name, const void *data, size_t n) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (!f) return;
  fwrite(data, 1, n, f);
  fclose(f);
}

static float *json_floats(const cJSON *a, int *n) {
  *n = cJSON_GetArraySize(a);
  float *v = malloc((size_t)(*n + 1) * sizeof *v);
  int i = 0;
  for (const cJSON *e = a->child; e; e = e->next) v[i++] = (float)e->valuedouble;
  return v;
}

static void load_refs(void) {
  char *text = fixture_read(FIX "/reference.json", NULL);
  cJSON *j = cJSON_Parse(text);
  free(text);
  if (!j) return;
  ref_dim = cJSON_GetObjectItem(j, "dim")->valueint;
  const cJSON *s;
  cJSON_ArrayForEach(s, cJSON_GetObjectItem(j, "sentences")) {
    if (n_refs == 16) break;
    ref_sentence *r = &refs[n_refs++];
    int nh, nc;
    r->text = strdup(cJSON_GetObjectItem(s, "text")->valuestring);
    const cJSON *ids = cJSON_GetObjectItem(s, "ids");
    r->n = cJSON_GetArraySize(ids);
    r->ids = malloc((size_t)r->n * sizeof(int));
    for (int i = 0; i < r->n; i++) r->ids[i] = cJSON_GetArrayItem(ids, i)->valueint;
    r->hidden = json_floats(cJSON_GetObjectItem(s, "hidden"), &nh);
    r->cls = json_floats(cJSON_GetObjectItem(s, "cls"), &nc);
  }
  cJSON_Delete(j);
}

static double max_abs_diff(const float *a, const float *b, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs((double)a[i] - b[i]);
    if (!(d <= m)) m = d;
  }
  return m;
}

/* A scratch checkpoint directory: the fixture's files, some replaced. */
static void make_ckpt(const char *name, char *dir, size_t cap, int with_config, int with_spiece) {
  snprintf(dir, cap, "%s/%s", tmpdir, name);
  mkdir(dir, 0755);
  const char *files[] = {"config.json", "spiece.model", "tokenizer_config.json"};
  for (int i = 0; i < 3; i++) {
    if ((i == 0 && !with_config) || (i == 1 && !with_spiece)) continue;
    char src[256];
    size_t n;
    snprintf(src, sizeof src, FIX "/%s", files[i]);
    char *d = fixture_read(src, &n);
    if (d) spit(dir, files[i], d, n);
    free(d);
  }
}

/* Rewrite the fixture's weights into dir/model.safetensors: names get
** `prefix`, `drop` is left out, `reshape` gets its first dim halved. */
static void write_weights(const char *dir, const char *prefix, const char *drop,
                          const char *reshape) {
  st_file *st = NULL;
  clap_error err;
  if (st_open(FIX "/model.safetensors", &st, &err) != CLAP_OK) return;
  int n = st_count(st), k = 0;
  st_write_tensor *t = calloc((size_t)n + 1, sizeof *t);
  char (*names)[160] = calloc((size_t)n + 1, sizeof *names);
  for (int i = 0; i < n; i++) {
    const st_tensor_info *in = st_tensor_at(st, i);
    if (drop && strcmp(in->name, drop) == 0) continue;
    snprintf(names[k], sizeof names[k], "%s%s", prefix, in->name);
    t[k].name = names[k];
    t[k].dtype = in->dtype;
    t[k].ndim = in->ndim;
    memcpy(t[k].shape, in->shape, sizeof in->shape);
    if (reshape && strcmp(in->name, reshape) == 0) t[k].shape[0] /= 2;
    t[k].data = in->data;
    k++;
  }
  static const float extra[4] = {1, 2, 3, 4}; /* an MLM head tensor to ignore */
  if (*prefix) {
    snprintf(names[k], sizeof names[k], "vocab_transform.bias");
    t[k] = (st_write_tensor){names[k], "F32", 1, {4}, extra};
    k++;
  }
  char path[512];
  snprintf(path, sizeof path, "%s/model.safetensors", dir);
  if (st_write_file(path, t, k, &err) != CLAP_OK) fprintf(stderr, "write: %s\n", err.msg);
  free(t);
  free(names);
  st_close(st);
}

static void check_against_reference(const distilbert *m) {
  CHECK(n_refs >= 10);
  for (int i = 0; i < n_refs; i++) {
    const ref_sentence *r = &refs[i];
    float *h = NULL;
    int n = 0;
    clap_error err = {0};
    CHECK_INT(distilbert_forward(m, r->text, -1, &h, &n, &err), CLAP_OK);
    if (!h) continue;
    CHECK_INT(n, r->n);
    if (n == r->n) {
      double d = max_abs_diff(h, r->hidden, (size_t)n * ref_dim);
      if (getenv("DB_VERBOSE") || !(d <= 1e-4)) fprintf(stderr, "  sentence %d \"%.40s\": max diff %g\n", i, r->text, d);
      CHECK(d <= 1e-4);
    }
    float cls[64];
    CHECK_INT(distilbert_encode(m, r->text, -1, cls, &err), CLAP_OK);
    CHECK(max_abs_diff(cls, r->cls, (size_t)ref_dim) <= 1e-4);
    free(h);
  }
}

static void test_reference(void) {
  distilbert *m = NULL;
  clap_error err = {0};
  CHECK_INT(distilbert_load(FIX, &m, &err), CLAP_OK);
  if (!m) {
    fprintf(stderr, "  %s\n", err.msg);
    return;
  }
  const distilbert_config *c = distilbert_get_config(m);
  CHECK_INT(c->dim, 32);
  CHECK_INT(c->layers, 2);
  CHECK_INT(c->heads, 4);
  CHECK_INT(c->hidden_dim, 64);
  CHECK_INT(c->max_positions, 64);
  CHECK_INT(c->vocab_size, 800);
  CHECK_INT(distilbert_max_tokens(m), 64); /* min(512, max_position_embeddings) */
  CHECK_CONTAINS(distilbert_weights_path(m), "model.safetensors");
  check_against_reference(m);
  /* the long sentence was cut at 64 tokens */
  CHECK_INT(refs[n_refs - 1].n, 64);
  distilbert_free(m);
}

/* bf16 linears against float32 on the fixture's sentences: [CLS] vectors
** keep cosine >= 0.999; the worst max abs difference is printed. */
static void test_bf16_precision(void) {
  distilbert *m = NULL;
  clap_error err = {0};
  CHECK_INT(distilbert_load(FIX, &m, &err), CLAP_OK);
  if (!m) return;
  double worst_cos = 1, worst_abs = 0;
  for (int i = 0; i < n_refs; i++) {
    float a[64], b[64];
    CHECK_INT(distilbert_set_precision(m, NN_F32, &err), CLAP_OK);
    CHECK_INT(distilbert_encode(m, refs[i].text, -1, a, &err), CLAP_OK);
    CHECK_INT(distilbert_set_precision(m, NN_BF16, &err), CLAP_OK);
    CHECK_INT(distilbert_precision(m), NN_BF16);
    CHECK_INT(distilbert_encode(m, refs[i].text, -1, b, &err), CLAP_OK);
    double dot = 0, na = 0, nb = 0;
    for (int j = 0; j < ref_dim; j++) {
      dot += (double)a[j] * b[j], na += (double)a[j] * a[j], nb += (double)b[j] * b[j];
      if (fabs(a[j] - b[j]) > worst_abs) worst_abs = fabs(a[j] - b[j]);
    }
    double cos = dot / sqrt(na * nb);
    if (cos < worst_cos) worst_cos = cos;
    CHECK(cos >= 0.999);
  }
  printf("distilbert bf16 vs f32 on the fixture: min cosine %.6f, max abs diff %.3g\n", worst_cos,
         worst_abs);
  distilbert_free(m);
}

static void test_prefixed_keys(void) {
  char dir[512];
  make_ckpt("prefixed", dir, sizeof dir, 1, 1);
  write_weights(dir, "distilbert.", NULL, NULL);
  distilbert *m = NULL;
  clap_error err = {0};
  CHECK_INT(distilbert_load(dir, &m, &err), CLAP_OK);
  if (!m) {
    fprintf(stderr, "  %s\n", err.msg);
    return;
  }
  check_against_reference(m);
  distilbert_free(m);
}

static void test_encoder_registry(void) {
  encoder *e = NULL;
  clap_error err = {0};
  CHECK_INT(encoder_create("laboro", "distilbert", FIX, &e, &err), CLAP_OK);
  if (!e) return;
  CHECK_INT(encoder_dim(e), 32);
  CHECK_INT(encoder_modality_of(e), ENCODER_TEXT);
  float out[32];
  CHECK_INT(encoder_encode_text(e, refs[0].text, -1, out, &err), CLAP_OK);
  CHECK(max_abs_diff(out, refs[0].cls, 32) <= 1e-4);
  CHECK_INT(encoder_encode_text(e, "bad \xc3", -1, out, &err), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "not valid UTF-8 at byte 4");
  float pcm[16] = {0};
  CHECK_INT(encoder_encode_audio(e, pcm, 16, out, &err), CLAP_ERR_ARG);
  encoder_free(e);
  CHECK_INT(encoder_create(NULL, "distilbert", NULL, &e, &err), CLAP_ERR_ARG);
  CHECK_CONTAINS(err.msg, "checkpoint directory");
}

static void test_forward_ids_range(void) {
  distilbert *m = NULL;
  clap_error err = {0};
  CHECK_INT(distilbert_load(FIX, &m, &err), CLAP_OK);
  if (!m) return;
  float h[65 * 32];
  int ids[65] = {3, 900, 4};
  CHECK_INT(distilbert_forward_ids(m, ids, 3, h, &err), CLAP_ERR_RANGE);
  CHECK_CONTAINS(err.msg, "token 1: id 900 outside the vocabulary (0..799)");
  CHECK_INT(distilbert_forward_ids(m, ids, 0, h, &err), CLAP_ERR_RANGE);
  for (int i = 0; i < 65; i++) ids[i] = 10;
  CHECK_INT(distilbert_forward_ids(m, ids, 65, h, &err), CLAP_ERR_RANGE);
  CHECK_CONTAINS(err.msg, "65 tokens; the model takes 1..64");
  CHECK_INT(distilbert_forward_ids(m, refs[0].ids, refs[0].n, h, &err), CLAP_OK);
  CHECK(max_abs_diff(h, refs[0].hidden, (size_t)refs[0].n * 32) <= 1e-4);
  distilbert_free(m);
}

static void expect_load_error(const char *dir, clap_status code, const char *needle) {
  distilbert *m = (distilbert *)1;
  clap_error err = {0};
  CHECK_INT(distilbert_load(dir, &m, &err), code);
  CHECK(m == NULL);
  CHECK_CONTAINS(err.msg, needle);
}

static void bad_config(const char *name, const char *json, clap_status code, const char *needle) {
  char dir[512];
  make_ckpt(name, dir, sizeof dir, 0, 1);
  spit(dir, "config.json", json, strlen(json));
  expect_load_error(dir, code, needle);
}

static void test_bad_checkpoints(void) {
  char dir[512];
  expect_load_error(tmpdir, CLAP_ERR_NOTFOUND, "config.json");
  expect_load_error("/nonexistent/ckpt", CLAP_ERR_NOTFOUND, "/nonexistent/ckpt: not a checkpoint directory");

  make_ckpt("missing_tensor", dir, sizeof dir, 1, 1);
  write_weights(dir, "", "transformer.layer.1.ffn.lin2.bias", NULL);
  expect_load_error(dir, CLAP_ERR_NOTFOUND, "tensor transformer.layer.1.ffn.lin2.bias not found in");

  make_ckpt("missing_prefixed", dir, sizeof dir, 1, 1);
  write_weights(dir, "distilbert.", "embeddings.LayerNorm.bias", NULL);
  expect_load_error(dir, CLAP_ERR_NOTFOUND, "tensor distilbert.embeddings.LayerNorm.bias not found");

  make_ckpt("wrong_shape", dir, sizeof dir, 1, 1);
  write_weights(dir, "", NULL, "transformer.layer.0.attention.q_lin.weight");
  expect_load_error(dir, CLAP_ERR_FORMAT, "tensor transformer.layer.0.attention.q_lin.weight: shape [16,32], expected [32,32]");

  make_ckpt("no_spiece", dir, sizeof dir, 1, 0);
  write_weights(dir, "", NULL, NULL);
  expect_load_error(dir, CLAP_ERR_NOTFOUND, "spiece.model: missing");

  make_ckpt("bad_spiece", dir, sizeof dir, 1, 0);
  spit(dir, "spiece.model", "garbage", 7);
  expect_load_error(dir, CLAP_ERR_FORMAT, "spiece.model: not a SentencePiece model");

  make_ckpt("no_weights", dir, sizeof dir, 1, 1);
  expect_load_error(dir, CLAP_ERR_NOTFOUND, "no model.safetensors or pytorch_model.bin");

  make_ckpt("bad_weights", dir, sizeof dir, 1, 1);
  spit(dir, "model.safetensors", "\xff\0\0\0\0\0\0\0{}", 10);
  expect_load_error(dir, CLAP_ERR_FORMAT, "model.safetensors");

  make_ckpt("no_config", dir, sizeof dir, 0, 1);
  write_weights(dir, "", NULL, NULL);
  expect_load_error(dir, CLAP_ERR_NOTFOUND, "config.json");

  bad_config("cfg_array", "[1]", CLAP_ERR_FORMAT, "config.json: not a JSON object");
  bad_config("cfg_heads", "{\"dim\": 32, \"n_heads\": 5, \"hidden_dim\": 64}", CLAP_ERR_FORMAT,
             "\"n_heads\" (5) does not divide \"dim\" (32)");
  bad_config("cfg_dim", "{\"dim\": \"32\"}", CLAP_ERR_FORMAT, "\"dim\" must be an integer");
  bad_config("cfg_layers", "{\"n_layers\": 0}", CLAP_ERR_FORMAT, "\"n_layers\" must be an integer in 1..256");
  bad_config("cfg_act", "{\"activation\": \"swish\"}", CLAP_ERR_UNSUPPORTED,
             "\"activation\" is swish; only \"gelu\" and \"relu\"");
  bad_config("cfg_vocab", "{\"vocab_size\": 100}", CLAP_ERR_FORMAT,
             "has 800 pieces but config.json's vocab_size is 100");
  /* a config that disagrees with the weights is a shape error */
  make_ckpt("cfg_mismatch", dir, sizeof dir, 0, 1);
  const char *cfg = "{\"vocab_size\": 800, \"dim\": 32, \"n_layers\": 2, \"n_heads\": 4, "
                    "\"hidden_dim\": 128, \"max_position_embeddings\": 64}";
  spit(dir, "config.json", cfg, strlen(cfg));
  write_weights(dir, "", NULL, NULL);
  expect_load_error(dir, CLAP_ERR_FORMAT, "tensor transformer.layer.0.ffn.lin1.weight: shape [64,32], expected [128,32]");
}

typedef struct job {
  const distilbert *m;
  int bad;
} job;

static void *encode_many(void *arg) {
  job *j = arg;
  for (int rep = 0; rep < 5; rep++)
    for (int i = 0; i < n_refs; i++) {
      float cls[32];
      clap_error err;
      if (distilbert_encode(j->m, refs[i].text, -1, cls, &err) != CLAP_OK ||
          max_abs_diff(cls, refs[i].cls, 32) > 1e-4)
        j->bad++;
    }
  return NULL;
}

static void test_threads(void) {
  distilbert *m = NULL;
  clap_error err = {0};
  CHECK_INT(distilbert_load(FIX, &m, &err), CLAP_OK);
  if (!m) return;
  pthread_t th[4];
  job jobs[4] = {{m, 0}, {m, 0}, {m, 0}, {m, 0}};
  for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, encode_many, &jobs[i]);
  for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < 4; i++) CHECK_INT(jobs[i].bad, 0);
  distilbert_free(m);
}

int main(void) {
  snprintf(tmpdir, sizeof tmpdir, "%s/clap-test-db.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(tmpdir)) return 1;
  load_refs();
  RUN(test_reference);
  RUN(test_bf16_precision);
  RUN(test_prefixed_keys);
  RUN(test_encoder_registry);
  RUN(test_forward_ids_range);
  RUN(test_bad_checkpoints);
  RUN(test_threads);
  for (int i = 0; i < n_refs; i++) {
    free(refs[i].text);
    free(refs[i].ids);
    free(refs[i].hidden);
    free(refs[i].cls);
  }
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
  return harness_report();
}
