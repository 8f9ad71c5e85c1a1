/* test_metrics — the Prometheus registry and the instrumentator-compatible
 * HTTP metrics: exact exposition text (HELP/TYPE, label escaping, cumulative
 * histogram buckets with +Inf, _sum/_count, summaries), number formatting,
 * and that updates from many threads at once all add up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "obs/http_metrics.h"
#include "obs/metrics.h"
#include "util/buf.h"

static int reset_registry(void **state) {
    (void)state;
    metrics_reset();
    return 0;
}

static char *render(void) {
    buf out = BUF_INIT;
    metrics_render(&out);
    return buf_detach(&out);
}

static void test_exposition_exact(void **state) {
    (void)state;
    static const char *const method_code[] = {"method", "code"};
    static const char *const path[] = {"path"};
    static const double bounds[] = {0.1, 0.5, 1};
    metric *requests = metric_counter("demo_requests_total", "Requests served.", 2, method_code);
    metric *temp = metric_gauge("demo_temperature", "A gauge\nwith a \\ in its help.", 0, NULL);
    metric *lat = metric_histogram("demo_latency_seconds", "Latency.", bounds, 3, 1, path);
    metric *size = metric_summary("demo_size_bytes", "Sizes.", 0, NULL);

    metric_add(metric_with(requests, (const char *[]){"GET", "200"}), 3);
    metric_inc(metric_with(requests, (const char *[]){"POST", "500"}));
    metric_set(metric_with(temp, NULL), -2.5);
    metric_series *ask = metric_with(lat, (const char *[]){"/ask"});
    metric_observe(ask, 0.05);
    metric_observe(ask, 0.1); /* le is inclusive */
    metric_observe(ask, 0.7);
    metric_observe(ask, 3);
    metric_observe(metric_with(size, NULL), 100);
    metric_observe(metric_with(size, NULL), 28);

    char *text = render();
    const char *expected =
        "# HELP demo_requests_total Requests served.\n"
        "# TYPE demo_requests_total counter\n"
        "demo_requests_total{method=\"GET\",code=\"200\"} 3.0\n"
        "demo_requests_total{method=\"POST\",code=\"500\"} 1.0\n"
        "# HELP demo_temperature A gauge\\nwith a \\\\ in its help.\n"
        "# TYPE demo_temperature gauge\n"
        "demo_temperature -2.5\n"
        "# HELP demo_latency_seconds Latency.\n"
        "# TYPE demo_latency_seconds histogram\n"
        "demo_latency_seconds_bucket{path=\"/ask\",le=\"0.1\"} 2.0\n"
        "demo_latency_seconds_bucket{path=\"/ask\",le=\"0.5\"} 2.0\n"
        "demo_latency_seconds_bucket{path=\"/ask\",le=\"1.0\"} 3.0\n"
        "demo_latency_seconds_bucket{path=\"/ask\",le=\"+Inf\"} 4.0\n"
        "demo_latency_seconds_count{path=\"/ask\"} 4.0\n"
        "demo_latency_seconds_sum{path=\"/ask\"} 3.85\n"
        "# HELP demo_size_bytes Sizes.\n"
        "# TYPE demo_size_bytes summary\n"
        "demo_size_bytes_count 2.0\n"
        "demo_size_bytes_sum 128.0\n";
    assert_string_equal(text, expected);
    free(text);
}

static void test_unlabelled_histogram_starts_at_zero(void **state) {
    (void)state;
    static const double bounds[] = {1, 2, INFINITY}; /* an explicit +Inf is folded in */
    metric_histogram("empty_seconds", "Nothing yet.", bounds, 3, 0, NULL);
    char *text = render();
    assert_string_equal(text, "# HELP empty_seconds Nothing yet.\n"
                              "# TYPE empty_seconds histogram\n"
                              "empty_seconds_bucket{le=\"1.0\"} 0.0\n"
                              "empty_seconds_bucket{le=\"2.0\"} 0.0\n"
                              "empty_seconds_bucket{le=\"+Inf\"} 0.0\n"
                              "empty_seconds_count 0.0\n"
                              "empty_seconds_sum 0.0\n");
    free(text);
}

static void test_label_escaping(void **state) {
    (void)state;
    static const char *const labels[] = {"v"};
    metric *m = metric_gauge("escape_demo", "Escapes.", 1, labels);
    metric_set(metric_with(m, (const char *[]){"a\\b\"c\nd"}), 1);
    metric_set(metric_with(m, (const char *[]){"ünïcode ok"}), 2);
    char *text = render();
    assert_non_null(strstr(text, "escape_demo{v=\"a\\\\b\\\"c\\nd\"} 1.0\n"));
    assert_non_null(strstr(text, "escape_demo{v=\"ünïcode ok\"} 2.0\n"));
    free(text);
}

