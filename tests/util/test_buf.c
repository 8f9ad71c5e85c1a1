/* test_buf — the growable buffer: NUL termination, growth across many
 * appends, printf, JSON escaping of every byte class, detach and clear. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/buf.h"
#include "util/util.h"

static void empty_buf_is_a_valid_nothing(void **state) {
    buf b = BUF_INIT;
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    buf_free(&b); /* freeing an untouched buf is allowed */
    buf_puts(&b, "");
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    buf_free(&b);
}

static void appends_grow_and_stay_terminated(void **state) {
    buf b = BUF_INIT;
    for (int i = 0; i < 10000; i++) {
        buf_putc(&b, (char)('a' + i % 26));
        assert_int_equal(b.data[b.len], '\0');
    }
    assert_int_equal(b.len, 10000);
    assert_true(b.cap > b.len);
    for (int i = 0; i < 10000; i++) assert_int_equal(b.data[i], 'a' + i % 26);
    buf_append(&b, "x\0y", 3); /* bytes, NULs included */
    assert_int_equal(b.len, 10003);
    assert_memory_equal(b.data + 10000, "x\0y", 3);
    buf_free(&b);
}

static void printf_appends(void **state) {
    buf b = BUF_INIT;
    buf_puts(&b, "n=");
    buf_printf(&b, "%d,%s,%.2f", 42, "str", 1.5);
    assert_string_equal(b.data, "n=42,str,1.50");
    /* longer than any first guess of the size */
    char big[5000];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    buf_printf(&b, "[%s]", big);
    assert_int_equal(b.len, strlen("n=42,str,1.50") + 2 + sizeof big - 1);
    assert_int_equal(b.data[b.len - 1], ']');
    buf_free(&b);
}

static void json_escape_covers_every_byte_class(void **state) {
    buf b = BUF_INIT;
    const char in[] = "q\"b\\s/\n\r\t\b\f\x01\x1f\x7f caf\xc3\xa9";
    buf_json_escape(&b, in, sizeof in - 1);
    assert_string_equal(b.data, "q\\\"b\\\\s/\\n\\r\\t\\u0008\\u000c\\u0001\\u001f\x7f caf\xc3\xa9");
    buf_clear(&b);
    buf_json_escape(&b, "a\0b", 3); /* length-aware: a NUL is escaped, not an end */
    assert_string_equal(b.data, "a\\u0000b");
    buf_free(&b);
}

static void detach_hands_over_and_clear_keeps_memory(void **state) {
    buf b = BUF_INIT;
    buf_puts(&b, "hello");
    size_t cap = b.cap;
    buf_clear(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    assert_int_equal(b.cap, cap);
    buf_puts(&b, "world");
    char *s = buf_detach(&b);
    assert_string_equal(s, "world");
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    free(s);
    buf_reserve(&b, 100);
    assert_true(b.cap >= 100);
    buf_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empty_buf_is_a_valid_nothing),
        cmocka_unit_test(appends_grow_and_stay_terminated),
        cmocka_unit_test(printf_appends),
        cmocka_unit_test(json_escape_covers_every_byte_class),
        cmocka_unit_test(detach_hands_over_and_clear_keeps_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
