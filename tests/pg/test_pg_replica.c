/* test_pg_replica — reads from a streaming standby (pg_basebackup -R): with a
 * two-host connection string and target_session_attrs=prefer-standby the
 * PostgreSQL store sends searches to the standby and writes to the primary;
 * a write shows up on the standby once replayed; with the primary stopped,
 * writes fail as "unavailable" and searches go on from the standby. The same
 * split with a separate read_conninfo. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../store/store_test_util.h"
#include "pg_cluster.h"
#include "store/pg/pg_store.h"

#define DIM 8
#define REPLAY_WAIT_S 60 /* a bound against hanging, not a speed requirement */

static pg_cluster primary, standby;

static store_article article(const char *id, const char *const *passages, const float *vec) {
    return (store_article){.id = id, .heading = "Replica news", .date = "2016-01-02",
                           .topic = "business", .text = passages[0], .n_passages = 1,
                           .passages = passages, .vectors = vec};
}

static int found(pg_store *s, const char *word, char *err, size_t errlen) {
    store_query q = {.text = word, .text_len = strlen(word), .mode = SEARCH_LEXICAL, .k = 1};
    pg_hit h[1];
    return pg_store_search(s, &q, h, err, errlen);
}

/* Until the standby has replayed the write (or REPLAY_WAIT_S passed). */
static int wait_found(pg_store *s, const char *word) {
    char err[512];
    struct timespec pause = {0, 20 * 1000 * 1000};
    for (int i = 0; i < REPLAY_WAIT_S * 50; i++) {
        int n = found(s, word, err, sizeof err);
        /* A standby cancels a query that conflicts with the replay of DDL
         * (the put created the topic's partition): unavailable, then fine. */
        if (n == PG_STORE_ERR_UNAVAILABLE) fprintf(stderr, "while replaying: %s\n", err);
        if (n != 0 && n != PG_STORE_ERR_UNAVAILABLE) return n;
        nanosleep(&pause, NULL);
    }
    return 0;
}

static void test_reads_from_standby(void **state) {
    (void)state;
    assert_int_equal(pg_cluster_start(&primary), 0);
    char err[512];
    /* The schema first, on the primary, so the standby receives it. */
    pg_store *w = pg_store_open(primary.url, "m", DIM, NULL, err, sizeof err);
    assert_non_null(w);
    assert_int_equal(pg_store_reads_from_standby(w, err, sizeof err), 0);
    pg_store_close(w);
    assert_int_equal(pg_cluster_start_standby(&primary, &standby), 0);

    char both[600];
    snprintf(both, sizeof both,
             "host=127.0.0.1,127.0.0.1 port=%d,%d user=postgres dbname=postgres "
             "target_session_attrs=prefer-standby connect_timeout=5",
             primary.port, standby.port);
    pg_store *s = pg_store_open(both, "m", DIM, NULL, err, sizeof err);
    if (!s) fail_msg("open: %s", err);
    assert_int_equal(pg_store_reads_from_standby(s, err, sizeof err), 1);

    float vec[DIM];
    uint64_t seed = 1;
    test_unit_vector(&seed, vec, DIM);
    const char *p1[] = {"Flibbertigibbet exports rose sharply."};
    store_article a = article("r-1", p1, vec);
    assert_int_equal(pg_store_put(s, &a, 1, NULL, err, sizeof err), 0); /* to the primary */
    assert_int_equal(wait_found(s, "flibbertigibbet"), 1);              /* from the standby */

    /* The same split with a separate read connection string. */
    pg_store_options o = {.read_conninfo = standby.conninfo};
    pg_store *split = pg_store_open(primary.conninfo, "m", DIM, &o, err, sizeof err);
    assert_non_null(split);
    assert_int_equal(pg_store_reads_from_standby(split, err, sizeof err), 1);
    assert_int_equal(found(split, "flibbertigibbet", err, sizeof err), 1);
    pg_store_close(split);

    /* The primary gone: writes are unavailable, reads go on. */
    assert_int_equal(pg_cluster_stop(&primary), 0);
    const char *p2[] = {"Never written."};
    store_article b = article("r-2", p2, vec);
    assert_int_equal(pg_store_put(s, &b, 1, NULL, err, sizeof err), PG_STORE_ERR_UNAVAILABLE);
    fprintf(stderr, "write with the primary down: %s\n", err);
    assert_int_equal(found(s, "flibbertigibbet", err, sizeof err), 1);

    pg_store_close(s);
    pg_cluster_destroy(&standby);
    pg_cluster_destroy(&primary);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_reads_from_standby)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
