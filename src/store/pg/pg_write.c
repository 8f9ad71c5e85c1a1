/* pg_write — writes to the PostgreSQL store: put (create or replace), delete
 * and the resumable bulk load, each batch one transaction; see pg_store.h.
 *
 * Passages, postings and article rows go in with COPY (text format). Each
 * passage gets the next write order (seq, from ragd_stats): searches break
 * ties by it, as the embedded store breaks them by passage id, which also
 * counts up in write order. The BM25
 * postings are made here, in C, by ragd's own analyzer: per passage, the
 * heading's and the body's term frequencies (capped as bm25.c caps them) and
 * the body length; and the article field's rows (ragd_article_terms), the
 * same terms summed over the article's passages, so that a search counts an
 * article's df and tf from one index range per term instead of aggregating
 * the passages' postings. Every write transaction first locks the ragd_stats row,
 * which serialises writers and keeps N, the total length and seq exact.
 * A topic's partitions are created before the write transaction, in their own
 * short one: creating a partition locks the parent table, and readers should
 * not wait for a whole batch to commit.
 * Every statement waits for its answer at most statement_timeout plus the
 * grace (pg_exec_timed, pg_await), and COPY's rows are sent within the same
 * bound, as searches do: a server that stops
 * answering (frozen, or a peer gone without a reset) fails a write as
 * unavailable instead of holding its thread and its pool connection.
 * Each passages partition has its own HNSW index (ragd_passages_p<N>_hnsw;
 * the parent has none, the planner merges the partitions' index scans). A
 * put creates it with the partition; a bulk load that creates a partition
 * builds its index once the rows are in (CREATE INDEX builds the graph in
 * memory, several times faster than inserting row by row into an existing
 * graph), and at its end creates every index still missing (an interrupted
 * load's). Until then that partition is searched exactly. */
#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg/pg_internal.h"
#include "util/buf.h"
#include "util/util.h"

#define PARTITION_LOCK_KEY 0x72616765
#define TF_BODY_MAX 0xFFFFFFu /* bm25.c's packing limits */
#define TF_HEADING_MAX 255u
#define COPY_CHUNK (1u << 20)

/* ---- validation -------------------------------------------------------- */

static int check_articles(const pg_store *s, const store_article *a, size_t n, char *err,
                          size_t errlen) {
    for (size_t i = 0; i < n; i++) {
        const store_article *x = &a[i];
        if (x->id == NULL || !store_valid_article_id(x->id, strlen(x->id)))
            return seterr(err, errlen, "article %zu: bad id (1 to %d of [A-Za-z0-9._:-])", i,
                          STORE_ARTICLE_ID_MAX);
        if (x->topic == NULL || *x->topic == '\0')
            return seterr(err, errlen, "article %zu (%s): empty topic", i, x->id);
        if (x->date == NULL || !store_valid_date(x->date))
            return seterr(err, errlen, "article %zu (%s): date must be YYYY-MM-DD", i, x->id);
        if (x->heading == NULL || x->text == NULL)
            return seterr(err, errlen, "article %zu (%s): missing heading or text", i, x->id);
        if (x->n_passages < 1 || x->passages == NULL || x->vectors == NULL)
            return seterr(err, errlen, "article %zu (%s): no passages", i, x->id);
        for (size_t j = 0; j < i; j++)
            if (strcmp(a[j].id, x->id) == 0)
                return seterr(err, errlen, "article %zu: id %s twice in one batch", i, x->id);
    }
    (void)s;
    return 0;
}

/* ---- COPY rows ----------------------------------------------------------- */

/* A field in COPY's text format: backslash, tab, newline and CR escaped. */
static void copy_field(buf *b, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '\\': buf_append(b, "\\\\", 2); break;
        case '\t': buf_append(b, "\\t", 2); break;
        case '\n': buf_append(b, "\\n", 2); break;
        case '\r': buf_append(b, "\\r", 2); break;
        default: buf_putc(b, *s);
        }
    }
}

static void copy_vector(buf *b, const float *v, int dim) {
    buf_putc(b, '[');
    for (int i = 0; i < dim; i++) buf_printf(b, i ? ",%.9g" : "%.9g", (double)v[i]);
    buf_putc(b, ']');
}

