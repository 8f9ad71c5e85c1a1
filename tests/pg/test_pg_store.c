/* test_pg_store — the PostgreSQL store against the embedded store and on its
 * own, on a throwaway cluster (pg_cluster):
 *   - equivalence: the same fixture (the first articles of the shared corpus,
 *     split into passages of a few sentences, seeded random unit vectors: the
 *     test is about the store, not the model) in both stores; 120+ questions
 *     (headings and sentences of the fixture articles) in lexical mode and 60
 *     query vectors in exact-vector mode give the same top 5 (article id +
 *     passage index) with scores within float tolerance, also with topic,
 *     date range and per-article cap, and in hybrid mode;
 *   - refusals: another model, a newer schema version, bad connection strings;
 *   - writes: put creates a topic's partition, replace swaps, delete removes,
 *     the bulk load is idempotent and resumes; threads share the pool while
 *     a writer writes;
 *   - a frozen server (a search gives up after statement_timeout + grace);
 *   - the database stopped (a clear "unavailable" error) and started again
 *     (the same pg_store works, no reconnect by hand). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../store/store_test_util.h"
#include "pg_cluster.h"
#include "pg_fixture.h"
#include "store/pg/pg_store.h"

#define DIM PG_FIXTURE_DIM
#define RAGD_STR_(x) #x
#define RAGD_STR(x) RAGD_STR_(x)
#define N_ARTICLES 100
#define TOP 5
#define DEPTH 10

/* The corpus slice (pg_fixture) and the two stores holding it. */
typedef struct fixture {
    pg_cluster cluster;
    char *dir;
    store *embedded;
    const store_view *view; /* held for the fixture's lifetime */
    pg_store *pg;
} fixture;

static pg_fixture data;
static fixture fx;

static int setup(void **state) {
    (void)state;
    assert_int_equal(pg_fixture_build(&data, N_ARTICLES), 0);
    char err[512];
    /* The embedded store, passage by passage as ingest adds them. */
    fx.dir = test_tempdir();
    assert_int_equal(pg_fixture_write_embedded(&data, fx.dir, false), 0);
    fx.embedded = store_open(fx.dir, "m", err, sizeof err);
    assert_non_null(fx.embedded);
    fx.view = store_acquire(fx.embedded);
    assert_int_equal(store_count(fx.view, NULL), data.n_passages);

    assert_int_equal(pg_cluster_start(&fx.cluster), 0);
    fx.pg = pg_store_open(fx.cluster.url, "m", DIM, NULL, err, sizeof err);
    if (!fx.pg) fprintf(stderr, "pg_store_open: %s\n", err);
    assert_non_null(fx.pg);
    size_t added = 0;
    assert_int_equal(pg_store_bulk_load(fx.pg, data.articles, N_ARTICLES, &added, err, sizeof err), 0);
    assert_int_equal(added, N_ARTICLES);
    assert_int_equal(pg_store_count(fx.pg, NULL, err, sizeof err), (long long)data.n_passages);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    pg_store_close(fx.pg);
    pg_cluster_destroy(&fx.cluster);
    store_release(fx.view);
    store_close(fx.embedded);
    test_rmdir(fx.dir);
    free(fx.dir);
    pg_fixture_free(&data);
    return 0;
}

static bool close_enough(float a, float b) {
    return fabsf(a - b) <= 1e-4f * fmaxf(1.0f, fabsf(a));
}

/* Run q on both stores and compare the top TOP. Returns the number of ranks
 * where the ids differ (only allowed between scores equal within tolerance). */