static void test_labelled_family_without_series_shows_only_header(void **state) {
    (void)state;
    static const char *const labels[] = {"topic"};
    metric_gauge("store_demo", "Per topic.", 1, labels);
    char *text = render();
    assert_string_equal(text, "# HELP store_demo Per topic.\n# TYPE store_demo gauge\n");
    free(text);
}

static void test_same_series_and_family_are_reused(void **state) {
    (void)state;
    static const char *const labels[] = {"a", "b"};
    metric *m1 = metric_counter("reuse_total", "x", 2, labels);
    metric *m2 = metric_counter("reuse_total", "x", 2, labels);
    assert_ptr_equal(m1, m2);
    metric_series *s1 = metric_with(m1, (const char *[]){"ab", "c"});
    metric_series *s2 = metric_with(m1, (const char *[]){"a", "bc"});
    assert_ptr_not_equal(s1, s2);
    assert_ptr_equal(s1, metric_with(m2, (const char *[]){"ab", "c"}));
    metric_add(s1, 2);
    metric_add(s1, -5); /* counters never go down */
    assert_true(metric_value(s1) == 2.0);
    assert_true(metric_value(s2) == 0.0);
}

static void test_number_format(void **state) {
    (void)state;
    struct {
        double v;
        const char *text;
    } cases[] = {
        {0, "0.0"},         {1, "1.0"},           {0.1, "0.1"},
        {0.025, "0.025"},   {60, "60.0"},         {-2.5, "-2.5"},
        {1e-5, "1e-05"},    {123456789.0, "123456789.0"},
        {1e16, "1e+16"},    {0.30000000000000004, "0.30000000000000004"},
        {INFINITY, "+Inf"}, {-INFINITY, "-Inf"},  {NAN, "NaN"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf b = BUF_INIT;
        metrics_write_value(&b, cases[i].v);
        assert_string_equal(b.data, cases[i].text);
        buf_free(&b);
    }
}

enum { THREADS = 4, ROUNDS = 50000 };

typedef struct {
    metric *counter, *hist, *labelled;
    int id;
} worker_arg;

static void *worker(void *p) {
    worker_arg *a = p;
    metric_series *c = metric_with(a->counter, NULL);
    metric_series *h = metric_with(a->hist, NULL);
    char label[16];
    for (int i = 0; i < ROUNDS; i++) {
        metric_inc(c);
        metric_observe(h, (i % 4) * 0.5); /* 0, 0.5, 1.0, 1.5 */
        /* Looking series up (and creating them) concurrently with updates. */
        snprintf(label, sizeof label, "k%d", i % 37);
        metric_add(metric_with(a->labelled, (const char *[]){label}), 0.5);
    }
    return NULL;
}

static void test_concurrent_updates_add_up(void **state) {
    (void)state;
    static const double bounds[] = {0.5, 1};
    static const char *const labels[] = {"k"};
    metric *counter = metric_counter("conc_total", "c", 0, NULL);
    metric *hist = metric_histogram("conc_seconds", "h", bounds, 2, 0, NULL);
    metric *labelled = metric_gauge("conc_labelled", "g", 1, labels);
    pthread_t th[THREADS];
    worker_arg args[THREADS];
    for (int t = 0; t < THREADS; t++) {
        args[t] = (worker_arg){counter, hist, labelled, t};
        assert_int_equal(pthread_create(&th[t], NULL, worker, &args[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);

    const double total = (double)THREADS * ROUNDS;
    assert_true(metric_value(metric_with(counter, NULL)) == total);
    metric_series *h = metric_with(hist, NULL);
    assert_int_equal(metric_count(h), THREADS * ROUNDS);
    assert_true(metric_value(h) == total / 4 * (0 + 0.5 + 1.0 + 1.5));
    double labelled_sum = 0;
    for (int k = 0; k < 37; k++) {
        char label[16];
        snprintf(label, sizeof label, "k%d", k);
        labelled_sum += metric_value(metric_with(labelled, (const char *[]){label}));
    }
    assert_true(labelled_sum == total * 0.5);

    char *text = render();
    char line[128];
    snprintf(line, sizeof line, "conc_seconds_bucket{le=\"0.5\"} %.1f\n", total / 2);
    assert_non_null(strstr(text, line));
    snprintf(line, sizeof line, "conc_seconds_bucket{le=\"1.0\"} %.1f\n", total * 3 / 4);
    assert_non_null(strstr(text, line));
    snprintf(line, sizeof line, "conc_seconds_bucket{le=\"+Inf\"} %.1f\n", total);
    assert_non_null(strstr(text, line));
    free(text);
}

static void collect_demo(buf *out, void *ctx) {
    metrics_write_header(out, "demo_collected", "gauge", "From a collector.");
    buf_puts(out, "demo_collected ");
    metrics_write_value(out, *(double *)ctx);
    buf_putc(out, '\n');
}

static void test_collector_text_follows_families(void **state) {
    (void)state;
    static double value = 42;
    metric_gauge("demo_first", "First.", 0, NULL);
    metrics_add_collector(collect_demo, &value);
    metrics_add_collector(collect_demo, &value); /* twice: still rendered once */
    char *text = render();
    assert_string_equal(text, "# HELP demo_first First.\n# TYPE demo_first gauge\ndemo_first 0.0\n"
                              "# HELP demo_collected From a collector.\n"
                              "# TYPE demo_collected gauge\ndemo_collected 42.0\n");
    free(text);
}

static void test_http_metrics_instrumentator_names(void **state) {
    (void)state;
    http_metrics_register();
    char *before = render();
    /* Registered up front: the unlabelled high-resolution histogram is there at 0. */
    assert_non_null(strstr(before, "# TYPE http_requests_total counter\n"));
    assert_non_null(strstr(before, "# TYPE http_request_size_bytes summary\n"));
    assert_non_null(strstr(before, "# TYPE http_response_size_bytes summary\n"));
    assert_non_null(strstr(before, "# TYPE http_request_duration_seconds histogram\n"));
    assert_non_null(strstr(before, "http_request_duration_highr_seconds_bucket{le=\"60.0\"} 0.0\n"));
    free(before);

    http_metrics_observe("/ask", "POST", 200, 0.3, 120, 2000);
    http_metrics_observe("/ask", "POST", 201, 0.7, 80, 1000);
    http_metrics_observe("/ask", "POST", 422, 0.001, 10, 90);
    http_metrics_observe(NULL, "GET", 404, 0.002, 0, 50);
    char *text = render();
    const char *lines[] = {
        "http_requests_total{method=\"POST\",status=\"2xx\",handler=\"/ask\"} 2.0\n",
        "http_requests_total{method=\"POST\",status=\"4xx\",handler=\"/ask\"} 1.0\n",
        "http_requests_total{method=\"GET\",status=\"4xx\",handler=\"none\"} 1.0\n",
        "http_request_size_bytes_count{handler=\"/ask\"} 3.0\n",
        "http_request_size_bytes_sum{handler=\"/ask\"} 210.0\n",
        "http_response_size_bytes_sum{handler=\"/ask\"} 3090.0\n",
        "http_request_duration_seconds_bucket{method=\"POST\",handler=\"/ask\",le=\"0.1\"} 1.0\n",
        "http_request_duration_seconds_bucket{method=\"POST\",handler=\"/ask\",le=\"0.5\"} 2.0\n",
        "http_request_duration_seconds_bucket{method=\"POST\",handler=\"/ask\",le=\"1.0\"} 3.0\n",
        "http_request_duration_seconds_bucket{method=\"POST\",handler=\"/ask\",le=\"+Inf\"} 3.0\n",
        "http_request_duration_seconds_count{method=\"POST\",handler=\"/ask\"} 3.0\n",
        "http_request_duration_highr_seconds_bucket{le=\"0.01\"} 2.0\n",
        "http_request_duration_highr_seconds_bucket{le=\"0.25\"} 2.0\n",
        "http_request_duration_highr_seconds_bucket{le=\"0.5\"} 3.0\n",
        "http_request_duration_highr_seconds_bucket{le=\"0.75\"} 4.0\n",
        "http_request_duration_highr_seconds_bucket{le=\"+Inf\"} 4.0\n",
        "http_request_duration_highr_seconds_count 4.0\n",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        if (!strstr(text, lines[i])) fail_msg("missing line: %s\nin:\n%s", lines[i], text);
    }
    free(text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_exposition_exact, reset_registry),
        cmocka_unit_test_setup(test_unlabelled_histogram_starts_at_zero, reset_registry),
        cmocka_unit_test_setup(test_label_escaping, reset_registry),
        cmocka_unit_test_setup(test_labelled_family_without_series_shows_only_header, reset_registry),
        cmocka_unit_test_setup(test_same_series_and_family_are_reused, reset_registry),
        cmocka_unit_test(test_number_format),
        cmocka_unit_test_setup(test_concurrent_updates_add_up, reset_registry),
        cmocka_unit_test_setup(test_collector_text_follows_families, reset_registry),
        cmocka_unit_test_setup(test_http_metrics_instrumentator_names, reset_registry),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    metrics_reset();
    return failed;
}
