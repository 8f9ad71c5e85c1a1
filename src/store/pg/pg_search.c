/* pg_search — searches of the PostgreSQL store, answering as store_search
 * does (store.c): the same validation, depth, fusion and article cap, with
 * each half one SQL query:
 *   lexical  BM25F over the question's terms (ragd's analyzer, in C) scored
 *            in SQL with bm25.c's formula, N and avgdl from ragd_stats and
 *            document frequencies counted from the postings of every topic
 *            (as the embedded index counts them, computed once: MATERIALIZED),
 *            then the topic and date filters on the postings themselves;
 *   vector   exact: the inner product over every row of the partition(s) (a
 *            sequential scan: <#> has no index here), as store.c's SIMD scan;
 *            approximate: the HNSW index (ORDER BY <=>, hnsw.ef_search), and
 *            exact again with a date range, as store.c does.
 * Ties are broken by (article id, passage index) instead of the embedded
 * store's row number: the two agree except among exactly equal scores. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg/pg_internal.h"
#include "util/buf.h"
#include "util/util.h"

#define RRF_K 60.0f
#define HYBRID_DEPTH 50
#define HNSW_EF_MAX 1000 /* pgvector's limit of hnsw.ef_search */

typedef struct pg_row {
    char article_id[STORE_ARTICLE_ID_MAX + 1];
    int passage_index;
    float score;
} pg_row;

typedef struct candidate {
    float score;
    const pg_row *row;
    int lexical_rank, vector_rank;
    float lexical_score, vector_score;
} candidate;

static bool same_row(const pg_row *a, const pg_row *b) {
    return a->passage_index == b->passage_index && strcmp(a->article_id, b->article_id) == 0;
}

