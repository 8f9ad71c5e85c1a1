/* clean_text — see clean_text.h for what is removed and why. */
#include "ingest/clean_text.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "util/buf.h"
#include "util/util.h"

/* INLINE: a space where words would touch; BLOCK: a line break where words
 * would touch; BREAK: always a line break (br, p, div …); RAW: block whose
 * content goes too (script, style). */
typedef enum { TAG_INLINE, TAG_BLOCK, TAG_BREAK, TAG_RAW } tag_kind;

typedef struct tag_name {
    const char *name;
    tag_kind kind;
} tag_name;

/* Longest names first so that prefix matching prefers "strong" over "s". */
static const tag_name known_tags[] = {
    {"blockquote", TAG_BREAK}, {"figcaption", TAG_BREAK}, {"noscript", TAG_BLOCK},
    {"iframe", TAG_BLOCK},     {"script", TAG_RAW},       {"strong", TAG_BLOCK},
    {"center", TAG_BREAK},     {"figure", TAG_BREAK},     {"strike", TAG_INLINE},
    {"table", TAG_BREAK},      {"style", TAG_RAW},        {"small", TAG_INLINE},
    {"tbody", TAG_BREAK},      {"thead", TAG_BREAK},      {"font", TAG_INLINE},
    {"span", TAG_INLINE},      {"link", TAG_BLOCK},       {"meta", TAG_BLOCK},
    {"abbr", TAG_INLINE},      {"cite", TAG_INLINE},      {"mark", TAG_INLINE},
    {"code", TAG_INLINE},      {"time", TAG_INLINE},      {"div", TAG_BREAK},
    {"img", TAG_BLOCK},        {"sup", TAG_INLINE},       {"sub", TAG_INLINE},
    {"big", TAG_INLINE},       {"ins", TAG_INLINE},       {"del", TAG_INLINE},
    {"br", TAG_BREAK},         {"hr", TAG_BREAK},         {"li", TAG_BREAK},
    {"ul", TAG_BREAK},         {"ol", TAG_BREAK},         {"tr", TAG_BREAK},
    {"td", TAG_BREAK},         {"th", TAG_BREAK},         {"h1", TAG_BREAK},
    {"h2", TAG_BREAK},         {"h3", TAG_BREAK},         {"h4", TAG_BREAK},
    {"h5", TAG_BREAK},         {"h6", TAG_BREAK},         {"em", TAG_INLINE},
    {"p", TAG_BREAK},          {"a", TAG_INLINE},         {"b", TAG_INLINE},
    {"i", TAG_INLINE},         {"u", TAG_INLINE},         {"q", TAG_INLINE},
    {"s", TAG_INLINE},
};

