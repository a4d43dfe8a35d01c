/*
** progress — a one-line progress report for long work (ingest, embed, train)
** on stderr, redrawn at most every 100 ms and only when stderr is a terminal
** (or CLAP_PROGRESS=1); silent otherwise so logs and tests stay clean. The
** line fits the terminal's width (stderr's, else $COLUMNS, else 80) less one
** column, so it never wraps: the note is shortened or left out first, then
** the line is cut at a UTF-8 character boundary.
*/
#ifndef CLAP_PROGRESS_H
#define CLAP_PROGRESS_H

typedef struct progress progress;

/* label: "ingest", "embed acoustic". total may be 0 when unknown. */
progress *progress_create(const char *label, long total);
/* Set the count done so far; note is a short suffix (file name) or NULL. */
void progress_update(progress *p, long done, const char *note);
/* Draw the final state and a newline, then free. NULL is a no-op. */
void progress_finish(progress *p);

#endif
