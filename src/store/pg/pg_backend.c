/* pg_backend — the PostgreSQL store behind the store API (backend.h): the
 * store_ops of kind "postgres", so store_acquire, store_search, store_get,
 * store_put, store_article_list … work on a pg_store as on the embedded store.
 *
 * A view costs no I/O to acquire. It owns the rows its reads fetched — every
 * search's passages (pg_search_into's sink), every article_get's passages,
 * the topic names it handed out — in an arena freed at release; a passage id
 * is the row's index in the view (backend.h: view-local ids). Each read is
 * its own statement, so a view is not one snapshot of the database as the
 * embedded store's is: two reads of one view may see a write between them.
 *
 * Topics (store_topics, store_has_topic) come from a cache in the store,
 * refreshed at most every TOPICS_MAX_AGE seconds, at once after this
 * process's own writes, and at once when has_topic misses (a topic another
 * gateway just created exists for this one too). Counts are read by SQL when
 * asked (cheap: one partition, or the ragd_stats row).
 *
 * A read that cannot reach the server marks its view failed (store_view_failed
 * → STORE_ERR_UNAVAILABLE) and answers as an empty store would, except
 * has_topic, which answers true: the search that follows then reports the
 * outage itself (a 503), never a wrong "unknown topic" (422).
 */
#include <assert.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "obs/ragd_metrics.h"
#include "store/backend.h"
#include "store/pg/pg_internal.h"
#include "util/util.h"

#define TOPICS_MAX_AGE 1.0 /* seconds a topic list is trusted */
#define NO_PASSAGE UINT32_MAX /* first_passage of an article_list entry: none fetched */

/* The topic list, as last read from the database. */
typedef struct topic_cache {
    char **names; /* sorted byte-wise, each with at least one passage */
    int n;
    double read_at; /* now_seconds() of the read; 0: read it again before use */
} topic_cache;

typedef struct pg_backend {
    store_base base; /* first: backend.c finds the ops here */
    pg_store *pg;
    pthread_mutex_t topics_lock; /* guards topics and topics_gen (never held during I/O) */
    topic_cache topics;
    uint64_t topics_gen; /* counts this process's writes (topics_invalidate) */
} pg_backend;

/* A row of a view: a passage a read fetched (strings in the view's arena). */
typedef struct view_row {
    const char *article_id, *heading, *date, *topic, *text;
    int passage_index;
    long long seq;
} view_row;

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap;
    _Alignas(void *) char data[];
} arena_chunk;

typedef struct pg_view {
    store_base base;
    pg_backend *b;
    /* A view may be read by several threads at once (as the embedded
     * store's): the lock guards rows, the arena and failed. */
    pthread_mutex_t lock;
    arena_chunk *arena;
    view_row *rows;
    uint32_t n_rows, cap_rows;
    bool failed;
    char why[256];
} pg_view;

extern const store_ops pg_store_ops;

static pg_backend *backend_of(store *s) {
    pg_backend *b = (pg_backend *)s;
    assert(b->base.ops == &pg_store_ops);
    return b;
}

static pg_view *view_of(const store_view *cv) {
    pg_view *v = (pg_view *)cv;
    assert(v->base.ops == &pg_store_ops);
    return v;
}

/* ---- the view's arena and rows (callers hold v->lock) ---------------------- */

/* n bytes aligned for a pointer, valid until the view is released. */
static void *arena_alloc(pg_view *v, size_t n) {
    n = (n + sizeof(void *) - 1) / sizeof(void *) * sizeof(void *);
    arena_chunk *c = v->arena;
    if (c == NULL || c->cap - c->used < n) {
        size_t cap = n > 16384 ? n : 16384;
        c = xmalloc(sizeof *c + cap);
        c->next = v->arena, c->used = 0, c->cap = cap;
        v->arena = c;
    }
    void *p = c->data + c->used; /* data follows a pointer-aligned header; used stays aligned */
    c->used += n;
    return p;
}

static char *arena_dup(pg_view *v, const char *s) {
    size_t n = strlen(s) + 1;
    return memcpy(arena_alloc(v, n), s, n);
}