/* A bag of terms, sorted and counted by each_term: a passage's, every
 * occurrence with its field (count 1); an article's, each passage's tf of a
 * term in one field (count = that tf). */
typedef struct term_ref {
    uint32_t off, len, count;
    bool heading;
} term_ref;

typedef struct term_bag {
    buf chars;
    term_ref *refs;
    size_t n, cap;
} term_bag;

static void bag_add(term_bag *b, const char *t, size_t len, uint32_t count, bool heading) {
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 256;
        b->refs = xrealloc(b->refs, b->cap * sizeof *b->refs);
    }
    b->refs[b->n++] = (term_ref){(uint32_t)b->chars.len, (uint32_t)len, count, heading};
    buf_append(&b->chars, t, len);
}

static void bag_free(term_bag *b) {
    buf_free(&b->chars);
    free(b->refs);
    *b = (term_bag){0};
}

/* The analyzer's callback: one occurrence in the field being analysed. */
typedef struct analysis {
    term_bag *bag;
    bool heading;
    uint32_t body_len;
} analysis;

static void on_term(const char *t, size_t len, void *ctx) {
    analysis *an = ctx;
    bag_add(an->bag, t, len, 1, an->heading);
    if (!an->heading) an->body_len++;
}

static __thread const char *tls_chars;

static int by_term(const void *x, const void *y) {
    const term_ref *a = x, *b = y;
    uint32_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(tls_chars + a->off, tls_chars + b->off, n);
    if (c) return c;
    return (a->len > b->len) - (a->len < b->len);
}

/* fn for each distinct term of the bag (NUL-terminated), with its body and
 * heading tf, capped as bm25.c caps them (an article's summed body tf too:
 * it differs from the uncapped sum only past 2^24 occurrences of a term). */
typedef void term_fn(const char *term, size_t len, uint32_t body, uint32_t heading, void *ctx);

static void each_term(term_bag *b, term_fn *fn, void *ctx) {
    tls_chars = b->chars.data;
    if (b->n > 1) qsort(b->refs, b->n, sizeof *b->refs, by_term);
    for (size_t i = 0; i < b->n;) {
        uint64_t body = 0, heading = 0;
        size_t j = i;
        for (; j < b->n && by_term(&b->refs[i], &b->refs[j]) == 0; j++)
            *(b->refs[j].heading ? &heading : &body) += b->refs[j].count;
        char term[ANALYZER_MAX_TERM + 1];
        memcpy(term, b->chars.data + b->refs[i].off, b->refs[i].len);
        term[b->refs[i].len] = '\0';
        fn(term, b->refs[i].len, body > TF_BODY_MAX ? TF_BODY_MAX : (uint32_t)body,
           heading > TF_HEADING_MAX ? TF_HEADING_MAX : (uint32_t)heading, ctx);
        i = j;
    }
    tls_chars = NULL;
}

/* One passage's posting rows, and its tfs into its article's bag. */
typedef struct passage_rows {
    const store_article *a;
    size_t idx;
    uint32_t body_len;
    long long seq;
    buf *out;
    term_bag *article;
} passage_rows;

static void posting_row(const char *term, size_t len, uint32_t body, uint32_t heading, void *ctx) {
    passage_rows *pr = ctx;
    buf *out = pr->out;
    copy_field(out, term);
    buf_putc(out, '\t');
    copy_field(out, pr->a->topic);
    buf_putc(out, '\t');
    copy_field(out, pr->a->id);
    buf_printf(out, "\t%zu\t%u\t%u\t%u\t", pr->idx, body, heading, pr->body_len);
    copy_field(out, pr->a->date);
    buf_printf(out, "\t%lld\n", pr->seq);
    /* Every passage carries the article's heading: it counts once. */
    if (body > 0) bag_add(pr->article, term, len, body, false);
    if (heading > 0 && pr->idx == 0) bag_add(pr->article, term, len, heading, true);
}

/* Append the passage's posting rows (term, topic, article, index, tf_body,
 * tf_heading, body_len, date, seq) to out, and its tfs to the article's
 * bag; returns the body length. The passage's length, date and write order
 * ride along so a lexical search reads no other table. */
