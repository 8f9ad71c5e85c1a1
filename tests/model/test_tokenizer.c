/* test_tokenizer — the WordPiece tokenizer against the reference ids of an
 * independent implementation (Hugging Face's JavaScript tokenizer), plus the
 * edges the reference cannot show: truncation counts, invalid UTF-8, empty
 * text, overlong words, the words for the lexical index and load errors. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "model/tokenizer.h"

static char vocab_path[4096];
static char reference_path[4096];

static const char *shared_dir(void) {
    const char *d = getenv("RAGD_SHARED_DIR");
    return d && *d ? d : "../shared";
}

static int setup(void **state) {
    snprintf(vocab_path, sizeof vocab_path, "%s/models/all-MiniLM-L6-v2/vocab.txt", shared_dir());
    snprintf(reference_path, sizeof reference_path,
             "%s/reference/minilm-l6-h384-random/tokens.jsonl", shared_dir());
    char err[512] = "";
    tokenizer *t = tokenizer_open(vocab_path, err, sizeof err);
    if (!t) fprintf(stderr, "tokenizer_open: %s\n", err);
    *state = t;
    return t ? 0 : -1;
}

static int teardown(void **state) {
    tokenizer_close(*state);
    return 0;
}

/* Encode s (NUL-terminated) into ids with room for max_ids. */
static int encode(const tokenizer *t, const char *s, int32_t *ids, int max_ids, int *untruncated) {
    return tokenizer_encode(t, s, strlen(s), ids, max_ids, untruncated);
}

static void test_reference_cases(void **state) {
    const tokenizer *t = *state;
    FILE *f = fopen(reference_path, "r");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int cases = 0, failed = 0;
    while ((got = getline(&line, &cap, f)) > 0) {
        json_error_t jerr;
        json_t *c = json_loadb(line, (size_t)got, JSON_ALLOW_NUL, &jerr);
        assert_non_null(c);
        json_t *text = json_object_get(c, "text");
        json_t *want = json_object_get(c, "ids");
        assert_true(json_is_string(text) && json_is_array(want));
        int32_t ids[256];
        int untruncated = 0;
        int n = tokenizer_encode(t, json_string_value(text), json_string_length(text), ids, 256,
                                 &untruncated);
        bool same = (size_t)n == json_array_size(want);
        for (int i = 0; same && i < n; i++)
            same = json_integer_value(json_array_get(want, (size_t)i)) == ids[i];
        if (!same) {
            failed++;
            fprintf(stderr, "case %d %.60s: got %d ids, want %zu\n", cases,
                    json_string_value(text), n, json_array_size(want));
            for (size_t i = 0; i < json_array_size(want) || i < (size_t)n; i++) {
                long long w = i < json_array_size(want)
                                  ? json_integer_value(json_array_get(want, i))
                                  : -1;
                long long g = i < (size_t)n ? ids[i] : -1;
                if (w != g) {
                    fprintf(stderr, "  first difference at %zu: got %lld (%s) want %lld (%s)\n",
                            i, g, g >= 0 ? tokenizer_piece(t, (int32_t)g) : "-", w,
                            w >= 0 ? tokenizer_piece(t, (int32_t)w) : "-");
                    break;
                }
            }
        }
        /* untruncated is consistent: equal when nothing was cut */
        if (n < 256) assert_int_equal(untruncated, n);
        else assert_true(untruncated >= n);
        json_decref(c);
        cases++;
    }
    free(line);
    fclose(f);
    fprintf(stderr, "reference: %d of %d cases equal\n", cases - failed, cases);
    assert_true(cases >= 200);
    assert_int_equal(failed, 0);
}

static void test_vocab(void **state) {
    const tokenizer *t = *state;
    assert_int_equal(tokenizer_vocab_size(t), 30522);
    assert_string_equal(tokenizer_piece(t, TOKEN_CLS), "[CLS]");
    assert_string_equal(tokenizer_piece(t, TOKEN_UNK), "[UNK]");
    assert_null(tokenizer_piece(t, -1));
    assert_null(tokenizer_piece(t, 30522));
}

