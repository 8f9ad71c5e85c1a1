/* metrics — a Prometheus registry: counters, gauges and histograms with
 * labels, rendered in the text exposition format 0.0.4 by GET /metrics.
 *
 * A metric family is registered once (at start-up) and yields series, one per
 * combination of label values. Finding an existing series is lock-free (only
 * creating a new one takes a lock) and updating it is lock-free (atomics);
 * hot paths may still look their series up once and keep the pointer.
 * Families live until metrics_reset() (tests) or process exit.
 *
 * Misuse that can only be a programming error (an invalid name, the same name
 * registered with another type, metric_set on a counter) aborts with a
 * message, so it is caught by the first test that runs the code.
 */
#ifndef RAGD_OBS_METRICS_H
#define RAGD_OBS_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

typedef struct metric metric;
typedef struct metric_series metric_series;

/* Register (or fetch, if a family of that name and kind exists) a family.
 * label_names has nlabels entries (0 for an unlabelled metric). */
metric *metric_counter(const char *name, const char *help, int nlabels,
                       const char *const *label_names);
metric *metric_gauge(const char *name, const char *help, int nlabels,
                     const char *const *label_names);
/* buckets: ascending upper bounds, +Inf is implied. */
metric *metric_histogram(const char *name, const char *help, const double *buckets,
                         int nbuckets, int nlabels, const char *const *label_names);

/* A summary without quantiles, as prometheus_client's Summary: _count and _sum
 * (what the instrumentator uses for request and response sizes). */
metric *metric_summary(const char *name, const char *help, int nlabels,
                       const char *const *label_names);

/* The series for these label values (nlabels of them; NULL for none). */
metric_series *metric_with(metric *m, const char *const *label_values);

void metric_add(metric_series *s, double v);     /* counters and gauges */
void metric_set(metric_series *s, double v);     /* gauges */
void metric_observe(metric_series *s, double v); /* histograms and summaries */
void metric_inc(metric_series *s);               /* metric_add(s, 1) */

/* Current value (counter/gauge) or sum of observations (histogram/summary),
 * and number of observations (histogram/summary; 0 otherwise). */
double metric_value(const metric_series *s);
uint64_t metric_count(const metric_series *s);

/* Callbacks run at scrape time that append their own exposition text
 * (process CPU/RSS/fds, store sizes): for values that are cheaper to read
 * when asked than to keep up to date. */
typedef void (*metrics_collector_fn)(buf *out, void *ctx);
void metrics_add_collector(metrics_collector_fn fn, void *ctx);

/* Building blocks for collectors, in the same format as the registry:
 * "# HELP name help\n# TYPE name type\n", a number ("1.0", "0.25", "+Inf",
 * "NaN" as the Python client writes them), and an escaped label value. */
void metrics_write_header(buf *out, const char *name, const char *type, const char *help);
void metrics_write_value(buf *out, double v);
void metrics_write_label_value(buf *out, const char *s);

/* Append every family in the exposition format, then the collectors' text.
 * Collectors run under the registry lock and must not register metrics. */
void metrics_render(buf *out);
/* Forget every family and collector (tests only). */
void metrics_reset(void);

#endif
