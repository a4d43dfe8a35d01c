/*
** oom_sql — out-of-memory injection for every SQL function of the
** extension (tests/fault/README.md).
**
**   oom_sql DB [--sample N] [--tail T] [--seed S] [--only NAME] [--hook-json]
**
** DB is a clap database holding a model 'default', a table clips(audio)
** with one recording, and checkpoint encoders 'hb' (hubert) and 'db'
** (distilbert) (tests/fault/run_oom.sh makes it). For each statement of
** CASES, on a fresh connection each time:
**   1. the statement runs without faults: its result (every row, blobs in
**      hex) is the reference, and K allocations are counted;
**   2. for each N in 1..K (or the last T of them, where a call's own work
**      is after SQLite's open and prepare, and a seeded sample of N of the
**      rest), once with the
**      Nth allocation failing and once with every allocation from the Nth
**      on failing, the statement must end in SQLITE_NOMEM or an error
**      saying "out of memory" — or succeed with the reference result —
**      and the connection, once closed, must leave no allocation behind.
**
** What is counted and failed, in one sequence: SQLite's own allocations
** (sqlite3_config(SQLITE_CONFIG_MALLOC), lookaside off so each goes
** through it), the engine's (this program is linked with
** -Wl,--wrap=malloc,... : every malloc/calloc/realloc/strdup/aligned_alloc
** call in ext/ reaches the counters below; see the Makefile), and cJSON's
** (cJSON_InitHooks). Not counted: allocations inside other libraries
** (libsndfile, libsoxr, OpenBLAS, SentencePiece's C++ new), which the
** engine cannot see fail.
** Leaks: every live allocation of the three kinds is tracked by address;
** the set must be as large after the connection closes as before it
** opened. Under `make sanitize` LeakSanitizer checks the rest at exit.
** Last line "oom: N passed, N failed" (one per statement and mode).
*/
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

int sqlite3_clap_init(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi);

/* ------------------------------------------------------- fault counter */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long counted;  /* allocations seen while armed */
static long fail_at;  /* 0: none fails */
static int sticky;    /* every one from fail_at on fails */
static long fired;    /* how many were failed */
static int armed;

/* 1 when this allocation is to fail. */
static int should_fail(void) {
  pthread_mutex_lock(&lock);
  int fail = 0;
  if (armed) {
    counted++;
    fail = fail_at && (counted == fail_at || (sticky && counted > fail_at));
    if (fail) fired++;
  }
  pthread_mutex_unlock(&lock);
  return fail;
}

/* Live allocations by address (open addressing; 0 = empty, 1 = deleted). */
#define LIVE_SLOTS (1u << 21)
static uintptr_t *live;
static long nlive;

static size_t slot_of(uintptr_t p) { return (size_t)((p >> 4) * 0x9E3779B97F4A7C15ull >> 43) & (LIVE_SLOTS - 1); }

static void live_add(void *p) {
  if (!p || !live) return;
  pthread_mutex_lock(&lock);
  size_t i = slot_of((uintptr_t)p);
  while (live[i] > 1) i = (i + 1) & (LIVE_SLOTS - 1);
  live[i] = (uintptr_t)p;
  nlive++;
  pthread_mutex_unlock(&lock);
}

/* Forget p; memory from an allocator not tracked here is not in the set. */
static void live_del(void *p) {
  if (!p || !live) return;
  pthread_mutex_lock(&lock);
  for (size_t i = slot_of((uintptr_t)p); live[i]; i = (i + 1) & (LIVE_SLOTS - 1))
    if (live[i] == (uintptr_t)p) {
      live[i] = 1;
      nlive--;
      break;
    }
  pthread_mutex_unlock(&lock);
}

/* ------------------------------------------- the engine's allocations */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
char *__real_strdup(const char *s);
void *__real_aligned_alloc(size_t a, size_t n);

