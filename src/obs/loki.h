/* loki — pushes ragd's log lines to Grafana Loki (POST {url}/loki/api/v1/push).
 *
 * loki_start() installs a log sink (log.h) that copies each line into a
 * bounded queue and returns at once; a background thread sends the queue in
 * batches as Loki's JSON push format, one stream per level with the labels
 * app="ragd", role=<role>, level=<level>. When Loki is down or slow the thread
 * retries with exponential backoff while the queue fills; once it is full,
 * new lines are dropped and counted (ragd_log_lines_dropped_total) — logging,
 * and so request handling, never waits for Loki. Lines still reach stderr.
 *
 * One client at a time is the log sink.
 */
#ifndef RAGD_OBS_LOKI_H
#define RAGD_OBS_LOKI_H

#include <stddef.h>
#include <stdint.h>

typedef struct loki_client loki_client;

typedef struct loki_options {
    size_t queue_lines;     /* lines held while Loki is away (default 10000) */
    size_t batch_lines;     /* most lines per push (default 1000) */
    double batch_wait;      /* seconds a push waits for more lines (default 1) */
    double backoff_min;     /* first retry delay, seconds (default 0.1) */
    double backoff_max;     /* longest retry delay, seconds (default 10) */
    int max_attempts;       /* tries per batch before it is dropped (default 10) */
    double request_timeout; /* seconds per push (default 10) */
    double stop_deadline;   /* seconds loki_stop() spends flushing (default 5) */
} loki_options;

/* url: Loki's base URL ("http://127.0.0.1:3100"; a URL already ending in
 * /loki/api/v1/push is used as is). role: the stream's role label.
 * NULL with err set if the URL is unusable or a client is already running. */
loki_client *loki_start(const char *url, const char *role, char *err, size_t errlen);
/* The same with explicit options (zero fields take the defaults). */
loki_client *loki_start_opts(const char *url, const char *role, const loki_options *opts,
                             char *err, size_t errlen);

/* Stop taking lines, send what is queued until the stop deadline, count the
 * rest as dropped, and free the client. NULL is accepted. */
void loki_stop(loki_client *c);
/* loki_stop() that also reports the final counts (either pointer may be NULL). */
void loki_finish(loki_client *c, uint64_t *pushed, uint64_t *dropped);

/* Lines Loki accepted and lines dropped so far. */
void loki_stats(loki_client *c, uint64_t *pushed, uint64_t *dropped);

#endif
