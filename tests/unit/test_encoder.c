#include "harness.h"
#include "acoustic.h"
#include "encoder.h"
#include "ngram.h"

#include <pthread.h>

static void test_find_kind(void) {
  const encoder_ops *a = encoder_find_kind("acoustic"), *t = encoder_find_kind("ngram");
  CHECK(a == &acoustic_encoder_ops);
  CHECK(t == &ngram_encoder_ops);
  CHECK_INT(a->modality, ENCODER_AUDIO);
  CHECK_INT(t->modality, ENCODER_TEXT);
  CHECK(encoder_find_kind("nope") == NULL);
  CHECK(encoder_find_kind(NULL) == NULL);
  CHECK(encoder_find_kind("Acoustic") == NULL); /* kinds are exact names */
}

static void test_create_and_accessors(void) {
  encoder *e = NULL;
  clap_error err;
  CHECK_INT(encoder_create("prosody", "acoustic", NULL, &e, &err), CLAP_OK);
  CHECK(strcmp(encoder_name(e), "prosody") == 0);
  CHECK(strcmp(encoder_kind(e), "acoustic") == 0);
  CHECK_INT(encoder_modality_of(e), ENCODER_AUDIO);
  CHECK_INT(encoder_dim(e), ACOUSTIC_DIM);
  CHECK_INT(encoder_precision(e), NN_F32);
  CHECK_INT(encoder_set_precision(e, NN_F32, &err), CLAP_OK);
  CHECK_INT(encoder_set_precision(e, NN_BF16, &err), CLAP_ERR_UNSUPPORTED);
  CHECK_CONTAINS(err.msg, "encoder 'prosody' has no bf16 mode");
  CHECK_INT(encoder_precision(e), NN_F32);
  encoder_free(e);
  CHECK_INT(encoder_create(NULL, "ngram", "", &e, &err), CLAP_OK);
  CHECK(strcmp(encoder_name(e), "ngram") == 0); /* no name: named after its kind */
  CHECK_INT(encoder_dim(e), NGRAM_DIM);
  CHECK_INT(encoder_modality_of(e), ENCODER_TEXT);
  encoder_free(e);
  encoder_free(NULL);
}

static void test_unknown_kind(void) {
  encoder *e = (encoder *)&e;
  clap_error err;
  CHECK_INT(encoder_create("x", "wav2vec", NULL, &e, &err), CLAP_ERR_NOTFOUND);
  CHECK(e == NULL);
  CHECK_CONTAINS(err.msg, "unknown encoder kind 'wav2vec'");
  CHECK_CONTAINS(err.msg, "known: acoustic, ngram");
  CHECK_INT(encoder_create("x", "", NULL, &e, &err), CLAP_ERR_ARG);
  CHECK_CONTAINS(err.msg, "kind is empty");
  CHECK_INT(encoder_create("x", NULL, NULL, &e, &err), CLAP_ERR_ARG);
  CHECK_INT(encoder_create("x", "ngram", NULL, NULL, &err), CLAP_ERR_ARG);
}

static void test_builtin(void) {
  clap_error err;
  encoder *a = encoder_builtin("acoustic", &err), *t = encoder_builtin("ngram", &err);
  CHECK(a != NULL);
  CHECK(t != NULL);
  CHECK(encoder_builtin("acoustic", &err) == a); /* one per process */
  CHECK(strcmp(encoder_name(a), "acoustic") == 0);
  CHECK(encoder_builtin("hubert", &err) == NULL);
  CHECK_INT(err.code, CLAP_ERR_NOTFOUND);
  CHECK_CONTAINS(err.msg, "'hubert' is not a built-in encoder");
  CHECK(encoder_builtin(NULL, &err) == NULL);
}

static void test_modality_errors(void) {
  clap_error err;
  encoder *a = encoder_builtin("acoustic", NULL), *t = encoder_builtin("ngram", NULL);
  float pcm[400] = {0}, out[NGRAM_DIM];
  CHECK_INT(encoder_encode_audio(t, pcm, 400, out, &err), CLAP_ERR_ARG);
  CHECK_CONTAINS(err.msg, "encoder 'ngram' encodes text, not audio");
  CHECK_INT(encoder_encode_text(a, "hello", -1, out, &err), CLAP_ERR_ARG);
  CHECK_CONTAINS(err.msg, "encoder 'acoustic' encodes audio, not text");
  CHECK_INT(encoder_encode_text(NULL, "hello", -1, out, &err), CLAP_ERR_ARG);
  CHECK_CONTAINS(err.msg, "encoder is NULL");
  CHECK_INT(encoder_encode_text(t, NULL, -1, out, &err), CLAP_ERR_ARG);
  CHECK_CONTAINS(err.msg, "input is NULL");
  CHECK_INT(encoder_encode_audio(a, pcm, 400, NULL, &err), CLAP_ERR_ARG);
  CHECK_CONTAINS(err.msg, "output is NULL");
  CHECK_INT(encoder_encode_audio(a, pcm, 400, out, &err), CLAP_OK);
}

/* Many threads race to the first encoder_builtin call: all get the same one. */
static void *get_builtin(void *arg) {
  *(encoder **)arg = encoder_builtin("ngram", NULL);
  return NULL;
}

static void test_builtin_threads(void) {
  pthread_t th[8];
  encoder *got[8];
  for (int i = 0; i < 8; i++) pthread_create(&th[i], NULL, get_builtin, &got[i]);
  for (int i = 0; i < 8; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < 8; i++) CHECK(got[i] != NULL && got[i] == got[0]);
}

int main(void) {
  RUN(test_builtin_threads); /* first, so the race is on the very first creation */
  RUN(test_find_kind);
  RUN(test_create_and_accessors);
  RUN(test_unknown_kind);
  RUN(test_builtin);
  RUN(test_modality_errors);
  return harness_report();
}
