/* test_store_live — live documents in the store (documents.h): puts,
 * replaces and deletes visible at once in every mode and topic filter,
 * article reads, views that keep their state, BM25 statistics over exactly
 * the live passages, and the property test: after random puts, replaces,
 * deletes, merges and reopenings, every query answers as a store rebuilt
 * from scratch from the same live articles. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "live_test_util.h"

static void put_text(store *s, const char *id, const char *topic, const char *text, float *vec) {
    const char *pp[1] = {text};
    store_article a = {id, "heading words", "2016-05-01", topic, text, 1, pp, vec};
    store_write_result r;
    char err[256];
    assert_int_equal(store_put(s, &a, 1, &r, err, sizeof err), 0);
}

static int count_article(store *s, search_mode mode, const char *text, const float *vec,
                         const char *topic, const char *article) {
    store_query q = {.vector = vec, .text = text, .text_len = text ? strlen(text) : 0,
                     .topic = topic, .k = 50, .mode = mode};
    live_hit hits[64];
    int n = live_query(s, &q, hits);
    assert_true(n >= 0);
    int found = 0;
    for (int i = 0; i < n; i++) found += strcmp(hits[i].article, article) == 0;
    return found;
}

static void test_put_replace_delete_visible(void **state) {
    (void)state;
    char *dir = NULL;
    store *s = live_empty_store(&dir);
    assert_non_null(s);
    uint64_t rng = 5;
    for (int i = 0; i < 20; i++) {
        live_doc d;
        char id[16];
        snprintf(id, sizeof id, "bg%d", i);
        live_random_doc(&rng, id, &d);
        assert_int_equal(live_put(s, &d), 0);
    }
    float v1[LDIM], v2[LDIM];
    test_unit_vector(&rng, v1, LDIM);
    test_unit_vector(&rng, v2, LDIM);
    const store_view *before = store_acquire(s);
    put_text(s, "doc-1", "zoology", "the zebra crossed the savannah", v1);
    for (int m = 0; m < 3; m++) {
        search_mode mode = (search_mode[]){SEARCH_VECTOR, SEARCH_LEXICAL, SEARCH_HYBRID}[m];
        assert_int_equal(count_article(s, mode, "zebra", v1, NULL, "doc-1"), 1);
        assert_int_equal(count_article(s, mode, "zebra", v1, "zoology", "doc-1"), 1);
        assert_int_equal(count_article(s, mode, "zebra", v1, "sports", "doc-1"), 0);
    }
    /* A view taken before the write does not see it. */
    assert_false(store_has_topic(before, "zoology"));
    store_article_info info;
    assert_int_equal(store_article_get(before, "doc-1", &info), -1);
    store_release(before);

    const store_view *v = store_acquire(s);
    assert_true(store_has_topic(v, "zoology"));
    assert_int_equal(store_count(v, "zoology"), 1);
    assert_int_equal(store_article_get(v, "doc-1", &info), 0);
    assert_string_equal(info.text, "the zebra crossed the savannah");
    assert_string_equal(info.topic, "zoology");
    store_passage p;
    assert_int_equal(store_get(v, info.first_passage, &p), 0);
    assert_string_equal(p.article_id, "doc-1");
    store_release(v);

    /* Replace: the new text only. */
    put_text(s, "doc-1", "zoology", "a giraffe ate the leaves", v2);
    assert_int_equal(count_article(s, SEARCH_LEXICAL, "zebra", NULL, NULL, "doc-1"), 0);
    assert_int_equal(count_article(s, SEARCH_LEXICAL, "giraffe", NULL, NULL, "doc-1"), 1);
    assert_int_equal(count_article(s, SEARCH_VECTOR, NULL, v2, NULL, "doc-1"), 1);
    v = store_acquire(s);
    assert_int_equal(store_article_count(v, NULL), 21);
    assert_int_equal(store_count(v, "zoology"), 1);
    store_release(v);

    /* Delete: gone from every mode, filter and listing; the topic goes too. */
    char err[256];
    assert_int_equal(store_delete(s, "doc-1", err, sizeof err), 1);
    assert_int_equal(store_delete(s, "doc-1", err, sizeof err), 0);
    for (int m = 0; m < 3; m++) {
        search_mode mode = (search_mode[]){SEARCH_VECTOR, SEARCH_LEXICAL, SEARCH_HYBRID}[m];
        assert_int_equal(count_article(s, mode, "giraffe", v2, NULL, "doc-1"), 0);
    }
    v = store_acquire(s);
    assert_false(store_has_topic(v, "zoology"));
    assert_int_equal(store_article_get(v, "doc-1", &info), -1);
    store_article_info page[64];
    bool more;
    size_t n = store_article_list(v, NULL, NULL, 64, page, &more);
    assert_int_equal(n, 20);
    assert_false(more);
    for (size_t i = 0; i < n; i++) assert_string_not_equal(page[i].id, "doc-1");
    for (size_t i = 1; i < n; i++) assert_true(strcmp(page[i - 1].id, page[i].id) < 0);
    /* Pages: the cursor is the last id of the page. */
    size_t got = store_article_list(v, NULL, NULL, 7, page, &more);
    assert_int_equal(got, 7);
    assert_true(more);
    store_article_info rest[64];
    size_t got2 = store_article_list(v, NULL, page[6].id, 64, rest, &more);
    assert_int_equal(got2, 13);
    assert_false(more);
    store_release(v);

    /* Bad input changes nothing. */
    store_article bad = {"bad id!", "h", "2016-01-01", "x", "t", 0, NULL, NULL};
    store_write_result r;
    assert_int_equal(store_put(s, &bad, 1, &r, err, sizeof err), -1);
    assert_non_null(strstr(err, "id"));
    test_close(s);
    test_rmdir(dir);
    free(dir);
}

