/*
** clap paraphrase — augment the class descriptions with LLM paraphrases
** (paper §II-C, Table I) through an OpenAI-compatible chat-completions API.
**
**   clap paraphrase DB [--base-url URL] [--model M] [--per-description N]
**                      [--temperature T] [--concurrency N] [--max-rounds N]
**                      [--timeout S] [--max-attempts N] [--max-wait S]
**                      [--dimension D] [--offline] [--dry-run]
**   clap paraphrase DB --import FILE [--export FILE]
**   clap paraphrase DB --export FILE
**
** For each original description (source 'original') of the six training
** dimensions that has fewer than N (default 10) accepted paraphrases —
** rows of source paraphrase, bundled or manual with status 'ok' — the Table I
** prompt asks for the missing number. The reply's sentences (any numbering
** or bullets, see paraphrase.h) are trimmed; a sentence already stored
** anywhere in descriptions (compared in NFKC, final 。 ignored) or seen
** earlier in the run is dropped; one containing the prohibited word after
** NFKC, or with no kana or kanji, is rejected. Rounds ask again for what is
** still missing, up to --max-rounds (default 3). Accepted sentences are
** stored with source 'paraphrase', status 'ok', the prohibited word, the
** model the server named, prompt_sha256 (of the prompt text) and
** created_at; when a description is still short after the last round, its
** rejected sentences are stored with status 'rejected' and the reason, for
** the manual correction step (--export, fix, --import).
**
** Requests (llm.h) run --concurrency at a time. Every successful exchange is
** kept in llm_cache keyed by SHA-256(endpoint, model, prompt, temperature,
** round): a re-run sends nothing it sent before; --offline answers from the
** cache only (a miss is an error for that description). --dry-run prints the
** prompts of the first round and sends and writes nothing.
**
** Writing: one transaction at the end of the run. When a request failed and
** no valid paraphrase arrived, nothing is written to descriptions (the
** cache keeps what did arrive). A failed request — after the retries llm.h
** makes — fails its description; an authentication, permission, not-found
** or quota error stops the run after the current round. The exit status is
** 1 when any request failed, 2 on a usage error, 0 otherwise (descriptions
** left short are reported on stderr). The last line on stdout is the usage
** report: "paraphrase: N descriptions, N stored, N short; N rejected
** (N stored), N duplicates; N requests (N retries, N failed), N from the
** cache; tokens N prompt + N completion = N".
**
** --import FILE reads a descriptions file (schemas/descriptions.schema.json),
** validates all of it before writing (a missing prohibited word is taken
** from the original of the same dimension and pole), and upserts every entry
** in one transaction, keeping the file's source (default 'manual') and
** status; originals and prompts already in the database are never changed.
** --export FILE writes every description that is not an original or a
** prompt, rejected ones included, in the same format ("-" is stdout), whole
** or not at all (ext/core/fileio.h: a symlink is followed, a replaced file
** keeps its mode, a FILE that is a device or a FIFO is refused).
*/
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>
#include <sqlite3.h>

#include "cli.h"
#include "commands.h"
#include "db.h"
#include "fileio.h"
#include "llm.h"
#include "paraphrase.h"
#include "sha256.h"

#define DEFAULT_BASE_URL "https://api.openai.com/v1"
#define DEFAULT_MODEL "gpt-4"
#define MAX_IMPORT_BYTES ((size_t)64 << 20)

typedef struct options {
  const char *db, *base_url, *model, *export_path, *import_path, *dimension;
  int per, concurrency, max_rounds, max_attempts, offline, dry_run;
  double temperature, timeout, max_wait;
} options;

/* A sentence kept by the run: accepted, or rejected with its reason. */
typedef struct cand {
  char *text;
  char *reason;           /* NULL when accepted */
  char *model;
  char sha[SHA256_HEX_SIZE];
} cand;

typedef struct cands {
  cand *v;
  int n, cap;
} cands;

/* One original description being paraphrased. */
typedef struct target {
  char *dimension, *text, *gloss, *prohibited, *prohibited_gloss;
  int pole;
  int missing;
  int failed;
  cands ok, rejected;
  /* the current round */
  char *prompt, *body;
  char prompt_sha[SHA256_HEX_SIZE], key[SHA256_HEX_SIZE];
} target;

/* Dedup keys of every description text stored or accepted so far. */
typedef struct keyset {
  char **v;
  int n, cap;
} keyset;

typedef struct run {
  options o;
  sqlite3 *db;
  llm_client *llm;
  const char *endpoint;
  target *t;
  int nt;
  keyset seen;
  int fatal;
  int request_failures;
  long cache_hits, duplicates;
} run;

/* ---- options ------------------------------------------------------------- */

