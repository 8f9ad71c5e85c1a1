/* pg_search — searches of the PostgreSQL store, answering as store_search
 * does (store.c): the same validation, depth, fusion and article cap, with
 * each half one SQL query:
 *   lexical  BM25F over the question's terms (ragd's analyzer, in C) scored
 *            in SQL with bm25.c's formula, N and avgdl from ragd_stats and
 *            document frequencies counted from the postings of every topic
 *            (as the embedded index counts them, computed once: MATERIALIZED),
 *            then the topic and date filters on the postings themselves; the
 *            article field (bm25.h) the same way from ragd_article_terms;
 *   vector   exact: the inner product over every row of the partition(s) (a
 *            sequential scan: <#> has no index here), as store.c's SIMD scan;
 *            approximate: the HNSW index (ORDER BY <=>, hnsw.ef_search), and
 *            exact again with a date range, as store.c does.
 * Each half's query also returns the columns of its rows (heading, date,
 * topic, text: a join on the primary key after the LIMIT), which the caller's
 * sink keeps (a view's arena, pg_backend.c), so reading a hit back costs no
 * round trip. The two lists are fused by fusion.c, as the embedded store's.
 * Ties are broken by seq, the passages' write order, as the embedded store
 * breaks them by passage id (which counts up in ingest and write order): the
 * same writes give the same order among equal scores.
 * A hybrid search runs its halves at once on two connections when the read
 * pool has a second one free (the vector half on a thread of its own), so it
 * costs about its slower half; with the pool full it runs them in turn on one
 * connection, never waiting for a second. */
#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/fusion.h"
#include "store/pg/pg_internal.h"
#include "util/buf.h"
#include "util/util.h"

#define HNSW_EF_MAX 1000 /* pgvector's limit of hnsw.ef_search */

/* The columns every half's query returns, in this order. */
enum { COL_ARTICLE, COL_INDEX, COL_SCORE, COL_HEADING, COL_DATE, COL_TOPIC, COL_TEXT, COL_SEQ, N_COLS };
#define ROW_COLUMNS "x.article_id, x.passage_index, x.score, v.heading, v.date, v.topic, v.text, x.seq"
/* The half's ranked rows x joined to their passage. */
#define ROW_JOIN                                                                                   \
    " JOIN ragd_passages v ON v.topic = x.topic AND v.article_id = x.article_id"                   \
    " AND v.passage_index = x.passage_index"                                                       \
    " ORDER BY x.score DESC, x.seq"

/* Run a half's query: its rows, or NULL and a pg_store_error (err set). */
static PGresult *half_rows(pg_store *s, PGconn *c, const char *sql, int n, const char *const *params,
                           const char *what, int *rc, char *err, size_t errlen) {
    PGresult *r = pg_exec_want(s, c, sql, n, params, PGRES_TUPLES_OK, what, rc, err, errlen);
    if (r != NULL && PQnfields(r) != N_COLS) {
        *rc = pg_fail(c, r, what, err, errlen);
        return NULL;
    }
    return r;
}

/* ---- the two halves ---------------------------------------------------- */

typedef struct term_list {
    buf arr;  /* a text[] literal */
    int n;
} term_list;

static void on_term(const char *t, size_t len, void *ctx) {
    term_list *q = ctx;
    buf_append(&q->arr, q->n ? ",\"" : "\"", q->n ? 2 : 1);
    for (size_t i = 0; i < len; i++) {
        if (t[i] == '"' || t[i] == '\\') buf_putc(&q->arr, '\\');
        buf_putc(&q->arr, t[i]);
    }
    buf_putc(&q->arr, '"');
    q->n++;
}

/* The query's filters as parameters: the $n of each, 0 for none. */
typedef struct filter_params {
    int topic, date_from, date_to;
} filter_params;

#define MAX_FILTER_PARAMS 3

/* Append the filters' values to params (np of them so far). */
static filter_params bind_filters(const store_query *q, const char **params, int *np) {
    filter_params f = {0};
    if (q->topic) params[*np] = q->topic, f.topic = ++*np;
    if (q->date_from) params[*np] = q->date_from, f.date_from = ++*np;
    if (q->date_to) params[*np] = q->date_to, f.date_to = ++*np;
    return f;
}

/* The WHERE clauses of the filters on table's rows (every table searched
 * has topic and date columns). */
static void add_filters(buf *sql, const char *table, filter_params f) {
    if (f.topic) buf_printf(sql, " AND %s.topic = $%d", table, f.topic);
    if (f.date_from || f.date_to) buf_printf(sql, " AND length(%s.date) >= 10", table);
    if (f.date_from) buf_printf(sql, " AND left(%s.date, 10) >= $%d COLLATE \"C\"", table, f.date_from);
    if (f.date_to) buf_printf(sql, " AND left(%s.date, 10) <= $%d COLLATE \"C\"", table, f.date_to);
}

