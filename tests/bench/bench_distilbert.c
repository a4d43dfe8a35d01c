/* DistilBERT-base shapes (vocab 32000, dim 768, 6 layers, 12 heads, hidden
** 3072, 512 positions) with random weights: sentences/s on 32-token
** sentences (or TOKENS), one sentence per call, through distilbert_forward_ids.
**   bench_distilbert [threads [sentences [f32|bf16|auto [TOKENS]]]]
** Prints key=value lines for bench_distilbert.sh (cpu_seconds: process CPU
** time of the best run, the figure to compare at one thread on a busy
** machine; gemm_kernel: the small-row kernel nn_linear uses here). The checkpoint (~270 MB)
** is written to a temporary directory and removed afterwards. */
#include "dense.h"
#include "distilbert.h"
#include "gemm.h"
#include "nn.h"
#include "safetensors.h"

#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define V 32000
#define D 768
#define L 6
#define H 3072
#define P 512
#define T_DEFAULT 32

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float frand(void) { /* uniform in [-0.05, 0.05): keeps GELU/softmax in a normal range */
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return ((float)(rng >> 40) / (float)(1 << 24) - 0.5f) * 0.1f;
}

static float *randv(size_t n, float base) {
  float *v = malloc(n * sizeof *v);
  for (size_t i = 0; v && i < n; i++) v[i] = base + frand();
  return v;
}

static double clock_s(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}
static double now(void) { return clock_s(CLOCK_MONOTONIC); }

static int copy_file(const char *src, const char *dst) {
  FILE *a = fopen(src, "rb"), *b = fopen(dst, "wb");
  char buf[65536];
  size_t n;
  int ok = a && b;
  while (ok && (n = fread(buf, 1, sizeof buf, a)) > 0) ok = fwrite(buf, 1, n, b) == n;
  if (a) fclose(a);
  if (b) fclose(b);
  return ok ? 0 : -1;
}