static bool is_alpha(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static bool is_alnum(int c) { return is_alpha(c) || (c >= '0' && c <= '9'); }
static bool is_space(int c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f'; }
static bool is_attr_char(int c) { return is_alnum(c) || c == '-' || c == '_' || c == ':' || c == '.'; }

/* The known tag whose name starts s[0..n) (case-insensitive), longest first.
 * With need_end, the name must not run on into letters or digits. */
static const tag_name *match_tag(const char *s, size_t n, bool need_end) {
    for (size_t t = 0; t < ARRAY_LEN(known_tags); t++) {
        size_t len = strlen(known_tags[t].name);
        if (len > n || strncasecmp(s, known_tags[t].name, len)) continue;
        if (need_end && len < n && is_alnum((unsigned char)s[len])) continue;
        return &known_tags[t];
    }
    return NULL;
}

/* Where a removed tag was, keep words apart: a line break for block tags, a
 * space for inline ones, nothing if whitespace or punctuation already
 * separates them. */
static void separate(buf *out, tag_kind kind, const char *s, size_t i, size_t n) {
    if (!out->len || i >= n) return;
    unsigned char next = (unsigned char)s[i];
    if (strchr(",.;:!?)]", next)) return;
    if (kind == TAG_BREAK) {
        buf_putc(out, '\n'); /* whitespace around it merges into the break */
        return;
    }
    if (is_space((unsigned char)out->data[out->len - 1]) || is_space(next)) return;
    buf_putc(out, kind == TAG_INLINE ? ' ' : '\n');
}

/* Skip past the first occurrence of the case-insensitive needle at or after
 * i (to n if absent). */
static size_t skip_past(const char *s, size_t i, size_t n, const char *needle) {
    size_t k = strlen(needle);
    for (; i + k <= n; i++)
        if (!strncasecmp(s + i, needle, k)) return i + k;
    return n;
}

/* Attributes after a tag name: name, name=value, name="value". Stops at '>'
 * (consumed), "/>" (consumed), a lone '/' (consumed: "…width=\"100%\"/The")
 * or anything that cannot continue a tag. */
static size_t skip_attributes(const char *s, size_t j, size_t n) {
    for (;;) {
        while (j < n && is_space((unsigned char)s[j])) j++;
        if (j >= n) return j;
        if (s[j] == '>') return j + 1;
        if (s[j] == '/') return j + 1 < n && s[j + 1] == '>' ? j + 2 : j + 1;
        if (!is_alpha((unsigned char)s[j]) && s[j] != '_' && s[j] != ':') return j;
        while (j < n && is_attr_char((unsigned char)s[j])) j++;
        size_t k = j;
        while (k < n && s[k] == ' ') k++;
        if (k < n && s[k] == '=') {
            k++;
            while (k < n && s[k] == ' ') k++;
            if (k < n && (s[k] == '"' || s[k] == '\'')) {
                const char *close = memchr(s + k + 1, s[k], n - k - 1);
                if (!close || close - (s + k) > 2000) return j;
                j = (size_t)(close - s) + 1;
            } else {
                while (k < n && !is_space((unsigned char)s[k]) && s[k] != '>') k++;
                j = k;
            }
        }
    }
}

/* s[i] == '<': the end of the markup starting there, or i if it is prose
 * ("x < y"). *kind receives the tag's kind. */
static size_t skip_tag(const char *s, size_t i, size_t n, tag_kind *kind) {
    *kind = TAG_BLOCK;
    if (i + 4 <= n && !strncmp(s + i, "<!--", 4)) return skip_past(s, i + 4, n, "-->");
    if (i + 9 <= n && !strncmp(s + i, "<![CDATA[", 9)) return skip_past(s, i + 9, n, "]]>");
    if (i + 2 <= n && s[i + 1] == '!') return skip_past(s, i + 2, n, ">"); /* <!DOCTYPE …> */
    size_t j = i + 1;
    bool closing = j < n && s[j] == '/';
    if (closing) j++;
    const tag_name *t = match_tag(s + j, n - j, true);
    if (!t && closing) {
        /* A closing tag that lost its '>': "</strongThe" */
        t = match_tag(s + j, n - j, false);
        if (t) {
            *kind = t->kind;
            return j + strlen(t->name);
        }
    }
    if (!t) {
        /* An unknown tag: a letter run followed by something a tag can hold. */
        size_t k = j;
        while (k < n && is_alnum((unsigned char)s[k])) k++;
        if (k == j || !is_alpha((unsigned char)s[j]) || k >= n ||
            !(s[k] == '>' || s[k] == '/' || s[k] == ' '))
            return i;
        if (s[k] == ' ' && !(k + 1 < n && is_alpha((unsigned char)s[k + 1]))) return i;
        j = skip_attributes(s, k, n);
        return j;
    }
    *kind = t->kind == TAG_RAW ? TAG_BLOCK : t->kind;
    j = skip_attributes(s, j + strlen(t->name), n);
    if (t->kind == TAG_RAW && !closing) {
        /* script/style: their content is code, not prose. */
        char end[16] = "</";
        strcat(end, t->name);
        size_t close = skip_past(s, j, n, end);
        if (close < n) close = skip_attributes(s, close, n);
        j = close;
    }
    return j;
}

/* A '>' nothing consumed: remove a tag tail just written to out (see the
 * header). Returns the tail's kind, or -1 if the '>' is prose. */
static int strip_tag_tail(buf *out) {
    size_t k = out->len;
    const char *o = out->data;
    bool found = false;
    tag_kind kind = TAG_INLINE;
    if (k && o[k - 1] == '/') k--, found = true, kind = TAG_BREAK; /* "./>": a <br/> tail */
    /* attributes, right to left */
    for (;;) {
        size_t m = k;
        while (m && o[m - 1] == ' ') m--;
        if (!m || (o[m - 1] != '"' && o[m - 1] != '\'')) break;
        char q = o[m - 1];
        size_t open = m - 1;
        while (open && o[open - 1] != q && o[open - 1] != '\n' && m - open < 600) open--;
        if (!open || o[open - 1] != q) break;
        size_t eq = open - 1; /* the quote */
        while (eq && o[eq - 1] == ' ') eq--;
        if (!eq || o[eq - 1] != '=') break;
        size_t name_end = eq - 1;
        while (name_end && o[name_end - 1] == ' ') name_end--;
        size_t name = name_end;
        while (name && (is_alpha((unsigned char)o[name - 1]) || o[name - 1] == '-')) name--;
        if (name == name_end) break;
        k = name;
        found = true;
        kind = TAG_INLINE;
    }
    /* a tag name glued to the text before it */
    size_t m = k;
    while (m && o[m - 1] == ' ') m--;
    for (size_t t = 0; t < ARRAY_LEN(known_tags); t++) {
        size_t len = strlen(known_tags[t].name);
        if (len > m || strncasecmp(o + m - len, known_tags[t].name, len)) continue;
        /* short names only stand alone: "them>" is not "em>" */
        if (len < 4 && m > len && is_alnum((unsigned char)o[m - len - 1])) continue;
        if (m - len && o[m - len - 1] == '<') continue;
        k = m - len;
        kind = known_tags[t].kind == TAG_RAW ? TAG_BLOCK : known_tags[t].kind;
        found = true;
        break;
    }
    if (!found) return -1;
    if (k && o[k - 1] == '/') k--; /* "</strong>" that lost its '<' */
    out->len = k;
    out->data[k] = '\0';
    return (int)kind;
}

typedef struct entity {
    const char *name;
    const char *utf8;
} entity;

static const entity entities[] = {
    {"amp", "&"},       {"lt", "<"},        {"gt", ">"},        {"quot", "\""},
    {"apos", "'"},      {"nbsp", "\xC2\xA0"}, {"ndash", "\xE2\x80\x93"}, {"mdash", "\xE2\x80\x94"},
    {"lsquo", "\xE2\x80\x98"}, {"rsquo", "\xE2\x80\x99"}, {"ldquo", "\xE2\x80\x9C"},
    {"rdquo", "\xE2\x80\x9D"}, {"hellip", "\xE2\x80\xA6"},
};

static void put_codepoint(buf *out, unsigned cp) {
    char u[4];
    size_t n;
    if (cp < 0x80) u[0] = (char)cp, n = 1;
    else if (cp < 0x800) u[0] = (char)(0xC0 | (cp >> 6)), u[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
    else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12)), u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18)), u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), u[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
    }
    buf_append(out, u, n);
}

