/* Unit tests for ext/model/prompt.c: the ensemble embedding against a mean
** computed by hand on a tiny model, and both parsers on every bad input. */
#include <stdlib.h>
#include <string.h>

#include "encoder.h"
#include "harness.h"
#include "model.h"
#include "prompt.h"

static const encoder *ngram(void) { return encoder_builtin("ngram", NULL); }

static clap_model *tiny(model_head_kind head, uint64_t seed) {
  model_config c = {.audio_encoder = "acoustic", .text_encoder = "ngram", .audio_in = 3,
                    .text_in = encoder_dim(ngram()), .dim = 4, .head = head,
                    .hidden = head == MODEL_HEAD_MLP ? 5 : 0};
  clap_model *m = NULL;
  clap_error e;
  CHECK_INT(model_create(&c, seed, &m, &e), CLAP_OK);
  return m;
}

/* One sentence's unit embedding, the long way: encoder, then model_embed. */
static void by_hand(const clap_model *m, const char *text, float *out) {
  int in = encoder_dim(ngram());
  float *x = malloc(sizeof(float) * (size_t)in);
  clap_error e;
  CHECK_INT(encoder_encode_text(ngram(), text, -1, x, &e), CLAP_OK);
  CHECK_INT(model_embed(m, MODEL_TEXT, x, 1, out, &e), CLAP_OK);
  free(x);
}

static void test_mean_of_three_by_hand(void) {
  for (int head = 0; head < 2; head++) {
    clap_model *m = tiny(head, 7);
    const char *texts[] = {"私は欲しいです", "買いたいです", "いいですね"};
    float e[3][4], got[4];
    double sum[4] = {0}, norm = 0;
    for (int j = 0; j < 3; j++) {
      by_hand(m, texts[j], e[j]);
      for (int d = 0; d < 4; d++) sum[d] += e[j][d];
    }
    for (int d = 0; d < 4; d++) norm += sum[d] * sum[d];
    norm = sqrt(norm);
    clap_error err;
    CHECK_INT(prompt_embed(m, ngram(), texts, NULL, 3, got, &err), CLAP_OK);
    for (int d = 0; d < 4; d++) CHECK_NEAR(got[d], sum[d] / norm, 1e-6);
    /* The mean is not any one of the sentences. */
    CHECK(fabs(got[0] - e[0][0]) + fabs(got[1] - e[0][1]) > 1e-4);
    model_free(m);
  }
}

static void test_one_sentence_is_bitwise_its_embedding(void) {
  clap_model *m = tiny(MODEL_HEAD_LINEAR, 3);
  const char *t[] = {"欲しくないです"};
  int len[] = {(int)strlen(t[0])};
  float want[4], got[4];
  by_hand(m, t[0], want);
  clap_error err;
  CHECK_INT(prompt_embed(m, ngram(), t, len, 1, got, &err), CLAP_OK);
  CHECK(memcmp(want, got, sizeof got) == 0);
  model_free(m);
}

/* Two sentences whose embeddings are opposite have no mean direction: text
** weights all zero but w1[0][fa] = 1/x_a[fa] and w1[0][fi] = -1/x_i[fi],
** with fa a feature only "あ" has and fi one only "い" has, so "あ" embeds
** to +e0 and "い" to -e0. */
static void test_cancelling_sentences(void) {
  clap_model *m = tiny(MODEL_HEAD_LINEAR, 3);
  int r, c, in = encoder_dim(ngram());
  float *w = model_tensor(m, "text.w1", &r, &c);
  CHECK(r == 4 && c == in);
  memset(w, 0, sizeof(float) * 4 * (size_t)in);
  float *xa = malloc(sizeof(float) * (size_t)in), *xi = malloc(sizeof(float) * (size_t)in);
  clap_error err;
  CHECK_INT(encoder_encode_text(ngram(), "あ", -1, xa, &err), CLAP_OK);
  CHECK_INT(encoder_encode_text(ngram(), "い", -1, xi, &err), CLAP_OK);
  int fa = -1, fi = -1;
  for (int i = 0; i < in; i++) {
    if (fa < 0 && xa[i] != 0 && xi[i] == 0) fa = i;
    if (fi < 0 && xi[i] != 0 && xa[i] == 0) fi = i;
  }
  CHECK(fa >= 0 && fi >= 0);
  if (fa >= 0 && fi >= 0) {
    w[fa] = 1.0f / xa[fa];
    w[fi] = -1.0f / xi[fi];
    const char *t[] = {"あ", "い"}, *same[] = {"あ", "あ"};
    float got[4];
    CHECK_INT(prompt_embed(m, ngram(), same, NULL, 2, got, &err), CLAP_OK);
    CHECK_NEAR(got[0], 1, 1e-6);
    CHECK_INT(prompt_embed(m, ngram(), t, NULL, 2, got, &err), CLAP_ERR_RANGE);
    CHECK_CONTAINS(err.msg, "the embeddings of the 2 sentences cancel out");
  }
  free(xa);
  free(xi);
  model_free(m);
}

