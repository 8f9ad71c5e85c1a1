/* test_csv_reader — the CSV reader on small crafted inputs: quoted line
 * breaks, CRLF, cp1252 bytes to exact UTF-8, UTF-8 input left alone, columns
 * by header name in any order, malformed records reported with the line they
 * start on (and the rows after them still read), a header without a needed
 * column refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ingest/cp1252.h"
#include "ingest/csv_reader.h"

enum { MAX_ROWS = 16 };

typedef struct collected {
    int nrows, nbad;
    long line[MAX_ROWS], index[MAX_ROWS];
    char *article[MAX_ROWS], *date[MAX_ROWS], *heading[MAX_ROWS], *topic[MAX_ROWS];
    long bad_line[MAX_ROWS];
    char *bad_reason[MAX_ROWS];
} collected;

static char *dup_n(const char *s, size_t n) {
    char *p = malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static void on_row(const csv_row *r, void *ctx) {
    collected *c = ctx;
    assert_true(c->nrows < MAX_ROWS);
    int i = c->nrows++;
    c->line[i] = r->line;
    c->index[i] = r->index;
    c->article[i] = dup_n(r->article, r->article_len);
    c->date[i] = dup_n(r->date, r->date_len);
    c->heading[i] = dup_n(r->heading, r->heading_len);
    c->topic[i] = dup_n(r->topic, r->topic_len);
}

static void on_bad(long line, const char *reason, void *ctx) {
    collected *c = ctx;
    assert_true(c->nbad < MAX_ROWS);
    c->bad_line[c->nbad] = line;
    c->bad_reason[c->nbad++] = strdup(reason);
}

static void release(collected *c) {
    for (int i = 0; i < c->nrows; i++) {
        free(c->article[i]);
        free(c->date[i]);
        free(c->heading[i]);
        free(c->topic[i]);
    }
    for (int i = 0; i < c->nbad; i++) free(c->bad_reason[i]);
    memset(c, 0, sizeof *c);
}

static int read_str(const char *csv, collected *c, csv_stats *st, char *err, size_t errlen) {
    memset(c, 0, sizeof *c);
    return csv_read_buffer(csv, strlen(csv), on_row, on_bad, c, st, err, errlen);
}

static void test_quoted_newlines_and_crlf(void **state) {
    (void)state;
    const char *csv = "Article,Date,Heading,NewsType\r\n"
                      "\"first line\r\nsecond line\r\n\r\nthird, with comma\",1/2/2015,h one,business\r\n"
                      "plain text,3/4/2016,\"say \"\"hi\"\"\",sports\r\n";
    collected c;
    csv_stats st;
    char err[256] = "";
    assert_int_equal(read_str(csv, &c, &st, err, sizeof err), 0);
    assert_int_equal(c.nrows, 2);
    assert_int_equal(c.nbad, 0);
    assert_string_equal(c.article[0], "first line\r\nsecond line\r\n\r\nthird, with comma");
    assert_string_equal(c.date[0], "1/2/2015");
    assert_string_equal(c.heading[0], "h one");
    assert_string_equal(c.topic[0], "business");
    assert_int_equal(c.line[0], 2);
    assert_int_equal(c.line[1], 6); /* the quoted field spans lines 2–5 */
    assert_string_equal(c.heading[1], "say \"hi\"");
    assert_int_equal(c.index[0], 0);
    assert_int_equal(c.index[1], 1);
    assert_int_equal(st.lines, 6);
    release(&c);
}

static void test_cp1252_exact(void **state) {
    (void)state;
    /* curly quotes, dashes, ellipsis, euro, NBSP, acute accent, e-acute, and
     * an undefined byte (0x81 → U+0081) */
    const char *csv = "Article,Date,Heading,NewsType\r\n"
                      "\x93q\x94 \x91s\x92 \x96 \x97 \x85 \x80 a\xA0" "b world\xB4s caf\xE9 \x81,1/1/2015,h,sports\r\n";
    collected c;
    csv_stats st;
    char err[256] = "";
    assert_int_equal(read_str(csv, &c, &st, err, sizeof err), 0);
    assert_false(st.was_utf8);
    assert_int_equal(c.nrows, 1);
    assert_string_equal(c.article[0], "\xE2\x80\x9Cq\xE2\x80\x9D \xE2\x80\x98s\xE2\x80\x99 "
                                      "\xE2\x80\x93 \xE2\x80\x94 \xE2\x80\xA6 \xE2\x82\xAC "
                                      "a\xC2\xA0" "b world\xC2\xB4s caf\xC3\xA9 \xC2\x81");
    release(&c);
}

