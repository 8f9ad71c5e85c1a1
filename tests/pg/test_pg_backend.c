/* test_pg_backend — the PostgreSQL store THROUGH THE STORE API (backend.h:
 * store_acquire, store_search, store_get, store_put …) against the embedded
 * store holding the same corpus slice (pg_fixture), on a throwaway cluster:
 *   - the same questions give the same top 5 (article id, passage index) in
 *     lexical, exact-vector, hybrid and lexical-first modes, and store_get
 *     reads back the same passage (text, heading, date, topic) for each hit;
 *   - the same topics, passage and article counts, article pages and whole
 *     articles (text and passages through first_passage);
 *   - a put is seen by a fresh view at once, and at once by a second
 *     gateway (a second pg_store_open_backend on the database), a new topic
 *     included; a delete likewise; a bad batch changes nothing;
 *   - the cluster stopped: searches, writes and the check answer
 *     STORE_ERR_UNAVAILABLE, every read of a view marks it failed (never a
 *     wrong "unknown topic"), /metrics counts it; restarted: the same store
 *     works again without reopening. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../store/store_test_util.h"
#include "obs/metrics.h"
#include "obs/ragd_metrics.h"
#include "pg_cluster.h"
#include "pg_fixture.h"
#include "store/documents.h"
#include "store/pg/pg_internal.h" /* the pool, to hold its one connection */
#include "store/pg/pg_store.h"

#define DIM PG_FIXTURE_DIM
#define RAGD_STR_(x) #x
#define RAGD_STR(x) RAGD_STR_(x)
#define N_ARTICLES 100
#define TOP 5
#define DEPTH 10

static pg_fixture fx;
static pg_cluster cluster;
static char *dir;
static store *embedded, *pg;

static int setup(void **state) {
    (void)state;
    ragd_metrics_register();
    assert_int_equal(pg_fixture_build(&fx, N_ARTICLES), 0);
    dir = test_tempdir();
    assert_int_equal(pg_fixture_write_embedded(&fx, dir, true), 0);
    char err[512];
    embedded = store_open(dir, "m", err, sizeof err);
    if (embedded == NULL) fail_msg("store_open: %s", err);
    assert_int_equal(pg_cluster_start(&cluster), 0);
    pg = pg_store_open_backend(cluster.url, "m", DIM, NULL, err, sizeof err);
    if (pg == NULL) fail_msg("pg_store_open_backend: %s", err);
    assert_string_equal(store_kind(pg), "postgres");
    assert_string_equal(store_kind(embedded), "embedded");
    assert_null(pg_store_of(embedded));
    size_t added = 0;
    assert_int_equal(pg_store_bulk_load(pg_store_of(pg), fx.articles, fx.n_articles, &added, err,
                                        sizeof err), 0);
    assert_int_equal(added, N_ARTICLES);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    store_close(pg);
    pg_cluster_destroy(&cluster);
    store_close(embedded);
    test_rmdir(dir);
    free(dir);
    pg_fixture_free(&fx);
    return 0;
}

static bool close_enough(float a, float b) { return fabsf(a - b) <= 1e-4f * fmaxf(1.0f, fabsf(a)); }

static bool same_passage(const store_passage *a, const store_passage *b) {
    return strcmp(a->article_id, b->article_id) == 0 && a->passage_index == b->passage_index;
}

/* q on both stores, each through a fresh view: the same top TOP, ids
 * differing only between equal scores, and store_get reading back the same
 * passage. Returns the ranks that differ by a tie. */