static int compare(const store_query *q0, const char *what) {
    store_query q = *q0;
    q.k = DEPTH;
    search_hit eh[DEPTH];
    pg_hit ph[DEPTH];
    char err[512];
    int ne = store_search(fx.view, &q, eh, err, sizeof err);
    assert_true(ne >= 0);
    int np = pg_store_search(fx.pg, &q, ph, err, sizeof err);
    if (np < 0) fail_msg("%s: pg_store_search: %s", what, err);
    int top = ne < TOP ? ne : TOP;
    if ((np < TOP ? np : TOP) != top) fail_msg("%s: %d hits embedded, %d on PostgreSQL", what, ne, np);
    int swapped = 0;
    for (int i = 0; i < top; i++) {
        store_passage p;
        assert_int_equal(store_get(fx.view, eh[i].passage_id, &p), 0);
        if (!close_enough(eh[i].score, ph[i].score))
            fail_msg("%s: rank %d score %.7g embedded, %.7g on PostgreSQL", what, i + 1,
                     (double)eh[i].score, (double)ph[i].score);
        if (strcmp(p.article_id, ph[i].article_id) == 0 && p.passage_index == ph[i].passage_index)
            continue;
        /* Different ids at one rank: only a tie may order them differently,
         * and the embedded hit must then be among PostgreSQL's tied ones. */
        bool found = false;
        for (int j = 0; j < np; j++)
            found |= strcmp(p.article_id, ph[j].article_id) == 0 &&
                     p.passage_index == ph[j].passage_index && close_enough(eh[i].score, ph[j].score);
        if (!found)
            fail_msg("%s: rank %d is %s#%d (%.7g) embedded but %s#%d (%.7g) on PostgreSQL", what,
                     i + 1, p.article_id, p.passage_index, (double)eh[i].score, ph[i].article_id,
                     ph[i].passage_index, (double)ph[i].score);
        swapped++;
    }
    return swapped;
}

static void test_lexical_equivalence(void **state) {
    (void)state;
    int questions = 0, ties = 0;
    for (size_t i = 0; i < N_ARTICLES; i++) {
        const char *texts[2] = {data.articles[i].heading, data.first_sentence[i]};
        for (int t = 0; t < 2; t++) {
            store_query q = {.text = texts[t], .text_len = strlen(texts[t]), .mode = SEARCH_LEXICAL};
            ties += compare(&q, texts[t]);
            questions++;
        }
    }
    /* The same with the filters of the store: topic, date range, article cap. */
    for (size_t i = 0; i < N_ARTICLES; i += 4) {
        const char *h = data.articles[i].heading;
        store_query q = {.text = h, .text_len = strlen(h), .mode = SEARCH_LEXICAL,
                         .topic = data.articles[i].topic};
        ties += compare(&q, "lexical + topic");
        q.topic = NULL;
        q.date_from = "2015-01-01", q.date_to = data.articles[i].date;
        ties += compare(&q, "lexical + dates");
        q.date_from = q.date_to = NULL;
        q.max_per_article = 1;
        ties += compare(&q, "lexical + max_per_article");
        questions += 3;
    }
    fprintf(stderr, "lexical: %d questions, same top %d on both stores (%d ranks differ only by a tie)\n",
            questions, TOP, ties);
    assert_true(questions >= 50);
}

static void test_vector_equivalence(void **state) {
    (void)state;
    uint64_t seed = 99;
    float v[DIM];
    int queries = 0, ties = 0;
    for (int i = 0; i < 60; i++) {
        test_unit_vector(&seed, v, DIM);
        store_query q = {.vector = v, .mode = SEARCH_VECTOR};
        ties += compare(&q, "exact vector");
        if (i % 5 == 0) {
            q.topic = data.articles[i].topic;
            ties += compare(&q, "exact vector + topic");
            q.topic = NULL, q.date_to = data.articles[i].date;
            ties += compare(&q, "exact vector + date_to");
            q.date_to = NULL, q.max_per_article = 1;
            ties += compare(&q, "exact vector + max_per_article");
            queries += 3;
        }
        queries++;
    }
    /* Hybrid fuses the two lists by rank: equal lists give equal fusion. */
    for (size_t i = 0; i < N_ARTICLES; i += 8) {
        test_unit_vector(&seed, v, DIM);
        const char *h = data.articles[i].heading;
        store_query q = {.vector = v, .text = h, .text_len = strlen(h), .mode = SEARCH_HYBRID};
        ties += compare(&q, "hybrid");
        q.lexical_first = true;
        ties += compare(&q, "hybrid lexical_first");
        queries += 2;
    }
    fprintf(stderr, "vector/hybrid: %d queries, same top %d on both stores (%d ranks differ only by a tie)\n",
            queries, TOP, ties);
}

