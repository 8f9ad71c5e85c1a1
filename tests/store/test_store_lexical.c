/* test_store_lexical — BM25 ranks the obvious passage first, scores follow
 * the formula, passages sharing no word are never returned, the topic filter
 * holds for lexical search, and hybrid search is reciprocal rank fusion of
 * the two halves, BM25F weighs the heading field, and the store's English
 * analyzer folds case, accents and word forms at both ends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include <cmocka.h>

#include "store/analyzer.h"
#include "store/bm25.h"
#include "store_test_util.h"

#define DIM 32

static const struct {
    const char *heading, *text, *topic;
} docs[] = {
    {"Rates", "The central bank raised interest rates again to fight inflation.", "business"},
    {"Final", "The football team won the cup final after a penalty shoot-out.", "sports"},
    {"Markets", "Stock markets fell as oil prices dropped sharply on Monday.", "business"},
    {"Cricket", "Pakistan beat England in the cricket test at Lord's.", "sports"},
    {"Oil", "Oil oil oil: crude oil prices hit a record as oil demand grew.", "business"},
    {"Tennis", "The tennis champion retired after the final match of the season.", "sports"},
    {"Banks", "Banks reported higher profits thanks to interest income.", "business"},
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
        ps[i] = (store_passage){.heading = docs[i].heading, .date = "2015-01-01",
                                .topic = docs[i].topic, .text = docs[i].text};
    f->s = test_build_store(f->dir, "d", ps, N_DOCS, &f->vecs[0][0], DIM, 5);
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

static int lexical(fixture *f, const char *text, const char *topic, search_hit *hits, int k) {
    char err[256];
    store_query q = {.text = text, .text_len = strlen(text), .topic = topic, .k = k,
                     .mode = SEARCH_LEXICAL};
    return store_search(test_view(f->s), &q, hits, err, sizeof err);
}

static void test_obvious_document_first(void **state) {
    fixture *f = *state;
    search_hit hits[N_DOCS];
    assert_true(lexical(f, "who won the football cup?", NULL, hits, N_DOCS) >= 1);
    assert_int_equal(hits[0].passage_id, 1);
    assert_true(lexical(f, "CRICKET England", NULL, hits, N_DOCS) >= 1);
    assert_int_equal(hits[0].passage_id, 3);
    /* Term frequency counts: the passage saying "oil" five times beats the one saying it once. */
    int n = lexical(f, "oil", NULL, hits, N_DOCS);
    assert_int_equal(n, 2);
    assert_int_equal(hits[0].passage_id, 4);
    assert_int_equal(hits[1].passage_id, 2);
    assert_true(hits[0].score > hits[1].score);
    /* Headings are indexed too. */
    assert_int_equal(lexical(f, "tennis", NULL, hits, N_DOCS), 1);
    assert_int_equal(hits[0].passage_id, 5);
}

static void count_term(const char *t, size_t n, void *ctx) {
    (void)t, (void)n;
    (*(int *)ctx)++;
}

/* BM25F: "cricket" is in passage 3's heading and body once each; df = 1 of
 * N = 7; body lengths are the analyzer's term counts. Explicit parameters
 * without an article_weight leave the article field out. */
static void test_bm25f_formula(void **state) {
    fixture *f = *state;
    search_hit hits[N_DOCS];
    assert_int_equal(lexical(f, "cricket", NULL, hits, N_DOCS), 1);
    analyzer *a = analyzer_new();
    assert_non_null(a);
    double total = 0;
    int lens[N_DOCS];
    for (int i = 0; i < N_DOCS; i++) {
        lens[i] = 0;
        analyzer_terms(a, docs[i].text, strlen(docs[i].text), count_term, &lens[i]);
        total += lens[i];
    }
    analyzer_free(a);
    double avgdl = total / N_DOCS, k1 = 1.2, b = 0.75, w_heading = 2.0;
    double tf = 1 / (1 - b + b * lens[3] / avgdl) + w_heading * 1;
    double idf = log(1 + (N_DOCS - 1 + 0.5) / (1 + 0.5));
    double want = idf * tf * (k1 + 1) / (tf + k1);
    /* Every passage here is an article of its own, so the article field
     * (bm25.h) scores the very same BM25F once more. */
    assert_float_equal(hits[0].score, want * (1 + BM25_DEFAULT_W_ARTICLE), 1e-4);

    /* The query may bring its own parameters: heading weight 0 is plain
     * BM25 over the body. */
    store_bm25_params p = {.k1 = 1.2f, .b = 0.75f, .heading_weight = 0};
    char err[256];
    store_query q = {.text = "cricket", .text_len = 7, .k = N_DOCS, .mode = SEARCH_LEXICAL,
                     .bm25 = &p};
    assert_int_equal(store_search(test_view(f->s), &q, hits, err, sizeof err), 1);
    tf = 1 / (1 - b + b * lens[3] / avgdl);
    assert_float_equal(hits[0].score, idf * tf * (k1 + 1) / (tf + k1), 1e-4);
}