static uint32_t posting_rows(analyzer *an, const store_article *a, size_t idx, long long seq,
                             buf *out, term_bag *article) {
    term_bag bag = {0};
    analysis terms = {.bag = &bag, .heading = true};
    analyzer_terms(an, a->heading, strlen(a->heading), on_term, &terms);
    terms.heading = false;
    analyzer_terms(an, a->passages[idx], strlen(a->passages[idx]), on_term, &terms);
    passage_rows pr = {a, idx, terms.body_len, seq, out, article};
    each_term(&bag, posting_row, &pr);
    bag_free(&bag);
    return terms.body_len;
}

/* The article field's rows of one article (bm25.h), as search.c gathers
 * them at query time: the body tf summed over its passages, the heading tf
 * once, the article's length. */
typedef struct article_rows {
    const store_article *a;
    uint64_t len;
    buf *out;
} article_rows;

static void article_row(const char *term, size_t len, uint32_t body, uint32_t heading, void *ctx) {
    (void)len;
    article_rows *ar = ctx;
    copy_field(ar->out, term);
    buf_putc(ar->out, '\t');
    copy_field(ar->out, ar->a->topic);
    buf_putc(ar->out, '\t');
    copy_field(ar->out, ar->a->id);
    buf_printf(ar->out, "\t%u\t%u\t%llu\t", body, heading, (unsigned long long)ar->len);
    copy_field(ar->out, ar->a->date);
    buf_putc(ar->out, '\n');
}

/* Send what libpq holds for c, waiting at most until deadline
 * (now_seconds()) for the socket to take it: 0 sent, 1 not within the time,
 * -1 the connection failed. c is in nonblocking mode. */
static int flush_until(PGconn *c, double deadline) {
    for (;;) {
        int f = PQflush(c);
        if (f <= 0) return f;
        int ms = (int)((deadline - now_seconds()) * 1000.0);
        if (ms <= 0) return 1;
        /* Readable too: the server may answer (an error) instead of reading. */
        struct pollfd p = {.fd = PQsocket(c), .events = POLLOUT | POLLIN};
        if (p.fd < 0 || (poll(&p, 1, ms) < 0 && errno != EINTR)) return -1;
        if ((p.revents & POLLIN) && !PQconsumeInput(c)) return -1;
    }
}

/* COPY table (columns) FROM STDIN with the rows in data. */
static int copy_in(pg_store *s, PGconn *c, const char *sql, const buf *data, char *err,
                   size_t errlen) {
    int rc = 0;
    PGresult *r = pg_exec_want(s, c, sql, 0, NULL, PGRES_COPY_IN, "COPY", &rc, err, errlen);
    if (r == NULL) return rc;
    PQclear(r);
    /* The rows go out in nonblocking mode, a chunk at a time, each flushed
     * within the bound of an answer: a server that stops reading once the
     * socket's buffers are full cannot hold the thread either. */
    double deadline = pg_answer_deadline(s);
    if (PQsetnonblocking(c, 1) != 0) return pg_fail(c, NULL, "COPY", err, errlen);
    int state = 0; /* flush_until's */
    size_t off = 0;
    while (state == 0 && off < data->len) {
        size_t n = data->len - off < COPY_CHUNK ? data->len - off : COPY_CHUNK;
        int put = PQputCopyData(c, data->data + off, (int)n);
        if (put < 0) state = -1;
        else off += put == 1 ? n : 0; /* 0: libpq's buffer is full, flush first */
        if (state == 0) state = flush_until(c, deadline);
    }
    if (state == 0 || state == -1) {
        if (PQputCopyEnd(c, state == 0 ? NULL : "ragd: sending COPY data failed") < 0) state = -1;
        else if (state == 0) state = flush_until(c, deadline);
    }
    if (state == 1) {
        /* Left mid-COPY: pg_conn_give closes it and the server rolls back. */
        return seterr(err, errlen, "PostgreSQL unavailable, COPY: the server took no data within %d ms",
                      s->opts.statement_timeout_ms + PG_ANSWER_GRACE_MS),
               PG_STORE_ERR_UNAVAILABLE;
    }
    if (PQsetnonblocking(c, 0) != 0 && state == 0) state = -1;
    if (state < 0 && PQstatus(c) != CONNECTION_OK) return pg_fail(c, NULL, "COPY", err, errlen);
    r = pg_await(s, c, "COPY", err, errlen);
    if (state < 0) PQsetnonblocking(c, 0); /* all sent by now, or the connection is closed on return */
    if (r == NULL) return PG_STORE_ERR_UNAVAILABLE; /* err set */
    if (PQresultStatus(r) != PGRES_COMMAND_OK) return pg_fail(c, r, sql, err, errlen);
    PQclear(r);
    return 0;
}

