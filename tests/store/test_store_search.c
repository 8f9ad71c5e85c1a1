/* test_store_search — exact search equals a brute-force reference on random
 * data, every SIMD kernel agrees with the portable one, the topic filter
 * never leaks, and HNSW reaches recall@10 >= 0.95 against exact search. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "store/vecmath.h"
#include "store_test_util.h"

#define DIM 384
#define N 4000
#define N_TOPICS 3

static const char *const topic_names[N_TOPICS] = {"sports", "business", "arts"};

typedef struct fixture {
    char *dir;
    float *vecs; /* by id */
    int *topic;  /* by id */
    store *s;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    f->dir = test_tempdir();
    f->vecs = malloc((size_t)N * DIM * sizeof(float));
    f->topic = malloc(N * sizeof(int));
    uint64_t rng = 42;
    char err[512];
    store_writer *w = store_writer_open(f->dir, "test-model", DIM, err, sizeof err);
    if (w == NULL) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    for (int i = 0; i < N; i++) {
        float *v = f->vecs + (size_t)i * DIM;
        test_unit_vector(&rng, v, DIM);
        f->topic[i] = (int)(test_rng(&rng) % N_TOPICS);
        char key[32], art[32], text[64];
        snprintf(key, sizeof key, "k%d", i);
        snprintf(art, sizeof art, "a%d", i / 3);
        snprintf(text, sizeof text, "passage number %d", i);
        store_passage p = {.article_id = art, .heading = "h", .date = "2016-01-01",
                           .topic = topic_names[f->topic[i]], .text = text, .passage_index = i % 3};
        if (store_writer_add(w, key, &p, v, err, sizeof err) != 0) return -1;
    }
    if (store_writer_commit(w, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    store_writer_close(w);
    f->s = store_open(f->dir, "test-model", err, sizeof err);
    if (f->s == NULL) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    test_close(f->s);
    test_rmdir(f->dir);
    free(f->dir);
    free(f->vecs);
    free(f->topic);
    free(f);
    return 0;
}

/* Reference: brute force in double precision over the ids of topic t (-1 = all). */
static int reference(const fixture *f, const float *q, int t, int k, search_hit *out) {
    int n = 0;
    for (int i = 0; i < N; i++) {
        if (t >= 0 && f->topic[i] != t) continue;
        float s = test_dot(q, f->vecs + (size_t)i * DIM, DIM);
        int j = n < k ? n++ : k;
        if (j == k && s <= out[k - 1].score) continue;
        if (j == k) j = k - 1;
        while (j > 0 && out[j - 1].score < s) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = (search_hit){.passage_id = (uint32_t)i, .score = s};
    }
    return n;
}

static void test_exact_equals_brute_force(void **state) {
    fixture *f = *state;
    uint64_t rng = 7;
    float q[DIM];
    search_hit got[50], want[50];
    char err[256];
    for (int trial = 0; trial < 40; trial++) {
        test_unit_vector(&rng, q, DIM);
        int t = trial % (N_TOPICS + 1) - 1;
        int k = 1 + trial % 50;
        store_query sq = {.vector = q, .topic = t >= 0 ? topic_names[t] : NULL, .k = k,
                          .mode = SEARCH_VECTOR};
        int n = store_search(test_view(f->s), &sq, got, err, sizeof err);
        int m = reference(f, q, t, k, want);
        assert_int_equal(n, m);
        for (int i = 0; i < n; i++) {
            assert_float_equal(got[i].score, want[i].score, 1e-5);
            /* Ids may differ only where two scores tie within rounding. */
            if (got[i].passage_id != want[i].passage_id)
                assert_float_equal(got[i].score,
                                   test_dot(q, f->vecs + (size_t)want[i].passage_id * DIM, DIM), 1e-5);
        }
        /* The returned score is the stored vector's cosine with q. */
        for (int i = 0; i < n; i++)
            assert_float_equal(got[i].score, test_dot(q, store_vector(test_view(f->s), got[i].passage_id), DIM), 1e-5);
    }
}

static void test_simd_kernels_agree(void **state) {
    (void)state;
    const vecmath_ops *ref = vecmath_named("portable");
    assert_non_null(ref);
    uint64_t rng = 3;
    static float a[4 * 401], b[401];
    const char *names[] = {"avx2", "avx512"};
    for (size_t ni = 0; ni < 2; ni++) {
        const vecmath_ops *o = vecmath_named(names[ni]);
        if (o == NULL) continue; /* the CPU lacks it */
        for (int dim = 1; dim <= 401; dim += 19) {
            for (int i = 0; i < 4 * dim; i++) a[i] = test_gauss(&rng);
            for (int i = 0; i < dim; i++) b[i] = test_gauss(&rng);
            float out[4], want[4];
            o->dot4(b, a, (size_t)dim, out);
            ref->dot4(b, a, (size_t)dim, want);
            for (int r = 0; r < 4; r++) {
                assert_float_equal(out[r], want[r], 1e-3);
                assert_float_equal(o->dot(a + r * dim, b, (size_t)dim), want[r], 1e-3);
            }
        }
    }
}

static void test_topic_filter_never_leaks(void **state) {
    fixture *f = *state;
    uint64_t rng = 11;
    float q[DIM];
    search_hit hits[200];
    char err[256];
    size_t total = 0;
    for (int t = 0; t < N_TOPICS; t++) {
        size_t want = 0;
        for (int i = 0; i < N; i++) want += f->topic[i] == t;
        assert_int_equal(store_count(test_view(f->s), topic_names[t]), want);
        total += want;
        for (int mode = 0; mode < 3; mode++) {
            for (int approx = 0; approx < 2; approx++) {
                test_unit_vector(&rng, q, DIM);
                store_query sq = {.vector = q, .text = "passage number 17", .text_len = 17,
                                  .topic = topic_names[t], .k = 200, .mode = (search_mode)mode,
                                  .approximate = approx};
                int n = store_search(test_view(f->s), &sq, hits, err, sizeof err);
                assert_true(n > 0);
                for (int i = 0; i < n; i++) {
                    store_passage p;
                    assert_int_equal(store_get(test_view(f->s), hits[i].passage_id, &p), 0);
                    assert_string_equal(p.topic, topic_names[t]);
                    assert_int_equal(f->topic[hits[i].passage_id], t);
                }
            }
        }
    }
    assert_int_equal(store_count(test_view(f->s), NULL), total);
    assert_int_equal(store_count(test_view(f->s), "weather"), 0);
    store_query sq = {.vector = q, .topic = "weather", .k = 5, .mode = SEARCH_VECTOR};
    assert_int_equal(store_search(test_view(f->s), &sq, hits, err, sizeof err), 0);
    const char *const *names;
    assert_int_equal(store_topics(test_view(f->s), &names), N_TOPICS);
    assert_string_equal(names[0], "arts");
    assert_string_equal(names[1], "business");
    assert_string_equal(names[2], "sports");
}

/* Recall@10 of HNSW with beam width ef against the exact scan. */
static double hnsw_recall(fixture *f, int ef) {
    uint64_t rng = 99;
    float q[DIM];
    search_hit exact[10], approx[10];
    char err[256];
    int found = 0, total = 0;
    for (int trial = 0; trial < 200; trial++) {
        /* Queries near stored vectors, as real queries are near passages. */
        const float *base = f->vecs + (size_t)(test_rng(&rng) % N) * DIM;
        for (int i = 0; i < DIM; i++) q[i] = base[i] + 0.05f * test_gauss(&rng);
        float nrm = sqrtf(test_dot(q, q, DIM));
        for (int i = 0; i < DIM; i++) q[i] /= nrm;
        const char *topic = trial % 2 ? topic_names[trial % N_TOPICS] : NULL;
        store_query sq = {.vector = q, .topic = topic, .k = 10, .mode = SEARCH_VECTOR};
        int ne = store_search(test_view(f->s), &sq, exact, err, sizeof err);
        sq.approximate = true;
        sq.ef_search = ef;
        int na = store_search(test_view(f->s), &sq, approx, err, sizeof err);
        assert_int_equal(ne, na);
        for (int i = 0; i < ne; i++)
            for (int j = 0; j < na; j++)
                if (exact[i].passage_id == approx[j].passage_id) found++;
        total += ne;
    }
    return (double)found / total;
}

static void test_hnsw_recall(void **state) {
    fixture *f = *state;
    double r64 = hnsw_recall(f, 64), r128 = hnsw_recall(f, 128), r256 = hnsw_recall(f, 256);
    printf("HNSW recall@10 on %d random %d-d vectors: ef=64 %.4f, ef=128 %.4f, ef=256 %.4f\n", N,
           DIM, r64, r128, r256);
    assert_true(r256 >= r64 - 0.01); /* a wider beam does not lose neighbours */
    assert_true(r128 >= 0.95);
}

static void test_passages_round_trip(void **state) {
    fixture *f = *state;
    store_passage p;
    assert_int_equal(store_get(test_view(f->s), 1234, &p), 0);
    assert_int_equal(p.id, 1234);
    assert_string_equal(p.article_id, "a411");
    assert_string_equal(p.text, "passage number 1234");
    assert_string_equal(p.date, "2016-01-01");
    assert_int_equal(p.passage_index, 1234 % 3);
    assert_string_equal(p.topic, topic_names[f->topic[1234]]);
    assert_int_equal(store_get(test_view(f->s), N, &p), -1);
    assert_string_equal(store_model(test_view(f->s)), "test-model");
    assert_int_equal(store_dim(test_view(f->s)), DIM);
    const float *v = store_vector(test_view(f->s), 1234);
    assert_memory_equal(v, f->vecs + (size_t)1234 * DIM, DIM * sizeof(float));
}

static void test_bad_queries_refused(void **state) {
    fixture *f = *state;
    float q[DIM] = {1};
    search_hit hits[4];
    char err[256] = "";
    store_query sq = {.vector = q, .k = 0, .mode = SEARCH_VECTOR};
    assert_int_equal(store_search(test_view(f->s), &sq, hits, err, sizeof err), -1);
    assert_non_null(strstr(err, "k must be"));
    sq.k = STORE_MAX_K + 1;
    assert_int_equal(store_search(test_view(f->s), &sq, hits, err, sizeof err), -1);
    sq = (store_query){.vector = NULL, .text = "x", .text_len = 1, .k = 4, .mode = SEARCH_HYBRID};
    assert_int_equal(store_search(test_view(f->s), &sq, hits, err, sizeof err), -1);
    assert_non_null(strstr(err, "vector"));
    sq = (store_query){.vector = q, .text = NULL, .k = 4, .mode = SEARCH_LEXICAL};
    assert_int_equal(store_search(test_view(f->s), &sq, hits, err, sizeof err), -1);
}

/* Searches from several threads at once give the single-threaded answers
 * (the store is shared read-only; HNSW scratch comes from a locked pool). */
#define CONC_QUERIES 60
#define CONC_K 10
typedef struct conc_job {
    fixture *f;
    search_hit hits[CONC_QUERIES][CONC_K];
    int n[CONC_QUERIES];
} conc_job;

static void conc_run(conc_job *j) {
    uint64_t rng = 1234;
    float q[DIM];
    char err[256];
    for (int i = 0; i < CONC_QUERIES; i++) {
        test_unit_vector(&rng, q, DIM);
        char text[32];
        snprintf(text, sizeof text, "number %d", i);
        store_query sq = {.vector = q, .text = text, .text_len = strlen(text), .k = CONC_K,
                          .mode = (search_mode)(i % 3), .approximate = i % 2,
                          .topic = i % 4 ? NULL : topic_names[i % N_TOPICS]};
        j->n[i] = store_search(test_view(j->f->s), &sq, j->hits[i], err, sizeof err);
    }
}

static void *conc_thread(void *arg) {
    conc_run(arg);
    return NULL;
}

static void test_concurrent_searches(void **state) {
    fixture *f = *state;
    conc_job *solo = calloc(1, sizeof *solo), *jobs = calloc(4, sizeof *jobs);
    solo->f = f;
    conc_run(solo);
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        jobs[i].f = f;
        assert_int_equal(pthread_create(&t[i], NULL, conc_thread, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 4; i++) {
        assert_memory_equal(jobs[i].n, solo->n, sizeof solo->n);
        for (int q = 0; q < CONC_QUERIES; q++) {
            assert_true(solo->n[q] > 0);
            assert_memory_equal(jobs[i].hits[q], solo->hits[q], (size_t)solo->n[q] * sizeof(search_hit));
        }
    }
    free(solo);
    free(jobs);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_equals_brute_force),
        cmocka_unit_test(test_simd_kernels_agree),
        cmocka_unit_test(test_topic_filter_never_leaks),
        cmocka_unit_test(test_hnsw_recall),
        cmocka_unit_test(test_passages_round_trip),
        cmocka_unit_test(test_bad_queries_refused),
        cmocka_unit_test(test_concurrent_searches),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