static void test_refusals(void **state) {
    (void)state;
    char err[512];
    assert_null(pg_store_open(fx.cluster.url, "another-model", DIM, NULL, err, sizeof err));
    assert_non_null(strstr(err, "built with model m (dim 384)"));
    assert_null(pg_store_open(fx.cluster.url, "m", 768, NULL, err, sizeof err));
    assert_non_null(strstr(err, "dim"));
    assert_null(pg_store_open("this is not a conninfo", "m", DIM, NULL, err, sizeof err));
    assert_non_null(strstr(err, "bad PostgreSQL connection string"));
    assert_null(pg_store_open("postgres://[::1", "m", DIM, NULL, err, sizeof err));
    assert_non_null(strstr(err, "bad PostgreSQL connection string"));
    assert_null(pg_store_open("postgres://postgres@127.0.0.1:1/postgres?connect_timeout=2", "m", DIM,
                              NULL, err, sizeof err));
    assert_non_null(strstr(err, "cannot connect to PostgreSQL"));
    assert_false(pg_store_valid_conninfo("", err, sizeof err));

    assert_int_equal(pg_cluster_exec(&fx.cluster,
                                     "UPDATE ragd_meta SET value = '99' WHERE key = 'schema_version'"), 0);
    assert_null(pg_store_open(fx.cluster.url, "m", DIM, NULL, err, sizeof err));
    char newer[80];
    snprintf(newer, sizeof newer, "schema version 99, newer than this ragd's %d", PG_STORE_SCHEMA_VERSION);
    assert_non_null(strstr(err, newer));
    assert_int_equal(pg_cluster_exec(&fx.cluster,
                                     "UPDATE ragd_meta SET value = '" RAGD_STR(PG_STORE_SCHEMA_VERSION) "' WHERE key = 'schema_version'"), 0);
    pg_store *again = pg_store_open(fx.cluster.conninfo, "m", DIM, NULL, err, sizeof err);
    assert_non_null(again);
    pg_store_close(again);

    /* Bad queries: as store_search. */
    pg_hit h[1];
    store_query bad = {.text = "x", .text_len = 1, .mode = SEARCH_LEXICAL, .k = 0};
    assert_int_equal(pg_store_search(fx.pg, &bad, h, err, sizeof err), PG_STORE_ERR_BAD_QUERY);
    bad.k = 1, bad.date_from = "2015-13-01";
    assert_int_equal(pg_store_search(fx.pg, &bad, h, err, sizeof err), PG_STORE_ERR_BAD_QUERY);
}

static int lexical_top(const char *text, pg_hit *h) {
    char err[512];
    store_query q = {.text = text, .text_len = strlen(text), .mode = SEARCH_LEXICAL, .k = 3};
    int n = pg_store_search(fx.pg, &q, h, err, sizeof err);
    if (n < 0) fail_msg("search: %s", err);
    return n;
}

static void test_writes(void **state) {
    (void)state;
    char err[512];
    long long before = pg_store_count(fx.pg, NULL, err, sizeof err);
    float vecs[2 * DIM];
    uint64_t seed = 5;
    test_unit_vector(&seed, vecs, DIM);
    test_unit_vector(&seed, vecs + DIM, DIM);
    const char *v1[] = {"Zorblax quintessence appeared over the harbour.", "A second passage."};
    store_article a = {.id = "live-1", .heading = "Zorblax sighting", .date = "2016-03-04",
                       .topic = "astronomy", .text = "Zorblax …", .n_passages = 2, .passages = v1,
                       .vectors = vecs};
    store_write_result res;
    assert_int_equal(pg_store_put(fx.pg, &a, 1, &res, err, sizeof err), 0);
    assert_true(res.created);
    assert_int_equal(res.passages, 2);
    assert_int_equal(pg_store_count(fx.pg, "astronomy", err, sizeof err), 2);
    assert_int_equal(pg_store_count(fx.pg, NULL, err, sizeof err), before + 2);
    pg_hit h[3];
    assert_int_equal(lexical_top("zorblax", h), 2);
    assert_string_equal(h[0].article_id, "live-1");

    /* Replace: one passage, other words; the old ones are gone at once. */
    const char *v2[] = {"Quibbleflux readings only."};
    a.passages = v2, a.n_passages = 1, a.heading = "Quibbleflux";
    assert_int_equal(pg_store_put(fx.pg, &a, 1, &res, err, sizeof err), 0);
    assert_false(res.created);
    assert_int_equal(lexical_top("zorblax", h), 0);
    assert_int_equal(lexical_top("quibbleflux", h), 1);
    assert_int_equal(pg_store_count(fx.pg, NULL, err, sizeof err), before + 1);

    /* A bad batch (the same id twice) changes nothing. */
    store_article twice[2] = {a, a};
    assert_int_equal(pg_store_put(fx.pg, twice, 2, NULL, err, sizeof err), PG_STORE_ERR_BAD_QUERY);
    assert_non_null(strstr(err, "twice"));
    a.id = "bad id!";
    assert_int_equal(pg_store_put(fx.pg, &a, 1, NULL, err, sizeof err), PG_STORE_ERR_BAD_QUERY);

    assert_int_equal(pg_store_delete(fx.pg, "live-1", err, sizeof err), 1);
    assert_int_equal(pg_store_delete(fx.pg, "live-1", err, sizeof err), 0);
    assert_int_equal(lexical_top("quibbleflux", h), 0);
    assert_int_equal(pg_store_count(fx.pg, NULL, err, sizeof err), before);

    /* The bulk load again: everything is there, nothing is added. */
    size_t added = 99;
    assert_int_equal(pg_store_bulk_load(fx.pg, data.articles, N_ARTICLES, &added, err, sizeof err), 0);
    assert_int_equal(added, 0);
    assert_int_equal(pg_store_count(fx.pg, NULL, err, sizeof err), (long long)data.n_passages);
}