static void paraphrase_usage(FILE *f) {
  fprintf(f,
          "usage: clap paraphrase DB [--base-url URL] [--model M] [--per-description N]\n"
          "                          [--temperature T] [--concurrency N] [--max-rounds N]\n"
          "                          [--timeout S] [--max-attempts N] [--max-wait S]\n"
          "                          [--dimension D] [--offline] [--dry-run]\n"
          "       clap paraphrase DB --import FILE | --export FILE\n"
          "\n"
          "Paraphrase the original class descriptions with an OpenAI-compatible\n"
          "chat-completions API (paper Table I). The key comes from CLAP_API_KEY,\n"
          "else OPENAI_API_KEY (local servers need none).\n"
          "  --base-url URL         API base (default " DEFAULT_BASE_URL ");\n"
          "                         llama.cpp http://127.0.0.1:8080/v1, Ollama\n"
          "                         http://127.0.0.1:11434/v1, vLLM http://127.0.0.1:8000/v1\n"
          "  --model M              model name (default " DEFAULT_MODEL ")\n"
          "  --per-description N    paraphrases wanted per description (default 10)\n"
          "  --temperature T        sampling temperature 0..2 (default 0.7)\n"
          "  --concurrency N        requests in flight (default 4)\n"
          "  --max-rounds N         asks per description for missing ones (default 3)\n"
          "  --timeout S            seconds for one request (default 120)\n"
          "  --max-attempts N       tries per request incl. retries (default 5)\n"
          "  --max-wait S           longest wait before a retry (default 60)\n"
          "  --dimension D          only this dimension\n"
          "  --offline              answer from the cache only; send nothing\n"
          "  --dry-run              print the prompts; send and write nothing\n"
          "  --import FILE          import a descriptions file (manual correction)\n"
          "  --export FILE          export paraphrases (and rejected ones) to FILE\n");
}

enum { OPT_BASE_URL = CLI_OPT, OPT_MODEL, OPT_PER, OPT_TEMPERATURE, OPT_CONCURRENCY,
       OPT_MAX_ROUNDS, OPT_TIMEOUT, OPT_MAX_ATTEMPTS, OPT_MAX_WAIT, OPT_DIMENSION, OPT_OFFLINE,
       OPT_DRY_RUN, OPT_IMPORT, OPT_EXPORT };
static const struct option paraphrase_opts[] = {
    CLI_HELP_OPTION, CLI_DB_OPTION,
    {"base-url", required_argument, NULL, OPT_BASE_URL},
    {"model", required_argument, NULL, OPT_MODEL},
    {"per-description", required_argument, NULL, OPT_PER},
    {"temperature", required_argument, NULL, OPT_TEMPERATURE},
    {"concurrency", required_argument, NULL, OPT_CONCURRENCY},
    {"max-rounds", required_argument, NULL, OPT_MAX_ROUNDS},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"max-attempts", required_argument, NULL, OPT_MAX_ATTEMPTS},
    {"max-wait", required_argument, NULL, OPT_MAX_WAIT},
    {"dimension", required_argument, NULL, OPT_DIMENSION},
    {"offline", no_argument, NULL, OPT_OFFLINE},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"import", required_argument, NULL, OPT_IMPORT},
    {"export", required_argument, NULL, OPT_EXPORT},
    {0}};

/* An integer option's value in [lo, hi] into *out; 0, or 2 after a usage error. */
static int int_option(const cli *c, long lo, long hi, int *out) {
  long x;
  if (cli_int(c, lo, hi, &x)) return 2;
  *out = (int)x;
  return 0;
}

/* One option into o; 0, or 2 after a usage error. */
static int paraphrase_option(options *o, const cli *c, int opt) {
  switch (opt) {
  case OPT_BASE_URL: o->base_url = optarg; return 0;
  case OPT_MODEL: o->model = optarg; return 0;
  case OPT_EXPORT: o->export_path = optarg; return 0;
  case OPT_IMPORT: o->import_path = optarg; return 0;
  case OPT_DIMENSION: o->dimension = optarg; return 0;
  case OPT_OFFLINE: o->offline = 1; return 0;
  case OPT_DRY_RUN: o->dry_run = 1; return 0;
  case OPT_PER: return int_option(c, 1, 99, &o->per);
  case OPT_CONCURRENCY: return int_option(c, 1, 64, &o->concurrency);
  case OPT_MAX_ROUNDS: return int_option(c, 1, 20, &o->max_rounds);
  case OPT_MAX_ATTEMPTS: return int_option(c, 1, 20, &o->max_attempts);
  case OPT_TEMPERATURE: return cli_number(c, 0, 2, &o->temperature);
  case OPT_TIMEOUT: return cli_number(c, 0.001, 86400, &o->timeout);
  case OPT_MAX_WAIT: return cli_number(c, 0, 3600, &o->max_wait);
  }
  return 0;
}

/* Returns -1 to go on, else an exit status. */
static int parse_args(int argc, char **argv, options *o) {
  cli c = {.cmd = "clap paraphrase", .help_fn = paraphrase_usage};
  for (int opt; (opt = cli_next(&c, argc, argv, "", paraphrase_opts)) != CLI_END;)
    if (opt == CLI_EXIT) return c.status;
    else if (paraphrase_option(o, &c, opt)) return 2;
  static const char *const operands[] = {"database", NULL};
  if (cli_operands(&c, argc, argv, operands, 1, 1)) return 2;
  o->db = argv[optind];
  return -1;
}