static int write_checkpoint(const char *dir) {
  enum { PER_LAYER = 16 };
  st_write_tensor t[4 + L * PER_LAYER];
  char names[4 + L * PER_LAYER][96];
  int k = 0;
#define ADD(nm, base, d0, d1)                                                       \
  do {                                                                              \
    snprintf(names[k], sizeof names[k], "%s", nm);                                  \
    t[k] = (st_write_tensor){names[k], "F32", (d1) ? 2 : 1, {(d0), (d1)}, NULL};     \
    t[k].data = randv((size_t)(d0) * ((d1) ? (d1) : 1), base);                      \
    if (!t[k].data) return -1;                                                      \
    k++;                                                                            \
  } while (0)
  ADD("embeddings.word_embeddings.weight", 0, V, D);
  ADD("embeddings.position_embeddings.weight", 0, P, D);
  ADD("embeddings.LayerNorm.weight", 1, D, 0);
  ADD("embeddings.LayerNorm.bias", 0, D, 0);
  static const char *lin[] = {"attention.q_lin", "attention.k_lin", "attention.v_lin",
                              "attention.out_lin"};
  for (int l = 0; l < L; l++) {
    char nm[96];
    for (int j = 0; j < 4; j++) {
      snprintf(nm, sizeof nm, "transformer.layer.%d.%s.weight", l, lin[j]);
      ADD(nm, 0, D, D);
      snprintf(nm, sizeof nm, "transformer.layer.%d.%s.bias", l, lin[j]);
      ADD(nm, 0, D, 0);
    }
    static const char *ln[] = {"sa_layer_norm", "output_layer_norm"};
    for (int j = 0; j < 2; j++) {
      snprintf(nm, sizeof nm, "transformer.layer.%d.%s.weight", l, ln[j]);
      ADD(nm, 1, D, 0);
      snprintf(nm, sizeof nm, "transformer.layer.%d.%s.bias", l, ln[j]);
      ADD(nm, 0, D, 0);
    }
    snprintf(nm, sizeof nm, "transformer.layer.%d.ffn.lin1.weight", l);
    ADD(nm, 0, H, D);
    snprintf(nm, sizeof nm, "transformer.layer.%d.ffn.lin1.bias", l);
    ADD(nm, 0, H, 0);
    snprintf(nm, sizeof nm, "transformer.layer.%d.ffn.lin2.weight", l);
    ADD(nm, 0, D, H);
    snprintf(nm, sizeof nm, "transformer.layer.%d.ffn.lin2.bias", l);
    ADD(nm, 0, D, 0);
  }
  char path[512];
  snprintf(path, sizeof path, "%s/model.safetensors", dir);
  clap_error err;
  int rc = st_write_file(path, t, k, &err) == CLAP_OK ? 0 : -1;
  if (rc) fprintf(stderr, "bench_distilbert: %s\n", err.msg);
  for (int i = 0; i < k; i++) free((void *)t[i].data);
  snprintf(path, sizeof path, "%s/config.json", dir);
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  fprintf(f, "{\"vocab_size\": %d, \"dim\": %d, \"n_layers\": %d, \"n_heads\": 12, "
             "\"hidden_dim\": %d, \"max_position_embeddings\": %d, \"activation\": \"gelu\"}\n",
          V, D, L, H, P);
  fclose(f);
  snprintf(path, sizeof path, "%s/spiece.model", dir);
  const char *root = getenv("CLAP_ROOT") ? getenv("CLAP_ROOT") : ".";
  char src[512];
  snprintf(src, sizeof src, "%s/tests/fixtures/distilbert/spiece.model", root);
  return rc || copy_file(src, path);
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 1;
  int sentences = argc > 2 ? atoi(argv[2]) : 50;
  int T = argc > 4 ? atoi(argv[4]) : T_DEFAULT;
  if (T < 1 || T > P) {
    fprintf(stderr, "bench_distilbert: TOKENS must be 1..%d, got '%s'\n", P, argv[4]);
    return 2;
  }
  nn_precision prec = NN_F32;
  clap_error perr;
  if (argc > 3 && nn_precision_parse(argv[3], &prec, &perr) != CLAP_OK) {
    fprintf(stderr, "bench_distilbert: %s\n", perr.msg);
    return 2;
  }
  char dir[] = "/tmp/clap-bench-distilbert.XXXXXX";
  if (!mkdtemp(dir)) return 1;
  int rc = write_checkpoint(dir);
  distilbert *m = NULL;
  clap_error err;
  double t0 = now();
  if (!rc && distilbert_load(dir, &m, &err) != CLAP_OK) {
    fprintf(stderr, "bench_distilbert: %s\n", err.msg);
    rc = 1;
  }
  if (!rc && distilbert_set_precision(m, prec, &err) != CLAP_OK) {
    fprintf(stderr, "bench_distilbert: %s\n", err.msg);
    rc = 1;
  }
  double load_s = now() - t0;
  if (!rc) {
    nn_set_threads(threads);
    int ids[P];
    float *h = malloc((size_t)T * D * sizeof *h);
    for (int w = 0; w < 3; w++) { /* warm-up: page in the weights, start the pool */
      for (int i = 0; i < T; i++) ids[i] = (int)((rng = rng * 6364136223846793005ull + 1) >> 33) % V;
      distilbert_forward_ids(m, ids, T, h, &err);
    }
    double best = 1e30, best_cpu = 1e30;
    for (int rep = 0; rep < 3; rep++) {
      double s = now(), c = clock_s(CLOCK_PROCESS_CPUTIME_ID);
      for (int n = 0; n < sentences; n++) {
        for (int i = 0; i < T; i++) ids[i] = (int)((rng = rng * 6364136223846793005ull + 1) >> 33) % V;
        if (distilbert_forward_ids(m, ids, T, h, &err) != CLAP_OK) {
          fprintf(stderr, "bench_distilbert: %s\n", err.msg);
          return 1;
        }
      }
      double dt = now() - s, dc = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c;
      if (dt < best) best = dt;
      if (dc < best_cpu) best_cpu = dc;
    }
    printf("threads=%d\nsentences=%d\ntokens=%d\nload_seconds=%.3f\nseconds=%.4f\nsentences_per_second=%.2f\n"
           "cpu_seconds=%.4f\ngemm_kernel=%s\nblas_core=%s\nprecision=%s\ndnnl_isa=%s\n",
           nn_get_threads(), sentences, T, load_s, best, sentences / best, best_cpu,
           gemm_kernel_name(gemm_kernel_auto()),
           openblas_get_corename(), nn_precision_name(prec), nn_dense_isa());
    free(h);
  }
  distilbert_free(m);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "bench_distilbert: could not remove %s\n", dir);
  return rc;
}
