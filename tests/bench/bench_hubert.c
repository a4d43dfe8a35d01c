/*
** HuBERT-base speed and memory: full-size shapes (config of
** rinna/japanese-hubert-base) with random weights, written as a real
** checkpoint directory and loaded through hubert_load, on 10 s of audio.
**
**   bench_hubert DIR THREADS [SECONDS]
** DIR is a scratch directory (config.json + model.safetensors, ~380 MB, are
** written once and reused). Prints key=value lines: encode_seconds (best of
** 3 after a warm-up call, which pays the first touch of the mapped weights
** and of the model's cached workspace), encode_cpu_seconds (process CPU
** time of the best-CPU run: the one-thread figure a busy machine does not
** inflate), gflop (of one forward), gflops, sgemm_peak_gflops (best of 3 square
** 1024 sgemms at the same thread count), load_seconds, f16_widen_seconds
** (widening as many halves as the model has weights), weights_mb, peak_rss_mb.
**
**   bench_hubert DIR THREADS S1,S2,... [f32|bf16|auto]
** A corpus: after the same warm-up on 10 s, a pass encodes one clip of each
** length (seconds) once, as embedding a corpus meets each utterance length
** for the first time; best of three passes, each one frame (20 ms) longer
** per clip than the last, so that no pass finds its lengths made already.
** Prints corpus_audio_seconds (of that pass), corpus_seconds (wall) and
** corpus_cpu_seconds.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include <cblas.h>

#include "gemm.h"
#include "dense.h"
#include "hubert.h"
#include "nn.h"
#include "safetensors.h"
#include "sha256.h"

enum { HB_H = 768, HB_L = 12, HB_I = 3072, HB_C = 512, HB_POSK = 128, HB_POSG = 16 };

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Process CPU time: the one-thread figure a busy machine does not inflate. */
static double cpu_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static uint64_t rng = 88172645463325252ull;
static float frand(float scale) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return ((float)(rng >> 40) / (float)(1 << 24) - 0.5f) * 2 * scale;
}

typedef struct tlist {
  st_write_tensor t[300];
  float *buf[300];
  int n;
} tlist;

static void add(tlist *l, const char *name, int nd, int64_t a, int64_t b, int64_t c, float scale,
                float base) {
  st_write_tensor *t = &l->t[l->n];
  int64_t count = a * (nd > 1 ? b : 1) * (nd > 2 ? c : 1);
  float *p = malloc(sizeof(float) * (size_t)count);
  for (int64_t i = 0; i < count; i++) p[i] = base + frand(scale);
  t->name = strdup(name);
  t->dtype = "F32";
  t->ndim = nd;
  t->shape[0] = a, t->shape[1] = b, t->shape[2] = c;
  t->data = p;
  l->buf[l->n++] = p;
}