static uint32_t add_row(pg_view *v, const pg_fetched *r) {
    if (v->n_rows == v->cap_rows) {
        v->cap_rows = v->cap_rows ? 2 * v->cap_rows : 64;
        v->rows = xrealloc(v->rows, (size_t)v->cap_rows * sizeof *v->rows);
    }
    assert(v->n_rows < NO_PASSAGE);
    v->rows[v->n_rows] = (view_row){.article_id = arena_dup(v, r->article_id),
                                    .heading = arena_dup(v, r->heading),
                                    .date = arena_dup(v, r->date),
                                    .topic = arena_dup(v, r->topic),
                                    .text = arena_dup(v, r->text),
                                    .passage_index = r->passage_index,
                                    .seq = r->seq};
    return v->n_rows++;
}

/* pg_search_into's sink: the view keeps the rows. */
static uint32_t sink_keep(void *ctx, const pg_fetched *row) {
    pg_view *v = ctx;
    pthread_mutex_lock(&v->lock);
    uint32_t id = add_row(v, row);
    pthread_mutex_unlock(&v->lock);
    return id;
}

static void sink_name(void *ctx, uint32_t key, const char **article_id, long long *seq) {
    pg_view *v = ctx;
    pthread_mutex_lock(&v->lock);
    assert(key < v->n_rows); /* keys are what sink_keep returned */
    *article_id = v->rows[key].article_id; /* arena strings never move */
    *seq = v->rows[key].seq;
    pthread_mutex_unlock(&v->lock);
}

/* Mark v failed (the first reason is kept); the read then answers "empty". */
static void view_fail(pg_view *v, const char *kind, const char *why) {
    pthread_mutex_lock(&v->lock);
    if (!v->failed) snprintf(v->why, sizeof v->why, "%s", why);
    v->failed = true;
    pthread_mutex_unlock(&v->lock);
    ragd_metrics_store_unavailable(kind);
}

/* ---- reads on the reads pool ------------------------------------------------- */

/* Run a query that returns rows on the reads pool, once more on a fresh
 * connection if the server dropped this one (reads are safe to repeat), and
 * time it as kind. The result (the caller clears it), or NULL with err set
 * and *code the pg_store_error. */
static PGresult *read_rows(pg_backend *b, const char *kind, const char *sql, int n,
                           const char *const *params, int *code, char *err, size_t errlen) {
    double t0 = now_seconds();
    PGresult *out = NULL;
    *code = PG_STORE_ERR_UNAVAILABLE;
    for (int attempt = 0; attempt < 2 && out == NULL; attempt++) {
        PGconn *c = pg_conn_take(b->pg, &b->pg->reads, err, errlen);
        if (c == NULL) break;
        out = pg_exec_want(b->pg, c, sql, n, params, PGRES_TUPLES_OK, kind, code, err, errlen);
        bool dropped = PQstatus(c) != CONNECTION_OK;
        pg_conn_give(b->pg, &b->pg->reads, c);
        if (!dropped) break;
    }
    ragd_metrics_store_query(kind, now_seconds() - t0);
    return out;
}

/* A view's read of one number (count(*) and the like): the value, or 0 with
 * the view marked failed. */
static long long read_number(pg_view *v, const char *kind, const char *sql, int n,
                             const char *const *params) {
    char err[256];
    int code;
    PGresult *r = read_rows(v->b, kind, sql, n, params, &code, err, sizeof err);
    if (r == NULL || PQntuples(r) != 1) {
        if (r != NULL) snprintf(err, sizeof err, "%s: no answer row", kind);
        PQclear(r);
        view_fail(v, kind, err);
        return 0;
    }
    long long x = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return x;
}

/* ---- topics ------------------------------------------------------------------- */

