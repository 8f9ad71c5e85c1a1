/* ingest_push — `ragd ingest --url http://host:8000`: the CSV corpus pushed
 * to a running server through POST /documents (docs/api.md), for a server
 * that already holds the store (its writer lock keeps `ragd ingest` out).
 *
 * The CSV is read and cleaned by corpus.c, as the bulk ingest reads it, with
 * the same article ids (data-row numbers) and the same duplicate rule (a
 * repeated text is sent once, under its first id). Articles go in batches of
 * --batch-documents; each batch is all-or-nothing on the server. A PUT of an
 * article is idempotent, so an interrupted push is resumed by running it
 * again (what is already stored is stored again, unchanged).
 *
 * A 503 (the server's first ingest, or its queue full) is retried after its
 * Retry-After; any other failure stops the push with the server's message.
 * Progress: a bar on a terminal, else a log line every few seconds.
 */
#ifndef RAGD_APP_INGEST_PUSH_H
#define RAGD_APP_INGEST_PUSH_H

#include <stdbool.h>
#include <stddef.h>

#define INGEST_PUSH_DEFAULT_BATCH 32

typedef struct ingest_push_options {
    const char *csv_path;
    const char *url;        /* the server's base URL, "http://host:port" */
    const char *api_key;    /* NULL or "": none */
    int batch_documents;    /* articles per POST */
    bool progress;          /* a bar when stderr is a terminal */
    double timeout_s;       /* per request (0: none) */
} ingest_push_options;

typedef struct ingest_push_summary {
    long articles, duplicates, malformed; /* as the CSV gave them */
    long sent, created, passages;         /* articles the server stored, new ones, their passages */
    double seconds;
} ingest_push_summary;

/* 0, or -1 with err set. summary is filled as far as the push got. */
int ingest_push(const ingest_push_options *o, ingest_push_summary *summary, char *err, size_t errlen);

#endif
