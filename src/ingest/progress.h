/* progress — how far an ingest is, for the person or the log watching it: a
 * bar with rate and ETA on stderr when it is a terminal, otherwise a JSON log
 * line every few seconds. Shared by the data-directory ingest (ingest.c) and
 * the ingest into PostgreSQL (src/app/pg_ingest.c). */
#ifndef RAGD_INGEST_PROGRESS_H
#define RAGD_INGEST_PROGRESS_H

#include <stdbool.h>

typedef struct ingest_progress {
    bool bar; /* draw a bar (stderr is a terminal) instead of log lines */
    long total;
    double start, last;
} ingest_progress;

/* Start counting towards total; a bar only if want_bar and stderr is a terminal. */
void ingest_progress_start(ingest_progress *p, bool want_bar, long total);
/* done of total so far; final draws the last state and ends the bar's line. */
void ingest_progress_update(ingest_progress *p, long done, bool final);

#endif