static void test_cp1252_table(void **state) {
    (void)state;
    /* every byte converts to the code point of the Unicode consortium's table */
    static const struct { unsigned char b; unsigned cp; } cases[] = {
        {0x41, 0x41}, {0x80, 0x20AC}, {0x82, 0x201A}, {0x83, 0x0192}, {0x84, 0x201E},
        {0x86, 0x2020}, {0x87, 0x2021}, {0x88, 0x02C6}, {0x89, 0x2030}, {0x8A, 0x0160},
        {0x8B, 0x2039}, {0x8C, 0x0152}, {0x8E, 0x017D}, {0x95, 0x2022}, {0x98, 0x02DC},
        {0x99, 0x2122}, {0x9A, 0x0161}, {0x9B, 0x203A}, {0x9C, 0x0153}, {0x9E, 0x017E},
        {0x9F, 0x0178}, {0xA0, 0xA0},   {0xFF, 0xFF},   {0x81, 0x81},   {0x8D, 0x8D},
        {0x8F, 0x8F},   {0x90, 0x90},   {0x9D, 0x9D},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_int_equal(cp1252_codepoint(cases[i].b), cases[i].cp);
    /* all 256 bytes give valid UTF-8 */
    char in[256], out[3 * 256 + 1];
    for (int i = 0; i < 256; i++) in[i] = (char)i;
    size_t n = cp1252_to_utf8(in, 256, out);
    assert_true(utf8_valid(out, n));
}

static void test_utf8_input_passes_through(void **state) {
    (void)state;
    const char *csv = "\xEF\xBB\xBFNewsType,Heading,Date,Article\n"
                      "sports,caf\xC3\xA9,12/31/2016,\xE2\x80\x9Cquoted\xE2\x80\x9D text\n";
    collected c;
    csv_stats st;
    char err[256] = "";
    assert_int_equal(read_str(csv, &c, &st, err, sizeof err), 0);
    assert_true(st.was_utf8);
    assert_int_equal(c.nrows, 1);
    assert_string_equal(c.article[0], "\xE2\x80\x9Cquoted\xE2\x80\x9D text");
    assert_string_equal(c.heading[0], "caf\xC3\xA9");
    release(&c);
}

static void test_header_other_order_and_extra_column(void **state) {
    (void)state;
    const char *csv = "newstype, Heading ,Extra,DATE,article\n"
                      "business,the heading,x,2/29/2016,the text\n";
    collected c;
    char err[256] = "";
    assert_int_equal(read_str(csv, &c, NULL, err, sizeof err), 0);
    assert_int_equal(c.nrows, 1);
    assert_string_equal(c.article[0], "the text");
    assert_string_equal(c.date[0], "2/29/2016");
    assert_string_equal(c.heading[0], "the heading");
    assert_string_equal(c.topic[0], "business");
    release(&c);
}

static void test_malformed_rows_reported_with_line(void **state) {
    (void)state;
    const char *csv = "Article,Date,Heading,NewsType\r\n"  /* 1 */
                      "good one,1/1/2015,h1,sports\r\n"     /* 2 */
                      "too,few,fields\r\n"                  /* 3: 3 fields */
                      "\"multi\r\nline\",1/1/2015,h2,sports,extra\r\n" /* 4-5: 5 fields */
                      "\"bad\"quote,1/1/2015,h3,sports\r\n" /* 6: text after a closing quote */
                      "good two,1/2/2015,h4,business\r\n"   /* 7 */
                      "\r\n"                                /* 8: blank, not a record */
                      "\"never closed,1/1/2015,h5,sports\r\n"; /* 9: runs to the end */
    collected c;
    csv_stats st;
    char err[256] = "";
    assert_int_equal(read_str(csv, &c, &st, err, sizeof err), 0);
    assert_int_equal(c.nrows, 2);
    assert_string_equal(c.article[0], "good one");
    assert_string_equal(c.article[1], "good two");
    assert_int_equal(c.line[1], 7);
    assert_int_equal(c.nbad, 4);
    assert_int_equal(st.bad_rows, 4);
    assert_int_equal(c.bad_line[0], 3);
    assert_non_null(strstr(c.bad_reason[0], "found 3"));
    assert_int_equal(c.bad_line[1], 4);
    assert_non_null(strstr(c.bad_reason[1], "found 5"));
    assert_int_equal(c.bad_line[2], 6);
    assert_non_null(strstr(c.bad_reason[2], "quot"));
    assert_int_equal(c.bad_line[3], 9);
    assert_non_null(strstr(c.bad_reason[3], "never closed"));
    /* bad records take a row number, so good rows keep theirs */
    assert_int_equal(c.index[0], 0);
    assert_int_equal(c.index[1], 4);
    release(&c);
}

static void test_missing_column_is_fatal(void **state) {
    (void)state;
    const char *csv = "Article,Date,Title,NewsType\nx,1/1/2015,h,sports\n";
    collected c;
    char err[256] = "";
    assert_int_equal(read_str(csv, &c, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "Heading"));
    assert_non_null(strstr(err, "Title"));
    assert_int_equal(c.nrows, 0);
    release(&c);
    assert_int_equal(read_str("", &c, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "empty"));
}

static void test_missing_file(void **state) {
    (void)state;
    char err[256] = "";
    assert_int_equal(csv_read_file("/nonexistent/ragd.csv", NULL, NULL, NULL, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/ragd.csv"));
}

static void test_utf8_validation(void **state) {
    (void)state;
    assert_true(utf8_valid("plain", 5));
    assert_true(utf8_valid("\xE2\x80\x9C\xF0\x9F\x98\x80", 7));
    assert_false(utf8_valid("\x93", 1));             /* a cp1252 quote */
    assert_false(utf8_valid("\xC0\xAF", 2));         /* overlong */
    assert_false(utf8_valid("\xED\xA0\x80", 3));     /* surrogate */
    assert_false(utf8_valid("\xE2\x80", 2));         /* truncated */
    assert_false(utf8_valid("\xF4\x90\x80\x80", 4)); /* above U+10FFFF */
}

static void count_row(const csv_row *r, void *ctx) {
    (void)r;
    ++*(long *)ctx;
}

static void count_bad(long line, const char *reason, void *ctx) {
    (void)ctx;
    assert_true(line >= 1);
    assert_true(strlen(reason) > 0);
}

/* Random bytes after a good header: never a crash (ASan), every record
 * either a row or a reported bad row. */
static void test_random_input(void **state) {
    (void)state;
    static const char alphabet[] = "ab,,\"\"\r\n\n \x93\xA0";
    uint64_t rng = 7;
    char in[600];
    for (int round = 0; round < 3000; round++) {
        size_t n = (size_t)sprintf(in, "Article,Date,Heading,NewsType\r\n");
        size_t len = n + (size_t)(rng % 500);
        for (; n < len; n++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            in[n] = alphabet[(rng >> 33) % (sizeof alphabet - 1)];
        }
        long rows = 0;
        csv_stats st;
        char err[256];
        assert_int_equal(csv_read_buffer(in, n, count_row, count_bad, &rows, &st, err, sizeof err), 0);
        assert_int_equal(rows, st.rows);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quoted_newlines_and_crlf),
        cmocka_unit_test(test_cp1252_exact),
        cmocka_unit_test(test_cp1252_table),
        cmocka_unit_test(test_utf8_input_passes_through),
        cmocka_unit_test(test_header_other_order_and_extra_column),
        cmocka_unit_test(test_malformed_rows_reported_with_line),
        cmocka_unit_test(test_missing_column_is_fatal),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_utf8_validation),
        cmocka_unit_test(test_random_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