/* The lexical half: *out its rows (NULL: no term of the question is
 * indexable, or an error); 0 or a pg_store_error. */
static int lexical_rows(pg_store *s, PGconn *c, const store_query *q, int depth, PGresult **out,
                        char *err, size_t errlen) {
    *out = NULL;
    analyzer *an = pg_analyzer_take(s);
    if (an == NULL) return seterr(err, errlen, "cannot make the BM25 analyzer"), PG_STORE_ERR_ANALYZER;
    term_list t = {0};
    buf_putc(&t.arr, '{');
    analyzer_terms(an, q->text, q->text_len, on_term, &t);
    buf_append(&t.arr, "}", 2);
    pg_analyzer_give(s, an);
    if (t.n == 0) {
        buf_free(&t.arr);
        return 0;
    }
    bm25_params p = s->bm25;
    float w_article = BM25_DEFAULT_W_ARTICLE;
    if (q->bm25) {
        p = (bm25_params){q->bm25->k1, q->bm25->b, q->bm25->heading_weight};
        w_article = q->bm25->article_weight;
    }
    char k1[32], b[32], wh[32], lim[16], wa[32];
    snprintf(k1, sizeof k1, "%.9g", (double)p.k1);
    snprintf(b, sizeof b, "%.9g", (double)p.b);
    snprintf(wh, sizeof wh, "%.9g", (double)p.w_heading);
    snprintf(lim, sizeof lim, "%d", depth);
    snprintf(wa, sizeof wa, "%.9g", (double)w_article);
    const char *params[6 + MAX_FILTER_PARAMS] = {t.arr.data, k1, b, wh, lim, wa};
    int np = 6;
    filter_params f = bind_filters(q, params, &np);
    /* bm25.h's BM25F twice, as search.c computes it: m, the question's
     * postings in the filters; ps, each passage's score; art, each article's
     * from ragd_article_terms (body tf summed over its passages, heading
     * once, its length, df and N over articles), added ($6 times) to the
     * article's best passage only. Document frequencies count every topic's
     * rows, as the embedded index does: one index range per term each.
     * Sorts key on seq first and compare article ids bytewise: the planner
     * sorts these rows (its estimates are far too low for a hash), and a
     * text key in the database's collation costs a strcoll per comparison
     * (bench/README.md: a long question, 34 -> 25 ms). */
    buf sql = {0};
    buf_printf(&sql,
               "WITH q AS (SELECT DISTINCT unnest($1::text[]) COLLATE \"C\" AS term),"
               " df AS MATERIALIZED (SELECT q.term,"
               "  (SELECT count(*) FROM ragd_postings p WHERE p.term = q.term)::float8 AS df,"
               "  (SELECT count(*) FROM ragd_article_terms a WHERE a.term = q.term)::float8 AS adf"
               "  FROM q),"
               " st AS (SELECT n_docs::float8 AS n, CASE WHEN n_docs > 0 AND total_len > 0"
               "  THEN total_len::float8 / n_docs ELSE 1 END AS avgdl, n_articles::float8 AS na,"
               "  CASE WHEN n_articles > 0 AND total_len > 0 THEN total_len::float8 / n_articles"
               "  ELSE 1 END AS avgal FROM ragd_stats),"
               " m AS MATERIALIZED (SELECT p.topic, p.article_id, p.passage_index, p.seq, p.term,"
               "  p.tf_body, p.tf_heading, p.body_len FROM ragd_postings p JOIN q ON p.term = q.term"
               "  WHERE true");
    add_filters(&sql, "p", f);
    buf_printf(&sql,
               "),"
               " ps AS (SELECT m.topic, m.article_id, m.passage_index, m.seq,"
               "  sum(ln(1 + (st.n - df.df + 0.5) / (df.df + 0.5)) * f.tf * ($2::float8 + 1)"
               "   / (f.tf + $2::float8)) AS score"
               "  FROM m JOIN df ON m.term = df.term CROSS JOIN st"
               "  CROSS JOIN LATERAL (SELECT $4::float8 * m.tf_heading + CASE WHEN m.tf_body > 0"
               "   THEN m.tf_body / (1 - $3::float8 + $3::float8 * m.body_len / st.avgdl) ELSE 0 END"
               "   AS tf) f WHERE f.tf > 0 GROUP BY m.seq, m.topic, m.article_id, m.passage_index),"
               " art AS (SELECT a.article_id,"
               "  sum(ln(1 + (st.na - df.adf + 0.5) / (df.adf + 0.5)) * f.tf * ($2::float8 + 1)"
               "   / (f.tf + $2::float8)) AS score"
               "  FROM ragd_article_terms a JOIN df ON a.term = df.term CROSS JOIN st"
               "  CROSS JOIN LATERAL (SELECT $4::float8 * a.tf_heading + CASE WHEN a.tf_body > 0"
               "   THEN a.tf_body / (1 - $3::float8 + $3::float8 * a.article_len / st.avgal) ELSE 0 END"
               "   AS tf) f WHERE $6::float8 > 0 AND f.tf > 0");
    add_filters(&sql, "a", f);
    buf_printf(&sql,
               "  GROUP BY a.article_id),"
               " x AS (SELECT y.topic, y.article_id, y.passage_index, y.seq, y.total AS score FROM"
               "  (SELECT ps.topic, ps.article_id, ps.passage_index, ps.seq, ps.score"
               "   + CASE WHEN row_number() OVER (PARTITION BY ps.article_id COLLATE \"C\""
               "    ORDER BY ps.score DESC, ps.seq) = 1"
               "   THEN $6::float8 * coalesce(art.score, 0) ELSE 0 END AS total"
               "   FROM ps LEFT JOIN art ON art.article_id = ps.article_id) y"
               "  ORDER BY y.total DESC, y.seq LIMIT $5::int)"
               " SELECT " ROW_COLUMNS " FROM x" ROW_JOIN);
    buf_putc(&sql, '\0');
    int rc = 0;
    *out = half_rows(s, c, sql.data, np, params, "lexical search", &rc, err, errlen);
    buf_free(&sql);
    buf_free(&t.arr);
    return rc;
}

