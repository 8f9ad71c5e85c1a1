/* buf — a growable byte buffer, the one string builder of ragd.
 *
 * A buf owns its bytes; data is always NUL-terminated so it can be handed to
 * C string APIs, and len never counts that NUL. Appending never fails: like
 * Redis's zmalloc, running out of memory aborts the process with a message
 * (see util.h), because every caller would do exactly that anyway.
 */
#ifndef RAGD_UTIL_BUF_H
#define RAGD_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct buf {
    char *data;
    size_t len;
    size_t cap;
} buf;

#define BUF_INIT {NULL, 0, 0}

void buf_reserve(buf *b, size_t extra);
void buf_append(buf *b, const void *data, size_t len);
void buf_puts(buf *b, const char *s);
void buf_putc(buf *b, char c);
void buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(buf *b, const char *fmt, va_list ap);
/* Append s as the body of a JSON string (no surrounding quotes). */
void buf_json_escape(buf *b, const char *s, size_t len);
void buf_clear(buf *b);
/* Hand the bytes to the caller (who frees them); b is left empty. */
char *buf_detach(buf *b);
void buf_free(buf *b);

#endif
