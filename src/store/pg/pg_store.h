/* pg_store — the passage store on PostgreSQL + pgvector (issue #13): one
 * database that many gateways share, with the same searches and the same
 * answers as the embedded store (store.h).
 *
 * Schema (created and migrated by ragd, PG_STORE_SCHEMA_VERSION):
 *   ragd_meta      key/value: schema_version, model, dim, analyzer, bm25_k1,
 *                  bm25_b, bm25_w_heading. A database of a newer version, of
 *                  another model or dim, or of another analyzer is refused.
 *   ragd_stats     one row: live passage and article counts and total body
 *                  length (BM25's N and avgdl, per passage and per article),
 *                  and the next passage's write order (seq).
 *                  Writers lock it, so writes are serialised and the
 *                  statistics cover exactly the committed passages.
 *   ragd_topics    topic → partition number.
 *   ragd_articles  one row per live article (the id is the key).
 *   ragd_passages  PARTITION BY LIST (topic): passage texts, body lengths and
 *                  vector(dim) embeddings, seq (write order: equal scores
 *                  rank in it, as the embedded store's ids), an HNSW index (vector_cosine_ops)
 *                  per partition. A topic gets its partition on first write.
 *   ragd_postings  PARTITION BY LIST (topic): (term, passage, body tf,
 *                  heading tf, body length), the terms made by ragd's own
 *                  analyzer (analyzer.h) in C at write time. BM25F is scored
 *                  by one SQL query over the question's terms (document
 *                  frequencies counted from the postings), with bm25.c's
 *                  formula: the same scores within float rounding.
 *   ragd_article_terms  PARTITION BY LIST (topic): the article field's
 *                  postings (term, article, body tf summed over its passages,
 *                  heading tf, the article's length), written with the
 *                  passages, so a search reads them as it reads ragd_postings.
 *
 * Writes: a put (create or replace) or delete of articles is one transaction
 * (a replaced article swaps at once for every reader); passages and postings
 * go in with COPY. The bulk load skips articles already present, in batches
 * of one transaction each: re-running an interrupted load resumes it.
 *
 * Connections: two bounded pools per pg_store (writes to the primary, reads
 * to read_conninfo, see pg_store_options), opened lazily. libpq defaults are
 * added under the caller's connection string (which wins): connect_timeout,
 * TCP keepalives, tcp_user_timeout and a statement_timeout, so no thread
 * waits forever on a dead server; searches also wait for their answer at
 * most statement_timeout + 2 s on the client side (a frozen server). A connection broken by a server restart is
 * reset on its next use: callers never reconnect by hand.
 *
 * Threads: every function may be called from any number of threads.
 */
#ifndef RAGD_STORE_PG_STORE_H
#define RAGD_STORE_PG_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "store/documents.h"
#include "store/store.h"

/* 2: seq, the passages' write order (ties); 3: covering postings key;
 * 4: vectors stored inline; 5: the article field's statistics */
#define PG_STORE_SCHEMA_VERSION 5
#define PG_STORE_POOL_DEFAULT 4
#define PG_STORE_BULK_BATCH 200 /* articles per bulk-load transaction */

/* Why a call failed, for callers to branch on (err is for people). */
typedef enum pg_store_error {
    PG_STORE_ERR_BAD_QUERY = -1,   /* the caller's fault (as STORE_ERR_BAD_QUERY) */
    PG_STORE_ERR_ANALYZER = -2,    /* the BM25 analyzer could not be made */
    PG_STORE_ERR_UNAVAILABLE = -3, /* the database is down, busy or failing over: retry later */
    PG_STORE_ERR_DATABASE = -4,    /* the database refused the statement (a bug or a full disk) */
} pg_store_error;

typedef struct pg_store pg_store;

typedef struct pg_store_options {
    /* Where searches go (e.g. a standby, or several hosts with
     * target_session_attrs=prefer-standby); NULL: the connection string
     * itself, as given (so a multi-host string with prefer-standby sends
     * reads to a standby). Writes always use the connection string with
     * target_session_attrs=read-write, i.e. the primary. A standby's answers
     * lag the primary by its replay delay. */
    const char *read_conninfo;
    int pool_size;               /* connections at most, per pool (reads, writes); <= 0: PG_STORE_POOL_DEFAULT */
    int pool_wait_ms;            /* longest wait for a free connection; <= 0: 5000 */
    int statement_timeout_ms;    /* default statement_timeout; <= 0: 30000 */
} pg_store_options;

/* True if conninfo is a well-formed libpq connection string (postgres:// URL
 * or key=value); otherwise false with err saying what is wrong. No I/O. */
bool pg_store_valid_conninfo(const char *conninfo, char *err, size_t errlen);

/* Connect, create the schema if the database has none, or check it: refuses
 * a bad connection string, an unreachable server, a database of a newer
 * schema version, another model or dim, or another analyzer, with a message
 * naming the cause and the fix. opts may be NULL. */
pg_store *pg_store_open(const char *conninfo, const char *model, int dim,
                        const pg_store_options *opts, char *err, size_t errlen);
void pg_store_close(pg_store *s);

int pg_store_dim(const pg_store *s);
const char *pg_store_model(const pg_store *s);

/* Create or replace n articles in one transaction (all or none). results
 * (room for n) may be NULL. 0, or a pg_store_error with err set. */
int pg_store_put(pg_store *s, const store_article *articles, size_t n,
                 store_write_result *results, char *err, size_t errlen);
/* 1 deleted, 0 no such article, or a pg_store_error with err set. */
int pg_store_delete(pg_store *s, const char *article_id, char *err, size_t errlen);
/* Add the articles not yet present (by id), PG_STORE_BULK_BATCH per
 * transaction; *added (may be NULL) counts the articles written. 0, or a
 * pg_store_error (the batches committed before it stay). */
int pg_store_bulk_load(pg_store *s, const store_article *articles, size_t n, size_t *added,
                       char *err, size_t errlen);

/* Live passages in topic (NULL = all), or a negative pg_store_error. */
long long pg_store_count(pg_store *s, const char *topic, char *err, size_t errlen);

typedef struct pg_hit {
    char article_id[STORE_ARTICLE_ID_MAX + 1];
    int passage_index;
    /* As search_hit (store.h): the final score, and the ranks (1-based, 0 =
     * not in that list) and scores in the lexical and the vector list. */
    float score;
    int lexical_rank, vector_rank;
    float lexical_score, vector_score;
} pg_hit;

/* The store_search of this backend: same query, same validation, same
 * fusion, same article cap; hits has room for q->k. Returns the hit count,
 * or a pg_store_error with err set. */
int pg_store_search(pg_store *s, const store_query *q, pg_hit *hits, char *err, size_t errlen);

/* Where reads go now: 1 a standby (in recovery), 0 the primary, or a
 * negative pg_store_error with err set. */
int pg_store_reads_from_standby(pg_store *s, char *err, size_t errlen);

/* ---- behind the store API (backend.h) ------------------------------------- */

/* The PostgreSQL store as a `store`: store_acquire, store_search, store_get,
 * store_put, store_article_list … work on it as on the embedded store, with
 * the differences backend.h states (view-local passage ids; reads of a view
 * that lost its server mark it failed: store_view_failed). Same arguments
 * and refusals as pg_store_open; store_close closes it. (pg_backend.c) */
store *pg_store_open_backend(const char *conninfo, const char *model, int dim,
                             const pg_store_options *opts, char *err, size_t errlen);
/* The pg_store under a store of this backend (for its figures); NULL for
 * another backend. */
pg_store *pg_store_of(store *s);

#endif
