/* paraphrase.h (prompt, reply splitting, filters, descriptions file) and the
** pure parts of llm.h (request body, reply and error parsing, Retry-After). */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "httpc.h"
#include "llm.h"
#include "paraphrase.h"

static char **split(const char *s, int *n) {
  char **v = NULL;
  clap_error e;
  CHECK_INT(paraphrase_split(s, strlen(s), &v, n, &e), CLAP_OK);
  return v;
}

static void test_prompt_table1(void) {
  char *p = paraphrase_prompt("私の気持ちは覚醒しています", "My emotions are awake.", "覚醒", "aroused", 10);
  CHECK(p && !strcmp(p,
                     "You are an imaginative assistant.\n"
                     "Given the emotion description, please generate ten paraphrase sentences in Japanese.\n"
                     "Note that you cannot add the prohibited word.\n"
                     "\n"
                     "### Input and output\n"
                     "\n"
                     "Emotion description: 私の気持ちは覚醒しています (My emotions are awake.)\n"
                     "\n"
                     "Prohibited word: 覚醒 (aroused)\n"
                     "Paraphrase sentences:\n"));
  free(p);
  p = paraphrase_prompt("私は信頼しています", NULL, "信頼", NULL, 1);
  CHECK_CONTAINS(p, "please generate one paraphrase sentence in Japanese.");
  CHECK_CONTAINS(p, "Emotion description: 私は信頼しています\n");
  CHECK_CONTAINS(p, "Prohibited word: 信頼\n");
  free(p);
  p = paraphrase_prompt("x", NULL, NULL, NULL, 12);
  CHECK_CONTAINS(p, "generate 12 paraphrase sentences");
  free(p);
  CHECK(paraphrase_prompt("x", NULL, NULL, NULL, 0) == NULL);
  CHECK(paraphrase_prompt("", NULL, NULL, NULL, 3) == NULL);
  CHECK(paraphrase_prompt(NULL, NULL, NULL, NULL, 3) == NULL);
}

static void test_split_markers(void) {
  int n = 0;
  char **v = split("Here are ten paraphrases:\n"
                   "1. 目が冴えています\n"
                   "2) 頭がはっきりしている\n"
                   "(3) 元気いっぱいです\n"
                   "４．気分が高まっています\n"
                   "① わくわくしています\n"
                   "- 眠気がありません\n"
                   "・意識が鮮明です\n"
                   "* 「心が弾んでいます」\n"
                   "10. \"活気に満ちています\"\n"
                   "\n"
                   "   \xE3\x80\x80『生き生きとしています』  \r\n"
                   "```\n",
                   &n);
  CHECK_INT(n, 10);
  const char *want[] = {"目が冴えています", "頭がはっきりしている", "元気いっぱいです", "気分が高まっています",
                        "わくわくしています", "眠気がありません", "意識が鮮明です", "心が弾んでいます",
                        "活気に満ちています", "生き生きとしています"};
  for (int i = 0; i < n && i < 10; i++) {
    if (strcmp(v[i], want[i]) != 0) fprintf(stderr, "sentence %d: got '%s', want '%s'\n", i, v[i], want[i]);
    CHECK(strcmp(v[i], want[i]) == 0);
  }
  paraphrase_list_free(v, n);
}