static void test_database_restart(void **state) {
    (void)state;
    char err[512];
    const char *h = data.articles[0].heading;
    store_query q = {.text = h, .text_len = strlen(h), .mode = SEARCH_LEXICAL, .k = 3};
    pg_hit hits[3];
    assert_true(pg_store_search(fx.pg, &q, hits, err, sizeof err) > 0);
    assert_int_equal(pg_cluster_stop(&fx.cluster), 0);
    assert_int_equal(pg_store_search(fx.pg, &q, hits, err, sizeof err), PG_STORE_ERR_UNAVAILABLE);
    fprintf(stderr, "while stopped: %s\n", err);
    assert_non_null(strstr(err, "PostgreSQL"));
    assert_int_equal(pg_store_delete(fx.pg, "whatever", err, sizeof err), PG_STORE_ERR_UNAVAILABLE);
    assert_int_equal(pg_cluster_restart(&fx.cluster), 0);
    int n = pg_store_search(fx.pg, &q, hits, err, sizeof err);
    if (n < 0) fail_msg("after restart: %s", err);
    assert_string_equal(hits[0].article_id, data.articles[0].id);
}

/* A server that stops answering (every postgres process SIGSTOPped) cannot
 * hold a search: it fails as unavailable once statement_timeout plus the
 * grace has passed, and the same store works again once the server runs. */
static void test_frozen_server(void **state) {
    (void)state;
    char err[512];
    pg_store_options o = {.statement_timeout_ms = 300, .pool_size = 1};
    pg_store *s = pg_store_open(fx.cluster.url, "m", DIM, &o, err, sizeof err);
    assert_non_null(s);
    const char *h = data.articles[1].heading;
    store_query q = {.text = h, .text_len = strlen(h), .mode = SEARCH_LEXICAL, .k = 3};
    pg_hit hits[3];
    assert_true(pg_store_search(s, &q, hits, err, sizeof err) > 0);
    /* A pool of one runs a hybrid search's halves in turn, with the same top. */
    float v[DIM];
    uint64_t seed = 5;
    test_unit_vector(&seed, v, DIM);
    store_query hq = q;
    hq.mode = SEARCH_HYBRID, hq.lexical_first = true, hq.vector = v;
    pg_hit hybrid_hits[3];
    assert_true(pg_store_search(s, &hq, hybrid_hits, err, sizeof err) > 0);
    assert_string_equal(hybrid_hits[0].article_id, hits[0].article_id);
    assert_int_equal(pg_cluster_freeze(&fx.cluster, true), 0);
    int n = pg_store_search(s, &q, hits, err, sizeof err);
    assert_int_equal(pg_cluster_freeze(&fx.cluster, false), 0);
    assert_int_equal(n, PG_STORE_ERR_UNAVAILABLE);
    fprintf(stderr, "frozen server: %s\n", err);
    assert_non_null(strstr(err, "no answer within 2300 ms"));
    n = pg_store_search(s, &q, hits, err, sizeof err);
    if (n < 0) fail_msg("after thawing: %s", err);
    assert_string_equal(hits[0].article_id, data.articles[1].id);
    pg_store_close(s);
}