/* ---- small containers ---------------------------------------------------- */

static int cands_add(cands *c, const char *text, const char *reason, const char *model, const char *sha) {
  if (c->n == c->cap) {
    int cap = c->cap ? 2 * c->cap : 16;
    cand *v = realloc(c->v, (size_t)cap * sizeof *v);
    if (!v) return 0;
    c->v = v;
    c->cap = cap;
  }
  cand *x = &c->v[c->n];
  memset(x, 0, sizeof *x);
  x->text = strdup(text);
  x->reason = reason ? strdup(reason) : NULL;
  x->model = model ? strdup(model) : NULL;
  snprintf(x->sha, sizeof x->sha, "%s", sha ? sha : "");
  if (!x->text || (reason && !x->reason) || (model && !x->model)) {
    free(x->text), free(x->reason), free(x->model);
    return 0;
  }
  c->n++;
  return 1;
}

static void cands_free(cands *c) {
  for (int i = 0; i < c->n; i++) free(c->v[i].text), free(c->v[i].reason), free(c->v[i].model);
  free(c->v);
}

static int keyset_has(const keyset *k, const char *key) {
  for (int i = 0; i < k->n; i++)
    if (!strcmp(k->v[i], key)) return 1;
  return 0;
}

/* Takes ownership of key. */
static int keyset_add(keyset *k, char *key) {
  if (k->n == k->cap) {
    int cap = k->cap ? 2 * k->cap : 64;
    char **v = realloc(k->v, (size_t)cap * sizeof *v);
    if (!v) return free(key), 0;
    k->v = v;
    k->cap = cap;
  }
  k->v[k->n++] = key;
  return 1;
}

static char *col_dup(sqlite3_stmt *st, int i) {
  const unsigned char *s = sqlite3_column_text(st, i);
  return s ? strdup((const char *)s) : NULL;
}

static clap_status sql_error(sqlite3 *db, clap_error *err, const char *what) {
  return clap_error_set(err, CLAP_ERR_IO, "%s: %s", what, sqlite3_errmsg(db));
}

/* ---- loading ------------------------------------------------------------- */

static clap_status load_seen(run *r, clap_error *err) {
  sqlite3_stmt *st = NULL;
  clap_status s = db_prepare(r->db, "SELECT text FROM descriptions", &st, err);
  int rc = DB_DONE;
  while (s == CLAP_OK && (rc = db_step(st, err)) == DB_ROW) {
    char *k = paraphrase_dedup_key((const char *)sqlite3_column_text(st, 0));
    if (k && !keyset_add(&r->seen, k)) s = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  }
  if (s == CLAP_OK) s = DB_STATUS(rc);
  sqlite3_finalize(st);
  if (s != CLAP_OK) clap_error_prefix(err, "reading descriptions: ");
  return s;
}

static const char *TARGETS_SQL =
    "SELECT d.dimension, d.pole, d.text, d.gloss, d.prohibited,"
    "       CASE d.pole WHEN 0 THEN m.negative_gloss ELSE m.positive_gloss END,"
    "       (SELECT count(*) FROM descriptions p WHERE p.dimension = d.dimension AND p.pole = d.pole"
    "          AND p.source IN ('paraphrase','bundled','manual') AND p.status = 'ok')"
    "  FROM descriptions d JOIN dimensions m ON m.name = d.dimension"
    " WHERE d.source = 'original' AND m.training = 1 AND (?1 IS NULL OR d.dimension = ?1)"
    " ORDER BY m.rowid, d.pole, d.id";

static clap_status load_targets(run *r, clap_error *err) {
  sqlite3_stmt *st = NULL;
  clap_status s = db_prepare(r->db, TARGETS_SQL, &st, err);
  if (s != CLAP_OK) return s;
  sqlite3_bind_text(st, 1, r->o.dimension, -1, SQLITE_STATIC);
  int rc;
  while ((rc = db_step(st, err)) == DB_ROW) {
    target *t = realloc(r->t, (size_t)(r->nt + 1) * sizeof *t);
    if (!t) {
      rc = -(int)clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
      break;
    }
    r->t = t;
    t = &r->t[r->nt++];
    memset(t, 0, sizeof *t);
    t->dimension = col_dup(st, 0);
    t->pole = sqlite3_column_int(st, 1);
    t->text = col_dup(st, 2);
    t->gloss = col_dup(st, 3);
    t->prohibited = col_dup(st, 4);
    t->prohibited_gloss = col_dup(st, 5);
    int have = sqlite3_column_int(st, 6);
    t->missing = have >= r->o.per ? 0 : r->o.per - have;
  }
  sqlite3_finalize(st);
  if (rc < 0) {
    clap_error_prefix(err, "reading the original descriptions: ");
    return DB_STATUS(rc);
  }
  if (r->nt == 0)
    return clap_error_set(err, CLAP_ERR_NOTFOUND, "%s: no original descriptions%s%s%s", r->o.db,
                          r->o.dimension ? " of dimension '" : "", r->o.dimension ? r->o.dimension : "",
                          r->o.dimension ? "' (one of the six training dimensions)" : " (run `clap init`)");
  return CLAP_OK;
}