static int compare(const store_query *q0, const char *what) {
    store_query q = *q0;
    q.k = DEPTH;
    search_hit eh[DEPTH], ph[DEPTH];
    char err[512];
    const store_view *ev = store_acquire(embedded), *pv = store_acquire(pg);
    int ne = store_search(ev, &q, eh, err, sizeof err);
    assert_true(ne >= 0);
    int np = store_search(pv, &q, ph, err, sizeof err);
    if (np < 0) fail_msg("%s: store_search on PostgreSQL: %d %s", what, np, err);
    assert_int_equal(store_view_failed(pv, err, sizeof err), 0);
    int top = ne < TOP ? ne : TOP;
    if ((np < TOP ? np : TOP) != top) fail_msg("%s: %d hits embedded, %d on PostgreSQL", what, ne, np);
    int ties = 0;
    for (int i = 0; i < top; i++) {
        store_passage e, p;
        assert_int_equal(store_get(ev, eh[i].passage_id, &e), 0);
        assert_int_equal(store_get(pv, ph[i].passage_id, &p), 0);
        if (!close_enough(eh[i].score, ph[i].score))
            fail_msg("%s: rank %d score %.7g embedded, %.7g on PostgreSQL", what, i + 1,
                     (double)eh[i].score, (double)ph[i].score);
        if (!same_passage(&e, &p)) {
            /* Only a tie may order them differently: the embedded hit must
             * then be among PostgreSQL's hits with its score. */
            bool found = false;
            for (int j = 0; j < np; j++) {
                store_passage o;
                assert_int_equal(store_get(pv, ph[j].passage_id, &o), 0);
                found |= same_passage(&e, &o) && close_enough(eh[i].score, ph[j].score);
            }
            if (!found)
                fail_msg("%s: rank %d is %s#%d embedded but %s#%d on PostgreSQL", what, i + 1,
                         e.article_id, e.passage_index, p.article_id, p.passage_index);
            ties++;
            continue;
        }
        /* The row the search fetched is the passage itself, chosen for the same reasons. */
        assert_int_equal(eh[i].lexical_rank, ph[i].lexical_rank);
        assert_int_equal(eh[i].vector_rank, ph[i].vector_rank);
        assert_string_equal(e.text, p.text);
        assert_string_equal(e.heading, p.heading);
        assert_string_equal(e.date, p.date);
        assert_string_equal(e.topic, p.topic);
    }
    store_release(ev);
    store_release(pv);
    return ties;
}

static void test_same_answers(void **state) {
    (void)state;
    int questions = 0, ties = 0;
    for (size_t i = 0; i < N_ARTICLES; i++) {
        const char *texts[2] = {fx.articles[i].heading, fx.first_sentence[i]};
        for (int t = 0; t < 2; t++) {
            store_query q = {.text = texts[t], .text_len = strlen(texts[t]), .mode = SEARCH_LEXICAL};
            ties += compare(&q, texts[t]);
            questions++;
        }
        if (i % 4 == 0) {
            store_query q = {.text = texts[0], .text_len = strlen(texts[0]), .mode = SEARCH_LEXICAL,
                             .topic = fx.articles[i].topic, .max_per_article = 1};
            ties += compare(&q, "lexical + topic + max_per_article");
            questions++;
        }
    }
    uint64_t seed = 99;
    float v[DIM];
    for (int i = 0; i < 60; i++) {
        test_unit_vector(&seed, v, DIM);
        store_query q = {.vector = v, .mode = SEARCH_VECTOR};
        ties += compare(&q, "exact vector");
        questions++;
    }
    for (size_t i = 0; i < N_ARTICLES; i += 4) {
        test_unit_vector(&seed, v, DIM);
        const char *h = fx.articles[i].heading;
        store_query q = {.vector = v, .text = h, .text_len = strlen(h), .mode = SEARCH_HYBRID};
        ties += compare(&q, "hybrid");
        q.vector_weight = 0.25f;
        ties += compare(&q, "hybrid, vector weight 0.25");
        q.vector_weight = 0, q.lexical_first = true;
        ties += compare(&q, "hybrid lexical_first");
        q.max_per_article = 1;
        ties += compare(&q, "hybrid lexical_first + max_per_article");
        questions += 4;
    }
    fprintf(stderr, "through the store API: %d queries, same top %d on both stores (%d ranks differ "
                    "only by a tie)\n", questions, TOP, ties);
    assert_true(questions >= 300);
}