static int write_checkpoint(const char *dir) {
  char path[1024];
  snprintf(path, sizeof path, "%s/model.safetensors", dir);
  struct stat sb;
  if (stat(path, &sb) == 0 && sb.st_size > 300000000) return 0;
  tlist *l = calloc(1, sizeof *l);
  static const int kern[7] = {10, 3, 3, 3, 3, 2, 2};
  char n[160];
  for (int i = 0; i < 7; i++) {
    snprintf(n, sizeof n, "feature_extractor.conv_layers.%d.conv.weight", i);
    add(l, n, 3, HB_C, i ? HB_C : 1, kern[i], 1.0f / (i ? 40 : 3), 0);
  }
  add(l, "feature_extractor.conv_layers.0.layer_norm.weight", 1, HB_C, 0, 0, 0.1f, 1);
  add(l, "feature_extractor.conv_layers.0.layer_norm.bias", 1, HB_C, 0, 0, 0.1f, 0);
  add(l, "feature_projection.layer_norm.weight", 1, HB_C, 0, 0, 0.1f, 1);
  add(l, "feature_projection.layer_norm.bias", 1, HB_C, 0, 0, 0.1f, 0);
  add(l, "feature_projection.projection.weight", 2, HB_H, HB_C, 0, 0.04f, 0);
  add(l, "feature_projection.projection.bias", 1, HB_H, 0, 0, 0.1f, 0);
  add(l, "encoder.pos_conv_embed.conv.weight_g", 3, 1, 1, HB_POSK, 0.1f, 1);
  add(l, "encoder.pos_conv_embed.conv.weight_v", 3, HB_H, HB_H / HB_POSG, HB_POSK, 0.1f, 0);
  add(l, "encoder.pos_conv_embed.conv.bias", 1, HB_H, 0, 0, 0.1f, 0);
  add(l, "encoder.layer_norm.weight", 1, HB_H, 0, 0, 0.1f, 1);
  add(l, "encoder.layer_norm.bias", 1, HB_H, 0, 0, 0.1f, 0);
  for (int j = 0; j < HB_L; j++) {
    static const char *proj[] = {"q_proj", "k_proj", "v_proj", "out_proj"};
    for (int p = 0; p < 4; p++) {
      snprintf(n, sizeof n, "encoder.layers.%d.attention.%s.weight", j, proj[p]);
      add(l, n, 2, HB_H, HB_H, 0, 0.036f, 0);
      snprintf(n, sizeof n, "encoder.layers.%d.attention.%s.bias", j, proj[p]);
      add(l, n, 1, HB_H, 0, 0, 0.1f, 0);
    }
    static const char *lns[] = {"layer_norm", "final_layer_norm"};
    for (int p = 0; p < 2; p++) {
      snprintf(n, sizeof n, "encoder.layers.%d.%s.weight", j, lns[p]);
      add(l, n, 1, HB_H, 0, 0, 0.1f, 1);
      snprintf(n, sizeof n, "encoder.layers.%d.%s.bias", j, lns[p]);
      add(l, n, 1, HB_H, 0, 0, 0.1f, 0);
    }
    snprintf(n, sizeof n, "encoder.layers.%d.feed_forward.intermediate_dense.weight", j);
    add(l, n, 2, HB_I, HB_H, 0, 0.036f, 0);
    snprintf(n, sizeof n, "encoder.layers.%d.feed_forward.intermediate_dense.bias", j);
    add(l, n, 1, HB_I, 0, 0, 0.1f, 0);
    snprintf(n, sizeof n, "encoder.layers.%d.feed_forward.output_dense.weight", j);
    add(l, n, 2, HB_H, HB_I, 0, 0.018f, 0);
    snprintf(n, sizeof n, "encoder.layers.%d.feed_forward.output_dense.bias", j);
    add(l, n, 1, HB_H, 0, 0, 0.1f, 0);
  }
  clap_error err;
  int rc = st_write_file(path, l->t, l->n, &err) != CLAP_OK;
  if (rc) fprintf(stderr, "bench_hubert: %s\n", err.msg);
  for (int i = 0; i < l->n; i++) free(l->buf[i]), free((char *)l->t[i].name);
  free(l);
  snprintf(path, sizeof path, "%s/config.json", dir);
  FILE *f = fopen(path, "w");
  fputs("{\"hidden_size\": 768, \"num_hidden_layers\": 12, \"num_attention_heads\": 12,"
        " \"intermediate_size\": 3072, \"conv_bias\": false, \"feat_extract_norm\": \"group\","
        " \"num_conv_pos_embeddings\": 128, \"num_conv_pos_embedding_groups\": 16}\n",
        f);
  fclose(f);
  return rc;
}

/* Multiply-adds x2 of one forward on n samples. */
static double forward_flop(const hubert *m, long n) {
  const hubert_config *c = hubert_get_config(m);
  double f = 0;
  long len = n;
  int cin = 1;
  for (int i = 0; i < c->n_conv; i++) {
    len = (len - c->conv_kernel[i]) / c->conv_stride[i] + 1;
    f += 2.0 * c->conv_dim[i] * cin * c->conv_kernel[i] * len;
    cin = c->conv_dim[i];
  }
  double T = (double)len, Hd = c->hidden;
  f += 2 * T * cin * Hd;
  f += 2 * T * Hd * (Hd / c->pos_groups) * c->pos_kernel;
  f += c->layers * (2 * T * Hd * Hd * 4 + 2 * 2 * T * T * Hd + 2 * 2 * T * Hd * c->intermediate);
  return f;
}

