/* test_corpus — the real corpus through reader, cleaner and validation:
 * 2692 articles, 1284 business and 1408 sports, no malformed rows, the 108
 * repeated texts found (each the same as its first copy), every date within
 * 2015-01-01 … 2017-03-27, ids unique, and no HTML left in any text or
 * heading. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "ingest/corpus.h"
#include "ingest_test_util.h"

static int setup(void **state) {
    corpus *c = calloc(1, sizeof *c);
    char err[512] = "";
    if (corpus_load(corpus_path(), c, err, sizeof err) < 0) {
        fprintf(stderr, "corpus_load: %s\n", err);
        corpus_free(c);
        free(c);
        return -1;
    }
    *state = c;
    return 0;
}

static int teardown(void **state) {
    corpus_free(*state);
    free(*state);
    return 0;
}

static void test_counts(void **state) {
    const corpus *c = *state;
    assert_int_equal(c->count, 2692);
    assert_int_equal(c->nproblems, 0);
    size_t business = 0, sports = 0;
    for (size_t i = 0; i < c->count; i++) {
        if (!strcmp(c->articles[i].topic, "business")) business++;
        else if (!strcmp(c->articles[i].topic, "sports")) sports++;
        else fail_msg("article %s has topic '%s'", c->articles[i].id, c->articles[i].topic);
    }
    assert_int_equal(business, 1284);
    assert_int_equal(sports, 1408);
}

static void test_duplicates(void **state) {
    const corpus *c = *state;
    assert_int_equal(c->duplicates, 108);
    size_t marked = 0;
    for (size_t i = 0; i < c->count; i++) {
        const article *a = &c->articles[i];
        if (a->duplicate_of < 0) continue;
        marked++;
        assert_true(a->duplicate_of < (long)i);
        const article *first = &c->articles[a->duplicate_of];
        assert_int_equal(first->duplicate_of, -1);
        assert_int_equal(first->text_len, a->text_len);
        assert_memory_equal(first->text, a->text, a->text_len);
    }
    assert_int_equal(marked, 108);
}

static void test_dates_and_ids(void **state) {
    const corpus *c = *state;
    for (size_t i = 0; i < c->count; i++) {
        const article *a = &c->articles[i];
        assert_int_equal(strlen(a->date), 10);
        if (strcmp(a->date, "2015-01-01") < 0 || strcmp(a->date, "2017-03-27") > 0)
            fail_msg("article %s dated %s", a->id, a->date);
        if (i) assert_true(atol(a->id) > atol(c->articles[i - 1].id));
        assert_true(a->line >= 2);
        assert_true(a->text_len > 0);
    }
    assert_string_equal(c->articles[0].date, "2015-01-01");
}

/* Markup that must not survive cleaning (see clean_text.h for the shapes). */
static const char *leftover(const char *s) {
    static const char *const tags[] = {"strong", "span", "a", "em", "br", "p", "div", "img",
                                       "link", "script", "iframe", "b", "i", "u", "font",
                                       "blockquote", "style"};
    for (const char *p = s; *p; p++) {
        if (*p == '<') {
            const char *q = p + 1 + (p[1] == '/');
            if (*q == '!') return p;
            for (size_t t = 0; t < sizeof tags / sizeof tags[0]; t++) {
                size_t n = strlen(tags[t]);
                if (!strncasecmp(q, tags[t], n) && !((q[n] | 32) >= 'a' && (q[n] | 32) <= 'z'))
                    return p;
            }
        }
        if (*p == '>') {
            for (size_t t = 0; t < sizeof tags / sizeof tags[0]; t++) {
                size_t n = strlen(tags[t]);
                if (n >= 2 && p - s >= (long)n && !strncasecmp(p - n, tags[t], n)) return p - n;
            }
        }
        if (!strncmp(p, "/>", 2) || !strncmp(p, "=\"", 2) || !strncmp(p, "</", 2)) return p;
        if (*p == '&' && (!strncmp(p, "&amp;", 5) || !strncmp(p, "&lt;", 4) ||
                          !strncmp(p, "&gt;", 4) || !strncmp(p, "&quot;", 6) ||
                          !strncmp(p, "&nbsp;", 6) || !strncmp(p, "&#", 2)))
            return p;
    }
    return NULL;
}