/* ---- one round ----------------------------------------------------------- */

static int cache_key(const run *r, const target *t, int round, char out[SHA256_HEX_SIZE]) {
  char num[64];
  sha256_ctx c;
  sha256_init(&c);
  sha256_update(&c, r->endpoint, strlen(r->endpoint) + 1);
  sha256_update(&c, r->o.model, strlen(r->o.model) + 1);
  sha256_update(&c, t->prompt, strlen(t->prompt) + 1);
  int n = snprintf(num, sizeof num, "%.17g", r->o.temperature);
  sha256_update(&c, num, (size_t)n + 1);
  n = snprintf(num, sizeof num, "%d", round);
  sha256_update(&c, num, (size_t)n);
  return sha256_final_hex(&c, out);
}

static int prepare(run *r, target *t, int round) {
  free(t->prompt), free(t->body);
  t->prompt = paraphrase_prompt(t->text, t->gloss, t->prohibited, t->prohibited_gloss, t->missing);
  t->body = t->prompt ? llm_request_json(r->o.model, t->prompt, r->o.temperature) : NULL;
  if (!t->body) return 0;
  return !sha256_hex(t->prompt, strlen(t->prompt), t->prompt_sha) && !cache_key(r, t, round, t->key);
}

/* The cached response for t's current key into *out (malloc'd), NULL when
** none; a failed read is an error. */
static clap_status cache_get(run *r, const target *t, char **out, clap_error *err) {
  sqlite3_stmt *st = NULL;
  *out = NULL;
  clap_status s = db_prepare(r->db, "SELECT response FROM llm_cache WHERE key = ?", &st, err);
  if (s == CLAP_OK) {
    sqlite3_bind_text(st, 1, t->key, -1, SQLITE_STATIC);
    int rc = db_step(st, err);
    if (rc == DB_ROW && !(*out = col_dup(st, 0))) s = clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
    else s = DB_STATUS(rc);
  }
  sqlite3_finalize(st);
  if (s != CLAP_OK) clap_error_prefix(err, "reading llm_cache: ");
  return s;
}