void *__wrap_malloc(size_t n) {
  if (should_fail()) return NULL;
  void *p = __real_malloc(n);
  live_add(p);
  return p;
}
void *__wrap_calloc(size_t n, size_t m) {
  if (should_fail()) return NULL;
  void *p = __real_calloc(n, m);
  live_add(p);
  return p;
}
void *__wrap_realloc(void *p, size_t n) {
  if (should_fail()) return NULL;
  void *q = __real_realloc(p, n);
  if (q || n == 0) live_del(p);
  live_add(q);
  return q;
}
void __wrap_free(void *p) {
  live_del(p);
  __real_free(p);
}
char *__wrap_strdup(const char *s) {
  if (should_fail()) return NULL;
  char *p = __real_strdup(s);
  live_add(p);
  return p;
}
void *__wrap_aligned_alloc(size_t a, size_t n) {
  if (should_fail()) return NULL;
  void *p = __real_aligned_alloc(a, n);
  live_add(p);
  return p;
}

/* ------------------------------------------------- SQLite's, through us */

static sqlite3_mem_methods base_mem;

static void *mem_malloc(int n) {
  if (should_fail()) return NULL;
  void *p = base_mem.xMalloc(n);
  live_add(p);
  return p;
}
static void mem_free(void *p) {
  live_del(p);
  base_mem.xFree(p);
}
static void *mem_realloc(void *p, int n) {
  if (should_fail()) return NULL;
  void *q = base_mem.xRealloc(p, n);
  if (q) live_del(p), live_add(q);
  return q;
}
static int mem_size(void *p) { return base_mem.xSize(p); }
static int mem_roundup(int n) { return base_mem.xRoundup(n); }
static int mem_init(void *x) { return base_mem.xInit(base_mem.pAppData); }
static void mem_shutdown(void *x) { base_mem.xShutdown(base_mem.pAppData); }

/* cJSON's hooks, counted like the engine's. */
static void *json_malloc(size_t n) { return __wrap_malloc(n); }
static void json_free(void *p) { __wrap_free(p); }

/* ------------------------------------------------------------- cases */

typedef struct oom_case {
  const char *name;
  const char *sql;
} oom_case;

static const oom_case CASES[] = {
    {"clap_version", "SELECT clap_version()"},
    {"clap_threads", "SELECT clap_threads()"},
    {"clap_threads(1)", "SELECT clap_threads(1)"},
    {"cosine json", "SELECT cosine('[1, 2, 3]', '[3, 2, 1.5]')"},
    {"cosine blob", "SELECT cosine(x'0000803f00000040', x'0000404000008040')"},
    {"cosine mismatch", "SELECT cosine('[1, 2]', '[1, 2, 3]')"},
    {"clap_encode_audio acoustic", "SELECT clap_encode_audio(audio, 'acoustic') FROM clips"},
    {"clap_encode_audio hubert", "SELECT clap_encode_audio(audio, 'hb') FROM clips"},
    {"clap_encode_audio bad bytes", "SELECT clap_encode_audio(x'00112233', 'acoustic')"},
    {"clap_encode_text ngram", "SELECT clap_encode_text('私は欲しいです', 'ngram')"},
    {"clap_encode_text distilbert", "SELECT clap_encode_text('I want to buy it.', 'db')"},
    {"clap_embed_audio", "SELECT clap_embed_audio(audio) FROM clips"},
    {"clap_embed_audio model", "SELECT clap_embed_audio(audio, 'default') FROM clips"},
    {"clap_embed_text", "SELECT clap_embed_text('私は欲しいです')"},
    {"clap_embed_text unknown model", "SELECT clap_embed_text('x', 'nope')"},
    {"clap_zero_shot", "SELECT clap_zero_shot(clap_embed_audio(audio), '私は欲しくないです', '私は欲しいです') "
                       "FROM clips"},
    {"clap_zero_shot json vector", "SELECT clap_zero_shot(json_array(1, 2, 3), 'a', 'b')"},
    {"clap_classify", "SELECT clap_classify(clap_embed_audio(audio), '[\"いいえ\", \"はい\", \"たぶん\"]') "
                      "FROM clips"},
    {"clap_classify bad json", "SELECT clap_classify(clap_embed_audio(audio), '[1, ') FROM clips"},
    {"clap_zero_shot ensembles", "SELECT clap_zero_shot(clap_embed_audio(audio), '[\"私は欲しくないです\", \"いらない\"]', "
                                 "'[\"私は欲しいです\", \"買いたい\"]') FROM clips"},
    {"clap_classify ensembles", "SELECT clap_classify(clap_embed_audio(audio), "
                                "'[[\"いいえ\", \"違う\"], \"はい\", [\"たぶん\"]]') FROM clips"},
    {"clap_classify bad ensemble", "SELECT clap_classify(clap_embed_audio(audio), '[[], \"x\"]') FROM clips"},
    {"clap_classify_probs", "SELECT clap_classify_probs(clap_embed_audio(audio), "
                            "'[\"いいえ\", [\"はい\", \"うん\"]]') FROM clips"},
    {"clap_embed_text schema", "SELECT clap_embed_text('x', 'main.default')"},
    {"clap_model_from_file missing", "SELECT clap_model_from_file('/nonexistent/m.clap')"},
    {"clap_debug", "SELECT length(clap_debug()) > 0"},
};
#define NCASES (sizeof CASES / sizeof CASES[0])