static double sgemm_peak(void) {
  int n = 1024;
  float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n),
        *c = malloc(sizeof(float) * n * n);
  for (int i = 0; i < n * n; i++) a[i] = frand(1), b[i] = frand(1);
  double best = 1e30;
  for (int r = 0; r < 4; r++) {
    double t0 = now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1, a, n, b, n, 0, c, n);
    double dt = now() - t0;
    if (r && dt < best) best = dt;
  }
  free(a), free(b), free(c);
  return 2.0 * n * n * n / best / 1e9;
}

/* oneDNN's own matmul rate at the precision, through nn_dense: the best of
** three 1024x1024x1024 products, the same thread count, this process. */
static double dense_peak(nn_precision p) {
  int n = 1024;
  float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n),
        *c = malloc(sizeof(float) * n * n);
  for (int i = 0; i < n * n; i++) a[i] = frand(1), b[i] = frand(1);
  nn_dense *d = NULL;
  clap_error err;
  double best = 1e30;
  if (nn_dense_create(b, NULL, n, n, p, &d, &err) == CLAP_OK) {
    for (int r = 0; r < 4; r++) {
      double t0 = now();
      nn_dense_run(d, a, n, c);
      double dt = now() - t0;
      if (r && dt < best) best = dt;
    }
  }
  nn_dense_free(d);
  free(a), free(b), free(c);
  return 2.0 * n * n * n / best / 1e9;
}

/* One encode per length of the comma-separated list, each `extra` seconds
** longer; *wall, *cpu: the pass's seconds. 0 on success. */
static int corpus_pass(const hubert *m, const char *list, double extra, double *audio,
                       double *wall, double *cpu) {
  float out[768];
  clap_error err;
  double t0 = now(), c0 = cpu_now();
  *audio = 0;
  for (const char *p = list; *p; p += strcspn(p, ",") + (p[strcspn(p, ",")] == ',')) {
    long len = (long)((atof(p) + extra) * 16000);
    float *x = malloc(sizeof(float) * (size_t)(len > 0 ? len : 1));
    for (long i = 0; x && i < len; i++) x[i] = 0.3f * frand(1);
    if (!x || len < 400 || hubert_encode(m, x, len, out, &err) != CLAP_OK) {
      fprintf(stderr, "bench_hubert: %.8s: %s\n", p, x && len >= 400 ? err.msg : "too short");
      free(x);
      return 1;
    }
    free(x);
    *audio += len / 16000.0;
  }
  *wall = now() - t0, *cpu = cpu_now() - c0;
  return 0;
}

