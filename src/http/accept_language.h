/* accept_language — which of the languages a server offers an Accept-Language
 * header prefers (RFC 9110 §12.5.4), as a pure function: no allocation, no
 * state, so it is unit-tested directly and safe on any thread.
 *
 * The rules, chosen so a browser's header does what its user means and a
 * broken header cannot pick a language by accident:
 *   - Each element is a language range (`ru`, `ru-RU`, `*`) with an optional
 *     `;q=` weight (0 to 1, at most three decimals; absent means 1).
 *     Whitespace around elements and `;` is allowed, empty elements skipped.
 *   - A range matches an offered tag when it equals it or starts with it and
 *     a `-` (`ru-RU` counts as `ru`), case-insensitively. `*` matches every
 *     tag no other range names.
 *   - An offered tag's weight is the highest of the ranges naming it, else the
 *     weight of `*`, else 0. The highest weight above 0 wins; on a tie a tag
 *     the header names beats one only `*` covers, of two named tags the one
 *     named first wins, and of two covered by `*` the one offered first.
 *   - The default (offered[0]) is chosen when the header is absent, empty,
 *     malformed anywhere (a bad range, a bad weight, a parameter other than
 *     q) or accepts none of the offered tags.
 */
#ifndef RAGD_HTTP_ACCEPT_LANGUAGE_H
#define RAGD_HTTP_ACCEPT_LANGUAGE_H

#include <stddef.h>

/* offered: n >= 1 primary language tags in lower case ("en", "ru"), the
 * default first. header may be NULL. Returns an index into offered. */
size_t accept_language_pick(const char *header, const char *const *offered, size_t n);

#endif
