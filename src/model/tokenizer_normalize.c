/* tokenizer_normalize — BERT's basic tokenizer, streamed word by word.
 *
 * Exactly Hugging Face's BasicTokenizer (do_lower_case, tokenize_chinese_chars,
 * strip_accents=None), fused into one pass:
 *   clean      drop NUL, U+FFFD and every "C*" character except \t \n \r;
 *              whitespace (\t \n \r ' ', Zs, and Zl/Zp which str.split()
 *              also splits on) ends a word
 *   CJK        an ideograph of _is_chinese_char's blocks is a word of its own
 *   lower      str.lower(): simple case mapping, plus the context-dependent
 *              final sigma (the only multi-character lower-case, U+0130, ends
 *              as 'i' after accent stripping either way)
 *   NFD        canonical decomposition and canonical ordering of marks
 *   strip      drop Mn (non-spacing marks)
 *   punct      ASCII 33-47, 58-64, 91-96, 123-126 and every "P*" character
 *              is a word of its own
 * Unicode data comes from utf8proc; ASCII, almost all of the corpus, takes a
 * table-driven fast path that never calls it.
 *
 * A word is gathered as code points (canonical ordering needs to move marks)
 * in a buffer on the stack, then encoded to UTF-8 when it ends.
 */
#include "model/tokenizer_normalize.h"

#include <string.h>
#include <utf8proc.h>

#include "util/util.h"

enum ascii_class { A_DROP, A_SPACE, A_PUNCT, A_UPPER, A_LETTER, A_DIGIT };

/* Class of each ASCII byte: \t \n \r ' ' split, other controls are dropped,
 * 33-47 58-64 91-96 123-126 are punctuation (BERT's ASCII ranges). */
#define X A_DROP
#define S A_SPACE
#define P A_PUNCT
#define U A_UPPER
#define L A_LETTER
#define D A_DIGIT
static const uint8_t ascii_class_table[128] = {
    X, X, X, X, X, X, X, X, X, S, S, X, X, S, X, X,
    X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    S, P, P, P, P, P, P, P, P, P, P, P, P, P, P, P,
    D, D, D, D, D, D, D, D, D, D, P, P, P, P, P, P,
    P, U, U, U, U, U, U, U, U, U, U, U, U, U, U, U,
    U, U, U, U, U, U, U, U, U, U, U, P, P, P, P, P,
    P, L, L, L, L, L, L, L, L, L, L, L, L, L, L, L,
    L, L, L, L, L, L, L, L, L, L, L, P, P, P, P, X,
};
#undef X
#undef S
#undef P
#undef U
#undef L
#undef D

static inline uint8_t ascii_class_of(unsigned c) { return ascii_class_table[c]; }

typedef struct {
    bert_word_fn fn;
    void *ctx;
    bool stopped;
    size_t keep_chars;

    /* the word being built */
    int32_t *cp;
    size_t n, cap;
    size_t nchars;    /* characters of the word, kept or not */
    size_t run_start; /* canonical ordering never moves a mark before this */
    bool too_long;
    int32_t cp_inline[BERT_WORD_INLINE_CHARS];

    char *utf8;
    size_t utf8_cap;
    char utf8_inline[BERT_WORD_INLINE_CHARS * 4];
    uint16_t offset[BERT_WORD_INLINE_CHARS + 1];

    /* final-sigma context: the last character that was not case-ignorable
     * since the last whitespace was cased */
    bool prev_cased;
} splitter;

static void flush_word(splitter *s) {
    if (s->nchars == 0) return;
    if (!s->stopped) {
        bert_word w = {.nchars = s->nchars};
        if (!s->too_long) {
            if (s->n * 4 > s->utf8_cap) {
                if (s->utf8 != s->utf8_inline) free(s->utf8);
                s->utf8_cap = s->n * 4;
                s->utf8 = xmalloc(s->utf8_cap);
            }
            size_t len = 0;
            bool offsets = s->n <= BERT_WORD_INLINE_CHARS;
            for (size_t i = 0; i < s->n; i++) {
                if (offsets) s->offset[i] = (uint16_t)len;
                if (s->cp[i] < 0x80)
                    s->utf8[len++] = (char)s->cp[i];
                else
                    len += (size_t)utf8proc_encode_char(s->cp[i],
                                                        (utf8proc_uint8_t *)s->utf8 + len);
            }
            if (offsets) s->offset[s->n] = (uint16_t)len;
            w.utf8 = s->utf8;
            w.len = len;
            w.char_offset = offsets ? s->offset : NULL;
        }
        if (!s->fn(&w, s->ctx)) s->stopped = true;
    }
    s->n = s->nchars = s->run_start = 0;
    s->too_long = false;
}

