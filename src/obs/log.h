/* log — structured logging: one JSON object per line on stderr.
 *
 *   {"ts":"2026-11-25T01:23:58.123Z","level":"info","msg":"request","rid":"…",…}
 *
 * Lines are written with one write(2) each, so lines from different threads
 * never interleave. A sink (the Loki push client in loki.c) may receive a copy
 * of every line; it must not block.
 */
#ifndef RAGD_OBS_LOG_H
#define RAGD_OBS_LOG_H

#include <stddef.h>

typedef enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR } log_level;

typedef enum { LOG_FIELD_STR, LOG_FIELD_INT, LOG_FIELD_DBL } log_field_type;

typedef struct log_field {
    const char *key;
    log_field_type type;
    const char *s;
    long long i;
    double d;
} log_field;

#define LOG_STR(k, v) ((log_field){.key = (k), .type = LOG_FIELD_STR, .s = (v)})
#define LOG_INT(k, v) ((log_field){.key = (k), .type = LOG_FIELD_INT, .i = (long long)(v)})
#define LOG_DBL(k, v) ((log_field){.key = (k), .type = LOG_FIELD_DBL, .d = (double)(v)})

/* Lines below this level are dropped (default: info). */
void log_set_level(log_level level);
log_level log_get_level(void);
/* "debug", "info", "warn", "error" → 0 on success, -1 if unknown. */
int log_parse_level(const char *name, log_level *out);

/* A message with printf formatting. */
void log_msg(log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A message with structured fields (string values are JSON-escaped). */
void log_fields(log_level level, const char *msg, const log_field *fields, size_t nfields);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

/* Copy every emitted line (without its newline) to fn. NULL removes the sink. */
typedef void (*log_sink_fn)(log_level level, const char *line, size_t len, void *ctx);
void log_set_sink(log_sink_fn fn, void *ctx);

#endif
