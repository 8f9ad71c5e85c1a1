/* cp1252 — Windows-1252 bytes to UTF-8, exactly, and UTF-8 validation.
 *
 * The news corpus was exported from a Windows tool: curly quotes (0x91–0x94),
 * dashes (0x96/0x97), the ellipsis (0x85) and non-breaking spaces (0xA0) are
 * single cp1252 bytes. 0x80–0x9F go through a hand-written table (that range
 * is where cp1252 differs from Latin-1); 0xA0–0xFF are U+00A0–U+00FF. The five
 * bytes cp1252 leaves undefined (0x81 0x8D 0x8F 0x90 0x9D) map to the C1
 * control of the same value (U+0081 …), as the WHATWG Encoding Standard and
 * Windows' MultiByteToWideChar do: nothing is lost, and the tokenizer drops
 * control characters anyway.
 */
#ifndef RAGD_INGEST_CP1252_H
#define RAGD_INGEST_CP1252_H

#include <stdbool.h>
#include <stddef.h>

#include "util/utf8.h" /* utf8_valid, used with the conversion */

/* The code point of one cp1252 byte. */
unsigned cp1252_codepoint(unsigned char byte);

/* Convert n bytes; out needs room for 3 * n + 1 bytes (every cp1252 byte is
 * at most three UTF-8 bytes). Returns the UTF-8 length; out is NUL-terminated. */
size_t cp1252_to_utf8(const char *in, size_t n, char *out);

#endif
