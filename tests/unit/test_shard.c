/* shard: K/N parsing, shard ownership (pinned values, balance), the default
** shard path, the shard record, and merge on databases whose features table
** has a column this code has never heard of. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "harness.h"
#include "clap_version.h"
#include "shard.h"

static char dir[256];

static const char *tmp_path(const char *name) {
  static char buf[4][512];
  static int k;
  k = (k + 1) % 4;
  snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
  return buf[k];
}

static void exec(sqlite3 *db, const char *sql) {
  char *e = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &e) != SQLITE_OK) {
    fprintf(stderr, "SQL failed: %s: %s\n", sql, e);
    harness_current_failed++;
  }
  sqlite3_free(e);
}

static long long int_of(sqlite3 *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  long long v = -12345;
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

static void test_parse(void) {
  clap_error e;
  int k, n;
  CHECK_INT(shard_parse("2/8", &k, &n, &e), CLAP_OK);
  CHECK_INT(k, 2);
  CHECK_INT(n, 8);
  CHECK_INT(shard_parse("1/1", &k, &n, &e), CLAP_OK);
  CHECK_INT(shard_parse("1000000/1000000", &k, &n, &e), CLAP_OK);
  CHECK_INT(k, 1000000);
  CHECK_INT(shard_parse("007/10", &k, &n, &e), CLAP_OK);
  CHECK_INT(k, 7);

  CHECK_INT(shard_parse("0/3", &k, &n, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "--shard '0/3': K must be 1..3");
  CHECK_INT(k, 0);
  CHECK_INT(shard_parse("4/3", &k, &n, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "--shard '4/3': K must be 1..3");
  CHECK_INT(shard_parse("1/0", &k, &n, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "--shard '1/0': N must be at least 1");
  const char *bad[] = {"x", "", "1", "1/", "/3", "-1/3", "1/-3", "1/3x", " 1/3", "1/ 3",
                       "1/2/3", "+1/3", "1.0/3", "1/1000001", "99999999999999999999/3"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    CHECK_INT(shard_parse(bad[i], &k, &n, &e), CLAP_ERR_ARG);
    CHECK_CONTAINS(e.msg, "--shard wants K/N");
    char quoted[64];
    snprintf(quoted, sizeof quoted, "'%s'", bad[i]);
    CHECK_CONTAINS(e.msg, quoted);
  }
  CHECK_INT(shard_parse(NULL, &k, &n, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "--shard wants K/N");
}

/* The values a separate implementation (Python's hashlib) gives: existing
** shards keep their keys only while these hold. */
static void test_pinned(void) {
  CHECK_INT(shard_of("t1-u0", 3), 3);
  CHECK_INT(shard_of("t1-u1", 3), 1);
  CHECK_INT(shard_of("s1-003", 8), 4);
  CHECK_INT(shard_of("", 5), 3);
  CHECK_INT(shard_of("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", 16), 16);
  CHECK_INT(shard_of("x", 1000000), 479877);
  CHECK_INT(shard_of("anything", 1), 1);
  CHECK_INT(shard_of("anything", 0), 0);
}

/* 30000 keys over N shards: every key in 1..N, each shard within 5% of
** the mean, and the same answer asked twice. */
static void test_balanced(void) {
  static const int ns[] = {2, 3, 7, 16};
  enum { KEYS = 30000 };
  for (size_t t = 0; t < sizeof ns / sizeof *ns; t++) {
    int n = ns[t];
    long count[16] = {0};
    int outside = 0, unstable = 0;
    for (int i = 0; i < KEYS; i++) {
      char key[32];
      snprintf(key, sizeof key, "s%d-u%04d", i / 500, i % 500);
      int s = shard_of(key, n);
      if (s < 1 || s > n) outside++;
      else count[s - 1]++;
      unstable += shard_of(key, n) != s;
    }
    CHECK_INT(outside, 0);
    CHECK_INT(unstable, 0);
    double mean = (double)KEYS / n;
    for (int s = 0; s < n; s++) CHECK_NEAR(count[s], mean, 0.05 * mean);
  }
}

