/* analyzer — the BM25 English analyzer; see analyzer.h for the steps. */
#include "store/analyzer.h"

#include <assert.h>
#include <libstemmer.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "model/tokenizer_normalize.h"
#include "util/util.h"

/* Snowball's English stop list (snowball.tartarus.org/algorithms/english/
 * stop.txt, the list Lucene's EnglishAnalyzer family and Xapian's examples
 * use), minus its contracted forms ("don't" …), which the BERT split never
 * yields whole (step 3 handles their pieces). Sorted for bsearch. */
static const char *const stopwords[] = {
    "a",       "about",      "above",   "after",   "again",    "against",  "all",
    "am",      "an",         "and",     "any",     "are",      "as",       "at",
    "be",      "because",    "been",    "before",  "being",    "below",    "between",
    "both",    "but",        "by",      "cannot",  "could",    "did",      "do",
    "does",    "doing",      "down",    "during",  "each",     "few",      "for",
    "from",    "further",    "had",     "has",     "have",     "having",   "he",
    "her",     "here",       "hers",    "herself", "him",      "himself",  "his",
    "how",     "i",          "if",      "in",      "into",     "is",       "it",
    "its",     "itself",     "me",      "more",    "most",     "my",       "myself",
    "no",      "nor",        "not",     "of",      "off",      "on",       "once",
    "only",    "or",         "other",   "ought",   "our",      "ours",     "ourselves",
    "out",     "over",       "own",     "same",    "she",      "should",   "so",
    "some",    "such",       "than",    "that",    "the",      "their",    "theirs",
    "them",    "themselves", "then",    "there",   "these",    "they",     "this",
    "those",   "through",    "to",      "too",     "under",    "until",    "up",
    "very",    "was",        "we",      "were",    "what",     "when",     "where",
    "which",   "while",      "who",     "whom",    "why",      "with",     "would",
    "you",     "your",       "yours",   "yourself", "yourselves",
};

/* What follows an apostrophe in a possessive or contraction. */
static const char *const clitics[] = {"d", "ll", "m", "re", "s", "t", "ve"};

struct analyzer {
    struct sb_stemmer *stemmer;
};

typedef struct run {
    analyzer *a;
    analyzer_term_fn fn;
    void *ctx;
    bool after_apostrophe;
} run;

static int cmp_word(const void *key, const void *elem) {
    return strcmp(key, *(const char *const *)elem);
}

static bool in_list(const char *const *list, size_t n, const char *w, size_t len) {
    char word[16];
    if (len >= sizeof word) return false; /* every listed word is shorter */
    memcpy(word, w, len);
    word[len] = '\0';
    return bsearch(word, list, n, sizeof *list, cmp_word) != NULL;
}

static bool is_apostrophe(const char *w, size_t len) {
    return (len == 1 && w[0] == '\'') ||
           (len == 3 && memcmp(w, "\xE2\x80\x99", 3) == 0); /* U+2019 ’ */
}

/* A word of the split that is one punctuation or symbol character (BERT
 * cuts every punctuation character out as a word of its own). */
static bool is_punctuation(const char *w, size_t len) {
    unsigned char c = (unsigned char)w[0];
    if (c < 0x80) return len == 1 && !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'));
    utf8proc_int32_t cp;
    utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)w, (utf8proc_ssize_t)len, &cp);
    if (n <= 0 || (size_t)n != len) return false;
    utf8proc_category_t cat = utf8proc_category(cp);
    return cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_SO;
}

static bool has_digit(const char *w, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (w[i] >= '0' && w[i] <= '9') return true;
    return false;
}

static bool on_word(const bert_word *bw, void *ctx) {
    run *r = ctx;
    const char *w = bw->utf8;
    size_t len = bw->len;
    bool after = r->after_apostrophe;
    r->after_apostrophe = false;
    if (w == NULL || len == 0) return true;
    if (is_apostrophe(w, len)) {
        r->after_apostrophe = true;
        return true;
    }
    if (len > ANALYZER_MAX_TERM || is_punctuation(w, len)) return true;
    if (after && in_list(clitics, ARRAY_LEN(clitics), w, len)) return true;
    if (has_digit(w, len)) {
        r->fn(w, len, r->ctx);
        return true;
    }
    if (in_list(stopwords, ARRAY_LEN(stopwords), w, len)) return true;
    const sb_symbol *stem = sb_stemmer_stem(r->a->stemmer, (const sb_symbol *)w, (int)len);
    if (stem == NULL) { /* out of memory inside libstemmer: index the word unstemmed */
        r->fn(w, len, r->ctx);
        return true;
    }
    int n = sb_stemmer_length(r->a->stemmer);
    if (n > 0 && n <= ANALYZER_MAX_TERM) r->fn((const char *)stem, (size_t)n, r->ctx);
    return true;
}

analyzer *analyzer_new(void) {
    struct sb_stemmer *st = sb_stemmer_new("english", "UTF_8");
    if (st == NULL) return NULL;
    analyzer *a = xcalloc(1, sizeof *a);
    a->stemmer = st;
    return a;
}

void analyzer_free(analyzer *a) {
    if (a == NULL) return;
    sb_stemmer_delete(a->stemmer);
    free(a);
}

void analyzer_terms(analyzer *a, const char *text, size_t len, analyzer_term_fn fn, void *ctx) {
    assert(a != NULL && fn != NULL);
    if (text == NULL || len == 0) return;
    run r = {.a = a, .fn = fn, .ctx = ctx, .after_apostrophe = false};
    bert_split_words(text, len, ANALYZER_MAX_TERM, on_word, &r);
}
