/* test_fmt_float — the fast vector printer: every value it prints parses
 * back (strtof) to within what a unit vector's cosine can see, the text is
 * JSON, and the fallbacks (|v| >= 1, non-finite) do what fmt_float.h says. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "util/fmt_float.h"
#include "util/util.h"

static float parse(const char *text, size_t n) {
    char tmp[32];
    assert_true(n > 0 && n < sizeof tmp);
    memcpy(tmp, text, n);
    tmp[n] = '\0';
    char *end;
    float v = strtof(tmp, &end);
    assert_ptr_equal(end, tmp + n); /* the whole text is the number */
    return v;
}

static void unit_range_round_trips(void **state) {
    uint32_t x = 12345;
    for (int i = 0; i < 200000; i++) {
        x = x * 1664525u + 1013904223u;
        float v = ((float)(x >> 8) / (float)(1u << 24)) * 2.0f - 1.0f; /* [-1, 1) */
        char out[32];
        size_t n = fmt_float(out, v);
        assert_true(n <= 24);
        float back = parse(out, n);
        if (fabsf(back - v) > 5e-9f + 1e-7f * fabsf(v)) fail_msg("%.9g printed as %.*s", (double)v, (int)n, out);
    }
}

static void exact_and_edge_values(void **state) {
    static const struct {
        float v;
        const char *text;
    } cases[] = {
        {0.0f, "0"}, {0.5f, "0.5"}, {-0.25f, "-0.25"}, {0.125f, "0.125"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char out[32];
        size_t n = fmt_float(out, cases[i].v);
        out[n] = '\0';
        assert_string_equal(out, cases[i].text);
    }
    char out[32];
    size_t n = fmt_float(out, 1.0f); /* outside (-1, 1): the %.9g fallback */
    assert_float_equal(parse(out, n), 1.0f, 0);
    n = fmt_float(out, -12345.678f);
    assert_float_equal(parse(out, n), -12345.678f, 0.001f);
    n = fmt_float(out, NAN);
    out[n] = '\0';
    assert_string_equal(out, "0"); /* JSON has no NaN */
    n = fmt_float(out, -INFINITY);
    out[n] = '\0';
    assert_string_equal(out, "0");
}

static void arrays_are_json(void **state) {
    float v[5] = {0.1f, -0.2f, 0.0f, 3.5f, -0.999999f};
    buf b = BUF_INIT;
    buf_float_array(&b, v, 5);
    json_error_t err;
    json_t *doc = json_loads(b.data, 0, &err);
    if (!doc) fail_msg("not JSON: %s (%s)", b.data, err.text);
    assert_int_equal(json_array_size(doc), 5);
    for (size_t i = 0; i < 5; i++)
        assert_float_equal(json_number_value(json_array_get(doc, i)), v[i], 1e-7);
    json_decref(doc);
    buf_clear(&b);
    buf_float_array(&b, v, 0);
    assert_string_equal(b.data, "[]");
    buf_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(unit_range_round_trips),
        cmocka_unit_test(exact_and_edge_values),
        cmocka_unit_test(arrays_are_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
