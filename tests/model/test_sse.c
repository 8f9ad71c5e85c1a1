/* test_sse — the Server-Sent Events parser (src/model/sse.h); the writer is
 * tested with the HTTP layer that owns it (tests/http/test_sse_writer.c).
 *
 * The parser's hard parts are the ones chunking exposes: a stream is parsed
 * whole, then cut into two chunks at every position, then fed one byte at a
 * time, and every way must produce the same events. The expected events of the
 * reference stream are written out by hand from the WHATWG rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "model/sse.h"
#include "util/buf.h"
#include "util/util.h"

/* Events collected as one text: "type|id|data\x1e" per event, so that two
 * parses compare with one strcmp and a failure prints readably. */
typedef struct collected {
    buf text;
    int count;
    long last_retry;
    int stop_after; /* stop the parser after this many events (0 = never) */
} collected;

static int collect(const sse_event *ev, void *ctx) {
    collected *c = ctx;
    assert_int_equal(strlen(ev->data), ev->data_len); /* NUL-terminated, no stray NUL */
    buf_printf(&c->text, "%s|%s|", ev->event, ev->id);
    buf_append(&c->text, ev->data, ev->data_len);
    buf_putc(&c->text, '\x1e');
    c->count++;
    c->last_retry = ev->retry_ms;
    return c->stop_after && c->count >= c->stop_after;
}

/* Parse stream in chunks of the given sizes (cycled; 0 = all at once). */
static char *parse_chunked(const char *stream, size_t len, size_t chunk, int *count) {
    collected c = {BUF_INIT, 0, -1, 0};
    sse_parser p;
    sse_parser_init(&p, collect, &c);
    char err[128];
    size_t step = chunk ? chunk : len;
    for (size_t i = 0; i < len; i += step) {
        size_t n = len - i < step ? len - i : step;
        assert_int_equal(sse_parser_feed(&p, stream + i, n, err, sizeof err), 0);
    }
    sse_parser_free(&p);
    if (count) *count = c.count;
    return buf_detach(&c.text);
}

static char *parse_split_at(const char *stream, size_t len, size_t at) {
    collected c = {BUF_INIT, 0, -1, 0};
    sse_parser p;
    sse_parser_init(&p, collect, &c);
    char err[128];
    assert_int_equal(sse_parser_feed(&p, stream, at, err, sizeof err), 0);
    assert_int_equal(sse_parser_feed(&p, stream + at, len - at, err, sizeof err), 0);
    sse_parser_free(&p);
    return buf_detach(&c.text);
}

/* Every rule at once: BOM, the three line ends (CRLF also across chunk
 * boundaries), comments, no space after the colon, two spaces after it, a
 * field without a colon, unknown fields, an event without data, id
 * persistence, an empty data line, retry, and an unterminated last event. */
static const char REFERENCE[] =
    "\xEF\xBB\xBF"
    ": a comment first\r\n"
    "event: sources\r\n"
    "id: 7\r\n"
    "data: [1,2]\r\n"
    "\r\n"
    "data:no space\n"
    "data:  two spaces\n"
    "unknown: ignored\n"
    "\n"
    "event: only-a-name\r"
    "\r"
    "data: line one\r"
    "data: line two\r"
    ":keep-alive\r"
    "data\r"
    "\r"
    "id\n"
    "retry: 1500\n"
    "retry: 15x\n"
    "event: token\n"
    "data: caf\xC3\xA9 \xE2\x80\x94 \xF0\x9F\x98\x80\n"
    "\n"
    "event: lost\n"
    "data: never terminated";

static const char REFERENCE_EVENTS[] =
    "sources|7|[1,2]\x1e"
    "message|7|no space\n two spaces\x1e"
    "message|7|line one\nline two\n\x1e"
    "token||caf\xC3\xA9 \xE2\x80\x94 \xF0\x9F\x98\x80\x1e";

static void test_reference_stream(void **state) {
    int count = 0;
    char *whole = parse_chunked(REFERENCE, sizeof REFERENCE - 1, 0, &count);
    assert_string_equal(whole, REFERENCE_EVENTS);
    assert_int_equal(count, 4);
    free(whole);
}