static void test_topics_and_counts(void **state) {
    (void)state;
    const store_view *ev = store_acquire(embedded), *pv = store_acquire(pg);
    const char *const *en, *const *pn;
    int ne = store_topics(ev, &en), np = store_topics(pv, &pn);
    assert_true(ne >= 1);
    assert_int_equal(ne, np);
    for (int i = 0; i < ne; i++) {
        assert_string_equal(en[i], pn[i]);
        assert_true(store_has_topic(pv, en[i]));
        assert_int_equal(store_count(ev, en[i]), store_count(pv, en[i]));
        assert_int_equal(store_article_count(ev, en[i]), store_article_count(pv, en[i]));
    }
    assert_int_equal(store_count(pv, NULL), fx.n_passages);
    assert_int_equal(store_count(ev, NULL), store_count(pv, NULL));
    assert_int_equal(store_article_count(pv, NULL), N_ARTICLES);
    assert_int_equal(store_passages_now(pg), fx.n_passages);
    assert_false(store_has_topic(pv, "no-such-topic"));
    assert_false(store_has_topic(ev, "no-such-topic"));
    assert_int_equal(store_count(pv, "no-such-topic"), 0);
    assert_int_equal(store_dim(pv), DIM);
    assert_string_equal(store_model(pv), "m");
    assert_string_equal(store_model_of(pg), "m");
    store_bm25_params eb = store_bm25(ev), pb = store_bm25(pv);
    assert_true(eb.k1 == pb.k1 && eb.b == pb.b && eb.heading_weight == pb.heading_weight);
    char err[256];
    assert_int_equal(store_view_failed(pv, err, sizeof err), 0);
    assert_int_equal(store_check(pg, err, sizeof err), 0);
    assert_int_equal(store_merge(pg, err, sizeof err), 0);
    store_live_stats ls;
    store_live_stats_get(pg, &ls);
    assert_int_equal(ls.live_passages + ls.tombstones + ls.writes, 0);
    store_release(ev);
    store_release(pv);
}

static void same_info(const store_article_info *e, const store_article_info *p) {
    assert_string_equal(e->id, p->id);
    assert_string_equal(e->heading, p->heading);
    assert_string_equal(e->date, p->date);
    assert_string_equal(e->topic, p->topic);
    assert_int_equal(e->n_passages, p->n_passages);
}

static void test_articles(void **state) {
    (void)state;
    const store_view *ev = store_acquire(embedded), *pv = store_acquire(pg);
    for (size_t i = 0; i < N_ARTICLES; i++) {
        store_article_info e, p;
        assert_int_equal(store_article_get(ev, fx.articles[i].id, &e), 0);
        assert_int_equal(store_article_get(pv, fx.articles[i].id, &p), 0);
        same_info(&e, &p);
        assert_non_null(p.text);
        assert_string_equal(e.text, p.text);
        for (size_t j = 0; j < p.n_passages; j++) {
            store_passage ep, pp;
            assert_int_equal(store_get(ev, e.first_passage + (uint32_t)j, &ep), 0);
            assert_int_equal(store_get(pv, p.first_passage + (uint32_t)j, &pp), 0);
            assert_int_equal(pp.passage_index, (int)j);
            assert_true(same_passage(&ep, &pp));
            assert_string_equal(ep.text, pp.text);
        }
    }
    store_article_info none;
    assert_int_equal(store_article_get(pv, "no-such-article", &none), -1);
    char err[256];
    assert_int_equal(store_view_failed(pv, err, sizeof err), 0); /* absent, not unavailable */

    /* The article field's rows (ragd_article_terms) and count are what the
 * passages' postings add up to: the same rows both ways (see
 * pg_write.c). */
#define ARTICLE_TERMS_AGREE                                                                        \
    "DO $$ BEGIN IF EXISTS ((SELECT term, topic, article_id, tf_body, tf_heading, article_len, date" \
    " FROM ragd_article_terms EXCEPT ALL SELECT * FROM agg) UNION ALL (SELECT * FROM agg EXCEPT ALL" \
    " SELECT term, topic, article_id, tf_body, tf_heading, article_len, date FROM"                   \
    " ragd_article_terms)) OR (SELECT n_articles FROM ragd_stats) <> (SELECT count(*) FROM"         \
    " ragd_articles) OR (SELECT count(*) FROM agg) = 0 THEN RAISE EXCEPTION 'article terms disagree';" \
    " END IF; END $$"
#define ARTICLE_TERMS_AGG                                                                          \
    "CREATE TEMP VIEW agg AS SELECT p.term, p.topic, p.article_id, sum(p.tf_body)::bigint AS b,"    \
    " max(p.tf_heading) AS h, l.len::bigint, min(p.date) AS d FROM ragd_postings p JOIN (SELECT"     \
    " article_id, sum(body_len) AS len FROM ragd_passages GROUP BY article_id) l USING (article_id)" \
    " GROUP BY p.term, p.topic, p.article_id, l.len;"

/* Pages of 7, all articles and one topic's: the same ids and ends. */
    const char *const *names;
    store_topics(ev, &names);
    const char *topics[] = {NULL, names[0]};
    for (int t = 0; t < 2; t++) {
        char after[STORE_ARTICLE_ID_MAX + 1] = "";
        size_t seen = 0;
        for (;;) {
            store_article_info e[7], p[7];
            bool emore, pmore;
            size_t ne = store_article_list(ev, topics[t], after, 7, e, &emore);
            size_t np = store_article_list(pv, topics[t], after, 7, p, &pmore);
            assert_int_equal(ne, np);
            assert_int_equal(emore, pmore);
            for (size_t i = 0; i < ne; i++) same_info(&e[i], &p[i]);
            seen += ne;
            if (!pmore) break;
            snprintf(after, sizeof after, "%s", p[np - 1].id);
        }
        assert_int_equal(seen, store_article_count(pv, topics[t]));
    }
    store_release(ev);
    store_release(pv);
}