static void test_encoder_checks(void) {
  clap_model *m = tiny(MODEL_HEAD_LINEAR, 1);
  const char *t[] = {"あ", ""};
  float out[4];
  clap_error err;
  CHECK_INT(prompt_embed(m, encoder_builtin("acoustic", NULL), t, NULL, 1, out, &err),
            CLAP_ERR_ARG);
  CHECK_CONTAINS(err.msg, "encoder 'acoustic' encodes audio, not text");
  CHECK_INT(prompt_embed(m, ngram(), t, NULL, 0, out, &err), CLAP_ERR_ARG);
  /* The second of two sentences fails: the message names it. */
  CHECK(prompt_embed(m, ngram(), t, NULL, 2, out, &err) != CLAP_OK);
  CHECK_CONTAINS(err.msg, "sentence 1: ");
  model_free(m);
}

static prompt_set *parse(int classes_form, const char *s, clap_error *err) {
  prompt_set *p = NULL;
  clap_status rc = classes_form ? prompt_parse_classes(s, strlen(s), &p, err)
                                : prompt_parse_class(s, strlen(s), &p, err);
  CHECK((rc == CLAP_OK) == (p != NULL));
  return p;
}

static void test_parse_class(void) {
  clap_error err;
  prompt_set *p = parse(0, "欲しいです", &err);
  CHECK(p && prompt_set_count(p) == 1 && prompt_set_size(p, 0) == 1);
  if (p) CHECK(!strcmp(prompt_set_texts(p, 0)[0], "欲しいです"));
  prompt_set_free(p);
  p = parse(0, "  [\"a\", \"b c\"] \n", &err);
  CHECK(p && prompt_set_count(p) == 1 && prompt_set_size(p, 0) == 2);
  if (p) CHECK(!strcmp(prompt_set_texts(p, 0)[1], "b c"));
  prompt_set_free(p);
  /* A sentence starting with '[' is written as a one-element array. */
  p = parse(0, "[\"[笑] 欲しい\"]", &err);
  CHECK(p && !strcmp(prompt_set_texts(p, 0)[0], "[笑] 欲しい"));
  prompt_set_free(p);
  /* prompt_parse_sentence takes the text as it is. */
  CHECK_INT(prompt_parse_sentence("[x", 2, &p, &err), CLAP_OK);
  CHECK(p && !strcmp(prompt_set_texts(p, 0)[0], "[x"));
  prompt_set_free(p);
  /* A NUL inside the text is refused, never cut there (found by fuzz_prompts). */
  CHECK_INT(prompt_parse_class("ab\0cd", 5, &p, &err), CLAP_ERR_ARG);
  CHECK(p == NULL);
  CHECK_CONTAINS(err.msg, "the text has a NUL byte at byte 2");
}