static void test_default_path(void) {
  char out[64];
  clap_error e;
  CHECK_INT(shard_default_path("data/corpus.db", 2, 3, out, sizeof out, &e), CLAP_OK);
  CHECK(!strcmp(out, "data/corpus.shard-2-of-3.db"));
  CHECK_INT(shard_default_path("corpus.sqlite", 1, 1, out, sizeof out, &e), CLAP_OK);
  CHECK(!strcmp(out, "corpus.sqlite.shard-1-of-1.db"));
  CHECK_INT(shard_default_path(".db", 1, 2, out, sizeof out, &e), CLAP_OK);
  CHECK(!strcmp(out, ".db.shard-1-of-2.db"));
  char tiny[8];
  CHECK_INT(shard_default_path("corpus.db", 1, 2, tiny, sizeof tiny, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "too long");
}

/* v(dim, x): a vector as the cache stores it, dim float32 (x, then zeros):
** merge checks each row's size against the encoder's dimension. */
static void vec_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  int dim = sqlite3_value_int(argv[0]);
  float *v = sqlite3_malloc(dim * (int)sizeof(float));
  if (!v) return sqlite3_result_error_nomem(ctx);
  memset(v, 0, (size_t)dim * sizeof(float));
  v[0] = (float)sqlite3_value_double(argv[1]);
  sqlite3_result_blob(ctx, v, dim * (int)sizeof(float), sqlite3_free);
}

static sqlite3 *open_db(const char *name) {
  sqlite3 *db = NULL;
  clap_error e;
  if (db_open(tmp_path(name), DB_CREATE, &db, &e) != CLAP_OK) {
    fprintf(stderr, "%s\n", e.msg);
    harness_current_failed++;
  }
  if (db) sqlite3_create_function(db, "v", 2, SQLITE_UTF8, NULL, vec_fn, NULL, NULL);
  return db;
}

/* The utterances u1..u9 a merge target holds: merge refuses audio rows of
** utterances the database lacks. */
static void add_utterances(sqlite3 *db) {
  char *e = NULL;
  if (sqlite3_exec(db,
                   "INSERT INTO sessions(id) VALUES ('s');"
                   "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 9) "
                   "INSERT INTO utterances(id, session_id, role, source_path, source_sha256, "
                   "source_rate, source_channels, duration, audio) "
                   "SELECT 'u' || i, 's', 'customer', 'a.wav', 'aa', 16000, 1, 1, x'' FROM n",
                   NULL, NULL, &e) != SQLITE_OK) {
    fprintf(stderr, "add_utterances: %s\n", e);
    harness_current_failed++;
  }
  sqlite3_free(e);
}

/* The built-ins' identities now (features_identity). */
#define AID "builtin:acoustic:clap-" CLAP_VERSION
#define TID "builtin:ngram:clap-" CLAP_VERSION
#define COLS "(encoder, modality, key, dim, vec, encoder_id, weights_id)"
/* Vectors of the built-ins' sizes, and a text key (a SHA-256). */
#define A1 "50,v(50,1)"
#define A0 "50,v(50,0)"
#define T2 "1024,v(1024,2)"
#define TK "'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'"

static shard_info info_of(sqlite3 *src, int k, int n) {
  shard_info i = {.k = k, .n = n, .source = "src.db", .audio_encoder = "acoustic",
                  .audio_sha256 = "", .text_encoder = "ngram", .text_sha256 = "",
                  .audio_id = AID, .text_id = TID};
  clap_error e;
  if (shard_fingerprint(src, i.fingerprint, &e) != CLAP_OK) harness_current_failed++;
  return i;
}