static void test_split_edge_cases(void) {
  int n = 0;
  /* A number that is part of the sentence stays; a gloss the model copied goes. */
  char **v = split("3人で楽しく話しています\n1.5倍元気です\n私の心は目覚めています (My heart is awake.)\n", &n);
  CHECK_INT(n, 3);
  if (n == 3) {
    CHECK(!strcmp(v[0], "3人で楽しく話しています"));
    CHECK(!strcmp(v[1], "1.5倍元気です"));
    CHECK(!strcmp(v[2], "私の心は目覚めています"));
  }
  paraphrase_list_free(v, n);
  /* A JSON array of strings. */
  v = split(" [\"1. 起きています\", \"眠くない\"] ", &n);
  CHECK_INT(n, 2);
  if (n == 2) CHECK(!strcmp(v[0], "起きています") && !strcmp(v[1], "眠くない"));
  paraphrase_list_free(v, n);
  /* Not an array of strings: lines. */
  v = split("[1, 2]", &n);
  CHECK_INT(n, 1);
  paraphrase_list_free(v, n);
  v = split("", &n);
  CHECK_INT(n, 0);
  paraphrase_list_free(v, n);
  v = split("1.\n- \n「」\n", &n);
  CHECK_INT(n, 0);
  paraphrase_list_free(v, n);
  /* CR-only line ends, NUL inside. */
  char buf[] = "起きています\r眠くない\0ignored";
  clap_error e;
  CHECK_INT(paraphrase_split(buf, sizeof buf - 1, &v, &n, &e), CLAP_OK);
  CHECK_INT(n, 3);
  paraphrase_list_free(v, n);
}

static void test_split_cap(void) {
  char *big = malloc(300 * 8 + 1);
  big[0] = 0;
  for (int i = 0; i < 300; i++) strcat(big, "はい\n");
  int n = 0;
  char **v = split(big, &n);
  CHECK_INT(n, PARAPHRASE_MAX_SENTENCES);
  paraphrase_list_free(v, n);
  free(big);
}

static void test_check(void) {
  char why[200];
  CHECK_INT(paraphrase_check("目が冴えています", "覚醒", why, sizeof why), PARAPHRASE_OK);
  CHECK_INT(paraphrase_check("私は覚醒している", "覚醒", why, sizeof why), PARAPHRASE_PROHIBITED);
  CHECK_CONTAINS(why, "contains the prohibited word 覚醒");
  /* NFKC: U+F967 is a compatibility form of 不; half-width katakana. */
  CHECK_INT(paraphrase_check("私は\xEF\xA5\xA7快です", "不快", why, sizeof why), PARAPHRASE_PROHIBITED);
  CHECK_INT(paraphrase_check("ﾜｸﾜｸする", "ワクワク", why, sizeof why), PARAPHRASE_PROHIBITED);
  CHECK_INT(paraphrase_check("ＡＢＣです", "ABC", why, sizeof why), PARAPHRASE_PROHIBITED);
  CHECK_INT(paraphrase_check("I am awake.", "覚醒", why, sizeof why), PARAPHRASE_NOT_JAPANESE);
  CHECK_CONTAINS(why, "not Japanese");
  CHECK_INT(paraphrase_check("한국어 문장", "覚醒", why, sizeof why), PARAPHRASE_NOT_JAPANESE);
  CHECK_INT(paraphrase_check("カタカナ", NULL, why, sizeof why), PARAPHRASE_OK);
  CHECK_INT(paraphrase_check("々", "", why, sizeof why), PARAPHRASE_OK);
  CHECK_INT(paraphrase_check("  \xE3\x80\x80 ", "覚醒", why, sizeof why), PARAPHRASE_EMPTY);
  CHECK_INT(paraphrase_check("", "覚醒", NULL, 0), PARAPHRASE_EMPTY);
  CHECK_INT(paraphrase_check("\xff\xfe です", "覚醒", why, sizeof why), PARAPHRASE_BAD_UTF8);
  CHECK_CONTAINS(why, "UTF-8");
  char *lng = malloc(PARAPHRASE_MAX_BYTES + 10);
  memset(lng, 'a', PARAPHRASE_MAX_BYTES + 9);
  lng[PARAPHRASE_MAX_BYTES + 9] = 0;
  CHECK_INT(paraphrase_check(lng, "覚醒", why, sizeof why), PARAPHRASE_TOO_LONG);
  free(lng);
}

static void test_dedup_key(void) {
  char *a = paraphrase_dedup_key(" 目が冴えています。 ");
  char *b = paraphrase_dedup_key("目が冴えています");
  char *c = paraphrase_dedup_key("ﾒが冴えています");
  CHECK(a && b && !strcmp(a, b));
  CHECK(c && strcmp(c, b) != 0);
  free(a), free(b), free(c);
  a = paraphrase_dedup_key("ＡＢＣ.");
  CHECK(a && !strcmp(a, "ABC"));
  free(a);
  CHECK(paraphrase_dedup_key("\xc3") == NULL);
}

