/* test_splitter — sentences and passages: the sentence rules on the corpus's
 * shapes (glued sentences, abbreviations, decimals, quotes), long sentences
 * and words cut to fit, one-sentence overlap, and on the real corpus: every
 * passage's encoder text (heading + passage) within the 256-piece window,
 * every sentence inside a passage, every non-space byte covered. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ingest/corpus.h"
#include "ingest/ingest.h"
#include "ingest/splitter.h"
#include "ingest_test_util.h"

static tokenizer *tok;

static int setup(void **state) {
    (void)state;
    char err[512] = "";
    tok = tokenizer_open(vocab_path(), err, sizeof err);
    if (!tok) fprintf(stderr, "tokenizer_open: %s\n", err);
    return tok ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    tokenizer_close(tok);
    return 0;
}

/* Split text and compare the sentences with want (NULL-terminated). */
static void check_sentences(const char *text, const char *const *want) {
    text_span *s;
    size_t n = split_sentences(text, strlen(text), &s);
    size_t nwant = 0;
    while (want[nwant]) nwant++;
    for (size_t i = 0; i < n && i < nwant; i++) {
        size_t len = s[i].end - s[i].start;
        if (len != strlen(want[i]) || memcmp(text + s[i].start, want[i], len))
            fail_msg("sentence %zu: got '%.*s', want '%s'", i, (int)len, text + s[i].start, want[i]);
    }
    if (n != nwant) fail_msg("%zu sentences, want %zu in '%s'", n, nwant, text);
    free(s);
}

static void test_sentences(void **state) {
    (void)state;
    check_sentences("Geo News reported.Sources said fares would fall.",
                    (const char *[]){"Geo News reported.", "Sources said fares would fall.", NULL});
    check_sentences("The U.S. economy grew 1.86 percent. Mr. Khan and Dr. Ali met at 8 a.m. on Monday.",
                    (const char *[]){"The U.S. economy grew 1.86 percent.",
                                     "Mr. Khan and Dr. Ali met at 8 a.m. on Monday.", NULL});
    check_sentences("He said: \"We won.\" Then he left! Why? Nobody knows\xE2\x80\xA6 Really.",
                    (const char *[]){"He said: \"We won.\"", "Then he left!", "Why?",
                                     "Nobody knows\xE2\x80\xA6", "Really.", NULL});
    check_sentences("M. Raza Yasin scored. Rs. 500 was paid.\nTeams:\nKarachi Kings",
                    (const char *[]){"M. Raza Yasin scored.", "Rs. 500 was paid.", "Teams:",
                                     "Karachi Kings", NULL});
    check_sentences("talks.\xE2\x80\x9CWe agree,\xE2\x80\x9D he said. In 2015.The end",
                    (const char *[]){"talks.", "\xE2\x80\x9CWe agree,\xE2\x80\x9D he said.",
                                     "In 2015.", "The end", NULL});
    check_sentences("   ", (const char *[]){NULL});
}

/* Every passage within budget, ranges inside the text, every non-space byte
 * covered, passages in order. Returns the count. */
static size_t check_passages(const char *text, size_t len, int budget, text_span **out) {
    text_span *p;
    size_t n = split_passages(tok, text, len, budget, &p);
    char *covered = calloc(len + 1, 1);
    for (size_t i = 0; i < n; i++) {
        assert_true(p[i].start < p[i].end);
        assert_true(p[i].end <= len);
        int pieces = count_pieces(tok, text + p[i].start, p[i].end - p[i].start);
        assert_int_equal(pieces, p[i].pieces);
        if (pieces > budget) fail_msg("passage %zu has %d pieces > %d", i, pieces, budget);
        if (i) assert_true(p[i].start > p[i - 1].start && p[i].end > p[i - 1].end);
        memset(covered + p[i].start, 1, p[i].end - p[i].start);
    }
    for (size_t b = 0; b < len; b++) {
        char ch = text[b];
        if (!covered[b] && ch != ' ' && ch != '\n' && ch != '\t' && ch != '\r')
            fail_msg("byte %zu ('%c') in no passage", b, ch);
    }
    free(covered);
    if (out) *out = p;
    else free(p);
    return n;
}