static void topics_free(topic_cache *t) {
    for (int i = 0; i < t->n; i++) free(t->names[i]);
    free(t->names);
    *t = (topic_cache){0};
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Read the topic list from the database and make it b's cache. 0, or -1
 * with err set (the old list stays). No lock is held while the query runs: a
 * frozen server must not queue every other thread behind this one. A topic
 * exists while it has a passage: EXISTS stops at the first row of its
 * partition. */
static int topics_load(pg_backend *b, char *err, size_t errlen) {
    pthread_mutex_lock(&b->topics_lock);
    uint64_t gen = b->topics_gen;
    pthread_mutex_unlock(&b->topics_lock);
    double started = now_seconds();
    int code;
    PGresult *r = read_rows(b, "topics",
                            "SELECT t.topic FROM ragd_topics t WHERE EXISTS (SELECT 1 FROM"
                            " ragd_passages p WHERE p.topic = t.topic)",
                            0, NULL, &code, err, errlen);
    if (r == NULL) return -1;
    topic_cache fresh = {.n = PQntuples(r), .read_at = started};
    fresh.names = xcalloc((size_t)fresh.n + 1, sizeof *fresh.names);
    for (int i = 0; i < fresh.n; i++) fresh.names[i] = xstrdup(PQgetvalue(r, i, 0));
    PQclear(r);
    /* Byte-wise, as the embedded store sorts them (not the database's collation). */
    qsort(fresh.names, (size_t)fresh.n, sizeof *fresh.names, cmp_name);
    pthread_mutex_lock(&b->topics_lock);
    /* A write of this process since the query started may not be in it:
     * keep the list, but do not trust it for the next reader. */
    if (b->topics_gen != gen) fresh.read_at = 0;
    topics_free(&b->topics);
    b->topics = fresh;
    pthread_mutex_unlock(&b->topics_lock);
    return 0;
}

/* Under topics_lock. */
static bool topics_fresh(const pg_backend *b) {
    return b->topics.read_at > 0 && now_seconds() - b->topics.read_at < TOPICS_MAX_AGE;
}

static void topics_invalidate(pg_backend *b) {
    pthread_mutex_lock(&b->topics_lock);
    b->topics.read_at = 0;
    b->topics_gen++;
    pthread_mutex_unlock(&b->topics_lock);
}

static bool topics_has(const topic_cache *t, const char *name) {
    return bsearch(&name, t->names, (size_t)t->n, sizeof *t->names, cmp_name) != NULL;
}

static int pgb_topics(const store_view *cv, const char *const **names) {
    pg_view *v = view_of(cv);
    pg_backend *b = v->b;
    char err[256];
    pthread_mutex_lock(&b->topics_lock);
    bool fresh = topics_fresh(b);
    pthread_mutex_unlock(&b->topics_lock);
    int rc = fresh ? 0 : topics_load(b, err, sizeof err);
    if (rc != 0) view_fail(v, "topics", err);
    /* The names into the view: they stay valid while it is held, whatever
     * later refreshes do to the cache. */
    pthread_mutex_lock(&b->topics_lock);
    pthread_mutex_lock(&v->lock);
    int n = rc == 0 ? b->topics.n : 0;
    const char **out = arena_alloc(v, ((size_t)n + 1) * sizeof *out);
    for (int i = 0; i < n; i++) out[i] = arena_dup(v, b->topics.names[i]);
    out[n] = NULL;
    pthread_mutex_unlock(&v->lock);
    pthread_mutex_unlock(&b->topics_lock);
    *names = out;
    return n;
}

static bool pgb_has_topic(const store_view *cv, const char *topic) {
    pg_view *v = view_of(cv);
    pg_backend *b = v->b;
    pthread_mutex_lock(&b->topics_lock);
    bool known = topics_fresh(b) && topics_has(&b->topics, topic);
    pthread_mutex_unlock(&b->topics_lock);
    if (known) return true;
    /* Not in a list that may be up to a second old (another gateway may
     * just have created the topic), or no fresh list: read it again. */
    char err[256];
    if (topics_load(b, err, sizeof err) != 0) {
        view_fail(v, "topics", err);
        return true; /* unknown, not absent: the search reports the outage */
    }
    pthread_mutex_lock(&b->topics_lock);
    known = topics_has(&b->topics, topic);
    pthread_mutex_unlock(&b->topics_lock);
    return known;
}

/* ---- the store ------------------------------------------------------------------ */

static void pgb_close(store *s) {
    pg_backend *b = backend_of(s);
    pg_store_close(b->pg);
    topics_free(&b->topics);
    pthread_mutex_destroy(&b->topics_lock);
    free(b);
}

static const char *pgb_model_of(const store *s) {
    return pg_store_model(((const pg_backend *)s)->pg);
}

static size_t pgb_passages_now(store *s) {
    pg_backend *b = backend_of(s);
    char err[256];
    int code;
    PGresult *r = read_rows(b, "count", "SELECT n_docs FROM ragd_stats", 0, NULL, &code, err,
                            sizeof err);
    long long n = r != NULL && PQntuples(r) == 1 ? atoll(PQgetvalue(r, 0, 0)) : 0;
    if (r == NULL) ragd_metrics_store_unavailable("count");
    PQclear(r);
    return n > 0 ? (size_t)n : 0;
}

/* On the reads pool, not the writes pool: ready means "can answer
 * questions", and searches read there — with a standby for reads, a gateway
 * whose primary is down (writes 503) still serves every search. */
static int pgb_check(store *s, char *err, size_t errlen) {
    pg_backend *b = backend_of(s);
    int code;
    PGresult *r = read_rows(b, "check", "SELECT 1", 0, NULL, &code, err, errlen);
    if (r == NULL) {
        /* Refused rather than unreachable (code PG_STORE_ERR_DATABASE: err
         * says why) is still "cannot serve now". */
        ragd_metrics_store_unavailable("check");
        return STORE_ERR_UNAVAILABLE;
    }
    PQclear(r);
    return 0;
}

static const store_view *pgb_acquire(store *s) {
    pg_view *v = xcalloc(1, sizeof *v);
    v->base.ops = &pg_store_ops;
    v->b = backend_of(s);
    pthread_mutex_init(&v->lock, NULL);
    return (const store_view *)v;
}

/* pg_store_error → the store API's codes (documents.h): unavailable stays
 * unavailable, anything else is -1 (err says what). */
static int write_code(int rc) { return rc == PG_STORE_ERR_UNAVAILABLE ? STORE_ERR_UNAVAILABLE : -1; }

static int pgb_put(store *s, const store_article *articles, size_t n, store_write_result *results,
                   char *err, size_t errlen) {
    pg_backend *b = backend_of(s);
    double t0 = now_seconds();
    int rc = pg_store_put(b->pg, articles, n, results, err, errlen);
    ragd_metrics_store_query("put", now_seconds() - t0);
    /* Even a failed write may have created a topic's partition. */
    topics_invalidate(b);
    if (rc == PG_STORE_ERR_UNAVAILABLE) ragd_metrics_store_unavailable("put");
    return rc == 0 ? 0 : write_code(rc);
}

static int pgb_delete(store *s, const char *article_id, char *err, size_t errlen) {
    pg_backend *b = backend_of(s);
    double t0 = now_seconds();
    int rc = pg_store_delete(b->pg, article_id, err, errlen);
    ragd_metrics_store_query("delete", now_seconds() - t0);
    if (rc == 1) topics_invalidate(b); /* a topic may have lost its last passage */
    if (rc == PG_STORE_ERR_UNAVAILABLE) ragd_metrics_store_unavailable("delete");
    return rc >= 0 ? rc : write_code(rc);
}

/* The database keeps its tables and indexes current at every write: there
 * is no live segment to fold into a snapshot. */
static int pgb_merge(store *s, char *err, size_t errlen) {
    (void)s, (void)err, (void)errlen;
    return 0;
}

static void pgb_set_merge_threshold(store *s, size_t passages) {
    (void)s, (void)passages; /* nothing merges (pgb_merge) */
}

static void pgb_live_stats(store *s, store_live_stats *out) {
    (void)s;
    *out = (store_live_stats){0}; /* no live segment, no log, no merges */
}

/* ---- a view ---------------------------------------------------------------------- */

static void pgb_release(const store_view *cv) {
    pg_view *v = view_of(cv);
    for (arena_chunk *c = v->arena, *next; c != NULL; c = next) {
        next = c->next;
        free(c);
    }
    free(v->rows);
    pthread_mutex_destroy(&v->lock);
    free(v);
}

static int pgb_view_failed(const store_view *cv, char *err, size_t errlen) {
    pg_view *v = view_of(cv);
    pthread_mutex_lock(&v->lock);
    bool failed = v->failed;
    if (failed) seterr(err, errlen, "%s", v->why);
    pthread_mutex_unlock(&v->lock);
    return failed ? STORE_ERR_UNAVAILABLE : 0;
}

static const char *pgb_model(const store_view *v) { return pg_store_model(view_of(v)->b->pg); }
static int pgb_dim(const store_view *v) { return pg_store_dim(view_of(v)->b->pg); }

static store_bm25_params pgb_bm25(const store_view *v) {
    bm25_params p = view_of(v)->b->pg->bm25;
    return (store_bm25_params){p.k1, p.b, p.w_heading, BM25_DEFAULT_W_ARTICLE};
}

static size_t pgb_count(const store_view *cv, const char *topic) {
    pg_view *v = view_of(cv);
    long long n = topic == NULL
                      ? read_number(v, "count", "SELECT n_docs FROM ragd_stats", 0, NULL)
                      : read_number(v, "count", "SELECT count(*) FROM ragd_passages WHERE topic = $1",
                                    1, (const char *const[]){topic});
    return n > 0 ? (size_t)n : 0;
}

static int pgb_get(const store_view *cv, uint32_t id, store_passage *out) {
    pg_view *v = view_of(cv);
    pthread_mutex_lock(&v->lock);
    bool ok = id < v->n_rows;
    if (ok) {
        const view_row *r = &v->rows[id];
        *out = (store_passage){.id = id, .article_id = r->article_id, .heading = r->heading,
                               .date = r->date, .topic = r->topic, .text = r->text,
                               .passage_index = r->passage_index};
    }
    pthread_mutex_unlock(&v->lock);
    return ok ? 0 : -1;
}

/* The vectors stay in the database: no serving path reads them back (the
 * callers of store_vector are tools on the embedded store), and fetching
 * dim floats with every hit would widen every search's answer. */
static const float *pgb_vector(const store_view *v, uint32_t id) {
    (void)v, (void)id;
    return NULL;
}

static int pgb_search(const store_view *cv, const store_query *q, search_hit *hits, char *err,
                      size_t errlen) {
    pg_view *v = view_of(cv);
    pg_row_sink sink = {.keep = sink_keep, .name = sink_name, .ctx = v};
    double t0 = now_seconds();
    int n = pg_search_into(v->b->pg, q, &sink, hits, err, errlen);
    ragd_metrics_store_query("search", now_seconds() - t0);
    if (n >= 0) return n;
    switch (n) {
    case PG_STORE_ERR_BAD_QUERY: return STORE_ERR_BAD_QUERY;
    case PG_STORE_ERR_UNAVAILABLE:
        view_fail(v, "search", err);
        return STORE_ERR_UNAVAILABLE;
    default:
        /* The analyzer, or the database refusing the statement (a bug, a
         * full disk): not the query's fault, and no retry will help. */
        return STORE_ERR_ANALYZER;
    }
}

static int pgb_article_get(const store_view *cv, const char *article_id, store_article_info *out) {
    pg_view *v = view_of(cv);
    char err[256];
    int code;
    PGresult *r = read_rows(v->b, "get",
                            "SELECT a.heading, a.date, a.topic, a.body, a.n_passages, p.passage_index,"
                            " p.text, p.seq FROM ragd_articles a JOIN ragd_passages p ON p.topic = a.topic"
                            " AND p.article_id = a.id WHERE a.id = $1 ORDER BY p.passage_index",
                            1, (const char *const[]){article_id}, &code, err, sizeof err);
    if (r == NULL) {
        view_fail(v, "get", err);
        return -1;
    }
    int n = PQntuples(r);
    if (n == 0) {
        PQclear(r);
        return -1;
    }
    /* A write replaces an article's rows in one transaction: one statement
     * sees all of them. */
    assert(atoi(PQgetvalue(r, 0, 4)) == n);
    pthread_mutex_lock(&v->lock);
    uint32_t first = v->n_rows;
    for (int i = 0; i < n; i++) {
        pg_fetched row = {.article_id = article_id, .heading = PQgetvalue(r, i, 0),
                          .date = PQgetvalue(r, i, 1), .topic = PQgetvalue(r, i, 2),
                          .text = PQgetvalue(r, i, 6), .passage_index = atoi(PQgetvalue(r, i, 5)),
                          .seq = atoll(PQgetvalue(r, i, 7))};
        add_row(v, &row);
    }
    const view_row *p = &v->rows[first];
    *out = (store_article_info){.id = p->article_id, .heading = p->heading, .date = p->date,
                                .topic = p->topic, .text = arena_dup(v, PQgetvalue(r, 0, 3)),
                                .n_passages = (size_t)n, .first_passage = first};
    pthread_mutex_unlock(&v->lock);
    PQclear(r);
    return 0;
}

/* Pages carry no article text and no passages (first_passage is NO_PASSAGE):
 * a listing shows summaries, store_article_get reads one article whole. */
static size_t pgb_article_list(const store_view *cv, const char *topic, const char *after,
                               size_t limit, store_article_info *out, bool *more) {
    pg_view *v = view_of(cv);
    *more = false;
    if (limit == 0) return 0;
    char lim[24], err[256];
    snprintf(lim, sizeof lim, "%zu", limit + 1); /* one more: is there a next page? */
    const char *params[] = {topic, after && *after ? after : "", lim};
    int code;
    PGresult *r = read_rows(v->b, "list",
                            "SELECT id, heading, date, topic, n_passages FROM ragd_articles"
                            " WHERE ($1::text IS NULL OR topic = $1) AND id > $2 COLLATE \"C\""
                            " ORDER BY id COLLATE \"C\" LIMIT $3::bigint",
                            3, params, &code, err, sizeof err);
    if (r == NULL) {
        view_fail(v, "list", err);
        return 0;
    }
    size_t n = (size_t)PQntuples(r);
    *more = n > limit;
    if (n > limit) n = limit;
    pthread_mutex_lock(&v->lock);
    for (size_t i = 0; i < n; i++)
        out[i] = (store_article_info){.id = arena_dup(v, PQgetvalue(r, (int)i, 0)),
                                      .heading = arena_dup(v, PQgetvalue(r, (int)i, 1)),
                                      .date = arena_dup(v, PQgetvalue(r, (int)i, 2)),
                                      .topic = arena_dup(v, PQgetvalue(r, (int)i, 3)),
                                      .text = NULL,
                                      .n_passages = (size_t)atoll(PQgetvalue(r, (int)i, 4)),
                                      .first_passage = NO_PASSAGE};
    pthread_mutex_unlock(&v->lock);
    PQclear(r);
    return n;
}

static size_t pgb_article_count(const store_view *cv, const char *topic) {
    pg_view *v = view_of(cv);
    long long n = topic == NULL
                      ? read_number(v, "count", "SELECT n_articles FROM ragd_stats", 0, NULL)
                      : read_number(v, "count", "SELECT count(*) FROM ragd_articles WHERE topic = $1",
                                    1, (const char *const[]){topic});
    return n > 0 ? (size_t)n : 0;
}

const store_ops pg_store_ops = {
    .kind = "postgres",
    .close = pgb_close,
    .model_of = pgb_model_of,
    .passages_now = pgb_passages_now,
    .check = pgb_check,
    .acquire = pgb_acquire,
    .put = pgb_put,
    .delete_article = pgb_delete,
    .merge = pgb_merge,
    .set_merge_threshold = pgb_set_merge_threshold,
    .live_stats = pgb_live_stats,
    .release = pgb_release,
    .view_failed = pgb_view_failed,
    .model = pgb_model,
    .dim = pgb_dim,
    .bm25 = pgb_bm25,
    .count = pgb_count,
    .topics = pgb_topics,
    .has_topic = pgb_has_topic,
    .get = pgb_get,
    .vector = pgb_vector,
    .search = pgb_search,
    .article_get = pgb_article_get,
    .article_list = pgb_article_list,
    .article_count = pgb_article_count,
};

store *pg_store_open_backend(const char *conninfo, const char *model, int dim,
                             const pg_store_options *opts, char *err, size_t errlen) {
    pg_store *pg = pg_store_open(conninfo, model, dim, opts, err, errlen);
    if (pg == NULL) return NULL;
    pg_backend *b = xcalloc(1, sizeof *b);
    b->base.ops = &pg_store_ops;
    b->pg = pg;
    pthread_mutex_init(&b->topics_lock, NULL);
    return (store *)b;
}

pg_store *pg_store_of(store *s) {
    if (s == NULL || ((const store_base *)s)->ops != &pg_store_ops) return NULL;
    return ((pg_backend *)s)->pg;
}
