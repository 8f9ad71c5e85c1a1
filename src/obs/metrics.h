/* metrics — a Prometheus registry: counters, gauges and histograms with
 * labels, rendered in the text exposition format 0.0.4 by GET /metrics.
 *
 * A metric family is registered once (at start-up) and yields series, one per
 * combination of label values. Looking a series up takes a lock; updating it
 * is lock-free (atomics), so hot paths look their series up once and keep the
 * pointer. Families live until metrics_reset() (tests) or process exit.
 */
#ifndef RAGD_OBS_METRICS_H
#define RAGD_OBS_METRICS_H

#include <stddef.h>

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

/* The series for these label values (nlabels of them; NULL for none). */
metric_series *metric_with(metric *m, const char *const *label_values);

void metric_add(metric_series *s, double v);     /* counters and gauges */
void metric_set(metric_series *s, double v);     /* gauges */
void metric_observe(metric_series *s, double v); /* histograms */

/* Callbacks run at scrape time that append their own exposition text
 * (process CPU/RSS/fds, store sizes): for values that are cheaper to read
 * when asked than to keep up to date. */
typedef void (*metrics_collector_fn)(buf *out, void *ctx);
void metrics_add_collector(metrics_collector_fn fn, void *ctx);

/* Append every family in the exposition format. */
void metrics_render(buf *out);
/* Forget every family and collector (tests only). */
void metrics_reset(void);

#endif
