/* Unit tests of pipeline/annotations: CSV, TSV, JSON, column mapping, errors. */
#include <stdlib.h>

#include "annotations.h"
#include "harness.h"

static ann_file *parse(const char *name, const char *text, ann_format fmt, const ann_columns *c) {
  ann_file *f = NULL;
  clap_error err = {0};
  clap_status st = ann_parse(name, text, strlen(text), fmt, c, &f, &err);
  CHECK_INT(st, CLAP_OK);
  return f;
}

static const char *err0(const ann_file *f) { return f ? ann_error_at(f, 0, NULL) : NULL; }

static void check_rec(const ann_file *f, size_t i, const char *u, const char *a, const char *d,
                      int score, int line) {
  const ann_record *r = ann_record_at(f, i);
  CHECK(r != NULL);
  if (!r) return;
  CHECK(!strcmp(r->utterance, u));
  CHECK(!strcmp(r->annotator, a));
  CHECK(!strcmp(r->dimension, d));
  CHECK_INT(r->score, score);
  CHECK_INT(r->line, line);
}

static void test_csv_basic(void) {
  ann_file *f = parse("ann.csv",
                      "utterance,annotator,dimension,score\r\n"
                      "s1-u0001,a1,aroused,5\r\n"
                      "\r\n"
                      "\"s1-u0002\",\"a,2\",pleasant,\"7\"\r\n",
                      ANN_AUTO, NULL);
  CHECK_INT(ann_file_format(f), ANN_CSV);
  CHECK_INT(ann_count(f), 2);
  CHECK_INT(ann_error_count(f), 0);
  check_rec(f, 0, "s1-u0001", "a1", "aroused", 5, 2);
  check_rec(f, 1, "s1-u0002", "a,2", "pleasant", 7, 4);
  ann_free(f);
}

static void test_csv_quotes_newlines_bom(void) {
  /* BOM, a doubled quote, a newline inside a quoted field (next record is
  ** on line 5), no newline at the end, spaces around values. */
  ann_file *f = parse("x.csv",
                      "\xEF\xBB\xBFutterance,annotator,dimension,score\n"
                      "\"say \"\"hi\"\"\",a1,aroused, 3 \n"
                      "\"multi\nline\",a1,aroused,4\n"
                      "u3 , a2 ,dominant,1",
                      ANN_AUTO, NULL);
  CHECK_INT(ann_error_count(f), 0);
  CHECK_INT(ann_count(f), 3);
  check_rec(f, 0, "say \"hi\"", "a1", "aroused", 3, 2);
  check_rec(f, 1, "multi\nline", "a1", "aroused", 4, 3);
  check_rec(f, 2, "u3", "a2", "dominant", 1, 5);
  ann_free(f);
}

static void test_tsv_and_mapping(void) {
  ann_columns c = {.utterance = "utt_id", .annotator = "Rater", .dimension = "dim",
                   .score = "value"};
  ann_file *f = parse("export.tsv",
                      "extra\tUTT_ID\trater\tdim\tvalue\n"
                      "x\ts1-u0001\tr7\tcredible\t2\n",
                      ANN_AUTO, &c);
  CHECK_INT(ann_file_format(f), ANN_TSV);
  CHECK_INT(ann_error_count(f), 0);
  CHECK_INT(ann_count(f), 1);
  check_rec(f, 0, "s1-u0001", "r7", "credible", 2, 2);
  ann_free(f);
  /* Without the mapping the header lacks the default names. */
  f = parse("export.tsv", "utt_id\trater\tdim\tvalue\nx\ty\tz\t1\n", ANN_AUTO, NULL);
  CHECK_INT(ann_count(f), 0);
  CHECK_INT(ann_error_count(f), 1);
  CHECK_CONTAINS(err0(f), "export.tsv:1: no column \"utterance\" in the header "
                          "(columns: utt_id, rater, dim, value); name it with --utterance-col");
  ann_free(f);
}