static void test_fingerprint(void) {
  sqlite3 *a = open_db("fa.db"), *b = open_db("fb.db");
  clap_error e;
  char fa[SHA256_HEX_SIZE], fb[SHA256_HEX_SIZE];
  const char *rows =
      "INSERT INTO sessions(id) VALUES ('s');"
      "INSERT INTO utterances(id, session_id, role, source_path, source_sha256, start_seconds,"
      " source_rate, source_channels, duration, audio) VALUES"
      " ('u1','s','customer','a.wav','aa',0.5,16000,1,1,x''),"
      " ('u2','s','customer','b.wav','bb',NULL,16000,1,1,x'')";
  exec(a, rows);
  exec(b, rows);
  CHECK_INT(shard_fingerprint(a, fa, &e), CLAP_OK);
  CHECK_INT(shard_fingerprint(b, fb, &e), CLAP_OK);
  CHECK_INT(strlen(fa), 64);
  CHECK(!strcmp(fa, fb)); /* the same utterances elsewhere */
  exec(b, "UPDATE utterances SET audio = x'00' WHERE id = 'u1'");
  CHECK_INT(shard_fingerprint(b, fb, &e), CLAP_OK);
  CHECK(!strcmp(fa, fb)); /* the stored bytes are derived, not identity */
  exec(b, "UPDATE utterances SET start_seconds = 0.25 WHERE id = 'u1'");
  CHECK_INT(shard_fingerprint(b, fb, &e), CLAP_OK);
  CHECK(strcmp(fa, fb) != 0); /* another cut */
  exec(b, "UPDATE utterances SET start_seconds = 0.5, source_sha256 = 'ab' WHERE id = 'u1'");
  CHECK_INT(shard_fingerprint(b, fb, &e), CLAP_OK);
  CHECK(strcmp(fa, fb) != 0); /* another source file */
  /* moving a character between fields changes it too */
  exec(b, "UPDATE utterances SET source_sha256 = 'aa', id = 'u1a' WHERE id = 'u1';"
          "UPDATE utterances SET source_sha256 = 'a' WHERE id = 'u1a'");
  CHECK_INT(shard_fingerprint(b, fb, &e), CLAP_OK);
  CHECK(strcmp(fa, fb) != 0);
  db_close(a);
  db_close(b);
}

