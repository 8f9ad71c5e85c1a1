/* test_utf8 — the strict validator against the classes of RFC 3629: every
 * length of sequence, its boundaries, overlongs, surrogates, values above
 * U+10FFFF, truncation and stray continuation bytes; and a brute-force pass
 * over every 1- and 2-byte string checked against a decoder written from the
 * table of well-formed sequences (Unicode 15, table 3-7). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/utf8.h"
#include "util/util.h"

typedef struct utf8_case {
    const char *bytes;
    size_t len; /* 0: strlen */
    bool valid;
} utf8_case;

static const utf8_case cases[] = {
    {"", 0, true},
    {"plain ascii", 0, true},
    {"a\0b", 3, true}, /* NUL is a character */
    {"\xc2\x80", 0, true},             /* U+0080, first 2-byte */
    {"\xdf\xbf", 0, true},             /* U+07FF, last 2-byte */
    {"\xe0\xa0\x80", 0, true},         /* U+0800 */
    {"\xed\x9f\xbf", 0, true},         /* U+D7FF, before the surrogates */
    {"\xee\x80\x80", 0, true},         /* U+E000, after them */
    {"\xef\xbf\xbf", 0, true},         /* U+FFFF */
    {"\xf0\x90\x80\x80", 0, true},     /* U+10000 */
    {"\xf4\x8f\xbf\xbf", 0, true},     /* U+10FFFF, the last */
    {"caf\xc3\xa9 \xf0\x9f\x98\x80", 0, true},
    {"\x80", 0, false},                /* lone continuation */
    {"\xbf", 0, false},
    {"\xc0\xaf", 0, false},            /* overlong '/' */
    {"\xc1\xbf", 0, false},            /* overlong */
    {"\xe0\x9f\xbf", 0, false},        /* overlong 3-byte */
    {"\xf0\x8f\xbf\xbf", 0, false},    /* overlong 4-byte */
    {"\xed\xa0\x80", 0, false},        /* U+D800, a surrogate */
    {"\xed\xbf\xbf", 0, false},        /* U+DFFF */
    {"\xf4\x90\x80\x80", 0, false},    /* U+110000 */
    {"\xf5\x80\x80\x80", 0, false},
    {"\xff", 0, false},
    {"\xfe\xfe\xff\xff", 0, false},
    {"\xc3", 0, false},                /* truncated 2-byte */
    {"\xe2\x82", 0, false},            /* truncated 3-byte */
    {"\xf0\x9f\x98", 0, false},        /* truncated 4-byte */
    {"\xc3\x28", 0, false},            /* bad continuation */
    {"ok\xe9", 0, false},              /* latin-1 é at the end */
};

static void table_of_sequences(void **state) {
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].bytes);
        if (utf8_valid(cases[i].bytes, len) != cases[i].valid)
            fail_msg("case %zu: expected %s", i, cases[i].valid ? "valid" : "invalid");
    }
}

/* Table 3-7 of the Unicode standard: the well-formed byte sequences. */
static bool well_formed_2(unsigned char a, unsigned char b) {
    return a >= 0xC2 && a <= 0xDF && b >= 0x80 && b <= 0xBF;
}

static void every_short_string(void **state) {
    for (int a = 0; a < 256; a++) {
        char s1[1] = {(char)a};
        assert_int_equal(utf8_valid(s1, 1), a < 0x80);
        for (int b = 0; b < 256; b++) {
            char s2[2] = {(char)a, (char)b};
            bool want = (a < 0x80 && b < 0x80) || well_formed_2((unsigned char)a, (unsigned char)b);
            if (utf8_valid(s2, 2) != want) fail_msg("%02x %02x: expected %d", a, b, want);
        }
    }
}

static void length_is_respected(void **state) {
    /* The validator reads n bytes, not up to a NUL. */
    assert_true(utf8_valid("\xc3\xa9\xff", 2));
    assert_false(utf8_valid("\xc3\xa9\xff", 3));
    assert_false(utf8_valid("\xc3\xa9", 1));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table_of_sequences),
        cmocka_unit_test(every_short_string),
        cmocka_unit_test(length_is_respected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
