/* base64 — standard base64 (RFC 4648 §4, with '=' padding) appended to a buf.
 *
 * Written here rather than taken from a library because it sits on the
 * embeddings hot path (every base64 /v1/embeddings answer, 1536 bytes per
 * vector) and is a dozen lines; the Debian candidates (GLib, OpenSSL's
 * EVP_EncodeBlock) would add a dependency for it alone.
 */
#ifndef RAGD_UTIL_BASE64_H
#define RAGD_UTIL_BASE64_H

#include <stddef.h>

#include "util/buf.h"

/* The length base64_append adds for len bytes. */
size_t base64_encoded_len(size_t len);
void base64_append(buf *out, const void *data, size_t len);

#endif