static void test_format_sniffing(void) {
  ann_file *f = parse("noext", "utterance\tannotator\tdimension\tscore\nu\ta\td\t2\n", ANN_AUTO,
                      NULL);
  CHECK_INT(ann_file_format(f), ANN_TSV);
  CHECK_INT(ann_count(f), 1);
  ann_free(f);
  f = parse("noext", "  {\"annotations\": []}", ANN_AUTO, NULL);
  CHECK_INT(ann_file_format(f), ANN_JSON);
  CHECK_INT(ann_error_count(f), 0);
  ann_free(f);
  /* An explicit format wins over the extension. */
  f = parse("data.txt.csv", "utterance\tannotator\tdimension\tscore\nu\ta\td\t2\n", ANN_TSV,
            NULL);
  CHECK_INT(ann_count(f), 1);
  ann_free(f);
  ann_format fm;
  clap_error e = {0};
  CHECK_INT(ann_format_from_name("json", &fm, &e), CLAP_OK);
  CHECK_INT(fm, ANN_JSON);
  CHECK_INT(ann_format_from_name("xls", &fm, &e), CLAP_ERR_ARG);
  CHECK_CONTAINS(e.msg, "format \"xls\": expected csv, tsv or json");
}

static void test_score_rule(void) {
  int s = 0;
  CHECK_INT(ann_parse_score("5", &s), 0);
  CHECK_INT(s, 5);
  CHECK_INT(ann_parse_score("5.0", &s), 0);
  CHECK_INT(s, 5);
  CHECK_INT(ann_parse_score("+07", &s), 0);
  CHECK_INT(s, 7);
  CHECK_INT(ann_parse_score("4.5", &s), 1);
  CHECK_INT(ann_parse_score("", &s), 1);
  CHECK_INT(ann_parse_score("five", &s), 1);
  CHECK_INT(ann_parse_score("5e0", &s), 1);
  CHECK_INT(ann_parse_score("8", &s), 2);
  CHECK_INT(ann_parse_score("0", &s), 2);
  CHECK_INT(ann_parse_score("-1", &s), 2);
  CHECK_INT(ann_parse_score("-0", &s), 2);
  CHECK_INT(ann_parse_score("99999999999999999999999", &s), 2);
}

static void test_row_errors_all_reported(void) {
  ann_file *f = parse("ann.csv",
                      "utterance,annotator,dimension,score\n"
                      "u1,a1,aroused,5\n"
                      "u2,a1,aroused,4.5\n"
                      "u3,a1,aroused\n"
                      "u4,a1,aroused,8\n"
                      "u5,,aroused,2\n"
                      "u6,a1,aroused,\n"
                      "u7,a1,aroused,3,extra\n"
                      "u8,a1,aroused,6\n",
                      ANN_AUTO, NULL);
  CHECK_INT(ann_count(f), 2);
  CHECK_INT(ann_error_count(f), 6);
  int line = 0;
  CHECK_CONTAINS(ann_error_at(f, 0, &line), "ann.csv:3: score \"4.5\" is not an integer");
  CHECK_INT(line, 3);
  CHECK_CONTAINS(ann_error_at(f, 1, NULL), "ann.csv:4: 3 fields, the header has 4");
  CHECK_CONTAINS(ann_error_at(f, 2, NULL), "ann.csv:5: score 8 outside 1..7");
  CHECK_CONTAINS(ann_error_at(f, 3, NULL), "ann.csv:6: empty annotator");
  CHECK_CONTAINS(ann_error_at(f, 4, NULL), "ann.csv:7: empty score");
  CHECK_CONTAINS(ann_error_at(f, 5, NULL), "ann.csv:8: 5 fields, the header has 4");
  check_rec(f, 1, "u8", "a1", "aroused", 6, 9);
  ann_free(f);
}