static void vector_literal(buf *b, const float *v, int dim) {
    buf_putc(b, '[');
    for (int i = 0; i < dim; i++) buf_printf(b, i ? ",%.9g" : "%.9g", (double)v[i]);
    buf_append(b, "]", 2);
}

/* The vector half: *out its rows (NULL on an error); 0 or a pg_store_error. */
static int vector_rows(pg_store *s, PGconn *c, const store_query *q, int depth, PGresult **out,
                       char *err, size_t errlen) {
    *out = NULL;
    buf vec = {0};
    vector_literal(&vec, q->vector, s->dim);
    char lim[16];
    snprintf(lim, sizeof lim, "%d", depth);
    const char *params[2 + MAX_FILTER_PARAMS] = {vec.data, lim};
    int np = 2;
    filter_params f = bind_filters(q, params, &np);
    /* A graph walk cannot skip rows out of the date range without losing
     * recall, so a filtered query scans exactly (as store.c). */
    bool hnsw = q->approximate && !q->date_from && !q->date_to;
    buf sql = {0};
    if (hnsw)
        buf_printf(&sql, "SELECT " ROW_COLUMNS " FROM (SELECT v.topic, v.article_id, v.passage_index,"
                         " v.seq, 1 - (v.embedding <=> $1::vector) AS score FROM ragd_passages v WHERE true");
    else
        buf_printf(&sql, "SELECT " ROW_COLUMNS " FROM (SELECT v.topic, v.article_id, v.passage_index,"
                         " v.seq, -(v.embedding <#> $1::vector) AS score FROM ragd_passages v WHERE true");
    add_filters(&sql, "v", f);
    if (hnsw)
        buf_printf(&sql, " ORDER BY v.embedding <=> $1::vector LIMIT $2::int) x" ROW_JOIN);
    else
        buf_printf(&sql, " ORDER BY score DESC, v.seq LIMIT $2::int) x" ROW_JOIN);
    buf_putc(&sql, '\0');
    int rc = 0;
    if (hnsw) {
        int ef = q->ef_search > 0 ? q->ef_search : (depth * 2 > 128 ? depth * 2 : 128);
        if (ef < depth) ef = depth;
        if (ef > HNSW_EF_MAX) ef = HNSW_EF_MAX;
        char set[80];
        snprintf(set, sizeof set, "BEGIN; SET LOCAL hnsw.ef_search = %d", ef);
        rc = pg_cmd(s, c, set, "setting hnsw.ef_search", err, errlen);
    }
    if (rc == 0) *out = half_rows(s, c, sql.data, np, params, "vector search", &rc, err, errlen);
    /* Only a connection that answers (not one a timeout left busy). */
    if (hnsw && (PQtransactionStatus(c) == PQTRANS_INTRANS || PQtransactionStatus(c) == PQTRANS_INERROR)) {
        PGresult *r = pg_exec_timed(s, c, "COMMIT", 0, NULL, "COMMIT", NULL, 0);
        PQclear(r);
    }
    buf_free(&sql);
    buf_free(&vec);
    return rc;
}

