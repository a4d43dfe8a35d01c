/* manifest: a valid manifest's fields, and one message per refusal the contract names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "manifest.h"
#include "sha256.h"

static clap_error err;

static manifest *parse(const char *json) {
  manifest *m = NULL;
  clap_error_clear(&err);
  manifest_parse(json, strlen(json), "s1.json", "data/m", &m, &err);
  return m;
}

/* Parse must fail with FORMAT and a message containing want. */
static void refuse(const char *json, const char *want) {
  manifest *m = parse(json);
  CHECK(m == NULL);
  CHECK_INT(err.code, CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, want);
  manifest_free(m);
}

#define HEAD "{\"session\":\"s1\",\"utterances\":["
#define U(extra) "{\"id\":\"s1-u1\",\"audio\":\"a.wav\",\"role\":\"customer\"" extra "}"

static const char *full =
    "{\"session\": \"s1\", \"scenario\": \"Car dealership\",\n"
    " \"speakers\": [{\"id\": \"spk1\", \"gender\": \"female\", \"name\": \"Aiko\"},\n"
    "              {\"id\": \"spk2\", \"x-note\": null}],\n"
    " \"utterances\": [\n"
    "  {\"id\": \"s1-u0001\", \"audio\": \"audio/long.wav\", \"speaker\": \"spk1\",\n"
    "   \"role\": \"customer\", \"start\": 1.25, \"end\": 3.5, \"text\": \"\\u3053\\u3093\"},\n"
    "  {\"id\": \"s1-u0002\", \"audio\": \"../other/b.flac\", \"speaker\": \"spk2\",\n"
    "   \"role\": \"salesperson\"},\n"
    "  {\"id\": \"s1-u0003\", \"audio\": \"audio/long.wav\", \"role\": \"customer\",\n"
    "   \"start\": 0, \"end\": 0.5}], \"x-recorded\": [1, {}]}";

static void test_valid_manifest(void) {
  manifest *m = parse(full);
  CHECK(m != NULL);
  if (!m) {
    fprintf(stderr, "%s\n", err.msg);
    return;
  }
  CHECK(!strcmp(manifest_session(m), "s1"));
  CHECK(!strcmp(manifest_scenario(m), "Car dealership"));
  CHECK(!strcmp(manifest_name(m), "s1.json"));
  CHECK_INT(manifest_n_speakers(m), 2);
  CHECK(!strcmp(manifest_speaker_at(m, 0)->name, "Aiko"));
  CHECK(!strcmp(manifest_speaker_at(m, 0)->gender, "female"));
  CHECK(manifest_speaker_at(m, 1)->gender == NULL);
  CHECK(manifest_speaker_at(m, 2) == NULL);
  CHECK_INT(manifest_n_utterances(m), 3);
  const manifest_utterance *u0 = manifest_utterance_at(m, 0), *u1 = manifest_utterance_at(m, 1),
                           *u2 = manifest_utterance_at(m, 2);
  CHECK(!strcmp(u0->id, "s1-u0001"));
  CHECK(!strcmp(u0->audio, "audio/long.wav"));
  CHECK(!strcmp(u0->path, "data/m/audio/long.wav"));
  CHECK(!strcmp(u0->role, "customer"));
  CHECK(!strcmp(u0->speaker, "spk1"));
  CHECK(!strcmp(u0->text, "\xe3\x81\x93\xe3\x82\x93"));
  CHECK_INT(u0->has_start, 1);
  CHECK_INT(u0->has_end, 1);
  CHECK_NEAR(u0->start, 1.25, 0);
  CHECK_NEAR(u0->end, 3.5, 0);
  CHECK(!strcmp(u1->path, "data/m/../other/b.flac"));
  CHECK_INT(u1->has_start, 0);
  CHECK_INT(u1->has_end, 0);
  CHECK(u1->text == NULL);
  CHECK(!strcmp(u1->role, "salesperson"));
  CHECK(u2->speaker == NULL);
  CHECK_INT(u2->has_start, 1);
  CHECK_NEAR(u2->start, 0, 0);
  /* The long recording is one source shared by utterances 0 and 2. */
  CHECK_INT(manifest_n_sources(m), 2);
  CHECK_INT(u0->source, 0);
  CHECK_INT(u1->source, 1);
  CHECK_INT(u2->source, 0);
  CHECK(!strcmp(manifest_source_path(m, 0), "data/m/audio/long.wav"));
  CHECK(!strcmp(manifest_source_path(m, 1), "data/m/../other/b.flac"));
  char hex[SHA256_HEX_SIZE];
  sha256_hex(full, strlen(full), hex);
  CHECK(!strcmp(manifest_sha256(m), hex));
  manifest_free(m);
}

