/* test_store_live_threads — live writes under concurrency: a replace is
 * atomic for searchers hammering the store meanwhile (never both versions,
 * never neither), and concurrent writers share fsyncs (group commit). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "live_test_util.h"

#define VERSIONS 150
#define READERS 3

typedef struct shared {
    store *s;
    atomic_bool done;
    atomic_int bad, searches;
    char why[256];
} shared;

/* Version v of article "swap": 1 + v % 3 passages, each holding the word
 * "alpha" and its version's marker word. */
static void put_version(store *s, int v) {
    char texts[3][64];
    const char *pp[3];
    float vecs[3 * LDIM];
    uint64_t rng = (uint64_t)v;
    size_t n = 1 + (size_t)v % 3;
    for (size_t p = 0; p < n; p++) {
        snprintf(texts[p], sizeof texts[p], "alpha version%d part%zu", v, p);
        pp[p] = texts[p];
        test_unit_vector(&rng, vecs + p * LDIM, LDIM);
    }
    char whole[256];
    snprintf(whole, sizeof whole, "version%d", v);
    store_article a = {"swap", "heading", "2016-01-01", "business", whole, n, pp, vecs};
    store_write_result r;
    char err[256];
    assert_int_equal(store_put(s, &a, 1, &r, err, sizeof err), 0);
}

static void *reader(void *arg) {
    shared *sh = arg;
    while (!atomic_load(&sh->done)) {
        const store_view *v = store_acquire(sh->s);
        store_query q = {.text = "alpha", .text_len = 5, .k = 20, .mode = SEARCH_LEXICAL};
        search_hit hits[20];
        char err[256];
        int n = store_search(v, &q, hits, err, sizeof err);
        int version = -1, count = 0;
        bool mixed = false;
        for (int i = 0; i < n; i++) {
            store_passage p;
            if (store_get(v, hits[i].passage_id, &p) != 0 || strcmp(p.article_id, "swap") != 0) continue;
            int pv = atoi(strstr(p.text, "version") + 7);
            if (version >= 0 && pv != version) mixed = true;
            version = pv;
            count++;
        }
        store_article_info info;
        bool listed = store_article_get(v, "swap", &info) == 0;
        if (mixed || count == 0 || count != 1 + version % 3 || !listed ||
            (int)info.n_passages != count) {
            if (atomic_fetch_add(&sh->bad, 1) == 0)
                snprintf(sh->why, sizeof sh->why, "saw %d passages (mixed %d) of version %d", count,
                         mixed, version);
        }
        store_release(v);
        atomic_fetch_add(&sh->searches, 1);
    }
    return NULL;
}

static void test_replace_is_atomic_for_searchers(void **state) {
    (void)state;
    char *dir = NULL;
    store *s = live_empty_store(&dir);
    assert_non_null(s);
    store_set_merge_threshold(s, 40); /* merges run meanwhile too */
    uint64_t rng = 3;
    for (int i = 0; i < 30; i++) { /* other articles, some also with "alpha" in no passage */
        live_doc d;
        char id[16];
        snprintf(id, sizeof id, "other%d", i);
        live_random_doc(&rng, id, &d);
        assert_int_equal(live_put(s, &d), 0);
    }
    put_version(s, 0);
    shared sh = {.s = s};
    pthread_t th[READERS];
    for (int i = 0; i < READERS; i++) assert_int_equal(pthread_create(&th[i], NULL, reader, &sh), 0);
    for (int v = 1; v <= VERSIONS; v++) put_version(s, v);
    atomic_store(&sh.done, true);
    for (int i = 0; i < READERS; i++) pthread_join(th[i], NULL);
    if (atomic_load(&sh.bad)) fail_msg("%d searches saw a partial state: %s", sh.bad, sh.why);
    assert_true(atomic_load(&sh.searches) > 0);
    store_live_stats st;
    store_live_stats_get(s, &st);
    assert_true(st.merges > 0);
    store_close(s);
    test_rmdir(dir);
    free(dir);
}

#define WRITERS 8
#define PER_WRITER 25

typedef struct writer_arg {
    store *s;
    int index;
    pthread_barrier_t *start;
} writer_arg;

static void *writer(void *arg) {
    writer_arg *w = arg;
    uint64_t rng = 100 + (uint64_t)w->index;
    pthread_barrier_wait(w->start);
    for (int i = 0; i < PER_WRITER; i++) {
        live_doc d;
        char id[32];
        snprintf(id, sizeof id, "w%d-%d", w->index, i);
        live_random_doc(&rng, id, &d);
        if (live_put(w->s, &d) != 0) return (void *)1;
    }
    return NULL;
}

static void test_group_commit_shares_fsyncs(void **state) {
    (void)state;
    char *dir = NULL;
    store *s = live_empty_store(&dir);
    assert_non_null(s);
    store_set_merge_threshold(s, 0);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, WRITERS);
    pthread_t th[WRITERS];
    writer_arg args[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        args[i] = (writer_arg){s, i, &start};
        assert_int_equal(pthread_create(&th[i], NULL, writer, &args[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++) {
        void *rc;
        pthread_join(th[i], &rc);
        assert_null(rc);
    }
    pthread_barrier_destroy(&start);
    store_live_stats st;
    store_live_stats_get(s, &st);
    printf("group commit: %d writers, %llu writes, %llu fsyncs\n", WRITERS,
           (unsigned long long)st.writes, (unsigned long long)st.fsyncs);
    assert_int_equal(st.writes, WRITERS * PER_WRITER);
    assert_true(st.fsyncs < st.writes);
    const store_view *v = store_acquire(s);
    assert_int_equal(store_article_count(v, NULL), WRITERS * PER_WRITER);
    store_release(v);
    /* Every acknowledged write is in the log: a reopen replays them all. */
    store_close(s);
    char err[256];
    s = store_open(dir, "m", err, sizeof err);
    assert_non_null(s);
    v = store_acquire(s);
    assert_int_equal(store_article_count(v, NULL), WRITERS * PER_WRITER);
    store_release(v);
    store_close(s);
    test_rmdir(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replace_is_atomic_for_searchers),
        cmocka_unit_test(test_group_commit_shares_fsyncs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