/* The outcome of one run: rc, and the rows or the error message. */
typedef struct outcome {
  int rc;
  char text[65536];
  char unclosed[256]; /* what kept the connection from closing, "" if nothing */
} outcome;

static void append(outcome *o, const char *s) {
  size_t n = strlen(o->text);
  snprintf(o->text + n, sizeof o->text - n, "%s", s);
}

static void append_value(outcome *o, sqlite3_stmt *st, int i) {
  char buf[64];
  if (sqlite3_column_type(st, i) == SQLITE_BLOB) {
    const unsigned char *b = sqlite3_column_blob(st, i);
    int n = sqlite3_column_bytes(st, i);
    if (!b && n) {
      o->rc = SQLITE_NOMEM;
      return;
    }
    for (int k = 0; k < n; k++) {
      snprintf(buf, sizeof buf, "%02x", b[k]);
      append(o, buf);
    }
  } else {
    const unsigned char *t = sqlite3_column_text(st, i);
    if (!t && sqlite3_column_type(st, i) != SQLITE_NULL) {
      o->rc = SQLITE_NOMEM;
      return;
    }
    append(o, t ? (const char *)t : "NULL");
  }
  append(o, "|");
}

/* Run sql on a new connection to path, the counter armed from open to close. */
static void run_once(const char *path, const char *sql, outcome *o) {
  o->rc = SQLITE_OK;
  o->text[0] = 0;
  sqlite3 *db = NULL;
  armed = 1;
  int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_db_config(db, SQLITE_DBCONFIG_LOOKASIDE, NULL, 0, 0);
  sqlite3_stmt *st = NULL;
  if (rc == SQLITE_OK) rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    for (int i = 0; i < sqlite3_column_count(st); i++) append_value(o, st, i);
    append(o, "\n");
    rc = o->rc;
  }
  if (rc == SQLITE_DONE) rc = SQLITE_OK;
  if (rc != SQLITE_OK) snprintf(o->text, sizeof o->text, "%s", db ? sqlite3_errmsg(db) : "no connection");
  o->rc = rc;
  sqlite3_finalize(st);
  o->unclosed[0] = 0;
  if (sqlite3_close(db) != SQLITE_OK) { /* a statement or blob handle left open */
    sqlite3_stmt *left = sqlite3_next_stmt(db, NULL);
    snprintf(o->unclosed, sizeof o->unclosed, "%s", left ? sqlite3_sql(left) : "a blob handle");
    armed = 0;
    while ((left = sqlite3_next_stmt(db, NULL))) sqlite3_finalize(left);
    sqlite3_close_v2(db); /* closes once the blob handles go; they are lost, so the count shows it */
  }
  armed = 0;
}

static int is_clear_oom(const outcome *o) {
  return (o->rc & 0xff) == SQLITE_NOMEM || strstr(o->text, "out of memory") != NULL;
}