static void test_base_dir_forms(void) {
  const char *j = HEAD U("") "]}";
  manifest *m = NULL;
  CHECK_INT(manifest_parse(j, strlen(j), "x", NULL, &m, &err), CLAP_OK);
  CHECK(m && !strcmp(manifest_utterance_at(m, 0)->path, "a.wav"));
  manifest_free(m);
  CHECK_INT(manifest_parse(j, strlen(j), "x", ".", &m, &err), CLAP_OK);
  CHECK(m && !strcmp(manifest_utterance_at(m, 0)->path, "a.wav"));
  manifest_free(m);
  CHECK_INT(manifest_parse(j, strlen(j), "x", "/d/", &m, &err), CLAP_OK);
  CHECK(m && !strcmp(manifest_utterance_at(m, 0)->path, "/d/a.wav"));
  manifest_free(m);
}

static void test_role_message(void) {
  manifest *m = parse(HEAD U("") "," U("") "," U("") ","
                      "{\"id\":\"s1-u4\",\"audio\":\"a.wav\",\"role\":\"buyer\"}]}");
  CHECK(m == NULL);
  CHECK(!strcmp(err.msg,
                "s1.json: utterances[3].role: must be \"salesperson\" or \"customer\", got \"buyer\""));
  manifest_free(m);
}

