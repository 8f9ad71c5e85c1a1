/* documents — live articles: add, replace and delete whole articles in a
 * store that is being searched (issue #12). This header is the contract
 * between the store (src/store/, which implements it) and the app layer
 * (src/app/documents*.c, the /documents routes, `ragd ingest --url`).
 *
 * Model. A store is an immutable snapshot (store.bin) plus the changes made
 * since it was built: a live segment (passages of articles put since, searched
 * exactly) and tombstones (snapshot passages of articles deleted or replaced
 * since). Every change is one record in the data directory's log, fsynced
 * before the call returns; opening the store replays the records the
 * snapshot does not cover. A background merge folds the changes into a new
 * snapshot (write new, fsync, rename, swap), so the live part stays small.
 *
 * Views. Readers never lock against writers: a reader takes a view — one
 * consistent state (snapshot + live segment + tombstones at one instant) —
 * searches it and reads passages from it, then releases it. Every pointer a
 * view hands out (store_get's strings, store_vector) stays valid until the
 * view is released, even if a merge has replaced the snapshot meanwhile (the
 * old snapshot is unmapped when its last view is released). Passage ids are
 * valid within the view that returned them; articles are named by their id.
 *
 * Articles. An article id is 1 … STORE_ARTICLE_ID_MAX bytes of
 * [A-Za-z0-9._:-] (safe in a URL path and a log line). The CSV's articles get
 * their ids at ingest (corpus.c); API writes name their own. A put replaces
 * every passage of the article at once: a view sees the old version or the
 * new one, never both or neither. BM25 statistics (passage count, lengths,
 * document frequencies) of a view cover exactly its live passages.
 *
 * Threads. Any number of threads may take views and search at once, while
 * any number of threads write; writers are serialised inside the store and
 * share fsyncs (group commit: a writer that arrives while an fsync is in
 * flight is made durable by the next one, together with every writer that
 * arrived meanwhile).
 */
#ifndef RAGD_STORE_DOCUMENTS_H
#define RAGD_STORE_DOCUMENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define STORE_ARTICLE_ID_MAX 128

/* True if id is a valid article id (see above). */
bool store_valid_article_id(const char *id, size_t len);

/* ---- opening for writes ------------------------------------------------ */

/* Open data_dir for searching and writing: like store_open (same checks and
 * messages), and additionally takes the directory's writer lock (a second
 * writer — another server, a `ragd ingest` — is refused with a message
 * naming the holder's role) and replays the log's records newer than the
 * snapshot. store_open stays the read-only open (`ragd search`, `ragd eval`,
 * tests): it also replays the log, without the lock, so it sees every write
 * acknowledged before it opened. Either is closed with store_close, which
 * waits for a running merge to finish or abandon. */
store *store_open_writable(const char *data_dir, const char *expected_model, char *err,
                           size_t errlen);

/* ---- views --------------------------------------------------------------- */

typedef struct store_view store_view;

/* The current state; never NULL on an open store. Cheap (a reference count). */
const store_view *store_acquire(store *s);
void store_release(const store_view *v);

/* The read functions of store.h take a view in place of the store:
 *   store_search(v, …), store_get(v, id, …), store_vector(v, id),
 *   store_count(v, topic), store_topics(v, …), store_has_topic(v, topic),
 *   store_dim(v), store_model(v), store_bm25(v).
 * A topic exists in a view while it has at least one live passage. */

/* ---- writes ---------------------------------------------------------------- */

/* One article as the caller split and encoded it (the store does not call
 * the encoder: the caller may be a gateway whose encoder is remote). */
typedef struct store_article {
    const char *id;                 /* store_valid_article_id */
    const char *heading;
    const char *date;               /* "YYYY-MM-DD", store_valid_date */
    const char *topic;              /* partition; lower case, non-empty */
    const char *text;               /* the whole article as given (GET returns it) */
    size_t n_passages;              /* >= 1 */
    const char *const *passages;    /* the passages' texts, in order */
    const float *vectors;           /* n_passages × store dim, unit length */
} store_article;

/* Per-item outcome of a write. */
typedef struct store_write_result {
    bool created;                   /* the id was not live before */
    int passages;                   /* passages now stored for the article */
} store_write_result;

/* Create or replace n articles in one log record: all of them become durable
 * and visible together, or (on error) none does. The same id twice in one
 * batch is a bad request. On return (0) the write is fsynced and every view
 * acquired afterwards sees it; results[i] (room for n) tells what happened.
 * -1 with err set: a bad article (err names the index and field: the caller
 * validates first, this is the store's own check) or an I/O error (the store
 * stays usable for reads; the failed write is not visible);
 * STORE_ERR_UNAVAILABLE with err set: the store's server cannot be reached
 * (nothing written; retry later). */
int store_put(store *s, const store_article *articles, size_t n, store_write_result *results,
              char *err, size_t errlen);

/* Delete an article: 1 deleted (durable and invisible on return), 0 no such
 * live article (nothing written), -1 with err set on an I/O error,
 * STORE_ERR_UNAVAILABLE with err set when the store's server cannot be reached. */
int store_delete(store *s, const char *article_id, char *err, size_t errlen);

/* ---- reading articles -------------------------------------------------------- */

typedef struct store_article_info {
    const char *id, *heading, *date, *topic;
    const char *text;               /* NULL for articles of logs written before text was kept */
    size_t n_passages;
    uint32_t first_passage;         /* the article's passages are ids first … first+n-1, in order */
} store_article_info;

/* The live article with this id: 0 and *out filled (pointers valid while v is
 * held), or -1 if there is none. */
int store_article_get(const store_view *v, const char *article_id, store_article_info *out);

/* A page of live articles in id order (byte-wise), optionally of one topic,
 * starting after `after` (NULL or "" = from the start): up to limit entries
 * into out. Returns the number filled; *more is set if articles remain after
 * the last one returned (its id is the next page's cursor). */
size_t store_article_list(const store_view *v, const char *topic, const char *after, size_t limit,
                          store_article_info *out, bool *more);

/* Live articles in a topic (NULL = all). */
size_t store_article_count(const store_view *v, const char *topic);

/* ---- merge and figures ---------------------------------------------------- */

/* Start a background merge once the live segment plus tombstones hold at
 * least this many passages (default STORE_DEFAULT_MERGE_PASSAGES; 0 = never
 * merge by itself). */
#define STORE_DEFAULT_MERGE_PASSAGES 2000
void store_set_merge_threshold(store *s, size_t passages);

/* Fold the live changes into a new snapshot now and wait for it (tests,
 * shutdown). 0, or -1 with err set (the old snapshot and the log stay). */
int store_merge(store *s, char *err, size_t errlen);

typedef struct store_live_stats {
    size_t live_passages;           /* in the live segment */
    size_t tombstones;              /* snapshot passages hidden by deletes/replaces */
    uint64_t writes;                /* store_put / store_delete calls that changed something */
    uint64_t fsyncs;                /* group commit: fsyncs <= writes under concurrency */
    uint64_t merges;
    double last_merge_seconds;
    uint64_t log_bytes;
} store_live_stats;

void store_live_stats_get(store *s, store_live_stats *out);

#endif
