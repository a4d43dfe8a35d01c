/* hfckpt: defaults for absent and null keys, which weights file is opened, and one message per refusal the contract names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "hfckpt.h"

static const char *json =
    "{\"n\": 7, \"f\": 2.0, \"half\": 2.5, \"s\": \"7\", \"nul\": null, \"t\": true, \"z\": 0}";

static void test_int(void) {
  cJSON *r = cJSON_Parse(json);
  clap_error e = {0};
  int v = -1;
  CHECK_INT(hfckpt_int(r, "n", 1, 1, 10, &v, "c.json", &e), CLAP_OK);
  CHECK_INT(v, 7);
  CHECK_INT(hfckpt_int(r, "f", 1, 1, 10, &v, "c.json", &e), CLAP_OK);
  CHECK_INT(v, 2);
  CHECK_INT(hfckpt_int(r, "absent", 5, 1, 10, &v, "c.json", &e), CLAP_OK);
  CHECK_INT(v, 5);
  v = -1;
  CHECK_INT(hfckpt_int(r, "nul", 6, 1, 10, &v, "c.json", &e), CLAP_OK);
  CHECK_INT(v, 6);
  CHECK_INT(hfckpt_int(r, "half", 1, 1, 10, &v, "c.json", &e), CLAP_ERR_FORMAT);
  CHECK(!strcmp(e.msg, "c.json: \"half\" must be an integer in 1..10"));
  CHECK_INT(hfckpt_int(r, "s", 1, 1, 10, &v, "c.json", &e), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(e.msg, "\"s\" must be an integer");
  CHECK_INT(hfckpt_int(r, "n", 1, 1, 6, &v, "c.json", &e), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(e.msg, "\"n\" must be an integer in 1..6");
  cJSON_Delete(r);
}

static void test_bool(void) {
  cJSON *r = cJSON_Parse(json);
  clap_error e = {0};
  int v = -1;
  CHECK_INT(hfckpt_bool(r, "t", 0, &v, "c.json", &e), CLAP_OK);
  CHECK_INT(v, 1);
  CHECK_INT(hfckpt_bool(r, "nul", 1, &v, "c.json", &e), CLAP_OK);
  CHECK_INT(v, 1);
  CHECK_INT(hfckpt_bool(r, "absent", 0, &v, "c.json", &e), CLAP_OK);
  CHECK_INT(v, 0);
  CHECK_INT(hfckpt_bool(r, "z", 0, &v, "c.json", &e), CLAP_ERR_FORMAT);
  CHECK(!strcmp(e.msg, "c.json: \"z\" must be true or false"));
  cJSON_Delete(r);
}

static void test_load(void) {
  char path[] = "/tmp/clap-test-hfckpt-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  CHECK(write(fd, json, strlen(json)) == (ssize_t)strlen(json));
  close(fd);
  cJSON *r = NULL;
  clap_error e = {0};
  CHECK_INT(hfckpt_load_json(path, &r, &e), CLAP_OK);
  CHECK(cJSON_IsNumber(cJSON_GetObjectItem(r, "n")));
  cJSON_Delete(r);
  FILE *f = fopen(path, "w");
  fputs("[1, 2]", f);
  fclose(f);
  r = (cJSON *)1;
  CHECK_INT(hfckpt_load_json(path, &r, &e), CLAP_ERR_FORMAT);
  CHECK(r == NULL);
  CHECK_CONTAINS(e.msg, ": not a JSON object");
  CHECK(truncate(path, HFCKPT_MAX_JSON_BYTES + 1) == 0);
  CHECK_INT(hfckpt_load_json(path, &r, &e), CLAP_ERR_RANGE);
  CHECK_CONTAINS(e.msg, ": larger than 1 MiB");
  unlink(path);
  CHECK_INT(hfckpt_load_json(path, &r, &e), CLAP_ERR_NOTFOUND);
  CHECK_CONTAINS(e.msg, ": cannot open: No such file or directory");
}

static void test_open_weights(void) {
  char dir[] = "/tmp/clap-test-hfckpt-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  st_file *st = (st_file *)1;
  char *wp = (char *)1;
  clap_error e = {0};
  CHECK_INT(hfckpt_open_weights(dir, &st, &wp, &e), CLAP_ERR_NOTFOUND);
  CHECK(st == NULL && wp == NULL);
  CHECK_CONTAINS(e.msg, dir);
  CHECK_CONTAINS(e.msg, ": no model.safetensors or pytorch_model.bin in the checkpoint directory");
  /* A bad pytorch_model.bin is torchbin's error, and nothing is handed back. */
  char bin[128];
  snprintf(bin, sizeof bin, "%s/pytorch_model.bin", dir);
  FILE *f = fopen(bin, "wb");
  fputs("not a zip", f);
  fclose(f);
  CHECK(hfckpt_open_weights(dir, &st, &wp, &e) != CLAP_OK);
  CHECK(st == NULL && wp == NULL);
  CHECK_CONTAINS(e.msg, "pytorch_model.bin");
  /* model.safetensors wins when both are there. */
  char sf[128];
  snprintf(sf, sizeof sf, "%s/model.safetensors", dir);
  f = fopen(sf, "wb");
  fwrite("\x02\0\0\0\0\0\0\0{}", 1, 10, f);
  fclose(f);
  CHECK_INT(hfckpt_open_weights(dir, &st, &wp, &e), CLAP_OK);
  CHECK(wp && !strcmp(wp, sf));
  st_close(st);
  free(wp);
  unlink(sf);
  unlink(bin);
  rmdir(dir);
}

int main(void) {
  RUN(test_int);
  RUN(test_bool);
  RUN(test_load);
  RUN(test_open_weights);
  return harness_report();
}