/* ---- the rows to the sink, then fusion.c -------------------------------------- */

static pg_fetched fetched(const PGresult *r, int i) {
    return (pg_fetched){.article_id = PQgetvalue(r, i, COL_ARTICLE),
                        .passage_index = atoi(PQgetvalue(r, i, COL_INDEX)),
                        .heading = PQgetvalue(r, i, COL_HEADING),
                        .date = PQgetvalue(r, i, COL_DATE),
                        .topic = PQgetvalue(r, i, COL_TOPIC),
                        .text = PQgetvalue(r, i, COL_TEXT),
                        .seq = atoll(PQgetvalue(r, i, COL_SEQ))};
}

/* The rows of r to the sink, as fusion's list: a passage already in the other
 * list (other, n_other) keeps its key there. */
static int to_list(const pg_row_sink *sink, const PGresult *r, int cap, const PGresult *other,
                   const scored *other_list, int n_other, scored *out) {
    int n = r ? PQntuples(r) : 0;
    if (n > cap) n = cap;
    for (int i = 0; i < n; i++) {
        pg_fetched row = fetched(r, i);
        int j = 0;
        while (j < n_other && atoll(PQgetvalue(other, j, COL_SEQ)) != row.seq) j++;
        out[i] = (scored){strtof(PQgetvalue(r, i, COL_SCORE), NULL),
                          j < n_other ? other_list[j].id : sink->keep(sink->ctx, &row)};
    }
    return n;
}

static const char *key_article(uint32_t key, void *ctx) {
    const pg_row_sink *sink = ctx;
    const char *article;
    long long seq;
    sink->name(sink->ctx, key, &article, &seq);
    return article;
}

/* Equal fused scores: in write order, as the SQL orders ties (and as the
 * embedded store orders its passage ids). */
static int key_tie(uint32_t a, uint32_t b, void *ctx) {
    const pg_row_sink *sink = ctx;
    const char *article;
    long long sa, sb;
    sink->name(sink->ctx, a, &article, &sa);
    sink->name(sink->ctx, b, &article, &sb);
    if (sa != sb) return (sa > sb) - (sa < sb);
    return (a > b) - (a < b);
}

/* The vector half of a hybrid search, run on its own thread and connection. */
typedef struct vector_half {
    pg_store *s;
    PGconn *c;
    const store_query *q;
    int depth;
    PGresult *rows;
    int rc;
    char err[512];
} vector_half;

static void *run_vector_half(void *arg) {
    vector_half *h = arg;
    h->rc = vector_rows(h->s, h->c, h->q, h->depth, &h->rows, h->err, sizeof h->err);
    return NULL;
}

/* Both halves' rows (either NULL when its mode leaves it out), at once when
 * c2 is a second connection, else one after the other on c. */
static int both_halves(pg_store *s, PGconn *c, PGconn *c2, const store_query *q, int depth,
                       PGresult **rv, PGresult **rl, char *err, size_t errlen) {
    *rv = *rl = NULL;
    if (q->mode == SEARCH_LEXICAL) return lexical_rows(s, c, q, depth, rl, err, errlen);
    if (q->mode == SEARCH_VECTOR) return vector_rows(s, c, q, depth, rv, err, errlen);
    vector_half h = {.s = s, .c = c2, .q = q, .depth = depth};
    pthread_t t;
    if (c2 == NULL || pthread_create(&t, NULL, run_vector_half, &h) != 0) {
        int rc = vector_rows(s, c, q, depth, rv, err, errlen);
        return rc == 0 ? lexical_rows(s, c, q, depth, rl, err, errlen) : rc;
    }
    int rc = lexical_rows(s, c, q, depth, rl, err, errlen);
    pthread_join(t, NULL);
    *rv = h.rows;
    if (rc == 0 && h.rc != 0) {
        seterr(err, errlen, "%s", h.err);
        rc = h.rc;
    }
    return rc;
}

