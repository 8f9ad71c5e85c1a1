/* store — the embedded passage store: vectors, passage texts and metadata in
 * one data directory, with exact (SIMD) and approximate (HNSW) vector search,
 * BM25 lexical search and their fusion, partitioned by topic; live documents
 * (put, replace, delete while searched) are documents.h.
 *
 * A data directory holds:
 *   ingest.log    `ragd ingest`'s append-only log of every passage added (key,
 *                 metadata, text, vector) and of each article's text, one
 *                 checksummed record each: an interrupted build resumes from
 *                 it, a torn tail record (kill -9 mid-write) is discarded.
 *   documents.log the live writes (doclog.h), replayed on open.
 *   store.bin     the committed, read-only snapshot: header (magic, format
 *                 version, model identity, dim, counts, what of both logs it
 *                 covers), passage and article tables, texts, vectors grouped
 *                 by topic, BM25 postings and one HNSW graph per topic, every
 *                 section checksummed. Written as store.bin.tmp, fsynced,
 *                 renamed over store.bin, directory fsynced — a reader sees
 *                 the old snapshot or the new, never a mix.
 *   writer.lock   the one writer's flock.
 * Opening maps store.bin read-only (no re-parsing), verifies its checksums and
 * replays documents.log's records the snapshot does not cover.
 *
 * Passage ids are valid within a view; a snapshot numbers passages article
 * by article (an article's passages are consecutive), live passages follow.
 * Topics are partitions: a query with a topic scans only that topic's
 * vectors / graph / postings and live passages.
 *
 * Reads go through views (documents.h): store_acquire gives one consistent
 * state, the read functions below take it, store_release ends it. Any number
 * of threads may hold views and search at once. ingest's store_writer is
 * single-threaded; the data directory's writer.lock keeps a second writer out.
 */
#ifndef RAGD_STORE_STORE_H
#define RAGD_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 2: BM25F (heading field) over the English analyzer, analyzer id in the header.
 * 3: article table (live documents, documents.h) and documents.log coverage. */
#define STORE_FORMAT_VERSION 3
#define STORE_MAX_K 1000 /* largest k a query may ask for */

typedef struct store store;
/* One consistent state of a store (documents.h: store_acquire / store_release). */
typedef struct store_view store_view;

typedef struct store_passage {
    uint32_t id;            /* ignored by store_writer_add (the store assigns ids) */
    const char *article_id; /* stable id of the source article */
    const char *heading;
    const char *date;       /* ISO 8601, "2015-01-31" */
    const char *topic;      /* partition name ("business", "sports"); never NULL or "" */
    const char *text;       /* the passage's text (UTF-8) */
    int passage_index;      /* position of this passage within its article */
} store_passage;

typedef enum { SEARCH_HYBRID, SEARCH_VECTOR, SEARCH_LEXICAL } search_mode;

typedef struct search_hit {
    uint32_t passage_id;
    /* vector: cosine similarity; lexical: BM25F score; hybrid: reciprocal-rank
     * fusion score sum(w / (60 + rank)) over the two lists. */
    float score;
    /* Why it was chosen: its 1-based rank and score in the lexical and the
     * vector list (rank 0: not in that list, or that half did not run). */
    int lexical_rank, vector_rank;
    float lexical_score, vector_score;
} search_hit;

/* BM25F scoring parameters of a query (bm25.h); NULL in store_query means
 * the ones the store was built with. */
typedef struct store_bm25_params {
    float k1, b, heading_weight;
    float article_weight; /* the article field's (bm25.h), not recorded in the store */
} store_bm25_params;

typedef struct store_query {
    const float *vector; /* store_dim() floats, unit length; may be NULL in lexical mode */
    const char *text;    /* the query text for BM25; may be NULL in vector mode */
    size_t text_len;
    const char *topic;   /* NULL = all partitions */
    int k;               /* 1 … STORE_MAX_K */
    search_mode mode;
    bool approximate;    /* use the HNSW graphs instead of the exact scan */
    int ef_search;       /* HNSW beam width; <= 0 = default (max(128, 2k)) */
    /* Hybrid: weight of the vector list in the fusion, in (0, 1]; <= 0 means 1
     * (plain RRF). A small weight such as 0.25 puts lexical hits ahead of
     * vector-only ones and lets the vector rank break ties: for vectors known
     * to carry little meaning (the random-weight twin). */
    float vector_weight;
    /* Hybrid, for vectors that carry no meaning (the random-weight twin):
     * every lexical hit in BM25 order first, then vector-only hits in
     * vector order to fill the k; the score is 1 / (60 + position). The top
     * of the list is exactly lexical's, so it can only add to what BM25
     * finds. vector_weight is then unused. */
    bool lexical_first;
    /* Inclusive date range on the passages' dates, "YYYY-MM-DD" (NULL: open
     * end). Applied inside both halves of the search, so top k is the best k
     * of the matching passages; with a date range the vector half scans
     * exactly even when approximate is set. */
    const char *date_from, *date_to;
    /* At most this many passages of one article among the hits (0: no cap);
     * the best passages of each article are the ones kept. */
    int max_per_article;
    const store_bm25_params *bm25; /* tuning runs (`ragd eval`); NULL: the store's */
} store_query;

/* The BM25F parameters the store's index was built for (its default). */
store_bm25_params store_bm25(const store_view *v);

/* True if s is a calendar date "YYYY-MM-DD" (what date_from / date_to take). */
bool store_valid_date(const char *s);

/* The checks every backend's store_search makes before searching: k in range,
 * a known mode with the vector / text it needs, valid dates in order, a cap
 * of 0 or more. 0, or -1 (STORE_ERR_BAD_QUERY) with err naming the field. */