/* ---- partitions -------------------------------------------------------- */

/* The HNSW index of a passages partition. */
static int create_index(pg_store *s, PGconn *c, int part, char *err, size_t errlen) {
    char sql[320];
    snprintf(sql, sizeof sql,
             "SET maintenance_work_mem = '128MB';"
             "CREATE INDEX IF NOT EXISTS ragd_passages_p%d_hnsw ON ragd_passages_p%d"
             " USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 100);"
             "RESET maintenance_work_mem",
             part, part);
    return pg_cmd(s, c, sql, "building the HNSW index", err, errlen);
}

/* Build the HNSW index of every partition that has none yet. */
static int create_missing_indexes(pg_store *s, PGconn *c, char *err, size_t errlen) {
    int rc = 0;
    PGresult *r = pg_exec_want(s, c,
                               "SELECT part FROM ragd_topics t WHERE NOT EXISTS (SELECT 1 FROM"
                               " pg_indexes WHERE indexname = 'ragd_passages_p' || t.part || '_hnsw')",
                               0, NULL, PGRES_TUPLES_OK, "listing indexes", &rc, err, errlen);
    if (r == NULL) return rc;
    for (int i = 0; rc == 0 && i < PQntuples(r); i++)
        rc = create_index(s, c, atoi(PQgetvalue(r, i, 0)), err, errlen);
    PQclear(r);
    return rc;
}

/* Make sure topic has its partitions (own transaction, see the top). */
static int ensure_partition(pg_store *s, PGconn *c, const char *topic, bool index_now, char *err,
                            size_t errlen) {
    const char *params[] = {topic};
    int rc = 0;
    PGresult *r = pg_exec_want(s, c, "SELECT 1 FROM ragd_topics WHERE topic = $1", 1, params,
                               PGRES_TUPLES_OK, "reading topics", &rc, err, errlen);
    if (r == NULL) return rc;
    bool known = PQntuples(r) == 1;
    PQclear(r);
    if (known) return 0;
    char lock[96];
    snprintf(lock, sizeof lock, "BEGIN; SELECT pg_advisory_xact_lock(%d)", PARTITION_LOCK_KEY);
    rc = pg_cmd(s, c, lock, "locking partitions", err, errlen);
    if (rc != 0) goto rollback;
    r = pg_exec_want(s, c, "SELECT (SELECT part FROM ragd_topics WHERE topic = $1),"
                           " (SELECT coalesce(max(part), 0) + 1 FROM ragd_topics)",
                     1, params, PGRES_TUPLES_OK, "reading topics", &rc, err, errlen);
    if (r == NULL) goto rollback;
    bool made_meanwhile = !PQgetisnull(r, 0, 0);
    int part = atoi(PQgetvalue(r, 0, 1));
    PQclear(r);
    if (!made_meanwhile) {
        char *lit = PQescapeLiteral(c, topic, strlen(topic));
        if (lit == NULL) {
            rc = pg_fail(c, NULL, "quoting a topic", err, errlen);
            goto rollback;
        }
        buf sql = {0};
        buf_printf(&sql,
                   "CREATE TABLE ragd_passages_p%d PARTITION OF ragd_passages FOR VALUES IN (%s);"
                   "CREATE TABLE ragd_postings_p%d PARTITION OF ragd_postings FOR VALUES IN (%s);"
                   "CREATE TABLE ragd_article_terms_p%d PARTITION OF ragd_article_terms"
                   " FOR VALUES IN (%s);"
                   "INSERT INTO ragd_topics VALUES (%s, %d)",
                   part, lit, part, lit, part, lit, lit, part);
        buf_putc(&sql, '\0');
        PQfreemem(lit);
        rc = pg_cmd(s, c, sql.data, "creating the topic's partitions", err, errlen);
        buf_free(&sql);
        if (rc == 0 && index_now) rc = create_index(s, c, part, err, errlen);
        if (rc != 0) goto rollback;
    }
    return pg_cmd(s, c, "COMMIT", "committing the partitions", err, errlen);
rollback:
    pg_rollback(s, c);
    return rc;
}