/* The heading is a field of its own: "Rates" heads passage 0, whose body
 * says "rates" too; the heading weight adds to its score, weight 0 removes
 * that part, and the ranking of heading matches follows the weight. */
static void test_heading_weight(void **state) {
    fixture *f = *state;
    search_hit hits[N_DOCS];
    char err[256];
    float scores[3];
    const float weights[3] = {0, 2, 8};
    for (int i = 0; i < 3; i++) {
        store_bm25_params p = {.k1 = 1.2f, .b = 0.75f, .heading_weight = weights[i]};
        store_query q = {.text = "rates", .text_len = 5, .k = N_DOCS, .mode = SEARCH_LEXICAL,
                         .bm25 = &p};
        assert_int_equal(store_search(test_view(f->s), &q, hits, err, sizeof err), 1);
        assert_int_equal(hits[0].passage_id, 0);
        scores[i] = hits[0].score;
    }
    assert_true(scores[0] < scores[1] && scores[1] < scores[2]);
    /* "oil": passage 4 has it in its heading and five times in its body,
     * passage 2 once in its body; the heading only widens the gap. */
    assert_int_equal(lexical(f, "oil", NULL, hits, N_DOCS), 2);
    assert_int_equal(hits[0].passage_id, 4);
}

static void test_no_shared_word_no_hit(void **state) {
    fixture *f = *state;
    search_hit hits[N_DOCS];
    assert_int_equal(lexical(f, "zebra xylophone", NULL, hits, N_DOCS), 0);
    assert_int_equal(lexical(f, "", NULL, hits, N_DOCS), 0);
}

static void test_lexical_topic_filter(void **state) {
    fixture *f = *state;
    search_hit hits[N_DOCS];
    /* "final" is in two sports passages, "interest" in two business ones. */
    int n = lexical(f, "final interest", "sports", hits, N_DOCS);
    assert_int_equal(n, 2);
    for (int i = 0; i < n; i++) assert_string_equal(docs[hits[i].passage_id].topic, "sports");
    n = lexical(f, "final interest", "business", hits, N_DOCS);
    assert_int_equal(n, 2);
    for (int i = 0; i < n; i++) assert_string_equal(docs[hits[i].passage_id].topic, "business");
}

static void test_hybrid_is_rank_fusion(void **state) {
    fixture *f = *state;
    char err[256];
    search_hit hyb[N_DOCS], vec[N_DOCS], lex[N_DOCS];
    const char *text = "oil prices";
    /* The vector of passage 2 ("Stock markets fell as oil prices…"). */
    store_query q = {.vector = f->vecs[2], .text = text, .text_len = strlen(text), .k = N_DOCS,
                     .mode = SEARCH_VECTOR};
    int nv = store_search(test_view(f->s), &q, vec, err, sizeof err);
    q.mode = SEARCH_LEXICAL;
    int nl = store_search(test_view(f->s), &q, lex, err, sizeof err);
    q.mode = SEARCH_HYBRID;
    int nh = store_search(test_view(f->s), &q, hyb, err, sizeof err);
    assert_int_equal(nv, N_DOCS);
    assert_int_equal(nh, N_DOCS); /* every passage is in the vector list */
    assert_int_equal(vec[0].passage_id, 2);
    assert_float_equal(vec[0].score, 1.0, 1e-5); /* cosine of a vector with itself */
    for (int h = 0; h < nh; h++) {
        double want = 0;
        for (int i = 0; i < nv; i++)
            if (vec[i].passage_id == hyb[h].passage_id) want += 1.0 / (60 + i + 1);
        for (int i = 0; i < nl; i++)
            if (lex[i].passage_id == hyb[h].passage_id) want += 1.0 / (60 + i + 1);
        assert_float_equal(hyb[h].score, want, 1e-6);
        if (h > 0) assert_true(hyb[h - 1].score >= hyb[h].score);
    }
    /* Passage 4 says "oil" five times (lexical rank 1); passage 2 is first by
     * vector and second by BM25, so it wins the fusion. */
    assert_int_equal(lex[0].passage_id, 4);
    assert_int_equal(lex[1].passage_id, 2);
    assert_int_equal(hyb[0].passage_id, 2);
    assert_float_equal(hyb[0].score, 1.0 / 61 + 1.0 / 62, 1e-6);

    /* Weighted: the vector list counts a quarter; lexical order leads. */
    q.vector_weight = 0.25f;
    nh = store_search(test_view(f->s), &q, hyb, err, sizeof err);
    assert_int_equal(nh, N_DOCS);
    for (int h = 0; h < nh; h++) {
        double want = 0;
        for (int i = 0; i < nv; i++)
            if (vec[i].passage_id == hyb[h].passage_id) want += 0.25 / (60 + i + 1);
        for (int i = 0; i < nl; i++)
            if (lex[i].passage_id == hyb[h].passage_id) want += 1.0 / (60 + i + 1);
        assert_float_equal(hyb[h].score, want, 1e-6);
    }
    /* Even the last lexical hit (1/(60+nl)) outscores the best vector-only
     * hit (0.25/61): the first nl fused hits are exactly BM25's. */
    for (int h = 0; h < nl; h++) {
        bool lexical = false;
        for (int i = 0; i < nl; i++) lexical |= lex[i].passage_id == hyb[h].passage_id;
        assert_true(lexical);
    }
}