static void test_split_at_every_byte(void **state) {
    size_t len = sizeof REFERENCE - 1;
    for (size_t at = 0; at <= len; at++) {
        char *got = parse_split_at(REFERENCE, len, at);
        if (strcmp(got, REFERENCE_EVENTS) != 0) fail_msg("split at byte %zu: got '%s'", at, got);
        free(got);
    }
    for (size_t chunk = 1; chunk <= 7; chunk++) {
        char *got = parse_chunked(REFERENCE, len, chunk, NULL);
        if (strcmp(got, REFERENCE_EVENTS) != 0) fail_msg("chunks of %zu: got '%s'", chunk, got);
        free(got);
    }
}

/* A CR that ends one chunk and the LF that starts the next are one line end:
 * treating the LF as a second (empty) line would dispatch "a" on its own. */
static void test_crlf_across_chunks(void **state) {
    collected c = {BUF_INIT, 0, -1, 0};
    sse_parser p;
    sse_parser_init(&p, collect, &c);
    char err[128];
    assert_int_equal(sse_parser_feed(&p, "data: a\r", 8, err, sizeof err), 0);
    assert_int_equal(c.count, 0);
    assert_int_equal(sse_parser_feed(&p, "\ndata: b\r", 9, err, sizeof err), 0);
    assert_int_equal(sse_parser_feed(&p, "\n", 1, err, sizeof err), 0);
    assert_int_equal(c.count, 0);
    assert_int_equal(sse_parser_feed(&p, "\r\n", 2, err, sizeof err), 0);
    assert_int_equal(c.count, 1);
    assert_string_equal(c.text.data, "message||a\nb\x1e");
    sse_parser_free(&p);
    buf_free(&c.text);
}

static void test_retry_and_id_persist(void **state) {
    const char s[] = "retry: 2500\nid: 42\ndata: x\n\ndata: y\n\nid:\ndata: z\n\n";
    collected c = {BUF_INIT, 0, -1, 0};
    sse_parser p;
    sse_parser_init(&p, collect, &c);
    char err[128];
    assert_int_equal(sse_parser_feed(&p, s, sizeof s - 1, err, sizeof err), 0);
    assert_string_equal(c.text.data, "message|42|x\x1emessage|42|y\x1emessage||z\x1e");
    assert_int_equal(c.last_retry, 2500);
    sse_parser_free(&p);
    buf_free(&c.text);
}

static void test_callback_stops_parser(void **state) {
    const char s[] = "data: 1\n\ndata: 2\n\ndata: 3\n\n";
    collected c = {BUF_INIT, 0, -1, 2};
    sse_parser p;
    sse_parser_init(&p, collect, &c);
    char err[128];
    assert_int_equal(sse_parser_feed(&p, s, sizeof s - 1, err, sizeof err), 1);
    assert_int_equal(c.count, 2);
    assert_int_equal(sse_parser_feed(&p, s, sizeof s - 1, err, sizeof err), 1);
    assert_int_equal(c.count, 2);
    sse_parser_free(&p);
    buf_free(&c.text);
}

static void test_event_size_limit(void **state) {
    collected c = {BUF_INIT, 0, -1, 0};
    sse_parser p;
    sse_parser_init(&p, collect, &c);
    p.max_event = 64;
    char err[128] = "";
    assert_int_equal(sse_parser_feed(&p, "data: small\n\n", 13, err, sizeof err), 0);
    assert_int_equal(c.count, 1);
    char big[100];
    memset(big, 'x', sizeof big);
    int rc = 0;
    assert_int_equal(sse_parser_feed(&p, "data: ", 6, err, sizeof err), 0);
    rc = sse_parser_feed(&p, big, sizeof big, err, sizeof err);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err, "larger than 64 bytes"));
    /* A failed stream stays failed. */
    assert_int_equal(sse_parser_feed(&p, "\n\n", 2, err, sizeof err), -1);
    assert_non_null(strstr(err, "failed earlier"));
    assert_int_equal(c.count, 1);
    sse_parser_free(&p);
    buf_free(&c.text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_stream),
        cmocka_unit_test(test_split_at_every_byte),
        cmocka_unit_test(test_crlf_across_chunks),
        cmocka_unit_test(test_retry_and_id_persist),
        cmocka_unit_test(test_callback_stops_parser),
        cmocka_unit_test(test_event_size_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
