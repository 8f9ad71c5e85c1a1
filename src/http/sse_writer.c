/* sse_writer — see sse_writer.h. */
#include "http/sse_writer.h"

#include <assert.h>

/* Append s without CR and LF, which a field line cannot carry. */
static void put_single_line(buf *out, const char *s) {
    for (; *s; s++)
        if (*s != '\r' && *s != '\n') buf_putc(out, *s);
}

void sse_write_event(buf *out, const char *event, const char *id, const char *data,
                     size_t data_len) {
    assert(data || data_len == 0);
    if (event) {
        buf_puts(out, "event: ");
        put_single_line(out, event);
        buf_putc(out, '\n');
    }
    if (id) {
        buf_puts(out, "id: ");
        put_single_line(out, id);
        buf_putc(out, '\n');
    }
    size_t i = 0;
    for (;;) {
        size_t j = i;
        while (j < data_len && data[j] != '\n' && data[j] != '\r') j++;
        buf_puts(out, "data: ");
        buf_append(out, data + i, j - i);
        buf_putc(out, '\n');
        if (j == data_len) break;
        if (data[j] == '\r' && j + 1 < data_len && data[j + 1] == '\n') j++;
        i = j + 1;
    }
    buf_putc(out, '\n');
}

void sse_write_comment(buf *out, const char *text) {
    buf_puts(out, ": ");
    put_single_line(out, text);
    buf_putc(out, '\n');
}

void sse_write_retry(buf *out, long retry_ms) {
    buf_printf(out, "retry: %ld\n\n", retry_ms < 0 ? 0 : retry_ms);
}