/* Three passes, each 20 ms (one frame) longer per clip than the last, so
** every pass meets each of its lengths for the first time; the best pass. */
static int corpus_best(const hubert *m, const char *list) {
  double best = 1e30, best_cpu = 0, audio = 0;
  for (int pass = 0; pass < 3; pass++) {
    double a, w, c;
    if (corpus_pass(m, list, 0.02 * pass, &a, &w, &c)) return 1;
    if (w < best) best = w, best_cpu = c, audio = a;
  }
  printf("corpus_audio_seconds=%.2f\ncorpus_seconds=%.3f\ncorpus_cpu_seconds=%.3f\nprecision=%s\n",
         audio, best, best_cpu, nn_precision_name(hubert_precision(m)));
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: bench_hubert DIR THREADS [SECONDS [f32|bf16|auto]]\n");
    return 2;
  }
  int threads = atoi(argv[2]);
  const char *corpus = argc > 3 && strchr(argv[3], ',') ? argv[3] : NULL;
  double seconds = argc > 3 && !corpus ? atof(argv[3]) : 10;
  nn_precision prec = NN_F32;
  clap_error perr;
  if (argc > 4 && nn_precision_parse(argv[4], &prec, &perr) != CLAP_OK) {
    fprintf(stderr, "bench_hubert: %s\n", perr.msg);
    return 2;
  }
  nn_set_threads(threads);
  if (write_checkpoint(argv[1])) return 1;
  double t0 = now();
  hubert *m;
  clap_error err;
  if (hubert_load(argv[1], &m, &err) != CLAP_OK) {
    fprintf(stderr, "bench_hubert: %s\n", err.msg);
    return 1;
  }
  if (hubert_set_precision(m, prec, &err) != CLAP_OK) {
    fprintf(stderr, "bench_hubert: %s\n", err.msg);
    return 1;
  }
  double load = now() - t0;
  long n = (long)(seconds * 16000);
  float *x = malloc(sizeof(float) * n), out[768];
  for (long i = 0; i < n; i++) x[i] = 0.3f * frand(1);
  double best = 1e30, best_cpu = 1e30;
  if (hubert_encode(m, x, n, out, &err) != CLAP_OK) {
    fprintf(stderr, "bench_hubert: %s\n", err.msg);
    return 1;
  }
  if (corpus) return corpus_best(m, corpus);
  for (int r = 0; r < 3; r++) {
    t0 = now();
    double c0 = cpu_now();
    if (hubert_encode(m, x, n, out, &err) != CLAP_OK) {
      fprintf(stderr, "bench_hubert: %s\n", err.msg);
      return 1;
    }
    double dt = now() - t0, dc = cpu_now() - c0;
    if (dt < best) best = dt;
    if (dc < best_cpu) best_cpu = dc;
  }
  /* the encoder's peak, before this program's own buffers below */
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double gflop = forward_flop(m, n) / 1e9;
  /* Widening cost if the file were F16: as many halves as weights. */
  size_t nweights = 94371712;
  uint16_t *hbuf = malloc(2 * (1 << 20));
  float *fbuf = malloc(4 * (1 << 20));
  for (int i = 0; i < (1 << 20); i++) hbuf[i] = (uint16_t)(0x3000 + (i & 0x0fff));
  t0 = now();
  volatile float sink = 0;
  for (size_t done = 0; done < nweights; done += 1 << 20) {
    for (int i = 0; i < (1 << 20); i++) fbuf[i] = st_f16_to_f32(hbuf[i]);
    sink += fbuf[done % 1000];
  }
  double widen = now() - t0;
  struct stat sb;
  char path[1024];
  snprintf(path, sizeof path, "%s/model.safetensors", argv[1]);
  stat(path, &sb);
  /* the pooled vector's bits, so runs at other thread counts can be compared */
  sha256_ctx hc;
  char digest[SHA256_HEX_SIZE];
  sha256_init(&hc);
  sha256_update(&hc, out, sizeof out);
  sha256_final_hex(&hc, digest);
  printf("out_sha256=%.16s\n", digest);
  printf("threads=%d\nseconds_audio=%.1f\nframes=%ld\nencode_seconds=%.3f\n"
         "encode_cpu_seconds=%.3f\ngflop=%.2f\n"
         "gflops=%.1f\nsgemm_peak_gflops=%.1f\nload_seconds=%.3f\nf16_widen_seconds=%.3f\n"
         "weights_mb=%.0f\npeak_rss_mb=%.0f\nblas_core=%s\ngemm_kernel=%s\n"
         "precision=%s\ndnnl_isa=%s\ndense_peak_gflops=%.1f\n",
         nn_get_threads(), seconds, hubert_frames(m, n), best, best_cpu, gflop, gflop / best, sgemm_peak(),
         load, widen, sb.st_size / 1048576.0, ru.ru_maxrss / 1024.0, openblas_get_corename(),
         gemm_kernel_name(gemm_kernel_auto()), nn_precision_name(prec), nn_dense_isa(),
         dense_peak(prec));
  free(x), free(hbuf), free(fbuf);
  hubert_free(m);
  return 0;
}