static void test_file_errors(void) {
  ann_file *f = parse("q.csv", "utterance,annotator,dimension,score\nu1,a1,aroused,\"5\n", ANN_AUTO,
                      NULL);
  CHECK_INT(ann_count(f), 0);
  CHECK_CONTAINS(err0(f), "q.csv:2: quoted field opened on line 2 is never closed");
  ann_free(f);
  f = parse("q.csv", "utterance,annotator,dimension,score\n\"u1\"x,a1,aroused,5\n", ANN_AUTO, NULL);
  CHECK_CONTAINS(err0(f), "q.csv:2: unexpected character 'x' after a closing quote");
  ann_free(f);
  f = parse("d.csv", "utterance,annotator,Score,dimension,score\n", ANN_AUTO, NULL);
  CHECK_CONTAINS(err0(f), "d.csv:1: column \"score\" appears twice in the header (columns 3 and 5)");
  ann_free(f);
  f = parse("e.csv", "\n\n", ANN_AUTO, NULL);
  CHECK_CONTAINS(err0(f), "e.csv: empty file (no header row)");
  ann_free(f);
  ann_file *g = NULL;
  CHECK_INT(ann_parse("n.csv", "utterance,annotator\0x", 21, ANN_AUTO, NULL, &g, NULL), CLAP_OK);
  CHECK_CONTAINS(err0(g), "n.csv:1: NUL byte in the text");
  ann_free(g);
  CHECK_INT(ann_parse("w.csv", "\xFF\xFEu\0", 4, ANN_AUTO, NULL, &g, NULL), CLAP_OK);
  CHECK_CONTAINS(err0(g), "w.csv: the file is UTF-16; save it as UTF-8");
  ann_free(g);
}

static void test_json(void) {
  ann_file *f = parse("ann.json",
                      "{\"version\": 1,\n"
                      " \"annotations\": [\n"
                      "  {\"utterance\": \"s1-u0001\", \"annotator\": \"a1\",\n"
                      "   \"dimension\": \"aroused\", \"score\": 5},\n"
                      "  {\"utterance\": \"s1-u0002\", \"annotator\": \"a1\", \"dimension\": \"pleasant\", \"score\": 4.5},\n"
                      "  {\"utterance\": \"s1-u0003\", \"annotator\": \"a1\", \"dimension\": \"pleasant\", \"score\": 9},\n"
                      "  {\"utterance\": \"s1-u0004\", \"annotator\": \"a1\", \"dimension\": \"pleasant\"},\n"
                      "  {\"utterance\": \"s1-u0005\", \"annotator\": \"a7\", \"dimension\": \"pleasant\", \"score\": 2.0, \"note\": [1,{\"a\":\"]\"}]},\n"
                      "  [1],\n"
                      "  {\"utterance\": \"s1-u0006\", \"annotator\": 3, \"dimension\": \"pleasant\", \"score\": 2},\n"
                      "  {\"utterance\": \"s1-u0007\", \"annotator\": \"a1\", \"dimension\": \"pleasant\", \"score\": \"2\"},\n"
                      "  {\"utterance\": \"s1-u0008\", \"annotator\": \"a1\", \"dimension\": \"pleasant\", \"score\": 1e300}\n"
                      "]}\n",
                      ANN_AUTO, NULL);
  CHECK_INT(ann_count(f), 2);
  check_rec(f, 0, "s1-u0001", "a1", "aroused", 5, 3);
  check_rec(f, 1, "s1-u0005", "a7", "pleasant", 2, 8);
  CHECK_INT(ann_error_count(f), 7);
  CHECK_CONTAINS(ann_error_at(f, 0, NULL), "ann.json:5: score \"4.5\" is not an integer");
  CHECK_CONTAINS(ann_error_at(f, 1, NULL), "ann.json:6: score 9 outside 1..7");
  CHECK_CONTAINS(ann_error_at(f, 2, NULL), "ann.json:7: annotation has no \"score\"");
  CHECK_CONTAINS(ann_error_at(f, 3, NULL), "ann.json:9: annotation is not an object");
  CHECK_CONTAINS(ann_error_at(f, 4, NULL), "ann.json:10: \"annotator\" must be a string");
  CHECK_CONTAINS(ann_error_at(f, 5, NULL), "ann.json:11: \"score\" must be a number, not a string");
  CHECK_CONTAINS(ann_error_at(f, 6, NULL), "ann.json:12: score 1e+300 outside 1..7");
  ann_free(f);
  ann_columns c = {.score = "value"};
  f = parse("b.json", "{\"annotations\": [{\"utterance\":\"u\",\"annotator\":\"a\",\"dimension\":\"d\",\"value\":1.0}]}",
            ANN_AUTO, &c);
  CHECK_INT(ann_count(f), 1);
  check_rec(f, 0, "u", "a", "d", 1, 1);
  ann_free(f);
}