static int lexical_hits(store *s, const char *text, char *best_article, size_t cap) {
    const store_view *v = store_acquire(s);
    store_query q = {.text = text, .text_len = strlen(text), .mode = SEARCH_LEXICAL, .k = 3};
    search_hit h[3];
    char err[512];
    int n = store_search(v, &q, h, err, sizeof err);
    if (n < 0) fail_msg("search: %s", err);
    store_passage p;
    if (n > 0) {
        assert_int_equal(store_get(v, h[0].passage_id, &p), 0);
        snprintf(best_article, cap, "%s", p.article_id);
    }
    store_release(v);
    return n;
}

static void test_writes_and_a_second_gateway(void **state) {
    (void)state;
    char err[512], top[STORE_ARTICLE_ID_MAX + 1];
    store *other = pg_store_open_backend(cluster.conninfo, "m", DIM, NULL, err, sizeof err);
    if (other == NULL) fail_msg("second gateway: %s", err);
    /* The second gateway has read its topic list just now: the put below
     * must not wait for that list to age. */
    const store_view *ov = store_acquire(other);
    assert_false(store_has_topic(ov, "astronomy"));
    store_release(ov);

    float vecs[2 * DIM];
    uint64_t seed = 5;
    test_unit_vector(&seed, vecs, DIM);
    test_unit_vector(&seed, vecs + DIM, DIM);
    const char *texts[] = {"Zorblax quintessence appeared over the harbour.", "A second passage."};
    store_article a = {.id = "live-1", .heading = "Zorblax sighting", .date = "2016-03-04",
                       .topic = "astronomy", .text = "Zorblax quintessence … A second passage.",
                       .n_passages = 2, .passages = texts, .vectors = vecs};
    store_write_result res;
    assert_int_equal(store_put(pg, &a, 1, &res, err, sizeof err), 0);
    assert_true(res.created);
    assert_int_equal(res.passages, 2);
    /* Written again (a replace): its article field's rows are replaced too. */
    assert_int_equal(store_put(pg, &a, 1, &res, err, sizeof err), 0);
    assert_false(res.created);
    assert_int_equal(pg_cluster_exec(&cluster, ARTICLE_TERMS_AGG ARTICLE_TERMS_AGREE), 0);

    store *gateways[] = {pg, other};
    for (int g = 0; g < 2; g++) {
        const store_view *v = store_acquire(gateways[g]);
        assert_true(store_has_topic(v, "astronomy"));
        assert_int_equal(store_count(v, "astronomy"), 2);
        assert_int_equal(store_count(v, NULL), fx.n_passages + 2);
        store_article_info info;
        assert_int_equal(store_article_get(v, "live-1", &info), 0);
        assert_string_equal(info.text, a.text);
        assert_int_equal(info.n_passages, 2);
        store_passage p;
        assert_int_equal(store_get(v, info.first_passage + 1, &p), 0);
        assert_string_equal(p.text, "A second passage.");
        store_release(v);
        assert_int_equal(lexical_hits(gateways[g], "zorblax", top, sizeof top), 2);
        assert_string_equal(top, "live-1");
    }
    /* This gateway lists the new topic at once (its own write refreshed it). */
    const store_view *v = store_acquire(pg);
    const char *const *names;
    int n = store_topics(v, &names);
    bool listed = false;
    for (int i = 0; i < n; i++) listed |= strcmp(names[i], "astronomy") == 0;
    assert_true(listed);
    store_release(v);

    /* A bad batch changes nothing and is not an outage. */
    store_article twice[2] = {a, a};
    assert_int_equal(store_put(pg, twice, 2, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "twice"));

    assert_int_equal(store_delete(other, "live-1", err, sizeof err), 1);
    assert_int_equal(store_delete(pg, "live-1", err, sizeof err), 0);
    assert_int_equal(pg_cluster_exec(&cluster, ARTICLE_TERMS_AGG ARTICLE_TERMS_AGREE), 0);
    for (int g = 0; g < 2; g++) {
        assert_int_equal(lexical_hits(gateways[g], "zorblax", top, sizeof top), 0);
        v = store_acquire(gateways[g]);
        store_article_info info;
        assert_int_equal(store_article_get(v, "live-1", &info), -1);
        assert_int_equal(store_count(v, NULL), fx.n_passages);
        store_release(v);
    }
    v = store_acquire(other); /* the deleting gateway forgot the emptied topic */
    assert_false(store_has_topic(v, "astronomy"));
    store_release(v);
    store_close(other);
}