/* A function's error whose text SQLite could not copy: sqlite3_result_error
** and the statement's error message each allocate a copy, and when that
** fails SQLite reports the bare code's text. Accepted only where the run
** without faults ended in an error too. */
static int is_lost_error_text(const outcome *o, const outcome *ref) {
  return ref->rc != SQLITE_OK && o->rc == SQLITE_ERROR && !strcmp(o->text, sqlite3_errstr(SQLITE_ERROR));
}

/* Results equal but for the last bits of float vectors: every blob of a and
** b has the same length and its floats differ by at most 1e-5 relative. The
** few-row AVX-512 GEMM path (ext/nn/gemm.c, bcast_prepare) needs one
** buffer and, without it, runs cblas_sgemm, which rounds differently:
** counted apart as "fallback", not as a failure. */
/* cJSON returns NULL both for text that is not JSON and when it runs out of
** memory, so with --hook-json a parse that failed for want of memory is
** reported as bad JSON: counted apart ("json"), not as a failure. */
static int hook_json;
static int is_json_misreport(const outcome *o) {
  return hook_json && (strstr(o->text, "not valid JSON") || strstr(o->text, "not a JSON object"));
}

static int hexval(char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; }

static int close_results(const char *a, const char *b) {
  while (*a && *b) {
    int hex = 1;
    for (int k = 0; k < 8; k++) hex &= hexval(a[k]) >= 0 && hexval(b[k]) >= 0;
    if (!hex) {
      if (*a++ != *b++) return 0;
      continue;
    }
    uint32_t ua = 0, ub = 0;
    for (int k = 0; k < 8; k += 2) { /* little-endian bytes */
      ua |= (uint32_t)(hexval(a[k]) << 4 | hexval(a[k + 1])) << (4 * k);
      ub |= (uint32_t)(hexval(b[k]) << 4 | hexval(b[k + 1])) << (4 * k);
    }
    float fa, fb;
    memcpy(&fa, &ua, 4);
    memcpy(&fb, &ub, 4);
    double scale = fabs(fb) > 1 ? fabs(fb) : 1;
    if (!(fabs((double)fa - fb) <= 1e-5 * scale)) return 0;
    a += 8, b += 8;
  }
  return *a == *b;
}

/* ---------------------------------------------------------------- main */