static void test_no_html_left(void **state) {
    const corpus *c = *state;
    size_t with_tail_space = 0, with_nbsp = 0;
    for (size_t i = 0; i < c->count; i++) {
        const article *a = &c->articles[i];
        const char *bad = leftover(a->text);
        if (bad) fail_msg("article %s (line %ld): markup left: '%.60s'", a->id, a->line, bad);
        bad = leftover(a->heading);
        if (bad) fail_msg("heading of %s: markup left: '%.60s'", a->id, bad);
        if (a->text[a->text_len - 1] == ' ' || a->text[0] == ' ') with_tail_space++;
        if (strstr(a->text, "\xC2\xA0") || strstr(a->text, "  ")) with_nbsp++;
    }
    assert_int_equal(with_tail_space, 0);
    assert_int_equal(with_nbsp, 0);
}

static void test_leftover_detector_works(void **state) {
    (void)state;
    /* the check above must be able to fail */
    assert_non_null(leftover("a</strongThe"));
    assert_non_null(leftover("today.strong>Teams"));
    assert_non_null(leftover("x<br/>y"));
    assert_non_null(leftover("said. dir=\"ltr\""));
    assert_non_null(leftover("S&amp;P"));
    assert_null(leftover("S&P 500 <space> a > b, strong dollar"));
}

static void test_cp1252_decoded(void **state) {
    const corpus *c = *state;
    /* 1350 right single quotes (0x92) and 4971 acute accents (0xB4, turned
     * into apostrophes between letters) in the file: all must be UTF-8 now. */
    size_t rsquo = 0, ldquo = 0;
    for (size_t i = 0; i < c->count; i++) {
        for (const char *p = c->articles[i].text; (p = strstr(p, "\xE2\x80\x99")); p += 3) rsquo++;
        for (const char *p = c->articles[i].text; (p = strstr(p, "\xE2\x80\x9C")); p += 3) ldquo++;
    }
    assert_true(rsquo > 1350);
    assert_true(ldquo > 500);
}

/* Rows that parse as CSV but are not valid articles are reported with their
 * line, like malformed records; the good rows around them are kept, cleaned,
 * and repeated texts (after cleaning) are marked. */
static void test_invalid_rows_on_crafted_input(void **state) {
    (void)state;
    const char csv[] = "Article,Date,Heading,NewsType\r\n"        /* 1 */
                       "First <b>text</b>.,1/5/2015,h1,Business\r\n" /* 2 */
                       "\"two\r\nlines\",2/30/2016,h2,sports\r\n"  /* 3-4: no Feb 30 */
                       "text three,13/1/2016,h3,sports\r\n"         /* 5: month 13 */
                       "text four,1/1/2016,h4,  \r\n"               /* 6: no topic */
                       "<br/>&nbsp;,1/1/2016,h5,sports\r\n"         /* 7: nothing left */
                       "First text.,3/1/2015,h6 again,business\r\n"  /* 8: same text */
                       "x,1/1/2016,h7,sp\0rts\r\n";                /* 9: NUL in topic */
    corpus c;
    char err[256] = "";
    assert_int_equal(corpus_load_buffer(csv, sizeof csv - 1, &c, err, sizeof err), 0);
    assert_int_equal(c.count, 2);
    assert_string_equal(c.articles[0].text, "First text.");
    assert_string_equal(c.articles[0].date, "2015-01-05");
    assert_string_equal(c.articles[0].topic, "business");
    assert_string_equal(c.articles[0].id, "0");
    assert_string_equal(c.articles[1].id, "5");
    assert_int_equal(c.articles[1].line, 8);
    assert_int_equal(c.articles[1].duplicate_of, 0);
    assert_int_equal(c.duplicates, 1);
    static const long lines[] = {3, 5, 6, 7, 9};
    assert_int_equal(c.nproblems, 5);
    for (size_t i = 0; i < 5; i++) assert_int_equal(c.problems[i].line, lines[i]);
    assert_non_null(strstr(c.problems[0].reason, "2/30/2016"));
    assert_non_null(strstr(c.problems[1].reason, "month 13"));
    assert_non_null(strstr(c.problems[2].reason, "NewsType"));
    assert_non_null(strstr(c.problems[3].reason, "no article text"));
    corpus_free(&c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_dates_and_ids),
        cmocka_unit_test(test_no_html_left),
        cmocka_unit_test(test_leftover_detector_works),
        cmocka_unit_test(test_cp1252_decoded),
        cmocka_unit_test(test_invalid_rows_on_crafted_input),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
