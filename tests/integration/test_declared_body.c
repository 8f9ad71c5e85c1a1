/* test_declared_body — a request whose Content-Length is over the route's
 * limit is answered 413 (JSON error, Connection: close) as soon as its
 * headers are read, without the body ever being sent, and the connection is
 * closed; with Expect: 100-continue no "100 Continue" comes first. Raw
 * sockets, since a client library would send the body it declared. The
 * server is a `ragd serve` (it has both /ask, 64 KiB, and /encode). */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "ask_fixture.h"
#include "harness.h"
#include "json_error.h"
#include "util/util.h"

/* Long enough for any answer on a loaded machine; the old behaviour was
 * silence until the 30 s connection timeout. */
#define ANSWER_WAIT_S 10.0

static ask_fixture fixture;

static int start_server(void **state) {
    (void)state;
    return ask_fixture_start(&fixture, NULL);
}

static int stop_server(void **state) {
    (void)state;
    int rc = ask_fixture_stop(&fixture, true);
    if (rc != 0) fprintf(stderr, "ragd serve exited with %d\n", rc);
    return rc == 0 ? 0 : -1;
}

/* Send only the headers of a POST declaring `length` bytes; the raw answer in out. */
static void post_headers_only(const char *path, const char *length, bool expect_continue, buf *out) {
    buf req = BUF_INIT;
    buf_printf(&req,
               "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
               "Content-Length: %s\r\n%s\r\n",
               path, length, expect_continue ? "Expect: 100-continue\r\n" : "");
    int closed = raw_exchange(fixture.server.port, req.data, req.len, ANSWER_WAIT_S, out);
    buf_free(&req);
    if (closed != 1)
        fail_msg("POST %s with Content-Length %s: the connection was %s; got: %s", path, length,
                 closed < 0 ? "refused" : "still open", out->data);
}

/* The raw answer as an http_reply (status, headers, body), for assert_json_error. */
static void parse_raw(const buf *raw, http_reply *r) {
    memset(r, 0, sizeof *r);
    const char *text = raw->data;
    if (strncmp(text, "HTTP/1.1 ", 9)) fail_msg("no status line first: %s", text);
    r->status = strtol(text + 9, NULL, 10);
    const char *end = strstr(text, "\r\n\r\n");
    if (!end) fail_msg("headers not terminated: %s", text);
    const char *first = strstr(text, "\r\n") + 2;
    buf_append(&r->headers, first, (size_t)(end + 2 - first));
    buf_puts(&r->body, end + 4);
}

static void check_refused(const char *path, const char *length, bool expect_continue) {
    buf raw = BUF_INIT;
    post_headers_only(path, length, expect_continue, &raw);
    http_reply r;
    parse_raw(&raw, &r); /* a "100 Continue" first would fail here: its status is not 413 */
    assert_json_error(&r, 413, "payload_too_large");
    char *conn = http_reply_header(&r, "Connection");
    assert_non_null(conn);
    assert_int_equal(strcasecmp(conn, "close"), 0);
    free(conn);
    http_reply_free(&r);
    buf_free(&raw);
}

static void ask_declared_far_over_the_limit(void **state) {
    (void)state;
    check_refused("/ask", "99999999", false);
}

static void ask_declared_just_over_64_kib(void **state) {
    (void)state;
    check_refused("/ask", "70000", false);
}

static void encode_declared_far_over_the_limit(void **state) {
    (void)state;
    check_refused("/encode", "99999999", false);
}

static void expect_continue_gets_413_not_100(void **state) {
    (void)state;
    check_refused("/ask", "99999999", true);
    check_refused("/encode", "99999999", true);
}

/* A body within the limit, sent with Expect: 100-continue, is still read and
 * answered (the early answer is only for a body over the limit). */
static void expect_continue_within_the_limit_is_answered(void **state) {
    (void)state;
    const char *body = "{\"question\": \"hockey olympics\"}";
    buf req = BUF_INIT, raw = BUF_INIT;
    buf_printf(&req,
               "POST /ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
               "Content-Length: %zu\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n%s",
               strlen(body), body);
    assert_int_equal(raw_exchange(fixture.server.port, req.data, req.len, ANSWER_WAIT_S, &raw), 1);
    /* after an optional "100 Continue", the answer */
    const char *last = raw.data;
    for (const char *p = raw.data; (p = strstr(p, "HTTP/1.1 ")); p++) last = p;
    if (strncmp(last, "HTTP/1.1 200", 12)) fail_msg("not answered 200: %s", raw.data);
    assert_non_null(strstr(last, "\"sources\""));
    buf_free(&req);
    buf_free(&raw);
}

/* Nothing was harmed: a question within the limit is answered. */
static void the_server_still_answers(void **state) {
    (void)state;
    http_reply r;
    assert_int_equal(ask_post(&fixture.server, "{\"question\": \"hockey olympics\"}", false, &r), 0);
    assert_int_equal(r.status, 200);
    http_reply_free(&r);
    assert_true(ragd_alive(&fixture.server));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ask_declared_far_over_the_limit),
        cmocka_unit_test(ask_declared_just_over_64_kib),
        cmocka_unit_test(encode_declared_far_over_the_limit),
        cmocka_unit_test(expect_continue_gets_413_not_100),
        cmocka_unit_test(expect_continue_within_the_limit_is_answered),
        cmocka_unit_test(the_server_still_answers),
    };
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