static void cache_put(run *r, const target *t, const char *response) {
  sqlite3_stmt *st = NULL;
  const char *sql =
      "INSERT OR REPLACE INTO llm_cache (key, endpoint, model, request, response) VALUES (?, ?, ?, ?, ?)";
  if (sqlite3_prepare_v2(r->db, sql, -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, t->key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->endpoint, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, r->o.model, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, t->body, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, response, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
      fprintf(stderr, "clap paraphrase: warning: could not cache a reply: %s\n", sqlite3_errmsg(r->db));
  }
  sqlite3_finalize(st);
}

static int has_reject(const cands *c, const char *text) {
  for (int i = 0; i < c->n; i++)
    if (!strcmp(c->v[i].text, text)) return 1;
  return 0;
}

/* Sort a reply's sentences into t's accepted and rejected ones. */
static int take_reply(run *r, target *t, const llm_reply *reply) {
  char **s = NULL;
  int n = 0;
  clap_error e;
  if (paraphrase_split(reply->content, strlen(reply->content), &s, &n, &e) != CLAP_OK) return 0;
  const char *model = reply->model ? reply->model : r->o.model;
  int ok = 1;
  for (int i = 0; ok && i < n && t->missing > 0; i++) {
    char reason[200];
    char *key = paraphrase_dedup_key(s[i]);
    if (key && keyset_has(&r->seen, key)) {
      r->duplicates++;
      free(key);
      continue;
    }
    if (paraphrase_check(s[i], t->prohibited, reason, sizeof reason) != PARAPHRASE_OK) {
      free(key);
      if (!has_reject(&t->rejected, s[i])) ok = cands_add(&t->rejected, s[i], reason, model, t->prompt_sha);
      continue;
    }
    ok = key && keyset_add(&r->seen, key) && cands_add(&t->ok, s[i], NULL, model, t->prompt_sha);
    if (ok) t->missing--;
  }
  paraphrase_list_free(s, n);
  return ok;
}

/* Authentication, permission, a wrong URL or model, no quota: asking again
** for other descriptions cannot help. */
static int fatal_call(const llm_call *c) {
  return c->status != CLAP_OK && c->http_status >= 400 && !c->retryable;
}

static void fail_target(run *r, target *t, const char *msg) {
  t->failed = 1;
  r->request_failures++;
  fprintf(stderr, "clap paraphrase: %s/%d: %s\n", t->dimension, t->pole, msg);
}

/* Send what the cache did not answer; returns 0 on out of memory. */
static int send_round(run *r, target **todo, int n) {
  if (n == 0) return 1;
  llm_call *calls = calloc((size_t)n, sizeof *calls);
  if (!calls) return 0;
  for (int i = 0; i < n; i++) calls[i].body = todo[i]->body;
  clap_error err;
  clap_status s = llm_run(r->llm, calls, n, &err);
  int ok = 1;
  for (int i = 0; i < n; i++) {
    llm_call *c = &calls[i];
    if (c->status != CLAP_OK) {
      fail_target(r, todo[i], c->err.msg);
      if (fatal_call(c)) r->fatal = 1;
    } else {
      cache_put(r, todo[i], c->response);
      ok = ok && take_reply(r, todo[i], &c->reply);
    }
    llm_call_clear(c);
  }
  free(calls);
  if (s != CLAP_OK) r->fatal = 1;
  return ok;
}

static int run_round(run *r, int round) {
  target **todo = calloc((size_t)r->nt, sizeof *todo);
  if (!todo) return 0;
  int n = 0, ok = 1;
  for (int i = 0; ok && i < r->nt; i++) {
    target *t = &r->t[i];
    if (t->missing <= 0 || t->failed) continue;
    if (!prepare(r, t, round)) {
      ok = 0;
      break;
    }
    char *cached = NULL;
    llm_reply reply;
    clap_error e;
    if (cache_get(r, t, &cached, &e) != CLAP_OK) {
      fail_target(r, t, e.msg);
    } else if (cached && llm_parse_reply(cached, strlen(cached), &reply, &e) == CLAP_OK) {
      r->cache_hits++;
      ok = take_reply(r, t, &reply);
      llm_reply_clear(&reply);
    } else if (r->o.offline) {
      char msg[160];
      snprintf(msg, sizeof msg, "round %d is not in the cache (--offline sends nothing)", round);
      fail_target(r, t, msg);
    } else {
      todo[n++] = t;
    }
    free(cached);
  }
  if (ok) ok = send_round(r, todo, n);
  free(todo);
  return ok;
}

/* ---- writing ------------------------------------------------------------- */

static const char *INSERT_SQL =
    "INSERT OR IGNORE INTO descriptions (dimension, pole, text, prohibited, source, status, reason, model,"
    " prompt_sha256) VALUES (?, ?, ?, ?, 'paraphrase', ?, ?, ?, ?)";

static int insert_cands(sqlite3_stmt *st, const target *t, const cands *c, const char *status, long *count) {
  for (int i = 0; i < c->n; i++) {
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, t->dimension, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, t->pole);
    sqlite3_bind_text(st, 3, c->v[i].text, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, t->prohibited, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, status, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, c->v[i].reason, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, c->v[i].model, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, c->v[i].sha, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) return 0;
    *count += sqlite3_changes(sqlite3_db_handle(st));
  }
  return 1;
}

static clap_status write_results(run *r, long *stored, long *rejected_stored, clap_error *err) {
  clap_status s = db_exec(r->db, "BEGIN IMMEDIATE", err);
  if (s != CLAP_OK) return s;
  sqlite3_stmt *st = NULL;
  int ok = sqlite3_prepare_v2(r->db, INSERT_SQL, -1, &st, NULL) == SQLITE_OK;
  for (int i = 0; ok && i < r->nt; i++) {
    const target *t = &r->t[i];
    ok = insert_cands(st, t, &t->ok, "ok", stored);
    if (ok && t->missing > 0) ok = insert_cands(st, t, &t->rejected, "rejected", rejected_stored);
  }
  if (!ok) s = sql_error(r->db, err, "storing paraphrases");
  sqlite3_finalize(st);
  if (s == CLAP_OK) s = db_exec(r->db, "COMMIT", err);
  if (s != CLAP_OK) db_rollback(r->db);
  return s;
}

/* ---- dry run, report ----------------------------------------------------- */

static int dry_run(run *r) {
  int shown = 0;
  for (int i = 0; i < r->nt; i++) {
    target *t = &r->t[i];
    if (t->missing <= 0) continue;
    if (!prepare(r, t, 1)) return fprintf(stderr, "clap paraphrase: out of memory\n"), 1;
    printf("### %s/%d: %d wanted (prompt_sha256 %s)\n%s\n", t->dimension, t->pole, t->missing, t->prompt_sha,
           t->prompt);
    shown++;
  }
  printf("paraphrase: dry run, %d prompts for %s model %s; nothing sent, nothing written\n", shown, r->endpoint,
         r->o.model);
  return 0;
}