/* ---- the property test ----------------------------------------------------- */

#define PROP_IDS 60

typedef struct model {
    live_doc docs[PROP_IDS];
    bool live[PROP_IDS];
} model;

/* A store rebuilt from scratch from the model's live articles (one snapshot). */
static store *rebuild(const model *m, char **dir) {
    store *s = live_empty_store(dir);
    assert_non_null(s);
    store_article arts[PROP_IDS];
    store_write_result res[PROP_IDS];
    size_t n = 0;
    for (int i = 0; i < PROP_IDS; i++)
        if (m->live[i]) arts[n++] = live_article_of(&m->docs[i]);
    char err[256];
    if (n > 0) assert_int_equal(store_put(s, arts, n, res, err, sizeof err), 0);
    assert_int_equal(store_merge(s, err, sizeof err), 0);
    return s;
}

static void compare_stores(store *got, store *want, uint64_t *rng) {
    const store_view *a = store_acquire(got), *b = store_acquire(want);
    assert_int_equal(store_count(a, NULL), store_count(b, NULL));
    assert_int_equal(store_article_count(a, NULL), store_article_count(b, NULL));
    const char *const *na, *const *nb;
    int ta = store_topics(a, &na), tb = store_topics(b, &nb);
    assert_int_equal(ta, tb);
    for (int t = 0; t < ta; t++) {
        assert_string_equal(na[t], nb[t]);
        assert_int_equal(store_count(a, na[t]), store_count(b, nb[t]));
        assert_int_equal(store_article_count(a, na[t]), store_article_count(b, nb[t]));
    }
    store_release(a);
    store_release(b);
    for (int qi = 0; qi < 12; qi++) {
        float vec[LDIM];
        char text[64];
        test_unit_vector(rng, vec, LDIM);
        live_words_into(rng, text, sizeof text, 2);
        for (int m = 0; m < 2; m++) {
            /* One hit more than compared: a tie at the tenth place shows. */
            store_query q = {.vector = vec, .text = text, .text_len = strlen(text), .k = 11,
                             .mode = m == 0 ? SEARCH_VECTOR : SEARCH_LEXICAL};
            int pick = (int)(test_rng(rng) % 5);
            if (pick < 3) q.topic = live_topics[pick];
            if (test_rng(rng) % 4 == 0) q.date_from = "2016-06-01";
            if (test_rng(rng) % 4 == 0) q.max_per_article = 1;
            live_hit ha[64], hb[64];
            int n1 = live_query(got, &q, ha), n2 = live_query(want, &q, hb);
            if (!live_same(ha, n1, hb, n2, 10, 1e-4f))
                fail_msg("query \"%s\" mode %d topic %s differs", text, m, q.topic ? q.topic : "-");
        }
    }
}

static void run_property(uint64_t seed, int steps, size_t threshold) {
    char *dir = NULL;
    store *s = live_empty_store(&dir);
    assert_non_null(s);
    store_set_merge_threshold(s, threshold);
    model *m = calloc(1, sizeof *m);
    uint64_t rng = seed;
    char err[256];
    for (int step = 1; step <= steps; step++) {
        int op = (int)(test_rng(&rng) % 100);
        int i = (int)(test_rng(&rng) % PROP_IDS);
        char id[16];
        snprintf(id, sizeof id, "art-%02d", i);
        if (op < 55) { /* put: create or replace */
            live_random_doc(&rng, id, &m->docs[i]);
            assert_int_equal(live_put(s, &m->docs[i]), 0);
            m->live[i] = true;
        } else if (op < 80) {
            int rc = store_delete(s, id, err, sizeof err);
            assert_int_equal(rc, m->live[i] ? 1 : 0);
            m->live[i] = false;
        } else if (op < 86) {
            int b = 1 + (int)(test_rng(&rng) % 4); /* a batch of distinct ids */
            store_article arts[4];
            store_write_result res[4];
            int ids[4], nb = 0;
            for (int j = 0; j < b; j++) {
                int x = (i + j * 7) % PROP_IDS;
                snprintf(id, sizeof id, "art-%02d", x);
                live_random_doc(&rng, id, &m->docs[x]);
                ids[nb] = x;
                arts[nb++] = live_article_of(&m->docs[x]);
            }
            assert_int_equal(store_put(s, arts, (size_t)nb, res, err, sizeof err), 0);
            for (int j = 0; j < nb; j++) {
                assert_int_equal(res[j].created, !m->live[ids[j]]);
                m->live[ids[j]] = true;
            }
        } else if (op < 93) {
            assert_int_equal(store_merge(s, err, sizeof err), 0);
        } else { /* reopen: the log replays onto the snapshot */
            store_close(s);
            s = store_open_writable(dir, "m", err, sizeof err);
            assert_non_null(s);
            store_set_merge_threshold(s, threshold);
        }
        if (step % 60 == 0 || step == steps) {
            char *rdir = NULL;
            store *want = rebuild(m, &rdir);
            compare_stores(s, want, &rng);
            store_close(want);
            test_rmdir(rdir);
            free(rdir);
        }
    }
    free(m);
    store_close(s);
    test_rmdir(dir);
    free(dir);
}

