/* log — JSON-lines logger (see log.h). */
#include "obs/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/util.h"

static _Atomic int min_level = LOG_INFO;
static _Atomic(log_sink_fn) sink_fn;
static void *_Atomic sink_ctx;

static const char *level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(log_level level) { atomic_store(&min_level, (int)level); }
log_level log_get_level(void) { return (log_level)atomic_load(&min_level); }

int log_parse_level(const char *name, log_level *out) {
    for (size_t i = 0; i < ARRAY_LEN(level_names); i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (log_level)i;
            return 0;
        }
    }
    if (strcmp(name, "warning") == 0) {
        *out = LOG_WARN;
        return 0;
    }
    return -1;
}

void log_set_sink(log_sink_fn fn, void *ctx) {
    atomic_store(&sink_ctx, ctx);
    atomic_store(&sink_fn, fn);
}

static void emit(log_level level, const char *msg, size_t msglen, const log_field *fields,
                 size_t nfields) {
    char ts[40];
    wall_time_iso8601(ts, sizeof ts);
    buf line = BUF_INIT;
    buf_printf(&line, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"", ts, level_names[level]);
    buf_json_escape(&line, msg, msglen);
    buf_putc(&line, '"');
    for (size_t i = 0; i < nfields; i++) {
        const log_field *f = &fields[i];
        buf_puts(&line, ",\"");
        buf_puts(&line, f->key);
        buf_puts(&line, "\":");
        switch (f->type) {
        case LOG_FIELD_STR:
            if (!f->s) {
                buf_puts(&line, "null");
                break;
            }
            buf_putc(&line, '"');
            buf_json_escape(&line, f->s, strlen(f->s));
            buf_putc(&line, '"');
            break;
        case LOG_FIELD_INT: buf_printf(&line, "%lld", f->i); break;
        case LOG_FIELD_DBL: buf_printf(&line, "%.3f", f->d); break;
        }
    }
    buf_putc(&line, '}');
    log_sink_fn fn = atomic_load(&sink_fn);
    if (fn) fn(level, line.data, line.len, atomic_load(&sink_ctx));
    buf_putc(&line, '\n');
    /* One write per line keeps lines whole across threads; a short write to a
     * closed stderr is not worth more than one retry. */
    ssize_t w = write(STDERR_FILENO, line.data, line.len);
    if (w > 0 && (size_t)w < line.len) (void)!write(STDERR_FILENO, line.data + w, line.len - (size_t)w);
    buf_free(&line);
}

void log_msg(log_level level, const char *fmt, ...) {
    if ((int)level < atomic_load(&min_level)) return;
    buf msg = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    emit(level, msg.data ? msg.data : "", msg.len, NULL, 0);
    buf_free(&msg);
}

void log_fields(log_level level, const char *msg, const log_field *fields, size_t nfields) {
    if ((int)level < atomic_load(&min_level)) return;
    emit(level, msg, strlen(msg), fields, nfields);
}