static int search_on(pg_store *s, PGconn *c, PGconn *c2, const store_query *q,
                     const pg_row_sink *sink, search_hit *hits, char *err, size_t errlen) {
    int depth = fusion_depth(q);
    PGresult *rv, *rl;
    int rc = both_halves(s, c, c2, q, depth, &rv, &rl, err, errlen);
    if (rc == 0) {
        /* Only now, when both halves answered, do rows reach the sink: a
         * retried search adds nothing twice. */
        scored *va = xmalloc((size_t)depth * sizeof *va), *la = xmalloc((size_t)depth * sizeof *la);
        int nv = to_list(sink, rv, depth, NULL, NULL, 0, va);
        int nl = to_list(sink, rl, depth, rv, va, nv, la);
        fusion_keys keys = {.tie = key_tie, .article = key_article, .ctx = (void *)sink};
        rc = fusion_run(q, va, nv, la, nl, &keys, hits);
        free(va);
        free(la);
    }
    PQclear(rv);
    PQclear(rl);
    return rc;
}

int pg_search_into(pg_store *s, const store_query *q, const pg_row_sink *sink, search_hit *hits,
                   char *err, size_t errlen) {
    if (store_query_check(q, err, errlen) != 0) return PG_STORE_ERR_BAD_QUERY;
    /* A read is safe to repeat: once more on fresh connections when the
     * server dropped one (a restart the idle check could not see). */
    for (int attempt = 0;; attempt++) {
        PGconn *c = pg_conn_take(s, &s->reads, err, errlen);
        if (c == NULL) return PG_STORE_ERR_UNAVAILABLE;
        PGconn *c2 = q->mode == SEARCH_HYBRID ? pg_conn_try_take(s, &s->reads) : NULL;
        int n = search_on(s, c, c2, q, sink, hits, err, errlen);
        bool dropped = PQstatus(c) != CONNECTION_OK || (c2 && PQstatus(c2) != CONNECTION_OK);
        pg_conn_give(s, &s->reads, c);
        if (c2) pg_conn_give(s, &s->reads, c2);
        if (n != PG_STORE_ERR_UNAVAILABLE || !dropped || attempt == 1) return n;
    }
}

/* ---- pg_store_search: the same, with hits named by article and index ---- */

typedef struct named_rows {
    pg_hit *rows; /* article_id and passage_index only */
    long long *seqs;
    uint32_t n, cap;
} named_rows;

static uint32_t named_keep(void *ctx, const pg_fetched *row) {
    named_rows *t = ctx;
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 64;
        t->rows = xrealloc(t->rows, t->cap * sizeof *t->rows);
        t->seqs = xrealloc(t->seqs, t->cap * sizeof *t->seqs);
    }
    t->seqs[t->n] = row->seq;
    pg_hit *h = &t->rows[t->n];
    snprintf(h->article_id, sizeof h->article_id, "%s", row->article_id);
    h->passage_index = row->passage_index;
    return t->n++;
}

static void named_name(void *ctx, uint32_t key, const char **article_id, long long *seq) {
    const named_rows *t = ctx;
    assert(key < t->n);
    *article_id = t->rows[key].article_id;
    *seq = t->seqs[key];
}

int pg_store_search(pg_store *s, const store_query *q, pg_hit *hits, char *err, size_t errlen) {
    named_rows t = {0};
    pg_row_sink sink = {.keep = named_keep, .name = named_name, .ctx = &t};
    search_hit *sh = q->k >= 1 && q->k <= STORE_MAX_K ? xmalloc((size_t)q->k * sizeof *sh) : NULL;
    int n = sh ? pg_search_into(s, q, &sink, sh, err, errlen)
               : (store_query_check(q, err, errlen), PG_STORE_ERR_BAD_QUERY);
    for (int i = 0; i < n; i++) {
        hits[i] = t.rows[sh[i].passage_id];
        hits[i].score = sh[i].score;
        hits[i].lexical_rank = sh[i].lexical_rank;
        hits[i].vector_rank = sh[i].vector_rank;
        hits[i].lexical_score = sh[i].lexical_score;
        hits[i].vector_score = sh[i].vector_score;
    }
    free(sh);
    free(t.rows);
    free(t.seqs);
    return n;
}

int pg_store_reads_from_standby(pg_store *s, char *err, size_t errlen) {
    PGconn *c = pg_conn_take(s, &s->reads, err, errlen);
    if (c == NULL) return PG_STORE_ERR_UNAVAILABLE;
    int rc = 0;
    PGresult *r = pg_exec_want(s, c, "SELECT pg_is_in_recovery()", 0, NULL, PGRES_TUPLES_OK,
                               "asking where reads go", &rc, err, errlen);
    if (r != NULL && PQntuples(r) != 1) {
        rc = pg_fail(c, r, "asking where reads go", err, errlen);
    } else if (r != NULL) {
        rc = PQgetvalue(r, 0, 0)[0] == 't';
        PQclear(r);
    }
    pg_conn_give(s, &s->reads, c);
    return rc;
}