/* ---- one write transaction ----------------------------------------------- */

/* Remove an article inside the open transaction: *existed, and the passages
 * and body length it took off the statistics. */
static int remove_article(pg_store *s, PGconn *c, const char *id, bool *existed, long long *docs,
                          long long *len, char *err, size_t errlen) {
    const char *params[] = {id};
    int rc = 0;
    PGresult *r = pg_exec_want(s, c,
                               "WITH d AS (DELETE FROM ragd_passages WHERE article_id = $1"
                               " RETURNING body_len) SELECT count(*), coalesce(sum(body_len), 0) FROM d",
                               1, params, PGRES_TUPLES_OK, "deleting passages", &rc, err, errlen);
    if (r == NULL) return rc;
    *docs = atoll(PQgetvalue(r, 0, 0));
    *len = atoll(PQgetvalue(r, 0, 1));
    PQclear(r);
    r = pg_exec_want(s, c, "WITH a AS (DELETE FROM ragd_article_terms WHERE article_id = $1)"
                           " DELETE FROM ragd_postings WHERE article_id = $1", 1, params,
                     PGRES_COMMAND_OK, "deleting postings", &rc, err, errlen);
    if (r == NULL) return rc;
    PQclear(r);
    r = pg_exec_want(s, c, "DELETE FROM ragd_articles WHERE id = $1", 1, params, PGRES_COMMAND_OK,
                     "deleting the article", &rc, err, errlen);
    if (r == NULL) return rc;
    *existed = atoi(PQcmdTuples(r)) > 0;
    PQclear(r);
    return 0;
}

/* Open a write transaction: lock the statistics row (writers queue here)
 * and read *next_seq, the write order of the next passage. */
