/* splitter — see splitter.h for the algorithm. */
#include "ingest/splitter.h"

#include <stdbool.h>
#include <string.h>

#include "util/util.h"

typedef struct span_vec {
    text_span *v;
    size_t n, cap;
} span_vec;

static void push(span_vec *sv, size_t start, size_t end, int pieces) {
    if (sv->n == sv->cap) {
        sv->cap = sv->cap ? sv->cap * 2 : 16;
        sv->v = xrealloc(sv->v, sv->cap * sizeof *sv->v);
    }
    sv->v[sv->n++] = (text_span){start, end, pieces};
}

int count_pieces(const tokenizer *tok, const char *text, size_t len) {
    int32_t ids[2];
    int total = 0;
    tokenizer_encode(tok, text, len, ids, 2, &total);
    return total - 2;
}

static bool is_space(unsigned char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }
static bool is_lower(unsigned char c) { return c >= 'a' && c <= 'z'; }
static bool is_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
static bool is_letter(unsigned char c) { return is_lower(c) || is_upper(c); }
static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static bool starts_with(const char *s, size_t i, size_t len, const char *lit) {
    size_t k = strlen(lit);
    return i + k <= len && !memcmp(s + i, lit, k);
}

/* Words that end in '.' without ending a sentence. */
static const char *const abbreviations[] = {
    "Mr", "Mrs", "Ms", "Dr", "Prof", "St", "Mt", "Rs", "Jr", "Sr", "No", "Nos", "vs", "Vs",
    "etc", "Inc", "Ltd", "Co", "Corp", "Gen", "Lt", "Col", "Capt", "Sgt", "Gov", "Govt", "Sen",
    "Rep", "Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov", "Dec",
    "Fig", "approx", "Messrs", "Pvt", "Bros", "Maj", "Adm", "Hon", "Ave", "Dept", "Est", "Mst",
};

/* Is the '.' at s[i] the end of an abbreviation or an initial? */
static bool abbreviation_before(const char *s, size_t i) {
    size_t w = i;
    while (w && is_letter((unsigned char)s[w - 1])) w--;
    size_t n = i - w;
    if (n == 0) return false;
    if (n == 1 && is_upper((unsigned char)s[w])) return true; /* "M. Raza", "U.S." */
    if (w && s[w - 1] == '.') return true;                     /* "U.S.", "e.g." */
    for (size_t a = 0; a < ARRAY_LEN(abbreviations); a++)
        if (strlen(abbreviations[a]) == n && !memcmp(s + w, abbreviations[a], n)) return true;
    return false;
}

/* After a terminator ending at j, skip closing quotes and brackets. */
static size_t skip_closers(const char *s, size_t j, size_t len) {
    for (;;) {
        if (j < len && strchr("\")]'", s[j]) && s[j]) j++;
        else if (starts_with(s, j, len, "\xE2\x80\x9D") || starts_with(s, j, len, "\xE2\x80\x99")) j += 3;
        else return j;
    }
}

static void emit_sentence(span_vec *sv, const char *s, size_t start, size_t end) {
    while (end > start && is_space((unsigned char)s[end - 1])) end--;
    if (end > start) push(sv, start, end, 0);
}

static size_t skip_space(const char *s, size_t i, size_t len) {
    while (i < len && is_space((unsigned char)s[i])) i++;
    return i;
}

size_t split_sentences(const char *s, size_t len, text_span **out) {
    span_vec sv = {0};
    size_t start = skip_space(s, 0, len);
    size_t i = start;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') {
            emit_sentence(&sv, s, start, i);
            i = start = skip_space(s, i + 1, len);
            continue;
        }
        bool ellipsis = starts_with(s, i, len, "\xE2\x80\xA6");
        if (c != '.' && c != '!' && c != '?' && !ellipsis) {
            i++;
            continue;
        }
        size_t j = i + (ellipsis ? 3 : 1);
        while (j < len && (s[j] == '.' || s[j] == '!' || s[j] == '?')) j++;
        j = skip_closers(s, j, len);
        if (j >= len) break;
        unsigned char next = (unsigned char)s[j];
        bool period = c == '.' && j == i + 1;
        if (is_space(next)) {
            size_t k = skip_space(s, j, len);
            if (k < len && period) {
                unsigned char after = (unsigned char)s[k];
                if (is_lower(after) || is_digit(after) || abbreviation_before(s, i)) {
                    i = j;
                    continue;
                }
            }
            emit_sentence(&sv, s, start, j);
            i = start = k;
            continue;
        }
        /* Glued: "reported.Sources", "said.“The" */
        bool opens = is_upper(next) || starts_with(s, j, len, "\xE2\x80\x9C") ||
                     starts_with(s, j, len, "\xE2\x80\x98");
        bool word_end = i >= 2 && ((is_lower((unsigned char)s[i - 1]) && is_letter((unsigned char)s[i - 2])) ||
                                   (is_digit((unsigned char)s[i - 1]) && is_digit((unsigned char)s[i - 2])) ||
                                   s[i - 1] == ')' || s[i - 1] == '"');
        if (opens && (!period || (word_end && !abbreviation_before(s, i)))) {
            emit_sentence(&sv, s, start, j);
            i = start = j;
            continue;
        }
        i = j;
    }
    emit_sentence(&sv, s, start, len);
    *out = sv.v;
    return sv.n;
}