static void test_long_sentence_and_word(void **state) {
    (void)state;
    char *text = malloc(20000);
    size_t len = 0;
    for (int i = 0; i < 1500; i++) len += (size_t)sprintf(text + len, "word%d ", i);
    text[--len] = '\0'; /* one sentence, no terminator, ~4500 pieces */
    assert_true(check_passages(text, len, 100, NULL) > 30);
    /* one 9000-byte "word" (punctuation splits it into many pieces) */
    len = 0;
    for (int i = 0; i < 3000; i++) len += (size_t)sprintf(text + len, "a,b");
    assert_true(check_passages(text, len, 64, NULL) > 50);
    /* multi-byte characters in one word: cuts fall between characters (this
     * shape hung the binary search once: found by fuzz_csv) */
    len = (size_t)sprintf(text, "KARAC");
    for (int i = 0; i < 70; i++) len += (size_t)sprintf(text + len, "\xC3\xB0");
    len += (size_t)sprintf(text + len, "HI: The Sindh government");
    for (int budget = 4; budget <= 64; budget += 30) {
        text_span *p;
        size_t n = check_passages(text, len, budget, &p);
        assert_true(n >= 2);
        for (size_t i = 0; i < n; i++) {
            assert_true(((unsigned char)text[p[i].start] & 0xC0) != 0x80);
            assert_true(p[i].end == len || ((unsigned char)text[p[i].end] & 0xC0) != 0x80);
        }
        free(p);
    }
    len = 0;
    for (int i = 0; i < 400; i++) len += (size_t)sprintf(text + len, "\xE2\x82\xAC\xF0\x9F\x98\x80x,");
    assert_true(check_passages(text, len, 16, NULL) > 10);
    free(text);
    /* a 400 KB run with no space, ~200000 pieces: cutting it must stay
     * linear (the first version re-tokenised the whole rest of the word for
     * every cut — minutes here; fuzz_csv reported it as a hang) */
    len = 400000;
    text = malloc(len + 1);
    for (size_t i = 0; i < len; i += 2) text[i] = 'a', text[i + 1] = ',';
    text[len] = '\0';
    text_span *p;
    size_t n = split_passages(tok, text, len, 64, &p);
    assert_true(n >= 200000 / 64);
    for (size_t i = 0; i < n; i++) assert_true(p[i].pieces <= 64);
    assert_int_equal(p[0].start, 0);
    assert_int_equal(p[n - 1].end, len);
    free(p);
    free(text);
}

static void test_overlap_one_sentence(void **state) {
    (void)state;
    char text[8000];
    size_t len = 0;
    for (int i = 0; i < 60; i++)
        len += (size_t)sprintf(text + len, "Sentence number %d talks about cricket and oil. ", i);
    text[--len] = '\0';
    text_span *p;
    size_t n = check_passages(text, len, 60, &p);
    assert_true(n > 5);
    for (size_t i = 1; i < n; i++) {
        /* the passage starts with the last sentence of the one before */
        assert_true(p[i].start < p[i - 1].end);
        const char *last = text + p[i].start;
        const char *dot = strchr(last, '.');
        assert_true(dot && (size_t)(dot + 1 - text) == p[i - 1].end);
    }
    free(p);
    assert_int_equal(split_passages(tok, "  \n ", 4, 60, &p), 0);
    free(p);
}

static void test_real_corpus(void **state) {
    (void)state;
    corpus c;
    char err[512] = "";
    assert_int_equal(corpus_load(corpus_path(), &c, err, sizeof err), 0);
    size_t total = 0, multi = 0;
    buf enc_text = BUF_INIT;
    for (size_t i = 0; i < c.count; i++) {
        const article *a = &c.articles[i];
        if (a->duplicate_of >= 0) continue;
        int budget = ingest_passage_budget(tok, a->heading);
        assert_true(budget >= 200);
        text_span *p;
        size_t n = check_passages(a->text, a->text_len, budget, &p);
        assert_true(n >= 1);
        total += n;
        multi += n > 1;
        for (size_t k = 0; k < n; k++) {
            buf_clear(&enc_text);
            ingest_encoder_text(tok, a->heading, a->text + p[k].start, p[k].end - p[k].start,
                                &enc_text);
            int32_t ids[2];
            int full = 0;
            tokenizer_encode(tok, enc_text.data, enc_text.len, ids, 2, &full);
            if (full > ENCODER_MAX_TOKENS)
                fail_msg("article %s passage %zu: %d ids > %d", a->id, k, full, ENCODER_MAX_TOKENS);
        }
        /* every sentence lies inside one passage, unless it alone exceeds
         * the budget (then coverage above holds) */
        text_span *s;
        size_t ns = split_sentences(a->text, a->text_len, &s);
        for (size_t k = 0; k < ns; k++) {
            if (count_pieces(tok, a->text + s[k].start, s[k].end - s[k].start) > budget) continue;
            bool inside = false;
            for (size_t j = 0; j < n && !inside; j++)
                inside = p[j].start <= s[k].start && s[k].end <= p[j].end;
            if (!inside)
                fail_msg("article %s: sentence '%.*s' in no single passage", a->id,
                         (int)(s[k].end - s[k].start), a->text + s[k].start);
        }
        free(s);
        free(p);
    }
    buf_free(&enc_text);
    fprintf(stderr, "%zu passages from %zu unique articles, %zu articles split\n", total,
            c.count - c.duplicates, multi);
    assert_true(total > c.count - c.duplicates);
    assert_true(multi > 1000); /* median article ~1650 chars: most need more than one */
    corpus_free(&c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sentences),
        cmocka_unit_test(test_long_sentence_and_word),
        cmocka_unit_test(test_overlap_one_sentence),
        cmocka_unit_test(test_real_corpus),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