/* s[i] == '&': decode an entity into out and return the index after it, or
 * return i if it is a plain ampersand ("S&P"). */
static size_t decode_entity(buf *out, const char *s, size_t i, size_t n) {
    const char *semi = memchr(s + i, ';', n - i < 12 ? n - i : 12);
    if (!semi) return i;
    size_t len = (size_t)(semi - (s + i)) - 1, start = i + 1;
    if (len >= 2 && s[start] == '#') {
        unsigned cp = 0;
        bool hex = s[start + 1] == 'x' || s[start + 1] == 'X';
        size_t k = start + 1 + hex;
        if (k == start + 1 + len) return i;
        for (; k < start + len; k++) {
            int c = (unsigned char)s[k], d;
            if (c >= '0' && c <= '9') d = c - '0';
            else if (hex && c >= 'a' && c <= 'f') d = c - 'a' + 10;
            else if (hex && c >= 'A' && c <= 'F') d = c - 'A' + 10;
            else return i;
            cp = cp * (hex ? 16 : 10) + (unsigned)d;
            if (cp > 0x10FFFF) return i;
        }
        if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
        put_codepoint(out, cp);
        return (size_t)(semi - s) + 1;
    }
    for (size_t e = 0; e < ARRAY_LEN(entities); e++) {
        if (strlen(entities[e].name) == len && !strncmp(s + start, entities[e].name, len)) {
            buf_puts(out, entities[e].utf8);
            return (size_t)(semi - s) + 1;
        }
    }
    return i;
}

/* A tag that lost its '<' and its '>' but kept its attributes: "img alt=\"\"
 * src=…/" glued to the text before it. A known name of three or more letters,
 * one space, an attribute name, '=' and a quote. Returns the end, or i. */
static size_t skip_headless_tag(const char *s, size_t i, size_t n, tag_kind *kind) {
    const char *eq = memchr(s + i, '=', n - i < 24 ? n - i : 24);
    if (!eq || eq + 1 >= s + n || (eq[1] != '"' && eq[1] != '\'')) return i;
    for (size_t t = 0; t < ARRAY_LEN(known_tags); t++) {
        size_t len = strlen(known_tags[t].name);
        if (len < 3 || i + len + 1 >= n || strncasecmp(s + i, known_tags[t].name, len) ||
            s[i + len] != ' ')
            continue;
        size_t a = i + len + 1;
        while (a < n && (is_alpha((unsigned char)s[a]) || s[a] == '-')) a++;
        if (a == i + len + 1 || s + a != eq) continue;
        *kind = known_tags[t].kind == TAG_RAW ? TAG_BLOCK : known_tags[t].kind;
        return skip_attributes(s, i + len, n);
    }
    return i;
}