static int begin_write(pg_store *s, PGconn *c, long long *next_seq, char *err, size_t errlen) {
    int rc = pg_cmd(s, c, "BEGIN", "BEGIN", err, errlen);
    if (rc != 0) return rc;
    PGresult *r = pg_exec_want(s, c, "SELECT next_seq FROM ragd_stats FOR UPDATE", 0, NULL,
                               PGRES_TUPLES_OK, "locking the statistics", &rc, err, errlen);
    if (r == NULL) return rc;
    if (PQntuples(r) != 1) return pg_fail(c, r, "locking the statistics", err, errlen);
    *next_seq = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

/* The statistics moved by docs passages, articles and len body terms. */
static int add_stats(pg_store *s, PGconn *c, long long docs, long long articles, long long len,
                     long long next_seq, char *err, size_t errlen) {
    char sql[240];
    snprintf(sql, sizeof sql,
             "UPDATE ragd_stats SET n_docs = n_docs + (%lld), n_articles = n_articles + (%lld),"
             " total_len = total_len + (%lld), next_seq = %lld",
             docs, articles, len, next_seq);
    return pg_cmd(s, c, sql, "updating the statistics", err, errlen);
}

/* Write the articles whose keep[i] is set (all if keep is NULL) in one
 * transaction, replacing existing ones when replace is set. */
static int write_batch(pg_store *s, PGconn *c, const store_article *a, size_t n, const bool *keep,
                       bool replace, store_write_result *results, char *err, size_t errlen) {
    for (size_t i = 0; i < n; i++) {
        if (keep && !keep[i]) continue;
        int made = ensure_partition(s, c, a[i].topic, replace, err, errlen);
        if (made != 0) return made;
    }
    analyzer *an = pg_analyzer_take(s);
    if (an == NULL) return seterr(err, errlen, "cannot make the BM25 analyzer"), PG_STORE_ERR_ANALYZER;
    buf passages = {0}, postings = {0}, articles = {0}, article_term_rows = {0};
    long long docs = 0, n_articles = 0, len = 0, seq = 0;
    int rc = begin_write(s, c, &seq, err, errlen);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (keep && !keep[i]) continue;
        const store_article *x = &a[i];
        bool existed = false;
        if (replace) {
            long long d = 0, l = 0;
            rc = remove_article(s, c, x->id, &existed, &d, &l, err, errlen);
            docs -= d, len -= l, n_articles -= existed;
        }
        term_bag article = {0};
        uint64_t article_len = 0;
        for (size_t j = 0; j < x->n_passages; j++) {
            uint32_t body_len = posting_rows(an, x, j, seq, &postings, &article);
            article_len += body_len;
            copy_field(&passages, x->topic);
            buf_putc(&passages, '\t');
            copy_field(&passages, x->id);
            buf_printf(&passages, "\t%zu\t", j);
            copy_field(&passages, x->heading);
            buf_putc(&passages, '\t');
            copy_field(&passages, x->date);
            buf_putc(&passages, '\t');
            copy_field(&passages, x->passages[j]);
            buf_printf(&passages, "\t%u\t", body_len);
            copy_vector(&passages, x->vectors + j * (size_t)s->dim, s->dim);
            buf_printf(&passages, "\t%lld\n", seq++);
            docs++, len += body_len;
        }
        each_term(&article, article_row, &(article_rows){x, article_len, &article_term_rows});
        bag_free(&article);
        n_articles++;
        copy_field(&articles, x->id);
        buf_putc(&articles, '\t');
        copy_field(&articles, x->topic);
        buf_putc(&articles, '\t');
        copy_field(&articles, x->heading);
        buf_putc(&articles, '\t');
        copy_field(&articles, x->date);
        buf_putc(&articles, '\t');
        copy_field(&articles, x->text);
        buf_printf(&articles, "\t%zu\n", x->n_passages);
        if (results) results[i] = (store_write_result){.created = !existed, .passages = (int)x->n_passages};
    }
    pg_analyzer_give(s, an);
    if (rc == 0 && articles.len > 0) {
        rc = copy_in(s, c, "COPY ragd_passages (topic, article_id, passage_index, heading, date, text,"
                        " body_len, embedding, seq) FROM STDIN", &passages, err, errlen);
        if (rc == 0)
            rc = copy_in(s, c, "COPY ragd_postings (term, topic, article_id, passage_index, tf_body,"
                            " tf_heading, body_len, date, seq) FROM STDIN", &postings, err, errlen);
        if (rc == 0)
            rc = copy_in(s, c, "COPY ragd_article_terms (term, topic, article_id, tf_body, tf_heading,"
                            " article_len, date) FROM STDIN", &article_term_rows, err, errlen);
        if (rc == 0)
            rc = copy_in(s, c, "COPY ragd_articles (id, topic, heading, date, body, n_passages)"
                            " FROM STDIN", &articles, err, errlen);
    }
    if (rc == 0) rc = add_stats(s, c, docs, n_articles, len, seq, err, errlen);
    if (rc == 0) rc = pg_cmd(s, c, "COMMIT", "COMMIT", err, errlen);
    else pg_rollback(s, c);
    buf_free(&passages), buf_free(&postings), buf_free(&articles), buf_free(&article_term_rows);
    return rc;
}

int pg_store_put(pg_store *s, const store_article *articles, size_t n,
                 store_write_result *results, char *err, size_t errlen) {
    if (n == 0) return 0;
    if (check_articles(s, articles, n, err, errlen) != 0) return PG_STORE_ERR_BAD_QUERY;
    PGconn *c = pg_conn_take(s, &s->writes, err, errlen);
    if (c == NULL) return PG_STORE_ERR_UNAVAILABLE;
    int rc = write_batch(s, c, articles, n, NULL, true, results, err, errlen);
    pg_conn_give(s, &s->writes, c);
    return rc;
}

int pg_store_delete(pg_store *s, const char *article_id, char *err, size_t errlen) {
    if (article_id == NULL || !store_valid_article_id(article_id, strlen(article_id)))
        return seterr(err, errlen, "bad article id"), PG_STORE_ERR_BAD_QUERY;
    PGconn *c = pg_conn_take(s, &s->writes, err, errlen);
    if (c == NULL) return PG_STORE_ERR_UNAVAILABLE;
    bool existed = false;
    long long docs = 0, len = 0, seq = 0;
    int rc = begin_write(s, c, &seq, err, errlen);
    if (rc == 0) rc = remove_article(s, c, article_id, &existed, &docs, &len, err, errlen);
    if (rc == 0) rc = add_stats(s, c, -docs, -(long long)existed, -len, seq, err, errlen);
    if (rc == 0) rc = pg_cmd(s, c, "COMMIT", "COMMIT", err, errlen);
    else pg_rollback(s, c);
    pg_conn_give(s, &s->writes, c);
    return rc == 0 ? (existed ? 1 : 0) : rc;
}