static clap_status parse_file(const char *json, paraphrase_entry **e, int *n, clap_error *err) {
  return paraphrase_file_parse(json, strlen(json), "f.json", e, n, err);
}

static void test_file_valid(void) {
  paraphrase_entry *e = NULL;
  int n = 0;
  clap_error err;
  const char *json =
      "{\"x-note\": 1, \"descriptions\": ["
      "{\"dimension\": \"aroused\", \"pole\": 1, \"text\": \"目が冴えています\", \"source\": \"bundled\","
      " \"prohibited\": \"覚醒\", \"status\": \"ok\", \"gloss\": \"awake\", \"x-id\": 3},"
      "{\"dimension\": \"aroused\", \"pole\": 1, \"text\": \"覚醒です\", \"prohibited\": \"覚醒\","
      " \"status\": \"rejected\", \"reason\": \"contains\"},"
      "{\"dimension\": \"purchase_intention\", \"pole\": 0, \"text\": \"買う気なし\", \"source\": \"prompt\","
      " \"prompt_set\": 1, \"prohibited\": \"買う\"}]}";
  CHECK_INT(parse_file(json, &e, &n, &err), CLAP_OK);
  CHECK_INT(n, 3);
  if (n == 3) {
    CHECK(!strcmp(e[0].source, "bundled") && e[0].pole == 1 && !strcmp(e[0].gloss, "awake"));
    CHECK(!strcmp(e[1].status, "rejected") && e[1].source == NULL);
    CHECK_INT(e[2].prompt_set, 1);
  }
  paraphrase_entries_free(e, n);
  CHECK_INT(parse_file("{\"descriptions\": []}", &e, &n, &err), CLAP_OK);
  CHECK_INT(n, 0);
  paraphrase_entries_free(e, n);
}

static void expect_bad(const char *json, const char *msg) {
  paraphrase_entry *e = NULL;
  int n = 0;
  clap_error err;
  clap_error_clear(&err);
  CHECK_INT(parse_file(json, &e, &n, &err), CLAP_ERR_FORMAT);
  CHECK(e == NULL && n == 0);
  CHECK_CONTAINS(err.msg, msg);
}

