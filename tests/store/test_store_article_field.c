/* test_store_article_field — BM25's article field (bm25.h): a question whose
 * words are split between passages of one article finds that article before
 * a one-passage story that matches better than any one of its passages; the
 * article score goes to the article's best passage only, so its other
 * passages keep their own scores; it is exactly the BM25F of the whole
 * article; weight 0 is passages alone. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include <cmocka.h>

#include "store/analyzer.h"
#include "store/bm25.h"
#include "store_test_util.h"

#define DIM 16

static const struct {
    const char *article, *text;
} docs[] = {
    /* The story asked about: its subject in the lead, the facts later. */
    {"semi", "Portugal played Wales in the Euro semi-final in Lyon on Wednesday night."},
    {"semi", "Ronaldo scored first with a header from a corner."},
    {"semi", "Nani volleyed in the second three minutes later."},
    /* Another story on the same subject: the lead's words in a shorter
     * passage, so on passages alone it beats the lead. */
    {"fans", "Portugal and Wales met in the Euro semi-final."},
    /* Stories on other subjects (as long as the first), so document
     * frequencies and the average article length mean something. */
    {"cricket", "England won the test at Lord's by an innings after the spinners took eight wickets "
                "on the last day and the crowd stayed to cheer them off the ground."},
    {"oil", "Oil prices rose in Asia on Monday as traders bet that producers would agree to cap "
            "output at their meeting in Doha, while stockpiles in America kept growing."},
    {"rates", "The central bank kept interest rates on hold, saying inflation had eased for a "
              "third month and the currency had steadied after the elections were over."},
    {"tennis", "The champion retired after the final set of the season, thanking the crowd and "
               "the coach who had taken him from junior events to the top of the rankings."},
};
#define N_DOCS (int)(sizeof docs / sizeof docs[0])
#define QUESTION \
    "Who scored with a header and who volleyed in the Euro semi-final between Portugal and Wales?"

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
        ps[i] = (store_passage){.article_id = docs[i].article, .heading = "", .date = "2016-07-06",
                                .topic = "sports", .text = docs[i].text, .passage_index = i};
    f->s = test_build_store(f->dir, "p", ps, N_DOCS, &f->vecs[0][0], DIM, 3);
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

/* Lexical hits of QUESTION with article weight w (< 0: the default). */
static int search(fixture *f, float w, search_hit *hits) {
    store_bm25_params p = {.k1 = BM25_DEFAULT_K1, .b = BM25_DEFAULT_B,
                           .heading_weight = BM25_DEFAULT_W_HEADING, .article_weight = w};
    store_query q = {.text = QUESTION, .text_len = strlen(QUESTION), .k = N_DOCS,
                     .mode = SEARCH_LEXICAL, .bm25 = w < 0 ? NULL : &p};
    char err[256];
    int n = store_search(test_view(f->s), &q, hits, err, sizeof err);
    if (n < 0) fail_msg("%s", err);
    return n;
}

static float score_of(const search_hit *hits, int n, int passage) {
    for (int i = 0; i < n; i++)
        if (hits[i].passage_id == (uint32_t)passage) return hits[i].score;
    fail_msg("passage %d not found", passage);
    return 0;
}

static void count_term(const char *t, size_t n, void *ctx) {
    (void)t, (void)n;
    (*(int *)ctx)++;
}

/* Body terms of docs[from, to). */
static int body_len(int from, int to) {
    analyzer *a = analyzer_new();
    assert_non_null(a);
    int len = 0;
    for (int i = from; i < to; i++)
        analyzer_terms(a, docs[i].text, strlen(docs[i].text), count_term, &len);
    analyzer_free(a);
    return len;
}

static void test_split_article_first(void **state) {
    fixture *f = *state;
    search_hit hits[N_DOCS];
    /* Passages alone: the one-passage story wins (the lead's words, shorter). */
    int n = search(f, 0, hits);
    assert_true(n >= 3);
    assert_int_equal(hits[0].passage_id, 3);
    /* With the article field (the default), the article holding every word does. */
    n = search(f, -1, hits);
    assert_true(n >= 3);
    assert_int_equal(hits[0].passage_id, 0);
}

static void test_best_passage_only(void **state) {
    fixture *f = *state;
    search_hit alone[N_DOCS], field[N_DOCS];
    int na = search(f, 0, alone), nf = search(f, 1, field);
    assert_int_equal(na, nf);
    /* "semi"'s best passage alone is 0; passage 1 keeps its score. */
    assert_true(score_of(alone, na, 0) > score_of(alone, na, 1));
    assert_float_equal(score_of(field, nf, 1), score_of(alone, na, 1), 1e-6);
    assert_true(score_of(field, nf, 0) > score_of(alone, na, 0));
    /* Weight 2 adds twice what weight 1 adds. */
    search_hit twice[N_DOCS];
    int nt = search(f, 2, twice);
    float added = score_of(field, nf, 0) - score_of(alone, na, 0);
    assert_float_equal(score_of(twice, nt, 0) - score_of(alone, na, 0), 2 * added, 1e-4);
}

/* The article score is the whole article's BM25F: "nani" is only in
 * passage 2 of "semi" (df 1 of N = 6 articles), once; the body length is
 * the article's, the average that of the six articles. */
static void test_article_score_formula(void **state) {
    fixture *f = *state;
    search_hit alone[N_DOCS], field[N_DOCS];
    store_bm25_params p = {.k1 = 1.2f, .b = 0.75f, .heading_weight = 2.0f, .article_weight = 0};
    store_query q = {.text = "nani", .text_len = 4, .k = N_DOCS, .mode = SEARCH_LEXICAL, .bm25 = &p};
    char err[256];
    assert_int_equal(store_search(test_view(f->s), &q, alone, err, sizeof err), 1);
    p.article_weight = 1;
    assert_int_equal(store_search(test_view(f->s), &q, field, err, sizeof err), 1);
    assert_int_equal(field[0].passage_id, 2);
    double len = body_len(0, 3), avg = body_len(0, N_DOCS) / 6.0, k1 = 1.2, b = 0.75;
    double tf = 1 / (1 - b + b * len / avg);
    double idf = log(1 + (6 - 1 + 0.5) / (1 + 0.5));
    assert_float_equal(field[0].score - alone[0].score, idf * tf * (k1 + 1) / (tf + k1), 1e-4);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_article_first),
        cmocka_unit_test(test_best_passage_only),
        cmocka_unit_test(test_article_score_formula),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
