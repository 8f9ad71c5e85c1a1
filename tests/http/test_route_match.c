/* test_route_match — prefix routes ("/v1/models/\*"): the matching rules on
 * their own, then a real server on loopback that routes exact and prefix
 * paths, answers 405 with Allow on a prefix route, and hands the handler the
 * decoded tail. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "http/http.h"

static void exact_paths_match_only_themselves(void **state) {
    assert_int_equal(http_route_match("/v1/models", "/v1/models"), HTTP_MATCH_EXACT);
    assert_int_equal(http_route_match("/v1/models", "/v1/models/x"), HTTP_MATCH_NONE);
    assert_int_equal(http_route_match("/v1/models", "/v1/model"), HTTP_MATCH_NONE);
    assert_null(http_route_tail("/v1/models", "/v1/models"));
}

static void prefix_routes_need_a_non_empty_tail(void **state) {
    assert_int_equal(http_route_match("/v1/models/*", "/v1/models/abc"), HTTP_MATCH_PREFIX);
    assert_string_equal(http_route_tail("/v1/models/*", "/v1/models/abc"), "abc");
    /* Model ids may hold slashes ("org/name"): the tail keeps them. */
    assert_string_equal(http_route_tail("/v1/models/*", "/v1/models/org/name"), "org/name");
    assert_null(http_route_tail("/v1/models/*", "/v1/models/"));
    assert_null(http_route_tail("/v1/models/*", "/v1/models"));
    assert_null(http_route_tail("/v1/models/*", "/v1/modelsabc"));
    assert_null(http_route_tail("/v1/models/*", "/v2/models/abc"));
    assert_int_equal(http_route_match("/v1/models/*", "/v1/models/"), HTTP_MATCH_NONE);
    /* The root prefix route is the whole tree under "/". */
    assert_string_equal(http_route_tail("/*", "/a/b"), "a/b");
    /* A '*' anywhere but after the last '/' is an ordinary character. */
    assert_int_equal(http_route_match("/a*", "/ab"), HTTP_MATCH_NONE);
    assert_int_equal(http_route_match("/a*", "/a*"), HTTP_MATCH_EXACT);
}

/* ---- a live server ---- */

static void echo(http_request *r, void *ctx) {
    json_t *o = json_pack("{s:s, s:s}", "route", (const char *)ctx, "tail", http_request_path_tail(r));
    http_respond_json(r, 200, o);
}

static const http_route routes[] = {
    {.method = "GET", .path = "/docs", .handler = echo, .ctx = "exact /docs"},
    {.method = "GET", .path = "/docs/*", .handler = echo, .ctx = "prefix /docs/*"},
    {.method = "GET", .path = "/docs/special", .handler = echo, .ctx = "exact /docs/special"},
    {.method = "GET", .path = "/docs/deep/*", .handler = echo, .ctx = "prefix /docs/deep/*"},
    {.method = "POST", .path = "/items/*", .handler = echo, .ctx = "prefix /items/*"},
};

static http_server *server;

static int start(void **state) {
    http_config cfg = HTTP_CONFIG_DEFAULTS;
    cfg.host = "127.0.0.1";
    cfg.port = 0;
    cfg.role = "test";
    char err[256];
    server = http_server_start(&cfg, routes, (int)(sizeof routes / sizeof routes[0]), err, sizeof err);
    if (!server) fprintf(stderr, "%s\n", err);
    return server ? 0 : -1;
}

static int stop(void **state) {
    http_server_stop(server);
    return 0;
}

/* GET path; asserts the status and, for 200, which route answered with which tail. */
static void expect(const char *method, const char *path, long status, const char *route, const char *tail) {
    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", http_server_port(server), path);
    http_reply r;
    assert_int_equal(http_call(method, url, NULL, method[0] == 'P' ? "" : NULL, 0, NULL, &r), 0);
    if (r.status != status) fail_msg("%s %s: %ld, expected %ld: %s", method, path, r.status, status, r.body.data);
    if (status == 200) {
        json_t *doc = json_loads(r.body.data, 0, NULL);
        assert_non_null(doc);
        assert_string_equal(json_string_value(json_object_get(doc, "route")), route);
        assert_string_equal(json_string_value(json_object_get(doc, "tail")), tail);
        json_decref(doc);
    }
    if (status == 405) {
        char *allow = http_reply_header(&r, "Allow");
        assert_non_null(allow);
        assert_string_equal(allow, route);
        free(allow);
    }
    http_reply_free(&r);
}

static void the_server_routes_exact_before_prefix(void **state) {
    expect("GET", "/docs", 200, "exact /docs", "");
    expect("GET", "/docs/abc", 200, "prefix /docs/*", "abc");
    expect("GET", "/docs/special", 200, "exact /docs/special", "");
    expect("GET", "/docs/special/x", 200, "prefix /docs/*", "special/x");
    /* The longest prefix wins. */
    expect("GET", "/docs/deep/x", 200, "prefix /docs/deep/*", "x");
    expect("GET", "/docs/deeper", 200, "prefix /docs/*", "deeper");
    /* The tail arrives percent-decoded. */
    expect("GET", "/docs/a%20b", 200, "prefix /docs/*", "a b");
    expect("GET", "/docs/", 404, NULL, NULL);
    expect("GET", "/docsx", 404, NULL, NULL);
    /* A prefix route with another method: 405 and its Allow. */
    expect("GET", "/items/7", 405, "POST", NULL);
    expect("POST", "/items/7", 200, "prefix /items/*", "7");
    expect("POST", "/items", 404, NULL, NULL);
}

int main(void) {
    const struct CMUnitTest unit[] = {
        cmocka_unit_test(exact_paths_match_only_themselves),
        cmocka_unit_test(prefix_routes_need_a_non_empty_tail),
    };
    const struct CMUnitTest live[] = {
        cmocka_unit_test(the_server_routes_exact_before_prefix),
    };
    int failed = cmocka_run_group_tests_name("route matching", unit, NULL, NULL);
    return failed + cmocka_run_group_tests_name("routing on a live server", live, start, stop);
}
