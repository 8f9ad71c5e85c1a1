/* test_http_basics — the foundation over real HTTP on loopback: `ragd serve`
 * serves its README as HTML, health, metrics and API documents, answers every
 * mistake with a JSON error, and keeps serving after raw garbage, pipelined
 * requests, slow clients and wrong keys. */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ask_fixture.h"
#include "harness.h"
#include "json_error.h"
#include "util/util.h"

/* A serve over the fixture's small corpus (ingested on first start). */
static ask_fixture fixture;
static ragd_proc server;

static int start_server(void **state) {
    if (ask_fixture_start(&fixture, NULL) < 0) return -1;
    server = fixture.server;
    return 0;
}

static int stop_server(void **state) {
    int rc = ask_fixture_stop(&fixture, true);
    if (rc != 0) fprintf(stderr, "ragd serve exited with %d\n", rc);
    return rc == 0 ? 0 : -1;
}

static void get(const char *path, http_reply *r) {
    char url[256];
    ragd_url(&server, path, url, sizeof url);
    assert_int_equal(http_call("GET", url, NULL, NULL, 0, NULL, r), 0);
}

static void readme_is_served_as_html(void **state) {
    http_reply r;
    get("/", &r);
    assert_int_equal(r.status, 200);
    char *ctype = http_reply_header(&r, "Content-Type");
    assert_non_null(strstr(ctype, "text/html"));
    free(ctype);
    /* The first heading of the README in the checkout is the page's first <h1>. */
    char path[512];
    snprintf(path, sizeof path, "%s/README.md", getenv("RAGD_SOURCE_DIR"));
    char *md = read_file(path, NULL, NULL, 0);
    assert_non_null(md);
    assert_true(md[0] == '#' && md[1] == ' ');
    char *eol = strchr(md, '\n');
    *eol = '\0';
    assert_non_null(strstr(r.body.data, "<h1>"));
    /* Rendered text may escape characters; the first word is enough. */
    char *word = strtok(md + 2, " ");
    assert_non_null(strstr(r.body.data, word));
    free(md);
    assert_non_null(strstr(r.body.data, "<table>")); /* GitHub tables are rendered */
    assert_null(strstr(r.body.data, "\n| ---"));     /* not left as Markdown */
    http_reply_free(&r);
}

static void health_is_json_with_request_id(void **state) {
    http_reply r;
    get("/health", &r);
    assert_int_equal(r.status, 200);
    json_t *doc = json_loads(r.body.data, 0, NULL);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "status")), "ok");
    assert_string_equal(json_string_value(json_object_get(doc, "role")), "serve");
    json_decref(doc);
    char *rid = http_reply_header(&r, "X-Request-ID");
    assert_non_null(rid);
    assert_true(strlen(rid) >= 8);
    free(rid);
    http_reply_free(&r);

    char url[256];
    ragd_url(&server, "/health", url, sizeof url);
    const char *hdrs[] = {"X-Request-ID: trace-abc.123", NULL};
    assert_int_equal(http_call("GET", url, NULL, NULL, 0, hdrs, &r), 0);
    rid = http_reply_header(&r, "X-Request-ID");
    assert_string_equal(rid, "trace-abc.123");
    free(rid);
    http_reply_free(&r);
}

static void unknown_route_and_wrong_method_are_json_errors(void **state) {
    http_reply r;
    get("/no/such/route", &r);
    assert_json_error(&r, 404, "not_found");
    http_reply_free(&r);

    char url[256];
    ragd_url(&server, "/health", url, sizeof url);
    assert_int_equal(http_call("DELETE", url, NULL, NULL, 0, NULL, &r), 0);
    assert_json_error(&r, 405, "method_not_allowed");
    char *allow = http_reply_header(&r, "Allow");
    assert_non_null(allow);
    assert_non_null(strstr(allow, "GET"));
    free(allow);
    http_reply_free(&r);
}

static void oversized_body_is_413(void **state) {
    size_t n = 2u << 20; /* above the 1 MiB default */
    char *big = xmalloc(n);
    memset(big, 'x', n);
    char url[256];
    ragd_url(&server, "/health", url, sizeof url);
    http_reply r;
    assert_int_equal(http_call("POST", url, "application/json", big, n, NULL, &r), 0);
    assert_json_error(&r, 413, "payload_too_large");
    http_reply_free(&r);
    free(big);
}

static void metrics_count_requests(void **state) {
    http_reply r;
    get("/health", &r);
    http_reply_free(&r);
    get("/metrics", &r);
    assert_int_equal(r.status, 200);
    char *ctype = http_reply_header(&r, "Content-Type");
    assert_non_null(strstr(ctype, "text/plain"));
    free(ctype);
    assert_non_null(strstr(r.body.data, "# TYPE http_requests_total counter"));
    assert_non_null(strstr(r.body.data, "handler=\"/health\""));
    assert_non_null(strstr(r.body.data, "http_request_duration_seconds_bucket"));
    http_reply_free(&r);
}

