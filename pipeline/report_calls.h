/*
** report_calls — `clap report DB --calls`: per-call timelines of a zero-shot
** question (sql/schema.sql: the timelines table and the call_timeline view).
**
** For the timeline named `timeline` (a row of timelines: a model and a
** pair of sentences), every utterance of every session (or of the sessions
** listed) is scored through call_timeline. Markdown on `out`: one row per
** session and channel (role, utterances, mean and last P(positive)). With
** html_path, a self-contained page: per session an inline SVG, time in
** seconds on x, P(positive) on y in [0, 1], one line per channel (mixed
** utterances are the line "mix"), a dot per utterance whose tooltip gives
** its id, role, start and P. Every string from the database is escaped.
** Errors (printed as "clap report: ..." by the caller): no such timeline
** (the names there are listed), no utterances, the model or the SQL
** functions failing (their message), an unwritable page.
*/
#ifndef CLAP_REPORT_CALLS_H
#define CLAP_REPORT_CALLS_H

#include <stdio.h>

#include <sqlite3.h>

#include "clap_error.h"

clap_status report_calls(sqlite3 *db, const char *timeline, const char *const *sessions,
                         int nsessions, FILE *out, const char *html_path, clap_error *err);

/* s on f with every markup character (< > & " ') escaped: text for HTML
** and SVG, in elements and attributes alike (both report pages use it).
** NULL writes nothing. */
void report_html_escape(FILE *f, const char *s);

#endif
