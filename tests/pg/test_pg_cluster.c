/* test_pg_cluster — the test harness's throwaway cluster itself: it starts
 * with pgvector, answers on its port, stops (then refuses connections),
 * starts again with its data, and leaves no directory behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pg_cluster.h"

static char *query_one(const char *conninfo, const char *sql) {
    PGconn *conn = PQconnectdb(conninfo);
    char *out = NULL;
    if (PQstatus(conn) == CONNECTION_OK) {
        PGresult *r = PQexec(conn, sql);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
            out = strdup(PQgetvalue(r, 0, 0));
        PQclear(r);
    }
    PQfinish(conn);
    return out;
}

static void test_cluster_lifecycle(void **state) {
    (void)state;
    pg_cluster c;
    assert_int_equal(pg_cluster_start(&c), 0);
    char *d = query_one(c.conninfo, "SELECT '[1,0]'::vector <=> '[0,1]'::vector");
    assert_non_null(d);
    assert_string_equal(d, "1");
    free(d);
    assert_int_equal(pg_cluster_exec(&c, "CREATE TABLE kept (x int); INSERT INTO kept VALUES (7)"), 0);
    char *fs = query_one(c.conninfo, "SHOW fsync");
    assert_string_equal(fs, "on");
    free(fs);

    assert_int_equal(pg_cluster_stop(&c), 0);
    assert_int_not_equal(PQping(c.conninfo), PQPING_OK);
    assert_int_equal(pg_cluster_restart(&c), 0);
    char *x = query_one(c.conninfo, "SELECT x FROM kept");
    assert_non_null(x);
    assert_string_equal(x, "7");
    free(x);
    char *url = query_one(c.url, "SELECT current_user");
    assert_non_null(url);
    assert_string_equal(url, "postgres");
    free(url);

    char dir[sizeof c.dir];
    strcpy(dir, c.dir);
    pg_cluster_destroy(&c);
    struct stat st;
    assert_int_not_equal(stat(dir, &st), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_cluster_lifecycle)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
