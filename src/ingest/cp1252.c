/* cp1252 — see cp1252.h. */
#include "ingest/cp1252.h"

#include <stdint.h>

/* 0x80–0x9F, from the Unicode consortium's CP1252.TXT; the undefined five are
 * their C1 equivalents (see the header). */
static const uint16_t high_table[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, /* 80–87 */
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F, /* 88–8F */
    0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, /* 90–97 */
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178, /* 98–9F */
};

unsigned cp1252_codepoint(unsigned char byte) {
    if (byte >= 0x80 && byte <= 0x9F) return high_table[byte - 0x80];
    return byte;
}

size_t cp1252_to_utf8(const char *in, size_t n, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned cp = cp1252_codepoint((unsigned char)in[i]);
        if (cp < 0x80) {
            out[o++] = (char)cp;
        } else if (cp < 0x800) {
            out[o++] = (char)(0xC0 | (cp >> 6));
            out[o++] = (char)(0x80 | (cp & 0x3F));
        } else {
            out[o++] = (char)(0xE0 | (cp >> 12));
            out[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            out[o++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    out[o] = '\0';
    return o;
}
