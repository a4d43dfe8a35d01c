/* Fuzz what the encoder check reads from a clap_encoders row: any bytes as
** clap_encoders.config (and a fixed weights digest) give an identity of 64
** hex digits, the digest itself or "" (hfckpt_recorded_identity), and
** hfckpt_verify_weights against a small checkpoint directory either passes
** or fails with a message; never a crash. Inputs naming a path with '/' are
** not verified: an old-style "weights" may be absolute and would hash files
** of the host. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hfckpt.h"

#define SHA_W "fcb5f40df9be6bae66c1d77a6c15968866a9e6cbd7314ca432b019d17392f6f4"

static char dir[64];

static void remove_checkpoint(void) {
  char p[128];
  snprintf(p, sizeof p, "%s/model.safetensors", dir);
  unlink(p);
  snprintf(p, sizeof p, "%s/config.json", dir);
  unlink(p);
  rmdir(dir);
}

static const char *checkpoint(void) {
  if (dir[0]) return dir;
  snprintf(dir, sizeof dir, "/tmp/clap-fuzz-encoder-config-%d", (int)getpid());
  char cmd[512];
  snprintf(cmd, sizeof cmd, "mkdir -p %s && printf W > %s/model.safetensors && printf C > %s/config.json",
           dir, dir, dir);
  if (system(cmd) != 0) abort();
  atexit(remove_checkpoint);
  return dir;
}

static int is_hex64(const char *s) {
  if (strlen(s) != 64) return 0;
  for (int i = 0; i < 64; i++)
    if (!strchr("0123456789abcdef", s[i])) return 0;
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 1 << 16) return 0;
  char *s = malloc(size + 1);
  if (!s) return 0;
  memcpy(s, data, size);
  s[size] = 0;
  char id[SHA256_HEX_SIZE];
  hfckpt_recorded_identity(s, SHA_W, id);
  if (!is_hex64(id)) abort();
  hfckpt_recorded_identity(s, NULL, id);
  if (id[0] && !is_hex64(id)) abort();
  if (!memchr(data, '/', size)) {
    clap_error e = {0};
    if (hfckpt_verify_weights("f", checkpoint(), s, SHA_W, &e) != CLAP_OK && !e.msg[0]) abort();
  }
  free(s);
  return 0;
}