static void test_invalid_json(void) {
  refuse("{\"session\": \"s1\",\n  \"utterances\": [,]}", "s1.json: line 2, column 18: invalid JSON");
  refuse("", "s1.json: empty file");
  refuse("{\"session\":\"s1\"} trailing", "invalid JSON");
  refuse("[1,2]", "s1.json: must be a JSON object, got an array");
  refuse("{\"session\":\"s\xff\"}", "line 1, column 14: invalid UTF-8");
  refuse("{\"session\":\"s\xc0\xaf\"}", "invalid UTF-8");
  refuse("{\"session\":\"a\\u0000b\"}", "\\u0000 in a string");
  const char nul[] = "{\"session\":\"a\0b\"}";
  manifest *m = NULL;
  CHECK_INT(manifest_parse(nul, sizeof nul - 1, "s1.json", NULL, &m, &err), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(err.msg, "NUL byte");
  /* An escaped backslash before "u0000" is plain text, not a NUL. */
  m = parse(HEAD U(",\"text\":\"\\\\u0000\"") "]}");
  CHECK(m && !strcmp(manifest_utterance_at(m, 0)->text, "\\u0000"));
  manifest_free(m);
}

static void test_session_id(void) {
  refuse("{\"utterances\":[" U("") "]}", "s1.json: session: required");
  refuse("{\"session\":\"s 1\",\"utterances\":[" U("") "]}",
         "s1.json: session: must match [A-Za-z0-9_.-]{1,64}, got \"s 1\"");
  refuse("{\"session\":\"\",\"utterances\":[" U("") "]}", "session: must match");
  refuse("{\"session\":7,\"utterances\":[" U("") "]}", "session: must be a string, got 7");
  char longid[200];
  snprintf(longid, sizeof longid, "{\"session\":\"%065d\",\"utterances\":[" U("") "]}", 0);
  refuse(longid, "session: must match");
  snprintf(longid, sizeof longid, "{\"session\":\"%064d\",\"utterances\":[" U("") "]}", 0);
  manifest *m = parse(longid);
  CHECK(m != NULL);
  manifest_free(m);
}

static void test_members(void) {
  refuse(HEAD U("") "],\"sesion\":\"x\"}", "s1.json: sesion: unknown member");
  refuse(HEAD U(",\"stat\":1") "]}", "s1.json: utterances[0].stat: unknown member");
  refuse(HEAD U("") "],\"session\":\"s2\"}", "s1.json: session: duplicate key");
  refuse(HEAD U(",\"role\":\"customer\"") "]}", "utterances[0].role: duplicate key");
  refuse("{\"session\":\"s1\",\"scenario\":[],\"utterances\":[" U("") "]}",
         "scenario: must be a string, got an array");
  refuse(HEAD U(",\"text\":5") "]}", "utterances[0].text: must be a string, got 5");
  refuse(HEAD U(",\"text\":null") "]}", "utterances[0].text: must be a string, got null");
  refuse(HEAD U(",\"x-a\":1,\"x-a\":2") "]}", "utterances[0].x-a: duplicate key");
  /* "x-" keys are the user's notes, at every level. */
  manifest *m = parse("{\"x-top\":1,\"session\":\"s1\",\"speakers\":[{\"id\":\"a\",\"x-s\":[]}],"
                      "\"utterances\":[" U(",\"x-u\":{\"k\":null}") "]}");
  CHECK(m != NULL);
  manifest_free(m);
}

static void test_utterances(void) {
  refuse("{\"session\":\"s1\"}", "s1.json: utterances: required");
  refuse("{\"session\":\"s1\",\"utterances\":[]}", "utterances: must not be empty");
  refuse("{\"session\":\"s1\",\"utterances\":{}}", "utterances: must be an array, got an object");
  refuse(HEAD "3]}", "utterances[0]: must be an object, got 3");
  refuse(HEAD "{\"audio\":\"a.wav\",\"role\":\"customer\"}]}", "utterances[0].id: required");
  refuse(HEAD "{\"id\":\"s1/u1\",\"audio\":\"a.wav\",\"role\":\"customer\"}]}",
         "utterances[0].id: must match");
  refuse(HEAD "{\"id\":\"u\",\"role\":\"customer\"}]}", "utterances[0].audio: required");
  refuse(HEAD "{\"id\":\"u\",\"audio\":\"a.wav\"}]}", "utterances[0].role: required");
  refuse(HEAD U("") "," U("") "]}",
         "s1.json: utterances[1].id: duplicate utterance \"s1-u1\" (also utterances[0])");
}

static void test_audio_path(void) {
  refuse(HEAD "{\"id\":\"u\",\"audio\":\"/abs/a.wav\",\"role\":\"customer\"}]}",
         "s1.json: utterances[0].audio: must be relative to the manifest's directory, got \"/abs/a.wav\"");
  refuse(HEAD "{\"id\":\"u\",\"audio\":\"\",\"role\":\"customer\"}]}", "utterances[0].audio: must not be empty");
  refuse(HEAD "{\"id\":\"u\",\"audio\":null,\"role\":\"customer\"}]}", "utterances[0].audio: must be a string, got null");
}

static void test_cuts(void) {
  refuse(HEAD U(",\"start\":-1,\"end\":1") "]}", "utterances[0].start: must be >= 0, got -1");
  refuse(HEAD U(",\"start\":2,\"end\":2") "]}", "utterances[0].end: must be greater than start (2), got 2");
  refuse(HEAD U(",\"start\":3,\"end\":2") "]}", "utterances[0].end: must be greater than start");
  refuse(HEAD U(",\"end\":0") "]}", "utterances[0].end: must be > 0, got 0");
  refuse(HEAD U(",\"start\":\"1\",\"end\":2") "]}", "utterances[0].start: must be a number of seconds, got \"1\"");
  refuse(HEAD U(",\"start\":0,\"end\":1e999") "]}", "utterances[0].end: must be a finite number");
  refuse(HEAD U(",\"start\":null") "]}", "utterances[0].start: must be a number of seconds, got null");
  /* Either end of a cut may be left open. */
  manifest *m = parse(HEAD U(",\"start\":1.5") "]}");
  const manifest_utterance *u = m ? manifest_utterance_at(m, 0) : NULL;
  CHECK(u && u->has_start == 1 && u->has_end == 0 && u->start == 1.5);
  manifest_free(m);
  m = parse(HEAD U(",\"end\":2") "]}");
  u = m ? manifest_utterance_at(m, 0) : NULL;
  CHECK(u && u->has_start == 0 && u->has_end == 1 && u->end == 2);
  manifest_free(m);
}

static void test_speakers(void) {
  refuse("{\"session\":\"s1\",\"speakers\":{},\"utterances\":[" U("") "]}",
         "s1.json: speakers: must be an array, got an object");
  refuse("{\"session\":\"s1\",\"speakers\":[{\"id\":\"a\"},{\"id\":\"b\"},{\"id\":\"a\"}],"
         "\"utterances\":[" U("") "]}",
         "s1.json: speakers[2].id: duplicate speaker \"a\" (also speakers[0])");
  refuse("{\"session\":\"s1\",\"speakers\":[{\"gender\":\"x\"}],\"utterances\":[" U("") "]}",
         "speakers[0].id: required");
  refuse("{\"session\":\"s1\",\"speakers\":[{\"id\":\"a\",\"age\":3}],\"utterances\":[" U("") "]}",
         "speakers[0].age: unknown member");
  refuse("{\"session\":\"s1\",\"speakers\":[{\"id\":\"a\"}],\"utterances\":[" U(",\"speaker\":\"b\"") "]}",
         "s1.json: utterances[0].speaker: \"b\" is not in \"speakers\"");
  /* Without a speakers list any well-formed speaker id is accepted. */
  manifest *m = parse(HEAD U(",\"speaker\":\"b\"") "]}");
  CHECK(m && !strcmp(manifest_utterance_at(m, 0)->speaker, "b"));
  CHECK(m && manifest_n_speakers(m) == 0);
  manifest_free(m);
}

/* The schema's fixtures (tests/fixtures/schemas): valid ones parse, invalid ones do not. */
static void test_schema_fixtures(void) {
  static const char *const valid[] = {"session-full.json", "session-minimal.json"};
  static const char *const invalid[] = {
      "session-absolute-audio.json", "session-bad-id.json", "session-bad-role.json",
      "session-empty-utterances.json", "session-long-id.json", "session-negative-start.json",
      "session-no-utterances.json", "session-speaker-without-id.json", "session-typo-key.json"};
  char path[256];
  for (size_t i = 0; i < sizeof valid / sizeof *valid; i++) {
    manifest *m = NULL;
    snprintf(path, sizeof path, "tests/fixtures/schemas/valid/%s", valid[i]);
    clap_status rc = manifest_load(path, &m, &err);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    CHECK_INT(rc, CLAP_OK);
    manifest_free(m);
  }
  for (size_t i = 0; i < sizeof invalid / sizeof *invalid; i++) {
    manifest *m = NULL;
    snprintf(path, sizeof path, "tests/fixtures/schemas/invalid/%s", invalid[i]);
    CHECK_INT(manifest_load(path, &m, &err), CLAP_ERR_FORMAT);
    CHECK_CONTAINS(err.msg, path);
    manifest_free(m);
  }
}

static void test_load(void) {
  char dir[] = "/tmp/test_manifest_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char path[256];
  snprintf(path, sizeof path, "%s/s1.json", dir);
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  if (!f) return;
  fputs(full, f);
  fclose(f);
  manifest *m = NULL;
  CHECK_INT(manifest_load(path, &m, &err), CLAP_OK);
  char want[300];
  snprintf(want, sizeof want, "%s/audio/long.wav", dir);
  CHECK(m && !strcmp(manifest_utterance_at(m, 0)->path, want));
  CHECK(m && !strcmp(manifest_name(m), path));
  char hex[SHA256_HEX_SIZE];
  sha256_hex(full, strlen(full), hex);
  CHECK(m && !strcmp(manifest_sha256(m), hex));
  manifest_free(m);
  unlink(path);
  CHECK_INT(manifest_load(path, &m, &err), CLAP_ERR_IO);
  CHECK(m == NULL);
  CHECK_CONTAINS(err.msg, path);
  CHECK_CONTAINS(err.msg, "cannot open");
  CHECK_INT(manifest_load(dir, &m, &err), CLAP_ERR_IO);
  CHECK_CONTAINS(err.msg, "is a directory, not a regular file");
  rmdir(dir);
}

int main(void) {
  RUN(test_valid_manifest);
  RUN(test_base_dir_forms);
  RUN(test_role_message);
  RUN(test_invalid_json);
  RUN(test_session_id);
  RUN(test_members);
  RUN(test_utterances);
  RUN(test_audio_path);
  RUN(test_cuts);
  RUN(test_speakers);
  RUN(test_schema_fixtures);
  RUN(test_load);
  return harness_report();
}
