/* test_base64 — the RFC 4648 test vectors, every padding case, appending
 * after existing bytes, and the float32 round trip the embeddings route
 * relies on (checked against an independent decoder written here). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/base64.h"

static void rfc4648_vectors(void **state) {
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        buf b = BUF_INIT;
        base64_append(&b, plain[i], strlen(plain[i]));
        assert_int_equal(b.len, base64_encoded_len(strlen(plain[i])));
        assert_string_equal(b.data ? b.data : "", coded[i]);
        buf_free(&b);
    }
}

static void appends_after_what_is_there(void **state) {
    buf b = BUF_INIT;
    buf_puts(&b, "\"");
    base64_append(&b, "\xff\xfe\x00", 3); /* high bits and a NUL byte */
    buf_puts(&b, "\"");
    assert_string_equal(b.data, "\"//4A\"");
    buf_free(&b);
}

static int decode_char(char c) {
    const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = strchr(a, c);
    return p && c ? (int)(p - a) : -1;
}

static void floats_round_trip(void **state) {
    float v[384];
    for (int i = 0; i < 384; i++) v[i] = (float)(i - 192) / 97.0f;
    buf b = BUF_INIT;
    base64_append(&b, v, sizeof v);
    assert_int_equal(b.len, 2048); /* 1536 bytes -> 512 groups of 4 */
    unsigned char back[sizeof v];
    size_t n = 0;
    for (size_t i = 0; i < b.len; i += 4) {
        int q[4];
        for (int k = 0; k < 4; k++) q[k] = decode_char(b.data[i + k]);
        for (int k = 0; k < 4; k++) assert_true(q[k] >= 0);
        uint32_t w = (uint32_t)q[0] << 18 | (uint32_t)q[1] << 12 | (uint32_t)q[2] << 6 | (uint32_t)q[3];
        back[n++] = (unsigned char)(w >> 16);
        back[n++] = (unsigned char)(w >> 8);
        back[n++] = (unsigned char)w;
    }
    assert_int_equal(n, sizeof v);
    assert_memory_equal(back, v, sizeof v);
    buf_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc4648_vectors),
        cmocka_unit_test(appends_after_what_is_there),
        cmocka_unit_test(floats_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