static bool metrics_have(const char *line) {
    buf out = {0};
    metrics_render(&out);
    buf_putc(&out, '\0');
    bool found = strstr(out.data, line) != NULL;
    if (!found) fprintf(stderr, "/metrics has no \"%s\" in:\n%s\n", line, out.data);
    buf_free(&out);
    return found;
}

static void expect_failed(const store_view *v, const char *what) {
    char err[512];
    if (store_view_failed(v, err, sizeof err) != STORE_ERR_UNAVAILABLE)
        fail_msg("%s: the view is not marked failed", what);
    assert_non_null(strstr(err, "PostgreSQL"));
}

static void test_database_stopped_and_started(void **state) {
    (void)state;
    char err[512];
    const char *h = fx.articles[0].heading;
    store_query q = {.text = h, .text_len = strlen(h), .mode = SEARCH_LEXICAL, .k = 3};
    search_hit hits[3];
    assert_true(metrics_have("ragd_store_pool_connections{pool=\"reads\",state=\"idle\"}"));
    assert_true(metrics_have("ragd_store_query_seconds_count{kind=\"search\"}"));

    assert_int_equal(pg_cluster_stop(&cluster), 0);
    const store_view *v = store_acquire(pg); /* no I/O: acquiring works while down */
    assert_int_equal(store_search(v, &q, hits, err, sizeof err), STORE_ERR_UNAVAILABLE);
    fprintf(stderr, "while stopped: %s\n", err);
    expect_failed(v, "search");
    store_release(v);

    v = store_acquire(pg);
    assert_true(store_has_topic(v, "a-topic-nobody-made")); /* unknown, so the search says why */
    expect_failed(v, "has_topic");
    store_release(v);

    v = store_acquire(pg);
    assert_int_equal(store_count(v, NULL), 0);
    expect_failed(v, "count");
    store_release(v);

    v = store_acquire(pg);
    store_article_info info[2];
    assert_int_equal(store_article_get(v, fx.articles[0].id, info), -1);
    expect_failed(v, "article_get");
    store_release(v);

    v = store_acquire(pg);
    bool more = true;
    assert_int_equal(store_article_list(v, NULL, NULL, 2, info, &more), 0);
    assert_false(more);
    expect_failed(v, "article_list");
    store_release(v);

    v = store_acquire(pg);
    assert_int_equal(store_article_count(v, NULL), 0);
    expect_failed(v, "article_count");
    store_release(v);

    assert_int_equal(store_check(pg, err, sizeof err), STORE_ERR_UNAVAILABLE);
    assert_non_null(strstr(err, "PostgreSQL"));
    assert_int_equal(store_passages_now(pg), 0);
    assert_int_equal(store_delete(pg, fx.articles[0].id, err, sizeof err), STORE_ERR_UNAVAILABLE);
    store_article a = fx.articles[0];
    assert_int_equal(store_put(pg, &a, 1, NULL, err, sizeof err), STORE_ERR_UNAVAILABLE);
    assert_true(metrics_have("ragd_store_unavailable_total{kind=\"search\"}"));
    assert_true(metrics_have("ragd_store_unavailable_total{kind=\"check\"}"));

    assert_int_equal(pg_cluster_restart(&cluster), 0);
    assert_int_equal(store_check(pg, err, sizeof err), 0);
    v = store_acquire(pg);
    int n = store_search(v, &q, hits, err, sizeof err);
    if (n < 0) fail_msg("after the restart: %s", err);
    store_passage p;
    assert_int_equal(store_get(v, hits[0].passage_id, &p), 0);
    assert_string_equal(p.article_id, fx.articles[0].id);
    assert_int_equal(store_view_failed(v, err, sizeof err), 0);
    assert_int_equal(store_count(v, NULL), fx.n_passages);
    store_release(v);
    store_write_result res;
    assert_int_equal(store_put(pg, &a, 1, &res, err, sizeof err), 0); /* the same article again */
    assert_false(res.created);
}