/* Writes too: a put and a delete on a frozen server fail as unavailable once
 * statement_timeout plus the grace has passed — neither the thread nor the
 * write pool's connection is held until the server runs again — and the
 * same store writes again once it does. */
static void test_frozen_server_writes(void **state) {
    (void)state;
    char err[512];
    pg_store_options o = {.statement_timeout_ms = 300, .pool_size = 1};
    pg_store *s = pg_store_open(fx.cluster.url, "m", DIM, &o, err, sizeof err);
    assert_non_null(s);
    float vec[DIM];
    uint64_t seed = 91;
    test_unit_vector(&seed, vec, DIM);
    const char *p[] = {"Glimmerquartz mined on a frozen server."};
    store_article a = {.id = "frozen-1", .heading = "Glimmerquartz", .date = "2016-06-06",
                       .topic = "business", .text = p[0], .n_passages = 1, .passages = p,
                       .vectors = vec};
    assert_int_equal(pg_store_put(s, &a, 1, NULL, err, sizeof err), 0); /* a warm connection */
    assert_int_equal(pg_cluster_freeze(&fx.cluster, true), 0);
    int put = pg_store_put(s, &a, 1, NULL, err, sizeof err);
    char put_err[512];
    snprintf(put_err, sizeof put_err, "%s", err);
    int del = pg_store_delete(s, "frozen-1", err, sizeof err);
    assert_int_equal(pg_cluster_freeze(&fx.cluster, false), 0);
    fprintf(stderr, "frozen server, put: %s\nfrozen server, delete: %s\n", put_err, err);
    assert_int_equal(put, PG_STORE_ERR_UNAVAILABLE);
    assert_non_null(strstr(put_err, "no answer within 2300 ms"));
    /* The delete finds the pool's one connection closed (given back busy)
     * and opens another, which the frozen postmaster never accepts. */
    assert_int_equal(del, PG_STORE_ERR_UNAVAILABLE);
    int rc = pg_store_put(s, &a, 1, NULL, err, sizeof err);
    if (rc != 0) fail_msg("after thawing: %s", err);
    assert_int_equal(pg_store_delete(s, "frozen-1", err, sizeof err), 1);
    pg_store_close(s);
}

/* An interrupted bulk load resumes: a load of the first articles, then of
 * all of them, adds only the rest (in a second database of the cluster). */
static void test_bulk_load_resumes(void **state) {
    (void)state;
    char err[512], conninfo[600];
    assert_int_equal(pg_cluster_exec(&fx.cluster, "CREATE DATABASE resume"), 0);
    snprintf(conninfo, sizeof conninfo, "host=127.0.0.1 port=%d user=postgres dbname=resume",
             fx.cluster.port);
    pg_store *s = pg_store_open(conninfo, "m", DIM, NULL, err, sizeof err);
    if (!s) fail_msg("open: %s", err);
    size_t added = 0;
    assert_int_equal(pg_store_bulk_load(s, data.articles, 30, &added, err, sizeof err), 0);
    assert_int_equal(added, 30);
    assert_int_equal(pg_store_bulk_load(s, data.articles, N_ARTICLES, &added, err, sizeof err), 0);
    assert_int_equal(added, N_ARTICLES - 30);
    assert_int_equal(pg_store_count(s, NULL, err, sizeof err), (long long)data.n_passages);
    pg_store_close(s);
}

/* The bulk load built every topic's HNSW index after its rows were in, and
 * an approximate search finds a passage by its own vector. */
static void test_hnsw_after_bulk_load(void **state) {
    (void)state;
    assert_int_equal(pg_cluster_exec(&fx.cluster,
                                     "DO $$ BEGIN IF (SELECT count(*) FROM pg_indexes WHERE indexname"
                                     " LIKE 'ragd\\_passages\\_p%\\_hnsw') <> (SELECT count(*) FROM"
                                     " ragd_topics) THEN RAISE EXCEPTION 'an HNSW index is missing';"
                                     " END IF; END $$"), 0);
    char err[512];
    for (size_t i = 0; i < 20; i++) {
        store_query q = {.vector = data.articles[i].vectors, .mode = SEARCH_VECTOR, .k = 1,
                         .approximate = true, .topic = data.articles[i].topic};
        pg_hit h[1];
        assert_int_equal(pg_store_search(fx.pg, &q, h, err, sizeof err), 1);
        assert_string_equal(h[0].article_id, data.articles[i].id);
        assert_int_equal(h[0].passage_index, 0);
        assert_true(h[0].score > 0.999f);
    }
}