/* keep[i] = article i of the batch is not in the database yet. */
static int absent_articles(pg_store *s, PGconn *c, const store_article *a, size_t n, bool *keep, char *err,
                           size_t errlen) {
    buf arr = {0};
    buf_putc(&arr, '{');
    for (size_t i = 0; i < n; i++) buf_printf(&arr, i ? ",\"%s\"" : "\"%s\"", a[i].id); /* ids are [A-Za-z0-9._:-] */
    buf_append(&arr, "}", 2);
    const char *params[] = {arr.data};
    int rc = 0;
    PGresult *r = pg_exec_want(s, c, "SELECT id FROM ragd_articles WHERE id = ANY ($1::text[])", 1,
                               params, PGRES_TUPLES_OK, "reading article ids", &rc, err, errlen);
    buf_free(&arr);
    if (r == NULL) return rc;
    for (size_t i = 0; i < n; i++) keep[i] = true;
    for (int row = 0; row < PQntuples(r); row++)
        for (size_t i = 0; i < n; i++)
            if (strcmp(PQgetvalue(r, row, 0), a[i].id) == 0) keep[i] = false;
    PQclear(r);
    return 0;
}

int pg_store_bulk_load(pg_store *s, const store_article *articles, size_t n, size_t *added,
                       char *err, size_t errlen) {
    if (added) *added = 0;
    if (check_articles(s, articles, n, err, errlen) != 0) return PG_STORE_ERR_BAD_QUERY;
    PGconn *c = pg_conn_take(s, &s->writes, err, errlen);
    if (c == NULL) return PG_STORE_ERR_UNAVAILABLE;
    bool *keep = xmalloc(PG_STORE_BULK_BATCH * sizeof *keep);
    int rc = 0;
    size_t total = 0;
    for (size_t at = 0; rc == 0 && at < n; at += PG_STORE_BULK_BATCH) {
        size_t m = n - at < PG_STORE_BULK_BATCH ? n - at : PG_STORE_BULK_BATCH;
        rc = absent_articles(s, c, articles + at, m, keep, err, errlen);
        size_t fresh = 0;
        for (size_t i = 0; rc == 0 && i < m; i++) fresh += keep[i];
        if (rc == 0 && fresh > 0)
            rc = write_batch(s, c, articles + at, m, keep, false, NULL, err, errlen);
        if (rc == 0) total += fresh;
    }
    free(keep);
    if (rc == 0) rc = create_missing_indexes(s, c, err, errlen);
    if (added) *added = total;
    /* Fresh tables have no statistics until autovacuum comes by (the
     * planner would guess, badly, for the first searches), and no visibility
     * map (the postings' covering key would not give index-only scans). */
    if (rc == 0 && total > 0)
        rc = pg_cmd(s, c, "VACUUM (ANALYZE) ragd_passages, ragd_postings, ragd_article_terms,"
                           " ragd_articles, ragd_stats", "VACUUM",
                    err, errlen);
    pg_conn_give(s, &s->writes, c);
    return rc;
}

long long pg_store_count(pg_store *s, const char *topic, char *err, size_t errlen) {
    PGconn *c = pg_conn_take(s, &s->writes, err, errlen);
    if (c == NULL) return PG_STORE_ERR_UNAVAILABLE;
    const char *params[] = {topic};
    int rc = 0;
    PGresult *r = topic ? pg_exec_want(s, c, "SELECT count(*) FROM ragd_passages WHERE topic = $1", 1,
                                       params, PGRES_TUPLES_OK, "counting passages", &rc, err, errlen)
                        : pg_exec_want(s, c, "SELECT n_docs FROM ragd_stats", 0, NULL, PGRES_TUPLES_OK,
                                       "counting passages", &rc, err, errlen);
    long long n;
    if (r == NULL) {
        n = rc;
    } else if (PQntuples(r) != 1) {
        n = pg_fail(c, r, "counting passages", err, errlen);
    } else {
        n = atoll(PQgetvalue(r, 0, 0));
        PQclear(r);
    }
    pg_conn_give(s, &s->writes, c);
    return n;
}