/* Pass 1: markup out, entities decoded. */
static void strip_markup(const char *s, size_t n, buf *out) {
    size_t i = 0;
    while (i < n) {
        char c = s[i];
        if (c == '<') {
            tag_kind kind;
            size_t end = skip_tag(s, i, n, &kind);
            if (end > i) {
                separate(out, kind, s, end, n);
                i = end;
                continue;
            }
        } else if (c == '>') {
            int kind = strip_tag_tail(out);
            if (kind >= 0) {
                separate(out, (tag_kind)kind, s, i + 1, n);
                i++;
                continue;
            }
        } else if (is_alpha((unsigned char)c)) {
            tag_kind kind;
            size_t end = skip_headless_tag(s, i, n, &kind);
            if (end > i) {
                separate(out, kind, s, end, n);
                i = end;
                continue;
            }
        } else if (c == '&') {
            size_t end = decode_entity(out, s, i, n);
            if (end > i) {
                i = end;
                continue;
            }
        }
        buf_putc(out, c);
        i++;
    }
}

/* Length of a whitespace character at s[i] (0 if none); *newline is set if
 * it breaks a line. */
static size_t space_len(const unsigned char *s, size_t i, size_t n, bool *newline) {
    unsigned c = s[i];
    *newline = c == '\n' || c == '\r' || c == '\v' || c == '\f';
    if (c == ' ' || c == '\t' || *newline) return 1;
    if (c == 0xC2 && i + 1 < n && (s[i + 1] == 0xA0 || s[i + 1] == 0x85)) {
        *newline = s[i + 1] == 0x85; /* U+0085 NEXT LINE */
        return 2;
    }
    if (c == 0xE2 && i + 2 < n) {
        unsigned c1 = s[i + 1], c2 = s[i + 2];
        if (c1 == 0x80 && ((c2 >= 0x80 && c2 <= 0x8A) || c2 == 0xAF)) return 3; /* U+2000–200A, 202F */
        if (c1 == 0x80 && (c2 == 0xA8 || c2 == 0xA9)) return *newline = true, 3; /* U+2028/2029 */
        if (c1 == 0x81 && c2 == 0x9F) return 3;                                /* U+205F */
    }
    if (c == 0xE3 && i + 2 < n && s[i + 1] == 0x80 && s[i + 2] == 0x80) return 3; /* U+3000 */
    return 0;
}

/* Length of a control character at s[i] to drop (C0 other than whitespace,
 * DEL, C1), or 0. */
static size_t control_len(const unsigned char *s, size_t i, size_t n) {
    if (s[i] < 0x20 || s[i] == 0x7F) return 1;
    if (s[i] == 0xC2 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0x9F) return 2;
    return 0;
}

static bool is_letter_before(const buf *out) {
    if (!out->len) return false;
    unsigned char c = (unsigned char)out->data[out->len - 1];
    return is_alpha(c) || c >= 0x80;
}

/* Pass 2: whitespace, controls, the acute-accent apostrophe. */
static void normalise(const char *str, size_t n, buf *out) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    bool pending_space = false, pending_newline = false;
    while (i < n) {
        bool nl;
        size_t k = space_len(s, i, n, &nl);
        if (k) {
            pending_space = true;
            pending_newline |= nl;
            i += k;
            continue;
        }
        if (s[i] != '\t' && (k = control_len(s, i, n))) {
            i += k;
            continue;
        }
        if (pending_space && out->len) buf_putc(out, pending_newline ? '\n' : ' ');
        pending_space = pending_newline = false;
        /* U+00B4 ACUTE ACCENT between letters: an apostrophe. */
        if (s[i] == 0xC2 && i + 2 < n && s[i + 1] == 0xB4 && is_letter_before(out) &&
            (is_alpha(s[i + 2]) || s[i + 2] >= 0xC3)) {
            buf_puts(out, "\xE2\x80\x99");
            i += 2;
            continue;
        }
        buf_putc(out, (char)s[i]);
        i++;
    }
}

char *clean_text(const char *s, size_t n, size_t *out_len) {
    buf stripped = BUF_INIT, out = BUF_INIT;
    strip_markup(s, n, &stripped);
    normalise(stripped.data ? stripped.data : "", stripped.len, &out);
    buf_free(&stripped);
    if (!out.data) buf_reserve(&out, 1);
    out.data[out.len] = '\0';
    if (out_len) *out_len = out.len;
    return buf_detach(&out);
}