static void report(run *r, long stored, long rejected_stored) {
  long short_ = 0, rejected = 0;
  for (int i = 0; i < r->nt; i++) {
    const target *t = &r->t[i];
    rejected += t->rejected.n;
    if (t->missing > 0) {
      short_++;
      fprintf(stderr, "clap paraphrase: %s/%d: still %d short of %d after the last round%s\n", t->dimension,
              t->pole, t->missing, r->o.per, t->rejected.n ? "; its rejected sentences are stored for correction" : "");
    }
  }
  llm_usage u;
  llm_client_usage(r->llm, &u);
  printf("paraphrase: %d descriptions, %ld stored, %ld short; %ld rejected (%ld stored), %ld duplicates; "
         "%ld requests (%ld retries, %ld failed), %ld from the cache; tokens %ld prompt + %ld completion = %ld\n",
         r->nt, stored, short_, rejected, rejected_stored, r->duplicates, u.attempts, u.retries, u.failed,
         r->cache_hits, u.prompt_tokens, u.completion_tokens, u.total_tokens);
}

static int total_accepted(const run *r) {
  int n = 0;
  for (int i = 0; i < r->nt; i++) n += r->t[i].ok.n;
  return n;
}

static int paraphrase_all(run *r) {
  int ok = 1;
  for (int round = 1; ok && round <= r->o.max_rounds && !r->fatal; round++) ok = run_round(r, round);
  if (!ok) {
    fprintf(stderr, "clap paraphrase: out of memory\n");
    return 1;
  }
  long stored = 0, rejected_stored = 0;
  if (r->request_failures && total_accepted(r) == 0) {
    fprintf(stderr, "clap paraphrase: no valid paraphrase arrived; nothing written to descriptions\n");
  } else {
    clap_error err;
    if (write_results(r, &stored, &rejected_stored, &err) != CLAP_OK) {
      fprintf(stderr, "clap paraphrase: %s: %s\n", r->o.db, err.msg);
      return 1;
    }
  }
  report(r, stored, rejected_stored);
  return r->request_failures ? 1 : 0;
}

/* ---- import / export ----------------------------------------------------- */

/* A missing prohibited word comes from the original of that class. */
static clap_status fill_prohibited(sqlite3 *db, paraphrase_entry *e, int n, const char *name, clap_error *err) {
  sqlite3_stmt *st = NULL;
  clap_status s = db_prepare(db,
                             "SELECT prohibited FROM descriptions WHERE dimension = ? AND pole = ? AND source = 'original'"
                             " ORDER BY id LIMIT 1",
                             &st, err);
  if (s != CLAP_OK) return s;
  for (int i = 0; s == CLAP_OK && i < n; i++) {
    if (e[i].prohibited) continue;
    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, e[i].dimension, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, e[i].pole);
    int rc = db_step(st, err);
    if (rc < 0) {
      s = DB_STATUS(rc);
      clap_error_prefix(err, "reading the originals: ");
      break;
    }
    if (rc == DB_ROW) e[i].prohibited = col_dup(st, 0);
    int exempt = (e[i].source && (!strcmp(e[i].source, "original") || !strcmp(e[i].source, "prompt"))) ||
                 (e[i].status && !strcmp(e[i].status, "rejected"));
    char reason[200];
    if (!exempt && e[i].prohibited &&
        paraphrase_check(e[i].text, e[i].prohibited, reason, sizeof reason) == PARAPHRASE_PROHIBITED)
      s = clap_error_set(err, CLAP_ERR_FORMAT,
                         "%s: descriptions[%d].text: %s (the original's; fix it or mark it \"status\": \"rejected\")",
                         name, i, reason);
  }
  sqlite3_finalize(st);
  return s;
}

static const char *UPSERT_SQL =
    "INSERT INTO descriptions (dimension, pole, text, gloss, prohibited, source, prompt_set, status, reason, model,"
    " prompt_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (dimension, pole, text) DO UPDATE SET gloss = excluded.gloss, prohibited = excluded.prohibited,"
    " source = excluded.source, prompt_set = excluded.prompt_set, status = excluded.status, reason = excluded.reason,"
    " model = excluded.model, prompt_sha256 = excluded.prompt_sha256"
    " WHERE descriptions.source NOT IN ('original', 'prompt')";

static void bind_opt(sqlite3_stmt *st, int i, const char *s) {
  if (s) sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
  else sqlite3_bind_null(st, i);
}

static int upsert(sqlite3_stmt *st, const paraphrase_entry *e, char *text) {
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  sqlite3_bind_text(st, 1, e->dimension, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 2, e->pole);
  sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
  bind_opt(st, 4, e->gloss);
  bind_opt(st, 5, e->prohibited);
  sqlite3_bind_text(st, 6, e->source ? e->source : "manual", -1, SQLITE_STATIC);
  if (e->prompt_set) sqlite3_bind_int(st, 7, e->prompt_set);
  sqlite3_bind_text(st, 8, e->status ? e->status : "ok", -1, SQLITE_STATIC);
  bind_opt(st, 9, e->reason);
  bind_opt(st, 10, e->model);
  bind_opt(st, 11, e->prompt_sha256);
  return sqlite3_step(st) == SQLITE_DONE;
}