static void test_property_explicit_merges(void **state) {
    (void)state;
    run_property(0x1234, 360, 0);
}

static void test_property_background_merges(void **state) {
    (void)state;
    run_property(0x9876, 300, 25); /* merges start by themselves every ~25 passages */
}

/* ---- ingest and the API ---------------------------------------------------- */

static void ingest_articles(const char *dir, int from, int to) {
    char err[512];
    store_writer *w = store_writer_open(dir, "m", LDIM, err, sizeof err);
    assert_non_null(w);
    uint64_t rng = 99;
    for (int a = from; a < to; a++) {
        char id[16], text[64];
        snprintf(id, sizeof id, "a%d", a);
        snprintf(text, sizeof text, "the whole text of article %d", a);
        assert_int_equal(store_writer_add_text(w, id, text, strlen(text), err, sizeof err), 0);
    }
    for (int a = 0; a < to; a++)
        for (int p = 0; p < 2; p++) {
            float vec[LDIM];
            test_unit_vector(&rng, vec, LDIM);
            if (a < from) continue; /* the same rows again: their keys are known */
            char key[32], id[16], text[64];
            snprintf(key, sizeof key, "a%d#%d", a, p);
            snprintf(id, sizeof id, "a%d", a);
            snprintf(text, sizeof text, "ingested article %d passage %d", a, p);
            store_passage sp = {.article_id = id, .heading = "csv", .date = "2015-01-01",
                                .topic = "business", .text = text, .passage_index = p};
            assert_int_equal(store_writer_add(w, key, &sp, vec, err, sizeof err), 0);
        }
    assert_int_equal(store_writer_commit(w, err, sizeof err), 0);
    store_writer_close(w);
}

static void check_after_ingest(const char *dir) {
    char err[512];
    store *s = store_open(dir, "m", err, sizeof err);
    assert_non_null(s);
    const store_view *v = store_acquire(s);
    store_article_info info;
    assert_int_equal(store_article_get(v, "a0", &info), 0);
    assert_int_equal(info.n_passages, 2);
    assert_string_equal(info.text, "the whole text of article 0");
    assert_int_equal(store_article_get(v, "a1", &info), 0); /* the API's version */
    assert_string_equal(info.text, "replaced by the api");
    assert_int_equal(info.n_passages, 1);
    assert_int_equal(store_article_get(v, "a2", &info), -1); /* deleted by the API */
    assert_int_equal(store_article_get(v, "api-x", &info), 0);
    assert_int_equal(store_article_get(v, "a11", &info), 0); /* new in the CSV */
    assert_int_equal(store_article_count(v, NULL), 12 - 1 + 1);
    assert_int_equal(store_count(v, NULL), 10 * 2 + 1 + 1);
    store_release(v);
    store_close(s);
}

static void test_ingest_keeps_api_changes(void **state) {
    (void)state;
    char *dir = test_tempdir();
    ingest_articles(dir, 0, 10);
    char err[512];
    store *s = store_open_writable(dir, "m", err, sizeof err);
    assert_non_null(s);
    float vec[LDIM];
    uint64_t rng = 1;
    test_unit_vector(&rng, vec, LDIM);
    put_text(s, "a1", "business", "replaced by the api", vec);
    put_text(s, "api-x", "business", "only the api has this", vec);
    assert_int_equal(store_delete(s, "a2", err, sizeof err), 1);
    store_close(s);
    /* The whole CSV again plus two new articles: only those two are added. */
    ingest_articles(dir, 0, 12);
    check_after_ingest(dir);
    /* After a merge (documents.log rotated) the same holds. */
    s = store_open_writable(dir, "m", err, sizeof err);
    assert_non_null(s);
    assert_int_equal(store_merge(s, err, sizeof err), 0);
    store_close(s);
    ingest_articles(dir, 12, 13); /* one more: a12 */
    s = store_open(dir, "m", err, sizeof err);
    const store_view *v = store_acquire(s);
    store_article_info info;
    assert_int_equal(store_article_get(v, "a12", &info), 0);
    assert_int_equal(store_article_get(v, "a2", &info), -1);
    assert_int_equal(store_article_get(v, "a1", &info), 0);
    assert_string_equal(info.text, "replaced by the api");
    store_release(v);
    store_close(s);
    test_rmdir(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_replace_delete_visible),
        cmocka_unit_test(test_property_explicit_merges),
        cmocka_unit_test(test_property_background_merges),
        cmocka_unit_test(test_ingest_keeps_api_changes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