static void test_file_invalid(void) {
  expect_bad("", "f.json: empty file");
  expect_bad("{\"descriptions\": [", "f.json: not valid JSON (line 1");
  expect_bad("[]", "must be a JSON object");
  expect_bad("{}", "\"descriptions\" is missing");
  expect_bad("{\"descriptions\": {}}", "descriptions: must be an array");
  expect_bad("{\"descriptions\": [], \"extra\": 1}", "unknown member \"extra\"");
  expect_bad("{\"descriptions\": [1]}", "descriptions[0]: must be an object");
  expect_bad("{\"descriptions\": [{\"pole\": 1, \"text\": \"a\"}]}", "descriptions[0]: \"dimension\" is missing");
  expect_bad("{\"descriptions\": [{\"dimension\": \"joy\", \"pole\": 1, \"text\": \"a\"}]}", "unknown dimension \"joy\"");
  expect_bad("{\"descriptions\": [{\"dimension\": \"aroused\", \"text\": \"a\"}]}", "\"pole\" is missing");
  expect_bad("{\"descriptions\": [{\"dimension\": \"aroused\", \"pole\": 2, \"text\": \"a\"}]}",
             "descriptions[0].pole: must be 0 or 1");
  expect_bad("{\"descriptions\": [{\"dimension\": \"aroused\", \"pole\": \"1\", \"text\": \"a\"}]}", "pole: must be 0 or 1");
  expect_bad("{\"descriptions\": [{\"dimension\": \"aroused\", \"pole\": 1}]}", "\"text\" is missing");
  expect_bad("{\"descriptions\": [{\"dimension\": \"aroused\", \"pole\": 1, \"text\": \" \\t\"}]}", "text: is blank");
  expect_bad("{\"descriptions\": [{\"dimension\": \"aroused\", \"pole\": 1, \"text\": 5}]}", "text: must be a string");
  expect_bad("{\"descriptions\": [{\"dimension\": \"aroused\", \"pole\": 1, \"text\": \"a\", \"source\": \"llm\"}]}",
             "source: \"llm\" is not one of");
  expect_bad("{\"descriptions\": [{\"dimension\": \"aroused\", \"pole\": 1, \"text\": \"a\", \"status\": \"bad\"}]}",
             "status: must be");
  expect_bad("{\"descriptions\": [{\"dimension\": \"aroused\", \"pole\": 1, \"text\": \"a\", \"prompt_sha256\": \"AB\"}]}",
             "prompt_sha256: must be 64 lowercase hex digits");
  expect_bad("{\"descriptions\": [{\"dimension\": \"aroused\", \"pole\": 1, \"text\": \"a\", \"source\": \"prompt\"}]}",
             "needs a prompt_set");
  expect_bad("{\"descriptions\": [{\"dimension\": \"aroused\", \"pole\": 1, \"text\": \"a\", \"prompt_set\": 2}]}",
             "prompt_set needs source \"prompt\"");
  expect_bad("{\"descriptions\": [{\"dimension\": \"purchase_intention\", \"pole\": 1, \"text\": \"a\", \"source\": "
             "\"prompt\", \"prompt_set\": 4}]}",
             "prompt_set: must be an integer 1..3");
  expect_bad("{\"descriptions\": [{\"dimension\": \"aroused\", \"pole\": 1, \"text\": \"a\", \"text\": \"b\"}]}",
             "duplicate member \"text\"");
  expect_bad("{\"descriptions\": [{\"dimension\": \"aroused\", \"pole\": 1, \"text\": \"覚醒した\", \"prohibited\": "
             "\"覚醒\"}]}",
             "descriptions[0].text: contains the prohibited word 覚醒");
  expect_bad("{\"descriptions\": [{\"dimension\": \"aroused\", \"pole\": 1, \"text\": \"\xff\"}]}", "f.json: line 1: invalid UTF-8 at byte offset 63 (byte 0xff)");
}

static void test_request_json(void) {
  char *j = llm_request_json("gpt-4", "こんにちは \"x\"", 0.7);
  CHECK(j && !strcmp(j, "{\"model\":\"gpt-4\",\"messages\":[{\"role\":\"user\",\"content\":\"こんにちは \\\"x\\\"\"}],"
                        "\"temperature\":0.7,\"n\":1}"));
  free(j);
  CHECK(llm_request_json(NULL, "p", 0.7) == NULL);
  CHECK(llm_request_json("m", NULL, 0.7) == NULL);
  CHECK(llm_request_json("m", "p", NAN) == NULL);
}