/* The text as stored: surrounding whitespace (also U+3000) removed, in place. */
static int is_blank(const char *p) {
  return *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' ? 1 : !strncmp(p, "\xE3\x80\x80", 3) ? 3 : 0;
}

static char *trimmed(char *s) {
  int k;
  while ((k = is_blank(s)) != 0) s += k;
  size_t n = strlen(s);
  for (;;) {
    if (n >= 1 && is_blank(s + n - 1) == 1) n -= 1;
    else if (n >= 3 && is_blank(s + n - 3) == 3) n -= 3;
    else break;
    s[n] = 0;
  }
  return s;
}

static clap_status count_rows(sqlite3 *db, int *n, clap_error *err) {
  sqlite3_stmt *st = NULL;
  clap_status s = db_prepare(db, "SELECT count(*) FROM descriptions", &st, err);
  int rc = s == CLAP_OK ? db_step(st, err) : DB_DONE;
  if (s == CLAP_OK) s = DB_STATUS(rc);
  *n = rc == DB_ROW ? sqlite3_column_int(st, 0) : 0;
  sqlite3_finalize(st);
  return s;
}

static clap_status write_import(sqlite3 *db, paraphrase_entry *e, int n, const char *name, int *added,
                                clap_error *err) {
  clap_status s = db_exec(db, "BEGIN IMMEDIATE", err);
  if (s != CLAP_OK) return s;
  int before = 0, after = 0;
  s = count_rows(db, &before, err);
  sqlite3_stmt *st = NULL;
  if (s == CLAP_OK) s = db_prepare(db, UPSERT_SQL, &st, err);
  for (int i = 0; s == CLAP_OK && i < n; i++)
    if (!upsert(st, &e[i], trimmed(e[i].text)))
      s = clap_error_set(err, CLAP_ERR_IO, "%s: descriptions[%d]: %s", name, i, sqlite3_errmsg(db));
  sqlite3_finalize(st);
  if (s == CLAP_OK) s = count_rows(db, &after, err);
  if (s == CLAP_OK) s = db_exec(db, "COMMIT", err);
  if (s != CLAP_OK) db_rollback(db);
  else *added = after - before;
  return s;
}

static int do_import(sqlite3 *db, const char *path) {
  clap_error err;
  size_t n = 0;
  unsigned char *json;
  paraphrase_entry *e = NULL;
  int count = 0, added = 0;
  clap_status s = fileio_read(path, MAX_IMPORT_BYTES, &json, &n, &err);
  if (s == CLAP_OK) s = paraphrase_file_parse((const char *)json, n, path, &e, &count, &err);
  free(json);
  if (s == CLAP_OK) s = fill_prohibited(db, e, count, path, &err);
  if (s == CLAP_OK) s = write_import(db, e, count, path, &added, &err);
  paraphrase_entries_free(e, count);
  if (s != CLAP_OK) {
    fprintf(stderr, "clap paraphrase: %s\n", err.msg);
    fprintf(stderr, "clap paraphrase: nothing imported\n");
    return 1;
  }
  printf("import: %s: %d entries, %d new rows, %d updated or unchanged\n", path, count, added, count - added);
  return 0;
}

static const char *EXPORT_SQL =
    "SELECT d.dimension, d.pole, d.text, d.gloss, d.source, d.prohibited, d.prompt_set, d.status, d.reason,"
    " d.model, d.prompt_sha256 FROM descriptions d JOIN dimensions m ON m.name = d.dimension"
    " WHERE d.source NOT IN ('original', 'prompt') ORDER BY m.rowid, d.pole, d.id";

static cJSON *export_row(sqlite3_stmt *st) {
  static const char *names[] = {"dimension", "pole", "text", "gloss", "source", "prohibited",
                                "prompt_set", "status", "reason", "model", "prompt_sha256"};
  cJSON *o = cJSON_CreateObject();
  for (int i = 0; o && i < 11; i++) {
    if (sqlite3_column_type(st, i) == SQLITE_NULL) continue;
    cJSON *v = sqlite3_column_type(st, i) == SQLITE_INTEGER
                   ? cJSON_CreateNumber(sqlite3_column_int(st, i))
                   : cJSON_CreateString((const char *)sqlite3_column_text(st, i));
    if (!v) return cJSON_Delete(o), NULL;
    cJSON_AddItemToObject(o, names[i], v);
  }
  return o;
}

static clap_status write_text(const char *path, const char *text, clap_error *err) {
  if (!strcmp(path, "-"))
    return fputs(text, stdout) >= 0 && fputc('\n', stdout) != EOF
               ? CLAP_OK
               : clap_error_set(err, CLAP_ERR_IO, "-: cannot write: %s", strerror(errno));
  size_t n = strlen(text);
  char *line = malloc(n + 2);
  if (!line) return clap_error_set(err, CLAP_ERR_NOMEM, "out of memory");
  memcpy(line, text, n);
  line[n] = '\n';
  clap_status rc = fileio_write_replace(path, line, n + 1, err);
  free(line);
  return rc;
}