static void test_empty_text(void **state) {
    const tokenizer *t = *state;
    int32_t ids[8];
    int untruncated = -1;
    assert_int_equal(tokenizer_encode(t, NULL, 0, ids, 8, &untruncated), 2);
    assert_int_equal(ids[0], TOKEN_CLS);
    assert_int_equal(ids[1], TOKEN_SEP);
    assert_int_equal(untruncated, 2);
    /* only things cleaning removes */
    assert_int_equal(encode(t, "\x01\x7f \t\r\n", ids, 8, &untruncated), 2);
    assert_int_equal(untruncated, 2);
}

static void test_truncation(void **state) {
    const tokenizer *t = *state;
    /* "hello, world!" is hello , world ! = 4 pieces */
    int32_t full[16], cut[4];
    int untruncated = 0;
    assert_int_equal(encode(t, "hello, world!", full, 16, &untruncated), 6);
    assert_int_equal(untruncated, 6);
    assert_int_equal(encode(t, "hello, world!", cut, 4, &untruncated), 4);
    assert_int_equal(untruncated, 6);
    assert_int_equal(cut[0], TOKEN_CLS);
    assert_int_equal(cut[1], full[1]);
    assert_int_equal(cut[2], full[2]);
    assert_int_equal(cut[3], TOKEN_SEP);
    /* only [CLS] [SEP] fit */
    assert_int_equal(encode(t, "hello, world!", cut, 2, &untruncated), 2);
    assert_int_equal(cut[1], TOKEN_SEP);
    assert_int_equal(untruncated, 6);
    /* without untruncated the result is the same */
    int32_t again[4];
    assert_int_equal(encode(t, "hello, world!", again, 4, NULL), 4);
    assert_memory_equal(again, full, 3 * sizeof *full);
    assert_int_equal(again[3], TOKEN_SEP);
    /* a word cut in the middle of its pieces: keep its first pieces */
    int32_t w[64];
    int n = encode(t, "antidisestablishmentarianism", w, 64, &untruncated);
    assert_true(n > 4);
    int32_t w3[3];
    assert_int_equal(encode(t, "antidisestablishmentarianism", w3, 3, &untruncated), 3);
    assert_int_equal(w3[1], w[1]);
    assert_int_equal(w3[2], TOKEN_SEP);
    assert_int_equal(untruncated, n);
}

static void test_invalid_utf8(void **state) {
    const tokenizer *t = *state;
    int32_t a[16], b[16];
    int na = encode(t, "hello world", a, 16, NULL);
    /* stray continuation, truncated sequences, overlong, surrogate, > U+10FFFF */
    const char *bad[] = {"hello\x80 world", "hel\xc3lo wor\xe2\x82ld", "hello \xc0\xafworld",
                         "hello\xed\xa0\x80 world\xf4\x90\x80\x80", "\xff\xfehello world\xfe"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int nb = encode(t, bad[i], b, 16, NULL);
        assert_int_equal(nb, na);
        assert_memory_equal(a, b, (size_t)na * sizeof *a);
    }
    /* a multi-byte sequence cut by len is never read past len */
    const char euro[] = "\xe2\x82\xac";
    char *heap = malloc(2);
    memcpy(heap, euro, 2);
    assert_int_equal(tokenizer_encode(t, heap, 2, b, 16, NULL), 2);
    free(heap);
    /* an invalid byte is dropped, not a separator (as U+FFFD in the reference) */
    int nc = encode(t, "hel\xfflo", b, 16, NULL);
    int32_t c[16];
    assert_int_equal(encode(t, "hello", c, 16, NULL), nc);
    assert_memory_equal(b, c, (size_t)nc * sizeof *c);
}

