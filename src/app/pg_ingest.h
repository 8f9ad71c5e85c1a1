/* pg_ingest — the CSV corpus into a store on a PostgreSQL server: `ragd
 * ingest --store-url`, and `ragd serve --store-url` on its first start
 * against an empty database (first_ingest.h). The corpus is read, cleaned and
 * split by ingest's own functions (corpus.h, splitter.h through
 * document_split, ingest_encoder_text), so the passages and the texts the
 * encoder reads are the data-directory ingest's exactly.
 *
 * Idempotent and resumable, by article: before anything is encoded the
 * database is asked, through views, which of the corpus's articles it holds
 * (store_article_get); those are neither encoded nor sent, so an article
 * written through the API since keeps that version (as the embedded ingest
 * keeps API changes). The rest are encoded a batch at a time and loaded with
 * pg_store_bulk_load, PG_STORE_BULK_BATCH articles per transaction: a run
 * killed at any moment loses at most the group it was encoding, and the next
 * run starts after the last group committed.
 *
 * Progress as ingest.h's (ingest/progress.h), counted in passages.
 *
 * pg_ingest_copy moves an embedded store (a data directory) into a database
 * instead, with the vectors it holds: `ragd ingest --store-url … --from-data-dir`. */
#ifndef RAGD_APP_PG_INGEST_H
#define RAGD_APP_PG_INGEST_H

#include <stdbool.h>

#include "model/encoder.h"
#include "store/documents.h"

typedef struct pg_ingest_summary {
    long articles;      /* good CSV rows */
    long duplicates;    /* rows whose text an earlier row already had (not stored) */
    long malformed;     /* rows reported and skipped */
    long present;       /* articles the database held already: not encoded */
    long loaded;        /* articles this run wrote */
    long encoded;       /* passages this run encoded (and wrote) */
    long store_total;   /* passages in the database after the run */
    double seconds, encode_seconds;
} pg_ingest_summary;

typedef struct pg_ingest_options {
    const char *csv_path;
    int batch_size;               /* texts per encoder call; <= 0: INGEST_DEFAULT_BATCH */
    bool progress;                /* progress bar if stderr is a terminal */
    pg_ingest_summary *summary;   /* optional: filled in on return */
    /* As ingest_options.on_progress: once the passages to encode are known
     * (done 0) and after each encoder batch; non-zero stops the run. */
    int (*on_progress)(long done, long total, void *ctx);
    void *progress_ctx;
} pg_ingest_options;

/* Copy the live articles of the embedded store in data_dir — passages,
 * vectors and texts as they are, nothing encoded — into st, which must be
 * for the same model: the move of a data directory to PostgreSQL. Articles
 * st already holds are skipped, so it is idempotent and resumable as the
 * corpus load is. summary's articles counts the data directory's; the CSV's
 * fields stay 0. 0, or -1 with err set. */
int pg_ingest_copy(const char *data_dir, store *st, bool progress, pg_ingest_summary *summary,
                   char *err, size_t errlen);

/* Load the corpus into st (a store of the PostgreSQL backend, opened for
 * enc's model). 0, or -1 with err set (unreadable CSV, encoder failure, the
 * database refused or could not be reached: the groups committed stay). */
int pg_ingest_run(const pg_ingest_options *o, encoder *enc, store *st, char *err, size_t errlen);

#endif