int store_query_check(const store_query *q, char *err, size_t errlen);

/* ---- reading ---------------------------------------------------------- */

/* Open the committed store in data_dir. expected_model (NULL = accept any)
 * must equal the model identity the store was built with. Refuses with a
 * message naming the cause and the fix (re-run `ragd ingest`) on: a missing
 * store, another format version, another BM25 analyzer (analyzer.h), a
 * different model or dim, a bad checksum or a truncated file. */
store *store_open(const char *data_dir, const char *expected_model, char *err, size_t errlen);
/* True if data_dir holds a committed store (not validated). */
bool store_exists(const char *data_dir);
void store_close(store *s);

const char *store_model(const store_view *v);
/* The same model identity (every view of a store has it), valid until store_close. */
const char *store_model_of(const store *s);
/* Live passages of the current state (store_count of a fresh view). */
size_t store_passages_now(store *s);
int store_dim(const store_view *v);
/* Passages in topic (NULL = all); 0 for an unknown topic. */
size_t store_count(const store_view *v, const char *topic);
/* Partition names, sorted; *names points into the view (do not free; valid
 * while v is held). Returns the count. */
int store_topics(const store_view *v, const char *const **names);
bool store_has_topic(const store_view *v, const char *topic);
/* Fill out with pointers valid while v is held. Returns 0, or -1 if id is
 * out of range. */
int store_get(const store_view *v, uint32_t id, store_passage *out);
/* The stored unit vector of a passage (store_dim() floats), NULL if out of range. */
const float *store_vector(const store_view *v, uint32_t id);

/* Why store_search failed, for callers to branch on (err is for people). */
typedef enum store_search_error {
    STORE_ERR_BAD_QUERY = -1, /* bad k, missing vector/text for the mode, bad dates or cap */
    STORE_ERR_ANALYZER = -2,  /* the BM25 analyzer could not be made (not the query's fault) */
    STORE_ERR_UNAVAILABLE = -3, /* a store on a server (PostgreSQL) cannot be reached: retry later */
} store_search_error;

/* Which backend s is: "embedded" (a data directory) or "postgres". */
const char *store_kind(const store *s);
/* Can s serve now? 0, or STORE_ERR_UNAVAILABLE with err set (its server is
 * down or failing over; the embedded store is always ready once open). */
int store_check(store *s, char *err, size_t errlen);
/* Did a read of v fail because its server could not be reached? 0, or
 * STORE_ERR_UNAVAILABLE with err set: the 0 / false / -1 such a read gave
 * means "unknown", not "none" (backend.h). Never for the embedded store. */
int store_view_failed(const store_view *v, char *err, size_t errlen);

/* Best q->k passages, best first, into hits (room for q->k). Returns the
 * number of hits (fewer than k when the partition or date range is small,
 * the article cap leaves too few, or, in lexical mode, few passages share a
 * term with the query; 0 for an unknown topic), or STORE_ERR_BAD_QUERY with
 * err set on a malformed query (bad k, missing vector/text for the mode, bad
 * dates, date_from after date_to, negative max_per_article), or
 * STORE_ERR_ANALYZER with err set if the BM25 analyzer could not be made,
 * or STORE_ERR_UNAVAILABLE with err set if its server cannot be reached. */
int store_search(const store_view *v, const store_query *q, search_hit *hits, char *err,
                 size_t errlen);

/* ---- writing (used by ingest): resumable and idempotent ---------------- */

typedef struct store_writer store_writer;

/* Open (creating data_dir if needed) for adding passages. Replays ingest.log:
 * every record durably written by an earlier, possibly interrupted run is
 * kept; a torn or corrupt tail is cut off. Refuses a log or store built with
 * another model or dim, or a log of another log format (message says to use
 * another --data-dir or delete it). A store.bin of an older store format or
 * another analyzer is rebuilt from the log at commit (nothing is encoded
 * again). Fails if another writer holds the directory. */
store_writer *store_writer_open(const char *data_dir, const char *model, int dim, char *err,
                                size_t errlen);
/* True if a passage with this key was already added (in this run or an
 * earlier one): the caller can skip encoding it. Keys are caller-defined,
 * e.g. a hash of the passage text and metadata. */
bool store_writer_has(const store_writer *w, const char *passage_key);
/* Append one passage (p->id is ignored) with its dim-float vector (unit
 * length). A key already present is skipped and returns 0. Returns 0, or -1
 * with err set (I/O error, bad field). */
int store_writer_add(store_writer *w, const char *passage_key, const store_passage *p,
                     const float *vec, char *err, size_t errlen);
/* Keep the whole text of an article (store_article_info.text of the
 * committed store); skipped, returning 0, when the log already holds this
 * text for it. Returns 0, or -1 with err set. */
int store_writer_add_text(store_writer *w, const char *article_id, const char *text, size_t len,
                          char *err, size_t errlen);
/* Passages in the log (earlier runs included). */
size_t store_writer_count(const store_writer *w);
/* Make every record added so far durable (fsync the log) without building. */
int store_writer_sync(store_writer *w, char *err, size_t errlen);
/* fsync the log, build BM25 and HNSW over every logged passage, write
 * store.bin.tmp, fsync, rename over store.bin, fsync the directory. If the
 * committed store already covers exactly the log, nothing is rewritten.
 * Returns 0, or -1 with err set (the previous store.bin is left intact). */
int store_writer_commit(store_writer *w, char *err, size_t errlen);
/* Close without committing: the log stays for a later resume. */
void store_writer_close(store_writer *w);

/* HNSW build parameters used by commit (defaults: M=16, ef_construction=100,
 * threads=0 meaning one per core). Call before commit. */
void store_writer_set_hnsw(store_writer *w, int m, int ef_construction, int threads);

#endif