static void test_parse_class_errors(void) {
  static const struct {
    const char *in, *msg;
  } bad[] = {
      {"[]", "an empty array: expected at least one sentence"},
      {"[1]", "element 0 is a number; expected a sentence (a string)"},
      {"[\"a\", [\"b\"]]", "element 1 is an array; ensembles do not nest"},
      {"[\"a\", \"\"]", "element 1 is an empty string"},
      {"[\"a\", null]", "element 1 is null; expected a sentence (a string)"},
      {"[\"a\", {}]", "element 1 is an object; expected a sentence (a string)"},
      {"[\"a\",]", "not valid JSON (at byte"},
      {"[\"a\"", "not valid JSON (at byte"},
      {"[\"a\"] x", "not valid JSON: text after the array at byte 6 of 7"},
      {"", "empty text"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    clap_error err = {0};
    prompt_set *p = parse(0, bad[i].in, &err);
    CHECK(p == NULL);
    CHECK_CONTAINS(err.msg, bad[i].msg);
    prompt_set_free(p);
  }
}

static void test_parse_classes(void) {
  clap_error err;
  prompt_set *p = parse(1, "[\"no\", [\"yes\", \"sure\"], [\"maybe\"]]", &err);
  CHECK(p && prompt_set_count(p) == 3);
  if (p) {
    CHECK_INT(prompt_set_size(p, 0), 1);
    CHECK_INT(prompt_set_size(p, 1), 2);
    CHECK_INT(prompt_set_size(p, 2), 1);
    CHECK(!strcmp(prompt_set_texts(p, 1)[1], "sure"));
    CHECK(!strcmp(prompt_set_texts(p, 2)[0], "maybe"));
    CHECK(prompt_set_texts(p, 3) == NULL);
  }
  prompt_set_free(p);
}

static void test_parse_classes_errors(void) {
  static const struct {
    const char *in, *msg;
  } bad[] = {
      {"[]", "an empty array: expected at least one class"},
      {"{\"a\": 1}", "expected a JSON array of classes (sentences or arrays of sentences), got an object"},
      {"\"a\"", "got a string"},
      {"[\"a\", 3]",
       "element 1 is a number; expected a sentence (a string) or an array of sentences"},
      {"[\"a\", true]", "element 1 is a boolean"},
      {"[\"a\", []]", "element 1 is an empty array"},
      {"[\"a\", \"\"]", "element 1 is an empty string"},
      {"[\"a\", [\"b\", 2]]", "element 1[1] is a number; expected a sentence (a string)"},
      {"[\"a\", [\"b\", [\"c\"]]]", "element 1[1] is an array; ensembles do not nest"},
      {"[[\"b\", \"\"]]", "element 0[1] is an empty string"},
      {"not json", "not valid JSON (at byte 0 of 8)"},
      {"[\"a\", ", "not valid JSON (at byte"},
      {"[\"a\"] []", "not valid JSON: text after the array at byte 6 of 8"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    clap_error err = {0};
    prompt_set *p = parse(1, bad[i].in, &err);
    CHECK(p == NULL);
    CHECK_CONTAINS(err.msg, bad[i].msg);
    prompt_set_free(p);
  }
}

/* prompt_set_embed: each row the ensemble of its class; errors name the element. */
static void test_set_embed(void) {
  clap_model *m = tiny(MODEL_HEAD_LINEAR, 5);
  clap_error err;
  prompt_set *p = parse(1, "[\"no\", [\"yes\", \"sure\"]]", &err);
  float out[8], want[4];
  CHECK_INT(prompt_set_embed(p, m, ngram(), out, &err), CLAP_OK);
  by_hand(m, "no", want);
  CHECK(memcmp(out, want, sizeof want) == 0);
  const char *yes[] = {"yes", "sure"};
  CHECK_INT(prompt_embed(m, ngram(), yes, NULL, 2, want, &err), CLAP_OK);
  CHECK(memcmp(out + 4, want, sizeof want) == 0);
  prompt_set_free(p);
  /* An encoder error inside an ensemble names element and sentence. */
  p = parse(1, "[\"no\", [\"yes\", \"sure\"]]", &err);
  CHECK_INT(prompt_set_embed(p, m, encoder_builtin("acoustic", NULL), out, &err), CLAP_ERR_ARG);
  CHECK_CONTAINS(err.msg, "element 0: encoder 'acoustic' encodes audio");
  prompt_set_free(p);
  model_free(m);
}

/* prompt_set_embed_features from the encoder's rows is bitwise
** prompt_set_embed; rows of another width are refused. */
static void test_set_embed_features(void) {
  clap_model *m = tiny(MODEL_HEAD_MLP, 9);
  clap_error err;
  prompt_set *p = parse(1, "[\"no\", [\"yes\", \"sure\", \"ok\"]]", &err);
  CHECK_INT(prompt_set_sentences(p), 4);
  int in = encoder_dim(ngram());
  const char *all[] = {"no", "yes", "sure", "ok"};
  float *x = malloc(sizeof(float) * 4 * (size_t)in), a[8], b[8];
  for (int i = 0; i < 4; i++) CHECK_INT(encoder_encode_text(ngram(), all[i], -1, x + (size_t)i * in, &err), CLAP_OK);
  CHECK_INT(prompt_set_embed(p, m, ngram(), a, &err), CLAP_OK);
  CHECK_INT(prompt_set_embed_features(p, m, x, in, b, &err), CLAP_OK);
  CHECK(memcmp(a, b, sizeof a) == 0);
  CHECK_INT(prompt_set_embed_features(p, m, x, in - 1, b, &err), CLAP_ERR_RANGE);
  CHECK_CONTAINS(err.msg, "expects 1024 text features, not 1023");
  free(x);
  prompt_set_free(p);
  model_free(m);
}

int main(void) {
  RUN(test_set_embed_features);
  RUN(test_mean_of_three_by_hand);
  RUN(test_one_sentence_is_bitwise_its_embedding);
  RUN(test_cancelling_sentences);
  RUN(test_encoder_checks);
  RUN(test_parse_class);
  RUN(test_parse_class_errors);
  RUN(test_parse_classes);
  RUN(test_parse_classes_errors);
  RUN(test_set_embed);
  return harness_report();
}
