/* test_accept_language — the Accept-Language negotiation GET / relies on:
 * weights decide, regional variants count as their language, `*` fills in,
 * and anything malformed falls back to the default instead of guessing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "http/accept_language.h"

static const char *const en_ru[] = {"en", "ru"};

/* The language accept_language_pick chooses between en (default) and ru. */
static const char *pick(const char *header) { return en_ru[accept_language_pick(header, en_ru, 2)]; }

static void weights_decide(void **state) {
    assert_string_equal(pick("ru;q=0.9,en;q=0.8"), "ru");
    assert_string_equal(pick("en,ru;q=0.5"), "en");
    assert_string_equal(pick("en;q=0.5,ru"), "ru");             /* absent q is 1 */
    assert_string_equal(pick("en;q=0.001, ru;q=0.002"), "ru");  /* three decimals count */
    assert_string_equal(pick("ru;q=1.000, en;q=0.999"), "ru");
    assert_string_equal(pick("ru"), "ru");
    assert_string_equal(pick("en"), "en");
}

static void equal_weights_go_to_the_one_named_first(void **state) {
    assert_string_equal(pick("ru, en"), "ru");
    assert_string_equal(pick("en, ru"), "en");
    assert_string_equal(pick("ru;q=0.7, en;q=0.7"), "ru");
    assert_string_equal(pick("en;q=0.7, ru;q=0.7"), "en");
    /* A language's place is where the header first gives it its weight. */
    assert_string_equal(pick("ru;q=0.5, en;q=0.5, ru-RU;q=0.5"), "ru");
    assert_string_equal(pick("ru;q=0.1, en;q=0.5, ru-RU;q=0.5"), "en");
}

static void regional_variants_count_as_their_language(void **state) {
    assert_string_equal(pick("ru-RU"), "ru");
    assert_string_equal(pick("ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7"), "ru");
    assert_string_equal(pick("en-GB,en;q=0.9,ru;q=0.8"), "en");
    assert_string_equal(pick("RU-ru"), "ru");                /* case does not matter */
    assert_string_equal(pick("ru-Cyrl-RU, en;q=0.1"), "ru");
    assert_string_equal(pick("rus, en;q=0.1"), "en");        /* rus is another tag, not ru */
    assert_string_equal(pick("rux-RU, en;q=0.1"), "en");
}

static void the_highest_weight_of_a_language_counts(void **state) {
    assert_string_equal(pick("ru-RU;q=0.2, en;q=0.5, ru;q=0.9"), "ru");
    assert_string_equal(pick("ru;q=0.9, en;q=0.5, ru-RU;q=0.2"), "ru");
}

static void star_covers_the_unnamed(void **state) {
    assert_string_equal(pick("*"), "en");                     /* both covered: the default */
    assert_string_equal(pick("de, *;q=0.5"), "en");
    assert_string_equal(pick("en;q=0.1, *;q=0.5"), "ru");     /* ru gets the star's 0.5 */
    assert_string_equal(pick("*;q=0.5, ru;q=0.5"), "ru");     /* named beats star on a tie */
    assert_string_equal(pick("en;q=0, *"), "ru");
}

static void nothing_acceptable_is_the_default(void **state) {
    assert_string_equal(pick(NULL), "en");
    assert_string_equal(pick(""), "en");
    assert_string_equal(pick("   "), "en");
    assert_string_equal(pick("de-DE, fr;q=0.8"), "en");
    assert_string_equal(pick("ru;q=0"), "en");
    assert_string_equal(pick("ru;q=0.000, de"), "en");
    assert_string_equal(pick("en;q=0, ru;q=0"), "en");
}

static void whitespace_and_empty_elements_are_allowed(void **state) {
    assert_string_equal(pick("  ru ; q=0.9 ,\ten ;q=0.8  "), "ru");
    assert_string_equal(pick(",, ru;q=0.9, ,en;q=0.8,"), "ru");
    assert_string_equal(pick("en;Q=0.1, ru"), "ru");
}

static void malformed_headers_are_the_default(void **state) {
    const char *bad[] = {
        "ru;q=abc",             /* not a number */
        "ru;q=1.5",             /* above 1 */
        "ru;q=2",
        "ru;q=0.9999",          /* a fourth decimal */
        "ru;q=1.001",
        "ru;q=-0.5",
        "ru;q=.5",
        "ru;q=",
        "ru;q",
        "ru;level=1",           /* Accept-Language takes no other parameter */
        "ru;q=0.9;q=0.8",
        "ru;",
        "ru en",                /* two ranges without a comma */
        "ru_RU",
        "ru-",
        "ru--RU",
        "-ru",
        "ruuuuuuuu",            /* a subtag longer than 8 letters */
        "ru-RUUUUUUUU",
        "ру",                   /* not ASCII */
        "ru\x01",
        "ru;q=0.9, en;q=0.8, \x7f",
        "**",
        "*-RU",
        "ru, 123",
        "\"ru\"",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (accept_language_pick(bad[i], en_ru, 2) != 0) fail_msg("'%s' was not the default", bad[i]);
    }
}

static void the_default_is_offered_first(void **state) {
    const char *const ru_en[] = {"ru", "en"};
    assert_int_equal(accept_language_pick(NULL, ru_en, 2), 0);
    assert_int_equal(accept_language_pick("ru;q=x", ru_en, 2), 0);
    assert_int_equal(accept_language_pick("*", ru_en, 2), 0);
    assert_int_equal(accept_language_pick("en", ru_en, 2), 1);
    const char *const three[] = {"en", "ru", "de"};
    assert_int_equal(accept_language_pick("de;q=0.9, ru;q=0.8", three, 3), 2);
    assert_int_equal(accept_language_pick("de-AT;q=0.1, ru;q=0.8", three, 3), 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(weights_decide),
        cmocka_unit_test(equal_weights_go_to_the_one_named_first),
        cmocka_unit_test(regional_variants_count_as_their_language),
        cmocka_unit_test(the_highest_weight_of_a_language_counts),
        cmocka_unit_test(star_covers_the_unnamed),
        cmocka_unit_test(nothing_acceptable_is_the_default),
        cmocka_unit_test(whitespace_and_empty_elements_are_allowed),
        cmocka_unit_test(malformed_headers_are_the_default),
        cmocka_unit_test(the_default_is_offered_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
