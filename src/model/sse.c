/* sse — the Server-Sent Events parser (see sse.h for the rules).
 *
 * The parser is a line splitter feeding a field interpreter. Bytes between
 * line ends are appended to `line` in one copy per chunk, so feeding a large
 * chunk costs one pass; the only state carried across chunks is the
 * unfinished line and whether the chunk ended on a CR (whose LF, if any,
 * arrives first in the next chunk and must not end a second, empty line).
 */
#include "model/sse.h"

#include <string.h>

#include "util/util.h"

void sse_parser_init(sse_parser *p, sse_event_fn on_event, void *ctx) {
    memset(p, 0, sizeof *p);
    p->on_event = on_event;
    p->ctx = ctx;
    p->max_event = SSE_DEFAULT_MAX_EVENT;
    p->retry_ms = -1;
}

void sse_parser_free(sse_parser *p) {
    buf_free(&p->line);
    buf_free(&p->data);
    buf_free(&p->event);
    buf_free(&p->id);
}

static int dispatch(sse_parser *p) {
    if (p->data.len == 0) { /* an event without data is not dispatched */
        buf_clear(&p->event);
        return 0;
    }
    p->data.data[--p->data.len] = '\0'; /* the '\n' after the last data line */
    sse_event ev = {
        .event = p->event.len ? p->event.data : "message",
        .data = p->data.data,
        .data_len = p->data.len,
        .id = p->id.len ? p->id.data : "",
        .retry_ms = p->retry_ms,
    };
    int stop = p->on_event(&ev, p->ctx);
    buf_clear(&p->data);
    buf_clear(&p->event);
    return stop;
}

static bool field_is(const char *name, size_t len, const char *want) {
    return len == strlen(want) && memcmp(name, want, len) == 0;
}

static void set_retry(sse_parser *p, const char *v, size_t len) {
    if (len == 0) return;
    long ms = 0;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9') return;
        if (ms < 1000000000L) ms = ms * 10 + (v[i] - '0'); /* saturate, never overflow */
    }
    p->retry_ms = ms;
}

/* Interpret one complete line (without its line end). Returns the callback's
 * stop value when the line dispatched an event. */
static int process_line(sse_parser *p) {
    const char *s = p->line.data ? p->line.data : "";
    size_t len = p->line.len;
    if (!p->bom_checked) {
        p->bom_checked = 1;
        if (len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) s += 3, len -= 3;
    }
    if (len == 0) return dispatch(p);
    if (s[0] == ':') return 0; /* comment */
    const char *colon = memchr(s, ':', len);
    size_t name_len = colon ? (size_t)(colon - s) : len;
    const char *value = colon ? colon + 1 : s + len;
    size_t value_len = (size_t)(s + len - value);
    if (value_len && value[0] == ' ') value++, value_len--;

    if (field_is(s, name_len, "data")) {
        buf_append(&p->data, value, value_len);
        buf_putc(&p->data, '\n');
    } else if (field_is(s, name_len, "event")) {
        buf_clear(&p->event);
        buf_append(&p->event, value, value_len);
    } else if (field_is(s, name_len, "id")) {
        if (!memchr(value, '\0', value_len)) {
            buf_clear(&p->id);
            buf_append(&p->id, value, value_len);
        }
    } else if (field_is(s, name_len, "retry")) {
        set_retry(p, value, value_len);
    }
    return 0;
}

static bool too_big(const sse_parser *p) {
    return p->line.len + p->data.len + p->event.len > p->max_event;
}

int sse_parser_feed(sse_parser *p, const char *bytes, size_t len, char *err, size_t errlen) {
    if (p->stopped < 0) return seterr(err, errlen, "server-sent events: the stream failed earlier");
    if (p->stopped) return 1;
    size_t i = 0;
    if (len && p->after_cr) {
        p->after_cr = 0;
        if (bytes[0] == '\n') i = 1;
    }
    while (i < len) {
        size_t j = i;
        while (j < len && bytes[j] != '\n' && bytes[j] != '\r') j++;
        buf_append(&p->line, bytes + i, j - i);
        if (too_big(p)) {
            p->stopped = -1;
            return seterr(err, errlen, "server-sent event larger than %zu bytes", p->max_event);
        }
        if (j == len) break; /* the line goes on in the next chunk */
        if (bytes[j] == '\r') {
            if (j + 1 < len) {
                if (bytes[j + 1] == '\n') j++;
            } else {
                p->after_cr = 1;
            }
        }
        i = j + 1;
        int stop = process_line(p);
        buf_clear(&p->line);
        if (stop) {
            p->stopped = 1;
            return 1;
        }
    }
    return 0;
}