/* Append one normalised character with its canonical combining class,
 * keeping marks in canonical order (a stable insertion by class). */
static void append(splitter *s, int32_t c, int ccc) {
    s->nchars++;
    if (s->too_long) return;
    if (s->nchars > s->keep_chars) {
        s->too_long = true;
        return;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap * 2;
        if (s->cp == s->cp_inline) {
            s->cp = xmalloc(cap * sizeof *s->cp);
            memcpy(s->cp, s->cp_inline, s->n * sizeof *s->cp);
        } else {
            s->cp = xrealloc(s->cp, cap * sizeof *s->cp);
        }
        s->cap = cap;
    }
    size_t i = s->n;
    if (ccc > 0)
        while (i > s->run_start && utf8proc_get_property(s->cp[i - 1])->combining_class > ccc) {
            s->cp[i] = s->cp[i - 1];
            i--;
        }
    s->cp[i] = c;
    s->n++;
    if (ccc == 0) s->run_start = s->n;
}

/* The ASCII punctuation that is Case_Ignorable (MidNumLet, MidLetter,
 * Single_Quote, Sk). */
static bool ascii_case_ignorable(int32_t c) {
    return c == '\'' || c == '.' || c == ':' || c == '^' || c == '`';
}

static bool is_punct_category(int cat) {
    return cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
}

static bool is_control_category(int cat) {
    return cat == UTF8PROC_CATEGORY_CN || cat == UTF8PROC_CATEGORY_CC ||
           cat == UTF8PROC_CATEGORY_CF || cat == UTF8PROC_CATEGORY_CS ||
           cat == UTF8PROC_CATEGORY_CO;
}

static bool is_space_category(int cat) {
    return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL ||
           cat == UTF8PROC_CATEGORY_ZP;
}

