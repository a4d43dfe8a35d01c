/* segment — see segment.h. */
#include "segment.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#define SESSION_ID_MAX 48

void segment_request_init(segment_request *r) {
  memset(r, 0, sizeof *r);
  r->channel = VAD_ALL_CHANNELS;
  vad_options_default(&r->vad);
}

static const char *default_role(int ch) {
  return ch == 0 ? "salesperson" : ch == 1 ? "customer" : NULL;
}

/* One "N=role" item of length len. */
static clap_status parse_role(const char *item, size_t len, segment_request *r, clap_error *err) {
  char *end = NULL;
  long ch = strtol(item, &end, 10);
  const char *role = end + 1;
  size_t rlen = len - (size_t)(role - item);
  if (end == item || *end != '=' || end >= item + len || ch < 0 || ch >= MANIFEST_MAX_CHANNELS)
    return clap_error_set(err, CLAP_ERR_ARG,
                          "--roles: '%.*s' is not CHANNEL=ROLE with CHANNEL in [0, %d]",
                          (int)(len > 64 ? 64 : len), item, MANIFEST_MAX_CHANNELS - 1);
  static const char *const roles[] = {"salesperson", "customer"};
  for (int i = 0; i < 2; i++)
    if (strlen(roles[i]) == rlen && !strncmp(role, roles[i], rlen)) {
      r->roles[ch] = roles[i];
      return CLAP_OK;
    }
  return clap_error_set(err, CLAP_ERR_ARG,
                        "--roles: channel %ld: role must be salesperson or customer, got '%.*s'",
                        ch, (int)(rlen > 64 ? 64 : rlen), role);
}

clap_status segment_parse_roles(const char *spec, segment_request *r, clap_error *err) {
  if (!spec || !*spec) return clap_error_set(err, CLAP_ERR_ARG, "--roles: empty");
  for (const char *p = spec;;) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    clap_status rc = parse_role(p, len, r, err);
    if (rc) return rc;
    if (!comma) return CLAP_OK;
    p = comma + 1;
  }
}

int segment_option(const cli *c, int opt, segment_request *r) {
  clap_error err;
  const char *v = optarg ? optarg : "";
  switch (opt) {
  case SEGMENT_OPT_CHANNEL: {
    char *end = NULL;
    long ch = strtol(v, &end, 10);
    if (!strcmp(v, "all")) r->channel = VAD_ALL_CHANNELS;
    else if (*v >= '0' && *v <= '9' && !*end && ch < MANIFEST_MAX_CHANNELS) r->channel = (int)ch;
    else
      return cli_usage(c, "%s: expected a channel index from 0 to %d or 'all', got '%s'", c->opt,
                       MANIFEST_MAX_CHANNELS - 1, v);
    return 0;
  }
  case SEGMENT_OPT_MIN_SPEECH: return cli_number(c, 0.001, 60, &r->vad.min_speech);
  case SEGMENT_OPT_MIN_SILENCE: return cli_number(c, 0.001, 60, &r->vad.min_silence);
  case SEGMENT_OPT_ROLES:
    return segment_parse_roles(v, r, &err) ? cli_usage(c, "%s", err.msg) : 0;
  case SEGMENT_OPT_OPTIONS:
    return vad_options_from_json(v, strlen(v), &r->vad, &err) ? cli_usage(c, "--options: %s", err.msg) : 0;
  }
  return 0;
}

void segment_session_id(const char *path, char *out) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  const char *dot = strrchr(base, '.');
  size_t n = dot && dot > base ? (size_t)(dot - base) : strlen(base);
  if (n > SESSION_ID_MAX) n = SESSION_ID_MAX;
  for (size_t i = 0; i < n; i++) {
    char c = base[i];
    int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
             c == '_' || c == '.' || c == '-';
    out[i] = ok ? c : '_';
  }
  if (n == 0) out[n++] = '_';
  out[n] = 0;
}

static const char *role_of(const segment_request *r, int ch) {
  return r->roles[ch] ? r->roles[ch] : default_role(ch);
}

static double ms(double s) { return (double)(long long)(s * 1000 + 0.5) / 1000; }