/* A version-1 database (no seq, the plain postings key, no article field
 * rows) is migrated on open:
 * its passages are numbered in (article id, passage index) order, the tie
 * order it had, the next write continues after them, the postings key
 * covers the lexical columns, vectors are inline, the article field's rows
 * are the ones the writes made, and searches work. (Made by taking versions 2
 * to 5 away from a fresh database, in its own database.) */
static void test_migrates_version_1(void **state) {
    (void)state;
    char err[512], conninfo[200];
    assert_int_equal(pg_cluster_exec(&cluster, "CREATE DATABASE v1"), 0);
    snprintf(conninfo, sizeof conninfo, "host=127.0.0.1 port=%d user=postgres dbname=v1", cluster.port);
    store *s = pg_store_open_backend(conninfo, "m", DIM, NULL, err, sizeof err);
    if (s == NULL) fail_msg("open: %s", err);
    assert_int_equal(pg_store_bulk_load(pg_store_of(s), fx.articles, 10, NULL, err, sizeof err), 0);
    store_close(s);
    pg_cluster c1 = cluster;
    snprintf(c1.conninfo, sizeof c1.conninfo, "%s", conninfo);
    /* What the writes made: kept, to compare the migration's rows with. */
    assert_int_equal(pg_cluster_exec(&c1, ARTICLE_TERMS_AGG ARTICLE_TERMS_AGREE), 0);
    assert_int_equal(pg_cluster_exec(&c1, "CREATE TABLE written AS SELECT * FROM ragd_article_terms"), 0);
    char sql[800];
    snprintf(sql, sizeof sql, "%s",
             "DROP TABLE ragd_article_terms; ALTER TABLE ragd_stats DROP COLUMN n_articles;"
             " ALTER TABLE ragd_passages DROP COLUMN seq; ALTER TABLE ragd_postings DROP COLUMN seq;"
             " ALTER TABLE ragd_postings ADD PRIMARY KEY (term, topic, article_id, passage_index);"
             " ALTER TABLE ragd_stats DROP COLUMN next_seq;"
             " ALTER TABLE ragd_passages ALTER COLUMN embedding SET STORAGE EXTERNAL;"
             " UPDATE ragd_meta SET value = '1' WHERE key = 'schema_version'");
    assert_int_equal(pg_cluster_exec(&c1, sql), 0);

    s = pg_store_open_backend(conninfo, "m", DIM, NULL, err, sizeof err);
    if (s == NULL) fail_msg("open after the downgrade: %s", err);
    assert_int_equal(pg_cluster_exec(&c1,
                                     "DO $$ BEGIN IF EXISTS (SELECT 1 FROM (SELECT seq, row_number() OVER"
                                     " (ORDER BY article_id COLLATE \"C\", passage_index) - 1 AS want"
                                     " FROM ragd_passages) n WHERE seq <> want) OR EXISTS (SELECT 1 FROM"
                                     " ragd_postings q JOIN ragd_passages p USING (topic, article_id,"
                                     " passage_index) WHERE q.seq <> p.seq) OR (SELECT next_seq FROM"
                                     " ragd_stats) <> (SELECT count(*) FROM ragd_passages) OR (SELECT value"
                                     " FROM ragd_meta WHERE key = 'schema_version') <> '" RAGD_STR(PG_STORE_SCHEMA_VERSION) "'"
                                     " OR NOT EXISTS (SELECT 1 FROM pg_indexes WHERE indexname ="
                                     " 'ragd_postings_pkey' AND indexdef LIKE '%INCLUDE (seq%')"
                                     " OR EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid ="
                                     " 'ragd_passages'::regclass AND attname = 'embedding' AND attstorage <> 'm')"
                                     " THEN RAISE EXCEPTION 'bad migration'; END IF; END $$"), 0);
    assert_int_equal(pg_cluster_exec(&c1, "DO $$ BEGIN IF EXISTS ((TABLE written EXCEPT ALL TABLE"
                                          " ragd_article_terms) UNION ALL (TABLE ragd_article_terms"
                                          " EXCEPT ALL TABLE written)) OR (SELECT n_articles FROM"
                                          " ragd_stats) <> 10 THEN RAISE EXCEPTION 'article terms"
                                          " not migrated'; END IF; END $$"),
                     0);
    store_article a = fx.articles[20];
    assert_int_equal(store_put(s, &a, 1, NULL, err, sizeof err), 0);
    char check[400];
    snprintf(check, sizeof check,
             "DO $$ BEGIN IF (SELECT min(seq) FROM ragd_passages WHERE article_id = '%s') <>"
             " (SELECT max(seq) FROM ragd_passages WHERE article_id <> '%s') + 1 THEN RAISE"
             " EXCEPTION 'the put does not follow'; END IF; END $$", a.id, a.id);
    assert_int_equal(pg_cluster_exec(&c1, check), 0);
    assert_int_equal(pg_cluster_exec(&c1, ARTICLE_TERMS_AGG ARTICLE_TERMS_AGREE), 0);
    char best[STORE_ARTICLE_ID_MAX + 1];
    assert_true(lexical_hits(s, fx.articles[3].heading, best, sizeof best) > 0);
    assert_string_equal(best, fx.articles[3].id);
    store_close(s);
}

