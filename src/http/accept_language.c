/* accept_language — Accept-Language negotiation (see accept_language.h). */
#include "http/accept_language.h"

#include <assert.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#define Q_MAX 1000 /* weights are kept in thousandths: q=0.5 is 500 */

static bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static const char *skip_ows(const char *p) {
    while (*p == ' ' || *p == '\t') p++;
    return p;
}

/* language-range = 1*8ALPHA *("-" 1*8alphanum) / "*". Returns the end, or NULL. */
static const char *parse_range(const char *p) {
    if (*p == '*') return p + 1;
    size_t n = 0;
    while (is_alpha(p[n])) n++;
    if (n < 1 || n > 8) return NULL;
    p += n;
    while (*p == '-') {
        p++;
        n = 0;
        while (is_alpha(p[n]) || is_digit(p[n])) n++;
        if (n < 1 || n > 8) return NULL;
        p += n;
    }
    return p;
}

/* qvalue = "0" ["." 0*3DIGIT] / "1" ["." 0*3"0"], into thousandths. Returns the end, or NULL. */
static const char *parse_qvalue(const char *p, int *q) {
    if (*p != '0' && *p != '1') return NULL;
    bool one = *p == '1';
    int value = one ? Q_MAX : 0;
    p++;
    if (*p == '.') {
        p++;
        int scale = 100;
        for (int i = 0; i < 3 && is_digit(*p); i++, p++, scale /= 10) {
            if (one && *p != '0') return NULL;
            value += (*p - '0') * scale;
        }
        if (is_digit(*p)) return NULL; /* a fourth decimal */
    }
    *q = value;
    return p;
}

/* Does range [r, r+len) name tag ("ru" names ru, ru-RU)? `*` names nothing here. */
static bool names(const char *r, size_t len, const char *tag) {
    size_t t = strlen(tag);
    return len >= t && strncasecmp(r, tag, t) == 0 && (len == t || r[t] == '-');
}

typedef struct weight {
    int q;      /* thousandths; -1: no range applies */
    int pos;    /* index of the element that gave q */
    bool star;  /* q came from `*` */
} weight;

/* Walk the header once for tag. Returns false when the header is malformed. */
static bool weigh(const char *header, const char *tag, weight *out) {
    weight named = {-1, 0, false}, star = {-1, 0, true};
    const char *p = header;
    for (int pos = 0;; pos++) {
        p = skip_ows(p);
        if (*p == '\0') break;
        if (*p == ',') { /* an empty list element is allowed (RFC 9110 §5.6.1) */
            p++;
            continue;
        }
        const char *range = p;
        p = parse_range(p);
        if (!p) return false;
        size_t range_len = (size_t)(p - range);
        int q = Q_MAX;
        p = skip_ows(p);
        if (*p == ';') {
            p = skip_ows(p + 1);
            if ((*p != 'q' && *p != 'Q') || p[1] != '=') return false;
            p = parse_qvalue(p + 2, &q);
            if (!p) return false;
            p = skip_ows(p);
        }
        if (*p != ',' && *p != '\0') return false;
        if (*p == ',') p++;
        bool is_star = range_len == 1 && range[0] == '*';
        weight *w = is_star ? &star : names(range, range_len, tag) ? &named : NULL;
        if (w && q > w->q) {
            w->q = q;
            w->pos = pos;
        }
    }
    *out = named.q >= 0 ? named : star;
    return true;
}

size_t accept_language_pick(const char *header, const char *const *offered, size_t n) {
    assert(n >= 1);
    if (!header) return 0;
    size_t best = 0;
    weight best_w = {0, 0, true}; /* anything must beat q=0 to be chosen */
    bool found = false;
    for (size_t i = 0; i < n; i++) {
        assert(offered[i] && offered[i][0]);
        weight w;
        if (!weigh(header, offered[i], &w)) return 0;
        if (w.q <= 0) continue;
        /* Higher weight wins; on equal weight a named tag beats a `*` one, and
         * of two named tags the one named first. Two `*` tags tie: the earlier offered. */
        bool better = !found || w.q > best_w.q ||
                      (w.q == best_w.q && !w.star && (best_w.star || w.pos < best_w.pos));
        if (better) {
            best = i;
            best_w = w;
            found = true;
        }
    }
    return found ? best : 0;
}
