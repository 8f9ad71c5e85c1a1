/* test_store_filters — what a query can ask of the store beyond its text:
 * an inclusive date range applied inside both halves (the top k are the best
 * k of the matching passages, even when the range excludes the best hits),
 * a cap on passages per article that keeps each article's best ones, the
 * validation of both, and the explain fields (each hit's rank and score in
 * the lexical and the vector list, and its fused score). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include <cmocka.h>

#include "store_test_util.h"

#define DIM 16

static const struct {
    const char *article, *date, *text;
} docs[] = {
    {"a", "2015-01-10", "Oil oil oil: prices hit a record."},
    {"a", "2015-01-10", "Oil oil prices climbed."},
    {"a", "2015-01-10", "Oil prices fell later."},
    {"b", "2016-03-01", "Oil markets stayed calm."},
    {"c", "2016-06-01", "Oil demand grew in Asia."},
    {"d", "2017-01-01", "The cricket final was a draw."},
};
#define N_DOCS (int)(sizeof docs / sizeof docs[0])

typedef struct fixture {
    char *dir;
    float vecs[N_DOCS][DIM];
    store *s;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    f->dir = test_tempdir();
    store_passage ps[N_DOCS];
    for (int i = 0; i < N_DOCS; i++)
        ps[i] = (store_passage){.article_id = docs[i].article, .heading = "", .date = docs[i].date,
                                .topic = "business", .text = docs[i].text, .passage_index = i};
    f->s = test_build_store(f->dir, "p", ps, N_DOCS, &f->vecs[0][0], DIM, 11);
    *state = f;
    return f->s ? 0 : -1;
}

static int teardown(void **state) {
    fixture *f = *state;
    test_close(f->s);
    test_rmdir(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static int run(fixture *f, store_query q, search_hit *hits) {
    char err[256];
    if (q.text) q.text_len = strlen(q.text);
    return store_search(test_view(f->s), &q, hits, err, sizeof err);
}

static void test_cap_per_article(void **state) {
    fixture *f = *state;
    search_hit hits[N_DOCS];
    /* Passages alone (no article field, bm25.h): the cap is what is tested. */
    store_bm25_params passages_only = {.k1 = 1.2f, .b = 0.75f, .heading_weight = 2.0f, .article_weight = 0};
    store_query q = {.text = "oil", .k = 3, .mode = SEARCH_LEXICAL, .bm25 = &passages_only};
    /* No cap: article a's three passages say "oil" most. */
    assert_int_equal(run(f, q, hits), 3);
    for (int i = 0; i < 3; i++) assert_string_equal(docs[hits[i].passage_id].article, "a");
    assert_int_equal(hits[0].passage_id, 0);
    /* Cap 1: a's best passage first, then the other articles. */
    q.max_per_article = 1;
    assert_int_equal(run(f, q, hits), 3);
    assert_int_equal(hits[0].passage_id, 0);
    assert_string_not_equal(docs[hits[1].passage_id].article, "a");
    assert_string_not_equal(docs[hits[2].passage_id].article, "a");
    assert_string_not_equal(docs[hits[1].passage_id].article, docs[hits[2].passage_id].article);
    /* Cap 2: a's two best passages, then one other. */
    q.max_per_article = 2;
    q.k = 4;
    assert_int_equal(run(f, q, hits), 4);
    assert_int_equal(hits[0].passage_id, 0);
    assert_int_equal(hits[1].passage_id, 1);
    int from_a = 0;
    for (int i = 0; i < 4; i++) from_a += !strcmp(docs[hits[i].passage_id].article, "a");
    assert_int_equal(from_a, 2);
    /* The cap holds in hybrid and vector mode too. */
    q.vector = f->vecs[1];
    q.max_per_article = 1;
    q.k = N_DOCS;
    for (int m = 0; m < 2; m++) {
        q.mode = m ? SEARCH_HYBRID : SEARCH_VECTOR;
        int n = run(f, q, hits);
        assert_int_equal(n, 4); /* four articles */
        for (int i = 0; i < n; i++)
            for (int j = 0; j < i; j++)
                assert_string_not_equal(docs[hits[i].passage_id].article,
                                        docs[hits[j].passage_id].article);
    }
}

