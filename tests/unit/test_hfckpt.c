/* hfckpt: defaults for absent and null keys, which weights file is opened, a
** checkpoint's identity (hashes of the files an encoder reads, checked
** against sha256sum), and one message per refusal the contract names. */
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

static void put(const char *dir, const char *name, const char *text) {
  char p[256];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *f = fopen(p, "wb");
  if (f) {
    fputs(text, f);
    fclose(f);
  }
}

static void drop(const char *dir, const char *name) {
  char p[256];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  unlink(p);
}

/* Digests from `sha256sum` on the same bytes. */
#define SHA_C "6b23c0d5f35d1b11f9b683f0b0a617355deb11277d91ae091d399c655b87940d"
#define SHA_W "fcb5f40df9be6bae66c1d77a6c15968866a9e6cbd7314ca432b019d17392f6f4"
#define SHA_S "8de0b3c47f112c59745f717a626932264c422a7563954872e237b223af4ad643"
/* sha256sum config.json model.safetensors spiece.model | sha256sum */
#define ID_CWS "70c8a841ba131bee44325b7a92f456383e3dd9cb4b07aaa19aff399f1227078e"

static void test_identity(void) {
  char dir[] = "/tmp/clap-test-hfckpt-XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  clap_error e = {0};
  cJSON *files = (cJSON *)1;
  CHECK_INT(hfckpt_file_hashes(dir, &files, &e), CLAP_ERR_NOTFOUND);
  CHECK(files == NULL);
  CHECK_CONTAINS(e.msg, "no model.safetensors or pytorch_model.bin");
  put(dir, "model.safetensors", "W");
  put(dir, "config.json", "C");
  put(dir, "spiece.model", "S");
  put(dir, "README.md", "not read by any encoder");
  CHECK_INT(hfckpt_file_hashes(dir, &files, &e), CLAP_OK);
  CHECK_INT(cJSON_GetArraySize(files), 3);
  const cJSON *w = cJSON_GetObjectItemCaseSensitive(files, "model.safetensors");
  CHECK(cJSON_IsString(w) && !strcmp(w->valuestring, SHA_W));
  CHECK(cJSON_GetObjectItemCaseSensitive(files, "README.md") == NULL);
  char id[SHA256_HEX_SIZE];
  hfckpt_identity(files, id);
  CHECK(!strcmp(id, ID_CWS));
  /* Member order does not matter; non-string members are skipped. */
  cJSON *shuffled = cJSON_Parse("{\"spiece.model\": \"" SHA_S "\", \"x\": 1, \"model.safetensors\": \""
                                SHA_W "\", \"config.json\": \"" SHA_C "\"}");
  char id2[SHA256_HEX_SIZE];
  hfckpt_identity(shuffled, id2);
  CHECK(!strcmp(id2, ID_CWS));
  cJSON_Delete(shuffled);
  /* Repeated names (JSON allows them) are hashed together, in order. */
  cJSON *dup = cJSON_Parse("{\"b\": \"z\", \"a\": \"x\", \"a\": \"y\"}");
  hfckpt_identity(dup, id2);
  /* printf 'x  a\ny  a\nz  b\n' | sha256sum */
  CHECK(!strcmp(id2, "41f673507582387bba248b6a96ffae2138ac91e9e14ea253cb1b489eb66d3214"));
  cJSON_Delete(dup);
  cJSON *none = cJSON_CreateObject();
  hfckpt_identity(none, id2);
  CHECK(!strcmp(id2, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
  cJSON_Delete(none);

  /* The recorded identity: "files" when there, else the weights digest. */
  cJSON *cfg = cJSON_CreateObject();
  cJSON_AddStringToObject(cfg, "weights", "model.safetensors");
  cJSON_AddItemToObject(cfg, "files", files);
  char *cfg_json = cJSON_PrintUnformatted(cfg);
  cJSON_Delete(cfg);
  hfckpt_recorded_identity(cfg_json, SHA_W, id2);
  CHECK(!strcmp(id2, ID_CWS));
  hfckpt_recorded_identity("{\"weights\": \"model.safetensors\"}", SHA_W, id2);
  CHECK(!strcmp(id2, SHA_W));
  hfckpt_recorded_identity(NULL, NULL, id2);
  CHECK(!strcmp(id2, ""));
  /* A precision other than f32 is folded in: sha256("ID bf16"); f32 is not. */
  hfckpt_recorded_identity("{\"weights\": \"w\", \"precision\": \"f32\"}", SHA_W, id2);
  CHECK(!strcmp(id2, SHA_W));
  hfckpt_recorded_identity("{\"weights\": \"w\", \"precision\": \"bf16\"}", SHA_W, id2);
  char folded[SHA256_HEX_SIZE], line[SHA256_HEX_SIZE + 8];
  snprintf(line, sizeof line, "%s bf16", SHA_W);
  sha256_hex(line, strlen(line), folded);
  CHECK(!strcmp(id2, folded));
  CHECK(strcmp(id2, SHA_W) != 0);

  /* Verification: as recorded, fine; each kind of change names the file. */
  CHECK_INT(hfckpt_verify_weights("dt", dir, cfg_json, SHA_W, &e), CLAP_OK);
  put(dir, "spiece.model", "S2");
  CHECK_INT(hfckpt_verify_weights("dt", dir, cfg_json, SHA_W, &e), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(e.msg, "encoder 'dt': ");
  CHECK_CONTAINS(e.msg, "/spiece.model changed since `clap encoder add` (sha256 8de0b3c47f11… recorded");
  put(dir, "spiece.model", "S");
  put(dir, "tokenizer_config.json", "T");
  CHECK_INT(hfckpt_verify_weights("dt", dir, cfg_json, SHA_W, &e), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(e.msg, "/tokenizer_config.json appeared since `clap encoder add`");
  drop(dir, "tokenizer_config.json");
  drop(dir, "config.json");
  CHECK_INT(hfckpt_verify_weights("dt", dir, cfg_json, SHA_W, &e), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(e.msg, "/config.json, recorded by `clap encoder add`, is gone");
  put(dir, "config.json", "C");
  /* Another weights file taking over is both: one appeared, one gone. */
  put(dir, "pytorch_model.bin", "B");
  drop(dir, "model.safetensors");
  CHECK_INT(hfckpt_verify_weights("dt", dir, cfg_json, SHA_W, &e), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(e.msg, "/pytorch_model.bin appeared since");
  drop(dir, "pytorch_model.bin");
  CHECK_INT(hfckpt_verify_weights("dt", dir, cfg_json, SHA_W, &e), CLAP_ERR_NOTFOUND);
  CHECK_CONTAINS(e.msg, "encoder 'dt': ");
  CHECK_CONTAINS(e.msg, "no model.safetensors or pytorch_model.bin");
  put(dir, "model.safetensors", "W");
  CHECK_INT(hfckpt_verify_weights("dt", dir, cfg_json, SHA_W, &e), CLAP_OK);

  /* A row from before schema version 3: the weights only, as before. */
  const char *old = "{\"weights\": \"model.safetensors\"}";
  put(dir, "spiece.model", "S2"); /* not covered by an old row */
  CHECK_INT(hfckpt_verify_weights("hb", dir, old, SHA_W, &e), CLAP_OK);
  put(dir, "model.safetensors", "W2");
  CHECK_INT(hfckpt_verify_weights("hb", dir, old, SHA_W, &e), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(e.msg, "encoder 'hb': weights ");
  CHECK_CONTAINS(e.msg, "/model.safetensors changed since `clap encoder add`");
  CHECK_INT(hfckpt_verify_weights("hb", dir, "{\"weights\": \"/dev/zero\"}", SHA_W, &e),
            CLAP_ERR_FORMAT);
  CHECK_CONTAINS(e.msg, "encoder 'hb': weights /dev/zero is not a regular file");
  /* A row with neither files nor a digest is taken as it is. */
  CHECK_INT(hfckpt_verify_weights("x", dir, NULL, NULL, &e), CLAP_OK);
  CHECK_INT(hfckpt_verify_weights("x", dir, old, NULL, &e), CLAP_OK);
  /* A recorded digest that is not text is refused, not trusted. */
  CHECK_INT(hfckpt_verify_weights("x", dir, "{\"files\": {\"model.safetensors\": 1, \"config.json\": \"\", \"spiece.model\": \"\"}}", NULL, &e),
            CLAP_ERR_FORMAT);
  CHECK_CONTAINS(e.msg, "the recorded sha256 of model.safetensors is not text");
  cJSON_free(cfg_json);
  static const char *const all[] = {"model.safetensors", "config.json", "spiece.model", "README.md"};
  for (int i = 0; i < 4; i++) drop(dir, all[i]);
  rmdir(dir);
}

int main(void) {
  RUN(test_int);
  RUN(test_bool);
  RUN(test_load);
  RUN(test_open_weights);
  RUN(test_identity);
  return harness_report();
}