static void api_documents_are_served(void **state) {
    http_reply r;
    get("/openapi.json", &r);
    assert_int_equal(r.status, 200);
    json_t *doc = json_loads(r.body.data, 0, NULL);
    assert_non_null(doc);
    assert_non_null(json_object_get(doc, "openapi"));
    json_t *paths = json_object_get(doc, "paths");
    const char *routes[] = {"/", "/docs", "/openapi.json", "/health", "/ready", "/metrics"};
    for (size_t i = 0; i < ARRAY_LEN(routes); i++) {
        if (!json_object_get(paths, routes[i])) fail_msg("openapi.json lacks %s", routes[i]);
    }
    json_decref(doc);
    http_reply_free(&r);
    get("/docs", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body.data, "<h1>"));
    http_reply_free(&r);
}

/* Raw socket helpers for what curl will not send. */
static int connect_raw(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)server.port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static char *read_all(int fd) {
    buf b = BUF_INIT;
    char chunk[4096];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof chunk)) > 0) buf_append(&b, chunk, (size_t)n);
    return buf_detach(&b);
}

static void garbage_gets_400_and_server_stays_up(void **state) {
    int fd = connect_raw();
    const char junk[] = "\x16\x03\x01 this is not HTTP\r\n\r\n";
    assert_true(write(fd, junk, sizeof junk - 1) > 0);
    char *answer = read_all(fd);
    close(fd);
    assert_non_null(strstr(answer, " 400 "));
    free(answer);
    http_reply r;
    get("/health", &r);
    assert_int_equal(r.status, 200);
    http_reply_free(&r);
    assert_true(ragd_alive(&server));
}

static void pipelined_requests_all_answered(void **state) {
    int fd = connect_raw();
    const char reqs[] = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
                        "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
                        "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    assert_true(write(fd, reqs, sizeof reqs - 1) > 0);
    char *answer = read_all(fd);
    close(fd);
    const char *p = answer;
    int ok = 0, notfound = 0;
    while ((p = strstr(p, "HTTP/1.1 "))) {
        if (!strncmp(p + 9, "200", 3)) ok++;
        if (!strncmp(p + 9, "404", 3)) notfound++;
        p += 9;
    }
    assert_int_equal(ok, 2);
    assert_int_equal(notfound, 1);
    free(answer);
}

static void slow_client_does_not_block_others(void **state) {
    int fd = connect_raw();
    const char partial[] = "GET /health HTTP/1.1\r\nHost: x\r\n"; /* headers never end */
    assert_true(write(fd, partial, sizeof partial - 1) > 0);
    http_reply r;
    get("/health", &r);
    assert_int_equal(r.status, 200);
    http_reply_free(&r);
    close(fd);
}

static void api_key_guards_all_but_probes(void **state) {
    ragd_proc keyed;
    const char *args[] = {"--api-key", "s3cret-key", NULL};
    assert_int_equal(ask_fixture_start_again(&fixture, &keyed, args), 0);
    char url[256];
    http_reply r;
    ragd_url(&keyed, "/", url, sizeof url);
    assert_int_equal(http_call("GET", url, NULL, NULL, 0, NULL, &r), 0);
    assert_json_error(&r, 401, "unauthorized");
    http_reply_free(&r);
    const char *wrong[] = {"Authorization: Bearer s3cret-kex", NULL};
    assert_int_equal(http_call("GET", url, NULL, NULL, 0, wrong, &r), 0);
    assert_int_equal(r.status, 401);
    http_reply_free(&r);
    const char *right[] = {"Authorization: Bearer s3cret-key", NULL};
    assert_int_equal(http_call("GET", url, NULL, NULL, 0, right, &r), 0);
    assert_int_equal(r.status, 200);
    http_reply_free(&r);
    ragd_url(&keyed, "/health", url, sizeof url);
    assert_int_equal(http_call("GET", url, NULL, NULL, 0, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    http_reply_free(&r);
    char *log = ragd_log(&keyed);
    assert_null(strstr(log, "s3cret-key")); /* the key is never logged */
    free(log);
    assert_int_equal(ragd_stop(&keyed), 0);
}

static void unknown_flag_is_an_error(void **state) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s serve --no-such-flag 2>/dev/null", getenv("RAGD_BIN"));
    int rc = system(cmd);
    assert_int_equal(WEXITSTATUS(rc), 2);
    snprintf(cmd, sizeof cmd, "%s serve --help >/dev/null", getenv("RAGD_BIN"));
    assert_int_equal(WEXITSTATUS(system(cmd)), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(readme_is_served_as_html),
        cmocka_unit_test(health_is_json_with_request_id),
        cmocka_unit_test(unknown_route_and_wrong_method_are_json_errors),
        cmocka_unit_test(oversized_body_is_413),
        cmocka_unit_test(metrics_count_requests),
        cmocka_unit_test(api_documents_are_served),
        cmocka_unit_test(garbage_gets_400_and_server_stays_up),
        cmocka_unit_test(pipelined_requests_all_answered),
        cmocka_unit_test(slow_client_does_not_block_others),
        cmocka_unit_test(api_key_guards_all_but_probes),
        cmocka_unit_test(unknown_flag_is_an_error),
    };
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
