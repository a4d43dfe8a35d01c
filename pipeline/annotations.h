/*
** annotations — read annotator score files (long format) into records
** (utterance, annotator, dimension, score, line). Pure parsing: no database;
** whether an utterance or a dimension exists is checked by the importer.
**
** Accepted input
**   CSV   RFC 4180: comma separated, a header row, fields optionally quoted
**         with "..." where "" is a literal quote and a quoted field may hold
**         commas and newlines. CRLF or LF line ends.
**   TSV   the same with a tab as separator (quoting is accepted but optional).
**   JSON  {"annotations": [{"utterance": "s1-u0001", "annotator": "a1",
**         "dimension": "aroused", "score": 5}, ...]} (schemas/
**         annotations.schema.json). Ids are strings, the score a number.
**         Other keys are ignored (the schema allows only x-* keys; the reader
**         is lenient so that other tools' exports, mapped with ann_columns,
**         can be read).
** Header (and JSON key) names default to utterance, annotator, dimension,
** score; ann_columns maps other tools' names (--utterance-col etc.). Header
** names match case-insensitively after trimming spaces; extra columns are
** ignored. A UTF-8 byte-order mark is skipped; values are trimmed of spaces
** and tabs around them; blank lines are skipped. The format defaults from the
** extension (.csv, .tsv/.tab, .json); otherwise a leading '{' or '[' means
** JSON, a tab in the first line means TSV, else CSV.
** A score is an integer 1..7 written as digits (an integral value such as
** "5.0" or JSON 5.0 is accepted as 5, as JSON Schema's "integer" does).
**
** Bad input. Every message starts "FILE:LINE: " where LINE is the 1-based
** line on which the record starts (the header is line 1; for JSON the line
** of the object's opening brace). Two kinds:
**   - row errors (the row is skipped, parsing goes on so that every bad row
**     is reported): `score 8 outside 1..7`, `score "4.5" is not an integer`,
**     `3 fields, the header has 4`, `empty annotator`, `annotation has no
**     "score"`, `"score" must be a number, not a string`;
**   - file errors (parsing stops): `no column "score" in the header (columns:
**     utt, rater, ...); name it with --score-col`, a column named twice,
**     an unterminated quoted field, a character after a closing quote, a NUL
**     byte, UTF-16 text, bytes that are not UTF-8 (`invalid UTF-8 at byte offset
**     B (byte 0x93); save the file as UTF-8`, on the line it is on: a Latin-1
**     or Shift-JIS file), JSON syntax errors, no "annotations" array.
** Both kinds are collected in the ann_file; ann_parse still succeeds.
*/
#ifndef CLAP_ANNOTATIONS_H
#define CLAP_ANNOTATIONS_H

#include <stddef.h>

#include "clap_error.h"

typedef enum ann_format { ANN_AUTO = 0, ANN_CSV, ANN_TSV, ANN_JSON } ann_format;

/* Column (or JSON key) names; a NULL member means the default name. */
typedef struct ann_columns {
  const char *utterance, *annotator, *dimension, *score;
} ann_columns;

typedef struct ann_record {
  const char *utterance, *annotator, *dimension; /* owned by the ann_file */
  int score;                                     /* 1..7 */
  int line;                                      /* where the record starts */
} ann_record;

typedef struct ann_file ann_file;

/* Parse len bytes of data (need not be NUL-terminated); name is used in
** messages and for the format default. cols may be NULL. On CLAP_OK *out is
** owned by the caller (ann_free); it holds the good records and the messages
** of every bad one. Fails only for a bad argument (unknown format name) or
** out of memory, with *out NULL. */
clap_status ann_parse(const char *name, const char *data, size_t len, ann_format format,
                      const ann_columns *cols, ann_file **out, clap_error *err);

#define ANN_MAX_FILE_BYTES ((size_t)1 << 30)

/* Read the file at path and ann_parse it; CLAP_ERR_IO "PATH: cannot open: ..."
** or "PATH: cannot read: ..." if it cannot be read, CLAP_ERR_RANGE if it is
** larger than ANN_MAX_FILE_BYTES (fileio.h). */
clap_status ann_read_file(const char *path, ann_format format, const ann_columns *cols,
                          ann_file **out, clap_error *err);

void ann_free(ann_file *f);

const char *ann_name(const ann_file *f);
ann_format ann_file_format(const ann_file *f);
size_t ann_count(const ann_file *f);
const ann_record *ann_record_at(const ann_file *f, size_t i);

/* Errors in line order; each message is complete ("ann.csv:17: score 8
** outside 1..7"). At most ANN_ERRORS_KEPT are kept; ann_error_count counts
** all of them. *line (if non-NULL) receives the line, 0 for the whole file. */
#define ANN_ERRORS_KEPT 1000
size_t ann_error_count(const ann_file *f);
size_t ann_error_kept(const ann_file *f);
const char *ann_error_at(const ann_file *f, size_t i, int *line);

/* "csv", "tsv", "json" -> format; NULL or anything else -> CLAP_ERR_ARG. */
clap_status ann_format_from_name(const char *s, ann_format *out, clap_error *err);

/* The score rule shared with the importer: 0 ok (*out set), 1 not an
** integer, 2 an integer outside 1..7. */
int ann_parse_score(const char *text, int *out);

#endif
