/* bench_metrics — what the metrics cost a request, in ratios measured in one run.
 *
 * One "request" is http_metrics_observe() (five series updates, four of them
 * found by label values) — what the HTTP server does after every response.
 * Peers, each with 1 and 2 threads:
 *   lock-free   the registry as built: lock-free lookups, atomic updates
 *   locked      the same calls under one global mutex, i.e. a registry that
 *               takes a lock per request (the design metrics.c avoids)
 *   cached      the series looked up once and only the atomic updates per
 *               request (the floor for any design)
 * Usage: bench_metrics [requests per thread, default 2000000]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "obs/http_metrics.h"
#include "obs/metrics.h"
#include "util/util.h"

static pthread_mutex_t global_lock = PTHREAD_MUTEX_INITIALIZER;
static long per_thread;

static const char *const routes[] = {"/ask", "/health", "/metrics", "/encode"};

static void *run_lock_free(void *arg) {
    (void)arg;
    for (long i = 0; i < per_thread; i++)
        http_metrics_observe(routes[i & 3], "POST", 200, 0.001 * (double)(i & 63), 120, 2400);
    return NULL;
}

static void *run_locked(void *arg) {
    (void)arg;
    for (long i = 0; i < per_thread; i++) {
        pthread_mutex_lock(&global_lock);
        http_metrics_observe(routes[i & 3], "POST", 200, 0.001 * (double)(i & 63), 120, 2400);
        pthread_mutex_unlock(&global_lock);
    }
    return NULL;
}

static metric_series *cached[4][5];

static void *run_cached(void *arg) {
    (void)arg;
    for (long i = 0; i < per_thread; i++) {
        metric_series **s = cached[i & 3];
        double seconds = 0.001 * (double)(i & 63);
        metric_inc(s[0]);
        metric_observe(s[1], 120);
        metric_observe(s[2], 2400);
        metric_observe(s[3], seconds);
        metric_observe(s[4], seconds);
    }
    return NULL;
}

static double run(void *(*fn)(void *), int threads) {
    pthread_t th[2];
    uint64_t t0 = now_ns();
    for (int t = 0; t < threads; t++) pthread_create(&th[t], NULL, fn, NULL);
    for (int t = 0; t < threads; t++) pthread_join(th[t], NULL);
    return (double)(now_ns() - t0) / ((double)per_thread * threads); /* ns per request */
}

int main(int argc, char **argv) {
    per_thread = argc > 1 ? atol(argv[1]) : 2000000;
    if (per_thread <= 0) {
        fprintf(stderr, "usage: bench_metrics [requests per thread]\n");
        return 2;
    }
    http_metrics_register();
    /* Warm up: every series exists before timing. */
    for (int r = 0; r < 4; r++) http_metrics_observe(routes[r], "POST", 200, 0, 0, 0);
    static const char *const handler_label[] = {"handler"};
    static const double lowr[] = {0.1, 0.5, 1};
    static const double highr[] = {0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2,
                                   2.5,  3,     3.5,  4,     4.5, 5,    7.5, 10,   30, 60};
    static const char *const total_labels[] = {"method", "status", "handler"};
    static const char *const lowr_labels[] = {"method", "handler"};
    for (int r = 0; r < 4; r++) {
        cached[r][0] = metric_with(metric_counter("http_requests_total", "", 3, total_labels),
                                   (const char *[]){"POST", "2xx", routes[r]});
        cached[r][1] = metric_with(metric_summary("http_request_size_bytes", "", 1, handler_label),
                                   (const char *[]){routes[r]});
        cached[r][2] = metric_with(metric_summary("http_response_size_bytes", "", 1, handler_label),
                                   (const char *[]){routes[r]});
        cached[r][3] = metric_with(
            metric_histogram("http_request_duration_highr_seconds", "", highr, 21, 0, NULL), NULL);
        cached[r][4] = metric_with(
            metric_histogram("http_request_duration_seconds", "", lowr, 3, 2, lowr_labels),
            (const char *[]){"POST", routes[r]});
    }

    printf("bench_metrics: %ld requests per thread; ns per request (lower is better)\n", per_thread);
    printf("%-8s %12s %12s %12s %18s\n", "threads", "lock-free", "locked", "cached", "locked/lock-free");
    for (int threads = 1; threads <= 2; threads++) {
        double lf = run(run_lock_free, threads);
        double lk = run(run_locked, threads);
        double ca = run(run_cached, threads);
        printf("%-8d %12.1f %12.1f %12.1f %17.2fx\n", threads, lf, lk, ca, lk / lf);
    }
    return 0;
}
