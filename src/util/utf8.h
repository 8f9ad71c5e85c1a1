/* utf8 — validating UTF-8, the one check every boundary where outside bytes
 * become text (the corpus reader, query strings) must pass them through. */
#ifndef RAGD_UTIL_UTF8_H
#define RAGD_UTIL_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True if the n bytes are well-formed UTF-8 (no overlongs, surrogates or
 * code points above U+10FFFF). */
bool utf8_valid(const char *s, size_t n);

#endif