/* The JSON Schema's fixtures: the valid ones read without an error, the
** invalid ones that a reader can tell (all but the unknown dimension, which
** the importer checks against the database) each give one. */
static void test_schema_fixtures(void) {
  static const char *valid[] = {"annotations-example.json", "annotations-empty.json"};
  static const char *invalid[][2] = {
      {"annotations-bare-array.json", ":1: expected {\"annotations\": [...]}"},
      {"annotations-missing-annotator.json", ":1: annotation has no \"annotator\""},
      {"annotations-score-8.json", ":1: score 8 outside 1..7"},
      {"annotations-score-fraction.json", ":1: score \"4.5\" is not an integer"},
      {"annotations-score-string.json", ":1: \"score\" must be a number, not a string"}};
  char path[256];
  for (size_t i = 0; i < sizeof valid / sizeof *valid; i++) {
    ann_file *f = NULL;
    snprintf(path, sizeof path, "tests/fixtures/schemas/valid/%s", valid[i]);
    CHECK_INT(ann_read_file(path, ANN_AUTO, NULL, &f, NULL), CLAP_OK);
    CHECK_INT(f ? ann_error_count(f) : 99, 0);
    ann_free(f);
  }
  for (size_t i = 0; i < sizeof invalid / sizeof *invalid; i++) {
    ann_file *f = NULL;
    snprintf(path, sizeof path, "tests/fixtures/schemas/invalid/%s", invalid[i][0]);
    CHECK_INT(ann_read_file(path, ANN_AUTO, NULL, &f, NULL), CLAP_OK);
    CHECK_INT(f ? ann_error_count(f) : 0, 1);
    CHECK_CONTAINS(err0(f), invalid[i][1]);
    ann_free(f);
  }
}

static void test_json_errors(void) {
  ann_file *f = parse("s.json", "{\"annotations\": [\n  {\"utterance\": }\n]}", ANN_AUTO, NULL);
  CHECK_CONTAINS(err0(f), "s.json:2: JSON syntax error near");
  ann_free(f);
  f = parse("t.json", "{\"annotations\": []} x", ANN_AUTO, NULL);
  CHECK_CONTAINS(err0(f), "t.json:1: unexpected text after the JSON document");
  ann_free(f);
  f = parse("o.json", "{\"scores\": []}", ANN_AUTO, NULL);
  CHECK_CONTAINS(err0(f), "o.json:1: expected {\"annotations\": [...]}");
  ann_free(f);
  f = parse("a.json", "[]", ANN_AUTO, NULL);
  CHECK_CONTAINS(err0(f), "a.json:1: expected {\"annotations\": [...]}");
  ann_free(f);
  f = parse("i.json", "{\"annotations\": [{\"utterance\": true, \"annotator\": \"a\", \"dimension\": \"d\", \"score\": 1}]}",
            ANN_AUTO, NULL);
  CHECK_CONTAINS(err0(f), "i.json:1: \"utterance\" must be a string");
  ann_free(f);
}

static void test_read_file(void) {
  ann_file *f = NULL;
  clap_error e = {0};
  CHECK_INT(ann_read_file("/nonexistent/ann.csv", ANN_AUTO, NULL, &f, &e), CLAP_ERR_IO);
  CHECK(f == NULL);
  CHECK_CONTAINS(e.msg, "/nonexistent/ann.csv: cannot open: No such file or directory");
  char path[] = "/tmp/clap-test-ann-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  FILE *fp = fdopen(fd, "w");
  fputs("utterance,annotator,dimension,score\nu,a,d,3\n", fp);
  fclose(fp);
  CHECK_INT(ann_read_file(path, ANN_CSV, NULL, &f, &e), CLAP_OK);
  CHECK_INT(ann_count(f), 1);
  CHECK(!strcmp(ann_name(f), path));
  ann_free(f);
  remove(path);
}

int main(void) {
  RUN(test_csv_basic);
  RUN(test_csv_quotes_newlines_bom);
  RUN(test_tsv_and_mapping);
  RUN(test_format_sniffing);
  RUN(test_score_rule);
  RUN(test_row_errors_all_reported);
  RUN(test_file_errors);
  RUN(test_json);
  RUN(test_json_errors);
  RUN(test_schema_fixtures);
  RUN(test_read_file);
  return harness_report();
}