static void test_record(void) {
  sqlite3 *src = open_db("rsrc.db"), *s = open_db("r1.db");
  clap_error e;
  shard_info i = info_of(src, 1, 3);
  CHECK_INT(shard_record(s, "r1.db", &i, &e), CLAP_OK);
  CHECK_INT(shard_record(s, "r1.db", &i, &e), CLAP_OK); /* a re-run continues */
  CHECK_INT(int_of(s, "SELECT count(*) FROM clap_shard"), 1);
  shard_info other = i;
  other.k = 2;
  CHECK_INT(shard_record(s, "r1.db", &other, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "r1.db is shard 1/3 of src.db");
  CHECK_CONTAINS(e.msg, "this run is shard 2/3");
  other = i;
  other.text_encoder = "my-bert";
  CHECK_INT(shard_record(s, "r1.db", &other, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "(encoders acoustic, my-bert)");
  other = i;
  other.fingerprint[0] = other.fingerprint[0] == 'a' ? 'b' : 'a';
  CHECK_INT(shard_record(s, "r1.db", &other, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "the utterances differ");
  /* Same names, other files (encoder add --replace): the record follows. */
  other = i;
  other.audio_id = "builtin:acoustic:clap-9.9.9";
  CHECK_INT(shard_record(s, "r1.db", &other, &e), CLAP_OK);
  CHECK_INT(int_of(s, "SELECT count(*) FROM clap_shard WHERE audio_encoder_id = "
                      "'builtin:acoustic:clap-9.9.9' AND text_encoder_id = '" TID "'"), 1);
  db_close(src);
  db_close(s);
}

/* A later schema adds a column to features (the encoder identity, say):
** merge copies it without knowing it, and compares it for conflicts. */
static void test_merge_unknown_column(void) {
  sqlite3 *db = open_db("m.db"), *s = open_db("m1.db");
  add_utterances(db);
  clap_error e;
  const char *add = "ALTER TABLE features ADD COLUMN weights_id TEXT";
  exec(db, add);
  exec(s, add);
  shard_info i = info_of(db, 1, 2);
  CHECK_INT(shard_record(s, "m1.db", &i, &e), CLAP_OK);
  exec(s, "INSERT INTO features" COLS " VALUES ('acoustic','audio','u1'," A1 ",'" AID "','w-1'),"
          "('ngram','text'," TK "," T2 ",'" TID "','w-2')");
  db_close(s);
  shard_merge_counts c;
  CHECK_INT(shard_merge(db, tmp_path("m1.db"), &c, &e), CLAP_OK);
  CHECK_INT(c.k, 1);
  CHECK_INT(c.n, 2);
  CHECK_INT(c.rows, 2);
  CHECK_INT(c.added, 2);
  CHECK_INT(c.present, 0);
  CHECK_INT(int_of(db, "SELECT count(*) FROM features WHERE weights_id = iif(modality = 'text', 'w-2', 'w-1')"), 2);
  CHECK_INT(shard_merge(db, tmp_path("m1.db"), &c, &e), CLAP_OK);
  CHECK_INT(c.added, 0);
  CHECK_INT(c.present, 2);
  CHECK_INT(int_of(db, "SELECT count(*) FROM pragma_database_list WHERE name <> 'main'"), 0); /* detached */

  /* Only the unknown column differs: a conflict all the same. */
  s = open_db("m2.db");
  exec(s, add);
  CHECK_INT(shard_record(s, "m2.db", &i, &e), CLAP_OK);
  exec(s, "INSERT INTO features" COLS " VALUES ('acoustic','audio','u1'," A1 ",'" AID "','w-other'),"
          "('acoustic','audio','u2'," A1 ",'" AID "','w-1')");
  db_close(s);
  CHECK_INT(shard_merge(db, tmp_path("m2.db"), &c, &e), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(e.msg, "m2.db: 1 feature row conflict");
  CHECK_CONTAINS(e.msg, "encoder 'acoustic', modality 'audio', key 'u1'");
  CHECK_INT(c.conflicts, 1);
  CHECK_INT(c.added, 0);
  CHECK_INT(int_of(db, "SELECT count(*) FROM features"), 2); /* u2 did not land */

  /* A shard without the column (made before it existed). */
  s = open_db("m3.db");
  CHECK_INT(shard_record(s, "m3.db", &i, &e), CLAP_OK);
  db_close(s);
  CHECK_INT(shard_merge(db, tmp_path("m3.db"), &c, &e), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(e.msg, "m3.db: its features table has no column 'weights_id'");

  /* A row the table's constraints reject is not silently dropped (quick_check
  ** finds it before the copy would). */
  s = open_db("m4.db");
  exec(s, add);
  CHECK_INT(shard_record(s, "m4.db", &i, &e), CLAP_OK);
  exec(s, "PRAGMA ignore_check_constraints = 1;"
          "INSERT INTO features" COLS " VALUES ('acoustic','sound','u9'," A1 ",'" AID "','w-1'),"
          "('acoustic','audio','u8'," A1 ",'" AID "','w-1')");
  db_close(s);
  CHECK_INT(shard_merge(db, tmp_path("m4.db"), &c, &e), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(e.msg, "m4.db: fails PRAGMA quick_check: CHECK constraint failed in features");
  CHECK_INT(int_of(db, "SELECT count(*) FROM features"), 2);
  db_close(db);
}

/* Staleness: a DB row of another encoder_id is replaced by the shard's
** fresh one (not a conflict); a shard of another identity, or holding a row
** of another identity than it records, is refused. */
static void test_merge_stale(void) {
  sqlite3 *db = open_db("st.db"), *s = open_db("st1.db");
  add_utterances(db);
  clap_error e;
  shard_info i = info_of(db, 1, 2);
  exec(db, "INSERT INTO features VALUES ('acoustic','audio','u1'," A0 ",'builtin:acoustic:clap-0.0.1'),"
           "('acoustic','audio','u2'," A0 ",NULL),"
           "('ngram','text'," TK "," T2 ",'" TID "')");
  CHECK_INT(shard_record(s, "st1.db", &i, &e), CLAP_OK);
  exec(s, "INSERT INTO features VALUES ('acoustic','audio','u1'," A1 ",'" AID "'),"
          "('acoustic','audio','u2'," A1 ",'" AID "'),"
          "('acoustic','audio','u3'," A1 ",'" AID "'),"
          "('ngram','text'," TK "," T2 ",'" TID "')");
  db_close(s);
  shard_merge_counts c;
  CHECK_INT(shard_merge(db, tmp_path("st1.db"), &c, &e), CLAP_OK);
  CHECK_INT(c.rows, 4);
  CHECK_INT(c.added, 1);
  CHECK_INT(c.present, 1);
  CHECK_INT(c.replaced, 2);
  CHECK_INT(int_of(db, "SELECT count(*) FROM features WHERE modality = 'audio' AND "
                       "vec = v(50,1) AND encoder_id = '" AID "'"), 3);
  CHECK_INT(shard_merge(db, tmp_path("st1.db"), &c, &e), CLAP_OK);
  CHECK_INT(c.present, 4);
  CHECK_INT(c.replaced, 0);

  /* The same identity with other bytes is still a conflict. */
  exec(db, "UPDATE features SET vec = v(50,0) WHERE key = 'u3'");
  CHECK_INT(shard_merge(db, tmp_path("st1.db"), &c, &e), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(e.msg, "st1.db: 1 feature row conflict");
  CHECK_CONTAINS(e.msg, "key 'u3'");

  /* A shard made with another identity of the encoder. */
  s = open_db("st2.db");
  shard_info old = i;
  old.audio_id = "builtin:acoustic:clap-0.0.1";
  CHECK_INT(shard_record(s, "st2.db", &old, &e), CLAP_OK);
  db_close(s);
  CHECK_INT(shard_merge(db, tmp_path("st2.db"), &c, &e), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(e.msg, "st2.db: made with encoder 'acoustic' of identity builtin:acoustic:clap-0.0.1, "
                        "here 'acoustic' is identity " AID);

  /* A row whose identity is not the recorded one (an interrupted re-run). */
  s = open_db("st3.db");
  CHECK_INT(shard_record(s, "st3.db", &i, &e), CLAP_OK);
  exec(s, "INSERT INTO features VALUES ('acoustic','audio','u7'," A1 ",'" AID "'),"
          "('acoustic','audio','u8'," A1 ",'builtin:acoustic:clap-0.0.1'),"
          "('hb','audio','u9'," A1 ",'" AID "')");
  db_close(s);
  CHECK_INT(shard_merge(db, tmp_path("st3.db"), &c, &e), CLAP_ERR_FORMAT);
  CHECK_CONTAINS(e.msg, "st3.db: 2 feature rows of another encoder or encoder identity than the shard records");
  CHECK_INT(int_of(db, "SELECT count(*) FROM features WHERE key IN ('u7','u8','u9')"), 0);
  db_close(db);
}

int main(void) {
  snprintf(dir, sizeof dir, "%s/clap-test-shard.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  RUN(test_parse);
  RUN(test_pinned);
  RUN(test_balanced);
  RUN(test_default_path);
  RUN(test_fingerprint);
  RUN(test_record);
  RUN(test_merge_unknown_column);
  RUN(test_merge_stale);
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  return harness_report();
}
