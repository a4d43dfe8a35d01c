/* torchbin: torch.save archives -> safetensors, bit for bit; everything else refused. */
#include "fixture.h"
#include "harness.h"
#include "safetensors.h"
#include "torchbin.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>

/* Every tensor torch saved equals, byte for byte, the safetensors file the
** fixture script wrote from the same state dict. */
static void test_bin_matches_safetensors(void) {
  void *buf;
  size_t len;
  clap_error err;
  CHECK_INT(torchbin_convert_file(fx("bin/pytorch_model.bin"), &buf, &len, &err), CLAP_OK);
  st_file *conv, *ref;
  CHECK_INT(st_open_memory(buf, len, 1, "converted", &conv, &err), CLAP_OK);
  CHECK_INT(st_open(fx("f32/model.safetensors"), &ref, &err), CLAP_OK);
  CHECK_INT(st_count(conv), st_count(ref));
  int same = 0;
  for (int i = 0; i < st_count(ref); i++) {
    const st_tensor_info *r = st_tensor_at(ref, i), *c = st_find(conv, r->name);
    CHECK(c != NULL);
    if (!c) continue;
    CHECK(strcmp(c->dtype, "F32") == 0);
    CHECK_INT(c->ndim, r->ndim);
    CHECK(memcmp(c->shape, r->shape, sizeof c->shape) == 0);
    CHECK_INT(c->nbytes, r->nbytes);
    same += c->nbytes == r->nbytes && memcmp(c->data, r->data, r->nbytes) == 0;
  }
  CHECK_INT(same, st_count(ref));
  st_close(conv);
  st_close(ref);
}

/* Views into shared storages, F16/BF16, a 0-d tensor: against views.json. */
static void test_views(void) {
  void *buf;
  size_t len, jn;
  clap_error err;
  CHECK_INT(torchbin_convert_file(fx("views.bin"), &buf, &len, &err), CLAP_OK);
  st_file *f;
  CHECK_INT(st_open_memory(buf, len, 1, "views", &f, &err), CLAP_OK);
  char *json = fixture_read(fx("views.json"), &jn);
  cJSON *root = cJSON_Parse(json);
  CHECK(root != NULL);
  int checked = 0;
  for (cJSON *t = root ? root->child : NULL; t; t = t->next) {
    const cJSON *shape = cJSON_GetObjectItem(t, "shape"), *vals = cJSON_GetObjectItem(t, "values");
    const st_tensor_info *info = st_find(f, t->string);
    CHECK(info != NULL);
    if (!info) continue;
    CHECK_INT(info->ndim, cJSON_GetArraySize(shape));
    int64_t sh[8];
    int d = 0;
    for (cJSON *s = shape->child; s; s = s->next) sh[d++] = (int64_t)s->valuedouble;
    const float *p;
    CHECK_INT(st_get_f32(f, t->string, d, sh, &p, &err), CLAP_OK);
    int i = 0;
    for (cJSON *v = vals->child; v; v = v->next, i++) CHECK_NEAR(p[i], v->valuedouble, 0);
    checked++;
  }
  CHECK_INT(checked, 5);
  CHECK(strcmp(st_find(f, "half")->dtype, "F16") == 0);
  CHECK(strcmp(st_find(f, "bf")->dtype, "BF16") == 0);
  CHECK_INT(st_find(f, "scalar")->ndim, 0);
  cJSON_Delete(root);
  free(json);
  st_close(f);
}

static void test_refusals(void) {
  void *buf;
  size_t len;
  clap_error err;
  CHECK_INT(torchbin_convert_file(fx("pickle_evil.bin"), &buf, &len, &err), CLAP_ERR_UNSUPPORTED);
  CHECK_CONTAINS(err.msg, "pickle global os.system is not allowed");
  CHECK_INT(torchbin_convert_file(fx("compressed.bin"), &buf, &len, &err), CLAP_ERR_UNSUPPORTED);
  CHECK_CONTAINS(err.msg, "entry views/data.pkl is compressed (method 8)");
  CHECK_INT(torchbin_convert_file(fx("f32/config.json"), &buf, &len, &err), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "not a ZIP archive");
  CHECK_INT(torchbin_convert_file("/nonexistent.bin", &buf, &len, &err), CLAP_ERR_IO);
  CHECK_CONTAINS(err.msg, "/nonexistent.bin");
  /* Truncated: the end record is gone. */
  size_t n;
  uint8_t *z = (uint8_t *)fixture_read(fx("views.bin"), &n);
  CHECK_INT(torchbin_convert_memory(z, n - 30, "cut.bin", &buf, &len, &err), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "cut.bin: ZIP end record not found (truncated?)");
  free(z);
}

