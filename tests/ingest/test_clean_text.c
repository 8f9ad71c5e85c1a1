/* test_clean_text — the HTML leftovers of the corpus (each case below is a
 * shape found in Articles.csv), entities, whitespace, the acute-accent
 * apostrophe, and M/D/YYYY dates to ISO 8601 with impossible dates refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ingest/clean_text.h"
#include "ingest/cp1252.h"
#include "ingest/news_date.h"

static void check(const char *in, const char *want) {
    size_t n;
    char *got = clean_text(in, strlen(in), &n);
    if (strcmp(got, want)) fprintf(stderr, "in:   [%s]\ngot:  [%s]\nwant: [%s]\n", in, got, want);
    assert_string_equal(got, want);
    assert_int_equal(n, strlen(want));
    free(got);
}

static void test_whole_tags(void **state) {
    (void)state;
    check("Rod Tucker (AUS)<br/> Match referee: Richie<br/>Next", "Rod Tucker (AUS)\nMatch referee: Richie\nNext");
    check("<strong>MARSEILLE:</strong> When France meet", "MARSEILLE: When France meet");
    check("known as <em>Lala</em>, the cricketer", "known as Lala, the cricketer");
    check("see <a href=\"https://gosf.live/\">GOSF</a> now", "see GOSF now");
    check("a <span style=\"font-size: 14pt;\"><strong>Title</strong></span>Body",
          "a Title\nBody");
    check("x <script type=\"text/javascript\">/* <![CDATA[ */var a = 1 < 2;/* ]]> */</script>y", "x y");
    check("before<!-- a comment -->after", "before\nafter");
    check("ok.<link href=\"https://x/site.css\" rel=\"stylesheet\"/>\r\n<link href=\"y\"/>", "ok.");
}

static void test_damaged_tags(void **state) {
    (void)state;
    /* closing tags that lost their '>' */
    check("on Tuesday.</strongWinning the toss", "on Tuesday.\nWinning the toss");
    check("@iamAhmad</aShehzad said", "@iamAhmad Shehzad said");
    /* opening tags that lost their '<', glued to the word before */
    check("today.strong>Teams:</strongstrong>Karachi Kings</strongLMP Simmons",
          "today.\nTeams:\nKarachi Kings\nLMP Simmons");
    check("Akbar ur Rehmanstrong>Fast bowlers</strong>: Mohammad Amir",
          "Akbar ur Rehman\nFast bowlers: Mohammad Amir");
    check("after 67 minutes.span style=\"font-size: 14pt;\"><strong>Final", "after 67 minutes. Final");
    check("in Cape Town.em><strong>Teams:</strong></emstrong>South Africa:</strongStiaan",
          "in Cape Town. Teams:\nSouth Africa:\nStiaan");
    /* attribute runs whose tag name is gone, and self-closing tails */
    check("he wrote. dir=\"ltr\" lang=\"en\">Next", "he wrote. Next");
    check("Klopp said. style=\"text-align: left;\">More", "Klopp said. More");
    check("in 18 overs./>Pakistan won", "in 18 overs.\nPakistan won");
    /* tags with neither '<' nor '>' left */
    check("as well. img alt=\"\" height=\"255\" src=\"http://a/1.PNG\" width=\"624\"/img alt=\"\" "
          "src=\"b\" width=\"625\"/Next one",
          "as well. Next one");
    check("$1.08 trillionimg alt=\"\" src=\"https://x/c.jpg\" width=\"100%\"/", "$1.08 trillion");
}

static void test_prose_kept(void **state) {
    (void)state;
    check("if x < y and y > z", "if x < y and y > z");
    check("the S&P 500 rose; AT&T fell", "the S&P 500 rose; AT&T fell");
    check("a strong dollar; a span of time; them", "a strong dollar; a span of time; them");
    check("Standard &amp; Poor's, &quot;q&quot; &#8217; &#x2019; &lt;space&gt;",
          "Standard & Poor's, \"q\" \xE2\x80\x99 \xE2\x80\x99 <space>");
    check("&bogus; & &#xZZ;", "&bogus; & &#xZZ;");
}