static void test_long_word(void **state) {
    const tokenizer *t = *state;
    char word[128];
    int32_t ids[8];
    /* 100 characters is still WordPiece'd, 101 is [UNK] */
    memset(word, 'a', 100);
    word[100] = '\0';
    int n100 = encode(t, word, ids, 8, NULL);
    assert_int_not_equal(ids[1], TOKEN_UNK);
    assert_true(n100 > 3);
    memset(word, 'a', 101);
    word[101] = '\0';
    int untruncated = 0;
    assert_int_equal(encode(t, word, ids, 8, &untruncated), 3);
    assert_int_equal(ids[1], TOKEN_UNK);
    assert_int_equal(untruncated, 3);
    /* the limit is characters, not bytes: 60 'é' are 120 bytes, 60 characters */
    char accented[256] = "";
    for (int i = 0; i < 60; i++) strcat(accented, "\xc3\xa9");
    encode(t, accented, ids, 8, NULL);
    assert_int_not_equal(ids[1], TOKEN_UNK);
    /* a word with no match at all */
    assert_int_equal(encode(t, "\xf0\x9f\x98\x80", ids, 8, NULL), 3);
    assert_int_equal(ids[1], TOKEN_UNK);
}

typedef struct {
    char words[16][128];
    int n;
} word_list;

static void collect(const char *word, size_t len, void *ctx) {
    word_list *l = ctx;
    assert_true(l->n < 16 && len < 128);
    memcpy(l->words[l->n], word, len);
    l->words[l->n][len] = '\0';
    l->n++;
}

static void check_long_word(const char *word, size_t len, void *ctx) {
    for (size_t i = 0; i < len; i++) assert_int_equal(word[i], 'q');
    *(size_t *)ctx = len;
}

static void test_words(void **state) {
    const tokenizer *t = *state;
    word_list l = {.n = 0};
    const char *s = "Café DÉJÀ-vu,\tdon't\xc2\xa0北京 x\x07y";
    tokenizer_words(t, s, strlen(s), collect, &l);
    const char *want[] = {"cafe", "deja", "-", "vu", ",", "don", "'", "t", "北", "京", "xy"};
    assert_int_equal(l.n, (int)(sizeof want / sizeof *want));
    for (int i = 0; i < l.n; i++) assert_string_equal(l.words[i], want[i]);

    /* final sigma, as Python's str.lower() */
    l.n = 0;
    s = "ΟΔΟΣ ΣΑΣ Σ";
    tokenizer_words(t, s, strlen(s), collect, &l);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.words[0], "οδος");
    assert_string_equal(l.words[1], "σας");
    assert_string_equal(l.words[2], "σ");

    /* NFD's canonical ordering of kept marks (U+1D16D class 226 after U+1D165
     * class 216), not across a class-0 mark that is then stripped (U+034F);
     * Hangul syllables decompose to jamo */
    l.n = 0;
    s = "x\xf0\x9d\x85\xad\xf0\x9d\x85\xa5 x\xf0\x9d\x85\xad\xcd\x8f\xf0\x9d\x85\xa5 \xed\x95\x9c";
    tokenizer_words(t, s, strlen(s), collect, &l);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.words[0], "x\xf0\x9d\x85\xa5\xf0\x9d\x85\xad");
    assert_string_equal(l.words[1], "x\xf0\x9d\x85\xad\xf0\x9d\x85\xa5");
    assert_string_equal(l.words[2], "\xe1\x84\x92\xe1\x85\xa1\xe1\x86\xab");

    /* a word over the inline buffer comes out whole, lower-cased */
    char big[301];
    memset(big, 'Q', 300);
    big[300] = '\0';
    size_t long_len = 0;
    tokenizer_words(t, big, 300, check_long_word, &long_len);
    assert_int_equal(long_len, 300);
}

static void test_missing_vocab(void **state) {
    (void)state;
    char err[512] = "";
    assert_null(tokenizer_open("/nonexistent/vocab.txt", err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/vocab.txt"));
    /* a file that is not a BERT vocabulary */
    char path[] = "/tmp/ragd-test-vocab-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char notvocab[] = "a\nb\nc\n";
    assert_int_equal(write(fd, notvocab, sizeof notvocab - 1), (ssize_t)(sizeof notvocab - 1));
    close(fd);
    err[0] = '\0';
    assert_null(tokenizer_open(path, err, sizeof err));
    assert_non_null(strstr(err, "[PAD]"));
    unlink(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_cases), cmocka_unit_test(test_vocab),
        cmocka_unit_test(test_empty_text),      cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_invalid_utf8),    cmocka_unit_test(test_long_word),
        cmocka_unit_test(test_words),           cmocka_unit_test(test_missing_vocab),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