/* Length of the UTF-8 character starting at s[i] (1 for a stray byte). */
static size_t char_len(const char *s, size_t i, size_t len) {
    unsigned char c = (unsigned char)s[i];
    size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    return i + n <= len ? n : 1;
}

static bool prefix_fits(const tokenizer *tok, const char *s, const size_t *bounds, size_t from,
                        size_t to, int budget) {
    return count_pieces(tok, s + bounds[from], bounds[to] - bounds[from]) <= budget;
}

/* A word of more than budget pieces (a long run with no space): cut at
 * character boundaries (never inside a UTF-8 sequence), each cut the longest
 * prefix that fits. The cut is found by galloping (32, 64, 128 … characters)
 * then bisecting, so each costs tokenising about twice its own length, not
 * the rest of the word: a megabyte-long run stays linear-logarithmic. */
static void split_word(const tokenizer *tok, const char *s, size_t start, size_t end, int budget,
                       span_vec *units) {
    size_t *bounds = xmalloc((end - start + 1) * sizeof *bounds);
    size_t nb = 0;
    for (size_t i = start; i < end; i += char_len(s, i, end)) bounds[nb++] = i;
    bounds[nb++] = end; /* bounds[0] == start; cuts are indices 1 … nb-1 */
    size_t from = 0;
    while (from + 1 < nb) {
        size_t fits = from + 1; /* one character is always taken */
        size_t fails = nb;      /* first index known not to fit (nb: none) */
        for (size_t step = 32;; step *= 2) {
            size_t probe = from + step < nb - 1 ? from + step : nb - 1;
            if (probe <= fits) break;
            if (!prefix_fits(tok, s, bounds, from, probe, budget)) {
                fails = probe;
                break;
            }
            fits = probe;
            if (probe == nb - 1) break;
        }
        /* the last fitting index lies in [fits, fails) */
        size_t lo = fits, hi = fails - 1;
        while (lo < hi) {
            size_t mid = lo + (hi - lo + 1) / 2;
            if (prefix_fits(tok, s, bounds, from, mid, budget)) lo = mid;
            else hi = mid - 1;
        }
        push(units, bounds[from], bounds[lo], count_pieces(tok, s + bounds[from], bounds[lo] - bounds[from]));
        from = lo;
    }
    free(bounds);
}

/* A sentence of more than budget pieces, cut at word boundaries. */
static void split_long_sentence(const tokenizer *tok, const char *s, size_t start, size_t end,
                                int budget, span_vec *units) {
    size_t unit_start = start, unit_end = start;
    int unit_pieces = 0;
    size_t i = start;
    while (i < end) {
        size_t w = skip_space(s, i, end);
        if (w >= end) break;
        size_t we = w;
        while (we < end && !is_space((unsigned char)s[we])) we++;
        int p = count_pieces(tok, s + w, we - w);
        if (unit_pieces && unit_pieces + p > budget) {
            push(units, unit_start, unit_end, unit_pieces);
            unit_pieces = 0;
        }
        if (!unit_pieces) unit_start = w;
        if (p > budget) {
            split_word(tok, s, w, we, budget, units);
        } else {
            unit_end = we;
            unit_pieces += p;
        }
        i = we;
    }
    if (unit_pieces) push(units, unit_start, unit_end, unit_pieces);
}

size_t split_passages(const tokenizer *tok, const char *s, size_t len, int budget,
                      text_span **out) {
    text_span *sentences;
    size_t ns = split_sentences(s, len, &sentences);
    span_vec units = {0}, passages = {0};
    for (size_t k = 0; k < ns; k++) {
        int p = count_pieces(tok, s + sentences[k].start, sentences[k].end - sentences[k].start);
        if (p <= budget) {
            if (p > 0) push(&units, sentences[k].start, sentences[k].end, p);
        } else {
            split_long_sentence(tok, s, sentences[k].start, sentences[k].end, budget, &units);
        }
    }
    free(sentences);
    size_t i = 0;
    while (i < units.n) {
        size_t j = i;
        int total = 0;
        while (j < units.n && total + units.v[j].pieces <= budget) total += units.v[j++].pieces;
        if (j == i) j = i + 1; /* cannot happen: every unit fits */
        int real = count_pieces(tok, s + units.v[i].start, units.v[j - 1].end - units.v[i].start);
        while (real > budget && j > i + 1) {
            j--;
            real = count_pieces(tok, s + units.v[i].start, units.v[j - 1].end - units.v[i].start);
        }
        push(&passages, units.v[i].start, units.v[j - 1].end, real);
        if (j >= units.n) break;
        size_t next = j;
        if (j - 1 > i && units.v[j - 1].pieces * 3 <= budget &&
            units.v[j - 1].pieces + units.v[j].pieces <= budget)
            next = j - 1;
        i = next;
    }
    free(units.v);
    *out = passages.v;
    return passages.n;
}
