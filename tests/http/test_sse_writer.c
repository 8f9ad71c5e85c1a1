/* test_sse_writer — the one SSE writer (http/sse_writer.h): its exact format,
 * and writer → parser round trips of data of every shape, lone CR included. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http/sse_writer.h"
#include "model/sse.h"
#include "util/buf.h"
#include "util/util.h"

/* Events collected as one text: "type|id|data\x1e" per event, so that two
 * parses compare with one strcmp and a failure prints readably. */
typedef struct collected {
    buf text;
    int count;
    long last_retry;
    int stop_after; /* unused here: the round trip never stops the parser */
} collected;

static int collect(const sse_event *ev, void *ctx) {
    collected *c = ctx;
    buf_printf(&c->text, "%s|%s|", ev->event, ev->id);
    buf_append(&c->text, ev->data, ev->data_len);
    buf_putc(&c->text, '\x1e');
    c->count++;
    return 0;
}

/* Writer → parser: data of any shape comes back, with CR and CRLF as LF. */
static void test_writer_round_trip(void **state) {
    static const struct {
        const char *data;
        const char *back;
    } cases[] = {
        {"plain", "plain"},
        {"", ""},
        {"two\nlines", "two\nlines"},
        {"crlf\r\nand cr\rend", "crlf\nand cr\nend"},
        {"trailing newline\n", "trailing newline\n"},
        {"\n\n", "\n\n"},
        {": looks like a comment", ": looks like a comment"},
        {" leading space", " leading space"},
        {"data: nested", "data: nested"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        buf out = BUF_INIT;
        sse_write_comment(&out, "keep\nalive");
        sse_write_event(&out, "tok\r\nen", "i\nd", cases[i].data, strlen(cases[i].data));
        collected c = {BUF_INIT, 0, -1, 0};
        sse_parser p;
        sse_parser_init(&p, collect, &c);
        char err[128];
        assert_int_equal(sse_parser_feed(&p, out.data, out.len, err, sizeof err), 0);
        buf want = BUF_INIT;
        buf_printf(&want, "token|id|%s\x1e", cases[i].back);
        if (c.count != 1 || strcmp(c.text.data, want.data) != 0)
            fail_msg("case %zu: wrote '%s', parsed '%s'", i, out.data, c.text.data ? c.text.data : "");
        sse_parser_free(&p);
        buf_free(&c.text);
        buf_free(&want);
        buf_free(&out);
    }
}

static void test_writer_format(void **state) {
    buf out = BUF_INIT;
    sse_write_event(&out, "token", "3", "a\nb", 3);
    sse_write_event(&out, NULL, NULL, "x", 1);
    sse_write_retry(&out, 1000);
    assert_string_equal(out.data,
                        "event: token\nid: 3\ndata: a\ndata: b\n\n"
                        "data: x\n\n"
                        "retry: 1000\n\n");
    buf_free(&out);
}

/* A lone CR ends a line for every client (WHATWG), so it must start a new
 * data line rather than stay inside one. */
static void lone_cr_splits_data(void **state) {
    buf out = BUF_INIT;
    sse_write_event(&out, "token", NULL, "a\rb\r", 4);
    assert_string_equal(out.data, "event: token\ndata: a\ndata: b\ndata: \n\n");
    buf_free(&out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_writer_round_trip),
        cmocka_unit_test(test_writer_format),
        cmocka_unit_test(lone_cr_splits_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
