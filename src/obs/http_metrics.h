/* http_metrics — the metrics prometheus-fastapi-instrumentator exported for the
 * Python system, under the same names and labels, fed by the HTTP server after
 * every response:
 *   http_requests_total{handler,method,status="2xx"|"4xx"|"5xx"}
 *   http_request_duration_seconds{handler,method}         (histogram)
 *   http_request_duration_highr_seconds                   (histogram, fine buckets)
 *   http_request_size_bytes{handler}, http_response_size_bytes{handler}
 * handler is the route template ("/ask"), never the raw path, so a client
 * cannot blow up the number of series. */
#ifndef RAGD_OBS_HTTP_METRICS_H
#define RAGD_OBS_HTTP_METRICS_H

#include <stddef.h>

/* Register the families now (the server calls this at start-up so /metrics
 * lists them before the first request; observe() also does it once). Tests
 * that call metrics_reset() call this again. */
void http_metrics_register(void);

void http_metrics_observe(const char *handler, const char *method, int status, double seconds,
                          size_t request_bytes, size_t response_bytes);

#endif