static int do_export(sqlite3 *db, const char *path) {
  cJSON *root = cJSON_CreateObject();
  cJSON *arr = cJSON_AddArrayToObject(root, "descriptions");
  sqlite3_stmt *st = NULL;
  int rc = arr && sqlite3_prepare_v2(db, EXPORT_SQL, -1, &st, NULL) == SQLITE_OK ? SQLITE_ROW : SQLITE_ERROR;
  int n = 0;
  while (rc == SQLITE_ROW && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    cJSON *o = export_row(st);
    if (!o) rc = SQLITE_NOMEM;
    else cJSON_AddItemToArray(arr, o), n++;
  }
  sqlite3_finalize(st);
  char *text = rc == SQLITE_DONE ? cJSON_Print(root) : NULL;
  cJSON_Delete(root);
  clap_error err;
  if (rc != SQLITE_DONE) clap_error_set(&err, CLAP_ERR_IO, "%s", sqlite3_errmsg(db));
  else if (!text) clap_error_set(&err, CLAP_ERR_NOMEM, "out of memory");
  int ok = text && write_text(path, text, &err) == CLAP_OK;
  free(text);
  if (!ok) {
    fprintf(stderr, "clap paraphrase: cannot export to %s: %s\n", path, err.msg);
    return 1;
  }
  fprintf(strcmp(path, "-") ? stdout : stderr, "export: %d descriptions to %s\n", n, path);
  return 0;
}

/* ---- the command --------------------------------------------------------- */

static void free_run(run *r) {
  for (int i = 0; i < r->nt; i++) {
    target *t = &r->t[i];
    free(t->dimension), free(t->text), free(t->gloss), free(t->prohibited), free(t->prohibited_gloss);
    free(t->prompt), free(t->body);
    cands_free(&t->ok);
    cands_free(&t->rejected);
  }
  free(r->t);
  for (int i = 0; i < r->seen.n; i++) free(r->seen.v[i]);
  free(r->seen.v);
  llm_client_free(r->llm);
  db_close(r->db);
}

/* The endpoint for cache keys and messages, without a client in --offline
** and --dry-run (no key needed, nothing sent). */
static clap_status start_client(run *r, char *endpoint, size_t cap, clap_error *err) {
  llm_config cfg = {0};
  cfg.base_url = r->o.base_url;
  cfg.concurrency = r->o.concurrency;
  cfg.timeout_ms = (long)(r->o.timeout * 1000);
  cfg.connect_timeout_ms = cfg.timeout_ms < 10000 ? cfg.timeout_ms : 10000;
  cfg.max_attempts = r->o.max_attempts;
  cfg.max_wait_ms = r->o.max_wait > 0 ? (long)(r->o.max_wait * 1000) : 0;
  if (r->o.max_wait == 0) cfg.max_wait_ms = 1;
  llm_client *c = NULL;
  clap_status s = llm_client_create(&cfg, &c, err);
  if (s != CLAP_OK) return s;
  snprintf(endpoint, cap, "%s", llm_client_endpoint(c));
  if (r->o.offline || r->o.dry_run) llm_client_free(c);
  else r->llm = c;
  return CLAP_OK;
}

int cmd_paraphrase(int argc, char **argv) {
  run r;
  memset(&r, 0, sizeof r);
  r.o.base_url = DEFAULT_BASE_URL;
  r.o.model = DEFAULT_MODEL;
  r.o.per = 10;
  r.o.temperature = 0.7;
  r.o.concurrency = 4;
  r.o.max_rounds = 3;
  r.o.max_attempts = 5;
  r.o.timeout = 120;
  r.o.max_wait = 60;
  int status = parse_args(argc, argv, &r.o);
  if (status >= 0) return status;
  clap_error err;
  if (db_open(r.o.db, 0, &r.db, &err) != CLAP_OK) {
    fprintf(stderr, "clap paraphrase: %s\n", err.msg);
    return 1;
  }
  if (r.o.import_path || r.o.export_path) {
    status = r.o.import_path ? do_import(r.db, r.o.import_path) : 0;
    if (status == 0 && r.o.export_path) status = do_export(r.db, r.o.export_path);
    free_run(&r);
    return status;
  }
  char endpoint[1024];
  clap_status s = start_client(&r, endpoint, sizeof endpoint, &err);
  r.endpoint = endpoint;
  if (s == CLAP_OK) s = load_targets(&r, &err);
  if (s == CLAP_OK) s = load_seen(&r, &err);
  if (s != CLAP_OK) {
    fprintf(stderr, "clap paraphrase: %s\n", err.msg);
    free_run(&r);
    return s == CLAP_ERR_ARG ? 2 : 1;
  }
  status = r.o.dry_run ? dry_run(&r) : paraphrase_all(&r);
  free_run(&r);
  return status;
}
