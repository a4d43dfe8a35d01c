/* tokenizer: ids identical to the Python reference (AlbertTokenizer's
** preprocessing + python sentencepiece, tests/fixtures/make_distilbert.py) on
** every sentence of tests/fixtures/distilbert/tokenizer_ids.jsonl, for both
** keep_accents settings; truncation; every error path the header names. */
#include "harness.h"

#include "spm_wrap.h"
#include "tokenizer.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#define FIX "tests/fixtures/distilbert/"
#define SPIECE FIX "spiece.model"
#define CONFIG FIX "tokenizer_config.json"

static char tmpdir[256];

static void make_tmpdir(void) {
  snprintf(tmpdir, sizeof tmpdir, "%s/clap-test-tok.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(tmpdir)) tmpdir[0] = 0;
}

/* Write `text` to tmpdir/name; returns the path (static buffer per call site). */
static const char *write_tmp(const char *name, const void *text, size_t n, char *path, size_t cap) {
  snprintf(path, cap, "%s/%s", tmpdir, name);
  FILE *f = fopen(path, "wb");
  if (!f) return path;
  fwrite(text, 1, n, f);
  fclose(f);
  return path;
}

typedef struct ref_line {
  char *text;
  int *ids, n;
  int *ids_keep, n_keep;
} ref_line;

static ref_line *refs;
static int n_refs;

static int *json_ints(const cJSON *a, int *n) {
  *n = cJSON_GetArraySize(a);
  int *v = malloc((size_t)(*n + 1) * sizeof *v);
  for (int i = 0; i < *n; i++) v[i] = cJSON_GetArrayItem(a, i)->valueint;
  return v;
}

static void load_refs(void) {
  FILE *f = fopen(FIX "tokenizer_ids.jsonl", "rb");
  if (!f) return;
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  while ((len = getline(&line, &cap, f)) > 0) {
    cJSON *j = cJSON_Parse(line);
    if (!j) continue;
    refs = realloc(refs, (size_t)(n_refs + 1) * sizeof *refs);
    ref_line *r = &refs[n_refs++];
    r->text = strdup(cJSON_GetObjectItem(j, "text")->valuestring);
    r->ids = json_ints(cJSON_GetObjectItem(j, "ids"), &r->n);
    r->ids_keep = json_ints(cJSON_GetObjectItem(j, "ids_keep_accents"), &r->n_keep);
    cJSON_Delete(j);
  }
  free(line);
  fclose(f);
}

static int same_ids(const int *a, int na, const int *b, int nb) {
  return na == nb && memcmp(a, b, (size_t)na * sizeof *a) == 0;
}

static void print_mismatch(const char *what, const ref_line *r, const int *got, int n) {
  fprintf(stderr, "  %s mismatch on \"%s\": got", what, r->text);
  for (int i = 0; i < n; i++) fprintf(stderr, " %d", got[i]);
  fprintf(stderr, "\n");
}

static int compare_all(tokenizer *t, int keep) {
  int bad = 0, ids[600], n;
  for (int i = 0; i < n_refs; i++) {
    clap_error err = {0};
    const ref_line *r = &refs[i];
    if (tokenizer_encode(t, r->text, -1, ids, 600, &n, &err) != CLAP_OK) {
      fprintf(stderr, "  encode failed on \"%s\": %s\n", r->text, err.msg);
      bad++;
      continue;
    }
    int ok = keep ? same_ids(ids, n, r->ids_keep, r->n_keep) : same_ids(ids, n, r->ids, r->n);
    if (!ok && bad++ < 5) print_mismatch(keep ? "keep_accents" : "default", r, ids, n);
  }
  return bad;
}

static void test_reference_ids_default(void) {
  CHECK(n_refs >= 1000);
  tokenizer *t = NULL;
  clap_error err = {0};
  CHECK_INT(tokenizer_create(SPIECE, CONFIG, &t, &err), CLAP_OK);
  if (!t) return;
  CHECK_INT(compare_all(t, 0), 0);
  tokenizer_free(t);
}

static void test_reference_ids_keep_accents(void) {
  char path[512];
  const char *cfg = "{\"keep_accents\": true, \"do_lower_case\": true}";
  write_tmp("keep.json", cfg, strlen(cfg), path, sizeof path);
  tokenizer *t = NULL;
  clap_error err = {0};
  CHECK_INT(tokenizer_create(SPIECE, path, &t, &err), CLAP_OK);
  if (!t) return;
  CHECK_INT(compare_all(t, 1), 0);
  tokenizer_free(t);
}

static void test_special_ids_and_defaults(void) {
  tokenizer *t = NULL;
  clap_error err = {0};
  CHECK_INT(tokenizer_create(SPIECE, NULL, &t, &err), CLAP_OK);
  if (!t) return;
  CHECK_INT(tokenizer_cls_id(t), 3); /* [CLS] [SEP] [MASK] follow <unk> <s> </s> */
  CHECK_INT(tokenizer_sep_id(t), 4);
  CHECK_INT(tokenizer_max_length(t), 512);
  CHECK_INT(tokenizer_vocab_size(t), 800);
  int ids[8], n = -1;
  CHECK_INT(tokenizer_encode(t, "", 0, ids, 8, &n, &err), CLAP_OK);
  CHECK_INT(n, 2);
  CHECK_INT(ids[0], 3);
  CHECK_INT(ids[1], 4);
  tokenizer_free(t);
}

static void check_pre(tokenizer *t, const char *in, const char *want) {
  char *out = NULL;
  size_t n = 0;
  clap_error err = {0};
  CHECK_INT(tokenizer_preprocess(t, in, -1, &out, &n, &err), CLAP_OK);
  if (!out) return;
  if (strcmp(out, want) != 0) {
    harness_current_failed++;
    fprintf(stderr, "  preprocess(\"%s\") = \"%s\", want \"%s\"\n", in, out, want);
  }
  CHECK_INT(n, strlen(want));
  free(out);
}

static void test_preprocess_steps(void) {
  char path[512];
  const char *cfg = "{\"keep_accents\": true, \"do_lower_case\": false, \"remove_space\": false}";
  write_tmp("raw.json", cfg, strlen(cfg), path, sizeof path);
  tokenizer *def = NULL, *raw = NULL;
  clap_error err = {0};
  CHECK_INT(tokenizer_create(SPIECE, CONFIG, &def, &err), CLAP_OK);
  CHECK_INT(tokenizer_create(SPIECE, path, &raw, &err), CLAP_OK);
  if (!def || !raw) return;
  check_pre(def, "  が\u3000パ  ", "か ハ");      /* strip + U+3000 + dakuten dropped */
  check_pre(def, "Café ``x'' Σ ΟΔΟΣ", "cafe \"x\" σ οδος"); /* final sigma */
  check_pre(def, "İ", "i"); /* NFKD: I + U+0307, the mark dropped */
  check_pre(def, "ｶﾞ ﬁ ①", "カ fi 1");
  check_pre(raw, "  が\u3000Café  ", "  が\u3000Café  ");
  check_pre(raw, "``a''", "\"a\"");
  const char *kcfg = "{\"keep_accents\": true}";
  write_tmp("k.json", kcfg, strlen(kcfg), path, sizeof path);
  tokenizer *keep = NULL;
  CHECK_INT(tokenizer_create(SPIECE, path, &keep, &err), CLAP_OK);
  if (keep) check_pre(keep, "İ ΟΔΟΣ.", "i\xcc\x87 οδος."); /* str.lower's full mapping */
  if (keep) check_pre(keep, "が", "が");
  tokenizer_free(keep);
  tokenizer_free(def);
  tokenizer_free(raw);
}

static void test_truncation(void) {
  char path[512];
  const char *cfg = "{\"model_max_length\": 16}";
  write_tmp("short.json", cfg, strlen(cfg), path, sizeof path);
  tokenizer *t = NULL;
  clap_error err = {0};
  CHECK_INT(tokenizer_create(SPIECE, path, &t, &err), CLAP_OK);
  if (!t) return;
  CHECK_INT(tokenizer_max_length(t), 16);
  int checked = 0, ids[600], n;
  for (int i = 0; i < n_refs; i++) {
    const ref_line *r = &refs[i];
    if (r->n <= 16) continue;
    CHECK_INT(tokenizer_encode(t, r->text, -1, ids, 600, &n, &err), CLAP_OK);
    CHECK_INT(n, 16);
    CHECK(memcmp(ids, r->ids, 15 * sizeof(int)) == 0);
    CHECK_INT(ids[15], 4);
    /* cap below max length truncates the same way */
    CHECK_INT(tokenizer_encode(t, r->text, -1, ids, 5, &n, &err), CLAP_OK);
    CHECK_INT(n, 5);
    CHECK(memcmp(ids, r->ids, 4 * sizeof(int)) == 0 && ids[4] == 4);
    checked++;
  }
  CHECK(checked > 100);
  /* VERY_LARGE_INTEGER from transformers means no limit: the default 512 */
  const char *big = "{\"model_max_length\": 1000000000000000019884624838656}";
  write_tmp("big.json", big, strlen(big), path, sizeof path);
  tokenizer_free(t);
  t = NULL;
  CHECK_INT(tokenizer_create(SPIECE, path, &t, &err), CLAP_OK);
  CHECK_INT(tokenizer_max_length(t), 512);
  tokenizer_free(t);
}

static void test_invalid_utf8(void) {
  tokenizer *t = NULL;
  clap_error err = {0};
  CHECK_INT(tokenizer_create(SPIECE, CONFIG, &t, &err), CLAP_OK);
  if (!t) return;
  int ids[16], n = 7;
  CHECK_INT(tokenizer_encode(t, "abc\xff", -1, ids, 16, &n, &err), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "not valid UTF-8 at byte 3");
  CHECK_INT(n, 0);
  CHECK_INT(tokenizer_encode(t, "\xed\xa0\x80", -1, ids, 16, &n, &err), CLAP_ERR_FORMAT); /* surrogate */
  CHECK_CONTAINS(err.msg, "at byte 0");
  CHECK_INT(tokenizer_encode(t, "\xe3\x81", -1, ids, 16, &n, &err), CLAP_ERR_FORMAT); /* truncated */
  CHECK_INT(tokenizer_encode(t, "ok", -1, ids, 1, &n, &err), CLAP_ERR_ARG);
  CHECK_CONTAINS(err.msg, "need at least 2");
  CHECK_INT(tokenizer_encode(t, NULL, -1, ids, 16, &n, &err), CLAP_ERR_ARG);
  /* embedded NUL with an explicit length is text, not an error */
  CHECK_INT(tokenizer_encode(t, "a\0b", 3, ids, 16, &n, &err), CLAP_OK);
  tokenizer_free(t);
}

static void expect_create_error(const char *spiece, const char *config, clap_status code,
                                const char *needle) {
  tokenizer *t = (tokenizer *)1;
  clap_error err = {0};
  CHECK_INT(tokenizer_create(spiece, config, &t, &err), code);
  CHECK(t == NULL);
  CHECK_CONTAINS(err.msg, needle);
}

static void test_create_errors(void) {
  char p1[512], p2[512];
  expect_create_error(FIX "no-such.model", CONFIG, CLAP_ERR_IO, "no-such.model");
  write_tmp("junk.model", "this is not a protobuf", 22, p1, sizeof p1);
  expect_create_error(p1, CONFIG, CLAP_ERR_FORMAT, "junk.model: not a SentencePiece model");
  write_tmp("empty.model", "", 0, p1, sizeof p1);
  expect_create_error(p1, CONFIG, CLAP_ERR_FORMAT, "empty.model");
  expect_create_error(SPIECE, FIX "missing_config.json", CLAP_ERR_IO, "missing_config.json");
  write_tmp("array.json", "[1,2]", 5, p2, sizeof p2);
  expect_create_error(SPIECE, p2, CLAP_ERR_FORMAT, "array.json: not a JSON object");
  write_tmp("trunc.json", "{\"keep_accents\": tr", 19, p2, sizeof p2);
  expect_create_error(SPIECE, p2, CLAP_ERR_FORMAT, "not a JSON object");
  const char *c1 = "{\"keep_accents\": \"yes\"}";
  write_tmp("c1.json", c1, strlen(c1), p2, sizeof p2);
  expect_create_error(SPIECE, p2, CLAP_ERR_FORMAT, "\"keep_accents\" must be true or false");
  const char *c2 = "{\"model_max_length\": 1}";
  write_tmp("c2.json", c2, strlen(c2), p2, sizeof p2);
  expect_create_error(SPIECE, p2, CLAP_ERR_FORMAT, "\"model_max_length\" must be an integer >= 2");
  const char *c3 = "{\"cls_token\": \"[FOO]\"}";
  write_tmp("c3.json", c3, strlen(c3), p2, sizeof p2);
  expect_create_error(SPIECE, p2, CLAP_ERR_FORMAT, "has no piece '[FOO]' (cls_token)");
  const char *c4 = "{\"sep_token\": {\"content\": 5}}";
  write_tmp("c4.json", c4, strlen(c4), p2, sizeof p2);
  expect_create_error(SPIECE, p2, CLAP_ERR_FORMAT, "\"sep_token\" must be a string");
  const char *c5 = "{\"cls_token\": {\"content\": \"[MASK]\"}}";
  write_tmp("c5.json", c5, strlen(c5), p2, sizeof p2);
  tokenizer *t = NULL;
  clap_error err = {0};
  CHECK_INT(tokenizer_create(SPIECE, p2, &t, &err), CLAP_OK);
  CHECK_INT(tokenizer_cls_id(t), 5);
  tokenizer_free(t);
}

static void test_spm_wrap(void) {
  spm_model *m = NULL;
  clap_error err = {0};
  CHECK_INT(spm_load_file(SPIECE, &m, &err), CLAP_OK);
  if (!m) return;
  CHECK_INT(spm_piece_id(m, "[SEP]", 5), 4);
  CHECK_INT(spm_piece_id(m, "no such piece", 13), -1);
  CHECK_INT(spm_piece_to_id(m, "no such piece", 13), spm_unk_id(m));
  spm_pieces p;
  CHECK_INT(spm_encode(m, "価格", strlen("価格"), &p, &err), CLAP_OK);
  CHECK(p.n >= 1);
  CHECK(p.off[p.n] >= strlen("価格"));
  spm_pieces_free(&p);
  spm_free(m);
  spm_model *b = NULL;
  CHECK_INT(spm_load_bytes("\x0a\x05", 2, "bytes", &b, &err), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "bytes: not a SentencePiece model");
  CHECK(b == NULL);
  /* a model whose piece list makes the library throw (darts: zero-length
  ** key), found by fuzz_tokenizer: the wrapper's catch turns it into an error */
  FILE *f = fopen("tests/fuzz/corpus/fuzz_tokenizer/model_darts_throws", "rb");
  char buf[4096];
  size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
  if (f) fclose(f);
  CHECK(n > 100);
  CHECK_INT(spm_load_bytes(buf + 1, n - 1, "thrower", &b, &err), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "thrower: ");
  CHECK_CONTAINS(err.msg, "zero-length key");
  CHECK(b == NULL);
}

typedef struct job {
  tokenizer *t;
  int bad;
} job;

static void *encode_many(void *arg) {
  job *j = arg;
  int ids[600], n;
  for (int i = 0; i < n_refs; i += 3) {
    clap_error err;
    if (tokenizer_encode(j->t, refs[i].text, -1, ids, 600, &n, &err) != CLAP_OK ||
        !same_ids(ids, n, refs[i].ids, refs[i].n))
      j->bad++;
  }
  return NULL;
}

static void test_threads(void) {
  tokenizer *t = NULL;
  clap_error err = {0};
  CHECK_INT(tokenizer_create(SPIECE, CONFIG, &t, &err), CLAP_OK);
  if (!t) return;
  pthread_t th[4];
  job jobs[4] = {{t, 0}, {t, 0}, {t, 0}, {t, 0}};
  for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, encode_many, &jobs[i]);
  for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < 4; i++) CHECK_INT(jobs[i].bad, 0);
  tokenizer_free(t);
}

int main(void) {
  make_tmpdir();
  load_refs();
  RUN(test_reference_ids_default);
  RUN(test_reference_ids_keep_accents);
  RUN(test_special_ids_and_defaults);
  RUN(test_preprocess_steps);
  RUN(test_truncation);
  RUN(test_invalid_utf8);
  RUN(test_create_errors);
  RUN(test_spm_wrap);
  RUN(test_threads);
  for (int i = 0; i < n_refs; i++) {
    free(refs[i].text);
    free(refs[i].ids);
    free(refs[i].ids_keep);
  }
  free(refs);
  if (tmpdir[0]) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
  }
  return harness_report();
}
