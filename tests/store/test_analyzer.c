/* test_analyzer — the store's English BM25 analyzer term by term: stems
 * (Snowball English), stopwords (Snowball's list), possessives and
 * contractions, numbers and amounts kept whole, punctuation dropped, case
 * and accents folded, overlong words dropped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/analyzer.h"
#include "util/buf.h"

static void join_term(const char *t, size_t n, void *ctx) {
    buf *b = ctx;
    if (b->len) buf_putc(b, ' ');
    buf_append(b, t, n);
}

/* The terms of text, space-separated (caller frees). */
static char *terms(const char *text) {
    analyzer *a = analyzer_new();
    assert_non_null(a);
    buf b = BUF_INIT;
    analyzer_terms(a, text, strlen(text), join_term, &b);
    analyzer_free(a);
    buf_putc(&b, '\0');
    return buf_detach(&b);
}

static void expect(const char *text, const char *want) {
    char *got = terms(text);
    if (strcmp(got, want) != 0) fail_msg("'%s' gave '%s', want '%s'", text, got, want);
    free(got);
}

static void test_stems(void **state) {
    (void)state;
    /* The examples: both forms meet in one term. */
    expect("released release releases", "releas releas releas");
    expect("autobiography autobiographies", "autobiographi autobiographi");
    expect("running runs ran", "run run ran");
    expect("Markets market marketing", "market market market");
}

static void test_stopwords(void **state) {
    (void)state;
    expect("the price of the oil in Karachi", "price oil karachi");
    expect("What is it that they would have done?", "done");
    expect("The THE tHe", "");
}

static void test_possessives(void **state) {
    (void)state;
    expect("Pakistan's team", "pakistan team");
    expect("Pakistan\xE2\x80\x99s team", "pakistan team"); /* typographic apostrophe */
    expect("didn't won't they're we've I'll", "didn won");
    /* A name with an apostrophe keeps its second part. */
    expect("O'Brien", "o brien");
}

static void test_numbers_and_amounts(void **state) {
    (void)state;
    expect("Rs691 billion in 2016, up 7pc", "rs691 billion 2016 7pc");
    expect("the 1990s and 3rd quarter", "1990s 3rd quarter");
    /* Punctuation splits a number, as BERT does: its parts stay searchable. */
    expect("$4.5bn", "4 5bn");
}

static void test_case_accents_punctuation(void **state) {
    (void)state;
    expect("CAFÉ Café cafe", "cafe cafe cafe");
    expect("PSX-100 index: (closes) higher!", "psx 100 index close higher");
    expect("\xE2\x80\x9Cquoted\xE2\x80\x9D \xE2\x80\x94 dash", "quot dash");
    expect("", "");
}

static void test_overlong_words_dropped(void **state) {
    (void)state;
    char text[ANALYZER_MAX_TERM + 20];
    memset(text, 'x', ANALYZER_MAX_TERM + 1);
    strcpy(text + ANALYZER_MAX_TERM + 1, " ok");
    expect(text, "ok");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stems),
        cmocka_unit_test(test_stopwords),
        cmocka_unit_test(test_possessives),
        cmocka_unit_test(test_numbers_and_amounts),
        cmocka_unit_test(test_case_accents_punctuation),
        cmocka_unit_test(test_overlong_words_dropped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