static int read_rows(PGconn *c, PGresult *r, pg_row *out, int cap, const char *what, char *err,
                     size_t errlen) {
    if (r == NULL) return PG_STORE_ERR_UNAVAILABLE; /* pg_exec_timed set err */
    if (PQresultStatus(r) != PGRES_TUPLES_OK) return pg_fail(c, r, what, err, errlen);
    int n = PQntuples(r) < cap ? PQntuples(r) : cap;
    for (int i = 0; i < n; i++) {
        snprintf(out[i].article_id, sizeof out[i].article_id, "%s", PQgetvalue(r, i, 0));
        out[i].passage_index = atoi(PQgetvalue(r, i, 1));
        out[i].score = strtof(PQgetvalue(r, i, 2), NULL);
    }
    PQclear(r);
    return n;
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

/* The WHERE clauses shared by both halves; params 1 and 2 are the half's own. */
static void add_filters(buf *sql, const char *table, const store_query *q, const char **params,
                        int *np) {
    if (q->topic) {
        params[*np] = q->topic;
        buf_printf(sql, " AND %s.topic = $%d", table, ++*np);
    }
    if (q->date_from || q->date_to) buf_printf(sql, " AND length(%s.date) >= 10", table);
    if (q->date_from) {
        params[*np] = q->date_from;
        buf_printf(sql, " AND left(%s.date, 10) >= $%d COLLATE \"C\"", table, ++*np);
    }
    if (q->date_to) {
        params[*np] = q->date_to;
        buf_printf(sql, " AND left(%s.date, 10) <= $%d COLLATE \"C\"", table, ++*np);
    }
}

static int lexical_rows(pg_store *s, PGconn *c, const store_query *q, int depth, pg_row *out,
                        char *err, size_t errlen) {
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
    if (q->bm25) p = (bm25_params){q->bm25->k1, q->bm25->b, q->bm25->heading_weight};
    char k1[32], b[32], wh[32], lim[16];
    snprintf(k1, sizeof k1, "%.9g", (double)p.k1);
    snprintf(b, sizeof b, "%.9g", (double)p.b);
    snprintf(wh, sizeof wh, "%.9g", (double)p.w_heading);
    snprintf(lim, sizeof lim, "%d", depth);
    const char *params[9] = {t.arr.data, k1, b, wh, lim};
    int np = 5;
    buf sql = {0};
    buf_printf(&sql,
               "WITH q AS (SELECT DISTINCT unnest($1::text[]) COLLATE \"C\" AS term),"
               " df AS MATERIALIZED (SELECT p.term, count(*)::float8 AS df FROM ragd_postings p"
               "  JOIN q ON p.term = q.term GROUP BY p.term),"
               " st AS (SELECT n_docs::float8 AS n, CASE WHEN n_docs > 0 AND total_len > 0"
               "  THEN total_len::float8 / n_docs ELSE 1 END AS avgdl FROM ragd_stats)"
               " SELECT p.article_id, p.passage_index,"
               "  sum(ln(1 + (st.n - df.df + 0.5) / (df.df + 0.5)) * x.tf * ($2::float8 + 1)"
               "   / (x.tf + $2::float8)) AS score"
               " FROM ragd_postings p JOIN df ON p.term = df.term CROSS JOIN st");
    buf_printf(&sql,
               " CROSS JOIN LATERAL (SELECT $4::float8 * p.tf_heading + CASE WHEN p.tf_body > 0"
               "  THEN p.tf_body / (1 - $3::float8 + $3::float8 * p.body_len / st.avgdl) ELSE 0 END"
               "  AS tf) x WHERE x.tf > 0");
    add_filters(&sql, "p", q, params, &np);
    buf_printf(&sql, " GROUP BY p.article_id, p.passage_index"
                     " ORDER BY score DESC, p.article_id COLLATE \"C\", p.passage_index LIMIT $5::int");
    buf_putc(&sql, '\0');
    PGresult *r = pg_exec_timed(s, c, sql.data, np, params, "lexical search", err, errlen);
    buf_free(&sql);
    buf_free(&t.arr);
    return read_rows(c, r, out, depth, "lexical search", err, errlen);
}

static void vector_literal(buf *b, const float *v, int dim) {
    buf_putc(b, '[');
    for (int i = 0; i < dim; i++) buf_printf(b, i ? ",%.9g" : "%.9g", (double)v[i]);
    buf_append(b, "]", 2);
}

static int vector_rows(pg_store *s, PGconn *c, const store_query *q, int depth, pg_row *out,
                       char *err, size_t errlen) {
    buf vec = {0};
    vector_literal(&vec, q->vector, s->dim);
    char lim[16];
    snprintf(lim, sizeof lim, "%d", depth);
    const char *params[6] = {vec.data, lim};
    int np = 2;
    /* A graph walk cannot skip rows out of the date range without losing
     * recall, so a filtered query scans exactly (as store.c). */
    bool hnsw = q->approximate && !q->date_from && !q->date_to;
    buf sql = {0};
    if (hnsw)
        buf_printf(&sql, "SELECT v.article_id, v.passage_index, 1 - (v.embedding <=> $1::vector)"
                         " FROM ragd_passages v WHERE true");
    else
        buf_printf(&sql, "SELECT v.article_id, v.passage_index, -(v.embedding <#> $1::vector) AS score"
                         " FROM ragd_passages v WHERE true");
    add_filters(&sql, "v", q, params, &np);
    if (hnsw)
        buf_printf(&sql, " ORDER BY v.embedding <=> $1::vector LIMIT $2::int");
    else
        buf_printf(&sql, " ORDER BY score DESC, v.article_id COLLATE \"C\", v.passage_index"
                         " LIMIT $2::int");
    buf_putc(&sql, '\0');
    int rc = 0;
    if (hnsw) {
        int ef = q->ef_search > 0 ? q->ef_search : (depth * 2 > 128 ? depth * 2 : 128);
        if (ef < depth) ef = depth;
        if (ef > HNSW_EF_MAX) ef = HNSW_EF_MAX;
        char set[80];
        snprintf(set, sizeof set, "BEGIN; SET LOCAL hnsw.ef_search = %d", ef);
        PGresult *r = pg_exec_timed(s, c, set, 0, NULL, "setting hnsw.ef_search", err, errlen);
        if (r == NULL) rc = PG_STORE_ERR_UNAVAILABLE;
        else if (PQresultStatus(r) != PGRES_COMMAND_OK) rc = pg_fail(c, r, "setting hnsw.ef_search", err, errlen);
        else PQclear(r);
    }
    if (rc == 0) {
        PGresult *r = pg_exec_timed(s, c, sql.data, np, params, "vector search", err, errlen);
        rc = read_rows(c, r, out, depth, "vector search", err, errlen);
    }
    /* Only a connection that answers (not one a timeout left busy). */
    if (hnsw && (PQtransactionStatus(c) == PQTRANS_INTRANS || PQtransactionStatus(c) == PQTRANS_INERROR)) {
        PGresult *r = pg_exec_timed(s, c, "COMMIT", 0, NULL, "COMMIT", NULL, 0);
        PQclear(r);
    }
    buf_free(&sql);
    buf_free(&vec);
    return rc;
}

/* ---- fusion, as store.c ---------------------------------------------------- */

static int by_score_desc(const void *a, const void *b) {
    const candidate *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    int c = strcmp(x->row->article_id, y->row->article_id);
    if (c) return c;
    return (x->row->passage_index > y->row->passage_index) -
           (x->row->passage_index < y->row->passage_index);
}

static int fuse(const pg_row *va, int nv, float vector_weight, const pg_row *la, int nl,
                candidate *out) {
    int n = 0;
    for (int i = 0; i < nv; i++)
        out[n++] = (candidate){.score = vector_weight / (RRF_K + (float)(i + 1)), .row = &va[i],
                               .vector_rank = i + 1, .vector_score = va[i].score};
    for (int i = 0; i < nl; i++) {
        float add = 1.0f / (RRF_K + (float)(i + 1));
        int j = 0;
        while (j < nv && !same_row(out[j].row, &la[i])) j++;
        if (j == nv) out[j = n++] = (candidate){.row = &la[i]};
        out[j].score += add;
        out[j].lexical_rank = i + 1;
        out[j].lexical_score = la[i].score;
    }
    qsort(out, (size_t)n, sizeof *out, by_score_desc);
    return n;
}

static int lexical_then_vector(const pg_row *va, int nv, const pg_row *la, int nl,
                               candidate *out) {
    int n = 0;
    for (int i = 0; i < nl; i++)
        out[n++] = (candidate){.row = &la[i], .lexical_rank = i + 1, .lexical_score = la[i].score};
    for (int i = 0; i < nv; i++) {
        int j = 0;
        while (j < nl && !same_row(out[j].row, &va[i])) j++;
        if (j == nl) out[j = n++] = (candidate){.row = &va[i]};
        out[j].vector_rank = i + 1;
        out[j].vector_score = va[i].score;
    }
    for (int i = 0; i < n; i++) out[i].score = 1.0f / (RRF_K + (float)(i + 1));
    return n;
}

static pg_hit to_hit(const candidate *c) {
    pg_hit h = {.passage_index = c->row->passage_index, .score = c->score,
                .lexical_rank = c->lexical_rank, .vector_rank = c->vector_rank,
                .lexical_score = c->lexical_score, .vector_score = c->vector_score};
    snprintf(h.article_id, sizeof h.article_id, "%s", c->row->article_id);
    return h;
}

/* The first k candidates, at most cap (> 0) of one article. */
static int cap_per_article(const candidate *c, int n, int cap, int k, pg_hit *hits) {
    int out = 0;
    for (int i = 0; i < n && out < k; i++) {
        int same = 0;
        for (int j = 0; j < out && same < cap; j++)
            same += strcmp(c[i].row->article_id, hits[j].article_id) == 0;
        if (same >= cap) continue;
        hits[out++] = to_hit(&c[i]);
    }
    return out;
}

static int validate(const store_query *q, char *err, size_t errlen) {
    if (q->k < 1 || q->k > STORE_MAX_K)
        return seterr(err, errlen, "k must be between 1 and %d", STORE_MAX_K);
    if (q->mode != SEARCH_HYBRID && q->mode != SEARCH_VECTOR && q->mode != SEARCH_LEXICAL)
        return seterr(err, errlen, "unknown search mode %d", (int)q->mode);
    if (q->mode != SEARCH_LEXICAL && q->vector == NULL)
        return seterr(err, errlen, "this search mode needs a query vector");
    if (q->mode != SEARCH_VECTOR && q->text == NULL)
        return seterr(err, errlen, "this search mode needs query text");
    if (q->date_from != NULL && !store_valid_date(q->date_from))
        return seterr(err, errlen, "date_from must be a date YYYY-MM-DD");
    if (q->date_to != NULL && !store_valid_date(q->date_to))
        return seterr(err, errlen, "date_to must be a date YYYY-MM-DD");
    if (q->date_from != NULL && q->date_to != NULL && strcmp(q->date_from, q->date_to) > 0)
        return seterr(err, errlen, "date_from is after date_to");
    if (q->max_per_article < 0) return seterr(err, errlen, "max_per_article must be 0 or more");
    return 0;
}

static int search_on(pg_store *s, PGconn *c, const store_query *q, pg_hit *hits, char *err,
                     size_t errlen) {
    int k = q->k;
    int depth = q->max_per_article > 0 ? 4 * k : k;
    if (q->mode == SEARCH_HYBRID && depth < HYBRID_DEPTH) depth = HYBRID_DEPTH;
    if (depth > STORE_MAX_K) depth = STORE_MAX_K;
    if (depth < k) depth = k;
    pg_row *va = xmalloc((size_t)depth * sizeof *va), *la = xmalloc((size_t)depth * sizeof *la);
    candidate *cand = xmalloc((size_t)depth * 2 * sizeof *cand);
    int nv = 0, nl = 0, n;
    if (q->mode != SEARCH_LEXICAL) nv = vector_rows(s, c, q, depth, va, err, errlen);
    if (nv >= 0 && q->mode != SEARCH_VECTOR) nl = lexical_rows(s, c, q, depth, la, err, errlen);
    if (nv < 0 || nl < 0) {
        n = nv < 0 ? nv : nl;
        goto done;
    }
    int nc = 0;
    if (q->mode == SEARCH_HYBRID && q->lexical_first) {
        nc = lexical_then_vector(va, nv, la, nl, cand);
    } else if (q->mode == SEARCH_HYBRID) {
        float w = q->vector_weight > 0 && q->vector_weight < 1 ? q->vector_weight : 1.0f;
        nc = fuse(va, nv, w, la, nl, cand);
    } else if (q->mode == SEARCH_VECTOR) {
        for (int i = 0; i < nv; i++)
            cand[nc++] = (candidate){.score = va[i].score, .row = &va[i], .vector_rank = i + 1,
                                     .vector_score = va[i].score};
    } else {
        for (int i = 0; i < nl; i++)
            cand[nc++] = (candidate){.score = la[i].score, .row = &la[i], .lexical_rank = i + 1,
                                     .lexical_score = la[i].score};
    }
    if (q->max_per_article > 0) {
        n = cap_per_article(cand, nc, q->max_per_article, k, hits);
    } else {
        n = nc < k ? nc : k;
        for (int i = 0; i < n; i++) hits[i] = to_hit(&cand[i]);
    }
done:
    free(va);
    free(la);
    free(cand);
    return n;
}

int pg_store_search(pg_store *s, const store_query *q, pg_hit *hits, char *err, size_t errlen) {
    if (validate(q, err, errlen) != 0) return PG_STORE_ERR_BAD_QUERY;
    /* A read is safe to repeat: once more on a fresh connection when the
     * server dropped this one (a restart the idle check could not see). */
    for (int attempt = 0;; attempt++) {
        PGconn *c = pg_conn_take(s, &s->reads, err, errlen);
        if (c == NULL) return PG_STORE_ERR_UNAVAILABLE;
        int n = search_on(s, c, q, hits, err, errlen);
        bool dropped = PQstatus(c) != CONNECTION_OK;
        pg_conn_give(s, &s->reads, c);
        if (n != PG_STORE_ERR_UNAVAILABLE || !dropped || attempt == 1) return n;
    }
}

int pg_store_reads_from_standby(pg_store *s, char *err, size_t errlen) {
    PGconn *c = pg_conn_take(s, &s->reads, err, errlen);
    if (c == NULL) return PG_STORE_ERR_UNAVAILABLE;
    PGresult *r = pg_exec_timed(s, c, "SELECT pg_is_in_recovery()", 0, NULL, "asking where reads go",
                                err, errlen);
    int rc;
    if (r == NULL) {
        rc = PG_STORE_ERR_UNAVAILABLE;
    } else if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        rc = pg_fail(c, r, "asking where reads go", err, errlen);
    } else {
        rc = PQgetvalue(r, 0, 0)[0] == 't';
        PQclear(r);
    }
    pg_conn_give(s, &s->reads, c);
    return rc;
}
