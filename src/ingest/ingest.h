/* ingest — the news CSV into the store: `ragd ingest`, and `ragd serve` on
 * first start.
 *
 *   corpus (CSV → clean, validated, de-duplicated articles)
 *     → splitter (passages of at most 256 pieces with the heading prepended)
 *     → skip passages whose key the store's log already holds
 *     → encoder, a batch at a time (the encoder spreads one batch over all its
 *       threads)
 *     → store_writer_add, then store_writer_commit.
 *
 * The text encoded for a passage is "heading\npassage": the heading gives
 * every passage of a long article its subject. The stored text is the
 * passage alone (the store indexes heading and text for BM25 and returns the
 * heading beside the text).
 *
 * Idempotent and resumable: a passage's key is its article id, its index and
 * a 64-bit hash of everything stored for it (encoded text, date, topic), so
 * a re-run finds every key in the log and encodes nothing, and a run killed
 * at any point resumes with the passages it had not yet written. Passages
 * are added in corpus order, so passage ids come out the same however many
 * times the run was interrupted. Commit rewrites store.bin only when the log
 * has passages store.bin lacks.
 *
 * The store is built for encoder_identity() of the encoder's weights (the real
 * model's name, or the random twin's), so a store made on the twin is refused
 * once the real weights are installed, with a message to re-run ingest.
 *
 * Progress: a bar with rate and ETA on stderr when it is a terminal and
 * progress is on; otherwise a JSON log line every few seconds. The run ends
 * with one summary line (stderr and the log).
 */
#ifndef RAGD_INGEST_INGEST_H
#define RAGD_INGEST_INGEST_H

#include <stdbool.h>
#include <stddef.h>

#include "model/encoder.h"
#include "util/buf.h"

#define INGEST_DEFAULT_BATCH 32

typedef struct ingest_summary {
    long articles;      /* good CSV rows */
    long duplicates;    /* rows whose text an earlier row already had (not stored) */
    long malformed;     /* rows reported and skipped */
    long passages;      /* passages of the corpus */
    long encoded;       /* passages encoded and added by this run */
    long already;       /* passages found in the store from an earlier run */
    long store_total;   /* passages in the store's log after the run */
    double seconds;     /* wall time of the whole run */
    double encode_seconds;
} ingest_summary;

typedef struct ingest_options {
    const char *csv_path;
    const char *data_dir;
    int batch_size;           /* texts per encoder call; <= 0: INGEST_DEFAULT_BATCH */
    bool progress;            /* progress bar if stderr is a terminal */
    ingest_summary *summary;  /* optional: filled in on return */
    /* Optional: called once the passages to encode are known (done 0) and
     * after each batch; non-zero stops the run (-1, "interrupted"; it
     * resumes from there next time). */
    int (*on_progress)(long done, long total, void *ctx);
    void *progress_ctx;
} ingest_options;

/* The text encoded for a passage: heading, '\n', passage. Appends to out
 * (a buf) the bytes the encoder sees; if the heading alone would take more
 * than a quarter of the window it is left out. Exposed for tests. */
void ingest_encoder_text(const tokenizer *tok, const char *heading, const char *passage,
                         size_t passage_len, buf *out);
/* Word pieces left for the passage once the heading is prepended. */
int ingest_passage_budget(const tokenizer *tok, const char *heading);

/* Run the whole pipeline. Returns 0, or -1 with err set (unreadable CSV,
 * store refused, encoder or I/O failure). Malformed rows are not errors:
 * they are logged and counted. */
int ingest_run(const ingest_options *o, encoder *enc, char *err, size_t errlen);

#endif