static unsigned long long rng_state;
static unsigned long long rng_next(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

/* The fault points of a case: 1..k, or the last `tail` and `sample` of
** the others (seeded). sample 0: all. */
static long pick_points(long k, long sample, long tail, long *pts) {
  long n = 0;
  for (long i = k; i >= 1; i--) pts[n++] = i;
  if (sample <= 0 || sample + tail >= n) return n;
  for (long i = tail; i < tail + sample; i++) {
    long j = i + (long)(rng_next() % (unsigned long long)(n - i));
    long t = pts[i];
    pts[i] = pts[j];
    pts[j] = t;
  }
  return tail + sample;
}

static int run_case(const char *path, const oom_case *c, int mode_sticky, long sample, long tail) {
  static outcome ref, got;
  fail_at = 0;
  counted = 0;
  run_once(path, c->sql, &ref); /* warm: lazily built globals exist after it */
  counted = 0;
  long before = nlive;
  run_once(path, c->sql, &ref);
  long k = counted;
  int bad = 0;
  if (nlive != before) {
    fprintf(stderr, "%s: %ld allocations left after a run without faults\n", c->name, nlive - before);
    bad++;
  }
  long *pts = malloc(sizeof *pts * (size_t)(k + 1));
  long npts = pick_points(k, sample, tail, pts);
  long nomem = 0, same = 0, fallback = 0, json = 0;
  for (long i = 0; i < npts && bad < 5; i++) {
    fail_at = pts[i];
    sticky = mode_sticky;
    counted = fired = 0;
    before = nlive;
    run_once(path, c->sql, &got);
    fail_at = 0;
    const char *why = NULL;
    if (!fired) continue;
    int other = got.rc == SQLITE_OK && (ref.rc != SQLITE_OK || strcmp(got.text, ref.text));
    if (other && ref.rc == SQLITE_OK && close_results(got.text, ref.text))
      fallback++, other = 0;
    if (other)
      why = "succeeded with another result";
    else if (got.rc != SQLITE_OK && !is_clear_oom(&got) && !is_lost_error_text(&got, &ref) &&
             !(ref.rc == got.rc && !strcmp(ref.text, got.text)) && !(is_json_misreport(&got) && ++json))
      why = "failed without saying out of memory";
    else if (got.unclosed[0])
      why = "left a statement or blob handle open";
    else if (nlive != before)
      why = "leaked";
    if (why) {
      fprintf(stderr, "%s (%s at allocation %ld of %ld): %s: rc %d, %.300s; leaked %ld%s%s\n", c->name,
              mode_sticky ? "every allocation failing from" : "one allocation failing", pts[i], k, why, got.rc,
              got.text, nlive - before, got.unclosed[0] ? "; open: " : "", got.unclosed);
      bad++;
    }
    if (got.rc == SQLITE_OK) same++;
    else nomem++;
  }
  free(pts);
  char extra[48] = "";
  if (hook_json) snprintf(extra, sizeof extra, "  bad-JSON message %ld", json);
  printf("%-30s %-6s allocations %5ld  points %5ld  out-of-memory %5ld  succeeded %4ld (fallback %ld)%s  %s\n",
         c->name, mode_sticky ? "sticky" : "one", k, npts, nomem, same, fallback, extra, bad ? "FAIL" : "ok");
  fflush(stdout);
  return bad == 0;
}

int main(int argc, char **argv) {
  const char *path = NULL, *only = NULL;
  long sample = 0, tail = 0;
  unsigned long long seed = 1;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--sample") && i + 1 < argc) sample = atol(argv[++i]);
    else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
    else if (!strcmp(argv[i], "--hook-json")) hook_json = 1;
    else if (!strcmp(argv[i], "--tail") && i + 1 < argc) tail = atol(argv[++i]);
    else if (!path && argv[i][0] != '-') path = argv[i];
    else {
      fprintf(stderr, "usage: oom_sql DB [--sample N] [--tail T] [--seed S] [--only NAME] [--hook-json]\n");
      return 2;
    }
  }
  if (!path) {
    fprintf(stderr, "usage: oom_sql DB [--sample N] [--seed S] [--only NAME]\n");
    return 2;
  }
  rng_state = seed * 0x9E3779B97F4A7C15ull + 1;
  live = __real_calloc(LIVE_SLOTS, sizeof *live);
  static sqlite3_mem_methods mine;
  if (!live || sqlite3_config(SQLITE_CONFIG_GETMALLOC, &base_mem) != SQLITE_OK) return 1;
  mine = (sqlite3_mem_methods){mem_malloc, mem_free, mem_realloc, mem_size, mem_roundup, mem_init, mem_shutdown,
                               NULL};
  if (sqlite3_config(SQLITE_CONFIG_MALLOC, &mine) != SQLITE_OK ||
      sqlite3_config(SQLITE_CONFIG_LOOKASIDE, 0, 0) != SQLITE_OK) {
    fprintf(stderr, "oom_sql: sqlite3_config failed (called after sqlite3_initialize?)\n");
    return 1;
  }
  if (hook_json) {
    cJSON_Hooks hooks = {json_malloc, json_free};
    cJSON_InitHooks(&hooks);
  }
  sqlite3_auto_extension((void (*)(void))sqlite3_clap_init);
  int passed = 0, failed = 0;
  for (size_t i = 0; i < NCASES; i++) {
    if (only && !strstr(CASES[i].name, only)) continue;
    for (int mode = 0; mode < 2; mode++) {
      if (run_case(path, &CASES[i], mode, sample, tail)) passed++;
      else failed++;
    }
  }
  sqlite3_shutdown();
  printf("oom: %d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