/* Hand-made pickles inside a copy of views.bin: patch data.pkl in place
** (stored entry, so same length keeps the archive valid). */
static clap_status with_pickle(const char *pkl, size_t pl, clap_error *err) {
  size_t n;
  uint8_t *z = (uint8_t *)fixture_read(fx("views.bin"), &n);
  uint8_t *at = NULL;
  for (size_t i = 0; i + 14 < n; i++)
    if (!memcmp(z + i, "views/data.pkl", 14) && z[i - 30 + 0] == 'P' && z[i - 30 + 3] == 4) {
      at = z + i + 14 + (z[i - 2] | z[i - 1] << 8);
      break;
    }
  CHECK(at != NULL);
  /* Pad to the original length with STOP-less junk after our STOP. */
  memcpy(at, pkl, pl);
  void *buf = NULL;
  size_t len;
  clap_status rc = torchbin_convert_memory(z, n, "p.bin", &buf, &len, err);
  free(buf);
  free(z);
  return rc;
}

static void test_pickle_subset(void) {
  clap_error err;
  const char list[] = "\x80\x02]q\x00.";
  CHECK_INT(with_pickle(list, sizeof list - 1, &err), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "does not end with one dict of tensors");
  const char empty[] = "\x80\x02}q\x00.";
  CHECK_INT(with_pickle(empty, sizeof empty - 1, &err), CLAP_OK);
  const char nontensor[] = "\x80\x02}q\x00X\x01\x00\x00\x00" "aK\x05s.";
  CHECK_INT(with_pickle(nontensor, sizeof nontensor - 1, &err), CLAP_ERR_UNSUPPORTED);
  CHECK_CONTAINS(err.msg, "a is not a tensor");
  const char builtins[] = "\x80\x02" "cbuiltins\neval\n.";
  CHECK_INT(with_pickle(builtins, sizeof builtins - 1, &err), CLAP_ERR_UNSUPPORTED);
  CHECK_CONTAINS(err.msg, "pickle global builtins.eval is not allowed");
  const char inst[] = "\x80\x02(X\x01\x00\x00\x00" "ai__main__\nX\n.";
  CHECK_INT(with_pickle(inst, sizeof inst - 1, &err), CLAP_ERR_UNSUPPORTED);
  CHECK_CONTAINS(err.msg, "pickle opcode 0x69 is not allowed");
  /* The whole 446-byte entry without a STOP: PROTO, then None/POP pairs. */
  char nostop[446] = "\x80\x02";
  for (int i = 2; i < 446; i += 2) nostop[i] = 'N', nostop[i + 1] = '0';
  CHECK_INT(with_pickle(nostop, sizeof nostop, &err), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "data.pkl offset 446: pickle ends without STOP");
  const char badget[] = "\x80\x02h\x07.";
  CHECK_INT(with_pickle(badget, sizeof badget - 1, &err), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "memo get of an unset index");
  /* A storage key that is not in the archive. */
  const char missing[] =
      "\x80\x02}X\x01\x00\x00\x00t"
      "ctorch._utils\n_rebuild_tensor_v2\n"
      "((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x02\x00\x00\x00" "99X\x03\x00\x00\x00"
      "cpuK\x01tQK\x00K\x01\x85K\x01\x85\x89}tRs.";
  CHECK_INT(with_pickle(missing, sizeof missing - 1, &err), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "storage 99: entry views/data/99 is missing");
  /* A view past the end of its storage (storage 0 holds 24 floats). */
  const char past[] =
      "\x80\x02}X\x01\x00\x00\x00t"
      "ctorch._utils\n_rebuild_tensor_v2\n"
      "((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x00" "0X\x03\x00\x00\x00"
      "cpuK\x18tQK\x14K\x05\x85K\x01\x85\x89}tRs.";
  CHECK_INT(with_pickle(past, sizeof past - 1, &err), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "tensor reaches element 24 of a storage of 24");
  /* The same tensor inside bounds converts. */
  const char ok[] =
      "\x80\x02}X\x01\x00\x00\x00t"
      "ctorch._utils\n_rebuild_tensor_v2\n"
      "((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x00" "0X\x03\x00\x00\x00"
      "cpuK\x18tQK\x13K\x05\x85K\x01\x85\x89}tRs.";
  CHECK_INT(with_pickle(ok, sizeof ok - 1, &err), CLAP_OK);
}

int main(void) {
  fixture_dir("tests/fixtures/hubert");
  RUN(test_bin_matches_safetensors);
  RUN(test_views);
  RUN(test_refusals);
  RUN(test_pickle_subset);
  return harness_report();
}