/* The manifest's JSON for the segments found. */
static clap_status build(const char *session, const char *audio_ref, const segment_request *r,
                         const vad_segment *s, long n, char **json, clap_error *err) {
  cJSON *root = cJSON_CreateObject(), *speakers = cJSON_CreateArray(), *utts = cJSON_CreateArray();
  int count[MANIFEST_MAX_CHANNELS] = {0};
  char id[96];
  int ok = root && speakers && utts && cJSON_AddStringToObject(root, "session", session);
  for (long i = 0; ok && i < n; i++) {
    int ch = s[i].channel;
    cJSON *u = cJSON_CreateObject();
    ok = u && cJSON_AddItemToArray(utts, u);
    if (ok && count[ch]++ == 0) {
      cJSON *sp = cJSON_CreateObject();
      snprintf(id, sizeof id, "%s-ch%d", session, ch);
      ok = sp && cJSON_AddItemToArray(speakers, sp) && cJSON_AddStringToObject(sp, "id", id);
    }
    snprintf(id, sizeof id, "%s-c%d-%04d", session, ch, count[ch]);
    ok = ok && cJSON_AddStringToObject(u, "id", id) && cJSON_AddStringToObject(u, "audio", audio_ref) &&
         cJSON_AddNumberToObject(u, "channel", ch) && cJSON_AddNumberToObject(u, "start", ms(s[i].start)) &&
         cJSON_AddNumberToObject(u, "end", ms(s[i].end));
    snprintf(id, sizeof id, "%s-ch%d", session, ch);
    ok = ok && cJSON_AddStringToObject(u, "speaker", id) && cJSON_AddStringToObject(u, "role", role_of(r, ch));
  }
  if (ok) {
    cJSON_AddItemToObject(root, "speakers", speakers);
    speakers = NULL;
    cJSON_AddItemToObject(root, "utterances", utts);
    utts = NULL;
  }
  char *text = ok ? cJSON_Print(root) : NULL;
  cJSON_Delete(root);
  cJSON_Delete(speakers);
  cJSON_Delete(utts);
  if (!text) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  *json = text;
  return CLAP_OK;
}

void segment_warn_mono(const char *cmd, const char *path) {
  fprintf(stderr,
          "%s: warning: %s has one channel, so all its speech is given channel 0's role, %s; "
          "a call recorded in mono mixes both parties (--roles 0=customer or 0=salesperson says "
          "whose it is)\n",
          cmd, path, default_role(0));
}

clap_status segment_manifest(const char *path, const char *audio_ref, const segment_request *r,
                             char **json, int *mono_default, clap_error *err) {
  *json = NULL;
  if (mono_default) *mono_default = 0;
  vad_segment *s = NULL;
  long n = 0;
  int nch = 0;
  clap_status rc = vad_segment_file(path, r->channel, &r->vad, r->max_seconds, &s, &n, &nch, err);
  if (rc) return rc;
  /* Drop a tiny segment whose rounded times collapse (end must exceed start). */
  long k = 0;
  for (long i = 0; i < n; i++)
    if (ms(s[i].end) > ms(s[i].start)) s[k++] = s[i];
  n = k;
  for (long i = 0; i < n && !rc; i++)
    if (!role_of(r, s[i].channel))
      rc = clap_error_set(err, CLAP_ERR_ARG,
                          "%s: channel %d has speech but no role; give --roles %d=salesperson or "
                          "%d=customer",
                          path, s[i].channel, s[i].channel, s[i].channel);
  if (!rc && n == 0) {
    if (r->channel == VAD_ALL_CHANNELS)
      rc = clap_error_set(err, CLAP_ERR_FORMAT, "%s: no speech found on any of its %d channel%s",
                          path, nch, nch == 1 ? "" : "s");
    else
      rc = clap_error_set(err, CLAP_ERR_FORMAT, "%s: no speech found on channel %d", path,
                          r->channel);
  }
  char session[SESSION_ID_MAX + 1];
  segment_session_id(path, session);
  if (!rc) rc = build(session, audio_ref, r, s, n, json, err);
  if (!rc && mono_default) *mono_default = nch == 1 && !r->roles[0];
  free(s);
  return rc;
}