/* Lexical-first fusion (the twin's): BM25's list whole and in order, then
 * the vector list's other rows in vector order; score 1 / (60 + position). */
static void test_lexical_first_fusion(void **state) {
    fixture *f = *state;
    char err[256];
    search_hit hyb[N_DOCS], vec[N_DOCS], lex[N_DOCS];
    const char *text = "oil prices";
    store_query q = {.vector = f->vecs[5], .text = text, .text_len = strlen(text), .k = N_DOCS,
                     .mode = SEARCH_VECTOR};
    int nv = store_search(test_view(f->s), &q, vec, err, sizeof err);
    q.mode = SEARCH_LEXICAL;
    int nl = store_search(test_view(f->s), &q, lex, err, sizeof err);
    q.mode = SEARCH_HYBRID;
    q.lexical_first = true;
    int nh = store_search(test_view(f->s), &q, hyb, err, sizeof err);
    assert_int_equal(nv, N_DOCS);
    assert_int_equal(nl, 2);
    assert_int_equal(nh, N_DOCS);
    for (int i = 0; i < nl; i++) assert_int_equal(hyb[i].passage_id, lex[i].passage_id);
    int h = nl;
    for (int i = 0; i < nv; i++) {
        bool in_lexical = false;
        for (int j = 0; j < nl; j++) in_lexical |= lex[j].passage_id == vec[i].passage_id;
        if (!in_lexical) assert_int_equal(hyb[h++].passage_id, vec[i].passage_id);
    }
    assert_int_equal(h, N_DOCS);
    for (int i = 0; i < nh; i++) assert_float_equal(hyb[i].score, 1.0 / (60 + i + 1), 1e-7);
}

/* The store's analyzer at both ends: accents, case, punctuation, stems. */
static void test_analyzer_at_both_ends(void **state) {
    (void)state;
    char err[512];
    char *dir = test_tempdir();
    store_writer *w = store_writer_open(dir, "m", DIM, err, sizeof err);
    assert_non_null(w);
    float v[DIM];
    uint64_t rng = 1;
    const char *texts[] = {"Café Society: a new restaurant opens in Karachi.",
                           "PSX-100 index closes higher; investors cheer."};
    for (int i = 0; i < 2; i++) {
        test_unit_vector(&rng, v, DIM);
        char key[8];
        snprintf(key, sizeof key, "t%d", i);
        store_passage p = {.article_id = key, .heading = "", .date = "", .topic = "business",
                           .text = texts[i]};
        assert_int_equal(store_writer_add(w, key, &p, v, err, sizeof err), 0);
    }
    assert_int_equal(store_writer_commit(w, err, sizeof err), 0);
    store_writer_close(w);
    store *s = store_open(dir, "m", err, sizeof err);
    assert_non_null(s);
    search_hit hits[2];
    const char *queries[] = {"CAFE", "psx", "restaurants opening", "investor cheering"};
    const uint32_t want[] = {0, 1, 0, 1};
    for (int i = 0; i < 4; i++) {
        store_query q = {.text = queries[i], .text_len = strlen(queries[i]), .k = 2,
                         .mode = SEARCH_LEXICAL};
        assert_int_equal(store_search(test_view(s), &q, hits, err, sizeof err), 1);
        assert_int_equal(hits[0].passage_id, want[i]);
    }
    test_close(s);
    test_rmdir(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_obvious_document_first),
        cmocka_unit_test(test_bm25f_formula),
        cmocka_unit_test(test_heading_weight),
        cmocka_unit_test(test_no_shared_word_no_hit),
        cmocka_unit_test(test_lexical_topic_filter),
        cmocka_unit_test(test_hybrid_is_rank_fusion),
        cmocka_unit_test(test_lexical_first_fusion),
        cmocka_unit_test(test_analyzer_at_both_ends),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