static void test_whitespace_and_characters(void **state) {
    (void)state;
    check("  a \t b\xC2\xA0\xC2\xA0" "c  ", "a b c");
    check("para one.   \r\n\r\n\r\n  para two.\r\n\r\n", "para one.\npara two.");
    check("world\xC2\xB4s best", "world\xE2\x80\x99s best");
    check("\xC2\xB4quoted\xC2\xB4 word", "\xC2\xB4quoted\xC2\xB4 word"); /* not between letters */
    check("bell\x07 and C1\xC2\x81 gone", "bell and C1 gone");
    check("", "");
    check("<br/>", "");
}

/* Random mixes of the fragments the cleaner reacts to: valid UTF-8 in gives
 * valid UTF-8 out, with no double spaces and nothing to trim (and, under
 * ASan, no read or write out of bounds). */
static void test_random_fragments(void **state) {
    (void)state;
    static const char *const frags[] = {
        "<", ">", "</", "/>", "/", "strong", "span", "em", "a", "br", "img alt=\"\" ", "=\"",
        "\"", "'", " ", "\n", "\r\n", "\t", "&amp;", "&#", "&#x41;", ";", "&", "word",
        "The", ".", "\xC2\xA0", "\xC2\xB4", "\xC2\x85", "\xE2\x80\x99", "<!--", "-->",
        "<script>", "</script", "dir=\"ltr\"", "<![CDATA[", "]]>", "x", "\xC3\xA9",
    };
    uint64_t rng = 42;
    char in[512];
    for (int round = 0; round < 5000; round++) {
        size_t n = 0;
        int parts = 1 + (int)(rng % 40);
        for (int k = 0; k < parts; k++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            const char *f = frags[(rng >> 33) % (sizeof frags / sizeof frags[0])];
            size_t fl = strlen(f);
            if (n + fl >= sizeof in) break;
            memcpy(in + n, f, fl);
            n += fl;
        }
        size_t outn;
        char *out = clean_text(in, n, &outn);
        assert_int_equal(strlen(out), outn);
        assert_true(utf8_valid(out, outn));
        if (outn) {
            assert_true(out[0] != ' ' && out[0] != '\n');
            assert_true(out[outn - 1] != ' ' && out[outn - 1] != '\n');
        }
        assert_null(strstr(out, "  "));
        assert_null(strstr(out, "\xC2\xA0"));
        free(out);
    }
}

static void check_date(const char *in, const char *want) {
    char iso[11], err[200] = "";
    int rc = news_date_parse(in, strlen(in), iso, err, sizeof err);
    if (want) {
        if (rc) fprintf(stderr, "%s: %s\n", in, err);
        assert_int_equal(rc, 0);
        assert_string_equal(iso, want);
    } else {
        assert_int_equal(rc, -1);
        assert_true(strlen(err) > 0);
    }
}

static void test_dates(void **state) {
    (void)state;
    check_date("1/1/2015", "2015-01-01");
    check_date("3/27/2017", "2017-03-27");
    check_date("12/31/2016", "2016-12-31");
    check_date("02/29/2016", "2016-02-29");
    check_date(" 7/4/2015 ", "2015-07-04");
    check_date("2/29/2015", NULL); /* not a leap year */
    check_date("2/29/1900", NULL);
    check_date("2/29/2000", "2000-02-29");
    check_date("4/31/2016", NULL);
    check_date("13/1/2016", NULL);
    check_date("0/1/2016", NULL);
    check_date("1/0/2016", NULL);
    check_date("1/1/16", NULL);
    check_date("2016-01-01", NULL);
    check_date("1/1/20155", NULL);
    check_date("", NULL);
    check_date("a/b/cdef", NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_tags),
        cmocka_unit_test(test_damaged_tags),
        cmocka_unit_test(test_prose_kept),
        cmocka_unit_test(test_whitespace_and_characters),
        cmocka_unit_test(test_random_fragments),
        cmocka_unit_test(test_dates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