/* A pool with every connection held: a search waits pool_wait_ms, then
 * answers STORE_ERR_UNAVAILABLE (a 503, not a hang), counted as a wait and a
 * timeout; /metrics shows the held connection busy. A frozen server: the
 * check gives up after statement_timeout + grace, and the store works again
 * once the server runs. */
static void test_pool_exhausted_and_frozen_server(void **state) {
    (void)state;
    char err[512];
    pg_store_options o = {.pool_size = 1, .pool_wait_ms = 100, .statement_timeout_ms = 300};
    store *s = pg_store_open_backend(cluster.url, "m", DIM, &o, err, sizeof err);
    if (s == NULL) fail_msg("open: %s", err);
    pg_store *ps = pg_store_of(s);
    PGconn *held = pg_conn_take(ps, &ps->reads, err, sizeof err);
    assert_non_null(held);
    assert_true(metrics_have("ragd_store_pool_connections{pool=\"reads\",state=\"busy\"} 1"));
    assert_true(metrics_have("ragd_store_pool_max_connections{pool=\"reads\"} "));
    const char *h = fx.articles[2].heading;
    store_query q = {.text = h, .text_len = strlen(h), .mode = SEARCH_LEXICAL, .k = 3};
    search_hit hits[3];
    const store_view *v = store_acquire(s);
    assert_int_equal(store_search(v, &q, hits, err, sizeof err), STORE_ERR_UNAVAILABLE);
    assert_non_null(strstr(err, "stayed busy for 100 ms"));
    expect_failed(v, "search on a full pool");
    store_release(v);
    assert_true(metrics_have("ragd_store_pool_timeouts_total{pool=\"reads\"}"));
    assert_true(metrics_have("ragd_store_pool_wait_seconds_count"));
    pg_conn_give(ps, &ps->reads, held);

    assert_int_equal(pg_cluster_freeze(&cluster, true), 0);
    int rc = store_check(s, err, sizeof err);
    assert_int_equal(pg_cluster_freeze(&cluster, false), 0);
    assert_int_equal(rc, STORE_ERR_UNAVAILABLE);
    assert_non_null(strstr(err, "no answer within 2300 ms"));
    assert_int_equal(store_check(s, err, sizeof err), 0);
    v = store_acquire(s);
    assert_true(store_search(v, &q, hits, err, sizeof err) > 0);
    store_release(v);
    store_close(s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_answers),
        cmocka_unit_test(test_topics_and_counts),
        cmocka_unit_test(test_articles),
        cmocka_unit_test(test_writes_and_a_second_gateway),
        cmocka_unit_test(test_database_stopped_and_started),
        cmocka_unit_test(test_migrates_version_1),
        cmocka_unit_test(test_pool_exhausted_and_frozen_server),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
