/* test_routes — the growable route list (app/routes.h): every route added is
 * kept (the fixed list silently dropped the 33rd), in order, with its
 * openness; routes_free empties it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "app/routes.h"

static void nothing(http_request *r, void *ctx) {}

static void every_route_is_kept(void **state) {
    route_list l = ROUTE_LIST_INIT;
    static char paths[100][16];
    for (int i = 0; i < 100; i++) {
        snprintf(paths[i], sizeof paths[i], "/r%d", i);
        if (i % 3 == 0) routes_add_open(&l, "GET", paths[i], nothing, NULL);
        else routes_add(&l, "POST", paths[i], nothing, NULL, (size_t)i);
    }
    assert_int_equal(l.n, 100);
    assert_true(l.cap >= l.n);
    for (int i = 0; i < 100; i++) {
        assert_string_equal(l.items[i].path, paths[i]);
        assert_int_equal(l.items[i].open, i % 3 == 0);
        assert_string_equal(l.items[i].method, i % 3 == 0 ? "GET" : "POST");
        if (i % 3) assert_int_equal(l.items[i].max_body, (size_t)i);
    }
    routes_add(&l, "POST", "/r0", nothing, NULL, 0); /* same path, another method: allowed */
    assert_int_equal(l.n, 101);
    routes_free(&l);
    assert_null(l.items);
    assert_int_equal(l.n, 0);
}

static void quiet_and_open_are_the_route_s(void **state) {
    route_list l = ROUTE_LIST_INIT;
    routes_add_route(&l, (http_route){.method = "GET", .path = "/metrics", .handler = nothing,
                                      .open = true, .quiet = true});
    routes_add(&l, "POST", "/ask", nothing, NULL, 0);
    assert_true(l.items[0].open && l.items[0].quiet);
    assert_false(l.items[1].open || l.items[1].quiet); /* behind the key by default */
    routes_free(&l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_route_is_kept),
        cmocka_unit_test(quiet_and_open_are_the_route_s),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