static void test_parse_reply(void) {
  llm_reply r;
  clap_error e;
  const char *ok = "{\"model\": \"gpt-4-0613\", \"choices\": [{\"message\": {\"role\": \"assistant\", \"content\": "
                   "\"1. はい\"}, \"finish_reason\": \"stop\"}], \"usage\": {\"prompt_tokens\": 12, "
                   "\"completion_tokens\": 5, \"total_tokens\": 17}}";
  CHECK_INT(llm_parse_reply(ok, strlen(ok), &r, &e), CLAP_OK);
  CHECK(r.content && !strcmp(r.content, "1. はい"));
  CHECK(r.model && !strcmp(r.model, "gpt-4-0613"));
  CHECK(r.finish_reason && !strcmp(r.finish_reason, "stop"));
  CHECK_INT(r.prompt_tokens, 12);
  CHECK_INT(r.completion_tokens, 5);
  CHECK_INT(r.total_tokens, 17);
  llm_reply_clear(&r);
  /* Content parts, no usage (a local server). */
  const char *parts = "{\"choices\": [{\"message\": {\"content\": [{\"type\": \"text\", \"text\": \"あ\"}, {\"type\": "
                      "\"image\"}, {\"type\": \"text\", \"text\": \"い\"}]}}], \"usage\": {\"prompt_tokens\": -3}}";
  CHECK_INT(llm_parse_reply(parts, strlen(parts), &r, &e), CLAP_OK);
  CHECK(r.content && !strcmp(r.content, "あい"));
  CHECK(r.model == NULL);
  CHECK_INT(r.total_tokens, 0);
  llm_reply_clear(&r);

  CHECK_INT(llm_parse_reply("{\"choices\": [ {", 15, &r, &e), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(e.msg, "not JSON");
  CHECK(r.content == NULL);
  CHECK_INT(llm_parse_reply("[1]", 3, &r, &e), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(e.msg, "not a JSON object");
  CHECK_INT(llm_parse_reply("{}", 2, &r, &e), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(e.msg, "no choices[0]");
  const char *nomsg = "{\"choices\": [{\"text\": \"x\"}]}";
  CHECK_INT(llm_parse_reply(nomsg, strlen(nomsg), &r, &e), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(e.msg, "no choices[0].message");
  const char *refusal = "{\"choices\": [{\"message\": {\"content\": null, \"refusal\": \"I can't\"}}]}";
  CHECK_INT(llm_parse_reply(refusal, strlen(refusal), &r, &e), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(e.msg, "the model refused: I can't");
  CHECK_INT(llm_parse_reply(NULL, 0, &r, &e), CLAP_ERR_FORMAT);
}

static void test_parse_error(void) {
  char buf[300];
  int quota = -1;
  const char *a = "{\"error\": {\"message\": \"Incorrect API key\", \"type\": \"invalid_request_error\", \"code\": "
                  "\"invalid_api_key\"}}";
  httpc_parse_error(a, strlen(a), buf, sizeof buf, &quota);
  CHECK(!strcmp(buf, "Incorrect API key (code invalid_api_key)"));
  CHECK_INT(quota, 0);
  const char *b = "{\"error\": {\"message\": \"boom\", \"code\": 500}}";
  httpc_parse_error(b, strlen(b), buf, sizeof buf, &quota);
  CHECK(!strcmp(buf, "boom (code 500)"));
  const char *c = "{\"error\": {\"message\": \"You exceeded your current quota\", \"type\": \"insufficient_quota\", "
                  "\"code\": null}}";
  httpc_parse_error(c, strlen(c), buf, sizeof buf, &quota);
  CHECK_INT(quota, 1);
  CHECK(!strcmp(buf, "You exceeded your current quota (type insufficient_quota)"));
  const char *d = "{\"error\": \"model 'x' not found\"}";   /* Ollama */
  httpc_parse_error(d, strlen(d), buf, sizeof buf, &quota);
  CHECK(!strcmp(buf, "model 'x' not found"));
  const char *f = "{\"detail\": \"Not Found\"}";             /* FastAPI / vLLM */
  httpc_parse_error(f, strlen(f), buf, sizeof buf, &quota);
  CHECK(!strcmp(buf, "Not Found"));
  const char *g = "<html>\n502 Bad Gateway</html>";
  httpc_parse_error(g, strlen(g), buf, sizeof buf, &quota);
  CHECK(!strcmp(buf, "<html> 502 Bad Gateway</html>"));
  httpc_parse_error("", 0, buf, sizeof buf, &quota);
  CHECK(!strcmp(buf, "(empty body)"));
  const char *h = "{\"error\": {\"code\": 42}}";
  httpc_parse_error(h, strlen(h), buf, sizeof buf, NULL);
  CHECK(!strcmp(buf, "code 42"));
  char tiny[8];
  httpc_parse_error(a, strlen(a), tiny, sizeof tiny, NULL);
  CHECK_INT(strlen(tiny), 7);
}

static void test_retry_after(void) {
  CHECK_NEAR(httpc_retry_after_seconds("1", 0), 1.0, 1e-9);
  CHECK_NEAR(httpc_retry_after_seconds(" 2.5 ", 0), 2.5, 1e-9);
  CHECK_NEAR(httpc_retry_after_seconds("0", 0), 0.0, 1e-9);
  CHECK_NEAR(httpc_retry_after_seconds("-1", 0), -1.0, 1e-9);
  CHECK_NEAR(httpc_retry_after_seconds("soon", 0), -1.0, 1e-9);
  CHECK_NEAR(httpc_retry_after_seconds("", 0), -1.0, 1e-9);
  CHECK_NEAR(httpc_retry_after_seconds(NULL, 0), -1.0, 1e-9);
  /* 1994-11-06 08:49:37 UTC = 784111777 */
  CHECK_NEAR(httpc_retry_after_seconds("Sun, 06 Nov 1994 08:49:37 GMT", 784111770), 7.0, 1e-9);
  CHECK_NEAR(httpc_retry_after_seconds("Sun, 06 Nov 1994 08:49:37 GMT", 784111790), 0.0, 1e-9);
}

static void test_client_create(void) {
  llm_client *c = NULL;
  clap_error e;
  llm_config cfg = {0};
  CHECK_INT(llm_client_create(&cfg, &c, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "no base URL");
  cfg.base_url = "file:///etc/passwd";
  CHECK_INT(llm_client_create(&cfg, &c, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "must start with http:// or https://");
  cfg.base_url = "gopher://127.0.0.1/v1";
  CHECK_INT(llm_client_create(&cfg, &c, &e), CLAP_ERR_ARG);
  cfg.base_url = "http://127.0.0.1:1/v1";
  cfg.concurrency = 65;
  CHECK_INT(llm_client_create(&cfg, &c, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "concurrency 65");
  cfg.concurrency = 0;
  cfg.base_url = "HTTP://127.0.0.1:1/v1//";
  cfg.api_key = "sk-unit";
  CHECK_INT(llm_client_create(&cfg, &c, &e), CLAP_OK);
  CHECK(c && !strcmp(llm_client_endpoint(c), "HTTP://127.0.0.1:1/v1/chat/completions"));
  CHECK_INT(llm_client_has_key(c), 1);
  llm_client_free(c);
}

/* Port 1 on loopback refuses: a network error, retried, then reported
** with the URL and the attempt count. */
static void test_refused(void) {
  llm_client *c = NULL;
  clap_error e;
  llm_config cfg = {0};
  cfg.base_url = "http://127.0.0.1:1/v1";
  cfg.api_key = "sk-unit-secret";
  cfg.max_attempts = 2;
  cfg.backoff_ms = 10;
  CHECK_INT(llm_client_create(&cfg, &c, &e), CLAP_OK);
  if (!c) return;
  llm_call call = {0};
  call.body = "{}";
  CHECK_INT(llm_run(c, &call, 1, &e), CLAP_OK);
  CHECK_INT(call.status, CLAP_ERR_IO);
  CHECK_INT(call.attempts, 2);
  CHECK_INT(call.retryable, 1);
  CHECK_CONTAINS(call.err.msg, "http://127.0.0.1:1/v1/chat/completions: ");
  CHECK_CONTAINS(call.err.msg, "(after 2 attempts)");
  CHECK(strstr(call.err.msg, "sk-unit-secret") == NULL);
  llm_usage u;
  llm_client_usage(c, &u);
  CHECK_INT(u.calls, 1);
  CHECK_INT(u.attempts, 2);
  CHECK_INT(u.retries, 1);
  CHECK_INT(u.failed, 1);
  llm_call_clear(&call);
  llm_client_free(c);
}

int main(void) {
  RUN(test_prompt_table1);
  RUN(test_split_markers);
  RUN(test_split_edge_cases);
  RUN(test_split_cap);
  RUN(test_check);
  RUN(test_dedup_key);
  RUN(test_file_valid);
  RUN(test_file_invalid);
  RUN(test_request_json);
  RUN(test_parse_reply);
  RUN(test_parse_error);
  RUN(test_retry_after);
  RUN(test_client_create);
  RUN(test_refused);
  return harness_report();
}