/* _is_chinese_char's blocks (CJK ideographs, not Hangul or Kana). */
static bool is_cjk(int32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/* Unicode Case_Ignorable: Mn Me Cf Lm Sk and Word_Break MidLetter,
 * MidNumLet, Single_Quote. */
static bool is_case_ignorable(int32_t c, int cat) {
    switch (cat) {
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_SK:
        return true;
    default:
        break;
    }
    switch (c) {
    case 0x27: case 0x2E: case 0x3A: case 0xB7: case 0x387: case 0x55F: case 0x5F4:
    case 0x2018: case 0x2019: case 0x2024: case 0x2027: case 0xFE13: case 0xFE52:
    case 0xFE55: case 0xFF07: case 0xFF0E: case 0xFF1A:
        return true;
    default:
        return false;
    }
}

/* Unicode Cased: upper, lower or title case letters, and the other
 * characters with a case mapping (Ⓐ, Ⅰ) or Other_Lowercase (ª º). */
static bool is_cased(int32_t c, const utf8proc_property_t *p) {
    int cat = p->category;
    return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL ||
           cat == UTF8PROC_CATEGORY_LT || p->lowercase_seqindex != UINT16_MAX ||
           p->uppercase_seqindex != UINT16_MAX || c == 0xAA || c == 0xBA;
}

/* Decode the character at text[*i] (< len). Returns false for an invalid
 * byte, which is skipped (it stands for a U+FFFD that cleaning drops). */
static bool next_char(const char *text, size_t len, size_t *i, int32_t *c) {
    unsigned char b = (unsigned char)text[*i];
    if (b < 0x80) {
        *c = b;
        (*i)++;
        return true;
    }
    utf8proc_ssize_t k =
        utf8proc_iterate((const utf8proc_uint8_t *)text + *i, (utf8proc_ssize_t)(len - *i), c);
    if (k <= 0) {
        (*i)++;
        return false;
    }
    *i += (size_t)k;
    return true;
}

/* Python's final-sigma rule for U+03A3: 'ς' when a cased letter precedes it
 * and none follows it (both skipping case-ignorable characters) within the
 * whitespace-delimited token. */
static int32_t lower_sigma(const splitter *s, const char *rest, size_t len) {
    if (!s->prev_cased) return 0x3C3;
    for (size_t i = 0; i < len;) {
        int32_t c;
        if (!next_char(rest, len, &i, &c)) continue;
        if (c < 0x80) {
            uint8_t cls = ascii_class_of((unsigned)c);
            if (cls == A_DROP) continue;
            if (cls == A_UPPER || cls == A_LETTER) return 0x3C3;
            if (ascii_case_ignorable(c)) continue;
            return 0x3C2;
        }
        const utf8proc_property_t *p = utf8proc_get_property(c);
        if (c == 0xFFFD || is_control_category(p->category)) continue;
        if (is_case_ignorable(c, p->category)) continue;
        return is_cased(c, p) ? 0x3C3 : 0x3C2;
    }
    return 0x3C2;
}

/* One character after lower-casing: decompose, strip marks, split punctuation. */
static void feed_lowered(splitter *s, int32_t lower) {
    utf8proc_int32_t parts[8];
    utf8proc_ssize_t n = 1;
    parts[0] = lower;
    if (lower >= 0xC0) { /* nothing below U+00C0 decomposes */
        int boundclass = 0;
        n = utf8proc_decompose_char(lower, parts, (utf8proc_ssize_t)ARRAY_LEN(parts),
                                    UTF8PROC_DECOMPOSE, &boundclass);
        if (n <= 0 || n > (utf8proc_ssize_t)ARRAY_LEN(parts)) {
            n = 1;
            parts[0] = lower;
        }
    }
    for (utf8proc_ssize_t k = 0; k < n; k++) {
        int32_t d = parts[k];
        if (d < 0x80) {
            if (ascii_class_of((unsigned)d) == A_PUNCT) {
                flush_word(s);
                append(s, d, 0);
                flush_word(s);
            } else {
                append(s, d, 0);
            }
            continue;
        }
        const utf8proc_property_t *p = utf8proc_get_property(d);
        if (p->category == UTF8PROC_CATEGORY_MN) {
            /* a class-0 mark still bounds canonical reordering in NFD */
            if (p->combining_class == 0) s->run_start = s->n;
            continue;
        }
        if (is_punct_category(p->category)) {
            flush_word(s);
            append(s, d, 0);
            flush_word(s);
            continue;
        }
        append(s, d, p->combining_class);
    }
}

static void split_non_ascii(splitter *s, int32_t c, const char *rest, size_t rest_len) {
    if (c == 0xFFFD) return;
    const utf8proc_property_t *p = utf8proc_get_property(c);
    if (is_control_category(p->category)) return;
    if (is_space_category(p->category)) {
        flush_word(s);
        s->prev_cased = false;
        return;
    }
    if (is_cjk(c)) {
        flush_word(s);
        feed_lowered(s, c);
        flush_word(s);
        s->prev_cased = false;
        return;
    }
    int32_t lower = c == 0x3A3 ? lower_sigma(s, rest, rest_len) : utf8proc_tolower(c);
    if (!is_case_ignorable(c, p->category)) s->prev_cased = is_cased(c, p);
    feed_lowered(s, lower);
}

void bert_split_words(const char *text, size_t len, size_t keep_chars, bert_word_fn fn,
                      void *ctx) {
    splitter s;
    s.fn = fn;
    s.ctx = ctx;
    s.stopped = false;
    s.keep_chars = keep_chars;
    s.cp = s.cp_inline;
    s.cap = BERT_WORD_INLINE_CHARS;
    s.n = s.nchars = s.run_start = 0;
    s.too_long = false;
    s.utf8 = s.utf8_inline;
    s.utf8_cap = sizeof s.utf8_inline;
    s.prev_cased = false;

    for (size_t i = 0; i < len && !s.stopped;) {
        unsigned char b = (unsigned char)text[i];
        if (b < 0x80) {
            i++;
            switch (ascii_class_of(b)) {
            case A_DROP:
                break;
            case A_SPACE:
                flush_word(&s);
                s.prev_cased = false;
                break;
            case A_PUNCT:
                flush_word(&s);
                append(&s, b, 0);
                flush_word(&s);
                if (!ascii_case_ignorable(b)) s.prev_cased = false;
                break;
            case A_UPPER:
                append(&s, b + ('a' - 'A'), 0);
                s.prev_cased = true;
                break;
            case A_LETTER:
                append(&s, b, 0);
                s.prev_cased = true;
                break;
            default:
                append(&s, b, 0);
                s.prev_cased = false;
                break;
            }
            continue;
        }
        int32_t c;
        if (!next_char(text, len, &i, &c)) continue;
        split_non_ascii(&s, c, text + i, len - i);
    }
    flush_word(&s);
    if (s.cp != s.cp_inline) free(s.cp);
    if (s.utf8 != s.utf8_inline) free(s.utf8);
}