static void test_date_range_inside_search(void **state) {
    fixture *f = *state;
    search_hit hits[N_DOCS];
    /* From 2016: the three best "oil" passages (2015) are out, and the top 3
     * are what is left, not three minus the excluded ones. */
    store_query q = {.text = "oil", .k = 3, .mode = SEARCH_LEXICAL, .date_from = "2016-01-01"};
    assert_int_equal(run(f, q, hits), 2);
    for (int i = 0; i < 2; i++) assert_true(hits[i].passage_id == 3 || hits[i].passage_id == 4);
    /* Inclusive at both ends. */
    q.date_from = q.date_to = "2016-03-01";
    assert_int_equal(run(f, q, hits), 1);
    assert_int_equal(hits[0].passage_id, 3);
    q.date_from = NULL;
    q.date_to = "2015-01-10";
    assert_int_equal(run(f, q, hits), 3);
    for (int i = 0; i < 3; i++) assert_string_equal(docs[hits[i].passage_id].article, "a");
    /* The vector half, exact and approximate, keeps to the range as well:
     * the query is passage 0's own vector, which the range excludes. */
    for (int approx = 0; approx < 2; approx++) {
        store_query v = {.vector = f->vecs[0], .k = N_DOCS, .mode = SEARCH_VECTOR,
                         .approximate = approx, .date_from = "2016-01-01", .date_to = "2016-12-31"};
        int n = run(f, v, hits);
        assert_int_equal(n, 2);
        for (int i = 0; i < n; i++) assert_true(hits[i].passage_id == 3 || hits[i].passage_id == 4);
        v.mode = SEARCH_HYBRID;
        v.text = "oil";
        n = run(f, v, hits);
        assert_int_equal(n, 2);
        for (int i = 0; i < n; i++) assert_true(hits[i].passage_id == 3 || hits[i].passage_id == 4);
    }
}

static void test_bad_filters_refused(void **state) {
    fixture *f = *state;
    search_hit hits[N_DOCS];
    char err[256];
    const char *bad[] = {"2015-1-10", "2015/01/10", "2015-02-30", "2015-13-01", "2015-00-10",
                         "2015-02-29", "20150110", "", "2015-01-10x"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_false(store_valid_date(bad[i]));
        store_query q = {.text = "oil", .text_len = 3, .k = 3, .mode = SEARCH_LEXICAL,
                         .date_from = bad[i]};
        assert_int_equal(store_search(test_view(f->s), &q, hits, err, sizeof err), -1);
        assert_non_null(strstr(err, "date_from"));
    }
    assert_true(store_valid_date("2016-02-29")); /* a leap day */
    store_query q = {.text = "oil", .text_len = 3, .k = 3, .mode = SEARCH_LEXICAL,
                     .date_from = "2016-02-01", .date_to = "2016-01-31"};
    assert_int_equal(store_search(test_view(f->s), &q, hits, err, sizeof err), -1);
    assert_non_null(strstr(err, "after"));
    q.date_from = q.date_to = NULL;
    q.max_per_article = -1;
    assert_int_equal(store_search(test_view(f->s), &q, hits, err, sizeof err), -1);
    assert_non_null(strstr(err, "max_per_article"));
}

/* Each hybrid hit's explain fields are its places in the two halves' own
 * lists, and its score is the fusion of those ranks. */
static void test_explain_fields(void **state) {
    fixture *f = *state;
    search_hit hyb[N_DOCS], lex[N_DOCS], vec[N_DOCS];
    store_query q = {.text = "oil prices", .vector = f->vecs[4], .k = N_DOCS, .mode = SEARCH_HYBRID};
    int nh = run(f, q, hyb);
    q.mode = SEARCH_LEXICAL;
    int nl = run(f, q, lex);
    q.mode = SEARCH_VECTOR;
    int nv = run(f, q, vec);
    assert_int_equal(nh, N_DOCS);
    assert_int_equal(nv, N_DOCS);
    assert_true(nl >= 3 && nl < N_DOCS); /* the cricket passage shares no term */
    for (int i = 0; i < nl; i++) {
        assert_int_equal(lex[i].lexical_rank, i + 1);
        assert_float_equal(lex[i].lexical_score, lex[i].score, 0);
        assert_int_equal(lex[i].vector_rank, 0);
    }
    for (int i = 0; i < nv; i++) {
        assert_int_equal(vec[i].vector_rank, i + 1);
        assert_float_equal(vec[i].vector_score, vec[i].score, 0);
        assert_int_equal(vec[i].lexical_rank, 0);
    }
    for (int h = 0; h < nh; h++) {
        int lr = 0, vr = 0;
        for (int i = 0; i < nl; i++)
            if (lex[i].passage_id == hyb[h].passage_id) lr = i + 1;
        for (int i = 0; i < nv; i++)
            if (vec[i].passage_id == hyb[h].passage_id) vr = i + 1;
        assert_int_equal(hyb[h].lexical_rank, lr);
        assert_int_equal(hyb[h].vector_rank, vr);
        if (lr) assert_float_equal(hyb[h].lexical_score, lex[lr - 1].score, 1e-6);
        assert_float_equal(hyb[h].vector_score, vec[vr - 1].score, 1e-6);
        double fused = 1.0 / (60 + vr) + (lr ? 1.0 / (60 + lr) : 0);
        assert_float_equal(hyb[h].score, fused, 1e-6);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cap_per_article),
        cmocka_unit_test(test_date_range_inside_search),
        cmocka_unit_test(test_bad_filters_refused),
        cmocka_unit_test(test_explain_fields),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