/* Threads share the pool (2 connections for 4 searching threads) while a
 * writer puts and deletes: every search answers, and what it finds is the
 * fixture's answer (the writer's article uses words of its own). */
typedef struct searcher {
    pg_store *s;
    const float *vector; /* the vector half of its hybrid searches */
    int failures;
    char err[512];
} searcher;

/* Questions whose best passage leads the second by over 5 %: the writer's
 * one passage moves N and avgdl by far less, so their top hit cannot flip. */
static int robust[20], n_robust;

static void *search_loop(void *arg) {
    searcher *w = arg;
    for (int r = 0; r < n_robust; r++) {
        int i = robust[r];
        const char *h = data.articles[i].heading;
        store_query q = {.text = h, .text_len = strlen(h), .mode = SEARCH_LEXICAL, .k = 1};
        pg_hit hit[1];
        int n = pg_store_search(w->s, &q, hit, w->err, sizeof w->err);
        if (n != 1 || strcmp(hit[0].article_id, data.articles[i].id) != 0) w->failures++;
        /* Hybrid, lexical first: its top is lexical's, whether its halves
         * ran at once (a second connection was free) or in turn (four
         * threads on a pool of two: often none is). */
        q.mode = SEARCH_HYBRID, q.lexical_first = true, q.vector = w->vector;
        n = pg_store_search(w->s, &q, hit, w->err, sizeof w->err);
        if (n != 1 || strcmp(hit[0].article_id, data.articles[i].id) != 0) w->failures++;
    }
    return NULL;
}

static void test_threads_share_the_pool(void **state) {
    (void)state;
    char err[512];
    pg_store_options o = {.pool_size = 2};
    pg_store *s = pg_store_open(fx.cluster.url, "m", DIM, &o, err, sizeof err);
    assert_non_null(s);
    n_robust = 0;
    for (int i = 0; i < 20; i++) {
        const char *h = data.articles[i].heading;
        store_query q = {.text = h, .text_len = strlen(h), .mode = SEARCH_LEXICAL, .k = 2};
        pg_hit two[2];
        int n = pg_store_search(s, &q, two, err, sizeof err);
        if (n >= 1 && strcmp(two[0].article_id, data.articles[i].id) == 0 &&
            (n == 1 || two[1].score < 0.95f * two[0].score))
            robust[n_robust++] = i;
    }
    assert_true(n_robust >= 10);
    searcher w[4];
    pthread_t t[4];
    float query_vec[DIM];
    uint64_t query_seed = 78;
    test_unit_vector(&query_seed, query_vec, DIM);
    for (int i = 0; i < 4; i++) {
        w[i] = (searcher){.s = s, .vector = query_vec};
        assert_int_equal(pthread_create(&t[i], NULL, search_loop, &w[i]), 0);
    }
    float vec[DIM];
    uint64_t seed = 77;
    test_unit_vector(&seed, vec, DIM);
    const char *p[] = {"Xylophonic quarantines everywhere."};
    store_article a = {.id = "threaded", .heading = "Xylophonic", .date = "2016-05-05",
                       .topic = "business", .text = p[0], .n_passages = 1, .passages = p,
                       .vectors = vec};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(pg_store_put(s, &a, 1, NULL, err, sizeof err), 0);
        assert_int_equal(pg_store_delete(s, "threaded", err, sizeof err), 1);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        if (w[i].failures) fail_msg("thread %d: %d searches failed (%s)", i, w[i].failures, w[i].err);
    }
    assert_int_equal(pg_store_count(s, NULL, err, sizeof err), (long long)data.n_passages);
    pg_store_close(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lexical_equivalence),
        cmocka_unit_test(test_vector_equivalence),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_writes),
        cmocka_unit_test(test_bulk_load_resumes),
        cmocka_unit_test(test_hnsw_after_bulk_load),
        cmocka_unit_test(test_threads_share_the_pool),
        cmocka_unit_test(test_frozen_server),
        cmocka_unit_test(test_frozen_server_writes),
        cmocka_unit_test(test_database_restart),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
