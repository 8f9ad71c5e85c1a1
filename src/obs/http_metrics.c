/* http_metrics — prometheus-fastapi-instrumentator's default metrics (see
 * http_metrics.h), with its names, help texts, label order and buckets
 * (metrics.default() in the instrumentator: latency_lowr_buckets 0.1, 0.5, 1;
 * latency_highr_buckets 0.01 … 60; request/response sizes as summaries).
 *
 * The families are registered once, before the first response, so /metrics
 * shows them (HELP/TYPE, the unlabelled high-resolution histogram at zero)
 * from the moment the server is up, as the Python service did. Each response
 * then costs four lock-free series lookups and a handful of atomic adds.
 */
#include "obs/http_metrics.h"

#include <pthread.h>
#include <stdatomic.h>

#include "obs/metrics.h"

static const double lowr_buckets[] = {0.1, 0.5, 1};
static const double highr_buckets[] = {0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5,
                                       0.75, 1,     1.5,   2,   2.5, 3,   3.5,
                                       4,    4.5,   5,     7.5, 10,  30,  60};

static metric *_Atomic requests_total;
static metric *_Atomic request_size;
static metric *_Atomic response_size;
static metric *_Atomic duration_highr;
static metric *_Atomic duration_lowr;

void http_metrics_register(void) {
    static const char *const total_labels[] = {"method", "status", "handler"};
    static const char *const lowr_labels[] = {"method", "handler"};
    static const char *const handler_label[] = {"handler"};
    atomic_store(&requests_total,
                 metric_counter("http_requests_total",
                                "Total number of requests by method, status and handler.", 3,
                                total_labels));
    atomic_store(&request_size,
                 metric_summary("http_request_size_bytes",
                                "Content length of incoming requests by handler. Only value of "
                                "header is respected. Otherwise ignored. No percentile "
                                "calculated. ",
                                1, handler_label));
    atomic_store(&response_size,
                 metric_summary("http_response_size_bytes",
                                "Content length of outgoing responses by handler. Only value of "
                                "header is respected. Otherwise ignored. No percentile "
                                "calculated. ",
                                1, handler_label));
    atomic_store(&duration_highr,
                 metric_histogram("http_request_duration_highr_seconds",
                                  "Latency with many buckets but no API specific labels. Made for "
                                  "more accurate percentile calculations. ",
                                  highr_buckets, (int)(sizeof highr_buckets / sizeof *highr_buckets),
                                  0, NULL));
    atomic_store(&duration_lowr,
                 metric_histogram("http_request_duration_seconds",
                                  "Latency with only few buckets by handler. Made to be only used "
                                  "if aggregation by handler is important. ",
                                  lowr_buckets, (int)(sizeof lowr_buckets / sizeof *lowr_buckets),
                                  2, lowr_labels));
}

static pthread_once_t registered = PTHREAD_ONCE_INIT;

void http_metrics_observe(const char *handler, const char *method, int status, double seconds,
                          size_t request_bytes, size_t response_bytes) {
    pthread_once(&registered, http_metrics_register);
    /* The instrumentator groups statuses by their first digit and names
     * requests that matched no route "none". */
    char group[4] = {'0' + (char)((status / 100) % 10), 'x', 'x', '\0'};
    if (status < 100 || status > 999) group[0] = '0';
    if (!handler || !*handler) handler = "none";
    if (!method || !*method) method = "none";

    const char *total_values[] = {method, group, handler};
    const char *lowr_values[] = {method, handler};
    const char *handler_value[] = {handler};
    metric_inc(metric_with(atomic_load(&requests_total), total_values));
    metric_observe(metric_with(atomic_load(&request_size), handler_value), (double)request_bytes);
    metric_observe(metric_with(atomic_load(&response_size), handler_value), (double)response_bytes);
    metric_observe(metric_with(atomic_load(&duration_highr), NULL), seconds);
    metric_observe(metric_with(atomic_load(&duration_lowr), lowr_values), seconds);
}
